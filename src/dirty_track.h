/* dirty_track.h: KVM dirty-page tracking as seen by `vmctl probe
 * dirty-log`: page sets, the three tracking modes as a table of hooks
 * (bitmap, clear, ring), the checkers (exactness against the pages the
 * guest wrote, completeness against the backing's own bytes) and the probe
 * that drives a guest through rounds of writes. Library code: results come
 * back as structs and *_to_json(), never printed. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm_vmm.h"
#include "probe_backing.h"

/* A set of pages of one slot, one bit per 4K page, in the layout of a KVM
 * dirty bitmap (64-bit little-endian words) so KVM can fill it directly. */
struct vmctl_pageset {
    uint64_t npages;
    uint64_t *bits;
};

void vmctl_pageset_init(struct vmctl_pageset *ps, uint64_t npages);
void vmctl_pageset_clear(struct vmctl_pageset *ps); /* frees */
void vmctl_pageset_zero(struct vmctl_pageset *ps);
uint64_t vmctl_pageset_words(const struct vmctl_pageset *ps);
uint64_t vmctl_pageset_count(const struct vmctl_pageset *ps);

static inline void vmctl_pageset_set(struct vmctl_pageset *ps, uint64_t page)
{
    ps->bits[page / 64] |= UINT64_C(1) << (page % 64);
}
static inline void vmctl_pageset_unset(struct vmctl_pageset *ps, uint64_t page)
{
    ps->bits[page / 64] &= ~(UINT64_C(1) << (page % 64));
}
static inline bool vmctl_pageset_test(const struct vmctl_pageset *ps, uint64_t page)
{
    return (ps->bits[page / 64] >> (page % 64)) & 1;
}

#define VMCTL_DIRTY_LISTED 8 /* pages a checker names; the rest are only counted */

/* Pages a checker found: how many (a page found in three harvests counts
 * three times) and the first few distinct page numbers. */
struct vmctl_dirty_pages {
    uint64_t count;
    uint32_t listed;
    uint64_t pages[VMCTL_DIRTY_LISTED];
};
void vmctl_dirty_pages_add(struct vmctl_dirty_pages *p, uint64_t page);
json_object *vmctl_dirty_pages_to_json(const struct vmctl_dirty_pages *p);

/* Exactness: every page in `expected` must be in `harvested` (else it is
 * added to `missing`), and every harvested page must be expected (else it is
 * added to `extra`); both are failures. What KVM documents as harvested
 * without a write (every page at the first harvest under
 * KVM_DIRTY_LOG_INITIALLY_SET) is put in `expected` by the caller. Returns
 * true when nothing is missing and nothing is extra. */
bool vmctl_dirty_check_exact(const struct vmctl_pageset *expected, const struct vmctl_pageset *harvested,
                             struct vmctl_dirty_pages *missing, struct vmctl_dirty_pages *extra);

/* Completeness against the backing, independent of KVM: a hash of every
 * page's bytes at the last harvest. Every page whose bytes changed since
 * must be in the dirty set, else it is added to `misses`. */
uint64_t vmctl_dirty_page_hash(const void *page);
bool vmctl_dirty_oracle_compare(const uint64_t *before, const uint64_t *after, const struct vmctl_pageset *dirty,
                                struct vmctl_dirty_pages *misses, uint64_t *changed);

struct vmctl_dirty_oracle {
    const uint8_t *view; /* read-only mapping of the backing, not the memslot's */
    uint64_t npages;
    uint64_t *hash;      /* per page, at the last snapshot */
    uint64_t *scratch;
};
void vmctl_dirty_oracle_init(struct vmctl_dirty_oracle *o, const void *view, uint64_t npages);
void vmctl_dirty_oracle_clear(struct vmctl_dirty_oracle *o);
/* Take a new snapshot without comparing (after writes checked elsewhere). */
void vmctl_dirty_oracle_snapshot(struct vmctl_dirty_oracle *o);
/* Compare the backing now with the last snapshot, then take a new one. */
bool vmctl_dirty_oracle_check(struct vmctl_dirty_oracle *o, const struct vmctl_pageset *dirty,
                              struct vmctl_dirty_pages *misses, uint64_t *changed);

/* KVM_CLEAR_DIRTY_LOG's rule: first_page a multiple of 64, and num_pages a
 * multiple of 64 unless the range ends at the slot's end. */
bool vmctl_dirty_clear_range_ok(uint64_t first_page, uint64_t num_pages, uint64_t slot_pages, GError **error);

/* State of one mode on one VM and probed slot. */
struct vmctl_dirty_ctx {
    struct vmctl_vmm *vmm;
    uint32_t slot;
    uint64_t npages;
    bool initially_set;       /* clear: the first harvest shows every page */
    unsigned ring_cap;        /* ring: the cap enabled */
    uint32_t ring_entries;    /* ring: entries per vCPU, power of two */
    uint32_t ring_fetch;      /* ring: next entry to read */
    uint64_t ring_duplicates; /* ring: entries for a page already harvested this round */
    uint64_t ring_foreign;    /* ring: entries of other slots */
    uint64_t *bare_buf;       /* bitmap/clear: scratch bitmap of the bare loop */
};

/* A tracking mode as a table of hooks. harvest stores the pages dirtied
 * since the last reset: bitmap modes overwrite `into`, the ring adds to it
 * (it is drained several times per round). reset re-arms tracking for the
 * harvested pages. bare is the same ioctls without any bookkeeping, the
 * baseline of the cost. */
struct vmctl_dirty_mode {
    const char *name;
    const char *harvest_cost; /* JSON name of the harvest step's cost */
    const char *reset_cost;   /* JSON name of the reset step's cost, NULL when none */
    bool (*supported)(struct vmctl_vmm *vmm, char **reason);
    bool (*setup)(struct vmctl_dirty_ctx *c, GError **error); /* before memslots and the vCPU */
    uint64_t (*ring_bytes)(const struct vmctl_dirty_ctx *c);  /* NULL: no ring */
    bool (*harvest)(struct vmctl_dirty_ctx *c, struct vmctl_pageset *into, GError **error);
    bool (*reset)(struct vmctl_dirty_ctx *c, const struct vmctl_pageset *harvested, GError **error);
    bool (*bare)(struct vmctl_dirty_ctx *c, GError **error);
    void (*teardown)(struct vmctl_dirty_ctx *c); /* before the VM goes; NULL: nothing to undo */
};

extern const struct vmctl_dirty_mode vmctl_dirty_modes[];
extern const size_t vmctl_dirty_n_modes;
const struct vmctl_dirty_mode *vmctl_dirty_mode_find(const char *name);

/* Faults the tests inject to see the checks fail (VMCTL_PROBE_FAULT). */
typedef enum {
    VMCTL_DIRTY_FAULT_NONE,
    VMCTL_DIRTY_FAULT_DROP_PAGE,  /* remove page N from every harvest before the checks */
    VMCTL_DIRTY_FAULT_HOST_WRITE, /* write page N through the host mapping between two harvests */
    VMCTL_DIRTY_FAULT_EXTRA_PAGE, /* add page N to every harvest before the checks */
    VMCTL_DIRTY_FAULT_LOG_OFF,    /* checked round N runs with the slot's dirty logging off: KVM logs none of it */
    VMCTL_DIRTY_FAULT_KEEP_LOGGING, /* logging stays on for the "after" picture of the huge mappings */
    VMCTL_DIRTY_FAULT_KEEP_HUGEPAGES, /* the 2M pages reserved for a backing are not given back (the test restores) */
} VmctlDirtyFaultKind;
struct vmctl_dirty_fault {
    VmctlDirtyFaultKind kind;
    uint64_t page; /* the page, or the round of log-off */
};
bool vmctl_dirty_fault_parse(const char *str, struct vmctl_dirty_fault *out, GError **error);
/* "drop-page:3", "keep-logging": as VMCTL_PROBE_FAULT spells it; NULL for none */
char *vmctl_dirty_fault_to_string(const struct vmctl_dirty_fault *f);

struct vmctl_dirty_probe_opts {
    uint64_t size;   /* bytes of the probed slot */
    unsigned rounds; /* rounds of guest writes */
    uint64_t seed;   /* for the random rounds */
    bool bare;       /* also time the bare ioctls */
    uint32_t ring_entries; /* ring size in entries (power of two), 0: KVM's maximum up to 65536 */
    bool ring_fill;  /* do not split the guest's writes: let the ring fill (DIRTY_RING_FULL exits) */
    struct vmctl_dirty_fault fault;
};

typedef enum {
    VMCTL_DIRTY_PASS,
    VMCTL_DIRTY_FAIL,
    VMCTL_DIRTY_NA,    /* backing or mode not available here: `reason` says why */
    VMCTL_DIRTY_ERROR, /* could not run: `reason` is the error */
} VmctlDirtyVerdict;
const char *vmctl_dirty_verdict_name(VmctlDirtyVerdict v);

/* Costs, ns per GiB of slot, medians over the rounds of one kind. */
struct vmctl_dirty_cost {
    uint64_t samples;
    uint64_t harvest_ns_per_gib;
    uint64_t reset_ns_per_gib;
    uint64_t total_ns_per_gib;
    uint64_t bare_samples;
    uint64_t bare_ns_per_gib;
};

struct vmctl_dirty_result {
    char *backing;
    char *mode;
    VmctlDirtyVerdict verdict;
    char *reason;
    uint64_t size, npages, backing_page_size;
    unsigned rounds;
    uint64_t written;   /* page writes the guest was told to make, all rounds */
    uint64_t harvested; /* pages harvested, all rounds */
    bool initially_set;
    bool initially_set_ok;
    struct vmctl_dirty_pages missing, extra;
    bool oracle_applies;
    char *oracle_reason;
    uint64_t oracle_changed;
    struct vmctl_dirty_pages oracle_misses;
    uint32_t ring_entries;
    uint64_t ring_full_exits, ring_duplicates, ring_foreign;
    char *get_log_with_ring; /* errno name of KVM_GET_DIRTY_LOG while the ring is on */
    struct vmctl_vmm_stats stats_before, stats_during, stats_after;
    bool huge_applicable;
    bool huge_restored; /* applicable, and as many huge mappings after logging as before */
    char *huge_verdict;
    struct vmctl_dirty_cost few, all;
    const struct vmctl_dirty_mode *mode_ops;
    char *fault;
    char *backing_detail;        /* how the backing was set up */
    uint64_t hugepages_reserved; /* 2M pages added to nr_hugepages for this backing */
    bool hugepages_restored;     /* and taken back (set by the caller after release) */
};

void vmctl_dirty_result_clear(struct vmctl_dirty_result *r);
json_object *vmctl_dirty_result_to_json(const struct vmctl_dirty_result *r);

/* Run the probe for one backing and one mode. Returns false with error
 * when it could not run (the result then holds what was known). */
bool vmctl_dirty_probe_run(struct vmctl_probe_backing *b, const struct vmctl_dirty_mode *mode,
                           const struct vmctl_dirty_probe_opts *opts, struct vmctl_dirty_result *res,
                           GError **error);

/* Run the probe for every backing x mode, appending one result per pair to
 * `results` (free them with vmctl_dirty_result_free). A backing or mode this
 * host cannot offer is NOT APPLICABLE unless it was asked for by name, then
 * an error. Messages of errors go to `errors` (char*), in order. Returns
 * false when a result failed or an error happened; `error` is set only when
 * KVM itself cannot be opened. */
bool vmctl_dirty_probe_matrix(const char *const *backings, bool backings_given, const char *const *modes,
                              bool modes_given, const struct vmctl_dirty_probe_opts *opts, GPtrArray *results,
                              GPtrArray *errors, GError **error);
void vmctl_dirty_result_free(gpointer result);
