/* sysfs.c: sysfs attributes and /dev under movable roots. */
#include "config.h"

#include "sysfs.h"

#include <sys/sysmacros.h>
#include "util.h"

#include <stdarg.h>
#include <string.h>

const char *vmctl_sysfs_root(void)
{
    const char *r = g_getenv("VMCTL_SYSFS_ROOT");
    return r && *r ? r : "/sys";
}

const char *vmctl_dev_root(void)
{
    const char *r = g_getenv("VMCTL_DEV_ROOT");
    return r && *r ? r : "/dev";
}

bool vmctl_dev_root_moved(void)
{
    return strcmp(vmctl_dev_root(), "/dev") != 0;
}

char *vmctl_sysfs_path(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *rel = NULL;

    va_start(ap, fmt);
    rel = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return g_build_filename(vmctl_sysfs_root(), rel, NULL);
}

bool vmctl_sysfs_u64(const char *dir, const char *attr, uint64_t *out)
{
    g_autofree char *p = g_build_filename(dir, attr, NULL);
    return vmctl_read_u64(p, out, NULL);
}

int64_t vmctl_sysfs_i64(const char *dir, const char *attr, int64_t dflt)
{
    g_autofree char *p = g_build_filename(dir, attr, NULL);
    g_autofree char *s = vmctl_read_file_trimmed(p, NULL);
    gint64 v;

    if (!s || !g_ascii_string_to_signed(s, 10, G_MININT64, G_MAXINT64, &v, NULL))
        return dflt;
    return v;
}

char *vmctl_sysfs_str(const char *dir, const char *attr)
{
    g_autofree char *p = g_build_filename(dir, attr, NULL);
    return vmctl_read_file_trimmed(p, NULL);
}

char *vmctl_sysfs_link_name(const char *dir, const char *name)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);
    g_autofree char *t = g_file_read_link(p, NULL);
    return t ? g_path_get_basename(t) : NULL;
}

char *vmctl_sysfs_first_child(const char *dir, const char *sub, const char *prefix)
{
    g_autofree char *p = sub ? g_build_filename(dir, sub, NULL) : g_strdup(dir);
    g_autoptr(GDir) d = g_dir_open(p, 0, NULL);
    const char *n;
    char *best = NULL;

    while (d && (n = g_dir_read_name(d))) {
        if (g_str_has_prefix(n, prefix) && (!best || strcmp(n, best) < 0)) {
            g_free(best);
            best = g_strdup(n); /* n is reused by the next read */
        }
    }
    return best;
}

bool vmctl_char_device_size(dev_t rdev, uint64_t *size)
{
    g_autofree char *path = vmctl_sysfs_path("dev/char/%u:%u/size", major(rdev), minor(rdev));

    return vmctl_read_u64(path, size, NULL);
}
