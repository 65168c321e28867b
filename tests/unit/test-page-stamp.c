/* test-page-stamp.c: the page-stamp format and the host checker. Regions are
 * built in memory with the shared header's own functions, then broken one
 * way at a time; each verdict must appear at exactly the broken page. Every
 * offset-mode check runs three ways that must give the same report: in
 * memory with one worker, in memory with four workers in units of three
 * pages, and from a file read in windows by three workers. */
#include "config.h"

#include "page_stamp.h"
#include "util.h"

#include <glib/gstdio.h>
#include <string.h>

#define PAGES 64 /* stamped pages of the test region */
#define SAME 4
#define WS 16

typedef struct {
    uint8_t *image;
    uint64_t size;
    uint64_t base; /* offset of the control page */
    struct vmctl_stamp_ctl *ctl;
} Region;

static uint64_t *page(Region *r, uint64_t i)
{
    return (uint64_t *)(void *)(r->image + r->base + (i + 1) * VMCTL_PAGE_SIZE);
}

/* A region at byte offset base of an image of pad pages more, with `writes`
 * rewrites already done by one writer, exactly as a guest does them. */
static void region_init(Region *r, uint64_t base, uint64_t pad, uint64_t writes)
{
    r->base = base;
    r->size = base + (PAGES + 1 + pad) * VMCTL_PAGE_SIZE;
    r->image = g_malloc0(r->size);
    r->ctl = (struct vmctl_stamp_ctl *)(void *)(r->image + base);
    *r->ctl = (struct vmctl_stamp_ctl){
        .magic = VMCTL_STAMP_CTL_MAGIC,
        .version = VMCTL_STAMP_VERSION,
        .region = 0x1234,
        .seed = 7,
        .page_count = PAGES,
        .same_pages = SAME,
        .ws_pages = WS,
    };
    for (uint64_t i = 0; i < PAGES; i++) {
        vmctl_stamp_init_page(r->ctl, page(r, i), i);
        r->ctl->stamped = i + 1;
    }
    for (uint64_t w = 0; w < writes; w++) {
        uint64_t i = vmctl_stamp_next_index(r->ctl);

        vmctl_stamp_rewrite(r->ctl, page(r, i), i, 0);
    }
}

static void region_clear(Region *r)
{
    g_free(r->image);
}

static char *tmpdir;

static char *report_str(const VmctlPagesReport *rep)
{
    g_autoptr(json_object) o = vmctl_pages_report_to_json(rep);

    return g_strdup(json_object_to_json_string(o));
}

/* The same image checked by workers in small units, in memory and from a
 * file, must give the report of one worker. */
static void check_workers(Region *r, const VmctlPagesReport *one)
{
    VmctlPagesCheckOptions opts = { .offset = r->base, .threads = 4, .unit_pages = 3 };
    g_autofree char *path = g_build_filename(tmpdir, "image", NULL);
    g_autofree char *want = report_str(one);
    g_autofree char *got_mem = NULL, *got_file = NULL;
    g_autoptr(GError) err = NULL;
    VmctlPagesReport rep;

    g_assert_true(vmctl_pages_check_image(r->image, r->size, &opts, &rep, &err));
    g_assert_no_error(err);
    got_mem = report_str(&rep);
    g_assert_cmpstr(got_mem, ==, want);

    g_assert_true(g_file_set_contents(path, (const char *)r->image, r->size, &err));
    opts.threads = 3;
    opts.unit_pages = 5;
    g_assert_true(vmctl_pages_check_file(path, &opts, &rep, &err));
    g_assert_no_error(err);
    got_file = report_str(&rep);
    g_assert_cmpstr(got_file, ==, want);
    g_assert_cmpint(g_remove(path), ==, 0);
}

static void check(Region *r, bool scan, VmctlPagesReport *rep)
{
    VmctlPagesCheckOptions opts = { .offset = r->base, .scan = scan, .threads = 1 };
    g_autoptr(GError) err = NULL;

    g_assert_true(vmctl_pages_check_image(r->image, r->size, &opts, rep, &err));
    g_assert_no_error(err);
    if (!scan)
        check_workers(r, rep);
}

/* Exactly one bad page: index i with verdict v. */
static void assert_one_bad(const VmctlPagesReport *rep, uint64_t i, enum vmctl_stamp_verdict v)
{
    g_assert_cmpuint(rep->bad, ==, 1);
    g_assert_cmpuint(rep->counts[v], ==, 1);
    g_assert_cmpuint(rep->n_first, ==, 1);
    g_assert_cmpuint(rep->first[0].index, ==, i);
    g_assert_cmpstr(vmctl_page_verdict_name(rep->first[0].verdict), ==, vmctl_page_verdict_name(v));
}

static void test_clean(void)
{
    Region r;
    VmctlPagesReport rep;

    /* 2.5 rounds of the working set: pages carry generations 2 and 3 */
    region_init(&r, 0, 0, WS * 2 + WS / 2);
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    g_assert_cmpuint(rep.checked, ==, PAGES);
    g_assert_cmpuint(rep.counts[VMCTL_STAMP_OK], ==, PAGES);
    g_assert_cmpuint(rep.in_flight, ==, 0);
    g_assert_cmpuint(rep.ctl.writes, ==, WS * 2 + WS / 2);
    g_assert_cmpuint(page(&r, SAME)[VMCTL_STAMP_W_GEN], ==, 3);
    g_assert_cmpuint(page(&r, SAME + WS - 1)[VMCTL_STAMP_W_GEN], ==, 2);
    region_clear(&r);
}

static void test_flipped_byte(void)
{
    Region r;
    VmctlPagesReport rep;

    region_init(&r, 0, 0, 100);
    ((uint8_t *)page(&r, 40))[1000] ^= 0x01;
    check(&r, false, &rep);
    assert_one_bad(&rep, 40, VMCTL_STAMP_BAD_CSUM);
    g_assert_cmpuint(rep.first[0].offset, ==, 41 * VMCTL_PAGE_SIZE);
    region_clear(&r);
}

/* A write that never reached the image: the page keeps its old generation
 * while ctl.writes counts the rewrite. */
static void test_lost_write(void)
{
    Region r;
    VmctlPagesReport rep;
    uint64_t i;

    region_init(&r, 0, 0, 37);
    i = vmctl_stamp_next_index(r.ctl);
    r.ctl->writes++; /* counted, but the page was not written */
    check(&r, false, &rep);
    assert_one_bad(&rep, i, VMCTL_STAMP_STALE);
    g_assert_cmpuint(rep.first[0].expected_gen, ==, 3);
    g_assert_cmpuint(rep.first[0].actual_gen, ==, 2);
    region_clear(&r);
}

static void test_ahead(void)
{
    Region r;
    VmctlPagesReport rep;

    region_init(&r, 0, 0, 37);
    vmctl_stamp_rewrite(r.ctl, page(&r, SAME + 10), SAME + 10, 0);
    r.ctl->writes--; /* the page is newer than the count says */
    check(&r, false, &rep);
    assert_one_bad(&rep, SAME + 10, VMCTL_STAMP_AHEAD);
    region_clear(&r);
}

/* The control page itself lost its last writes (a migration that did not
 * carry it): every page rewritten since looks ahead of it. That is one lost
 * page, the control page, and the other verdicts are given against the
 * latest write the pages show. */
static void test_ctl_behind(void)
{
    Region r;
    VmctlPagesReport rep;
    struct vmctl_stamp_ctl old;
    uint64_t lost_i = 0;
    uint8_t lost[VMCTL_PAGE_SIZE];

    region_init(&r, 0, 0, 60);
    old = *r.ctl;
    for (int w = 0; w < 40; w++) {
        uint64_t i = vmctl_stamp_next_index(r.ctl);

        if (w == 20) { /* this rewrite will be lost too */
            lost_i = i;
            memcpy(lost, page(&r, i), sizeof(lost));
        }
        vmctl_stamp_rewrite(r.ctl, page(&r, i), i, 0);
    }
    *r.ctl = old;
    check(&r, false, &rep);
    g_assert_true(rep.ctl_behind);
    g_assert_cmpuint(rep.bad, ==, 1);
    g_assert_cmpuint(rep.counts[VMCTL_STAMP_AHEAD], ==, 0);
    g_assert_cmpuint(rep.n_first, ==, 0);
    g_assert_cmpuint(rep.writes_seen, ==, 100);
    g_assert_cmpuint(rep.ctl.writes, ==, 60); /* as found */
    {
        g_autoptr(json_object) o = vmctl_pages_report_to_json(&rep);
        json_object *v = json_object_object_get(o, "verdicts");

        g_assert_cmpint(json_object_get_int64(json_object_object_get(v, "control_page_behind")), ==, 1);
        g_assert_cmpint(json_object_get_int64(json_object_object_get(o, "writes_seen")), ==, 100);
    }
    /* and a data page lost as well: named stale, counted with the control page */
    memcpy(page(&r, lost_i), lost, sizeof(lost));
    check(&r, false, &rep);
    g_assert_true(rep.ctl_behind);
    g_assert_cmpuint(rep.bad, ==, 2);
    g_assert_cmpuint(rep.n_first, ==, 1);
    g_assert_cmpuint(rep.first[0].index, ==, lost_i);
    g_assert_cmpint(rep.first[0].verdict, ==, VMCTL_STAMP_STALE);
    region_clear(&r);
}

static void test_wrong_place(void)
{
    Region r;
    VmctlPagesReport rep;

    region_init(&r, 0, 0, 5);
    memcpy(page(&r, 50), page(&r, 51), VMCTL_PAGE_SIZE);
    check(&r, false, &rep);
    assert_one_bad(&rep, 50, VMCTL_STAMP_BAD_INDEX);
    region_clear(&r);
}

static void test_zeroed(void)
{
    Region r;
    VmctlPagesReport rep;

    region_init(&r, 0, 0, 5);
    memset(page(&r, 2), 0, VMCTL_PAGE_SIZE); /* a same page */
    check(&r, false, &rep);
    assert_one_bad(&rep, 2, VMCTL_STAMP_BAD_MAGIC);
    region_clear(&r);
}

/* A writer stopped between announcing a page and finishing its rewrite:
 * the half-written page is skipped and counted, not reported. */
static void test_in_flight(void)
{
    Region r;
    VmctlPagesReport rep;
    uint64_t i;

    region_init(&r, 0, 0, 20);
    i = vmctl_stamp_next_index(r.ctl);
    r.ctl->inflight[3] = i + 1;
    page(&r, i)[VMCTL_STAMP_W_GEN]++; /* generation bumped, checksum not yet */
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    g_assert_cmpuint(rep.in_flight, ==, 1);
    g_assert_cmpuint(rep.checked, ==, PAGES - 1);
    /* the same page without the announcement is bad */
    r.ctl->inflight[3] = 0;
    check(&r, false, &rep);
    assert_one_bad(&rep, i, VMCTL_STAMP_BAD_CSUM);
    region_clear(&r);
}

/* THE RULE holds at every store of vmctl_stamp_rewrite(): replay one
 * rewrite store by store on a copy and check after each. */
static void test_rule_every_store(void)
{
    Region r;
    VmctlPagesReport rep;
    uint64_t i, g;

    region_init(&r, 0, 0, WS + 3);
    i = vmctl_stamp_next_index(r.ctl);
    g = page(&r, i)[VMCTL_STAMP_W_GEN];
    r.ctl->inflight[0] = i + 1;
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    page(&r, i)[VMCTL_STAMP_W_GEN] = g + 1;
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    page(&r, i)[VMCTL_STAMP_W_CSUM] += vmctl_stamp_weight(VMCTL_STAMP_W_GEN);
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    r.ctl->writes++;
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    r.ctl->inflight[0] = 0;
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    g_assert_cmpuint(rep.in_flight, ==, 0);
    region_clear(&r);
}

static void test_not_stamped_yet(void)
{
    Region r;
    VmctlPagesReport rep;

    region_init(&r, 0, 0, 0);
    r.ctl->stamped = 30;
    memset(page(&r, 45), 0xff, VMCTL_PAGE_SIZE); /* beyond stamped: not checked */
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    g_assert_cmpuint(rep.checked, ==, 30);
    region_clear(&r);
}

static void test_offset_and_truncated(void)
{
    Region r;
    VmctlPagesReport rep;
    VmctlPagesCheckOptions opts = { .offset = 2 * MiB };
    g_autoptr(GError) err = NULL;

    region_init(&r, 2 * MiB, 0, 9);
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    g_assert_cmpuint(rep.ctl_offset, ==, 2 * MiB);
    /* the image ends 3 pages early: those are missing */
    g_assert_true(vmctl_pages_check_image(r.image, r.size - 3 * VMCTL_PAGE_SIZE, &opts, &rep, &err));
    g_assert_cmpuint(rep.bad, ==, 3);
    g_assert_cmpuint(rep.counts[VMCTL_PAGE_MISSING], ==, 3);
    g_assert_cmpuint(rep.first[0].index, ==, PAGES - 3);
    region_clear(&r);
}

/* A control page that claims more pages than the image holds (a forged or
 * truncated image): counted as missing without walking them, refused by
 * a scan. */
static void test_forged_count(void)
{
    Region r;
    VmctlPagesReport rep;
    VmctlPagesCheckOptions opts = { .scan = true };
    g_autoptr(GError) err = NULL;
    uint64_t huge = UINT64_C(1) << 50;

    region_init(&r, 0, 0, 0);
    r.ctl->page_count = r.ctl->stamped = huge;
    r.ctl->inflight[0] = r.ctl->inflight[1] = huge - 5; /* one page, two slots */
    r.ctl->inflight[2] = PAGES + 1;                     /* page PAGES, the first missing one */
    check(&r, false, &rep);
    g_assert_cmpuint(rep.in_flight, ==, 2);
    g_assert_cmpuint(rep.counts[VMCTL_PAGE_MISSING], ==, huge - PAGES - 2);
    g_assert_cmpuint(rep.checked, ==, huge - 2);
    g_assert_cmpuint(rep.bad, ==, huge - PAGES - 2);
    g_assert_cmpuint(rep.n_first, ==, VMCTL_PAGES_FIRST_MAX);
    g_assert_cmpuint(rep.first[0].index, ==, PAGES + 1);
    g_assert_false(vmctl_pages_check_image(r.image, r.size, &opts, &rep, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    region_clear(&r);
}

static void test_no_control_page(void)
{
    Region r;
    VmctlPagesReport rep;
    VmctlPagesCheckOptions opts = { .offset = 4096 };
    g_autoptr(GError) err = NULL;

    region_init(&r, 0, 0, 0);
    g_assert_false(vmctl_pages_check_image(r.image, r.size, &opts, &rep, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==, "no control page at offset '4096': its magic is not VMTCTL1");
    g_clear_error(&err);
    r.ctl->ws_pages = PAGES;
    opts.offset = 0;
    g_assert_false(vmctl_pages_check_image(r.image, r.size, &opts, &rep, &err));
    g_assert_cmpstr(err->message, ==, "no control page at offset '0': same_pages + ws_pages exceed page_count");
    g_clear_error(&err);
    opts.scan = true;
    g_assert_false(vmctl_pages_check_image(r.image, r.size, &opts, &rep, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND);
    region_clear(&r);
}

/* Scan mode: pages shuffled through a larger image with foreign data, the
 * control page in the middle, as on a filesystem. */
static void scatter(Region *r, Region *out, uint32_t seed)
{
    uint64_t n = PAGES + 1, slots = n * 3;
    g_autofree uint64_t *perm = g_new(uint64_t, slots);
    GRand *rand = g_rand_new_with_seed(seed);

    out->base = 0;
    out->size = slots * VMCTL_PAGE_SIZE;
    out->image = g_malloc(out->size);
    for (uint64_t k = 0; k < out->size / 8; k++)
        ((uint64_t *)(void *)out->image)[k] = g_rand_int(rand);
    for (uint64_t k = 0; k < slots; k++)
        perm[k] = k;
    for (uint64_t k = slots - 1; k > 0; k--) {
        uint64_t j = g_rand_int_range(rand, 0, (gint32)k + 1), t = perm[k];

        perm[k] = perm[j];
        perm[j] = t;
    }
    for (uint64_t k = 0; k < n; k++)
        memcpy(out->image + perm[k] * VMCTL_PAGE_SIZE, r->image + r->base + k * VMCTL_PAGE_SIZE, VMCTL_PAGE_SIZE);
    out->ctl = (struct vmctl_stamp_ctl *)(void *)(out->image + perm[0] * VMCTL_PAGE_SIZE);
    g_rand_free(rand);
}

static uint64_t *find_page(Region *s, uint64_t i)
{
    for (uint64_t off = 0; off < s->size; off += VMCTL_PAGE_SIZE) {
        uint64_t *p = (uint64_t *)(void *)(s->image + off);

        if (p[0] == VMCTL_STAMP_MAGIC && p[1] == 0x1234 && p[2] == i)
            return p;
    }
    g_assert_not_reached();
}

static void test_scan(void)
{
    Region r, s;
    VmctlPagesReport rep;
    uint64_t *p;

    region_init(&r, 0, 0, 50);
    scatter(&r, &s, 42);
    check(&s, true, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    g_assert_cmpuint(rep.checked, ==, PAGES);
    g_assert_cmpuint(rep.same_found, ==, SAME);
    g_assert_cmpuint(rep.ctl.writes, ==, 50);

    /* a flipped byte is found at its index and offset */
    p = find_page(&s, 33);
    ((uint8_t *)p)[2000] ^= 0x80;
    check(&s, true, &rep);
    assert_one_bad(&rep, 33, VMCTL_STAMP_BAD_CSUM);
    g_assert_cmpuint(rep.first[0].offset, ==, (uint64_t)((uint8_t *)p - s.image));
    ((uint8_t *)p)[2000] ^= 0x80;

    /* an identical second copy is a duplicate, not a conflict */
    p = find_page(&s, SAME + 1);
    memcpy(s.image + s.size - VMCTL_PAGE_SIZE, p, VMCTL_PAGE_SIZE);
    check(&s, true, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    g_assert_cmpuint(rep.duplicates, ==, 1);
    g_assert_cmpuint(rep.conflicts, ==, 0);

    /* a stale copy of a page (a block left behind) does not hide the live
     * one, and is said: a copy that conflicts, by index */
    ((uint64_t *)(void *)(s.image + s.size - VMCTL_PAGE_SIZE))[VMCTL_STAMP_W_GEN]--;
    ((uint64_t *)(void *)(s.image + s.size - VMCTL_PAGE_SIZE))[VMCTL_STAMP_W_CSUM] -=
        vmctl_stamp_weight(VMCTL_STAMP_W_GEN);
    check(&s, true, &rep);
    g_assert_cmpuint(rep.bad, ==, 0);
    g_assert_cmpuint(rep.duplicates, ==, 1);
    g_assert_cmpuint(rep.conflicts, ==, 1);
    g_assert_cmpuint(rep.n_conflict_first, ==, 1);
    g_assert_cmpuint(rep.conflict_first[0], ==, SAME + 1);
    {
        g_autoptr(json_object) o = vmctl_pages_report_to_json(&rep);

        g_assert_cmpstr(json_object_to_json_string(json_object_object_get(o, "conflicting_first")), ==, "[ 5 ]");
    }

    /* ... but a lost write on the only copy is STALE */
    p[VMCTL_STAMP_W_GEN]--;
    p[VMCTL_STAMP_W_CSUM] -= vmctl_stamp_weight(VMCTL_STAMP_W_GEN);
    check(&s, true, &rep);
    assert_one_bad(&rep, SAME + 1, VMCTL_STAMP_STALE);

    /* a zeroed page is missing */
    p[VMCTL_STAMP_W_GEN]++;
    p[VMCTL_STAMP_W_CSUM] += vmctl_stamp_weight(VMCTL_STAMP_W_GEN);
    memset(s.image + s.size - VMCTL_PAGE_SIZE, 0, VMCTL_PAGE_SIZE);
    memset(find_page(&s, 60), 0, VMCTL_PAGE_SIZE);
    check(&s, true, &rep);
    assert_one_bad(&rep, 60, VMCTL_PAGE_MISSING);
    g_assert_cmpuint(rep.first[0].offset, ==, VMCTL_PAGES_NO_OFFSET);
    region_clear(&s);
    region_clear(&r);
}

static void test_scan_two_regions(void)
{
    Region r, s;
    VmctlPagesReport rep;
    VmctlPagesCheckOptions opts = { .scan = true };
    g_autoptr(GError) err = NULL;
    struct vmctl_stamp_ctl other;

    region_init(&r, 0, 0, 0);
    scatter(&r, &s, 3);
    other = *s.ctl;
    other.region = 0x99;
    for (uint64_t off = 0; off < s.size; off += VMCTL_PAGE_SIZE)
        if (s.image + off != (uint8_t *)s.ctl && ((uint64_t *)(void *)(s.image + off))[0] != VMCTL_STAMP_MAGIC &&
            ((uint64_t *)(void *)(s.image + off))[0] != VMCTL_STAMP_SAME_MAGIC) {
            memcpy(s.image + off, &other, sizeof(other));
            break;
        }
    g_assert_false(vmctl_pages_check_image(s.image, s.size, &opts, &rep, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    region_clear(&s);
    region_clear(&r);
}

/* The report keeps the first 10 bad pages and counts the rest. */
static void test_first_ten(void)
{
    Region r;
    VmctlPagesReport rep;
    g_autoptr(json_object) o = NULL;

    region_init(&r, 0, 0, 0);
    for (uint64_t i = 20; i < 45; i++)
        page(&r, i)[VMCTL_STAMP_W_BODY + 3] ^= 1;
    check(&r, false, &rep);
    g_assert_cmpuint(rep.bad, ==, 25);
    g_assert_cmpuint(rep.n_first, ==, VMCTL_PAGES_FIRST_MAX);
    g_assert_cmpuint(rep.first[9].index, ==, 29);
    o = vmctl_pages_report_to_json(&rep);
    g_assert_cmpint(json_object_array_length(json_object_object_get(o, "first_bad")), ==, 10);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(json_object_object_get(o, "verdicts"), "bad_csum")),
                    ==, 25);
    g_assert_false(json_object_get_boolean(json_object_object_get(o, "clean")));
    region_clear(&r);
}

/* Bad and in-flight pages on both sides of unit boundaries, more bad pages
 * than are kept: the first ten in index order and exact counts, from four
 * workers as from one (check() compares the two). */
static void test_units(void)
{
    Region r;
    VmctlPagesReport rep;
    const uint64_t first[] = { 2, 3, 5, 8, 9, 11, 14, 15, 17, 18 };

    region_init(&r, 0, 0, 0);
    for (uint64_t i = 2; i < PAGES; i++)
        if (i % 3 != 1)
            page(&r, i)[VMCTL_STAMP_W_BODY + 1] ^= 4;
    r.ctl->inflight[0] = 6 + 1; /* pages 6 and 12 end and start units of 3 */
    r.ctl->inflight[1] = 12 + 1;
    check(&r, false, &rep);
    g_assert_cmpuint(rep.in_flight, ==, 2);
    g_assert_cmpuint(rep.bad, ==, 2 * (PAGES - 1) / 3 - 2);
    g_assert_cmpuint(rep.checked, ==, PAGES - 2);
    g_assert_cmpuint(rep.n_first, ==, VMCTL_PAGES_FIRST_MAX);
    for (unsigned k = 0; k < G_N_ELEMENTS(first); k++)
        g_assert_cmpuint(rep.first[k].index, ==, first[k]);
    region_clear(&r);
}

/* A file read in windows keeps the checks on the control page. */
static void test_file_errors(void)
{
    Region r;
    VmctlPagesReport rep;
    VmctlPagesCheckOptions opts = { .offset = 4 };
    g_autofree char *path = g_build_filename(tmpdir, "errors", NULL);
    g_autoptr(GError) err = NULL;

    region_init(&r, 0, 0, 0);
    g_assert_true(g_file_set_contents(path, (const char *)r.image, r.size, &err));
    g_assert_false(vmctl_pages_check_file(path, &opts, &rep, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    g_assert_true(g_str_has_suffix(err->message, "offset '4' is not a multiple of 8 bytes"));
    g_clear_error(&err);
    opts.offset = r.size;
    g_assert_false(vmctl_pages_check_file(path, &opts, &rep, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND);
    g_clear_error(&err);
    opts.offset = VMCTL_PAGE_SIZE;
    g_assert_false(vmctl_pages_check_file(path, &opts, &rep, &err));
    g_assert_true(g_str_has_suffix(err->message, "no control page at offset '4096': its magic is not VMTCTL1"));
    g_assert_cmpint(g_remove(path), ==, 0);
    region_clear(&r);
}

/* Same pages are identical across regions (KSM merges them), touching one
 * keeps it so. */
static void test_same_pages(void)
{
    Region a, b;

    region_init(&a, 0, 0, 0);
    region_init(&b, 0, 0, 0);
    b.ctl->region = 0x777;
    b.ctl->seed = 99;
    for (uint64_t i = 0; i < PAGES; i++)
        vmctl_stamp_init_page(b.ctl, page(&b, i), i);
    for (uint64_t i = 0; i < SAME; i++)
        g_assert_cmpmem(page(&a, i), VMCTL_PAGE_SIZE, page(&b, i), VMCTL_PAGE_SIZE);
    g_assert_true(memcmp(page(&a, SAME), page(&b, SAME), VMCTL_PAGE_SIZE) != 0);
    vmctl_stamp_touch_same(a.ctl, page(&a, 1), 1, 0);
    g_assert_cmpmem(page(&a, 1), VMCTL_PAGE_SIZE, page(&b, 1), VMCTL_PAGE_SIZE);
    g_assert_cmpuint(a.ctl->inflight[0], ==, 0);
    region_clear(&a);
    region_clear(&b);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int rc;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp(NULL, &err); /* GLib picks the name */
    g_assert_no_error(err);
    g_test_add_func("/vmctl/pages/check/clean", test_clean);
    g_test_add_func("/vmctl/pages/check/flipped-byte", test_flipped_byte);
    g_test_add_func("/vmctl/pages/check/lost-write", test_lost_write);
    g_test_add_func("/vmctl/pages/check/ahead", test_ahead);
    g_test_add_func("/vmctl/pages/check/control-page-behind", test_ctl_behind);
    g_test_add_func("/vmctl/pages/check/wrong-place", test_wrong_place);
    g_test_add_func("/vmctl/pages/check/zeroed", test_zeroed);
    g_test_add_func("/vmctl/pages/check/in-flight", test_in_flight);
    g_test_add_func("/vmctl/pages/check/rule-every-store", test_rule_every_store);
    g_test_add_func("/vmctl/pages/check/not-stamped-yet", test_not_stamped_yet);
    g_test_add_func("/vmctl/pages/check/offset-truncated", test_offset_and_truncated);
    g_test_add_func("/vmctl/pages/check/forged-count", test_forged_count);
    g_test_add_func("/vmctl/pages/check/no-control-page", test_no_control_page);
    g_test_add_func("/vmctl/pages/check/scan", test_scan);
    g_test_add_func("/vmctl/pages/check/scan-two-regions", test_scan_two_regions);
    g_test_add_func("/vmctl/pages/check/first-ten", test_first_ten);
    g_test_add_func("/vmctl/pages/check/units", test_units);
    g_test_add_func("/vmctl/pages/check/file-errors", test_file_errors);
    g_test_add_func("/vmctl/pages/format/same-pages", test_same_pages);
    rc = g_test_run();
    g_rmdir(tmpdir);
    return rc;
}
