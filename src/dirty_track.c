/* dirty_track.c: page sets, the dirty-log checkers, the tracking modes as a
 * table of hooks (bitmap: KVM_GET_DIRTY_LOG; clear: manual protect with
 * KVM_CLEAR_DIRTY_LOG; ring: the per-vCPU dirty ring) and the probe that
 * runs the guest through rounds of known writes and checks every harvest. */
#include "config.h"

#include "dirty_track.h"
#include "util.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

/* ---- page sets ---------------------------------------------------------- */

void vmctl_pageset_init(struct vmctl_pageset *ps, uint64_t npages)
{
    ps->npages = npages;
    ps->bits = g_new0(uint64_t, (npages + 63) / 64);
}

void vmctl_pageset_clear(struct vmctl_pageset *ps)
{
    g_clear_pointer(&ps->bits, g_free);
    ps->npages = 0;
}

uint64_t vmctl_pageset_words(const struct vmctl_pageset *ps)
{
    return (ps->npages + 63) / 64;
}

void vmctl_pageset_zero(struct vmctl_pageset *ps)
{
    memset(ps->bits, 0, vmctl_pageset_words(ps) * 8);
}

uint64_t vmctl_pageset_count(const struct vmctl_pageset *ps)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < vmctl_pageset_words(ps); i++)
        n += (uint64_t)__builtin_popcountll(ps->bits[i]);
    return n;
}

/* ---- checkers ----------------------------------------------------------- */

void vmctl_dirty_pages_add(struct vmctl_dirty_pages *p, uint64_t page)
{
    p->count++;
    for (uint32_t i = 0; i < p->listed; i++)
        if (p->pages[i] == page)
            return;
    if (p->listed < VMCTL_DIRTY_LISTED)
        p->pages[p->listed++] = page;
}

json_object *vmctl_dirty_pages_to_json(const struct vmctl_dirty_pages *p)
{
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();

    vmctl_json_add_u64(o, "count", p->count);
    for (uint32_t i = 0; i < p->listed; i++)
        json_object_array_add(arr, json_object_new_int64((int64_t)p->pages[i]));
    json_object_object_add(o, "first_pages", arr);
    return o;
}

/* Add the pages of one word (bit i = page base + i) to a report. */
static void add_word(struct vmctl_dirty_pages *p, uint64_t base, uint64_t word)
{
    while (word) {
        unsigned b = (unsigned)__builtin_ctzll(word);
        vmctl_dirty_pages_add(p, base + b);
        word &= word - 1;
    }
}

bool vmctl_dirty_check_exact(const struct vmctl_pageset *expected, const struct vmctl_pageset *harvested,
                             struct vmctl_dirty_pages *missing, struct vmctl_dirty_pages *extra)
{
    uint64_t before = missing->count, before_extra = extra->count;

    g_assert(expected->npages == harvested->npages);
    for (uint64_t i = 0; i < vmctl_pageset_words(expected); i++) {
        uint64_t e = expected->bits[i], h = harvested->bits[i];
        if (e & ~h)
            add_word(missing, i * 64, e & ~h);
        if (h & ~e)
            add_word(extra, i * 64, h & ~e);
    }
    return missing->count == before && extra->count == before_extra;
}

/* 64-bit hash of a 4K page (multiply-xorshift per word): a change of any
 * word changes it with overwhelming probability. */
uint64_t vmctl_dirty_page_hash(const void *page)
{
    const uint64_t *w = page;
    uint64_t h = 0x9e3779b97f4a7c15ull;

    for (size_t i = 0; i < VMCTL_VMM_PAGE / 8; i++) {
        h ^= w[i] + i;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return h;
}

bool vmctl_dirty_oracle_compare(const uint64_t *before, const uint64_t *after, const struct vmctl_pageset *dirty,
                                struct vmctl_dirty_pages *misses, uint64_t *changed)
{
    uint64_t m0 = misses->count;

    for (uint64_t p = 0; p < dirty->npages; p++) {
        if (before[p] == after[p])
            continue;
        (*changed)++;
        if (!vmctl_pageset_test(dirty, p))
            vmctl_dirty_pages_add(misses, p);
    }
    return misses->count == m0;
}

static void hash_all(const uint8_t *view, uint64_t npages, uint64_t *out)
{
    for (uint64_t p = 0; p < npages; p++)
        out[p] = vmctl_dirty_page_hash(view + p * VMCTL_VMM_PAGE);
}

void vmctl_dirty_oracle_init(struct vmctl_dirty_oracle *o, const void *view, uint64_t npages)
{
    o->view = view;
    o->npages = npages;
    o->hash = g_new(uint64_t, npages);
    o->scratch = g_new(uint64_t, npages);
    hash_all(o->view, npages, o->hash);
}

void vmctl_dirty_oracle_snapshot(struct vmctl_dirty_oracle *o)
{
    hash_all(o->view, o->npages, o->hash);
}

void vmctl_dirty_oracle_clear(struct vmctl_dirty_oracle *o)
{
    g_clear_pointer(&o->hash, g_free);
    g_clear_pointer(&o->scratch, g_free);
}

bool vmctl_dirty_oracle_check(struct vmctl_dirty_oracle *o, const struct vmctl_pageset *dirty,
                              struct vmctl_dirty_pages *misses, uint64_t *changed)
{
    uint64_t *t;
    bool ok;

    hash_all(o->view, o->npages, o->scratch);
    ok = vmctl_dirty_oracle_compare(o->hash, o->scratch, dirty, misses, changed);
    t = o->hash;
    o->hash = o->scratch;
    o->scratch = t;
    return ok;
}

bool vmctl_dirty_clear_range_ok(uint64_t first_page, uint64_t num_pages, uint64_t slot_pages, GError **error)
{
    if (num_pages == 0 || first_page >= slot_pages || num_pages > slot_pages - first_page) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "KVM_CLEAR_DIRTY_LOG range [%" G_GUINT64_FORMAT ", +%" G_GUINT64_FORMAT
                    ") is outside the slot of %" G_GUINT64_FORMAT " pages",
                    first_page, num_pages, slot_pages);
        return false;
    }
    if (first_page % 64 || (num_pages % 64 && first_page + num_pages != slot_pages)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "KVM_CLEAR_DIRTY_LOG range [%" G_GUINT64_FORMAT ", +%" G_GUINT64_FORMAT
                    ") is not 64-page aligned and does not end at the slot end (%" G_GUINT64_FORMAT " pages)",
                    first_page, num_pages, slot_pages);
        return false;
    }
    return true;
}

/* ---- modes -------------------------------------------------------------- */

#define CLEAR_CHUNK_PAGES (UINT64_C(1) << 18) /* pages per KVM_CLEAR_DIRTY_LOG call (1 GiB), multiple of 64 */
#define RING_MAX_ENTRIES 65536u                /* entries; a full ring never happens below half of it */

static bool get_log(struct vmctl_dirty_ctx *c, uint64_t *bits, GError **error)
{
    struct kvm_dirty_log dl = { .slot = c->slot, .dirty_bitmap = bits };
    const struct vmctl_vmm_region *r = vmctl_vmm_region(c->vmm, c->slot);

    if (ioctl(vmctl_vmm_vm_fd(c->vmm), KVM_GET_DIRTY_LOG, &dl) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                    "KVM_GET_DIRTY_LOG slot %u [0x%" G_GINT64_MODIFIER "x, +0x%" G_GINT64_MODIFIER "x) failed: %s",
                    c->slot, r ? r->gpa : 0, r ? r->size : 0, g_strerror(errno));
        return false;
    }
    return true;
}

static bool clear_log(struct vmctl_dirty_ctx *c, uint64_t *bits, GError **error)
{
    for (uint64_t first = 0; first < c->npages; first += CLEAR_CHUNK_PAGES) {
        uint64_t num = MIN(CLEAR_CHUNK_PAGES, c->npages - first);
        struct kvm_clear_dirty_log cl = {
            .slot = c->slot, .first_page = first, .num_pages = (uint32_t)num, .dirty_bitmap = bits + first / 64,
        };
        if (!vmctl_dirty_clear_range_ok(first, num, c->npages, error))
            return false;
        if (ioctl(vmctl_vmm_vm_fd(c->vmm), KVM_CLEAR_DIRTY_LOG, &cl) < 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                        "KVM_CLEAR_DIRTY_LOG slot %u pages [%" G_GUINT64_FORMAT ", +%" G_GUINT64_FORMAT ") failed: %s",
                        c->slot, first, num, g_strerror(errno));
            return false;
        }
    }
    return true;
}

static bool bitmap_supported(struct vmctl_vmm *vmm, char **reason)
{
    return true; /* KVM_GET_DIRTY_LOG is part of the base API */
}

static bool bitmap_harvest(struct vmctl_dirty_ctx *c, struct vmctl_pageset *into, GError **error)
{
    return get_log(c, into->bits, error); /* also write-protects again */
}

static bool bitmap_bare(struct vmctl_dirty_ctx *c, GError **error)
{
    return get_log(c, c->bare_buf, error);
}

static bool clear_supported(struct vmctl_vmm *vmm, char **reason)
{
    if (vmctl_vmm_check_cap(vmm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)
        return true;
    *reason = g_strdup("KVM does not offer KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
    return false;
}

static bool clear_setup(struct vmctl_dirty_ctx *c, GError **error)
{
    int caps = vmctl_vmm_check_cap(c->vmm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
    uint64_t flags = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | (caps & KVM_DIRTY_LOG_INITIALLY_SET);

    c->initially_set = caps & KVM_DIRTY_LOG_INITIALLY_SET;
    return vmctl_vmm_enable_cap(c->vmm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2", flags,
                                error);
}

static bool clear_reset(struct vmctl_dirty_ctx *c, const struct vmctl_pageset *harvested, GError **error)
{
    return clear_log(c, harvested->bits, error);
}

static bool clear_bare(struct vmctl_dirty_ctx *c, GError **error)
{
    return get_log(c, c->bare_buf, error) && clear_log(c, c->bare_buf, error);
}

static unsigned ring_cap(struct vmctl_vmm *vmm)
{
    if (vmctl_vmm_check_cap(vmm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL) > 0)
        return KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
    if (vmctl_vmm_check_cap(vmm, KVM_CAP_DIRTY_LOG_RING) > 0)
        return KVM_CAP_DIRTY_LOG_RING;
    return 0;
}

static bool ring_supported(struct vmctl_vmm *vmm, char **reason)
{
    if (ring_cap(vmm))
        return true;
    *reason = g_strdup("KVM offers neither KVM_CAP_DIRTY_LOG_RING_ACQ_REL nor KVM_CAP_DIRTY_LOG_RING");
    return false;
}

static bool ring_setup(struct vmctl_dirty_ctx *c, GError **error)
{
    unsigned cap = ring_cap(c->vmm);
    uint64_t max_bytes = (uint64_t)vmctl_vmm_check_cap(c->vmm, cap);
    uint64_t bytes = MIN(max_bytes, (uint64_t)RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn));

    if (c->ring_entries) { /* asked for a size */
        uint64_t want = (uint64_t)c->ring_entries * sizeof(struct kvm_dirty_gfn);
        if (c->ring_entries & (c->ring_entries - 1) || want > max_bytes || want < 4096) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "dirty ring of %u entries is not a power of two in [256, %" G_GUINT64_FORMAT "]",
                        c->ring_entries, max_bytes / sizeof(struct kvm_dirty_gfn));
            return false;
        }
        bytes = want;
    }
    c->ring_cap = cap;
    c->ring_entries = (uint32_t)(bytes / sizeof(struct kvm_dirty_gfn));
    return vmctl_vmm_enable_cap(c->vmm, cap,
                                cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL ? "KVM_CAP_DIRTY_LOG_RING_ACQ_REL"
                                                                      : "KVM_CAP_DIRTY_LOG_RING",
                                bytes, error);
}

static uint64_t ring_bytes(const struct vmctl_dirty_ctx *c)
{
    return (uint64_t)c->ring_entries * sizeof(struct kvm_dirty_gfn);
}

/* Walk the ring from the fetch index: take each dirty entry, mark it for
 * reset. `into` NULL: no bookkeeping at all (the bare loop). */
static void ring_collect(struct vmctl_dirty_ctx *c, struct vmctl_pageset *into)
{
    uint32_t n;
    struct kvm_dirty_gfn *ring = vmctl_vmm_ring(c->vmm, &n);

    for (;;) {
        struct kvm_dirty_gfn *e = &ring[c->ring_fetch & (n - 1)];
        uint32_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

        if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
            break;
        if (into) {
            if ((e->slot & 0xffff) == c->slot && e->offset < c->npages) {
                if (vmctl_pageset_test(into, e->offset))
                    c->ring_duplicates++;
                vmctl_pageset_set(into, e->offset);
            } else {
                c->ring_foreign++;
            }
        }
        __atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
        c->ring_fetch++;
    }
}

static bool ring_reset_ioctl(struct vmctl_dirty_ctx *c, GError **error)
{
    if (ioctl(vmctl_vmm_vm_fd(c->vmm), KVM_RESET_DIRTY_RINGS, 0) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_RESET_DIRTY_RINGS (slot %u) failed: %s", c->slot,
                    g_strerror(errno));
        return false;
    }
    return true;
}

static bool ring_harvest(struct vmctl_dirty_ctx *c, struct vmctl_pageset *into, GError **error)
{
    ring_collect(c, into);
    return true;
}

static bool ring_reset(struct vmctl_dirty_ctx *c, const struct vmctl_pageset *harvested, GError **error)
{
    return ring_reset_ioctl(c, error);
}

static bool ring_bare(struct vmctl_dirty_ctx *c, GError **error)
{
    ring_collect(c, NULL);
    return ring_reset_ioctl(c, error);
}

const struct vmctl_dirty_mode vmctl_dirty_modes[] = {
    { .name = "bitmap", .harvest_cost = "get", .reset_cost = NULL, .supported = bitmap_supported,
      .harvest = bitmap_harvest, .bare = bitmap_bare },
    { .name = "clear", .harvest_cost = "get", .reset_cost = "clear", .supported = clear_supported,
      .setup = clear_setup, .harvest = bitmap_harvest, .reset = clear_reset, .bare = clear_bare },
    { .name = "ring", .harvest_cost = "collect", .reset_cost = "reset", .supported = ring_supported,
      .setup = ring_setup, .ring_bytes = ring_bytes, .harvest = ring_harvest, .reset = ring_reset,
      .bare = ring_bare },
};
const size_t vmctl_dirty_n_modes = G_N_ELEMENTS(vmctl_dirty_modes);

const struct vmctl_dirty_mode *vmctl_dirty_mode_find(const char *name)
{
    for (size_t i = 0; i < vmctl_dirty_n_modes; i++)
        if (strcmp(vmctl_dirty_modes[i].name, name) == 0)
            return &vmctl_dirty_modes[i];
    return NULL;
}

/* ---- faults ------------------------------------------------------------- */

static const struct {
    const char *name;
    VmctlDirtyFaultKind kind;
    bool has_number;
} fault_kinds[] = {
    { "drop-page", VMCTL_DIRTY_FAULT_DROP_PAGE, true },   { "host-write", VMCTL_DIRTY_FAULT_HOST_WRITE, true },
    { "extra-page", VMCTL_DIRTY_FAULT_EXTRA_PAGE, true }, { "log-off", VMCTL_DIRTY_FAULT_LOG_OFF, true },
    { "keep-logging", VMCTL_DIRTY_FAULT_KEEP_LOGGING, false },
    { "keep-hugepages", VMCTL_DIRTY_FAULT_KEEP_HUGEPAGES, false },
};

bool vmctl_dirty_fault_parse(const char *str, struct vmctl_dirty_fault *out, GError **error)
{
    *out = (struct vmctl_dirty_fault){ VMCTL_DIRTY_FAULT_NONE, 0 };
    if (!str || !*str)
        return true;
    for (size_t i = 0; i < G_N_ELEMENTS(fault_kinds); i++) {
        size_t n = strlen(fault_kinds[i].name);

        if (strncmp(str, fault_kinds[i].name, n) != 0)
            continue;
        if (!fault_kinds[i].has_number && str[n] == '\0') {
            out->kind = fault_kinds[i].kind;
            return true;
        }
        if (fault_kinds[i].has_number && str[n] == ':') {
            out->kind = fault_kinds[i].kind;
            return vmctl_parse_uint("VMCTL_PROBE_FAULT number", str + n + 1, UINT32_MAX, &out->page, error);
        }
    }
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                "VMCTL_PROBE_FAULT '%s' is not drop-page:N, host-write:N, extra-page:N, log-off:ROUND, "
                "keep-logging or keep-hugepages",
                str);
    return false;
}

char *vmctl_dirty_fault_to_string(const struct vmctl_dirty_fault *f)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fault_kinds); i++)
        if (fault_kinds[i].kind == f->kind)
            return fault_kinds[i].has_number ? g_strdup_printf("%s:%" G_GUINT64_FORMAT, fault_kinds[i].name, f->page)
                                             : g_strdup(fault_kinds[i].name);
    return NULL;
}

/* ---- results ------------------------------------------------------------ */

const char *vmctl_dirty_verdict_name(VmctlDirtyVerdict v)
{
    static const char *const names[] = { "pass", "fail", "n/a", "error" };
    return names[v];
}

void vmctl_dirty_result_clear(struct vmctl_dirty_result *r)
{
    g_free(r->backing);
    g_free(r->mode);
    g_free(r->reason);
    g_free(r->oracle_reason);
    g_free(r->get_log_with_ring);
    g_free(r->huge_verdict);
    g_free(r->fault);
    g_free(r->backing_detail);
    memset(r, 0, sizeof(*r));
}

static json_object *cost_to_json(const struct vmctl_dirty_result *r, const struct vmctl_dirty_cost *c)
{
    json_object *o = json_object_new_object();
    g_autofree char *hk = NULL;

    vmctl_json_add_u64(o, "samples", c->samples);
    if (r->mode_ops) {
        hk = g_strdup_printf("%s_ns_per_gib", r->mode_ops->harvest_cost);
        vmctl_json_add_u64(o, hk, c->harvest_ns_per_gib);
        if (r->mode_ops->reset_cost) {
            g_autofree char *rk = g_strdup_printf("%s_ns_per_gib", r->mode_ops->reset_cost);
            vmctl_json_add_u64(o, rk, c->reset_ns_per_gib);
        }
    }
    vmctl_json_add_u64(o, "harvest_ns_per_gib", c->total_ns_per_gib);
    if (c->bare_samples) {
        vmctl_json_add_u64(o, "bare_samples", c->bare_samples);
        vmctl_json_add_u64(o, "bare_ns_per_gib", c->bare_ns_per_gib);
    }
    return o;
}

json_object *vmctl_dirty_result_to_json(const struct vmctl_dirty_result *r)
{
    json_object *o = json_object_new_object();
    json_object *oracle, *stats, *cost;

    vmctl_json_add_str(o, "backing", r->backing);
    vmctl_json_add_str(o, "mode", r->mode);
    vmctl_json_add_str(o, "verdict", vmctl_dirty_verdict_name(r->verdict));
    if (r->reason)
        vmctl_json_add_str(o, "reason", r->reason);
    if (r->fault)
        vmctl_json_add_str(o, "fault", r->fault);
    if (r->verdict == VMCTL_DIRTY_NA || r->npages == 0)
        return o;
    if (r->backing_detail)
        vmctl_json_add_str(o, "backing_detail", r->backing_detail);
    if (r->hugepages_reserved) {
        json_object *h = json_object_new_object();
        vmctl_json_add_u64(h, "reserved", r->hugepages_reserved);
        vmctl_json_add_bool(h, "restored", r->hugepages_restored);
        json_object_object_add(o, "hugepages", h);
    }
    vmctl_json_add_u64(o, "size", r->size);
    vmctl_json_add_u64(o, "pages", r->npages);
    vmctl_json_add_u64(o, "backing_page_size", r->backing_page_size);
    vmctl_json_add_u64(o, "rounds", r->rounds);
    vmctl_json_add_u64(o, "written_pages", r->written);
    vmctl_json_add_u64(o, "harvested_pages", r->harvested);
    if (r->initially_set)
        vmctl_json_add_bool(o, "initially_set_ok", r->initially_set_ok);
    vmctl_json_add_bool(o, "initially_set", r->initially_set);
    json_object_object_add(o, "missing", vmctl_dirty_pages_to_json(&r->missing));
    json_object_object_add(o, "extra", vmctl_dirty_pages_to_json(&r->extra));

    oracle = json_object_new_object();
    vmctl_json_add_bool(oracle, "applies", r->oracle_applies);
    if (r->oracle_applies) {
        vmctl_json_add_u64(oracle, "changed_pages", r->oracle_changed);
        json_object_object_add(oracle, "misses", vmctl_dirty_pages_to_json(&r->oracle_misses));
    } else {
        vmctl_json_add_str(oracle, "reason", r->oracle_reason);
    }
    json_object_object_add(o, "oracle", oracle);

    if (r->ring_entries) {
        json_object *ring = json_object_new_object();
        vmctl_json_add_u64(ring, "entries", r->ring_entries);
        vmctl_json_add_u64(ring, "full_exits", r->ring_full_exits);
        vmctl_json_add_u64(ring, "duplicates", r->ring_duplicates);
        vmctl_json_add_u64(ring, "foreign", r->ring_foreign);
        if (r->get_log_with_ring)
            vmctl_json_add_str(ring, "get_dirty_log_while_on", r->get_log_with_ring);
        json_object_object_add(o, "ring", ring);
    }

    stats = json_object_new_object();
    json_object_object_add(stats, "before", vmctl_vmm_stats_to_json(&r->stats_before));
    json_object_object_add(stats, "during", vmctl_vmm_stats_to_json(&r->stats_during));
    json_object_object_add(stats, "after", vmctl_vmm_stats_to_json(&r->stats_after));
    vmctl_json_add_bool(stats, "huge_applicable", r->huge_applicable);
    if (r->huge_applicable)
        vmctl_json_add_bool(stats, "huge_restored", r->huge_restored);
    vmctl_json_add_str(stats, "huge_verdict", r->huge_verdict);
    json_object_object_add(o, "stats", stats);

    cost = json_object_new_object();
    json_object_object_add(cost, "few", cost_to_json(r, &r->few));
    json_object_object_add(cost, "all", cost_to_json(r, &r->all));
    json_object_object_add(o, "cost", cost);
    return o;
}
