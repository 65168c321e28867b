/* fuzz-hook.c: the libvirt QEMU hook's policy on the domain XML libvirt
 * sends (vmctl_hook_run, src/libvirt_hook.h), and its event log line.
 *
 * Input: a first line "OP SUBOP" (the hook's arguments) and the domain XML
 * after it. "@DEV@" in the XML stands for a device directory of the run
 * holding a stand-in dax0.0; sysfs and the mount table are the recorded
 * host1 tree of tests/data/sysfs, the hook log is /dev/null. Backing paths
 * in the XML are probed on the real file system as the hook does (stat,
 * read-only or unnamed O_TMPFILE mappings: nothing is written).
 *
 * Properties: a bad call has an error and no verdict change; a refusal has
 * a message; every result can be cleared. */
#include "config.h"

#include "fuzz.h"
#include "libvirt_hook.h"

static char *dev_root;

static void setup(void)
{
    g_autofree char *dax = NULL;

    if (dev_root)
        return;
    dev_root = g_build_filename(fuzz_tmpdir(), "dev", NULL);
    g_mkdir_with_parents(dev_root, 0755);
    dax = g_build_filename(dev_root, "dax0.0", NULL);
    fuzz_write_file(dax, "", 0);
    g_setenv("VMCTL_SYSFS_ROOT", VMCTL_FUZZ_SRCDIR "/tests/data/sysfs/host1/sys", TRUE);
    g_setenv("VMCTL_MOUNTINFO", VMCTL_FUZZ_SRCDIR "/tests/data/sysfs/host1/mountinfo", TRUE);
    g_setenv("VMCTL_DEV_ROOT", dev_root, TRUE);
    g_setenv("VMCTL_HOOK_LOG", "/dev/null", TRUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *s = fuzz_strndup(data, size);
    g_autofree char *xml = NULL;
    g_auto(GStrv) args = NULL;
    g_autoptr(GError) err = NULL;
    VmctlHookResult res;
    char *nl;
    bool ok;

    setup();
    nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
    args = g_strsplit(s, " ", 3);
    if (nl) {
        g_auto(GStrv) parts = g_strsplit(nl + 1, "@DEV@", -1);
        xml = g_strjoinv(dev_root, parts);
    }
    ok = vmctl_hook_run("qemu", "fuzz", args[0], args[0] ? args[1] : NULL, xml, &res, &err);
    if (ok != (err == NULL))
        abort();
    if (ok && res.verdict == VMCTL_HOOK_REFUSE && !res.message)
        abort();
    if (!res.warnings || !res.checked)
        abort();
    vmctl_hook_result_clear(&res);
    g_clear_error(&err);

    ok = vmctl_hook_log_event(args[0] ? args[0] : "", args[0] ? args[1] : NULL, xml, &err);
    if (ok != (err == NULL))
        abort();
    return 0;
}
