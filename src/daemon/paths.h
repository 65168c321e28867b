/* paths.h: which host paths a request may name (guest RAM backings and
 * NVDIMM / virtio-pmem backings), and which of them a guest owns alone. */
#pragma once

#include "guest_spec.h"

#include <json-c/json.h>
#include "util.h"

/* The allow-list vmctld applies: `list` is "A;B;C" (the `allowed-paths`
 * config key or VMCTLD_ALLOWED_PATHS), NULL or empty for the default
 * VMCTLD_DEFAULT_ALLOWED_PATHS plus the temp dir. An entry is a directory
 * (the entry itself and everything under it) or, ending in '*', a name
 * prefix ("/dev/dax*"). */
#define VMCTLD_DEFAULT_ALLOWED_PATHS "/dev/dax*;/dev/pmem*;/dev/shm;/dev/hugepages;/mnt;/var/lib/vmctl;/var/tmp"

GStrv vmctld_paths_allowed_new(const char *list);

/* `path` (absolute or relative to the daemon's working directory) after
 * resolving its symlinks (of the existing part: the parent of a file yet
 * to be made) is under an entry of `allowed`; a ".." component is refused
 * outright. Error: "path 'X' is outside the allowed paths (A;B)". */
bool vmctld_path_check(const char *const *allowed, const char *path, GError **error);

/* `path` opened beneath the allowed entry it lies in, never following a
 * symlink out of it: openat2(RESOLVE_BENEATH) from the entry's directory,
 * RESOLVE_NO_SYMLINKS for a name-prefix entry's file. A directory is
 * opened O_PATH, anything else read-write; with `create` a file that does
 * not exist is made (0600) and *created set. -1 with "path 'X' leads
 * outside the allowed paths (A;B)" when the kernel finds the walk leaving
 * the entry at the time of the open. */
int vmctld_path_open(const char *const *allowed, const char *path, bool create, bool *created, GError **error);

/* Remove the file `path` through a descriptor of its directory opened
 * beneath the allowed entry (as vmctld_path_open): a directory swapped for
 * a symlink out leads to no removal outside the list. */
bool vmctld_path_unlink(const char *const *allowed, const char *path, GError **error);

/* The descriptors a QEMU is started with: each backing of its argv opened
 * by vmctld_path_open and found at fd targets[i] in QEMU, whose mem-path
 * is /proc/self/fd/N: QEMU never looks the name up again. */
typedef struct {
    GArray *fds;        /* int: vmctld's */
    GArray *targets;    /* int: QEMU's */
    GPtrArray *created; /* files the opening made */
} VmctldPassFds;

void vmctld_pass_fds_init(VmctldPassFds *p);
/* Close vmctld's descriptors (once QEMU holds its own, or on failure); with
 * `allowed`, also remove the files the opening made (a launch that failed). */
void vmctld_pass_fds_clear(VmctldPassFds *p, const char *const *allowed);
/* Open the mem-path of the QEMU memory object `obj` (when it has one) into
 * `p`, check that it is still the file `obj` was made from (the same
 * inode as the name now names), and point mem-path at its descriptor. */
bool vmctld_pass_backing(VmctldPassFds *p, const char *const *allowed, json_object *obj, GError **error);

/* Every host path of SPEC (its RAM backing when that is a path, its NVDIMM
 * and virtio-pmem backings) passes vmctld_path_check. */
bool vmctld_spec_paths_check(const char *const *allowed, const VmctlGuestSpec *spec, GError **error);

/* A backing one guest owns alone: a file or device path and what it is to
 * the guest ("RAM", "NVDIMM 0", "virtio-pmem device 1"). */
typedef struct {
    char *path;
    char *role;
} VmctldOwned;
void vmctld_owned_clear(VmctldOwned *o);

/* The backings SPEC owns: its RAM when that is a file or device path (a
 * directory is shared: QEMU makes its own unlinked file there), every
 * NVDIMM and virtio-pmem backing. A GArray of VmctldOwned. */
GArray *vmctld_spec_owned(const VmctlGuestSpec *spec);

/* A and B are the same backing: the same device (st_rdev), the same inode,
 * or, neither existing yet, the same path once symlinks are resolved. */
bool vmctld_same_backing(const char *a, const char *b);

/* No backing of SPEC is named twice in it ("... is named twice (RAM and
 * NVDIMM 0)"). */
bool vmctld_spec_owned_distinct(const VmctlGuestSpec *spec, GError **error);
