/* wss.h: a guest's working-set estimate by the best mechanism the host
 * has, in this order:
 *   page-idle  idle page tracking (/sys/kernel/mm/page_idle/bitmap) over the
 *              page frames of the guest's RAM (from /proc/PID/pagemap):
 *              pages accessed in the interval, 4 KiB resolution;
 *   damon      DAMON's physical-address monitoring through the sysfs admin
 *              interface (a kdamond of our own over the guest RAM's frame
 *              ranges, stopped and removed afterwards): bytes of regions
 *              with accesses, region granularity;
 *   dirty-log  QEMU's dirty logging over the interval (calc-dirty-rate):
 *              the pages WRITTEN only (reads are invisible), 4 KiB pages.
 * DAX memory (device-dax, fsdax) is ZONE_DEVICE: not on the LRU, so neither
 * page_idle nor DAMON see its accesses; only the write set is offered.
 * DAMON is used only when nobody else has kdamonds set up: the sysfs
 * interface has one set of kdamonds, and resizing it would destroy
 * another user's.
 *
 * Library code: never prints. Sysfs root from vmctl_sysfs_root(). */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

typedef enum {
    VMCTL_WSS_PAGE_IDLE,
    VMCTL_WSS_DAMON,
    VMCTL_WSS_DIRTY_LOG,
} VmctlWssMechanism;

/* "page-idle", "damon", "dirty-log". */
const char *vmctl_wss_mechanism_name(VmctlWssMechanism m);

/* What the host and the guest's backing offer. */
typedef struct {
    bool page_idle;           /* the page_idle bitmap exists */
    bool damon;               /* the DAMON sysfs admin interface exists */
    unsigned damon_kdamonds;  /* kdamonds already set up (by someone else) */
    const char *backend_kind; /* pmem_backend.h kind name of the guest RAM */
} VmctlWssHost;

/* Read page_idle and DAMON presence from the sysfs root; backend_kind is
 * left to the caller. */
void vmctl_wss_host_probe(VmctlWssHost *host);

/* The decision: the mechanism to use, whether it sees accesses (false:
 * writes only) and one line that says why (and what was passed over). */
VmctlWssMechanism vmctl_wss_choose(const VmctlWssHost *host, bool *accessed, char **why);

/* Whether a backing kind name is DAX ("devdax", "fsdax"). */
bool vmctl_wss_kind_is_dax(const char *kind);

/* A run of physical page frames. */
typedef struct {
    uint64_t pfn;   /* first frame */
    uint64_t count; /* frames */
} VmctlPfnRange;

/* The host virtual range of the guest RAM in QEMU process PID: the mapping
 * of PATH when given, else the largest mapping of at least MEMORY bytes. */
bool vmctl_wss_find_ram(pid_t pid, uint64_t memory, const char *path, uint64_t *start, uint64_t *len,
                        GError **error);

/* The present frames of [start, start+len) in PID (from /proc/PID/pagemap;
 * needs CAP_SYS_ADMIN for the frame numbers), merged into runs. *present
 * gets the number of present pages. */
GArray *vmctl_wss_pfn_ranges(pid_t pid, uint64_t start, uint64_t len, uint64_t *present, GError **error);

/* Idle page tracking: mark RANGES idle, wait SECONDS, count the frames that
 * were accessed. */
bool vmctl_wss_page_idle(GArray *ranges, unsigned seconds, uint64_t *accessed, GError **error);

/* DAMON (paddr) over RANGES for SECONDS: accessed bytes (regions with
 * nr_accesses > 0, clipped to RANGES), number of regions. Everything created
 * is stopped and removed again, also on errors. */
bool vmctl_wss_damon(GArray *ranges, unsigned seconds, uint64_t *accessed_bytes, uint64_t *nr_regions,
                     GError **error);

/* Sum of the bytes of [start, end) that lie in RANGES (sorted). */
uint64_t vmctl_wss_clip(GArray *ranges, uint64_t start, uint64_t end);
