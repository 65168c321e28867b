/* test-lab.c: the lab's pure parts. L1's QEMU argv against golden files
 * (tests/data/lab/CASE.args, one argument per line; VMCTL_REGENERATE=1
 * rewrites them outside CI), the accelerator choice on every kind of host,
 * and the job file, which a real sh must read back into the same argv,
 * directory and environment whatever the bytes. */
#include "config.h"

#include "lab.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include "test-golden.h"

static void machine(VmctlLabMachine *m, VmctlLabAccel accel)
{
    static const char *const paths[] = { "/dev/fd/6", "/dev/fd/7", "/dev/fd/8" };
    static const char *const kinds[] = { "devdax", "fsdax", "devdax" };

    memset(m, 0, sizeof(*m));
    m->accel = accel;
    m->memory = 2 * GiB;
    m->cpus = 2;
    m->hugepages = 128;
    m->nvdimm_size = 512 * MiB;
    m->n_nvdimms = 3;
    for (int i = 0; i < 3; i++) {
        m->nvdimm_paths[i] = paths[i];
        m->nvdimm_kinds[i] = kinds[i];
    }
    m->kernel = "/var/cache/vmctl/lab/images/bookworm/vmlinuz";
    m->initrd = "/var/cache/vmctl/lab/images/bookworm/initramfs.cpio.zst";
    m->virtiofs_socket = "/tmp/vmctl-lab-X,Y/virtiofs.sock"; /* a comma QEMU must see doubled */
    m->job = "/tmp/vmctl-lab-X,Y/job";
    m->console_fd = 3;
    m->out_fd = 4;
    m->err_fd = 5;
}

static void check_golden(const char *name, const VmctlLabMachine *m)
{
    g_auto(GStrv) argv = vmctl_lab_qemu_argv(m);
    g_autofree char *joined = g_strjoinv("\n", argv);
    g_autofree char *text = g_strconcat(joined, "\n", NULL);
    g_autofree char *golden = g_test_build_filename(G_TEST_DIST, "data", "lab", name, NULL);
    g_autofree char *want = NULL;

    if (vmctl_test_regenerate()) {
        g_assert_true(g_file_set_contents(golden, text, -1, NULL));
        return;
    }
    g_assert_true(g_file_get_contents(golden, &want, NULL, NULL));
    g_assert_cmpstr(text, ==, want);
}

static void test_argv_tcg(void)
{
    VmctlLabMachine m;

    machine(&m, VMCTL_LAB_ACCEL_TCG);
    check_golden("tcg.args", &m);
}

static void test_argv_kvm(void)
{
    VmctlLabMachine m;

    machine(&m, VMCTL_LAB_ACCEL_KVM);
    m.memory = 4 * GiB;
    m.cpus = 4;
    m.hugepages = 0;
    check_golden("kvm-nested.args", &m);
}

static void test_argv_no_nvdimm(void)
{
    VmctlLabMachine m;
    g_auto(GStrv) argv = NULL;
    g_autofree char *joined = NULL;

    machine(&m, VMCTL_LAB_ACCEL_TCG);
    m.n_nvdimms = 0;
    argv = vmctl_lab_qemu_argv(&m);
    joined = g_strjoinv(" ", argv);
    g_assert_null(strstr(joined, "-device nvdimm"));
    g_assert_null(strstr(joined, "nvdimm=on"));
    g_assert_nonnull(strstr(joined, "vmctl.lab.nvdimms=none"));
    g_assert_nonnull(strstr(joined, "-m 2048M "));
}

static void test_accel(void)
{
    static const struct {
        VmctlLabHost host;
        VmctlLabAccel want, got; /* got AUTO: an error */
        const char *reason_has;
    } cases[] = {
        { { false, false, false, NULL }, VMCTL_LAB_ACCEL_AUTO, VMCTL_LAB_ACCEL_TCG, "no usable /dev/kvm" },
        { { true, true, false, "kvm_pvm" }, VMCTL_LAB_ACCEL_AUTO, VMCTL_LAB_ACCEL_TCG, "paravirtual" },
        { { true, false, false, "kvm_intel" }, VMCTL_LAB_ACCEL_AUTO, VMCTL_LAB_ACCEL_TCG, "nested" },
        { { true, false, true, "kvm_amd" }, VMCTL_LAB_ACCEL_AUTO, VMCTL_LAB_ACCEL_KVM, "nested=1" },
        { { true, false, true, "kvm_amd" }, VMCTL_LAB_ACCEL_TCG, VMCTL_LAB_ACCEL_TCG, "asked for tcg" },
        { { true, false, true, "kvm_amd" }, VMCTL_LAB_ACCEL_KVM, VMCTL_LAB_ACCEL_KVM, "asked for kvm" },
        { { true, true, false, "kvm_pvm" }, VMCTL_LAB_ACCEL_KVM, VMCTL_LAB_ACCEL_AUTO, "paravirtual" },
        { { false, false, false, NULL }, VMCTL_LAB_ACCEL_KVM, VMCTL_LAB_ACCEL_AUTO, "no usable /dev/kvm" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        VmctlLabAccel got = VMCTL_LAB_ACCEL_AUTO;
        const char *reason = NULL;
        bool ok = vmctl_lab_accel_choose(cases[i].want, &cases[i].host, &got, &reason, &err);

        if (cases[i].got == VMCTL_LAB_ACCEL_AUTO) {
            g_assert_false(ok);
            g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED);
            g_assert_nonnull(strstr(err->message, cases[i].reason_has));
        } else {
            g_assert_true(ok);
            g_assert_cmpint(got, ==, cases[i].got);
            g_assert_nonnull(strstr(reason, cases[i].reason_has));
        }
    }
}

static void test_accel_parse(void)
{
    g_autoptr(GError) err = NULL;
    VmctlLabAccel a;

    g_assert_true(vmctl_lab_accel_parse("kvm", &a, NULL));
    g_assert_cmpint(a, ==, VMCTL_LAB_ACCEL_KVM);
    g_assert_false(vmctl_lab_accel_parse("hvf", &a, &err));
    g_assert_cmpstr(err->message, ==, "lab accel 'hvf' must be auto, tcg or kvm");
}

/* The job file, sourced by a real sh, must give back the same argv, the
 * same directory and the same environment, for hostile bytes too. */
static void test_job_roundtrip(void)
{
    g_autofree char *dir = g_dir_make_tmp(NULL, NULL);
    g_autofree char *sub = g_build_filename(dir, "it's a dir; $(x)", NULL);
    g_autofree char *job = NULL, *jobf = g_build_filename(dir, "job", NULL);
    g_autofree char *out = NULL, *script = NULL;
    const char *argv[] = { "printf", "%s|", "a b", "'q'", "$(touch pwned)", "`x`", "\"", "\\n", "", NULL };
    char *envp[] = { (char *)"VMCTL_T1=x'y\"z $HOME", (char *)"BAD-NAME=1", (char *)"VMCTL_T2=",
                     (char *)"PWD=/nowhere", NULL };
    const char *sh[] = { "/bin/sh", "-c", NULL, NULL };
    int status;

    g_assert_nonnull(dir);
    g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
    job = vmctl_lab_job_text((char *const *)argv, sub, envp, false);
    g_assert_true(g_file_set_contents(jobf, job, -1, NULL));
    script = g_strdup_printf(". '%s'; \"$@\"; echo; pwd; printf '%%s|' \"$VMCTL_T1\" \"${VMCTL_T2-unset}\" "
                             "\"$LAB_INTERACTIVE\"",
                             jobf);
    sh[2] = script;
    g_assert_true(g_spawn_sync(dir, (char **)sh, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, NULL));
    g_assert_cmpint(status, ==, 0);
    {
        g_autofree char *want = g_strdup_printf("a b|'q'|$(touch pwned)|`x`|\"|\\n||\n%s\nx'y\"z $HOME||0|", sub);
        g_assert_cmpstr(out, ==, want);
    }
    g_assert_false(strstr(job, "BAD-NAME") != NULL);
    g_assert_false(strstr(job, "/nowhere") != NULL);
    {
        g_autofree char *pwned = g_build_filename(sub, "pwned", NULL);
        g_assert_false(g_file_test(pwned, G_FILE_TEST_EXISTS));
        g_unlink(jobf);
        g_rmdir(sub);
        g_rmdir(dir);
    }
}

/* A working directory that does not exist in the lab: exit 126 with a
 * one-line message, never a shell that goes on elsewhere. */
static void test_job_missing_cwd(void)
{
    g_autofree char *dir = g_dir_make_tmp(NULL, NULL);
    g_autofree char *jobf = g_build_filename(dir, "job", NULL);
    const char *argv[] = { "echo", "ran", NULL };
    g_autofree char *job = vmctl_lab_job_text((char *const *)argv, "/nonexistent/dir", NULL, false);
    g_autofree char *script = g_strdup_printf(". '%s' 2>/dev/null; \"$@\"", jobf);
    const char *sh[] = { "/bin/sh", "-c", script, NULL };
    g_autofree char *out = NULL, *err = NULL;
    int status;

    g_assert_true(g_file_set_contents(jobf, job, -1, NULL));
    g_assert_true(g_spawn_sync(dir, (char **)sh, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
    g_assert_cmpstr(out, ==, "");
    g_assert_cmpstr(err, ==, "vmctl lab: working directory '/nonexistent/dir' does not exist in the lab\n");
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 126);
    g_unlink(jobf);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/lab/argv/tcg", test_argv_tcg);
    g_test_add_func("/vmctl/lab/argv/kvm-nested", test_argv_kvm);
    g_test_add_func("/vmctl/lab/argv/no-nvdimm", test_argv_no_nvdimm);
    g_test_add_func("/vmctl/lab/accel/choose", test_accel);
    g_test_add_func("/vmctl/lab/accel/parse", test_accel_parse);
    g_test_add_func("/vmctl/lab/job/roundtrip", test_job_roundtrip);
    g_test_add_func("/vmctl/lab/job/missing-cwd", test_job_missing_cwd);
    return g_test_run();
}
