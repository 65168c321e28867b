/* report_html.h: the host report as one self-contained HTML page (no
 * network, inline CSS and SVG) that an operator can attach to a ticket.
 * Plots come from "series" members in a check's evidence:
 *   "series": [{"name": "...", "x_label": "s", "y_label": "pages/s",
 *               "points": [[x, y], ...]}, ...]
 * Library code: builds a string, never prints. */
#pragma once

#include <json-c/json.h>

#include "util.h"

/* Render the report object of vmctl_validate_run() (with "host" added). */
char *vmctl_report_html(json_object *report);

/* The comparison of two reports (vmctl_report_compare() of OLD and NEW,
 * read from OLD_NAME and NEW_NAME) as one self-contained page: both
 * reports' host, date and versions side by side, the count of changes and
 * regressions, and a row per change marked regression, improvement or
 * moved. */
char *vmctl_report_compare_html(json_object *cmp, json_object *old_r, json_object *new_r, const char *old_name,
                                const char *new_name);

/* One line plot as an SVG element (exposed for tests). */
char *vmctl_report_svg_plot(json_object *series);

/* A new series of the shape above, and a point added to it: x in seconds
 * to a tenth, y as an integer when it is one. */
json_object *vmctl_report_series_new(const char *name, const char *y_label);
void vmctl_report_series_add(json_object *series, double x, double y);
