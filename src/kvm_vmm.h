/* kvm_vmm.h: a minimal in-process VMM for the probes. One VM, a few
 * memslots, one vCPU started directly in 64-bit long mode at CPL 3 (the
 * only guest code this host's paravirtual KVM runs natively), and a guest
 * program that writes one word into each page the host names, then exits
 * with `out`. Library code: never prints, reports through GError. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define VMCTL_VMM_PAGE 4096u          /* bytes, the dirty-log granule */
#define VMCTL_VMM_MAX_SLOTS 8         /* memslots this VMM hands out */
#define VMCTL_VMM_EXIT_PORT 0x10      /* I/O port the guest writes to finish a command */

/* Where things live in guest-physical memory. The system slot holds the
 * GDT, TSS, page tables and the guest program; the mailbox slot holds the
 * page lists; probed slots start at VMCTL_VMM_PROBE_GPA. */
#define VMCTL_VMM_SYS_GPA 0x0ull
#define VMCTL_VMM_SYS_SIZE (2ull << 20)          /* bytes */
#define VMCTL_VMM_MAILBOX_GPA (1ull << 30)
#define VMCTL_VMM_MAILBOX_MAX (1ull << 30)       /* bytes */
#define VMCTL_VMM_PROBE_GPA (4ull << 30)
#define VMCTL_VMM_PROBE_MAX (64ull << 30)        /* bytes of probed slots the page tables cover */

typedef struct vmctl_vmm vmctl_vmm;

/* One memslot as the VMM registered it. */
struct vmctl_vmm_region {
    bool used;
    const char *name;  /* static string: "system", "mailbox", "probe" */
    uint32_t slot;
    uint64_t gpa;
    uint64_t size;     /* bytes */
    void *hva;
    bool log_dirty;
};

/* A command for the guest: write `value` into the first word of each page
 * (read: load it and write nothing, for accessed-bit probes).
 * Stride form: `count` pages from `gpa`, `stride` bytes apart. List form
 * (list != NULL): `count` guest-physical addresses, copied to the mailbox. */
struct vmctl_vmm_writes {
    uint64_t gpa;
    uint64_t stride;
    const uint64_t *list;
    uint64_t count;
    uint64_t value;
    bool read;
};

/* Why KVM_RUN came back to the caller. */
typedef enum {
    VMCTL_VMM_DONE,        /* the guest finished the command */
    VMCTL_VMM_RING_FULL,   /* KVM_EXIT_DIRTY_RING_FULL: harvest, then run again */
} VmctlVmmExit;

/* Open /dev/kvm and create an empty VM. */
struct vmctl_vmm *vmctl_vmm_new(GError **error);
void vmctl_vmm_free(struct vmctl_vmm *vmm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmctl_vmm, vmctl_vmm_free)

int vmctl_vmm_vm_fd(const struct vmctl_vmm *vmm);

/* KVM_CHECK_EXTENSION on the VM fd: the value, 0 when absent. */
int vmctl_vmm_check_cap(const struct vmctl_vmm *vmm, unsigned cap);

/* KVM_ENABLE_CAP on the VM fd; `what` names the cap in the error. */
bool vmctl_vmm_enable_cap(struct vmctl_vmm *vmm, unsigned cap, const char *what, uint64_t arg0, GError **error);

/* THE memslot owner: picks the slot number, refuses a guest range that
 * overlaps another slot or falls outside what the page tables map, sets the
 * dirty-log flag. Called again with the same gpa/size/hva it only changes
 * the dirty-log flag. Returns the slot number or -1. */
int vmctl_vmm_set_region(struct vmctl_vmm *vmm, const char *name, uint64_t gpa, uint64_t size, void *hva,
                         bool log_dirty, GError **error);
const struct vmctl_vmm_region *vmctl_vmm_region(const struct vmctl_vmm *vmm, uint32_t slot);

/* Set up the system and mailbox slots and create the vCPU in long mode at
 * CPL 3. Anything that must precede the first vCPU (the dirty ring) must be
 * enabled before this. ring_bytes > 0 maps the vCPU's dirty ring. */
bool vmctl_vmm_start(struct vmctl_vmm *vmm, uint64_t mailbox_bytes, uint64_t ring_bytes, GError **error);

/* Run the guest on one command until it finishes (VMCTL_VMM_DONE) or the
 * dirty ring is full (VMCTL_VMM_RING_FULL: call vmctl_vmm_resume() after
 * harvesting). Returns -1 with error on anything else. */
int vmctl_vmm_run(struct vmctl_vmm *vmm, const struct vmctl_vmm_writes *w, GError **error);
int vmctl_vmm_resume(struct vmctl_vmm *vmm, GError **error);

/* The vCPU's dirty ring (NULL when not enabled) and its size in entries. */
struct kvm_dirty_gfn *vmctl_vmm_ring(struct vmctl_vmm *vmm, uint32_t *entries);

/* KVM binary statistics of the VM (KVM_GET_STATS_FD). */
struct vmctl_vmm_stats {
    bool available;
    uint64_t pages_4k, pages_2m, pages_1g;
};
bool vmctl_vmm_read_stats(struct vmctl_vmm *vmm, struct vmctl_vmm_stats *out, GError **error);
json_object *vmctl_vmm_stats_to_json(const struct vmctl_vmm_stats *st);

/* Name of a KVM exit reason for messages ("KVM_EXIT_SHUTDOWN"). */
const char *vmctl_vmm_exit_name(uint32_t reason);
