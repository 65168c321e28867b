/* pmem_backend.h: what a guest-memory backing is (device-dax, fsdax file,
 * hugetlbfs, tmpfs, plain file, memfd, anonymous), whether a guest of a given
 * size fits it, and the QEMU memory-backend object that uses it.
 *
 * Everything is read from the kernel's own interfaces: stat/statx/statfs of
 * the path, a MAP_SYNC mapping probe, /proc/self/mountinfo and sysfs. For
 * tests the roots can be moved:
 *   VMCTL_SYSFS_ROOT  sysfs root (default "/sys")
 *   VMCTL_MOUNTINFO   mount table (default "/proc/self/mountinfo")
 *   VMCTL_DEV_ROOT    device directory (default "/dev"); when set, a regular
 *                     file named daxX.Y in it stands in for the character
 *                     device and is looked up by name in the sysfs root.
 * Library code: errors come back through GError, nothing is printed. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mountinfo.h"
#include "sysfs.h"
#include "util.h"

typedef enum {
    VMCTL_BACKEND_ANONYMOUS, /* private anonymous memory: memory-backend-ram */
    VMCTL_BACKEND_MEMFD,     /* memfd_create(): memory-backend-memfd */
    VMCTL_BACKEND_FILE,      /* file (or block device) on a page-cache filesystem */
    VMCTL_BACKEND_TMPFS,     /* tmpfs/shm file or directory */
    VMCTL_BACKEND_HUGETLBFS, /* hugetlbfs file or directory */
    VMCTL_BACKEND_FSDAX,     /* file or directory on a DAX-capable mount */
    VMCTL_BACKEND_DEVDAX,    /* /dev/daxX.Y character device */
} VmctlBackendKind;

typedef struct VmctlBackend VmctlBackend;

/* Probe SPEC: "anonymous", "memfd", "memfd:hugetlb" (default huge page
 * size), "memfd:hugetlb=SIZE", or a path (an existing file, a file to be
 * created in an existing writable directory, a directory on
 * hugetlbfs/tmpfs/fsdax, a /dev/daxX.Y or /dev/pmemX device). Relative paths
 * are made absolute against the working directory. When SIZE is not 0, also
 * check that a guest of SIZE bytes fits: alignment, free space, device size,
 * free huge pages, size of an existing file. Each failed rule is one error
 * that names the path and the rule. */
VmctlBackend *vmctl_backend_probe(const char *spec, uint64_t size, GError **error);
void vmctl_backend_free(VmctlBackend *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctlBackend, vmctl_backend_free)

VmctlBackendKind vmctl_backend_kind(const VmctlBackend *b);
/* "anonymous", "memfd", "file", "tmpfs", "hugetlbfs", "fsdax", "devdax". */
const char *vmctl_backend_kind_name(VmctlBackendKind k);

/* The absolute, normalised path (NULL for memfd and anonymous). */
const char *vmctl_backend_path(const VmctlBackend *b);

/* True only for real DAX: device-dax, or an fsdax file where a
 * MAP_SHARED_VALIDATE|MAP_SYNC mapping succeeded. A mount that only claims
 * "dax" without MAP_SYNC working is not DAX. */
bool vmctl_backend_is_dax(const VmctlBackend *b);
/* Why pmem=on is (or is not) right for this backing: one phrase. */
const char *vmctl_backend_pmem_reason(const VmctlBackend *b);

/* The alignment a guest size must keep, in bytes: the device-dax align, the
 * huge page size on hugetlbfs or memfd:hugetlb, else the base page size. */
uint64_t vmctl_backend_align(const VmctlBackend *b);

/* The size the backing has by itself, in bytes (existing file, device), or 0
 * when the guest size decides it. */
uint64_t vmctl_backend_natural_size(const VmctlBackend *b);

/* Everything the probe found (kind, filesystem, mount, DAX evidence, device
 * attributes, huge page pool, free space), raw integers. */
json_object *vmctl_backend_to_json(const VmctlBackend *b);

/* The QEMU memory-backend object in the form of QMP object-add and
 * `-object` JSON. SIZE 0 takes the backing's natural size (the key is left
 * out when there is none). DAX kinds always get share=true: a private
 * mapping of DAX memory is copy-on-write into DRAM and device-dax refuses
 * it. */
json_object *vmctl_backend_qemu_object(const VmctlBackend *b, const char *id, uint64_t size, bool share);

/* The path rules for guest memory: nothing under /proc or /sys, under
 * /dev only dax*, pmem*, shm and hugepages. PATH is absolute and
 * normalised; SHOWN is how the user wrote it (for the message). */
bool vmctl_backend_path_allowed(const char *shown, const char *path, GError **error);

/* What this host offers, like `daxctl list` + `ndctl list`: DAX devices,
 * pmem namespaces, hugetlbfs mounts with their page size and free huge
 * pages, tmpfs mounts. Empty arrays where there are none. */
json_object *vmctl_backend_list(GError **error);

