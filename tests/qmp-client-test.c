/* qmp-client-test.c: drive the QMP client against a real QEMU and print
 * what it saw as one JSON object, for tests/integration/qmp.sh to check.
 *
 *   qmp-client-test SOCKET info   connect, discovery, quit
 *   qmp-client-test SOCKET full   also schema lookups, stop/cont events, an
 *                                 unknown command, quit and the disconnect
 *
 * Exit status 0 when every step got an answer (the checks are the
 * script's), 1 with the error on stderr otherwise. */
#include "config.h"

#include "qmp.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define STEP_MS 30000 /* per command: a safety net, QEMU answers in microseconds */

typedef struct {
    json_object *events; /* names in arrival order */
    int disconnects;
    char *disconnect_reason;
} Seen;

static void on_event(VmctlQmp *qmp, const char *name, json_object *data, gint64 ts, gpointer user)
{
    Seen *seen = user;

    json_object_array_add(seen->events, json_object_new_string(name));
}

static void on_disconnect(VmctlQmp *qmp, const GError *reason, gpointer user)
{
    Seen *seen = user;

    seen->disconnects++;
    g_free(seen->disconnect_reason);
    seen->disconnect_reason = g_strdup(reason->message);
}

static bool seen_event(Seen *seen, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(seen->events); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(seen->events, i)), name) == 0)
            return true;
    return false;
}

static bool run_ok(VmctlQmp *qmp, const char *name, GError **error)
{
    g_autoptr(json_object) ret = vmctl_qmp_command_sync(qmp, name, NULL, STEP_MS, error);

    return ret != NULL;
}

static bool schema_checks(VmctlQmp *qmp, json_object *out, GError **error)
{
    static const char *const paths[] = {
        "calc-dirty-rate",
        "calc-dirty-rate/arg-type/mode",
        "migrate-set-parameters/arg-type/max-bandwidth",
        "query-migrate-capabilities/ret-type/capability/postcopy-ram",
        "query-migrate-capabilities/ret-type/capability/no-such-capability",
        "migrate-set-parameters/arg-type/no-such-parameter",
    };
    json_object *schema = json_object_new_object();

    json_object_object_add(out, "schema", schema);
    if (!vmctl_qmp_load_schema_sync(qmp, STEP_MS, error))
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++)
        json_object_object_add(schema, paths[i], json_object_new_boolean(vmctl_qmp_schema_has(qmp, paths[i])));
    return true;
}

static bool events_and_errors(VmctlQmp *qmp, Seen *seen, json_object *out, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) ret = NULL;

    if (!run_ok(qmp, "stop", error))
        return false;
    while (!seen_event(seen, "STOP"))
        g_main_context_iteration(NULL, TRUE);
    if (!run_ok(qmp, "cont", error))
        return false;
    while (!seen_event(seen, "RESUME"))
        g_main_context_iteration(NULL, TRUE);

    ret = vmctl_qmp_command_sync(qmp, "no-such-command", NULL, STEP_MS, &err);
    json_object_object_add(out, "unknown-command-error", err ? json_object_new_string(err->message) : NULL);
    json_object_object_add(out, "unknown-command-not-found",
                           json_object_new_boolean(g_error_matches(err, VMCTL_QMP_ERROR,
                                                                   VMCTL_QMP_ERROR_COMMAND_NOT_FOUND)));
    return true;
}

int main(int argc, char **argv)
{
    g_autoptr(VmctlQmp) qmp = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) out = json_object_new_object();
    Seen seen = { json_object_new_array() };
    bool full;

    if (argc != 3 || (strcmp(argv[2], "info") != 0 && strcmp(argv[2], "full") != 0)) {
        fprintf(stderr, "usage: %s SOCKET info|full\n", argv[0]);
        return 2;
    }
    full = strcmp(argv[2], "full") == 0;
    qmp = vmctl_qmp_new(NULL);
    vmctl_qmp_on_event(qmp, NULL, on_event, &seen);
    vmctl_qmp_on_disconnect(qmp, on_disconnect, &seen);
    json_object_object_add(out, "events", seen.events);

    if (!vmctl_qmp_connect_sync(qmp, argv[1], STEP_MS, &err))
        goto fail;
    json_object_object_add(out, "info", vmctl_qmp_info_to_json(qmp));
    json_object_object_add(out, "has-query-kvm", json_object_new_boolean(vmctl_qmp_has_command(qmp, "query-kvm")));
    if (full && (!schema_checks(qmp, out, &err) || !events_and_errors(qmp, &seen, out, &err)))
        goto fail;

    /* quit: QEMU answers, then closes the socket */
    if (!run_ok(qmp, "quit", &err))
        goto fail;
    while (seen.disconnects == 0)
        g_main_context_iteration(NULL, TRUE);
    json_object_object_add(out, "disconnects", json_object_new_int(seen.disconnects));
    json_object_object_add(out, "disconnect-reason", json_object_new_string(seen.disconnect_reason));
    json_object_object_add(out, "ready-after-quit", json_object_new_boolean(vmctl_qmp_is_ready(qmp)));
    g_free(seen.disconnect_reason);
    printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    return 0;

fail:
    fprintf(stderr, "qmp-client-test: %s\n", err->message);
    g_free(seen.disconnect_reason);
    return 1;
}
