/* guests.h: the guests vmctld supervises. Each guest is a QEMU process that
 * daemonized itself, watched through a pidfd and spoken to over QMP; its
 * state file (state.h) is written before QEMU starts and removed when the
 * guest ends, so a restarted vmctld finds and reattaches to every guest it
 * had. */
#pragma once

#include <json-c/json.h>

#include "daemon/paths.h"
#include "daemon/server.h"
#include "guest_spec.h"
#include "qmp.h"
#include "util.h"

typedef struct VmctldGuests VmctldGuests;

typedef struct {
    const char *state_dir;
    const char *qemu;      /* QEMU binary */
    const char *image_dir; /* where tiny.bin, vmlinuz, initramfs live; NULL: found */
    const char *allowed_paths; /* "A;B;C" (paths.h); NULL: the default */
} VmctldGuestsConfig;

VmctldGuests *vmctld_guests_new(const VmctldGuestsConfig *cfg, GError **error);
void vmctld_guests_free(VmctldGuests *g);

/* Read every state file: reattach to live guests, mark dead ones. */
void vmctld_guests_reattach(VmctldGuests *g);

/* Protocol commands (see docs/api.md). */
void vmctld_guests_cmd_launch(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_guests_cmd_stop(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_guests_cmd_kill(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_guests_cmd_qmp(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
json_object *vmctld_guests_cmd_list(VmctldServer *srv, json_object *args, void *data, GError **error);
json_object *vmctld_guests_cmd_info(VmctldServer *srv, json_object *args, void *data, GError **error);

/* The rules a launch applies to SPEC's host paths: under the allowed paths,
 * none named twice, none owned by another guest that is not dead. */
bool vmctld_guests_backings_check(VmctldGuests *g, const VmctlGuestSpec *spec, GError **error);

/* For live migration (daemon/migration_qmp.c). */
const char *vmctld_guests_run_root(VmctldGuests *g);
/* The guest as `info` shows it (a new object). */
json_object *vmctld_guests_info(VmctldGuests *g, const char *name, GError **error);
/* The guest's QMP connection (borrowed; QEMU serves one client at a time). */
VmctlQmp *vmctld_guests_qmp(VmctldGuests *g, const char *name, GError **error);
/* The QEMU argv of a spec under accelerator `accel` ("kvm", "tcg") run from
 * `run_dir` (a destination: another backing, another run dir); its
 * backings opened into `pass` (init'ed by the caller, cleared by it). */
GStrv vmctld_guests_qemu_argv(VmctldGuests *g, json_object *spec_json, const char *accel, const char *run_dir,
                              char **backend_kind, VmctldPassFds *pass, GError **error);

/* Start QEMU `argv` (it daemonizes) with stdout and stderr on `logfd` and
 * the backings of `pass` at their descriptors; *pid is the launcher. */
bool vmctld_qemu_spawn(char **argv, int logfd, const VmctldPassFds *pass, GPid *pid, GError **error);

/* The allow-list of the daemon (paths.h). */
const char *const *vmctld_guests_allowed(VmctldGuests *g);
/* Hand guest `name` over to the QEMU `pid` (a migration destination that
 * runs from `run_dir` with `spec_json` and `argv`): the source QEMU gets
 * SIGTERM, its run dir goes, the state file describes the destination.
 * `cb` runs once the record's QMP connection to it is ready (or failed). */
typedef void (*VmctldHandedFunc)(gpointer user, const GError *error);
bool vmctld_guests_hand_over(VmctldGuests *g, const char *name, json_object *spec_json, const char *run_dir,
                             pid_t pid, json_object *argv, const char *backend_kind, VmctldHandedFunc cb,
                             gpointer user, GError **error);
