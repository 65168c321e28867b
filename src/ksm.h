/* ksm.h: KSM (kernel samepage merging) settings, counters and page-level
 * evidence. Saving and restoring every writable knob of /sys/kernel/mm/ksm,
 * the global and per-process counters, and which pages of a process range
 * are KSM pages, from /proc/PID/pagemap and /proc/kpageflags.
 * Library code: never prints. The sysfs directory can be moved for tests
 * with VMCTL_KSM_DIR. */
#pragma once

#include <json-c/json.h>
#include <sys/types.h>

#include "util.h"

typedef struct VmctlKsmSettings VmctlKsmSettings;

/* KSM settings are host-wide: vmctl processes that change them take turns
 * through an exclusive flock on $VMCTL_KSM_LOCK (default
 * /run/vmctl-ksm.lock), waited for. Counted per process: a second lock in
 * the same process only counts. vmctl_ksm_settings_save() takes it (best
 * effort) and vmctl_ksm_settings_free() drops it, so a save ... restore
 * span is never interleaved with another vmctl process's. */
bool vmctl_ksm_lock(GError **error);
void vmctl_ksm_unlock(void);

/* Read every writable knob (run, pages_to_scan, sleep_millisecs,
 * use_zero_pages, merge_across_nodes, max_page_sharing, advisor_*, ...).
 * Takes the KSM lock until the settings are freed. */
VmctlKsmSettings *vmctl_ksm_settings_save(GError **error);
/* Write back every knob whose current value differs; when `run` goes back
 * to 0 from a value this process set, pages merged meanwhile are unmerged
 * first (run=2) so the host is left as it was. */
bool vmctl_ksm_settings_restore(const VmctlKsmSettings *s, GError **error);
void vmctl_ksm_settings_free(VmctlKsmSettings *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctlKsmSettings, vmctl_ksm_settings_free)
/* {knob: value} as saved. */
json_object *vmctl_ksm_settings_to_json(const VmctlKsmSettings *s);
/* The knobs that differ between `s` and the live values now (array of
 * names); empty when the host is as saved. */
json_object *vmctl_ksm_settings_diff(const VmctlKsmSettings *s, GError **error);

bool vmctl_ksm_set(const char *knob, const char *value, GError **error);

/* Global counters: pages_shared, pages_sharing, pages_unshared,
 * pages_volatile, full_scans, general_profit, ksm_zero_pages ... */
json_object *vmctl_ksm_counters(GError **error);
uint64_t vmctl_ksm_counter(json_object *counters, const char *name);

/* /proc/PID/ksm_merging_pages and /proc/PID/ksm_stat as an object. */
json_object *vmctl_ksm_process_stats(pid_t pid, GError **error);

/* Page-level scan of [start, start+len) in process `pid`. */
typedef struct {
    uint64_t pages;        /* pages in the range */
    uint64_t present;      /* present in RAM */
    uint64_t ksm;          /* present and KPF_KSM */
    uint64_t first_ksm[8]; /* page offsets (from start) of the first KSM pages */
    unsigned n_first;
} VmctlKsmScan;

bool vmctl_ksm_scan_range(pid_t pid, uint64_t start, uint64_t len, VmctlKsmScan *out, GError **error);

/* Find the mapping of `pid` that holds guest RAM: the smallest readable
 * and writable mapping of at least `size` bytes of file `path` (when not
 * NULL) or else anonymous. */
bool vmctl_ksm_find_mapping(pid_t pid, const char *path, uint64_t size, uint64_t *start, uint64_t *len,
                            GError **error);
