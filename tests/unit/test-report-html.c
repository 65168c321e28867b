/* test-report-html.c: the HTML report is self-contained, escapes what it
 * shows and draws a plot for every series. */
#include "config.h"

#include "report.h"
#include "report_html.h"

#include <string.h>

static json_object *sample_report(void)
{
    const char *text =
        "{\"verdict\": \"fail\", \"checks\": ["
        " {\"id\": \"a\", \"title\": \"<script>x</script>\", \"status\": \"PASS\", \"summary\": \"ok & fine\","
        "  \"evidence\": {\"series\": [{\"name\": \"rate\", \"x_label\": \"s\", \"y_label\": \"pages/s\","
        "    \"points\": [[0, 10], [1, 20], [2, 15]]}]}},"
        " {\"id\": \"b\", \"title\": \"b\", \"status\": \"FAIL\", \"summary\": \"3 pages differ\", \"evidence\": {}}],"
        " \"not_built\": [\"ksm\"], \"host\": {\"kernel\": {\"release\": \"6.1\"}}}";

    return json_tokener_parse(text);
}

static void test_page(void)
{
    g_autoptr(json_object) r = sample_report();
    g_autofree char *html = vmctl_report_html(r);

    g_assert_nonnull(strstr(html, "<!DOCTYPE html>"));
    g_assert_null(strstr(html, "<script"));          /* escaped, never live */
    g_assert_nonnull(strstr(html, "&lt;script&gt;"));
    g_assert_nonnull(strstr(html, "ok &amp; fine"));
    g_assert_nonnull(strstr(html, "<svg class=\"plot\""));
    g_assert_nonnull(strstr(html, "<polyline class=\"series\""));
    g_assert_nonnull(strstr(html, "class=\"fail\""));
    g_assert_null(strstr(html, "src=")); /* no external resource */
    g_assert_null(strstr(html, "<link"));
    g_assert_nonnull(strstr(html, "3 pages differ"));
    /* the plots come first, under their check's title; the evidence is
     * collapsed so the page stays short */
    g_assert_nonnull(strstr(html, "<h2 id=\"plots-head\">Plots</h2>"));
    g_assert_true(strstr(html, "<svg class=\"plot\"") > strstr(html, "<table id=\"checks\""));
    g_assert_nonnull(strstr(html, "<figure id=\"plot-0\" class=\"pass\"><figcaption><a href=\"#check-0\">&lt;script&gt;"));
    g_assert_nonnull(strstr(html, "<a href=\"#plot-0\">(plot)</a>"));
    g_assert_nonnull(strstr(html, "<details><summary>1 field: series; 1 plotted series</summary><pre>"));
    g_assert_null(strstr(html, "plot-1")); /* check b has no series */
}

static void test_plot_points(void)
{
    g_autoptr(json_object) s = json_tokener_parse(
        "[{\"name\": \"a\", \"points\": [[0, 0], [10, 100]]}, {\"name\": \"b\", \"points\": [[5, 50]]}]");
    g_autofree char *svg = vmctl_report_svg_plot(s);
    g_autoptr(json_object) empty = json_tokener_parse("[]");
    g_autofree char *none = vmctl_report_svg_plot(empty);
    const char *p = svg;
    unsigned lines = 0;

    while ((p = strstr(p, "<polyline"))) {
        lines++;
        p++;
    }
    g_assert_cmpuint(lines, ==, 2);
    /* (0,0) maps to the bottom-left corner, (10,100) to the top-right */
    g_assert_nonnull(strstr(svg, "72.0,212.0"));
    g_assert_nonnull(strstr(svg, "584.0,12.0"));
    /* a mark per point, the legend below the axes */
    g_assert_nonnull(strstr(svg, "<circle class=\"pt\" cx=\"72.0\" cy=\"212.0\""));
    g_assert_nonnull(strstr(svg, "<text class=\"legend\" x=\"104\" y=\"264\" font-size=\"12\">a</text>"));
    g_assert_cmpstr(none, ==, "");
}

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Ticks at 1, 2 and 5 times powers of ten on both axes, labelled, and
 * the bare unit "s" said as time. */
static void test_plot_ticks(void)
{
    g_autoptr(json_object) s = json_tokener_parse(
        "[{\"name\": \"r\", \"x_label\": \"s\", \"y_label\": \"guest RAM (MiB)\","
        "  \"points\": [[1.5, 0], [1.8, 60], [2.2, 125]]}]");
    g_autofree char *svg = vmctl_report_svg_plot(s);

    /* x 1.5..2.2 -> 1.5, 1.6, ... 2.2 (not just its two ends); y 0..125
     * -> 0, 50, 100, 150 */
    g_assert_cmpuint(count(svg, "class=\"tick-x\""), ==, 8);
    g_assert_nonnull(strstr(svg, ">1.5</text>"));
    g_assert_nonnull(strstr(svg, ">1.8</text>"));
    g_assert_nonnull(strstr(svg, ">2.2</text>"));
    g_assert_cmpuint(count(svg, "class=\"tick-y\""), ==, 4);
    g_assert_nonnull(strstr(svg, ">150</text>"));
    g_assert_nonnull(strstr(svg, "<text class=\"axis-x\""));
    g_assert_nonnull(strstr(svg, ">time (s)</text>"));
    g_assert_nonnull(strstr(svg, ">guest RAM (MiB)</text>"));
}

/* A dirty-rate check is drawn with its tolerance band, a KSM check with
 * its threshold line, each plot with a caption; a rate far above zero
 * gets an axis near the data. */
static void test_plot_marks(void)
{
    g_autoptr(json_object) r = json_tokener_parse(
        "{\"verdict\": \"pass\", \"checks\": ["
        " {\"id\": \"dirty-rate/kvm\", \"title\": \"rate\", \"status\": \"PASS\", \"summary\": \"s\","
        "  \"evidence\": {\"true_pages_per_s\": 5000, \"tolerance\": 0.08, \"series\": [{\"name\": \"g\","
        "   \"x_label\": \"s\", \"y_label\": \"dirty pages/s\", \"points\": [[0, 4990], [1, 5010]]}]}},"
        " {\"id\": \"ksm/positive\", \"title\": \"ksm\", \"status\": \"PASS\", \"summary\": \"s\","
        "  \"evidence\": {\"guests\": [{\"identical_pages\": 100}, {\"identical_pages\": 100}],"
        "   \"series\": [{\"name\": \"m\", \"points\": [[0, 0], [1, 199]]}]}}]}");
    g_autofree char *html = vmctl_report_html(r);
    const char *p1 = strstr(html, "<figure id=\"plot-0\""), *p2 = strstr(html, "<figure id=\"plot-1\"");

    g_assert_nonnull(p1);
    g_assert_nonnull(p2);
    /* the band 4600..5400 in the first plot only, named in the legend */
    g_assert_cmpuint(count(html, "<rect class=\"band\""), ==, 1);
    g_assert_true(strstr(html, "<rect class=\"band\"") < p2);
    g_assert_nonnull(strstr(html, "the guest&apos;s own rate 5000 pages/s, \u00b18% (passing)"));
    /* the axis starts near the data, not at 0 */
    {
        g_autofree char *first = g_strndup(p1, p2 - p1);
        g_assert_null(strstr(first, "\">0</text>"));
        g_assert_nonnull(strstr(first, ">5400</text>"));
    }
    /* the KSM threshold: 90% of 200 identical pages */
    g_assert_cmpuint(count(html, "<line class=\"target\""), ==, 1);
    g_assert_true(strstr(html, "<line class=\"target\"") > p2);
    g_assert_nonnull(strstr(html, "90% of the 200 identical pages"));
    g_assert_cmpuint(count(html, "<p class=\"caption\">"), ==, 2);
}

/* The head: host, date, versions; the verdict with its counts, reason and
 * a link to the first FAIL; host facts and known changes as tables, the
 * measured column linking to the check that measured it. */
static void test_head_and_facts(void)
{
    g_autoptr(json_object) r = json_tokener_parse(
        "{\"verdict\": \"fail\", \"vmctl_version\": \"9.9\", \"started\": \"2026-01-02T03:04:05Z\","
        " \"checks_total\": 3, \"checks_not_applicable\": 1, \"checks\": ["
        " {\"id\": \"kvm-device\", \"title\": \"k\", \"status\": \"NOT APPLICABLE\", \"summary\": \"no kvm\"},"
        " {\"id\": \"dirty-rate/tcg\", \"title\": \"d\", \"status\": \"PASS\", \"summary\": \"ok\", \"evidence\": {}},"
        " {\"id\": \"migration/tiny\", \"title\": \"m\", \"status\": \"FAIL\","
        "  \"summary\": \"FAIL: 3 of 9 pages differ; QEMU 7.2\", \"evidence\": {\"accel\": \"tcg\","
        "  \"known_bug\": {\"id\": \"tcg-lost-dirty-pages\", \"fixed_in\": \"9.0.0\"}}}],"
        " \"host\": {\"hostname\": \"h1\", \"kernel\": {\"release\": \"6.1.0\", \"known_changes\": []},"
        "  \"qemu\": {\"version\": \"7.2.22\", \"known_issues\": [{\"id\": \"tcg-lost-dirty-pages\","
        "   \"applies\": true, \"summary\": \"loses pages\", \"fixed_in\": \"9.0.0\"}]},"
        "  \"libvirt\": {\"library_version\": \"9.0.0\"}}}");
    g_autofree char *html = vmctl_report_html(r);

    g_assert_nonnull(strstr(html, "<h1>vmctl host report: h1</h1>"));
    g_assert_nonnull(strstr(html, "<tr><th>date</th><td>2026-01-02T03:04:05Z</td></tr>"));
    g_assert_nonnull(strstr(html, "<tr><th>vmctl</th><td>9.9</td></tr>"));
    g_assert_nonnull(strstr(html, "<tr><th>QEMU</th><td>7.2.22</td></tr>"));
    g_assert_nonnull(strstr(html, "<td id=\"count-pass\" class=\"pass\">1</td>"));
    g_assert_nonnull(strstr(html, "<td id=\"count-fail\" class=\"fail\">1</td>"));
    g_assert_nonnull(strstr(html, "<td id=\"count-na\" class=\"na\">1</td>"));
    g_assert_nonnull(strstr(html, "<td id=\"count-error\" class=\"\">0</td>"));
    g_assert_nonnull(strstr(html, "<p id=\"reason\">migration/tiny failed: 3 of 9 pages differ, a known bug of the "
                                  "installed QEMU (&apos;tcg-lost-dirty-pages&apos;), fixed in QEMU 9.0.0</p>"));
    g_assert_nonnull(strstr(html, "<a id=\"first-fail\" href=\"#check-2\">first FAIL: migration/tiny</a>"));
    g_assert_null(strstr(html, "first-error"));
    g_assert_nonnull(strstr(html, "<tr class=\"fail\" id=\"check-2\">"));
    /* no JSON dump of the facts: a table */
    g_assert_null(strstr(html, "<pre id=\"host\">"));
    g_assert_nonnull(strstr(html, "<table id=\"facts\">"));
    g_assert_nonnull(strstr(html, "<tr><th>kernel</th><td>6.1.0</td></tr>"));
    g_assert_nonnull(strstr(html, "seen: a migration under TCG lost pages: 3 of 9 pages differ (<a href=\"#check-2\">"
                                  "migration/tiny</a>)</td><td>9.0.0</td>"));
    g_assert_nonnull(strstr(html, "<summary>no evidence recorded</summary>"));
    /* the text report's order: facts, checks, plots */
    g_assert_true(strstr(html, "id=\"host-facts\"") < strstr(html, "id=\"checks-head\""));
}

/* The verdict's reason in each case, the counts line, and what an
 * evidence object holds. */
static void test_reason(void)
{
    static const struct {
        const char *report, *reason;
    } cases[] = {
        { "{\"checks\": [{\"id\": \"a\", \"status\": \"PASS\"}, {\"id\": \"b\", \"status\": \"NOT APPLICABLE\","
          " \"summary\": \"needs kvm-device (x); more\"}]}",
          "all 1 measured checks passed; 1 not applicable, first b: needs kvm-device (x)" },
        { "{\"checks\": [{\"id\": \"a\", \"status\": \"ERROR\", \"summary\": \"QEMU died\"},"
          " {\"id\": \"b\", \"status\": \"ERROR\", \"summary\": \"x\"}]}",
          "a could not run: QEMU died (and 1 more ERROR)" },
        { "{\"checks\": [{\"id\": \"a\", \"status\": \"ERROR\", \"summary\": \"x\"},"
          " {\"id\": \"b\", \"status\": \"FAIL\", \"summary\": \"FAIL: 1 page lost; detail\"}]}",
          "b failed: 1 page lost" },
        { "{\"checks\": [], \"injected_fault\": \"scale:0.5\"}", "no check ran (under an injected test fault: scale:0.5)" },
        { "{\"checks\": [{\"id\": \"a\", \"status\": \"PASS\"}], \"lab_verdict\": \"fail\"}",
          "all 1 measured checks passed; the labs' verdict is fail" },
        /* a status the report does not know is an error, never a pass */
        { "{\"checks\": [{\"id\": \"a\", \"status\": \"OK\", \"summary\": \"?\"}]}", "a could not run: ?" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_object) r = json_tokener_parse(cases[i].report);
        g_autofree char *reason = vmctl_report_reason(r);

        g_assert_nonnull(r);
        g_assert_cmpstr(reason, ==, cases[i].reason);
    }
    {
        g_autoptr(json_object) r = json_tokener_parse(cases[2].report);
        g_autoptr(json_object) ev = json_tokener_parse("{\"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4, \"e\": 5, \"f\": 6,"
                                                       " \"series\": [{}, {}]}");
        g_autofree char *counts = vmctl_report_counts_line(r);
        g_autofree char *what = vmctl_report_evidence_summary(ev);

        g_assert_cmpstr(counts, ==, "0 PASS, 1 FAIL, 0 NOT APPLICABLE, 1 ERROR");
        g_assert_cmpstr(what, ==, "7 fields: a, b, c, d, e, f, ...; 2 plotted series");
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/report/html/page", test_page);
    g_test_add_func("/vmctl/report/html/plot-points", test_plot_points);
    g_test_add_func("/vmctl/report/html/plot-ticks", test_plot_ticks);
    g_test_add_func("/vmctl/report/html/plot-marks", test_plot_marks);
    g_test_add_func("/vmctl/report/html/head-and-facts", test_head_and_facts);
    g_test_add_func("/vmctl/report/reason", test_reason);
    return g_test_run();
}
