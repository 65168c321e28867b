/* guest_spec.h: the description of a guest that vmctl launches (name,
 * memory, backing, kind, accelerator, vCPUs, NVDIMM and virtio-pmem devices,
 * KSM merging, dirty ring, workload parameters), its rules and its JSON
 * form. State files and the daemon protocol carry this JSON; QEMU argv and
 * libvirt XML are built from the struct.
 *
 * Parsing (vmctl_guest_spec_from_json) checks the shape: known members,
 * their JSON types, size strings. The rules that depend on values or on the
 * host (vmctl_guest_spec_validate) are checked separately, so a stored spec
 * can be read back before the host limits are known. The backend string is
 * kept as given: the backend probe (pmem_backend.h) judges it at launch.
 *
 * JSON form (to_json writes every member; sizes as raw byte counts):
 *   {"name": "g1", "memory": 536870912, "backend": "anonymous",
 *    "kind": "tiny", "accel": "auto", "vcpus": 1, "mem-merge": true,
 *    "dirty-ring": 0,
 *    "nvdimm": [{"path": "/mnt/pmem/nv0", "size": 1073741824}],
 *    "virtio-pmem": [],
 *    "tiny": {"rate": 0, "ws": 0, "same": 0, "seed": 1}}
 * with "linux": {"cmdline": "..."} instead of "tiny" for kind linux. On
 * input, sizes may also be size strings ("512M"); only name and memory are
 * required. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define VMCTL_GUEST_NAME_MAX 64                   /* characters */
#define VMCTL_GUEST_MEMORY_MIN (16 * 1024 * 1024) /* bytes */
#define VMCTL_GUEST_MEMORY_ALIGN (2 * 1024 * 1024) /* bytes: QEMU and THP/hugetlb friendly */
#define VMCTL_GUEST_DEVICE_ALIGN (2 * 1024 * 1024) /* bytes: NVDIMM and virtio-pmem sizes */
#define VMCTL_GUEST_DIRTY_RING_MIN 1024           /* entries, KVM's smallest useful ring */
#define VMCTL_GUEST_DIRTY_RING_MAX 65536          /* entries, KVM_CAP_DIRTY_LOG_RING max here */
#define VMCTL_GUEST_TINY_RATE_MAX 1000000000ull   /* pages/s, as the tiny guest accepts */
#define VMCTL_GUEST_SAME_MAX 1000                 /* per mille */
#define VMCTL_GUEST_CMDLINE_MAX 1024              /* bytes of extra kernel command line */
#define VMCTL_GUEST_DEVICES_MAX 8                 /* NVDIMM or virtio-pmem devices, each */

typedef enum {
    VMCTL_GUEST_TINY,  /* the ring-3 test guest (guest-tests/tiny) */
    VMCTL_GUEST_LINUX, /* the Linux test guest (guest-tests/linux) */
} VmctlGuestKind;

typedef enum {
    VMCTL_ACCEL_AUTO, /* KVM when /dev/kvm works, else TCG */
    VMCTL_ACCEL_KVM,
    VMCTL_ACCEL_TCG,
} VmctlAccel;

typedef struct {
    char *path;    /* absolute path of the backing file or device */
    uint64_t size; /* bytes */
} VmctlGuestDevice;

typedef struct {
    char *name;
    uint64_t memory; /* bytes */
    char *backend;   /* backend spec as pmem_backend.h reads it */
    VmctlGuestKind kind;
    VmctlAccel accel;
    unsigned vcpus;
    GArray *nvdimm;      /* VmctlGuestDevice */
    GArray *virtio_pmem; /* VmctlGuestDevice */
    bool mem_merge;      /* QEMU mem-merge (KSM may merge guest RAM) */
    unsigned dirty_ring; /* entries; 0 = dirty bitmap */
    struct {
        uint64_t rate; /* page rewrites/s, 0 = as fast as possible */
        uint64_t ws;   /* working-set pages, 0 = every page that is not a same page */
        unsigned same; /* per mille of pages identical across guests */
        uint64_t seed; /* page pattern seed */
    } tiny;
    struct {
        char *cmdline; /* extra kernel command line ("" for none) */
    } linux_guest;
} VmctlGuestSpec;

/* A spec with the defaults: backend "anonymous", kind tiny, accel auto,
 * 1 vCPU, mem-merge on (QEMU's default), no dirty ring, seed 1. Name and
 * memory are empty and must be set. */
VmctlGuestSpec *vmctl_guest_spec_new(void);
void vmctl_guest_spec_free(VmctlGuestSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctlGuestSpec, vmctl_guest_spec_free)

VmctlGuestSpec *vmctl_guest_spec_from_json(json_object *json, GError **error);
/* A deep copy (through the JSON form, so the two cannot drift). */
VmctlGuestSpec *vmctl_guest_spec_copy(const VmctlGuestSpec *spec);
json_object *vmctl_guest_spec_to_json(const VmctlGuestSpec *spec);

/* Check every rule. max_vcpus is the vCPU limit of the host and accelerator
 * that will run the guest (KVM_CAP_NR_VCPUS for KVM). */
bool vmctl_guest_spec_validate(const VmctlGuestSpec *spec, unsigned max_vcpus, GError **error);

/* Add an NVDIMM or virtio-pmem device from the command-line form
 * "PATH,SIZE" ("/mnt/pmem/nv0,1G"). `what` is "nvdimm" or "virtio-pmem". */
bool vmctl_guest_spec_add_device(VmctlGuestSpec *spec, const char *what, const char *arg, GError **error);

const char *vmctl_guest_kind_name(VmctlGuestKind kind);
const char *vmctl_accel_name(VmctlAccel accel);
bool vmctl_guest_kind_from_name(const char *name, VmctlGuestKind *out);
bool vmctl_accel_from_name(const char *name, VmctlAccel *out);
