/* lab.h: a vmctl lab, a Linux VM ("L1") that gives vmctl a real KVM on real
 * DAX pages on any x86 host. L1 runs under TCG with an emulated AMD CPU
 * with SVM (or under KVM where the host offers nested virtualization),
 * turns emulated NVDIMMs into device-dax and fsdax, and runs the host's
 * own userland (the host's root, read-only through virtiofs, under a tmpfs
 * overlay), so a command inside runs exactly the code under test.
 *
 * The boot image (kernel + initramfs with lab/init) comes from
 * lab/mkimage.sh. The command's stdout and stderr come back on two serial
 * ports; the console carries the kernel's lines and lab/init's status
 * lines ("LAB READY", "LAB EXIT rc=N", ...). Library code: never prints;
 * the caller gives the file descriptors that output goes to. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

typedef enum {
    VMCTL_LAB_ACCEL_AUTO,
    VMCTL_LAB_ACCEL_TCG,
    VMCTL_LAB_ACCEL_KVM,
} VmctlLabAccel;

const char *vmctl_lab_accel_name(VmctlLabAccel a);
bool vmctl_lab_accel_parse(const char *s, VmctlLabAccel *out, GError **error);

/* What the host offers a lab. */
typedef struct {
    bool kvm_usable; /* /dev/kvm opens and KVM_CREATE_VM works */
    bool kvm_pvm;    /* the paravirtual KVM (kvm_pvm): no nested SVM/VMX */
    bool nested;     /* kvm_intel or kvm_amd with nested=1/Y */
    const char *kvm_module; /* "kvm_intel", "kvm_amd", "kvm_pvm" or NULL */
} VmctlLabHost;

void vmctl_lab_host_probe(VmctlLabHost *host);

/* Resolve `want` to TCG or KVM for L1; `reason` (static) says why. An
 * explicit kvm on a host that cannot run L1's own KVM is an error. */
bool vmctl_lab_accel_choose(VmctlLabAccel want, const VmctlLabHost *host, VmctlLabAccel *accel,
                            const char **reason, GError **error);

#define VMCTL_LAB_MAX_NVDIMMS 4

/* Everything L1's QEMU argv depends on: a pure function of this. */
typedef struct {
    VmctlLabAccel accel;       /* TCG or KVM */
    uint64_t memory;           /* bytes of ordinary RAM */
    unsigned cpus;
    unsigned hugepages;        /* 2M pages reserved at boot (hugetlbfs pool) */
    uint64_t nvdimm_size;      /* bytes, each NVDIMM */
    unsigned n_nvdimms;
    const char *nvdimm_kinds[VMCTL_LAB_MAX_NVDIMMS]; /* "devdax", "fsdax", "raw" */
    const char *nvdimm_paths[VMCTL_LAB_MAX_NVDIMMS]; /* backing files on the host */
    const char *kernel;        /* image files */
    const char *initrd;
    const char *virtiofs_socket; /* virtiofsd's vhost-user socket */
    const char *monitor_socket;  /* QEMU's human monitor, for looking at a lab that stalls */
    const char *job;           /* the job file (lab/init sources it) */
    int console_fd, out_fd, err_fd; /* connected sockets as QEMU sees them */
} VmctlLabMachine;

/* L1's QEMU argv (without the binary). */
GStrv vmctl_lab_qemu_argv(const VmctlLabMachine *m);

/* The job file: environment, working directory and argv for lab/init's
 * stage 2, as sh text. Variables whose names sh cannot take are left out. */
char *vmctl_lab_job_text(char *const *argv, const char *cwd, char *const *envp, bool interactive);

/* A lab's settings from the command line. */
typedef struct {
    const char *kernel; /* NAME, FILE.deb, DIR or "host" (NULL: bookworm) */
    VmctlLabAccel accel;
    uint64_t memory;
    unsigned cpus;
    unsigned hugepages;
    uint64_t nvdimm_size;
    bool interactive;   /* a shell: stdin goes in, stdout and stderr are one */
} VmctlLabOptions;

void vmctl_lab_options_default(VmctlLabOptions *o);

/* The boot image of `kernel`: runs lab/mkimage.sh (downloads and builds
 * once, then cached); its progress lines go to `progress` (may be NULL).
 * Returns the image directory. */
char *vmctl_lab_image(const char *kernel, void (*progress)(const char *line, void *data), void *data,
                      GError **error);

typedef struct VmctlLab VmctlLab;

/* Start virtiofsd and L1 for `argv` run in `cwd` with `envp`. */
VmctlLab *vmctl_lab_start(const VmctlLabOptions *o, const char *image_dir, char *const *argv, const char *cwd,
                          char *const *envp, GError **error);

/* Pump the lab until L1 is gone: the command's stdout to out_fd, its
 * stderr to err_fd, console lines to the lab's log; in_fd (or -1) feeds an
 * interactive command. cancel_fd (or -1): readable means stop now (e.g. a
 * signalfd). timeout_s 0: none. On success *status is the command's exit
 * status. A lab that ends without one, times out or is cancelled is an
 * error naming what happened and the last console lines. */
bool vmctl_lab_wait(VmctlLab *lab, int in_fd, int out_fd, int err_fd, int cancel_fd, unsigned timeout_s,
                    int *status, GError **error);

/* Start and pump a lab (vmctl_lab_start + vmctl_lab_wait); a lab whose
 * boot hung (no LAB READY within VMCTL_LAB_BOOT_TIMEOUT, 240 s) ran
 * nothing and is booted once more. *lab_out (may be NULL) gets the lab
 * that ran, for vmctl_lab_to_json and vmctl_lab_free. */
bool vmctl_lab_run(const VmctlLabOptions *o, const char *image_dir, char *const *argv, const char *cwd,
                   char *const *envp, int in_fd, int out_fd, int err_fd, int cancel_fd, unsigned timeout_s,
                   int *status, VmctlLab **lab_out, GError **error);

/* What the lab was: kernel, release, accelerator and why, boot time,
 * NVDIMM setup lines, KVM module, exit status. */
json_object *vmctl_lab_to_json(const VmctlLab *lab);

/* Kill what still runs (by pid), remove the lab's files. */
void vmctl_lab_free(VmctlLab *lab);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctlLab, vmctl_lab_free)

/* Facts of the machine this runs on, as a lab reports them from inside:
 * host facts (kernel, KVM, DAMON, page_idle...) and the DAX backings. */
json_object *vmctl_lab_facts(void);

/* True inside a lab (lab/init's stage 2 made /run/vmctl-lab). */
bool vmctl_lab_inside(void);

/* Boot a lab for argv (run in `cwd`, with this process's environment) and
 * collect the command's stdout and stderr whole: the image, start, pump
 * and teardown in one call (cancel_fd and timeout_s as for
 * vmctl_lab_wait). On success *status is the command's exit status. *out,
 * *err and *lab_json (vmctl_lab_to_json) are set whenever a lab started,
 * also when it then failed. */
bool vmctl_lab_run_capture(const VmctlLabOptions *o, char *const *argv, const char *cwd, int cancel_fd,
                           unsigned timeout_s, void (*progress)(const char *line, void *data), void *data,
                           char **out, char **err, int *status, json_object **lab_json, GError **error);

/* A whole file descriptor's contents from its start (memfd, file). */
char *vmctl_lab_read_fd(int fd);
