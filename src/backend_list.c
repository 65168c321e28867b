/* backend_list.c: what memory for guests this host offers, read from sysfs
 * and the mount table like `daxctl list` and `ndctl list` do: DAX devices,
 * pmem namespaces, huge page pools, hugetlbfs and tmpfs mounts. */
#include "config.h"

#include "hugepages.h"
#include "pmem_backend.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

static gint cmp_strp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static json_object *list_dax_devices(void)
{
    json_object *arr = json_object_new_array();
    g_autofree char *bus = vmctl_sysfs_path("bus/dax/devices");
    g_autoptr(GDir) d = g_dir_open(bus, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *n;

    while (d && (n = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, cmp_strp);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *dir = g_build_filename(bus, name, NULL);
        g_autofree char *dev = vmctl_sysfs_str(dir, "dev");
        g_autofree char *driver = vmctl_sysfs_link_name(dir, "driver");
        g_autofree char *path = g_build_filename(vmctl_dev_root(), name, NULL);
        json_object *o = json_object_new_object();
        uint64_t v;

        vmctl_json_add_str(o, "name", name);
        vmctl_json_add_str(o, "path", path);
        vmctl_json_add_u64(o, "size", vmctl_sysfs_u64(dir, "size", &v) ? v : 0);
        if (vmctl_sysfs_u64(dir, "align", &v))
            vmctl_json_add_u64(o, "align", v);
        else
            json_object_object_add(o, "align", NULL);
        vmctl_json_add_i64(o, "numa_node", vmctl_sysfs_i64(dir, "numa_node", -1));
        vmctl_json_add_i64(o, "target_node", vmctl_sysfs_i64(dir, "target_node", -1));
        vmctl_json_add_str(o, "dev", dev);
        vmctl_json_add_str(o, "driver", driver);
        /* kmem hands the memory to the page allocator: no character device */
        vmctl_json_add_str(o, "mode", !driver ? "disabled" : strcmp(driver, "kmem") == 0 ? "system-ram" : "devdax");
        json_object_array_add(arr, o);
    }
    return arr;
}

/* The first entry of DIR/sub matching PREFIX ("pmem", "dax"). */
/* The kernel says raw/safe/memory/dax; ndctl (and we) say raw/sector/fsdax/devdax. */
static const char *ns_mode_name(const char *kmode)
{
    if (!kmode)
        return "unknown";
    if (strcmp(kmode, "memory") == 0)
        return "fsdax";
    if (strcmp(kmode, "dax") == 0)
        return "devdax";
    if (strcmp(kmode, "safe") == 0)
        return "sector";
    return kmode;
}

static json_object *list_namespaces(void)
{
    json_object *arr = json_object_new_array();
    g_autofree char *bus = vmctl_sysfs_path("bus/nd/devices");
    g_autoptr(GDir) d = g_dir_open(bus, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *n;

    while (d && (n = g_dir_read_name(d)))
        if (g_str_has_prefix(n, "namespace"))
            g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, cmp_strp);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *dir = g_build_filename(bus, name, NULL);
        g_autofree char *kmode = vmctl_sysfs_str(dir, "mode");
        g_autofree char *holder = vmctl_sysfs_str(dir, "holder");
        g_autofree char *uuid = vmctl_sysfs_str(dir, "uuid");
        g_autofree char *blockdev = NULL, *chardev = NULL;
        json_object *o;
        uint64_t size = 0;

        /* size 0: an idle seed namespace, as ndctl hides it */
        if (!vmctl_sysfs_u64(dir, "size", &size) || size == 0)
            continue;
        if (holder && *holder) {
            g_autofree char *hdir = g_build_filename(bus, holder, NULL);
            blockdev = vmctl_sysfs_first_child(hdir, "block", "pmem");
            chardev = g_str_has_prefix(holder, "dax") ? vmctl_sysfs_first_child(hdir, NULL, "dax") : NULL;
        } else {
            blockdev = vmctl_sysfs_first_child(dir, "block", "pmem");
        }
        o = json_object_new_object();
        vmctl_json_add_str(o, "name", name);
        vmctl_json_add_str(o, "mode", ns_mode_name(kmode));
        vmctl_json_add_str(o, "kernel_mode", kmode);
        vmctl_json_add_u64(o, "size", size);
        vmctl_json_add_str(o, "uuid", uuid && strcmp(uuid, "") != 0 ? uuid : NULL);
        vmctl_json_add_i64(o, "numa_node", vmctl_sysfs_i64(dir, "numa_node", -1));
        vmctl_json_add_str(o, "holder", holder && *holder ? holder : NULL);
        vmctl_json_add_str(o, "blockdev", blockdev);
        vmctl_json_add_str(o, "chardev", chardev);
        json_object_array_add(arr, o);
    }
    return arr;
}

static json_object *list_huge_pools(void)
{
    json_object *arr = json_object_new_array();
    g_autofree char *base = vmctl_sysfs_path("kernel/mm/hugepages");
    g_autoptr(GDir) d = g_dir_open(base, 0, NULL);
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    const char *n;

    while (d && (n = g_dir_read_name(d))) {
        guint64 kb;
        if (sscanf(n, "hugepages-%" G_GUINT64_FORMAT "kB", &kb) == 1) {
            uint64_t bytes = kb * KiB;
            g_array_append_val(sizes, bytes);
        }
    }
    for (guint i = 0; i < sizes->len; i++)
        for (guint j = i + 1; j < sizes->len; j++)
            if (g_array_index(sizes, uint64_t, j) < g_array_index(sizes, uint64_t, i)) {
                uint64_t t = g_array_index(sizes, uint64_t, i);
                g_array_index(sizes, uint64_t, i) = g_array_index(sizes, uint64_t, j);
                g_array_index(sizes, uint64_t, j) = t;
            }
    for (guint i = 0; i < sizes->len; i++) {
        uint64_t ps = g_array_index(sizes, uint64_t, i);
        json_object *o = json_object_new_object();
        VmctlHugePool pool;

        vmctl_huge_pool_read(ps, &pool);
        vmctl_json_add_u64(o, "page_size", ps);
        vmctl_json_add_u64(o, "nr_hugepages", pool.nr);
        vmctl_json_add_u64(o, "free_hugepages", pool.free);
        vmctl_json_add_u64(o, "resv_hugepages", pool.resv);
        vmctl_json_add_u64(o, "available", vmctl_huge_pool_available(&pool) * ps);
        json_object_array_add(arr, o);
    }
    return arr;
}

/* The mount on top at each mount point, read-write, where the path rules
 * allow guest memory; fstype as given. */
static GPtrArray *visible_mounts(GPtrArray *mounts, const char *fstype)
{
    GPtrArray *out = g_ptr_array_new();

    for (guint i = 0; i < mounts->len; i++) {
        VmctlMount *m = g_ptr_array_index(mounts, i);
        bool covered = false;

        if (strcmp(m->fstype, fstype) != 0 || vmctl_mount_option(m->mount_options, "ro", NULL) ||
            !vmctl_backend_path_allowed(m->mount_point, m->mount_point, NULL))
            continue;
        for (guint j = i + 1; j < mounts->len && !covered; j++)
            covered = strcmp(((VmctlMount *)g_ptr_array_index(mounts, j))->mount_point, m->mount_point) == 0;
        if (!covered)
            g_ptr_array_add(out, m);
    }
    return out;
}

/* statfs of a listed mount, only when it is the mount the table names
 * (the table may be a recorded one). */
static bool mount_statfs(const VmctlMount *m, struct statfs *sfs)
{
    struct stat st;

    return stat(m->mount_point, &st) == 0 && major(st.st_dev) == m->major && minor(st.st_dev) == m->minor &&
           statfs(m->mount_point, sfs) == 0;
}

static json_object *list_hugetlbfs(GPtrArray *mounts)
{
    json_object *arr = json_object_new_array();
    g_autoptr(GPtrArray) vis = visible_mounts(mounts, "hugetlbfs");
    g_autofree char *dflt = vmctl_huge_default_size_str();

    for (guint i = 0; i < vis->len; i++) {
        VmctlMount *m = g_ptr_array_index(vis, i);
        g_autofree char *ps = NULL, *sz = NULL;
        uint64_t page = 0, limit = 0;
        json_object *o = json_object_new_object();
        VmctlHugePool pool;
        bool have_pool;

        if (!(vmctl_mount_option(m->super_options, "pagesize", &ps) && vmctl_parse_size(ps, false, &page, NULL)) &&
            !(dflt && vmctl_parse_size(dflt, false, &page, NULL)))
            page = 0;
        have_pool = page && vmctl_huge_pool_read(page, &pool);
        vmctl_json_add_str(o, "mount_point", m->mount_point);
        vmctl_json_add_u64(o, "page_size", page);
        if (vmctl_mount_option(m->super_options, "size", &sz) && vmctl_parse_size(sz, false, &limit, NULL))
            vmctl_json_add_u64(o, "size_limit", limit);
        else
            json_object_object_add(o, "size_limit", NULL);
        if (have_pool) {
            uint64_t avail = vmctl_huge_pool_available(&pool) * page;

            vmctl_json_add_u64(o, "free_hugepages", pool.free);
            vmctl_json_add_u64(o, "resv_hugepages", pool.resv);
            /* a size= limit caps what this mount can take from the pool */
            vmctl_json_add_u64(o, "available", limit && limit < avail ? limit : avail);
        } else {
            json_object_object_add(o, "free_hugepages", NULL);
            json_object_object_add(o, "resv_hugepages", NULL);
            json_object_object_add(o, "available", NULL);
        }
        json_object_array_add(arr, o);
    }
    return arr;
}

static json_object *list_tmpfs(GPtrArray *mounts)
{
    json_object *arr = json_object_new_array();
    g_autoptr(GPtrArray) vis = visible_mounts(mounts, "tmpfs");

    for (guint i = 0; i < vis->len; i++) {
        VmctlMount *m = g_ptr_array_index(vis, i);
        g_autofree char *sz = NULL;
        uint64_t size = 0;
        struct statfs sfs;
        json_object *o = json_object_new_object();

        bool live = mount_statfs(m, &sfs);

        vmctl_json_add_str(o, "mount_point", m->mount_point);
        /* size= when given, else the kernel's default (half of RAM) as statfs tells */
        if (vmctl_mount_option(m->super_options, "size", &sz) && vmctl_parse_size(sz, false, &size, NULL))
            vmctl_json_add_u64(o, "size", size);
        else if (live)
            vmctl_json_add_u64(o, "size", (uint64_t)sfs.f_blocks * sfs.f_bsize);
        else
            json_object_object_add(o, "size", NULL);
        if (live)
            vmctl_json_add_u64(o, "free", (uint64_t)sfs.f_bavail * sfs.f_bsize);
        else
            json_object_object_add(o, "free", NULL);
        json_object_array_add(arr, o);
    }
    return arr;
}

json_object *vmctl_backend_list(GError **error)
{
    g_autoptr(GPtrArray) mounts = vmctl_mountinfo_read(error);
    json_object *o;

    if (!mounts)
        return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "dax_devices", list_dax_devices());
    json_object_object_add(o, "namespaces", list_namespaces());
    json_object_object_add(o, "hugepage_pools", list_huge_pools());
    json_object_object_add(o, "hugetlbfs", list_hugetlbfs(mounts));
    json_object_object_add(o, "tmpfs", list_tmpfs(mounts));
    return o;
}
