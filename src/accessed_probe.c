/* accessed_probe.c: accessed-bit coverage of one guest memory backing,
 * measured with the in-process KVM VMM reading a known page set (see
 * accessed_probe.h for the mechanisms and what counts as evidence). */
#include "config.h"

#include "accessed_probe.h"

#include "kvm_vmm.h"
#include "pmem_backend.h"
#include "probe_backing.h"
#include "util.h"
#include "wss.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PAGE_4K 4096u                  /* bytes */
#define CHUNK_PAGES 512u               /* 4 KiB pages in a 2 MiB chunk */
#define TOUCH_PER_CHUNK 16u            /* pages read in each even chunk */
#define TOUCH_STRIDE 32u               /* pages between two of them */
#define HOST_CONTROL_PAGES 8u          /* pages the host reads itself (control) */
#define DAMON_WINDOW_S 1u              /* seconds per DAMON measurement */
#define PAGEMAP_PRESENT (UINT64_C(1) << 63)
#define PAGEMAP_PFN_MASK ((UINT64_C(1) << 55) - 1)

void vmctl_accessed_result_free(gpointer p)
{
    VmctlAccessedResult *r = p;

    if (!r)
        return;
    g_free(r->backing);
    g_free(r->summary);
    json_object_put(r->evidence);
    g_free(r);
}

uint64_t vmctl_accessed_plan(uint64_t npages, guint8 *touched)
{
    uint64_t n = 0;

    memset(touched, 0, npages);
    for (uint64_t c = 0; c * CHUNK_PAGES < npages; c += 2)
        for (uint64_t k = 0; k < TOUCH_PER_CHUNK; k++) {
            uint64_t pg = c * CHUNK_PAGES + k * TOUCH_STRIDE;
            if (pg < npages) {
                touched[pg] = 1;
                n++;
            }
        }
    return n;
}

VmctlAccessedVerdict vmctl_accessed_judge(uint64_t npages, uint64_t granule, const guint8 *touched,
                                          const guint8 *seen, VmctlAccessedTally *t)
{
    *t = (VmctlAccessedTally){ .first_missed = UINT64_MAX, .first_false = UINT64_MAX };
    if (granule == 0)
        granule = 1;
    for (uint64_t g0 = 0; g0 < npages; g0 += granule) {
        uint64_t g1 = MIN(g0 + granule, npages);
        bool any = false;

        for (uint64_t p = g0; p < g1; p++)
            any |= touched[p] != 0;
        for (uint64_t p = g0; p < g1; p++) {
            if (touched[p]) {
                t->touched++;
                if (seen[p]) {
                    t->seen_touched++;
                } else {
                    t->missed++;
                    t->first_missed = MIN(t->first_missed, p);
                }
            } else if (!any && seen[p]) {
                t->false_seen++;
                t->first_false = MIN(t->first_false, p);
            }
        }
    }
    if (t->touched == 0)
        return VMCTL_ACCESSED_ERROR;
    return t->missed || t->false_seen ? VMCTL_ACCESSED_FAIL : VMCTL_ACCESSED_PASS;
}

static VmctlAccessedResult *result_new(const char *spec)
{
    VmctlAccessedResult *r = g_new0(VmctlAccessedResult, 1);

    r->backing = g_strdup(spec);
    r->verdict = VMCTL_ACCESSED_ERROR;
    r->evidence = json_object_new_object();
    return r;
}

static void result_set(VmctlAccessedResult *r, VmctlAccessedVerdict v, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void result_set(VmctlAccessedResult *r, VmctlAccessedVerdict v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_free(r->summary);
    r->summary = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    r->verdict = v;
}

/* The frame of each 4 KiB page of [addr, addr + npages pages) in this
 * process (0: not present or frame numbers hidden without CAP_SYS_ADMIN). */
static bool own_pfns(const void *addr, uint64_t npages, uint64_t *pfn, GError **error)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    ssize_t want = (ssize_t)(npages * 8);
    ssize_t n;

    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot open '/proc/self/pagemap': %s",
                    g_strerror(errno));
        return false;
    }
    n = pread(fd, pfn, (size_t)want, (off_t)((uintptr_t)addr / PAGE_4K * 8));
    close(fd);
    if (n != want) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot read '/proc/self/pagemap': %s",
                    n < 0 ? g_strerror(errno) : "short read");
        return false;
    }
    for (uint64_t i = 0; i < npages; i++)
        pfn[i] = pfn[i] & PAGEMAP_PRESENT ? pfn[i] & PAGEMAP_PFN_MASK : 0;
    return true;
}

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Idle page tracking: the bits of all given frames set idle, one write per
 * 64-frame word (writes OR into the bitmap; a frame left out of a word's
 * mask keeps its state). */
static bool idle_mark(int fd, const char *path, const uint64_t *pfn, uint64_t n, GError **error)
{
    g_autofree uint64_t *sorted = g_memdup2(pfn, n * 8);

    qsort(sorted, n, 8, (int (*)(const void *, const void *))cmp_u64);
    for (uint64_t i = 0; i < n;) {
        uint64_t word = sorted[i] / 64, mask = 0;

        for (; i < n && sorted[i] / 64 == word; i++)
            mask |= UINT64_C(1) << (sorted[i] % 64);
        if (pwrite(fd, &mask, 8, (off_t)(word * 8)) != 8) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot write '%s' at frame %" G_GUINT64_FORMAT
                        ": %s", path, word * 64, g_strerror(errno));
            return false;
        }
    }
    return true;
}

struct slot {
    struct vmctl_vmm *vmm;
    struct vmctl_probe_backing *b;
    uint64_t npages;
    guint8 *touched;
    GArray *list; /* guest-physical addresses of the touched pages */
};

static bool read_touched(struct slot *s, GError **error)
{
    struct vmctl_vmm_writes w = { .list = (const uint64_t *)(void *)s->list->data, .count = s->list->len,
                                  .read = true };

    return vmctl_vmm_run(s->vmm, &w, error) == VMCTL_VMM_DONE;
}

static bool measure_page_idle(struct slot *s, const uint64_t *pfn, guint8 *seen, GError **error)
{
    g_autofree char *path = g_build_filename(vmctl_sysfs_root(), "kernel/mm/page_idle/bitmap", NULL);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    bool ok;

    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot open '%s': %s", path, g_strerror(errno));
        return false;
    }
    ok = idle_mark(fd, path, pfn, s->npages, error) && read_touched(s, error);
    for (uint64_t i = 0; ok && i < s->npages; i++) {
        uint64_t w = 0;

        if (pread(fd, &w, 8, (off_t)(pfn[i] / 64 * 8)) != 8) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot read '%s' at frame %" G_GUINT64_FORMAT ": %s",
                        path, pfn[i], g_strerror(errno));
            ok = false;
        }
        seen[i] = !((w >> (pfn[i] % 64)) & 1);
    }
    close(fd);
    return ok;
}

/* --- DAMON: the reads loop in a thread while DAMON watches --- */

struct reader {
    struct slot *s;
    gint stop;
    GError *error;
    uint64_t passes;
};

static gpointer reader_main(gpointer data)
{
    struct reader *rd = data;

    while (!g_atomic_int_get(&rd->stop) && !rd->error)
        if (read_touched(rd->s, &rd->error))
            rd->passes++;
    return NULL;
}

static GArray *frame_ranges(const uint64_t *pfn, const guint8 *want, uint64_t npages)
{
    g_autoptr(GArray) f = g_array_new(FALSE, FALSE, 8);
    GArray *ranges = g_array_new(FALSE, FALSE, sizeof(VmctlPfnRange));

    for (uint64_t i = 0; i < npages; i++)
        if (want[i])
            g_array_append_val(f, pfn[i]);
    g_array_sort(f, cmp_u64);
    for (guint i = 0; i < f->len; i++) {
        uint64_t p = g_array_index(f, uint64_t, i);
        VmctlPfnRange *last = ranges->len ? &g_array_index(ranges, VmctlPfnRange, ranges->len - 1) : NULL;

        if (last && last->pfn + last->count == p) {
            last->count++;
        } else if (!last || last->pfn + last->count < p) {
            VmctlPfnRange r = { p, 1 };
            g_array_append_val(ranges, r);
        }
    }
    return ranges;
}

static bool measure_damon(struct slot *s, const uint64_t *pfn, uint64_t granule, VmctlAccessedTally *t,
                          json_object *ev, GError **error)
{
    g_autofree guint8 *untouched = g_malloc0(s->npages);
    g_autoptr(GArray) tr = NULL, ur = NULL;
    struct reader rd = { .s = s };
    GThread *th;
    uint64_t tb = 0, ub = 0, tn = 0, un = 0;
    bool ok;

    /* untouched: the pages of granules without a touched page */
    for (uint64_t g0 = 0; g0 < s->npages; g0 += granule) {
        bool any = false;
        for (uint64_t p = g0; p < MIN(g0 + granule, s->npages); p++)
            any |= s->touched[p] != 0;
        for (uint64_t p = g0; p < MIN(g0 + granule, s->npages); p++)
            untouched[p] = !any;
    }
    tr = frame_ranges(pfn, s->touched, s->npages);
    ur = frame_ranges(pfn, untouched, s->npages);
    th = g_thread_new("accessed-reader", reader_main, &rd);
    ok = vmctl_wss_damon(tr, DAMON_WINDOW_S, &tb, &tn, error) &&
         (ur->len == 0 || vmctl_wss_damon(ur, DAMON_WINDOW_S, &ub, &un, error));
    g_atomic_int_set(&rd.stop, 1);
    g_thread_join(th);
    if (ok && rd.error) {
        g_propagate_error(error, rd.error);
        return false;
    }
    g_clear_error(&rd.error);
    vmctl_json_add_u64(ev, "damon_read_passes", rd.passes);
    vmctl_json_add_u64(ev, "damon_touched_accessed_bytes", tb);
    vmctl_json_add_u64(ev, "damon_untouched_accessed_bytes", ub);
    vmctl_json_add_u64(ev, "damon_regions", tn + un);
    if (!ok)
        return false;
    /* region granularity: counts, no page names */
    *t = (VmctlAccessedTally){ .first_missed = UINT64_MAX, .first_false = UINT64_MAX };
    for (uint64_t i = 0; i < s->npages; i++)
        t->touched += s->touched[i];
    t->seen_touched = MIN(t->touched, tb / PAGE_4K);
    t->missed = t->touched - t->seen_touched;
    t->false_seen = ub / PAGE_4K;
    return true;
}

/* --- host page-table accessed bits (evidence only) --- */

/* "Referenced" of the mapping that contains addr, in KiB. */
static bool smaps_referenced(const void *addr, uint64_t *kb)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    bool inside = false;

    if (!g_file_get_contents("/proc/self/smaps", &text, NULL, NULL))
        return false;
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        unsigned long long a, b;
        char c;

        if (sscanf(*l, "%llx-%llx %c", &a, &b, &c) == 3 && strchr(*l, ' ') > strchr(*l, '-')) {
            inside = (uintptr_t)addr >= a && (uintptr_t)addr < b;
            continue;
        }
        if (inside && g_str_has_prefix(*l, "Referenced:"))
            return sscanf(*l, "Referenced: %" G_GUINT64_FORMAT, kb) == 1;
    }
    return false;
}

/* Clear the accessed bits of every page of this process (proc wants one
 * plain write, not a replaced file). */
static bool clear_refs(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, "1", 1) == 1;

    if (fd >= 0)
        close(fd);
    return ok;
}

static json_object *measure_host_pte(struct slot *s, GString *line)
{
    json_object *o = json_object_new_object();
    uint64_t k0 = 0, k1 = 0, k2 = 0, host = 0;
    volatile const uint64_t *map = s->b->map;
    uint64_t sink = 0;

    vmctl_json_add_str(o, "mechanism", "/proc/self/clear_refs + smaps Referenced: the host page-table accessed bits "
                                       "of the VMM's own mapping (not page_idle, not DAMON)");
    if (!clear_refs() || !smaps_referenced(s->b->map, &k0)) {
        vmctl_json_add_str(o, "error", "cannot clear or read the referenced state of this process");
        return o;
    }
    if (!read_touched(s, NULL) || !smaps_referenced(s->b->map, &k1)) {
        vmctl_json_add_str(o, "error", "the guest reads or the smaps read failed");
        return o;
    }
    for (uint64_t i = 0; i < s->npages && host < HOST_CONTROL_PAGES; i++)
        if (s->touched[i]) {
            sink += map[i * PAGE_4K / 8];
            host++;
        }
    (void)sink;
    smaps_referenced(s->b->map, &k2);
    vmctl_json_add_u64(o, "referenced_kb_after_clear", k0);
    vmctl_json_add_u64(o, "guest_pages_read", s->list->len);
    vmctl_json_add_u64(o, "referenced_kb_after_guest_reads", k1);
    vmctl_json_add_u64(o, "host_pages_read", host);
    vmctl_json_add_u64(o, "referenced_kb_after_host_reads", k2);
    g_string_append_printf(line, "host page-table accessed bits: %" G_GUINT64_FORMAT " KiB Referenced after %u guest "
                           "reads, %" G_GUINT64_FORMAT " KiB after %" G_GUINT64_FORMAT " host reads",
                           k1 > k0 ? k1 - k0 : 0, s->list->len, k2 > k1 ? k2 - k1 : 0, host);
    if (k2 <= k1)
        g_string_append(line, " (the host's own reads are not counted either: no evidence for this backing)");
    return o;
}

/* What was probed on the host, for every verdict. */
static void add_probed(json_object *ev, const VmctlWssHost *h, const char *why)
{
    json_object *p = json_object_new_object();
    g_autofree char *idle = g_build_filename(vmctl_sysfs_root(), "kernel/mm/page_idle/bitmap", NULL);
    g_autofree char *damon = g_build_filename(vmctl_sysfs_root(), "kernel/mm/damon/admin/kdamonds/nr_kdamonds", NULL);

    vmctl_json_add_str(p, "page_idle_bitmap", idle);
    vmctl_json_add_bool(p, "page_idle", h->page_idle);
    vmctl_json_add_str(p, "damon_nr_kdamonds_path", damon);
    vmctl_json_add_bool(p, "damon_sysfs", h->damon);
    vmctl_json_add_u64(p, "damon_kdamonds", h->damon_kdamonds);
    vmctl_json_add_str(p, "backing_kind", h->backend_kind);
    vmctl_json_add_str(p, "decision", why);
    json_object_object_add(ev, "probed", p);
}

/* Why no mechanism runs here, in plain words. */
static char *no_mechanism(const VmctlWssHost *h)
{
    const char *idle = h->page_idle ? "page_idle present but the guest frames are unreadable"
                                    : "page_idle absent (kernel without CONFIG_IDLE_PAGE_TRACKING)";

    if (!h->damon)
        return g_strdup_printf("%s, no DAMON sysfs interface", idle);
    return g_strdup_printf("%s, DAMON busy with another user's kdamond (nr_kdamonds %u, left alone)", idle,
                           h->damon_kdamonds);
}

static const char *spec_kind(const char *spec)
{
    if (g_str_has_prefix(spec, "devdax:"))
        return "devdax";
    if (g_str_has_prefix(spec, "fsdax:"))
        return "fsdax";
    return spec;
}

static void add_tally(json_object *ev, const VmctlAccessedTally *t)
{
    vmctl_json_add_u64(ev, "touched_pages", t->touched);
    vmctl_json_add_u64(ev, "seen_touched_pages", t->seen_touched);
    vmctl_json_add_u64(ev, "missed_pages", t->missed);
    if (t->first_missed != UINT64_MAX)
        vmctl_json_add_u64(ev, "first_missed_page", t->first_missed);
    vmctl_json_add_u64(ev, "untouched_seen_pages", t->false_seen);
    if (t->first_false != UINT64_MAX)
        vmctl_json_add_u64(ev, "first_untouched_seen_page", t->first_false);
}

static void judge_summary(VmctlAccessedResult *r, VmctlAccessedVerdict v, const char *mech,
                          const VmctlAccessedTally *t)
{
    g_autofree char *miss = t->first_missed != UINT64_MAX
                                ? g_strdup_printf(", first page %" G_GUINT64_FORMAT, t->first_missed)
                                : g_strdup("");
    g_autofree char *fals = t->first_false != UINT64_MAX
                                ? g_strdup_printf(", first page %" G_GUINT64_FORMAT, t->first_false)
                                : g_strdup("");

    if (v == VMCTL_ACCESSED_PASS)
        result_set(r, v, "%s: all %" G_GUINT64_FORMAT " pages the guest read were seen accessed, no untouched page",
                   mech, t->touched);
    else if (v == VMCTL_ACCESSED_FAIL)
        result_set(r, v, "%s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " pages the guest read were missed%s; %"
                   G_GUINT64_FORMAT " untouched pages seen accessed%s",
                   mech, t->missed, t->touched, miss, t->false_seen, fals);
    else
        result_set(r, v, "%s: no page was read", mech);
}

/* Memory whose pages are not on the LRU: page_idle and DAMON (paddr)
 * look only at LRU folios, so they cannot see these at all. */
static bool off_lru(const char *kind)
{
    return vmctl_wss_kind_is_dax(kind) || (kind && g_str_has_prefix(kind, "hugetlbfs"));
}

static void probe_mapped(VmctlAccessedResult *r, struct slot *s, const VmctlWssHost *h, VmctlWssMechanism m,
                         bool accessed)
{
    g_autofree uint64_t *pfn = g_new0(uint64_t, s->npages);
    g_autofree guint8 *seen = g_malloc0(s->npages);
    g_autoptr(GString) host_line = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    uint64_t granule = MAX(s->b->page_size / PAGE_4K, 1);
    bool frames = own_pfns(s->b->map, s->npages, pfn, &err);
    VmctlAccessedTally t;
    VmctlAccessedVerdict v;

    for (uint64_t i = 0; frames && i < s->npages; i++)
        frames = pfn[i] != 0;
    json_object_object_add(r->evidence, "host_pte_accessed", measure_host_pte(s, host_line));
    vmctl_json_add_bool(json_object_object_get(r->evidence, "probed"), "guest_frames_readable", frames);
    vmctl_json_add_u64(r->evidence, "granule_pages", granule);
    if (!accessed || !frames) {
        g_autofree char *why = no_mechanism(h);
        result_set(r, VMCTL_ACCESSED_NA, "%s%s%s; %s", why,
                   h->page_idle && !frames ? " (frame numbers in /proc/self/pagemap need CAP_SYS_ADMIN)" : "",
                   vmctl_wss_kind_is_dax(h->backend_kind)
                       ? " (and DAX pages are ZONE_DEVICE, not on the LRU that page_idle and DAMON read)"
                       : "",
                   host_line->str);
        return;
    }
    vmctl_json_add_str(r->evidence, "mechanism", vmctl_wss_mechanism_name(m));
    if (m == VMCTL_WSS_PAGE_IDLE) {
        if (!measure_page_idle(s, pfn, seen, &err)) {
            result_set(r, VMCTL_ACCESSED_ERROR, "%s", err->message);
            return;
        }
        v = vmctl_accessed_judge(s->npages, granule, s->touched, seen, &t);
    } else {
        if (!measure_damon(s, pfn, granule, &t, r->evidence, &err)) {
            result_set(r, VMCTL_ACCESSED_ERROR, "%s", err->message);
            return;
        }
        v = t.missed || t.false_seen ? VMCTL_ACCESSED_FAIL : VMCTL_ACCESSED_PASS;
    }
    add_tally(r->evidence, &t);
    if (v == VMCTL_ACCESSED_FAIL && t.seen_touched == 0 && t.false_seen == 0 && off_lru(h->backend_kind)) {
        /* measured blind, and the kernel says why: say so plainly, a
         * limit of the mechanism on this memory, not a wrong answer */
        vmctl_json_add_bool(r->evidence, "measured_blind", true);
        result_set(r, VMCTL_ACCESSED_NA,
                   "%s saw none of the %" G_GUINT64_FORMAT " pages the guest read (measured): %s pages are not on "
                   "the LRU, which %s reads; only writes can be tracked there (dirty log)",
                   vmctl_wss_mechanism_name(m), t.touched,
                   vmctl_wss_kind_is_dax(h->backend_kind) ? "DAX (ZONE_DEVICE)" : "hugetlbfs",
                   vmctl_wss_mechanism_name(m));
        return;
    }
    judge_summary(r, v, vmctl_wss_mechanism_name(m), &t);
}

VmctlAccessedResult *vmctl_accessed_probe(const char *spec, uint64_t size, bool given)
{
    VmctlAccessedResult *r = result_new(spec);
    g_autoptr(vmctl_probe_backing) b = NULL;
    g_autoptr(vmctl_vmm) vmm = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) list = g_array_new(FALSE, FALSE, 8);
    g_autofree guint8 *touched = NULL;
    g_autofree char *why = NULL;
    VmctlWssHost h = { 0 };
    VmctlWssMechanism m;
    struct slot s = { 0 };
    bool accessed;

    vmctl_wss_host_probe(&h);
    h.backend_kind = spec_kind(spec);
    {
        /* DAX is measured like any memory, not assumed: the same mechanism
         * is asked to see the pages the guest read (probe_mapped says what
         * it saw, and why, with the evidence) */
        VmctlWssHost any = h;
        any.backend_kind = NULL;
        m = vmctl_wss_choose(&any, &accessed, &why);
    }
    add_probed(r->evidence, &h, why);
    b = vmctl_probe_backing_open(spec, size, &err);
    if (!b) {
        result_set(r, !given && g_error_matches(err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED) ? VMCTL_ACCESSED_NA
                                                                                          : VMCTL_ACCESSED_ERROR,
                   "%s", err->message);
        return r;
    }
    json_object_object_add(r->evidence, "backing",
                           json_object_new_string(b->detail ? b->detail : b->kind_name));
    vmctl_json_add_u64(r->evidence, "backing_page_size", b->page_size);
    vmctl_json_add_u64(r->evidence, "slot_bytes", b->size);
    s.npages = b->size / PAGE_4K;
    touched = g_malloc0(s.npages);
    vmctl_accessed_plan(s.npages, touched);
    for (uint64_t i = 0; i < s.npages; i++)
        if (touched[i]) {
            uint64_t gpa = VMCTL_VMM_PROBE_GPA + i * PAGE_4K;
            g_array_append_val(list, gpa);
        }
    vmm = vmctl_vmm_new(&err);
    if (!vmm || !vmctl_vmm_start(vmm, list->len * 8, 0, &err) ||
        vmctl_vmm_set_region(vmm, "probe", VMCTL_VMM_PROBE_GPA, b->size, b->map, false, &err) < 0) {
        result_set(r, err && err->code == VMCTL_ERROR_UNSUPPORTED ? VMCTL_ACCESSED_NA : VMCTL_ACCESSED_ERROR, "%s",
                   err->message);
        return r;
    }
    /* every page written once by the guest: present, and mapped by KVM */
    {
        struct vmctl_vmm_writes all = { .gpa = VMCTL_VMM_PROBE_GPA, .stride = PAGE_4K, .count = s.npages,
                                        .value = 0xacce55ed };
        if (vmctl_vmm_run(vmm, &all, &err) != VMCTL_VMM_DONE) {
            result_set(r, VMCTL_ACCESSED_ERROR, "%s", err ? err->message : "the guest did not finish");
            return r;
        }
    }
    vmctl_json_add_u64(r->evidence, "guest_pages_read", list->len);
    s = (struct slot){ .vmm = vmm, .b = b, .npages = s.npages, .touched = touched, .list = list };
    probe_mapped(r, &s, &h, m, accessed);
    return r;
}
