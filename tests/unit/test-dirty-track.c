/* test-dirty-track.c: the dirty-log checkers fed doctored sets (each check
 * made to fail), the CLEAR range rule, fault specs, the mode table, backing
 * specs and the memslot owner's refusals. */
#include "config.h"

#include "test-env.h"

#include "dirty_track.h"
#include "kvm_vmm.h"
#include "probe_backing.h"
#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fill(struct vmctl_pageset *ps, const uint64_t *pages, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vmctl_pageset_set(ps, pages[i]);
}

static void test_pageset(void)
{
    struct vmctl_pageset ps;
    static const uint64_t pages[] = { 0, 63, 64, 129, 199 };

    vmctl_pageset_init(&ps, 200);
    g_assert_cmpuint(vmctl_pageset_words(&ps), ==, 4);
    fill(&ps, pages, G_N_ELEMENTS(pages));
    g_assert_cmpuint(vmctl_pageset_count(&ps), ==, 5);
    g_assert_true(vmctl_pageset_test(&ps, 64));
    g_assert_false(vmctl_pageset_test(&ps, 65));
    vmctl_pageset_unset(&ps, 64);
    g_assert_false(vmctl_pageset_test(&ps, 64));
    vmctl_pageset_zero(&ps);
    g_assert_cmpuint(vmctl_pageset_count(&ps), ==, 0);
    vmctl_pageset_clear(&ps);
}

static void test_exact_pass(void)
{
    struct vmctl_pageset e, h;
    struct vmctl_dirty_pages missing = { 0 }, extra = { 0 };
    static const uint64_t pages[] = { 0, 1, 63, 64, 500, 1023 };

    vmctl_pageset_init(&e, 1024);
    vmctl_pageset_init(&h, 1024);
    fill(&e, pages, G_N_ELEMENTS(pages));
    fill(&h, pages, G_N_ELEMENTS(pages));
    g_assert_true(vmctl_dirty_check_exact(&e, &h, &missing, &extra));
    g_assert_cmpuint(missing.count, ==, 0);
    g_assert_cmpuint(extra.count, ==, 0);
    vmctl_pageset_clear(&e);
    vmctl_pageset_clear(&h);
}

/* Negative control: one page removed from the harvest is reported missing,
 * by number. */
static void test_exact_missing(void)
{
    struct vmctl_pageset e, h;
    struct vmctl_dirty_pages missing = { 0 }, extra = { 0 };
    static const uint64_t pages[] = { 0, 1, 63, 64, 77, 500, 1023 };

    vmctl_pageset_init(&e, 1024);
    vmctl_pageset_init(&h, 1024);
    fill(&e, pages, G_N_ELEMENTS(pages));
    fill(&h, pages, G_N_ELEMENTS(pages));
    vmctl_pageset_unset(&h, 77);
    g_assert_false(vmctl_dirty_check_exact(&e, &h, &missing, &extra));
    g_assert_cmpuint(missing.count, ==, 1);
    g_assert_cmpuint(missing.listed, ==, 1);
    g_assert_cmpuint(missing.pages[0], ==, 77);
    g_assert_cmpuint(extra.count, ==, 0);
    vmctl_pageset_clear(&e);
    vmctl_pageset_clear(&h);
}

/* A page harvested but never written fails exactness too, and is named. */
static void test_exact_extra(void)
{
    struct vmctl_pageset e, h;
    struct vmctl_dirty_pages missing = { 0 }, extra = { 0 };

    vmctl_pageset_init(&e, 128);
    vmctl_pageset_init(&h, 128);
    vmctl_pageset_set(&e, 5);
    vmctl_pageset_set(&h, 5);
    vmctl_pageset_set(&h, 127);
    g_assert_false(vmctl_dirty_check_exact(&e, &h, &missing, &extra));
    g_assert_cmpuint(missing.count, ==, 0);
    g_assert_cmpuint(extra.count, ==, 1);
    g_assert_cmpuint(extra.pages[0], ==, 127);
    vmctl_pageset_clear(&e);
    vmctl_pageset_clear(&h);
}

/* A checker names the first few pages and counts the rest. */
static void test_exact_listing_capped(void)
{
    struct vmctl_pageset e, h;
    struct vmctl_dirty_pages missing = { 0 }, extra = { 0 };

    vmctl_pageset_init(&e, 4096);
    vmctl_pageset_init(&h, 4096);
    for (uint64_t p = 0; p < 1000; p++)
        vmctl_pageset_set(&e, p * 3);
    g_assert_false(vmctl_dirty_check_exact(&e, &h, &missing, &extra));
    g_assert_cmpuint(missing.count, ==, 1000);
    g_assert_cmpuint(missing.listed, ==, VMCTL_DIRTY_LISTED);
    g_assert_cmpuint(missing.pages[0], ==, 0);
    g_assert_cmpuint(missing.pages[1], ==, 3);
    {
        g_autoptr(json_object) j = vmctl_dirty_pages_to_json(&missing);
        g_assert_cmpint(json_object_get_int64(json_object_object_get(j, "count")), ==, 1000);
        g_assert_cmpuint(json_object_array_length(json_object_object_get(j, "first_pages")), ==, VMCTL_DIRTY_LISTED);
    }
    vmctl_pageset_clear(&e);
    vmctl_pageset_clear(&h);
}

/* Negative control of the completeness oracle: a page changed in the
 * backing but absent from the dirty set is named. */
static void test_oracle(void)
{
    const uint64_t npages = 64;
    uint8_t *mem = g_malloc0(npages * VMCTL_VMM_PAGE);
    struct vmctl_dirty_oracle o = { 0 };
    struct vmctl_pageset dirty;
    struct vmctl_dirty_pages misses = { 0 };
    uint64_t changed = 0;

    vmctl_pageset_init(&dirty, npages);
    vmctl_dirty_oracle_init(&o, mem, npages);
    /* nothing changed: passes with an empty set */
    g_assert_true(vmctl_dirty_oracle_check(&o, &dirty, &misses, &changed));
    g_assert_cmpuint(changed, ==, 0);
    /* pages 5 and 9 change; only 5 is in the dirty set */
    mem[5 * VMCTL_VMM_PAGE + 100] = 1;
    mem[9 * VMCTL_VMM_PAGE + 4095] = 1;
    vmctl_pageset_set(&dirty, 5);
    g_assert_false(vmctl_dirty_oracle_check(&o, &dirty, &misses, &changed));
    g_assert_cmpuint(changed, ==, 2);
    g_assert_cmpuint(misses.count, ==, 1);
    g_assert_cmpuint(misses.pages[0], ==, 9);
    /* the snapshot moved on: the same bytes are no change */
    g_assert_true(vmctl_dirty_oracle_check(&o, &dirty, &misses, &changed));
    g_assert_cmpuint(changed, ==, 2);
    vmctl_dirty_oracle_clear(&o);
    vmctl_pageset_clear(&dirty);
    g_free(mem);
}

static void test_page_hash(void)
{
    g_autofree uint64_t *page = g_new0(uint64_t, VMCTL_VMM_PAGE / 8);
    uint64_t h0 = vmctl_dirty_page_hash(page);

    for (size_t i = 0; i < VMCTL_VMM_PAGE / 8; i += 37) {
        page[i] = 1;
        g_assert_cmpuint(vmctl_dirty_page_hash(page), !=, h0);
        page[i] = 0;
    }
    /* two swapped words are a change too */
    page[0] = 1;
    h0 = vmctl_dirty_page_hash(page);
    page[0] = 0;
    page[1] = 1;
    g_assert_cmpuint(vmctl_dirty_page_hash(page), !=, h0);
}

static void test_clear_range(void)
{
    static const struct {
        uint64_t first, num, slot;
        bool ok;
    } cases[] = {
        { 0, 64, 1024, true },     { 64, 128, 1024, true },   { 0, 1024, 1024, true },
        { 960, 64, 1000, false },  { 960, 40, 1000, true },   /* ends at the slot end */
        { 1, 64, 1024, false },    { 0, 63, 1024, false },    { 1024, 64, 1024, false },
        { 0, 0, 1024, false },     { 512, 1024, 1024, false },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        bool ok = vmctl_dirty_clear_range_ok(cases[i].first, cases[i].num, cases[i].slot, &err);
        g_assert_cmpint(ok, ==, cases[i].ok);
        if (!ok)
            g_assert_true(g_str_has_prefix(err->message, "KVM_CLEAR_DIRTY_LOG range ["));
    }
    {
        g_autoptr(GError) err = NULL;
        g_assert_false(vmctl_dirty_clear_range_ok(1, 64, 1024, &err));
        g_assert_cmpstr(err->message, ==,
                        "KVM_CLEAR_DIRTY_LOG range [1, +64) is not 64-page aligned and does not end at the slot "
                        "end (1024 pages)");
    }
}

static void test_fault_parse(void)
{
    struct vmctl_dirty_fault f;
    g_autoptr(GError) err = NULL;

    g_assert_true(vmctl_dirty_fault_parse(NULL, &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_DIRTY_FAULT_NONE);
    g_assert_true(vmctl_dirty_fault_parse("drop-page:17", &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_DIRTY_FAULT_DROP_PAGE);
    g_assert_cmpuint(f.page, ==, 17);
    g_assert_true(vmctl_dirty_fault_parse("host-write:3", &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_DIRTY_FAULT_HOST_WRITE);
    g_assert_true(vmctl_dirty_fault_parse("extra-page:9", &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_DIRTY_FAULT_EXTRA_PAGE);
    g_assert_true(vmctl_dirty_fault_parse("log-off:2", &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_DIRTY_FAULT_LOG_OFF);
    g_assert_cmpuint(f.page, ==, 2);
    {
        g_autofree char *back = vmctl_dirty_fault_to_string(&f);
        g_assert_cmpstr(back, ==, "log-off:2");
    }
    g_assert_true(vmctl_dirty_fault_parse("keep-logging", &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_DIRTY_FAULT_KEEP_LOGGING);
    {
        g_autofree char *back = vmctl_dirty_fault_to_string(&f);
        g_assert_cmpstr(back, ==, "keep-logging");
    }
    g_assert_false(vmctl_dirty_fault_parse("keep-logging:1", &f, &err));
    g_clear_error(&err);
    g_assert_false(vmctl_dirty_fault_parse("drop-page", &f, &err));
    g_clear_error(&err);
    g_assert_false(vmctl_dirty_fault_parse("flip-bit:3", &f, &err));
    g_assert_cmpstr(err->message, ==,
                    "VMCTL_PROBE_FAULT 'flip-bit:3' is not drop-page:N, host-write:N, extra-page:N, log-off:ROUND, "
                    "keep-logging or keep-hugepages");
    g_clear_error(&err);
    g_assert_false(vmctl_dirty_fault_parse("drop-page:x", &f, &err));
}

static void test_modes(void)
{
    static const char *const names[] = { "bitmap", "clear", "ring" };

    g_assert_cmpuint(vmctl_dirty_n_modes, ==, G_N_ELEMENTS(names));
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        const struct vmctl_dirty_mode *m = vmctl_dirty_mode_find(names[i]);
        g_assert_nonnull(m);
        g_assert_nonnull(m->supported);
        g_assert_nonnull(m->harvest);
        g_assert_nonnull(m->bare);
        g_assert_nonnull(m->harvest_cost);
    }
    g_assert_null(vmctl_dirty_mode_find("pml"));
    g_assert_nonnull(vmctl_dirty_mode_find("ring")->ring_bytes);
    g_assert_null(vmctl_dirty_mode_find("bitmap")->ring_bytes);
}

static void test_backing_specs(void)
{
    static const struct {
        const char *spec;
        const char *msg; /* NULL: accepted */
    } cases[] = {
        { "anonymous", NULL },
        { "file:/var/tmp", NULL },
        { "devdax:/dev/dax0.0", NULL },
        { "devdax", "backing 'devdax' needs a path: 'devdax:PATH'" },
        { "fsdax:", "backing 'fsdax:' needs a path: 'fsdax:PATH'" },
        { "memfd:/x", "backing 'memfd:/x': 'memfd' takes no path" },
        { "pmem", "backing 'pmem' is unknown: use anonymous, thp, memfd, shm, file[:DIR], hugetlbfs[:DIR], "
                  "devdax:/dev/daxX.Y or fsdax:PATH" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        bool ok = vmctl_probe_backing_spec_ok(cases[i].spec, &err);
        g_assert_cmpint(ok, ==, cases[i].msg == NULL);
        if (cases[i].msg)
            g_assert_cmpstr(err->message, ==, cases[i].msg);
    }
}

static void test_backing_errors(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(vmctl_probe_backing) b = vmctl_probe_backing_open("devdax:/nonexistent/dax9.9", 2 * MiB, &err);

    g_assert_null(b);
    g_assert_cmpstr(err->message, ==,
                    "backing 'devdax:/nonexistent/dax9.9' cannot be set up: open '/nonexistent/dax9.9' failed: No "
                    "such file or directory");
    g_clear_error(&err);
    b = vmctl_probe_backing_open("memfd", 2 * MiB, &err);
    g_assert_no_error(err);
    g_assert_nonnull(b->view);
    /* the host write is visible in the read-only view, not via KVM */
    vmctl_probe_backing_host_write(b, 3, 0xff);
    g_assert_cmpuint(((const uint64_t *)b->view)[3 * 512 + 1], ==, 0xff);
}

static bool have_kvm(void)
{
    return vmctl_test_have_kvm();
}

/* The memslot owner refuses overlaps and unmapped ranges, and a failing
 * KVM_SET_USER_MEMORY_REGION names the ioctl, slot and range. */
static void test_memslot_owner(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(vmctl_vmm) vmm = NULL;
    void *mem;
    int s;

    if (!have_kvm()) {
        vmctl_test_needs("/dev/kvm is not accessible");
        return;
    }
    vmm = vmctl_vmm_new(&err);
    g_assert_no_error(err);
    mem = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(mem != MAP_FAILED);
    s = vmctl_vmm_set_region(vmm, "probe", VMCTL_VMM_PROBE_GPA, 2 * MiB, mem, true, &err);
    g_assert_no_error(err);
    g_assert_cmpint(s, ==, 0);
    g_assert_true(vmctl_vmm_region(vmm, 0)->log_dirty);
    /* same range again: only the flag changes, same slot */
    g_assert_cmpint(vmctl_vmm_set_region(vmm, "probe", VMCTL_VMM_PROBE_GPA, 2 * MiB, mem, false, &err), ==, 0);
    g_assert_false(vmctl_vmm_region(vmm, 0)->log_dirty);
    g_assert_cmpint(vmctl_vmm_set_region(vmm, "other", VMCTL_VMM_PROBE_GPA + MiB, 2 * MiB,
                                         (uint8_t *)mem + 2 * MiB, false, &err), ==, -1);
    g_assert_cmpstr(err->message, ==,
                    "memslot 'other' [0x100100000, +0x200000) overlaps slot 0 'probe' [0x100000000, +0x200000)");
    g_clear_error(&err);
    g_assert_cmpint(vmctl_vmm_set_region(vmm, "far", 3ull << 30, 2 * MiB, mem, false, &err), ==, -1);
    g_assert_true(strstr(err->message, "is outside the guest page tables") != NULL);
    g_clear_error(&err);
    /* a kernel address as userspace_addr: KVM refuses it */
    g_assert_cmpint(vmctl_vmm_set_region(vmm, "bad", VMCTL_VMM_PROBE_GPA + 4 * MiB, 2 * MiB,
                                         (void *)0xffff800000000000ull, false, &err), ==, -1);
    g_assert_cmpstr(err->message, ==,
                    "KVM_SET_USER_MEMORY_REGION slot 1 [0x100400000, +0x200000) failed: Invalid argument");
    munmap(mem, 4 * MiB);
}

/* A result's JSON keeps raw integers and the verdict. */
static void test_result_json(void)
{
    struct vmctl_dirty_result r = { 0 };
    g_autoptr(json_object) j = NULL;

    r.backing = g_strdup("memfd");
    r.mode = g_strdup("clear");
    r.mode_ops = vmctl_dirty_mode_find("clear");
    r.verdict = VMCTL_DIRTY_FAIL;
    r.size = 64 * MiB;
    r.npages = 16384;
    r.oracle_applies = true;
    vmctl_dirty_pages_add(&r.missing, 42);
    r.huge_verdict = g_strdup("not applicable: the backing has 4K pages");
    r.all.total_ns_per_gib = 6500000;
    j = vmctl_dirty_result_to_json(&r);
    g_assert_cmpstr(json_object_get_string(json_object_object_get(j, "verdict")), ==, "fail");
    g_assert_cmpint(json_object_get_int64(json_object_object_get(json_object_object_get(j, "missing"), "count")), ==,
                    1);
    g_assert_nonnull(json_object_object_get(json_object_object_get(json_object_object_get(j, "cost"), "all"),
                                            "clear_ns_per_gib"));
    g_assert_cmpint(json_object_get_int64(json_object_object_get(
                        json_object_object_get(json_object_object_get(j, "cost"), "all"), "harvest_ns_per_gib")),
                    ==, 6500000);
    vmctl_dirty_result_clear(&r);
}

int main(int argc, char **argv)
{
    vmctl_test_kvm_or_lab(argc, argv);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/dirty/pageset", test_pageset);
    g_test_add_func("/vmctl/dirty/exact/pass", test_exact_pass);
    g_test_add_func("/vmctl/dirty/exact/missing-page", test_exact_missing);
    g_test_add_func("/vmctl/dirty/exact/extra-page", test_exact_extra);
    g_test_add_func("/vmctl/dirty/exact/listing-capped", test_exact_listing_capped);
    g_test_add_func("/vmctl/dirty/oracle/changed-not-dirty", test_oracle);
    g_test_add_func("/vmctl/dirty/oracle/page-hash", test_page_hash);
    g_test_add_func("/vmctl/dirty/clear-range", test_clear_range);
    g_test_add_func("/vmctl/dirty/fault-parse", test_fault_parse);
    g_test_add_func("/vmctl/dirty/modes", test_modes);
    g_test_add_func("/vmctl/dirty/backing/specs", test_backing_specs);
    g_test_add_func("/vmctl/dirty/backing/errors", test_backing_errors);
    g_test_add_func("/vmctl/dirty/vmm/memslot-owner", test_memslot_owner);
    g_test_add_func("/vmctl/dirty/result-json", test_result_json);
    return g_test_run();
}
