/* mountinfo.c: the mount table (/proc/self/mountinfo) parsed, and the
 * mount that holds a path. */
#include "config.h"

#include "mountinfo.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

static const char *mountinfo_path(void)
{
    const char *r = g_getenv("VMCTL_MOUNTINFO");
    return r && *r ? r : "/proc/self/mountinfo";
}

bool vmctl_path_has_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);

    if (strcmp(prefix, "/") == 0)
        return path[0] == '/';
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void mount_free(gpointer p)
{
    VmctlMount *m = p;

    g_free(m->root);
    g_free(m->mount_point);
    g_free(m->mount_options);
    g_free(m->fstype);
    g_free(m->source);
    g_free(m->super_options);
    g_free(m);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s)
{
    GString *out = g_string_new(NULL);

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            g_string_append_c(out, (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0')));
            s += 3;
        } else {
            g_string_append_c(out, *s);
        }
    }
    return g_string_free(out, FALSE);
}

/* Fields: id parent major:minor root mount-point mount-options [optional...] - fstype source super-options */
static VmctlMount *mountinfo_parse_line(const char *line)
{
    g_auto(GStrv) f = g_strsplit(line, " ", -1);
    guint n = g_strv_length(f), sep;
    VmctlMount *m;

    if (n < 10)
        return NULL;
    for (sep = 6; sep < n && strcmp(f[sep], "-") != 0; sep++)
        ;
    if (sep + 2 >= n)
        return NULL;
    m = g_new0(VmctlMount, 1);
    if (sscanf(f[2], "%u:%u", &m->major, &m->minor) != 2) {
        g_free(m);
        return NULL;
    }
    m->root = unescape_octal(f[3]);
    m->mount_point = unescape_octal(f[4]);
    m->mount_options = g_strdup(f[5]);
    m->fstype = unescape_octal(f[sep + 1]);
    m->source = unescape_octal(f[sep + 2]);
    m->super_options = g_strdup(sep + 3 < n ? f[sep + 3] : "");
    return m;
}

GPtrArray *vmctl_mountinfo_parse(const char *text)
{
    GPtrArray *arr = g_ptr_array_new_with_free_func(mount_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (size_t i = 0; lines[i]; i++) {
        VmctlMount *m = *lines[i] ? mountinfo_parse_line(lines[i]) : NULL;
        if (m)
            g_ptr_array_add(arr, m);
    }
    return arr;
}

GPtrArray *vmctl_mountinfo_read(GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(mountinfo_path(), &text, NULL, &local)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "mount table '%s' cannot be read: %s", mountinfo_path(),
                    local->message);
        return NULL;
    }
    return vmctl_mountinfo_parse(text);
}

const VmctlMount *vmctl_mountinfo_find(GPtrArray *mounts, const char *path, dev_t dev)
{
    const VmctlMount *best = NULL;
    size_t best_len = 0;
    bool best_dev = false;

    for (guint i = 0; i < mounts->len; i++) {
        const VmctlMount *m = g_ptr_array_index(mounts, i);
        size_t len = strlen(m->mount_point);
        bool dev_ok = dev != 0 && major(dev) == m->major && minor(dev) == m->minor;

        if (!vmctl_path_has_prefix(path, m->mount_point))
            continue;
        /* a device match beats any prefix length (bind mounts, overmounts);
         * then the longest mount point; then the later line (on top) */
        if (best && best_dev && !dev_ok)
            continue;
        if (best && dev_ok == best_dev && len < best_len)
            continue;
        best = m;
        best_len = len;
        best_dev = dev_ok;
    }
    return best;
}

bool vmctl_mount_option(const char *opts, const char *option, char **value)
{
    g_auto(GStrv) parts = g_strsplit(opts ? opts : "", ",", -1);
    size_t n = strlen(option);

    for (size_t i = 0; parts[i]; i++) {
        if (strncmp(parts[i], option, n) != 0 || (parts[i][n] != '\0' && parts[i][n] != '='))
            continue;
        if (value)
            *value = g_strdup(parts[i][n] == '=' ? parts[i] + n + 1 : "");
        return true;
    }
    return false;
}

/* "dax" (older ext4/xfs) or "dax=always"; "dax=inode" leaves it to the
 * per-file flag (statx), "dax=never" is off. */
