/* probe_backing.c: map the memory behind a probed memslot, one way per
 * backing kind, and hand back a read-only second view for the oracle.
 * Huge pages are reserved only when free ones are missing and we are root;
 * what was added is given back on release (hugepages.h). */
#include "config.h"

#include "probe_backing.h"
#include "sysfs.h"
#include "lab.h"
#include "hugepages.h"
#include "mountinfo.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mman.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

#define HUGE_2M (2ull << 20) /* bytes */

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *const vmctl_probe_backing_defaults[] = {
    "anonymous", "thp", "memfd", "shm", "file", "hugetlbfs", NULL,
};

GPtrArray *vmctl_probe_backing_default_specs(void)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) mounts = vmctl_mountinfo_read(NULL);

    for (size_t i = 0; vmctl_probe_backing_defaults[i]; i++)
        g_ptr_array_add(out, g_strdup(vmctl_probe_backing_defaults[i]));
    for (guint i = 0; mounts && i < mounts->len; i++) {
        const VmctlMount *m = mounts->pdata[i];
        g_autofree char *v1 = NULL, *v2 = NULL;
        bool dax = vmctl_mount_option(m->mount_options, "dax", &v1) || vmctl_mount_option(m->super_options, "dax", &v2);
        const char *v = v1 ? v1 : v2;

        if (dax && (!v || strcmp(v, "always") == 0) &&
            (strcmp(m->fstype, "ext4") == 0 || strcmp(m->fstype, "xfs") == 0) && access(m->mount_point, W_OK) == 0)
            g_ptr_array_add(out, g_strdup_printf("fsdax:%s", m->mount_point));
    }
    if (vmctl_lab_inside()) {
        g_autofree char *dir = vmctl_sysfs_path("bus/dax/devices");
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        const char *name;

        while (d && (name = g_dir_read_name(d)))
            if (g_str_has_prefix(name, "dax"))
                g_ptr_array_add(names, g_strdup(name));
        g_ptr_array_sort(names, cmp_names);
        for (guint i = 0; i < names->len; i++) {
            g_autofree char *dev = g_strdup_printf("/dev/%s", (char *)names->pdata[i]);
            if (g_file_test(dev, G_FILE_TEST_EXISTS))
                g_ptr_array_add(out, g_strdup_printf("devdax:%s", dev));
        }
    }
    return out;
}

static const struct {
    const char *name;
    VmctlBackingKind kind;
    bool needs_path; /* the part after ':' is required */
    bool takes_path;
} kinds[] = {
    { "anonymous", VMCTL_BACKING_ANONYMOUS, false, false },
    { "thp", VMCTL_BACKING_THP, false, false },
    { "memfd", VMCTL_BACKING_MEMFD, false, false },
    { "shm", VMCTL_BACKING_SHM, false, false },
    { "file", VMCTL_BACKING_FILE, false, true },
    { "hugetlbfs", VMCTL_BACKING_HUGETLBFS, false, true },
    { "devdax", VMCTL_BACKING_DEVDAX, true, true },
    { "fsdax", VMCTL_BACKING_FSDAX, true, true },
};

static bool parse_spec(const char *spec, size_t *kind_idx, const char **path, GError **error)
{
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);

    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        if (strlen(kinds[i].name) != len || strncmp(kinds[i].name, spec, len) != 0)
            continue;
        if (colon && !kinds[i].takes_path) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "backing '%s': '%s' takes no path", spec,
                        kinds[i].name);
            return false;
        }
        if (kinds[i].needs_path && (!colon || !colon[1])) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "backing '%s' needs a path: '%s:PATH'", spec,
                        kinds[i].name);
            return false;
        }
        *kind_idx = i;
        *path = colon && colon[1] ? colon + 1 : NULL;
        return true;
    }
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                "backing '%s' is unknown: use anonymous, thp, memfd, shm, file[:DIR], hugetlbfs[:DIR], "
                "devdax:/dev/daxX.Y or fsdax:PATH",
                spec);
    return false;
}

bool vmctl_probe_backing_spec_ok(const char *spec, GError **error)
{
    size_t k;
    const char *path;
    return parse_spec(spec, &k, &path, error);
}

static void set_fail(GError **error, const struct vmctl_probe_backing *b, int code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static void set_fail(GError **error, const struct vmctl_probe_backing *b, int code, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *why = NULL;

    va_start(ap, fmt);
    why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, VMCTL_ERROR, code, "backing '%s' cannot be set up: %s", b->spec, why);
}

/* Map `size` anonymous bytes aligned to `align` (over-allocate, keep the
 * aligned part) so that huge pages can back the whole slot. */
static bool map_aligned(struct vmctl_probe_backing *b, uint64_t align, int flags)
{
    uint64_t len = b->size + (align > 4096 ? align : 0);
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);

    if (p == MAP_FAILED)
        return false;
    b->map_base = p;
    b->map_len = len;
    b->map = (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    return true;
}

static bool map_shared_fd(struct vmctl_probe_backing *b, int extra_flags, GError **error)
{
    void *p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED | extra_flags, b->fd, 0);
    void *v;

    if (p == MAP_FAILED) {
        set_fail(error, b, VMCTL_ERROR_FAILED, "mmap MAP_SHARED of '%s' (%" G_GUINT64_FORMAT " bytes) failed: %s",
                 b->path ? b->path : "memfd", b->size, g_strerror(errno));
        return false;
    }
    b->map = b->map_base = p;
    b->map_len = b->size;
    v = mmap(NULL, b->size, PROT_READ, MAP_SHARED, b->fd, 0);
    if (v == MAP_FAILED) {
        set_fail(error, b, VMCTL_ERROR_FAILED, "read-only mmap of '%s' failed: %s", b->path ? b->path : "memfd",
                 g_strerror(errno));
        return false;
    }
    b->view = v;
    return true;
}

static bool size_fd(struct vmctl_probe_backing *b, GError **error)
{
    struct stat st;

    if (fstat(b->fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size >= b->size)
        return true;
    if (ftruncate(b->fd, (off_t)b->size) < 0) {
        set_fail(error, b, VMCTL_ERROR_FAILED, "ftruncate of '%s' to %" G_GUINT64_FORMAT " bytes failed: %s",
                 b->path ? b->path : "memfd", b->size, g_strerror(errno));
        return false;
    }
    return true;
}

/* A new file in `dir`, unlinked on close. */
static bool create_file(struct vmctl_probe_backing *b, const char *dir, GError **error)
{
    g_autofree char *tmpl = g_build_filename(dir, "vmctl-probe-XXXXXX", NULL);

    b->fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
    if (b->fd < 0) {
        set_fail(error, b, VMCTL_ERROR_UNSUPPORTED, "cannot create a file in '%s': %s", dir, g_strerror(errno));
        return false;
    }
    b->path = g_steal_pointer(&tmpl);
    b->unlink_path = true;
    return true;
}

static uint64_t read_u64_or(const char *path, uint64_t dflt)
{
    uint64_t v;
    return vmctl_read_u64(path, &v, NULL) ? v : dflt;
}

/* Make sure `need` free 2M pages exist (hugepages.h: reserved only as
 * root; what was added is given back on release). */
static bool ensure_hugepages(struct vmctl_probe_backing *b, uint64_t need, GError **error)
{
    g_autoptr(GError) err = NULL;

    if (vmctl_huge_pool_reserve(HUGE_2M, need, &b->hugepages_added, &err))
        return true;
    set_fail(error, b, VMCTL_ERROR_UNSUPPORTED, "%s", err->message);
    return false;
}

/* First writable hugetlbfs mount of 2M pages, or NULL. */
static char *find_hugetlbfs_mount(void)
{
    g_autoptr(GPtrArray) mounts = vmctl_mountinfo_read(NULL);

    for (guint i = 0; mounts && i < mounts->len; i++) {
        const VmctlMount *m = g_ptr_array_index(mounts, i);

        if (strcmp(m->fstype, "hugetlbfs") == 0 && !(m->super_options && strstr(m->super_options, "pagesize=1G")) &&
            access(m->mount_point, W_OK) == 0)
            return g_strdup(m->mount_point);
    }
    return NULL;
}

static bool open_hugetlbfs(struct vmctl_probe_backing *b, const char *dir, GError **error)
{
    g_autofree char *found = NULL;
    struct statfs sfs;

    b->page_size = HUGE_2M;
    if (b->size % HUGE_2M) {
        set_fail(error, b, VMCTL_ERROR_INVALID, "size %" G_GUINT64_FORMAT " is not a multiple of 2M", b->size);
        return false;
    }
    if (!ensure_hugepages(b, b->size / HUGE_2M, error))
        return false;
    if (!dir)
        dir = found = find_hugetlbfs_mount();
    if (!dir) {
        if (!map_aligned(b, 4096, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB)) {
            set_fail(error, b, VMCTL_ERROR_UNSUPPORTED, "mmap MAP_HUGETLB of %" G_GUINT64_FORMAT " bytes failed: %s",
                     b->size, g_strerror(errno));
            return false;
        }
        b->detail = g_strdup("MAP_HUGETLB anonymous (no hugetlbfs mount)");
        return true;
    }
    if (statfs(dir, &sfs) < 0 || (unsigned long)sfs.f_type != HUGETLBFS_MAGIC) {
        set_fail(error, b, VMCTL_ERROR_INVALID, "'%s' is not a hugetlbfs mount", dir);
        return false;
    }
    if (!create_file(b, dir, error) || !size_fd(b, error) || !map_shared_fd(b, 0, error))
        return false;
    b->detail = g_strdup_printf("file on hugetlbfs '%s'", dir);
    return true;
}

static bool open_devdax(struct vmctl_probe_backing *b, const char *path, GError **error)
{
    struct stat st;
    g_autofree char *sys = NULL;
    uint64_t align = HUGE_2M, devsize = 0;

    b->path = g_strdup(path);
    b->fd = open(path, O_RDWR | O_CLOEXEC);
    if (b->fd < 0) {
        set_fail(error, b, errno == ENOENT ? VMCTL_ERROR_NOT_FOUND : VMCTL_ERROR_FAILED, "open '%s' failed: %s",
                 path, g_strerror(errno));
        return false;
    }
    if (fstat(b->fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
        set_fail(error, b, VMCTL_ERROR_INVALID, "'%s' is not a character device", path);
        return false;
    }
    sys = g_strdup_printf("/sys/dev/char/%u:%u/device", major(st.st_rdev), minor(st.st_rdev));
    {
        g_autofree char *a = g_build_filename(sys, "align", NULL);
        g_autofree char *s = g_build_filename(sys, "size", NULL);
        align = read_u64_or(a, HUGE_2M);
        devsize = read_u64_or(s, 0);
    }
    b->page_size = align;
    if (b->size % align) {
        set_fail(error, b, VMCTL_ERROR_INVALID, "size %" G_GUINT64_FORMAT " is not a multiple of the %" G_GUINT64_FORMAT
                 " byte alignment of '%s'", b->size, align, path);
        return false;
    }
    if (devsize && b->size > devsize) {
        set_fail(error, b, VMCTL_ERROR_INVALID, "size %" G_GUINT64_FORMAT " is larger than '%s' (%" G_GUINT64_FORMAT
                 " bytes)", b->size, path, devsize);
        return false;
    }
    if (!map_shared_fd(b, 0, error))
        return false;
    b->detail = g_strdup_printf("device DAX '%s', align %" G_GUINT64_FORMAT, path, align);
    return true;
}

static bool open_fsdax(struct vmctl_probe_backing *b, const char *path, GError **error)
{
    /* a directory on the DAX mount: a file of our own, removed at the end */
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        if (!create_file(b, path, error))
            return false;
    } else {
        b->path = g_strdup(path);
        b->fd = open(path, O_RDWR | O_CLOEXEC);
    }
    if (b->fd < 0 && errno == ENOENT) {
        b->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        b->unlink_path = b->fd >= 0;
    }
    if (b->fd < 0) {
        set_fail(error, b, VMCTL_ERROR_FAILED, "open '%s' failed: %s", path, g_strerror(errno));
        return false;
    }
    if (!b->unlink_path) { /* someone's existing file: never resize it */
        struct stat st;
        if (fstat(b->fd, &st) == 0 && (uint64_t)st.st_size < b->size) {
            set_fail(error, b, VMCTL_ERROR_INVALID,
                     "file '%s' is %" G_GUINT64_FORMAT " bytes, smaller than the slot (%" G_GUINT64_FORMAT " bytes)",
                     path, (uint64_t)st.st_size, b->size);
            return false;
        }
    }
    if (!size_fd(b, error))
        return false;
    /* a new file is allocated whole: DAX maps 2M pages only over allocated,
     * 2M-aligned extents (so a sparse file would say nothing about huge
     * mappings) */
    if (b->unlink_path && (errno = posix_fallocate(b->fd, 0, (off_t)b->size)) != 0) {
        set_fail(error, b, VMCTL_ERROR_FAILED, "fallocate of '%s' (%" G_GUINT64_FORMAT " bytes) failed: %s", path,
                 b->size, g_strerror(errno));
        return false;
    }
    /* MAP_SYNC is only accepted on a DAX mapping: the proof the file is on fsdax. */
    if (!map_shared_fd(b, MAP_SHARED_VALIDATE | MAP_SYNC, error)) {
        g_clear_error(error);
        set_fail(error, b, VMCTL_ERROR_UNSUPPORTED, "'%s' refused MAP_SYNC: not a file on a DAX filesystem", path);
        return false;
    }
    /* the kernel places a DAX file's mapping 2M-aligned: its allocated,
     * aligned extents can be mapped with 2M pages, by the host and by KVM */
    if (((uintptr_t)b->map & (HUGE_2M - 1)) == 0 && b->size % HUGE_2M == 0)
        b->page_size = HUGE_2M;
    b->detail = g_strdup_printf("fsdax file '%s' (MAP_SYNC%s)", path,
                                b->page_size == HUGE_2M ? ", 2M-aligned mapping" : "");
    return true;
}

static bool open_kind(struct vmctl_probe_backing *b, const char *path, GError **error)
{
    switch (b->kind) {
    case VMCTL_BACKING_ANONYMOUS:
        if (!map_aligned(b, 4096, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE))
            break;
        madvise(b->map, b->size, MADV_NOHUGEPAGE);
        b->detail = g_strdup("private anonymous, MADV_NOHUGEPAGE");
        return true;
    case VMCTL_BACKING_THP: {
        g_autofree char *thp = vmctl_read_file_trimmed("/sys/kernel/mm/transparent_hugepage/enabled", NULL);
        if (!thp || strstr(thp, "[never]")) {
            set_fail(error, b, VMCTL_ERROR_UNSUPPORTED, "transparent huge pages are '%s'", thp ? thp : "absent");
            return false;
        }
        b->page_size = HUGE_2M;
        if (!map_aligned(b, HUGE_2M, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE))
            break;
        if (madvise(b->map, b->size, MADV_HUGEPAGE) < 0) {
            set_fail(error, b, VMCTL_ERROR_UNSUPPORTED, "madvise MADV_HUGEPAGE failed: %s", g_strerror(errno));
            return false;
        }
        b->detail = g_strdup("private anonymous, 2M aligned, MADV_HUGEPAGE");
        return true;
    }
    case VMCTL_BACKING_MEMFD:
        b->fd = memfd_create("vmctl-probe", MFD_CLOEXEC);
        if (b->fd < 0) {
            set_fail(error, b, VMCTL_ERROR_UNSUPPORTED, "memfd_create failed: %s", g_strerror(errno));
            return false;
        }
        b->detail = g_strdup("memfd, MAP_SHARED");
        return size_fd(b, error) && map_shared_fd(b, 0, error);
    case VMCTL_BACKING_SHM:
        if (!create_file(b, "/dev/shm", error) || !size_fd(b, error) || !map_shared_fd(b, 0, error))
            return false;
        b->detail = g_strdup_printf("file '%s', MAP_SHARED", b->path);
        return true;
    case VMCTL_BACKING_FILE: {
        const char *dir = path ? path : g_getenv("TMPDIR");
        if (!dir || !*dir)
            dir = "/var/tmp";
        if (!create_file(b, dir, error) || !size_fd(b, error) || !map_shared_fd(b, 0, error))
            return false;
        b->detail = g_strdup_printf("file '%s', MAP_SHARED", b->path);
        return true;
    }
    case VMCTL_BACKING_HUGETLBFS:
        return open_hugetlbfs(b, path, error);
    case VMCTL_BACKING_DEVDAX:
        return open_devdax(b, path, error);
    case VMCTL_BACKING_FSDAX:
        return open_fsdax(b, path, error);
    }
    set_fail(error, b, VMCTL_ERROR_FAILED, "mmap of %" G_GUINT64_FORMAT " bytes failed: %s", b->size,
             g_strerror(errno));
    return false;
}

struct vmctl_probe_backing *vmctl_probe_backing_open(const char *spec, uint64_t size, GError **error)
{
    g_autoptr(vmctl_probe_backing) b = g_new0(struct vmctl_probe_backing, 1);
    const char *path;
    size_t k;

    b->fd = -1;
    b->spec = g_strdup(spec);
    b->size = size;
    b->page_size = 4096;
    if (!parse_spec(spec, &k, &path, error))
        return NULL;
    b->kind = kinds[k].kind;
    b->kind_name = kinds[k].name;
    if (size == 0 || size % 4096) {
        set_fail(error, b, VMCTL_ERROR_INVALID, "size %" G_GUINT64_FORMAT " is not a multiple of 4K", size);
        return NULL;
    }
    if (!open_kind(b, path, error))
        return NULL;
    return g_steal_pointer(&b);
}

bool vmctl_probe_backing_release(struct vmctl_probe_backing *b, GError **error)
{
    if (b->view)
        munmap(b->view, b->size);
    if (b->map_base)
        munmap(b->map_base, b->map_len);
    b->view = b->map_base = b->map = NULL;
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    if (b->unlink_path && b->path)
        unlink(b->path);
    b->unlink_path = false;
    if (!vmctl_huge_pool_give_back(HUGE_2M, &b->hugepages_added, error))
        return false;
    return true;
}

void vmctl_probe_backing_close(struct vmctl_probe_backing *b)
{
    if (!b)
        return;
    vmctl_probe_backing_release(b, NULL);
    g_free(b->spec);
    g_free(b->path);
    g_free(b->detail);
    g_free(b);
}

void vmctl_probe_backing_host_write(struct vmctl_probe_backing *b, uint64_t page, uint64_t value)
{
    volatile uint64_t *w = (volatile uint64_t *)((uint8_t *)b->map + page * 4096 + 8);
    *w ^= value;
}
