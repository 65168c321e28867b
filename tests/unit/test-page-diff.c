/* test-page-diff.c: the page-level image comparison on images written to a
 * temporary directory. Every check of the comparison is made to fail here:
 * a flipped byte, the last page of an odd size, a difference inside an
 * otherwise equal chunk, more differences than are listed, sizes that differ,
 * an image that cannot be opened; and the same results from several workers
 * in small units as from one (differences on unit boundaries, in the partial
 * last page, more than are listed).
 *
 * `test-page-diff --diff-json A B [NAME:OFFA:OFFB:LEN...]` compares two
 * images through the library and prints the JSON result (exit 0 identical,
 * 1 differ, 2 error), so that the shell test can run before the CLI has its
 * `pages` command. */
#include "config.h"

#include "test-env.h"

#include "page_diff.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PAGE VMCTL_PAGE_DIFF_PAGE
#define CHUNK VMCTL_PAGE_DIFF_CHUNK

static char *tmpdir;

/* Deterministic content: every page differs from every other page. */
static uint8_t *pattern(size_t len, uint32_t seed)
{
    uint8_t *p = g_malloc(len);
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = x >> 16;
    }
    return p;
}

static char *write_image(const char *name, const void *data, size_t len)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_set_contents(path, data, len, &err));
    g_assert_no_error(err);
    return path;
}

static struct vmctl_page_diff *diff_whole(const char *a, const char *b, unsigned max_report)
{
    struct vmctl_page_diff_opts opts;
    g_autoptr(GError) err = NULL;
    struct vmctl_page_diff *d;

    vmctl_page_diff_opts_init(&opts);
    opts.max_report = max_report;
    d = vmctl_page_diff_images(a, b, &opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(d);
    return d;
}

static const struct vmctl_page_diff_block *block(const struct vmctl_page_diff *d, guint i)
{
    g_assert_cmpuint(i, <, d->blocks->len);
    return g_ptr_array_index(d->blocks, i);
}

static const struct vmctl_page_diff_page *listed(const struct vmctl_page_diff_block *b, guint i)
{
    g_assert_cmpuint(i, <, b->listed->len);
    return &g_array_index(b->listed, struct vmctl_page_diff_page, i);
}

static void test_identical(void)
{
    size_t len = 3 * CHUNK + 5 * PAGE;
    g_autofree uint8_t *data = pattern(len, 1);
    g_autofree char *a = write_image("same-a", data, len);
    g_autofree char *b = write_image("same-b", data, len);
    g_autoptr(vmctl_page_diff) d = diff_whole(a, b, 10);

    g_assert_cmpuint(d->blocks->len, ==, 1);
    g_assert_cmpstr(block(d, 0)->name, ==, "image");
    g_assert_cmpuint(d->pages, ==, len / PAGE);
    g_assert_cmpuint(d->pages_differ, ==, 0);
    g_assert_cmpuint(d->bytes, ==, len);
    g_assert_cmpuint(block(d, 0)->listed->len, ==, 0);
    g_assert_true(d->size_known_a && d->size_known_b);
    g_assert_cmpuint(d->size_a, ==, len);
    g_assert_cmpfloat(d->bytes_per_sec, >, 0);
}

static void test_one_byte(void)
{
    size_t len = 2 * CHUNK;
    g_autofree uint8_t *data = pattern(len, 2);
    g_autofree char *a = write_image("one-a", data, len);
    g_autofree char *b = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;
    const struct vmctl_page_diff_page *p;

    data[37 * PAGE + 0x123] ^= 0x01;
    b = write_image("one-b", data, len);
    d = diff_whole(a, b, 10);
    g_assert_cmpuint(d->pages_differ, ==, 1);
    g_assert_cmpuint(block(d, 0)->listed->len, ==, 1);
    p = listed(block(d, 0), 0);
    g_assert_cmpuint(p->page, ==, 37);
    g_assert_cmpuint(p->offset_a, ==, 37 * PAGE);
    g_assert_cmpuint(p->offset_b, ==, 37 * PAGE);
    g_assert_cmpuint(p->byte, ==, 0x123);
}

/* The last page is partial: it is compared, counted and reported. */
static void test_odd_size(void)
{
    size_t len = CHUNK + 3 * PAGE + 100;
    g_autofree uint8_t *data = pattern(len, 3);
    g_autofree char *a = write_image("odd-a", data, len);
    g_autofree char *b = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;
    const struct vmctl_page_diff_page *p;

    data[len - 1] ^= 0x80;
    b = write_image("odd-b", data, len);
    d = diff_whole(a, b, 10);
    g_assert_cmpuint(d->pages, ==, CHUNK / PAGE + 4);
    g_assert_cmpuint(d->pages_differ, ==, 1);
    p = listed(block(d, 0), 0);
    g_assert_cmpuint(p->page, ==, CHUNK / PAGE + 3);
    g_assert_cmpuint(p->offset_a, ==, CHUNK + 3 * PAGE);
    g_assert_cmpuint(p->byte, ==, 99);
}

/* Differences on both edges of a chunk and in its middle, all other pages of
 * the chunks equal; and the engine on memory with block-relative numbering. */
static void test_inside_chunk(void)
{
    size_t len = 3 * CHUNK;
    g_autofree uint8_t *a = pattern(len, 4);
    g_autofree uint8_t *b = g_memdup2(a, len);
    struct vmctl_page_diff_block *blk = vmctl_page_diff_block_new("ram", 0x100000, 0x200000, len);
    const size_t where[] = { CHUNK, CHUNK + 300 * PAGE + 17, 2 * CHUNK - 1 };
    const uint64_t pages[] = { CHUNK / PAGE, CHUNK / PAGE + 300, 2 * CHUNK / PAGE - 1 };
    const uint32_t bytes[] = { 0, 17, PAGE - 1 };

    for (size_t i = 0; i < G_N_ELEMENTS(where); i++)
        b[where[i]] ^= 0xff;
    g_assert_cmpuint(vmctl_page_diff_mem(blk, a, b, len, 0, 0x100000, 0x200000, 10), ==, 3);
    g_assert_cmpuint(blk->pages, ==, len / PAGE);
    g_assert_cmpuint(blk->pages_differ, ==, 3);
    g_assert_cmpuint(blk->listed->len, ==, 3);
    for (size_t i = 0; i < G_N_ELEMENTS(where); i++) {
        const struct vmctl_page_diff_page *p = listed(blk, i);

        g_assert_cmpuint(p->page, ==, pages[i]);
        g_assert_cmpuint(p->offset_a, ==, 0x100000 + pages[i] * PAGE);
        g_assert_cmpuint(p->offset_b, ==, 0x200000 + pages[i] * PAGE);
        g_assert_cmpuint(p->byte, ==, bytes[i]);
    }
    vmctl_page_diff_block_free(blk);
}

/* More differing pages than are listed: the count stays exact and only the
 * first max_report are listed, in order. */
static void test_many(void)
{
    size_t len = 4 * CHUNK;
    size_t n = len / PAGE;
    g_autofree uint8_t *data = pattern(len, 5);
    g_autofree char *a = write_image("many-a", data, len);
    g_autofree char *b = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;
    g_autoptr(vmctl_page_diff) none = NULL;
    uint64_t expect = 0;

    for (size_t i = 3; i < n; i += 3) {
        data[i * PAGE + i % PAGE] ^= 0x10;
        expect++;
    }
    b = write_image("many-b", data, len);
    d = diff_whole(a, b, 10);
    g_assert_cmpuint(d->pages_differ, ==, expect);
    g_assert_cmpuint(block(d, 0)->pages_differ, ==, expect);
    g_assert_cmpuint(block(d, 0)->listed->len, ==, 10);
    for (guint i = 0; i < 10; i++) {
        g_assert_cmpuint(listed(block(d, 0), i)->page, ==, 3 * (i + 1));
        g_assert_cmpuint(listed(block(d, 0), i)->byte, ==, 3 * (i + 1));
    }
    none = diff_whole(a, b, 0);
    g_assert_cmpuint(none->pages_differ, ==, expect);
    g_assert_cmpuint(block(none, 0)->listed->len, ==, 0);
}

/* Two layouts of the same RAM blocks: A holds "low" at 0 and "high" at 2M,
 * B holds them at 0 and 1M. One page of "high" differs. */
static void test_blocks(void)
{
    size_t blen = 1 * MiB;
    g_autofree uint8_t *low = pattern(blen, 6);
    g_autofree uint8_t *high = pattern(blen, 7);
    g_autofree uint8_t *ia = pattern(3 * MiB, 8);
    g_autofree uint8_t *ib = pattern(2 * MiB, 9);
    g_autofree char *a = NULL, *b = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;
    g_autoptr(GError) err = NULL;
    struct vmctl_page_diff_range ranges[2] = {
        { (char *)"low", 0, 0, blen },
        { (char *)"high", 2 * MiB, 1 * MiB, blen },
    };
    struct vmctl_page_diff_opts opts;
    const struct vmctl_page_diff_page *p;

    memcpy(ia, low, blen);
    memcpy(ia + 2 * MiB, high, blen);
    memcpy(ib, low, blen);
    memcpy(ib + 1 * MiB, high, blen);
    ib[1 * MiB + 5 * PAGE + 9] ^= 1;
    a = write_image("blk-a", ia, 3 * MiB);
    b = write_image("blk-b", ib, 2 * MiB);

    vmctl_page_diff_opts_init(&opts);
    opts.ranges = ranges;
    opts.n_ranges = 2;
    d = vmctl_page_diff_images(a, b, &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(d->blocks->len, ==, 2);
    g_assert_cmpstr(block(d, 0)->name, ==, "low");
    g_assert_cmpuint(block(d, 0)->pages, ==, blen / PAGE);
    g_assert_cmpuint(block(d, 0)->pages_differ, ==, 0);
    g_assert_cmpstr(block(d, 1)->name, ==, "high");
    g_assert_cmpuint(block(d, 1)->pages_differ, ==, 1);
    p = listed(block(d, 1), 0);
    g_assert_cmpuint(p->page, ==, 5);
    g_assert_cmpuint(p->offset_a, ==, 2 * MiB + 5 * PAGE);
    g_assert_cmpuint(p->offset_b, ==, 1 * MiB + 5 * PAGE);
    g_assert_cmpuint(p->byte, ==, 9);
    g_assert_cmpuint(d->pages, ==, 2 * blen / PAGE);
    g_assert_cmpuint(d->pages_differ, ==, 1);

    /* The same through whole-image offsets and a length. */
    vmctl_page_diff_opts_init(&opts);
    opts.offset_a = 2 * MiB;
    opts.offset_b = 1 * MiB;
    opts.length = blen;
    opts.has_length = true;
    g_clear_pointer(&d, vmctl_page_diff_free);
    d = vmctl_page_diff_images(a, b, &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(block(d, 0)->pages_differ, ==, 1);
    g_assert_cmpuint(listed(block(d, 0), 0)->offset_a, ==, 2 * MiB + 5 * PAGE);

    /* Offsets that leave equal sizes without a length: 1M each. */
    opts.has_length = false;
    g_clear_pointer(&d, vmctl_page_diff_free);
    d = vmctl_page_diff_images(a, b, &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(d->pages, ==, blen / PAGE);

    /* An unaligned offset: the page grid follows the block, not the file. */
    opts.offset_a = 2 * MiB + 5 * PAGE + 1;
    opts.offset_b = 1 * MiB + 5 * PAGE + 1;
    opts.length = 3 * PAGE;
    opts.has_length = true;
    g_clear_pointer(&d, vmctl_page_diff_free);
    d = vmctl_page_diff_images(a, b, &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(block(d, 0)->pages_differ, ==, 1);
    g_assert_cmpuint(listed(block(d, 0), 0)->page, ==, 0);
    g_assert_cmpuint(listed(block(d, 0), 0)->byte, ==, 8);
}

static void expect_error(const char *a, const char *b, const struct vmctl_page_diff_opts *opts, const char *msg)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(vmctl_page_diff) d = vmctl_page_diff_images(a, b, opts, &err);

    g_assert_null(d);
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, msg);
}

static void test_size_mismatch(void)
{
    g_autofree uint8_t *data = pattern(512 * KiB, 10);
    g_autofree char *a = write_image("sz-a", data, 256 * KiB);
    g_autofree char *b = write_image("sz-b", data, 512 * KiB);
    g_autofree char *msg = g_strdup_printf("images '%s' (256K) and '%s' (512K) differ in size", a, b);
    g_autofree char *msg_off =
        g_strdup_printf("images '%s' (256K) from offset 0x1000 and '%s' (512K) from offset 0x0 differ in size", a, b);
    g_autofree char *msg_len = g_strdup_printf("block 'image' (offset 0x0, length 512K) goes beyond the end of '%s' (256K)", a);
    g_autofree char *msg_off_end = g_strdup_printf("offset 0x80000 is beyond the end of '%s' (256K)", a);
    g_autofree char *msg_blk = g_strdup_printf("block 'hi' (offset 0x3f000, length 8K) goes beyond the end of '%s' (256K)", a);
    struct vmctl_page_diff_range ranges[2] = { { (char *)"hi", 0x3f000, 0, 8 * KiB }, { (char *)"hi", 0, 0, 4096 } };
    struct vmctl_page_diff_opts opts;
    g_autoptr(GError) err = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;

    vmctl_page_diff_opts_init(&opts);
    expect_error(a, b, &opts, msg);
    opts.offset_a = 0x1000;
    expect_error(a, b, &opts, msg_off);

    vmctl_page_diff_opts_init(&opts);
    opts.length = 512 * KiB;
    opts.has_length = true;
    expect_error(a, b, &opts, msg_len);
    opts.offset_a = 512 * KiB;
    opts.length = 4096;
    expect_error(a, b, &opts, msg_off_end);

    vmctl_page_diff_opts_init(&opts);
    opts.ranges = ranges;
    opts.n_ranges = 1;
    expect_error(a, b, &opts, msg_blk);
    ranges[0].length = 4 * KiB;
    opts.n_ranges = 2;
    expect_error(a, b, &opts, "block name 'hi' is given twice");

    /* A common length makes the smaller image comparable. */
    vmctl_page_diff_opts_init(&opts);
    opts.length = 256 * KiB;
    opts.has_length = true;
    d = vmctl_page_diff_images(a, b, &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(d->pages_differ, ==, 0);
}

static void test_unreadable(void)
{
    g_autofree uint8_t *data = pattern(8 * KiB, 11);
    g_autofree char *a = write_image("ok-a", data, 8 * KiB);
    g_autofree char *missing = g_build_filename(tmpdir, "missing", NULL);
    g_autofree char *dir = g_build_filename(tmpdir, "dir", NULL);
    g_autofree char *msg_missing = g_strdup_printf("image '%s' cannot be opened: No such file or directory", missing);
    g_autofree char *msg_dir = g_strdup_printf("image '%s' is a directory, not a regular file or a device", dir);
    g_autofree char *fifo = g_build_filename(tmpdir, "fifo", NULL);
    g_autofree char *msg_fifo = g_strdup_printf("image '%s' is a fifo, not a regular file or a device", fifo);
    struct vmctl_page_diff_opts opts;
    g_autoptr(GError) err = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;

    g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    vmctl_page_diff_opts_init(&opts);
    expect_error(a, missing, &opts, msg_missing);
    expect_error(missing, a, &opts, msg_missing);
    expect_error(dir, a, &opts, msg_dir);
    expect_error(a, fifo, &opts, msg_fifo);
    d = vmctl_page_diff_images(a, missing, &opts, &err);
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND);
}

/* Character devices: /dev/zero can be mapped, /dev/full cannot (it is read);
 * neither has a size. */
static void test_char_devices(void)
{
    size_t len = CHUNK + 2 * PAGE;
    g_autofree uint8_t *zeros = g_malloc0(len);
    g_autofree char *z = NULL;
    struct vmctl_page_diff_opts opts;
    g_autoptr(GError) err = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;
    g_autoptr(vmctl_page_diff) same = NULL;

    if (!g_file_test("/dev/zero", G_FILE_TEST_EXISTS) || !g_file_test("/dev/full", G_FILE_TEST_EXISTS)) {
        vmctl_test_needs("no /dev/zero or /dev/full");
        return;
    }
    zeros[CHUNK + PAGE + 7] = 1;
    z = write_image("zeros", zeros, len);
    vmctl_page_diff_opts_init(&opts);
    expect_error("/dev/full", z, &opts, "size of '/dev/full' is unknown (character device): give a length or ranges");

    opts.length = len;
    opts.has_length = true;
    d = vmctl_page_diff_images("/dev/full", z, &opts, &err);
    g_assert_no_error(err);
    g_assert_false(d->size_known_a);
    g_assert_cmpuint(d->pages_differ, ==, 1);
    g_assert_cmpuint(listed(block(d, 0), 0)->page, ==, CHUNK / PAGE + 1);
    g_assert_cmpuint(listed(block(d, 0), 0)->byte, ==, 7);

    same = vmctl_page_diff_images("/dev/zero", "/dev/full", &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(same->pages, ==, len / PAGE);
    g_assert_cmpuint(same->pages_differ, ==, 0);

    /* mapped against read, and mapped against mapped, in small units */
    opts.threads = 3;
    opts.unit = 2 * PAGE;
    g_clear_pointer(&d, vmctl_page_diff_free);
    d = vmctl_page_diff_images("/dev/zero", z, &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(d->pages_differ, ==, 1);
    g_assert_cmpuint(listed(block(d, 0), 0)->page, ==, CHUNK / PAGE + 1);
    g_clear_pointer(&same, vmctl_page_diff_free);
    same = vmctl_page_diff_images("/dev/zero", "/dev/zero", &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(same->pages, ==, len / PAGE);
    g_assert_cmpuint(same->pages_differ, ==, 0);
}

/* Image of 40 pages and 123 bytes, compared in units of 3 pages by 4
 * workers: pages differ on both sides of every unit boundary and in the
 * partial last page. The count is exact and the pages listed are the first
 * in page order, as with one worker and one unit. */
#define UNITS_LEN (40 * PAGE + 123)

static uint64_t units_damage(uint8_t *data)
{
    uint64_t n = 0;

    for (size_t p = 2; p < 40; p++) {
        if (p % 3 == 1)
            continue;
        data[p * PAGE + (p % 3 == 2 ? PAGE - 1 : 0)] ^= 0x55;
        n++;
    }
    data[UNITS_LEN - 1] ^= 0x55;
    return n + 1;
}

static struct vmctl_page_diff *diff_units(const char *a, const char *b, const struct vmctl_page_diff_opts *base,
                                          unsigned threads, uint64_t unit, unsigned max_report)
{
    struct vmctl_page_diff_opts opts = *base;
    g_autoptr(GError) err = NULL;
    struct vmctl_page_diff *d;

    opts.threads = threads;
    opts.unit = unit;
    opts.max_report = max_report;
    d = vmctl_page_diff_images(a, b, &opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(d);
    return d;
}

static void assert_same_block(const struct vmctl_page_diff_block *x, const struct vmctl_page_diff_block *y)
{
    g_assert_cmpuint(x->pages, ==, y->pages);
    g_assert_cmpuint(x->pages_differ, ==, y->pages_differ);
    g_assert_cmpmem(x->listed->data, x->listed->len * sizeof(struct vmctl_page_diff_page), y->listed->data,
                    y->listed->len * sizeof(struct vmctl_page_diff_page));
}

static void test_units(void)
{
    g_autofree uint8_t *data = pattern(UNITS_LEN, 9);
    g_autofree char *a = write_image("units-a", data, UNITS_LEN);
    g_autofree char *b = NULL;
    struct vmctl_page_diff_opts opts;
    g_autoptr(vmctl_page_diff) one = NULL;
    g_autoptr(vmctl_page_diff) five = NULL;
    g_autoptr(vmctl_page_diff) all = NULL;
    g_autoptr(vmctl_page_diff) none = NULL;
    const struct vmctl_page_diff_block *blk;
    const uint64_t first[] = { 2, 3, 5, 6, 8 };
    uint64_t expect = units_damage(data);

    b = write_image("units-b", data, UNITS_LEN);
    vmctl_page_diff_opts_init(&opts);
    one = diff_units(a, b, &opts, 1, 0, 5);
    five = diff_units(a, b, &opts, 4, 3 * PAGE, 5);
    blk = block(five, 0);
    g_assert_cmpuint(blk->pages, ==, 41);
    g_assert_cmpuint(blk->pages_differ, ==, expect);
    g_assert_cmpuint(blk->listed->len, ==, 5);
    for (guint i = 0; i < G_N_ELEMENTS(first); i++) {
        g_assert_cmpuint(listed(blk, i)->page, ==, first[i]);
        g_assert_cmpuint(listed(blk, i)->byte, ==, first[i] % 3 == 2 ? PAGE - 1 : 0);
    }
    assert_same_block(blk, block(one, 0));

    /* every page listed: in order, up to the partial last page */
    all = diff_units(a, b, &opts, 3, 3 * PAGE, 1000);
    blk = block(all, 0);
    g_assert_cmpuint(blk->listed->len, ==, expect);
    for (guint i = 1; i < blk->listed->len; i++)
        g_assert_cmpuint(listed(blk, i - 1)->page, <, listed(blk, i)->page);
    g_assert_cmpuint(listed(blk, expect - 1)->page, ==, 40);
    g_assert_cmpuint(listed(blk, expect - 1)->offset_a, ==, 40 * PAGE);
    g_assert_cmpuint(listed(blk, expect - 1)->byte, ==, 122);
    g_assert_cmpuint(all->pages_differ, ==, expect);

    none = diff_units(a, b, &opts, 4, PAGE, 0);
    g_assert_cmpuint(none->pages_differ, ==, expect);
    g_assert_cmpuint(block(none, 0)->listed->len, ==, 0);
}

/* The same as a RAM block at other offsets of each image: every unit reads
 * from its block's offsets and numbers pages from the block start. */
static void test_units_block(void)
{
    size_t pad = 5 * PAGE;
    g_autofree uint8_t *data = pattern(pad + UNITS_LEN, 10);
    g_autofree char *a = write_image("unitsblk-a", data + pad, UNITS_LEN);
    g_autofree char *b = NULL;
    struct vmctl_page_diff_range range = { "ram", 0, pad, UNITS_LEN };
    struct vmctl_page_diff_opts opts;
    g_autoptr(vmctl_page_diff) one = NULL;
    g_autoptr(vmctl_page_diff) many = NULL;
    const struct vmctl_page_diff_block *blk;
    uint64_t expect = units_damage(data + pad);

    b = write_image("unitsblk-b", data, pad + UNITS_LEN);
    vmctl_page_diff_opts_init(&opts);
    opts.ranges = &range;
    opts.n_ranges = 1;
    one = diff_units(a, b, &opts, 1, 0, 7);
    many = diff_units(a, b, &opts, 4, 2 * PAGE, 7);
    blk = block(many, 0);
    g_assert_cmpuint(blk->pages_differ, ==, expect);
    g_assert_cmpuint(blk->listed->len, ==, 7);
    g_assert_cmpuint(listed(blk, 6)->page, ==, 11);
    g_assert_cmpuint(listed(blk, 6)->offset_a, ==, 11 * PAGE);
    g_assert_cmpuint(listed(blk, 6)->offset_b, ==, pad + 11 * PAGE);
    assert_same_block(blk, block(one, 0));
}

static void test_unit_not_page(void)
{
    struct vmctl_page_diff_opts opts;
    g_autofree uint8_t *data = pattern(PAGE, 11);
    g_autofree char *a = write_image("unit-a", data, PAGE);

    vmctl_page_diff_opts_init(&opts);
    opts.unit = 1000;
    expect_error(a, a, &opts, "unit of 1000 bytes is not a multiple of the 4096-byte page");
}

static void test_parse_range(void)
{
    static const struct {
        const char *spec;
        const char *msg;
    } bad[] = {
        { "pc.ram:0:0", "block 'pc.ram:0:0' is not NAME:OFFSET_A:OFFSET_B:LENGTH" },
        { ":0:0:1M", "block ':0:0:1M' has an empty name" },
        { "r:x:0:1M", "block 'r:x:0:1M' has a bad offset in A: size 'x' is not a number with an optional K/M/G/T suffix" },
        { "r:0:0:0", "block 'r:0:0:0' has a bad length: size '0' must be greater than zero" },
        { "r:0::1M", "block 'r:0::1M' has a bad offset in B: size '' is empty" },
    };
    struct vmctl_page_diff_range r = { 0 };
    g_autoptr(GError) err = NULL;

    g_assert_true(vmctl_page_diff_parse_range("pc.ram:0:4G:2G", &r, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(r.name, ==, "pc.ram");
    g_assert_cmpuint(r.offset_a, ==, 0);
    g_assert_cmpuint(r.offset_b, ==, 4 * GiB);
    g_assert_cmpuint(r.length, ==, 2 * GiB);
    vmctl_page_diff_range_clear(&r);
    g_assert_true(vmctl_page_diff_parse_range("/objects/mem:a:1M:4096:8K", &r, &err));
    g_assert_cmpstr(r.name, ==, "/objects/mem:a");
    g_assert_cmpuint(r.offset_a, ==, MiB);
    g_assert_cmpuint(r.length, ==, 8 * KiB);
    vmctl_page_diff_range_clear(&r);

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_clear_error(&err);
        g_assert_false(vmctl_page_diff_parse_range(bad[i].spec, &r, &err));
        g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
        g_assert_cmpstr(err->message, ==, bad[i].msg);
        g_assert_null(r.name);
    }
}

static void test_json(void)
{
    size_t len = 64 * KiB;
    g_autofree uint8_t *data = pattern(len, 12);
    g_autofree char *a = write_image("json-a", data, len);
    g_autofree char *b = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;
    g_autoptr(json_object) o = NULL;
    json_object *blk, *p;

    data[2 * PAGE + 5] ^= 1;
    data[9 * PAGE] ^= 1;
    b = write_image("json-b", data, len);
    d = diff_whole(a, b, 1);
    o = vmctl_page_diff_to_json(d);
    g_assert_cmpstr(json_object_get_string(json_object_object_get(json_object_object_get(o, "image_a"), "path")), ==, a);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(json_object_object_get(o, "image_b"), "size")), ==, len);
    g_assert_false(json_object_get_boolean(json_object_object_get(o, "identical")));
    g_assert_cmpint(json_object_get_int64(json_object_object_get(json_object_object_get(o, "total"), "pages_differ")), ==, 2);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(json_object_object_get(o, "total"), "pages")), ==, 16);
    blk = json_object_array_get_idx(json_object_object_get(o, "blocks"), 0);
    g_assert_cmpstr(json_object_get_string(json_object_object_get(blk, "name")), ==, "image");
    g_assert_cmpint(json_object_get_int64(json_object_object_get(blk, "unlisted")), ==, 1);
    g_assert_cmpuint(json_object_array_length(json_object_object_get(blk, "differ")), ==, 1);
    p = json_object_array_get_idx(json_object_object_get(blk, "differ"), 0);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(p, "page")), ==, 2);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(p, "offset_a")), ==, 2 * PAGE);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(p, "byte")), ==, 5);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(o, "bytes_per_sec")), >, 0);
}

static void remove_tmpdir(void)
{
    g_autoptr(GDir) dir = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(tmpdir, name, NULL);

        if (g_remove(p) != 0)
            g_rmdir(p);
    }
    g_rmdir(tmpdir);
}

/* --diff-json A B [NAME:OFFA:OFFB:LEN...]: the library on the command line. */
static int diff_json_main(int argc, char **argv)
{
    g_autoptr(GArray) ranges = g_array_new(FALSE, TRUE, sizeof(struct vmctl_page_diff_range));
    g_autoptr(GError) err = NULL;
    g_autoptr(vmctl_page_diff) d = NULL;
    g_autoptr(json_object) o = NULL;
    struct vmctl_page_diff_opts opts;

    g_array_set_clear_func(ranges, (GDestroyNotify)vmctl_page_diff_range_clear);
    if (argc < 4) {
        fprintf(stderr, "usage: %s --diff-json A B [NAME:OFFA:OFFB:LEN...]\n", argv[0]);
        return 2;
    }
    for (int i = 4; i < argc; i++) {
        struct vmctl_page_diff_range r = { 0 };

        if (!vmctl_page_diff_parse_range(argv[i], &r, &err)) {
            fprintf(stderr, "vmctl: %s\n", err->message);
            return 2;
        }
        g_array_append_val(ranges, r);
    }
    vmctl_page_diff_opts_init(&opts);
    opts.ranges = (const struct vmctl_page_diff_range *)ranges->data;
    opts.n_ranges = ranges->len;
    d = vmctl_page_diff_images(argv[2], argv[3], &opts, &err);
    if (!d) {
        fprintf(stderr, "vmctl: %s\n", err->message);
        return 2;
    }
    o = vmctl_page_diff_to_json(d);
    vmctl_json_print(o);
    return d->pages_differ ? 1 : 0;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int rc;

    if (argc > 1 && strcmp(argv[1], "--diff-json") == 0)
        return diff_json_main(argc, argv);

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("vmctl-page-diff-XXXXXX", &err);
    g_assert_no_error(err);

    g_test_add_func("/vmctl/pages/diff/identical", test_identical);
    g_test_add_func("/vmctl/pages/diff/one-byte", test_one_byte);
    g_test_add_func("/vmctl/pages/diff/odd-size-last-page", test_odd_size);
    g_test_add_func("/vmctl/pages/diff/inside-chunk", test_inside_chunk);
    g_test_add_func("/vmctl/pages/diff/many", test_many);
    g_test_add_func("/vmctl/pages/diff/blocks", test_blocks);
    g_test_add_func("/vmctl/pages/diff/size-mismatch", test_size_mismatch);
    g_test_add_func("/vmctl/pages/diff/unreadable", test_unreadable);
    g_test_add_func("/vmctl/pages/diff/char-devices", test_char_devices);
    g_test_add_func("/vmctl/pages/diff/units", test_units);
    g_test_add_func("/vmctl/pages/diff/units-block", test_units_block);
    g_test_add_func("/vmctl/pages/diff/unit-not-page", test_unit_not_page);
    g_test_add_func("/vmctl/pages/diff/parse-range", test_parse_range);
    g_test_add_func("/vmctl/pages/diff/json", test_json);
    rc = g_test_run();

    remove_tmpdir();
    return rc;
}
