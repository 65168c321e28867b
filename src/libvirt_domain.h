/* libvirt_domain.h: the memory-related parts of a libvirt domain XML, read
 * with GMarkup: guest memory, <memoryBacking>, and <memory> devices (nvdimm,
 * virtio-pmem, dimm). Only what the hook and the driver need. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    char *model;         /* "nvdimm", "virtio-pmem", "dimm", ... */
    char *access;        /* "shared", "private" or NULL */
    char *path;          /* <source><path> or NULL */
    uint64_t size;       /* <target><size>, bytes */
    uint64_t alignsize;  /* <source><alignsize>, bytes, 0 if absent */
    bool pmem;           /* <source><pmem/> */
} VmctlDomainMemdev;

typedef struct {
    char *name;
    char *type;               /* domain type: "kvm", "qemu" */
    uint64_t memory;          /* <memory>, bytes */
    char *backing_source;     /* <memoryBacking><source type=...> or NULL */
    char *backing_access;     /* <memoryBacking><access mode=...> or NULL */
    bool hugepages;           /* <memoryBacking><hugepages> */
    uint64_t hugepage_size;   /* <hugepages><page size=...>, bytes, 0 default */
    GPtrArray *memdevs;       /* VmctlDomainMemdev* */
} VmctlDomain;

VmctlDomain *vmctl_domain_parse(const char *xml, gssize len, GError **error);
void vmctl_domain_free(VmctlDomain *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctlDomain, vmctl_domain_free)

/* libvirt's scaled integers: value with unit b/bytes, k/KiB, KB, M/MiB,
 * MB, G/GiB, GB, T/TiB, TB; NULL unit is `dflt_unit`. */
bool vmctl_domain_scaled(const char *value, const char *unit, const char *dflt_unit, uint64_t *out, GError **error);
