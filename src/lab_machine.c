/* lab_machine.c: what a lab's L1 is, as pure functions where it can be:
 * the accelerator choice and why, L1's QEMU argv (golden-tested in
 * tests/unit/test-lab.c) and the job file lab/init sources. */
#include "config.h"

#include "lab.h"

#include "qemu_cmdline.h"

#include <string.h>

const char *vmctl_lab_accel_name(VmctlLabAccel a)
{
    switch (a) {
    case VMCTL_LAB_ACCEL_TCG:
        return "tcg";
    case VMCTL_LAB_ACCEL_KVM:
        return "kvm";
    default:
        return "auto";
    }
}

bool vmctl_lab_accel_parse(const char *s, VmctlLabAccel *out, GError **error)
{
    if (g_strcmp0(s, "auto") == 0)
        *out = VMCTL_LAB_ACCEL_AUTO;
    else if (g_strcmp0(s, "tcg") == 0)
        *out = VMCTL_LAB_ACCEL_TCG;
    else if (g_strcmp0(s, "kvm") == 0)
        *out = VMCTL_LAB_ACCEL_KVM;
    else {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "lab accel '%s' must be auto, tcg or kvm", s);
        return false;
    }
    return true;
}

void vmctl_lab_host_probe(VmctlLabHost *host)
{
    static const char *const mods[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
    VmctlAccelHost ah;

    vmctl_accel_host_probe(&ah);
    memset(host, 0, sizeof(*host));
    host->kvm_usable = ah.kvm_usable;
    host->kvm_pvm = ah.kvm_pvm;
    for (size_t i = 0; i < G_N_ELEMENTS(mods); i++) {
        g_autofree char *dir = g_strdup_printf("/sys/module/%s", mods[i]);
        g_autofree char *p = g_strdup_printf("/sys/module/%s/parameters/nested", mods[i]);
        g_autofree char *v = NULL;

        if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
            continue;
        host->kvm_module = mods[i];
        v = vmctl_read_file_trimmed(p, NULL);
        if (v && (strcmp(v, "1") == 0 || strcmp(v, "Y") == 0))
            host->nested = true;
    }
}

bool vmctl_lab_accel_choose(VmctlLabAccel want, const VmctlLabHost *host, VmctlLabAccel *accel,
                            const char **reason, GError **error)
{
    const char *why_not = NULL;

    if (!host->kvm_usable)
        why_not = "no usable /dev/kvm";
    else if (host->kvm_pvm)
        why_not = "the host's KVM is paravirtual (kvm_pvm): it runs only 64-bit ring-3 code natively and offers "
                  "no SVM/VMX to a guest";
    else if (!host->nested)
        why_not = "the host's KVM has nested virtualization off (nested=0)";

    switch (want) {
    case VMCTL_LAB_ACCEL_TCG:
        *accel = VMCTL_LAB_ACCEL_TCG;
        *reason = "asked for tcg";
        return true;
    case VMCTL_LAB_ACCEL_KVM:
        if (why_not) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                        "lab accel 'kvm' needs a KVM with nested virtualization: %s", why_not);
            return false;
        }
        *accel = VMCTL_LAB_ACCEL_KVM;
        *reason = "asked for kvm";
        return true;
    default:
        break;
    }
    if (why_not) {
        *accel = VMCTL_LAB_ACCEL_TCG;
        *reason = host->kvm_pvm ? "TCG with an emulated AMD CPU with SVM and NPT: the host's KVM is paravirtual "
                                  "(kvm_pvm), it offers no nested virtualization"
                  : !host->kvm_usable ? "TCG with an emulated AMD CPU with SVM and NPT: no usable /dev/kvm"
                                      : "TCG with an emulated AMD CPU with SVM and NPT: the host's KVM has nested "
                                        "virtualization off";
    } else {
        *accel = VMCTL_LAB_ACCEL_KVM;
        *reason = "KVM with nested virtualization (the host's KVM has nested=1)";
    }
    return true;
}

#define add vmctl_argv_add
#define addf vmctl_argv_addf

GStrv vmctl_lab_qemu_argv(const VmctlLabMachine *m)
{
    GPtrArray *a = g_ptr_array_new();
    g_autoptr(GString) kinds = g_string_new(NULL);
    g_autofree char *vfs = vmctl_qemu_opt_escape(m->virtiofs_socket);
    uint64_t mib = m->memory / MiB;
    const int fds[3] = { m->console_fd, m->out_fd, m->err_fd };

    if (m->accel == VMCTL_LAB_ACCEL_KVM) {
        add(a, "-accel");
        add(a, "kvm");
        add(a, "-cpu");
        add(a, "host");
    } else {
        /* single-threaded TCG: under multi-threaded TCG, L1's kernel
         * patching its own text (int3 and IPIs, each time KVM flips a static
         * key as VMs come and go) raced with the other vCPU's translated
         * code, and a lab stalled, one vCPU in exc_int3 and the other
         * spinning on a lock, in about one of 30 validate runs; single-
         * threaded TCG boots and runs the checks as fast here. EPYC brings
         * SVM with NPT, which L1's kvm_amd needs for nested paging. */
        add(a, "-accel");
        add(a, "tcg,thread=single");
        add(a, "-cpu");
        add(a, "EPYC,+svm,+npt");
    }
    add(a, "-nodefaults");
    add(a, "-no-user-config");
    add(a, "-display");
    add(a, "none");
    add(a, "-no-reboot");
    add(a, "-smp");
    addf(a, "%u", m->cpus);
    add(a, "-machine");
    add(a, m->n_nvdimms ? "pc,nvdimm=on,memory-backend=ram" : "pc,memory-backend=ram");
    add(a, "-m");
    if (m->n_nvdimms)
        addf(a, "%" G_GUINT64_FORMAT "M,slots=%u,maxmem=%" G_GUINT64_FORMAT "M", mib, m->n_nvdimms,
             mib + m->n_nvdimms * (m->nvdimm_size / MiB));
    else
        addf(a, "%" G_GUINT64_FORMAT "M", mib);
    /* vhost-user (virtiofs) needs guest RAM that virtiofsd can map */
    add(a, "-object");
    addf(a, "memory-backend-memfd,id=ram,size=%" G_GUINT64_FORMAT "M,share=on", mib);
    for (unsigned i = 0; i < m->n_nvdimms; i++) {
        g_autofree char *p = vmctl_qemu_opt_escape(m->nvdimm_paths[i]);
        add(a, "-object");
        addf(a, "memory-backend-file,id=nv%u,mem-path=%s,size=%" G_GUINT64_FORMAT "M,share=on", i, p,
             m->nvdimm_size / MiB);
        add(a, "-device");
        addf(a, "nvdimm,id=nvdimm%u,memdev=nv%u", i, i);
        g_string_append_printf(kinds, "%s%s", i ? "," : "", m->nvdimm_kinds[i]);
    }
    add(a, "-chardev");
    addf(a, "socket,id=vfs,path=%s", vfs);
    add(a, "-device");
    add(a, "vhost-user-fs-pci,chardev=vfs,tag=hostroot");
    if (m->monitor_socket) {
        g_autofree char *mon = vmctl_qemu_opt_escape(m->monitor_socket);
        add(a, "-chardev");
        addf(a, "socket,id=mon,path=%s,server=on,wait=off", mon);
        add(a, "-mon");
        add(a, "chardev=mon,mode=readline");
    }
    add(a, "-kernel");
    add(a, m->kernel);
    add(a, "-initrd");
    add(a, m->initrd);
    /* tsc=reliable: no clocksource watchdog, whose TSC checks raced with
     * the kernel patching its own text under multi-threaded TCG (an int3
     * oops seen in one boot of many) */
    add(a, "-append");
    addf(a,
         "console=ttyS0 panic=-1 loglevel=4 no_timer_check tsc=reliable hugepages=%u vmctl.lab.nvdimms=%s "
         "vmctl.lab.tag=hostroot vmctl.lab.job=%s",
         m->hugepages, kinds->len ? kinds->str : "none", m->job);
    /* ttyS0: console, ttyS1: the command's stdout, ttyS2: its stderr */
    for (unsigned i = 0; i < 3; i++) {
        add(a, "-chardev");
        addf(a, "socket,id=tty%u,fd=%d", i, fds[i]);
        add(a, "-device");
        addf(a, "isa-serial,chardev=tty%u,index=%u", i, i);
    }
    g_ptr_array_add(a, NULL);
    return (GStrv)g_ptr_array_free(a, FALSE);
}

static bool sh_name(const char *s, size_t n)
{
    if (n == 0 || !(g_ascii_isalpha(s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(g_ascii_isalnum(s[i]) || s[i] == '_'))
            return false;
    return true;
}

char *vmctl_lab_job_text(char *const *argv, const char *cwd, char *const *envp, bool interactive)
{
    /* set by lab/init or meaningless inside L1 */
    static const char *const skip[] = { "PWD", "OLDPWD", "SHLVL", "_", "PATH_LAB_INIT" };
    GString *s = g_string_new("# vmctl lab job: sourced by lab/init's stage 2\n");

    for (char *const *e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        g_autofree char *name = NULL, *q = NULL;
        bool skipped = false;

        if (!eq || !sh_name(*e, eq - *e))
            continue;
        name = g_strndup(*e, eq - *e);
        for (size_t i = 0; i < G_N_ELEMENTS(skip); i++)
            skipped |= strcmp(name, skip[i]) == 0;
        if (skipped)
            continue;
        q = g_shell_quote(eq + 1);
        g_string_append_printf(s, "export %s=%s\n", name, q);
    }
    g_string_append(s, "set --");
    for (char *const *a = argv; *a; a++) {
        g_autofree char *q = g_shell_quote(*a);
        g_string_append_printf(s, " %s", q);
    }
    {
        g_autofree char *q = g_shell_quote(cwd);
        g_autofree char *msg = g_strdup_printf("vmctl lab: working directory '%s' does not exist in the lab", cwd);
        g_autofree char *qmsg = g_shell_quote(msg);
        /* PID 1 sources this: never `exit` here */
        g_string_append_printf(s, "\ncd %s || set -- sh -c 'echo \"$1\" >&2; exit 126' sh %s", q, qmsg);
    }
    g_string_append_printf(s, "\nLAB_INTERACTIVE=%d\n", interactive ? 1 : 0);
    return g_string_free(s, FALSE);
}

