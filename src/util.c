/* util.c: error domain, size strings, sysfs readers, atomic writes and JSON
 * helpers shared by the library, the CLI and the daemon. */
#include "config.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

G_DEFINE_QUARK(vmctl-error-quark, vmctl_error)

bool vmctl_parse_size(const char *str, bool allow_zero, uint64_t *out, GError **error)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        { "", 1 },       { "B", 1 },         { "K", KiB },        { "KB", KiB },
        { "KiB", KiB },  { "M", MiB },       { "MB", MiB },       { "MiB", MiB },
        { "G", GiB },    { "GB", GiB },      { "GiB", GiB },      { "T", TiB },
        { "TB", TiB },   { "TiB", TiB },
    };
    const char *p = str;
    uint64_t val = 0;

    if (!str || !*str) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "size '' is empty");
        return false;
    }
    if (!g_ascii_isdigit(*p)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "size '%s' is not a number with an optional K/M/G/T suffix", str);
        return false;
    }
    for (; g_ascii_isdigit(*p); p++) {
        unsigned d = *p - '0';
        if (val > (UINT64_MAX - d) / 10) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "size '%s' is too large", str);
            return false;
        }
        val = val * 10 + d;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (g_ascii_strcasecmp(p, units[i].suffix) != 0)
            continue;
        if (units[i].mult > 1 && val > UINT64_MAX / units[i].mult) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "size '%s' is too large", str);
            return false;
        }
        val *= units[i].mult;
        if (val == 0 && !allow_zero) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "size '%s' must be greater than zero", str);
            return false;
        }
        *out = val;
        return true;
    }
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                "size '%s' is not a number with an optional K/M/G/T suffix", str);
    return false;
}

char *vmctl_format_size(uint64_t bytes)
{
    static const struct {
        uint64_t mult;
        char unit;
    } units[] = { { TiB, 'T' }, { GiB, 'G' }, { MiB, 'M' }, { KiB, 'K' } };

    for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
        if (bytes >= units[i].mult && bytes % units[i].mult == 0)
            return g_strdup_printf("%" G_GUINT64_FORMAT "%c", bytes / units[i].mult, units[i].unit);
    return g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
}

bool vmctl_parse_uint(const char *what, const char *str, uint64_t max, uint64_t *out, GError **error)
{
    guint64 v;
    g_autoptr(GError) local = NULL;

    if (!str || !g_ascii_string_to_unsigned(str, 10, 0, max, &v, &local)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "%s '%s' is not an integer between 0 and %" G_GUINT64_FORMAT, what, str ? str : "", max);
        return false;
    }
    *out = v;
    return true;
}

char *vmctl_read_file_trimmed(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &data, NULL, &local)) {
        g_set_error_literal(error, VMCTL_ERROR,
                            g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? VMCTL_ERROR_NOT_FOUND
                                                                                   : VMCTL_ERROR_FAILED,
                            local->message);
        return NULL;
    }
    g_strchomp(data);
    return g_steal_pointer(&data);
}

bool vmctl_read_u64(const char *path, uint64_t *out, GError **error)
{
    g_autofree char *s = vmctl_read_file_trimmed(path, error);
    guint64 v;

    if (!s)
        return false;
    if (g_str_has_prefix(s, "0x") ? !g_ascii_string_to_unsigned(s + 2, 16, 0, G_MAXUINT64, &v, NULL)
                                  : !g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, &v, NULL)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "'%s' holds '%s', not an unsigned integer", path, s);
        return false;
    }
    *out = v;
    return true;
}

bool vmctl_write_file_atomic(const char *path, const char *data, gssize len, mode_t mode, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *tmp = g_strdup_printf("%s.tmp.XXXXXX", path);
    size_t n = len < 0 ? strlen(data) : (size_t)len;
    size_t done = 0;
    int fd, dfd;

    fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create '%s': %s", tmp, g_strerror(errno));
        return false;
    }
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot write '%s': %s", tmp, g_strerror(e));
            goto fail;
        }
        done += w;
    }
    if (fsync(fd) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot fsync '%s': %s", tmp, g_strerror(errno));
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot close '%s': %s", tmp, g_strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot rename '%s' to '%s': %s", tmp, path, g_strerror(errno));
        goto fail;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return true;

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return false;
}

void vmctl_json_add_str(json_object *obj, const char *key, const char *val)
{
    json_object_object_add(obj, key, val ? json_object_new_string(val) : NULL);
}

void vmctl_json_add_u64(json_object *obj, const char *key, uint64_t val)
{
    json_object_object_add(obj, key, json_object_new_uint64(val));
}

void vmctl_json_add_i64(json_object *obj, const char *key, int64_t val)
{
    json_object_object_add(obj, key, json_object_new_int64(val));
}

void vmctl_json_add_bool(json_object *obj, const char *key, bool val)
{
    json_object_object_add(obj, key, json_object_new_boolean(val));
}

void vmctl_json_add_double(json_object *obj, const char *key, double val)
{
    json_object_object_add(obj, key, json_object_new_double(val));
}

void vmctl_json_print(json_object *obj)
{
    puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(stdout);
}

uint64_t vmctl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

extern char **environ;

char *vmctl_injected_faults(void)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        g_autofree char *name = eq ? g_strndup(*e, (gsize)(eq - *e)) : NULL;

        if (!name || !g_str_has_prefix(name, "VMCTL_") || !strstr(name, "FAULT") || !eq[1])
            continue;
        g_string_append_printf(s, "%s%s", s->len ? ", " : "", *e);
    }
    return s->len ? g_string_free(g_steal_pointer(&s), FALSE) : NULL;
}

void vmctl_json_add_injected_faults(json_object *obj)
{
    g_autofree char *f = vmctl_injected_faults();

    if (f)
        vmctl_json_add_str(obj, "injected_fault", f);
}

/* The guard of this thread, while fn runs under it. */
static __thread sigjmp_buf *bus_jump;
static __thread void *bus_addr;
static struct sigaction bus_before;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (bus_jump) {
        bus_addr = si->si_addr;
        siglongjmp(*bus_jump, 1);
    }
    /* not under a guard: back to what was there, and the faulting access
     * faults again under it when this returns */
    sigaction(sig, &bus_before, NULL);
}

bool vmctl_sigbus_guard(void (*fn)(void *data), void *data, void **addr)
{
    static gsize installed;
    sigjmp_buf jump;

    if (g_once_init_enter(&installed)) {
        struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, &bus_before);
        g_once_init_leave(&installed, 1);
    }
    /* the mask is saved: the SIGBUS blocked in the handler is unblocked
     * again by the jump back */
    if (sigsetjmp(jump, 1)) {
        bus_jump = NULL;
        if (addr)
            *addr = bus_addr;
        return false;
    }
    bus_jump = &jump;
    fn(data);
    bus_jump = NULL;
    return true;
}

void vmctl_fault_shrink_image(const char *path)
{
    const char *f = g_getenv("VMCTL_PAGES_FAULT");
    uint64_t size;
    int fd;

    if (!f || !g_str_has_prefix(f, "shrink-a:") || !vmctl_parse_size(f + strlen("shrink-a:"), true, &size, NULL))
        return;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
        g_warning("VMCTL_PAGES_FAULT: cannot cut '%s': %s", path, g_strerror(errno));
    if (fd >= 0)
        close(fd);
}

#define KVM_DEVICE_MAJOR 10
#define KVM_DEVICE_MINOR 232

int vmctl_kvm_open(void)
{
    struct stat st;

    if (stat("/dev/kvm", &st) < 0)
        return -1;
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != KVM_DEVICE_MAJOR || minor(st.st_rdev) != KVM_DEVICE_MINOR) {
        errno = ENOENT;
        return -1;
    }
    return open("/dev/kvm", O_RDWR | O_CLOEXEC);
}
