/* report_formats.h: the validate report (the JSON object of `vmctl validate
 * --json`) in the formats CI and monitoring already read, and two reports
 * compared. Every function here is a pure function of report objects: it
 * builds a string or an object and never prints, reads or writes files.
 *
 *   vmctl_report_junit()       JUnit XML (report_junit.c)
 *   vmctl_report_openmetrics() Prometheus text exposition 0.0.4, as the
 *                              node_exporter textfile collector reads it
 *                              (report_metrics.c)
 *   vmctl_report_figures()     the measured figures those carry (report_metrics.c)
 *   vmctl_report_compare()     what changed between two reports (report_compare.c) */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "util.h"

/* The report is a validate report: an object with a "checks" array whose
 * members are objects with a string "id" and a "status" of PASS, FAIL,
 * NOT APPLICABLE or ERROR. Otherwise false, with a VMCTL_ERROR_INVALID
 * message that starts "not a vmctl validate report" and names the rule. */
bool vmctl_report_is_valid(json_object *report, GError **error);

/* The check group a check id belongs to (the `--only` name): "dirty-log" for
 * "dirty-log/thp/ring" and also for "huge-pages/thp" and
 * "hugepages-restored/hugetlbfs"; the id up to its first '/' otherwise. */
char *vmctl_report_check_group(const char *id);

/* JUnit XML: one <testsuite> of the report's checks, one <testcase> per
 * check. FAIL is a <failure>, ERROR an <error> (both with the evidence as
 * JSON text), NOT APPLICABLE <skipped> with its reason. */
char *vmctl_report_junit(json_object *report);

/* Prometheus text exposition format 0.0.4 (the node_exporter textfile
 * collector's input). Families and series are listed in docs/validate.md. */
char *vmctl_report_openmetrics(json_object *report);

/* The measured figures of a report's checks, in a fixed order:
 * [{"name": "dirty_rate_ratio", "check": "dirty-rate/kvm",
 *   "labels": {"pages": "all"} (only for figures with a sub-label),
 *   "unit": "ratio", "value": 0.974}, ...].
 * Only figures the evidence has (a number, finite) are listed. The metric of
 * a figure is vmctl_NAME{check="CHECK", LABELS}. */
json_object *vmctl_report_figures(json_object *report);

/* Every figure name vmctl_report_figures() can give, NULL-terminated. */
const char *const *vmctl_report_figure_names(void);

/* The noise band of a figure and which way it gets worse. */
typedef enum {
    VMCTL_FIGURE_WORSE_UP,     /* a higher value is worse (a cost, a time) */
    VMCTL_FIGURE_WORSE_DOWN,   /* a lower value is worse (a merge ratio) */
    VMCTL_FIGURE_WORSE_AWAY_1, /* farther from 1 is worse (measured / true) */
    VMCTL_FIGURE_NEITHER,      /* follows the load: it moves, never gets worse */
} VmctlFigureWorse;

typedef struct {
    const char *name;  /* the figure's name, as vmctl_report_figures() gives it */
    const char *label; /* "name=value": only for figures with that label; NULL: any */
    double abs;        /* a move counts only beyond max(abs, rel * |old|) */
    double rel;
    VmctlFigureWorse worse;
    const char *why; /* why the band is that wide */
} VmctlFigureBand;

/* The band of a figure (its name and "labels" as vmctl_report_figures()
 * gives them; labels may be NULL), or NULL when it has none. */
const VmctlFigureBand *vmctl_report_figure_band(const char *name, json_object *labels);

/* What changed from report OLD to report NEW (both valid reports):
 *   {"changes": [{"kind": "status" | "added" | "removed" | "figure" | "host",
 *                 "id": ..., "old": ..., "new": ..., "regression": bool, ...}, ...],
 *    "regressions": N, "improvements": N}
 * Kinds: "status" a check's status changed; "added" / "removed" a check only
 * NEW / only OLD has; "figure" a measured figure both have moved beyond its
 * band (with "check", "figure", "band", "direction": "worse" | "better" |
 * "moved"); "host" a host fact differs. A regression is a check that got worse
 * (PASS or NOT APPLICABLE to FAIL or ERROR; an added check that is FAIL or
 * ERROR) or a figure that moved the worse way beyond its band (for a ratio
 * judged by its distance from 1: that distance grew by more than the band). */
json_object *vmctl_report_compare(json_object *old_report, json_object *new_report);
