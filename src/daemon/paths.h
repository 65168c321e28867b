/* paths.h: which host paths a request may name (guest RAM backings and
 * NVDIMM / virtio-pmem backings). */
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
