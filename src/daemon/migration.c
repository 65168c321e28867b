/* migration.c: the migration pipeline of vmctld (see migration.h).
 *
 * One Migration per guest being migrated, driven from the main loop:
 * vmctld_migration_next() takes it through check, plan, destination and
 * transfer, each its transport's step (QMP between two QEMUs of this host:
 * migration_qmp.c; libvirt's peer-to-peer migration: libvirt_driver.c),
 * then the proof, which is the same for every transport: the images the
 * transport names compared page by page and the tiny guest's stamps
 * checked (the host oracle of migrate.h, in a worker thread so that the
 * main loop goes on answering clients), the destination resumed, the
 * guest's VERIFY asked on its console, one verdict (migrate.h's words).
 * Then the transport hands the guest over (PASS, UNVERIFIED) or keeps the
 * source (FAIL, or any failure on the way: vmctld_migration_fail()), and
 * the caller gets the result or the error. */
#include "config.h"

#include "daemon/migration.h"

#include "migrate.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_TIMEOUT_S 120 /* the guest's VERIFY answer */

typedef struct Migration Migration;

/* where the pipeline stands */
typedef enum {
    STAGE_CHECK,
    STAGE_PLAN,
    STAGE_DESTINATION,
    STAGE_TRANSFER,
    STAGE_IMAGES,
    STAGE_COMPARE,
    STAGE_RESUME,
    STAGE_VERIFY,
    STAGE_END, /* hand-over or keep */
} Stage;

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
    bool dst_runs; /* the destination runs meanwhile: no pause to report */
    const char *how; /* what the images are (static) */
    guint hold_ms; /* test-only: VMCTL_MIGRATE_COMPARE_HOLD_MS, a slow compare */
    /* the findings, merged into the proof in the main loop */
    bool ok;
    VmctlMigrateOracleResult res;
    json_object *findings;
    GError *error;
} HostOracle;

struct Migration {
    const VmctldMigrationTransport *tp;
    void *tp_data;
    Stage stage;
    VmctldCall *call;
    char *name;
    /* the guest, from the transport's check */
    char *to;
    VmctlMigrateStrategy strategy;
    bool verify, src_was_running, kind_tiny;
    uint64_t memory;
    char *qemu_version, *accel, *backend_kind;
    char *fault;
    VmctlMigrateFault fault_how;
    uint8_t *stale_page; /* dst-stale: the page as it was when the migration began */
    /* the run */
    uint64_t t_start;
    uint64_t t_completed; /* both sides paused for the proof (0: not yet) */
    GError *failure;      /* set once the way out is failure */
    guint timer;
    Offload *offload; /* work in a worker thread while it runs */
    /* the proof */
    json_object *proof; /* the verification's findings */
    bool compared;      /* pages were compared */
    uint64_t pages_differ, stamp_bad;
    char *guest_line;
    GSocketConnection *serial;
    GDataInputStream *serial_in;
    GCancellable *cancel;
    const char *verdict; /* vmctl_migrate_verdict()'s word, or "UNVERIFIED" without the proof */
};

static GHashTable *active; /* name -> Migration* */

static void migration_free(Migration *m)
{
    if (m->offload) {
        m->offload->m = NULL; /* what it finds is dropped when it is done */
        if (m->offload->data == m->tp_data && m->tp->free) { /* and the transport's data with it */
            m->offload->free_data = m->tp->free;
            m->tp_data = NULL;
        }
    }
    if (m->tp_data && m->tp->free)
        m->tp->free(m->tp_data);
    if (m->timer)
        g_source_remove(m->timer);
    if (m->cancel) {
        g_cancellable_cancel(m->cancel);
        g_object_unref(m->cancel);
    }
    g_clear_object(&m->serial_in);
    g_clear_object(&m->serial);
    json_object_put(m->proof);
    if (m->failure)
        g_error_free(m->failure);
    g_free(m->name);
    g_free(m->to);
    g_free(m->fault);
    g_free(m->stale_page);
    g_free(m->accel);
    g_free(m->backend_kind);
    g_free(m->qemu_version);
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

void vmctld_migration_offload(Migration *m, void (*run)(void *data), void (*done)(Migration *m, void *data),
                              void *data, GDestroyNotify free_data)
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

void vmctld_migration_phase(Migration *m, const char *name, const char *detail)
{
    json_object *d = json_object_new_object();

    g_message("migration of guest '%s': %s%s%s", m->name, name, detail ? ": " : "", detail ? detail : "");
    vmctl_json_add_str(d, "phase", name);
    if (detail)
        vmctl_json_add_str(d, "detail", detail);
    vmctl_json_add_u64(d, "elapsed_ms", elapsed_ms(m));
    vmctld_call_event(m->call, "migration-phase", d);
}

static void phase(Migration *m, const char *name, const char *detail)
{
    vmctld_migration_phase(m, name, detail);
}

void vmctld_migration_completed(Migration *m)
{
    m->t_completed = vmctl_now_ns();
}

uint64_t vmctld_migration_elapsed_ms(const Migration *m)
{
    return elapsed_ms(m);
}

/* --- the proof (the pipeline's, for every transport) ---------------------- */

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

/* The guest's own check: VERIFY on the destination's console. */
static void guest_oracle(Migration *m)
{
    g_autofree char *path = m->tp->console ? m->tp->console(m) : NULL;
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(GError) err = NULL;
    GOutputStream *out;

    if (!path) {
        vmctl_json_add_str(m->proof, "guest_oracle", "the destination's console is not reachable from this host");
        verdict_and_finish(m);
        return;
    }
    phase(m, "guest-verify", "VERIFY on the destination's console");
    addr = g_unix_socket_address_new(path);
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
    if (!src_img) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "fault '%s': the source's RAM is not reachable", m->fault);
        return false;
    }
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
    if (o->in.blocks)
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
static void resume(Migration *m);

void vmctld_migration_compare(Migration *m, VmctldMigrationImages *img)
{
    g_autoptr(GError) err = NULL;
    HostOracle *o = g_new0(HostOracle, 1);

    m->stage = STAGE_COMPARE;
    o->in.blocks = g_steal_pointer(&img->blocks);
    o->src_img = g_steal_pointer(&img->src_ram);
    o->dst_img = g_steal_pointer(&img->dst_ram);
    o->dumps = img->dumps;
    o->dst_runs = img->dst_runs;
    o->how = img->how;
    o->in.src_ram = o->src_img;
    o->in.dst_ram = o->dst_img;
    o->in.stamps = m->kind_tiny;
    o->findings = json_object_new_object();
    if (g_getenv("VMCTL_MIGRATE_COMPARE_HOLD_MS"))
        o->hold_ms = (guint)atoi(g_getenv("VMCTL_MIGRATE_COMPARE_HOLD_MS"));
    if (m->fault && o->dst_img && !apply_fault(m, o->src_img, o->dst_img, &err)) {
        host_oracle_free(o);
        vmctld_migration_fail(m, g_steal_pointer(&err));
        return;
    }
    if (o->in.blocks)
        phase(m, "compare", "every page of the source against the destination");
    vmctld_migration_offload(m, host_oracle_run, host_oracle_done, o, (GDestroyNotify)host_oracle_free);
}

static void host_oracle_done(Migration *m, void *data)
{
    HostOracle *o = data;
    g_autoptr(GError) err = NULL;

    if (!o->ok) {
        vmctld_migration_fail(m, g_steal_pointer(&o->error));
        return;
    }
    m->compared = o->res.compared;
    m->pages_differ = o->res.pages_differ;
    m->stamp_bad = o->res.stamps_bad;
    if (o->how)
        vmctl_json_add_str(m->proof, "images", o->how);
    {
        json_object_object_foreach(o->findings, k, v)
            json_object_object_add(m->proof, k, json_object_get(v));
    }
    if (m->pages_differ || m->stamp_bad) {
        verdict_and_finish(m); /* no need to run a guest whose memory is known bad */
        return;
    }
    /* the end-to-end fault: behind the host's back, for the guest to find */
    if (m->fault && m->fault_how.kind == VMCTL_MIGRATE_FAULT_GUEST && o->dst_img &&
        !vmctl_migrate_fault_apply(o->dst_img, 0, m->fault_how.page, &err)) {
        vmctld_migration_fail(m, g_steal_pointer(&err));
        return;
    }
    if (!m->src_was_running) { /* it stays paused, as it was */
        vmctl_json_add_str(m->proof, "guest_not_asked", "the guest was paused before the migration");
        verdict_and_finish(m);
        return;
    }
    /* what the proof added to the guest's pause: from the completion (both
     * sides paused) to the destination's resume */
    if (!o->dst_runs)
        vmctl_json_add_u64(m->proof, "verification_pause_ms", (vmctl_now_ns() - m->t_completed) / 1000000);
    resume(m);
}

/* --- the pipeline -------------------------------------------------------- */

static void resume(Migration *m)
{
    m->stage = STAGE_RESUME;
    phase(m, "resume", "the destination runs");
    m->tp->resume(m);
}

/* The verdict given: the guest goes to the destination, or stays. */
static void finish(Migration *m, const char *verdict)
{
    m->verdict = verdict;
    m->stage = STAGE_END;
    if (strcmp(verdict, "FAIL") != 0)
        m->tp->hand_over(m);
    else
        m->tp->keep(m);
}

static void verdict_and_finish(Migration *m)
{
    const char *verdict;

    if (m->timer) {
        g_source_remove(m->timer);
        m->timer = 0;
    }
    verdict = vmctl_migrate_conclude(m->proof, m->compared, m->pages_differ, m->stamp_bad, m->guest_line);
    phase(m, "verdict", verdict);
    finish(m, verdict);
}

void vmctld_migration_next(Migration *m)
{
    if (m->failure)
        return;
    switch (m->stage) {
    case STAGE_CHECK: {
        json_object *d = json_object_new_object();

        vmctl_json_add_str(d, "qemu", m->qemu_version);
        vmctl_json_add_str(d, "accel", m->accel);
        vmctl_json_add_str(d, "backing", m->backend_kind);
        vmctld_call_event(m->call, "migration-start", d);
        m->stage = STAGE_PLAN;
        if (m->tp->plan) {
            m->tp->plan(m);
            return;
        }
        G_GNUC_FALLTHROUGH; /* nothing to plan */
    }
    case STAGE_PLAN:
        m->stage = STAGE_DESTINATION;
        m->tp->destination(m);
        return;
    case STAGE_DESTINATION:
        m->stage = STAGE_TRANSFER;
        m->tp->transfer(m);
        return;
    case STAGE_TRANSFER:
        if (!m->t_completed)
            m->t_completed = vmctl_now_ns();
        if (m->verify) {
            m->stage = STAGE_IMAGES;
            m->tp->images(m);
        } else if (m->src_was_running) {
            resume(m);
        } else {
            finish(m, "UNVERIFIED"); /* paused before, paused after */
        }
        return;
    case STAGE_RESUME:
        if (m->verify) {
            m->stage = STAGE_VERIFY;
            guest_oracle(m);
        } else {
            finish(m, "UNVERIFIED");
        }
        return;
    default:
        g_assert_not_reached();
    }
}

void vmctld_migration_fail(Migration *m, GError *error)
{
    if (m->tp->fail && !m->failure) {
        m->tp->fail(m, error);
        return;
    }
    vmctld_migration_failed(m, error);
}

void vmctld_migration_failed(Migration *m, GError *error)
{
    if (m->failure) {
        g_error_free(error);
        return;
    }
    g_message("migration of guest '%s' failed: %s", m->name, error->message);
    m->failure = error;
    m->stage = STAGE_END;
    if (m->timer) { /* the proof stops */
        g_source_remove(m->timer);
        m->timer = 0;
    }
    if (m->cancel)
        g_cancellable_cancel(m->cancel);
    m->tp->keep(m);
}

/* --- the way out ----------------------------------------------------------- */

json_object *vmctld_migration_result(Migration *m)
{
    json_object *r = vmctl_migrate_result_new(m->name, m->to, m->strategy, m->verdict ? m->verdict : "FAIL",
                                              m->qemu_version, m->accel, m->backend_kind);

    if (m->tp->result)
        m->tp->result(m, r);
    if (m->verify || json_object_object_length(m->proof) > 0)
        json_object_object_add(r, "verify", json_object_get(m->proof));
    vmctl_json_add_u64(r, "elapsed_ms", elapsed_ms(m));
    return r;
}

static void migration_done(Migration *m, json_object *ret, const GError *error)
{
    g_hash_table_remove(active, m->name);
    if (error)
        vmctld_call_error(m->call, error);
    else
        vmctld_call_return(m->call, ret);
    migration_free(m);
}

void vmctld_migration_done(Migration *m, json_object *result, GError *error)
{
    migration_done(m, result, error);
    if (error)
        g_error_free(error);
}

void *vmctld_migration_data(const Migration *m)
{
    return m->tp_data;
}

json_object *vmctld_migration_proof(const Migration *m)
{
    return m->proof;
}

const GError *vmctld_migration_failure(const Migration *m)
{
    return m->failure;
}

/* --- a migration's start and end ------------------------------------------- */

static Migration *migration_alloc(VmctldCall *call, const char *name)
{
    Migration *m = g_new0(Migration, 1);

    m->t_start = vmctl_now_ns();
    m->call = call;
    m->name = g_strdup(name);
    m->stage = STAGE_CHECK;
    return m;
}

bool vmctld_migration_idle(const char *name, GError **error)
{
    if (!active)
        active = g_hash_table_new(g_str_hash, g_str_equal);
    if (g_hash_table_contains(active, name)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "guest '%s' is already being migrated", name);
        return false;
    }
    return true;
}

VmctldMigration *vmctld_migration_new(VmctldCall *call, const char *name, const VmctldMigrationTransport *tp,
                                      void *data, GError **error)
{
    Migration *m;

    if (!vmctld_migration_idle(name, error))
        return NULL;
    m = migration_alloc(call, name);
    m->tp = tp;
    m->tp_data = data;
    m->proof = json_object_new_object();
    g_hash_table_insert(active, m->name, m);
    return m;
}

bool vmctld_migration_guest(Migration *m, const VmctldMigrationGuest *g, GError **error)
{
    g_free(m->to);
    m->to = g_strdup(g->to);
    m->strategy = g->strategy;
    m->verify = g->verify;
    m->src_was_running = g->running;
    m->kind_tiny = g->stamps;
    m->memory = g->memory;
    g_free(m->qemu_version);
    m->qemu_version = g_strdup(g->qemu_version);
    g_free(m->accel);
    m->accel = g_strdup(g->accel);
    g_free(m->backend_kind);
    m->backend_kind = g_strdup(g->backing);
    g_free(m->fault);
    m->fault = g_strdup(g->fault);
    if (!m->fault)
        return true;
    if (!vmctl_migrate_fault_parse(m->fault, &m->fault_how, error))
        return false;
    if (m->fault_how.kind != VMCTL_MIGRATE_FAULT_STALE)
        return true;
    if (!g->src_ram) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "fault '%s' needs the source's RAM as a file or device",
                    m->fault);
        return false;
    }
    m->stale_page = g_malloc(VMCTL_MIGRATE_PAGE);
    return vmctl_migrate_page_read(g->src_ram, 0, m->fault_how.page, m->stale_page, error);
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
    vmctld_migration_fail(m, g_error_new(VMCTL_ERROR, VMCTL_ERROR_FAILED, "migration of guest '%s' cancelled on request",
                                         m->name));
    return json_object_new_object();
}

