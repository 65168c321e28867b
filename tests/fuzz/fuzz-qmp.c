/* fuzz-qmp.c: the QMP client's reader and dispatcher (src/qmp.c) on what a
 * QEMU monitor sends: greeting, replies by id, events, garbage.
 *
 * Input: the byte stream of the QEMU side. A VmctlQmp adopts one end of a
 * socketpair (vmctl_qmp_connect_fd_async); the input is written into the
 * other end, whose write side is then shut, so the client sees it followed
 * by EOF. The client's own commands get ids vmctl-1 (qmp_capabilities),
 * vmctl-2..5 (discovery), and once ready vmctl-6 (query-qmp-schema) and
 * vmctl-7 (query-status), so a recorded session replays deterministically.
 * A SHUTDOWN event closes the client from inside its handler, a STOP event
 * drops the handler while events are dispatched.
 *
 * Properties: the connect callback runs exactly once; the run ends (EOF is
 * always reached); every command callback runs exactly once, with either a
 * value or an error. */
#include "config.h"

#include "fuzz.h"
#include "qmp.h"
#include "util.h"

#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT (128 * 1024) /* bytes: below the socket buffer, so one write */

typedef struct {
    int connects;
    bool connected;
    bool disconnected;
    int replies_pending;
    int events;
    guint stop_handler;
} Run;

static void on_reply(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data)
{
    Run *r = data;

    /* qmp.h: exactly one of ret and error is non-NULL. */
    if ((ret == NULL) == (error == NULL)) {
        fprintf(stderr, "reply callback with %s\n", ret ? "both a value and an error" : "neither a value nor an error");
        abort();
    }
    if (r->replies_pending-- <= 0)
        abort();
}

static void on_schema(VmctlQmp *qmp, const GError *error, gpointer data)
{
    Run *r = data;

    if (!error && vmctl_qmp_schema_loaded(qmp)) {
        (void)vmctl_qmp_command_has_arg(qmp, "calc-dirty-rate", "mode");
        (void)vmctl_qmp_type_has_member(qmp, "query-migrate-capabilities/ret-type", "capability");
        (void)vmctl_qmp_schema_has(qmp, "query-migrate-capabilities/ret-type/capability/dirty-limit");
    }
    if (r->replies_pending-- <= 0)
        abort();
}

static void on_event(VmctlQmp *qmp, const char *name, json_object *data, gint64 ts, gpointer user)
{
    Run *r = user;

    if (!name)
        abort();
    r->events++;
    if (strcmp(name, "SHUTDOWN") == 0)
        vmctl_qmp_close(qmp);
    if (strcmp(name, "STOP") == 0 && r->stop_handler) {
        vmctl_qmp_remove_handler(qmp, r->stop_handler);
        r->stop_handler = 0;
    }
}

static void on_disconnect(VmctlQmp *qmp, const GError *reason, gpointer data)
{
    Run *r = data;

    if (!reason || r->disconnected)
        abort();
    r->disconnected = true;
}

static void on_connect(VmctlQmp *qmp, const GError *error, gpointer data)
{
    Run *r = data;
    g_autoptr(json_object) info = NULL;

    r->connects++;
    if (error)
        return;
    r->connected = true;
    if (!vmctl_qmp_is_ready(qmp))
        abort();
    info = vmctl_qmp_info_to_json(qmp);
    (void)json_object_to_json_string(info);
    (void)vmctl_qmp_has_migrate_capability(qmp, "x-ignore-shared");
    (void)vmctl_qmp_has_command(qmp, "migrate");
    r->replies_pending += 2;
    vmctl_qmp_load_schema_async(qmp, 0, on_schema, r);
    vmctl_qmp_command(qmp, "query-status", NULL, 0, on_reply, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GMainContext) ctx = NULL;
    g_autoptr(VmctlQmp) qmp = NULL;
    Run r = { 0 };
    int sv[2];

    if (size > FUZZ_MAX_INPUT)
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    if (size > 0 && write(sv[1], data, size) != (ssize_t)size)
        abort();
    shutdown(sv[1], SHUT_WR);

    ctx = g_main_context_new();
    qmp = vmctl_qmp_new(ctx);
    vmctl_qmp_on_event(qmp, NULL, on_event, &r);
    r.stop_handler = vmctl_qmp_on_event(qmp, "STOP", on_event, &r);
    vmctl_qmp_on_disconnect(qmp, on_disconnect, &r);
    vmctl_qmp_connect_fd_async(qmp, sv[0], 0, on_connect, &r);
    /* Ends: the client either fails the handshake, is closed by a SHUTDOWN
     * event, or reads up to EOF and reports the disconnect. */
    while (r.connects == 0 || (r.connected && !r.disconnected && vmctl_qmp_is_ready(qmp)))
        g_main_context_iteration(ctx, TRUE);
    if (r.connects != 1)
        abort();
    vmctl_qmp_close(qmp);
    /* Deferred callbacks run from the context. */
    while (g_main_context_pending(ctx))
        g_main_context_iteration(ctx, FALSE);
    if (r.replies_pending != 0) {
        fprintf(stderr, "%d command callbacks did not run\n", r.replies_pending);
        abort();
    }
    g_clear_pointer(&qmp, vmctl_qmp_unref);
    while (g_main_context_pending(ctx))
        g_main_context_iteration(ctx, FALSE);
    close(sv[1]);
    return 0;
}
