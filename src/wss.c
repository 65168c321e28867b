/* wss.c: working-set estimation of a guest: the mechanism decision, the
 * guest RAM's page frames, idle page tracking and DAMON (paddr). The
 * dirty-log write set comes from dirty_rate.c. */
#include "config.h"

#include "wss.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pmem_backend.h"

#define PAGE_SIZE_4K 4096u               /* bytes */
#define PAGEMAP_PRESENT (UINT64_C(1) << 63)
#define PAGEMAP_PFN_MASK ((UINT64_C(1) << 55) - 1)
#define DAMON_MAX_INIT_REGIONS 1000u     /* regions given to DAMON at start */
#define DAMON_MAX_REGIONS 10000u         /* DAMON may split up to this many */
#define DAMON_SAMPLE_US 5000u            /* us between access checks */

static const char *const mech_names[] = {
    [VMCTL_WSS_PAGE_IDLE] = "page-idle",
    [VMCTL_WSS_DAMON] = "damon",
    [VMCTL_WSS_DIRTY_LOG] = "dirty-log",
};

const char *vmctl_wss_mechanism_name(VmctlWssMechanism m)
{
    return (unsigned)m < G_N_ELEMENTS(mech_names) ? mech_names[m] : "?";
}

bool vmctl_wss_kind_is_dax(const char *kind)
{
    return kind && (strcmp(kind, "devdax") == 0 || strcmp(kind, "fsdax") == 0);
}

static char *sysfs_path(const char *rel)
{
    return g_build_filename(vmctl_sysfs_root(), rel, NULL);
}

void vmctl_wss_host_probe(VmctlWssHost *host)
{
    g_autofree char *idle = sysfs_path("kernel/mm/page_idle/bitmap");
    g_autofree char *damon = sysfs_path("kernel/mm/damon/admin/kdamonds/nr_kdamonds");
    uint64_t n = 0;

    host->page_idle = g_file_test(idle, G_FILE_TEST_EXISTS);
    host->damon = g_file_test(damon, G_FILE_TEST_EXISTS);
    host->damon_kdamonds = host->damon && vmctl_read_u64(damon, &n, NULL) ? (unsigned)n : 0;
}

VmctlWssMechanism vmctl_wss_choose(const VmctlWssHost *host, bool *accessed, char **why)
{
    if (vmctl_wss_kind_is_dax(host->backend_kind)) {
        *accessed = false;
        *why = g_strdup_printf("accessed-bit tracking unavailable for DAX memory (backing '%s': ZONE_DEVICE pages are "
                               "not on the LRU, page_idle and DAMON do not see them): write set from the dirty log only",
                               host->backend_kind);
        return VMCTL_WSS_DIRTY_LOG;
    }
    *accessed = true;
    if (host->page_idle) {
        *why = g_strdup("idle page tracking over the guest RAM's page frames");
        return VMCTL_WSS_PAGE_IDLE;
    }
    if (host->damon && host->damon_kdamonds == 0) {
        *why = g_strdup("no page_idle; DAMON paddr monitoring over the guest RAM's page frames");
        return VMCTL_WSS_DAMON;
    }
    *accessed = false;
    if (host->damon)
        *why = g_strdup_printf("no page_idle, and DAMON is in use by another user (nr_kdamonds %u, left alone): write "
                               "set from the dirty log only",
                               host->damon_kdamonds);
    else
        *why = g_strdup("no page_idle and no DAMON sysfs interface: write set from the dirty log only");
    return VMCTL_WSS_DIRTY_LOG;
}

bool vmctl_wss_find_ram(pid_t pid, uint64_t memory, const char *path, uint64_t *start, uint64_t *len,
                        GError **error)
{
    g_autofree char *maps_path = g_strdup_printf("/proc/%d/maps", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GError) err = NULL;
    uint64_t best = 0;

    if (!g_file_get_contents(maps_path, &text, NULL, &err)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "cannot read '%s': %s", maps_path, err->message);
        return false;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l && **l; l++) {
        unsigned long long a, b;
        int off = 0;
        const char *name;

        if (sscanf(*l, "%llx-%llx %*s %*s %*s %*s %n", &a, &b, &off) < 2 || off == 0)
            continue;
        name = *l + off;
        if (path && *path == '/' ? strcmp(name, path) == 0 : (b - a >= memory && b - a > best)) {
            best = b - a;
            *start = a;
            *len = b - a;
            if (path && *path == '/')
                return true;
        }
    }
    if (best)
        return true;
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "no mapping of the guest RAM (%s) in '%s'",
                path && *path == '/' ? path : "largest mapping of at least the guest size", maps_path);
    return false;
}

static gint cmp_range(gconstpointer a, gconstpointer b)
{
    uint64_t x = ((const VmctlPfnRange *)a)->pfn, y = ((const VmctlPfnRange *)b)->pfn;

    return x < y ? -1 : x > y;
}

GArray *vmctl_wss_pfn_ranges(pid_t pid, uint64_t start, uint64_t len, uint64_t *present, GError **error)
{
    g_autofree char *pm_path = g_strdup_printf("/proc/%d/pagemap", (int)pid);
    g_autoptr(GArray) ranges = g_array_new(FALSE, FALSE, sizeof(VmctlPfnRange));
    g_autofree uint64_t *buf = g_new(uint64_t, 4096);
    uint64_t npages = len / PAGE_SIZE_4K, done = 0;
    int fd = open(pm_path, O_RDONLY | O_CLOEXEC);

    *present = 0;
    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "cannot open '%s': %s", pm_path, g_strerror(errno));
        return NULL;
    }
    while (done < npages) {
        size_t want = MIN(npages - done, 4096);
        ssize_t n = pread(fd, buf, want * 8, (off_t)((start / PAGE_SIZE_4K + done) * 8));

        if (n <= 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot read '%s': %s", pm_path,
                        n < 0 ? g_strerror(errno) : "short read");
            close(fd);
            return NULL;
        }
        for (size_t i = 0; i < (size_t)n / 8; i++) {
            uint64_t pfn = buf[i] & PAGEMAP_PFN_MASK;
            VmctlPfnRange *last = ranges->len ? &g_array_index(ranges, VmctlPfnRange, ranges->len - 1) : NULL;

            if (!(buf[i] & PAGEMAP_PRESENT))
                continue;
            if (pfn == 0) {
                close(fd);
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                            "'%s' shows no page frame numbers: reading them needs CAP_SYS_ADMIN", pm_path);
                return NULL;
            }
            (*present)++;
            if (last && last->pfn + last->count == pfn) {
                last->count++;
            } else {
                VmctlPfnRange r = { pfn, 1 };
                g_array_append_val(ranges, r);
            }
        }
        done += (uint64_t)n / 8;
    }
    close(fd);
    /* sorted by frame and merged, for clipping and DAMON's ordered regions */
    g_array_sort(ranges, cmp_range);
    for (guint i = 1, j = 0; i <= ranges->len; i++) {
        VmctlPfnRange *prev = &g_array_index(ranges, VmctlPfnRange, j);

        if (i == ranges->len) {
            g_array_set_size(ranges, ranges->len ? j + 1 : 0);
            break;
        }
        if (g_array_index(ranges, VmctlPfnRange, i).pfn == prev->pfn + prev->count)
            prev->count += g_array_index(ranges, VmctlPfnRange, i).count;
        else
            g_array_index(ranges, VmctlPfnRange, ++j) = g_array_index(ranges, VmctlPfnRange, i);
    }
    return g_steal_pointer(&ranges);
}

uint64_t vmctl_wss_clip(GArray *ranges, uint64_t start, uint64_t end)
{
    uint64_t sum = 0;

    for (guint i = 0; i < ranges->len; i++) {
        const VmctlPfnRange *r = &g_array_index(ranges, VmctlPfnRange, i);
        uint64_t a = MAX(start, r->pfn * PAGE_SIZE_4K), b = MIN(end, (r->pfn + r->count) * PAGE_SIZE_4K);

        if (b > a)
            sum += b - a;
    }
    return sum;
}

/* --- idle page tracking --- */

bool vmctl_wss_page_idle(GArray *ranges, unsigned seconds, uint64_t *accessed, GError **error)
{
    g_autofree char *path = sysfs_path("kernel/mm/page_idle/bitmap");
    int fd = open(path, O_RDWR | O_CLOEXEC);

    *accessed = 0;
    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "cannot open '%s': %s", path, g_strerror(errno));
        return false;
    }
    /* Each 64-bit word covers 64 frames; only the guest's bits are set. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            g_usleep((gulong)seconds * G_USEC_PER_SEC);
        for (guint i = 0; i < ranges->len; i++) {
            const VmctlPfnRange *r = &g_array_index(ranges, VmctlPfnRange, i);

            for (uint64_t pfn = r->pfn; pfn < r->pfn + r->count;) {
                uint64_t word_pfn = pfn & ~UINT64_C(63), mask = 0, w = 0;
                uint64_t stop = MIN(word_pfn + 64, r->pfn + r->count);
                off_t off = (off_t)(word_pfn / 64 * 8);

                for (uint64_t p = pfn; p < stop; p++)
                    mask |= UINT64_C(1) << (p - word_pfn);
                if (pass == 0 ? pwrite(fd, &mask, 8, off) != 8 : pread(fd, &w, 8, off) != 8) {
                    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot %s '%s' at frame %" G_GUINT64_FORMAT
                                ": %s", pass == 0 ? "write" : "read", path, pfn, g_strerror(errno));
                    close(fd);
                    return false;
                }
                if (pass == 1)
                    *accessed += (uint64_t)__builtin_popcountll(mask & ~w);
                pfn = stop;
            }
        }
    }
    close(fd);
    return true;
}

/* --- DAMON (paddr) through sysfs --- */

static bool damon_write(const char *rel, const char *value, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/kernel/mm/damon/admin/kdamonds/%s", vmctl_sysfs_root(), rel);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* as `echo > attr` does */
    size_t n = strlen(value);

    if (fd < 0 || write(fd, value, n) != (ssize_t)n) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot write '%s' to '%s': %s", value, path,
                    g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}

static bool damon_writef(const char *rel, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool damon_writef(const char *rel, GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *v = NULL;

    va_start(ap, fmt);
    v = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return damon_write(rel, v, error);
}

/* Merge runs over the smallest gaps until at most MAX remain (DAMON's
 * regions must be few and ordered; the gaps are clipped away afterwards). */
static GArray *damon_regions(GArray *ranges, guint max)
{
    GArray *out = g_array_copy(ranges);

    for (uint64_t gap = 1; out->len > max; gap *= 2) {
        guint j = 0;

        for (guint i = 1; i < out->len; i++) {
            VmctlPfnRange *prev = &g_array_index(out, VmctlPfnRange, j);
            const VmctlPfnRange *cur = &g_array_index(out, VmctlPfnRange, i);

            if (cur->pfn - (prev->pfn + prev->count) <= gap)
                prev->count = cur->pfn + cur->count - prev->pfn;
            else
                g_array_index(out, VmctlPfnRange, ++j) = *cur;
        }
        g_array_set_size(out, j + 1);
    }
    return out;
}

static bool damon_setup(GArray *regions, unsigned seconds, GError **error)
{
    const char *ctx = "0/contexts/0";

    if (!damon_write("nr_kdamonds", "1", error) || !damon_write("0/contexts/nr_contexts", "1", error) ||
        !damon_write("0/contexts/0/operations", "paddr", error) ||
        /* one aggregation interval spans the whole window: nr_accesses
         * then counts the samples with an access during all of it */
        !damon_writef("0/contexts/0/monitoring_attrs/intervals/sample_us", error, "%u", DAMON_SAMPLE_US) ||
        !damon_writef("0/contexts/0/monitoring_attrs/intervals/aggr_us", error, "%u", seconds * 1000000u) ||
        !damon_writef("0/contexts/0/monitoring_attrs/intervals/update_us", error, "%u", seconds * 1000000u) ||
        !damon_writef("0/contexts/0/monitoring_attrs/nr_regions/min", error, "%u", MIN(regions->len, 10u)) ||
        !damon_writef("0/contexts/0/monitoring_attrs/nr_regions/max", error, "%u", DAMON_MAX_REGIONS) ||
        !damon_write("0/contexts/0/targets/nr_targets", "1", error) ||
        !damon_writef("0/contexts/0/targets/0/regions/nr_regions", error, "%u", regions->len))
        return false;
    for (guint i = 0; i < regions->len; i++) {
        const VmctlPfnRange *r = &g_array_index(regions, VmctlPfnRange, i);
        g_autofree char *s = g_strdup_printf("%s/targets/0/regions/%u/start", ctx, i);
        g_autofree char *e = g_strdup_printf("%s/targets/0/regions/%u/end", ctx, i);

        if (!damon_writef(s, error, "%" G_GUINT64_FORMAT, r->pfn * PAGE_SIZE_4K) ||
            !damon_writef(e, error, "%" G_GUINT64_FORMAT, (r->pfn + r->count) * PAGE_SIZE_4K))
            return false;
    }
    /* a 'stat' scheme that matches every region, to read them back */
    return damon_write("0/contexts/0/schemes/nr_schemes", "1", error) &&
           damon_write("0/contexts/0/schemes/0/action", "stat", error) &&
           damon_write("0/contexts/0/schemes/0/access_pattern/sz/min", "0", error) &&
           damon_writef("0/contexts/0/schemes/0/access_pattern/sz/max", error, "%" G_GUINT64_FORMAT, UINT64_MAX) &&
           damon_write("0/contexts/0/schemes/0/access_pattern/nr_accesses/min", "0", error) &&
           damon_write("0/contexts/0/schemes/0/access_pattern/nr_accesses/max", "4294967295", error) &&
           damon_write("0/contexts/0/schemes/0/access_pattern/age/min", "0", error) &&
           damon_write("0/contexts/0/schemes/0/access_pattern/age/max", "4294967295", error);
}

static bool damon_read_regions(GArray *ranges, uint64_t *accessed, uint64_t *nr, GError **error)
{
    g_autofree char *dir =
        g_strdup_printf("%s/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/0/tried_regions", vmctl_sysfs_root());
    g_autoptr(GDir) d = g_dir_open(dir, 0, error);
    const char *ent;

    *accessed = *nr = 0;
    if (!d)
        return false;
    while ((ent = g_dir_read_name(d))) {
        g_autofree char *ps = NULL, *pe = NULL, *pa = NULL;
        uint64_t s, e, a;

        if (!g_ascii_isdigit(ent[0]))
            continue;
        ps = g_build_filename(dir, ent, "start", NULL);
        pe = g_build_filename(dir, ent, "end", NULL);
        pa = g_build_filename(dir, ent, "nr_accesses", NULL);
        if (!vmctl_read_u64(ps, &s, error) || !vmctl_read_u64(pe, &e, error) || !vmctl_read_u64(pa, &a, error))
            return false;
        (*nr)++;
        if (a > 0)
            *accessed += vmctl_wss_clip(ranges, s, e);
    }
    return true;
}

bool vmctl_wss_damon(GArray *ranges, unsigned seconds, uint64_t *accessed_bytes, uint64_t *nr_regions,
                     GError **error)
{
    g_autoptr(GArray) regions = damon_regions(ranges, DAMON_MAX_INIT_REGIONS);
    g_autofree char *nr_path = sysfs_path("kernel/mm/damon/admin/kdamonds/nr_kdamonds");
    uint64_t n = 1;
    bool ok;

    /* Never take over kdamonds someone else set up. */
    if (!vmctl_read_u64(nr_path, &n, error))
        return false;
    if (n != 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "DAMON is in use by another user ('%s' is %" G_GUINT64_FORMAT ")", nr_path, n);
        return false;
    }
    if (regions->len == 0) {
        g_set_error_literal(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "the guest RAM has no present page frames");
        return false;
    }
    ok = damon_setup(regions, seconds, error) && damon_write("0/state", "on", error);
    if (ok) {
        /* one aggregation interval, then the next scheme pass reports the
         * regions (the write returns once the kdamond has done it) */
        g_usleep((gulong)seconds * G_USEC_PER_SEC + 200000);
        ok = damon_write("0/state", "update_schemes_tried_regions", error) &&
             damon_read_regions(ranges, accessed_bytes, nr_regions, error);
    }
    /* restore: stop our kdamond and remove it, whatever happened above */
    damon_write("0/state", "off", NULL);
    damon_write("nr_kdamonds", "0", NULL);
    return ok;
}
