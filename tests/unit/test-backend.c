/* test-backend.c: memory-backing discovery. The mount table and sysfs
 * parsing run against recorded trees: tests/data/sysfs/host1 (a host with
 * dax0.0 2M/16G on node 0 from a devdax namespace0.0 and an fsdax
 * namespace1.0 with pmem1) and guest-devdax, guest-fsdax (dumped from the
 * Linux test guest with an emulated NVDIMM, with its mountinfo); the QEMU
 * objects are compared with golden files
 * (tests/data/backend/CASE.json, rewritten with VMCTL_REGENERATE=1). Host
 * paths in goldens are replaced by @DEV@, @TMP@. */
#include "config.h"

#include "test-env.h"

#include "pmem_backend.h"

#include <errno.h>
#include <sched.h>
#include <glib/gstdio.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "test-golden.h"

static char *data_path(const char *a, const char *b)
{
    return g_test_build_filename(G_TEST_DIST, "data", a, b, NULL);
}

/* A fresh directory under the build tree (not /tmp: that may be tmpfs). */
static char *make_tmp_dir(void)
{
    g_autofree char *tmpl = g_test_build_filename(G_TEST_BUILT, "backend-tmp-XXXXXX", NULL);
    char *dir = g_strdup(tmpl);

    g_assert_nonnull(g_mkdtemp(dir));
    return dir;
}

static void rm_rf(const char *dir)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    g_assert_cmpint(system(cmd), ==, 0);
}

/* The device directory of the recorded host: a writable directory of this
 * run holding an empty regular file dax0.0 that stands in for the
 * character device (the recorded sysfs says what it is). */
static char *standin_dev;

static void use_recorded_host(void)
{
    g_autofree char *sys = data_path("sysfs", "host1/sys");
    const char *dev = standin_dev;
    g_autofree char *mi = data_path("sysfs", "host1/mountinfo");

    g_setenv("VMCTL_SYSFS_ROOT", sys, TRUE);
    g_setenv("VMCTL_DEV_ROOT", dev, TRUE);
    g_setenv("VMCTL_MOUNTINFO", mi, TRUE);
}

static void use_real_host(void)
{
    g_unsetenv("VMCTL_SYSFS_ROOT");
    g_unsetenv("VMCTL_DEV_ROOT");
    g_unsetenv("VMCTL_MOUNTINFO");
}

static char *replace_all(const char *text, const char *const *pairs)
{
    GString *s = g_string_new(text);

    for (size_t i = 0; pairs && pairs[i]; i += 2)
        g_string_replace(s, pairs[i], pairs[i + 1], 0);
    return g_string_free(s, FALSE);
}

/* Compare OBJ (pretty JSON) with tests/data/backend/NAME, host paths replaced
 * by PAIRS (from, to, ..., NULL). */
static void check_golden(const char *name, json_object *obj, const char *const *pairs)
{
    const char *raw = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
    g_autofree char *body = replace_all(raw, pairs);
    g_autofree char *text = g_strconcat(body, "\n", NULL);
    g_autofree char *path = data_path("backend", name);
    g_autofree char *want = NULL;

    if (vmctl_test_regenerate()) {
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        g_test_message("regenerated %s", path);
        return;
    }
    if (!g_file_get_contents(path, &want, NULL, NULL))
        g_error("golden file %s is missing: run with VMCTL_REGENERATE=1 and review the diff", path);
    g_assert_cmpstr(text, ==, want);
}

static void check_object(const char *name, const char *spec, uint64_t size, bool share, const char *const *pairs)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = vmctl_backend_probe(spec, size, &err);
    g_autoptr(json_object) o = NULL;

    g_assert_no_error(err);
    g_assert_nonnull(b);
    o = vmctl_backend_qemu_object(b, "mem0", size, share);
    check_golden(name, o, pairs);
}

/* The error text with host paths replaced. */
static void check_error(const char *spec, uint64_t size, const char *const *pairs, const char *want)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = vmctl_backend_probe(spec, size, &err);
    g_autofree char *msg = NULL;

    g_assert_null(b);
    g_assert_nonnull(err);
    g_assert_true(err->domain == VMCTL_ERROR);
    msg = replace_all(err->message, pairs);
    g_assert_cmpstr(msg, ==, want);
    g_assert_null(strchr(err->message, '\n'));
}

static bool fs_is(const char *path, uint64_t magic)
{
    struct statfs sfs;

    return statfs(path, &sfs) == 0 && (uint64_t)(unsigned long)sfs.f_type == magic;
}

/* ---- mount table ---------------------------------------------------- */

static void test_mountinfo_parse(void)
{
    g_autofree char *path = data_path("sysfs", "host1/mountinfo");
    g_autofree char *text = NULL;
    g_autoptr(GPtrArray) m = NULL;
    const VmctlMount *e;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    m = vmctl_mountinfo_parse(text);
    g_assert_cmpuint(m->len, ==, 14);
    e = g_ptr_array_index(m, 11);
    g_assert_cmpstr(e->mount_point, ==, "/mnt/pmem1");
    g_assert_cmpstr(e->fstype, ==, "ext4");
    g_assert_cmpstr(e->source, ==, "/dev/pmem1");
    g_assert_cmpstr(e->super_options, ==, "rw,dax=always");
    g_assert_cmpstr(e->mount_options, ==, "rw,relatime");
    g_assert_cmpuint(e->major, ==, 259);
    g_assert_cmpuint(e->minor, ==, 1);
    e = g_ptr_array_index(m, 12);
    g_assert_cmpstr(e->mount_point, ==, "/mnt/iso image"); /* \040 unescaped */

    /* broken lines are skipped, not fatal */
    g_ptr_array_unref(m);
    m = vmctl_mountinfo_parse("garbage\n1 2 x:y / / rw - ext4 a b\n\n3 1 8:1 / /boot rw - ext4 /dev/sda1 rw\n");
    g_assert_cmpuint(m->len, ==, 1);
    g_assert_cmpstr(((VmctlMount *)g_ptr_array_index(m, 0))->mount_point, ==, "/boot");
}

static void test_mountinfo_find(void)
{
    g_autofree char *path = data_path("sysfs", "host1/mountinfo");
    g_autofree char *text = NULL;
    g_autoptr(GPtrArray) m = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    m = vmctl_mountinfo_parse(text);
    g_assert_cmpstr(vmctl_mountinfo_find(m, "/mnt/pmem1/vm/guest.img", 0)->source, ==, "/dev/pmem1");
    g_assert_cmpstr(vmctl_mountinfo_find(m, "/mnt/pmem10", 0)->mount_point, ==, "/"); /* not a prefix match */
    g_assert_cmpstr(vmctl_mountinfo_find(m, "/", 0)->mount_point, ==, "/");
    g_assert_cmpstr(vmctl_mountinfo_find(m, "/dev/hugepages", 0)->fstype, ==, "hugetlbfs");
    /* /dev/shm is mounted twice: the later (on top) wins, unless the device says otherwise */
    g_assert_cmpuint(vmctl_mountinfo_find(m, "/dev/shm/x", 0)->minor, ==, 30);
    g_assert_cmpuint(vmctl_mountinfo_find(m, "/dev/shm/x", makedev(0, 23))->minor, ==, 23);
    g_assert_cmpuint(vmctl_mountinfo_find(m, "/dev/shm/x", makedev(0, 99))->minor, ==, 30);
    g_assert_cmpstr(vmctl_mountinfo_find(m, "/run/user/1000/x", 0)->mount_point, ==, "/run/user/1000");
}

static void test_mount_options(void)
{
    g_autofree char *v = NULL, *w = NULL;

    g_assert_true(vmctl_mount_option("rw,pagesize=2M", "pagesize", &v));
    g_assert_cmpstr(v, ==, "2M");
    g_assert_true(vmctl_mount_option("rw,dax", "dax", &w));
    g_assert_cmpstr(w, ==, "");
    g_assert_false(vmctl_mount_option("rw,daxfoo", "dax", NULL));
    g_assert_false(vmctl_mount_option("rw,nodax", "dax", NULL));
    g_assert_false(vmctl_mount_option("", "ro", NULL));
    g_assert_false(vmctl_mount_option(NULL, "ro", NULL));
}

/* What a guest with an emulated NVDIMM shows (busybox, rootfs, no /run). */
static void test_mountinfo_guest(void)
{
    g_autofree char *path = data_path("sysfs", "guest-nvdimm/mountinfo");
    g_autofree char *text = NULL;
    g_autoptr(GPtrArray) m = NULL;
    const VmctlMount *e;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    m = vmctl_mountinfo_parse(text);
    g_assert_cmpuint(m->len, ==, 7);
    e = vmctl_mountinfo_find(m, "/mnt/pmem/guest.img", makedev(259, 0));
    g_assert_cmpstr(e->super_options, ==, "rw,dax=always");
    e = vmctl_mountinfo_find(m, "/mnt/xfs/guest.img", 0);
    g_assert_true(vmctl_mount_option(e->super_options, "dax", NULL));
    g_assert_cmpstr(vmctl_mountinfo_find(m, "/tmp/x", 0)->fstype, ==, "rootfs");
}

/* ---- list ----------------------------------------------------------- */

static void test_list_recorded(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) l = NULL;
    json_object *tmpfs;

    use_recorded_host();
    l = vmctl_backend_list(&err);
    g_assert_no_error(err);
    /* tmpfs free space comes from statfs of a live mount: not part of a recording */
    tmpfs = json_object_object_get(l, "tmpfs");
    for (size_t i = 0; i < json_object_array_length(tmpfs); i++)
        json_object_object_del(json_object_array_get_idx(tmpfs, i), "free");
    {
        const char *dev = standin_dev;
        const char *pairs[] = { dev, "@DEV@", NULL };
        check_golden("list-host1.json", l, pairs);
    }
    use_real_host();
}

/* Trees recorded in the Linux test guest with an emulated NVDIMM (devdax
 * and fsdax), through `vmctl backend list` with the guest's own mountinfo. */
static void test_list_guest(gconstpointer mode)
{
    g_autofree char *tree = g_strdup_printf("guest-%s", (const char *)mode);
    g_autofree char *sys = data_path("sysfs", tree);
    g_autofree char *sysroot = g_build_filename(sys, "sys", NULL);
    g_autofree char *mi = g_build_filename(sys, "mountinfo", NULL);
    g_autofree char *golden = g_strdup_printf("list-%s.json", tree);
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) l = NULL;
    json_object *tmpfs;
    const char *pairs[] = { standin_dev, "@DEV@", NULL };

    g_setenv("VMCTL_SYSFS_ROOT", sysroot, TRUE);
    g_setenv("VMCTL_MOUNTINFO", mi, TRUE);
    g_setenv("VMCTL_DEV_ROOT", standin_dev, TRUE);
    l = vmctl_backend_list(&err);
    g_assert_no_error(err);
    tmpfs = json_object_object_get(l, "tmpfs");
    for (size_t i = 0; i < json_object_array_length(tmpfs); i++) {
        json_object_object_del(json_object_array_get_idx(tmpfs, i), "free");
        json_object_object_del(json_object_array_get_idx(tmpfs, i), "size");
    }
    check_golden(golden, l, pairs);
    use_real_host();
}

/* The guest's /dev/dax0.0 is 253:0 with 250M of a 256M namespace. */
static void test_probe_devdax_guest(void)
{
    g_autofree char *sys = data_path("sysfs", "guest-devdax/sys");
    g_autofree char *spec = g_build_filename(standin_dev, "dax0.0", NULL);
    g_autofree char *tmp = make_tmp_dir();
    g_autofree char *node = g_build_filename(tmp, "dax0.0", NULL);
    const char *pairs[] = { standin_dev, "@DEV@", NULL };
    const char *tpairs[] = { tmp, "@DEV@", NULL };

    g_setenv("VMCTL_SYSFS_ROOT", sys, TRUE);
    g_setenv("VMCTL_DEV_ROOT", standin_dev, TRUE);
    check_object("devdax-guest.json", spec, 64 * MiB, true, pairs);
    check_error(spec, 65 * MiB, pairs, "size '65M' is not a multiple of the 2M alignment of '@DEV@/dax0.0'");
    check_error(spec, 256 * MiB, pairs, "size '256M' is larger than the 250M of device '@DEV@/dax0.0'");
    if (mknod(node, S_IFCHR | 0600, makedev(253, 0)) == 0) {
        g_setenv("VMCTL_DEV_ROOT", tmp, TRUE);
        check_object("devdax-guest.json", node, 64 * MiB, true, tpairs);
    }
    use_real_host();
    rm_rf(tmp);
}

static void test_list_empty(void)
{
    g_autofree char *dir = make_tmp_dir();
    g_autofree char *sys = g_build_filename(dir, "sys", NULL);
    g_autofree char *mi = g_build_filename(dir, "mountinfo", NULL);
    g_autofree char *d1 = g_build_filename(sys, "bus/dax/devices", NULL);
    g_autofree char *d2 = g_build_filename(sys, "bus/nd/devices", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) l = NULL;

    g_assert_cmpint(g_mkdir_with_parents(d1, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(d2, 0755), ==, 0);
    g_assert_true(g_file_set_contents(mi, "26 1 8:1 / / rw - ext4 /dev/sda1 rw\n", -1, NULL));
    g_setenv("VMCTL_SYSFS_ROOT", sys, TRUE);
    g_setenv("VMCTL_MOUNTINFO", mi, TRUE);
    l = vmctl_backend_list(&err);
    g_assert_no_error(err);
    check_golden("list-empty.json", l, NULL);

    /* a mount table that cannot be read is an error naming it */
    g_clear_pointer(&l, json_object_put);
    g_assert_cmpint(g_unlink(mi), ==, 0);
    l = vmctl_backend_list(&err);
    g_assert_null(l);
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(err->message, "mount table '"));
    use_real_host();
    rm_rf(dir);
}

/* ---- device-dax ----------------------------------------------------- */

static void test_probe_devdax(void)
{
    const char *dev = standin_dev;
    g_autofree char *spec = g_build_filename(dev, "dax0.0", NULL);
    const char *pairs[] = { dev, "@DEV@", NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = NULL;
    g_autoptr(json_object) info = NULL;

    use_recorded_host();
    b = vmctl_backend_probe(spec, 4 * GiB, &err);
    g_assert_no_error(err);
    g_assert_cmpint(vmctl_backend_kind(b), ==, VMCTL_BACKEND_DEVDAX);
    g_assert_true(vmctl_backend_is_dax(b));
    g_assert_cmpuint(vmctl_backend_align(b), ==, 2 * MiB);
    g_assert_cmpuint(vmctl_backend_natural_size(b), ==, 16 * GiB);
    info = vmctl_backend_to_json(b);
    check_golden("devdax-info.json", info, pairs);
    check_object("devdax.json", spec, 4 * GiB, true, pairs);
    /* share=off is not honoured for DAX; no size takes the device's */
    check_object("devdax-nosize-private.json", spec, 0, false, pairs);
    use_real_host();
}

static void test_probe_devdax_errors(void)
{
    const char *dev = standin_dev;
    g_autofree char *sys = data_path("sysfs", "host1/sys");
    g_autofree char *spec = g_build_filename(dev, "dax0.0", NULL);
    g_autofree char *tmp = make_tmp_dir();
    g_autofree char *other = g_build_filename(tmp, "dax9.9", NULL);
    g_autofree char *missing = g_build_filename(dev, "dax1.0", NULL);
    const char *pairs[] = { dev, "@DEV@", tmp, "@TMP@", sys, "@SYS@", NULL };

    use_recorded_host();
    check_error(spec, 1001 * MiB, pairs, "size '1001M' is not a multiple of the 2M alignment of '@DEV@/dax0.0'");
    check_error(spec, 32 * GiB, pairs, "size '32G' is larger than the 16G of device '@DEV@/dax0.0'");
    check_error(missing, 0, pairs, "device '@DEV@/dax1.0' does not exist");
    g_assert_true(g_file_set_contents(other, "", 0, NULL));
    g_setenv("VMCTL_DEV_ROOT", tmp, TRUE);
    check_error(other, 0, pairs, "DAX device '@TMP@/dax9.9' is not in sysfs at '@SYS@/bus/dax/devices/dax9.9'");
    use_real_host();
    rm_rf(tmp);
}

/* A real character device: the sysfs lookup goes by major:minor. */
static void test_probe_devdax_chardev(void)
{
    g_autofree char *tmp = make_tmp_dir();
    g_autofree char *node = g_build_filename(tmp, "dax0.0", NULL);
    g_autofree char *null_node = g_build_filename(tmp, "dax5.0", NULL);
    const char *pairs[] = { tmp, "@DEV@", NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = NULL;
    g_autoptr(json_object) info = NULL;

    if (mknod(node, S_IFCHR | 0600, makedev(252, 0)) < 0) {
        g_autofree char *why = g_strdup_printf("mknod needs root: %s", g_strerror(errno));
        vmctl_test_needs(why);
        rm_rf(tmp);
        return;
    }
    use_recorded_host();
    g_setenv("VMCTL_DEV_ROOT", tmp, TRUE);
    check_object("devdax.json", node, 4 * GiB, true, pairs);
    b = vmctl_backend_probe(node, 0, &err);
    g_assert_no_error(err);
    info = vmctl_backend_to_json(b);
    g_assert_null(json_object_object_get(info, "stand_in"));
    g_assert_cmpstr(json_object_get_string(json_object_object_get(json_object_object_get(info, "devdax"), "dev")), ==,
                    "252:0");

    /* major:minor unknown to the recorded sysfs */
    g_assert_cmpint(mknod(null_node, S_IFCHR | 0600, makedev(1, 3)), ==, 0);
    {
        g_autofree char *sys = data_path("sysfs", "host1/sys");
        const char *p2[] = { tmp, "@DEV@", sys, "@SYS@", NULL };
        check_error(null_node, 0, p2,
                    "character device '@DEV@/dax5.0' (1:3) is not known to sysfs at '@SYS@/dev/char/1:3'");
    }
    /* the real sysfs knows 1:3 as /dev/null: subsystem mem, not dax */
    g_unsetenv("VMCTL_SYSFS_ROOT");
    check_error(null_node, 0, pairs, "character device '@DEV@/dax5.0' belongs to subsystem 'mem', not to 'dax'");
    use_real_host();
    rm_rf(tmp);
}

/* ---- filesystems ---------------------------------------------------- */

/* A mount table that claims DAX for a directory of the build tree. The
 * MAP_SYNC probe still runs on the real (non-DAX) filesystem and fails, so
 * the kind is fsdax but pmem=on is not recommended. */
static void test_probe_fsdax_claimed(void)
{
    static const struct {
        const char *options;
        VmctlBackendKind kind;
    } cases[] = {
        { "rw,dax=always", VMCTL_BACKEND_FSDAX },
        { "rw,attr2,dax,inode64", VMCTL_BACKEND_FSDAX },
        { "rw,dax=inode", VMCTL_BACKEND_FILE },
        { "rw,dax=never", VMCTL_BACKEND_FILE },
        { "rw,errors=remount-ro", VMCTL_BACKEND_FILE },
    };
    g_autofree char *tmp = make_tmp_dir();
    g_autofree char *tmpl_path = data_path("backend", "fsdax-mountinfo.in");
    g_autofree char *tmpl = NULL;
    g_autofree char *mi = g_build_filename(tmp, "mountinfo", NULL);
    g_autofree char *spec = g_build_filename(tmp, "guest.img", NULL);
    const char *pairs[] = { tmp, "@TMP@", NULL };
    struct stat st;

    if (fs_is(tmp, TMPFS_MAGIC) || fs_is(tmp, HUGETLBFS_MAGIC)) {
        vmctl_test_needs("the build tree is on tmpfs: no page-cache filesystem to test on");
        rm_rf(tmp);
        return;
    }
    g_assert_true(g_file_get_contents(tmpl_path, &tmpl, NULL, NULL));
    g_assert_cmpint(stat(tmp, &st), ==, 0);
    g_setenv("VMCTL_MOUNTINFO", mi, TRUE);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *devs = g_strdup_printf("%u:%u", major(st.st_dev), minor(st.st_dev));
        const char *subst[] = { "@DEV@", devs, "@ROOT@", tmp, "@OPTIONS@", cases[i].options, NULL };
        g_autofree char *text = replace_all(tmpl, subst);
        g_autoptr(GError) err = NULL;
        g_autoptr(VmctlBackend) b = NULL;

        g_assert_true(g_file_set_contents(mi, text, -1, NULL));
        b = vmctl_backend_probe(spec, 64 * MiB, &err);
        g_assert_no_error(err);
        g_test_message("options %s -> %s", cases[i].options, vmctl_backend_kind_name(vmctl_backend_kind(b)));
        g_assert_cmpint(vmctl_backend_kind(b), ==, cases[i].kind);
        g_assert_false(vmctl_backend_is_dax(b));
        if (i == 0) {
            g_autoptr(json_object) o = vmctl_backend_qemu_object(b, "mem0", 64 * MiB, true);
            g_autofree char *reason = replace_all(vmctl_backend_pmem_reason(b), pairs);
            check_golden("fsdax-claimed.json", o, pairs);
            g_assert_cmpstr(reason, ==,
                            "'@TMP@/guest.img' is on a mount that claims DAX but a MAP_SYNC mapping failed "
                            "(mmap MAP_SYNC: Operation not supported): not DAX");
        }
    }
    use_real_host();
    rm_rf(tmp);
}

static void test_probe_file(void)
{
    g_autofree char *tmp = make_tmp_dir();
    g_autofree char *spec = g_build_filename(tmp, "guest.img", NULL);
    g_autofree char *existing = g_build_filename(tmp, "old.img", NULL);
    g_autofree char *cwd = g_get_current_dir();
    const char *pairs[] = { tmp, "@TMP@", NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = NULL;

    use_real_host();
    if (fs_is(tmp, TMPFS_MAGIC) || fs_is(tmp, HUGETLBFS_MAGIC)) {
        vmctl_test_needs("the build tree is on tmpfs: no page-cache filesystem to test on");
        rm_rf(tmp);
        return;
    }
    check_object("file.json", spec, 256 * MiB, true, pairs);
    check_object("file-private.json", spec, 256 * MiB, false, pairs);

    /* an existing file: its size is the natural size, another size is refused */
    g_assert_true(g_file_set_contents(existing, "", 0, NULL));
    g_assert_cmpint(truncate(existing, 8 * MiB), ==, 0);
    b = vmctl_backend_probe(existing, 8 * MiB, &err);
    g_assert_no_error(err);
    g_assert_cmpint(vmctl_backend_kind(b), ==, VMCTL_BACKEND_FILE);
    g_assert_cmpuint(vmctl_backend_natural_size(b), ==, 8 * MiB);
    check_error(existing, 16 * MiB, pairs, "existing file '@TMP@/old.img' has size '8M', not the size '16M'");

    /* relative paths are made absolute */
    g_assert_cmpint(chdir(tmp), ==, 0);
    g_clear_pointer(&b, vmctl_backend_free);
    b = vmctl_backend_probe("./sub/../guest.img", 0, &err);
    g_assert_null(b);
    g_clear_error(&err);
    b = vmctl_backend_probe("guest.img", 0, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(vmctl_backend_path(b), ==, spec);
    g_assert_cmpint(chdir(cwd), ==, 0);
    rm_rf(tmp);
}

static void test_probe_file_errors(void)
{
    g_autofree char *tmp = make_tmp_dir();
    g_autofree char *plain = g_build_filename(tmp, "plain", NULL);
    g_autofree char *under_plain = g_build_filename(plain, "guest.img", NULL);
    g_autofree char *missing = g_build_filename(tmp, "nodir", "guest.img", NULL);
    g_autofree char *fifo = g_build_filename(tmp, "fifo", NULL);
    g_autofree char *link = g_build_filename(tmp, "proclink", NULL);
    g_autofree char *via_link = g_build_filename(link, "guest.img", NULL);
    g_autofree char *big = g_build_filename(tmp, "big.img", NULL);
    const char *pairs[] = { tmp, "@TMP@", NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = NULL;

    use_real_host();
    g_assert_true(g_file_set_contents(plain, "x", 1, NULL));
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_assert_cmpint(symlink("/proc/self", link), ==, 0);
    check_error(missing, 0, pairs, "directory '@TMP@/nodir' of '@TMP@/nodir/guest.img' does not exist");
    check_error(under_plain, 0, pairs, "'@TMP@/plain' of '@TMP@/plain/guest.img' is not a directory");
    check_error(fifo, 0, pairs, "'@TMP@/fifo' is not a regular file, directory or device");
    check_error(via_link, 0, pairs,
                "path '@TMP@/proclink/guest.img' is not allowed: guest memory may not live under /proc");
    /* a directory on a page-cache filesystem: QEMU would hide its file there */
    if (!fs_is(tmp, TMPFS_MAGIC) && !fs_is(tmp, HUGETLBFS_MAGIC) && !fs_is(tmp, RAMFS_MAGIC)) {
        g_autofree char *head = g_strdup_printf("directory '%s' is on ", tmp);
        b = vmctl_backend_probe(tmp, 0, &err);
        g_assert_null(b);
        g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
        g_assert_true(g_str_has_prefix(err->message, head));
        g_assert_true(
            g_str_has_suffix(err->message, ", not on hugetlbfs, tmpfs or a DAX mount: name a file in it instead"));
        g_clear_error(&err);
    }
    /* more than the filesystem has free */
    b = vmctl_backend_probe(big, 1024 * TiB, &err);
    g_assert_null(b);
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    g_assert_true(g_str_has_prefix(err->message, "size '1024T' is larger than the "));
    g_assert_nonnull(strstr(err->message, big));
    rm_rf(tmp);
}

static void test_path_rules(void)
{
    static const struct {
        const char *spec;
        const char *msg;
    } cases[] = {
        { "/proc/self/mem", "path '/proc/self/mem' is not allowed: guest memory may not live under /proc" },
        { "/sys/kernel/mm/x", "path '/sys/kernel/mm/x' is not allowed: guest memory may not live under /sys" },
        { "/sys", "path '/sys' is not allowed: guest memory may not live under /sys" },
        { "/dev/sda", "path '/dev/sda' is not allowed: under /dev only /dev/dax*, /dev/pmem*, /dev/shm and "
                      "/dev/hugepages are" },
        { "/dev", "path '/dev' is not allowed: under /dev only /dev/dax*, /dev/pmem*, /dev/shm and "
                  "/dev/hugepages are" },
        { "/dev/shmx", "path '/dev/shmx' is not allowed: under /dev only /dev/dax*, /dev/pmem*, /dev/shm and "
                       "/dev/hugepages are" },
        { "/dev/shm/../sda", "path '/dev/shm/../sda' has a '..' component, which is not allowed" },
        { "../guest.img", "path '../guest.img' has a '..' component, which is not allowed" },
        { "/dev/dax7.3", "device '/dev/dax7.3' does not exist" },
        { "/dev/pmem9", "device '/dev/pmem9' does not exist" },
        { "", "backing '' is empty: give a path, 'memfd' or 'anonymous'" },
        { "memfd:huge", "backing 'memfd:huge' is not one of 'memfd', 'memfd:hugetlb', 'memfd:hugetlb=SIZE'" },
    };

    use_real_host();
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        check_error(cases[i].spec, 0, NULL, cases[i].msg);
}

static void test_probe_tmpfs(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = NULL;

    use_real_host();
    if (!fs_is("/dev/shm", TMPFS_MAGIC)) {
        vmctl_test_needs("/dev/shm is not tmpfs here");
        return;
    }
    check_object("tmpfs.json", "/dev/shm", GiB, true, NULL);
    b = vmctl_backend_probe("/dev/shm/", 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(vmctl_backend_kind(b), ==, VMCTL_BACKEND_TMPFS);
    g_assert_cmpstr(vmctl_backend_path(b), ==, "/dev/shm");
    g_assert_false(vmctl_backend_is_dax(b));
    check_error("/dev/shm", GiB + 1, NULL, "size '1073741825' is not a multiple of the 4K alignment of '/dev/shm'");
}

/* hugetlbfs mounted here for the test; the pool numbers come from the
 * recorded host (512 pages, 500 free, 12 reserved: 488 available). */
static void test_probe_hugetlbfs(void)
{
    g_autofree char *tmp = make_tmp_dir();
    g_autofree char *mnt = g_build_filename(tmp, "huge", NULL);
    g_autofree char *sys = data_path("sysfs", "host1/sys");
    const char *pairs[] = { tmp, "@TMP@", NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = NULL;

    use_real_host();
    g_assert_cmpint(g_mkdir(mnt, 0755), ==, 0);
    /* a private mount namespace: the mount goes away with this process,
     * even when an assertion ends it */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("nodev", mnt, "hugetlbfs", 0, "pagesize=2M") < 0) {
        g_autofree char *why = g_strdup_printf("cannot mount hugetlbfs: %s", g_strerror(errno));
        vmctl_test_needs(why);
        rm_rf(tmp);
        return;
    }
    g_setenv("VMCTL_SYSFS_ROOT", sys, TRUE);
    b = vmctl_backend_probe(mnt, 512 * MiB, &err);
    g_assert_no_error(err);
    g_assert_cmpint(vmctl_backend_kind(b), ==, VMCTL_BACKEND_HUGETLBFS);
    g_assert_cmpuint(vmctl_backend_align(b), ==, 2 * MiB);
    check_object("hugetlbfs.json", mnt, 512 * MiB, true, pairs);
    check_object("hugetlbfs-976M.json", mnt, 976 * MiB, true, pairs);
    check_error(mnt, 978 * MiB, pairs,
                "size '978M' is larger than the 976M available in free 2M huge pages for '@TMP@/huge'");
    check_error(mnt, 1000 * MiB + 4096, pairs,
                "size '1024004K' is not a multiple of the 2M alignment of '@TMP@/huge'");
    umount2(mnt, MNT_DETACH);
    use_real_host();
    rm_rf(tmp);
}

static void test_probe_memfd_anon(void)
{
    g_autofree char *sys = data_path("sysfs", "host1/sys");

    use_real_host();
    check_object("memfd.json", "memfd", 2 * GiB, true, NULL);
    check_object("anonymous.json", "anonymous", 2 * GiB, false, NULL);
    g_setenv("VMCTL_SYSFS_ROOT", sys, TRUE);
    check_object("memfd-hugetlb.json", "memfd:hugetlb=2M", 976 * MiB, true, NULL);
    check_error("memfd:hugetlb=2M", 978 * MiB, NULL,
                "size '978M' is larger than the 976M available in free 2M huge pages for 'memfd:hugetlb=2M'");
    if (g_file_test("/sys/kernel/mm/hugepages/hugepages-1048576kB", G_FILE_TEST_IS_DIR))
        check_error("memfd:hugetlb=1G", 5 * GiB, NULL,
                    "size '5G' is larger than the 4G available in free 1G huge pages for 'memfd:hugetlb=1G'");
    check_error("memfd:hugetlb=4M", 0, NULL, "huge page size '4M' of 'memfd:hugetlb=4M' is not offered by this host");
    use_real_host();
}

static void test_kind_names(void)
{
    g_assert_cmpstr(vmctl_backend_kind_name(VMCTL_BACKEND_ANONYMOUS), ==, "anonymous");
    g_assert_cmpstr(vmctl_backend_kind_name(VMCTL_BACKEND_MEMFD), ==, "memfd");
    g_assert_cmpstr(vmctl_backend_kind_name(VMCTL_BACKEND_FILE), ==, "file");
    g_assert_cmpstr(vmctl_backend_kind_name(VMCTL_BACKEND_TMPFS), ==, "tmpfs");
    g_assert_cmpstr(vmctl_backend_kind_name(VMCTL_BACKEND_HUGETLBFS), ==, "hugetlbfs");
    g_assert_cmpstr(vmctl_backend_kind_name(VMCTL_BACKEND_FSDAX), ==, "fsdax");
    g_assert_cmpstr(vmctl_backend_kind_name(VMCTL_BACKEND_DEVDAX), ==, "devdax");
    g_assert_cmpstr(vmctl_backend_kind_name((VmctlBackendKind)42), ==, "unknown");
}

int main(int argc, char **argv)
{
    g_autofree char *standin = NULL;
    int rc;

    g_test_init(&argc, &argv, NULL);
    standin_dev = make_tmp_dir();
    standin = g_build_filename(standin_dev, "dax0.0", NULL);
    g_assert_true(g_file_set_contents(standin, "", 0, NULL));
    g_test_add_func("/vmctl/backend/kind-names", test_kind_names);
    g_test_add_func("/vmctl/backend/mountinfo/parse", test_mountinfo_parse);
    g_test_add_func("/vmctl/backend/mountinfo/find", test_mountinfo_find);
    g_test_add_func("/vmctl/backend/mountinfo/options", test_mount_options);
    g_test_add_func("/vmctl/backend/mountinfo/guest", test_mountinfo_guest);
    g_test_add_func("/vmctl/backend/list/recorded", test_list_recorded);
    g_test_add_func("/vmctl/backend/list/empty", test_list_empty);
    g_test_add_data_func("/vmctl/backend/list/guest-devdax", "devdax", test_list_guest);
    g_test_add_data_func("/vmctl/backend/list/guest-fsdax", "fsdax", test_list_guest);
    g_test_add_func("/vmctl/backend/probe/devdax-guest", test_probe_devdax_guest);
    g_test_add_func("/vmctl/backend/probe/devdax", test_probe_devdax);
    g_test_add_func("/vmctl/backend/probe/devdax-errors", test_probe_devdax_errors);
    g_test_add_func("/vmctl/backend/probe/devdax-chardev", test_probe_devdax_chardev);
    g_test_add_func("/vmctl/backend/probe/fsdax-claimed", test_probe_fsdax_claimed);
    g_test_add_func("/vmctl/backend/probe/file", test_probe_file);
    g_test_add_func("/vmctl/backend/probe/file-errors", test_probe_file_errors);
    g_test_add_func("/vmctl/backend/probe/path-rules", test_path_rules);
    g_test_add_func("/vmctl/backend/probe/tmpfs", test_probe_tmpfs);
    g_test_add_func("/vmctl/backend/probe/hugetlbfs", test_probe_hugetlbfs);
    g_test_add_func("/vmctl/backend/probe/memfd-anonymous", test_probe_memfd_anon);
    rc = g_test_run();
    rm_rf(standin_dev);
    g_free(standin_dev);
    return rc;
}
