/* state.c: per-guest state files in the state dir. Temp files of an
 * interrupted write (NAME.json.tmp.XXXXXX) are removed at startup. */
#include "config.h"

#include "daemon/state.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static char *state_path(const char *dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.json", name);

    return g_build_filename(dir, file, NULL);
}

bool vmctld_state_dir_prepare(const char *dir, GError **error)
{
    g_autoptr(GDir) d = NULL;
    const char *e;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create state dir '%s': %s", dir, g_strerror(errno));
        return false;
    }
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

json_object *vmctld_state_load(const char *dir, const char *name, GError **error)
{
    g_autofree char *path = state_path(dir, name);
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    json_object *o;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, VMCTL_ERROR,
                    g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? VMCTL_ERROR_NOT_FOUND : VMCTL_ERROR_FAILED,
                    "%s", local->message);
        return NULL;
    }
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

        if (!o) {
            o = json_object_new_object();
            vmctl_json_add_str(o, "name", names->pdata[i]);
            vmctl_json_add_str(o, "error", err->message);
        }
        json_object_array_add(arr, o);
    }
    return arr;
}
