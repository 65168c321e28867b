/* test-util.c: size strings, sysfs readers and atomic writes. */
#include "config.h"

#include "util.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

static void test_size_good(void)
{
    static const struct {
        const char *in;
        uint64_t out;
    } cases[] = {
        { "4096", 4096 },     { "1K", KiB },      { "512M", 512 * MiB }, { "2m", 2 * MiB },
        { "1G", GiB },        { "1GiB", GiB },    { "3T", 3 * TiB },     { "16MB", 16 * MiB },
        { "1b", 1 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        uint64_t v = 0;

        g_assert_true(vmctl_parse_size(cases[i].in, false, &v, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(v, ==, cases[i].out);
    }
}

static void test_size_bad(void)
{
    static const struct {
        const char *in;
        const char *msg;
    } cases[] = {
        { "", "size '' is empty" },
        { "abc", "size 'abc' is not a number with an optional K/M/G/T suffix" },
        { "-1G", "size '-1G' is not a number with an optional K/M/G/T suffix" },
        { "1X", "size '1X' is not a number with an optional K/M/G/T suffix" },
        { "1G ", "size '1G ' is not a number with an optional K/M/G/T suffix" },
        { "0", "size '0' must be greater than zero" },
        { "99999999999999999999", "size '99999999999999999999' is too large" },
        { "17179869184G", "size '17179869184G' is too large" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        uint64_t v = 0;

        g_assert_false(vmctl_parse_size(cases[i].in, false, &v, &err));
        g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
        g_assert_cmpstr(err->message, ==, cases[i].msg);
    }
}

static void test_size_format(void)
{
    g_autofree char *a = vmctl_format_size(GiB);
    g_autofree char *b = vmctl_format_size(1536 * MiB);
    g_autofree char *c = vmctl_format_size(4097);

    g_assert_cmpstr(a, ==, "1G");
    g_assert_cmpstr(b, ==, "1536M");
    g_assert_cmpstr(c, ==, "4097");
}

static void test_atomic_write(void)
{
    g_autofree char *dir = g_dir_make_tmp("vmctl-util-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "state.json", NULL);
    g_autofree char *back = NULL;
    g_autoptr(GError) err = NULL;
    GStatBuf st;
    uint64_t v;

    g_assert_true(vmctl_write_file_atomic(path, "{\"a\": 1}\n", -1, 0600, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(path, &back, NULL, NULL));
    g_assert_cmpstr(back, ==, "{\"a\": 1}\n");
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);

    g_assert_true(vmctl_write_file_atomic(path, "0x200000\n", -1, 0644, &err));
    g_assert_true(vmctl_read_u64(path, &v, &err));
    g_assert_cmpuint(v, ==, 2 * MiB);
    g_assert_true(vmctl_write_file_atomic(path, "banana\n", -1, 0644, &err));
    g_assert_false(vmctl_read_u64(path, &v, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    g_clear_error(&err);

    /* a directory that does not exist: error, nothing left behind */
    g_autofree char *bad = g_build_filename(dir, "nodir", "x.json", NULL);
    g_assert_false(vmctl_write_file_atomic(bad, "x", -1, 0600, &err));
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err->message, "cannot create"));

    g_unlink(path);
    g_rmdir(dir);
}

static void test_read_missing(void)
{
    g_autoptr(GError) err = NULL;
    uint64_t v;

    g_assert_false(vmctl_read_u64("/nonexistent/vmctl/attr", &v, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/util/size/good", test_size_good);
    g_test_add_func("/vmctl/util/size/bad", test_size_bad);
    g_test_add_func("/vmctl/util/size/format", test_size_format);
    g_test_add_func("/vmctl/util/atomic-write", test_atomic_write);
    g_test_add_func("/vmctl/util/read-missing", test_read_missing);
    return g_test_run();
}
