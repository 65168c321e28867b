/* report.h: what every rendering of the host report shares (the text of
 * `vmctl validate`, its HTML page, its lab matrix): the counts per status,
 * the verdict's one-line reason, the first check of a status, what an
 * evidence object holds, and what a report's checks measured of a known
 * kernel or QEMU change. Pure functions of the report JSON; never print. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "util.h"

/* A member of a report object by dotted path ("host.kernel.release") as a
 * string; NULL when absent or not a scalar. */
const char *vmctl_report_str(json_object *o, const char *path);

/* The four statuses of a check, in the report's order. */
enum vmctl_report_status {
    VMCTL_REPORT_PASS,
    VMCTL_REPORT_FAIL,
    VMCTL_REPORT_NA,
    VMCTL_REPORT_ERROR,
    VMCTL_REPORT_NSTATUS,
};

/* "PASS", "FAIL", "NOT APPLICABLE", "ERROR". */
const char *vmctl_report_status_name(enum vmctl_report_status st);

/* How many of the report's checks have each status. */
void vmctl_report_counts(json_object *report, unsigned counts[VMCTL_REPORT_NSTATUS]);

/* "5 PASS, 1 FAIL, 8 NOT APPLICABLE, 0 ERROR". */
char *vmctl_report_counts_line(json_object *report);

/* The index of the first check with status `st`, or -1. */
int vmctl_report_first(json_object *report, enum vmctl_report_status st);

/* Why the verdict is what it is, in one line: the first FAIL (naming a
 * known bug of the installed QEMU and its fix when the check carries one),
 * else the first ERROR, else what passed and what was not applicable. */
char *vmctl_report_reason(json_object *report);

/* What an evidence object holds, in one line: "6 fields: mode, ratio, ...;
 * 2 plotted series". */
char *vmctl_report_evidence_summary(json_object *evidence);

/* What the checks of a report (an array of checks) measured of the known
 * change `id` (host.c's tables): a sentence, `*seen` ("seen", "not seen",
 * "not measurable") and `*check` (the id of the check that measured it);
 * NULL when none of these checks measures it. */
char *vmctl_report_measure_change(const char *id, json_object *checks, const char **seen, const char **check);

/* The host's known kernel and QEMU changes as rows for a table: {component,
 * id, summary, applies, since, fixed_in, measured, seen, check} (measured
 * by the report's own checks; absent when they do not measure it). */
json_object *vmctl_report_known_changes(json_object *report);
