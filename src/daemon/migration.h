/* migration.h: live migration of a vmctld guest to a destination QEMU on
 * this host (`vmctl migrate NAME --to local`): the destination is started
 * from the guest's spec on a new backing with -incoming defer -S, the
 * state goes over a Unix socket, progress is streamed to the caller, the
 * result is verified page by page (migrate.h) and the guest's name is
 * handed over to the destination. On failure or cancel the source keeps
 * running and the destination is removed. Protocol: docs/api.md. */
#pragma once

#include <json-c/json.h>

#include "daemon/server.h"

/* `data` is the VmctldGuests of the daemon. */
void vmctld_migration_cmd_migrate(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
json_object *vmctld_migration_cmd_cancel(VmctldServer *srv, json_object *args, void *data, GError **error);
