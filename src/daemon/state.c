/* state.c: per-guest state files in the state dir. Temp files of an
 * interrupted write (NAME.json.tmp.XXXXXX) are removed at startup. */
#include "config.h"

#include "daemon/state.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

static char *state_path(const char *dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.json", name);

    return g_build_filename(dir, file, NULL);
}

bool vmctld_dir_private(const char *what, const char *dir, GError **error)
{
    struct stat st;
    uid_t me = geteuid();

    if (stat(dir, &st) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot stat %s '%s': %s", what, dir, g_strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "%s '%s' is not a directory", what, dir);
        return false;
    }
    if (st.st_uid != me) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "%s '%s' belongs to uid %u: it must belong to uid %u and be writable by it alone", what, dir,
                    (unsigned)st.st_uid, (unsigned)me);
        return false;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "%s '%s' is writable by group or others (mode %04o): it must belong to uid %u and be writable "
                    "by it alone", what, dir, (unsigned)(st.st_mode & 07777), (unsigned)me);
        return false;
    }
    return true;
}

bool vmctld_state_dir_prepare(const char *dir, GError **error)
{
    g_autoptr(GDir) d = NULL;
    const char *e;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create state dir '%s': %s", dir, g_strerror(errno));
        return false;
    }
    if (!vmctld_dir_private("state dir", dir, error))
        return false;
    d = g_dir_open(dir, 0, error);
    if (!d)
        return false;
    while ((e = g_dir_read_name(d))) {
        if (strstr(e, ".json.tmp.")) {
            g_autofree char *p = g_build_filename(dir, e, NULL);
            g_unlink(p);
        }
    }
    return true;
}

bool vmctld_state_save(const char *dir, const char *name, json_object *state, GError **error)
{
    g_autofree char *path = state_path(dir, name);
    g_autofree char *text = g_strdup_printf(
        "%s\n", json_object_to_json_string_ext(state, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));

    return vmctl_write_file_atomic(path, text, -1, 0600, error);
}

/* The text of a state file that is the daemon's own: a regular file (not
 * followed through a symlink) of its user that no one else may write. */
static char *read_own_file(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    g_autoptr(GString) text = g_string_new(NULL);
    struct stat st;
    char buf[4096];
    ssize_t n;

    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, errno == ENOENT ? VMCTL_ERROR_NOT_FOUND : VMCTL_ERROR_FAILED,
                    "cannot open state file '%s': %s", path, g_strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        if (S_ISREG(st.st_mode) && st.st_uid != geteuid())
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "state file '%s' belongs to uid %u, not %u: not read",
                        path, (unsigned)st.st_uid, (unsigned)geteuid());
        else
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "state file '%s' is not a regular file of uid %u that only it may write: not read", path,
                        (unsigned)geteuid());
        close(fd);
        return NULL;
    }
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || text->len > (1u << 24)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot read state file '%s': %s", path,
                        n < 0 ? g_strerror(errno) : "larger than 16 MiB");
            close(fd);
            return NULL;
        }
        g_string_append_len(text, buf, n);
    }
    close(fd);
    return g_string_free(g_steal_pointer(&text), FALSE);
}

json_object *vmctld_state_load(const char *dir, const char *name, GError **error)
{
    g_autofree char *path = state_path(dir, name);
    g_autofree char *text = NULL;
    json_object *o;

    text = read_own_file(path, error);
    if (!text)
        return NULL;
    o = json_tokener_parse(text);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "state file '%s' is not a JSON object", path);
        return NULL;
    }
    return o;
}

bool vmctld_state_remove(const char *dir, const char *name, GError **error)
{
    g_autofree char *path = state_path(dir, name);

    if (g_unlink(path) < 0 && errno != ENOENT) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot remove '%s': %s", path, g_strerror(errno));
        return false;
    }
    return true;
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_object *vmctld_state_list(const char *dir, GError **error)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, error);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    json_object *arr;
    const char *e;

    if (!d)
        return NULL;
    while ((e = g_dir_read_name(d)))
        if (g_str_has_suffix(e, ".json") && !strstr(e, ".tmp."))
            g_ptr_array_add(names, g_strndup(e, strlen(e) - 5));
    g_ptr_array_sort(names, cmp_str);
    arr = json_object_new_array();
    for (guint i = 0; i < names->len; i++) {
        g_autoptr(GError) err = NULL;
        json_object *o = vmctld_state_load(dir, names->pdata[i], &err);

        if (!o && g_error_matches(err, VMCTL_ERROR, VMCTL_ERROR_INVALID)) {
            /* not the daemon's own: never a guest of it */
            g_warning("%s", err->message);
            continue;
        }
        if (!o) {
            o = json_object_new_object();
            vmctl_json_add_str(o, "name", names->pdata[i]);
            vmctl_json_add_str(o, "error", err->message);
        }
        json_object_array_add(arr, o);
    }
    return arr;
}
