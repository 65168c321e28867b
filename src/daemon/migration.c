/* migration.c: the daemon side of `vmctl migrate` (see migration.h).
 *
 * One Migration per guest being migrated, driven from the main loop: a
 * chain of QMP steps (capabilities and parameters on both sides,
 * migrate-incoming on the destination, migrate on the source), then a
 * timer that asks query-migrate and streams progress, then the proof
 * (pages, stamps, the guest's VERIFY) and the hand-over. Every way out
 * goes through migration_fail() (destination removed, source resumed,
 * error reply) or migration_finish() (verdict reply). What takes long
 * without waiting on QEMU (the link probe of strategy auto; the page
 * compare and the stamp check, which read every page of both sides) runs
 * in a worker thread (offload()) so that the main loop goes on answering
 * clients. */
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
#include <gio/gunixsocketaddress.h>
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
#define VERIFY_TIMEOUT_S 120      /* the guest's VERIFY answer */
#define LINK_PROBE_BYTES (64 * MiB)
#define VMCTLD_RESUME_MARKER "resume-after-migration" /* also in guests.c */
#define DUMP_MAX (2 * GiB)        /* guest-physical == RAM offset below the PCI hole up to here */

typedef struct Migration Migration;
typedef void (*StepsDone)(Migration *m);

/* Work of a migration in a worker thread: run(data) there, then done(m,
 * data) back in the main loop. The data is the work's own (copies of what
 * it reads, room for what it finds): run() never touches the Migration. A
 * migration that ends while its work runs (cancel, timeout, a side dying)
 * detaches it (m = NULL), and done() is not called. One at a time. */
typedef struct {
    Migration *m; /* main loop only */
    void (*run)(void *data);
    void (*done)(Migration *m, void *data);
    void *data;
    GDestroyNotify free_data;
} Offload;

/* The host's checks of a paused pair (an offload's data): the shared
 * oracle (src/migrate.c) in a worker thread. */
typedef struct {
    VmctlMigrateOracle in; /* its paths point into src_img, dst_img */
    char *src_img, *dst_img;
    bool dumps;  /* the images are dumps of ours, removed after */
    guint hold_ms; /* test-only: VMCTL_MIGRATE_COMPARE_HOLD_MS, a slow compare */
    /* the findings, merged into the proof in the main loop */
    bool ok;
    VmctlMigrateOracleResult res;
    json_object *findings;
    GError *error;
} HostOracle;

typedef struct {
    VmctlQmp *qmp;
    char *side; /* "source" or "destination" */
    char *cmd;
    json_object *args;
    guint timeout_ms;
} Step;

struct Migration {
    VmctldGuests *guests;
    VmctldCall *call;
    char *name;
    /* options */
    VmctlMigrateStrategy strategy;
    uint64_t bandwidth, downtime_ms;
    bool verify, shared, keep_source, force;
    guint timeout_s;
    char *fault;
    VmctlMigrateFault fault_how;
    const char *verdict; /* vmctl_migrate_verdict()'s word, or "UNVERIFIED" without the proof */
    uint8_t *stale_page; /* dst-stale: the page as it was when the migration began */
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
    uint64_t t_start;
    uint64_t t_completed; /* both sides paused for the proof (0: not yet) */
    json_object *dirty_rate;
    json_object *stats;
    GError *failure; /* set once the way out is failure */
    GError *pending_failure; /* a failure held while the destination may be dying */
    guint fail_grace;        /* timer of that hold */
    /* the proof */
    json_object *proof; /* the verification's findings */
    uint64_t pages_differ, stamp_bad;
    char *guest_line;
    GSocketConnection *serial;
    GDataInputStream *serial_in;
    GCancellable *cancel;
    char *src_marker; /* the source's run dir file that says "resume me" */
    Offload *offload; /* work in a worker thread while it runs */
};

static GHashTable *active; /* name -> Migration* */

static void migration_fail(Migration *m, GError *error);
static void recover_poll(Migration *m);

static void step_free(Step *s)
{
    if (!s)
        return;
    g_free(s->side);
    g_free(s->cmd);
    json_object_put(s->args);
    g_free(s);
}

static void migration_free(Migration *m)
{
    if (m->offload)
        m->offload->m = NULL; /* what it finds is dropped when it is done */
    g_free(m->src_marker);
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
    if (m->cancel) {
        g_cancellable_cancel(m->cancel);
        g_object_unref(m->cancel);
    }
    g_clear_object(&m->serial_in);
    g_clear_object(&m->serial);
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
    json_object_put(m->proof);
    g_ptr_array_unref(m->src_nv);
    g_ptr_array_unref(m->dst_nv);
    g_ptr_array_unref(m->created);
    if (m->failure)
        g_error_free(m->failure);
    g_free(m->name);
    g_free(m->fault);
    g_free(m->stale_page);
    g_free(m->accel);
    g_free(m->backend_kind);
    g_free(m->src_ram);
    g_free(m->qemu_version);
    g_free(m->dst_run_dir);
    g_free(m->dst_ram);
    g_free(m->dst_backend_kind);
    g_free(m->uri);
    g_free(m->guest_line);
    g_free(m);
}

static void offload_free(Offload *o)
{
    if (o->free_data)
        o->free_data(o->data);
    g_free(o);
}

static void offload_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    Offload *o = data;

    (void)task;
    (void)src;
    (void)cancel;
    o->run(o->data);
}

static void offload_done(GObject *src, GAsyncResult *res, gpointer user)
{
    Offload *o = g_task_get_task_data(G_TASK(res));
    Migration *m = o->m;

    (void)src;
    (void)user;
    if (!m)
        return; /* the migration ended meanwhile */
    m->offload = NULL;
    o->done(m, o->data);
}

static void offload(Migration *m, void (*run)(void *data), void (*done)(Migration *m, void *data), void *data,
                    GDestroyNotify free_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, NULL, offload_done, NULL);
    Offload *o = g_new0(Offload, 1);

    g_assert(!m->offload);
    *o = (Offload){ .m = m, .run = run, .done = done, .data = data, .free_data = free_data };
    m->offload = o;
    g_task_set_task_data(task, o, (GDestroyNotify)offload_free);
    g_task_run_in_thread(task, offload_thread);
}

static uint64_t elapsed_ms(const Migration *m)
{
    return (vmctl_now_ns() - m->t_start) / 1000000;
}

static void phase(Migration *m, const char *name, const char *detail)
{
    json_object *d = json_object_new_object();

    g_message("migration of guest '%s': %s%s%s", m->name, name, detail ? ": " : "", detail ? detail : "");
    vmctl_json_add_str(d, "phase", name);
    if (detail)
        vmctl_json_add_str(d, "detail", detail);
    vmctl_json_add_u64(d, "elapsed_ms", elapsed_ms(m));
    vmctld_call_event(m->call, "migration-phase", d);
}

/* --- QMP step chains ---------------------------------------------------- */

static void steps_next(Migration *m);

static void on_step(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    Migration *m = user;
    Step *s = g_queue_pop_head(&m->steps);

    if (m->failure) { /* a failure came in meanwhile: the chain is over */
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

static void steps_next(Migration *m)
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

static void step_add(Migration *m, bool dst, const char *cmd, json_object *args)
{
    Step *s = g_new0(Step, 1);

    s->qmp = dst ? m->dst : m->src;
    s->side = g_strdup(dst ? "destination" : "source");
    s->cmd = g_strdup(cmd);
    s->args = args;
    s->timeout_ms = strcmp(cmd, "pmemsave") == 0 ? DUMP_TIMEOUT_MS : QMP_TIMEOUT_MS;
    g_queue_push_tail(&m->steps, s);
}

static void steps_run(Migration *m, StepsDone done)
{
    m->steps_done = done;
    steps_next(m);
}

/* --- the destination ---------------------------------------------------- */

/* A backing file the migration made or leaves behind goes, reached through
 * the allow-list: never one outside it. */
static void remove_beneath(Migration *m, const char *path)
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
static void dst_teardown(Migration *m)
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

static char *dst_log_tail(const Migration *m)
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
    Migration *m = user;
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

static void after_migrate_sent(Migration *m);
static gboolean on_poll(gpointer user);

/* Every capability this module manages is set, on or off: they stay set
 * in a QEMU from one migration to the next. */
static json_object *caps_args(Migration *m, bool dst)
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
static void mark_source(Migration *m)
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
static void keep_shared_data(Migration *m)
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
    Migration *m = user;
    json_object *a;

    if (m->failure)
        return;
    if (error) {
        migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot reach the destination QEMU of guest '%s': %s",
                                      m->name, error->message));
        return;
    }
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
    Migration *m = user;
    g_autofree char *pidfile = g_build_filename(m->dst_run_dir, "qemu.pid", NULL);
    g_autofree char *qmp = g_build_filename(m->dst_run_dir, "qmp.sock", NULL);
    g_autoptr(GError) err = NULL;
    uint64_t v;

    g_spawn_close_pid(pid);
    m->launching = false;
    if (m->failure || m->answered) {
        /* the migration ended meanwhile; it may have come up after all */
        if (vmctl_read_u64(pidfile, &v, NULL))
            m->dst_pid = (pid_t)v;
        dst_teardown(m);
        if (m->answered)
            migration_free(m);
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

static void dst_launch(Migration *m)
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

static void plan_and_launch_with(Migration *m, const PlanMeasures *pm)
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
    dst_launch(m);
}

/* a Unix socket between two processes of this host: memory copies on both
 * ends, so memcpy throughput is its upper bound (LINK_PROBE_BYTES copied) */
static void link_probe_run(void *data)
{
    PlanMeasures *pm = data;

    pm->link_bytes_per_s = vmctl_migrate_measure_memcpy(LINK_PROBE_BYTES);
}

static void link_probe_done(Migration *m, void *data)
{
    plan_and_launch_with(m, data);
}

static void plan_and_launch(Migration *m, double dirty_pages_per_s)
{
    PlanMeasures *pm = g_new0(PlanMeasures, 1);

    pm->dirty_pages_per_s = dirty_pages_per_s;
    if (m->strategy == VMCTL_MIGRATE_AUTO) {
        offload(m, link_probe_run, link_probe_done, pm, g_free);
        return;
    }
    plan_and_launch_with(m, pm);
    g_free(pm);
}

static void on_dirty_rate(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user);

static gboolean ask_dirty_rate(gpointer user)
{
    Migration *m = user;

    m->timer = 0;
    vmctl_qmp_command(m->src, "query-dirty-rate", NULL, QMP_TIMEOUT_MS, on_dirty_rate, m);
    return G_SOURCE_REMOVE;
}

static void on_dirty_rate(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    Migration *m = user;
    const char *status = ret ? json_object_get_string(json_object_object_get(ret, "status")) : NULL;
    json_object *rate = ret ? json_object_object_get(ret, "dirty-rate") : NULL;
    double pages = -1;

    if (m->failure)
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
    plan_and_launch(m, pages);
}

static void on_calc_dirty_rate(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    Migration *m = user;

    if (m->failure)
        return;
    if (error) {
        vmctl_json_add_str(m->dirty_rate, "error", error->message);
        plan_and_launch(m, -1);
        return;
    }
    m->polls = 0;
    m->timer = g_timeout_add(DIRTY_RATE_CALC_S * 1000 + POLL_MS, ask_dirty_rate, m);
}

static void measure_dirty_rate(Migration *m)
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

static json_object *progress_json(Migration *m, json_object *ret)
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
    vmctl_json_add_u64(d, "elapsed_ms", elapsed_ms(m));
    return d;
}

static void verify_start(Migration *m);
static void hand_over(Migration *m);

/* Postcopy as the way out of a precopy that stopped converging. */
static void check_stall(Migration *m, json_object *ret)
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
    Migration *m = user;
    const char *status;

    if (m->failure)
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
    Migration *m = user;

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
    Migration *m = user;

    m->timeout_timer = 0;
    migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "migration of guest '%s' did not complete within %u s",
                                  m->name, m->timeout_s));
    return G_SOURCE_REMOVE;
}

static void after_migrate_sent(Migration *m)
{
    m->migrating = true;
    if (m->timeout_s)
        m->timeout_timer = g_timeout_add_seconds(m->timeout_s, on_timeout, m);
    m->timer = g_timeout_add(POLL_MS, on_poll, m);
}

/* --- the proof ----------------------------------------------------------- */

static void verdict_and_finish(Migration *m);

static void on_serial_line(GObject *src, GAsyncResult *res, gpointer user)
{
    Migration *m = user;
    g_autoptr(GError) err = NULL;
    g_autofree char *line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(src), res, NULL, &err);

    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* m is gone or the timeout won */
    if (!line) {
        m->guest_line = g_strdup_printf("no VERIFY answer: %s", err ? err->message : "console closed");
        verdict_and_finish(m);
        return;
    }
    g_strstrip(line);
    if (g_str_has_prefix(line, "VERIFY")) {
        m->guest_line = g_steal_pointer(&line);
        verdict_and_finish(m);
        return;
    }
    g_data_input_stream_read_line_async(m->serial_in, G_PRIORITY_DEFAULT, m->cancel, on_serial_line, m);
}

static gboolean on_verify_timeout(gpointer user)
{
    Migration *m = user;

    m->timer = 0;
    g_cancellable_cancel(m->cancel);
    m->guest_line = g_strdup_printf("no VERIFY answer within %d s", VERIFY_TIMEOUT_S);
    verdict_and_finish(m);
    return G_SOURCE_REMOVE;
}

static void guest_oracle(Migration *m)
{
    g_autofree char *path = g_build_filename(m->dst_run_dir, "serial.sock", NULL);
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GError) err = NULL;
    GOutputStream *out;

    phase(m, "guest-verify", "VERIFY on the destination's console");
    m->serial = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &err);
    out = m->serial ? g_io_stream_get_output_stream(G_IO_STREAM(m->serial)) : NULL;
    if (!m->serial || !g_output_stream_write_all(out, "VERIFY\n", 7, NULL, NULL, &err)) {
        m->guest_line = g_strdup_printf("cannot reach the destination's console '%s': %s", path, err->message);
        verdict_and_finish(m);
        return;
    }
    m->serial_in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(m->serial)));
    m->cancel = g_cancellable_new();
    m->timer = g_timeout_add_seconds(VERIFY_TIMEOUT_S, on_verify_timeout, m);
    g_data_input_stream_read_line_async(m->serial_in, G_PRIORITY_DEFAULT, m->cancel, on_serial_line, m);
}

static void after_cont_dst(Migration *m)
{
    if (m->verify)
        guest_oracle(m);
    else
        hand_over(m);
}

/* The test-only fault on the paused destination's RAM image. A stale page
 * needs the guest to have rewritten it since the migration began: a page
 * it left alone has nothing stale to put back, and the run says so. */
static bool apply_fault(Migration *m, const char *src_img, const char *dst_img, GError **error)
{
    uint8_t now[VMCTL_MIGRATE_PAGE];

    vmctl_json_add_str(m->proof, "fault", m->fault);
    if (m->fault_how.kind == VMCTL_MIGRATE_FAULT_GUEST)
        return true; /* later: after the host's checks (host_oracle) */
    if (m->fault_how.kind == VMCTL_MIGRATE_FAULT_CORRUPT)
        return vmctl_migrate_fault_apply(dst_img, 0, m->fault_how.page, error);
    if (!vmctl_migrate_page_read(src_img, 0, m->fault_how.page, now, error))
        return false;
    if (memcmp(now, m->stale_page, sizeof(now)) == 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "fault '%s': the guest did not rewrite page %"
                    G_GUINT64_FORMAT " during the migration, so it has no stale content to put back", m->fault,
                    m->fault_how.page);
        return false;
    }
    return vmctl_migrate_page_write(dst_img, 0, m->fault_how.page, m->stale_page, error);
}

static void host_oracle_free(HostOracle *o)
{
    g_ptr_array_unref(o->in.blocks);
    g_free(o->src_img);
    g_free(o->dst_img);
    json_object_put(o->findings);
    g_clear_error(&o->error);
    g_free(o);
}

static void host_oracle_run(void *data)
{
    HostOracle *o = data;

    if (o->hold_ms)
        g_usleep((gulong)o->hold_ms * 1000);
    o->ok = vmctl_migrate_host_oracle(&o->in, o->findings, &o->res, &o->error);
    if (o->dumps) { /* dumps only: never a backing file */
        g_unlink(o->src_img);
        g_unlink(o->dst_img);
    }
}

static void host_oracle_done(Migration *m, void *data);

static void host_oracle(Migration *m)
{
    g_autoptr(GError) err = NULL;
    HostOracle *o = g_new0(HostOracle, 1);

    o->in.blocks = g_ptr_array_new_with_free_func((GDestroyNotify)vmctl_migrate_block_free);
    o->dumps = !(m->src_ram && m->dst_ram);
    o->src_img = o->dumps ? g_build_filename(m->dst_run_dir, "source.ram.dump", NULL) : g_strdup(m->src_ram);
    o->dst_img = o->dumps ? g_build_filename(m->dst_run_dir, "destination.ram.dump", NULL) : g_strdup(m->dst_ram);
    o->in.src_ram = o->src_img;
    o->in.dst_ram = o->dst_img;
    o->in.stamps = m->kind_tiny;
    o->findings = json_object_new_object();
    if (g_getenv("VMCTL_MIGRATE_COMPARE_HOLD_MS"))
        o->hold_ms = (guint)atoi(g_getenv("VMCTL_MIGRATE_COMPARE_HOLD_MS"));
    if (m->fault && !apply_fault(m, o->src_img, o->dst_img, &err)) {
        host_oracle_free(o);
        migration_fail(m, g_steal_pointer(&err));
        return;
    }
    phase(m, "compare", "every page of the source against the destination");
    /* one shared file is both sides' RAM: comparing it with itself would
     * prove nothing, so RAM is not compared (stamps and VERIFY still run) */
    if (!m->shared)
        g_ptr_array_add(o->in.blocks, vmctl_migrate_block_new("pc.ram", o->src_img, 0, o->dst_img, 0, m->memory));
    for (guint i = 0; !m->shared && i < m->src_nv->len; i++) {
        g_autofree char *name = g_strdup_printf("nvdimm%u", i);
        json_object *d = json_object_array_get_idx(json_object_object_get(m->src_spec, "nvdimm"), i);

        /* the device's size as the guest sees it (a device-dax has no file size) */
        g_ptr_array_add(o->in.blocks, vmctl_migrate_block_new(name, m->src_nv->pdata[i], 0, m->dst_nv->pdata[i], 0,
                                                           (uint64_t)json_object_get_int64(json_object_object_get(d, "size"))));
    }
    offload(m, host_oracle_run, host_oracle_done, o, (GDestroyNotify)host_oracle_free);
}

static void host_oracle_done(Migration *m, void *data)
{
    HostOracle *o = data;
    g_autoptr(GError) err = NULL;

    if (!o->ok) {
        migration_fail(m, g_steal_pointer(&o->error));
        return;
    }
    m->pages_differ = o->res.pages_differ;
    m->stamp_bad = o->res.stamps_bad;
    vmctl_json_add_str(m->proof, "images",
                       m->shared  ? "one shared backing file (x-ignore-shared): not compared with itself"
                       : !o->dumps ? "backing files and devices (share=on)"
                                   : "pmemsave dumps of guest-physical RAM");
    {
        json_object_object_foreach(o->findings, k, v)
            json_object_object_add(m->proof, k, json_object_get(v));
    }
    if (m->pages_differ || m->stamp_bad) {
        verdict_and_finish(m); /* no need to run a guest whose memory is known bad */
        return;
    }
    /* the end-to-end fault: behind the host's back, for the guest to find */
    if (m->fault && m->fault_how.kind == VMCTL_MIGRATE_FAULT_GUEST &&
        !vmctl_migrate_fault_apply(o->dst_img, 0, m->fault_how.page, &err)) {
        migration_fail(m, g_steal_pointer(&err));
        return;
    }
    if (!m->src_was_running) { /* it stays paused, as it was */
        vmctl_json_add_str(m->proof, "guest_not_asked", "the guest was paused before the migration");
        verdict_and_finish(m);
        return;
    }
    /* what the proof added to the guest's pause: from the completion (both
     * sides paused) to the destination's cont */
    vmctl_json_add_u64(m->proof, "verification_pause_ms", (vmctl_now_ns() - m->t_completed) / 1000000);
    phase(m, "cont", "the destination runs");
    step_add(m, true, "cont", NULL);
    steps_run(m, after_cont_dst);
}

static void after_dumps(Migration *m)
{
    host_oracle(m);
}

static void on_dst_status(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user);

static gboolean ask_dst_status(gpointer user)
{
    Migration *m = user;

    m->timer = 0;
    vmctl_qmp_command(m->dst, "query-status", NULL, QMP_TIMEOUT_MS, on_dst_status, m);
    return G_SOURCE_REMOVE;
}

static void on_dst_status(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    Migration *m = user;
    const char *st = ret ? json_object_get_string(json_object_object_get(ret, "status")) : NULL;

    if (m->failure)
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
    if (!m->verify && !m->src_was_running) {
        hand_over(m); /* paused before, paused after */
        return;
    }
    if (!m->verify) {
        phase(m, "cont", "the destination runs");
        step_add(m, true, "cont", NULL);
        steps_run(m, after_cont_dst);
        return;
    }
    if (m->src_ram && m->dst_ram) {
        host_oracle(m);
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

static void verify_start(Migration *m)
{
    /* test-only: a window after completion in which a test can kill vmctld */
    const char *hold = g_getenv("VMCTL_MIGRATE_HOLD_MS");

    /* both stay paused: the source in postmigrate, the destination by -S */
    phase(m, "completed", "source and destination paused for the compare");
    m->t_completed = vmctl_now_ns();
    m->polls = 0;
    if (hold && atoi(hold) > 0) {
        m->timer = g_timeout_add((guint)atoi(hold), ask_dst_status, m);
        return;
    }
    ask_dst_status(m);
}

/* --- the way out ----------------------------------------------------------- */

static json_object *result_json(Migration *m, const char *verdict)
{
    json_object *r = vmctl_migrate_result_new(m->name, "local", m->strategy, verdict, m->qemu_version, m->accel,
                                              m->backend_kind);

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
    if (m->proof)
        json_object_object_add(r, "verify", json_object_get(m->proof));
    vmctl_json_add_u64(r, "elapsed_ms", elapsed_ms(m));
    return r;
}

static void migration_done(Migration *m, json_object *ret, const GError *error)
{
    if (m->src_marker) { /* this daemon saw the end: no restart needs it */
        g_unlink(m->src_marker);
        g_clear_pointer(&m->src_marker, g_free);
    }
    g_hash_table_remove(active, m->name);
    if (error)
        vmctld_call_error(m->call, error);
    else
        vmctld_call_return(m->call, ret);
    if (m->launching) {
        m->answered = true; /* on_dst_launcher_exit removes what it made */
        return;
    }
    migration_free(m);
}

/* The record speaks to the destination now: the old backings go, and the
 * caller hears the result only after this, so that its next command finds
 * the guest ready. */
static void on_handed(gpointer user, const GError *error)
{
    Migration *m = user;
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
        migration_done(m, NULL, e);
        return;
    }
    r = result_json(m, m->verdict);
    vmctl_json_add_i64(r, "pid", m->dst_pid);
    vmctl_json_add_str(r, "run_dir", m->dst_run_dir);
    vmctl_json_add_str(r, "backend", json_object_get_string(json_object_object_get(m->dst_spec, "backend")));
    vmctl_json_add_bool(r, "source_backing_kept", m->keep_source || m->shared);
    migration_done(m, r, NULL);
}

/* The name goes to the destination: after a PASS, or without the proof
 * (--no-verify), which the verdict then says. */
static void hand_over(Migration *m)
{
    g_autoptr(GError) err = NULL;

    if (!m->verdict)
        m->verdict = "UNVERIFIED";

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
        migration_done(m, NULL, err);
}

/* The source goes on: resume it if the migration paused it. */
static void on_src_status(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    Migration *m = user;
    json_object *running = ret ? json_object_object_get(ret, "running") : NULL;

    if (!error && m->src_was_running && running && !json_object_get_boolean(running)) {
        phase(m, "resume-source", json_object_get_string(json_object_object_get(ret, "status")));
        vmctl_qmp_command(m->src, "cont", NULL, QMP_TIMEOUT_MS, NULL, NULL);
    }
    if (m->failure) {
        g_autoptr(GError) e = g_steal_pointer(&m->failure);
        migration_done(m, NULL, e);
    } else {
        json_object *r = result_json(m, "FAIL");
        vmctl_json_add_str(r, "kept", "source: the destination was removed and the source resumed");
        migration_done(m, r, NULL);
    }
}

static gboolean on_recover_timer(gpointer user)
{
    recover_poll(user);
    return G_SOURCE_REMOVE;
}

static void on_recover_query(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    Migration *m = user;
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

static void recover_poll(Migration *m)
{
    m->timer = 0;
    vmctl_qmp_command(m->src, "query-migrate", NULL, QMP_TIMEOUT_MS, on_recover_query, m);
}

/* Not handed over: the destination goes, the source stays and runs. */
static void keep_source(Migration *m)
{
    if (m->timer) {
        g_source_remove(m->timer);
        m->timer = 0;
    }
    if (m->timeout_timer) {
        g_source_remove(m->timeout_timer);
        m->timeout_timer = 0;
    }
    if (m->cancel)
        g_cancellable_cancel(m->cancel);
    if (m->migrating)
        vmctl_qmp_command(m->src, "migrate_cancel", NULL, QMP_TIMEOUT_MS, NULL, NULL);
    dst_teardown(m);
    m->polls = 0;
    if (m->migrating)
        recover_poll(m);
    else
        vmctl_qmp_command(m->src, "query-status", NULL, QMP_TIMEOUT_MS, on_src_status, m);
}

#define FAIL_GRACE_MS 1000 /* wait for a dying destination's exit to be seen */

static void migration_fail_now(Migration *m, GError *error);

static gboolean on_fail_grace(gpointer user)
{
    Migration *m = user;

    m->fail_grace = 0;
    migration_fail_now(m, g_steal_pointer(&m->pending_failure));
    return G_SOURCE_REMOVE;
}

/* A failure while the destination runs may be the source's view of the
 * destination dying (a reset socket): hold it briefly, so that the error
 * names the death when the destination's exit follows. */
static void migration_fail(Migration *m, GError *error)
{
    if (m->failure || m->pending_failure) {
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
static bool source_died(Migration *m)
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
static bool source_stopping(Migration *m)
{
    g_autoptr(json_object) info = vmctld_guests_info(m->guests, m->name, NULL);

    /* no record at all: only a stop or kill removes one */
    return !info || g_strcmp0(json_object_get_string(json_object_object_get(info, "state")), "stopping") == 0;
}

static void migration_fail_now(Migration *m, GError *error)
{
    if (m->failure) {
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
    g_message("migration of guest '%s' failed: %s", m->name, error->message);
    m->failure = error;
    g_queue_clear_full(&m->steps, (GDestroyNotify)step_free);
    m->steps_done = NULL;
    keep_source(m);
}

static void verdict_and_finish(Migration *m)
{
    const char *verdict;

    if (m->timer) {
        g_source_remove(m->timer);
        m->timer = 0;
    }
    /* one shared file: RAM not compared with itself */
    verdict = vmctl_migrate_conclude(m->proof, !m->shared, m->pages_differ, m->stamp_bad, m->guest_line);
    phase(m, "verdict", verdict);
    m->verdict = verdict;
    if (strcmp(verdict, "FAIL") != 0) {
        hand_over(m);
        return;
    }
    /* the source still holds the guest as it was: keep it */
    m->migrating = false;
    keep_source(m);
}

/* --- the commands ------------------------------------------------------------ */

/* The test-only fault: parsed, and for a stale page its content now. */
static bool fault_prepare(Migration *m, GError **error)
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
    if (m->fault_how.kind == VMCTL_MIGRATE_FAULT_GUEST)
        return true;
    m->stale_page = g_malloc(VMCTL_MIGRATE_PAGE);
    return vmctl_migrate_page_read(m->src_ram, 0, m->fault_how.page, m->stale_page, error);
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

void vmctld_migration_cmd_migrate(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) info = NULL;
    json_object *jname = args ? json_object_object_get(args, "name") : NULL;
    const char *to = args ? json_object_get_string(json_object_object_get(args, "to")) : NULL;
    const char *strategy = args ? json_object_get_string(json_object_object_get(args, "strategy")) : NULL;
    const char *fault = args ? json_object_get_string(json_object_object_get(args, "fault")) : NULL;
    const char *state, *backend;
    Migration *m;
    VmctlQmp *qmp;
    json_object *vp, *nv;
    VmctldDestRequest req;
    VmctldDest dest;
    uint64_t v;
    int maj, min, mic;

    if (!active)
        active = g_hash_table_new(g_str_hash, g_str_equal);
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
    if (g_hash_table_contains(active, json_object_get_string(jname))) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "guest '%s' is already being migrated",
                    json_object_get_string(jname));
        goto fail;
    }
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

    m = g_new0(Migration, 1);
    m->t_start = vmctl_now_ns();
    m->guests = data;
    m->call = call;
    m->name = g_strdup(json_object_get_string(jname));
    m->src = vmctl_qmp_ref(qmp);
    m->dst_pidfd = -1;
    m->src_nv = g_ptr_array_new_with_free_func(g_free);
    m->dst_nv = g_ptr_array_new_with_free_func(g_free);
    m->created = g_ptr_array_new_with_free_func(g_free);
    g_queue_init(&m->steps);
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
        migration_free(m);
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
        migration_free(m);
        goto fail;
    }
    vp = json_object_object_get(m->src_spec, "virtio-pmem");
    if (!m->shared && vp && json_object_array_length(vp) > 0 && !m->force) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "guest '%s' has virtio-pmem, whose content QEMU does not migrate to a separate backing: use --shared (or --force to lose it)",
                    m->name);
        migration_free(m);
        goto fail;
    }
    /* the destination's backings, checked before anything starts */
    if (!vmctld_dest_request_from_args(args, m->shared, &req, &err) ||
        !vmctld_dest_plan(m->guests, m->src_spec, &req, &dest, &err)) {
        vmctld_dest_request_clear(&req);
        migration_free(m);
        goto fail;
    }
    vmctld_dest_request_clear(&req);
    m->dst_spec = g_steal_pointer(&dest.spec);
    m->dst_ram = g_steal_pointer(&dest.ram);
    g_ptr_array_extend_and_steal(m->dst_nv, g_steal_pointer(&dest.nv));
    g_ptr_array_extend_and_steal(m->created, g_steal_pointer(&dest.created));
    if (m->fault && !fault_prepare(m, &err)) {
        migration_free(m);
        goto fail;
    }
    m->proof = json_object_new_object();
    g_hash_table_insert(active, m->name, m);
    {
        json_object *d = json_object_new_object();
        vmctl_json_add_str(d, "qemu", m->qemu_version);
        vmctl_json_add_str(d, "accel", m->accel);
        vmctl_json_add_str(d, "backing", m->backend_kind);
        vmctld_call_event(call, "migration-start", d);
    }
    if (m->strategy == VMCTL_MIGRATE_AUTO)
        measure_dirty_rate(m);
    else
        plan_and_launch(m, -1);
    return;
fail:
    vmctld_call_error(call, err);
}

json_object *vmctld_migration_cmd_cancel(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    json_object *jname = args ? json_object_object_get(args, "name") : NULL;
    Migration *m = active && jname ? g_hash_table_lookup(active, json_object_get_string(jname)) : NULL;

    if (!m) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "guest '%s' is not being migrated",
                    jname ? json_object_get_string(jname) : "");
        return NULL;
    }
    migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "migration of guest '%s' cancelled on request",
                                  m->name));
    return json_object_new_object();
}
