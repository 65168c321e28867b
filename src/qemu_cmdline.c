/* qemu_cmdline.c: build a guest's QEMU argv. QEMU daemonizes itself
 * (-daemonize) so that a guest never depends on vmctld staying alive: the
 * launcher learns success or QEMU's error from the parent's exit status,
 * and the guest is then found through its pidfile, QMP socket and serial
 * socket in the run directory. */
#include "config.h"

#include "qemu_cmdline.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Why the Linux guest boots with pti=on: QEMU 7.2's TCG live migration
 * loses pages a busy guest dirties; page-table isolation avoided it in most
 * runs measured (not all: one run under heavy host load lost 5 pages, which
 * the verification caught). A spec may override it in its extra command
 * line (pti=off comes later and wins).
 * no_timer_check: on a loaded host the kernel otherwise panics with
 * "IO-APIC + timer doesn't work" under TCG. */
/* (LINUX_BASE_CMDLINE is in qemu_cmdline.h: the libvirt XML uses it too) */

char *vmctl_qemu_run_file(const char *run_dir, const char *what)
{
    return g_build_filename(run_dir, what, NULL);
}

void vmctl_accel_host_probe(VmctlAccelHost *host)
{
    int fd = vmctl_kvm_open();

    memset(host, 0, sizeof(*host));
    if (fd >= 0) {
        int vm = ioctl(fd, KVM_CREATE_VM, 0);
        host->kvm_usable = vm >= 0;
        if (vm >= 0)
            close(vm);
        close(fd);
    }
    host->kvm_pvm = g_file_test("/sys/module/kvm_pvm", G_FILE_TEST_IS_DIR);
}

bool vmctl_accel_choose(const VmctlGuestSpec *spec, const VmctlAccelHost *host, VmctlAccel *accel,
                        const char **reason, GError **error)
{
    switch (spec->accel) {
    case VMCTL_ACCEL_KVM:
        if (!host->kvm_usable) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                        "accel 'kvm' of guest '%s' needs a usable /dev/kvm", spec->name);
            return false;
        }
        *accel = VMCTL_ACCEL_KVM;
        *reason = "asked for kvm";
        return true;
    case VMCTL_ACCEL_TCG:
        *accel = VMCTL_ACCEL_TCG;
        *reason = "asked for tcg";
        return true;
    case VMCTL_ACCEL_AUTO:
        break;
    }
    if (!host->kvm_usable) {
        *accel = VMCTL_ACCEL_TCG;
        *reason = "no usable /dev/kvm";
    } else if (spec->kind == VMCTL_GUEST_LINUX && host->kvm_pvm) {
        *accel = VMCTL_ACCEL_TCG;
        *reason = "paravirtual KVM (kvm_pvm) runs only 64-bit ring-3 code natively; a Linux kernel runs faster under TCG";
    } else if (spec->kind == VMCTL_GUEST_TINY) {
        *accel = VMCTL_ACCEL_KVM;
        *reason = "the tiny guest runs its workload in 64-bit ring 3, native under KVM";
    } else {
        *accel = VMCTL_ACCEL_KVM;
        *reason = "hardware KVM runs the Linux guest natively";
    }
    return true;
}

void vmctl_argv_add(GPtrArray *argv, const char *a)
{
    g_ptr_array_add(argv, g_strdup(a));
}

void vmctl_argv_addf(GPtrArray *argv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(argv, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

char *vmctl_qemu_opt_escape(const char *s)
{
    GString *out = g_string_new(NULL);

    for (; *s; s++) {
        if (*s == ',')
            g_string_append_c(out, ',');
        g_string_append_c(out, *s);
    }
    return g_string_free(out, FALSE);
}

#define add vmctl_argv_add
#define addf vmctl_argv_addf
#define qemu_opt_escape vmctl_qemu_opt_escape

static void add_object(GPtrArray *argv, json_object *obj, bool merge)
{
    g_autoptr(json_object) copy = NULL;

    json_object_deep_copy(obj, &copy, NULL);
    if (!merge)
        json_object_object_add(copy, "merge", json_object_new_boolean(false));
    add(argv, "-object");
    add(argv, json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *obj_id(json_object *o)
{
    return json_object_get_string(json_object_object_get(o, "id"));
}

GStrv vmctl_qemu_cmdline(const VmctlGuestSpec *spec, VmctlAccel accel, const VmctlQemuMemory *mem,
                         const VmctlQemuPaths *paths, GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *qmp = vmctl_qemu_run_file(paths->run_dir, "qmp.sock");
    g_autofree char *serial = vmctl_qemu_run_file(paths->run_dir, "serial.sock");
    g_autofree char *console = vmctl_qemu_run_file(paths->run_dir, "console.log");
    g_autofree char *pidfile = vmctl_qemu_run_file(paths->run_dir, "qemu.pid");
    guint ndev = spec->nvdimm->len + spec->virtio_pmem->len;
    uint64_t devbytes = 0;
    GString *machine;

    if (accel != VMCTL_ACCEL_KVM && accel != VMCTL_ACCEL_TCG) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "accelerator of guest '%s' is not resolved", spec->name);
        return NULL;
    }
    if (!mem->ram || (mem->nvdimm ? mem->nvdimm->len : 0) != spec->nvdimm->len ||
        (mem->virtio_pmem ? mem->virtio_pmem->len : 0) != spec->virtio_pmem->len) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "memory objects of guest '%s' do not match its devices", spec->name);
        return NULL;
    }

    add(argv, paths->qemu);
    add(argv, "-name");
    addf(argv, "guest=%s", spec->name);
    add(argv, "-no-user-config");
    add(argv, "-nodefaults");
    add(argv, "-display");
    add(argv, "none");
    add(argv, "-accel");
    if (accel == VMCTL_ACCEL_KVM && spec->dirty_ring)
        addf(argv, "kvm,dirty-ring-size=%u", spec->dirty_ring);
    else
        add(argv, accel == VMCTL_ACCEL_KVM ? "kvm" : "tcg");
    add(argv, "-cpu");
    /* "host" fails on paravirtual KVM (MSR 0x10a); qemu64 without pni runs
     * on every KVM and under TCG */
    add(argv, accel == VMCTL_ACCEL_KVM ? "qemu64,-pni" : "qemu64");
    add(argv, "-smp");
    addf(argv, "%u", spec->vcpus);

    for (guint i = 0; i < spec->nvdimm->len; i++)
        devbytes += g_array_index(spec->nvdimm, VmctlGuestDevice, i).size;
    for (guint i = 0; i < spec->virtio_pmem->len; i++)
        devbytes += g_array_index(spec->virtio_pmem, VmctlGuestDevice, i).size;
    add(argv, "-m");
    if (ndev)
        addf(argv, "size=%" G_GUINT64_FORMAT "k,slots=%u,maxmem=%" G_GUINT64_FORMAT "k", spec->memory / 1024, ndev,
             (spec->memory + devbytes) / 1024);
    else
        addf(argv, "size=%" G_GUINT64_FORMAT "k", spec->memory / 1024);
    add_object(argv, mem->ram, spec->mem_merge);
    machine = g_string_new("pc");
    g_string_append_printf(machine, ",memory-backend=%s", obj_id(mem->ram));
    if (spec->nvdimm->len)
        g_string_append(machine, ",nvdimm=on");
    add(argv, "-machine");
    g_ptr_array_add(argv, g_string_free(machine, FALSE));

    for (guint i = 0; i < spec->nvdimm->len; i++) {
        json_object *o = mem->nvdimm->pdata[i];
        add_object(argv, o, spec->mem_merge);
        add(argv, "-device");
        addf(argv, "nvdimm,id=nvdimm%u,memdev=%s", i, obj_id(o));
    }
    for (guint i = 0; i < spec->virtio_pmem->len; i++) {
        json_object *o = mem->virtio_pmem->pdata[i];
        add_object(argv, o, spec->mem_merge);
        add(argv, "-device");
        addf(argv, "virtio-pmem-pci,id=vpmem%u,memdev=%s", i, obj_id(o));
    }

    if (spec->kind == VMCTL_GUEST_TINY) {
        GString *params = g_string_new(NULL);
        g_autofree char *esc = NULL;

        g_string_append_printf(params, "rate=%" G_GUINT64_FORMAT " seed=%" G_GUINT64_FORMAT " same=%u",
                               spec->tiny.rate, spec->tiny.seed, spec->tiny.same);
        if (spec->tiny.ws)
            g_string_append_printf(params, " ws=%" G_GUINT64_FORMAT, spec->tiny.ws);
        esc = qemu_opt_escape(params->str);
        g_string_free(params, TRUE);
        add(argv, "-bios");
        add(argv, paths->tiny_bios);
        add(argv, "-fw_cfg");
        addf(argv, "name=opt/vmctl/tiny,string=%s", esc);
    } else {
        add(argv, "-kernel");
        add(argv, paths->linux_kernel);
        add(argv, "-initrd");
        add(argv, paths->linux_initrd);
        add(argv, "-append");
        if (spec->linux_guest.cmdline && *spec->linux_guest.cmdline)
            addf(argv, "%s %s", LINUX_BASE_CMDLINE, spec->linux_guest.cmdline);
        else
            add(argv, LINUX_BASE_CMDLINE);
    }

    /* serial: a socket for the console command, and QEMU's own log of
     * everything the guest prints, kept while nobody is connected */
    add(argv, "-chardev");
    {
        g_autofree char *s = qemu_opt_escape(serial);
        g_autofree char *l = qemu_opt_escape(console);
        addf(argv, "socket,id=serial0,path=%s,server=on,wait=off,logfile=%s,logappend=on", s, l);
    }
    add(argv, "-serial");
    add(argv, "chardev:serial0");
    add(argv, "-chardev");
    {
        g_autofree char *q = qemu_opt_escape(qmp);
        addf(argv, "socket,id=qmp0,path=%s,server=on,wait=off", q);
    }
    add(argv, "-mon");
    add(argv, "chardev=qmp0,mode=control");
    add(argv, "-pidfile");
    add(argv, pidfile);
    add(argv, "-daemonize");
    g_ptr_array_add(argv, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&argv), FALSE);
}

GStrv vmctl_qemu_cmdline_incoming(const char *const *argv)
{
    GPtrArray *out = g_ptr_array_new();

    for (size_t i = 0; argv[i]; i++)
        g_ptr_array_add(out, g_strdup(argv[i]));
    g_ptr_array_add(out, g_strdup("-incoming"));
    g_ptr_array_add(out, g_strdup("defer"));
    g_ptr_array_add(out, g_strdup("-S"));
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(out, FALSE);
}
