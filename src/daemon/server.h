/* server.h: vmctld's control socket: a Unix stream socket speaking one JSON
 * object per line in each direction, with peer credentials checked on
 * every connection. Requests are dispatched to handlers by command name. */
#pragma once

#include <gio/gio.h>
#include <json-c/json.h>

#include "util.h"

#define VMCTLD_MAX_REQUEST (1024 * 1024) /* bytes per request line */
/* Bytes of replies and events a client may leave unread: one that reads
 * nothing while it floods requests is dropped there, never waited for. */
#define VMCTLD_MAX_OUTPUT (1024 * 1024)
/* Clients served at once; one more gets a one-line error and is closed. */
#define VMCTLD_MAX_CLIENTS 64
/* s a client may stay connected without a request or a call under way
 * (VMCTLD_CLIENT_IDLE_S overrides it). */
#define VMCTLD_CLIENT_IDLE_S 60
/* ms the accept loop waits when the process is out of descriptors. */
#define VMCTLD_ACCEPT_BACKOFF_MS 250

typedef struct VmctldServer VmctldServer;

/* One request being answered. Requests of one connection are answered in
 * order: the next line is not dispatched before this call completes. */
typedef struct VmctldCall VmctldCall;

/* A synchronous handler returns the "return" value (a new reference) or
 * NULL with error set; the server wraps either in a reply. */
typedef json_object *(*VmctldHandler)(VmctldServer *srv, json_object *args, void *data, GError **error);

/* An asynchronous handler completes `call` later, exactly once, with
 * vmctld_call_return() or vmctld_call_error(), from the main loop. */
typedef void (*VmctldAsyncHandler)(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);

typedef struct {
    const char *name;
    VmctldHandler fn;             /* one of fn and async is set */
    VmctldAsyncHandler async;
} VmctldCommand;

/* Complete a call: `ret` is stolen. The peer may have gone meanwhile; the
 * reply is then dropped. */
void vmctld_call_return(VmctldCall *call, json_object *ret);
void vmctld_call_error(VmctldCall *call, const GError *error);

/* Before its reply, a long call may stream progress: one line
 * {"event": NAME, "data": DATA, "id": ID} per event (`data` is stolen). */
void vmctld_call_event(VmctldCall *call, const char *name, json_object *data);

/* Has the peer closed its connection (Ctrl-C in the client)? The call must
 * still be completed; its reply is dropped. */
bool vmctld_call_peer_gone(const VmctldCall *call);

/* Listen on `path` (replacing a stale socket, refusing a live one), mode
 * 0600, or 0660 with group `group` (NULL: root only). */
VmctldServer *vmctld_server_new(const char *path, const char *group, const VmctldCommand *commands,
                                size_t n_commands, void *data, GError **error);
void vmctld_server_free(VmctldServer *srv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctldServer, vmctld_server_free)

/* Is a peer with these credentials allowed? (exposed for tests) */
bool vmctld_peer_allowed(uid_t uid, const gid_t *gids, size_t n_gids, gid_t allowed_gid, bool have_group);

/* Error classes of the protocol (like QMP's). */
#define VMCTLD_ERR_GENERIC "GenericError"
#define VMCTLD_ERR_BAD_REQUEST "BadRequest"
#define VMCTLD_ERR_UNKNOWN_COMMAND "CommandNotFound"
#define VMCTLD_ERR_DENIED "PermissionDenied"
#define VMCTLD_ERR_BUSY "TooManyClients"
