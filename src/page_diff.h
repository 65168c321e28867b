/* page_diff.h: page-by-page comparison of two memory images, the host-side
 * oracle of migration verification. Compares large chunks first with memcmp
 * and descends to 4 KiB pages only inside a chunk that differs, so equal
 * images are compared at memcmp speed; the work is shared by one thread per
 * online CPU and the results are the same for any number of threads.
 * Reports per range ("RAM block"): pages compared, pages that differ and the
 * first few of them with their image offsets and the first differing byte.
 * Never prints. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define VMCTL_PAGE_DIFF_PAGE 4096u               /* bytes, the unit of comparison */
#define VMCTL_PAGE_DIFF_CHUNK (2u * 1024 * 1024) /* bytes, compared whole before pages */
#define VMCTL_PAGE_DIFF_MAX_REPORT 10u           /* differing pages listed per block by default */
#define VMCTL_PAGE_DIFF_DEFAULT_NAME "image"     /* block name when no ranges are given */

/* A named range: `length` bytes at `offset_a` in image A against the same
 * number of bytes at `offset_b` in image B (a RAM block of a guest). */
struct vmctl_page_diff_range {
    char *name;
    uint64_t offset_a; /* bytes */
    uint64_t offset_b; /* bytes */
    uint64_t length;   /* bytes, need not be a multiple of the page size */
};

struct vmctl_page_diff_opts {
    /* Whole-image mode (n_ranges == 0): compare from these offsets, either
     * `length` bytes (has_length) or to the end of the images, whose
     * remaining sizes must then be equal. */
    uint64_t offset_a;
    uint64_t offset_b;
    uint64_t length;
    bool has_length;
    /* Range mode: compare these ranges and report each of them. */
    const struct vmctl_page_diff_range *ranges;
    size_t n_ranges;
    unsigned max_report; /* differing pages listed per block */
    unsigned threads;    /* workers; 0: one per online CPU */
    uint64_t unit;       /* bytes a worker takes at a time, a multiple of
                          * the page size; 0: the default (tests make it
                          * small to put unit boundaries in small images) */
};

/* One differing page. `page` counts from the start of its block. */
struct vmctl_page_diff_page {
    uint64_t page;
    uint64_t offset_a; /* image offset of the page in A, bytes */
    uint64_t offset_b; /* image offset of the page in B, bytes */
    uint32_t byte;     /* first differing byte within the page */
};

struct vmctl_page_diff_block {
    char *name;
    uint64_t offset_a;     /* bytes */
    uint64_t offset_b;     /* bytes */
    uint64_t length;       /* bytes */
    uint64_t pages;        /* pages compared (a partial last page counts) */
    uint64_t pages_differ; /* exact count */
    GArray *listed;        /* struct vmctl_page_diff_page, the first max_report */
};

struct vmctl_page_diff {
    char *path_a;
    char *path_b;
    uint64_t size_a;   /* bytes; 0 with size_known_a false for a device of unknown size */
    uint64_t size_b;
    bool size_known_a;
    bool size_known_b;
    unsigned max_report;
    GPtrArray *blocks; /* struct vmctl_page_diff_block *, in the order given */
    uint64_t pages;
    uint64_t pages_differ;
    uint64_t bytes;       /* bytes compared (of one image) */
    uint64_t elapsed_ns;  /* opening, mapping and comparing */
    double bytes_per_sec; /* bytes / elapsed */
};

/* Defaults: whole images from offset 0, VMCTL_PAGE_DIFF_MAX_REPORT. */
void vmctl_page_diff_opts_init(struct vmctl_page_diff_opts *opts);

/* Compare two images: regular files, block or character devices, /dev/shm
 * files, memory dumps. Files in 4 KiB pages are read, device DAX and files
 * in huge pages are mapped read-only. The result lists every block; a
 * difference is not an error. Errors (one line, naming the path and the rule): an image that
 * cannot be opened or read, sizes that differ without ranges or length, a
 * range beyond the end of an image. Mapped images must not shrink while they
 * are compared (a read beyond the end of a mapped file raises SIGBUS). */
struct vmctl_page_diff *vmctl_page_diff_images(const char *path_a, const char *path_b,
                                               const struct vmctl_page_diff_opts *opts, GError **error);

/* The comparison engine on memory already mapped: compares `length` bytes of
 * a and b and adds to `block` (pages, pages_differ, listed). `first_page` is
 * the block-relative index of a[0], which must start a page of the block;
 * `image_a`/`image_b` are the image offsets of a[0] and b[0]. Returns the
 * number of differing pages found in this call. */
uint64_t vmctl_page_diff_mem(struct vmctl_page_diff_block *block, const void *a, const void *b, uint64_t length,
                             uint64_t first_page, uint64_t image_a, uint64_t image_b, unsigned max_report);

/* A new empty block (listed array allocated). */
struct vmctl_page_diff_block *vmctl_page_diff_block_new(const char *name, uint64_t offset_a, uint64_t offset_b,
                                                        uint64_t length);
void vmctl_page_diff_block_free(struct vmctl_page_diff_block *block);

/* Parse "NAME:OFFSET_A:OFFSET_B:LENGTH" (sizes as vmctl_parse_size; offsets
 * may be zero). The name is everything before the last three colons. */
bool vmctl_page_diff_parse_range(const char *spec, struct vmctl_page_diff_range *out, GError **error);
void vmctl_page_diff_range_clear(struct vmctl_page_diff_range *range);

json_object *vmctl_page_diff_to_json(const struct vmctl_page_diff *diff);

typedef struct vmctl_page_diff vmctl_page_diff;
void vmctl_page_diff_free(struct vmctl_page_diff *diff);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmctl_page_diff, vmctl_page_diff_free)
