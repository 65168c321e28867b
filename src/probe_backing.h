/* probe_backing.h: the memory behind a probed memslot. One spec string per
 * kind: anonymous, thp, memfd, shm, file[:DIR], hugetlbfs[:DIR],
 * devdax:/dev/daxX.Y, fsdax:/path/on/dax/fs. File-backed kinds are mapped
 * MAP_SHARED and get a second, read-only mapping that the completeness
 * oracle reads. Library code: errors through GError, never printed. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    VMCTL_BACKING_ANONYMOUS,
    VMCTL_BACKING_THP,
    VMCTL_BACKING_MEMFD,
    VMCTL_BACKING_SHM,
    VMCTL_BACKING_FILE,
    VMCTL_BACKING_HUGETLBFS,
    VMCTL_BACKING_DEVDAX,
    VMCTL_BACKING_FSDAX,
} VmctlBackingKind;

typedef struct vmctl_probe_backing {
    char *spec;            /* as given: "file", "devdax:/dev/dax0.0" */
    VmctlBackingKind kind;
    const char *kind_name;
    char *path;            /* file or device, NULL for anonymous kinds */
    bool unlink_path;      /* we created it */
    int fd;
    void *map;             /* what the memslot uses, `size` bytes */
    void *map_base;        /* what to munmap */
    uint64_t map_len;
    uint64_t size;         /* bytes */
    uint64_t page_size;    /* bytes of the backing's pages */
    void *view;            /* read-only second mapping, file-backed kinds only */
    char *detail;          /* how it was set up: "MAP_HUGETLB anonymous", "/dev/shm/..." */
    uint64_t hugepages_added; /* 2M pages we added to nr_hugepages, taken back on release */
} vmctl_probe_backing;

/* The kinds tried by default, in order (devdax and fsdax need a path). */
extern const char *const vmctl_probe_backing_defaults[];

/* The defaults and the DAX this machine offers to a probe: "fsdax:MOUNT"
 * for every writable ext4/xfs mount with dax (or dax=always), where the
 * probe makes its own file and removes it; and, only inside a lab (whose
 * NVDIMMs are scratch), "devdax:/dev/daxX.Y" for every device-dax: on any
 * other machine a device-dax holds someone's data, and the probe writes
 * it, so it is probed only when named. A new array of new strings. */
GPtrArray *vmctl_probe_backing_default_specs(void);

/* Set up a backing of `size` bytes. VMCTL_ERROR_UNSUPPORTED when this host
 * cannot provide it (no free huge pages and not root, THP disabled...). */
struct vmctl_probe_backing *vmctl_probe_backing_open(const char *spec, uint64_t size, GError **error);
/* Unmap, close, unlink what we created and give back the huge pages we
 * reserved (nr_hugepages lowered by what we added, so a concurrent change
 * by someone else is kept). Idempotent; close calls it too. Returns false
 * when nr_hugepages could not be written back. */
bool vmctl_probe_backing_release(struct vmctl_probe_backing *b, GError **error);
void vmctl_probe_backing_close(struct vmctl_probe_backing *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmctl_probe_backing, vmctl_probe_backing_close)

/* Check a spec without setting anything up (for the command line). */
bool vmctl_probe_backing_spec_ok(const char *spec, GError **error);

/* Write one word into page `page` through the host's own mapping, not
 * through the guest: a change KVM cannot see (fault injection). */
void vmctl_probe_backing_host_write(struct vmctl_probe_backing *b, uint64_t page, uint64_t value);
