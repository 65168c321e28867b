/* migration_qmp.c: the QMP transport of the migration pipeline
 * (migration.h): `vmctl migrate NAME --to local`, a guest of this vmctld
 * moved to a second QEMU on this host.
 *
 * check (the guest, the options, the destination's backings: migration_dest.c)
 * -> plan (strategy auto: the dirty rate by calc-dirty-rate and the link,
 * then vmctl_migrate_plan) -> destination (QEMU with -incoming defer -S
 * from the guest's spec on the new backings) -> transfer (a chain of QMP
 * steps: capabilities and parameters on both sides, migrate-incoming on
 * the destination, migrate on the source; then a timer that asks
 * query-migrate, streams progress and switches to postcopy where the plan
 * says) -> images (the backings as they are, or pmemsave dumps) -> resume
 * (cont) -> hand-over (the guest's record now names the destination) or
 * keep (the destination removed, the source resumed). A failure is held a
 * moment while the destination may be dying, so that the error names the
 * death rather than what the source saw of it. */
#include "config.h"

#include "daemon/migration.h"

#include "daemon/guests.h"
#include "daemon/migration_dest.h"
#include "dirty_rate.h"
#include "migrate.h"
#include "qemu_cmdline.h"
#include "qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define QMP_TIMEOUT_MS 30000      /* per QMP command */
#define DUMP_TIMEOUT_MS 300000    /* pmemsave of a whole guest */
#define QMP_CONNECT_MS 10000
#define POLL_MS 250               /* query-migrate while it runs */
#define DIRTY_RATE_CALC_S 1       /* calc-dirty-rate window, seconds */
#define DST_SETTLE_POLLS 200      /* query-status polls (POLL_MS/5 each) for the destination to leave inmigrate */
#define RECOVER_POLLS 120         /* query-migrate polls for the source to leave an active migration */
#define LINK_PROBE_BYTES (64 * MiB)
#define VMCTLD_RESUME_MARKER "resume-after-migration" /* also in guests.c */
#define DUMP_MAX (2 * GiB)        /* guest-physical == RAM offset below the PCI hole up to here */
#define FAIL_GRACE_MS 1000        /* wait for a dying destination's exit to be seen */

typedef struct QmpMove QmpMove;
typedef void (*StepsDone)(QmpMove *m);

typedef struct {
    VmctlQmp *qmp;
    char *side; /* "source" or "destination" */
    char *cmd;
    json_object *args;
    guint timeout_ms;
} Step;

struct QmpMove {
    VmctldMigration *mg; /* NULL once it answered while the destination was still launching */
    VmctldCall *call;    /* the pipeline's, for events */
    json_object *proof;  /* the pipeline's */
    VmctldGuests *guests;
    char *name;
    /* options */
    VmctlMigrateStrategy strategy;
    uint64_t bandwidth, downtime_ms;
    bool verify, shared, keep_source, force;
    guint timeout_s;
    char *fault;
    VmctlMigrateFault fault_how;
    /* the source */
    VmctlQmp *src;
    json_object *src_spec;
    char *accel;
    char *backend_kind;
    bool kind_tiny;
    uint64_t memory;
    bool src_was_running;
    char *src_ram; /* host path of the RAM image, NULL: dumps */
    GPtrArray *src_nv;
    char *qemu_version;
    /* the destination */
    json_object *dst_spec;
    char *dst_run_dir;
    char *dst_ram;
    GPtrArray *dst_nv;
    GPtrArray *created; /* files the destination made, removed when it goes */
    json_object *dst_argv;
    char *dst_backend_kind;
    bool launching;  /* the destination's launcher has not exited yet */
    bool answered;   /* replied while launching: freed when the launcher exits */
    pid_t dst_pid;
    int dst_pidfd;
    guint dst_watch;
    VmctlQmp *dst;
    char *uri;
    /* the run */
    VmctlMigratePlan plan;
    bool has_plan;
    GQueue steps;
    StepsDone steps_done;
    guint timer, timeout_timer;
    unsigned polls;
    bool migrating; /* migrate was sent */
    bool postcopy_started;
    int64_t last_sync;
    uint64_t best_remaining;
    uint64_t throttle_max_pct;    /* highest cpu-throttle-percentage seen (auto-converge at work) */
    uint64_t dirty_limit_max_us;  /* highest dirty-limit-throttle-time-per-round seen (dirty-limit at work) */
    unsigned stall;
    json_object *dirty_rate;
    json_object *stats;
    GError *pending_failure; /* a failure held while the destination may be dying */
    guint fail_grace;        /* timer of that hold */
    char *src_marker; /* the source's run dir file that says "resume me" */
};

static void migration_fail(QmpMove *m, GError *error);
static void recover_poll(QmpMove *m);
static void step_free(Step *s);

static QmpMove *qmp_move_new(const char *name)
{
    QmpMove *m = g_new0(QmpMove, 1);

    m->name = g_strdup(name);
    m->dst_pidfd = -1;
    m->src_nv = g_ptr_array_new_with_free_func(g_free);
    m->dst_nv = g_ptr_array_new_with_free_func(g_free);
    m->created = g_ptr_array_new_with_free_func(g_free);
    g_queue_init(&m->steps);
    return m;
}

static void qmp_free_now(QmpMove *m)
{
    if (m->src_marker) { /* this daemon saw the end: no restart needs it */
        g_unlink(m->src_marker);
        g_free(m->src_marker);
    }
    if (m->fail_grace)
        g_source_remove(m->fail_grace);
    g_clear_error(&m->pending_failure);
    if (m->timer)
        g_source_remove(m->timer);
    if (m->timeout_timer)
        g_source_remove(m->timeout_timer);
    if (m->dst_watch)
        g_source_remove(m->dst_watch);
    if (m->dst_pidfd >= 0)
        close(m->dst_pidfd);
    if (m->dst) {
        vmctl_qmp_close(m->dst);
        vmctl_qmp_unref(m->dst);
    }
    if (m->src)
        vmctl_qmp_unref(m->src);
    g_queue_clear_full(&m->steps, (GDestroyNotify)step_free);
    if (m->has_plan)
        vmctl_migrate_plan_clear(&m->plan);
    json_object_put(m->src_spec);
    json_object_put(m->dst_spec);
    json_object_put(m->dst_argv);
    json_object_put(m->dirty_rate);
    json_object_put(m->stats);
    g_ptr_array_unref(m->src_nv);
    g_ptr_array_unref(m->dst_nv);
    g_ptr_array_unref(m->created);
    g_free(m->name);
    g_free(m->fault);
    g_free(m->accel);
    g_free(m->backend_kind);
    g_free(m->src_ram);
    g_free(m->qemu_version);
    g_free(m->dst_run_dir);
    g_free(m->dst_ram);
    g_free(m->dst_backend_kind);
    g_free(m->uri);
    g_free(m);
}

/* The pipeline is done with it; a destination still launching keeps it
 * until its launcher exits (on_dst_launcher_exit removes what it made). */
static void qmp_free(void *data)
{
    QmpMove *m = data;

    if (m->launching) {
        m->answered = true;
        m->mg = NULL;
        m->call = NULL;
        m->proof = NULL;
        return;
    }
    qmp_free_now(m);
}

/* The migration failed (or answered): nothing more of it runs. */
static bool qmp_failed(const QmpMove *m)
{
    return !m->mg || vmctld_migration_failure(m->mg);
}

static void qmp_done(QmpMove *m, json_object *result, const GError *error)
{
    if (m->src_marker) { /* this daemon saw the end: no restart needs it */
        g_unlink(m->src_marker);
        g_clear_pointer(&m->src_marker, g_free);
    }
    vmctld_migration_done(m->mg, result, error ? g_error_copy(error) : NULL);
}

static void phase(QmpMove *m, const char *name, const char *detail)
{
    vmctld_migration_phase(m->mg, name, detail);
}

/* --- QMP step chains ---------------------------------------------------- */

static void step_free(Step *s)
{
    if (!s)
        return;
    g_free(s->side);
    g_free(s->cmd);
    json_object_put(s->args);
    g_free(s);
}

static void steps_next(QmpMove *m);

static void on_step(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    QmpMove *m = user;
    Step *s = g_queue_pop_head(&m->steps);

    if (qmp_failed(m)) { /* a failure came in meanwhile: the chain is over */
        step_free(s);
        return;
    }
    if (error) {
        GError *e = g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "QMP '%s' on the %s of guest '%s' failed: %s", s->cmd,
                                s->side, m->name, error->message);
        step_free(s);
        migration_fail(m, e);
        return;
    }
    step_free(s);
    steps_next(m);
}

static void steps_next(QmpMove *m)
{
    Step *s = g_queue_peek_head(&m->steps);

    if (!s) {
        StepsDone done = m->steps_done;
        m->steps_done = NULL;
        if (done)
            done(m);
        return;
    }
    vmctl_qmp_command(s->qmp, s->cmd, s->args ? json_object_get(s->args) : NULL, s->timeout_ms, on_step, m);
}

static void step_add(QmpMove *m, bool dst, const char *cmd, json_object *args)
{
    Step *s = g_new0(Step, 1);

    s->qmp = dst ? m->dst : m->src;
    s->side = g_strdup(dst ? "destination" : "source");
    s->cmd = g_strdup(cmd);
    s->args = args;
    s->timeout_ms = strcmp(cmd, "pmemsave") == 0 ? DUMP_TIMEOUT_MS : QMP_TIMEOUT_MS;
    g_queue_push_tail(&m->steps, s);
}

static void steps_run(QmpMove *m, StepsDone done)
{
    m->steps_done = done;
    steps_next(m);
}

/* --- the destination ---------------------------------------------------- */

/* A backing file the migration made or leaves behind goes, reached through
 * the allow-list: never one outside it. */
static void remove_beneath(QmpMove *m, const char *path)
{
    g_autoptr(GError) err = NULL;

    if (!vmctld_path_unlink(vmctld_guests_allowed(m->guests), path, &err))
        g_warning("guest '%s': %s", m->name, err->message);
}

static void remove_dir(const char *dir)
{
    g_autoptr(GDir) d = dir ? g_dir_open(dir, 0, NULL) : NULL;
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, e, NULL);
        g_unlink(p);
    }
    if (dir)
        g_rmdir(dir);
}

/* Kill the destination and remove everything it made. */
static void dst_teardown(QmpMove *m)
{
    if (m->dst_watch) {
        g_source_remove(m->dst_watch);
        m->dst_watch = 0;
    }
    if (m->dst) {
        vmctl_qmp_close(m->dst);
        g_clear_pointer(&m->dst, vmctl_qmp_unref);
    }
    if (m->dst_pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, m->dst_pidfd, SIGKILL, NULL, 0);
        close(m->dst_pidfd);
        m->dst_pidfd = -1;
    } else if (m->dst_pid > 0) {
        kill(m->dst_pid, SIGKILL);
    }
    for (guint i = 0; i < m->created->len; i++)
        remove_beneath(m, m->created->pdata[i]);
    remove_dir(m->dst_run_dir);
}

static char *dst_log_tail(const QmpMove *m)
{
    g_autofree char *path = g_build_filename(m->dst_run_dir, "qemu.log", NULL);
    g_autofree char *text = NULL;
    char *nl;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    g_strchomp(text);
    nl = strrchr(text, '\n');
    return g_strdup(nl ? nl + 1 : text);
}

static gboolean on_dst_exit(gint fd, GIOCondition cond, gpointer user)
{
    QmpMove *m = user;
    g_autofree char *last = dst_log_tail(m);

    m->dst_watch = 0;
    /* the destination's death is the reason, not what the source saw of it */
    if (m->fail_grace) {
        g_source_remove(m->fail_grace);
        m->fail_grace = 0;
        g_clear_error(&m->pending_failure);
    }
    migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED,
                                  "the destination QEMU of guest '%s' died during the migration%s%s", m->name,
                                  *last ? ": " : "", last));
    return G_SOURCE_REMOVE;
}

static void after_migrate_sent(QmpMove *m);
static gboolean on_poll(gpointer user);

/* Every capability this module manages is set, on or off: they stay set
 * in a QEMU from one migration to the next. */
static json_object *caps_args(QmpMove *m, bool dst)
{
    json_object *caps = json_object_new_array();
    json_object *a = json_object_new_object();
    const struct {
        const char *name;
        bool on;
    } want[] = {
        { "postcopy-ram", m->plan.postcopy },
        { "multifd", m->plan.multifd_channels > 0 },
        { "x-ignore-shared", m->plan.ignore_shared },
        { "auto-converge", !dst && m->plan.auto_converge },
        { "dirty-limit", !dst && m->plan.dirty_limit },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        json_object *c;

        if (!vmctl_qmp_has_migrate_capability(dst ? m->dst : m->src, want[i].name))
            continue;
        c = json_object_new_object();
        vmctl_json_add_str(c, "capability", want[i].name);
        vmctl_json_add_bool(c, "state", want[i].on);
        json_object_array_add(caps, c);
    }
    json_object_object_add(a, "capabilities", caps);
    return a;
}

/* A source that ran is paused by the migration's end. Should vmctld die
 * before the hand-over, the destination is removed at its restart and the
 * source must run again: a file in the source's run dir says so
 * (VMCTLD_RESUME_MARKER, read by vmctld_guests_reattach's QMP status
 * check); it goes when this daemon sees the migration end. */
static void mark_source(QmpMove *m)
{
    g_autoptr(json_object) info = NULL;
    const char *dir;

    if (!m->src_was_running || m->src_marker)
        return;
    info = vmctld_guests_info(m->guests, m->name, NULL);
    dir = info ? json_object_get_string(json_object_object_get(info, "run_dir")) : NULL;
    if (!dir)
        return;
    m->src_marker = g_build_filename(dir, VMCTLD_RESUME_MARKER, NULL);
    if (!g_file_set_contents(m->src_marker, "running\n", -1, NULL))
        g_clear_pointer(&m->src_marker, g_free);
}

/* --shared: the source must not drop the pages of a backing the
 * destination now maps (discard-data punches the file's pages out when the
 * source QEMU exits). The memory-backend objects are the destination's,
 * whose argv names the same files. */
static void keep_shared_data(QmpMove *m)
{
    for (size_t i = 0; m->dst_argv && i + 1 < json_object_array_length(m->dst_argv); i++) {
        const char *opt = json_object_get_string(json_object_array_get_idx(m->dst_argv, i));
        const char *val = json_object_get_string(json_object_array_get_idx(m->dst_argv, i + 1));
        json_object *o, *dd;
        json_object *a;

        if (g_strcmp0(opt, "-object") != 0 || !val || val[0] != '{')
            continue;
        o = json_tokener_parse(val);
        if (o && json_object_object_get_ex(o, "discard-data", &dd) && json_object_get_boolean(dd)) {
            g_autofree char *path = g_strdup_printf("/objects/%s", json_object_get_string(json_object_object_get(o, "id")));

            a = json_object_new_object();
            vmctl_json_add_str(a, "path", path);
            vmctl_json_add_str(a, "property", "discard-data");
            vmctl_json_add_bool(a, "value", false);
            step_add(m, false, "qom-set", a);
        }
        json_object_put(o);
    }
}

static void on_dst_connected(VmctlQmp *qmp, const GError *error, gpointer user)
{
    QmpMove *m = user;

    if (qmp_failed(m))
        return;
    if (error) {
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot reach the destination QEMU of guest '%s': %s",
                                      m->name, error->message));
        return;
    }
    vmctld_migration_next(m->mg);
}

/* The transfer: capabilities and parameters on both sides, then migrate;
 * progress polled until completed (verify_start) */
static void qmp_transfer(QmpMove *m)
{
    json_object *a;

    phase(m, "migrate", m->uri);
    mark_source(m);
    step_add(m, true, "migrate-set-capabilities", caps_args(m, true));
    if (m->plan.multifd_channels) {
        a = json_object_new_object();
        vmctl_json_add_u64(a, "multifd-channels", m->plan.multifd_channels);
        step_add(m, true, "migrate-set-parameters", a);
    }
    a = json_object_new_object();
    vmctl_json_add_str(a, "uri", m->uri);
    step_add(m, true, "migrate-incoming", a);
    step_add(m, false, "migrate-set-capabilities", caps_args(m, false));
    if (m->shared)
        keep_shared_data(m);
    /* parameters also stay from an earlier migration: "QEMU's default" is
     * set as such */
    a = json_object_new_object();
    vmctl_json_add_u64(a, "max-bandwidth", m->plan.max_bandwidth ? m->plan.max_bandwidth : VMCTL_MIGRATE_QEMU_BANDWIDTH);
    vmctl_json_add_u64(a, "downtime-limit", m->plan.downtime_ms ? m->plan.downtime_ms : VMCTL_MIGRATE_QEMU_DOWNTIME);
    if (m->plan.multifd_channels)
        vmctl_json_add_u64(a, "multifd-channels", m->plan.multifd_channels);
    if (m->plan.dirty_limit)
        vmctl_json_add_u64(a, "vcpu-dirty-limit", m->plan.vcpu_dirty_limit);
    step_add(m, false, "migrate-set-parameters", a);
    a = json_object_new_object();
    vmctl_json_add_str(a, "uri", m->uri);
    step_add(m, false, "migrate", a);
    steps_run(m, after_migrate_sent);
}

static void on_dst_launcher_exit(GPid pid, gint status, gpointer user)
{
    QmpMove *m = user;
    g_autofree char *pidfile = g_build_filename(m->dst_run_dir, "qemu.pid", NULL);
    g_autofree char *qmp = g_build_filename(m->dst_run_dir, "qmp.sock", NULL);
    g_autoptr(GError) err = NULL;
    uint64_t v;

    g_spawn_close_pid(pid);
    m->launching = false;
    if (qmp_failed(m) || m->answered) {
        /* the migration ended meanwhile; it may have come up after all */
        if (vmctl_read_u64(pidfile, &v, NULL))
            m->dst_pid = (pid_t)v;
        dst_teardown(m);
        if (m->answered)
            qmp_free_now(m);
        return;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_autofree char *last = dst_log_tail(m);
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED,
                                      "the destination QEMU of guest '%s' did not start: %s", m->name,
                                      *last ? last : "no message"));
        return;
    }
    if (!vmctl_read_u64(pidfile, &v, &err)) {
        migration_fail(m, g_steal_pointer(&err));
        return;
    }
    m->dst_pid = (pid_t)v;
    m->dst_pidfd = (int)syscall(SYS_pidfd_open, m->dst_pid, 0);
    if (m->dst_pidfd < 0) {
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot watch the destination QEMU pid %d: %s",
                                      (int)m->dst_pid, g_strerror(errno)));
        return;
    }
    m->dst_watch = g_unix_fd_add(m->dst_pidfd, G_IO_IN, on_dst_exit, m);
    {
        json_object *d = json_object_new_object();
        vmctl_json_add_i64(d, "pid", m->dst_pid);
        vmctl_json_add_str(d, "run_dir", m->dst_run_dir);
        vmctld_call_event(m->call, "migration-destination", d);
    }
    m->dst = vmctl_qmp_new(NULL);
    vmctl_qmp_connect_async(m->dst, qmp, QMP_CONNECT_MS, on_dst_connected, m);
}

static void dst_launch(QmpMove *m)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) base = NULL;
    g_auto(GStrv) argv = NULL;
    g_autofree char *log_path = NULL;
    VmctldPassFds pass = { 0 };
    GPid launcher;
    int logfd;

    phase(m, "destination", "starting QEMU with -incoming defer -S");
    for (unsigned n = 1;; n++) {
        g_autofree char *p = g_strdup_printf("%s/%s.dst-%u", vmctld_guests_run_root(m->guests), m->name, n);
        if (!g_file_test(p, G_FILE_TEST_EXISTS)) {
            m->dst_run_dir = g_steal_pointer(&p);
            break;
        }
    }
    m->uri = g_strdup_printf("unix:%s/mig.sock", m->dst_run_dir);
    vmctld_pass_fds_init(&pass);
    base = vmctld_guests_qemu_argv(m->guests, m->dst_spec, m->accel, m->dst_run_dir, &m->dst_backend_kind, &pass,
                                   &err);
    /* the destination's new files are the migration's: removed with it */
    for (guint i = 0; i < pass.created->len; i++)
        if (!g_ptr_array_find_with_equal_func(m->created, pass.created->pdata[i], g_str_equal, NULL))
            g_ptr_array_add(m->created, g_strdup(pass.created->pdata[i]));
    if (!base) {
        vmctld_pass_fds_clear(&pass, NULL);
        migration_fail(m, g_steal_pointer(&err));
        return;
    }
    argv = vmctl_qemu_cmdline_incoming((const char *const *)base);
    m->dst_argv = json_object_new_array();
    for (size_t i = 0; argv[i]; i++)
        json_object_array_add(m->dst_argv, json_object_new_string(argv[i]));
    if (g_mkdir_with_parents(m->dst_run_dir, 0700) < 0) {
        vmctld_pass_fds_clear(&pass, NULL);
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create '%s': %s", m->dst_run_dir,
                                      g_strerror(errno)));
        return;
    }
    log_path = g_build_filename(m->dst_run_dir, "qemu.log", NULL);
    logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0) {
        vmctld_pass_fds_clear(&pass, NULL);
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create '%s': %s", log_path,
                                      g_strerror(errno)));
        return;
    }
    if (!vmctld_qemu_spawn(argv, logfd, &pass, &launcher, &err)) {
        close(logfd);
        vmctld_pass_fds_clear(&pass, NULL);
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot run the destination QEMU: %s",
                                      err->message));
        return;
    }
    close(logfd);
    vmctld_pass_fds_clear(&pass, NULL);
    m->launching = true;
    g_child_watch_add(launcher, on_dst_launcher_exit, m);
}

/* --- strategy ------------------------------------------------------------ */

static bool backing_serves_postcopy(const char *kind)
{
    return g_strcmp0(kind, "anonymous") == 0 || g_strcmp0(kind, "memfd") == 0 || g_strcmp0(kind, "tmpfs") == 0 ||
           g_strcmp0(kind, "hugetlbfs") == 0;
}

/* What the plan needs measured: the guest's dirty rate (-1: not measured)
 * and, for strategy auto, the link (an offload's data). */
typedef struct {
    double dirty_pages_per_s;
    double link_bytes_per_s;
} PlanMeasures;

static void plan_with(QmpMove *m, const PlanMeasures *pm)
{
    g_autoptr(GError) err = NULL;
    VmctlMigrateInputs in = { 0 };

    in.strategy = m->strategy;
    in.ram_bytes = m->memory;
    in.dirty_pages_per_s = pm->dirty_pages_per_s;
    in.bandwidth = m->bandwidth;
    in.downtime_ms = m->downtime_ms;
    in.cpus = g_get_num_processors();
    in.postcopy_backing_ok = backing_serves_postcopy(m->backend_kind) && !m->src_nv->len;
    in.has_multifd = vmctl_qmp_has_migrate_capability(m->src, "multifd");
    in.has_postcopy = vmctl_qmp_has_migrate_capability(m->src, "postcopy-ram");
    in.has_auto_converge = vmctl_qmp_has_migrate_capability(m->src, "auto-converge");
    in.has_ignore_shared = vmctl_qmp_has_migrate_capability(m->src, "x-ignore-shared");
    in.has_dirty_limit = vmctl_qmp_has_migrate_capability(m->src, "dirty-limit");
    in.dirty_ring = g_strcmp0(m->accel, "kvm") == 0 &&
                    json_object_get_int64(json_object_object_get(m->src_spec, "dirty-ring")) > 0;
    in.shared = m->shared;
    if (m->strategy == VMCTL_MIGRATE_AUTO) {
        in.link_bytes_per_s = pm->link_bytes_per_s;
        in.link_how = "Unix socket on this host, bounded by the measured memcpy throughput";
    }
    if (!vmctl_migrate_plan(&in, &m->plan, &err)) {
        migration_fail(m, g_steal_pointer(&err));
        return;
    }
    m->has_plan = true;
    {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "decisions", json_object_get(m->plan.decisions));
        vmctld_call_event(m->call, "migration-plan", d);
    }
    vmctld_migration_next(m->mg);
}

/* a Unix socket between two processes of this host: memory copies on both
 * ends, so memcpy throughput is its upper bound (LINK_PROBE_BYTES copied) */
static void link_probe_run(void *data)
{
    PlanMeasures *pm = data;

    pm->link_bytes_per_s = vmctl_migrate_measure_memcpy(LINK_PROBE_BYTES);
}

static void link_probe_done(VmctldMigration *mg, void *data)
{
    plan_with(vmctld_migration_data(mg), data);
}

static void plan_with_rate(QmpMove *m, double dirty_pages_per_s)
{
    PlanMeasures *pm = g_new0(PlanMeasures, 1);

    pm->dirty_pages_per_s = dirty_pages_per_s;
    if (m->strategy == VMCTL_MIGRATE_AUTO) {
        vmctld_migration_offload(m->mg, link_probe_run, link_probe_done, pm, g_free);
        return;
    }
    plan_with(m, pm);
    g_free(pm);
}

static void on_dirty_rate(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user);

static gboolean ask_dirty_rate(gpointer user)
{
    QmpMove *m = user;

    m->timer = 0;
    vmctl_qmp_command(m->src, "query-dirty-rate", NULL, QMP_TIMEOUT_MS, on_dirty_rate, m);
    return G_SOURCE_REMOVE;
}

static void on_dirty_rate(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    QmpMove *m = user;
    const char *status = ret ? json_object_get_string(json_object_object_get(ret, "status")) : NULL;
    json_object *rate = ret ? json_object_object_get(ret, "dirty-rate") : NULL;
    double pages = -1;

    if (qmp_failed(m))
        return;
    if (!error && g_strcmp0(status, "measuring") == 0 && m->polls++ < 40) {
        m->timer = g_timeout_add(POLL_MS, ask_dirty_rate, m);
        return;
    }
    if (!error && rate) {
        /* QEMU gives MiB/s of dirtied 4 KiB pages */
        pages = (double)json_object_get_int64(rate) * (double)MiB / VMCTL_MIGRATE_PAGE;
        vmctl_json_add_double(m->dirty_rate, "pages_per_s", pages);
        vmctl_json_add_i64(m->dirty_rate, "mib_per_s", json_object_get_int64(rate));
    } else {
        vmctl_json_add_str(m->dirty_rate, "error", error ? error->message : "not measured");
    }
    plan_with_rate(m, pages);
}

static void on_calc_dirty_rate(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    QmpMove *m = user;

    if (qmp_failed(m))
        return;
    if (error) {
        vmctl_json_add_str(m->dirty_rate, "error", error->message);
        plan_with_rate(m, -1);
        return;
    }
    m->polls = 0;
    m->timer = g_timeout_add(DIRTY_RATE_CALC_S * 1000 + POLL_MS, ask_dirty_rate, m);
}

static void measure_dirty_rate(QmpMove *m)
{
    struct vmctl_version v = { 0 };
    bool kvm = g_strcmp0(m->accel, "kvm") == 0;
    json_object *ring = json_object_object_get(m->src_spec, "dirty-ring");
    const char *why;
    const char *mode;
    json_object *a = json_object_new_object();
    int maj, min, mic;

    if (vmctl_qmp_version(m->src, &maj, &min, &mic))
        v = (struct vmctl_version){ maj, min, mic };
    mode = vmctl_migrate_dirty_rate_mode(kvm, ring && json_object_get_int64(ring) > 0, &v, &why);
    m->dirty_rate = json_object_new_object();
    vmctl_json_add_str(m->dirty_rate, "mode", mode);
    vmctl_json_add_str(m->dirty_rate, "why", why);
    vmctl_json_add_u64(m->dirty_rate, "calc_time_s", DIRTY_RATE_CALC_S);
    phase(m, "dirty-rate", mode);
    vmctl_json_add_i64(a, "calc-time", DIRTY_RATE_CALC_S);
    vmctl_json_add_str(a, "mode", mode);
    if (strcmp(mode, "page-sampling") == 0) {
        vmctl_json_add_i64(a, "sample-pages", VMCTL_DIRTY_RATE_SAMPLE_PAGES);
        vmctl_json_add_u64(m->dirty_rate, "sample_pages", VMCTL_DIRTY_RATE_SAMPLE_PAGES);
    }
    vmctl_qmp_command(m->src, "calc-dirty-rate", a, QMP_TIMEOUT_MS, on_calc_dirty_rate, m);
}

/* --- progress -------------------------------------------------------------- */

static uint64_t jget_u64(json_object *o, const char *a, const char *b)
{
    json_object *x = a ? json_object_object_get(o, a) : o;
    json_object *y = x ? json_object_object_get(x, b) : NULL;

    return y ? (uint64_t)json_object_get_int64(y) : 0;
}

static json_object *progress_json(QmpMove *m, json_object *ret)
{
    json_object *d = json_object_new_object();

    vmctl_json_add_str(d, "status", json_object_get_string(json_object_object_get(ret, "status")));
    vmctl_json_add_u64(d, "transferred", jget_u64(ret, "ram", "transferred"));
    vmctl_json_add_u64(d, "remaining", jget_u64(ret, "ram", "remaining"));
    vmctl_json_add_u64(d, "total", jget_u64(ret, "ram", "total"));
    vmctl_json_add_u64(d, "dirty_pages_rate", jget_u64(ret, "ram", "dirty-pages-rate"));
    vmctl_json_add_u64(d, "iteration", jget_u64(ret, "ram", "dirty-sync-count"));
    vmctl_json_add_u64(d, "mbps", (uint64_t)json_object_get_double(json_object_object_get(json_object_object_get(ret, "ram"), "mbps")));
    vmctl_json_add_u64(d, "expected_downtime_ms", jget_u64(ret, NULL, "expected-downtime"));
    /* QEMU reports these only while its throttle holds the guest back */
    vmctl_json_add_u64(d, "cpu_throttle_percentage", jget_u64(ret, NULL, "cpu-throttle-percentage"));
    vmctl_json_add_u64(d, "dirty_limit_throttle_us", jget_u64(ret, NULL, "dirty-limit-throttle-time-per-round"));
    vmctl_json_add_u64(d, "elapsed_ms", vmctld_migration_elapsed_ms(m->mg));
    return d;
}

static void verify_start(QmpMove *m);
static void hand_over(QmpMove *m);

/* Postcopy as the way out of a precopy that stopped converging. */
static void check_stall(QmpMove *m, json_object *ret)
{
    int64_t sync = (int64_t)jget_u64(ret, "ram", "dirty-sync-count");
    uint64_t remaining = jget_u64(ret, "ram", "remaining");
    g_autofree char *why = NULL;

    if (!m->plan.postcopy || m->postcopy_started || sync == m->last_sync)
        return;
    m->last_sync = sync;
    if (sync < 2)
        return;
    if (m->plan.postcopy_now) {
        why = g_strdup("strategy postcopy: the first precopy pass is done");
    } else {
        if (m->best_remaining == 0 || remaining < m->best_remaining) {
            m->best_remaining = remaining;
            m->stall = 0;
            return;
        }
        if (++m->stall < m->plan.stall_iterations)
            return;
        why = g_strdup_printf("precopy stopped converging: remaining %" G_GUINT64_FORMAT
                              " bytes did not shrink over %u dirty syncs",
                              m->best_remaining, m->stall);
    }
    m->postcopy_started = true;
    vmctl_migrate_decision(m->plan.decisions, "migrate-start-postcopy", json_object_new_int64(sync), why);
    phase(m, "postcopy", why);
    vmctl_qmp_command(m->src, "migrate-start-postcopy", NULL, QMP_TIMEOUT_MS, NULL, NULL);
}

static void on_query_migrate(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    QmpMove *m = user;
    const char *status;

    if (qmp_failed(m))
        return;
    if (error) {
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "query-migrate on the source of guest '%s' failed: %s",
                                      m->name, error->message));
        return;
    }
    status = json_object_get_string(json_object_object_get(ret, "status"));
    json_object_put(m->stats);
    m->stats = json_object_get(ret);
    m->throttle_max_pct = MAX(m->throttle_max_pct, jget_u64(ret, NULL, "cpu-throttle-percentage"));
    m->dirty_limit_max_us = MAX(m->dirty_limit_max_us, jget_u64(ret, NULL, "dirty-limit-throttle-time-per-round"));
    vmctld_call_event(m->call, "migration-progress", progress_json(m, ret));
    if (g_strcmp0(status, "completed") == 0) {
        if (m->timeout_timer) {
            g_source_remove(m->timeout_timer);
            m->timeout_timer = 0;
        }
        verify_start(m); /* also without --verify: the destination waits (-S) for its cont */
        return;
    }
    if (g_strcmp0(status, "failed") == 0 || g_strcmp0(status, "cancelled") == 0) {
        const char *desc = json_object_get_string(json_object_object_get(ret, "error-desc"));
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "migration of guest '%s' %s%s%s", m->name, status,
                                      desc ? ": " : "", desc ? desc : ""));
        return;
    }
    check_stall(m, ret);
    m->timer = g_timeout_add(POLL_MS, on_poll, m);
}

static gboolean on_poll(gpointer user)
{
    QmpMove *m = user;

    m->timer = 0;
    if (vmctld_call_peer_gone(m->call)) {
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED,
                                      "migration of guest '%s' cancelled: the client went away", m->name));
        return G_SOURCE_REMOVE;
    }
    vmctl_qmp_command(m->src, "query-migrate", NULL, QMP_TIMEOUT_MS, on_query_migrate, m);
    return G_SOURCE_REMOVE;
}

static gboolean on_timeout(gpointer user)
{
    QmpMove *m = user;

    m->timeout_timer = 0;
    migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "migration of guest '%s' did not complete within %u s",
                                  m->name, m->timeout_s));
    return G_SOURCE_REMOVE;
}

static void after_migrate_sent(QmpMove *m)
{
    m->migrating = true;
    if (m->timeout_s)
        m->timeout_timer = g_timeout_add_seconds(m->timeout_s, on_timeout, m);
    m->timer = g_timeout_add(POLL_MS, on_poll, m);
}

/* --- the QMP transport: the end of the transfer, images, resume ------------ */

static void qmp_images_ready(QmpMove *m, bool dumps)
{
    VmctldMigrationImages img = { .dumps = dumps };

    img.blocks = g_ptr_array_new_with_free_func((GDestroyNotify)vmctl_migrate_block_free);
    img.src_ram = dumps ? g_build_filename(m->dst_run_dir, "source.ram.dump", NULL) : g_strdup(m->src_ram);
    img.dst_ram = dumps ? g_build_filename(m->dst_run_dir, "destination.ram.dump", NULL) : g_strdup(m->dst_ram);
    img.how = m->shared  ? "one shared backing file (x-ignore-shared): not compared with itself"
              : !dumps ? "backing files and devices (share=on)"
                       : "pmemsave dumps of guest-physical RAM";
    /* one shared file is both sides' RAM: comparing it with itself would
     * prove nothing, so RAM is not compared (stamps and VERIFY still run) */
    if (!m->shared)
        g_ptr_array_add(img.blocks, vmctl_migrate_block_new("pc.ram", img.src_ram, 0, img.dst_ram, 0, m->memory));
    for (guint i = 0; !m->shared && i < m->src_nv->len; i++) {
        g_autofree char *name = g_strdup_printf("nvdimm%u", i);
        json_object *d = json_object_array_get_idx(json_object_object_get(m->src_spec, "nvdimm"), i);

        /* the device's size as the guest sees it (a device-dax has no file size) */
        g_ptr_array_add(img.blocks, vmctl_migrate_block_new(name, m->src_nv->pdata[i], 0, m->dst_nv->pdata[i], 0,
                                                          (uint64_t)json_object_get_int64(json_object_object_get(d, "size"))));
    }
    vmctld_migration_compare(m->mg, &img);
}

static void after_dumps(QmpMove *m)
{
    qmp_images_ready(m, true);
}

/* The backing files and devices as they are, or dumps of guest RAM. */
static void qmp_images(QmpMove *m)
{
    if (m->src_ram && m->dst_ram) {
        qmp_images_ready(m, false);
        return;
    }
    if (m->memory > DUMP_MAX) {
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                                      "guest '%s' has %" G_GUINT64_FORMAT " bytes of RAM without a host file: dumps cover at most 2 GiB (RAM above the PCI hole)",
                                      m->name, m->memory));
        return;
    }
    phase(m, "dump", "pmemsave of guest-physical RAM on both sides");
    for (int dst = 0; dst < 2; dst++) {
        json_object *a = json_object_new_object();
        g_autofree char *f = g_build_filename(m->dst_run_dir, dst ? "destination.ram.dump" : "source.ram.dump", NULL);
        vmctl_json_add_u64(a, "val", 0);
        vmctl_json_add_u64(a, "size", m->memory);
        vmctl_json_add_str(a, "filename", f);
        step_add(m, dst, "pmemsave", a);
    }
    steps_run(m, after_dumps);
}

static void after_cont_dst(QmpMove *m)
{
    vmctld_migration_next(m->mg);
}

static void qmp_resume(QmpMove *m)
{
    step_add(m, true, "cont", NULL);
    steps_run(m, after_cont_dst);
}

static char *qmp_console(QmpMove *m)
{
    return g_build_filename(m->dst_run_dir, "serial.sock", NULL);
}

static void on_dst_status(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user);

static gboolean ask_dst_status(gpointer user)
{
    QmpMove *m = user;

    m->timer = 0;
    vmctl_qmp_command(m->dst, "query-status", NULL, QMP_TIMEOUT_MS, on_dst_status, m);
    return G_SOURCE_REMOVE;
}

/* The transfer ends when the destination has left inmigrate. */
static void on_dst_status(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    QmpMove *m = user;
    const char *st = ret ? json_object_get_string(json_object_object_get(ret, "status")) : NULL;

    if (qmp_failed(m))
        return;
    if (error) {
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "query-status on the destination failed: %s",
                                      error->message));
        return;
    }
    if (g_strcmp0(st, "inmigrate") == 0 || g_strcmp0(st, "postmigrate") == 0 || g_strcmp0(st, "finish-migrate") == 0) {
        if (m->polls++ > DST_SETTLE_POLLS) {
            migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED,
                                          "the destination of guest '%s' is still '%s' after the source completed",
                                          m->name, st));
            return;
        }
        m->timer = g_timeout_add(POLL_MS / 5, ask_dst_status, m);
        return;
    }
    vmctl_json_add_str(m->proof, "destination_status", st);
    vmctld_migration_next(m->mg);
}

static void verify_start(QmpMove *m)
{
    /* test-only: a window after completion in which a test can kill vmctld */
    const char *hold = g_getenv("VMCTL_MIGRATE_HOLD_MS");

    /* both stay paused: the source in postmigrate, the destination by -S */
    phase(m, "completed", "source and destination paused for the compare");
    vmctld_migration_completed(m->mg);
    m->polls = 0;
    if (hold && atoi(hold) > 0) {
        m->timer = g_timeout_add((guint)atoi(hold), ask_dst_status, m);
        return;
    }
    ask_dst_status(m);
}

/* The QMP transport's members of the result: the plan, what it measured,
 * QEMU's figures. */
static void qmp_result(QmpMove *m, json_object *r)
{
    vmctl_json_add_bool(r, "shared", m->shared);
    if (m->has_plan)
        json_object_object_add(r, "decisions", json_object_get(m->plan.decisions));
    if (m->dirty_rate)
        json_object_object_add(r, "dirty_rate", json_object_get(m->dirty_rate));
    if (m->stats) {
        json_object *s = json_object_new_object();
        vmctl_json_add_u64(s, "total_time_ms", jget_u64(m->stats, NULL, "total-time"));
        vmctl_json_add_u64(s, "downtime_ms", jget_u64(m->stats, NULL, "downtime"));
        vmctl_json_add_u64(s, "setup_time_ms", jget_u64(m->stats, NULL, "setup-time"));
        vmctl_json_add_u64(s, "transferred", jget_u64(m->stats, "ram", "transferred"));
        vmctl_json_add_u64(s, "iterations", jget_u64(m->stats, "ram", "dirty-sync-count"));
        vmctl_json_add_u64(s, "postcopy_requests", jget_u64(m->stats, "ram", "postcopy-requests"));
        vmctl_json_add_bool(s, "postcopy", m->postcopy_started);
        /* what the throttle did, as the progress polls saw it: 0 when it never held the guest back */
        vmctl_json_add_u64(s, "cpu_throttle_max_percent", m->throttle_max_pct);
        vmctl_json_add_u64(s, "dirty_limit_throttle_max_us", m->dirty_limit_max_us);
        json_object_object_add(r, "stats", s);
    }
    if (m->stats && m->has_plan && !m->postcopy_started) {
        /* precopy's downtime against what the plan promised (postcopy's
         * pause is QEMU's "downtime" too, but no limit governs it) */
        json_object_object_add(r, "downtime_promise",
                               vmctl_migrate_downtime_promise(&m->plan, jget_u64(m->stats, NULL, "downtime")));
    }
}

/* The record speaks to the destination now: the old backings go, and the
 * caller hears the result only after this, so that its next command finds
 * the guest ready. */
static void on_handed(gpointer user, const GError *error)
{
    QmpMove *m = user;
    json_object *r;

    if (!m->keep_source && !m->shared) { /* files go, a device stays */
        if (m->src_ram && g_file_test(m->src_ram, G_FILE_TEST_IS_REGULAR))
            remove_beneath(m, m->src_ram);
        for (guint i = 0; i < m->src_nv->len; i++)
            if (g_file_test(m->src_nv->pdata[i], G_FILE_TEST_IS_REGULAR))
                remove_beneath(m, m->src_nv->pdata[i]);
    }
    if (error) {
        g_autoptr(GError) e = g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED,
                                          "guest '%s' was handed over to QEMU pid %d but its QMP is unreachable: %s",
                                          m->name, (int)m->dst_pid, error->message);
        qmp_done(m, NULL, e);
        return;
    }
    r = vmctld_migration_result(m->mg);
    vmctl_json_add_i64(r, "pid", m->dst_pid);
    vmctl_json_add_str(r, "run_dir", m->dst_run_dir);
    vmctl_json_add_str(r, "backend", json_object_get_string(json_object_object_get(m->dst_spec, "backend")));
    vmctl_json_add_bool(r, "source_backing_kept", m->keep_source || m->shared);
    qmp_done(m, r, NULL);
}

/* The name goes to the destination: after a PASS, or without the proof
 * (--no-verify), which the verdict then says. */
static void hand_over(QmpMove *m)
{
    g_autoptr(GError) err = NULL;


    if (m->dst_watch) {
        g_source_remove(m->dst_watch);
        m->dst_watch = 0;
    }
    if (m->dst) { /* QEMU serves one QMP client: the guest record takes it */
        vmctl_qmp_close(m->dst);
        g_clear_pointer(&m->dst, vmctl_qmp_unref);
    }
    if (m->dst_pidfd >= 0) {
        close(m->dst_pidfd);
        m->dst_pidfd = -1;
    }
    phase(m, "hand-over", "the guest's name goes to the destination");
    if (!vmctld_guests_hand_over(m->guests, m->name, m->dst_spec, m->dst_run_dir, m->dst_pid, m->dst_argv,
                                 m->dst_backend_kind, on_handed, m, &err))
        qmp_done(m, NULL, err);
}

/* The source goes on: resume it if the migration paused it. */
static void on_src_status(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    QmpMove *m = user;
    json_object *running = ret ? json_object_object_get(ret, "running") : NULL;

    if (!error && m->src_was_running && running && !json_object_get_boolean(running)) {
        phase(m, "resume-source", json_object_get_string(json_object_object_get(ret, "status")));
        vmctl_qmp_command(m->src, "cont", NULL, QMP_TIMEOUT_MS, NULL, NULL);
    }
    if (qmp_failed(m)) {
        qmp_done(m, NULL, vmctld_migration_failure(m->mg));
    } else {
        json_object *r = vmctld_migration_result(m->mg);
        vmctl_json_add_str(r, "kept", "source: the destination was removed and the source resumed");
        qmp_done(m, r, NULL);
    }
}

static gboolean on_recover_timer(gpointer user)
{
    recover_poll(user);
    return G_SOURCE_REMOVE;
}

static void on_recover_query(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    QmpMove *m = user;
    const char *st = ret ? json_object_get_string(json_object_object_get(ret, "status")) : NULL;

    if (!error && st &&
        (strcmp(st, "active") == 0 || strcmp(st, "cancelling") == 0 || strcmp(st, "setup") == 0 ||
         strcmp(st, "device") == 0 || strcmp(st, "pre-switchover") == 0 || strcmp(st, "wait-unplug") == 0) &&
        m->polls++ < RECOVER_POLLS) {
        m->timer = g_timeout_add(POLL_MS, on_recover_timer, m);
        return;
    }
    vmctl_qmp_command(m->src, "query-status", NULL, QMP_TIMEOUT_MS, on_src_status, m);
}

static void recover_poll(QmpMove *m)
{
    m->timer = 0;
    vmctl_qmp_command(m->src, "query-migrate", NULL, QMP_TIMEOUT_MS, on_recover_query, m);
}

/* Not handed over: the destination goes, the source stays and runs. */
static void keep_source(QmpMove *m)
{
    if (m->timer) {
        g_source_remove(m->timer);
        m->timer = 0;
    }
    if (m->timeout_timer) {
        g_source_remove(m->timeout_timer);
        m->timeout_timer = 0;
    }
    if (m->migrating)
        vmctl_qmp_command(m->src, "migrate_cancel", NULL, QMP_TIMEOUT_MS, NULL, NULL);
    dst_teardown(m);
    m->polls = 0;
    if (m->migrating)
        recover_poll(m);
    else
        vmctl_qmp_command(m->src, "query-status", NULL, QMP_TIMEOUT_MS, on_src_status, m);
}

/* The QMP transport's way out without a hand-over: after a FAIL verdict
 * the migration is over (nothing to cancel), after a failure it may run. */
static void qmp_keep(QmpMove *m)
{
    if (!qmp_failed(m))
        m->migrating = false;
    keep_source(m);
}

static void migration_fail_now(QmpMove *m, GError *error);

static gboolean on_fail_grace(gpointer user)
{
    QmpMove *m = user;

    m->fail_grace = 0;
    migration_fail_now(m, g_steal_pointer(&m->pending_failure));
    return G_SOURCE_REMOVE;
}

/* A failure while the destination runs may be the source's view of the
 * destination dying (a reset socket): hold it briefly, so that the error
 * names the death when the destination's exit follows. */
static void migration_fail(QmpMove *m, GError *error)
{
    if (qmp_failed(m) || m->pending_failure) {
        g_error_free(error);
        return;
    }
    if (m->dst_watch) {
        m->pending_failure = error;
        m->fail_grace = g_timeout_add(FAIL_GRACE_MS, on_fail_grace, m);
        return;
    }
    migration_fail_now(m, error);
}

/* Has the source QEMU exited (a zombie counts)? Its death closes the
 * migration stream, which the destination sees first and dies of: the
 * source's death is then the reason to report. */
static bool source_died(QmpMove *m)
{
    g_autoptr(json_object) info = vmctld_guests_info(m->guests, m->name, NULL);
    json_object *pid = info ? json_object_object_get(info, "pid") : NULL;
    g_autofree char *path = NULL;
    g_autofree char *status = NULL;

    if (!info)
        return false;
    if (g_strcmp0(json_object_get_string(json_object_object_get(info, "state")), "dead") == 0)
        return true;
    if (!pid || json_object_get_int64(pid) <= 0)
        return false;
    path = g_strdup_printf("/proc/%" G_GINT64_FORMAT "/status", json_object_get_int64(pid));
    if (!g_file_get_contents(path, &status, NULL, NULL))
        return true;
    return strstr(status, "\nState:\tZ") != NULL;
}

/* Was the source asked to end (its state "stopping", or its record gone)? */
static bool source_stopping(QmpMove *m)
{
    g_autoptr(json_object) info = vmctld_guests_info(m->guests, m->name, NULL);

    /* no record at all: only a stop or kill removes one */
    return !info || g_strcmp0(json_object_get_string(json_object_object_get(info, "state")), "stopping") == 0;
}

static void migration_fail_now(QmpMove *m, GError *error)
{
    if (qmp_failed(m)) {
        g_error_free(error);
        return;
    }
    if (source_stopping(m)) {
        /* asked for (vmctl stop or kill): the destination then dies of the
         * closed stream, which is not the reason */
        g_message("migration of guest '%s': %s", m->name, error->message);
        g_error_free(error);
        error = g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED,
                            "guest '%s' was stopped or killed (vmctl stop or kill) during the migration", m->name);
    } else if (source_died(m)) {
        g_message("migration of guest '%s': %s", m->name, error->message);
        g_error_free(error);
        error = g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "the source QEMU of guest '%s' died during the migration",
                            m->name);
    }
    g_queue_clear_full(&m->steps, (GDestroyNotify)step_free);
    m->steps_done = NULL;
    vmctld_migration_failed(m->mg, error); /* recorded; the way out is qmp_keep() */
}

/* --- the commands ------------------------------------------------------------ */

static void qmp_plan(QmpMove *m)
{
    if (m->strategy == VMCTL_MIGRATE_AUTO)
        measure_dirty_rate(m);
    else
        plan_with_rate(m, -1);
}

/* the pipeline's steps, on this transport's data */
#define QMP_MOVE(mg) ((QmpMove *)vmctld_migration_data(mg))
static void op_plan(VmctldMigration *mg) { qmp_plan(QMP_MOVE(mg)); }
static void op_destination(VmctldMigration *mg) { dst_launch(QMP_MOVE(mg)); }
static void op_transfer(VmctldMigration *mg) { qmp_transfer(QMP_MOVE(mg)); }
static void op_images(VmctldMigration *mg) { qmp_images(QMP_MOVE(mg)); }
static void op_resume(VmctldMigration *mg) { qmp_resume(QMP_MOVE(mg)); }
static char *op_console(VmctldMigration *mg) { return qmp_console(QMP_MOVE(mg)); }
static void op_hand_over(VmctldMigration *mg) { hand_over(QMP_MOVE(mg)); }
static void op_keep(VmctldMigration *mg) { qmp_keep(QMP_MOVE(mg)); }
static void op_fail(VmctldMigration *mg, GError *error) { migration_fail(QMP_MOVE(mg), error); }
static void op_result(VmctldMigration *mg, json_object *r) { qmp_result(QMP_MOVE(mg), r); }

static const VmctldMigrationTransport qmp_transport = {
    .driver = "qemu",
    .plan = op_plan,
    .destination = op_destination,
    .transfer = op_transfer,
    .images = op_images,
    .resume = op_resume,
    .console = op_console,
    .hand_over = op_hand_over,
    .keep = op_keep,
    .fail = op_fail,
    .result = op_result,
    .free = qmp_free,
};

/* The test-only fault: one this guest can take. */
static bool fault_prepare(QmpMove *m, GError **error)
{
    if (!vmctl_migrate_fault_parse(m->fault, &m->fault_how, error))
        return false;
    if (m->fault_how.kind == VMCTL_MIGRATE_FAULT_CORRUPT)
        return true;
    if (!m->src_ram || !m->dst_ram) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "fault '%s' needs a guest whose RAM is a file or device "
                    "on both sides", m->fault);
        return false;
    }
    return true; /* a stale page's content now: the pipeline keeps it (vmctld_migration_guest) */
}

static bool arg_u64(json_object *args, const char *key, uint64_t *out)
{
    json_object *v = json_object_object_get(args, key);

    if (v)
        *out = (uint64_t)json_object_get_int64(v);
    return v != NULL;
}

static bool arg_bool(json_object *args, const char *key, bool def)
{
    json_object *v = json_object_object_get(args, key);

    return v ? json_object_get_boolean(v) : def;
}

/* Checked: the pipeline takes m from here and answers the call (false and
 * *error: not started, m still the caller's). */
static bool qmp_start(QmpMove *m, VmctldCall *call, GError **error)
{
    VmctldMigrationGuest g = {
        .to = "local",
        .strategy = m->strategy,
        .verify = m->verify,
        .running = m->src_was_running,
        .stamps = m->kind_tiny,
        .memory = m->memory,
        .qemu_version = m->qemu_version,
        .accel = m->accel,
        .backing = m->backend_kind,
        .fault = m->fault,
        .src_ram = m->src_ram,
    };
    g_autoptr(GError) err = NULL;
    VmctldMigration *mg = vmctld_migration_new(call, m->name, &qmp_transport, m, error);

    if (!mg)
        return false;
    m->mg = mg;
    m->call = call;
    m->proof = vmctld_migration_proof(mg);
    if (!vmctld_migration_guest(mg, &g, &err)) {
        vmctld_migration_done(mg, NULL, g_steal_pointer(&err)); /* and m with it */
        return true;
    }
    vmctld_migration_next(mg);
    return true;
}

void vmctld_migration_cmd_migrate(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) info = NULL;
    json_object *jname = args ? json_object_object_get(args, "name") : NULL;
    const char *to = args ? json_object_get_string(json_object_object_get(args, "to")) : NULL;
    const char *strategy = args ? json_object_get_string(json_object_object_get(args, "strategy")) : NULL;
    const char *fault = args ? json_object_get_string(json_object_object_get(args, "fault")) : NULL;
    const char *state, *backend;
    QmpMove *m;
    VmctlQmp *qmp;
    json_object *vp, *nv;
    VmctldDestRequest req;
    VmctldDest dest;
    uint64_t v;
    int maj, min, mic;

    if (!vmctl_migrate_args_check(args, &err))
        goto fail;
    if (!jname || !json_object_is_type(jname, json_type_string)) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'name' must be a guest name");
        goto fail;
    }
    if (to && strcmp(to, "local") != 0) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "destination '%s' is not local: remote migration needs vmctld --driver libvirt (libvirt's peer-to-peer migration)",
                    to);
        goto fail;
    }
    if (!vmctld_migration_idle(json_object_get_string(jname), &err))
        goto fail;
    info = vmctld_guests_info(data, json_object_get_string(jname), &err);
    if (!info)
        goto fail;
    state = json_object_get_string(json_object_object_get(info, "state"));
    if (g_strcmp0(state, "running") != 0 && g_strcmp0(state, "paused") != 0) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "guest '%s' is '%s': only a running or paused guest migrates",
                    json_object_get_string(jname), state);
        goto fail;
    }
    qmp = vmctld_guests_qmp(data, json_object_get_string(jname), &err);
    if (!qmp)
        goto fail;

    m = qmp_move_new(json_object_get_string(jname));
    m->guests = data;
    m->src = vmctl_qmp_ref(qmp);
    m->src_spec = json_object_get(json_object_object_get(info, "spec"));
    m->accel = g_strdup(json_object_get_string(json_object_object_get(info, "accel")));
    m->backend_kind = g_strdup(json_object_get_string(json_object_object_get(info, "backend_kind")));
    m->kind_tiny = g_strcmp0(json_object_get_string(json_object_object_get(m->src_spec, "kind")), "tiny") == 0;
    m->memory = (uint64_t)json_object_get_int64(json_object_object_get(m->src_spec, "memory"));
    m->src_was_running = g_strcmp0(state, "running") == 0;
    if (vmctl_qmp_version(qmp, &maj, &min, &mic))
        m->qemu_version = g_strdup_printf("%d.%d.%d%s%s%s", maj, min, mic, vmctl_qmp_package(qmp) ? " (" : "",
                                          vmctl_qmp_package(qmp) ? vmctl_qmp_package(qmp) : "",
                                          vmctl_qmp_package(qmp) ? ")" : "");
    m->strategy = VMCTL_MIGRATE_AUTO;
    if (strategy && !vmctl_migrate_strategy_from_name(strategy, &m->strategy)) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "strategy '%s' is not one of auto, precopy, postcopy, multifd, auto-converge", strategy);
        qmp_free(m);
        goto fail;
    }
    arg_u64(args, "bandwidth", &m->bandwidth);
    arg_u64(args, "downtime", &m->downtime_ms);
    if (arg_u64(args, "timeout", &v))
        m->timeout_s = (guint)v;
    m->verify = arg_bool(args, "verify", true);
    m->shared = arg_bool(args, "shared", false);
    m->keep_source = arg_bool(args, "keep-source", false);
    m->force = arg_bool(args, "force", false);
    m->fault = g_strdup(fault);
    backend = json_object_get_string(json_object_object_get(m->src_spec, "backend"));
    m->src_ram = vmctld_backing_image(backend);
    nv = json_object_object_get(m->src_spec, "nvdimm");
    for (size_t i = 0; nv && i < json_object_array_length(nv); i++)
        g_ptr_array_add(m->src_nv,
                        g_strdup(json_object_get_string(json_object_object_get(json_object_array_get_idx(nv, i), "path"))));

    /* what QEMU cannot carry */
    if (m->shared && !m->src_ram) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "--shared needs a guest whose RAM is a share=on file, and guest '%s' has '%s' RAM", m->name,
                    m->backend_kind);
        qmp_free(m);
        goto fail;
    }
    vp = json_object_object_get(m->src_spec, "virtio-pmem");
    if (!m->shared && vp && json_object_array_length(vp) > 0 && !m->force) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "guest '%s' has virtio-pmem, whose content QEMU does not migrate to a separate backing: use --shared (or --force to lose it)",
                    m->name);
        qmp_free(m);
        goto fail;
    }
    /* the destination's backings, checked before anything starts */
    if (!vmctld_dest_request_from_args(args, m->shared, &req, &err) ||
        !vmctld_dest_plan(m->guests, m->src_spec, &req, &dest, &err)) {
        vmctld_dest_request_clear(&req);
        qmp_free(m);
        goto fail;
    }
    vmctld_dest_request_clear(&req);
    m->dst_spec = g_steal_pointer(&dest.spec);
    m->dst_ram = g_steal_pointer(&dest.ram);
    g_ptr_array_extend_and_steal(m->dst_nv, g_steal_pointer(&dest.nv));
    g_ptr_array_extend_and_steal(m->created, g_steal_pointer(&dest.created));
    if (m->fault && !fault_prepare(m, &err)) {
        qmp_free(m);
        goto fail;
    }
    if (!qmp_start(m, call, &err)) {
        qmp_free(m);
        goto fail;
    }
    return;
fail:
    vmctld_call_error(call, err);
}

