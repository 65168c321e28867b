/* guests.h: the guests vmctld supervises. Each guest is a QEMU process that
 * daemonized itself, watched through a pidfd and spoken to over QMP; its
 * state file (state.h) is written before QEMU starts and removed when the
 * guest ends, so a restarted vmctld finds and reattaches to every guest it
 * had. */
#pragma once

#include <json-c/json.h>

#include "daemon/server.h"
#include "util.h"

typedef struct VmctldGuests VmctldGuests;

typedef struct {
    const char *state_dir;
    const char *qemu;      /* QEMU binary */
    const char *image_dir; /* where tiny.bin, vmlinuz, initramfs live; NULL: found */
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
