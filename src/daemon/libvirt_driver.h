/* libvirt_driver.h: vmctld's libvirt driver (`vmctld --driver libvirt
 * --connect URI`): guests are libvirt domains, created with
 * virDomainCreateXML from the guest spec, which travels with the domain in
 * its <metadata>; their state lives in libvirt, so a restarted vmctld finds
 * them again by name. Every libvirt call runs in a worker thread with its
 * own connection, never in the main loop. Live migration is libvirt's
 * peer-to-peer migration (virDomainMigrateToURI3) to another libvirtd,
 * verified as local migration is: page by page where the destination's
 * memory can be reached from this host, the page stamps and the guest's
 * VERIFY. Protocol: docs/api.md. */
#pragma once

#include <json-c/json.h>

#include "daemon/server.h"

typedef struct VmctldLibvirt VmctldLibvirt;

typedef struct {
    const char *uri;       /* libvirt connection URI of this host */
    const char *state_dir; /* serial sockets and console logs go under STATE_DIR/libvirt */
    const char *qemu;      /* QEMU binary (the domain's <emulator>) */
    const char *image_dir; /* where tiny.bin, vmlinuz, initramfs live; NULL: found */
    const char *allowed_paths; /* "A;B;C" (paths.h); NULL: the default */
} VmctldLibvirtConfig;

/* Connects once to check the URI. */
VmctldLibvirt *vmctld_libvirt_new(const VmctldLibvirtConfig *cfg, GError **error);
void vmctld_libvirt_free(VmctldLibvirt *lv);

/* Protocol commands; `data` is the VmctldLibvirt. */
void vmctld_libvirt_cmd_launch(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_libvirt_cmd_list(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_libvirt_cmd_info(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_libvirt_cmd_stop(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_libvirt_cmd_kill(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_libvirt_cmd_dirty_rate(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
void vmctld_libvirt_cmd_migrate(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
