/* accessed_probe.h: can this host tell which guest pages were ACCESSED
 * (read, not only written), per kind of guest memory backing?
 *
 * The in-process KVM VMM (kvm_vmm.h) maps a backing as guest RAM, writes
 * every page once (so each is present and mapped by KVM), then its vCPU
 * READS a known set of pages while the best accessed-bit mechanism of the
 * host watches (the choice of wss.h):
 *   page-idle  set the idle bit of every frame of the slot, run the reads,
 *              count the frames that are no longer idle (4 KiB frames,
 *              folio granularity for huge pages);
 *   damon      only when nobody else has kdamonds set up: the reads run in
 *              a loop while DAMON (paddr) watches the touched frames, then
 *              the untouched ones (region granularity).
 * For KVM guests both work only through KVM's MMU notifiers (test/clear
 * young). DAX memory (device-dax, fsdax) is ZONE_DEVICE: not on the LRU,
 * invisible to both; that is a rule, not a measurement.
 *
 * Besides the verdict, every run that gets a backing mapped also measures
 * the host page-table accessed bits of the VMM's own mapping
 * (/proc/self/clear_refs, then "Referenced" in /proc/self/smaps): guest
 * reads that bypass the host page tables do not show there, host reads do
 * (the control). That is evidence, never a verdict, and never page_idle.
 *
 * Library code: never prints. Sysfs root from vmctl_sysfs_root(). */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    VMCTL_ACCESSED_PASS,  /* measured; every touched page seen, nothing untouched seen */
    VMCTL_ACCESSED_FAIL,  /* measured; touched pages missed or untouched ones seen */
    VMCTL_ACCESSED_NA,    /* no mechanism can run here; summary says why */
    VMCTL_ACCESSED_ERROR, /* could not run */
} VmctlAccessedVerdict;

typedef struct {
    char *backing;              /* spec as probed */
    VmctlAccessedVerdict verdict;
    char *summary;              /* one line */
    json_object *evidence;      /* what was probed and measured */
} VmctlAccessedResult;

void vmctl_accessed_result_free(gpointer p);

/* The judgement over one measurement: `touched` and `seen` have one byte
 * per 4 KiB page of the slot; `granule` pages make one backing page (a
 * page of a granule that holds a touched page may be reported accessed
 * with it). Fills the counts and the first page of each kind (or
 * UINT64_MAX). */
typedef struct {
    uint64_t touched, seen_touched, missed, first_missed;
    uint64_t false_seen, first_false; /* untouched granules reported accessed (in pages) */
} VmctlAccessedTally;

VmctlAccessedVerdict vmctl_accessed_judge(uint64_t npages, uint64_t granule, const guint8 *touched,
                                          const guint8 *seen, VmctlAccessedTally *t);

/* The touched set of a slot of `npages` 4 KiB pages: 16 pages, 32 apart,
 * in every even-numbered 2 MiB chunk (odd chunks stay untouched, so a
 * false access shows at huge-page granularity too). Returns the count. */
uint64_t vmctl_accessed_plan(uint64_t npages, guint8 *touched);

/* Probe one backing spec (probe_backing.h: anonymous, thp, memfd, shm,
 * file[:DIR], hugetlbfs[:DIR], devdax:PATH, fsdax:PATH) with a slot of
 * `size` bytes. `given`: the spec came from the user, so a backing that
 * cannot be set up is an error rather than not applicable. */
VmctlAccessedResult *vmctl_accessed_probe(const char *spec, uint64_t size, bool given);
