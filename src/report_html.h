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

/* One line plot as an SVG element (exposed for tests). */
char *vmctl_report_svg_plot(json_object *series);
