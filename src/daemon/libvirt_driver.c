/* libvirt_driver.c: vmctld's libvirt driver (see libvirt_driver.h).
 *
 * Each command is a Job run in a GTask worker thread with its own
 * virConnect; its reply (and any progress event) is handed back to the
 * main loop. A migration is the libvirt transport of the daemon's
 * migration pipeline (daemon/migration.h): each libvirt call is a step in
 * a worker; the transfer runs virDomainMigrateToURI3 (live, peer-to-peer,
 * the destination left paused) while a second thread polls
 * virDomainGetJobStats for progress, the postcopy switch, the timeout and
 * a client that went away. The images it gives the pipeline's proof are
 * the source's RAM, kept open through /proc/PID/map_files before the
 * migration (the source QEMU is gone once libvirt confirms), and the paused
 * destination's; the destination's console is the serial socket given to
 * it in its XML. */
#include "config.h"

#include "daemon/libvirt_driver.h"
#include "daemon/migration.h"
#include "daemon/paths.h"

#include "guest_spec.h"
#include "libvirt_migrate.h"
#include "libvirt_xml.h"
#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define METADATA_NS "https://vmctl.dev/xmlns/guest/1" /* <metadata> element of the guest spec */
#define METADATA_PREFIX "vmctl"
#define DIRTY_RATE_POLL_MS 100
#define JOB_POLL_MS 250
#define VERIFY_TIMEOUT_S 60

struct VmctldLibvirt {
    char *uri;
    char *run_dir;   /* STATE_DIR/libvirt: serial sockets, console logs */
    char *image_dir; /* tiny.bin, vmlinuz, initramfs.cpio.zst */
    char *qemu;
    GStrv allowed;   /* host paths a request may name (paths.h) */
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

static void silent(void *data, virErrorPtr err)
{
    (void)data;
    (void)err; /* errors are reported once, by the caller, with their context */
}

/* A GError from the last libvirt error of this thread. */
static void lv_error(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void lv_error(GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "%s: %s", what, virGetLastErrorMessage());
}

static virConnectPtr lv_open(const char *uri, GError **error)
{
    virConnectPtr c = virConnectOpen(uri);

    if (!c)
        lv_error(error, "cannot connect to libvirt at '%s'", uri);
    return c;
}

static virDomainPtr lv_lookup(virConnectPtr c, const char *uri, const char *name, GError **error)
{
    virDomainPtr d = virDomainLookupByName(c, name);

    if (!d)
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "no guest '%s' in libvirt at '%s'", name, uri);
    return d;
}

/* --- jobs ------------------------------------------------------------------ */

typedef struct Job Job;
typedef json_object *(*JobFunc)(Job *job, virConnectPtr conn, GError **error);

struct Job {
    VmctldLibvirt *lv;
    VmctldCall *call;
    json_object *args;
    char *name; /* the guest, or NULL */
    JobFunc fn;
};

static void job_free(Job *j)
{
    json_object_put(j->args);
    g_free(j->name);
    g_free(j);
}

typedef struct {
    VmctldCall *call;
    char *name;
    json_object *data;
} JobEvent;

static gboolean job_event_dispatch(gpointer p)
{
    JobEvent *e = p;

    vmctld_call_event(e->call, e->name, e->data);
    g_free(e->name);
    g_free(e);
    return G_SOURCE_REMOVE;
}

/* From a worker: an event of the call (`data` stolen), delivered in the
 * main loop before the reply. */
static void job_event(Job *j, const char *name, json_object *data)
{
    JobEvent *e = g_new0(JobEvent, 1);

    e->call = j->call;
    e->name = g_strdup(name);
    e->data = data;
    g_main_context_invoke(NULL, job_event_dispatch, e);
}

static void json_put(gpointer p)
{
    json_object_put(p);
}

static void job_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    Job *j = data;
    GError *err = NULL;
    g_autoptr(virConnect) conn = lv_open(j->lv->uri, &err);
    json_object *r = conn ? j->fn(j, conn, &err) : NULL;

    if (r)
        g_task_return_pointer(task, r, json_put);
    else
        g_task_return_error(task, err);
}

static void job_done(GObject *src, GAsyncResult *res, gpointer user)
{
    Job *j = g_task_get_task_data(G_TASK(res));
    g_autoptr(GError) err = NULL;
    json_object *r = g_task_propagate_pointer(G_TASK(res), &err);

    if (r)
        vmctld_call_return(j->call, r);
    else
        vmctld_call_error(j->call, err);
}

static void job_start(VmctldLibvirt *lv, VmctldCall *call, json_object *args, bool need_name, JobFunc fn)
{
    json_object *jname = args ? json_object_object_get(args, "name") : NULL;
    g_autoptr(GTask) task = NULL;
    Job *j;

    if (need_name && (!jname || !json_object_is_type(jname, json_type_string))) {
        g_autoptr(GError) e = g_error_new(VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'name' must be a guest name");
        vmctld_call_error(call, e);
        return;
    }
    j = g_new0(Job, 1);
    j->lv = lv;
    j->call = call;
    j->args = args ? json_object_get(args) : json_object_new_object();
    j->name = jname ? g_strdup(json_object_get_string(jname)) : NULL;
    j->fn = fn;
    task = g_task_new(NULL, NULL, job_done, NULL);
    g_task_set_task_data(task, j, (GDestroyNotify)job_free);
    g_task_run_in_thread(task, job_thread);
}

/* --- host-side helpers ---------------------------------------------------- */

/* --- domains --------------------------------------------------------------- */

static const char *state_name(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "nostate";
    }
}

/* The guest spec kept in the domain's metadata, NULL for a domain that
 * vmctl did not launch. */
static json_object *dom_spec(virDomainPtr dom)
{
    g_autofree char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0);

    return md ? vmctl_lvm_metadata_spec(md) : NULL;
}

/* One attribute of the first element matching `pattern` (a regex with one
 * group) in the domain XML. */
static char *xml_find(const char *xml, const char *pattern)
{
    g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_DOTALL, 0, NULL);
    g_autoptr(GMatchInfo) mi = NULL;

    if (re && g_regex_match(re, xml, 0, &mi))
        return g_match_info_fetch(mi, 1);
    return NULL;
}

#define SERIAL_SOCKET_RE "<serial type=.unix.>\\s*<source mode=.bind. path=.([^'\"]+)."
#define CONSOLE_LOG_RE "<serial type=.unix.>.*?<log file=.([^'\"]+)."

static json_object *dom_info(VmctldLibvirt *lv, virDomainPtr dom, GError **error)
{
    json_object *r = json_object_new_object();
    json_object *spec = dom_spec(dom);
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autofree char *serial = xml ? xml_find(xml, SERIAL_SOCKET_RE) : NULL;
    g_autofree char *log = xml ? xml_find(xml, CONSOLE_LOG_RE) : NULL;
    g_autofree char *type = xml ? xml_find(xml, "<domain type=.(\\w+).") : NULL;
    int st = 0, reason = 0;
    pid_t pid;

    if (virDomainGetState(dom, &st, &reason, 0) < 0) {
        lv_error(error, "cannot read the state of guest '%s'", virDomainGetName(dom));
        json_object_put(spec);
        json_object_put(r);
        return NULL;
    }
    vmctl_json_add_str(r, "name", virDomainGetName(dom));
    vmctl_json_add_str(r, "driver", "libvirt");
    vmctl_json_add_str(r, "uri", lv->uri);
    vmctl_json_add_str(r, "state", state_name(st));
    if (st == VIR_DOMAIN_RUNNING || st == VIR_DOMAIN_PAUSED) {
        pid = vmctl_lvm_find_qemu(virDomainGetName(dom), 0);
        if (pid)
            vmctl_json_add_i64(r, "pid", pid);
    }
    vmctl_json_add_str(r, "accel", g_strcmp0(type, "kvm") == 0 ? "kvm" : "tcg");
    vmctl_json_add_str(r, "accel_reason", type ? (strcmp(type, "kvm") == 0 ? "libvirt domain type 'kvm'" : "libvirt domain type 'qemu'") : "unknown");
    if (spec) {
        vmctl_json_add_str(r, "kind", json_object_get_string(json_object_object_get(spec, "kind")));
        vmctl_json_add_str(r, "backend", json_object_get_string(json_object_object_get(spec, "backend")));
        vmctl_json_add_str(r, "backend_kind", "libvirt memoryBacking");
        json_object_object_add(r, "spec", spec);
    }
    if (serial)
        vmctl_json_add_str(r, "serial_socket", serial);
    if (log)
        vmctl_json_add_str(r, "console_log", log);
    return r;
}

/* Where the images are: --image-dir, else a directory of links to the
 * ones next to vmctld in the build tree, else the installed data dir. */
static char *image_dir(const char *run_dir, const char *explicit_dir)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
    g_autofree char *tiny = dir ? g_build_filename(dir, "guest-tests/tiny/tiny.bin", NULL) : NULL;
    g_autofree char *links = g_build_filename(run_dir, "images", NULL);
    static const char *const rel[][2] = {
        { "guest-tests/tiny", "tiny.bin" },
        { "guest-tests/linux", "vmlinuz" },
        { "guest-tests/linux", "initramfs.cpio.zst" },
    };

    if (explicit_dir)
        return g_canonicalize_filename(explicit_dir, NULL);
    if (!tiny || !g_file_test(tiny, G_FILE_TEST_EXISTS))
        return g_strdup(VMCTL_DATADIR);
    g_mkdir_with_parents(links, 0700);
    for (size_t i = 0; i < G_N_ELEMENTS(rel); i++) {
        g_autofree char *target = g_build_filename(dir, rel[i][0], rel[i][1], NULL);
        g_autofree char *link = g_build_filename(links, rel[i][1], NULL);

        g_unlink(link);
        if (symlink(target, link) < 0)
            g_warning("cannot link '%s' to '%s': %s", link, target, g_strerror(errno));
    }
    return g_steal_pointer(&links);
}

/* --- launch, list, info, stop, kill ---------------------------------------- */

/* The domain XML of a spec, the console a Unix socket (VERIFY needs
 * input) logged to a file. */
static char *launch_xml(VmctldLibvirt *lv, const VmctlGuestSpec *spec, const char *serial, const char *log,
                        GError **error)
{
    VmctlLibvirtXmlOpts o = { .emulator = lv->qemu, .image_dir = lv->image_dir, .serial_path = log,
                              .serial_socket = serial };
    int kvm = vmctl_kvm_open();

    if (kvm >= 0)
        close(kvm);
    if (spec->accel == VMCTL_ACCEL_AUTO)
        o.domain_type = spec->kind == VMCTL_GUEST_TINY && kvm >= 0 ? "kvm" : "qemu";
    return vmctl_libvirt_xml(spec, &o, error);
}

static json_object *do_launch(Job *j, virConnectPtr conn, GError **error)
{
    json_object *spec_json = json_object_object_get(j->args, "spec");
    g_autoptr(VmctlGuestSpec) spec = spec_json ? vmctl_guest_spec_from_json(spec_json, error) : NULL;
    g_autofree char *xml = NULL, *serial = NULL, *log = NULL, *md_xml = NULL;
    g_autoptr(json_object) stored = NULL;
    g_autoptr(virDomain) dom = NULL;

    if (!spec_json) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'spec' is required");
        return NULL;
    }
    if (!spec || !vmctld_spec_paths_check((const char *const *)j->lv->allowed, spec, error))
        return NULL;
    /* QEMU's anonymous RAM cannot be reached from outside it once it has
     * exited; memfd can (map_files), and it serves postcopy */
    if (g_strcmp0(spec->backend, "anonymous") == 0) {
        g_free(spec->backend);
        spec->backend = g_strdup("memfd");
    }
    if ((dom = virDomainLookupByName(conn, spec->name))) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "guest '%s' already exists in libvirt at '%s'",
                    spec->name, j->lv->uri);
        return NULL;
    }
    serial = g_strdup_printf("%s/%s.%" G_GINT64_FORMAT ".sock", j->lv->run_dir, spec->name, g_get_real_time());
    log = g_strdup_printf("%s/%s.log", j->lv->run_dir, spec->name);
    xml = launch_xml(j->lv, spec, serial, log, error);
    if (!xml)
        return NULL;
    stored = vmctl_guest_spec_to_json(spec);
    md_xml = vmctl_lvm_metadata_xml(stored);
    dom = virDomainCreateXML(conn, xml, 0);
    if (!dom) {
        lv_error(error, "libvirt at '%s' did not start guest '%s'", j->lv->uri, spec->name);
        return NULL;
    }
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, md_xml, METADATA_PREFIX, METADATA_NS,
                             VIR_DOMAIN_AFFECT_LIVE) < 0) {
        lv_error(error, "cannot store the spec of guest '%s' in its libvirt metadata", spec->name);
        virDomainDestroy(dom);
        return NULL;
    }
    g_message("guest '%s' started in libvirt at '%s'", spec->name, j->lv->uri);
    return dom_info(j->lv, dom, error);
}

static json_object *do_list(Job *j, virConnectPtr conn, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    json_object *r;

    if (n < 0) {
        lv_error(error, "cannot list the domains of libvirt at '%s'", j->lv->uri);
        return NULL;
    }
    r = json_object_new_array();
    for (int i = 0; i < n; i++) {
        g_autoptr(json_object) spec = dom_spec(doms[i]);
        json_object *info = spec ? dom_info(j->lv, doms[i], NULL) : NULL;

        if (info) /* only the guests vmctl launched */
            json_object_array_add(r, info);
        virDomainFree(doms[i]);
    }
    free(doms);
    return r;
}

static json_object *do_info(Job *j, virConnectPtr conn, GError **error)
{
    g_autoptr(virDomain) dom = lv_lookup(conn, j->lv->uri, j->name, error);

    return dom ? dom_info(j->lv, dom, error) : NULL;
}

static json_object *end_guest(Job *j, virConnectPtr conn, bool graceful, GError **error)
{
    g_autoptr(virDomain) dom = lv_lookup(conn, j->lv->uri, j->name, error);
    json_object *r;

    if (!dom)
        return NULL;
    /* graceful: SIGTERM, QEMU ends cleanly (the test guests have no ACPI) */
    if (virDomainDestroyFlags(dom, graceful ? VIR_DOMAIN_DESTROY_GRACEFUL : 0) < 0) {
        lv_error(error, "cannot end guest '%s'", j->name);
        return NULL;
    }
    r = json_object_new_object();
    vmctl_json_add_str(r, "name", j->name);
    vmctl_json_add_str(r, "state", "shutoff");
    return r;
}

static json_object *do_stop(Job *j, virConnectPtr conn, GError **error)
{
    return end_guest(j, conn, true, error);
}

static json_object *do_kill(Job *j, virConnectPtr conn, GError **error)
{
    return end_guest(j, conn, false, error);
}

/* --- dirty rate ------------------------------------------------------------- */

static json_object *do_dirty_rate(Job *j, virConnectPtr conn, GError **error)
{
    g_autoptr(virDomain) dom = lv_lookup(conn, j->lv->uri, j->name, error);
    json_object *js = json_object_object_get(j->args, "seconds");
    const char *want = json_object_get_string(json_object_object_get(j->args, "mode"));
    int seconds = js ? json_object_get_int(js) : 1;
    g_autofree char *xml = NULL, *type = NULL;
    g_autoptr(json_object) spec = NULL;
    json_object *ring, *r;
    unsigned long hv = 0;
    struct vmctl_version v = { 0 };
    const char *mode, *why;
    unsigned flags;
    int status = 0, period = 0;
    long long mbps = -1;
    uint64_t t0 = vmctl_now_ns();

    if (!dom)
        return NULL;
    if (seconds < 1 || seconds > 60) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "seconds '%d' is not within 1..60", seconds);
        return NULL;
    }
    xml = virDomainGetXMLDesc(dom, 0);
    type = xml ? xml_find(xml, "<domain type=.(\\w+).") : NULL;
    spec = dom_spec(dom);
    ring = spec ? json_object_object_get(spec, "dirty-ring") : NULL;
    if (virConnectGetVersion(conn, &hv) == 0)
        v = (struct vmctl_version){ (int)(hv / 1000000), (int)(hv / 1000 % 1000), (int)(hv % 1000) };
    mode = vmctl_migrate_dirty_rate_mode(g_strcmp0(type, "kvm") == 0, ring && json_object_get_int64(ring) > 0, &v,
                                         &why);
    if (want && strcmp(want, "auto") != 0) {
        mode = want;
        why = "requested";
    }
    if (strcmp(mode, "dirty-ring") == 0)
        flags = VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING;
    else if (strcmp(mode, "dirty-bitmap") == 0)
        flags = VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP;
    else if (strcmp(mode, "page-sampling") == 0)
        flags = VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING;
    else {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "mode '%s' is not one of auto, page-sampling, dirty-bitmap, dirty-ring", mode);
        return NULL;
    }
    if (virDomainStartDirtyRateCalc(dom, seconds, flags) < 0) {
        lv_error(error, "virDomainStartDirtyRateCalc on guest '%s' failed", j->name);
        return NULL;
    }
    g_usleep((gulong)seconds * G_USEC_PER_SEC);
    for (unsigned i = 0; i < 100 + 10000 / DIRTY_RATE_POLL_MS; i++) {
        virDomainPtr doms[] = { dom, NULL };
        virDomainStatsRecordPtr *recs = NULL;
        int n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &recs, 0);

        if (n < 0) {
            lv_error(error, "cannot read the dirty rate of guest '%s'", j->name);
            return NULL;
        }
        if (n > 0) {
            virTypedParamsGetInt(recs[0]->params, recs[0]->nparams, "dirtyrate.calc_status", &status);
            virTypedParamsGetInt(recs[0]->params, recs[0]->nparams, "dirtyrate.calc_period", &period);
            virTypedParamsGetLLong(recs[0]->params, recs[0]->nparams, "dirtyrate.megabytes_per_second", &mbps);
        }
        virDomainStatsRecordListFree(recs);
        if (status == VIR_DOMAIN_DIRTYRATE_MEASURED)
            break;
        g_usleep(DIRTY_RATE_POLL_MS * 1000);
    }
    if (status != VIR_DOMAIN_DIRTYRATE_MEASURED || mbps < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "the dirty rate of guest '%s' was not measured (status %d)",
                    j->name, status);
        return NULL;
    }
    r = json_object_new_object();
    vmctl_json_add_str(r, "name", j->name);
    vmctl_json_add_str(r, "driver", "libvirt");
    vmctl_json_add_str(r, "mode", mode);
    vmctl_json_add_str(r, "why", why);
    vmctl_json_add_i64(r, "calc_time", period ? period : seconds);
    vmctl_json_add_i64(r, "rate_mbps", mbps);
    /* QEMU's MB are MiB of 4 KiB pages */
    vmctl_json_add_u64(r, "pages_per_s", (uint64_t)mbps * MiB / VMCTL_MIGRATE_PAGE);
    vmctl_json_add_u64(r, "elapsed_ms", (vmctl_now_ns() - t0) / 1000000);
    return r;
}

/* --- migration ------------------------------------------------------------ */

typedef struct {
    Job *job;
    virDomainPtr dom;
    GMutex lock;
    GCond cond;
    bool done;
    bool postcopy;     /* switch after the first pass */
    bool postcopy_started;
    guint timeout_s;
    bool aborted;
    char *abort_why;
    json_object *last; /* the last job stats */
    uint64_t t_start;
} Monitor;

static uint64_t param_u64(virTypedParameterPtr p, int n, const char *key)
{
    unsigned long long v = 0;

    virTypedParamsGetULLong(p, n, key, &v);
    return v;
}

static gpointer monitor_thread(gpointer user)
{
    Monitor *m = user;
    bool postcopy_tried = false;
    /* a connection of its own: on the migrating one, libvirtd took up
     * virDomainMigrateStartPostCopy only once the migration had ended */
    g_autoptr(virConnect) c = virConnectOpen(m->job->lv->uri);
    g_autoptr(virDomain) dom_own = c ? virDomainLookupByName(c, m->job->name) : NULL;
    virDomainPtr dom = dom_own ? dom_own : m->dom;

    g_mutex_lock(&m->lock);
    while (!m->done) {
        gint64 until = g_get_monotonic_time() + JOB_POLL_MS * 1000;
        virTypedParameterPtr p = NULL;
        int n = 0, type = 0;
        uint64_t elapsed_ms = (vmctl_now_ns() - m->t_start) / 1000000;

        g_cond_wait_until(&m->cond, &m->lock, until);
        if (m->done)
            break;
        g_mutex_unlock(&m->lock);
        if (virDomainGetJobStats(dom, &type, &p, &n, 0) == 0 && type != VIR_DOMAIN_JOB_NONE) {
            json_object *d = json_object_new_object();
            uint64_t iter = param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_ITERATION);

            vmctl_json_add_str(d, "status", m->postcopy_started ? "postcopy-active" : "active");
            vmctl_json_add_u64(d, "transferred", param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED));
            vmctl_json_add_u64(d, "remaining", param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_REMAINING));
            vmctl_json_add_u64(d, "total", param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_TOTAL));
            vmctl_json_add_u64(d, "dirty_pages_rate", param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE));
            vmctl_json_add_u64(d, "iteration", iter);
            vmctl_json_add_u64(d, "mbps", param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_BPS) * 8 / 1000000);
            vmctl_json_add_u64(d, "expected_downtime_ms", param_u64(p, n, VIR_DOMAIN_JOB_DOWNTIME));
            vmctl_json_add_u64(d, "elapsed_ms", elapsed_ms);
            g_mutex_lock(&m->lock);
            json_object_put(m->last);
            m->last = json_object_get(d);
            g_mutex_unlock(&m->lock);
            job_event(m->job, "migration-progress", d);
            /* once the first pass is done, as local migration does (asked
             * earlier, libvirt 9.0 held the call until the migration had
             * ended in precopy) */
            if (m->postcopy && !postcopy_tried && iter >= 2) {
                json_object *ph = json_object_new_object();

                postcopy_tried = true;
                vmctl_json_add_str(ph, "phase", "postcopy");
                vmctl_json_add_str(ph, "detail", "strategy postcopy: the first precopy pass is done");
                vmctl_json_add_u64(ph, "elapsed_ms", elapsed_ms);
                job_event(m->job, "migration-phase", ph);
                if (virDomainMigrateStartPostCopy(dom, 0) == 0) {
                    m->postcopy_started = true;
                } else {
                    g_mutex_lock(&m->lock);
                    g_free(m->abort_why);
                    m->abort_why = g_strdup_printf("virDomainMigrateStartPostCopy failed: %s", virGetLastErrorMessage());
                    g_mutex_unlock(&m->lock);
                }
            }
        }
        virTypedParamsFree(p, n);
        if (!m->aborted && !m->postcopy_started &&
            ((m->timeout_s && elapsed_ms > (uint64_t)m->timeout_s * 1000) || vmctld_call_peer_gone(m->job->call))) {
            g_autofree char *why = m->timeout_s && elapsed_ms > (uint64_t)m->timeout_s * 1000
                                       ? g_strdup_printf("did not complete within %u s", m->timeout_s)
                                       : g_strdup("cancelled: the client went away");
            m->aborted = true;
            virDomainAbortJob(dom);
            g_mutex_lock(&m->lock);
            g_free(m->abort_why);
            m->abort_why = g_steal_pointer(&why);
            g_mutex_unlock(&m->lock);
        }
        g_mutex_lock(&m->lock);
    }
    g_mutex_unlock(&m->lock);
    return NULL;
}

/* One command over the guest's console socket: the first answer line
 * that starts with `answer`, or why there is none. */
static char *guest_command(const char *socket_path, const char *cmd, const char *answer)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(socket_path);
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GDataInputStream) in = NULL;
    g_autoptr(GError) err = NULL;
    gint64 deadline = g_get_monotonic_time() + VERIFY_TIMEOUT_S * G_USEC_PER_SEC;

    conn = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &err);
    g_autofree char *line_out = g_strdup_printf("%s\n", cmd);

    if (!conn || !g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), line_out,
                                            strlen(line_out), NULL, NULL, &err))
        return g_strdup_printf("cannot reach the destination's console '%s': %s", socket_path, err->message);
    g_socket_set_timeout(g_socket_connection_get_socket(conn), VERIFY_TIMEOUT_S);
    in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
    while (g_get_monotonic_time() < deadline) {
        g_autofree char *line = g_data_input_stream_read_line(in, NULL, NULL, &err);

        if (!line)
            return g_strdup_printf("no %s answer: %s", cmd, err ? err->message : "console closed");
        g_strstrip(line);
        if (g_str_has_prefix(line, answer))
            return g_steal_pointer(&line);
    }
    return g_strdup_printf("no %s answer within %d s", cmd, VERIFY_TIMEOUT_S);
}

/* One libvirt migration: the pipeline's transport (daemon/migration.h).
 * Each step is a blocking libvirt call made in a worker (the pipeline's
 * offload) on this struct alone; what it finds for the proof goes to
 * `notes`, merged into the proof back in the main loop. check (the domain,
 * its vmctl spec and state) -> destination (the destination's XML, a
 * console socket of its own; the source's RAM held open: libvirt ends the
 * source QEMU once the destination has everything) -> transfer (libvirt,
 * watched by the monitor thread) -> images (both QEMUs' RAM through
 * /proc/PID/map_files; under postcopy the tiny guest's writer is held)
 * -> resume. */
typedef struct {
    Job job; /* lv, call, name, args: what the monitor thread and job_event() use */
    const char *to, *fault;
    bool verify, dst_hidden, src_running, kind_tiny;
    bool writer_held; /* the tiny guest's writer was asked to PAUSE */
    bool resumed;     /* the destination was let run */
    VmctlMigrateStrategy strat;
    uint64_t memory, t0;
    json_object *spec, *done_stats, *last_stats;
    json_object *notes; /* the proof's members found by a worker */
    char *dst_xml, *dst_serial, *muri, *type, *qemu_version;
    char *src_fd_path, *dst_ram, *mon_why;
    int src_fd;
    pid_t src_pid, dst_pid;
    bool postcopy_started;
    virConnectPtr conn, dconn;
    virDomainPtr dom, ddom;
    /* the step running in the worker, and what follows it in the main loop */
    bool (*step)(void *l, GError **error);
    void (*then)(VmctldMigration *m, void *l);
    bool ok;
    GError *error;
} LvMigration;

static void lvm_free(void *data)
{
    LvMigration *m = data;

    if (m->src_fd >= 0)
        close(m->src_fd);
    json_object_put(m->job.args);
    g_free(m->job.name);
    json_object_put(m->spec);
    json_object_put(m->notes);
    json_object_put(m->done_stats);
    json_object_put(m->last_stats);
    g_free(m->dst_xml);
    g_free(m->dst_serial);
    g_free(m->muri);
    g_free(m->type);
    g_free(m->qemu_version);
    g_free(m->src_fd_path);
    g_free(m->dst_ram);
    g_free(m->mon_why);
    g_clear_error(&m->error);
    if (m->ddom)
        virDomainFree(m->ddom);
    if (m->dconn)
        virConnectClose(m->dconn);
    if (m->dom)
        virDomainFree(m->dom);
    if (m->conn)
        virConnectClose(m->conn);
    g_free(m);
}

static void lvm_step_thread(void *data)
{
    LvMigration *m = data;

    m->ok = m->step(m, &m->error);
}

static void lvm_step_done(VmctldMigration *mg, void *data)
{
    LvMigration *m = data;
    json_object *proof = vmctld_migration_proof(mg);

    {
        json_object_object_foreach(m->notes, k, v)
            json_object_object_add(proof, k, json_object_get(v));
    }
    json_object_put(m->notes);
    m->notes = json_object_new_object();
    if (!m->ok) {
        vmctld_migration_fail(mg, g_steal_pointer(&m->error));
        return;
    }
    if (m->then)
        m->then(mg, m);
    else
        vmctld_migration_next(mg);
}

/* step(m) in a worker, then then(mg, m) (NULL: the pipeline's next stage) */
static void lvm_run(VmctldMigration *mg, bool (*step)(void *, GError **), void (*then)(VmctldMigration *, void *))
{
    LvMigration *m = vmctld_migration_data(mg);

    m->step = step;
    m->then = then;
    vmctld_migration_offload(mg, lvm_step_thread, lvm_step_done, m, NULL);
}

/* What the libvirt driver takes of the migrate command's arguments. */
static bool lvm_check_args(LvMigration *m, GError **error)
{
    static const char *const local_only[] = { "shared", "keep-source", "force", "dest-backend", "dest-nvdimm",
                                              "dest-virtio-pmem" };
    json_object *args = m->job.args;
    const char *strategy = json_object_get_string(json_object_object_get(args, "strategy"));
    json_object *v;

    if (!m->to || !*m->to) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'to' must be a libvirt URI");
        return false;
    }
    if (strcmp(m->to, "local") == 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "destination 'local' is the QEMU driver's: with the libvirt driver, give the destination's libvirt URI");
        return false;
    }
    if (strategy && strcmp(strategy, "auto") != 0 &&
        (!vmctl_migrate_strategy_from_name(strategy, &m->strat) ||
         (m->strat != VMCTL_MIGRATE_PRECOPY && m->strat != VMCTL_MIGRATE_POSTCOPY))) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "strategy '%s' is not one of auto, precopy, postcopy for the libvirt driver", strategy);
        return false;
    }
    /* test-only: "dst-unreachable" acts as if the destination's QEMU were
     * on another host */
    m->dst_hidden = g_strcmp0(m->fault, "dst-unreachable") == 0;
    if (m->dst_hidden)
        m->fault = NULL;
    if (m->fault) {
        VmctlMigrateFault how;

        if (!vmctl_migrate_fault_parse(m->fault, &how, error))
            return false;
        if (how.kind != VMCTL_MIGRATE_FAULT_CORRUPT) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "fault '%s' is local migration's", m->fault);
            return false;
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(local_only); i++) {
        v = json_object_object_get(args, local_only[i]);
        if (v && (json_object_is_type(v, json_type_array) || json_object_get_boolean(v))) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                        "option '%s' is local migration's: the libvirt driver does not have it", local_only[i]);
            return false;
        }
    }
    if (json_object_object_get(args, "downtime")) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "option 'downtime' is local migration's: the libvirt driver leaves libvirt's default");
        return false;
    }
    return true;
}

static const char *lvm_accel(const LvMigration *m)
{
    return g_strcmp0(m->type, "kvm") == 0 ? "kvm" : "tcg";
}

static const char *lvm_backing(const LvMigration *m)
{
    return json_object_get_string(json_object_object_get(m->spec, "backend"));
}

/* The guest as it is: launched by vmctl, running or paused. */
static bool lvm_check_guest(void *data, GError **error)
{
    LvMigration *m = data;
    int st = 0, reason = 0;
    unsigned long hv = 0;
    g_autofree char *xml = NULL;

    m->conn = lv_open(m->job.lv->uri, error);
    if (!m->conn || !(m->dom = lv_lookup(m->conn, m->job.lv->uri, m->job.name, error)))
        return false;
    m->spec = dom_spec(m->dom);
    if (!m->spec) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "domain '%s' was not launched by vmctl (no vmctl metadata)",
                    m->job.name);
        return false;
    }
    m->memory = (uint64_t)json_object_get_int64(json_object_object_get(m->spec, "memory"));
    m->kind_tiny = g_strcmp0(json_object_get_string(json_object_object_get(m->spec, "kind")), "tiny") == 0;
    if (virDomainGetState(m->dom, &st, &reason, 0) < 0 || (st != VIR_DOMAIN_RUNNING && st != VIR_DOMAIN_PAUSED)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "guest '%s' is '%s': only a running or paused guest migrates",
                    m->job.name, state_name(st));
        return false;
    }
    m->src_running = st == VIR_DOMAIN_RUNNING;
    if (virConnectGetVersion(m->conn, &hv) == 0)
        m->qemu_version = g_strdup_printf("%lu.%lu.%lu", hv / 1000000, hv / 1000 % 1000, hv % 1000);
    xml = virDomainGetXMLDesc(m->dom, 0);
    m->type = xml ? xml_find(xml, "<domain type=.(\\w+).") : NULL;
    return true;
}

static void lvm_checked(VmctldMigration *mg, void *data)
{
    LvMigration *m = data;
    g_autoptr(GError) err = NULL;
    VmctldMigrationGuest g = {
        .to = m->to,
        .strategy = m->strat,
        .verify = m->verify,
        .running = m->src_running,
        .stamps = m->kind_tiny,
        .memory = m->memory,
        .qemu_version = m->qemu_version,
        .accel = lvm_accel(m),
        .backing = lvm_backing(m),
        .fault = m->fault,
    };

    if (!vmctld_migration_guest(mg, &g, &err)) {
        vmctld_migration_fail(mg, g_steal_pointer(&err));
        return;
    }
    vmctld_migration_next(mg);
}

/* The destination's XML (a console socket of its own), the migration
 * URI, and the source's RAM, held open. */
static bool lvm_prepare(void *data, GError **error)
{
    LvMigration *m = data;
    g_autofree char *xml = virDomainGetXMLDesc(m->dom, VIR_DOMAIN_XML_MIGRATABLE);
    g_autofree char *src_serial = NULL;
    const char *muri_arg = json_object_get_string(json_object_object_get(m->job.args, "migrate-uri"));

    if (!xml) {
        lv_error(error, "cannot read the XML of guest '%s'", m->job.name);
        return false;
    }
    src_serial = xml_find(xml, SERIAL_SOCKET_RE);
    if (src_serial) {
        g_autoptr(GString) s = g_string_new(xml);
        g_autofree char *old = g_strdup_printf("path='%s'", src_serial);
        g_autofree char *new = NULL;

        m->dst_serial = g_strdup_printf("%s/%s.%" G_GINT64_FORMAT ".sock", m->job.lv->run_dir, m->job.name,
                                        g_get_real_time());
        new = g_strdup_printf("path='%s'", m->dst_serial);
        g_string_replace(s, old, new, 1);
        m->dst_xml = g_string_free(g_steal_pointer(&s), FALSE);
    }
    m->muri = muri_arg ? g_strdup(muri_arg) : vmctl_lvm_migrate_uri(m->to, vmctl_lvm_free_port());
    m->src_pid = vmctl_lvm_find_qemu(m->job.name, 0);
    if (m->verify && m->src_pid) {
        g_autoptr(GError) e = NULL;
        g_autofree char *src_ram = vmctl_lvm_find_ram(m->src_pid, m->memory, &e);

        if (src_ram)
            m->src_fd = open(src_ram, O_RDONLY | O_CLOEXEC);
        if (m->src_fd >= 0)
            m->src_fd_path = g_strdup_printf("/proc/self/fd/%d", m->src_fd);
        else
            vmctl_json_add_str(m->notes, "host_oracle_source", e ? e->message : g_strerror(errno));
    }
    return true;
}

static void lvm_destination(VmctldMigration *mg)
{
    lvm_run(mg, lvm_prepare, NULL);
}

/* The completed job's numbers, as the destination keeps them. */
static json_object *lvm_completed_stats(virDomainPtr ddom)
{
    virTypedParameterPtr p = NULL;
    int n = 0, jtype = 0;
    json_object *s = NULL;

    if (virDomainGetJobStats(ddom, &jtype, &p, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0 && jtype != VIR_DOMAIN_JOB_NONE) {
        s = json_object_new_object();
        vmctl_json_add_u64(s, "total_time_ms", param_u64(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED));
        vmctl_json_add_u64(s, "downtime_ms", param_u64(p, n, VIR_DOMAIN_JOB_DOWNTIME));
        vmctl_json_add_u64(s, "transferred", param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED));
        vmctl_json_add_u64(s, "iterations", param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_ITERATION));
        vmctl_json_add_u64(s, "postcopy_requests", param_u64(p, n, VIR_DOMAIN_JOB_MEMORY_POSTCOPY_REQS));
    }
    virTypedParamsFree(p, n);
    return s;
}

/* libvirt moves the guest (peer-to-peer, live; the destination left paused
 * for the compare unless postcopy runs it), watched by the monitor thread;
 * then the destination is looked up. */
static bool lvm_move(void *data, GError **error)
{
    LvMigration *m = data;
    json_object *jb = json_object_object_get(m->job.args, "bandwidth");
    json_object *jt = json_object_object_get(m->job.args, "timeout");
    virTypedParameterPtr params = NULL;
    int nparams = 0, maxparams = 0, rc;
    unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
    Monitor mon = { 0 };
    GThread *mt;

    virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI, m->muri);
    if (m->dst_xml)
        virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_DEST_XML, m->dst_xml);
    if (jb && json_object_get_int64(jb) > 0) {
        uint64_t mib = (uint64_t)json_object_get_int64(jb) / MiB;
        virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH, mib ? mib : 1);
    }
    /* precopy: the destination stays paused for the compare; libvirt
     * refuses postcopy to a paused destination (it must run to ask for
     * its missing pages) */
    flags |= m->strat == VMCTL_MIGRATE_POSTCOPY ? VIR_MIGRATE_POSTCOPY : VIR_MIGRATE_PAUSED;

    mon.job = &m->job;
    mon.dom = m->dom;
    mon.postcopy = m->strat == VMCTL_MIGRATE_POSTCOPY;
    mon.timeout_s = jt ? (guint)json_object_get_int64(jt) : 0;
    mon.t_start = m->t0;
    g_mutex_init(&mon.lock);
    g_cond_init(&mon.cond);
    mt = g_thread_new("migration-monitor", monitor_thread, &mon);
    rc = virDomainMigrateToURI3(m->dom, m->to, params, (unsigned)nparams, flags);
    g_autofree char *mig_error = rc < 0 ? g_strdup(virGetLastErrorMessage()) : NULL;
    g_mutex_lock(&mon.lock);
    mon.done = true;
    g_cond_signal(&mon.cond);
    g_mutex_unlock(&mon.lock);
    g_thread_join(mt);
    virTypedParamsFree(params, nparams);
    m->last_stats = mon.last;
    m->mon_why = g_steal_pointer(&mon.abort_why);
    m->postcopy_started = mon.postcopy_started;
    g_mutex_clear(&mon.lock);
    g_cond_clear(&mon.cond);

    if (rc < 0) {
        int sst = 0, sr = 0;
        const char *now = virDomainGetState(m->dom, &sst, &sr, 0) == 0 ? state_name(sst) : "unknown";

        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "migration of guest '%s' to '%s' failed%s%s: %s; the source is %s",
                    m->job.name, m->to, m->mon_why ? ": " : "", m->mon_why ? m->mon_why : "", mig_error, now);
        return false;
    }
    m->dconn = lv_open(m->to, error);
    if (!m->dconn || !(m->ddom = lv_lookup(m->dconn, m->to, m->job.name, error)))
        return false;
    m->done_stats = lvm_completed_stats(m->ddom);
    return true;
}

static void lvm_moved(VmctldMigration *mg, void *data)
{
    LvMigration *m = data;

    vmctld_migration_completed(mg);
    vmctld_migration_phase(mg, "completed",
                           m->strat == VMCTL_MIGRATE_POSTCOPY ? "the destination runs (postcopy)"
                                                              : "the destination is paused for the compare");
    vmctld_migration_next(mg);
}

static void lvm_transfer(VmctldMigration *mg)
{
    LvMigration *m = vmctld_migration_data(mg);

    vmctld_migration_phase(mg, "migrate", m->muri);
    lvm_run(mg, lvm_move, lvm_moved);
}

/* The destination's RAM, when this host reaches its QEMU; under postcopy
 * the destination runs, so the tiny guest's writer is held still for its
 * stamps to be read. */
static bool lvm_find_images(void *data, GError **error)
{
    LvMigration *m = data;

    m->dst_pid = m->dst_hidden ? 0 : vmctl_lvm_find_qemu(m->job.name, m->src_pid);
    if (m->dst_pid) {
        g_autoptr(GError) e = NULL;

        m->dst_ram = vmctl_lvm_find_ram(m->dst_pid, m->memory, &e);
        if (!m->dst_ram)
            vmctl_json_add_str(m->notes, "host_oracle_destination", e->message);
    }
    if (m->kind_tiny && m->dst_ram && m->strat == VMCTL_MIGRATE_POSTCOPY && m->dst_serial) {
        g_autofree char *paused = guest_command(m->dst_serial, "PAUSE", "OK");

        vmctl_json_add_str(m->notes, "guest_pause", paused);
        m->writer_held = true;
    }
    return true;
}

static void lvm_images_found(VmctldMigration *mg, void *data)
{
    LvMigration *m = data;
    json_object *proof = vmctld_migration_proof(mg);
    VmctldMigrationImages img = { 0 };

    img.dst_runs = m->strat == VMCTL_MIGRATE_POSTCOPY;
    if (m->strat == VMCTL_MIGRATE_POSTCOPY) {
        vmctl_json_add_str(proof, "host_oracle",
                           "postcopy: the destination runs before its last page arrives, so its RAM is not compared with the source's; the stamps are checked with the guest's writer paused");
    } else if (m->src_fd_path && m->dst_ram) {
        img.blocks = g_ptr_array_new_with_free_func((GDestroyNotify)vmctl_migrate_block_free);
        g_ptr_array_add(img.blocks, vmctl_migrate_block_new("pc.ram", m->src_fd_path, 0, m->dst_ram, 0, m->memory));
        img.how = "guest RAM of both QEMUs through /proc/PID/map_files";
    } else {
        vmctl_json_add_str(proof, "host_oracle", "destination memory not reachable from this host: pages not compared");
    }
    img.src_ram = g_strdup(m->src_fd_path);
    img.dst_ram = g_strdup(m->dst_ram);
    vmctld_migration_compare(mg, &img);
}

static void lvm_images(VmctldMigration *mg)
{
    lvm_run(mg, lvm_find_images, lvm_images_found);
}

/* The tiny guest's writer goes on, if it was held. */
static bool lvm_release(void *data, GError **error)
{
    LvMigration *m = data;

    if (m->writer_held) {
        g_autofree char *resumed = guest_command(m->dst_serial, "RESUME", "OK");

        vmctl_json_add_str(m->notes, "guest_resume", resumed);
        m->writer_held = false;
    }
    return true;
}

/* The destination runs (precopy left it paused). */
static bool lvm_run_destination(void *data, GError **error)
{
    LvMigration *m = data;

    lvm_release(m, error);
    m->resumed = true;
    if (m->strat != VMCTL_MIGRATE_POSTCOPY && virDomainResume(m->ddom) < 0) {
        lv_error(error, "cannot resume guest '%s' on '%s'", m->job.name, m->to);
        return false;
    }
    return true;
}

static void lvm_resume(VmctldMigration *mg)
{
    lvm_run(mg, lvm_run_destination, NULL);
}

static char *lvm_console(VmctldMigration *mg)
{
    LvMigration *m = vmctld_migration_data(mg);

    return m->dst_serial && g_file_test(m->dst_serial, G_FILE_TEST_EXISTS) ? g_strdup(m->dst_serial) : NULL;
}

static json_object *lvm_stats(const LvMigration *m)
{
    json_object *s = m->done_stats ? json_object_get(m->done_stats) : json_object_new_object();
    json_object *last = m->last_stats;

    if (!m->done_stats) { /* the last progress sample */
        vmctl_json_add_u64(s, "total_time_ms", (vmctl_now_ns() - m->t0) / 1000000);
        vmctl_json_add_u64(s, "transferred", last ? (uint64_t)json_object_get_int64(json_object_object_get(last, "transferred")) : 0);
        vmctl_json_add_u64(s, "iterations", last ? (uint64_t)json_object_get_int64(json_object_object_get(last, "iteration")) : 0);
    }
    vmctl_json_add_bool(s, "postcopy", m->postcopy_started);
    if (m->mon_why) /* the postcopy switch that failed */
        vmctl_json_add_str(s, "postcopy_error", m->mon_why);
    return s;
}

static void lvm_result(VmctldMigration *mg, json_object *r)
{
    LvMigration *m = vmctld_migration_data(mg);

    vmctl_json_add_str(r, "driver", "libvirt");
    vmctl_json_add_str(r, "from", m->job.lv->uri);
    vmctl_json_add_str(r, "migrate_uri", m->muri);
    json_object_object_add(r, "stats", lvm_stats(m));
}

/* The guest is the destination's: libvirt handed it over already. */
static void lvm_hand_over(VmctldMigration *mg)
{
    LvMigration *m = vmctld_migration_data(mg);
    json_object *r = vmctld_migration_result(mg);

    vmctl_json_add_str(r, "destination", m->to);
    if (m->dst_pid)
        vmctl_json_add_i64(r, "pid", m->dst_pid);
    vmctld_migration_done(mg, r, NULL);
}

static void lvm_kept(VmctldMigration *mg, void *data)
{
    LvMigration *m = data;
    const GError *failure = vmctld_migration_failure(mg);
    json_object *r;

    if (failure) {
        vmctld_migration_done(mg, NULL, g_error_copy(failure));
        return;
    }

    /* the source is gone by now (libvirt's confirm phase ended it): a
     * destination whose memory differs is kept paused, never run */
    if (!m->resumed)
        vmctl_json_add_str(vmctld_migration_proof(mg), "kept",
                           "destination paused and not resumed: its memory differs from the source's, which libvirt has already ended");
    r = vmctld_migration_result(mg);
    if (!m->resumed)
        vmctl_json_add_str(r, "kept", json_object_get_string(json_object_object_get(vmctld_migration_proof(mg), "kept")));
    else
        vmctl_json_add_str(r, "destination", m->to);
    if (m->dst_pid)
        vmctl_json_add_i64(r, "pid", m->dst_pid);
    vmctld_migration_done(mg, r, NULL);
}

/* A failure: libvirt has rolled the source back (or never moved it). A
 * FAIL verdict: see lvm_kept. Either way a held writer goes on first. */
static void lvm_keep(VmctldMigration *mg)
{
    lvm_run(mg, lvm_release, lvm_kept);
}

static const VmctldMigrationTransport lvm_transport = {
    .driver = "libvirt",
    .destination = lvm_destination,
    .transfer = lvm_transfer,
    .images = lvm_images,
    .resume = lvm_resume,
    .console = lvm_console,
    .hand_over = lvm_hand_over,
    .keep = lvm_keep,
    .result = lvm_result,
    .free = lvm_free,
};

/* --- the commands ---------------------------------------------------------- */

void vmctld_libvirt_cmd_launch(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    job_start(data, call, args, false, do_launch);
}

void vmctld_libvirt_cmd_list(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    job_start(data, call, args, false, do_list);
}

void vmctld_libvirt_cmd_info(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    job_start(data, call, args, true, do_info);
}

void vmctld_libvirt_cmd_stop(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    job_start(data, call, args, true, do_stop);
}

void vmctld_libvirt_cmd_kill(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    job_start(data, call, args, true, do_kill);
}

void vmctld_libvirt_cmd_dirty_rate(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    job_start(data, call, args, true, do_dirty_rate);
}

void vmctld_libvirt_cmd_migrate(VmctldServer *srv, json_object *args, VmctldCall *call, void *data)
{
    VmctldLibvirt *lv = data;
    json_object *jname = args ? json_object_object_get(args, "name") : NULL;
    json_object *jv = args ? json_object_object_get(args, "verify") : NULL;
    g_autoptr(GError) err = NULL;
    VmctldMigration *mg;
    LvMigration *m;

    if (!jname || !json_object_is_type(jname, json_type_string)) {
        g_set_error(&err, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'name' must be a guest name");
        vmctld_call_error(call, err);
        return;
    }
    if (!vmctl_migrate_args_check(args, &err)) {
        vmctld_call_error(call, err);
        return;
    }
    m = g_new0(LvMigration, 1);
    m->job.lv = lv;
    m->job.call = call;
    m->job.args = json_object_get(args);
    m->job.name = g_strdup(json_object_get_string(jname));
    m->to = json_object_get_string(json_object_object_get(args, "to"));
    m->fault = json_object_get_string(json_object_object_get(args, "fault"));
    m->verify = jv ? json_object_get_boolean(jv) : true;
    m->strat = VMCTL_MIGRATE_PRECOPY;
    m->notes = json_object_new_object();
    m->src_fd = -1;
    m->t0 = vmctl_now_ns();
    if (!lvm_check_args(m, &err) || !(mg = vmctld_migration_new(call, m->job.name, &lvm_transport, m, &err))) {
        lvm_free(m);
        vmctld_call_error(call, err);
        return;
    }
    lvm_run(mg, lvm_check_guest, lvm_checked);
}

VmctldLibvirt *vmctld_libvirt_new(const VmctldLibvirtConfig *cfg, GError **error)
{
    g_autoptr(virConnect) c = NULL;
    VmctldLibvirt *lv;

    virSetErrorFunc(NULL, silent);
    if (virInitialize() < 0) {
        lv_error(error, "cannot initialize libvirt");
        return NULL;
    }
    c = lv_open(cfg->uri, error);
    if (!c)
        return NULL;
    lv = g_new0(VmctldLibvirt, 1);
    lv->uri = g_strdup(cfg->uri);
    lv->run_dir = g_build_filename(cfg->state_dir, "libvirt", NULL);
    lv->qemu = g_strdup(cfg->qemu);
    if (g_mkdir_with_parents(lv->run_dir, 0700) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create '%s': %s", lv->run_dir, g_strerror(errno));
        vmctld_libvirt_free(lv);
        return NULL;
    }
    lv->image_dir = image_dir(lv->run_dir, cfg->image_dir);
    lv->allowed = vmctld_paths_allowed_new(cfg->allowed_paths);
    return lv;
}

void vmctld_libvirt_free(VmctldLibvirt *lv)
{
    if (!lv)
        return;
    g_free(lv->uri);
    g_free(lv->run_dir);
    g_free(lv->image_dir);
    g_strfreev(lv->allowed);
    g_free(lv->qemu);
    g_free(lv);
}
