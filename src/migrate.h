/* migrate.h: the decisions and the proof of a live migration, apart from
 * the daemon that drives it (daemon/migration.c, the pipeline) and the CLI
 * that shows it (cli/cmd-migrate.c).
 *
 * - Strategy: from the guest's measured dirty rate, the link and what this
 *   QEMU can do (migration capabilities, not versions), the migration
 *   parameters (max-bandwidth, downtime-limit, multifd channels, postcopy,
 *   auto-converge), each recorded as a decision {what, value, why}.
 * - Verification: every page of the source against the destination, per
 *   RAM block (page_diff.h), from share=on backing files or from pmemsave
 *   dumps, plus the page-stamp check and the guest's own VERIFY line; the
 *   verdict PASS or FAIL names the QEMU, accelerator and backing.
 *
 * Library code: never prints. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "host.h"
#include "util.h"

#define VMCTL_MIGRATE_PAGE 4096u                   /* bytes, QEMU's target page on x86 */
#define VMCTL_MIGRATE_QEMU_BANDWIDTH (128u * MiB)  /* bytes/s, QEMU's default max-bandwidth */
#define VMCTL_MIGRATE_QEMU_DOWNTIME 300u           /* ms, QEMU's default downtime-limit */
#define VMCTL_MIGRATE_DOWNTIME_SHARE 50u           /* %: of auto's promised downtime given to QEMU as its limit */
#define VMCTL_MIGRATE_THROTTLE_SHARE 50u           /* %: a dirty rate above this share of the link is throttled from the start */
#define VMCTL_MIGRATE_MULTIFD_RATE 20000u          /* dirty pages/s from which multifd is used */
#define VMCTL_MIGRATE_MULTIFD_CPUS 4               /* host CPUs multifd needs to pay off */
#define VMCTL_MIGRATE_STALL_ITERATIONS 4           /* dirty syncs without progress before postcopy */
#define VMCTL_MIGRATE_STAMP_OFFSET 0x200000u       /* bytes: the tiny guest's stamped region */

typedef enum {
    VMCTL_MIGRATE_AUTO,
    VMCTL_MIGRATE_PRECOPY,
    VMCTL_MIGRATE_POSTCOPY,
    VMCTL_MIGRATE_MULTIFD,
    VMCTL_MIGRATE_AUTO_CONVERGE,
} VmctlMigrateStrategy;

/* "auto", "precopy", "postcopy", "multifd", "auto-converge". */
const char *vmctl_migrate_strategy_name(VmctlMigrateStrategy s);
bool vmctl_migrate_strategy_from_name(const char *name, VmctlMigrateStrategy *out);

/* What the plan is made from. */
typedef struct {
    VmctlMigrateStrategy strategy;
    uint64_t ram_bytes;         /* guest RAM */
    double dirty_pages_per_s;   /* measured; < 0: not measured */
    double link_bytes_per_s;    /* measured or assumed, see link_how */
    const char *link_how;       /* how link_bytes_per_s was found */
    uint64_t bandwidth;         /* --bandwidth, bytes/s; 0: choose */
    uint64_t downtime_ms;       /* --downtime; 0: choose */
    unsigned cpus;              /* host CPUs (multifd channels) */
    bool postcopy_backing_ok;   /* userfaultfd can serve this RAM (anonymous, memfd, tmpfs, hugetlbfs) */
    bool has_multifd;           /* capabilities on both sides */
    bool has_postcopy;
    bool has_auto_converge;
    bool has_dirty_limit;       /* the capability exists (QEMU 8.1+) */
    bool dirty_ring;            /* the guest runs under KVM with a dirty ring, which dirty-limit needs */
    bool shared;                /* --shared: x-ignore-shared */
    bool has_ignore_shared;
} VmctlMigrateInputs;

typedef struct {
    uint64_t max_bandwidth;     /* bytes/s; 0: QEMU's default left alone */
    uint64_t downtime_ms;       /* QEMU's downtime-limit; 0: QEMU's default left alone */
    uint64_t downtime_promised_ms; /* what the downtime is to stay within (auto: more than the limit) */
    unsigned multifd_channels;  /* 0: off */
    bool postcopy;              /* capability on both sides, switched to when precopy stalls */
    bool postcopy_now;          /* switch right after the first pass (strategy postcopy) */
    bool auto_converge;
    bool dirty_limit;           /* throttle each vCPU to vcpu_dirty_limit instead of auto-converge */
    uint64_t vcpu_dirty_limit;  /* MB/s per vCPU, QEMU's unit */
    bool ignore_shared;
    unsigned stall_iterations;  /* dirty syncs without shrinking before the postcopy switch */
    json_object *decisions;     /* [{what, value, why}] */
} VmctlMigratePlan;

/* Make the plan; an impossible request (postcopy on a backing userfaultfd
 * cannot serve, a capability this QEMU lacks) is an error naming it. */
bool vmctl_migrate_plan(const VmctlMigrateInputs *in, VmctlMigratePlan *plan, GError **error);
void vmctl_migrate_plan_clear(VmctlMigratePlan *plan);

/* Record a decision taken later (the postcopy switch). `value` is stolen. */
void vmctl_migrate_decision(json_object *decisions, const char *what, json_object *value, const char *why);

/* The calc-dirty-rate mode for a guest: dirty-ring (KVM with a ring),
 * dirty-bitmap (KVM), page-sampling (TCG), never a mode this QEMU crashes
 * on (known bug 'tcg-calc-dirty-rate-crash'). `why` is static. */
const char *vmctl_migrate_dirty_rate_mode(bool kvm, bool dirty_ring, const struct vmctl_version *qemu,
                                          const char **why);

/* A rough upper bound of what a local Unix socket carries: memcpy
 * throughput of this host over `bytes` (bytes/s). */
double vmctl_migrate_measure_memcpy(uint64_t bytes);

/* One RAM block to compare: `length` bytes at `offset_src` of image
 * `path_src` against `offset_dst` of `path_dst`. */
typedef struct {
    char *name;
    char *path_src;
    char *path_dst;
    uint64_t offset_src;
    uint64_t offset_dst;
    uint64_t length;
} VmctlMigrateBlock;

void vmctl_migrate_block_free(VmctlMigrateBlock *b);
VmctlMigrateBlock *vmctl_migrate_block_new(const char *name, const char *path_src, uint64_t offset_src,
                                           const char *path_dst, uint64_t offset_dst, uint64_t length);

/* Compare every block page by page. Returns {"blocks": [{name, source,
 * destination, pages, pages_differ, first: [{page, offset, byte}]}],
 * "pages": N, "pages_differ": N} with the totals also in *pages_differ. */
json_object *vmctl_migrate_compare(GPtrArray *blocks, uint64_t *pages_differ, GError **error);

/* The tiny guest's stamps (at VMCTL_MIGRATE_STAMP_OFFSET) on the
 * destination's image, judged against the source's (src may be NULL: not
 * reachable). Adds to `proof` "stamps" (the report), "stamps_error" (the
 * source has stamps, the destination not: counted as 1 bad) or
 * "stamps_skipped" (neither has them yet, e.g. a guest still booting).
 * Returns the bad stamps. */
uint64_t vmctl_migrate_check_stamps(const char *src, const char *dst, json_object *proof);

/* The host's half of a migration's proof, one for both drivers: every
 * block compared page by page, then (a tiny guest) the stamps on the
 * destination's RAM image. Safe in a worker thread: it writes only into
 * `findings` ("pages", and the stamps' members above). */
typedef struct {
    GPtrArray *blocks;    /* VmctlMigrateBlock to compare (empty: "pages" says 0); NULL: no compare */
    const char *src_ram;  /* the source's RAM image (NULL: not reachable) */
    const char *dst_ram;  /* the destination's (NULL: no stamps read) */
    bool stamps;          /* the guest stamps its pages (the tiny guest) */
} VmctlMigrateOracle;

typedef struct {
    bool compared;         /* pages were compared */
    uint64_t pages_differ;
    uint64_t stamps_bad;
} VmctlMigrateOracleResult;

/* False (and *error) only when the compare could not be made. */
bool vmctl_migrate_host_oracle(const VmctlMigrateOracle *o, json_object *findings, VmctlMigrateOracleResult *res,
                               GError **error);

/* The test-only fault hooks, acting on page N of the destination's RAM
 * image after the transfer, before the compare:
 *   "dst-page:N"   one byte of the page changed (a corrupt page)
 *   "dst-stale:N"  the page's content from before the migration put back
 *                  (a lost last write: the stamp checker calls it stale)
 *   "dst-guest-page:N"  one byte of the page changed after the host's
 *                  compare and stamp check, before the destination runs:
 *                  only the guest's own VERIFY can see it (end to end) */
typedef enum {
    VMCTL_MIGRATE_FAULT_CORRUPT,
    VMCTL_MIGRATE_FAULT_STALE,
    VMCTL_MIGRATE_FAULT_GUEST,
} VmctlMigrateFaultKind;

typedef struct {
    VmctlMigrateFaultKind kind;
    uint64_t page;
} VmctlMigrateFault;

bool vmctl_migrate_fault_parse(const char *spec, VmctlMigrateFault *out, GError **error);
/* Flip one byte of page `page` at `offset` bytes into the image. */
bool vmctl_migrate_fault_apply(const char *path, uint64_t offset, uint64_t page, GError **error);
/* Copy one page out of, or into, an image (a file or a device-dax, through
 * a mapping: device-dax has no read or write). */
bool vmctl_migrate_page_read(const char *path, uint64_t offset, uint64_t page, uint8_t buf[VMCTL_MIGRATE_PAGE],
                             GError **error);
bool vmctl_migrate_page_write(const char *path, uint64_t offset, uint64_t page, const uint8_t buf[VMCTL_MIGRATE_PAGE],
                              GError **error);

/* FAIL when a page differs, a stamped page is bad or the guest did not say
 * "VERIFY ok" (line NULL: the guest oracle did not run). Otherwise PASS
 * when the pages were compared (`compared`), and PASS-UNCOMPARED when they
 * were not (one shared file, a postcopy destination): what was checked
 * held, but no page was compared, and the word never reads as a PASS. */
#define VMCTL_MIGRATE_PASS_UNCOMPARED "PASS-UNCOMPARED"
const char *vmctl_migrate_verdict(bool compared, uint64_t pages_differ, uint64_t stamp_bad, const char *guest_line);

/* The proof's last word, the same for every driver: writes its summary
 * into `proof` ("guest" when the guest answered, "pages_compared",
 * "pages_differ", "stamps_bad", "verdict") and returns the verdict. A
 * proof in which nothing was checked (no page compared, no stamp read, no
 * answer from the guest) is UNVERIFIED, with "unverified" saying so: a
 * migration nobody looked at is never a PASS of any kind. */
const char *vmctl_migrate_conclude(json_object *proof, bool compared, uint64_t pages_differ, uint64_t stamp_bad,
                                   const char *guest_line);

/* QEMU's measured downtime against what the plan promised: {promised_ms,
 * limit_ms (QEMU's downtime-limit), downtime_ms, kept}. */
json_object *vmctl_migrate_downtime_promise(const VmctlMigratePlan *plan, uint64_t downtime_ms);

/* A migration result's common head: name, to, strategy, verdict, qemu,
 * accel, known_bug (where one applies to a FAIL) and backing. */
json_object *vmctl_migrate_result_new(const char *name, const char *to, VmctlMigrateStrategy strategy,
                                      const char *verdict, const char *qemu, const char *accel, const char *backing);

/* A FAIL that a known bug of this QEMU can explain: when `result` (a
 * migration's result, with "verdict", "qemu" and "accel") is a FAIL under
 * an accelerator and QEMU version a known migration bug applies to, adds
 * "known_bug": {"id", "summary", "fixed_in"} to it. The verdict stays FAIL.
 * Returns the one-line explanation for the verdict line (free it), or NULL. */
char *vmctl_migrate_known_bug(json_object *result);

/* The migrate command's arguments, typed: integers (bandwidth, downtime,
 * timeout) non-negative, flags (verify, shared, keep-source, force) true or
 * false, names and paths strings, destination lists arrays of strings.
 * Nothing is coerced: the first argument of the wrong type is the error,
 * named with its rule. */
bool vmctl_migrate_args_check(json_object *args, GError **error);
