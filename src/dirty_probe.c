/* dirty_probe.c: the dirty-log probe for one backing and one mode. The
 * guest writes a known page set per round (few, all, every third, random);
 * each harvest is checked for exactness against that set and, on file
 * backings, for completeness against the backing's own bytes. KVM's page
 * statistics are sampled before, during and after logging, and every
 * harvest is timed (with the bare ioctls as baseline when asked). */
#include "config.h"

#include "dirty_track.h"
#include "util.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

typedef enum { PAT_FEW, PAT_ALL, PAT_MANY, PAT_RANDOM, PAT_N } Pattern;

struct probe {
    struct vmctl_dirty_ctx c;
    const struct vmctl_dirty_mode *m;
    struct vmctl_probe_backing *b;
    const struct vmctl_dirty_probe_opts *o;
    struct vmctl_dirty_result *res;
    struct vmctl_pageset got;      /* harvested this round */
    struct vmctl_pageset expected; /* written this round */
    GArray *list;                  /* guest-physical addresses of list rounds */
    bool bare;                     /* drains run the bare hook */
    uint64_t harvest_ns, reset_ns, bare_ns; /* this round, mid-round drains included */
    GArray *samples[2][3];         /* [few|all][harvest|reset|bare] ns */
};

/* The round's command and expected set. */
static void plan_round(struct probe *p, Pattern pat, unsigned round, struct vmctl_vmm_writes *w)
{
    uint64_t n = p->c.npages;

    vmctl_pageset_zero(&p->expected);
    g_array_set_size(p->list, 0);
    *w = (struct vmctl_vmm_writes){ .gpa = VMCTL_VMM_PROBE_GPA, .stride = VMCTL_VMM_PAGE,
                                    .value = ((uint64_t)(round + 1) << 32) | 0x5eed };
    switch (pat) {
    case PAT_ALL:
    case PAT_MANY: {
        uint64_t step = pat == PAT_ALL ? 1 : 3, first = pat == PAT_ALL ? 0 : round % 3;
        for (uint64_t pg = first; pg < n; pg += step)
            vmctl_pageset_set(&p->expected, pg);
        w->gpa += first * VMCTL_VMM_PAGE;
        w->stride = step * VMCTL_VMM_PAGE;
        w->count = first < n ? (n - first + step - 1) / step : 0;
        return;
    }
    case PAT_FEW: {
        /* slot edges, a 64-page word edge, the middle, and one that moves */
        uint64_t few[] = { 0, 1, 63, 64, n / 2, n - 2, n - 1, ((uint64_t)round * 977) % n };
        for (size_t i = 0; i < G_N_ELEMENTS(few); i++)
            if (few[i] < n)
                vmctl_pageset_set(&p->expected, few[i]);
        break;
    }
    case PAT_RANDOM: {
        g_autoptr(GRand) rng = g_rand_new_with_seed((guint32)(p->o->seed * 2654435761u + round));
        for (uint64_t pg = 0; pg < n; pg++)
            if (g_rand_int_range(rng, 0, 8) == 0)
                vmctl_pageset_set(&p->expected, pg);
        break;
    }
    case PAT_N:
        g_assert_not_reached();
    }
    for (uint64_t pg = 0; pg < n; pg++)
        if (vmctl_pageset_test(&p->expected, pg)) {
            uint64_t gpa = VMCTL_VMM_PROBE_GPA + pg * VMCTL_VMM_PAGE;
            g_array_append_val(p->list, gpa);
        }
    w->list = (const uint64_t *)(void *)p->list->data;
    w->count = p->list->len;
}

/* Harvest and reset once, timing both (or the bare hook). */
static bool drain(struct probe *p, GError **error)
{
    uint64_t t0 = vmctl_now_ns(), t1, t2;

    if (p->bare) {
        if (!p->m->bare(&p->c, error))
            return false;
        p->bare_ns += vmctl_now_ns() - t0;
        return true;
    }
    if (!p->m->harvest(&p->c, &p->got, error))
        return false;
    t1 = vmctl_now_ns();
    if (p->m->reset && !p->m->reset(&p->c, &p->got, error))
        return false;
    t2 = vmctl_now_ns();
    p->harvest_ns += t1 - t0;
    p->reset_ns += t2 - t1;
    return true;
}

/* Run one command. With a ring, split it so that no run dirties more than
 * half the ring, and drain between the pieces: the ring never fills. A
 * DIRTY_RING_FULL exit is still handled (drain, run on). */
static bool run_cmd(struct probe *p, const struct vmctl_vmm_writes *w, GError **error)
{
    uint64_t chunk = p->c.ring_entries && !p->o->ring_fill ? p->c.ring_entries / 2 : MAX(w->count, 1);

    for (uint64_t off = 0; off < w->count || off == 0; off += chunk) {
        struct vmctl_vmm_writes sub = *w;
        int r;

        sub.count = MIN(chunk, w->count - off);
        if (w->list)
            sub.list = w->list + off;
        else
            sub.gpa = w->gpa + off * w->stride;
        r = vmctl_vmm_run(p->c.vmm, &sub, error);
        while (r == VMCTL_VMM_RING_FULL) {
            p->res->ring_full_exits++;
            if (!drain(p, error))
                return false;
            r = vmctl_vmm_resume(p->c.vmm, error);
        }
        if (r < 0)
            return false;
        if (p->c.ring_entries && off + chunk < w->count && !drain(p, error)) /* between pieces */
            return false;
        if (w->count == 0)
            break;
    }
    return true;
}

/* The faults that act on a harvest in software, before the checks. */
static void apply_harvest_fault(struct probe *p)
{
    if (p->o->fault.kind == VMCTL_DIRTY_FAULT_DROP_PAGE)
        vmctl_pageset_unset(&p->got, p->o->fault.page);
    if (p->o->fault.kind == VMCTL_DIRTY_FAULT_EXTRA_PAGE)
        vmctl_pageset_set(&p->got, p->o->fault.page);
}

static bool set_logging(struct probe *p, bool on, GError **error)
{
    return vmctl_vmm_set_region(p->c.vmm, "probe", VMCTL_VMM_PROBE_GPA, p->res->size, p->b->map, on, error) >= 0;
}

static uint64_t median(GArray *a)
{
    uint64_t *v = (uint64_t *)(void *)a->data;

    if (a->len == 0)
        return 0;
    for (guint i = 1; i < a->len; i++)
        for (guint j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[a->len / 2];
}

static uint64_t per_gib(uint64_t ns, uint64_t size)
{
    return (uint64_t)((double)ns * (double)GiB / (double)size + 0.5);
}

static void fill_cost(struct probe *p, int cls, struct vmctl_dirty_cost *c)
{
    uint64_t h = median(p->samples[cls][0]), r = median(p->samples[cls][1]);
    uint64_t size = p->res->size;

    c->samples = p->samples[cls][0]->len;
    c->harvest_ns_per_gib = per_gib(h, size);
    c->reset_ns_per_gib = per_gib(r, size);
    {
        /* median of the sums, not the sum of the medians */
        g_autoptr(GArray) tot = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        for (guint i = 0; i < p->samples[cls][0]->len; i++) {
            uint64_t t = g_array_index(p->samples[cls][0], uint64_t, i) + g_array_index(p->samples[cls][1], uint64_t, i);
            g_array_append_val(tot, t);
        }
        c->total_ns_per_gib = per_gib(median(tot), size);
    }
    c->bare_samples = p->samples[cls][2]->len;
    c->bare_ns_per_gib = per_gib(median(p->samples[cls][2]), size);
}

/* One checked round: write, harvest, reset, check. */
static bool round_checked(struct probe *p, Pattern pat, unsigned round, struct vmctl_dirty_oracle *oracle,
                          GError **error)
{
    struct vmctl_vmm_writes w;

    plan_round(p, pat, round, &w);
    vmctl_pageset_zero(&p->got);
    p->harvest_ns = p->reset_ns = 0;
    if (round == 0 && p->o->fault.kind == VMCTL_DIRTY_FAULT_HOST_WRITE)
        vmctl_probe_backing_host_write(p->b, p->o->fault.page, 0xbad0bad0bad0bad0ull);
    if (p->o->fault.kind == VMCTL_DIRTY_FAULT_LOG_OFF && round == p->o->fault.page) {
        /* the guest writes while KVM is told not to log: the whole path must show the loss */
        if (!set_logging(p, false, error) || !run_cmd(p, &w, error) || !set_logging(p, true, error))
            return false;
    } else if (!run_cmd(p, &w, error)) {
        return false;
    }
    if (!drain(p, error))
        return false;
    if (pat == PAT_FEW || pat == PAT_ALL) {
        int cls = pat == PAT_ALL;
        g_array_append_val(p->samples[cls][0], p->harvest_ns);
        g_array_append_val(p->samples[cls][1], p->reset_ns);
    }
    apply_harvest_fault(p);
    vmctl_dirty_check_exact(&p->expected, &p->got, &p->res->missing, &p->res->extra);
    if (oracle->hash)
        vmctl_dirty_oracle_check(oracle, &p->got, &p->res->oracle_misses, &p->res->oracle_changed);
    p->res->written += vmctl_pageset_count(&p->expected);
    p->res->harvested += vmctl_pageset_count(&p->got);
    return true;
}

/* The first harvest after logging is switched on: empty, or every page
 * with KVM_DIRTY_LOG_INITIALLY_SET. */
static bool round_initial(struct probe *p, GError **error)
{
    uint64_t before = p->res->missing.count, before_extra = p->res->extra.count;

    vmctl_pageset_zero(&p->expected);
    if (p->c.initially_set)
        for (uint64_t pg = 0; pg < p->c.npages; pg++)
            vmctl_pageset_set(&p->expected, pg);
    vmctl_pageset_zero(&p->got);
    if (!drain(p, error))
        return false;
    apply_harvest_fault(p);
    vmctl_dirty_check_exact(&p->expected, &p->got, &p->res->missing, &p->res->extra);
    p->res->initially_set = p->c.initially_set;
    p->res->initially_set_ok = p->res->missing.count == before && p->res->extra.count == before_extra;
    return true;
}

/* Bare loop, interleaved with the checked rounds so both see the same
 * machine: the same guest writes, only the ioctls timed, nothing checked. */
static bool bare_round(struct probe *p, Pattern pat, unsigned round, GError **error)
{
    struct vmctl_vmm_writes w;
    int cls = pat == PAT_ALL;

    plan_round(p, pat, 1000 + round, &w);
    p->bare = true;
    p->bare_ns = 0;
    if (!run_cmd(p, &w, error) || !drain(p, error))
        return false;
    p->bare = false;
    g_array_append_val(p->samples[cls][2], p->bare_ns);
    return true;
}

static void huge_verdict(struct probe *p)
{
    struct vmctl_dirty_result *r = p->res;
    uint64_t hb = r->stats_before.pages_2m + r->stats_before.pages_1g;
    uint64_t hd = r->stats_during.pages_2m + r->stats_during.pages_1g;
    uint64_t ha = r->stats_after.pages_2m + r->stats_after.pages_1g;

    r->huge_applicable = false;
    if (!r->stats_before.available)
        r->huge_verdict = g_strdup("not applicable: KVM binary stats are not available");
    else if (p->b->page_size <= VMCTL_VMM_PAGE)
        r->huge_verdict = g_strdup("not applicable: the backing has 4K pages");
    else if (hb == 0)
        r->huge_verdict = g_strdup("not applicable: KVM mapped this huge-page backing with 4K pages only before "
                                   "dirty logging (pages_2m and pages_1g stayed 0)");
    else {
        r->huge_applicable = true;
        r->huge_restored = ha >= hb;
        r->huge_verdict = g_strdup_printf("huge mappings %" G_GUINT64_FORMAT " before, %" G_GUINT64_FORMAT
                                          " during, %" G_GUINT64_FORMAT " after logging: %s",
                                          hb, hd, ha, ha >= hb ? "restored" : "not restored");
    }
}

static void read_stats(struct probe *p, struct vmctl_vmm_stats *st)
{
    /* unavailable stats show as "available": false, they do not stop the probe */
    vmctl_vmm_read_stats(p->c.vmm, st, NULL);
}

/* Record what KVM_GET_DIRTY_LOG says while the ring is on (ENXIO expected). */
static void probe_get_log_with_ring(struct probe *p)
{
    g_autofree uint64_t *buf = g_new0(uint64_t, vmctl_pageset_words(&p->got));
    struct kvm_dirty_log dl = { .slot = p->c.slot, .dirty_bitmap = buf };

    if (ioctl(vmctl_vmm_vm_fd(p->c.vmm), KVM_GET_DIRTY_LOG, &dl) < 0)
        p->res->get_log_with_ring = g_strdup(errno == ENXIO ? "ENXIO" : g_strerror(errno));
    else
        p->res->get_log_with_ring = g_strdup("succeeded");
}

static bool probe_body(struct probe *p, GError **error)
{
    struct vmctl_dirty_result *res = p->res;
    g_autoptr(vmctl_vmm) vmm = NULL;
    struct vmctl_dirty_oracle oracle = { 0 };
    struct vmctl_vmm_writes all;
    void *hva = p->b->map;
    int slot;
    bool ok = false;

    vmm = vmctl_vmm_new(error);
    if (!vmm)
        return false;
    p->c.vmm = vmm;
    if (p->m->setup && !p->m->setup(&p->c, error))
        goto out;
    /* the probed slot first without logging: the "before" picture */
    slot = vmctl_vmm_set_region(vmm, "probe", VMCTL_VMM_PROBE_GPA, res->size, hva, false, error);
    if (slot < 0)
        goto out;
    p->c.slot = (uint32_t)slot;
    if (!vmctl_vmm_start(vmm, p->c.npages * 8 /* a page list of the whole slot */,
                         p->m->ring_bytes ? p->m->ring_bytes(&p->c) : 0, error))
        goto out;
    res->ring_entries = p->c.ring_entries;

    plan_round(p, PAT_ALL, 999, &all);
    if (!run_cmd(p, &all, error))
        goto out;
    read_stats(p, &res->stats_before);

    if (!set_logging(p, true, error))
        goto out;
    if (p->c.ring_entries)
        probe_get_log_with_ring(p);
    if (!round_initial(p, error))
        goto out;
    if (p->b->view)
        vmctl_dirty_oracle_init(&oracle, p->b->view, p->c.npages);
    for (unsigned r = 0; r < p->o->rounds; r++) {
        Pattern pat = (Pattern)(r % PAT_N);
        bool bare = p->o->bare && (pat == PAT_FEW || pat == PAT_ALL);
        bool bare_first = bare && (r / PAT_N) % 2; /* alternate the order: no bias from what ran before */

        if (bare_first && !bare_round(p, pat, r, error))
            goto out;
        /* a bare round's writes are harvested by it: the oracle must not see them as a change */
        if (bare_first && oracle.hash)
            vmctl_dirty_oracle_snapshot(&oracle);
        if (!round_checked(p, pat, r, &oracle, error))
            goto out;
        if (bare && !bare_first && !bare_round(p, pat, r, error))
            goto out;
        if (bare && !bare_first && oracle.hash)
            vmctl_dirty_oracle_snapshot(&oracle);
    }
    read_stats(p, &res->stats_during);

    if (p->o->fault.kind != VMCTL_DIRTY_FAULT_KEEP_LOGGING && !set_logging(p, false, error))
        goto out;
    plan_round(p, PAT_ALL, 998, &all);
    if (!run_cmd(p, &all, error))
        goto out;
    read_stats(p, &res->stats_after);
    ok = true;
out:
    if (p->m->teardown)
        p->m->teardown(&p->c);
    res->ring_duplicates = p->c.ring_duplicates;
    res->ring_foreign = p->c.ring_foreign;
    vmctl_dirty_oracle_clear(&oracle);
    return ok;
}

bool vmctl_dirty_probe_run(struct vmctl_probe_backing *b, const struct vmctl_dirty_mode *mode,
                           const struct vmctl_dirty_probe_opts *opts, struct vmctl_dirty_result *res,
                           GError **error)
{
    struct probe p = { .m = mode, .b = b, .o = opts, .res = res };
    bool ok;

    res->backing = g_strdup(b->spec);
    res->mode = g_strdup(mode->name);
    res->mode_ops = mode;
    res->size = b->size;
    res->npages = b->size / VMCTL_VMM_PAGE;
    res->backing_page_size = b->page_size;
    res->backing_detail = g_strdup(b->detail);
    res->hugepages_reserved = b->hugepages_added;
    res->rounds = opts->rounds;
    res->fault = vmctl_dirty_fault_to_string(&opts->fault);
    if (opts->fault.kind == VMCTL_DIRTY_FAULT_LOG_OFF && opts->fault.page >= opts->rounds) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "VMCTL_PROBE_FAULT round %" G_GUINT64_FORMAT " is not one of the %u rounds", opts->fault.page,
                    opts->rounds);
        res->verdict = VMCTL_DIRTY_ERROR;
        return false;
    }
    if ((opts->fault.kind == VMCTL_DIRTY_FAULT_DROP_PAGE || opts->fault.kind == VMCTL_DIRTY_FAULT_HOST_WRITE ||
         opts->fault.kind == VMCTL_DIRTY_FAULT_EXTRA_PAGE) && opts->fault.page >= res->npages) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "VMCTL_PROBE_FAULT page %" G_GUINT64_FORMAT " is outside the slot of %" G_GUINT64_FORMAT " pages",
                    opts->fault.page, res->npages);
        res->verdict = VMCTL_DIRTY_ERROR;
        return false;
    }
    res->oracle_applies = b->view != NULL;
    if (!b->view)
        res->oracle_reason = g_strdup("anonymous memory has no backing file to read behind KVM's back");

    p.c.npages = res->npages;
    if (mode->ring_bytes)
        p.c.ring_entries = opts->ring_entries;
    vmctl_pageset_init(&p.got, p.c.npages);
    vmctl_pageset_init(&p.expected, p.c.npages);
    p.c.bare_buf = g_new0(uint64_t, vmctl_pageset_words(&p.got));
    p.list = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            p.samples[i][j] = g_array_new(FALSE, FALSE, sizeof(uint64_t));

    ok = probe_body(&p, error);
    if (ok) {
        fill_cost(&p, 0, &res->few);
        fill_cost(&p, 1, &res->all);
        huge_verdict(&p);
        res->verdict = res->missing.count || res->extra.count || res->oracle_misses.count ? VMCTL_DIRTY_FAIL
                                                                                         : VMCTL_DIRTY_PASS;
    } else {
        res->verdict = VMCTL_DIRTY_ERROR;
    }

    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            g_array_unref(p.samples[i][j]);
    g_array_unref(p.list);
    g_free(p.c.bare_buf);
    vmctl_pageset_clear(&p.got);
    vmctl_pageset_clear(&p.expected);
    return ok;
}

static struct vmctl_dirty_result *na_result(const char *backing, const char *mode, VmctlDirtyVerdict v,
                                            const char *reason)
{
    struct vmctl_dirty_result *r = g_new0(struct vmctl_dirty_result, 1);

    r->backing = g_strdup(backing);
    r->mode = g_strdup(mode);
    r->verdict = v;
    r->reason = g_strdup(reason);
    return r;
}

void vmctl_dirty_result_free(gpointer p)
{
    vmctl_dirty_result_clear(p);
    g_free(p);
}

bool vmctl_dirty_probe_matrix(const char *const *backings, bool backings_given, const char *const *modes,
                              bool modes_given, const struct vmctl_dirty_probe_opts *opts, GPtrArray *results,
                              GPtrArray *errors, GError **error)
{
    g_autoptr(vmctl_vmm) caps = vmctl_vmm_new(error);
    bool failed = false;

    if (!caps)
        return false;
    for (size_t bi = 0; backings[bi]; bi++) {
        g_autoptr(GError) berr = NULL;
        g_autoptr(vmctl_probe_backing) b = vmctl_probe_backing_open(backings[bi], opts->size, &berr);
        bool b_na = !b && !backings_given && g_error_matches(berr, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED);
        guint first = results->len;

        for (size_t mi = 0; modes[mi]; mi++) {
            const struct vmctl_dirty_mode *m = vmctl_dirty_mode_find(modes[mi]);
            g_autofree char *why = NULL;
            g_autoptr(GError) perr = NULL;
            struct vmctl_dirty_result *r;

            if (!m->supported(caps, &why)) {
                g_ptr_array_add(results, na_result(backings[bi], modes[mi],
                                                   modes_given ? VMCTL_DIRTY_ERROR : VMCTL_DIRTY_NA, why));
                if (modes_given) {
                    g_ptr_array_add(errors, g_strdup_printf("mode '%s': %s", modes[mi], why));
                    failed = true;
                }
                continue;
            }
            if (!b) {
                g_ptr_array_add(results, na_result(backings[bi], modes[mi], b_na ? VMCTL_DIRTY_NA : VMCTL_DIRTY_ERROR,
                                                   berr->message));
                continue;
            }
            r = g_new0(struct vmctl_dirty_result, 1);
            if (!vmctl_dirty_probe_run(b, m, opts, r, &perr)) {
                r->reason = g_strdup(perr->message);
                g_ptr_array_add(errors, g_strdup(perr->message));
                failed = true;
            }
            if (r->verdict == VMCTL_DIRTY_FAIL || (r->huge_applicable && !r->huge_restored))
                failed = true;
            g_ptr_array_add(results, r);
        }
        if (b && opts->fault.kind == VMCTL_DIRTY_FAULT_KEEP_HUGEPAGES && b->hugepages_added) {
            /* the test fault: the pool stays raised, as a failed give-back leaves it */
            g_ptr_array_add(errors, g_strdup_printf("backing '%s': %" G_GUINT64_FORMAT " 2M huge pages reserved for "
                                                    "it were not given back (VMCTL_PROBE_FAULT=keep-hugepages)",
                                                    backings[bi], b->hugepages_added));
            b->hugepages_added = 0;
            failed = true;
            continue; /* its results keep hugepages_restored false */
        }
        if (b) {
            g_autoptr(GError) rerr = NULL;
            bool restored = vmctl_probe_backing_release(b, &rerr);

            for (guint i = first; i < results->len; i++)
                ((struct vmctl_dirty_result *)results->pdata[i])->hugepages_restored = restored;
            if (!restored) {
                g_ptr_array_add(errors, g_strdup(rerr->message));
                failed = true;
            }
        }
        if (!b && !b_na) {
            g_ptr_array_add(errors, g_strdup(berr->message));
            failed = true;
        }
    }
    return !failed;
}
