/* ksm.c: KSM knobs, counters and page-level evidence of merging. */
#include "config.h"

#include "ksm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KPF_KSM 21              /* bit in /proc/kpageflags */
#define PM_PRESENT (1ull << 63) /* bits of /proc/PID/pagemap entries */
#define PM_PFN_MASK ((1ull << 55) - 1)
#define SCAN_CHUNK 4096 /* pagemap entries read at a time */

struct VmctlKsmSettings {
    GPtrArray *names;  /* char* */
    GPtrArray *values; /* char* */
    bool locked;       /* holds a count of the KSM lock */
};

/* The host-wide KSM lock of this process: one flock, counted. */
static int lock_fd = -1;
static unsigned lock_count;

static const char *ksm_dir(void)
{
    const char *d = g_getenv("VMCTL_KSM_DIR");

    return d && *d ? d : "/sys/kernel/mm/ksm";
}

/* "[none] scan-time" -> "none"; "100" -> "100" */
static char *knob_value(const char *raw)
{
    const char *a = strchr(raw, '[');
    const char *b = a ? strchr(a, ']') : NULL;

    return a && b ? g_strndup(a + 1, b - a - 1) : g_strdup(raw);
}

static char *read_knob(const char *name, GError **error)
{
    g_autofree char *path = g_build_filename(ksm_dir(), name, NULL);
    g_autofree char *raw = vmctl_read_file_trimmed(path, error);

    return raw ? knob_value(raw) : NULL;
}

bool vmctl_ksm_lock(GError **error)
{
    const char *env = g_getenv("VMCTL_KSM_LOCK");
    const char *path = env && *env ? env : "/run/vmctl-ksm.lock";
    int fd;

    if (lock_count) {
        lock_count++;
        return true;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot open KSM lock '%s': %s", path, g_strerror(errno));
        return false;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot lock '%s': %s", path, g_strerror(errno));
            close(fd);
            return false;
        }
    }
    lock_fd = fd;
    lock_count = 1;
    return true;
}

void vmctl_ksm_unlock(void)
{
    if (!lock_count || --lock_count)
        return;
    close(lock_fd); /* drops the flock */
    lock_fd = -1;
}

void vmctl_ksm_settings_free(VmctlKsmSettings *s)
{
    if (!s)
        return;
    if (s->locked)
        vmctl_ksm_unlock();
    g_ptr_array_unref(s->names);
    g_ptr_array_unref(s->values);
    g_free(s);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

VmctlKsmSettings *vmctl_ksm_settings_save(GError **error)
{
    g_autoptr(VmctlKsmSettings) s = g_new0(VmctlKsmSettings, 1);
    g_autoptr(GDir) d = g_dir_open(ksm_dir(), 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *e;

    s->names = g_ptr_array_new_with_free_func(g_free);
    s->values = g_ptr_array_new_with_free_func(g_free);
    /* best effort: a caller that cannot create the lock (not root) cannot
     * change the knobs either */
    s->locked = vmctl_ksm_lock(NULL);
    if (!d) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "KSM is not available: '%s' does not exist", ksm_dir());
        return NULL;
    }
    while ((e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(ksm_dir(), e, NULL);
        struct stat st;

        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IWUSR))
            g_ptr_array_add(names, g_strdup(e));
    }
    g_ptr_array_sort(names, cmp_str);
    for (guint i = 0; i < names->len; i++) {
        char *v = read_knob(names->pdata[i], error);
        if (!v)
            return NULL;
        g_ptr_array_add(s->names, g_strdup(names->pdata[i]));
        g_ptr_array_add(s->values, v);
    }
    return g_steal_pointer(&s);
}

bool vmctl_ksm_set(const char *knob, const char *value, GError **error)
{
    g_autofree char *path = g_build_filename(ksm_dir(), knob, NULL);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* O_TRUNC: no-op on sysfs, needed on test files */
    ssize_t n;

    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot open KSM knob '%s': %s", path, g_strerror(errno));
        return false;
    }
    n = write(fd, value, strlen(value));
    if (n != (ssize_t)strlen(value)) {
        int e = n < 0 ? errno : EIO;
        close(fd);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot set KSM knob '%s' to '%s': %s", knob, value,
                    g_strerror(e));
        return false;
    }
    close(fd);
    return true;
}

bool vmctl_ksm_settings_restore(const VmctlKsmSettings *s, GError **error)
{
    bool ok = true;
    int run_idx = -1;

    for (guint i = 0; i < s->names->len; i++) {
        const char *name = s->names->pdata[i];
        const char *want = s->values->pdata[i];
        g_autofree char *now = NULL;
        g_autoptr(GError) local = NULL;

        if (strcmp(name, "run") == 0) {
            run_idx = i; /* last, once the scanner's parameters are back */
            continue;
        }
        now = read_knob(name, NULL);
        if (now && strcmp(now, want) == 0)
            continue;
        if (!vmctl_ksm_set(name, want, &local)) {
            if (ok)
                g_propagate_error(error, g_steal_pointer(&local));
            ok = false;
        }
    }
    if (run_idx >= 0) {
        const char *want = s->values->pdata[run_idx];
        g_autofree char *now = read_knob("run", NULL);

        if (!now || strcmp(now, want) != 0) {
            g_autoptr(GError) local = NULL;
            /* back to "off": take apart what was merged while it ran */
            if (strcmp(want, "0") == 0 && g_strcmp0(now, "2") != 0 && !vmctl_ksm_set("run", "2", &local)) {
                if (ok)
                    g_propagate_error(error, g_steal_pointer(&local));
                ok = false;
            }
            g_clear_error(&local);
            if (!vmctl_ksm_set("run", want, &local)) {
                if (ok)
                    g_propagate_error(error, g_steal_pointer(&local));
                ok = false;
            }
        }
    }
    return ok;
}

json_object *vmctl_ksm_settings_to_json(const VmctlKsmSettings *s)
{
    json_object *o = json_object_new_object();

    for (guint i = 0; i < s->names->len; i++)
        vmctl_json_add_str(o, s->names->pdata[i], s->values->pdata[i]);
    return o;
}

json_object *vmctl_ksm_settings_diff(const VmctlKsmSettings *s, GError **error)
{
    json_object *arr = json_object_new_array();

    for (guint i = 0; i < s->names->len; i++) {
        g_autofree char *now = read_knob(s->names->pdata[i], NULL);
        if (!now || strcmp(now, s->values->pdata[i]) != 0)
            json_object_array_add(arr, json_object_new_string(s->names->pdata[i]));
    }
    return arr;
}

json_object *vmctl_ksm_counters(GError **error)
{
    static const char *const names[] = {
        "full_scans",     "general_profit", "ksm_zero_pages", "pages_scanned", "pages_shared",
        "pages_sharing",  "pages_skipped",  "pages_unshared", "pages_volatile", "stable_node_chains",
        "stable_node_dups",
    };
    json_object *o = json_object_new_object();

    if (!g_file_test(ksm_dir(), G_FILE_TEST_IS_DIR)) {
        json_object_put(o);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "KSM is not available: '%s' does not exist", ksm_dir());
        return NULL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *p = g_build_filename(ksm_dir(), names[i], NULL);
        g_autofree char *raw = vmctl_read_file_trimmed(p, NULL);
        gint64 v;

        /* general_profit may be negative */
        if (raw && g_ascii_string_to_signed(raw, 10, G_MININT64, G_MAXINT64, &v, NULL))
            vmctl_json_add_i64(o, names[i], v);
    }
    return o;
}

uint64_t vmctl_ksm_counter(json_object *counters, const char *name)
{
    json_object *v = counters ? json_object_object_get(counters, name) : NULL;

    return v ? (uint64_t)json_object_get_int64(v) : 0;
}

json_object *vmctl_ksm_process_stats(pid_t pid, GError **error)
{
    g_autofree char *p = g_strdup_printf("/proc/%d/ksm_stat", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    json_object *o;

    if (!g_file_get_contents(p, &text, NULL, NULL)) {
        g_autofree char *p2 = g_strdup_printf("/proc/%d/ksm_merging_pages", (int)pid);
        uint64_t v;

        if (!vmctl_read_u64(p2, &v, error))
            return NULL;
        o = json_object_new_object();
        vmctl_json_add_u64(o, "ksm_merging_pages", v);
        return o;
    }
    o = json_object_new_object();
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(lines[i], " ", 2);
        gint64 v;

        if (!kv[0] || !kv[1] || !*kv[0])
            continue;
        if (g_str_has_suffix(kv[0], ":")) /* "ksm_mergeable: yes" */
            kv[0][strlen(kv[0]) - 1] = '\0';
        if (g_ascii_string_to_signed(g_strstrip(kv[1]), 10, G_MININT64, G_MAXINT64, &v, NULL))
            vmctl_json_add_i64(o, kv[0], v);
        else
            vmctl_json_add_str(o, g_strstrip(kv[0]), kv[1]);
    }
    return o;
}

static bool pread_all(int fd, void *buf, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, buf, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        buf = (char *)buf + r;
        n -= r;
        off += r;
    }
    return true;
}

bool vmctl_ksm_scan_range(pid_t pid, uint64_t start, uint64_t len, VmctlKsmScan *out, GError **error)
{
    g_autofree char *pm_path = g_strdup_printf("/proc/%d/pagemap", (int)pid);
    g_autofree uint64_t *ent = g_new(uint64_t, SCAN_CHUNK);
    long psize = sysconf(_SC_PAGESIZE);
    int pm, kf;

    memset(out, 0, sizeof(*out));
    pm = open(pm_path, O_RDONLY | O_CLOEXEC);
    if (pm < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot open '%s': %s", pm_path, g_strerror(errno));
        return false;
    }
    kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    if (kf < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "cannot open '/proc/kpageflags': %s (page-level KSM evidence needs root)", g_strerror(errno));
        close(pm);
        return false;
    }
    out->pages = len / psize;
    for (uint64_t p = 0; p < out->pages; p += SCAN_CHUNK) {
        uint64_t n = MIN((uint64_t)SCAN_CHUNK, out->pages - p);

        if (!pread_all(pm, ent, n * 8, (off_t)((start / psize + p) * 8))) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot read '%s' at 0x%" G_GINT64_MODIFIER "x: %s",
                        pm_path, start + p * psize, g_strerror(errno));
            close(pm);
            close(kf);
            return false;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t pfn, flags;

            if (!(ent[i] & PM_PRESENT))
                continue;
            out->present++;
            pfn = ent[i] & PM_PFN_MASK;
            if (pfn == 0) {
                /* PFNs are hidden from this reader: no page-level evidence */
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                            "'%s' hides page frame numbers (needs CAP_SYS_ADMIN)", pm_path);
                close(pm);
                close(kf);
                return false;
            }
            if (!pread_all(kf, &flags, 8, (off_t)(pfn * 8)))
                continue;
            if (flags & (1ull << KPF_KSM)) {
                if (out->n_first < G_N_ELEMENTS(out->first_ksm))
                    out->first_ksm[out->n_first++] = p + i;
                out->ksm++;
            }
        }
    }
    close(pm);
    close(kf);
    return true;
}

bool vmctl_ksm_find_mapping(pid_t pid, const char *path, uint64_t size, uint64_t *start, uint64_t *len,
                            GError **error)
{
    g_autofree char *maps_path = g_strdup_printf("/proc/%d/maps", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    uint64_t best = 0;

    if (!g_file_get_contents(maps_path, &text, NULL, NULL)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "cannot read '%s': process %d is gone", maps_path,
                    (int)pid);
        return false;
    }
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        unsigned long long a, b;
        char perms[8];
        int off = 0;
        const char *name;

        if (sscanf(lines[i], "%llx-%llx %7s %*s %*s %*s%n", &a, &b, perms, &off) < 3)
            continue;
        name = g_strstrip(lines[i] + off);
        /* anonymous guest RAM: QEMU may round the mapping up, so take the
         * smallest readable and writable anonymous mapping of at least
         * `size` bytes (malloc arenas reserve larger ones, inaccessible) */
        if (perms[0] != 'r' || perms[1] != 'w')
            continue;
        if ((b - a) >= size &&
            (path ? g_strcmp0(name, path) == 0 || (g_str_has_prefix(name, path) && g_str_has_suffix(name, " (deleted)"))
                  : *name == '\0')) {
            if (!best || b - a < best) {
                best = b - a;
                *start = a;
                *len = b - a;
            }
        }
    }
    if (!best) {
        if (path)
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "process %d does not map '%s'", (int)pid, path);
        else
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "process %d has no anonymous mapping of at least %" G_GUINT64_FORMAT " bytes",
                        (int)pid, size);
        return false;
    }
    return true;
}
