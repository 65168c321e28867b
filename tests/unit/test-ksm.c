/* test-ksm.c: KSM knobs saved and restored, and the page-level scanner
 * seeing merges where KSM makes them (anonymous MADV_MERGEABLE memory with
 * identical pages) and none where it must not (unique pages, a shared file
 * mapping). Needs root and KSM; under CI=true their absence is a failure. */
#include "config.h"

#include "test-env.h"

#include "ksm.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define N_SAME 2048   /* identical anonymous pages */
#define N_UNIQUE 1024 /* anonymous pages with unique content */
#define N_FILE 1024   /* identical pages of a shared file mapping */
#define MERGE_WAIT_S 60

static bool need_ksm(void)
{
    if (getuid() == 0 && access("/sys/kernel/mm/ksm/run", W_OK) == 0 && access("/proc/kpageflags", R_OK) == 0)
        return true;
    vmctl_test_needs("root, /sys/kernel/mm/ksm and /proc/kpageflags");
    return false;
}

static void fill(uint8_t *p, size_t pages, bool unique)
{
    size_t ps = getpagesize();

    for (size_t i = 0; i < pages; i++) {
        memset(p + i * ps, 0x5a, ps);
        if (unique)
            memcpy(p + i * ps + 100, &i, sizeof(i));
    }
}

static void test_merge_and_restore(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlKsmSettings) saved = NULL;
    g_autoptr(json_object) diff = NULL;
    size_t ps = getpagesize();
    VmctlKsmScan same = { 0 }, uniq = { 0 }, file = { 0 };
    uint8_t *anon, *shared;
    char tmpl[] = "/dev/shm/vmctl-ksm-XXXXXX";
    int fd;

    if (!need_ksm())
        return;
    saved = vmctl_ksm_settings_save(&err);
    g_assert_no_error(err);
    g_assert_true(vmctl_ksm_set("pages_to_scan", "5000", &err));
    g_assert_true(vmctl_ksm_set("sleep_millisecs", "20", &err));
    g_assert_true(vmctl_ksm_set("run", "1", &err));

    anon = mmap(NULL, (N_SAME + N_UNIQUE) * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(anon != MAP_FAILED);
    fill(anon, N_SAME, false);
    fill(anon + N_SAME * ps, N_UNIQUE, true);
    g_assert_cmpint(madvise(anon, (N_SAME + N_UNIQUE) * ps, MADV_MERGEABLE), ==, 0);

    fd = mkstemp(tmpl);
    g_assert_cmpint(fd, >=, 0);
    unlink(tmpl);
    g_assert_cmpint(ftruncate(fd, N_FILE * ps), ==, 0);
    shared = mmap(NULL, N_FILE * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true(shared != MAP_FAILED);
    fill(shared, N_FILE, false);
    madvise(shared, N_FILE * ps, MADV_MERGEABLE); /* KSM ignores shared mappings */

    for (int t = 0; t < MERGE_WAIT_S * 5; t++) {
        g_assert_true(vmctl_ksm_scan_range(getpid(), (uintptr_t)anon, N_SAME * ps, &same, &err));
        if (same.ksm >= N_SAME / 2)
            break;
        g_usleep(200000);
    }
    g_test_message("identical anonymous pages merged: %" G_GUINT64_FORMAT " of %d", same.ksm, N_SAME);
    /* the positive control: the scanner sees merged pages */
    g_assert_cmpuint(same.ksm, >=, N_SAME / 2);
    g_assert_cmpuint(same.n_first, >, 0);

    g_assert_true(vmctl_ksm_scan_range(getpid(), (uintptr_t)anon + N_SAME * ps, N_UNIQUE * ps, &uniq, &err));
    g_assert_cmpuint(uniq.present, ==, N_UNIQUE);
    g_assert_cmpuint(uniq.ksm, ==, 0);
    g_assert_true(vmctl_ksm_scan_range(getpid(), (uintptr_t)shared, N_FILE * ps, &file, &err));
    g_assert_cmpuint(file.present, ==, N_FILE);
    g_assert_cmpuint(file.ksm, ==, 0);

    {
        g_autoptr(json_object) ps_stats = vmctl_ksm_process_stats(getpid(), &err);
        g_assert_no_error(err);
        g_assert_cmpint(json_object_get_int64(json_object_object_get(ps_stats, "ksm_merging_pages")), >=, N_SAME / 2);
    }
    /* merged pages still read back right; a write breaks the merge (COW) */
    for (size_t i = 0; i < N_SAME; i++)
        g_assert_cmpuint(anon[i * ps + 7], ==, 0x5a);
    anon[0] = 1;
    g_assert_true(vmctl_ksm_scan_range(getpid(), (uintptr_t)anon, ps, &same, &err));
    g_assert_cmpuint(same.ksm, ==, 0);

    munmap(anon, (N_SAME + N_UNIQUE) * ps);
    munmap(shared, N_FILE * ps);
    close(fd);
    g_assert_true(vmctl_ksm_settings_restore(saved, &err));
    g_assert_no_error(err);
    diff = vmctl_ksm_settings_diff(saved, &err);
    g_assert_cmpuint(json_object_array_length(diff), ==, 0);
}

static void test_find_mapping(void)
{
    g_autoptr(GError) err = NULL;
    size_t len = 3 * 1024 * 1024 + 4096 * 3;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t start = 0, got = 0;

    g_assert_true(p != MAP_FAILED);
    g_assert_true(vmctl_ksm_find_mapping(getpid(), NULL, len, &start, &got, &err));
    g_assert_cmpuint(got, >=, len);
    g_assert_false(vmctl_ksm_find_mapping(getpid(), "/no/such/backing", 0, &start, &got, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND);
    munmap(p, len);
}

static void test_knob_value_restore_fake(void)
{
    /* a fake sysfs directory: every knob restored, run last via 2 */
    g_autofree char *dir = g_dir_make_tmp("vmctl-ksm-XXXXXX", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlKsmSettings) s = NULL;
    g_autoptr(json_object) diff = NULL;
    g_autofree char *run = g_build_filename(dir, "run", NULL);
    g_autofree char *mode = g_build_filename(dir, "advisor_mode", NULL);
    g_autofree char *pts = g_build_filename(dir, "pages_to_scan", NULL);
    g_autofree char *back = NULL;

    g_assert_true(g_file_set_contents(run, "0\n", -1, NULL));
    g_assert_true(g_file_set_contents(mode, "[none] scan-time\n", -1, NULL));
    g_assert_true(g_file_set_contents(pts, "100\n", -1, NULL));
    g_setenv("VMCTL_KSM_DIR", dir, TRUE);
    s = vmctl_ksm_settings_save(&err);
    g_assert_no_error(err);
    g_assert_true(g_file_set_contents(run, "1\n", -1, NULL));
    g_assert_true(g_file_set_contents(pts, "5000\n", -1, NULL));
    diff = vmctl_ksm_settings_diff(s, &err);
    g_assert_cmpuint(json_object_array_length(diff), ==, 2);
    g_assert_true(vmctl_ksm_settings_restore(s, &err));
    g_assert_true(g_file_get_contents(pts, &back, NULL, NULL));
    g_assert_cmpstr(back, ==, "100");
    g_clear_pointer(&back, g_free);
    g_assert_true(g_file_get_contents(run, &back, NULL, NULL));
    g_assert_cmpstr(back, ==, "0");
    g_unsetenv("VMCTL_KSM_DIR");
    unlink(run);
    unlink(mode);
    unlink(pts);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/ksm/settings/restore-fake", test_knob_value_restore_fake);
    g_test_add_func("/vmctl/ksm/find-mapping", test_find_mapping);
    g_test_add_func("/vmctl/ksm/merge-and-restore", test_merge_and_restore);
    return g_test_run();
}
