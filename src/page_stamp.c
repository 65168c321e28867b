/* page_stamp.c: the host-side page-stamp checker (see page_stamp.h).
 *
 * Two ways to find the pages:
 * - offset mode: the control page is at a given byte offset and stamped
 *   page i follows it at offset + (i + 1) * 4096 (a memory-backend-file of
 *   a guest, where file offset == guest-physical address);
 * - scan mode: the control page is found by its magic anywhere in the image
 *   (on a 4 KiB boundary) and each stamped page by magic + region + index,
 *   wherever it is (a file on a DAX filesystem inside a guest's NVDIMM,
 *   whose blocks are not contiguous). Same pages carry no index: they are
 *   counted and checked as a pool.
 *
 * In offset mode the stamped pages are cut into units that worker threads
 * check in turn (page_work.h); the units' reports are merged in index
 * order. A file in 4 KiB pages is read into a buffer per worker rather than
 * mapped: a bulk copy costs less than a fault and an unmap per page.
 *
 * The image is taken as it is: a running guest keeps writing, so callers
 * pause it first for a consistent view.
 */
#include "config.h"

#include "page_stamp.h"
#include "page_work.h"
#include "sysfs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Stamped pages a worker takes at a time (64 MiB). */
#define UNIT_PAGES (UINT64_C(16384))
/* Pages read at a time in read mode: the buffer stays in the L2 cache. */
#define READ_PAGES 64u
/* st_blksize from which a file is mapped rather than read: huge pages. */
#define HUGE_BLKSIZE (UINT64_C(2) << 20)

static const char *const verdict_names[VMCTL_PAGE_VERDICTS] = {
    [VMCTL_STAMP_OK] = "ok",         [VMCTL_STAMP_BAD_MAGIC] = "bad_magic", [VMCTL_STAMP_BAD_INDEX] = "bad_index",
    [VMCTL_STAMP_BAD_CSUM] = "bad_csum", [VMCTL_STAMP_STALE] = "stale",     [VMCTL_STAMP_AHEAD] = "ahead",
    [VMCTL_PAGE_MISSING] = "missing",
};

const char *vmctl_page_verdict_name(enum vmctl_stamp_verdict v)
{
    return (unsigned)v < VMCTL_PAGE_VERDICTS ? verdict_names[v] : "unknown";
}

static const uint64_t *page_at(const uint8_t *image, uint64_t off)
{
    return (const uint64_t *)(const void *)(image + off);
}

/* A control page is usable when its fields describe a region that can
 * exist; anything else is taken for stale or foreign data. */
static bool ctl_valid(const struct vmctl_stamp_ctl *c, const char **why)
{
    if (c->magic != VMCTL_STAMP_CTL_MAGIC)
        *why = "its magic is not VMTCTL1";
    else if (c->version != VMCTL_STAMP_VERSION)
        *why = "its version is not 1";
    else if (c->region == 0)
        *why = "its region is 0";
    else if (c->page_count == 0)
        *why = "its page_count is 0";
    else if (c->same_pages > c->page_count || c->ws_pages > c->page_count - c->same_pages)
        *why = "same_pages + ws_pages exceed page_count";
    else if (c->stamped > c->page_count)
        *why = "stamped exceeds page_count";
    else
        return true;
    return false;
}

static void record(VmctlPagesReport *r, const struct vmctl_stamp_ctl *ctl, uint64_t i, uint64_t off,
                   const uint64_t *page, enum vmctl_stamp_verdict v)
{
    r->checked++;
    r->counts[v]++;
    if (v == VMCTL_STAMP_OK)
        return;
    r->bad++;
    if (r->n_first < VMCTL_PAGES_FIRST_MAX) {
        VmctlPageBad *b = &r->first[r->n_first++];

        b->index = i;
        b->offset = off;
        b->verdict = v;
        b->expected_gen = vmctl_stamp_expected_gen(ctl, i);
        b->actual_gen = page ? page[VMCTL_STAMP_W_GEN] : 0;
    }
}

static void missing_beyond(VmctlPagesReport *r, uint64_t end, uint64_t off);

/* Stamped pages [i, i + n) at `pages`, image offset of the control page
 * `off`: a verdict for each page not in flight. */
static void check_pages(VmctlPagesReport *r, const struct vmctl_stamp_ctl *ctl, const uint8_t *pages, uint64_t i,
                        uint64_t n, uint64_t off)
{
    for (uint64_t k = 0; k < n; k++) {
        const uint64_t *p = page_at(pages, k * VMCTL_PAGE_SIZE);
        enum vmctl_stamp_verdict v;

        if (vmctl_stamp_in_flight(ctl, i + k)) {
            r->in_flight++;
            continue;
        }
        v = vmctl_stamp_check_page(ctl, p, i + k);
        record(r, ctl, i + k, off + (i + k + 1) * VMCTL_PAGE_SIZE, p, v);
        /* working-set page number w at generation g was last rewritten by
         * write (g - 1) * ws + w + 1: the latest one any page shows */
        if ((v == VMCTL_STAMP_OK || v == VMCTL_STAMP_STALE || v == VMCTL_STAMP_AHEAD) && p[VMCTL_STAMP_W_GEN] &&
            i + k >= ctl->same_pages && i + k < ctl->same_pages + ctl->ws_pages)
            r->writes_seen = MAX(r->writes_seen, (p[VMCTL_STAMP_W_GEN] - 1) * ctl->ws_pages + (i + k - ctl->same_pages) + 1);
    }
}

/* pread exactly len bytes at off. */
static bool read_full(int fd, const char *path, void *buf, uint64_t len, uint64_t off, GError **error)
{
    uint64_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, off + done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                        "cannot read '%s' at offset '%" G_GUINT64_FORMAT "': %s", path, off + done,
                        n < 0 ? g_strerror(errno) : "the image ends there");
            return false;
        }
        done += n;
    }
    return true;
}

/* An offset-mode walk over stamped pages [0, end): from memory, or read
 * through fd into a buffer per worker. */
struct stamp_walk {
    VmctlPagesReport *total; /* its ctl is the control page of the walk */
    const uint8_t *image;    /* NULL: read mode */
    int fd;
    const char *path;
    uint64_t off; /* control page */
    uint64_t end;
    uint64_t unit_pages;
    uint8_t **bufs; /* [workers], READ_PAGES pages each, in read mode */
};

/* n pages at image offset `at` into the worker's buffer. */
static const uint8_t *read_pages(struct stamp_walk *sw, unsigned worker, uint64_t at, uint64_t n, GError **error)
{
    if (!sw->bufs[worker] &&
        posix_memalign((void **)&sw->bufs[worker], VMCTL_PAGE_SIZE, READ_PAGES * VMCTL_PAGE_SIZE) != 0) {
        sw->bufs[worker] = NULL;
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "no memory for a read buffer of %u pages", READ_PAGES);
        return NULL;
    }
    if (!read_full(sw->fd, sw->path, sw->bufs[worker], n * VMCTL_PAGE_SIZE, at, error))
        return NULL;
    return sw->bufs[worker];
}

static void *check_unit(void *data, unsigned worker, uint64_t unit, bool quiet, GError **error)
{
    struct stamp_walk *sw = data;
    uint64_t i0 = unit * sw->unit_pages, i1 = MIN(i0 + sw->unit_pages, sw->end);
    uint64_t step = sw->image ? i1 - i0 : READ_PAGES;
    g_autofree VmctlPagesReport *part = g_new0(VmctlPagesReport, 1);

    (void)quiet; /* a unit lists VMCTL_PAGES_FIRST_MAX pages at most anyway */
    for (uint64_t i = i0; i < i1; i += step) {
        uint64_t n = MIN(step, i1 - i), at = sw->off + (i + 1) * VMCTL_PAGE_SIZE;
        const uint8_t *pages = sw->image ? sw->image + at : read_pages(sw, worker, at, n, error);

        if (!pages)
            return NULL;
        check_pages(part, &sw->total->ctl, pages, i, n, sw->off);
    }
    return g_steal_pointer(&part);
}

static bool merge_unit(void *data, void *result)
{
    VmctlPagesReport *r = ((struct stamp_walk *)data)->total;
    VmctlPagesReport *part = result;

    r->checked += part->checked;
    r->in_flight += part->in_flight;
    r->writes_seen = MAX(r->writes_seen, part->writes_seen);
    r->bad += part->bad;
    for (unsigned v = 0; v < VMCTL_PAGE_VERDICTS; v++)
        r->counts[v] += part->counts[v];
    for (unsigned k = 0; k < part->n_first && r->n_first < VMCTL_PAGES_FIRST_MAX; k++)
        r->first[r->n_first++] = part->first[k];
    g_free(part);
    return r->n_first == VMCTL_PAGES_FIRST_MAX;
}

static const struct vmctl_page_work_ops check_ops = {
    .unit = check_unit,
    .merge = merge_unit,
    .free_result = g_free,
};

/* The control page, its copy in ctl_bytes, is at off: take it when valid. */
static bool take_ctl(VmctlPagesReport *r, const void *ctl_bytes, uint64_t off, GError **error)
{
    const char *why = NULL;

    memcpy(&r->ctl, ctl_bytes, sizeof(r->ctl));
    if (!ctl_valid(&r->ctl, &why)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND,
                    "no control page at offset '%" G_GUINT64_FORMAT "': %s", off, why);
        return false;
    }
    r->ctl_offset = off;
    r->ctl_copies = 1;
    return true;
}

static bool ctl_fits(uint64_t size, uint64_t off, GError **error)
{
    if (off <= size && size - off >= VMCTL_PAGE_SIZE)
        return true;
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND,
                "no control page at offset '%" G_GUINT64_FORMAT "': the image has %" G_GUINT64_FORMAT " bytes", off,
                size);
    return false;
}

static bool walk_stamped(struct stamp_walk *sw, uint64_t size, const VmctlPagesCheckOptions *opts, GError **error);

/* Pages ahead of the control page: either those pages were written out of
 * turn, or the control page itself is stale (a lost write of the control
 * page makes every page rewritten since look ahead). Check again against the
 * latest write the pages show; the reading with fewer bad pages stands, the
 * stale control page counted as one. */
static bool judge_ctl_behind(struct stamp_walk *sw, uint64_t size, const VmctlPagesCheckOptions *opts, GError **error)
{
    VmctlPagesReport *r = sw->total;
    g_autofree VmctlPagesReport *alt = g_new0(VmctlPagesReport, 1);
    struct stamp_walk again = *sw;

    if (r->ctl_behind || r->counts[VMCTL_STAMP_AHEAD] < 2 || r->writes_seen <= r->ctl.writes)
        return true;
    alt->scan = r->scan;
    alt->image_size = r->image_size;
    alt->ctl_offset = r->ctl_offset;
    alt->ctl_copies = r->ctl_copies;
    alt->ctl = r->ctl;
    alt->ctl.writes = r->writes_seen;
    alt->ctl_behind = true; /* no third reading */
    again.total = alt;
    if (!walk_stamped(&again, size, opts, error))
        return false;
    if (alt->bad + 1 >= r->bad)
        return true;
    alt->ctl.writes = r->ctl.writes; /* the control page as found */
    alt->writes_seen = r->writes_seen;
    alt->bad++;
    *r = *alt;
    return true;
}

/* Offset mode after the control page: every stamped page of the image. */
static bool walk_stamped(struct stamp_walk *sw, uint64_t size, const VmctlPagesCheckOptions *opts, GError **error)
{
    const struct vmctl_stamp_ctl *ctl = &sw->total->ctl;
    uint64_t n_units;
    unsigned workers;
    bool ok;

    /* pages inside the image; the control page may claim more (a truncated
     * image, or a forged count): those are missing, counted without a loop
     * over a number of pages the image cannot hold */
    sw->end = MIN(ctl->stamped, (size - sw->off) / VMCTL_PAGE_SIZE - 1);
    sw->unit_pages = opts->unit_pages ? opts->unit_pages : UNIT_PAGES;
    n_units = (sw->end + sw->unit_pages - 1) / sw->unit_pages;
    workers = vmctl_page_work_workers(n_units, opts->threads);
    sw->bufs = g_new0(uint8_t *, workers);
    ok = vmctl_page_work_run(&check_ops, sw, n_units, workers, false, error);
    for (unsigned i = 0; i < workers; i++)
        free(sw->bufs[i]);
    g_clear_pointer(&sw->bufs, g_free);
    if (ok && ctl->stamped > sw->end)
        missing_beyond(sw->total, sw->end, sw->off);
    return ok && judge_ctl_behind(sw, size, opts, error);
}

static bool check_at_offset(const uint8_t *image, uint64_t size, const VmctlPagesCheckOptions *opts,
                            VmctlPagesReport *r, GError **error)
{
    struct stamp_walk sw = { .total = r, .image = image, .fd = -1, .off = opts->offset };

    if (!ctl_fits(size, opts->offset, error) || !take_ctl(r, image + opts->offset, opts->offset, error))
        return false;
    return walk_stamped(&sw, size, opts, error);
}

/* Stamped pages [end, ctl.stamped) lie beyond the end of the image: the
 * first few are recorded one by one, the rest only counted. */
static void missing_beyond(VmctlPagesReport *r, uint64_t end, uint64_t off)
{
    const struct vmctl_stamp_ctl *ctl = &r->ctl;
    uint64_t flying = 0, missing, done = 0;

    for (unsigned s = 0; s < VMCTL_STAMP_INFLIGHT_MAX; s++) {
        uint64_t v = ctl->inflight[s];
        bool dup = false;

        for (unsigned t = 0; t < s; t++)
            dup = dup || ctl->inflight[t] == v;
        if (!dup && v > end && v <= ctl->stamped)
            flying++;
    }
    r->in_flight += flying;
    missing = ctl->stamped - end - flying;
    for (uint64_t i = end; i < ctl->stamped && r->n_first < VMCTL_PAGES_FIRST_MAX; i++) {
        if (vmctl_stamp_in_flight(ctl, i))
            continue;
        record(r, ctl, i, off + (i + 1) * VMCTL_PAGE_SIZE, NULL, VMCTL_PAGE_MISSING);
        done++;
    }
    r->checked += missing - done;
    r->counts[VMCTL_PAGE_MISSING] += missing - done;
    r->bad += missing - done;
}

/* Scan mode, step 1: the control page. Copies of one region's control page
 * (stale blocks) are counted and the one with the most writes is taken;
 * control pages of two regions make the image ambiguous. */
static bool scan_ctl(const uint8_t *image, uint64_t size, VmctlPagesReport *r, GError **error)
{
    bool found = false;

    for (uint64_t off = 0; off + VMCTL_PAGE_SIZE <= size; off += VMCTL_PAGE_SIZE) {
        struct vmctl_stamp_ctl c;
        const char *why;

        if (page_at(image, off)[0] != VMCTL_STAMP_CTL_MAGIC)
            continue;
        memcpy(&c, image + off, sizeof(c));
        if (!ctl_valid(&c, &why))
            continue;
        if (found && c.region != r->ctl.region) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "control pages of two regions '0x%" G_GINT64_MODIFIER "x' and '0x%" G_GINT64_MODIFIER
                        "x' are in the image: check one with --offset",
                        r->ctl.region, c.region);
            return false;
        }
        if (!found || c.writes > r->ctl.writes) {
            r->ctl = c;
            r->ctl_offset = off;
        }
        found = true;
        r->ctl_copies++;
    }
    if (!found) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND,
                    "no control page anywhere in the image: no 4 KiB block carries the VMTCTL1 magic");
        return false;
    }
    return true;
}

/* Scan mode, step 2: every page of the region wherever it is. Of several
 * copies of one index the best verdict counts (a stale block left behind
 * must not hide the live copy); the others are counted as duplicates, and
 * those whose content differs as conflicting, by index: a good copy may
 * hide a stale one that the guest reads. */
static bool check_scan(const uint8_t *image, uint64_t size, VmctlPagesReport *r, GError **error)
{
    const struct vmctl_stamp_ctl *ctl = &r->ctl;
    g_autofree uint64_t *where = NULL;
    uint64_t n;

    if (!scan_ctl(image, size, r, error))
        return false;
    n = ctl->stamped;
    if (n > size / VMCTL_PAGE_SIZE) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "control page at offset '%" G_GUINT64_FORMAT "' claims %" G_GUINT64_FORMAT
                    " stamped pages, more than the %" G_GUINT64_FORMAT " pages of the image",
                    r->ctl_offset, n, size / VMCTL_PAGE_SIZE);
        return false;
    }
    where = g_try_new(uint64_t, n ? n : 1);
    if (!where) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                    "no memory for the page map of %" G_GUINT64_FORMAT " pages", n);
        return false;
    }
    for (uint64_t i = 0; i < n; i++)
        where[i] = VMCTL_PAGES_NO_OFFSET;
    for (uint64_t off = 0; off + VMCTL_PAGE_SIZE <= size; off += VMCTL_PAGE_SIZE) {
        const uint64_t *p = page_at(image, off);
        uint64_t i = p[VMCTL_STAMP_W_INDEX];

        if (p[VMCTL_STAMP_W_MAGIC] == VMCTL_STAMP_SAME_MAGIC && p[VMCTL_STAMP_W_REGION] == 0 && i == 0) {
            /* a same page: index 0 stands for all of them */
            if (ctl->same_pages == 0)
                continue;
            r->same_found++;
            if (r->same_found <= ctl->same_pages)
                record(r, ctl, 0, off, p, vmctl_stamp_check_page(ctl, p, 0));
            continue;
        }
        if (p[VMCTL_STAMP_W_MAGIC] != VMCTL_STAMP_MAGIC || p[VMCTL_STAMP_W_REGION] != ctl->region ||
            i < ctl->same_pages || i >= n)
            continue;
        if (where[i] == VMCTL_PAGES_NO_OFFSET) {
            where[i] = off;
        } else {
            r->duplicates++;
            if (memcmp(page_at(image, where[i]), p, VMCTL_PAGE_SIZE) != 0) {
                r->conflicts++;
                if (r->n_conflict_first < VMCTL_PAGES_FIRST_MAX)
                    r->conflict_first[r->n_conflict_first++] = i;
            }
            if (vmctl_stamp_check_page(ctl, page_at(image, where[i]), i) != VMCTL_STAMP_OK &&
                vmctl_stamp_check_page(ctl, p, i) == VMCTL_STAMP_OK)
                where[i] = off;
        }
    }
    /* same pages not found at all */
    for (uint64_t k = r->same_found; k < ctl->same_pages && k < n; k++)
        record(r, ctl, k, VMCTL_PAGES_NO_OFFSET, NULL, VMCTL_PAGE_MISSING);
    for (uint64_t i = ctl->same_pages; i < n; i++) {
        if (vmctl_stamp_in_flight(ctl, i)) {
            r->in_flight++;
            continue;
        }
        if (where[i] == VMCTL_PAGES_NO_OFFSET)
            record(r, ctl, i, VMCTL_PAGES_NO_OFFSET, NULL, VMCTL_PAGE_MISSING);
        else
            record(r, ctl, i, where[i], page_at(image, where[i]),
                   vmctl_stamp_check_page(ctl, page_at(image, where[i]), i));
    }
    return true;
}

/* A fresh report; the offset must be 8-byte aligned. */
static bool report_start(VmctlPagesReport *report, uint64_t size, const VmctlPagesCheckOptions *opts,
                         GError **error)
{
    memset(report, 0, sizeof(*report));
    report->scan = opts->scan;
    report->image_size = size;
    if (opts->scan || opts->offset % 8 == 0)
        return true;
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "offset '%" G_GUINT64_FORMAT "' is not a multiple of 8 bytes",
                opts->offset);
    return false;
}

bool vmctl_pages_check_image(const void *image, uint64_t size, const VmctlPagesCheckOptions *opts,
                             VmctlPagesReport *report, GError **error)
{
    bool ok;

    if (!report_start(report, size, opts, error))
        return false;
    ok = opts->scan ? check_scan(image, size, report, error) : check_at_offset(image, size, opts, report, error);
    /* The verdicts compare pages with the control page as it was at the
     * start; a writer that went on meanwhile makes them meaningless. */
    if (ok)
        report->changed = memcmp((const uint8_t *)image + report->ctl_offset, &report->ctl, sizeof(report->ctl)) != 0;
    return ok;
}

/* Offset mode on a file read with pread: the same walk, the control page
 * read before and after it. */
static bool check_file_read(int fd, const char *path, uint64_t size, const VmctlPagesCheckOptions *opts,
                            VmctlPagesReport *report, GError **error)
{
    struct stamp_walk sw = { .total = report, .fd = fd, .path = path, .off = opts->offset };
    struct vmctl_stamp_ctl now;

    if (!report_start(report, size, opts, error) || !ctl_fits(size, opts->offset, error) ||
        !read_full(fd, path, &now, sizeof(now), opts->offset, error) || !take_ctl(report, &now, opts->offset, error) ||
        !walk_stamped(&sw, size, opts, error) || !read_full(fd, path, &now, sizeof(now), opts->offset, error))
        return false;
    report->changed = memcmp(&now, &report->ctl, sizeof(now)) != 0;
    return true;
}

/* Size of a regular file, block device or device-dax open as fd; *use_read
 * when it is a file or block device in small pages, read rather than
 * mapped. */
static bool image_size(int fd, const char *path, uint64_t *size, bool *use_read, GError **error)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot stat '%s': %s", path, g_strerror(errno));
        return false;
    }
    *use_read = (uint64_t)st.st_blksize < HUGE_BLKSIZE;
    if (S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
        return true;
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, size) == 0)
            return true;
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot get the size of block device '%s': %s", path,
                    g_strerror(errno));
        return false;
    }
    /* device-dax: a character device mapped whole, its size in sysfs */
    *use_read = false;
    if (S_ISCHR(st.st_mode) && vmctl_char_device_size(st.st_rdev, size))
        return true;
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                "'%s' is not a regular file, a block device or a device-dax", path);
    return false;
}

struct mapped_check {
    const void *map;
    uint64_t size;
    const VmctlPagesCheckOptions *opts;
    VmctlPagesReport *report;
    GError **error;
    bool ok;
};

static void mapped_check(void *data)
{
    struct mapped_check *m = data;

    m->ok = vmctl_pages_check_image(m->map, m->size, m->opts, m->report, m->error);
}

static bool check_file_mapped(int fd, const char *path, uint64_t size, const VmctlPagesCheckOptions *opts,
                              VmctlPagesReport *report, GError **error)
{
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    struct mapped_check m = { .map = map, .size = size, .opts = opts, .report = report, .error = error };
    void *fault = NULL;

    if (map == MAP_FAILED) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot map '%s': %s", path, g_strerror(errno));
        return false;
    }
    madvise(map, size, MADV_SEQUENTIAL);
    vmctl_fault_shrink_image(path);
    /* a file cut short under the check faults: an error of that file, not
     * the end of the process */
    if (!vmctl_sigbus_guard(mapped_check, &m, &fault)) {
        struct stat st;
        g_autofree char *now = fstat(fd, &st) == 0 ? vmctl_format_size((uint64_t)st.st_size) : g_strdup("unknown");
        uint64_t off = (uint64_t)((const uint8_t *)fault - (const uint8_t *)map);

        g_clear_error(error);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "the image shrank while it was checked: no data at offset 0x%" PRIx64 " (it is now %s)",
                    off - off % 4096, now);
        m.ok = false;
    }
    munmap(map, size);
    return m.ok;
}

bool vmctl_pages_check_file(const char *path, const VmctlPagesCheckOptions *opts, VmctlPagesReport *report,
                            GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block the open */
    uint64_t size = 0;
    bool use_read = false;
    bool ok;

    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, errno == ENOENT ? VMCTL_ERROR_NOT_FOUND : VMCTL_ERROR_FAILED,
                    "cannot open '%s': %s", path, g_strerror(errno));
        return false;
    }
    if (!image_size(fd, path, &size, &use_read, error)) {
        close(fd);
        return false;
    }
    if (size < VMCTL_PAGE_SIZE) {
        close(fd);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND,
                    "no control page in '%s': the image has %" G_GUINT64_FORMAT " bytes, less than one page", path,
                    size);
        return false;
    }
    if (use_read && !opts->scan)
        ok = check_file_read(fd, path, size, opts, report, error);
    else
        ok = check_file_mapped(fd, path, size, opts, report, error);
    close(fd);
    if (!ok)
        g_prefix_error(error, "'%s': ", path);
    return ok;
}

json_object *vmctl_pages_report_to_json(const VmctlPagesReport *r)
{
    json_object *o = json_object_new_object();
    json_object *counts = json_object_new_object();
    json_object *first = json_object_new_array();

    vmctl_json_add_str(o, "mode", r->scan ? "scan" : "offset");
    vmctl_json_add_bool(o, "clean", r->bad == 0 && !r->changed);
    vmctl_json_add_bool(o, "changed", r->changed);
    vmctl_json_add_u64(o, "image_size", r->image_size);
    vmctl_json_add_u64(o, "control_offset", r->ctl_offset);
    vmctl_json_add_u64(o, "control_copies", r->ctl_copies);
    vmctl_json_add_u64(o, "region", r->ctl.region);
    {
        g_autofree char *hex = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", r->ctl.region);

        vmctl_json_add_str(o, "region_hex", hex); /* jq reads numbers as doubles */
    }
    vmctl_json_add_u64(o, "seed", r->ctl.seed);
    vmctl_json_add_u64(o, "page_count", r->ctl.page_count);
    vmctl_json_add_u64(o, "same_pages", r->ctl.same_pages);
    vmctl_json_add_u64(o, "ws_pages", r->ctl.ws_pages);
    vmctl_json_add_u64(o, "stamped", r->ctl.stamped);
    vmctl_json_add_u64(o, "writes", r->ctl.writes);
    vmctl_json_add_u64(o, "verify_runs", r->ctl.verify_runs);
    vmctl_json_add_u64(o, "verify_bad", r->ctl.verify_bad);
    vmctl_json_add_u64(o, "checked", r->checked);
    vmctl_json_add_u64(o, "in_flight", r->in_flight);
    vmctl_json_add_u64(o, "bad", r->bad);
    if (r->scan) {
        json_object *cf = json_object_new_array();

        vmctl_json_add_u64(o, "duplicates", r->duplicates);
        vmctl_json_add_u64(o, "conflicting_copies", r->conflicts);
        for (unsigned k = 0; k < r->n_conflict_first; k++)
            json_object_array_add(cf, json_object_new_int64((int64_t)r->conflict_first[k]));
        json_object_object_add(o, "conflicting_first", cf);
        vmctl_json_add_u64(o, "same_found", r->same_found);
    }
    for (unsigned v = 0; v < VMCTL_PAGE_VERDICTS; v++)
        vmctl_json_add_u64(counts, verdict_names[v], r->counts[v]);
    /* the control page, when it is the one page behind */
    vmctl_json_add_u64(counts, "control_page_behind", r->ctl_behind);
    json_object_object_add(o, "verdicts", counts);
    if (!r->scan)
        vmctl_json_add_u64(o, "writes_seen", r->writes_seen);
    for (unsigned k = 0; k < r->n_first; k++) {
        const VmctlPageBad *b = &r->first[k];
        json_object *e = json_object_new_object();

        vmctl_json_add_u64(e, "index", b->index);
        if (b->offset == VMCTL_PAGES_NO_OFFSET)
            json_object_object_add(e, "offset", NULL);
        else
            vmctl_json_add_u64(e, "offset", b->offset);
        vmctl_json_add_str(e, "verdict", vmctl_page_verdict_name(b->verdict));
        vmctl_json_add_u64(e, "expected_generation", b->expected_gen);
        vmctl_json_add_u64(e, "actual_generation", b->actual_gen);
        json_object_array_add(first, e);
    }
    json_object_object_add(o, "first_bad", first);
    return o;
}
