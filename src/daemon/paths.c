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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    g_autofree char *real = NULL;
    g_autofree char *list = NULL;

    for (size_t i = 0; parts[i]; i++) {
        if (strcmp(parts[i], "..") == 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "path '%s' has a '..' component, which is not allowed",
                        path);
            return false;
        }
    }
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
