/* validate.h: the checks of the host report (`vmctl validate`). Each check
 * measures something in this run and returns PASS, FAIL, NOT APPLICABLE
 * (with the reason) or ERROR (could not run), with its evidence as JSON.
 * Library code: it never prints; the CLI shows progress through a callback. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "util.h"

typedef enum {
    VMCTL_CHECK_PASS,
    VMCTL_CHECK_FAIL,
    VMCTL_CHECK_NA,    /* cannot apply on this host; summary says why */
    VMCTL_CHECK_ERROR, /* could not run */
} VmctlCheckStatus;

typedef struct {
    VmctlCheckStatus status;
    char *summary;         /* one line */
    json_object *evidence; /* what was measured; never NULL after a run */
    uint64_t duration_ns;
} VmctlCheckResult;

typedef struct {
    bool quick;           /* --quick: the short variant of every check */
    char **backends;      /* --backend SPEC..., NULL-terminated, may be NULL */
    char **only;          /* --only GROUP...: run just these groups (NULL: all) */
    char **peers;         /* --peer URI...: libvirtds the migration checks also migrate to (may be NULL) */
    const char *peer_local; /* --peer-local URI: this host's libvirt for them (NULL: qemu:///system) */
} VmctlValidateOpts;

/* The names --only takes: kvm-device, backend, dirty-log (with the
 * huge-pages/ checks), accessed, dirty-rate, migration, ksm. An unknown
 * name is an error naming it. */
bool vmctl_validate_groups_check(char **only, GError **error);

typedef struct {
    const char *id;    /* stable key: "kvm-device", "dirty-log/anonymous/ring" */
    const char *title; /* one line for the report */
} VmctlCheckInfo;

/* A --peer or --peer-local value: a URI with a scheme ("qemu+tcp://HOST/system");
 * else an error naming it. */
bool vmctl_validate_peer_uri_check(const char *uri, GError **error);

/* Called before each check (result NULL) and after it. */
typedef void (*VmctlValidateProgress)(const VmctlCheckInfo *info, const VmctlCheckResult *result, void *data);

const char *vmctl_check_status_name(VmctlCheckStatus s);

/* Run every check; returns the report object {checks: [...], verdict}. */
json_object *vmctl_validate_run(const VmctlValidateOpts *opts, VmctlValidateProgress progress, void *data);

/* Checks of the report that this version does not implement yet: listed as
 * such, never as results. */
const char *const *vmctl_validate_not_built(void);

/* Exit status for a report: 0 all pass, 1 a check failed, 2 could not run. */
int vmctl_validate_exit_status(json_object *report);
