/* test-report-formats.c: the report as JUnit XML and as Prometheus text.
 * Every tests/data/report/CASE.json renders to the goldens CASE.junit.xml
 * and CASE.prom (VMCTL_REGENERATE=1 rewrites them for review); the XSD and
 * the exposition-format checks of those goldens are in
 * tests/integration/validate-formats.sh. */
#include "config.h"

#include "report_formats.h"

#include <string.h>

#include "test-golden.h"

static void check_golden(const char *golden, const char *text)
{
    g_autofree char *want = NULL;

    if (vmctl_test_regenerate()) {
        g_assert_true(g_file_set_contents(golden, text, -1, NULL));
        return;
    }
    g_assert_true(g_file_get_contents(golden, &want, NULL, NULL));
    g_assert_cmpstr(text, ==, want);
}

static void run_case(gconstpointer data)
{
    const char *name = data;
    g_autofree char *in = g_test_build_filename(G_TEST_DIST, "data", "report", name, NULL);
    g_autofree char *base = g_strndup(in, strlen(in) - strlen(".json"));
    g_autofree char *junit_path = g_strdup_printf("%s.junit.xml", base);
    g_autofree char *prom_path = g_strdup_printf("%s.prom", base);
    g_autoptr(json_object) r = json_object_from_file(in);
    g_autoptr(GError) err = NULL;
    g_autofree char *junit = NULL, *prom = NULL;

    g_assert_nonnull(r);
    g_assert_true(vmctl_report_is_valid(r, &err));
    g_assert_no_error(err);
    junit = vmctl_report_junit(r);
    prom = vmctl_report_openmetrics(r);
    check_golden(junit_path, junit);
    check_golden(prom_path, prom);
}

static json_object *load(const char *name)
{
    g_autofree char *in = g_test_build_filename(G_TEST_DIST, "data", "report", name, NULL);
    json_object *r = json_object_from_file(in);

    g_assert_nonnull(r);
    return r;
}

/* Lines of TEXT that start with PREFIX. */
static unsigned count_lines(const char *text, const char *prefix)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    unsigned n = 0;

    for (size_t i = 0; lines[i]; i++)
        n += g_str_has_prefix(lines[i], prefix);
    return n;
}

static unsigned count(const char *text, const char *needle)
{
    unsigned n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The real report of this host: one testcase per check, statuses mapped. */
static void test_junit_real(void)
{
    g_autoptr(json_object) r = load("kvm.json");
    g_autofree char *x = vmctl_report_junit(r);
    size_t n = json_object_array_length(json_object_object_get(r, "checks"));

    g_assert_cmpuint(count(x, "<testcase "), ==, n);
    g_assert_cmpuint(count(x, "<skipped "), ==, 6); /* the accessed/ checks: page_idle absent, DAMON busy */
    g_assert_cmpuint(count(x, "<failure "), ==, 0);
    g_assert_nonnull(strstr(x, "<testsuite name=\"vmctl validate\" tests=\"35\" failures=\"0\" errors=\"0\" "
                               "skipped=\"6\""));
    g_assert_nonnull(strstr(x, "<testcase classname=\"vmctl.dirty-log\" name=\"huge-pages/thp\""));
    g_assert_nonnull(strstr(x, "<testcase classname=\"vmctl.migration\" name=\"migration/tiny\" time=\"5.740\"/>"));
    g_assert_nonnull(strstr(x, "<property name=\"qemu.version\" value=\"7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\"/>"));
    g_assert_nonnull(strstr(x, "<property name=\"libvirt.version\" value=\"9.0.0\"/>"));
    /* a report made before the run recorded its start has no timestamp */
    g_assert_null(strstr(x, "timestamp="));
}

/* A real run under an injected fault: FAIL with the evidence as text. */
static void test_junit_failure(void)
{
    g_autoptr(json_object) r = load("dirty-log-fault.json");
    g_autofree char *x = vmctl_report_junit(r);

    g_assert_cmpuint(count(x, "<failure message=\""), ==, 18);
    g_assert_nonnull(strstr(x, "<failure message=\"1 written pages missing from the harvest (3), 0 harvested pages "
                               "never written (), 0 backing changes not harvested ()\" type=\"FAIL\">{\n"));
    g_assert_nonnull(strstr(x, "\"missing\":"));
    g_assert_nonnull(strstr(x, " timestamp=\""));
    g_assert_nonnull(strstr(x, "<property name=\"injected_fault\" value=\"VMCTL_PROBE_FAULT=drop-page:3\"/>"));
}

static void test_junit_escapes(void)
{
    g_autoptr(json_object) r = load("synthetic-escapes.json");
    g_autofree char *x = vmctl_report_junit(r);

    /* attribute: quote, newline kept as a reference, control char replaced */
    g_assert_nonnull(strstr(x, "name=\"backend/devdax:/dev/da&quot;x\\0&#10;new\""));
    g_assert_nonnull(strstr(x, "message=\"tab&#9;here, control \xEF\xBF\xBD char, &lt;tag&gt; &amp; &quot;quote&quot; "
                               "'apos' ]]&gt;\""));
    /* text: the evidence cannot close the element */
    g_assert_null(strstr(x, "</failure><x>"));
    g_assert_nonnull(strstr(x, "&lt;/failure&gt;&lt;x&gt;"));
    g_assert_nonnull(strstr(x, "<error message=\"QMP calc-dirty-rate timed out\" type=\"ERROR\">"));
    g_assert_nonnull(strstr(x, "timestamp=\"2026-01-31T22:59:59\"")); /* in UTC */
    g_assert_nonnull(strstr(x, "hostname=\"host&lt;&amp;&gt;&quot;1&quot;\""));
    /* the labs: a suite each, the one that did not run as an error */
    g_assert_nonnull(strstr(x, "<testsuite name=\"vmctl validate: lab kernel trixie\" tests=\"1\" failures=\"1\""));
    g_assert_nonnull(strstr(x, "<testsuite name=\"vmctl validate: lab kernel bookworm\" tests=\"1\" failures=\"0\" "
                               "errors=\"1\""));
    g_assert_nonnull(strstr(x, "<testsuites name=\"vmctl validate\" tests=\"8\" failures=\"2\" errors=\"2\" "
                               "skipped=\"1\""));
}

/* A status this version does not know is no pass: an error, counted. */
static void test_junit_unknown_status(void)
{
    g_autoptr(json_object) r = json_tokener_parse(
        "{\"checks\": [{\"id\": \"x\", \"status\": \"MAYBE\", \"summary\": \"s\", \"duration_ns\": 0}]}");
    g_autofree char *x = vmctl_report_junit(r);

    g_assert_nonnull(strstr(x, "<testsuite name=\"vmctl validate\" tests=\"1\" failures=\"0\" errors=\"1\""));
    g_assert_nonnull(strstr(x, "<error message=\"unknown status 'MAYBE': s\" type=\"ERROR\"/>"));
}

static void test_group(void)
{
    static const char *const cases[][2] = {
        { "kvm-device", "kvm-device" },         { "dirty-log/thp/ring", "dirty-log" },
        { "huge-pages/thp", "dirty-log" },      { "hugepages-restored/hugetlbfs", "dirty-log" },
        { "ksm/restore", "ksm" },               { "backend/devdax:/dev/dax0.0", "backend" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *g = vmctl_report_check_group(cases[i][0]);
        g_assert_cmpstr(g, ==, cases[i][1]);
    }
}

static void test_metrics_real(void)
{
    g_autoptr(json_object) r = load("kvm.json");
    g_autofree char *m = vmctl_report_openmetrics(r);

    g_assert_cmpuint(count_lines(m, "vmctl_check_status{"), ==, 35 * 4);
    g_assert_cmpuint(count_lines(m, "vmctl_check_duration_seconds{"), ==, 35);
    g_assert_nonnull(strstr(m, "vmctl_check_status{check=\"accessed/thp\",status=\"NOT APPLICABLE\"} 1\n"));
    g_assert_nonnull(strstr(m, "vmctl_check_status{check=\"accessed/thp\",status=\"PASS\"} 0\n"));
    g_assert_nonnull(strstr(m, "vmctl_report_verdict{verdict=\"pass\"} 1\n"));
    g_assert_nonnull(strstr(m, "vmctl_report_checks{status=\"PASS\"} 29\n"));
    g_assert_nonnull(strstr(m, "vmctl_host_info{kernel=\"6.18.44-fc-v1252\",kvm_module=\"kvm_pvm\",qemu=\"7.2.22 "
                               "(Debian 1:7.2+dfsg-7+deb12u18+b3)\",libvirt=\"9.0.0\",vmctl=\"unknown\"} 1\n"));
    /* the figures the evidence has */
    g_assert_cmpuint(count_lines(m, "vmctl_dirty_log_harvest_seconds_per_gib{"), ==, 18 * 2);
    g_assert_nonnull(strstr(m, "vmctl_dirty_log_harvest_seconds_per_gib{check=\"dirty-log/anonymous/bitmap\","
                               "pages=\"all\"} 0.00713056\n"));
    g_assert_nonnull(strstr(m, "vmctl_dirty_rate_ratio{check=\"dirty-rate/kvm\",mode=\"dirty-bitmap\"} 0.974218265429787\n"));
    g_assert_nonnull(strstr(m, "vmctl_migration_elapsed_seconds{check=\"migration/tiny\"} 2.393\n"));
    g_assert_nonnull(strstr(m, "vmctl_migration_downtime_seconds{check=\"migration/tiny\"} 0.027\n"));
    g_assert_nonnull(strstr(m, "vmctl_ksm_merged_ratio{check=\"ksm/positive\"} 0.999479030997656\n"));
    /* no timestamps: the textfile collector refuses them */
    g_assert_null(strstr(m, "} 1 1"));
}

static void test_metrics_escapes(void)
{
    g_autoptr(json_object) r = load("synthetic-escapes.json");
    g_autofree char *m = vmctl_report_openmetrics(r);

    g_assert_nonnull(strstr(m, "vmctl_check_status{check=\"backend/devdax:/dev/da\\\"x\\\\0\\nnew\",status=\"FAIL\"} 1\n"));
    g_assert_nonnull(strstr(m, "kernel=\"6.1.0-\\\"quoted\\\"\\\\back\\nslash\""));
    /* the first of a repeated id only */
    g_assert_cmpuint(count_lines(m, "vmctl_check_duration_seconds{check=\"dirty-rate/kvm\"}"), ==, 1);
    g_assert_nonnull(strstr(m, "vmctl_dirty_rate_ratio{check=\"dirty-rate/kvm\",mode=\"unknown\"} 0.5\n"));
    /* a string, an infinity and a division by zero are no figures */
    g_assert_null(strstr(m, "vmctl_dirty_rate_true_pages_per_second"));
    g_assert_null(strstr(m, "vmctl_dirty_rate_measured_pages_per_second"));
    g_assert_null(strstr(m, "vmctl_ksm_merged_ratio"));
    g_assert_nonnull(strstr(m, "vmctl_ksm_half_merged_seconds{check=\"ksm/positive\"} 0.25\n"));
    g_assert_nonnull(strstr(m, "vmctl_report_start_time_seconds 1769900399\n"));
}

/* Every figure has a noise band for --compare. */
static void test_every_figure_has_a_band(void)
{
    const char *const *names = vmctl_report_figure_names();

    g_assert_nonnull(names[0]);
    for (size_t i = 0; names[i]; i++) {
        const VmctlFigureBand *b = vmctl_report_figure_band(names[i], NULL);

        if (!b)
            g_error("figure %s has no band", names[i]);
        g_assert_true(b->abs > 0 || b->rel > 0);
        g_assert_nonnull(b->why);
    }
    /* a label picks its own band */
    {
        g_autoptr(json_object) sampled = json_tokener_parse("{\"mode\": \"page-sampling\"}");
        g_autoptr(json_object) exact = json_tokener_parse("{\"mode\": \"dirty-bitmap\"}");

        g_assert_cmpfloat(vmctl_report_figure_band("dirty_rate_ratio", sampled)->abs, ==, 0.10);
        g_assert_cmpfloat(vmctl_report_figure_band("dirty_rate_ratio", exact)->abs, ==, 0.05);
        g_assert_null(vmctl_report_figure_band("no_such_figure", NULL));
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;

    g_test_init(&argc, &argv, NULL);
    names = vmctl_test_add_goldens("report", "/vmctl/report/formats/golden", run_case);
    g_test_add_func("/vmctl/report/junit/real", test_junit_real);
    g_test_add_func("/vmctl/report/junit/failure", test_junit_failure);
    g_test_add_func("/vmctl/report/junit/escapes", test_junit_escapes);
    g_test_add_func("/vmctl/report/junit/unknown-status", test_junit_unknown_status);
    g_test_add_func("/vmctl/report/junit/group", test_group);
    g_test_add_func("/vmctl/report/metrics/real", test_metrics_real);
    g_test_add_func("/vmctl/report/metrics/escapes", test_metrics_escapes);
    g_test_add_func("/vmctl/report/metrics/bands", test_every_figure_has_a_band);
    return g_test_run();
}
