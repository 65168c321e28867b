/* qmp.h: asynchronous QMP client on a GLib main context.
 *
 * One VmctlQmp talks to one QEMU monitor socket. Connecting reads the
 * greeting, negotiates capabilities and runs a short discovery
 * (query-version, query-kvm, query-migrate-capabilities, query-commands)
 * whose results stay in the object. Commands carry a unique id and replies
 * are matched by id, not by order; every command may have a timeout. Events
 * go to handlers registered by name or to catch-all handlers. A dead or
 * misbehaving peer fails every pending command and calls the disconnect
 * handlers once.
 *
 * Nothing here blocks or sleeps; the *_sync wrappers run the object's main
 * context until their answer arrives (for the CLI and tests), so they must be
 * called from the thread that runs (or may acquire) that context. The library
 * never prints: the full exchange is logged with g_debug under the log
 * domain "vmctl-qmp" (G_MESSAGES_DEBUG=vmctl-qmp).
 *
 * Callbacks may drop the last reference or close the client; the client
 * keeps itself alive while it dispatches. */
#pragma once

#include <gio/gio.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define VMCTL_QMP_LOG_DOMAIN "vmctl-qmp"

#define VMCTL_QMP_ERROR (vmctl_qmp_error_quark())
GQuark vmctl_qmp_error_quark(void);

typedef enum {
    VMCTL_QMP_ERROR_COMMAND,           /* QEMU answered {"error": ...} (class other than below) */
    VMCTL_QMP_ERROR_COMMAND_NOT_FOUND, /* error class CommandNotFound */
    VMCTL_QMP_ERROR_TIMEOUT,           /* no answer within the command's timeout */
    VMCTL_QMP_ERROR_DISCONNECTED,      /* the connection is gone (EOF, socket error, closed) */
    VMCTL_QMP_ERROR_PROTOCOL,          /* the peer sent something that is not QMP */
    VMCTL_QMP_ERROR_NOT_READY,         /* a command was issued before the connection was ready */
    VMCTL_QMP_ERROR_CONNECT,           /* the socket could not be reached */
} VmctlQmpErrorCode;

/* Largest message accepted from the peer by default (bytes). The schema of
 * QEMU 7.2 is about 210 KiB; anything near this limit is a runaway peer. */
#define VMCTL_QMP_MAX_MESSAGE (64 * 1024 * 1024)

typedef struct VmctlQmp VmctlQmp;

/* Connection finished: error is NULL when the client is ready. */
typedef void (*VmctlQmpConnectFunc)(VmctlQmp *qmp, const GError *error, gpointer user_data);

/* A command's answer: exactly one of ret (the "return" member, borrowed:
 * take a reference to keep it) and error is non-NULL. */
typedef void (*VmctlQmpReplyFunc)(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer user_data);

/* An event: data is the "data" member or NULL (borrowed); timestamp_us is
 * QEMU's timestamp in microseconds since the epoch, or -1. */
typedef void (*VmctlQmpEventFunc)(VmctlQmp *qmp, const char *name, json_object *data, gint64 timestamp_us,
                                  gpointer user_data);

/* The peer went away or broke the protocol; called once per connection,
 * never for vmctl_qmp_close(). */
typedef void (*VmctlQmpDisconnectFunc)(VmctlQmp *qmp, const GError *reason, gpointer user_data);

/* context NULL means the thread-default main context at creation. */
VmctlQmp *vmctl_qmp_new(GMainContext *context);
VmctlQmp *vmctl_qmp_ref(VmctlQmp *qmp);
/* Dropping the last reference closes the connection (pending commands fail
 * with VMCTL_QMP_ERROR_DISCONNECTED, their callbacks still run). */
void vmctl_qmp_unref(VmctlQmp *qmp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctlQmp, vmctl_qmp_unref)

/* Connect to a QMP Unix socket (or adopt a connected stream socket fd, which
 * the client then owns) and run greeting, qmp_capabilities and discovery.
 * timeout_ms (0 = none) bounds the whole handshake. cb runs exactly once,
 * always from the main context, never from inside this call. */
void vmctl_qmp_connect_async(VmctlQmp *qmp, const char *path, guint timeout_ms, VmctlQmpConnectFunc cb,
                             gpointer user_data);
void vmctl_qmp_connect_fd_async(VmctlQmp *qmp, int fd, guint timeout_ms, VmctlQmpConnectFunc cb,
                                gpointer user_data);
bool vmctl_qmp_connect_sync(VmctlQmp *qmp, const char *path, guint timeout_ms, GError **error);
bool vmctl_qmp_connect_fd_sync(VmctlQmp *qmp, int fd, guint timeout_ms, GError **error);

/* Skip the discovery step of the next connect (the greeting and
 * qmp_capabilities still run). On by default. */
void vmctl_qmp_set_discovery(VmctlQmp *qmp, bool enabled);

/* A longer message from the peer is a protocol error (bytes, 0 = default). */
void vmctl_qmp_set_max_message(VmctlQmp *qmp, size_t bytes);

bool vmctl_qmp_is_ready(VmctlQmp *qmp);

/* Send a command. args (an object or NULL) is stolen. timeout_ms 0 means no
 * timeout. A timed-out command's late reply is ignored. cb (may be NULL)
 * runs exactly once, never from inside this call. Returns the command id. */
guint64 vmctl_qmp_command(VmctlQmp *qmp, const char *name, json_object *args, guint timeout_ms,
                          VmctlQmpReplyFunc cb, gpointer user_data);

/* Run the context until the reply: returns a new reference to the "return"
 * value, or NULL with error set. args is stolen. */
json_object *vmctl_qmp_command_sync(VmctlQmp *qmp, const char *name, json_object *args, guint timeout_ms,
                                    GError **error);

/* Event handlers: name NULL catches every event. Returns a handler id > 0
 * for vmctl_qmp_remove_handler(). Named handlers run before catch-alls, each
 * group in registration order. */
guint vmctl_qmp_on_event(VmctlQmp *qmp, const char *name, VmctlQmpEventFunc cb, gpointer user_data);
guint vmctl_qmp_on_disconnect(VmctlQmp *qmp, VmctlQmpDisconnectFunc cb, gpointer user_data);
bool vmctl_qmp_remove_handler(VmctlQmp *qmp, guint id);

/* Close the connection now. Pending commands (and a connect in progress)
 * fail with VMCTL_QMP_ERROR_DISCONNECTED, their callbacks running before
 * this returns; disconnect handlers are not called. The client may connect
 * again afterwards. */
void vmctl_qmp_close(VmctlQmp *qmp);

/* Discovery results (valid once ready). */
bool vmctl_qmp_version(VmctlQmp *qmp, int *major, int *minor, int *micro);
/* The "package" string of query-version ("Debian 1:7.2+dfsg-7"), or NULL. */
const char *vmctl_qmp_package(VmctlQmp *qmp);
bool vmctl_qmp_kvm_enabled(VmctlQmp *qmp);
bool vmctl_qmp_kvm_present(VmctlQmp *qmp);
bool vmctl_qmp_has_command(VmctlQmp *qmp, const char *name);
bool vmctl_qmp_has_migrate_capability(VmctlQmp *qmp, const char *name);
/* The migration capability names, NULL-terminated, owned by the client. */
const char *const *vmctl_qmp_migrate_capabilities(VmctlQmp *qmp);

/* query-qmp-schema, fetched on demand and kept. */
void vmctl_qmp_load_schema_async(VmctlQmp *qmp, guint timeout_ms, VmctlQmpConnectFunc cb, gpointer user_data);
bool vmctl_qmp_load_schema_sync(VmctlQmp *qmp, guint timeout_ms, GError **error);
bool vmctl_qmp_schema_loaded(VmctlQmp *qmp);

/* Schema queries (false until the schema is loaded); paths as in
 * qmp_schema.h: "calc-dirty-rate/arg-type/mode",
 * "query-migrate-capabilities/ret-type/capability/dirty-limit". */
bool vmctl_qmp_schema_has(VmctlQmp *qmp, const char *path);
bool vmctl_qmp_command_has_arg(VmctlQmp *qmp, const char *command, const char *arg);
/* type: a schema type name or a path to a type as above. */
bool vmctl_qmp_type_has_member(VmctlQmp *qmp, const char *type, const char *member);

/* Discovery results as one JSON object (for --json output and state files). */
json_object *vmctl_qmp_info_to_json(VmctlQmp *qmp);
