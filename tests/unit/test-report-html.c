/* test-report-html.c: the HTML report is self-contained, escapes what it
 * shows and draws a plot for every series. */
#include "config.h"

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
    g_assert_nonnull(strstr(html, "<h2>Plots</h2>"));
    g_assert_true(strstr(html, "<svg class=\"plot\"") < strstr(html, "<table id=\"checks\""));
    g_assert_nonnull(strstr(html, "<figure id=\"plot-0\" class=\"pass\"><figcaption>&lt;script&gt;"));
    g_assert_nonnull(strstr(html, "<a href=\"#plot-0\">(plot)</a>"));
    g_assert_nonnull(strstr(html, "<details><summary>evidence</summary><pre>"));
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
    g_assert_nonnull(strstr(svg, "44.0,176.0"));
    g_assert_nonnull(strstr(svg, "552.0,8.0"));
    g_assert_cmpstr(none, ==, "");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/report/html/page", test_page);
    g_test_add_func("/vmctl/report/html/plot-points", test_plot_points);
    return g_test_run();
}
