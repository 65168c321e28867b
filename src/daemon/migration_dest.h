/* migration_dest.h: where a local migration's destination keeps the guest's
 * memory. The RAM and each NVDIMM / virtio-pmem device either go where the
 * caller says (`dest-backend`, `dest-nvdimm`, `dest-virtio-pmem`: another
 * device-dax, an fsdax file, any backing a launch accepts) or to a new file
 * beside the source's. Every destination backing is checked with a launch's
 * rules before anything starts (exists or can be made, kind, size,
 * alignment, under the allowed paths, not the source's, not another
 * guest's), plus one of its own: a device whose source is DAX (QEMU maps it
 * pmem=on) stays on DAX. A device-dax cannot be copied beside itself, so a
 * source on one needs its destination named. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "daemon/guests.h"

typedef struct {
    const char *backend;            /* RAM, NULL: beside the source's */
    const char *const *nvdimm;      /* NULL, or one path per NVDIMM */
    const char *const *virtio_pmem; /* NULL, or one path per virtio-pmem device */
    bool shared;                    /* the destination maps the source's own files */
} VmctldDestRequest;

typedef struct {
    json_object *spec;  /* the destination's guest spec */
    char *ram;          /* the RAM image the host can read (file or device), NULL: none */
    GPtrArray *nv;      /* each NVDIMM's image */
    GPtrArray *created; /* files that do not exist yet: removed if the destination goes */
} VmctldDest;

void vmctld_dest_clear(VmctldDest *d);

/* The host image of a RAM or device backing: the path when it is a regular
 * file or a character device (device-dax), else NULL (anonymous, memfd,
 * a directory QEMU makes its own unlinked file in). */
char *vmctld_backing_image(const char *backend);

/* Plan the destination of guest `src_spec` (JSON spec) as `req` asks, and
 * check it. On error nothing was made. */
bool vmctld_dest_plan(VmctldGuests *guests, json_object *src_spec, const VmctldDestRequest *req, VmctldDest *out,
                      GError **error);

/* The request of a `migrate` call's arguments (dest-backend, dest-nvdimm,
 * dest-virtio-pmem) with its `shared` option; the strings stay owned by
 * `args`, the arrays are freed by vmctld_dest_request_clear. */
bool vmctld_dest_request_from_args(json_object *args, bool shared, VmctldDestRequest *req, GError **error);
void vmctld_dest_request_clear(VmctldDestRequest *req);
