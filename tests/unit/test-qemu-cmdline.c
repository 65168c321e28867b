/* test-qemu-cmdline.c: QEMU argv golden files (tests/data/cmdline/CASE.json
 * -> CASE.args, one argument per line; VMCTL_REGENERATE=1 rewrites them)
 * and the --accel auto choice. */
#include "config.h"

#include "qemu_cmdline.h"

#include <string.h>

#include "test-golden.h"

static const VmctlQemuPaths paths = {
    .qemu = "/usr/bin/qemu-system-x86_64",
    .run_dir = "/run/vmctl/guests/NAME",
    .tiny_bios = "/usr/share/vmctl/tiny.bin",
    .linux_kernel = "/usr/share/vmctl/vmlinuz",
    .linux_initrd = "/usr/share/vmctl/initramfs.cpio.zst",
};

static GPtrArray *objects(json_object *arr)
{
    GPtrArray *a = g_ptr_array_new();

    for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
        g_ptr_array_add(a, json_object_array_get_idx(arr, i));
    return a;
}

static void run_case(gconstpointer data)
{
    const char *name = data;
    g_autofree char *in = g_test_build_filename(G_TEST_DIST, "data", "cmdline", name, NULL);
    g_autofree char *base = g_strndup(in, strlen(in) - strlen(".json"));
    g_autofree char *golden = g_strdup_printf("%s.args", base);
    g_autoptr(json_object) c = json_object_from_file(in);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlGuestSpec) spec = NULL;
    g_autoptr(GPtrArray) nv = NULL, vp = NULL;
    g_auto(GStrv) argv = NULL;
    g_autofree char *text = NULL, *want = NULL;
    VmctlQemuMemory mem;
    VmctlAccel accel;

    g_assert_nonnull(c);
    spec = vmctl_guest_spec_from_json(json_object_object_get(c, "spec"), &err);
    g_assert_no_error(err);
    g_assert_true(vmctl_accel_from_name(json_object_get_string(json_object_object_get(c, "accel")), &accel));
    nv = objects(json_object_object_get(c, "nvdimm"));
    vp = objects(json_object_object_get(c, "virtio-pmem"));
    mem = (VmctlQemuMemory){ json_object_object_get(c, "ram"), nv, vp };
    argv = vmctl_qemu_cmdline(spec, accel, &mem, &paths, &err);
    g_assert_no_error(err);
    {
        g_autofree char *joined = g_strjoinv("\n", argv);
        text = g_strconcat(joined, "\n", NULL);
    }
    if (vmctl_test_regenerate()) {
        g_assert_true(g_file_set_contents(golden, text, -1, NULL));
        return;
    }
    g_assert_true(g_file_get_contents(golden, &want, NULL, NULL));
    g_assert_cmpstr(text, ==, want);
}

static void test_mismatch(void)
{
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) none = g_ptr_array_new();
    g_autoptr(json_object) ram = json_object_new_object();
    VmctlQemuMemory mem = { ram, none, none };

    spec->name = g_strdup("x");
    spec->memory = 64 * MiB;
    g_assert_true(vmctl_guest_spec_add_device(spec, "nvdimm", "/dev/shm/a,64M", &err));
    g_assert_null(vmctl_qemu_cmdline(spec, VMCTL_ACCEL_KVM, &mem, &paths, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_null(vmctl_qemu_cmdline(spec, VMCTL_ACCEL_AUTO, &mem, &paths, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
}

static void test_accel_auto(void)
{
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_new();
    const VmctlAccelHost pvm = { .kvm_usable = true, .kvm_pvm = true };
    const VmctlAccelHost hw = { .kvm_usable = true, .kvm_pvm = false };
    const VmctlAccelHost none = { 0 };
    g_autoptr(GError) err = NULL;
    const char *why;
    VmctlAccel a;

    spec->name = g_strdup("x");
    spec->kind = VMCTL_GUEST_TINY;
    g_assert_true(vmctl_accel_choose(spec, &pvm, &a, &why, &err));
    g_assert_cmpint(a, ==, VMCTL_ACCEL_KVM);
    g_assert_true(vmctl_accel_choose(spec, &none, &a, &why, &err));
    g_assert_cmpint(a, ==, VMCTL_ACCEL_TCG);
    spec->kind = VMCTL_GUEST_LINUX;
    g_assert_true(vmctl_accel_choose(spec, &pvm, &a, &why, &err));
    g_assert_cmpint(a, ==, VMCTL_ACCEL_TCG);
    g_assert_nonnull(strstr(why, "ring-3"));
    g_assert_true(vmctl_accel_choose(spec, &hw, &a, &why, &err));
    g_assert_cmpint(a, ==, VMCTL_ACCEL_KVM);
    spec->accel = VMCTL_ACCEL_KVM;
    g_assert_false(vmctl_accel_choose(spec, &none, &a, &why, &err));
    g_assert_cmpstr(err->message, ==, "accel 'kvm' of guest 'x' needs a usable /dev/kvm");
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;

    g_test_init(&argc, &argv, NULL);
    names = vmctl_test_add_goldens("cmdline", "/vmctl/qemu-cmdline/golden", run_case);
    g_test_add_func("/vmctl/qemu-cmdline/objects-mismatch", test_mismatch);
    g_test_add_func("/vmctl/qemu-cmdline/accel-auto", test_accel_auto);
    return g_test_run();
}
