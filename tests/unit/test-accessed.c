/* test-accessed.c: the accessed-bit coverage check. The judgement on
 * synthetic observations (every verdict), and the real probe against fake
 * sysfs roots: a page_idle bitmap that never reports an access (FAIL,
 * touched pages missed), one that reports every page accessed (FAIL,
 * untouched pages seen), no mechanism (NOT APPLICABLE with the reasons) and
 * DAX (NOT APPLICABLE by rule). */
#include "config.h"

#include "accessed_probe.h"
#include "test-env.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define NPAGES 4096u /* 16 MiB of 4 KiB pages */

static void test_plan(void)
{
    g_autofree guint8 *t = g_malloc0(NPAGES);
    uint64_t n = vmctl_accessed_plan(NPAGES, t);

    g_assert_cmpuint(n, ==, 64); /* 4 even chunks x 16 */
    g_assert_true(t[0] && t[32] && t[480] && t[1024]);
    g_assert_false(t[1] || t[512] || t[1023] || t[4095]);
}

static void test_judge(void)
{
    g_autofree guint8 *t = g_malloc0(NPAGES);
    g_autofree guint8 *seen = g_malloc0(NPAGES);
    VmctlAccessedTally tl;

    vmctl_accessed_plan(NPAGES, t);
    memcpy(seen, t, NPAGES);
    g_assert_cmpint(vmctl_accessed_judge(NPAGES, 1, t, seen, &tl), ==, VMCTL_ACCESSED_PASS);
    g_assert_cmpuint(tl.seen_touched, ==, 64);
    g_assert_cmpuint(tl.first_missed, ==, UINT64_MAX);

    /* one touched page missed: named */
    seen[1056] = 0;
    g_assert_cmpint(vmctl_accessed_judge(NPAGES, 1, t, seen, &tl), ==, VMCTL_ACCESSED_FAIL);
    g_assert_cmpuint(tl.missed, ==, 1);
    g_assert_cmpuint(tl.first_missed, ==, 1056);
    seen[1056] = 1;

    /* a neighbour of a touched page: false at 4 KiB, allowed with 2 MiB
     * granules (same huge page) */
    seen[33] = 1;
    g_assert_cmpint(vmctl_accessed_judge(NPAGES, 1, t, seen, &tl), ==, VMCTL_ACCESSED_FAIL);
    g_assert_cmpuint(tl.false_seen, ==, 1);
    g_assert_cmpuint(tl.first_false, ==, 33);
    g_assert_cmpint(vmctl_accessed_judge(NPAGES, 512, t, seen, &tl), ==, VMCTL_ACCESSED_PASS);
    /* an untouched 2 MiB chunk is false at any granule */
    seen[600] = 1;
    g_assert_cmpint(vmctl_accessed_judge(NPAGES, 512, t, seen, &tl), ==, VMCTL_ACCESSED_FAIL);
    g_assert_cmpuint(tl.first_false, ==, 600);

    /* nothing touched: no measurement */
    memset(t, 0, NPAGES);
    g_assert_cmpint(vmctl_accessed_judge(NPAGES, 1, t, seen, &tl), ==, VMCTL_ACCESSED_ERROR);
}

/* A sysfs root of the test: page_idle/bitmap made by `make_bitmap`, DAMON
 * with `kdamonds` (-1: no DAMON). */
static char *fake_root(const char *bitmap_kind, int kdamonds)
{
    g_autofree char *root = g_dir_make_tmp("vmctl-accessed-XXXXXX", NULL);
    g_autofree char *mm = g_build_filename(root, "kernel", "mm", NULL);

    g_assert_nonnull(root);
    if (bitmap_kind) {
        g_autofree char *dir = g_build_filename(mm, "page_idle", NULL);
        g_autofree char *bm = g_build_filename(dir, "bitmap", NULL);

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        if (strcmp(bitmap_kind, "file") == 0) /* keeps the idle bits: never an access */
            g_assert_true(g_file_set_contents(bm, "", 0, NULL));
        else /* /dev/zero: writes vanish, reads say nothing is idle */
            g_assert_cmpint(symlink("/dev/zero", bm), ==, 0);
    }
    if (kdamonds >= 0) {
        g_autofree char *dir = g_build_filename(mm, "damon", "admin", "kdamonds", NULL);
        g_autofree char *nr = g_build_filename(dir, "nr_kdamonds", NULL);
        g_autofree char *v = g_strdup_printf("%d\n", kdamonds);

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(nr, v, -1, NULL));
    }
    return g_steal_pointer(&root);
}

static void rm_rf(const char *root)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", root);

    g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL));
}

static bool needs_kvm_root(void)
{
    if (!vmctl_test_have_kvm()) {
        vmctl_test_needs("a usable /dev/kvm");
        return false;
    }
    if (geteuid() != 0) {
        vmctl_test_needs("root: page frame numbers in /proc/self/pagemap");
        return false;
    }
    return true;
}

static VmctlAccessedResult *probe_with_root(const char *root, const char *spec)
{
    VmctlAccessedResult *r;

    g_setenv("VMCTL_SYSFS_ROOT", root, TRUE);
    r = vmctl_accessed_probe(spec, 16u << 20, false);
    g_unsetenv("VMCTL_SYSFS_ROOT");
    g_test_message("%s: %s", spec, r->summary);
    return r;
}

static int64_t ev_int(VmctlAccessedResult *r, const char *key)
{
    return json_object_get_int64(json_object_object_get(r->evidence, key));
}

static void test_idle_never_accessed(void)
{
    g_autofree char *root = NULL;
    VmctlAccessedResult *r;

    if (!needs_kvm_root())
        return;
    root = fake_root("file", 0);
    r = probe_with_root(root, "anonymous");
    g_assert_cmpint(r->verdict, ==, VMCTL_ACCESSED_FAIL);
    g_assert_cmpint(ev_int(r, "missed_pages"), ==, 64);
    g_assert_cmpint(ev_int(r, "first_missed_page"), ==, 0);
    g_assert_cmpstr(json_object_get_string(json_object_object_get(r->evidence, "mechanism")), ==, "page-idle");
    g_assert_nonnull(strstr(r->summary, "64 of 64 pages the guest read were missed, first page 0"));
    vmctl_accessed_result_free(r);
    rm_rf(root);
}

static void test_idle_all_accessed(void)
{
    g_autofree char *root = NULL;
    VmctlAccessedResult *r;

    if (!needs_kvm_root())
        return;
    root = fake_root("zero", -1);
    r = probe_with_root(root, "anonymous");
    g_assert_cmpint(r->verdict, ==, VMCTL_ACCESSED_FAIL);
    g_assert_cmpint(ev_int(r, "missed_pages"), ==, 0);
    /* everything but the 64 touched pages' own... every untouched page */
    g_assert_cmpint(ev_int(r, "untouched_seen_pages"), ==, NPAGES - 64);
    g_assert_cmpint(ev_int(r, "first_untouched_seen_page"), ==, 1);
    vmctl_accessed_result_free(r);
    rm_rf(root);
}

static void test_no_mechanism(void)
{
    g_autofree char *root = NULL;
    VmctlAccessedResult *r;
    json_object *probed;

    if (!needs_kvm_root())
        return;
    root = fake_root(NULL, 1);
    r = probe_with_root(root, "anonymous");
    g_assert_cmpint(r->verdict, ==, VMCTL_ACCESSED_NA);
    g_assert_nonnull(strstr(r->summary, "page_idle absent (kernel without CONFIG_IDLE_PAGE_TRACKING)"));
    g_assert_nonnull(strstr(r->summary, "DAMON busy with another user's kdamond (nr_kdamonds 1, left alone)"));
    g_assert_nonnull(strstr(r->summary, "host page-table accessed bits:"));
    probed = json_object_object_get(r->evidence, "probed");
    g_assert_false(json_object_get_boolean(json_object_object_get(probed, "page_idle")));
    g_assert_cmpint(json_object_get_int(json_object_object_get(probed, "damon_kdamonds")), ==, 1);
    g_assert_nonnull(json_object_object_get(r->evidence, "host_pte_accessed"));
    vmctl_accessed_result_free(r);
    rm_rf(root);

    g_free(root);
    root = fake_root(NULL, -1);
    r = probe_with_root(root, "anonymous");
    g_assert_cmpint(r->verdict, ==, VMCTL_ACCESSED_NA);
    g_assert_nonnull(strstr(r->summary, "no DAMON sysfs interface"));
    vmctl_accessed_result_free(r);
    rm_rf(root);
}

/* DAX is measured, not assumed: with page_idle present the probe tries
 * the backing (here one that does not exist: its error, never a verdict by
 * rule); with no mechanism it is NOT APPLICABLE and says DAX is off the
 * LRU too. (Measured blind on real DAX: tests/integration/validate-lab.sh.) */
static void test_dax(void)
{
    g_autofree char *root = fake_root("file", 0);
    VmctlAccessedResult *r = probe_with_root(root, "fsdax:/nonexistent/pmem");

    g_assert_cmpint(r->verdict, !=, VMCTL_ACCESSED_PASS);
    g_assert_null(strstr(r->summary, "ZONE_DEVICE"));
    g_assert_nonnull(strstr(r->summary, "/nonexistent/pmem"));
    g_assert_true(json_object_get_boolean(
        json_object_object_get(json_object_object_get(r->evidence, "probed"), "page_idle")));
    vmctl_accessed_result_free(r);
    rm_rf(root);
}

int main(int argc, char **argv)
{
    vmctl_test_kvm_or_lab(argc, argv);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/accessed/plan", test_plan);
    g_test_add_func("/vmctl/accessed/judge", test_judge);
    g_test_add_func("/vmctl/accessed/page-idle/never-accessed", test_idle_never_accessed);
    g_test_add_func("/vmctl/accessed/page-idle/all-accessed", test_idle_all_accessed);
    g_test_add_func("/vmctl/accessed/no-mechanism", test_no_mechanism);
    g_test_add_func("/vmctl/accessed/dax", test_dax);
    return g_test_run();
}
