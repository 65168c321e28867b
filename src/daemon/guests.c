/* guests.c: launching, watching, reattaching and ending guests.
 *
 * Life of a guest: the state file is written ("launching") before QEMU
 * runs; QEMU daemonizes itself, so the launcher's exit status says whether
 * it came up and its stderr (qemu.log in the run dir) says why not. Then
 * the guest's pid comes from its pidfile and is watched through a pidfd,
 * and QMP events (STOP, RESUME, SHUTDOWN) keep the state current. A guest
 * ends by `stop` or `kill` (state file and run dir removed) or by dying
 * (kept as "dead" with QEMU's last words until stopped). Nothing here
 * sleeps: every wait is an event source. */
#include "config.h"

#include "daemon/guests.h"

#include "daemon/paths.h"
#include "daemon/state.h"
#include "guest_spec.h"
#include "pmem_backend.h"
#include "qemu_cmdline.h"
#include "qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <linux/kvm.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define QMP_CONNECT_TIMEOUT_MS 10000
#define QMP_COMMAND_TIMEOUT_MS 30000
/* a client's `qmp` request: below the client's 30 s wait for a reply, so
 * that a QEMU that stopped answering is reported as such by vmctld */
#define QMP_REQUEST_TIMEOUT_MS 15000
#define STOP_GRACE_MS 10000 /* after QMP quit, before SIGKILL */
/* QEMU's -daemonize parent exits once the guest is set up; one that has not
 * by then is stuck (QEMU 7.2 loops on some backing paths): below the
 * client's 30 s wait for the reply */
#define LAUNCHER_TIMEOUT_MS 20000
#define LOG_TAIL_BYTES 2000
/* in the run dir of a source that ran when its migration began (written by
 * migration_qmp.c): if vmctld restarts and finds it paused, it resumes it */
#define VMCTLD_RESUME_MARKER "resume-after-migration"

#define TCG_MAX_VCPUS 8

typedef struct Guest Guest;

struct VmctldGuests {
    char *state_dir;
    char *run_root;
    char *qemu;
    char *image_dir;
    GStrv allowed;      /* host paths a request may name (paths.h) */
    GHashTable *guests; /* name -> Guest* */
};

struct Guest {
    VmctldGuests *owner;
    char *name;
    json_object *spec_json;
    char *run_dir;
    char *state; /* launching, running, paused, shutdown, stopping, dead */
    char *accel;
    char *accel_reason;
    char *backend_kind;
    char *error; /* why a dead guest died, or the launch failed */
    char *started;
    json_object *argv;
    pid_t pid;
    int pidfd;
    guint pidfd_src;
    guint stop_timer;
    GPid launcher;       /* QEMU's -daemonize parent, while it runs */
    guint launcher_watch;
    guint launcher_timer;
    VmctlQmp *qmp;
    VmctldCall *launch_call;
    VmctldHandedFunc handed_cb; /* a hand-over waiting for the new QMP connection */
    gpointer handed_user;
    GPtrArray *waiters; /* VmctldCall* answered when QEMU has exited */
};

static void guest_handed(Guest *g, const GError *error);

static int pidfd_open_pid(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Without pidfd_open (ENOSYS: kernels before 5.3, or valgrind) a guest's
 * pid is polled instead; `pidfd` then holds PID_POLLED. */
#define PID_POLLED (-2)
#define PID_POLL_MS 500

static bool pid_is_guest(pid_t pid, const char *name);

/* QEMU is watched: alive as far as we know */
static bool watched(const Guest *g)
{
    return g->pidfd != -1;
}

static int guest_signal(Guest *g, int sig)
{
    if (g->pidfd >= 0)
        return pidfd_signal(g->pidfd, sig);
    if (!pid_is_guest(g->pid, g->name)) {
        errno = ESRCH;
        return -1;
    }
    return kill(g->pid, sig);
}

static char *log_tail(const Guest *g)
{
    g_autofree char *path = vmctl_qemu_run_file(g->run_dir, "qemu.log");
    g_autofree char *text = NULL;
    gsize len = 0;
    const char *start;

    if (!g_file_get_contents(path, &text, &len, NULL) || len == 0)
        return g_strdup("");
    g_strchomp(text);
    start = strlen(text) > LOG_TAIL_BYTES ? text + strlen(text) - LOG_TAIL_BYTES : text;
    return g_strdup(start);
}

/* The last non-empty line of QEMU's stderr, for one-line errors. */
static char *log_last_line(const Guest *g)
{
    g_autofree char *tail = log_tail(g);
    char *nl = strrchr(tail, '\n');

    return g_strdup(nl ? nl + 1 : tail);
}

static json_object *guest_to_json(const Guest *g, bool full)
{
    json_object *o = json_object_new_object();
    json_object *backend = json_object_object_get(g->spec_json, "backend");
    json_object *kind = json_object_object_get(g->spec_json, "kind");

    vmctl_json_add_str(o, "name", g->name);
    vmctl_json_add_str(o, "state", g->state);
    vmctl_json_add_i64(o, "pid", g->pid);
    vmctl_json_add_str(o, "kind", kind ? json_object_get_string(kind) : NULL);
    vmctl_json_add_str(o, "accel", g->accel);
    vmctl_json_add_str(o, "backend", backend ? json_object_get_string(backend) : NULL);
    if (g->error)
        vmctl_json_add_str(o, "error", g->error);
    if (!full)
        return o;
    vmctl_json_add_str(o, "accel_reason", g->accel_reason);
    vmctl_json_add_str(o, "backend_kind", g->backend_kind);
    vmctl_json_add_str(o, "started", g->started);
    vmctl_json_add_str(o, "run_dir", g->run_dir);
    {
        g_autofree char *qmp = vmctl_qemu_run_file(g->run_dir, "qmp.sock");
        g_autofree char *ser = vmctl_qemu_run_file(g->run_dir, "serial.sock");
        g_autofree char *con = vmctl_qemu_run_file(g->run_dir, "console.log");
        g_autofree char *log = vmctl_qemu_run_file(g->run_dir, "qemu.log");
        vmctl_json_add_str(o, "qmp_socket", qmp);
        vmctl_json_add_str(o, "serial_socket", ser);
        vmctl_json_add_str(o, "console_log", con);
        vmctl_json_add_str(o, "qemu_log", log);
    }
    json_object_object_add(o, "spec", json_object_get(g->spec_json));
    if (g->argv)
        json_object_object_add(o, "argv", json_object_get(g->argv));
    if (g->qmp && vmctl_qmp_is_ready(g->qmp))
        json_object_object_add(o, "qemu", vmctl_qmp_info_to_json(g->qmp));
    return o;
}

static void guest_save(Guest *g)
{
    g_autoptr(json_object) o = guest_to_json(g, true);
    g_autoptr(GError) err = NULL;

    json_object_object_del(o, "qemu"); /* live facts, asked again after a restart */
    if (!vmctld_state_save(g->owner->state_dir, g->name, o, &err))
        g_warning("guest '%s': %s", g->name, err->message);
}

static void guest_set_state(Guest *g, const char *state)
{
    if (g_strcmp0(g->state, state) == 0)
        return;
    g_message("guest '%s': %s -> %s", g->name, g->state ? g->state : "-", state);
    g_free(g->state);
    g->state = g_strdup(state);
    if (strcmp(state, "stopping") != 0)
        guest_save(g);
}

static void guest_free(Guest *g)
{
    if (g->handed_cb) {
        g_autoptr(GError) e = g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "guest '%s' went away during its hand-over", g->name);
        guest_handed(g, e);
    }
    if (g->pidfd_src)
        g_source_remove(g->pidfd_src);
    if (g->stop_timer)
        g_source_remove(g->stop_timer);
    if (g->launcher_timer)
        g_source_remove(g->launcher_timer);
    if (g->launcher_watch) { /* reaped here, not by the watch */
        g_source_remove(g->launcher_watch);
        kill(g->launcher, SIGKILL);
        waitpid(g->launcher, NULL, 0);
        g_spawn_close_pid(g->launcher);
    }
    if (g->pidfd >= 0)
        close(g->pidfd);
    if (g->qmp) {
        vmctl_qmp_close(g->qmp);
        vmctl_qmp_unref(g->qmp);
    }
    g_ptr_array_unref(g->waiters);
    json_object_put(g->spec_json);
    json_object_put(g->argv);
    g_free(g->name);
    g_free(g->run_dir);
    g_free(g->state);
    g_free(g->accel);
    g_free(g->accel_reason);
    g_free(g->backend_kind);
    g_free(g->error);
    g_free(g->started);
    g_free(g);
}

static Guest *guest_new(VmctldGuests *owner, const char *name)
{
    Guest *g = g_new0(Guest, 1);

    g->owner = owner;
    g->name = g_strdup(name);
    g->pidfd = -1;
    g->run_dir = g_build_filename(owner->run_root, name, NULL);
    g->waiters = g_ptr_array_new();
    return g;
}

/* A run dir of this daemon: a directory directly in its run root, named
 * by one path component. Nothing else is ever emptied or removed. */
static bool own_run_dir(VmctldGuests *o, const char *dir)
{
    g_autofree char *parent = dir ? g_path_get_dirname(dir) : NULL;
    g_autofree char *base = dir ? g_path_get_basename(dir) : NULL;

    return parent && strcmp(parent, o->run_root) == 0 && strcmp(base, ".") != 0 && strcmp(base, "..") != 0 &&
           strcmp(base, "/") != 0;
}

static void remove_run_dir(VmctldGuests *o, const char *dir)
{
    g_autoptr(GDir) d = NULL;
    const char *e;

    if (!own_run_dir(o, dir)) {
        g_warning("'%s' is not a run dir in '%s': left as it is", dir ? dir : "(none)", o->run_root);
        return;
    }
    d = g_dir_open(dir, 0, NULL);

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, e, NULL);
        g_unlink(p);
    }
    g_rmdir(dir);
}

/* The guest is over: its record goes, and whoever waited for it is told. */
static void guest_forget(Guest *g, const GError *error)
{
    g_autoptr(GError) err = NULL;

    if (!vmctld_state_remove(g->owner->state_dir, g->name, &err))
        g_warning("guest '%s': %s", g->name, err->message);
    remove_run_dir(g->owner, g->run_dir);
    for (guint i = 0; i < g->waiters->len; i++) {
        if (error)
            vmctld_call_error(g->waiters->pdata[i], error);
        else
            vmctld_call_return(g->waiters->pdata[i], guest_to_json(g, false));
    }
    g_ptr_array_set_size(g->waiters, 0);
    g_hash_table_remove(g->owner->guests, g->name); /* frees g */
}

/* A launch that did not come through: no QEMU, no state left behind. */
static void launch_fail(Guest *g, GError *error)
{
    VmctldCall *call = g_steal_pointer(&g->launch_call);

    if (watched(g))
        guest_signal(g, SIGKILL);
    else if (g->pid > 0)
        kill(g->pid, SIGKILL);
    guest_forget(g, NULL);
    if (call)
        vmctld_call_error(call, error);
    g_error_free(error);
}

static gboolean on_guest_exit(gint fd, GIOCondition cond, gpointer data)
{
    Guest *g = data;

    g->pidfd_src = 0;
    if (g->pidfd >= 0)
        close(g->pidfd);
    g->pidfd = -1;
    if (g->qmp) {
        vmctl_qmp_close(g->qmp);
        g_clear_pointer(&g->qmp, vmctl_qmp_unref);
    }
    if (g->launch_call) {
        g_autofree char *last = log_last_line(g);
        launch_fail(g, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "QEMU of guest '%s' exited during start%s%s",
                                   g->name, *last ? ": " : "", last));
        return G_SOURCE_REMOVE;
    }
    if (g_strcmp0(g->state, "stopping") == 0) {
        g_message("guest '%s' ended", g->name);
        guest_forget(g, NULL);
        return G_SOURCE_REMOVE;
    }
    {
        g_autofree char *tail = log_tail(g);
        g_free(g->error);
        g->error = g_strdup_printf("QEMU exited unexpectedly%s%s", *tail ? ": " : "", tail);
    }
    g->pid = 0;
    guest_set_state(g, "dead");
    return G_SOURCE_REMOVE;
}

/* A zombie has an empty command line, and a reused pid another one. */
static gboolean on_pid_poll(gpointer data)
{
    Guest *g = data;

    if (pid_is_guest(g->pid, g->name))
        return G_SOURCE_CONTINUE;
    return on_guest_exit(-1, G_IO_IN, g);
}

static bool guest_watch_pid(Guest *g, GError **error)
{
    g->pidfd = pidfd_open_pid(g->pid);
    if (g->pidfd < 0 && errno == ENOSYS && pid_is_guest(g->pid, g->name)) {
        g->pidfd = PID_POLLED;
        g->pidfd_src = g_timeout_add(PID_POLL_MS, on_pid_poll, g);
        return true;
    }
    if (g->pidfd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot watch QEMU pid %d of guest '%s': %s", (int)g->pid,
                    g->name, g_strerror(errno));
        return false;
    }
    g->pidfd_src = g_unix_fd_add(g->pidfd, G_IO_IN, on_guest_exit, g);
    return true;
}

static void on_qmp_event(VmctlQmp *qmp, const char *name, json_object *data, gint64 ts, gpointer user)
{
    Guest *g = user;

    if (g_strcmp0(g->state, "stopping") == 0 || g_strcmp0(g->state, "dead") == 0)
        return;
    if (strcmp(name, "STOP") == 0)
        guest_set_state(g, "paused");
    else if (strcmp(name, "RESUME") == 0)
        guest_set_state(g, "running");
    else if (strcmp(name, "SHUTDOWN") == 0)
        guest_set_state(g, "shutdown");
}

static void on_qmp_disconnect(VmctlQmp *qmp, const GError *reason, gpointer user)
{
    Guest *g = user;

    /* QEMU going away is seen through the pidfd; a QMP socket that breaks
     * while QEMU lives is only logged */
    g_message("guest '%s': QMP connection closed: %s", g->name, reason ? reason->message : "no reason");
}

/* A hand-over is complete once the record speaks to the new QEMU. */
static void guest_handed(Guest *g, const GError *error)
{
    VmctldHandedFunc cb = g->handed_cb;

    g->handed_cb = NULL;
    if (cb)
        cb(g->handed_user, error);
}

/* Reattached to the source of a migration that this daemon did not see to
 * its end (it was killed): the destination was removed at the restart
 * (remove_stale_destinations), so a source that ran before the migration
 * runs again, whatever state the migration's end left it in. */
static void resume_after_migration(Guest *g, bool running)
{
    g_autofree char *marker = vmctl_qemu_run_file(g->run_dir, VMCTLD_RESUME_MARKER);

    if (!g_file_test(marker, G_FILE_TEST_EXISTS))
        return;
    if (!running) {
        g_message("guest '%s': resuming the source of an unfinished migration", g->name);
        vmctl_qmp_command(g->qmp, "cont", NULL, QMP_COMMAND_TIMEOUT_MS, NULL, NULL);
    }
    g_unlink(marker);
}

static void on_status(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    Guest *g = user;
    json_object *running = ret ? json_object_object_get(ret, "running") : NULL;
    VmctldCall *call = g_steal_pointer(&g->launch_call);

    if (error) {
        if (call) { /* frees g */
            launch_fail(g, g_error_copy(error));
            return;
        }
        guest_handed(g, error);
        return;
    }
    guest_set_state(g, running && json_object_get_boolean(running) ? "running" : "paused");
    if (!call)
        resume_after_migration(g, running && json_object_get_boolean(running));
    if (call)
        vmctld_call_return(call, guest_to_json(g, true));
    guest_handed(g, NULL);
}

static void on_qmp_connected(VmctlQmp *qmp, const GError *error, gpointer user)
{
    Guest *g = user;

    if (error) {
        if (g->launch_call) { /* frees g */
            launch_fail(g, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "guest '%s': %s", g->name, error->message));
            return;
        } else if (g_strcmp0(g->state, "launching") == 0 && !g->handed_cb) {
            /* reattached to a launch that vmctld did not see through: it
             * never came up, so it goes as a failed launch would */
            g_warning("guest '%s': launch interrupted by a vmctld restart, QMP unreachable (%s): killing QEMU pid %d",
                      g->name, error->message, (int)g->pid);
            if (watched(g))
                guest_signal(g, SIGKILL);
            guest_forget(g, NULL);
            return;
        } else {
            g_warning("guest '%s': cannot reattach over QMP: %s", g->name, error->message);
            g_free(g->error);
            g->error = g_strdup_printf("QMP unreachable: %s", error->message);
            guest_save(g);
        }
        guest_handed(g, error);
        return;
    }
    vmctl_qmp_on_event(qmp, NULL, on_qmp_event, g);
    vmctl_qmp_on_disconnect(qmp, on_qmp_disconnect, g);
    vmctl_qmp_command(qmp, "query-status", NULL, QMP_COMMAND_TIMEOUT_MS, on_status, g);
}

static void guest_connect_qmp(Guest *g)
{
    g_autofree char *path = vmctl_qemu_run_file(g->run_dir, "qmp.sock");

    g->qmp = vmctl_qmp_new(NULL);
    vmctl_qmp_connect_async(g->qmp, path, QMP_CONNECT_TIMEOUT_MS, on_qmp_connected, g);
}

static bool read_pidfile(const Guest *g, pid_t *pid, GError **error)
{
    g_autofree char *path = vmctl_qemu_run_file(g->run_dir, "qemu.pid");
    uint64_t v;

    if (!vmctl_read_u64(path, &v, error))
        return false;
    *pid = (pid_t)v;
    return true;
}

static void on_launcher_exit(GPid pid, gint status, gpointer data)
{
    Guest *g = data;
    g_autoptr(GError) err = NULL;

    g->launcher_watch = 0;
    if (g->launcher_timer) {
        g_source_remove(g->launcher_timer);
        g->launcher_timer = 0;
    }
    g_spawn_close_pid(pid);
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_autofree char *last = log_last_line(g);
        pid_t qemu = 0;

        /* a QEMU that got as far as its pidfile goes with the failed launch */
        if (read_pidfile(g, &qemu, NULL) && pid_is_guest(qemu, g->name))
            kill(qemu, SIGKILL);
        launch_fail(g, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "QEMU failed to start guest '%s': %s", g->name,
                                   *last ? last : "no message"));
        return;
    }
    if (!read_pidfile(g, &g->pid, &err) || !guest_watch_pid(g, &err)) {
        launch_fail(g, g_steal_pointer(&err));
        return;
    }
    guest_save(g);
    guest_connect_qmp(g);
}

static gboolean on_launcher_timeout(gpointer data)
{
    Guest *g = data;
    pid_t pid = 0;

    g->launcher_timer = 0;
    /* the daemonized QEMU, if it got as far as its pidfile */
    if (read_pidfile(g, &pid, NULL) && pid_is_guest(pid, g->name))
        kill(pid, SIGKILL);
    launch_fail(g, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "QEMU of guest '%s' did not finish starting within %d s",
                               g->name, LAUNCHER_TIMEOUT_MS / 1000));
    return G_SOURCE_REMOVE;
}

static unsigned kvm_max_vcpus(void)
{
    int fd = vmctl_kvm_open();
    int n;

    if (fd < 0)
        return 1;
    n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    close(fd);
    return n > 0 ? (unsigned)n : 1;
}

/* Where the guest images are: --image-dir, the build tree next to vmctld,
 * or the installed data dir. */
static char *find_image(const VmctldGuests *o, const char *build_rel, const char *name)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
    g_autofree char *in_build = dir ? g_build_filename(dir, build_rel, name, NULL) : NULL;

    if (o->image_dir)
        return g_build_filename(o->image_dir, name, NULL);
    if (in_build && g_file_test(in_build, G_FILE_TEST_EXISTS))
        return g_steal_pointer(&in_build);
    return g_build_filename(VMCTL_DATADIR, name, NULL);
}

static json_object *device_object(const VmctlGuestDevice *d, const char *id, GError **error)
{
    g_autoptr(VmctlBackend) b = vmctl_backend_probe(d->path, d->size, error);

    return b ? vmctl_backend_qemu_object(b, id, d->size, true) : NULL;
}

static void json_put(gpointer o)
{
    json_object_put(o);
}

bool vmctld_qemu_spawn(char **argv, int logfd, const VmctldPassFds *pass, GPid *pid, GError **error)
{
    return g_spawn_async_with_pipes_and_fds(NULL, (const char *const *)argv, NULL,
                                            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, -1,
                                            logfd, logfd, pass ? (const int *)pass->fds->data : NULL,
                                            pass ? (const int *)pass->targets->data : NULL, pass ? pass->fds->len : 0,
                                            pid, NULL, NULL, NULL, error);
}

/* The QEMU argv of `spec` under `accel`, run from `run_dir`; the kind of
 * its RAM backing goes to `backend_kind`. Its backings are opened beneath
 * the allow-list into `pass`: QEMU maps them by descriptor. */
static GStrv guest_argv(VmctldGuests *o, const VmctlGuestSpec *spec, VmctlAccel accel, const char *run_dir,
                        char **backend_kind, VmctldPassFds *pass, GError **error)
{
    const char *const *allowed = (const char *const *)o->allowed;
    g_autoptr(VmctlBackend) ram = NULL;
    g_autoptr(GPtrArray) nv = g_ptr_array_new_with_free_func(json_put);
    g_autoptr(GPtrArray) vp = g_ptr_array_new_with_free_func(json_put);
    g_autoptr(json_object) ram_obj = NULL;
    g_autofree char *bios = NULL, *kernel = NULL, *initrd = NULL;
    VmctlQemuPaths paths;
    VmctlQemuMemory mem;
    GStrv argv;

    ram = vmctl_backend_probe(spec->backend, spec->memory, error);
    if (!ram)
        return NULL;
    /* file-backed RAM is shared so the host can read guest memory live */
    ram_obj = vmctl_backend_qemu_object(ram, "ram0", spec->memory, vmctl_backend_path(ram) != NULL);
    if (!vmctld_pass_backing(pass, allowed, ram_obj, error))
        return NULL;
    for (guint i = 0; i < spec->nvdimm->len; i++) {
        g_autofree char *id = g_strdup_printf("nv%u", i);
        json_object *obj = device_object(&g_array_index(spec->nvdimm, VmctlGuestDevice, i), id, error);
        if (!obj)
            return NULL;
        g_ptr_array_add(nv, obj);
        if (!vmctld_pass_backing(pass, allowed, obj, error))
            return NULL;
    }
    for (guint i = 0; i < spec->virtio_pmem->len; i++) {
        g_autofree char *id = g_strdup_printf("vp%u", i);
        json_object *obj = device_object(&g_array_index(spec->virtio_pmem, VmctlGuestDevice, i), id, error);
        if (!obj)
            return NULL;
        g_ptr_array_add(vp, obj);
        if (!vmctld_pass_backing(pass, allowed, obj, error))
            return NULL;
    }
    bios = find_image(o, "guest-tests/tiny", "tiny.bin");
    kernel = find_image(o, "guest-tests/linux", "vmlinuz");
    initrd = find_image(o, "guest-tests/linux", "initramfs.cpio.zst");
    if (spec->kind == VMCTL_GUEST_TINY && !g_file_test(bios, G_FILE_TEST_EXISTS)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "tiny guest image '%s' does not exist", bios);
        return NULL;
    }
    if (spec->kind == VMCTL_GUEST_LINUX && (!g_file_test(kernel, G_FILE_TEST_EXISTS) || !g_file_test(initrd, G_FILE_TEST_EXISTS))) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "Linux guest images '%s' and '%s' do not both exist",
                    kernel, initrd);
        return NULL;
    }
    paths = (VmctlQemuPaths){ o->qemu, run_dir, bios, kernel, initrd };
    mem = (VmctlQemuMemory){ ram_obj, nv, vp };
    argv = vmctl_qemu_cmdline(spec, accel, &mem, &paths, error);
    if (argv)
        *backend_kind = g_strdup(vmctl_backend_kind_name(vmctl_backend_kind(ram)));
    return argv;
}

/* The guest (not dead) whose spec owns a backing that is also `path`, and
 * that backing's role there; NULL when none does. */
static Guest *backing_owner(VmctldGuests *o, const char *path, char **role)
{
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, o->guests);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        Guest *g = v;
        g_autoptr(VmctlGuestSpec) spec = NULL;
        g_autoptr(GArray) own = NULL;

        if (g_strcmp0(g->state, "dead") == 0 || !g->spec_json)
            continue;
        spec = vmctl_guest_spec_from_json(g->spec_json, NULL);
        if (!spec)
            continue;
        own = vmctld_spec_owned(spec);
        for (guint i = 0; i < own->len; i++)
            if (vmctld_same_backing(path, g_array_index(own, VmctldOwned, i).path)) {
                *role = g_strdup(g_array_index(own, VmctldOwned, i).role);
                return g;
            }
    }
    return NULL;
}

bool vmctld_guests_backings_check(VmctldGuests *o, const VmctlGuestSpec *spec, GError **error)
{
    g_autoptr(GArray) own = NULL;

    if (!vmctld_spec_paths_check((const char *const *)o->allowed, spec, error) ||
        !vmctld_spec_owned_distinct(spec, error))
        return false;
    own = vmctld_spec_owned(spec);
    for (guint i = 0; i < own->len; i++) {
        const VmctldOwned *b = &g_array_index(own, VmctldOwned, i);
        g_autofree char *role = NULL;
        Guest *g = backing_owner(o, b->path, &role);

        if (g) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "backing '%s' (%s of guest '%s') is in use by guest "
                        "'%s' (its %s): a backing serves one guest", b->path, b->role, spec->name, g->name, role);
            return false;
        }
    }
    return true;
}

void vmctld_guests_cmd_launch(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    VmctldGuests *o = data;
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlGuestSpec) spec = NULL;
    g_autofree char *log_path = NULL, *backend_kind = NULL;
    g_auto(GStrv) argv = NULL;
    json_object *spec_json = args ? json_object_object_get(args, "spec") : NULL;
    VmctlAccelHost host;
    VmctlAccel accel;
    const char *why;
    Guest *g;
    VmctldPassFds pass = { 0 };
    GPid launcher;
    int logfd;

    if (!spec_json) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'spec' is missing");
        goto fail;
    }
    spec = vmctl_guest_spec_from_json(spec_json, &err);
    if (!spec)
        goto fail;
    vmctl_accel_host_probe(&host);
    if (!vmctl_accel_choose(spec, &host, &accel, &why, &err) ||
        !vmctl_guest_spec_validate(spec, accel == VMCTL_ACCEL_KVM ? kvm_max_vcpus() : TCG_MAX_VCPUS, &err))
        goto fail;
    if (spec->dirty_ring && accel != VMCTL_ACCEL_KVM) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "dirty-ring of guest '%s' needs KVM, and it runs under TCG",
                    spec->name);
        goto fail;
    }
    if (g_hash_table_contains(o->guests, spec->name)) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "guest '%s' already exists", spec->name);
        goto fail;
    }
    if (!vmctld_guests_backings_check(o, spec, &err))
        goto fail;

    g = guest_new(o, spec->name);
    vmctld_pass_fds_init(&pass);
    argv = guest_argv(o, spec, accel, g->run_dir, &backend_kind, &pass, &err);
    if (!argv) {
        vmctld_pass_fds_clear(&pass, (const char *const *)o->allowed);
        guest_free(g);
        goto fail;
    }
    remove_run_dir(o, g->run_dir);
    if (g_mkdir_with_parents(g->run_dir, 0700) < 0) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create '%s': %s", g->run_dir, g_strerror(errno));
        guest_free(g);
        goto fail;
    }
    g->spec_json = vmctl_guest_spec_to_json(spec);
    g->accel = g_strdup(vmctl_accel_name(accel));
    g->accel_reason = g_strdup(why);
    g->backend_kind = g_steal_pointer(&backend_kind);
    g->argv = json_object_new_array();
    for (size_t i = 0; argv[i]; i++)
        json_object_array_add(g->argv, json_object_new_string(argv[i]));
    {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g->started = g_date_time_format_iso8601(now);
    }
    g->launch_call = call;
    g_hash_table_insert(o->guests, g->name, g);
    /* the state file exists before QEMU does: without it, no QEMU */
    g->state = g_strdup("launching");
    {
        g_autoptr(json_object) st = guest_to_json(g, true);
        if (!vmctld_state_save(o->state_dir, g->name, st, &err)) {
            vmctld_pass_fds_clear(&pass, (const char *const *)o->allowed);
            launch_fail(g, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot record guest '%s' in state dir '%s': %s",
                                       g->name, o->state_dir, err->message));
            return;
        }
    }
    g_message("guest '%s': - -> launching", g->name);

    log_path = vmctl_qemu_run_file(g->run_dir, "qemu.log");
    logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0 || !vmctld_qemu_spawn(argv, logfd, &pass, &launcher, &err)) {
        if (logfd >= 0)
            close(logfd);
        else
            g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create '%s': %s", log_path, g_strerror(errno));
        vmctld_pass_fds_clear(&pass, (const char *const *)o->allowed);
        launch_fail(g, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot run QEMU '%s': %s", o->qemu,
                                   err->message));
        return;
    }
    close(logfd);
    /* QEMU holds its own descriptors of the backings now */
    vmctld_pass_fds_clear(&pass, NULL);
    g->launcher = launcher;
    g->launcher_watch = g_child_watch_add(launcher, on_launcher_exit, g);
    g->launcher_timer = g_timeout_add(LAUNCHER_TIMEOUT_MS, on_launcher_timeout, g);
    return;

fail:
    vmctld_call_error(call, err);
}

static Guest *lookup(VmctldGuests *o, json_object *args, GError **error)
{
    json_object *name = args ? json_object_object_get(args, "name") : NULL;
    Guest *g;

    if (!name || !json_object_is_type(name, json_type_string)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'name' must be a guest name");
        return NULL;
    }
    g = g_hash_table_lookup(o->guests, json_object_get_string(name));
    if (!g)
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "guest '%s' does not exist",
                    json_object_get_string(name));
    return g;
}

json_object *vmctld_guests_cmd_info(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    Guest *g = lookup(data, args, error);

    return g ? guest_to_json(g, true) : NULL;
}

static gint cmp_guest(gconstpointer a, gconstpointer b)
{
    return strcmp((*(Guest *const *)a)->name, (*(Guest *const *)b)->name);
}

json_object *vmctld_guests_cmd_list(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    VmctldGuests *o = data;
    g_autoptr(GPtrArray) all = g_ptr_array_new();
    json_object *arr = json_object_new_array();
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, o->guests);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(all, v);
    g_ptr_array_sort(all, cmp_guest);
    for (guint i = 0; i < all->len; i++)
        json_object_array_add(arr, guest_to_json(all->pdata[i], false));
    return arr;
}

static gboolean on_stop_timeout(gpointer data)
{
    Guest *g = data;

    g->stop_timer = 0;
    g_warning("guest '%s' did not quit within %d ms: SIGKILL", g->name, STOP_GRACE_MS);
    if (watched(g))
        guest_signal(g, SIGKILL);
    return G_SOURCE_REMOVE;
}

static void end_guest(VmctldGuests *o, json_object *args, VmctldCall *call, bool force)
{
    g_autoptr(GError) err = NULL;
    Guest *g = lookup(o, args, &err);

    if (!g) {
        vmctld_call_error(call, err);
        return;
    }
    if (g->launch_call) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "guest '%s' is still starting", g->name);
        vmctld_call_error(call, err);
        return;
    }
    if (!watched(g)) { /* dead: only the record is left */
        g_ptr_array_add(g->waiters, call);
        guest_forget(g, NULL);
        return;
    }
    g_ptr_array_add(g->waiters, call);
    guest_set_state(g, "stopping");
    if (!force && g->qmp && vmctl_qmp_is_ready(g->qmp)) {
        vmctl_qmp_command(g->qmp, "quit", NULL, QMP_COMMAND_TIMEOUT_MS, NULL, NULL);
        if (!g->stop_timer)
            g->stop_timer = g_timeout_add(STOP_GRACE_MS, on_stop_timeout, g);
    } else if (guest_signal(g, force ? SIGKILL : SIGTERM) < 0 && errno != ESRCH) {
        g_warning("guest '%s': cannot signal QEMU: %s", g->name, g_strerror(errno));
    }
}

void vmctld_guests_cmd_stop(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    end_guest(data, args, call, false);
}

void vmctld_guests_cmd_kill(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    end_guest(data, args, call, true);
}

static void on_qmp_reply(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user)
{
    VmctldCall *call = user;

    if (error)
        vmctld_call_error(call, error);
    else
        vmctld_call_return(call, json_object_get(ret));
}

void vmctld_guests_cmd_qmp(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    g_autoptr(GError) err = NULL;
    Guest *g = lookup(data, args, &err);
    json_object *cmd = args ? json_object_object_get(args, "command") : NULL;
    json_object *execute = cmd ? json_object_object_get(cmd, "execute") : NULL;
    json_object *qargs = cmd ? json_object_object_get(cmd, "arguments") : NULL;

    if (!g)
        goto fail;
    if (!execute || !json_object_is_type(execute, json_type_string)) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'command' must be a QMP command object with 'execute'");
        goto fail;
    }
    if (!g->qmp || !vmctl_qmp_is_ready(g->qmp)) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_FAILED, "guest '%s' has no QMP connection (state %s)", g->name,
                    g->state);
        goto fail;
    }
    vmctl_qmp_command(g->qmp, json_object_get_string(execute), qargs ? json_object_get(qargs) : NULL,
                      QMP_REQUEST_TIMEOUT_MS, on_qmp_reply, call);
    return;
fail:
    vmctld_call_error(call, err);
}

/* Is `pid` the QEMU of guest `name`? (pids are reused) */
static bool pid_is_guest(pid_t pid, const char *name)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    g_autofree char *cmd = NULL;
    g_autofree char *want = g_strdup_printf("guest=%s", name);
    gsize len;

    if (pid <= 0 || !g_file_get_contents(path, &cmd, &len, NULL))
        return false;
    for (gsize i = 0; i < len; i += strlen(cmd + i) + 1)
        if (strcmp(cmd + i, want) == 0)
            return true;
    return false;
}

/* A migration destination (run dir NAME.dst-N) that no state file names
 * was being set up when vmctld stopped: its QEMU goes, so the source
 * stays the guest and nothing runs twice. */
static void remove_stale_destinations(VmctldGuests *o)
{
    g_autoptr(GDir) d = g_dir_open(o->run_root, 0, NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *dir = g_build_filename(o->run_root, e, NULL);
        g_autofree char *name = g_strdup(e);
        char *suffix = g_strrstr(name, ".dst-");
        GHashTableIter it;
        gpointer v;
        bool used = false;
        pid_t pid = 0;

        if (!suffix)
            continue;
        *suffix = '\0';
        g_hash_table_iter_init(&it, o->guests);
        while (g_hash_table_iter_next(&it, NULL, &v))
            used |= g_strcmp0(((Guest *)v)->run_dir, dir) == 0;
        if (used)
            continue;
        {
            g_autofree char *pidfile = vmctl_qemu_run_file(dir, "qemu.pid");
            uint64_t p;
            if (vmctl_read_u64(pidfile, &p, NULL))
                pid = (pid_t)p;
        }
        if (pid_is_guest(pid, name)) {
            g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
            g_autofree char *cmd = NULL;
            gsize len = 0;

            g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);

            g_warning("guest '%s': killing the migration destination QEMU pid %d left in '%s'", name, (int)pid, dir);
            g_file_get_contents(path, &cmd, &len, NULL);
            /* the new backing files it made (PATH.dst-N), found before it
             * dies: a backing passed by descriptor is what it has open */
            for (gsize i = 0; cmd && i < len; i += strlen(cmd + i) + 1) {
                g_autoptr(json_object) obj = cmd[i] == '{' ? json_tokener_parse(cmd + i) : NULL;
                const char *mp = obj ? json_object_get_string(json_object_object_get(obj, "mem-path")) : NULL;
                g_autofree char *real = NULL;

                if (mp && g_str_has_prefix(mp, "/proc/self/fd/")) {
                    g_autofree char *link = g_strdup_printf("/proc/%d/fd/%s", (int)pid, mp + strlen("/proc/self/fd/"));
                    real = g_file_read_link(link, NULL);
                    mp = real;
                }
                if (mp && g_strrstr(mp, ".dst-"))
                    g_ptr_array_add(made, g_strdup(mp));
            }
            kill(pid, SIGKILL);
            for (guint i = 0; i < made->len; i++) {
                g_autoptr(GError) err = NULL;
                if (!vmctld_path_unlink((const char *const *)o->allowed, made->pdata[i], &err))
                    g_warning("%s", err->message);
            }
        }
        remove_run_dir(o, dir);
    }
}

void vmctld_guests_reattach(VmctldGuests *o)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) states = vmctld_state_list(o->state_dir, &err);

    if (!states) {
        g_warning("cannot read the state dir: %s", err->message);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(states); i++) {
        json_object *st = json_object_array_get_idx(states, i);
        const char *name = json_object_get_string(json_object_object_get(st, "name"));
        const char *state = json_object_get_string(json_object_object_get(st, "state"));
        json_object *v;
        Guest *g;

        if (!name)
            continue;
        g = guest_new(o, name);
        if (json_object_object_get(st, "error") && !json_object_object_get(st, "spec")) {
            /* listed rather than dropped; `stop` removes the file */
            g_warning("state file of guest '%s' is unreadable", name);
            g->state = g_strdup("unreadable");
            g->error = g_strdup(json_object_get_string(json_object_object_get(st, "error")));
            g->spec_json = json_object_new_object();
            g_hash_table_insert(o->guests, g->name, g);
            continue;
        }
        g->spec_json = json_object_get(json_object_object_get(st, "spec"));
        if ((v = json_object_object_get(st, "run_dir")) && json_object_get_string(v)) {
            /* a migrated guest runs from its destination's run dir; only
             * ever one of this daemon's run root */
            if (own_run_dir(o, json_object_get_string(v))) {
                g_free(g->run_dir);
                g->run_dir = g_strdup(json_object_get_string(v));
            } else {
                g_warning("guest '%s': its state names run dir '%s', which is not in '%s': not used", name,
                          json_object_get_string(v), o->run_root);
            }
        }
        g->accel = g_strdup(json_object_get_string(json_object_object_get(st, "accel")));
        g->accel_reason = g_strdup(json_object_get_string(json_object_object_get(st, "accel_reason")));
        g->backend_kind = g_strdup(json_object_get_string(json_object_object_get(st, "backend_kind")));
        g->started = g_strdup(json_object_get_string(json_object_object_get(st, "started")));
        if ((v = json_object_object_get(st, "error")))
            g->error = g_strdup(json_object_get_string(v));
        if ((v = json_object_object_get(st, "argv")))
            g->argv = json_object_get(v);
        g->state = g_strdup(state);
        g->pid = (pid_t)json_object_get_int64(json_object_object_get(st, "pid"));
        if (g->pid <= 0)
            read_pidfile(g, &g->pid, NULL);
        g_hash_table_insert(o->guests, g->name, g);

        if (g_strcmp0(state, "dead") == 0)
            continue; /* dead stays dead: the record waits for stop */
        if (!pid_is_guest(g->pid, name) || !guest_watch_pid(g, NULL)) {
            if (g_strcmp0(state, "launching") == 0 || g_strcmp0(state, "stopping") == 0) {
                /* it never came up, or it was being ended: nothing is lost */
                guest_forget(g, NULL);
                continue;
            }
            {
                g_autofree char *tail = log_tail(g);
                g_free(g->error);
                g->error = g_strdup_printf("QEMU exited while vmctld was not running%s%s", *tail ? ": " : "", tail);
            }
            g->pid = 0;
            guest_set_state(g, "dead");
            continue;
        }
        g_message("guest '%s': reattaching to QEMU pid %d", name, (int)g->pid);
        guest_connect_qmp(g);
    }
    remove_stale_destinations(o);
}

const char *const *vmctld_guests_allowed(VmctldGuests *o)
{
    return (const char *const *)o->allowed;
}

const char *vmctld_guests_run_root(VmctldGuests *o)
{
    return o->run_root;
}

json_object *vmctld_guests_info(VmctldGuests *o, const char *name, GError **error)
{
    Guest *g = g_hash_table_lookup(o->guests, name);

    if (!g) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "guest '%s' does not exist", name);
        return NULL;
    }
    return guest_to_json(g, true);
}

VmctlQmp *vmctld_guests_qmp(VmctldGuests *o, const char *name, GError **error)
{
    Guest *g = g_hash_table_lookup(o->guests, name);

    if (!g) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "guest '%s' does not exist", name);
        return NULL;
    }
    if (!g->qmp || !vmctl_qmp_is_ready(g->qmp) || g->launch_call) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "guest '%s' has no QMP connection (state %s)", name,
                    g->state);
        return NULL;
    }
    return g->qmp;
}

GStrv vmctld_guests_qemu_argv(VmctldGuests *o, json_object *spec_json, const char *accel_name, const char *run_dir,
                              char **backend_kind, VmctldPassFds *pass, GError **error)
{
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_from_json(spec_json, error);
    VmctlAccel accel;

    if (!spec)
        return NULL;
    if (!vmctl_accel_from_name(accel_name, &accel) || accel == VMCTL_ACCEL_AUTO) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "accelerator '%s' is not kvm or tcg", accel_name);
        return NULL;
    }
    return guest_argv(o, spec, accel, run_dir, backend_kind, pass, error);
}

bool vmctld_guests_hand_over(VmctldGuests *o, const char *name, json_object *spec_json, const char *run_dir,
                             pid_t pid, json_object *argv, const char *backend_kind, VmctldHandedFunc cb,
                             gpointer user, GError **error)
{
    Guest *g = g_hash_table_lookup(o->guests, name);
    g_autofree char *old_dir = NULL;

    if (!g) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "guest '%s' does not exist", name);
        return false;
    }
    /* let go of the source first: its exit must not mark the guest dead */
    if (g->pidfd_src)
        g_source_remove(g->pidfd_src);
    g->pidfd_src = 0;
    if (watched(g)) {
        guest_signal(g, SIGTERM);
        if (g->pidfd >= 0)
            close(g->pidfd);
        g->pidfd = -1;
    }
    if (g->qmp) {
        vmctl_qmp_close(g->qmp);
        g_clear_pointer(&g->qmp, vmctl_qmp_unref);
    }
    old_dir = g_steal_pointer(&g->run_dir);
    g->run_dir = g_strdup(run_dir);
    g->pid = pid;
    json_object_put(g->spec_json);
    g->spec_json = json_object_get(spec_json);
    json_object_put(g->argv);
    g->argv = json_object_get(argv);
    g_free(g->backend_kind);
    g->backend_kind = g_strdup(backend_kind);
    g_clear_pointer(&g->error, g_free);
    guest_save(g);
    remove_run_dir(g->owner, old_dir);
    if (!guest_watch_pid(g, error))
        return false;
    g->handed_cb = cb;
    g->handed_user = user;
    guest_connect_qmp(g);
    return true;
}

VmctldGuests *vmctld_guests_new(const VmctldGuestsConfig *cfg, GError **error)
{
    VmctldGuests *o = g_new0(VmctldGuests, 1);

    o->state_dir = g_strdup(cfg->state_dir);
    o->run_root = g_build_filename(cfg->state_dir, "run", NULL);
    o->qemu = g_strdup(cfg->qemu);
    o->image_dir = g_strdup(cfg->image_dir);
    o->allowed = vmctld_paths_allowed_new(cfg->allowed_paths);
    o->guests = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)guest_free);
    if (g_mkdir_with_parents(o->run_root, 0700) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create '%s': %s", o->run_root, g_strerror(errno));
        vmctld_guests_free(o);
        return NULL;
    }
    if (!vmctld_dir_private("run dir", o->run_root, error)) {
        vmctld_guests_free(o);
        return NULL;
    }
    return o;
}

void vmctld_guests_free(VmctldGuests *o)
{
    if (!o)
        return;
    /* guests keep running: only our watches and connections go */
    g_hash_table_unref(o->guests);
    g_free(o->state_dir);
    g_free(o->run_root);
    g_free(o->qemu);
    g_free(o->image_dir);
    g_strfreev(o->allowed);
    g_free(o);
}
