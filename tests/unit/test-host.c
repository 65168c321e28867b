/* test-host.c: version parsing and the known-change tables. */
#include "config.h"

#include "host.h"

#include <string.h>

static const struct vmctl_known_change *find(const char *id)
{
    size_t n;
    const struct vmctl_known_change *c = vmctl_known_changes(&n);

    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].id, id) == 0)
            return &c[i];
    g_assert_not_reached();
}

static bool applies(const char *id, const char *version)
{
    struct vmctl_version v;

    g_assert_true(vmctl_version_parse(version, &v));
    return vmctl_known_change_applies(find(id), &v);
}

static void test_parse(void)
{
    struct vmctl_version v;

    g_assert_true(vmctl_version_parse("6.1.0-28-cloud-amd64", &v));
    g_assert_cmpint(v.major, ==, 6);
    g_assert_cmpint(v.minor, ==, 1);
    g_assert_cmpint(v.patch, ==, 0);
    g_assert_true(vmctl_version_parse("7.2.22 (Debian 1:7.2+dfsg-7)", &v));
    g_assert_cmpint(v.patch, ==, 22);
    g_assert_false(vmctl_version_parse("banana", &v));
    g_assert_false(vmctl_version_parse(NULL, &v));
}

static void test_kernel_table(void)
{
    g_assert_false(applies("zone-device-not-reserved", "5.3.18"));
    g_assert_true(applies("zone-device-not-reserved", "5.4.0"));
    g_assert_false(applies("dax-huge-mappings", "5.5.19"));
    g_assert_true(applies("dax-huge-mappings", "5.6.0"));
    g_assert_false(applies("fsdax-2m-regression", "5.15.170"));
    g_assert_true(applies("fsdax-2m-regression", "5.16.0"));
    g_assert_true(applies("fsdax-2m-regression", "6.1.0-28-cloud-amd64"));
    g_assert_false(applies("fsdax-2m-regression", "6.13.0"));
    g_assert_false(applies("non-refcounted-pages", "6.12.9"));
    g_assert_true(applies("non-refcounted-pages", "6.18.44-fc"));
}

static void test_qemu_table(void)
{
    g_assert_true(applies("tcg-lost-dirty-pages", "7.2.22"));
    g_assert_true(applies("tcg-lost-dirty-pages", "8.2.0"));
    g_assert_false(applies("tcg-lost-dirty-pages", "9.0.0"));
    g_assert_true(applies("no-dirty-limit", "7.2.0"));
    g_assert_false(applies("no-dirty-limit", "8.1.0"));
    g_assert_true(applies("tcg-calc-dirty-rate-crash", "7.2.22"));
    g_assert_true(applies("tcg-calc-dirty-rate-crash", "9.0.2"));
    g_assert_false(applies("tcg-calc-dirty-rate-crash", "9.1.0"));
    g_assert_false(applies("tcg-calc-dirty-rate-crash", "10.0.2"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/host/version/parse", test_parse);
    g_test_add_func("/vmctl/host/known-changes/kernel", test_kernel_table);
    g_test_add_func("/vmctl/host/known-changes/qemu", test_qemu_table);
    return g_test_run();
}
