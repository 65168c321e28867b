/* page_diff.c: page-by-page comparison of two memory images.
 *
 * Each block is cut into units (page_work.h) that worker threads compare in
 * turn, one worker per online CPU; the units' results are merged in page
 * order, so the counts and the pages listed do not depend on the workers.
 * Within a unit an image is read in one of two ways:
 * - read: pread into a buffer of the worker, a window at a time. For files
 *   and block devices in 4 KiB pages: mapping them would cost a fault, a
 *   page-table entry and an unmap per 4 KiB page, which a bulk copy into a
 *   buffer that stays in the cache undercuts. Devices that refuse mmap are
 *   read too.
 * - map: the unit is mapped read-only (MAP_SHARED, so a live guest file is
 *   seen as it is) and compared in place. For device DAX, which has no
 *   read(), and files in 2 MiB pages (huge tmpfs, hugetlbfs), where one
 *   fault maps 2 MiB and a copy would cost more than it saves.
 * Windows are compared chunk by chunk with memcmp; only a chunk that differs
 * is compared again page by page. */
#include "config.h"

#include "page_diff.h"
#include "page_work.h"
#include "sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Bytes a worker compares at a time, one unit. Mapped device DAX keeps 1 GiB
 * windows: a device may be aligned to 1 GiB, and its mappings stay huge
 * only when windows keep that alignment. */
#define UNIT_BYTES (UINT64_C(64) << 20)
#define UNIT_DEVICE (UINT64_C(1) << 30)
/* Bytes read at a time per image in read mode: both buffers of a worker
 * stay in its L2 cache while they are compared. */
#define WINDOW_READ (UINT64_C(256) << 10)
/* st_blksize from which a file is mapped instead of read: its pages are
 * huge, so a fault maps this many bytes at once. */
#define HUGE_BLKSIZE (UINT64_C(2) << 20)

G_STATIC_ASSERT(VMCTL_PAGE_DIFF_CHUNK % VMCTL_PAGE_DIFF_PAGE == 0);
G_STATIC_ASSERT(UNIT_BYTES % VMCTL_PAGE_DIFF_CHUNK == 0);
G_STATIC_ASSERT(UNIT_DEVICE % UNIT_BYTES == 0);
G_STATIC_ASSERT(UNIT_BYTES % WINDOW_READ == 0);
G_STATIC_ASSERT(WINDOW_READ % VMCTL_PAGE_DIFF_PAGE == 0);

struct image {
    const char *path;
    int fd;
    const char *kind; /* "file", "block device", "character device" */
    uint64_t size;
    bool size_known;
    bool use_read;    /* read mode: pread into the worker's buffer */
    uint64_t map_align; /* mapping offsets and lengths: the page size, 2 MiB for a device (device-dax) */
};

/* What one worker holds of one image: its buffer or its current mapping. */
struct view {
    void *map; /* current window when mapped */
    size_t map_len;
    uint8_t *buf; /* WINDOW_READ bytes in read mode, page-aligned: the
                   * kernel copies into an aligned buffer at full speed */
};

void vmctl_page_diff_opts_init(struct vmctl_page_diff_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->max_report = VMCTL_PAGE_DIFF_MAX_REPORT;
}

struct vmctl_page_diff_block *vmctl_page_diff_block_new(const char *name, uint64_t offset_a, uint64_t offset_b,
                                                        uint64_t length)
{
    struct vmctl_page_diff_block *b = g_new0(struct vmctl_page_diff_block, 1);

    b->name = g_strdup(name);
    b->offset_a = offset_a;
    b->offset_b = offset_b;
    b->length = length;
    b->listed = g_array_new(FALSE, FALSE, sizeof(struct vmctl_page_diff_page));
    return b;
}

void vmctl_page_diff_block_free(struct vmctl_page_diff_block *block)
{
    if (!block)
        return;
    g_free(block->name);
    g_array_unref(block->listed);
    g_free(block);
}

void vmctl_page_diff_free(struct vmctl_page_diff *diff)
{
    if (!diff)
        return;
    g_free(diff->path_a);
    g_free(diff->path_b);
    if (diff->blocks)
        g_ptr_array_unref(diff->blocks);
    g_free(diff);
}

void vmctl_page_diff_range_clear(struct vmctl_page_diff_range *range)
{
    g_clear_pointer(&range->name, g_free);
}

static uint32_t first_diff_byte(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    uint32_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;

        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
    }
    for (; i < n && a[i] == b[i]; i++)
        ;
    return i;
}

uint64_t vmctl_page_diff_mem(struct vmctl_page_diff_block *block, const void *a, const void *b, uint64_t length,
                             uint64_t first_page, uint64_t image_a, uint64_t image_b, unsigned max_report)
{
    const uint8_t *pa = a, *pb = b;
    uint64_t found = 0;

    for (uint64_t c = 0; c < length; c += VMCTL_PAGE_DIFF_CHUNK) {
        uint64_t cn = MIN((uint64_t)VMCTL_PAGE_DIFF_CHUNK, length - c);

        block->pages += (cn + VMCTL_PAGE_DIFF_PAGE - 1) / VMCTL_PAGE_DIFF_PAGE;
        if (memcmp(pa + c, pb + c, cn) == 0)
            continue;
        for (uint64_t p = c; p < c + cn; p += VMCTL_PAGE_DIFF_PAGE) {
            uint32_t pn = (uint32_t)MIN((uint64_t)VMCTL_PAGE_DIFF_PAGE, length - p);
            struct vmctl_page_diff_page d;

            if (memcmp(pa + p, pb + p, pn) == 0)
                continue;
            found++;
            block->pages_differ++;
            if (block->listed->len >= max_report)
                continue;
            d.page = first_page + p / VMCTL_PAGE_DIFF_PAGE;
            d.offset_a = image_a + p;
            d.offset_b = image_b + p;
            d.byte = first_diff_byte(pa + p, pb + p, pn);
            g_array_append_val(block->listed, d);
        }
    }
    return found;
}

/* Size of a character device: device DAX publishes it in sysfs; other
 * character devices have no size. */
static bool image_open(struct image *img, const char *path, GError **error)
{
    struct stat st;
    void *probe;

    img->path = path;
    /* O_NONBLOCK so that a fifo is refused below instead of blocking the
     * open; it is cleared again for the reads. */
    img->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (img->fd < 0) {
        int e = errno;
        g_set_error(error, VMCTL_ERROR, e == ENOENT ? VMCTL_ERROR_NOT_FOUND : VMCTL_ERROR_FAILED,
                    "image '%s' cannot be opened: %s", path, g_strerror(e));
        return false;
    }
    if (fstat(img->fd, &st) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "image '%s' cannot be examined: %s", path,
                    g_strerror(errno));
        return false;
    }
    if (S_ISREG(st.st_mode)) {
        img->kind = "file";
        img->size = st.st_size;
        img->size_known = true;
    } else if (S_ISBLK(st.st_mode)) {
        uint64_t sz = 0;

        img->kind = "block device";
        if (ioctl(img->fd, BLKGETSIZE64, &sz) < 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "image '%s' does not give its size: %s", path,
                        g_strerror(errno));
            return false;
        }
        img->size = sz;
        img->size_known = true;
    } else if (S_ISCHR(st.st_mode)) {
        img->kind = "character device";
        img->size_known = vmctl_char_device_size(st.st_rdev, &img->size);
    } else {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "image '%s' is %s, not a regular file or a device", path,
                    S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a fifo" : "a socket");
        return false;
    }
    if (fcntl(img->fd, F_SETFL, 0) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "image '%s' cannot be set to blocking reads: %s", path,
                    g_strerror(errno));
        return false;
    }
    img->map_align = S_ISCHR(st.st_mode) ? VMCTL_PAGE_DIFF_CHUNK : (uint64_t)sysconf(_SC_PAGESIZE);
    /* Device DAX has no read(); huge pages map cheaply; the rest is read. */
    img->use_read = !S_ISCHR(st.st_mode) && (uint64_t)st.st_blksize < HUGE_BLKSIZE;
    if (img->use_read)
        return true;
    /* Devices without mmap (ENODEV) are read instead. The probe maps a
     * whole chunk: a device-dax refuses a mapping shorter than its
     * alignment (EINVAL for 4 KiB at 2M align) and has no read either. */
    probe = mmap(NULL, VMCTL_PAGE_DIFF_CHUNK, PROT_READ, MAP_SHARED, img->fd, 0);
    if (probe == MAP_FAILED)
        img->use_read = errno == ENODEV;
    else
        munmap(probe, VMCTL_PAGE_DIFF_CHUNK);
    return true;
}

static void view_unmap(struct view *v)
{
    if (v->map) {
        munmap(v->map, v->map_len);
        v->map = NULL;
    }
}

static void view_clear(struct view *v)
{
    view_unmap(v);
    g_clear_pointer(&v->buf, free);
}

static void image_close(struct image *img)
{
    if (img->fd >= 0)
        close(img->fd);
    img->fd = -1;
}

/* Make [off, off + len) of the image readable at *out through the worker's
 * view until the next call; in read mode len is at most WINDOW_READ. */
static bool image_window(const struct image *img, struct view *v, uint64_t off, uint64_t len, const uint8_t **out,
                         GError **error)
{
    uint64_t done = 0;

    view_unmap(v);
    if (!img->use_read) {
        uint64_t delta = off % img->map_align;

        v->map_len = (len + delta + img->map_align - 1) / img->map_align * img->map_align;
        v->map = mmap(NULL, v->map_len, PROT_READ, MAP_SHARED, img->fd, off - delta);
        if (v->map == MAP_FAILED) {
            v->map = NULL;
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                        "image '%s' cannot be mapped at offset 0x%" PRIx64 ": %s", img->path, off,
                        g_strerror(errno));
            return false;
        }
        *out = (const uint8_t *)v->map + delta;
        return true;
    }
    g_assert(len <= WINDOW_READ);
    if (!v->buf && posix_memalign((void **)&v->buf, VMCTL_PAGE_DIFF_PAGE, WINDOW_READ) != 0) {
        v->buf = NULL;
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "no memory for a read buffer of %" PRIu64 " bytes",
                    WINDOW_READ);
        return false;
    }
    while (done < len) {
        ssize_t n = pread(img->fd, v->buf + done, len - done, off + done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                        "image '%s' cannot be read at offset 0x%" PRIx64 ": %s", img->path, off + done,
                        g_strerror(errno));
            return false;
        }
        if (n == 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "image '%s' ends at offset 0x%" PRIx64, img->path,
                        off + done);
            return false;
        }
        done += n;
    }
    *out = v->buf;
    return true;
}

/* The range must lie inside the image when the image's size is known. */
static bool check_range(const struct image *img, const char *name, uint64_t off, uint64_t len, GError **error)
{
    g_autofree char *sz = NULL;
    g_autofree char *l = NULL;

    if (!img->size_known || (off <= img->size && len <= img->size - off))
        return true;
    sz = vmctl_format_size(img->size);
    l = vmctl_format_size(len);
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                "block '%s' (offset 0x%" PRIx64 ", length %s) goes beyond the end of '%s' (%s)", name, off, l,
                img->path, sz);
    return false;
}

/* Whole-image mode: work out the one block to compare. */
static struct vmctl_page_diff_block *whole_block(const struct image *a, const struct image *b,
                                                 const struct vmctl_page_diff_opts *opts, GError **error)
{
    const struct image *imgs[2] = { a, b };
    const uint64_t offs[2] = { opts->offset_a, opts->offset_b };
    uint64_t len = opts->length;

    for (int i = 0; i < 2; i++) {
        g_autofree char *sz = NULL;

        if (!imgs[i]->size_known) {
            if (opts->has_length)
                continue;
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "size of '%s' is unknown (%s): give a length or ranges", imgs[i]->path, imgs[i]->kind);
            return NULL;
        }
        if (offs[i] <= imgs[i]->size)
            continue;
        sz = vmctl_format_size(imgs[i]->size);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "offset 0x%" PRIx64 " is beyond the end of '%s' (%s)",
                    offs[i], imgs[i]->path, sz);
        return NULL;
    }
    if (!opts->has_length) {
        if (a->size - opts->offset_a != b->size - opts->offset_b) {
            g_autofree char *sa = vmctl_format_size(a->size);
            g_autofree char *sb = vmctl_format_size(b->size);

            if (opts->offset_a == 0 && opts->offset_b == 0)
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "images '%s' (%s) and '%s' (%s) differ in size",
                            a->path, sa, b->path, sb);
            else
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                            "images '%s' (%s) from offset 0x%" PRIx64 " and '%s' (%s) from offset 0x%" PRIx64
                            " differ in size",
                            a->path, sa, opts->offset_a, b->path, sb, opts->offset_b);
            return NULL;
        }
        len = a->size - opts->offset_a;
    }
    if (!check_range(a, VMCTL_PAGE_DIFF_DEFAULT_NAME, opts->offset_a, len, error) ||
        !check_range(b, VMCTL_PAGE_DIFF_DEFAULT_NAME, opts->offset_b, len, error))
        return NULL;
    return vmctl_page_diff_block_new(VMCTL_PAGE_DIFF_DEFAULT_NAME, opts->offset_a, opts->offset_b, len);
}

/* One block's walk: the images, and a view of each per worker. */
struct block_walk {
    const struct image *a, *b;
    struct vmctl_page_diff_block *blk;
    unsigned max_report;
    uint64_t unit; /* bytes */
    struct view *views; /* [2 * workers]: A then B of each worker */
};

/* One window compared in place, under a SIGBUS guard when mapped. */
struct window_cmp {
    struct vmctl_page_diff_block *part;
    const uint8_t *pa, *pb;
    uint64_t n, pos, off_a, off_b;
    unsigned max_report;
};

static void window_compare(void *data)
{
    struct window_cmp *w = data;

    vmctl_page_diff_mem(w->part, w->pa, w->pb, w->n, w->pos / VMCTL_PAGE_DIFF_PAGE, w->off_a, w->off_b,
                        w->max_report);
}

/* A mapped image was cut short under the compare: its page at `fault`
 * is gone. Which image, where, and how long it is now. */
static void shrank_error(const struct image *a, const struct image *b, const struct window_cmp *w, void *fault,
                         GError **error)
{
    const uint8_t *f = fault;
    bool in_a = !a->use_read && f >= w->pa && f < w->pa + w->n;
    const struct image *img = in_a ? a : b;
    uint64_t off = in_a ? w->off_a + (uint64_t)(f - w->pa) : w->off_b + (uint64_t)(f - w->pb);
    struct stat st;
    g_autofree char *now = NULL;

    off -= off % VMCTL_PAGE_DIFF_PAGE;
    now = fstat(img->fd, &st) == 0 ? vmctl_format_size((uint64_t)st.st_size) : g_strdup("unknown");
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                "image '%s' shrank while it was compared: no data at offset 0x%" PRIx64 " (it is now %s)", img->path,
                off, now);
}

static void *compare_unit(void *data, unsigned worker, uint64_t unit, bool quiet, GError **error)
{
    struct block_walk *bw = data;
    const struct vmctl_page_diff_block *blk = bw->blk;
    struct view *va = &bw->views[2 * worker], *vb = va + 1;
    uint64_t start = unit * bw->unit;
    uint64_t end = MIN(start + bw->unit, blk->length);
    uint64_t step = (bw->a->use_read || bw->b->use_read) ? WINDOW_READ : bw->unit;
    struct vmctl_page_diff_block *part = vmctl_page_diff_block_new(NULL, blk->offset_a, blk->offset_b, 0);
    bool mapped = !bw->a->use_read || !bw->b->use_read;
    bool ok = true;

    for (uint64_t pos = start; ok && pos < end; pos += step) {
        struct window_cmp w = { .part = part, .n = MIN(step, end - pos), .pos = pos, .off_a = blk->offset_a + pos,
                                .off_b = blk->offset_b + pos, .max_report = quiet ? 0 : bw->max_report };
        void *fault = NULL;

        ok = image_window(bw->a, va, w.off_a, w.n, &w.pa, error) && image_window(bw->b, vb, w.off_b, w.n, &w.pb, error);
        if (!ok)
            break;
        /* a mapped file cut short under the compare faults: an error of
         * that image, not the end of the process */
        if (!mapped)
            window_compare(&w);
        else if (!vmctl_sigbus_guard(window_compare, &w, &fault)) {
            shrank_error(bw->a, bw->b, &w, fault, error);
            ok = false;
        }
    }
    view_unmap(va);
    view_unmap(vb);
    if (!ok)
        g_clear_pointer(&part, vmctl_page_diff_block_free);
    return part;
}

static bool merge_unit(void *data, void *result)
{
    struct block_walk *bw = data;
    struct vmctl_page_diff_block *blk = bw->blk;
    struct vmctl_page_diff_block *part = result;
    guint room = bw->max_report - MIN(blk->listed->len, bw->max_report);

    blk->pages += part->pages;
    blk->pages_differ += part->pages_differ;
    g_array_append_vals(blk->listed, part->listed->data, MIN(room, part->listed->len));
    vmctl_page_diff_block_free(part);
    return blk->listed->len >= bw->max_report;
}

static const struct vmctl_page_work_ops compare_ops = {
    .unit = compare_unit,
    .merge = merge_unit,
    .free_result = (GDestroyNotify)vmctl_page_diff_block_free,
};

static bool compare_block(const struct image *a, const struct image *b, struct vmctl_page_diff_block *blk,
                          const struct vmctl_page_diff_opts *opts, GError **error)
{
    struct block_walk bw = { .a = a, .b = b, .blk = blk, .max_report = opts->max_report };
    uint64_t n_units;
    unsigned workers;
    bool ok;

    if (opts->unit)
        bw.unit = opts->unit;
    else if ((!a->use_read && g_str_equal(a->kind, "character device")) ||
             (!b->use_read && g_str_equal(b->kind, "character device")))
        bw.unit = UNIT_DEVICE;
    else
        bw.unit = UNIT_BYTES;
    n_units = (blk->length + bw.unit - 1) / bw.unit;
    workers = vmctl_page_work_workers(n_units, opts->threads);
    bw.views = g_new0(struct view, 2 * workers);
    ok = vmctl_page_work_run(&compare_ops, &bw, n_units, workers, opts->max_report == 0, error);
    for (unsigned i = 0; i < 2 * workers; i++)
        view_clear(&bw.views[i]);
    g_free(bw.views);
    return ok;
}

static bool build_blocks(struct vmctl_page_diff *diff, const struct image *a, const struct image *b,
                         const struct vmctl_page_diff_opts *opts, GError **error)
{
    struct vmctl_page_diff_block *blk;

    if (opts->n_ranges == 0) {
        blk = whole_block(a, b, opts, error);
        if (!blk)
            return false;
        g_ptr_array_add(diff->blocks, blk);
        return true;
    }
    for (size_t i = 0; i < opts->n_ranges; i++) {
        const struct vmctl_page_diff_range *r = &opts->ranges[i];

        for (size_t j = 0; j < i; j++) {
            if (g_strcmp0(opts->ranges[j].name, r->name) == 0) {
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "block name '%s' is given twice", r->name);
                return false;
            }
        }
        if (!check_range(a, r->name, r->offset_a, r->length, error) ||
            !check_range(b, r->name, r->offset_b, r->length, error))
            return false;
        g_ptr_array_add(diff->blocks, vmctl_page_diff_block_new(r->name, r->offset_a, r->offset_b, r->length));
    }
    return true;
}

struct vmctl_page_diff *vmctl_page_diff_images(const char *path_a, const char *path_b,
                                               const struct vmctl_page_diff_opts *opts, GError **error)
{
    g_autoptr(vmctl_page_diff) diff = g_new0(struct vmctl_page_diff, 1);
    struct image a = { .fd = -1 }, b = { .fd = -1 };
    uint64_t t0 = vmctl_now_ns();
    bool ok = false;

    diff->path_a = g_strdup(path_a);
    diff->path_b = g_strdup(path_b);
    diff->max_report = opts->max_report;
    diff->blocks = g_ptr_array_new_with_free_func((GDestroyNotify)vmctl_page_diff_block_free);
    if (opts->unit % VMCTL_PAGE_DIFF_PAGE) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "unit of %" PRIu64 " bytes is not a multiple of the %u-byte page", opts->unit,
                    VMCTL_PAGE_DIFF_PAGE);
        return NULL;
    }

    if (!image_open(&a, path_a, error) || !image_open(&b, path_b, error))
        goto out;
    diff->size_a = a.size;
    diff->size_known_a = a.size_known;
    diff->size_b = b.size;
    diff->size_known_b = b.size_known;
    if (!build_blocks(diff, &a, &b, opts, error))
        goto out;
    vmctl_fault_shrink_image(path_a);
    for (guint i = 0; i < diff->blocks->len; i++) {
        struct vmctl_page_diff_block *blk = g_ptr_array_index(diff->blocks, i);

        if (!compare_block(&a, &b, blk, opts, error))
            goto out;
        diff->pages += blk->pages;
        diff->pages_differ += blk->pages_differ;
        diff->bytes += blk->length;
    }
    diff->elapsed_ns = MAX(vmctl_now_ns() - t0, UINT64_C(1));
    diff->bytes_per_sec = (double)diff->bytes * 1e9 / (double)diff->elapsed_ns;
    ok = true;
out:
    image_close(&a);
    image_close(&b);
    return ok ? g_steal_pointer(&diff) : NULL;
}

bool vmctl_page_diff_parse_range(const char *spec, struct vmctl_page_diff_range *out, GError **error)
{
    g_autoptr(GError) local = NULL;
    const char *fields[3];
    const char *what[3] = { "offset in A", "offset in B", "length" };
    uint64_t vals[3];
    g_autofree char *copy = g_strdup(spec);
    char *end = copy + strlen(copy);

    /* The name may contain colons: the last three fields are the numbers. */
    for (int i = 2; i >= 0; i--) {
        char *colon = g_strrstr_len(copy, end - copy, ":");

        if (!colon) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "block '%s' is not NAME:OFFSET_A:OFFSET_B:LENGTH",
                        spec);
            return false;
        }
        *colon = '\0';
        fields[i] = colon + 1;
        end = colon;
    }
    if (copy[0] == '\0') {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "block '%s' has an empty name", spec);
        return false;
    }
    for (int i = 0; i < 3; i++) {
        if (!vmctl_parse_size(fields[i], i < 2, &vals[i], &local)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "block '%s' has a bad %s: %s", spec, what[i],
                        local->message);
            return false;
        }
    }
    out->name = g_strdup(copy);
    out->offset_a = vals[0];
    out->offset_b = vals[1];
    out->length = vals[2];
    return true;
}

static json_object *image_to_json(const char *path, uint64_t size, bool known)
{
    json_object *o = json_object_new_object();

    vmctl_json_add_str(o, "path", path);
    if (known)
        vmctl_json_add_u64(o, "size", size);
    else
        json_object_object_add(o, "size", NULL);
    return o;
}

static json_object *block_to_json(const struct vmctl_page_diff_block *blk)
{
    json_object *o = json_object_new_object();
    json_object *pages = json_object_new_array();

    vmctl_json_add_str(o, "name", blk->name);
    vmctl_json_add_u64(o, "offset_a", blk->offset_a);
    vmctl_json_add_u64(o, "offset_b", blk->offset_b);
    vmctl_json_add_u64(o, "length", blk->length);
    vmctl_json_add_u64(o, "pages", blk->pages);
    vmctl_json_add_u64(o, "pages_differ", blk->pages_differ);
    for (guint i = 0; i < blk->listed->len; i++) {
        const struct vmctl_page_diff_page *d = &g_array_index(blk->listed, struct vmctl_page_diff_page, i);
        json_object *p = json_object_new_object();

        vmctl_json_add_u64(p, "page", d->page);
        vmctl_json_add_u64(p, "offset_a", d->offset_a);
        vmctl_json_add_u64(p, "offset_b", d->offset_b);
        vmctl_json_add_u64(p, "byte", d->byte);
        json_object_array_add(pages, p);
    }
    json_object_object_add(o, "differ", pages);
    vmctl_json_add_u64(o, "unlisted", blk->pages_differ - blk->listed->len);
    return o;
}

json_object *vmctl_page_diff_to_json(const struct vmctl_page_diff *diff)
{
    json_object *o = json_object_new_object();
    json_object *blocks = json_object_new_array();
    json_object *total = json_object_new_object();

    json_object_object_add(o, "image_a", image_to_json(diff->path_a, diff->size_a, diff->size_known_a));
    json_object_object_add(o, "image_b", image_to_json(diff->path_b, diff->size_b, diff->size_known_b));
    vmctl_json_add_u64(o, "page_size", VMCTL_PAGE_DIFF_PAGE);
    vmctl_json_add_u64(o, "max_report", diff->max_report);
    for (guint i = 0; i < diff->blocks->len; i++)
        json_object_array_add(blocks, block_to_json(g_ptr_array_index(diff->blocks, i)));
    json_object_object_add(o, "blocks", blocks);
    vmctl_json_add_u64(total, "pages", diff->pages);
    vmctl_json_add_u64(total, "pages_differ", diff->pages_differ);
    vmctl_json_add_u64(total, "bytes", diff->bytes);
    json_object_object_add(o, "total", total);
    vmctl_json_add_bool(o, "identical", diff->pages_differ == 0);
    vmctl_json_add_u64(o, "elapsed_ns", diff->elapsed_ns);
    vmctl_json_add_u64(o, "bytes_per_sec", (uint64_t)diff->bytes_per_sec);
    return o;
}
