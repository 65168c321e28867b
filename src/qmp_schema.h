/* qmp_schema.h: QEMU's QMP schema (the reply of query-qmp-schema) as an
 * index that answers "does command X exist", "does it take argument Y",
 * "does type T have member M", so callers follow what this QEMU can do
 * instead of its version number. The QMP client (qmp.h) loads one on demand.
 *
 * Path queries start at the name of a command, an event or a type and walk
 * on step by step: "arg-type", "ret-type" and "element-type" follow those
 * links; any other step names a member of an object type (through arrays,
 * the branches of alternates and flat unions, and a command's or event's
 * arguments), or, as the last step, a value of an enum. Type names other
 * than built-ins are masked numbers in QEMU's schema, so types are reached
 * by a path from a command or event: "calc-dirty-rate/arg-type/mode",
 * "query-migrate-capabilities/ret-type/capability/postcopy-ram". */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>

typedef struct VmctlQmpSchema VmctlQmpSchema;

/* From the "return" value of query-qmp-schema (a list; a reference is
 * taken). NULL with an error when it is not a list of named entries. */
VmctlQmpSchema *vmctl_qmp_schema_new(json_object *list, GError **error);
void vmctl_qmp_schema_free(VmctlQmpSchema *schema);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctlQmpSchema, vmctl_qmp_schema_free)

bool vmctl_qmp_schema_lookup(const VmctlQmpSchema *schema, const char *path);
bool vmctl_qmp_schema_is_command(const VmctlQmpSchema *schema, const char *name);
