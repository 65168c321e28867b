/* client.h: the vmctl side of the vmctld control socket: one request, one
 * reply, and starting vmctld when none listens. */
#pragma once

#include <json-c/json.h>

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
