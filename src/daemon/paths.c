/* paths.c: the allow-list of host paths that a request may name.
 *
 * A client of vmctld names files that QEMU (root) will map and write: the
 * guest's RAM backing and its NVDIMM / virtio-pmem backings. The daemon
 * accepts only paths under the directories of its allow-list, judged by
 * where the path really leads: symlinks are resolved (the part that
 * exists: a backing file yet to be made is judged by its directory) and
 * ".." is refused before anything is resolved. */
#include "config.h"

#include "daemon/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* An entry or path with its symlinks resolved as far as it exists: the
 * deepest existing ancestor is resolved and the rest appended. A dangling
 * symlink is followed to where it points (a file made through it lands
 * there). */
static char *resolve(const char *path)
{
    g_autofree char *head = g_canonicalize_filename(path, NULL);
    g_autoptr(GString) tail = g_string_new(NULL);
    unsigned links = 0;

    for (;;) {
        g_autofree char *real = realpath(head, NULL);
        g_autofree char *target = NULL;
        char *slash;

        if (real)
            return g_strconcat(strcmp(real, "/") == 0 && tail->len ? "" : real, tail->str, NULL);
        target = links < 40 ? g_file_read_link(head, NULL) : NULL;
        if (target) { /* dangling: go on from its target */
            g_autofree char *dir = g_path_get_dirname(head);
            links++;
            g_free(head);
            head = g_canonicalize_filename(target, dir);
            continue;
        }
        slash = strrchr(head, '/');
        if (!slash || slash == head)
            return g_strconcat(head, tail->str, NULL);
        g_string_prepend(tail, slash);
        *slash = '\0';
    }
}

GStrv vmctld_paths_allowed_new(const char *list)
{
    g_autofree char *all = NULL;
    g_auto(GStrv) parts = NULL;
    g_autoptr(GPtrArray) out = g_ptr_array_new();

    if (list && *list)
        all = g_strdup(list);
    else
        all = g_strdup_printf("%s;%s", VMCTLD_DEFAULT_ALLOWED_PATHS, g_get_tmp_dir());
    parts = g_strsplit(all, ";", -1);
    for (size_t i = 0; parts[i]; i++) {
        char *e = g_strstrip(parts[i]);
        size_t n = strlen(e);

        if (n == 0)
            continue;
        if (e[n - 1] == '*') { /* a name prefix: resolve its directory */
            g_autofree char *dir = g_path_get_dirname(e);
            g_autofree char *base = g_path_get_basename(e);
            g_autofree char *rdir = resolve(dir);
            g_ptr_array_add(out, g_build_filename(rdir, base, NULL));
        } else {
            g_ptr_array_add(out, resolve(e));
        }
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

static bool has_dotdot(const char *path, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);

    for (size_t i = 0; parts[i]; i++) {
        if (strcmp(parts[i], "..") == 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "path '%s' has a '..' component, which is not allowed",
                        path);
            return true;
        }
    }
    return false;
}

static bool under(const char *path, const char *entry)
{
    size_t n = strlen(entry);

    if (n && entry[n - 1] == '*')
        return strncmp(path, entry, n - 1) == 0;
    if (strcmp(entry, "/") == 0)
        return true;
    return strncmp(path, entry, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool vmctld_path_check(const char *const *allowed, const char *path, GError **error)
{
    g_autofree char *real = NULL;
    g_autofree char *list = NULL;

    if (has_dotdot(path, error))
        return false;
    real = resolve(path);
    for (size_t i = 0; allowed && allowed[i]; i++) {
        if (!under(real, allowed[i]))
            continue;
        /* QEMU 7.2 loops forever opening a backing that is a dangling symlink
         * (open fails ENOENT, O_CREAT|O_EXCL fails EEXIST, again) */
        {
            g_autofree char *target = g_file_read_link(path, NULL);
            if (target && !g_file_test(path, G_FILE_TEST_EXISTS)) {
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                            "path '%s' is a symlink to '%s', which does not exist", path, target);
                return false;
            }
        }
        return true;
    }
    list = allowed ? g_strjoinv(";", (char **)allowed) : g_strdup("");
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "path '%s' is outside the allowed paths (%s)", path, list);
    return false;
}

/* The first fd QEMU finds a passed backing at: above its stdio and what
 * it opens early. */
#define PASS_FD_FIRST 10

/* The allowed entry `path` (absolute, no "..") lies in: the directory to
 * walk from, the rest of the path, and how strictly to walk it. */
static bool entry_of(const char *const *allowed, const char *path, char **dir, char **rel, uint64_t *resolve_flags)
{
    for (size_t i = 0; allowed && allowed[i]; i++) {
        const char *e = allowed[i];
        size_t n = strlen(e);

        if (n && e[n - 1] == '*') {
            g_autofree char *edir = g_path_get_dirname(e);
            g_autofree char *pdir = g_path_get_dirname(path);
            g_autofree char *base = g_path_get_basename(path);
            g_autofree char *pre = g_path_get_basename(e);

            pre[strlen(pre) - 1] = '\0';
            if (strcmp(edir, pdir) != 0 || !g_str_has_prefix(base, pre))
                continue;
            /* the name itself is what the entry allows: no symlink on the way */
            *dir = g_steal_pointer(&edir);
            *rel = g_steal_pointer(&base);
            *resolve_flags = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
            return true;
        }
        if (!under(path, e))
            continue;
        *dir = g_strdup(e);
        *rel = strcmp(e, "/") == 0 ? g_strdup(path + 1) : g_strdup(path[n] ? path + n + 1 : ".");
        if (!**rel)
            g_free(*rel), *rel = g_strdup(".");
        *resolve_flags = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        return true;
    }
    return false;
}

static int openat2_beneath(int dirfd, const char *rel, uint64_t oflags, uint64_t mode, uint64_t resolve_flags)
{
    struct open_how how = { .flags = oflags, .mode = mode, .resolve = resolve_flags };
    long fd;

    do
        fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return (int)fd;
}

/* Where openat2 is missing (a kernel before 5.6, or valgrind): the open
 * follows the path as open(2) does, then the descriptor's own path is
 * checked to lie beneath `dir` (it cannot change after the open). A file
 * the open made outside is removed again. A name-prefix entry's file is
 * opened O_NOFOLLOW from its directory. */
static int open_checked_after(int dirfd, const char *dir, const char *rel, int oflags, mode_t mode,
                              uint64_t resolve_flags)
{
    g_autofree char *full = g_build_filename(dir, rel, NULL);
    g_autofree char *link = NULL, *real = NULL;
    int fd;

    if (resolve_flags & RESOLVE_NO_SYMLINKS)
        return openat(dirfd, rel, oflags | O_NOFOLLOW, mode);
    fd = open(full, (oflags & O_CREAT) ? oflags | O_NOFOLLOW : oflags, mode);
    if (fd < 0)
        return -1;
    link = g_strdup_printf("/proc/self/fd/%d", fd);
    real = g_file_read_link(link, NULL);
    if (real && under(real, dir))
        return fd;
    if (real && (oflags & O_CREAT))
        unlink(real);
    close(fd);
    errno = EXDEV;
    return -1;
}

static int open_at(int dirfd, const char *dir, const char *rel, int oflags, mode_t mode, uint64_t resolve_flags)
{
    /* VMCTL_PATHS_FAULT=no-openat2 (a test control): as on a kernel without it */
    int fd = g_strcmp0(g_getenv("VMCTL_PATHS_FAULT"), "no-openat2") == 0
                 ? (errno = ENOSYS, -1)
                 : openat2_beneath(dirfd, rel, (uint64_t)oflags, mode, resolve_flags);

    if (fd < 0 && errno == ENOSYS)
        fd = open_checked_after(dirfd, dir, rel, oflags, mode, resolve_flags);
    return fd;
}

/* Open `path` with `oflags` beneath its allowed entry (see paths.h). */
static int open_beneath(const char *const *allowed, const char *path, int oflags, bool create, bool *created,
                        GError **error)
{
    g_autofree char *canon = NULL, *real = NULL, *dir = NULL, *rel = NULL, *list = NULL;
    uint64_t rflags = 0;
    int dirfd, fd, e;

    if (created)
        *created = false;
    if (has_dotdot(path, error))
        return -1;
    canon = g_canonicalize_filename(path, NULL);
    /* the entries are stored resolved: a path named through an alias of
     * one (a symlinked directory above it) is matched once resolved; the
     * walk below is what holds either way */
    if (!entry_of(allowed, canon, &dir, &rel, &rflags)) {
        real = resolve(path);
        if (!entry_of(allowed, real, &dir, &rel, &rflags)) {
            list = allowed ? g_strjoinv(";", (char **)allowed) : g_strdup("");
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "path '%s' is outside the allowed paths (%s)", path,
                        list);
            return -1;
        }
    }
    dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot open allowed directory '%s' of path '%s': %s", dir,
                    path, g_strerror(errno));
        return -1;
    }
    /* openat2 takes nothing but O_DIRECTORY and O_CLOEXEC beside O_PATH */
    fd = open_at(dirfd, dir, rel, oflags | O_CLOEXEC | (oflags & O_PATH ? 0 : O_NOCTTY), 0, rflags);
    if (fd < 0 && errno == EISDIR && (oflags & O_ACCMODE) != O_RDONLY)
        fd = open_at(dirfd, dir, rel, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, rflags);
    if (fd < 0 && errno == ENOENT && create) {
        fd = open_at(dirfd, dir, rel, oflags | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600, rflags);
        if (fd >= 0 && created)
            *created = true;
    }
    e = errno;
    close(dirfd);
    if (fd >= 0)
        return fd;
    list = allowed ? g_strjoinv(";", (char **)allowed) : g_strdup("");
    if (e == EXDEV || e == ELOOP)
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "path '%s' leads outside the allowed paths (%s)", path,
                    list);
    else
        g_set_error(error, VMCTL_ERROR, e == ENOENT ? VMCTL_ERROR_NOT_FOUND : VMCTL_ERROR_FAILED,
                    "cannot open '%s': %s", path, g_strerror(e));
    return -1;
}

int vmctld_path_open(const char *const *allowed, const char *path, bool create, bool *created, GError **error)
{
    return open_beneath(allowed, path, O_RDWR, create, created, error);
}

bool vmctld_path_unlink(const char *const *allowed, const char *path, GError **error)
{
    g_autofree char *parent = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    int dirfd;

    if (has_dotdot(path, error))
        return false;
    dirfd = open_beneath(allowed, parent, O_PATH | O_DIRECTORY, false, NULL, error);
    if (dirfd < 0) {
        /* the prefix entries (/dev/dax*) name files, not their directory */
        g_autoptr(GError) local = NULL;
        int fd = open_beneath(allowed, path, O_PATH, false, NULL, &local);

        if (fd < 0)
            return false;
        close(fd);
        g_clear_error(error);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "'%s' is not removed: its directory is not in the "
                    "allowed paths", path);
        return false;
    }
    if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot remove '%s': %s", path, g_strerror(errno));
        close(dirfd);
        return false;
    }
    close(dirfd);
    return true;
}

void vmctld_pass_fds_init(VmctldPassFds *p)
{
    p->fds = g_array_new(FALSE, FALSE, sizeof(int));
    p->targets = g_array_new(FALSE, FALSE, sizeof(int));
    p->created = g_ptr_array_new_with_free_func(g_free);
}

void vmctld_pass_fds_clear(VmctldPassFds *p, const char *const *allowed)
{
    for (guint i = 0; p->fds && i < p->fds->len; i++)
        close(g_array_index(p->fds, int, i));
    for (guint i = 0; allowed && p->created && i < p->created->len; i++) {
        g_autoptr(GError) err = NULL;
        if (!vmctld_path_unlink(allowed, p->created->pdata[i], &err))
            g_warning("%s", err->message);
    }
    g_clear_pointer(&p->fds, g_array_unref);
    g_clear_pointer(&p->targets, g_array_unref);
    g_clear_pointer(&p->created, g_ptr_array_unref);
}

bool vmctld_pass_backing(VmctldPassFds *p, const char *const *allowed, json_object *obj, GError **error)
{
    json_object *mp = json_object_object_get(obj, "mem-path");
    const char *path = mp ? json_object_get_string(mp) : NULL;
    g_autofree char *fdpath = NULL;
    struct stat by_fd, by_name;
    bool created = false;
    int fd, target;

    if (!path)
        return true;
    fd = vmctld_path_open(allowed, path, true, &created, error);
    if (fd < 0)
        return false;
    if (created)
        g_ptr_array_add(p->created, g_strdup(path));
    /* the object was made from what the name named then: still the same */
    if (fstat(fd, &by_fd) < 0 || stat(path, &by_name) < 0 || by_fd.st_dev != by_name.st_dev ||
        by_fd.st_ino != by_name.st_ino) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "path '%s' changed while it was checked: refused", path);
        close(fd);
        return false;
    }
    target = PASS_FD_FIRST + (int)p->fds->len;
    g_array_append_val(p->fds, fd);
    g_array_append_val(p->targets, target);
    fdpath = g_strdup_printf("/proc/self/fd/%d", target);
    json_object_object_add(obj, "mem-path", json_object_new_string(fdpath));
    return true;
}

bool vmctld_spec_paths_check(const char *const *allowed, const VmctlGuestSpec *spec, GError **error)
{
    GArray *devs[] = { spec->nvdimm, spec->virtio_pmem };

    if (spec->backend && strcmp(spec->backend, "anonymous") != 0 && strcmp(spec->backend, "memfd") != 0 &&
        !g_str_has_prefix(spec->backend, "memfd:") && !vmctld_path_check(allowed, spec->backend, error))
        return false;
    for (size_t k = 0; k < G_N_ELEMENTS(devs); k++)
        for (guint i = 0; i < devs[k]->len; i++)
            if (!vmctld_path_check(allowed, g_array_index(devs[k], VmctlGuestDevice, i).path, error))
                return false;
    return true;
}

/* ---- backings a guest owns ---------------------------------------------- */

void vmctld_owned_clear(VmctldOwned *o)
{
    g_free(o->path);
    g_free(o->role);
}

static void add_owned(GArray *out, const char *path, const char *role)
{
    VmctldOwned o = { g_strdup(path), g_strdup(role) };
    g_array_append_val(out, o);
}

GArray *vmctld_spec_owned(const VmctlGuestSpec *spec)
{
    GArray *out = g_array_new(FALSE, TRUE, sizeof(VmctldOwned));
    GArray *devs[] = { spec->nvdimm, spec->virtio_pmem };
    const char *what[] = { "NVDIMM", "virtio-pmem device" };

    g_array_set_clear_func(out, (GDestroyNotify)vmctld_owned_clear);
    /* a directory is a place QEMU makes its own unlinked file in, shared
     * by any number of guests; memfd and anonymous RAM have no path */
    if (spec->backend && g_path_is_absolute(spec->backend) && !g_file_test(spec->backend, G_FILE_TEST_IS_DIR))
        add_owned(out, spec->backend, "RAM");
    for (size_t k = 0; k < G_N_ELEMENTS(devs); k++)
        for (guint i = 0; i < devs[k]->len; i++) {
            g_autofree char *role = g_strdup_printf("%s %u", what[k], i);
            add_owned(out, g_array_index(devs[k], VmctlGuestDevice, i).path, role);
        }
    return out;
}

bool vmctld_same_backing(const char *a, const char *b)
{
    struct stat sa, sb;
    bool ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;

    if (ea && eb) {
        if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode))
            return (sa.st_mode & S_IFMT) == (sb.st_mode & S_IFMT) && sa.st_rdev == sb.st_rdev;
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    }
    if (ea != eb)
        return false;
    /* neither made yet: the same place once resolved */
    {
        g_autofree char *ra = resolve(a), *rb = resolve(b);
        return strcmp(ra, rb) == 0;
    }
}

bool vmctld_spec_owned_distinct(const VmctlGuestSpec *spec, GError **error)
{
    g_autoptr(GArray) own = vmctld_spec_owned(spec);

    for (guint i = 0; i < own->len; i++)
        for (guint j = i + 1; j < own->len; j++) {
            VmctldOwned *x = &g_array_index(own, VmctldOwned, i), *y = &g_array_index(own, VmctldOwned, j);
            if (vmctld_same_backing(x->path, y->path)) {
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                            "backing '%s' of guest '%s' is named twice (%s and %s): each needs its own", y->path,
                            spec->name, x->role, y->role);
                return false;
            }
        }
    return true;
}
