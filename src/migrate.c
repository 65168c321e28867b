/* migrate.c: migration strategy decisions and the page-level verdict
 * (see migrate.h). */
#include "config.h"

#include "migrate.h"

#include "guest_line.h"
#include "host.h"
#include "page_diff.h"
#include "page_stamp.h"
#include "sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const strategy_names[] = {
    [VMCTL_MIGRATE_AUTO] = "auto",
    [VMCTL_MIGRATE_PRECOPY] = "precopy",
    [VMCTL_MIGRATE_POSTCOPY] = "postcopy",
    [VMCTL_MIGRATE_MULTIFD] = "multifd",
    [VMCTL_MIGRATE_AUTO_CONVERGE] = "auto-converge",
};

const char *vmctl_migrate_strategy_name(VmctlMigrateStrategy s)
{
    return (size_t)s < G_N_ELEMENTS(strategy_names) ? strategy_names[s] : "unknown";
}

bool vmctl_migrate_strategy_from_name(const char *name, VmctlMigrateStrategy *out)
{
    for (size_t i = 0; name && i < G_N_ELEMENTS(strategy_names); i++) {
        if (strcmp(name, strategy_names[i]) == 0) {
            *out = (VmctlMigrateStrategy)i;
            return true;
        }
    }
    return false;
}

void vmctl_migrate_decision(json_object *decisions, const char *what, json_object *value, const char *why)
{
    json_object *d = json_object_new_object();

    vmctl_json_add_str(d, "what", what);
    json_object_object_add(d, "value", value);
    vmctl_json_add_str(d, "why", why);
    json_object_array_add(decisions, d);
}

/* A decision whose reason is formatted: value (stolen) and why. */
static void decide_v(json_object *decisions, const char *what, json_object *value, const char *fmt, va_list ap)
    G_GNUC_PRINTF(4, 0);

static void decide_v(json_object *decisions, const char *what, json_object *value, const char *fmt, va_list ap)
{
    g_autofree char *why = g_strdup_vprintf(fmt, ap);

    vmctl_migrate_decision(decisions, what, value, why);
}

static void decide_u64(json_object *decisions, const char *what, uint64_t value, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void decide_u64(json_object *decisions, const char *what, uint64_t value, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    decide_v(decisions, what, json_object_new_int64((int64_t)value), fmt, ap);
    va_end(ap);
}

static void decide_bool(json_object *decisions, const char *what, bool value, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void decide_bool(json_object *decisions, const char *what, bool value, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    decide_v(decisions, what, json_object_new_boolean(value), fmt, ap);
    va_end(ap);
}

void vmctl_migrate_plan_clear(VmctlMigratePlan *plan)
{
    g_clear_pointer(&plan->decisions, json_object_put);
}

static bool need_cap(bool have, const char *cap, VmctlMigrateStrategy s, GError **error)
{
    if (!have)
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "strategy '%s' needs the migration capability '%s', which this QEMU does not have",
                    vmctl_migrate_strategy_name(s), cap);
    return have;
}

/* auto: a guest that dirties more than a share of what the link carries
 * makes every pass leave almost as much as it sent; throttled from the
 * start, the passes shrink instead of piling up. dirty-limit (QEMU 8.1+,
 * KVM with a dirty ring) holds each vCPU to a rate; auto-converge slows
 * the whole guest in steps. */
static void plan_throttle(const VmctlMigrateInputs *in, VmctlMigratePlan *plan)
{
    json_object *d = plan->decisions;
    double link = plan->max_bandwidth ? (double)plan->max_bandwidth : (double)VMCTL_MIGRATE_QEMU_BANDWIDTH;
    double dirty = in->dirty_pages_per_s > 0 ? in->dirty_pages_per_s * VMCTL_MIGRATE_PAGE : 0;
    const char *no_limit = !in->has_dirty_limit ? "this QEMU has no dirty-limit capability (QEMU 8.1+)"
                           : !in->dirty_ring    ? "dirty-limit needs KVM with a dirty ring, and this guest runs without one"
                                                : NULL;

    if (in->shared || in->dirty_pages_per_s < 0 || dirty <= link * VMCTL_MIGRATE_THROTTLE_SHARE / 100) {
        decide_bool(d, "throttle", false,
                    in->shared                  ? "x-ignore-shared sends no RAM pages"
                    : in->dirty_pages_per_s < 0 ? "the dirty rate was not measured"
                                                : "the dirty rate (%.0f MiB/s) is at most %u%% of the bandwidth (%.0f MiB/s)",
                    dirty / MiB, VMCTL_MIGRATE_THROTTLE_SHARE, link / MiB);
        if (in->has_dirty_limit && !in->shared && in->dirty_pages_per_s >= 0)
            decide_bool(d, "dirty-limit", false, "no throttle needed%s%s", no_limit ? "; besides, " : "",
                        no_limit ? no_limit : "");
        return;
    }
    if (!no_limit) {
        plan->dirty_limit = true;
        /* each vCPU to a quarter of the link: every pass then sends more
         * than the guest dirties meanwhile */
        plan->vcpu_dirty_limit = MAX((uint64_t)1, (uint64_t)(link / 4 / MiB));
        decide_u64(d, "dirty-limit", plan->vcpu_dirty_limit,
                   "the dirty rate (%.0f MiB/s) exceeds %u%% of the bandwidth (%.0f MiB/s): each vCPU is held to a quarter of the bandwidth (MB/s) once a pass dirties more than half of what it sent, instead of piling up passes",
                   dirty / MiB, VMCTL_MIGRATE_THROTTLE_SHARE, link / MiB);
        return;
    }
    if (!in->has_auto_converge) {
        decide_bool(d, "throttle", false, "the dirty rate (%.0f MiB/s) exceeds %u%% of the bandwidth (%.0f MiB/s), but %s and there is no auto-converge either",
                    dirty / MiB, VMCTL_MIGRATE_THROTTLE_SHARE, link / MiB, no_limit);
        return;
    }
    plan->auto_converge = true;
    decide_bool(d, "auto-converge", true,
                "the dirty rate (%.0f MiB/s) exceeds %u%% of the bandwidth (%.0f MiB/s): the guest is slowed in steps once a pass dirties more than half of what it sent, before the passes pile up (not dirty-limit: %s)",
                dirty / MiB, VMCTL_MIGRATE_THROTTLE_SHARE, link / MiB, no_limit);
}

bool vmctl_migrate_plan(const VmctlMigrateInputs *in, VmctlMigratePlan *plan, GError **error)
{
    double dirty_bytes = in->dirty_pages_per_s > 0 ? in->dirty_pages_per_s * VMCTL_MIGRATE_PAGE : 0;
    bool is_auto = in->strategy == VMCTL_MIGRATE_AUTO;
    json_object *d;

    memset(plan, 0, sizeof(*plan));
    plan->decisions = d = json_object_new_array();
    plan->stall_iterations = VMCTL_MIGRATE_STALL_ITERATIONS;

    switch (in->strategy) {
    case VMCTL_MIGRATE_POSTCOPY:
        if (!need_cap(in->has_postcopy, "postcopy-ram", in->strategy, error))
            goto fail;
        if (!in->postcopy_backing_ok) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                        "strategy 'postcopy' needs RAM that userfaultfd can serve (anonymous, memfd, tmpfs, hugetlbfs), and this guest's RAM is a file");
            goto fail;
        }
        if (in->shared) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                        "strategy 'postcopy' does not combine with --shared: QEMU refuses postcopy-ram with x-ignore-shared");
            goto fail;
        }
        break;
    case VMCTL_MIGRATE_MULTIFD:
        if (!need_cap(in->has_multifd, "multifd", in->strategy, error))
            goto fail;
        break;
    case VMCTL_MIGRATE_AUTO_CONVERGE:
        if (!need_cap(in->has_auto_converge, "auto-converge", in->strategy, error))
            goto fail;
        break;
    default:
        break;
    }
    if (in->shared && !need_cap(in->has_ignore_shared, "x-ignore-shared", in->strategy, error))
        goto fail;

    /* bandwidth */
    if (in->bandwidth) {
        plan->max_bandwidth = in->bandwidth;
        decide_u64(d, "max-bandwidth", plan->max_bandwidth, "asked for (--bandwidth)");
    } else if (is_auto) {
        /* QEMU's 128 MiB/s cap is what stops a busy guest from converging; on
         * a local socket the link is memory, so the cap goes to what the link
         * carries */
        plan->max_bandwidth = in->link_bytes_per_s > VMCTL_MIGRATE_QEMU_BANDWIDTH ? (uint64_t)in->link_bytes_per_s
                                                                                  : VMCTL_MIGRATE_QEMU_BANDWIDTH;
        decide_u64(d, "max-bandwidth", plan->max_bandwidth,
                   "set explicitly to the link's throughput (%s, %.0f MiB/s): QEMU's default %u MiB/s does not converge a busy guest",
                   in->link_how ? in->link_how : "assumed", in->link_bytes_per_s / MiB,
                   (unsigned)(VMCTL_MIGRATE_QEMU_BANDWIDTH / MiB));
    } else {
        decide_u64(d, "max-bandwidth", VMCTL_MIGRATE_QEMU_BANDWIDTH, "QEMU's default (strategy '%s' without --bandwidth)",
                   vmctl_migrate_strategy_name(in->strategy));
    }

    /* downtime */
    if (in->downtime_ms) {
        plan->downtime_ms = plan->downtime_promised_ms = in->downtime_ms;
        decide_u64(d, "downtime-limit", plan->downtime_ms, "asked for (--downtime)");
    } else if (is_auto) {
        uint64_t bw = plan->max_bandwidth ? plan->max_bandwidth : VMCTL_MIGRATE_QEMU_BANDWIDTH;
        /* the last pass carries what the guest dirtied during the previous
         * one; give it room for ~100 ms of dirtying at the link's speed */
        uint64_t need = (uint64_t)(dirty_bytes * 0.1 / (double)bw * 1000.0);

        plan->downtime_promised_ms = MAX((uint64_t)VMCTL_MIGRATE_QEMU_DOWNTIME, MIN(need, (uint64_t)1000));
        decide_u64(d, "downtime-promised", plan->downtime_promised_ms,
                   "QEMU's %u ms unless the measured dirty rate (%.0f pages/s) needs more for the last pass (at most 1000 ms)",
                   VMCTL_MIGRATE_QEMU_DOWNTIME, in->dirty_pages_per_s > 0 ? in->dirty_pages_per_s : 0);
        /* QEMU switches over when what is left fits its limit at the
         * measured speed, but the final pass also carries what the guest
         * dirtied since the last sync, and stopping and restarting cost
         * time of their own: the limit is a share of the promise */
        plan->downtime_ms = MAX((uint64_t)1, plan->downtime_promised_ms * VMCTL_MIGRATE_DOWNTIME_SHARE / 100);
        decide_u64(d, "downtime-limit", plan->downtime_ms,
                   "%u%% of the promised %" G_GUINT64_FORMAT " ms: QEMU's switch-over estimate leaves out what the guest dirties after the last sync and the stop itself, which took the downtime to up to twice the limit",
                   VMCTL_MIGRATE_DOWNTIME_SHARE, plan->downtime_promised_ms);
    } else {
        plan->downtime_promised_ms = VMCTL_MIGRATE_QEMU_DOWNTIME; /* QEMU's own limit, left alone */
    }

    /* multifd, postcopy, auto-converge */
    if (in->strategy == VMCTL_MIGRATE_MULTIFD ||
        (is_auto && in->has_multifd && in->dirty_pages_per_s >= VMCTL_MIGRATE_MULTIFD_RATE && !in->shared &&
         in->cpus >= VMCTL_MIGRATE_MULTIFD_CPUS)) {
        plan->multifd_channels = MAX(2u, MIN(in->cpus, 4u));
        decide_u64(d, "multifd-channels", plan->multifd_channels,
                   is_auto ? "dirty rate at or above %u pages/s: several channels send in parallel (one per host CPU, 2..4)"
                           : "asked for (strategy multifd; one channel per host CPU, 2..4; threshold %u pages/s unused)",
                   VMCTL_MIGRATE_MULTIFD_RATE);
    } else if (is_auto) {
        decide_bool(d, "multifd", false,
                    !in->has_multifd ? "this QEMU has no multifd capability"
                    : in->shared     ? "x-ignore-shared sends no RAM pages"
                    : in->dirty_pages_per_s < VMCTL_MIGRATE_MULTIFD_RATE
                        ? "the dirty rate is low enough for one channel"
                        : "fewer than " G_STRINGIFY(VMCTL_MIGRATE_MULTIFD_CPUS) " host CPUs: multifd threads compete with the vCPU and the migration thread (on 2 CPUs a 256M guest at 20k pages/s took 29 s with 2 channels, 21 s with one)");
    }
    if (in->strategy == VMCTL_MIGRATE_POSTCOPY) {
        plan->postcopy = plan->postcopy_now = true;
        decide_bool(d, "postcopy", true, "asked for: switch to postcopy after the first precopy pass");
    } else if (is_auto) {
        if (!in->has_postcopy)
            decide_bool(d, "postcopy", false, "this QEMU has no postcopy-ram capability");
        else if (in->shared)
            decide_bool(d, "postcopy", false, "x-ignore-shared sends no RAM pages, and QEMU refuses postcopy-ram with it");
        else if (!in->postcopy_backing_ok)
            decide_bool(d, "postcopy", false, "userfaultfd cannot serve a file-backed RAM: precopy only");
        else if (plan->multifd_channels)
            decide_bool(d, "postcopy", false, "multifd and postcopy do not combine on this QEMU");
        else {
            plan->postcopy = true;
            vmctl_migrate_decision(
                d, "postcopy", json_object_new_boolean(true),
                "capability set on both sides; switched to only if the remaining bytes stop shrinking over "
                G_STRINGIFY(VMCTL_MIGRATE_STALL_ITERATIONS) " dirty syncs");
        }
    }
    if (in->strategy == VMCTL_MIGRATE_AUTO_CONVERGE) {
        plan->auto_converge = true;
        decide_bool(d, "auto-converge", true, "asked for (strategy auto-converge)");
    } else if (is_auto) {
        plan_throttle(in, plan);
    }
    if (in->shared) {
        plan->ignore_shared = true;
        decide_bool(d, "x-ignore-shared", true, "--shared: both sides map the same share=on backing, RAM is not sent");
    }
    return true;
fail:
    vmctl_migrate_plan_clear(plan);
    return false;
}

const char *vmctl_migrate_dirty_rate_mode(bool kvm, bool dirty_ring, const struct vmctl_version *qemu,
                                          const char **why)
{
    size_t n;
    const struct vmctl_known_change *c = vmctl_known_changes(&n);

    if (kvm && dirty_ring) {
        *why = "KVM with a dirty ring: dirty-ring counts exactly the written pages (dirty-bitmap is refused then)";
        return "dirty-ring";
    }
    if (kvm) {
        *why = "KVM: dirty-bitmap counts exactly the written pages";
        return "dirty-bitmap";
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i].id, "tcg-calc-dirty-rate-crash") == 0 && qemu && vmctl_known_change_applies(&c[i], qemu)) {
            *why = "TCG: dirty-bitmap and dirty-ring crash this QEMU (known bug 'tcg-calc-dirty-rate-crash'): page-sampling";
            return "page-sampling";
        }
    }
    *why = "TCG: no KVM dirty log, page-sampling";
    return "page-sampling";
}

double vmctl_migrate_measure_memcpy(uint64_t bytes)
{
    g_autofree char *a = g_malloc(bytes);
    g_autofree char *b = g_malloc(bytes);
    uint64_t best = UINT64_MAX;

    memset(a, 0x5a, bytes);
    memset(b, 0, bytes);
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = vmctl_now_ns(), dt;

        memcpy(b, a, bytes);
        dt = vmctl_now_ns() - t0;
        best = MIN(best, MAX(dt, (uint64_t)1));
    }
    return (double)bytes * 1e9 / (double)best;
}

void vmctl_migrate_block_free(VmctlMigrateBlock *b)
{
    if (!b)
        return;
    g_free(b->name);
    g_free(b->path_src);
    g_free(b->path_dst);
    g_free(b);
}

VmctlMigrateBlock *vmctl_migrate_block_new(const char *name, const char *path_src, uint64_t offset_src,
                                           const char *path_dst, uint64_t offset_dst, uint64_t length)
{
    VmctlMigrateBlock *b = g_new0(VmctlMigrateBlock, 1);

    b->name = g_strdup(name);
    b->path_src = g_strdup(path_src);
    b->path_dst = g_strdup(path_dst);
    b->offset_src = offset_src;
    b->offset_dst = offset_dst;
    b->length = length;
    return b;
}

static json_object *block_result(const VmctlMigrateBlock *b, const struct vmctl_page_diff_block *r)
{
    json_object *o = json_object_new_object();
    json_object *first = json_object_new_array();

    vmctl_json_add_str(o, "name", b->name);
    vmctl_json_add_str(o, "source", b->path_src);
    vmctl_json_add_str(o, "destination", b->path_dst);
    vmctl_json_add_u64(o, "length", b->length);
    vmctl_json_add_u64(o, "pages", r->pages);
    vmctl_json_add_u64(o, "pages_differ", r->pages_differ);
    for (guint i = 0; i < r->listed->len; i++) {
        const struct vmctl_page_diff_page *p = &g_array_index(r->listed, struct vmctl_page_diff_page, i);
        json_object *e = json_object_new_object();

        vmctl_json_add_u64(e, "page", p->page);
        vmctl_json_add_u64(e, "offset", p->offset_b);
        vmctl_json_add_u64(e, "byte", p->byte);
        json_object_array_add(first, e);
    }
    json_object_object_add(o, "first", first);
    return o;
}

json_object *vmctl_migrate_compare(GPtrArray *blocks, uint64_t *pages_differ, GError **error)
{
    g_autoptr(json_object) out = json_object_new_object();
    json_object *arr = json_object_new_array();
    uint64_t pages = 0, differ = 0, bytes = 0, t0 = vmctl_now_ns(), ns;

    json_object_object_add(out, "blocks", arr);
    for (guint i = 0; i < blocks->len; i++) {
        const VmctlMigrateBlock *b = blocks->pdata[i];
        struct vmctl_page_diff_range range = { b->name, b->offset_src, b->offset_dst, b->length };
        struct vmctl_page_diff_opts opts;
        g_autoptr(vmctl_page_diff) diff = NULL;

        vmctl_page_diff_opts_init(&opts);
        opts.ranges = &range;
        opts.n_ranges = 1;
        diff = vmctl_page_diff_images(b->path_src, b->path_dst, &opts, error);
        if (!diff) {
            g_prefix_error(error, "cannot compare RAM block '%s': ", b->name);
            return NULL;
        }
        json_object_array_add(arr, block_result(b, g_ptr_array_index(diff->blocks, 0)));
        pages += diff->pages;
        differ += diff->pages_differ;
        bytes += b->length;
    }
    ns = vmctl_now_ns() - t0;
    vmctl_json_add_u64(out, "pages", pages);
    vmctl_json_add_u64(out, "pages_differ", differ);
    /* what the proof costs a paused guest: time and rate over one side */
    vmctl_json_add_u64(out, "compare_ms", ns / 1000000);
    vmctl_json_add_double(out, "compare_bytes_per_s", ns ? (double)bytes * 1e9 / (double)ns : 0);
    *pages_differ = differ;
    return g_steal_pointer(&out);
}

uint64_t vmctl_migrate_check_stamps(const char *src, const char *dst, json_object *proof)
{
    VmctlPagesCheckOptions opts = { .offset = VMCTL_MIGRATE_STAMP_OFFSET };
    VmctlPagesReport r;
    g_autoptr(GError) err = NULL;

    if (vmctl_pages_check_file(dst, &opts, &r, &err)) {
        json_object_object_add(proof, "stamps", vmctl_pages_report_to_json(&r));
        return r.bad;
    }
    if (src && vmctl_pages_check_file(src, &opts, &r, NULL)) {
        vmctl_json_add_str(proof, "stamps_error", err->message);
        return 1;
    }
    vmctl_json_add_str(proof, "stamps_skipped", err->message);
    return 0;
}

bool vmctl_migrate_host_oracle(const VmctlMigrateOracle *o, json_object *findings, VmctlMigrateOracleResult *res,
                               GError **error)
{
    memset(res, 0, sizeof(*res));
    if (o->blocks) {
        json_object *pages = vmctl_migrate_compare(o->blocks, &res->pages_differ, error);

        if (!pages)
            return false;
        json_object_object_add(findings, "pages", pages);
        res->compared = o->blocks->len > 0;
    }
    if (o->stamps && o->dst_ram)
        res->stamps_bad = vmctl_migrate_check_stamps(o->src_ram, o->dst_ram, findings);
    return true;
}

bool vmctl_migrate_fault_parse(const char *spec, VmctlMigrateFault *out, GError **error)
{
    static const struct {
        const char *prefix;
        VmctlMigrateFaultKind kind;
    } kinds[] = { { "dst-page:", VMCTL_MIGRATE_FAULT_CORRUPT },
                  { "dst-stale:", VMCTL_MIGRATE_FAULT_STALE },
                  { "dst-guest-page:", VMCTL_MIGRATE_FAULT_GUEST } };

    for (size_t i = 0; spec && i < G_N_ELEMENTS(kinds); i++)
        if (g_str_has_prefix(spec, kinds[i].prefix) &&
            vmctl_parse_uint("fault page", spec + strlen(kinds[i].prefix), G_MAXUINT32, &out->page, NULL)) {
            out->kind = kinds[i].kind;
            return true;
        }
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                "fault '%s' is not 'dst-page:N', 'dst-stale:N' or 'dst-guest-page:N'", spec ? spec : "");
    return false;
}

#define FAULT_WINDOW (2u * 1024 * 1024) /* bytes: mapped around the page, device-dax's usual align */

/* A shared mapping of the 2 MiB window around page `page`; *at gets the
 * page's place in it. */
static uint8_t *page_map(const char *path, uint64_t offset, uint64_t page, bool write, uint8_t **at, GError **error)
{
    uint64_t pos = offset + page * VMCTL_MIGRATE_PAGE, base = pos & ~(uint64_t)(FAULT_WINDOW - 1), size = 0;
    int fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    struct stat st;
    uint8_t *p;

    if (fd < 0 || fstat(fd, &st) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot open '%s' for page %" G_GUINT64_FORMAT ": %s", path,
                    page, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (S_ISCHR(st.st_mode))
        vmctl_char_device_size(st.st_rdev, &size);
    else
        size = (uint64_t)st.st_size;
    if (pos + VMCTL_MIGRATE_PAGE > size) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "page %" G_GUINT64_FORMAT " of '%s' is beyond its end (%"
                    G_GUINT64_FORMAT " bytes)", page, path, size);
        close(fd);
        return NULL;
    }
    p = mmap(NULL, FAULT_WINDOW, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, (off_t)base);
    close(fd);
    if (p == MAP_FAILED) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot map page %" G_GUINT64_FORMAT " of '%s': %s", page,
                    path, g_strerror(errno));
        return NULL;
    }
    *at = p + (pos - base);
    return p;
}

bool vmctl_migrate_fault_apply(const char *path, uint64_t offset, uint64_t page, GError **error)
{
    uint8_t *at, *p = page_map(path, offset, page, true, &at, error);

    if (!p)
        return false;
    at[123] ^= 0xff; /* any byte of the page */
    munmap(p, FAULT_WINDOW);
    return true;
}

/* One page between `buf` and the image: into buf, or (write) out of it. */
static bool page_io(const char *path, uint64_t offset, uint64_t page, uint8_t *buf, bool write, GError **error)
{
    uint8_t *at, *p = page_map(path, offset, page, write, &at, error);

    if (!p)
        return false;
    if (write)
        memcpy(at, buf, VMCTL_MIGRATE_PAGE);
    else
        memcpy(buf, at, VMCTL_MIGRATE_PAGE);
    munmap(p, FAULT_WINDOW);
    return true;
}

bool vmctl_migrate_page_read(const char *path, uint64_t offset, uint64_t page, uint8_t buf[VMCTL_MIGRATE_PAGE],
                             GError **error)
{
    return page_io(path, offset, page, buf, false, error);
}

bool vmctl_migrate_page_write(const char *path, uint64_t offset, uint64_t page, const uint8_t buf[VMCTL_MIGRATE_PAGE],
                              GError **error)
{
    return page_io(path, offset, page, (uint8_t *)buf, true, error);
}

const char *vmctl_migrate_verdict(bool compared, uint64_t pages_differ, uint64_t stamp_bad, const char *guest_line)
{
    if (pages_differ || stamp_bad)
        return "FAIL";
    if (guest_line && !vmctl_guest_line_verify_ok(guest_line))
        return "FAIL";
    return compared ? "PASS" : VMCTL_MIGRATE_PASS_UNCOMPARED;
}

json_object *vmctl_migrate_downtime_promise(const VmctlMigratePlan *plan, uint64_t downtime_ms)
{
    json_object *dp = json_object_new_object();

    vmctl_json_add_u64(dp, "promised_ms", plan->downtime_promised_ms);
    vmctl_json_add_u64(dp, "limit_ms", plan->downtime_ms ? plan->downtime_ms : VMCTL_MIGRATE_QEMU_DOWNTIME);
    vmctl_json_add_u64(dp, "downtime_ms", downtime_ms);
    vmctl_json_add_bool(dp, "kept", downtime_ms <= plan->downtime_promised_ms);
    return dp;
}

const char *vmctl_migrate_conclude(json_object *proof, bool compared, uint64_t pages_differ, uint64_t stamp_bad,
                                   const char *guest_line)
{
    const char *verdict = vmctl_migrate_verdict(compared, pages_differ, stamp_bad, guest_line);

    if (!compared && !guest_line && !json_object_object_get(proof, "stamps") &&
        strcmp(verdict, VMCTL_MIGRATE_PASS_UNCOMPARED) == 0) {
        verdict = "UNVERIFIED";
        vmctl_json_add_str(proof, "unverified", "nothing was checked: no page compared, no stamp read, no answer from the guest");
    }
    if (guest_line)
        vmctl_json_add_str(proof, "guest", guest_line);
    vmctl_json_add_bool(proof, "pages_compared", compared);
    vmctl_json_add_u64(proof, "pages_differ", pages_differ);
    vmctl_json_add_u64(proof, "stamps_bad", stamp_bad);
    vmctl_json_add_str(proof, "verdict", verdict);
    return verdict;
}

json_object *vmctl_migrate_result_new(const char *name, const char *to, VmctlMigrateStrategy strategy,
                                      const char *verdict, const char *qemu, const char *accel, const char *backing)
{
    json_object *r = json_object_new_object();

    vmctl_json_add_str(r, "name", name);
    vmctl_json_add_str(r, "to", to);
    vmctl_json_add_str(r, "strategy", vmctl_migrate_strategy_name(strategy));
    vmctl_json_add_str(r, "verdict", verdict);
    vmctl_json_add_str(r, "qemu", qemu);
    vmctl_json_add_str(r, "accel", accel);
    g_free(vmctl_migrate_known_bug(r));
    vmctl_json_add_str(r, "backing", backing);
    return r;
}

char *vmctl_migrate_known_bug(json_object *result)
{
    const char *verdict = json_object_get_string(json_object_object_get(result, "verdict"));
    const char *qemu = json_object_get_string(json_object_object_get(result, "qemu"));
    const char *accel = json_object_get_string(json_object_object_get(result, "accel"));
    json_object *kb = json_object_object_get(result, "known_bug");
    struct vmctl_version v;
    size_t n;
    const struct vmctl_known_change *c = vmctl_known_changes(&n);

    if (kb) /* said once: a result carried on is not judged again */
        return g_strdup_printf("known bug '%s' of this QEMU applies: %s; fixed in QEMU %s",
                               json_object_get_string(json_object_object_get(kb, "id")),
                               json_object_get_string(json_object_object_get(kb, "summary")),
                               json_object_get_string(json_object_object_get(kb, "fixed_in")));
    if (g_strcmp0(verdict, "FAIL") != 0 || g_strcmp0(accel, "tcg") != 0 || !qemu || !vmctl_version_parse(qemu, &v))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        g_autofree char *fixed = NULL;

        if (strcmp(c[i].component, "qemu") != 0 || strcmp(c[i].id, "tcg-lost-dirty-pages") != 0 ||
            !vmctl_known_change_applies(&c[i], &v))
            continue;
        fixed = g_strdup_printf("%d.%d.%d", c[i].fixed.major, c[i].fixed.minor, c[i].fixed.patch);
        kb = json_object_new_object();
        vmctl_json_add_str(kb, "id", c[i].id);
        vmctl_json_add_str(kb, "summary", c[i].summary);
        vmctl_json_add_str(kb, "fixed_in", fixed);
        json_object_object_add(result, "known_bug", kb);
        return vmctl_migrate_known_bug(result);
    }
    return NULL;
}

bool vmctl_migrate_args_check(json_object *args, GError **error)
{
    static const char *const integers[] = { "bandwidth", "downtime", "timeout" };
    static const char *const flags[] = { "verify", "shared", "keep-source", "force" };
    static const char *const strings[] = { "name", "to", "strategy", "fault", "dest-backend" };
    static const char *const lists[] = { "dest-nvdimm", "dest-virtio-pmem" };
    json_object *v;

    for (size_t i = 0; args && i < G_N_ELEMENTS(integers); i++)
        if ((v = json_object_object_get(args, integers[i])) &&
            (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument '%s' must be a non-negative integer",
                        integers[i]);
            return false;
        }
    for (size_t i = 0; args && i < G_N_ELEMENTS(flags); i++)
        if ((v = json_object_object_get(args, flags[i])) && !json_object_is_type(v, json_type_boolean)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument '%s' must be true or false", flags[i]);
            return false;
        }
    for (size_t i = 0; args && i < G_N_ELEMENTS(strings); i++)
        if ((v = json_object_object_get(args, strings[i])) && !json_object_is_type(v, json_type_string)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument '%s' must be a string", strings[i]);
            return false;
        }
    for (size_t i = 0; args && i < G_N_ELEMENTS(lists); i++) {
        bool ok = !(v = json_object_object_get(args, lists[i])) || json_object_is_type(v, json_type_array);

        for (size_t k = 0; ok && v && k < json_object_array_length(v); k++)
            ok = json_object_is_type(json_object_array_get_idx(v, k), json_type_string);
        if (!ok) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument '%s' must be a list of strings (paths)",
                        lists[i]);
            return false;
        }
    }
    return true;
}
