/* page_stamp.h: the host-side page-stamp checker. Reads a guest RAM backing
 * file or memory dump, finds the control page and checks every stamped
 * page against THE RULE of include/vmctl/page_stamp.h. Library code: it
 * reports through the result and GError, never prints. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h" /* json_object autoptr */
#include "vmctl/page_stamp.h"

/* Verdicts of the host checker: the guest-side ones plus MISSING, a stamped
 * page that is not in the image (beyond its end, or in --scan mode not found
 * anywhere). */
#define VMCTL_PAGE_MISSING ((enum vmctl_stamp_verdict)(VMCTL_STAMP_AHEAD + 1))
#define VMCTL_PAGE_VERDICTS (VMCTL_STAMP_AHEAD + 2) /* number of verdicts, OK included */

#define VMCTL_PAGES_FIRST_MAX 10 /* bad pages kept in a report */
#define VMCTL_PAGES_NO_OFFSET UINT64_MAX

typedef struct {
    uint64_t offset;     /* byte offset of the control page (ignored with scan) */
    bool scan;           /* find the control page and the pages by their magic */
    unsigned threads;    /* offset mode: workers; 0: one per online CPU */
    uint64_t unit_pages; /* offset mode: pages a worker takes at a time; 0:
                          * the default (tests make it small) */
} VmctlPagesCheckOptions;

typedef struct {
    uint64_t index;        /* stamped-page index */
    uint64_t offset;       /* byte offset in the image, VMCTL_PAGES_NO_OFFSET when missing in a scan */
    enum vmctl_stamp_verdict verdict;
    uint64_t expected_gen; /* vmctl_stamp_expected_gen() */
    uint64_t actual_gen;   /* generation word of the page (0 when missing) */
} VmctlPageBad;

typedef struct {
    bool scan;
    uint64_t image_size;       /* bytes */
    uint64_t ctl_offset;       /* where the control page was */
    uint64_t ctl_copies;       /* control pages of this region found (scan) */
    struct vmctl_stamp_ctl ctl; /* the control page as found */
    uint64_t checked;          /* pages given a verdict */
    uint64_t in_flight;        /* pages skipped because a writer announced them */
    uint64_t bad;              /* pages with a verdict other than OK, plus
                                * the control page when ctl_behind */
    uint64_t duplicates;       /* scan: extra copies of a page index */
    uint64_t conflicts;        /* scan: extra copies whose content differs from
                                * the copy first found (a stale block beside a
                                * live one: which one the guest reads is the
                                * filesystem's business, so it is said) */
    unsigned n_conflict_first;
    uint64_t conflict_first[VMCTL_PAGES_FIRST_MAX]; /* their indexes, first found */
    uint64_t same_found;       /* scan: same pages found (they carry no index) */
    uint64_t counts[VMCTL_PAGE_VERDICTS]; /* pages per verdict */
    bool changed;              /* the control page changed during the check: a
                                * running writer, the verdicts do not hold */
    uint64_t writes_seen;      /* offset mode: the latest rewrite a page shows
                                * (pages with a valid checksum), 0 none */
    bool ctl_behind;           /* offset mode: the control page is stale, its
                                * writes behind the pages' writes_seen; the
                                * verdicts are given against writes_seen, and
                                * the control page counts as one bad page */
    unsigned n_first;
    VmctlPageBad first[VMCTL_PAGES_FIRST_MAX]; /* the first bad pages, by index */
} VmctlPagesReport;

/* Check an image in memory (size bytes). False with error set when there is
 * no usable control page; bad pages are not an error: see report->bad. In
 * offset mode the pages are checked by one thread per online CPU; the
 * report is the same for any number of threads. */
bool vmctl_pages_check_image(const void *image, uint64_t size, const VmctlPagesCheckOptions *opts,
                             VmctlPagesReport *report, GError **error);

/* Check a file, block device or device DAX. In offset mode a file or block
 * device in 4 KiB pages is read in windows (pread) by the workers; scan
 * mode, device DAX and files in huge pages are mapped read-only whole. */
bool vmctl_pages_check_file(const char *path, const VmctlPagesCheckOptions *opts, VmctlPagesReport *report,
                            GError **error);

/* "ok", "bad_magic", "bad_index", "bad_csum", "stale", "ahead", "missing". */
const char *vmctl_page_verdict_name(enum vmctl_stamp_verdict v);

/* The report with raw numbers. */
json_object *vmctl_pages_report_to_json(const VmctlPagesReport *report);
