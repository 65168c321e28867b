/* test-report-compare.c: two validate reports compared. The fixtures are
 * the real report of this host (tests/data/report/kvm.json) and a copy of it
 * made to change (tests/data/report/compare/kvm-changed.json: one check
 * flipped to FAIL, the migration's elapsed time doubled). */
#include "config.h"

#include "report_formats.h"

#include <string.h>

static json_object *load(const char *dir, const char *name)
{
    g_autofree char *in = g_test_build_filename(G_TEST_DIST, "data", dir, name, NULL);
    json_object *r = json_object_from_file(in);

    g_assert_nonnull(r);
    return r;
}

static json_object *change_of(json_object *cmp, const char *kind, const char *id)
{
    json_object *changes = json_object_object_get(cmp, "changes");

    for (size_t i = 0; i < json_object_array_length(changes); i++) {
        json_object *c = json_object_array_get_idx(changes, i);

        if (g_strcmp0(json_object_get_string(json_object_object_get(c, "kind")), kind) == 0 &&
            g_strcmp0(json_object_get_string(json_object_object_get(c, "id")), id) == 0)
            return c;
    }
    return NULL;
}

static const char *sget(json_object *o, const char *key)
{
    return json_object_get_string(json_object_object_get(o, key));
}

static int64_t iget(json_object *o, const char *key)
{
    return json_object_get_int64(json_object_object_get(o, key));
}

static void test_same(void)
{
    g_autoptr(json_object) r = load("report", "kvm.json");
    g_autoptr(json_object) cmp = vmctl_report_compare(r, r);

    g_assert_cmpuint(json_object_array_length(json_object_object_get(cmp, "changes")), ==, 0);
    g_assert_cmpint(iget(cmp, "regressions"), ==, 0);
}

static void test_regression(void)
{
    g_autoptr(json_object) old_r = load("report", "kvm.json");
    g_autoptr(json_object) new_r = load("report/compare", "kvm-changed.json");
    g_autoptr(json_object) cmp = vmctl_report_compare(old_r, new_r);
    json_object *st = change_of(cmp, "status", "dirty-log/memfd/ring");
    json_object *fig = change_of(cmp, "figure", "migration_elapsed_seconds migration/tiny");

    g_assert_nonnull(st);
    g_assert_cmpstr(sget(st, "old"), ==, "PASS");
    g_assert_cmpstr(sget(st, "new"), ==, "FAIL");
    g_assert_true(json_object_get_boolean(json_object_object_get(st, "regression")));
    g_assert_nonnull(fig);
    g_assert_cmpstr(sget(fig, "direction"), ==, "worse");
    g_assert_true(json_object_get_boolean(json_object_object_get(fig, "regression")));
    g_assert_cmpfloat_with_epsilon(json_object_get_double(json_object_object_get(fig, "old")), 2.393, 1e-9);
    g_assert_cmpfloat_with_epsilon(json_object_get_double(json_object_object_get(fig, "new")), 4.8, 1e-9);
    g_assert_cmpfloat_with_epsilon(json_object_get_double(json_object_object_get(fig, "band")), 1.1965, 1e-9);
    /* nothing else moved */
    g_assert_cmpuint(json_object_array_length(json_object_object_get(cmp, "changes")), ==, 2);
    g_assert_cmpint(iget(cmp, "regressions"), ==, 2);
}

/* The other way round: FAIL -> PASS and a time that halved are improvements. */
static void test_improvement(void)
{
    g_autoptr(json_object) old_r = load("report/compare", "kvm-changed.json");
    g_autoptr(json_object) new_r = load("report", "kvm.json");
    g_autoptr(json_object) cmp = vmctl_report_compare(old_r, new_r);
    json_object *fig = change_of(cmp, "figure", "migration_elapsed_seconds migration/tiny");

    g_assert_cmpint(iget(cmp, "regressions"), ==, 0);
    g_assert_cmpint(iget(cmp, "improvements"), ==, 2);
    g_assert_false(json_object_get_boolean(json_object_object_get(change_of(cmp, "status", "dirty-log/memfd/ring"),
                                                                  "regression")));
    g_assert_cmpstr(sget(fig, "direction"), ==, "better");
}

/* A copy of the real report with some evidence members set. */
static json_object *with_figures(const char *const (*set)[3], size_t n)
{
    json_object *r = load("report", "kvm.json");
    json_object *checks = json_object_object_get(r, "checks");

    for (size_t i = 0; i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i), *ev = json_object_object_get(c, "evidence");

        for (size_t j = 0; j < n; j++)
            if (strcmp(sget(c, "id"), set[j][0]) == 0)
                json_object_object_add(ev, set[j][1], json_tokener_parse(set[j][2]));
    }
    return r;
}

/* Within the band nothing is listed; beyond it, the worse way only counts. */
static void test_bands(void)
{
    static const char *const moved[][3] = {
        { "dirty-rate/kvm", "ratio", "1.03" }, /* 0.974 -> 1.03: moved 0.056, but no farther from 1 */
    };
    static const char *const worse[][3] = {
        { "dirty-rate/kvm", "ratio", "0.90" },   /* exact mode: 0.026 -> 0.10 from 1, beyond 0.05 */
        { "dirty-rate/tcg", "ratio", "0.95" },   /* page-sampling: 1.024 -> 0.95 is within its 0.10 */
        { "ksm/positive", "merged_pages", "7400" }, /* 7674 -> 7400 of 7678: down 0.036, beyond 0.02 */
        { "migration/tiny", "elapsed_ms", "3000" }, /* 2.393 -> 3.0 s: within 50% */
    };
    g_autoptr(json_object) old_r = load("report", "kvm.json");
    g_autoptr(json_object) moved_r = with_figures(moved, G_N_ELEMENTS(moved));
    g_autoptr(json_object) worse_r = with_figures(worse, G_N_ELEMENTS(worse));
    g_autoptr(json_object) cmp = vmctl_report_compare(old_r, moved_r);
    json_object *c = change_of(cmp, "figure", "dirty_rate_ratio dirty-rate/kvm mode=dirty-bitmap");

    g_assert_nonnull(c);
    g_assert_cmpstr(sget(c, "direction"), ==, "moved");
    g_assert_false(json_object_get_boolean(json_object_object_get(c, "regression")));
    g_assert_cmpint(iget(cmp, "regressions"), ==, 0);
    g_clear_pointer(&cmp, json_object_put);

    cmp = vmctl_report_compare(old_r, worse_r);
    g_assert_cmpstr(sget(change_of(cmp, "figure", "dirty_rate_ratio dirty-rate/kvm mode=dirty-bitmap"), "direction"),
                    ==, "worse");
    g_assert_null(change_of(cmp, "figure", "dirty_rate_ratio dirty-rate/tcg mode=page-sampling"));
    g_assert_cmpstr(sget(change_of(cmp, "figure", "ksm_merged_ratio ksm/positive"), "direction"), ==, "worse");
    g_assert_null(change_of(cmp, "figure", "migration_elapsed_seconds migration/tiny"));
    g_assert_cmpint(iget(cmp, "regressions"), ==, 2);
    g_assert_cmpuint(json_object_array_length(json_object_object_get(cmp, "changes")), ==, 2);
}

/* The real reports of this host with and without KVM: the checks that need
 * KVM go, migration/tiny fails under TCG (QEMU 7.2's known loss), the host
 * facts say why. */
static void test_kvm_then_nokvm(void)
{
    g_autoptr(json_object) old_r = load("report", "kvm.json");
    g_autoptr(json_object) new_r = load("report", "nokvm.json");
    g_autoptr(json_object) cmp = vmctl_report_compare(old_r, new_r);
    json_object *c = change_of(cmp, "status", "migration/tiny");

    g_assert_true(json_object_get_boolean(json_object_object_get(c, "regression")));
    g_assert_cmpstr(sget(change_of(cmp, "status", "kvm-device"), "new"), ==, "NOT APPLICABLE");
    g_assert_false(json_object_get_boolean(json_object_object_get(change_of(cmp, "status", "kvm-device"),
                                                                  "regression")));
    g_assert_nonnull(change_of(cmp, "removed", "dirty-log/hugetlbfs/ring"));
    g_assert_nonnull(change_of(cmp, "added", "dirty-log"));
    g_assert_cmpstr(sget(change_of(cmp, "host", "kvm available"), "new"), ==, "false");
    /* page-sampling 1.024 -> 0.973: within its band */
    g_assert_null(change_of(cmp, "figure", "dirty_rate_ratio dirty-rate/tcg mode=page-sampling"));
    g_assert_cmpint(iget(cmp, "regressions"), ==, 1);
}

/* New and removed checks, status changes that are no regression, and host facts. */
static void test_checks_and_host(void)
{
    g_autoptr(json_object) old_r = json_tokener_parse(
        "{\"checks\": [{\"id\": \"a\", \"status\": \"PASS\"}, {\"id\": \"gone\", \"status\": \"PASS\"},"
        " {\"id\": \"c\", \"status\": \"PASS\"}, {\"id\": \"d\", \"status\": \"ERROR\"}],"
        " \"host\": {\"kernel\": {\"release\": \"6.1.0\"}, \"kvm\": {\"available\": true, \"module\": \"kvm_intel\"},"
        "          \"qemu\": {\"version\": \"7.2.22\"}, \"libvirt\": {\"library_version\": \"9.0.0\"},"
        "          \"memory\": {\"thp\": \"madvise\"}}}");
    g_autoptr(json_object) new_r = json_tokener_parse(
        "{\"checks\": [{\"id\": \"a\", \"status\": \"NOT APPLICABLE\"}, {\"id\": \"new-bad\", \"status\": \"FAIL\"},"
        " {\"id\": \"new-ok\", \"status\": \"PASS\"}, {\"id\": \"c\", \"status\": \"ERROR\"},"
        " {\"id\": \"d\", \"status\": \"FAIL\"}],"
        " \"host\": {\"kernel\": {\"release\": \"6.12.6\"}, \"kvm\": {\"available\": true, \"module\": \"kvm_intel\"},"
        "          \"qemu\": {\"version\": \"9.2.0\"}, \"libvirt\": {\"library_version\": \"9.0.0\"},"
        "          \"memory\": {\"thp\": \"always\"}}}");
    g_autoptr(json_object) cmp = vmctl_report_compare(old_r, new_r);
    json_object *c;

    c = change_of(cmp, "status", "a"); /* no longer measured: listed, not a regression */
    g_assert_false(json_object_get_boolean(json_object_object_get(c, "regression")));
    c = change_of(cmp, "added", "new-bad");
    g_assert_true(json_object_get_boolean(json_object_object_get(c, "regression")));
    c = change_of(cmp, "added", "new-ok");
    g_assert_false(json_object_get_boolean(json_object_object_get(c, "regression")));
    c = change_of(cmp, "removed", "gone");
    g_assert_cmpstr(sget(c, "old"), ==, "PASS");
    g_assert_null(json_object_object_get(c, "new"));
    c = change_of(cmp, "status", "c");
    g_assert_true(json_object_get_boolean(json_object_object_get(c, "regression")));
    c = change_of(cmp, "status", "d"); /* ERROR -> FAIL: was already bad */
    g_assert_false(json_object_get_boolean(json_object_object_get(c, "regression")));
    g_assert_cmpstr(sget(change_of(cmp, "host", "kernel release"), "new"), ==, "6.12.6");
    g_assert_cmpstr(sget(change_of(cmp, "host", "qemu version"), "old"), ==, "7.2.22");
    g_assert_cmpstr(sget(change_of(cmp, "host", "thp"), "new"), ==, "always");
    g_assert_null(change_of(cmp, "host", "libvirt version"));
    g_assert_null(change_of(cmp, "host", "kvm module"));
    g_assert_cmpint(iget(cmp, "regressions"), ==, 2);
    g_assert_cmpuint(json_object_array_length(json_object_object_get(cmp, "changes")), ==, 9);
}

static void test_invalid(void)
{
    static const struct {
        const char *json;
        const char *message;
    } cases[] = {
        { "[]", "not a vmctl validate report (not a JSON object)" },
        { "{\"verdict\": \"pass\"}", "not a vmctl validate report (no checks array)" },
        { "{\"checks\": {}}", "not a vmctl validate report (no checks array)" },
        { "{\"checks\": [{\"status\": \"PASS\"}]}", "not a vmctl validate report (check 0 has no string id)" },
        { "{\"checks\": [{\"id\": \"a\", \"status\": \"OK\"}]}",
          "not a vmctl validate report (check 'a' has status 'OK', not PASS, FAIL, NOT APPLICABLE or ERROR)" },
        { "{\"checks\": [{\"id\": \"a\"}]}",
          "not a vmctl validate report (check 'a' has status '', not PASS, FAIL, NOT APPLICABLE or ERROR)" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_object) r = json_tokener_parse(cases[i].json);
        g_autoptr(GError) err = NULL;

        g_assert_false(vmctl_report_is_valid(r, &err));
        g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
        g_assert_cmpstr(err->message, ==, cases[i].message);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/report/compare/same", test_same);
    g_test_add_func("/vmctl/report/compare/regression", test_regression);
    g_test_add_func("/vmctl/report/compare/improvement", test_improvement);
    g_test_add_func("/vmctl/report/compare/bands", test_bands);
    g_test_add_func("/vmctl/report/compare/kvm-then-nokvm", test_kvm_then_nokvm);
    g_test_add_func("/vmctl/report/compare/checks-and-host", test_checks_and_host);
    g_test_add_func("/vmctl/report/compare/invalid", test_invalid);
    return g_test_run();
}
