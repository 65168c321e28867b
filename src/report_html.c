/* report_html.c: render the validate report as a self-contained HTML page
 * with inline SVG line plots. Everything that comes from the report is
 * escaped; no script, no external resource. */
#include "config.h"

#include "report_html.h"

#include "report.h"

#include <math.h>
#include <string.h>

#define PLOT_W 600  /* px, the whole SVG */
#define PLOT_L 72   /* px left of the plot area: y tick labels and the y axis label */
#define PLOT_R 16   /* px right of it */
#define PLOT_T 12   /* px above it */
#define PLOT_PH 200 /* px, the plot area's height */
#define LEGEND_ROW 16 /* px per legend entry, below the x axis label */
#define MARK_POINTS 120 /* series of up to so many points get a mark per point */

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

/* Ticks at 1, 2 or 5 times a power of ten, about `want` of them: the axis
 * is widened to whole ticks, *n ticks from *lo in steps of *step. */
static void nice_ticks(double *lo, double *hi, int want, double *step, int *n)
{
    double range = *hi - *lo, rough, mag, norm;

    if (!(range > 0))
        range = fabs(*lo) > 0 ? fabs(*lo) : 1, *hi = *lo + range;
    rough = range / (want - 1);
    mag = pow(10, floor(log10(rough)));
    norm = rough / mag;
    *step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    *lo = floor(*lo / *step + 1e-9) * *step;
    *hi = ceil(*hi / *step - 1e-9) * *step;
    *n = (int)lround((*hi - *lo) / *step) + 1;
}

/* A tick label with as many decimals as the step needs. */
static void append_tick(GString *s, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);

    if (fabs(v) < step / 1e6)
        v = 0;
    g_string_append_printf(s, "%.*f", MIN(dec, 6), v);
}

/* A bare unit as an axis label says what it measures: "s" is time. */
static const char *axis_label(const char *l)
{
    return g_strcmp0(l, "s") == 0 ? "time (s)" : l ? l : "";
}

/* What a plot draws besides its series: the band a passing curve stays in
 * and a target line, each named in the legend. */
struct plot_marks {
    bool band;
    double band_lo, band_hi;
    char *band_label;
    bool target;
    double target_y;
    char *target_label;
};

static void plot_marks_clear(struct plot_marks *m)
{
    g_free(m->band_label);
    g_free(m->target_label);
}

static char *plot_svg(json_object *series, const struct plot_marks *marks)
{
    GString *s = g_string_new(NULL);
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY, xstep, ystep;
    size_t nseries = json_object_is_type(series, json_type_array) ? json_object_array_length(series) : 0;
    const char *xl = NULL, *yl = NULL;
    int nx, ny, pw = PLOT_W - PLOT_L - PLOT_R, legend = 0, h, ylab_x = 14;
    static const struct plot_marks none;

    if (!marks)
        marks = &none;
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
    if (marks->band)
        ymin = MIN(ymin, marks->band_lo), ymax = MAX(ymax, marks->band_hi);
    if (marks->target)
        ymin = MIN(ymin, marks->target_y), ymax = MAX(ymax, marks->target_y);
    /* from zero, unless everything sits high above it (a rate near its
     * target): then the axis starts near the data and its ticks say so */
    if (ymin > 0 && ymin > 0.5 * ymax)
        ymin -= 0.15 * (ymax - ymin + fabs(ymax) * 0.01);
    else
        ymin = MIN(ymin, 0);
    nice_ticks(&xmin, &xmax, 6, &xstep, &nx);
    nice_ticks(&ymin, &ymax, 5, &ystep, &ny);
    legend = (int)nseries + marks->band + marks->target;
    h = PLOT_T + PLOT_PH + 52 + legend * LEGEND_ROW;

#define PX(x) (PLOT_L + ((x) - xmin) / (xmax - xmin) * pw)
#define PY(y) (PLOT_T + (1 - ((y) - ymin) / (ymax - ymin)) * PLOT_PH)
    g_string_append_printf(s, "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", PLOT_W, h, PLOT_W, h);
    g_string_append_printf(s, "<rect class=\"area\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fcfcfc\" "
                              "stroke=\"#888\"/>\n", PLOT_L, PLOT_T, pw, PLOT_PH);
    if (marks->band)
        g_string_append_printf(s, "<rect class=\"band\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
                                  "fill=\"#2ca02c\" fill-opacity=\"0.15\"/>\n", PLOT_L, PY(marks->band_hi), pw,
                               PY(marks->band_lo) - PY(marks->band_hi));
    for (int i = 0; i < ny; i++) {
        double v = ymin + i * ystep;
        g_string_append_printf(s, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                               PLOT_L, PLOT_L + pw, PY(v), PY(v));
        g_string_append_printf(s, "<text class=\"tick-y\" x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">",
                               PLOT_L - 5, PY(v) + 4);
        append_tick(s, v, ystep);
        g_string_append(s, "</text>\n");
    }
    for (int i = 0; i < nx; i++) {
        double v = xmin + i * xstep;
        g_string_append_printf(s, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n",
                               PX(v), PX(v), PLOT_T, PLOT_T + PLOT_PH);
        g_string_append_printf(s, "<text class=\"tick-x\" x=\"%.1f\" y=\"%d\" font-size=\"11\" "
                                  "text-anchor=\"middle\">", PX(v), PLOT_T + PLOT_PH + 15);
        append_tick(s, v, xstep);
        g_string_append(s, "</text>\n");
    }
    g_string_append_printf(s, "<text class=\"axis-x\" x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">",
                           PLOT_L + pw / 2, PLOT_T + PLOT_PH + 33);
    esc(s, axis_label(xl));
    g_string_append(s, "</text>\n");
    g_string_append_printf(s, "<text class=\"axis-y\" x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" "
                              "transform=\"rotate(-90 %d %d)\">", ylab_x, PLOT_T + PLOT_PH / 2, ylab_x,
                           PLOT_T + PLOT_PH / 2);
    esc(s, axis_label(yl));
    g_string_append(s, "</text>\n");
    if (marks->target)
        g_string_append_printf(s, "<line class=\"target\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
                                  "stroke-dasharray=\"6 4\"/>\n", PLOT_L, PLOT_L + pw, PY(marks->target_y),
                               PY(marks->target_y));

    for (size_t i = 0; i < nseries; i++) {
        json_object *sr = json_object_array_get_idx(series, i);
        json_object *pts = json_object_object_get(sr, "points");
        const char *col = colours[i % G_N_ELEMENTS(colours)];
        size_t np = pts ? json_object_array_length(pts) : 0;

        g_string_append_printf(s, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                               col);
        for (size_t j = 0; j < np; j++) {
            double x, y;
            if (point_xy(json_object_array_get_idx(pts, j), &x, &y))
                g_string_append_printf(s, "%.1f,%.1f ", PX(x), PY(y));
        }
        g_string_append(s, "\"/>\n");
        for (size_t j = 0; np <= MARK_POINTS && j < np; j++) {
            double x, y;
            if (point_xy(json_object_array_get_idx(pts, j), &x, &y))
                g_string_append_printf(s, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                                       PX(x), PY(y), col);
        }
    }
#undef PX
#undef PY
    /* the legend below the axes, where it hides nothing */
    for (int i = 0, y = PLOT_T + PLOT_PH + 52; i < legend; i++, y += LEGEND_ROW) {
        const char *name;

        if ((size_t)i < nseries) {
            const char *col = colours[i % G_N_ELEMENTS(colours)];
            name = json_object_get_string(json_object_object_get(json_object_array_get_idx(series, i), "name"));
            g_string_append_printf(s, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                                      "<circle cx=\"%d\" cy=\"%d\" r=\"2.5\" fill=\"%s\"/>\n", PLOT_L, PLOT_L + 24,
                                   y - 4, y - 4, col, PLOT_L + 12, y - 4, col);
        } else if (marks->band && (size_t)i == nseries) {
            name = marks->band_label;
            g_string_append_printf(s, "<rect x=\"%d\" y=\"%d\" width=\"24\" height=\"10\" fill=\"#2ca02c\" "
                                      "fill-opacity=\"0.15\" stroke=\"#2ca02c\" stroke-opacity=\"0.4\"/>\n",
                                   PLOT_L, y - 9);
        } else {
            name = marks->target_label;
            g_string_append_printf(s, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\" "
                                      "stroke-dasharray=\"6 4\"/>\n", PLOT_L, PLOT_L + 24, y - 4, y - 4);
        }
        g_string_append_printf(s, "<text class=\"legend\" x=\"%d\" y=\"%d\" font-size=\"12\">", PLOT_L + 32, y);
        esc(s, name);
        g_string_append(s, "</text>\n");
    }
    g_string_append(s, "</svg>\n");
    return g_string_free(s, FALSE);
}

char *vmctl_report_svg_plot(json_object *series)
{
    return plot_svg(series, NULL);
}

static double ev_double(json_object *ev, const char *key, bool *have)
{
    json_object *v = NULL;

    *have = json_object_object_get_ex(ev, key, &v) && v &&
            (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int));
    return *have ? json_object_get_double(v) : 0;
}

/* Each kind of plotted check: what its plot shows and what passing looks
 * like (its caption), and the band or target it is judged against. */
static const char *plot_caption(json_object *check, struct plot_marks *m)
{
    const char *id = json_object_get_string(json_object_object_get(check, "id"));
    json_object *ev = json_object_object_get(check, "evidence");
    bool have_t, have_tol;

    if (g_str_has_prefix(id, "dirty-rate/")) {
        double t = ev_double(ev, "true_pages_per_s", &have_t), tol = ev_double(ev, "tolerance", &have_tol);

        if (have_t && have_tol) {
            m->band = true;
            m->band_lo = t * (1 - tol);
            m->band_hi = t * (1 + tol);
            m->band_label = g_strdup_printf("the guest's own rate %.0f pages/s, \u00b1%.0f%% (passing)", t, tol * 100);
        }
        return "QEMU's dirty rate for its measuring window against the rate the guest counts itself; passing: "
               "the measured line inside the shaded band.";
    }
    if (g_str_has_prefix(id, "migration/"))
        return "Guest RAM sent and still to send while the guest runs and writes; passing: the remainder falls "
               "until QEMU switches over, then every page of the destination compares equal.";
    if (g_str_has_prefix(id, "ksm/")) {
        json_object *guests = json_object_object_get(ev, "guests");
        double identical = 0;
        bool have;

        for (size_t i = 0; guests && i < json_object_array_length(guests); i++)
            identical += ev_double(json_object_array_get_idx(guests, i), "identical_pages", &have);
        if (identical > 0) {
            m->target = true;
            m->target_y = 0.9 * identical;
            m->target_label = g_strdup_printf("90%% of the %.0f identical pages (passing at or above)", identical);
        }
        return "KSM's pages_sharing counter and the identical guest pages the page scan finds merged; passing: "
               "the merged pages reach the dashed line.";
    }
    return NULL;
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

/* The plots, each under its check's title with a one-line caption; the
 * checks table links to them and they link back. */
static void append_plots(GString *s, json_object *checks)
{
    bool any = false;

    for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        struct plot_marks marks = { 0 };
        const char *caption;
        g_autofree char *svg = NULL;

        if (!has_series(c))
            continue;
        caption = plot_caption(c, &marks);
        svg = plot_svg(json_object_object_get(json_object_object_get(c, "evidence"), "series"), &marks);
        plot_marks_clear(&marks);
        if (!*svg)
            continue;
        if (!any)
            g_string_append(s, "<h2 id=\"plots-head\">Plots</h2>\n<div id=\"plots\">\n");
        any = true;
        g_string_append_printf(s, "<figure id=\"plot-%zu\" class=\"%s\"><figcaption><a href=\"#check-%zu\">", i,
                               status_class(json_object_get_string(json_object_object_get(c, "status"))), i);
        esc(s, json_object_get_string(json_object_object_get(c, "title")));
        g_string_append(s, "</a> <small>");
        esc(s, json_object_get_string(json_object_object_get(c, "id")));
        g_string_append(s, ": ");
        esc(s, json_object_get_string(json_object_object_get(c, "status")));
        g_string_append(s, "</small></figcaption>\n");
        g_string_append(s, svg);
        if (caption) {
            g_string_append(s, "<p class=\"caption\">");
            esc(s, caption);
            g_string_append(s, "</p>\n");
        }
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

static const char css[] =
    "body{font-family:sans-serif;margin:1.5em;max-width:72em;color:#111}\n"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;"
    "vertical-align:top;overflow-wrap:break-word}\n"
    "small{overflow-wrap:anywhere}#checks td:nth-child(2),#known-changes td:nth-child(5){white-space:nowrap}\n"
    "#checks,#known-changes,#facts{width:100%}\n"
    ".pass{background:#d9f2d9}.fail{background:#f8d0d0}.na{background:#eee}.error{background:#fde6c4}\n"
    "tr.differs td:first-child{border-left:4px solid #36c}\n"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;margin:0}\n"
    "summary{cursor:pointer;font-size:13px}\n"
    "#head td,#head th{border:none;padding:1px 12px 1px 0}\n"
    "#verdict{font-size:1.3em;margin:0.6em 0 0.2em}#verdict b{padding:0 6px}\n"
    "#counts td{text-align:center;min-width:6em}\n"
    "figure{display:inline-block;vertical-align:top;margin:0 1em 1em 0;padding:6px;max-width:100%;"
    "box-sizing:border-box}\n"
    "figcaption{font-size:13px}.caption{font-size:12px;margin:4px 0 0;max-width:600px}\n"
    "svg.plot{max-width:100%;height:auto;background:#fff}\n"
    "@media (max-width:900px){body{margin:0.5em}td,th{padding:3px 4px;font-size:13px}figure{margin:0 0 1em}}\n"
    "@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}"
    "figure,tr{break-inside:avoid}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n";

/* The row of the check with `id`, or -1. */
static int check_index(json_object *checks, const char *id)
{
    for (size_t i = 0; id && checks && i < json_object_array_length(checks); i++)
        if (g_strcmp0(jget(json_object_array_get_idx(checks, i), "id"), id) == 0)
            return (int)i;
    return -1;
}

static const char *path_str(json_object *o, const char *path, const char *dflt)
{
    const char *v = vmctl_report_str(o, path);

    return v ? v : dflt;
}

static void row2(GString *s, const char *k, const char *v)
{
    g_string_append(s, "<tr><th>");
    esc(s, k);
    g_string_append(s, "</th><td>");
    esc(s, v);
    g_string_append(s, "</td></tr>\n");
}

/* The head: who, when, with what; the verdict, its counts, its reason and
 * links to the first FAIL and ERROR. */
static void append_head(GString *s, json_object *report)
{
    json_object *host = json_object_object_get(report, "host");
    json_object *checks = json_object_object_get(report, "checks");
    const char *verdict = jget(report, "verdict");
    g_autofree char *reason = vmctl_report_reason(report);
    unsigned n[VMCTL_REPORT_NSTATUS];
    static const char *const cls[VMCTL_REPORT_NSTATUS] = { "pass", "fail", "na", "error" };
    bool first_link = true;

    g_string_append(s, "<h1>vmctl host report: ");
    esc(s, path_str(host, "hostname", "unnamed host"));
    g_string_append(s, "</h1>\n<table id=\"head\">\n");
    row2(s, "host", path_str(host, "hostname", "unknown"));
    row2(s, "date", *jget(report, "started") ? jget(report, "started") : "unknown");
    row2(s, "vmctl", *jget(report, "vmctl_version") ? jget(report, "vmctl_version") : "unknown");
    row2(s, "kernel", path_str(host, "kernel.release", "unknown"));
    row2(s, "QEMU", path_str(host, "qemu.version", "unknown"));
    row2(s, "libvirt", path_str(host, "libvirt.library_version", "unknown"));
    g_string_append(s, "</table>\n<p id=\"verdict\">Verdict: <b class=\"");
    esc(s, verdict);
    g_string_append(s, "\">");
    esc(s, verdict);
    g_string_append(s, "</b>");
    if (json_object_get_int64(json_object_object_get(report, "checks_not_applicable")))
        g_string_append_printf(s, ", %" PRId64 " of %" PRId64 " checks not applicable",
                               json_object_get_int64(json_object_object_get(report, "checks_not_applicable")),
                               json_object_get_int64(json_object_object_get(report, "checks_total")));
    if (json_object_object_get(report, "injected_fault")) {
        g_string_append(s, " <span id=\"injected-fault\">under an injected test fault: ");
        esc(s, jget(report, "injected_fault"));
        g_string_append(s, "</span>");
    }
    g_string_append(s, "</p>\n<p id=\"reason\">");
    esc(s, reason);
    g_string_append(s, "</p>\n<table id=\"counts\"><tr>");
    vmctl_report_counts(report, n);
    for (int i = 0; i < VMCTL_REPORT_NSTATUS; i++)
        g_string_append_printf(s, "<th>%s</th>", vmctl_report_status_name(i));
    g_string_append(s, "</tr>\n<tr>");
    for (int i = 0; i < VMCTL_REPORT_NSTATUS; i++)
        g_string_append_printf(s, "<td id=\"count-%s\" class=\"%s\">%u</td>", cls[i], n[i] ? cls[i] : "", n[i]);
    g_string_append(s, "</tr></table>\n");
    for (int st = VMCTL_REPORT_FAIL; st <= VMCTL_REPORT_ERROR; st += VMCTL_REPORT_ERROR - VMCTL_REPORT_FAIL) {
        int i = vmctl_report_first(report, st);

        if (i < 0)
            continue;
        g_string_append(s, first_link ? "<p id=\"jump\">" : " \u00b7 ");
        first_link = false;
        g_string_append_printf(s, "<a id=\"first-%s\" href=\"#check-%d\">first %s: ", cls[st], i,
                               vmctl_report_status_name(st));
        esc(s, jget(json_object_array_get_idx(checks, i), "id"));
        g_string_append(s, "</a>");
    }
    if (!first_link)
        g_string_append(s, "</p>\n");
}

/* Host facts as the text report lists them, then the known kernel and
 * QEMU changes: by version, as measured (linking to the check or to the
 * labs), and where fixed. */
static void append_facts(GString *s, json_object *report)
{
    json_object *host = json_object_object_get(report, "host");
    json_object *checks = json_object_object_get(report, "checks");
    json_object *caps = json_object_object_get(json_object_object_get(host, "kvm"), "caps");
    g_autoptr(json_object) changes = vmctl_report_known_changes(report);
    bool labs = json_object_object_get(report, "lab_matrix") != NULL;
    g_autofree char *kvm = g_strdup_printf("%s (module %s)", json_object_get_boolean(json_object_object_get(
                                               json_object_object_get(host, "kvm"), "available")) ? "available"
                                                                                                   : "unavailable",
                                           path_str(host, "kvm.module", "unknown"));
    g_autofree char *ksm = g_strdup_printf("%s (run=%s)", json_object_get_boolean(json_object_object_get(
                                               json_object_object_get(json_object_object_get(host, "memory"), "ksm"),
                                               "available")) ? "available" : "unavailable",
                                           path_str(host, "memory.ksm.run", "unknown"));
    g_autofree char *qemu = g_strdup_printf("%s (%s)", path_str(host, "qemu.version", "unknown"),
                                            path_str(host, "qemu.binary", "unknown"));
    GString *capstr = g_string_new(NULL);

    if (json_object_is_type(caps, json_type_object)) {
        json_object_object_foreach(caps, k, v)
            g_string_append_printf(capstr, "%s%s %s", capstr->len ? ", " : "", k, json_object_get_string(v));
    }
    g_string_append(s, "<h2 id=\"host-facts\">Host facts</h2>\n<table id=\"facts\">\n");
    row2(s, "kernel", path_str(host, "kernel.release", "unknown"));
    row2(s, "kvm", kvm);
    if (capstr->len)
        row2(s, "kvm capabilities", capstr->str);
    g_string_free(capstr, TRUE);
    row2(s, "thp", path_str(host, "memory.thp", "unknown"));
    row2(s, "ksm", ksm);
    row2(s, "page_idle", path_str(host, "memory.page_idle", "unknown"));
    row2(s, "damon (sysfs)", path_str(host, "memory.damon_sysfs", "unknown"));
    row2(s, "accessed bits", path_str(host, "memory.dax_accessed_bits", "unknown"));
    row2(s, "qemu", qemu);
    row2(s, "libvirt", path_str(host, "libvirt.library_version", "unknown"));
    g_string_append(s, "</table>\n<h3>Known kernel and QEMU changes</h3>\n<table id=\"known-changes\"><tr>"
                       "<th>change</th><th>component</th><th>applies (by version)</th><th>measured</th>"
                       "<th>fixed in</th></tr>\n");
    for (size_t i = 0; i < json_object_array_length(changes); i++) {
        json_object *c = json_object_array_get_idx(changes, i);
        bool applies = json_object_get_boolean(json_object_object_get(c, "applies"));
        int ci = check_index(checks, jget(c, "check"));

        g_string_append(s, "<tr><td>");
        esc(s, jget(c, "summary"));
        g_string_append(s, "<br><small>");
        esc(s, jget(c, "id"));
        g_string_append(s, "</small></td><td>");
        esc(s, jget(c, "component"));
        g_string_append(s, applies ? "</td><td class=\"applies\">applies" : "</td><td>does not apply");
        if (*jget(c, "since")) {
            g_string_append(s, " (since ");
            esc(s, jget(c, "since"));
            g_string_append(s, ")");
        }
        g_string_append(s, "</td><td>");
        if (*jget(c, "measured")) {
            esc(s, jget(c, "seen"));
            g_string_append(s, ": ");
            esc(s, jget(c, "measured"));
            if (ci >= 0) {
                g_string_append_printf(s, " (<a href=\"#check-%d\">", ci);
                esc(s, jget(c, "check"));
                g_string_append(s, "</a>)");
            }
        } else if (labs && strcmp(jget(c, "component"), "kernel") == 0) {
            g_string_append(s, "not by this host's checks; <a href=\"#lab-changes\">in the labs</a>");
        } else if (strcmp(jget(c, "component"), "kernel") == 0) {
            g_string_append(s, "not measured here: needs a DAX backing (<code>--backend /dev/daxX.Y</code>) or a "
                               "lab (<code>--lab bookworm</code>)");
        } else {
            g_string_append(s, "not measured by this report");
        }
        g_string_append(s, "</td><td>");
        esc(s, *jget(c, "fixed_in") ? jget(c, "fixed_in") : "not fixed");
        g_string_append(s, "</td></tr>\n");
    }
    g_string_append(s, "</table>\n");
}

char *vmctl_report_html(json_object *report)
{
    GString *s = g_string_new(NULL);
    json_object *checks = json_object_object_get(report, "checks");
    json_object *nb = json_object_object_get(report, "not_built");

    g_string_append(s, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>vmctl host report</title>\n<style>\n");
    g_string_append(s, css);
    g_string_append(s, "</style></head><body>\n");
    append_head(s, report);
    append_facts(s, report);
    g_string_append(s, "<h2 id=\"checks-head\">Checks</h2>\n<table id=\"checks\"><tr><th>check</th><th>status</th>"
                       "<th>summary</th><th>evidence</th></tr>\n");
    for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        json_object *ev = json_object_object_get(c, "evidence");
        const char *st = json_object_get_string(json_object_object_get(c, "status"));
        g_autofree char *what = vmctl_report_evidence_summary(ev);

        g_string_append_printf(s, "<tr class=\"%s\" id=\"check-%zu\"><td>", status_class(st), i);
        esc(s, json_object_get_string(json_object_object_get(c, "title")));
        g_string_append(s, "<br><small>");
        esc(s, json_object_get_string(json_object_object_get(c, "id")));
        g_string_append(s, "</small></td><td>");
        esc(s, st);
        g_string_append(s, "</td><td>");
        esc(s, json_object_get_string(json_object_object_get(c, "summary")));
        if (has_series(c))
            g_string_append_printf(s, " <a href=\"#plot-%zu\">(plot)</a>", i);
        /* collapsed: the evidence of a dirty-log check alone is a screen
         * long; its summary line says what it holds */
        g_string_append(s, "</td><td><details><summary>");
        esc(s, what);
        g_string_append(s, "</summary><pre>");
        esc(s, ev ? json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) : "");
        g_string_append(s, "</pre></details></td></tr>\n");
    }
    g_string_append(s, "</table>\n");
    append_plots(s, checks);
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
    g_string_append(s, "</body></html>\n");
    return g_string_free(s, FALSE);
}

/* A JSON value of a change as a cell's text. */
static void esc_value(GString *s, json_object *v)
{
    if (!v)
        esc(s, "(none)");
    else if (json_object_is_type(v, json_type_double))
        g_string_append_printf(s, "%.4g", json_object_get_double(v));
    else
        esc(s, json_object_get_string(v));
}

char *vmctl_report_compare_html(json_object *cmp, json_object *old_r, json_object *new_r, const char *old_name,
                                const char *new_name)
{
    static const char *const rows[][2] = { { "report", NULL },          { "host", "host.hostname" },
                                           { "date", "started" },        { "vmctl", "vmctl_version" },
                                           { "kernel", "host.kernel.release" }, { "QEMU", "host.qemu.version" },
                                           { "libvirt", "host.libvirt.library_version" }, { "verdict", "verdict" } };
    json_object *changes = json_object_object_get(cmp, "changes");
    int64_t reg = json_object_get_int64(json_object_object_get(cmp, "regressions"));
    int64_t imp = json_object_get_int64(json_object_object_get(cmp, "improvements"));
    size_t n = changes ? json_object_array_length(changes) : 0;
    GString *s = g_string_new(NULL);

    g_string_append(s, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>vmctl report comparison</title>\n<style>\n");
    g_string_append(s, css);
    g_string_append(s, ".regression{background:#f8d0d0}.improvement{background:#d9f2d9}.moved,.changed{background:#eee}\n"
                       "</style></head><body>\n<h1>vmctl report comparison</h1>\n<table id=\"reports\"><tr><th></th>"
                       "<th>old</th><th>new</th></tr>\n");
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_string_append(s, "<tr><th>");
        esc(s, rows[i][0]);
        g_string_append(s, "</th><td>");
        esc(s, rows[i][1] ? path_str(old_r, rows[i][1], "unknown") : old_name);
        g_string_append(s, "</td><td>");
        esc(s, rows[i][1] ? path_str(new_r, rows[i][1], "unknown") : new_name);
        g_string_append(s, "</td></tr>\n");
    }
    g_string_append_printf(s, "</table>\n<p id=\"verdict\" class=\"%s\">", reg ? "fail" : "pass");
    if (n)
        g_string_append_printf(s, "%zu change%s, %" PRId64 " regression%s, %" PRId64 " improvement%s", n,
                               n == 1 ? "" : "s", reg, reg == 1 ? "" : "s", imp, imp == 1 ? "" : "s");
    else
        g_string_append(s, "no changes");
    g_string_append(s, "</p>\n<table id=\"changes\"><tr><th>judged</th><th>kind</th><th>what</th><th>old</th>"
                       "<th>new</th><th>band</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(changes, i);
        const char *kind = jget(c, "kind"), *dir = jget(c, "direction");
        const char *judged = json_object_get_boolean(json_object_object_get(c, "regression")) ? "regression"
                             : strcmp(dir, "better") == 0                                   ? "improvement"
                             : strcmp(kind, "figure") == 0                                  ? "moved"
                                                                                            : "changed";

        if (strcmp(kind, "status") == 0 && strcmp(judged, "changed") == 0 &&
            (strcmp(jget(c, "old"), "FAIL") == 0 || strcmp(jget(c, "old"), "ERROR") == 0) &&
            strcmp(jget(c, "new"), "FAIL") != 0 && strcmp(jget(c, "new"), "ERROR") != 0)
            judged = "improvement";
        g_string_append_printf(s, "<tr class=\"%s\"><td>%s</td><td>", judged, judged);
        esc(s, kind);
        g_string_append(s, "</td><td>");
        esc(s, *jget(c, "figure") ? jget(c, "figure") : jget(c, "id"));
        if (*jget(c, "check")) {
            g_string_append(s, " <small>");
            esc(s, jget(c, "check"));
            g_string_append(s, "</small>");
        }
        g_string_append(s, "</td><td>");
        esc_value(s, json_object_object_get(c, "old"));
        g_string_append(s, "</td><td>");
        esc_value(s, json_object_object_get(c, "new"));
        g_string_append(s, "</td><td>");
        if (json_object_object_get(c, "band")) {
            g_string_append(s, "\u00b1");
            esc_value(s, json_object_object_get(c, "band"));
            if (*jget(c, "unit")) {
                g_string_append(s, " ");
                esc(s, jget(c, "unit"));
            }
        }
        g_string_append(s, "</td></tr>\n");
    }
    g_string_append(s, "</table>\n</body></html>\n");
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
