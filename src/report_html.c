/* report_html.c: render the validate report as a self-contained HTML page
 * with inline SVG line plots. Everything that comes from the report is
 * escaped; no script, no external resource. */
#include "config.h"

#include "report_html.h"

#include <math.h>
#include <string.h>

#define PLOT_W 560 /* px */
#define PLOT_H 220 /* px */
#define PLOT_PAD 44 /* px, room for the axis labels */

static const char *const colours[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b" };

static void esc(GString *s, const char *text)
{
    g_autofree char *e = g_markup_escape_text(text ? text : "", -1);

    g_string_append(s, e);
}

static bool point_xy(json_object *p, double *x, double *y)
{
    if (!json_object_is_type(p, json_type_array) || json_object_array_length(p) < 2)
        return false;
    *x = json_object_get_double(json_object_array_get_idx(p, 0));
    *y = json_object_get_double(json_object_array_get_idx(p, 1));
    return isfinite(*x) && isfinite(*y);
}

char *vmctl_report_svg_plot(json_object *series)
{
    GString *s = g_string_new(NULL);
    double xmin = INFINITY, xmax = -INFINITY, ymin = 0, ymax = -INFINITY;
    size_t nseries = json_object_is_type(series, json_type_array) ? json_object_array_length(series) : 0;
    const char *xl = NULL, *yl = NULL;

    for (size_t i = 0; i < nseries; i++) {
        json_object *sr = json_object_array_get_idx(series, i);
        json_object *pts = json_object_object_get(sr, "points");

        if (!xl)
            xl = json_object_get_string(json_object_object_get(sr, "x_label"));
        if (!yl)
            yl = json_object_get_string(json_object_object_get(sr, "y_label"));
        for (size_t j = 0; pts && j < json_object_array_length(pts); j++) {
            double x, y;
            if (!point_xy(json_object_array_get_idx(pts, j), &x, &y))
                continue;
            xmin = MIN(xmin, x), xmax = MAX(xmax, x), ymin = MIN(ymin, y), ymax = MAX(ymax, y);
        }
    }
    if (!(xmax >= xmin) || !(ymax >= ymin)) {
        g_string_free(s, TRUE);
        return g_strdup("");
    }
    if (xmax == xmin)
        xmax = xmin + 1;
    if (ymax == ymin)
        ymax = ymin + 1;

    g_string_append_printf(s, "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                              "viewBox=\"0 0 %d %d\">\n", PLOT_W, PLOT_H, PLOT_W, PLOT_H);
    g_string_append_printf(s, "<rect x=\"%d\" y=\"8\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#999\"/>\n",
                           PLOT_PAD, PLOT_W - PLOT_PAD - 8, PLOT_H - PLOT_PAD - 8);
    g_string_append_printf(s, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n",
                           PLOT_PAD - 4, 16, ymax);
    g_string_append_printf(s, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n",
                           PLOT_PAD - 4, PLOT_H - PLOT_PAD, ymin);
    g_string_append_printf(s, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.4g</text>\n", PLOT_PAD,
                           PLOT_H - PLOT_PAD + 16, xmin);
    g_string_append_printf(s, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n",
                           PLOT_W - 8, PLOT_H - PLOT_PAD + 16, xmax);
    g_string_append_printf(s, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">", PLOT_W / 2,
                           PLOT_H - PLOT_PAD + 16);
    esc(s, xl);
    g_string_append(s, "</text>\n");
    g_string_append_printf(s, "<text x=\"12\" y=\"%d\" font-size=\"11\" transform=\"rotate(-90 12 %d)\" "
                              "text-anchor=\"middle\">", PLOT_H / 2, PLOT_H / 2);
    esc(s, yl);
    g_string_append(s, "</text>\n");

    for (size_t i = 0; i < nseries; i++) {
        json_object *sr = json_object_array_get_idx(series, i);
        json_object *pts = json_object_object_get(sr, "points");
        const char *col = colours[i % G_N_ELEMENTS(colours)];

        g_string_append_printf(s, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                               col);
        for (size_t j = 0; pts && j < json_object_array_length(pts); j++) {
            double x, y;
            if (!point_xy(json_object_array_get_idx(pts, j), &x, &y))
                continue;
            g_string_append_printf(s, "%.1f,%.1f ",
                                   PLOT_PAD + (x - xmin) / (xmax - xmin) * (PLOT_W - PLOT_PAD - 8),
                                   8 + (1 - (y - ymin) / (ymax - ymin)) * (PLOT_H - PLOT_PAD - 8));
        }
        g_string_append(s, "\"/>\n");
        g_string_append_printf(s, "<text x=\"%d\" y=\"%zu\" font-size=\"11\" fill=\"%s\">", PLOT_PAD + 6,
                               22 + 13 * i, col);
        esc(s, json_object_get_string(json_object_object_get(sr, "name")));
        g_string_append(s, "</text>\n");
    }
    g_string_append(s, "</svg>\n");
    return g_string_free(s, FALSE);
}

static const char *status_class(const char *st)
{
    if (g_strcmp0(st, "PASS") == 0)
        return "pass";
    if (g_strcmp0(st, "FAIL") == 0)
        return "fail";
    if (g_strcmp0(st, "NOT APPLICABLE") == 0)
        return "na";
    return "error";
}

static bool has_series(json_object *check)
{
    json_object *series = json_object_object_get(json_object_object_get(check, "evidence"), "series");

    return series && json_object_is_type(series, json_type_array) && json_object_array_length(series) > 0;
}

/* Every plot first, under the title of its check, so the curves are on the
 * first screen rather than after pages of evidence. */
static void append_plots(GString *s, json_object *checks)
{
    bool any = false;

    for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        g_autofree char *svg = NULL;

        if (!has_series(c))
            continue;
        svg = vmctl_report_svg_plot(json_object_object_get(json_object_object_get(c, "evidence"), "series"));
        if (!*svg)
            continue;
        if (!any)
            g_string_append(s, "<h2>Plots</h2>\n<div id=\"plots\">\n");
        any = true;
        g_string_append_printf(s, "<figure id=\"plot-%zu\" class=\"%s\"><figcaption>", i,
                               status_class(json_object_get_string(json_object_object_get(c, "status"))));
        esc(s, json_object_get_string(json_object_object_get(c, "title")));
        g_string_append(s, " <small>");
        esc(s, json_object_get_string(json_object_object_get(c, "id")));
        g_string_append(s, "</small></figcaption>\n");
        g_string_append(s, svg);
        g_string_append(s, "</figure>\n");
    }
    if (any)
        g_string_append(s, "</div>\n");
}

static const char *jget(json_object *o, const char *key)
{
    json_object *v = NULL;

    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

/* The lab kernels as the header cells of a row, and the row's end. */
static void kernel_headers(GString *s, json_object *kernels)
{
    for (size_t k = 0; kernels && k < json_object_array_length(kernels); k++) {
        g_string_append(s, "<th>");
        esc(s, json_object_get_string(json_object_array_get_idx(kernels, k)));
        g_string_append(s, "</th>");
    }
    g_string_append(s, "</tr>\n");
}

/* The labs (validate --lab): a coloured kernel x check matrix, the known
 * kernel changes with what each lab measured, and each lab's kernel. The
 * results are the lab kernels', never the host's: the headings say so. */
static void append_labs(GString *s, json_object *labs, json_object *matrix)
{
    json_object *kernels = json_object_object_get(matrix, "kernels");
    json_object *rows = json_object_object_get(matrix, "rows");
    json_object *changes = json_object_object_get(matrix, "changes");
    size_t nk = kernels ? json_object_array_length(kernels) : 0;

    if (!labs || !matrix)
        return;
    g_string_append(s, "<h2>Lab kernels (results of the labs' kernels, not of this host)</h2>\n"
                       "<table id=\"labs\"><tr><th>kernel</th><th>release</th><th>accelerator</th>"
                       "<th>boot</th><th>verdict</th></tr>\n");
    for (size_t k = 0; k < json_object_array_length(labs); k++) {
        json_object *l = json_object_array_get_idx(labs, k), *lab = json_object_object_get(l, "lab");
        json_object *rep = json_object_object_get(l, "report");
        const char *v = rep ? jget(rep, "verdict") : "error";

        g_string_append(s, "<tr><td>");
        esc(s, jget(l, "kernel"));
        g_string_append(s, "</td><td>");
        esc(s, jget(lab, "release"));
        g_string_append(s, "</td><td>");
        esc(s, jget(lab, "accel"));
        g_string_append(s, ": ");
        esc(s, jget(lab, "accel_reason"));
        g_string_append_printf(s, "</td><td>%.1f s</td><td class=\"%s\">",
                               json_object_get_int64(json_object_object_get(lab, "boot_ns")) / 1e9,
                               strcmp(v, "pass") == 0 ? "pass" : strcmp(v, "fail") == 0 ? "fail" : "error");
        esc(s, v);
        if (json_object_object_get_ex(l, "error", NULL)) {
            g_string_append(s, ": ");
            esc(s, jget(l, "error"));
        }
        g_string_append(s, "</td></tr>\n");
    }
    g_string_append(s, "</table>\n<h3>Known kernel changes: the version rule and what each lab measured</h3>\n"
                       "<table id=\"lab-changes\"><tr><th>change</th>");
    kernel_headers(s, kernels);
    for (size_t i = 0; changes && i < json_object_array_length(changes); i++) {
        json_object *row = json_object_array_get_idx(changes, i), *cells = json_object_object_get(row, "cells");

        g_string_append(s, "<tr><td>");
        esc(s, jget(row, "summary"));
        g_string_append(s, "<br><small>");
        esc(s, jget(row, "id"));
        g_string_append(s, "</small></td>");
        for (size_t k = 0; k < nk; k++) {
            json_object *c = json_object_array_get_idx(cells, k);
            json_object *ap = json_object_object_get(c, "applies");

            g_string_append(s, "<td>by version: ");
            esc(s, ap ? (json_object_get_boolean(ap) ? "applies" : "does not apply") : "unknown");
            g_string_append(s, "<br>measured: ");
            esc(s, *jget(c, "measured") ? jget(c, "seen") : "not measured by the lab");
            if (*jget(c, "measured")) {
                g_string_append(s, " (");
                esc(s, jget(c, "measured"));
                g_string_append(s, ")");
            }
            g_string_append(s, "</td>");
        }
        g_string_append(s, "</tr>\n");
    }
    g_string_append(s, "</table>\n<h3>Checks by lab kernel</h3>\n<table id=\"lab-matrix\"><tr><th>check</th>");
    kernel_headers(s, kernels);
    for (size_t i = 0; rows && i < json_object_array_length(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i), *cells = json_object_object_get(row, "cells");
        bool differs = json_object_get_boolean(json_object_object_get(row, "differs"));

        g_string_append_printf(s, "<tr%s><td>", differs ? " class=\"differs\"" : "");
        esc(s, jget(row, "title"));
        g_string_append(s, differs ? " <b>(differs)</b>" : "");
        g_string_append(s, "<br><small>");
        esc(s, jget(row, "id"));
        g_string_append(s, "</small></td>");
        for (size_t k = 0; k < nk; k++) {
            json_object *c = json_object_array_get_idx(cells, k);
            const char *st = c ? json_object_get_string(c) : "not run";
            g_string_append_printf(s, "<td class=\"%s\">", c ? status_class(st) : "na");
            esc(s, st);
            g_string_append(s, "</td>");
        }
        g_string_append(s, "</tr>\n");
    }
    g_string_append(s, "</table>\n");
}

char *vmctl_report_html(json_object *report)
{
    GString *s = g_string_new(NULL);
    json_object *checks = json_object_object_get(report, "checks");
    json_object *host = json_object_object_get(report, "host");
    json_object *nb = json_object_object_get(report, "not_built");

    g_string_append(s, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                       "<title>vmctl host report</title>\n<style>\n"
                       "body{font-family:sans-serif;margin:2em;max-width:70em}\n"
                       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;"
                       "vertical-align:top}\n"
                       ".pass{background:#d9f2d9}.fail{background:#f8d0d0}.na{background:#eee}.error{background:#fde6c4}\n"
                       "tr.differs td:first-child{border-left:4px solid #36c}\n"
                       "pre{white-space:pre-wrap;font-size:12px;margin:0}\n"
                       "figure{display:inline-block;margin:0 1em 1em 0;padding:4px}figcaption{font-size:13px}\n"
                       "</style></head><body>\n");
    g_string_append(s, "<h1>vmctl host report</h1>\n<p>Verdict: <b class=\"");
    esc(s, json_object_get_string(json_object_object_get(report, "verdict")));
    g_string_append(s, "\">");
    esc(s, json_object_get_string(json_object_object_get(report, "verdict")));
    g_string_append(s, "</b>");
    if (json_object_get_int64(json_object_object_get(report, "checks_not_applicable")))
        g_string_append_printf(s, ", %" PRId64 " of %" PRId64 " checks not applicable",
                               json_object_get_int64(json_object_object_get(report, "checks_not_applicable")),
                               json_object_get_int64(json_object_object_get(report, "checks_total")));
    if (json_object_object_get(report, "injected_fault")) {
        g_string_append(s, " <span id=\"injected-fault\">under an injected test fault: ");
        esc(s, json_object_get_string(json_object_object_get(report, "injected_fault")));
        g_string_append(s, "</span>");
    }
    g_string_append(s, "</p>\n");
    append_plots(s, checks);
    g_string_append(s, "<h2>Checks</h2>\n<table id=\"checks\"><tr><th>check</th><th>status</th>"
                       "<th>summary</th><th>evidence</th></tr>\n");
    for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        json_object *ev = json_object_object_get(c, "evidence");
        const char *st = json_object_get_string(json_object_object_get(c, "status"));

        g_string_append_printf(s, "<tr class=\"%s\"><td>", status_class(st));
        esc(s, json_object_get_string(json_object_object_get(c, "title")));
        g_string_append(s, "<br><small>");
        esc(s, json_object_get_string(json_object_object_get(c, "id")));
        g_string_append(s, "</small></td><td>");
        esc(s, st);
        g_string_append(s, "</td><td>");
        esc(s, json_object_get_string(json_object_object_get(c, "summary")));
        if (has_series(c))
            g_string_append_printf(s, " <a href=\"#plot-%zu\">(plot)</a>", i);
        /* collapsed: the evidence of a dirty-log check alone is a screen long */
        g_string_append(s, "</td><td><details><summary>evidence</summary><pre>");
        esc(s, ev ? json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) : "");
        g_string_append(s, "</pre></details></td></tr>\n");
    }
    g_string_append(s, "</table>\n");
    if (nb && json_object_array_length(nb) > 0) {
        g_string_append(s, "<h2>Not built in this version (not run, no result)</h2>\n<ul>\n");
        for (size_t i = 0; i < json_object_array_length(nb); i++) {
            g_string_append(s, "<li>");
            esc(s, json_object_get_string(json_object_array_get_idx(nb, i)));
            g_string_append(s, "</li>\n");
        }
        g_string_append(s, "</ul>\n");
    }
    append_labs(s, json_object_object_get(report, "labs"), json_object_object_get(report, "lab_matrix"));
    g_string_append(s, "<h2>Host facts</h2>\n<pre id=\"host\">");
    esc(s, host ? json_object_to_json_string_ext(host, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) : "");
    g_string_append(s, "</pre>\n</body></html>\n");
    return g_string_free(s, FALSE);
}

json_object *vmctl_report_series_new(const char *name, const char *y_label)
{
    json_object *s = json_object_new_object();

    vmctl_json_add_str(s, "name", name);
    vmctl_json_add_str(s, "x_label", "s");
    vmctl_json_add_str(s, "y_label", y_label);
    json_object_object_add(s, "points", json_object_new_array());
    return s;
}

void vmctl_report_series_add(json_object *series, double x, double y)
{
    json_object *pt = json_object_new_array();
    g_autofree char *xt = g_strdup_printf("%.1f", x);

    /* "8.3", not 8.3000000000000007 */
    json_object_array_add(pt, json_object_new_double_s(round(x * 10) / 10, xt));
    if (y == floor(y) && fabs(y) < 9007199254740992.0)
        json_object_array_add(pt, json_object_new_int64((int64_t)y));
    else
        json_object_array_add(pt, json_object_new_double(y));
    json_object_array_add(json_object_object_get(series, "points"), pt);
}
