/* pmem_backend.c: memory-backing discovery. Tells what a path (or the specs
 * "memfd" and "anonymous") is as guest RAM, checks that a guest of a given
 * size fits it and builds the QEMU memory-backend object for it; lists the
 * DAX devices, pmem namespaces, hugetlbfs and tmpfs mounts of the host.
 *
 * Sources of truth: stat/statx/statfs of the path, a MAP_SYNC mapping probe
 * (the only proof of real fsdax), the mount table and sysfs. Only kernel
 * interfaces are read, so this works in a minimal guest (busybox, no /run). */
#include "config.h"

#include "pmem_backend.h"
#include "hugepages.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif

#define PAGE_SIZE_BASE 4096            /* bytes, x86_64 base page */
#define DEVDAX_DEFAULT_ALIGN (2 * MiB) /* bytes, device-dax default before the align attribute existed */

struct VmctlBackend {
    VmctlBackendKind kind;
    char *spec;
    char *path;       /* absolute, normalised; NULL for memfd/anonymous */
    bool exists;      /* the path exists */
    bool is_dir;      /* QEMU creates its file inside */
    bool is_blockdev; /* /dev/pmemX: page-cache mapping of the block device */
    bool stand_in;    /* a regular file standing in for /dev/daxX.Y (tests) */
    uint64_t file_size;  /* existing file or device size, bytes */
    uint64_t allocated;  /* bytes already allocated to an existing file */
    uint64_t align;      /* bytes */
    uint64_t size;       /* size checked, 0 when not checked */

    /* filesystem holding the path (or its directory) */
    char *fstype;
    uint64_t fs_magic;
    uint64_t fs_free, fs_total; /* bytes */
    char *mount_point, *mount_source, *mount_options, *super_options;
    unsigned mount_major, mount_minor;
    bool have_mount;

    /* DAX evidence */
    int statx_dax;       /* -1 unknown, 0 no, 1 yes */
    bool mount_dax;      /* mount options say dax / dax=always */
    int map_sync;        /* -1 not tried, 0 failed, 1 worked */
    char *map_sync_error;
    bool dax;            /* real DAX */
    char *pmem_reason;

    /* device-dax */
    char *dax_name, *dax_sysfs, *dax_dev, *dax_driver;
    uint64_t dax_size;
    int64_t numa_node, target_node;

    /* huge pages (hugetlbfs, memfd:hugetlb) */
    uint64_t huge_page_size;
    bool huge_pool_known;
    VmctlHugePool huge;               /* the pool of huge_page_size pages */
    bool huge_limited;                      /* hugetlbfs size= limit */
    uint64_t huge_limit_free;               /* pages free under the limit */
};

/* ---- small helpers -------------------------------------------------- */

static void set_str(char **dst, const char *src)
{
    g_free(*dst);
    *dst = g_strdup(src);
}

/* vmctl_format_size, with "bytes" where it gives no unit ("0 bytes"). */
static char *fmt_size(uint64_t v)
{
    char *s = vmctl_format_size(v);

    if (g_ascii_isdigit(s[strlen(s) - 1])) {
        char *t = g_strconcat(s, " bytes", NULL);
        g_free(s);
        return t;
    }
    return s;
}

static bool options_say_dax(const char *opts)
{
    g_autofree char *v = NULL;

    if (!vmctl_mount_option(opts, "dax", &v))
        return false;
    return *v == '\0' || strcmp(v, "always") == 0;
}

/* ---- paths and the rules for them ----------------------------------- */

/* Absolute path with "." and empty components removed; a ".." is refused
 * instead of resolved so that a path never climbs out of where it says. */
static char *normalise_path(const char *spec, GError **error)
{
    g_autofree char *cwd = g_path_is_absolute(spec) ? NULL : g_get_current_dir();
    g_autofree char *abs = cwd ? g_build_filename(cwd, spec, NULL) : g_strdup(spec);
    g_auto(GStrv) parts = g_strsplit(abs, "/", -1);
    GString *out = g_string_new(NULL);

    for (size_t i = 0; parts[i]; i++) {
        if (!*parts[i] || strcmp(parts[i], ".") == 0)
            continue;
        if (strcmp(parts[i], "..") == 0) {
            g_string_free(out, TRUE);
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "path '%s' has a '..' component, which is not allowed",
                        spec);
            return NULL;
        }
        g_string_append_c(out, '/');
        g_string_append(out, parts[i]);
    }
    if (out->len == 0)
        g_string_append_c(out, '/');
    return g_string_free(out, FALSE);
}

/* The path as the rules see it: under an overridden device root, the
 * device root stands for /dev. */
static char *logical_path(const char *path)
{
    const char *root = vmctl_dev_root();

    if (vmctl_dev_root_moved() && vmctl_path_has_prefix(path, root))
        return g_strconcat("/dev", path + strlen(root), NULL);
    return g_strdup(path);
}

static bool dev_name_allowed(const char *rest)
{
    return g_str_has_prefix(rest, "dax") || g_str_has_prefix(rest, "pmem") || strcmp(rest, "shm") == 0 ||
           g_str_has_prefix(rest, "shm/") || strcmp(rest, "hugepages") == 0 || g_str_has_prefix(rest, "hugepages/");
}

bool vmctl_backend_path_allowed(const char *shown, const char *path, GError **error)
{
    static const char *const refused[] = { "/proc", "/sys" };

    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        if (vmctl_path_has_prefix(path, refused[i])) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "path '%s' is not allowed: guest memory may not live under %s", shown, refused[i]);
            return false;
        }
    }
    if (vmctl_path_has_prefix(path, "/dev") && !dev_name_allowed(path + MIN(strlen(path), 5))) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "path '%s' is not allowed: under /dev only /dev/dax*, /dev/pmem*, /dev/shm and /dev/hugepages are",
                    shown);
        return false;
    }
    return true;
}

/* The rules hold for the path as written and for where its symlinks lead. */
static bool check_path_rules(const char *path, GError **error)
{
    g_autofree char *logical = logical_path(path);
    g_autofree char *real = realpath(path, NULL);
    g_autofree char *real_logical = NULL;

    if (!vmctl_backend_path_allowed(path, logical, error))
        return false;
    if (!real) {
        g_autofree char *dir = g_path_get_dirname(path);
        g_autofree char *base = g_path_get_basename(path);
        g_autofree char *rdir = realpath(dir, NULL);
        if (rdir)
            real = g_build_filename(rdir, base, NULL);
    }
    if (!real)
        return true;
    real_logical = logical_path(real);
    return vmctl_backend_path_allowed(path, real_logical, error);
}

/* ---- filesystem facts ----------------------------------------------- */

static const char *magic_name(uint64_t magic)
{
    static const struct {
        uint64_t magic;
        const char *name;
    } names[] = {
        { EXT4_SUPER_MAGIC, "ext4" },  { XFS_SUPER_MAGIC, "xfs" },       { BTRFS_SUPER_MAGIC, "btrfs" },
        { TMPFS_MAGIC, "tmpfs" },      { HUGETLBFS_MAGIC, "hugetlbfs" }, { RAMFS_MAGIC, "ramfs" },
        { OVERLAYFS_SUPER_MAGIC, "overlay" }, { NFS_SUPER_MAGIC, "nfs" }, { SQUASHFS_MAGIC, "squashfs" },
        { 0xE0F5E1E2, "erofs" },       { 0xF2F52010, "f2fs" },           { 0x65735546, "fuse" },
        { 0x2fc12fc1, "zfs" },         { V9FS_MAGIC, "9p" },             { 0x01021997, "9p" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (names[i].magic == magic)
            return names[i].name;
    return NULL;
}

static void take_mount(VmctlBackend *b, const char *fspath, dev_t dev)
{
    g_autoptr(GPtrArray) mounts = vmctl_mountinfo_read(NULL);
    g_autofree char *real = realpath(fspath, NULL);
    const VmctlMount *m;

    if (!mounts)
        return;
    m = vmctl_mountinfo_find(mounts, real ? real : fspath, dev);
    if (!m)
        return;
    b->have_mount = true;
    b->mount_point = g_strdup(m->mount_point);
    b->mount_source = g_strdup(m->source);
    b->mount_options = g_strdup(m->mount_options);
    b->super_options = g_strdup(m->super_options);
    b->mount_major = m->major;
    b->mount_minor = m->minor;
    b->mount_dax = options_say_dax(m->super_options) || options_say_dax(m->mount_options);
    if (!b->fstype || !magic_name(b->fs_magic))
        set_str(&b->fstype, m->fstype);
}

static bool probe_fs(VmctlBackend *b, const char *fspath, GError **error)
{
    struct statfs sfs;
    struct stat st;

    if (statfs(fspath, &sfs) < 0 || stat(fspath, &st) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot read the filesystem of '%s': %s", fspath,
                    g_strerror(errno));
        return false;
    }
    b->fs_magic = (uint64_t)(unsigned long)sfs.f_type;
    b->fs_free = (uint64_t)sfs.f_bavail * sfs.f_bsize;
    b->fs_total = (uint64_t)sfs.f_blocks * sfs.f_bsize;
    b->fstype = g_strdup(magic_name(b->fs_magic));
    take_mount(b, fspath, st.st_dev);
    if (!b->fstype)
        b->fstype = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", b->fs_magic);

    if (b->fs_magic == HUGETLBFS_MAGIC) {
        g_autofree char *ps = NULL;
        b->kind = VMCTL_BACKEND_HUGETLBFS;
        /* the mount's pagesize= option when shown, else statfs' block size */
        if (!(b->super_options && vmctl_mount_option(b->super_options, "pagesize", &ps) &&
              vmctl_parse_size(ps, false, &b->huge_page_size, NULL)))
            b->huge_page_size = sfs.f_bsize;
        if (sfs.f_blocks > 0) {
            b->huge_limited = true;
            b->huge_limit_free = sfs.f_bavail;
        }
    } else if (b->fs_magic == TMPFS_MAGIC || b->fs_magic == RAMFS_MAGIC) {
        b->kind = VMCTL_BACKEND_TMPFS;
    } else {
        b->kind = VMCTL_BACKEND_FILE;
    }
    return true;
}

static void probe_statx_dax(VmctlBackend *b, const char *path)
{
    struct statx stx;

    b->statx_dax = -1;
    if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx) == 0 && (stx.stx_attributes_mask & STATX_ATTR_DAX))
        b->statx_dax = (stx.stx_attributes & STATX_ATTR_DAX) ? 1 : 0;
}

/* MAP_SHARED_VALIDATE|MAP_SYNC is refused (EOPNOTSUPP) unless the file is
 * really mapped by DAX: the one test that a "dax" mount option cannot fake.
 * An existing file is mapped as it is (nothing is written); for a new file
 * an unnamed temporary file in the directory is used. */
static void probe_map_sync(VmctlBackend *b, const char *path, bool existing_file)
{
    int fd;
    void *p;

    if (existing_file) {
        fd = open(path, O_RDWR | O_CLOEXEC);
    } else {
        fd = open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 && ftruncate(fd, PAGE_SIZE_BASE) < 0) {
            int e = errno;
            close(fd);
            fd = -1;
            errno = e;
        }
    }
    if (fd < 0) {
        b->map_sync = 0;
        b->map_sync_error = g_strdup_printf("%s of a probe file failed: %s", existing_file ? "open" : "O_TMPFILE",
                                            g_strerror(errno));
        return;
    }
    p = mmap(NULL, PAGE_SIZE_BASE, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
    if (p == MAP_FAILED) {
        b->map_sync = 0;
        b->map_sync_error = g_strdup_printf("mmap MAP_SYNC: %s", g_strerror(errno));
    } else {
        b->map_sync = 1;
        munmap(p, PAGE_SIZE_BASE);
    }
    close(fd);
}

/* After probe_fs: a page-cache filesystem may still be fsdax. */
static void classify_dax_fs(VmctlBackend *b, const char *path, bool existing_file, bool can_write)
{
    if (b->kind != VMCTL_BACKEND_FILE)
        return;
    probe_statx_dax(b, path);
    if (can_write)
        probe_map_sync(b, path, existing_file);
    if (b->map_sync == 1 || b->mount_dax || b->statx_dax == 1)
        b->kind = VMCTL_BACKEND_FSDAX;
    b->dax = b->map_sync == 1;
}

/* ---- huge page pools ------------------------------------------------ */

/* Huge pages a new mapping can still get: free minus those reserved by
 * mappings that have not faulted them yet, capped by a size= limit. */
static uint64_t huge_available_pages(const VmctlBackend *b)
{
    uint64_t avail = vmctl_huge_pool_available(&b->huge);

    if (b->huge_limited && b->huge_limit_free < avail)
        avail = b->huge_limit_free;
    return avail;
}

/* ---- device-dax ----------------------------------------------------- */

/* The sysfs directory of a DAX character device: /sys/dev/char/M:m leads to
 * the device whatever its name; a stand-in file is found by name on the dax
 * bus (or the older dax class). */
static char *devdax_sysfs_dir(VmctlBackend *b, const struct stat *st, GError **error)
{
    if (S_ISCHR(st->st_mode)) {
        g_autofree char *link = vmctl_sysfs_path("dev/char/%u:%u", major(st->st_rdev), minor(st->st_rdev));
        g_autofree char *dir = realpath(link, NULL);
        g_autofree char *subsys = NULL;

        if (!dir) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "character device '%s' (%u:%u) is not known to sysfs at '%s'", b->path, major(st->st_rdev),
                        minor(st->st_rdev), link);
            return NULL;
        }
        subsys = vmctl_sysfs_link_name(dir, "subsystem");
        if (!subsys || strcmp(subsys, "dax") != 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "character device '%s' belongs to subsystem '%s', not to 'dax'", b->path,
                        subsys ? subsys : "unknown");
            return NULL;
        }
        b->dax_dev = g_strdup_printf("%u:%u", major(st->st_rdev), minor(st->st_rdev));
        return g_steal_pointer(&dir);
    } else {
        g_autofree char *name = g_path_get_basename(b->path);
        g_autofree char *bus = vmctl_sysfs_path("bus/dax/devices/%s", name);
        g_autofree char *cls = vmctl_sysfs_path("class/dax/%s", name);

        if (g_file_test(bus, G_FILE_TEST_IS_DIR))
            return g_steal_pointer(&bus);
        if (g_file_test(cls, G_FILE_TEST_IS_DIR))
            return g_steal_pointer(&cls);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "DAX device '%s' is not in sysfs at '%s'", b->path, bus);
        return NULL;
    }
}

static bool probe_devdax(VmctlBackend *b, const struct stat *st, GError **error)
{
    g_autofree char *dir = devdax_sysfs_dir(b, st, error);

    if (!dir)
        return false;
    b->kind = VMCTL_BACKEND_DEVDAX;
    b->dax_sysfs = g_strdup(dir);
    b->dax_name = g_path_get_basename(dir);
    if (!vmctl_sysfs_u64(dir, "size", &b->dax_size)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "DAX device '%s' has no readable size in '%s'", b->path,
                    dir);
        return false;
    }
    /* per-device align (5.10+), else the region's, else the old fixed 2M */
    if (!vmctl_sysfs_u64(dir, "align", &b->align) || b->align == 0) {
        g_autofree char *region = g_build_filename(dir, "..", "dax_region", NULL);
        if (!vmctl_sysfs_u64(region, "align", &b->align) || b->align == 0)
            b->align = DEVDAX_DEFAULT_ALIGN;
    }
    b->numa_node = vmctl_sysfs_i64(dir, "numa_node", -1);
    b->target_node = vmctl_sysfs_i64(dir, "target_node", -1);
    if (!b->dax_dev)
        b->dax_dev = vmctl_sysfs_str(dir, "dev");
    b->dax_driver = vmctl_sysfs_link_name(dir, "driver");
    b->file_size = b->dax_size;
    b->dax = true;
    return true;
}

/* ---- the probe ------------------------------------------------------ */

void vmctl_backend_free(VmctlBackend *b)
{
    if (!b)
        return;
    g_free(b->spec);
    g_free(b->path);
    g_free(b->fstype);
    g_free(b->mount_point);
    g_free(b->mount_source);
    g_free(b->mount_options);
    g_free(b->super_options);
    g_free(b->map_sync_error);
    g_free(b->pmem_reason);
    g_free(b->dax_name);
    g_free(b->dax_sysfs);
    g_free(b->dax_dev);
    g_free(b->dax_driver);
    g_free(b);
}

static bool probe_memfd(VmctlBackend *b, const char *opts, GError **error)
{
    unsigned flags = MFD_CLOEXEC;
    int fd;

    b->kind = VMCTL_BACKEND_MEMFD;
    b->align = PAGE_SIZE_BASE;
    if (opts) {
        g_autofree char *ps = NULL;
        if (g_str_has_prefix(opts, "hugetlb=")) {
            ps = g_strdup(opts + 8);
        } else if (strcmp(opts, "hugetlb") == 0) {
            ps = vmctl_huge_default_size_str();
        } else {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "backing 'memfd:%s' is not one of 'memfd', 'memfd:hugetlb', 'memfd:hugetlb=SIZE'", opts);
            return false;
        }
        if (!ps || !vmctl_parse_size(ps, false, &b->huge_page_size, error))
            return false;
        if (!vmctl_huge_pool_read(b->huge_page_size, &b->huge)) {
            g_autofree char *s = fmt_size(b->huge_page_size);
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                        "huge page size '%s' of 'memfd:%s' is not offered by this host", s, opts);
            return false;
        }
        b->huge_pool_known = true;
        b->align = b->huge_page_size;
        flags |= MFD_HUGETLB | ((unsigned)g_bit_nth_msf(b->huge_page_size, -1) << MFD_HUGE_SHIFT);
    }
    fd = memfd_create("vmctl-probe", flags);
    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "memfd_create for '%s' failed: %s", b->spec,
                    g_strerror(errno));
        return false;
    }
    close(fd);
    return true;
}

static bool probe_dir(VmctlBackend *b, GError **error)
{
    if (access(b->path, W_OK | X_OK) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "directory '%s' is not writable: %s", b->path,
                    g_strerror(errno));
        return false;
    }
    if (!probe_fs(b, b->path, error))
        return false;
    classify_dax_fs(b, b->path, false, true);
    if (b->kind == VMCTL_BACKEND_FILE) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "directory '%s' is on %s, not on hugetlbfs, tmpfs or a DAX mount: name a file in it instead",
                    b->path, b->fstype);
        return false;
    }
    return true;
}

static bool probe_new_file(VmctlBackend *b, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(b->path);
    struct stat st;

    if (stat(dir, &st) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "directory '%s' of '%s' does not exist", dir, b->path);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "'%s' of '%s' is not a directory", dir, b->path);
        return false;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "directory '%s' of '%s' is not writable: %s", dir,
                    b->path, g_strerror(errno));
        return false;
    }
    if (!probe_fs(b, dir, error))
        return false;
    classify_dax_fs(b, dir, false, true);
    return true;
}

static bool probe_existing(VmctlBackend *b, const struct stat *st, GError **error)
{
    g_autofree char *logical = logical_path(b->path);
    bool is_dax_name = g_str_has_prefix(logical, "/dev/dax");

    b->exists = true;
    if (S_ISCHR(st->st_mode) || (S_ISREG(st->st_mode) && is_dax_name && vmctl_dev_root_moved())) {
        b->stand_in = !S_ISCHR(st->st_mode);
        if (!probe_devdax(b, st, error))
            return false;
    } else if (S_ISDIR(st->st_mode)) {
        b->is_dir = true;
        return probe_dir(b, error);
    } else if (S_ISBLK(st->st_mode)) {
        int fd = open(b->path, O_RDONLY | O_CLOEXEC);
        uint64_t bytes = 0;

        if (fd < 0 || ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot read the size of block device '%s': %s",
                        b->path, g_strerror(errno));
            if (fd >= 0)
                close(fd);
            return false;
        }
        close(fd);
        b->is_blockdev = true;
        b->kind = VMCTL_BACKEND_FILE;
        b->file_size = bytes;
        b->fstype = g_strdup("block device");
    } else if (S_ISREG(st->st_mode)) {
        b->file_size = st->st_size;
        b->allocated = MIN((uint64_t)st->st_blocks * 512, (uint64_t)st->st_size);
        if (!probe_fs(b, b->path, error))
            return false;
    } else {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "'%s' is not a regular file, directory or device",
                    b->path);
        return false;
    }
    if (access(b->path, W_OK) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "'%s' is not writable: %s", b->path, g_strerror(errno));
        return false;
    }
    if (S_ISREG(st->st_mode) && !b->stand_in)
        classify_dax_fs(b, b->path, true, true);
    return true;
}

/* The size rules, in the order a user fixes them. */
static bool check_size(VmctlBackend *b, uint64_t size, GError **error)
{
    g_autofree char *s = vmctl_format_size(size);
    const char *what = b->path ? b->path : b->spec;
    uint64_t need = size;

    b->size = size;
    if (size % b->align) {
        g_autofree char *a = fmt_size(b->align);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "size '%s' is not a multiple of the %s alignment of '%s'",
                    s, a, what);
        return false;
    }
    if (b->kind == VMCTL_BACKEND_DEVDAX || b->is_blockdev) {
        if (size > b->file_size) {
            g_autofree char *d = fmt_size(b->file_size);
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "size '%s' is larger than the %s of device '%s'", s,
                        d, what);
            return false;
        }
        return true;
    }
    if (b->exists && !b->is_dir && b->path) {
        if (b->file_size != size) {
            g_autofree char *f = fmt_size(b->file_size);
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "existing file '%s' has size '%s', not the size '%s'",
                        what, f, s);
            return false;
        }
        need = size - b->allocated;
    }
    if (b->kind == VMCTL_BACKEND_HUGETLBFS || (b->kind == VMCTL_BACKEND_MEMFD && b->huge_page_size)) {
        uint64_t avail = huge_available_pages(b) * b->huge_page_size;
        if (need > avail) {
            g_autofree char *a = fmt_size(avail);
            g_autofree char *p = fmt_size(b->huge_page_size);
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "size '%s' is larger than the %s available in free %s huge pages for '%s'", s, a, p, what);
            return false;
        }
        return true;
    }
    if (b->path && need > b->fs_free) {
        g_autofree char *f = fmt_size(b->fs_free);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "size '%s' is larger than the %s free on the %s filesystem of '%s'", s, f, b->fstype, what);
        return false;
    }
    return true;
}

static void set_pmem_reason(VmctlBackend *b)
{
    const char *what = b->path ? b->path : b->spec;
    char *r;

    switch (b->kind) {
    case VMCTL_BACKEND_DEVDAX:
        r = g_strdup_printf("'%s' is device-dax: guest stores go straight to the device", what);
        break;
    case VMCTL_BACKEND_FSDAX:
        if (b->dax)
            r = g_strdup_printf("'%s' is on a DAX mount and a MAP_SYNC mapping of it works", what);
        else
            r = g_strdup_printf("'%s' is on a mount that claims DAX but a MAP_SYNC mapping failed (%s): not DAX", what,
                                b->map_sync_error ? b->map_sync_error : "not tried: no write access");
        break;
    case VMCTL_BACKEND_ANONYMOUS:
    case VMCTL_BACKEND_MEMFD:
        r = g_strdup_printf("'%s' is volatile RAM, not DAX", what);
        break;
    default:
        if (b->is_blockdev)
            r = g_strdup_printf("'%s' is a block device mapped through the page cache, not DAX: use devdax or an "
                                "fsdax mount", what);
        else
            r = g_strdup_printf("'%s' is on %s, page-cache memory, not DAX", what, b->fstype);
        break;
    }
    b->pmem_reason = r;
}

VmctlBackend *vmctl_backend_probe(const char *spec, uint64_t size, GError **error)
{
    g_autoptr(VmctlBackend) b = g_new0(VmctlBackend, 1);
    struct stat st;

    b->statx_dax = -1;
    b->map_sync = -1;
    b->numa_node = b->target_node = -1;
    if (!spec || !*spec) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "backing '' is empty: give a path, 'memfd' or 'anonymous'");
        return NULL;
    }
    b->spec = g_strdup(spec);
    if (strcmp(spec, "anonymous") == 0) {
        b->kind = VMCTL_BACKEND_ANONYMOUS;
        b->align = PAGE_SIZE_BASE;
    } else if (strcmp(spec, "memfd") == 0 || g_str_has_prefix(spec, "memfd:")) {
        if (!probe_memfd(b, spec[5] ? spec + 6 : NULL, error))
            return NULL;
    } else {
        b->path = normalise_path(spec, error);
        if (!b->path || !check_path_rules(b->path, error))
            return NULL;
        if (stat(b->path, &st) == 0) {
            if (!probe_existing(b, &st, error))
                return NULL;
        } else if (errno != ENOENT && errno != ENOTDIR) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot stat '%s': %s", b->path, g_strerror(errno));
            return NULL;
        } else {
            g_autofree char *logical = logical_path(b->path);
            if (g_str_has_prefix(logical, "/dev/dax") || g_str_has_prefix(logical, "/dev/pmem")) {
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "device '%s' does not exist", b->path);
                return NULL;
            }
            if (!probe_new_file(b, error))
                return NULL;
        }
        if (b->kind == VMCTL_BACKEND_HUGETLBFS) {
            b->align = b->huge_page_size;
            b->huge_pool_known = vmctl_huge_pool_read(b->huge_page_size, &b->huge);
        } else if (b->kind != VMCTL_BACKEND_DEVDAX) {
            b->align = PAGE_SIZE_BASE;
        }
    }
    if (size && !check_size(b, size, error))
        return NULL;
    set_pmem_reason(b);
    return g_steal_pointer(&b);
}

/* ---- accessors and JSON --------------------------------------------- */

VmctlBackendKind vmctl_backend_kind(const VmctlBackend *b)
{
    return b->kind;
}

const char *vmctl_backend_kind_name(VmctlBackendKind k)
{
    static const char *const names[] = {
        [VMCTL_BACKEND_ANONYMOUS] = "anonymous", [VMCTL_BACKEND_MEMFD] = "memfd",
        [VMCTL_BACKEND_FILE] = "file",           [VMCTL_BACKEND_TMPFS] = "tmpfs",
        [VMCTL_BACKEND_HUGETLBFS] = "hugetlbfs", [VMCTL_BACKEND_FSDAX] = "fsdax",
        [VMCTL_BACKEND_DEVDAX] = "devdax",
    };
    return (unsigned)k < G_N_ELEMENTS(names) ? names[k] : "unknown";
}

const char *vmctl_backend_path(const VmctlBackend *b)
{
    return b->path;
}

bool vmctl_backend_is_dax(const VmctlBackend *b)
{
    return b->dax;
}

const char *vmctl_backend_pmem_reason(const VmctlBackend *b)
{
    return b->pmem_reason;
}

uint64_t vmctl_backend_align(const VmctlBackend *b)
{
    return b->align;
}

uint64_t vmctl_backend_natural_size(const VmctlBackend *b)
{
    return (b->exists && !b->is_dir) ? b->file_size : 0;
}

static json_object *tristate(int v)
{
    return v < 0 ? NULL : json_object_new_boolean(v);
}

json_object *vmctl_backend_to_json(const VmctlBackend *b)
{
    json_object *o = json_object_new_object();
    json_object *pm = json_object_new_object();

    vmctl_json_add_str(o, "spec", b->spec);
    vmctl_json_add_str(o, "path", b->path);
    vmctl_json_add_str(o, "kind", vmctl_backend_kind_name(b->kind));
    vmctl_json_add_u64(o, "align", b->align);
    if (b->size)
        vmctl_json_add_u64(o, "size", b->size);
    else
        json_object_object_add(o, "size", NULL);
    if (b->path) {
        vmctl_json_add_bool(o, "exists", b->exists);
        vmctl_json_add_str(o, "type", !b->exists              ? "new-file"
                                      : b->is_dir             ? "directory"
                                      : b->is_blockdev        ? "block-device"
                                      : b->kind == VMCTL_BACKEND_DEVDAX ? "char-device"
                                                              : "file");
        if (b->exists && !b->is_dir) {
            vmctl_json_add_u64(o, "file_size", b->file_size);
        }
        if (b->stand_in)
            vmctl_json_add_bool(o, "stand_in", true);
    }
    if (b->fstype && !b->is_blockdev) {
        json_object *fs = json_object_new_object();
        vmctl_json_add_str(fs, "type", b->fstype);
        vmctl_json_add_u64(fs, "magic", b->fs_magic);
        vmctl_json_add_u64(fs, "free", b->fs_free);
        vmctl_json_add_u64(fs, "total", b->fs_total);
        if (b->have_mount) {
            g_autofree char *dev = g_strdup_printf("%u:%u", b->mount_major, b->mount_minor);
            vmctl_json_add_str(fs, "mount_point", b->mount_point);
            vmctl_json_add_str(fs, "source", b->mount_source);
            vmctl_json_add_str(fs, "dev", dev);
            vmctl_json_add_str(fs, "mount_options", b->mount_options);
            vmctl_json_add_str(fs, "super_options", b->super_options);
        }
        json_object_object_add(o, "filesystem", fs);
    }
    if (b->kind == VMCTL_BACKEND_FILE || b->kind == VMCTL_BACKEND_FSDAX) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "statx_dax", tristate(b->statx_dax));
        vmctl_json_add_bool(d, "mount_dax", b->mount_dax);
        json_object_object_add(d, "map_sync", tristate(b->map_sync));
        vmctl_json_add_str(d, "map_sync_error", b->map_sync_error);
        json_object_object_add(o, "dax_evidence", d);
    }
    if (b->kind == VMCTL_BACKEND_DEVDAX) {
        json_object *d = json_object_new_object();
        vmctl_json_add_str(d, "name", b->dax_name);
        vmctl_json_add_u64(d, "size", b->dax_size);
        vmctl_json_add_u64(d, "align", b->align);
        vmctl_json_add_i64(d, "numa_node", b->numa_node);
        vmctl_json_add_i64(d, "target_node", b->target_node);
        vmctl_json_add_str(d, "dev", b->dax_dev);
        vmctl_json_add_str(d, "driver", b->dax_driver);
        json_object_object_add(o, "devdax", d);
    }
    if (b->huge_page_size) {
        json_object *h = json_object_new_object();
        vmctl_json_add_u64(h, "page_size", b->huge_page_size);
        if (b->huge_pool_known) {
            vmctl_json_add_u64(h, "nr_hugepages", b->huge.nr);
            vmctl_json_add_u64(h, "free_hugepages", b->huge.free);
            vmctl_json_add_u64(h, "resv_hugepages", b->huge.resv);
        }
        if (b->huge_limited)
            vmctl_json_add_u64(h, "mount_limit_free_pages", b->huge_limit_free);
        vmctl_json_add_u64(h, "available", huge_available_pages(b) * b->huge_page_size);
        json_object_object_add(o, "hugepages", h);
    }
    vmctl_json_add_bool(pm, "recommended", b->dax);
    vmctl_json_add_str(pm, "reason", b->pmem_reason);
    json_object_object_add(o, "pmem", pm);
    return o;
}

json_object *vmctl_backend_qemu_object(const VmctlBackend *b, const char *id, uint64_t size, bool share)
{
    json_object *o = json_object_new_object();
    bool is_dax_kind = b->kind == VMCTL_BACKEND_DEVDAX || b->kind == VMCTL_BACKEND_FSDAX;

    if (!size)
        size = vmctl_backend_natural_size(b);
    switch (b->kind) {
    case VMCTL_BACKEND_ANONYMOUS:
        vmctl_json_add_str(o, "qom-type", "memory-backend-ram");
        vmctl_json_add_str(o, "id", id);
        if (size)
            vmctl_json_add_u64(o, "size", size);
        vmctl_json_add_bool(o, "share", share);
        return o;
    case VMCTL_BACKEND_MEMFD:
        vmctl_json_add_str(o, "qom-type", "memory-backend-memfd");
        vmctl_json_add_str(o, "id", id);
        if (size)
            vmctl_json_add_u64(o, "size", size);
        vmctl_json_add_bool(o, "share", share);
        if (b->huge_page_size) {
            vmctl_json_add_bool(o, "hugetlb", true);
            vmctl_json_add_u64(o, "hugetlbsize", b->huge_page_size);
            /* the pool is checked now; take the pages at start, not at a fault */
            vmctl_json_add_bool(o, "prealloc", true);
        }
        return o;
    default:
        break;
    }
    vmctl_json_add_str(o, "qom-type", "memory-backend-file");
    vmctl_json_add_str(o, "id", id);
    vmctl_json_add_str(o, "mem-path", b->path);
    if (size)
        vmctl_json_add_u64(o, "size", size);
    vmctl_json_add_bool(o, "share", share || is_dax_kind);
    if (b->kind == VMCTL_BACKEND_DEVDAX || b->kind == VMCTL_BACKEND_HUGETLBFS)
        vmctl_json_add_u64(o, "align", b->align);
    vmctl_json_add_bool(o, "pmem", b->dax);
    /* hugetlbfs: a guest must not meet an empty pool at a later fault */
    vmctl_json_add_bool(o, "prealloc", b->kind == VMCTL_BACKEND_HUGETLBFS);
    /* volatile filesystems: drop the pages at exit; never on persistent media */
    vmctl_json_add_bool(o, "discard-data", b->kind == VMCTL_BACKEND_TMPFS || b->kind == VMCTL_BACKEND_HUGETLBFS);
    return o;
}

