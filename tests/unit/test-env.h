/* test-env.h: what a unit test does when this machine lacks something it
 * needs (root, /dev/kvm, KSM, a mount). Outside CI it skips with the
 * reason; under CI=true it fails, because CI machines have all of it. */
#pragma once

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

static inline void vmctl_test_needs(const char *why)
{
    if (g_strcmp0(g_getenv("CI"), "true") == 0)
        g_test_fail_printf("needed under CI: %s", why);
    else
        g_test_skip(why);
}

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A usable KVM: /dev/kvm opens and answers KVM_GET_API_VERSION (a
 * /dev/null bound over it, as a test hiding KVM does, does not). */
static inline bool vmctl_test_have_kvm(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    bool ok = fd >= 0 && ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;

    if (fd >= 0)
        close(fd);
    return ok;
}

/* Call first in main() of a test that needs KVM: where this machine has
 * none, the whole test program runs again inside a lab (`$VMCTL lab run`:
 * real KVM in a TCG guest with emulated NVDIMMs, the host's own files)
 * and this process becomes that run. Returns when the test runs here: a
 * usable KVM, or no lab to run in (the tests then say what they need). */
static inline void vmctl_test_kvm_or_lab(int argc, char **argv)
{
    const char *vmctl = g_getenv("VMCTL");
    g_autoptr(GPtrArray) a = NULL;

    if (vmctl_test_have_kvm() || !vmctl || !*vmctl || geteuid() != 0 ||
        g_file_test("/run/vmctl-lab/job", G_FILE_TEST_EXISTS))
        return;
    a = g_ptr_array_new();
    g_ptr_array_add(a, (char *)vmctl);
    g_ptr_array_add(a, (char *)"lab");
    g_ptr_array_add(a, (char *)"run");
    g_ptr_array_add(a, (char *)"--");
    for (int i = 0; i < argc; i++)
        g_ptr_array_add(a, argv[i]);
    g_ptr_array_add(a, NULL);
    printf("# no usable /dev/kvm here: this test runs inside a lab (%s lab run)\n", vmctl);
    fflush(stdout);
    execv(vmctl, (char **)a->pdata);
    printf("# %s lab run could not be started: %s\n", vmctl, g_strerror(errno));
}
