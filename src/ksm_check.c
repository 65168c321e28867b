/* ksm_check.c: the KSM check of `vmctl ksm-check`: guests launched through
 * vmctld, KSM knobs saved/set/restored, the merge curve, page-level
 * evidence inside guest RAM and the guests' own VERIFY. */
#include "config.h"

#include "ksm_check.h"

#include "client.h"
#include "guest_line.h"
#include "ksm.h"
#include "report_html.h"
#include "vmctl/page_stamp.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define STAMP_BASE 0x200000          /* bytes: guest-physical start of the tiny guest's region */
#define PAGE 4096                    /* bytes */
#define SAMPLE_MS 500                /* ms between two points of the merge curve */
#define STEADY_WINDOW_S 3.0          /* s: pages_sharing compared over this window */
#define STEADY_PERMILLE 20           /* change below 2% over the window is steady */
#define READY_TIMEOUT_S 60           /* s for a guest's READY line */
#define VERIFY_TIMEOUT_S 60          /* s for a guest's VERIFY answer */
#define MIN_FULL_SCANS 2             /* full KSM scans before a "never merged" means anything */
#define FULL_SCAN_WAIT_S 60          /* s past the budget to wait for those scans */
/* The guests' vCPUs spin between paced rewrites; niced below ksmd (nice 5)
 * they leave it the CPU it needs on a small host. */
#define QEMU_NICE 10
#define MEMORY_MAX (2 * GiB)         /* bytes: guest RAM stays below the PCI hole (file offset = GPA) */

/* The knobs this check sets (steady merging in ~15 s on the reference host). */
static const char *const ksm_knobs[][2] = {
    { "pages_to_scan", "5000" },
    { "sleep_millisecs", "20" },
    { "run", "1" },
};

typedef struct {
    char *name;
    bool positive;
    char *backend;      /* spec given to vmctld */
    char *backend_kind; /* as vmctld reports it */
    char *created;      /* backing file this check created (removed at the end) */
    uint64_t seed;
    bool launched;
    pid_t pid;
    int fd; /* serial socket */
    guint fd_source; /* watch on fd while waiting, 0 when none */
    GString *pending;
    char *matched;
    bool eof;
    uint64_t stamped, same; /* from READY */
    uint64_t map_start, map_len;
    char *verify;
} Guest;

typedef struct {
    const VmctlKsmCheckOpts *opts;
    GCancellable *cancel;
    GPtrArray *guests; /* Guest* */
    VmctlKsmSettings *saved;
    bool knobs_set;
} Run;

void vmctl_ksm_check_opts_init(VmctlKsmCheckOpts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->seconds = VMCTL_KSM_CHECK_SECONDS;
    opts->memory = VMCTL_KSM_CHECK_MEMORY;
    opts->same = VMCTL_KSM_CHECK_SAME;
    opts->rate = VMCTL_KSM_CHECK_RATE;
}

static void guest_free(gpointer p)
{
    Guest *g = p;

    if (g->fd >= 0)
        close(g->fd);
    if (g->pending)
        g_string_free(g->pending, TRUE);
    g_free(g->name);
    g_free(g->backend);
    g_free(g->backend_kind);
    g_free(g->created);
    g_free(g->matched);
    g_free(g->verify);
    g_free(g);
}

static Guest *guest_new(const char *name, bool positive, const char *backend, uint64_t seed)
{
    Guest *g = g_new0(Guest, 1);

    g->name = g_strdup(name);
    g->positive = positive;
    g->backend = g_strdup(backend);
    g->seed = seed;
    g->fd = -1;
    g->pending = g_string_new(NULL);
    return g;
}

/* ---- waiting on the main context (signals, the serial sockets) ---- */

static gboolean flag_set(gpointer p)
{
    *(bool *)p = true;
    return G_SOURCE_REMOVE;
}

/* Run the default main context for `ms` milliseconds; false when cancelled. */
static bool wait_ms(guint ms, GCancellable *cancel)
{
    bool fired = false;
    guint id = g_timeout_add(ms, flag_set, &fired);

    while (!fired && !g_cancellable_is_cancelled(cancel))
        g_main_context_iteration(NULL, TRUE);
    if (!fired)
        g_source_remove(id);
    return !g_cancellable_is_cancelled(cancel);
}

static void take_lines(Guest *g, const char *prefix)
{
    char *nl;

    while (!g->matched && (nl = strpbrk(g->pending->str, "\r\n"))) {
        g_autofree char *line = g_strndup(g->pending->str, nl - g->pending->str);

        g_string_erase(g->pending, 0, nl - g->pending->str + 1);
        if (g_str_has_prefix(line, prefix))
            g->matched = g_steal_pointer(&line);
    }
}

static gboolean serial_readable(gint fd, GIOCondition cond, gpointer p)
{
    Guest *g = p;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        g->eof = true;
        g->fd_source = 0;
        return G_SOURCE_REMOVE;
    }
    g_string_append_len(g->pending, buf, n);
    return G_SOURCE_CONTINUE;
}

/* Wait for the first serial line of `g` that starts with `prefix`. */
static char *serial_wait(Guest *g, const char *prefix, guint timeout_s, GCancellable *cancel, GError **error)
{
    bool timed_out = false;
    guint tid;

    take_lines(g, prefix);
    tid = g_timeout_add_seconds(timeout_s, flag_set, &timed_out);
    g->fd_source = g->eof ? 0 : g_unix_fd_add(g->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, serial_readable, g);
    while (!g->matched && !g->eof && !timed_out && !g_cancellable_is_cancelled(cancel)) {
        g_main_context_iteration(NULL, TRUE);
        take_lines(g, prefix);
    }
    if (!timed_out)
        g_source_remove(tid);
    if (g->fd_source)
        g_source_remove(g->fd_source);
    g->fd_source = 0;
    if (g->matched)
        return g_steal_pointer(&g->matched);
    if (g_cancellable_is_cancelled(cancel))
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cancelled");
    else
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "guest '%s' printed no line starting with '%s' %s", g->name,
                    prefix, g->eof ? "before its serial line closed" : "in time");
    return NULL;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- guests ---- */

/* Every thread of `pid` (the vCPUs included) to QEMU_NICE; best effort. */
static void renice(pid_t pid)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d)))
        setpriority(PRIO_PROCESS, (id_t)g_ascii_strtoull(e, NULL, 10), QEMU_NICE);
}

static bool guest_launch(Run *r, Guest *g, GError **error)
{
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) ret = NULL;
    json_object *spec = json_object_new_object();
    json_object *tiny = json_object_new_object();
    const char *sock, *log;

    vmctl_json_add_str(spec, "name", g->name);
    vmctl_json_add_u64(spec, "memory", r->opts->memory);
    vmctl_json_add_str(spec, "backend", g->backend);
    vmctl_json_add_str(spec, "kind", "tiny");
    vmctl_json_add_bool(spec, "mem-merge", true);
    vmctl_json_add_u64(tiny, "rate", r->opts->rate);
    vmctl_json_add_u64(tiny, "same", r->opts->same);
    vmctl_json_add_u64(tiny, "seed", g->seed);
    json_object_object_add(spec, "tiny", tiny);
    json_object_object_add(args, "spec", spec);
    ret = vmctl_client_call(r->opts->socket_path, "launch", args, true, error);
    if (!ret)
        return false;
    g->launched = true;
    g->pid = json_object_get_int(json_object_object_get(ret, "pid"));
    renice(g->pid);
    g->backend_kind = g_strdup(json_object_get_string(json_object_object_get(ret, "backend_kind")));
    sock = json_object_get_string(json_object_object_get(ret, "serial_socket"));
    log = json_object_get_string(json_object_object_get(ret, "console_log"));
    g->fd = sock ? connect_unix(sock) : -1;
    if (g->fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot connect to the console of guest '%s' at '%s': %s",
                    g->name, sock ? sock : "?", g_strerror(errno));
        return false;
    }
    /* connected first, then the log: a READY printed before the connection
     * is in the log, one printed after it comes on the socket */
    if (log) {
        g_autofree char *text = NULL;

        if (g_file_get_contents(log, &text, NULL, NULL)) {
            g_auto(GStrv) lines = g_strsplit_set(text, "\r\n", -1);
            for (size_t i = 0; lines[i] && !g->matched; i++)
                if (g_str_has_prefix(lines[i], "READY "))
                    g->matched = g_strdup(lines[i]);
        }
    }
    return true;
}

/* The mapping found is guest RAM only if the stamped region's control page
 * is where guest-physical 2 MiB falls in it. */
static bool check_mapping(const Guest *g, GError **error)
{
    g_autofree char *mem = g_strdup_printf("/proc/%d/mem", (int)g->pid);
    uint64_t magic = 0;
    int fd = open(mem, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, &magic, sizeof(magic), (off_t)(g->map_start + STAMP_BASE)) : -1;

    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(magic) || magic != VMCTL_STAMP_CTL_MAGIC) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                    "mapping 0x%" G_GINT64_MODIFIER "x of QEMU %d is not the guest RAM of '%s': no stamp control page at "
                    "guest-physical 0x%x",
                    g->map_start, (int)g->pid, g->name, STAMP_BASE);
        return false;
    }
    return true;
}

static bool guest_ready(Run *r, Guest *g, GError **error)
{
    g_autofree char *line = serial_wait(g, "READY ", READY_TIMEOUT_S, r->cancel, error);
    const char *path = g_str_equal(g->backend, "anonymous") ? NULL : g->backend;

    if (!line)
        return false;
    if (!vmctl_guest_line_u64(line, "pages", &g->stamped))
        g->stamped = 0;
    if (!vmctl_guest_line_u64(line, "same", &g->same))
        g->same = 0;
    return vmctl_ksm_find_mapping(g->pid, path, r->opts->memory, &g->map_start, &g->map_len, error) &&
           check_mapping(g, error);
}

static void guest_kill(Run *r, Guest *g)
{
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) ret = NULL;

    if (g->launched) {
        vmctl_json_add_str(args, "name", g->name);
        ret = vmctl_client_call(r->opts->socket_path, "kill", args, false, NULL);
        if (!ret && g->pid > 0)
            kill(g->pid, SIGKILL); /* vmctld is gone: never leave a QEMU running */
        g->launched = false;
    }
    if (g->created)
        unlink(g->created);
}

/* The pages of guest RAM that hold the identical pages: the stamped region
 * starts at guest-physical 2 MiB with one control page. */
static bool scan_same(const Guest *g, VmctlKsmScan *s, GError **error)
{
    return vmctl_ksm_scan_range(g->pid, g->map_start + STAMP_BASE + PAGE, g->same * PAGE, s, error);
}

static json_object *scan_to_json(const VmctlKsmScan *s, uint64_t start)
{
    json_object *o = json_object_new_object();
    json_object *first = json_object_new_array();

    vmctl_json_add_u64(o, "start", start);
    vmctl_json_add_u64(o, "pages", s->pages);
    vmctl_json_add_u64(o, "present", s->present);
    vmctl_json_add_u64(o, "ksm", s->ksm);
    for (unsigned i = 0; i < s->n_first; i++)
        json_object_array_add(first, json_object_new_int64((int64_t)s->first_ksm[i]));
    json_object_object_add(o, "first_ksm", first);
    return o;
}

/* ---- the run ---- */

/* PATH absolute and without symlinks, as /proc/PID/maps names it; a file
 * that does not exist yet is resolved through its directory. */
static char *resolve_path(const char *path)
{
    g_autofree char *abs = g_canonicalize_filename(path, NULL);
    g_autofree char *dir = NULL, *base = NULL, *rdir = NULL;
    char *r = realpath(abs, NULL);

    if (r)
        return r;
    dir = g_path_get_dirname(abs);
    base = g_path_get_basename(abs);
    rdir = realpath(dir, NULL);
    return rdir ? g_build_filename(rdir, base, NULL) : g_steal_pointer(&abs);
}

/* A guest on SPEC: "anonymous", a directory (a new file in it, removed at
 * the end) or a file or device used as is. */
static void add_guest(Run *r, bool positive, const char *given, unsigned k, uint64_t seed)
{
    g_autofree char *name = g_strdup_printf("ksm-check-%d-%s%u", (int)getpid(), positive ? "pos" : "neg", k);
    g_autofree char *spec = g_str_equal(given, "anonymous") ? g_strdup(given) : resolve_path(given);
    Guest *g;

    if (g_file_test(spec, G_FILE_TEST_IS_DIR)) {
        g_autofree char *file = g_strdup_printf("%s.ram", name);
        g_autofree char *path = g_build_filename(spec, file, NULL);
        g = guest_new(name, positive, path, seed);
        g->created = g_strdup(path);
    } else {
        g = guest_new(name, positive, spec, seed);
    }
    g_ptr_array_add(r->guests, g);
}

static bool holds_two(const char *spec)
{
    return g_str_equal(spec, "anonymous") || g_file_test(spec, G_FILE_TEST_IS_DIR);
}

static void add_guests(Run *r)
{
    const VmctlKsmCheckOpts *o = r->opts;
    g_autofree char *shm_dir = g_strdup("/dev/shm");
    const char *defaults[] = { shm_dir, g_get_tmp_dir(), NULL };
    char **neg = o->negative_backends && o->negative_backends[0] ? o->negative_backends : (char **)defaults;
    const char *pos = o->positive_backend ? o->positive_backend : "anonymous";
    guint n = g_strv_length(neg);

    /* different seeds: only the same pages are identical across guests */
    add_guest(r, true, pos, 1, 1);
    if (holds_two(pos))
        add_guest(r, true, pos, 2, 2);
    /* one backing that holds two guests (a directory, anonymous) gets both */
    for (guint i = 0; i < n; i++)
        add_guest(r, false, neg[i], i + 1, 11 + i);
    if (n == 1 && holds_two(neg[0]))
        add_guest(r, false, neg[0], 2, 12);
}

static bool preconditions(const VmctlKsmCheckOpts *o, GError **error)
{
    if (o->memory < 16 * MiB || o->memory > MEMORY_MAX || o->memory % (2 * MiB)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "guest memory '%" G_GUINT64_FORMAT "' must be a multiple of 2M from 16M to 2G", o->memory);
        return false;
    }
    if (o->same == 0 || o->same > 1000) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "same '%u' must be 1 to 1000 (per mille)", o->same);
        return false;
    }
    if (geteuid() != 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "the KSM check needs root (KSM knobs, /proc/kpageflags)");
        return false;
    }
    if (access("/proc/kpageflags", R_OK) != 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "cannot read '/proc/kpageflags': %s",
                    g_strerror(errno));
        return false;
    }
    return true;
}

static bool set_knobs(Run *r, GError **error)
{
    r->knobs_set = true; /* from the first write on, restore is due */
    for (size_t i = 0; i < G_N_ELEMENTS(ksm_knobs); i++)
        if (!vmctl_ksm_set(ksm_knobs[i][0], ksm_knobs[i][1], error))
            return false;
    return true;
}

/* Seconds to a tenth, printed as such ("8.3", not 8.3000000000000007). */
static json_object *seconds_json(double t)
{
    g_autofree char *txt = g_strdup_printf("%.1f", t);

    return json_object_new_double_s(round(t * 10) / 10, txt);
}

static json_object *check_new(const char *id, const char *title, const char *status, char *summary,
                              json_object *evidence)
{
    json_object *c = json_object_new_object();

    vmctl_json_add_str(c, "id", id);
    vmctl_json_add_str(c, "title", title);
    vmctl_json_add_str(c, "status", status);
    vmctl_json_add_str(c, "summary", summary);
    json_object_object_add(c, "evidence", evidence);
    g_free(summary);
    return c;
}

typedef struct {
    double t;          /* s since run=1 */
    uint64_t sharing;  /* pages_sharing */
    uint64_t scans;    /* full_scans */
} Sample;

/* Steady: pages_sharing moved less than STEADY_PERMILLE from an earlier
 * sample at least STEADY_WINDOW_S back with a whole KSM pass in between
 * (two full_scans increments), so a plateau of a starved ksmd is not taken
 * for the end of merging. */
static bool is_steady(GArray *samples)
{
    const Sample *now = &g_array_index(samples, Sample, samples->len - 1);

    for (guint j = samples->len - 1; j-- > 0;) {
        const Sample *then = &g_array_index(samples, Sample, j);
        uint64_t d = now->sharing > then->sharing ? now->sharing - then->sharing : then->sharing - now->sharing;

        if (now->t - then->t < STEADY_WINDOW_S || now->scans < then->scans + MIN_FULL_SCANS)
            continue;
        return d * 1000 < now->sharing * STEADY_PERMILLE;
    }
    return false;
}

static void G_GNUC_PRINTF(2, 3) say(Run *r, const char *fmt, ...)
{
    g_autofree char *line = NULL;
    va_list ap;

    if (!r->opts->progress)
        return;
    va_start(ap, fmt);
    line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    r->opts->progress(line, r->opts->progress_data);
}

/* Merge until pages_sharing is steady or the budget is spent; the curve
 * and the identical pages merged (scanned) at each point. */
static bool merge_phase(Run *r, json_object *ev, GError **error)
{
    json_object *sharing = vmctl_report_series_new("pages_sharing", "pages");
    json_object *merged_s = vmctl_report_series_new("identical pages merged (page scan)", "pages");
    json_object *series = json_object_new_array();
    g_autoptr(GArray) samples = g_array_new(FALSE, FALSE, sizeof(Sample));
    uint64_t t0 = vmctl_now_ns(), identical = 0, sharing0;
    g_autoptr(json_object) c0 = vmctl_ksm_counters(NULL);
    double steady_at = -1, half_at = -1, t = 0;

    json_object_array_add(series, sharing);
    json_object_array_add(series, merged_s);
    json_object_object_add(ev, "series", series);
    sharing0 = vmctl_ksm_counter(c0, "pages_sharing");
    for (guint i = 0; i < r->guests->len; i++) {
        Guest *g = r->guests->pdata[i];
        if (g->positive)
            identical += g->same;
    }
    for (;;) {
        g_autoptr(json_object) c = vmctl_ksm_counters(error);
        uint64_t now_sharing, merged = 0;

        if (!c)
            return false;
        t = (vmctl_now_ns() - t0) / 1e9;
        now_sharing = vmctl_ksm_counter(c, "pages_sharing");
        for (guint i = 0; i < r->guests->len; i++) {
            Guest *g = r->guests->pdata[i];
            VmctlKsmScan s;

            if (!g->positive)
                continue;
            if (!scan_same(g, &s, error))
                return false;
            merged += s.ksm;
        }
        vmctl_report_series_add(sharing, t, now_sharing);
        vmctl_report_series_add(merged_s, t, merged);
        say(r, "merging: %.1f s, pages_sharing %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
            " identical pages merged", t, now_sharing, merged, identical);
        {
            Sample now = { t, now_sharing, vmctl_ksm_counter(c, "full_scans") };
            g_array_append_val(samples, now);
        }
        if (half_at < 0 && merged * 2 >= identical && identical)
            half_at = t;
        if (now_sharing > sharing0 && is_steady(samples)) {
            steady_at = t;
            break;
        }
        /* past the budget the positive verdict is decided; wait on (up to
         * a cap) only for the whole passes the negative verdict needs */
        if (t >= r->opts->seconds &&
            (vmctl_ksm_counter(c, "full_scans") >= vmctl_ksm_counter(c0, "full_scans") + MIN_FULL_SCANS ||
             t >= r->opts->seconds + FULL_SCAN_WAIT_S))
            break;
        if (!wait_ms(SAMPLE_MS, r->cancel)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cancelled");
            return false;
        }
    }
    vmctl_json_add_bool(ev, "steady", steady_at >= 0);
    if (steady_at >= 0)
        json_object_object_add(ev, "steady_after_s", seconds_json(steady_at));
    if (half_at >= 0)
        json_object_object_add(ev, "half_merged_after_s", seconds_json(half_at));
    json_object_object_add(ev, "elapsed_s", seconds_json(t));
    vmctl_json_add_u64(ev, "pages_sharing_before", sharing0);
    vmctl_json_add_u64(ev, "full_scans_before", vmctl_ksm_counter(c0, "full_scans"));
    return true;
}

/* Identical pages that must be merged for the positive control: measured
 * here 15865-15869 of 15870 (99.97%) within 3-6 s of a 60 s budget; the
 * rest are pages KSM had not reached yet. 90% leaves room for a loaded
 * host and still fails a KSM that merges only part of what it should. */
#define POSITIVE_MERGED_PERCENT 90

static json_object *positive_result(Run *r, json_object *ev, json_object *counters, GError **error)
{
    json_object *guests = json_object_new_array();
    uint64_t identical = 0, merged = 0, in_ram = 0;
    bool steady = json_object_get_boolean(json_object_object_get(ev, "steady"));
    json_object *half = json_object_object_get(ev, "half_merged_after_s");

    json_object_object_add(ev, "guests", guests);
    for (guint i = 0; i < r->guests->len; i++) {
        Guest *g = r->guests->pdata[i];
        VmctlKsmScan same, ram;
        json_object *o;

        if (!g->positive)
            continue;
        if (!scan_same(g, &same, error) || !vmctl_ksm_scan_range(g->pid, g->map_start, g->map_len, &ram, error))
            return NULL;
        identical += g->same;
        merged += same.ksm;
        in_ram += ram.ksm;
        o = json_object_new_object();
        vmctl_json_add_str(o, "name", g->name);
        vmctl_json_add_i64(o, "pid", g->pid);
        vmctl_json_add_str(o, "backend", g->backend);
        vmctl_json_add_u64(o, "stamped_pages", g->stamped);
        vmctl_json_add_u64(o, "identical_pages", g->same);
        json_object_object_add(o, "identical_range", scan_to_json(&same, g->map_start + STAMP_BASE + PAGE));
        json_object_object_add(o, "guest_ram", scan_to_json(&ram, g->map_start));
        json_object_object_add(o, "ksm_stat", vmctl_ksm_process_stats(g->pid, NULL));
        json_object_array_add(guests, o);
    }
    vmctl_json_add_u64(ev, "identical_pages", identical);
    vmctl_json_add_u64(ev, "merged_pages", merged);
    vmctl_json_add_u64(ev, "ksm_pages_in_guest_ram", in_ram);
    vmctl_json_add_u64(ev, "seconds", r->opts->seconds);
    vmctl_json_add_u64(ev, "pages_shared", vmctl_ksm_counter(counters, "pages_shared"));
    vmctl_json_add_u64(ev, "pages_sharing", vmctl_ksm_counter(counters, "pages_sharing"));
    vmctl_json_add_u64(ev, "threshold_percent", POSITIVE_MERGED_PERCENT);
    if (identical && merged * 100 >= identical * POSITIVE_MERGED_PERCENT && half)
        return check_new("positive", "KSM merges identical pages of anonymous guest RAM", "PASS",
                         g_strdup_printf("%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                                         " identical pages merged (%.1f%%, threshold %d%%), half after %.1f s%s",
                                         merged, identical, 100.0 * merged / identical, POSITIVE_MERGED_PERCENT,
                                         json_object_get_double(half), steady ? "" : ", not steady"),
                         json_object_get(ev));
    return check_new("positive", "KSM merges identical pages of anonymous guest RAM", "FAIL",
                     g_strdup_printf("only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                                     " identical pages merged (%.1f%%), below the threshold of %d%% within %u s",
                                     merged, identical, identical ? 100.0 * merged / identical : 0.0,
                                     POSITIVE_MERGED_PERCENT, r->opts->seconds),
                     json_object_get(ev));
}

static json_object *negative_result(Run *r, uint64_t scans, GError **error)
{
    g_autoptr(json_object) ev = json_object_new_object();
    json_object *guests = json_object_new_array();
    g_autoptr(GString) bad = g_string_new(NULL);
    uint64_t total = 0, outside = 0;
    guint n = 0;

    json_object_object_add(ev, "guests", guests);
    for (guint i = 0; i < r->guests->len; i++) {
        Guest *g = r->guests->pdata[i];
        g_autoptr(json_object) st = NULL;
        VmctlKsmScan ram;
        uint64_t merging;
        json_object *o, *v;

        if (g->positive)
            continue;
        if (!vmctl_ksm_scan_range(g->pid, g->map_start, g->map_len, &ram, error))
            return NULL;
        st = vmctl_ksm_process_stats(g->pid, NULL);
        merging = st && (v = json_object_object_get(st, "ksm_merging_pages")) ? json_object_get_int64(v) : 0;
        n++;
        total += ram.ksm;
        outside += merging > ram.ksm ? merging - ram.ksm : 0;
        if (ram.ksm) {
            g_string_append_printf(bad, "%s%" G_GUINT64_FORMAT " in '%s' (%s, first at page", bad->len ? "; " : "",
                                   ram.ksm, g->name, g->backend);
            for (unsigned k = 0; k < MIN(ram.n_first, 3u); k++)
                g_string_append_printf(bad, " %" G_GUINT64_FORMAT, ram.first_ksm[k]);
            g_string_append(bad, ")");
        }
        o = json_object_new_object();
        vmctl_json_add_str(o, "name", g->name);
        vmctl_json_add_i64(o, "pid", g->pid);
        vmctl_json_add_str(o, "backend", g->backend);
        vmctl_json_add_str(o, "backend_kind", g->backend_kind ? g->backend_kind : "");
        vmctl_json_add_u64(o, "identical_pages", g->same);
        json_object_object_add(o, "guest_ram", scan_to_json(&ram, g->map_start));
        vmctl_json_add_u64(o, "ksm_pages_outside_guest_ram", merging > ram.ksm ? merging - ram.ksm : 0);
        json_object_object_add(o, "ksm_stat", g_steal_pointer(&st));
        json_object_array_add(guests, o);
    }
    vmctl_json_add_u64(ev, "ksm_pages_in_guest_ram", total);
    vmctl_json_add_u64(ev, "ksm_pages_outside_guest_ram", outside);
    vmctl_json_add_u64(ev, "full_scans_in_run", scans);
    if (total)
        return check_new("negative", "KSM never merges guest RAM on share=on file backings", "FAIL",
                         g_strdup_printf("%" G_GUINT64_FORMAT " KSM pages inside guest RAM: %s", total, bad->str),
                         g_steal_pointer(&ev));
    return check_new("negative", "KSM never merges guest RAM on share=on file backings", "PASS",
                     g_strdup_printf("0 KSM pages in the guest RAM of %u guests (%" G_GUINT64_FORMAT
                                     " KSM pages of QEMU outside guest RAM)",
                                     n, outside),
                     g_steal_pointer(&ev));
}

static json_object *integrity_result(Run *r, GError **error)
{
    g_autoptr(json_object) ev = json_object_new_object();
    json_object *guests = json_object_new_array();
    guint n = 0, bad = 0;
    const char *first_bad = NULL;

    json_object_object_add(ev, "guests", guests);
    for (guint i = 0; i < r->guests->len; i++) {
        Guest *g = r->guests->pdata[i];
        if (write(g->fd, "VERIFY\n", 7) != 7) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot send VERIFY to guest '%s': %s", g->name,
                        g_strerror(errno));
            return NULL;
        }
    }
    for (guint i = 0; i < r->guests->len; i++) {
        Guest *g = r->guests->pdata[i];
        json_object *o = json_object_new_object();

        g->verify = serial_wait(g, "VERIFY", VERIFY_TIMEOUT_S, r->cancel, error);
        if (!g->verify) {
            json_object_put(o);
            return NULL;
        }
        n++;
        if (!vmctl_guest_line_verify_ok(g->verify)) {
            bad++;
            first_bad = first_bad ? first_bad : g->name;
        }
        vmctl_json_add_str(o, "name", g->name);
        vmctl_json_add_str(o, "verify", g->verify);
        json_object_array_add(guests, o);
    }
    if (bad)
        return check_new("integrity", "guest pages intact under merging and copy-on-write", "FAIL",
                         g_strdup_printf("VERIFY failed on %u of %u guests (first '%s')", bad, n, first_bad),
                         g_steal_pointer(&ev));
    return check_new("integrity", "guest pages intact under merging and copy-on-write", "PASS",
                     g_strdup_printf("VERIFY ok on all %u guests", n), g_steal_pointer(&ev));
}

/* Test hook: VMCTL_KSM_CHECK_FAULT=keep-knob:NAME sets knob NAME back to
 * this run's value after the restore, so that a test sees the restore
 * verdict fail (and restores the knob itself). */
static void fault_keep_knob(void)
{
    const char *f = g_getenv("VMCTL_KSM_CHECK_FAULT");

    if (!f || !g_str_has_prefix(f, "keep-knob:"))
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(ksm_knobs); i++)
        if (g_str_equal(f + strlen("keep-knob:"), ksm_knobs[i][0]))
            vmctl_ksm_set(ksm_knobs[i][0], ksm_knobs[i][1], NULL);
}

/* Kill the guests, restore the knobs; the restore check from the diff. */
static json_object *teardown(Run *r, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(json_object) ev = json_object_new_object();
    g_autofree char *summary = NULL;
    json_object *diff;
    bool restored = true;

    for (guint i = 0; i < r->guests->len; i++)
        guest_kill(r, r->guests->pdata[i]);
    if (r->knobs_set)
        restored = vmctl_ksm_settings_restore(r->saved, &local);
    if (r->knobs_set)
        fault_keep_knob();
    diff = vmctl_ksm_settings_diff(r->saved, NULL);
    json_object_object_add(ev, "before", vmctl_ksm_settings_to_json(r->saved));
    json_object_object_add(ev, "differ", diff);
    if (!restored || json_object_array_length(diff)) {
        g_autofree char *names = g_strdup(json_object_to_json_string_ext(diff, JSON_C_TO_STRING_PLAIN));
        if (local)
            vmctl_json_add_str(ev, "error", local->message);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_CHECK_FAILED, "KSM settings %s differ from before the run%s%s",
                    names, local ? ": " : "", local ? local->message : "");
        return check_new("restore", "every KSM setting as before", "FAIL", g_strdup((*error)->message),
                         g_steal_pointer(&ev));
    }
    summary = g_strdup_printf("all %d KSM settings as before",
                              json_object_object_length(json_object_object_get(ev, "before")));
    return check_new("restore", "every KSM setting as before", "PASS", g_steal_pointer(&summary),
                     g_steal_pointer(&ev));
}

static bool run_checks(Run *r, json_object *checks, GError **error)
{
    g_autoptr(json_object) pos_ev = json_object_new_object();
    g_autoptr(json_object) counters = NULL;
    uint64_t scans;
    json_object *c;

    for (guint i = 0; i < r->guests->len; i++) {
        say(r, "launching guest %u of %u", i + 1, r->guests->len);
        if (!guest_launch(r, r->guests->pdata[i], error))
            return false;
        if (g_cancellable_is_cancelled(r->cancel))
            return false;
    }
    for (guint i = 0; i < r->guests->len; i++) {
        say(r, "waiting for guest %u of %u to stamp its memory", i + 1, r->guests->len);
        if (!guest_ready(r, r->guests->pdata[i], error))
            return false;
    }
    if (!set_knobs(r, error) || !merge_phase(r, pos_ev, error))
        return false;
    counters = vmctl_ksm_counters(error);
    if (!counters)
        return false;
    json_object_object_add(pos_ev, "counters", json_object_get(counters));
    if (!(c = positive_result(r, pos_ev, counters, error)))
        return false;
    json_object_array_add(checks, c);
    scans = vmctl_ksm_counter(counters, "full_scans") -
            (uint64_t)json_object_get_int64(json_object_object_get(pos_ev, "full_scans_before"));
    if (scans < MIN_FULL_SCANS) {
        /* without whole passes over guest RAM, "never merged" means nothing */
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                    "KSM made %" G_GUINT64_FORMAT " full scans in the run, fewer than %d: no negative verdict is possible",
                    scans, MIN_FULL_SCANS);
        return false;
    }
    say(r, "negative check: KSM pages in the guest RAM of the share=on file guests");
    if (!(c = negative_result(r, scans, error)))
        return false;
    json_object_array_add(checks, c);
    say(r, "integrity: every guest's VERIFY");
    if (!(c = integrity_result(r, error)))
        return false;
    json_object_array_add(checks, c);
    return true;
}

json_object *vmctl_ksm_check_run(const VmctlKsmCheckOpts *opts, GCancellable *cancel, GError **error)
{
    g_autoptr(json_object) report = json_object_new_object();
    json_object *checks = json_object_new_array();
    json_object *used;
    g_autoptr(GError) local = NULL, restore_err = NULL;
    Run r = { .opts = opts, .cancel = cancel };
    json_object *restore;
    bool ok, fail = false;
    guint n_launched = 0;

    json_object_object_add(report, "checks", checks);
    if (!preconditions(opts, error))
        return NULL;
    r.saved = vmctl_ksm_settings_save(error);
    if (!r.saved)
        return NULL;
    r.guests = g_ptr_array_new_with_free_func(guest_free);
    add_guests(&r);
    ok = run_checks(&r, checks, &local);
    if (g_cancellable_is_cancelled(cancel)) {
        ok = false;
        g_clear_error(&local);
    }
    for (guint i = 0; i < r.guests->len; i++)
        n_launched += ((Guest *)r.guests->pdata[i])->launched;
    say(&r, "stopping the guests, restoring the KSM settings");
    restore = teardown(&r, &restore_err);
    json_object_array_add(checks, restore);
    used = json_object_new_object();
    for (size_t i = 0; i < G_N_ELEMENTS(ksm_knobs); i++)
        vmctl_json_add_str(used, ksm_knobs[i][0], ksm_knobs[i][1]);
    json_object_object_add(report, "settings_used", used);
    json_object_object_add(report, "settings_before", vmctl_ksm_settings_to_json(r.saved));
    vmctl_ksm_settings_free(r.saved);
    g_ptr_array_unref(r.guests);
    if (!ok) {
        if (local)
            g_set_error(error, VMCTL_ERROR, local->code, "%s (%u guests killed, KSM settings %s)", local->message,
                        n_launched, restore_err ? "NOT restored" : "restored");
        else
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                        "ksm-check was interrupted: %u guests killed, KSM settings %s", n_launched,
                        restore_err ? "NOT restored" : "restored");
        if (restore_err)
            g_prefix_error(error, "%s; ", restore_err->message);
        return NULL;
    }
    for (size_t i = 0; i < json_object_array_length(checks); i++)
        if (g_strcmp0(json_object_get_string(json_object_object_get(json_object_array_get_idx(checks, i), "status")),
                      "PASS") != 0)
            fail = true;
    vmctl_json_add_str(report, "verdict", fail ? "fail" : "pass");
    return g_steal_pointer(&report);
}

int vmctl_ksm_check_exit_status(json_object *report)
{
    const char *v = report ? json_object_get_string(json_object_object_get(report, "verdict")) : NULL;

    if (!v)
        return 2;
    return g_strcmp0(v, "pass") == 0 ? 0 : 1;
}
