/* test-guest-line.c: the test guests' serial protocol lines as the host
 * reads them (src/guest_line.h), on lines the guests really print and on
 * lines they must not be mistaken for. */
#include "config.h"

#include "guest_line.h"

#include <glib.h>

static void test_ready(void)
{
    const char *l = "READY region=0x4c494e0000000001 pages=8192 ws=4096 same=0 rate=5000 mode=anon sync=0";
    VmctlGuestLine g;
    uint64_t v = 0;

    vmctl_guest_line_parse(l, &g);
    g_assert_cmpint(g.kind, ==, VMCTL_GUEST_LINE_READY);
    g_assert_true(vmctl_guest_line_u64(l, "pages", &v));
    g_assert_cmpuint(v, ==, 8192);
    g_assert_true(vmctl_guest_line_u64(l, "region", &v));
    g_assert_cmpuint(v, ==, 0x4c494e0000000001ull);
    g_assert_true(vmctl_guest_line_u64(l, "same", &v));
    g_assert_cmpuint(v, ==, 0);
    /* whole words only: "ws" is not found inside "pages", "age" not at all */
    g_assert_false(vmctl_guest_line_u64(l, "age", &v));
    g_assert_false(vmctl_guest_line_u64(l, "mode", &v)); /* not a number */
    g_assert_false(vmctl_guest_line_u64(l, "READY region", &v));
}

static void test_stat(void)
{
    VmctlGuestLine g;
    uint64_t v = 0;

    vmctl_guest_line_parse("STAT gen=12 writes=49950 rate=4999 t=9120\r", &g);
    g_assert_cmpint(g.kind, ==, VMCTL_GUEST_LINE_STAT);
    g_assert_false(g.paused);
    g_assert_true(vmctl_guest_line_u64("STAT gen=12 writes=49950 rate=4999 t=9120\r", "t", &v));
    g_assert_cmpuint(v, ==, 9120);
    vmctl_guest_line_parse("STAT gen=3 writes=10 rate=0 paused", &g);
    g_assert_true(g.paused);
    /* a number with trailing junk is not a number */
    g_assert_false(vmctl_guest_line_u64("STAT rate=12x", "rate", &v));
    g_assert_false(vmctl_guest_line_u64("STAT rate=", "rate", &v));
    g_assert_false(vmctl_guest_line_u64("STAT rate=-1", "rate", &v));
    g_assert_false(vmctl_guest_line_u64("STAT rate=99999999999999999999999", "rate", &v));
}

static void test_verify(void)
{
    VmctlGuestLine g;

    vmctl_guest_line_parse("VERIFY ok pages=32768", &g);
    g_assert_cmpint(g.kind, ==, VMCTL_GUEST_LINE_VERIFY);
    g_assert_true(g.verify_ok);
    g_assert_true(vmctl_guest_line_verify_ok("VERIFY ok pages=32768"));

    vmctl_guest_line_parse("VERIFY bad=3 first=1000,1001,77", &g);
    g_assert_false(g.verify_ok);
    g_assert_cmpuint(g.bad, ==, 3);
    g_assert_cmpuint(g.n_first, ==, 3);
    g_assert_cmpuint(g.first[0], ==, 1000);
    g_assert_cmpuint(g.first[2], ==, 77);
    g_assert_false(vmctl_guest_line_verify_ok("VERIFY bad=3 first=1000,1001,77"));

    /* at most VMCTL_GUEST_LINE_FIRST_MAX indices are kept */
    vmctl_guest_line_parse("VERIFY bad=20 first=1,2,3,4,5,6,7,8,9,10", &g);
    g_assert_cmpuint(g.n_first, ==, VMCTL_GUEST_LINE_FIRST_MAX);

    /* not ok: anything but the word "ok" */
    g_assert_false(vmctl_guest_line_verify_ok("VERIFY okay"));
    g_assert_false(vmctl_guest_line_verify_ok("VERIFY"));
    g_assert_false(vmctl_guest_line_verify_ok("XVERIFY ok"));
    g_assert_false(vmctl_guest_line_verify_ok("[ 1.0] VERIFY ok"));
    g_assert_false(vmctl_guest_line_verify_ok(NULL));
}

static void test_other(void)
{
    VmctlGuestLine g;

    vmctl_guest_line_parse("[    0.000000] Linux version 6.1.0", &g);
    g_assert_cmpint(g.kind, ==, VMCTL_GUEST_LINE_OTHER);
    vmctl_guest_line_parse("", &g);
    g_assert_cmpint(g.kind, ==, VMCTL_GUEST_LINE_OTHER);
    vmctl_guest_line_parse("READYX pages=1", &g);
    g_assert_cmpint(g.kind, ==, VMCTL_GUEST_LINE_OTHER);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/guest-line/ready", test_ready);
    g_test_add_func("/vmctl/guest-line/stat", test_stat);
    g_test_add_func("/vmctl/guest-line/verify", test_verify);
    g_test_add_func("/vmctl/guest-line/other", test_other);
    return g_test_run();
}
