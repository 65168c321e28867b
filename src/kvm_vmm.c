/* kvm_vmm.c: the minimal VMM behind `vmctl probe`. Creates a VM, owns its
 * memslots, builds the GDT/TSS/page tables in the system slot and starts one
 * vCPU straight in 64-bit long mode at CPL 3 with IOPL 3, so the guest runs
 * natively on a paravirtual KVM and can leave with `out`. */
#include "config.h"

#include "kvm_vmm.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

extern const uint8_t vmctl_vmm_guest_code[];
extern const uint8_t vmctl_vmm_guest_code_end[];

/* System slot layout (guest-physical = offset in the slot). */
#define SYS_GDT 0x1000ull
#define SYS_TSS 0x2000ull
#define SYS_PML4 0x3000ull
#define SYS_PDPT 0x4000ull
#define SYS_PD_LOW 0x5000ull    /* [0, 1G): the system slot */
#define SYS_PD_MAILBOX 0x6000ull /* [1G, 2G): the mailbox */
#define SYS_PD_PROBE 0x7000ull  /* [4G, 4G + VMCTL_VMM_PROBE_MAX): one PD per GiB */
#define SYS_CODE 0x100000ull

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull /* user pages at every level: the guest runs at CPL 3 */
#define PTE_PS 0x80ull
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)

/* Selectors of the host's user segments (PVM runs CPL 3 code natively
 * only with these). */
#define SEL_USER_DS 0x2b /* GDT index 5, RPL 3 */
#define SEL_USER_CS 0x33 /* GDT index 6, RPL 3 */
#define SEL_TSS 0x40     /* GDT index 8, 16 bytes */

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_GUEST 0x3002ull /* IOPL 3 (so `out` works at CPL 3), reserved bit 1 */

struct vmctl_vmm {
    int kvm_fd;
    int vm_fd;
    int vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    void *sys;               /* system slot memory */
    void *mailbox;           /* mailbox slot memory */
    uint64_t mailbox_size;   /* bytes */
    struct kvm_dirty_gfn *ring;
    uint32_t ring_entries;
    int stats_fd;
    struct kvm_stats_header stats_hdr;
    struct kvm_stats_desc *stats_desc; /* packed, stride desc_size */
    size_t desc_size;
    int64_t off_4k, off_2m, off_1g;    /* byte offsets of the values in the stats data, -1 absent */
    struct vmctl_vmm_region regions[VMCTL_VMM_MAX_SLOTS];
};

static void *map_anon(uint64_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

struct vmctl_vmm *vmctl_vmm_new(GError **error)
{
    g_autoptr(vmctl_vmm) vmm = g_new0(struct vmctl_vmm, 1);
    int version;

    vmm->kvm_fd = vmm->vm_fd = vmm->vcpu_fd = vmm->stats_fd = -1;
    vmm->off_4k = vmm->off_2m = vmm->off_1g = -1;
    vmm->kvm_fd = vmctl_kvm_open();
    if (vmm->kvm_fd < 0) {
        g_set_error(error, VMCTL_ERROR, errno == ENOENT ? VMCTL_ERROR_UNSUPPORTED : VMCTL_ERROR_FAILED,
                    "open '/dev/kvm' failed: %s", g_strerror(errno));
        return NULL;
    }
    version = ioctl(vmm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "KVM API version '%d' is not the expected '%d'",
                    version, KVM_API_VERSION);
        return NULL;
    }
    vmm->vm_fd = ioctl(vmm->kvm_fd, KVM_CREATE_VM, 0);
    if (vmm->vm_fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_CREATE_VM failed: %s", g_strerror(errno));
        return NULL;
    }
    return g_steal_pointer(&vmm);
}

void vmctl_vmm_free(struct vmctl_vmm *vmm)
{
    if (!vmm)
        return;
    if (vmm->ring)
        munmap(vmm->ring, (size_t)vmm->ring_entries * sizeof(struct kvm_dirty_gfn));
    if (vmm->run)
        munmap(vmm->run, vmm->run_size);
    if (vmm->stats_fd >= 0)
        close(vmm->stats_fd);
    g_free(vmm->stats_desc);
    if (vmm->vcpu_fd >= 0)
        close(vmm->vcpu_fd);
    if (vmm->vm_fd >= 0)
        close(vmm->vm_fd);
    if (vmm->kvm_fd >= 0)
        close(vmm->kvm_fd);
    if (vmm->sys)
        munmap(vmm->sys, VMCTL_VMM_SYS_SIZE);
    if (vmm->mailbox)
        munmap(vmm->mailbox, vmm->mailbox_size);
    g_free(vmm);
}

int vmctl_vmm_vm_fd(const struct vmctl_vmm *vmm)
{
    return vmm->vm_fd;
}

int vmctl_vmm_check_cap(const struct vmctl_vmm *vmm, unsigned cap)
{
    int r = ioctl(vmm->vm_fd, KVM_CHECK_EXTENSION, cap);
    return r < 0 ? 0 : r;
}

bool vmctl_vmm_enable_cap(struct vmctl_vmm *vmm, unsigned cap, const char *what, uint64_t arg0, GError **error)
{
    struct kvm_enable_cap ec = { .cap = cap, .args = { arg0 } };

    if (ioctl(vmm->vm_fd, KVM_ENABLE_CAP, &ec) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_ENABLE_CAP %s (arg 0x%" G_GINT64_MODIFIER "x) failed: %s",
                    what, arg0, g_strerror(errno));
        return false;
    }
    return true;
}

/* The guest-physical windows the page tables map; a slot must fit in one. */
static bool gpa_mapped(uint64_t gpa, uint64_t size)
{
    static const struct {
        uint64_t start, size;
    } windows[] = {
        { VMCTL_VMM_SYS_GPA, VMCTL_VMM_SYS_SIZE },
        { VMCTL_VMM_MAILBOX_GPA, VMCTL_VMM_MAILBOX_MAX },
        { VMCTL_VMM_PROBE_GPA, VMCTL_VMM_PROBE_MAX },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(windows); i++)
        if (gpa >= windows[i].start && size <= windows[i].size && gpa - windows[i].start <= windows[i].size - size)
            return true;
    return false;
}

int vmctl_vmm_set_region(struct vmctl_vmm *vmm, const char *name, uint64_t gpa, uint64_t size, void *hva,
                         bool log_dirty, GError **error)
{
    struct kvm_userspace_memory_region mr;
    struct vmctl_vmm_region *slot = NULL;

    if (size == 0 || size % VMCTL_VMM_PAGE || gpa % VMCTL_VMM_PAGE || (uintptr_t)hva % VMCTL_VMM_PAGE) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "memslot '%s' [0x%" G_GINT64_MODIFIER "x, +0x%" G_GINT64_MODIFIER "x) at %p is not 4K aligned",
                    name, gpa, size, hva);
        return -1;
    }
    /* Same range again: only the dirty-log flag changes. */
    for (uint32_t i = 0; i < VMCTL_VMM_MAX_SLOTS; i++) {
        struct vmctl_vmm_region *r = &vmm->regions[i];
        if (r->used && r->gpa == gpa && r->size == size && r->hva == hva) {
            slot = r;
            break;
        }
    }
    if (!slot) {
        if (!gpa_mapped(gpa, size)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "memslot '%s' [0x%" G_GINT64_MODIFIER "x, +0x%" G_GINT64_MODIFIER
                        "x) is outside the guest page tables (probe slots go in [0x%llx, +0x%llx))",
                        name, gpa, size, VMCTL_VMM_PROBE_GPA, VMCTL_VMM_PROBE_MAX);
            return -1;
        }
        for (uint32_t i = 0; i < VMCTL_VMM_MAX_SLOTS; i++) {
            struct vmctl_vmm_region *r = &vmm->regions[i];
            if (r->used && gpa < r->gpa + r->size && r->gpa < gpa + size) {
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                            "memslot '%s' [0x%" G_GINT64_MODIFIER "x, +0x%" G_GINT64_MODIFIER
                            "x) overlaps slot %u '%s' [0x%" G_GINT64_MODIFIER "x, +0x%" G_GINT64_MODIFIER "x)",
                            name, gpa, size, r->slot, r->name, r->gpa, r->size);
                return -1;
            }
        }
        for (uint32_t i = 0; i < VMCTL_VMM_MAX_SLOTS && !slot; i++)
            if (!vmm->regions[i].used)
                slot = &vmm->regions[i];
        if (!slot) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "memslot '%s': all %d slots are in use", name,
                        VMCTL_VMM_MAX_SLOTS);
            return -1;
        }
        slot->slot = (uint32_t)(slot - vmm->regions);
    }
    mr = (struct kvm_userspace_memory_region){
        .slot = slot->slot,
        .flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uintptr_t)hva,
    };
    if (ioctl(vmm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                    "KVM_SET_USER_MEMORY_REGION slot %u [0x%" G_GINT64_MODIFIER "x, +0x%" G_GINT64_MODIFIER
                    "x) failed: %s",
                    slot->slot, gpa, size, g_strerror(errno));
        return -1;
    }
    slot->used = true;
    slot->name = name;
    slot->gpa = gpa;
    slot->size = size;
    slot->hva = hva;
    slot->log_dirty = log_dirty;
    return (int)slot->slot;
}

const struct vmctl_vmm_region *vmctl_vmm_region(const struct vmctl_vmm *vmm, uint32_t slot)
{
    if (slot >= VMCTL_VMM_MAX_SLOTS || !vmm->regions[slot].used)
        return NULL;
    return &vmm->regions[slot];
}

/* GDT, TSS and identity page tables (2M pages) in the system slot. */
static void build_tables(uint8_t *sys)
{
    uint64_t *gdt = (uint64_t *)(sys + SYS_GDT);
    uint64_t *pml4 = (uint64_t *)(sys + SYS_PML4);
    uint64_t *pdpt = (uint64_t *)(sys + SYS_PDPT);
    uint64_t tss = SYS_TSS;

    gdt[1] = 0x00af9b000000ffffull; /* 0x08 kernel code, 64-bit */
    gdt[2] = 0x00cf93000000ffffull; /* 0x10 kernel data */
    gdt[5] = 0x00cff3000000ffffull; /* 0x2b user data, DPL 3 */
    gdt[6] = 0x00affb000000ffffull; /* 0x33 user code, 64-bit, DPL 3 */
    gdt[8] = 0x67ull | ((tss & 0xffffffull) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xffull) << 56);
    gdt[9] = tss >> 32;

    pml4[0] = SYS_PDPT | PTE_TABLE;
    pdpt[0] = SYS_PD_LOW | PTE_TABLE;
    pdpt[1] = SYS_PD_MAILBOX | PTE_TABLE;
    for (uint64_t g = 0; g < VMCTL_VMM_PROBE_MAX >> 30; g++)
        pdpt[(VMCTL_VMM_PROBE_GPA >> 30) + g] = (SYS_PD_PROBE + g * 0x1000) | PTE_TABLE;
    for (uint64_t i = 0; i < 512; i++) {
        uint64_t *pd_low = (uint64_t *)(sys + SYS_PD_LOW);
        uint64_t *pd_mb = (uint64_t *)(sys + SYS_PD_MAILBOX);
        pd_low[i] = (i << 21) | PTE_TABLE | PTE_PS;
        pd_mb[i] = (VMCTL_VMM_MAILBOX_GPA + (i << 21)) | PTE_TABLE | PTE_PS;
    }
    for (uint64_t g = 0; g < VMCTL_VMM_PROBE_MAX >> 30; g++) {
        uint64_t *pd = (uint64_t *)(sys + SYS_PD_PROBE + g * 0x1000);
        for (uint64_t i = 0; i < 512; i++)
            pd[i] = (VMCTL_VMM_PROBE_GPA + (g << 30) + (i << 21)) | PTE_TABLE | PTE_PS;
    }
    memcpy(sys + SYS_CODE, vmctl_vmm_guest_code, (size_t)(vmctl_vmm_guest_code_end - vmctl_vmm_guest_code));
}

static void user_seg(struct kvm_segment *s, uint16_t sel, bool code)
{
    *s = (struct kvm_segment){
        .base = 0,
        .limit = 0xffffffff,
        .selector = sel,
        .type = code ? 11 : 3, /* execute/read accessed : read/write accessed */
        .present = 1,
        .dpl = 3,
        .db = code ? 0 : 1,
        .s = 1,
        .l = code ? 1 : 0,
        .g = 1,
    };
}

static bool setup_cpuid(struct vmctl_vmm *vmm, GError **error)
{
    g_autofree struct kvm_cpuid2 *cpuid = NULL;
    int nent = 256;

    for (;;) {
        g_free(cpuid);
        cpuid = g_malloc0(sizeof(*cpuid) + (size_t)nent * sizeof(struct kvm_cpuid_entry2));
        cpuid->nent = nent;
        if (ioctl(vmm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
            break;
        if (errno != E2BIG || nent >= 4096) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_GET_SUPPORTED_CPUID failed: %s",
                        g_strerror(errno));
            return false;
        }
        nent *= 2;
    }
    if (ioctl(vmm->vcpu_fd, KVM_SET_CPUID2, cpuid) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_SET_CPUID2 (%u entries) failed: %s", cpuid->nent,
                    g_strerror(errno));
        return false;
    }
    return true;
}

static bool setup_sregs(struct vmctl_vmm *vmm, GError **error)
{
    struct kvm_sregs sr;

    if (ioctl(vmm->vcpu_fd, KVM_GET_SREGS, &sr) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_GET_SREGS failed: %s", g_strerror(errno));
        return false;
    }
    user_seg(&sr.cs, SEL_USER_CS, true);
    user_seg(&sr.ds, SEL_USER_DS, false);
    sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
    sr.tr = (struct kvm_segment){ .base = SYS_TSS, .limit = 0x67, .selector = SEL_TSS, .type = 11, .present = 1 };
    sr.ldt = (struct kvm_segment){ .type = 2, .present = 1, .unusable = 1 };
    sr.gdt.base = SYS_GDT;
    sr.gdt.limit = 10 * 8 - 1;
    sr.idt.base = 0;
    sr.idt.limit = 0;
    sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    sr.cr3 = SYS_PML4;
    sr.cr4 = CR4_PAE;
    sr.efer = EFER_LME | EFER_LMA;
    if (ioctl(vmm->vcpu_fd, KVM_SET_SREGS, &sr) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_SET_SREGS (long mode, CPL 3) failed: %s",
                    g_strerror(errno));
        return false;
    }
    return true;
}

bool vmctl_vmm_start(struct vmctl_vmm *vmm, uint64_t mailbox_bytes, uint64_t ring_bytes, GError **error)
{
    int mmap_size;

    mailbox_bytes = (mailbox_bytes + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    if (mailbox_bytes == 0)
        mailbox_bytes = 2ull << 20;
    if (mailbox_bytes > VMCTL_VMM_MAILBOX_MAX) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "mailbox of %" G_GUINT64_FORMAT " bytes is larger than the %llu byte window", mailbox_bytes,
                    VMCTL_VMM_MAILBOX_MAX);
        return false;
    }
    vmm->sys = map_anon(VMCTL_VMM_SYS_SIZE);
    vmm->mailbox = map_anon(mailbox_bytes);
    if (!vmm->sys || !vmm->mailbox) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "mmap of the system and mailbox slots failed: %s",
                    g_strerror(errno));
        return false;
    }
    vmm->mailbox_size = mailbox_bytes;
    build_tables(vmm->sys);
    if (vmctl_vmm_set_region(vmm, "system", VMCTL_VMM_SYS_GPA, VMCTL_VMM_SYS_SIZE, vmm->sys, false, error) < 0 ||
        vmctl_vmm_set_region(vmm, "mailbox", VMCTL_VMM_MAILBOX_GPA, mailbox_bytes, vmm->mailbox, false, error) < 0)
        return false;

    vmm->vcpu_fd = ioctl(vmm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vmm->vcpu_fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_CREATE_VCPU 0 failed: %s", g_strerror(errno));
        return false;
    }
    mmap_size = ioctl(vmm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size <= 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_GET_VCPU_MMAP_SIZE failed: %s", g_strerror(errno));
        return false;
    }
    vmm->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vmm->vcpu_fd, 0);
    if (vmm->run == MAP_FAILED) {
        vmm->run = NULL;
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "mmap of kvm_run failed: %s", g_strerror(errno));
        return false;
    }
    vmm->run_size = (size_t)mmap_size;
    if (ring_bytes) {
        void *ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vmm->vcpu_fd,
                          (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
        if (ring == MAP_FAILED) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "mmap of the dirty ring (%" G_GUINT64_FORMAT
                        " bytes) failed: %s", ring_bytes, g_strerror(errno));
            return false;
        }
        vmm->ring = ring;
        vmm->ring_entries = (uint32_t)(ring_bytes / sizeof(struct kvm_dirty_gfn));
    }
    /* CPUID first: KVM checks the long-mode state against it. */
    return setup_cpuid(vmm, error) && setup_sregs(vmm, error);
}

struct kvm_dirty_gfn *vmctl_vmm_ring(struct vmctl_vmm *vmm, uint32_t *entries)
{
    *entries = vmm->ring_entries;
    return vmm->ring;
}

const char *vmctl_vmm_exit_name(uint32_t reason)
{
    static const char *const names[] = {
        [KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
        [KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
        [KVM_EXIT_IO] = "KVM_EXIT_IO",
        [KVM_EXIT_HLT] = "KVM_EXIT_HLT",
        [KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
        [KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
        [KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
        [KVM_EXIT_INTR] = "KVM_EXIT_INTR",
        [KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
        [KVM_EXIT_DIRTY_RING_FULL] = "KVM_EXIT_DIRTY_RING_FULL",
    };
    if (reason < G_N_ELEMENTS(names) && names[reason])
        return names[reason];
    return "KVM_EXIT_(other)";
}

/* KVM_RUN until the guest's `out` to the exit port or a full dirty ring. */
static int run_until_exit(struct vmctl_vmm *vmm, GError **error)
{
    for (;;) {
        if (ioctl(vmm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_RUN failed: %s", g_strerror(errno));
            return -1;
        }
        switch (vmm->run->exit_reason) {
        case KVM_EXIT_IO:
            if (vmm->run->io.port == VMCTL_VMM_EXIT_PORT && vmm->run->io.direction == KVM_EXIT_IO_OUT)
                return VMCTL_VMM_DONE;
            break;
        case KVM_EXIT_DIRTY_RING_FULL:
            return VMCTL_VMM_RING_FULL;
        case KVM_EXIT_INTR:
            continue;
        default:
            break;
        }
        {
            struct kvm_regs regs = { 0 };
            ioctl(vmm->vcpu_fd, KVM_GET_REGS, &regs);
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED,
                        "guest stopped with %s (exit reason %u) at rip 0x%llx: the probe guest only exits by `out` to "
                        "port 0x%x",
                        vmctl_vmm_exit_name(vmm->run->exit_reason), vmm->run->exit_reason, regs.rip,
                        VMCTL_VMM_EXIT_PORT);
        }
        return -1;
    }
}

int vmctl_vmm_run(struct vmctl_vmm *vmm, const struct vmctl_vmm_writes *w, GError **error)
{
    struct kvm_regs regs = { .rflags = RFLAGS_GUEST, .rip = SYS_CODE, .rcx = w->count, .rbx = w->value };

    if (w->list) {
        if (w->count > vmm->mailbox_size / 8) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "page list of %" G_GUINT64_FORMAT " entries does not fit the %" G_GUINT64_FORMAT
                        " byte mailbox",
                        w->count, vmm->mailbox_size);
            return -1;
        }
        memcpy(vmm->mailbox, w->list, w->count * 8);
        regs.rax = 1;
        regs.rsi = VMCTL_VMM_MAILBOX_GPA;
    } else {
        regs.rdi = w->gpa;
        regs.rdx = w->stride;
    }
    if (w->read)
        regs.rax += 2; /* the read forms of kvm_vmm_guest.S */
    if (ioctl(vmm->vcpu_fd, KVM_SET_REGS, &regs) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "KVM_SET_REGS failed: %s", g_strerror(errno));
        return -1;
    }
    return run_until_exit(vmm, error);
}

int vmctl_vmm_resume(struct vmctl_vmm *vmm, GError **error)
{
    return run_until_exit(vmm, error);
}

/* Find pages_4k/2m/1g among the VM's binary stats descriptors once. */
static bool stats_open(struct vmctl_vmm *vmm, GError **error)
{
    size_t n;

    vmm->stats_fd = ioctl(vmm->vm_fd, KVM_GET_STATS_FD, NULL);
    if (vmm->stats_fd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "KVM_GET_STATS_FD on the VM failed: %s",
                    g_strerror(errno));
        return false;
    }
    if (pread(vmm->stats_fd, &vmm->stats_hdr, sizeof(vmm->stats_hdr), 0) != (ssize_t)sizeof(vmm->stats_hdr)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "read of the KVM stats header failed: %s",
                    g_strerror(errno));
        return false;
    }
    vmm->desc_size = sizeof(struct kvm_stats_desc) + vmm->stats_hdr.name_size;
    n = vmm->stats_hdr.num_desc;
    vmm->stats_desc = g_malloc0(n * vmm->desc_size);
    if (pread(vmm->stats_fd, vmm->stats_desc, n * vmm->desc_size, vmm->stats_hdr.desc_offset) !=
        (ssize_t)(n * vmm->desc_size)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "read of %zu KVM stats descriptors failed: %s", n,
                    g_strerror(errno));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct kvm_stats_desc *d = (const void *)((const char *)vmm->stats_desc + i * vmm->desc_size);
        int64_t off = vmm->stats_hdr.data_offset + d->offset;
        if (strcmp(d->name, "pages_4k") == 0)
            vmm->off_4k = off;
        else if (strcmp(d->name, "pages_2m") == 0)
            vmm->off_2m = off;
        else if (strcmp(d->name, "pages_1g") == 0)
            vmm->off_1g = off;
    }
    if (vmm->off_4k < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "KVM VM stats have no 'pages_4k'");
        return false;
    }
    return true;
}

static uint64_t stat_at(int fd, int64_t off)
{
    uint64_t v = 0;
    if (off < 0 || pread(fd, &v, sizeof(v), off) != (ssize_t)sizeof(v))
        return 0;
    return v;
}

bool vmctl_vmm_read_stats(struct vmctl_vmm *vmm, struct vmctl_vmm_stats *out, GError **error)
{
    *out = (struct vmctl_vmm_stats){ 0 };
    if (vmm->stats_fd < 0 && !stats_open(vmm, error))
        return false;
    out->available = true;
    out->pages_4k = stat_at(vmm->stats_fd, vmm->off_4k);
    out->pages_2m = stat_at(vmm->stats_fd, vmm->off_2m);
    out->pages_1g = stat_at(vmm->stats_fd, vmm->off_1g);
    return true;
}

json_object *vmctl_vmm_stats_to_json(const struct vmctl_vmm_stats *st)
{
    json_object *o = json_object_new_object();

    vmctl_json_add_bool(o, "available", st->available);
    if (st->available) {
        vmctl_json_add_u64(o, "pages_4k", st->pages_4k);
        vmctl_json_add_u64(o, "pages_2m", st->pages_2m);
        vmctl_json_add_u64(o, "pages_1g", st->pages_1g);
    }
    return o;
}
