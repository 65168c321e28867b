/* paths.h: which host paths a request may name (guest RAM backings and
 * NVDIMM / virtio-pmem backings), and which of them a guest owns alone. */
#pragma once

#include "guest_spec.h"
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
