/* ksm_check.h: `vmctl ksm-check`, whether KSM merges what it should and
 * never guest RAM it must not, with real QEMU guests under vmctld.
 *
 *   positive   two tiny guests on anonymous memory with mem-merge on and a
 *              known number of identical ("same") pages; KSM must merge at
 *              least half of them, counted page by page in guest RAM
 *              (pagemap + kpageflags), within the time budget;
 *   negative   the same guests on share=on file backings (tmpfs, the
 *              filesystem of $TMPDIR, or the backings given): no page of
 *              guest RAM may be a KSM page;
 *   integrity  every guest keeps rewriting its pages while KSM merges and
 *              copy-on-write breaks the merges; the guest's VERIFY must be ok;
 *   restore    every KSM knob equals its value from before the run.
 *
 * The KSM settings are saved first and restored on every way out, a
 * cancellation included (the CLI cancels on SIGINT/SIGTERM); every guest
 * launched is killed. Library code: never prints. */
#pragma once

#include <gio/gio.h>
#include <json-c/json.h>

#include "util.h"

#define VMCTL_KSM_CHECK_SECONDS 60   /* s, default budget of the positive control */
#define VMCTL_KSM_CHECK_SAME 500     /* per mille of identical pages per guest */
#define VMCTL_KSM_CHECK_RATE 1000    /* page rewrites/s of each guest */
#define VMCTL_KSM_CHECK_MEMORY (64 * MiB)

typedef struct {
    const char *socket_path;  /* vmctld socket; vmctld is started when none runs */
    unsigned seconds;         /* budget of the positive control (s) */
    uint64_t memory;          /* bytes of RAM per guest */
    unsigned same;            /* per mille of identical pages */
    uint64_t rate;            /* working-set rewrites/s per guest */
    /* backings of the negative guests: "anonymous" or a path (a directory
     * gets a new file per guest; a file or DAX device is used as is).
     * NULL: one guest on /dev/shm and one on the filesystem of $TMPDIR. */
    char **negative_backends;
    /* backing of the positive guests (default "anonymous"); a share=on file
     * here must make the positive control fail */
    const char *positive_backend;
    /* where the run is, a line at a time (guests launched, each merge
     * sample, the checks after it); may be NULL */
    void (*progress)(const char *line, void *data);
    void *progress_data;
} VmctlKsmCheckOpts;

void vmctl_ksm_check_opts_init(VmctlKsmCheckOpts *opts);

/* Run the check. Returns the report
 *   {"checks": [{"id", "title", "status", "summary", "evidence"}, ...],
 *    "verdict": "pass"|"fail", "settings_before": {...}, "settings_used": {...}}
 * with ids positive, negative, integrity, restore; the positive evidence
 * holds "series" (pages_sharing over time) for plots. NULL with an error
 * when the check could not run (no root, no KSM, a guest that does not
 * start) or was cancelled; settings are restored and guests killed then
 * too, and the error says so. */
json_object *vmctl_ksm_check_run(const VmctlKsmCheckOpts *opts, GCancellable *cancel, GError **error);

/* 0 all pass, 1 a check failed, 2 could not run (report NULL). */
int vmctl_ksm_check_exit_status(json_object *report);
