/* client.h: the vmctl side of the vmctld control socket: one request, one
 * reply, and starting vmctld when none listens. */
#pragma once

#include <json-c/json.h>
#include <sys/types.h>

#include "util.h"

/* The socket to use: explicit path, else $VMCTL_SOCKET, else the default. */
const char *vmctl_client_socket_path(const char *explicit_path);

/* Send {"execute": command, "arguments": args} and return the "return"
 * member. A daemon error becomes a GError with the daemon's description.
 * With autostart, a missing daemon is started first (vmctld from $VMCTLD,
 * next to this program, or the installed one) with the same socket and
 * $VMCTL_STATE_DIR. `args` is not consumed. */
json_object *vmctl_client_call(const char *socket_path, const char *command, json_object *args, bool autostart,
                               GError **error);

/* A streamed event of a long call: {"event": name, "data": data}, borrowed.
 * Also called with name NULL when a signal interrupted the wait and after
 * every event (a signal may have come while it was handled), so that the
 * caller can act on a signal (send a cancel) while the call goes on. */
typedef void (*VmctlClientEventFunc)(const char *name, json_object *data, void *user_data);

/* Like vmctl_client_call(), for a call that streams events before its
 * reply: each goes to `cb`. There is no reply timeout: the daemon bounds
 * the call and streams progress meanwhile. */
json_object *vmctl_client_call_events(const char *socket_path, const char *command, json_object *args,
                                      bool autostart, VmctlClientEventFunc cb, void *user_data, GError **error);

/* A vmctld of this process's own (its child, not detached): `socket_path`,
 * `state_dir`, then the `extra` arguments (NULL-terminated, may be NULL),
 * its output appended to `log_path`. Returns its pid once the socket
 * listens; 0 with why (the last line of its log) when it did not start.
 * End it with vmctl_client_daemon_stop(). */
pid_t vmctl_client_daemon_spawn(const char *socket_path, const char *state_dir, const char *const *extra,
                                const char *log_path, GError **error);

/* SIGTERM to a vmctld from vmctl_client_daemon_spawn(), and reap it
 * (SIGKILL when it has not exited within 5 s). */
void vmctl_client_daemon_stop(pid_t pid);
