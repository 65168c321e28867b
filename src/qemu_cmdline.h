/* qemu_cmdline.h: the QEMU command line of a vmctl guest, a pure function
 * of its spec, the resolved accelerator, the memory-backend objects
 * (from pmem_backend) and the paths of its run directory. Golden files in
 * tests/data/cmdline check it, one argument per line. Also the choice of
 * accelerator for --accel auto, from host facts given as input. */
#pragma once

#include <json-c/json.h>

#include "guest_spec.h"
#include "util.h"

/* The Linux guest's kernel command line before the spec's extra part;
 * qemu_cmdline.c says why each word is there. */
#define LINUX_BASE_CMDLINE "console=ttyS0 panic=-1 loglevel=3 no_timer_check pti=on"

typedef struct {
    const char *qemu;         /* binary */
    const char *run_dir;      /* qmp.sock, serial.sock, console.log, qemu.pid */
    const char *tiny_bios;    /* guest-tests/tiny/tiny.bin */
    const char *linux_kernel; /* guest-tests/linux/vmlinuz */
    const char *linux_initrd; /* guest-tests/linux/initramfs*.cpio.zst */
} VmctlQemuPaths;

/* Memory-backend objects in the -object JSON form: RAM first ("ram0"), then
 * one per NVDIMM ("nv0"...), then one per virtio-pmem ("vp0"...), in spec
 * order. */
typedef struct {
    json_object *ram;
    GPtrArray *nvdimm;      /* json_object* */
    GPtrArray *virtio_pmem; /* json_object* */
} VmctlQemuMemory;

/* What decides --accel auto. */
typedef struct {
    bool kvm_usable; /* /dev/kvm opens read-write and a VM can be created */
    bool kvm_pvm;    /* paravirtual KVM (kvm_pvm): only 64-bit ring 3 runs natively */
} VmctlAccelHost;

void vmctl_accel_host_probe(VmctlAccelHost *host);

/* Resolve spec->accel to KVM or TCG; `reason` (static string) says why.
 * An explicit kvm without a usable KVM is an error. */
bool vmctl_accel_choose(const VmctlGuestSpec *spec, const VmctlAccelHost *host, VmctlAccel *accel,
                        const char **reason, GError **error);

/* The argv (NULL-terminated). `accel` must be KVM or TCG. */
GStrv vmctl_qemu_cmdline(const VmctlGuestSpec *spec, VmctlAccel accel, const VmctlQemuMemory *mem,
                         const VmctlQemuPaths *paths, GError **error);

/* Building an argv: one argument, a formatted one; a value inside a QEMU
 * option string with its commas doubled (new string). */
void vmctl_argv_add(GPtrArray *argv, const char *a);
void vmctl_argv_addf(GPtrArray *argv, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
char *vmctl_qemu_opt_escape(const char *s);

/* The files of a guest's run directory (new strings). */
char *vmctl_qemu_run_file(const char *run_dir, const char *what);

/* A migration destination's argv: `argv` plus "-incoming defer -S" (QEMU
 * waits for QMP migrate-incoming and stays paused once the state is in).
 * A new argv. */
GStrv vmctl_qemu_cmdline_incoming(const char *const *argv);
