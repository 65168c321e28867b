/* lab_report.h: the host report's lab sections (`vmctl validate --lab
 * K1,K2,...`). Each lab kernel runs the KVM and DAX checks of the report
 * inside a lab (lab.h) on its own device-dax and fsdax; the results stay
 * labelled as that kernel's, never as the host's. The matrix puts the
 * kernels side by side, check by check, and gives the known kernel
 * changes a measured column beside their version rule. Never prints. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "util.h"

/* The check groups a lab runs (validate --only). */
#define VMCTL_LAB_CHECK_GROUPS "kvm-device,backend,dirty-log,accessed"

/* Boot a lab with `kernel` and run the report's KVM and DAX checks in it:
 * {kernel, lab: {release, accel, ...}, report: {checks, verdict, host}}.
 * `progress` gets the image builder's lines (may be NULL). */
json_object *vmctl_lab_validate(const char *kernel, bool quick, void (*progress)(const char *line, void *data),
                                void *data, GError **error);

/* The matrix of lab sections (an array of what vmctl_lab_validate gave,
 * or {kernel, error}): {kernels: [...], rows: [{id, title, cells: [status
 * or null], differs}], changes: [{id, summary, since, fixed, cells:
 * [{applies, measured, status}]}]}. */
json_object *vmctl_lab_matrix(json_object *labs);

/* "pass", "fail" (a lab check failed) or "error" (a lab did not run). */
const char *vmctl_lab_verdict(json_object *labs);
