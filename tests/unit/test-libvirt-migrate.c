/* test-libvirt-migrate.c: the host-side pieces of a libvirt migration: the
 * guest RAM found through /proc/PID/map_files (a shared memfd of this
 * process stands in for QEMU's), the QEMU found by its -name, the
 * migration URI and the spec in the domain metadata. */
#include "config.h"

#include "libvirt_migrate.h"
#include "test-env.h"

#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM (4u * 1024 * 1024)

static void test_find_ram(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree char *other = NULL;
    int fd = memfd_create("test-ram", MFD_CLOEXEC);
    unsigned char *p, buf[16];
    int rfd;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, RAM), ==, 0);
    p = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true(p != MAP_FAILED);
    memcpy(p + 8192, "guest page two!", 16);
    path = vmctl_lvm_find_ram(getpid(), RAM, &err);
    g_assert_no_error(err);
    g_assert_true(g_str_has_prefix(path, "/proc/"));
    /* the path reaches the same memory, also once the creator's fd is gone */
    close(fd);
    rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd < 0) {
        vmctl_test_needs("/proc/PID/map_files needs CAP_SYS_ADMIN");
        munmap(p, RAM);
        return;
    }
    g_assert_cmpint(pread(rfd, buf, 16, 8192), ==, 16);
    g_assert_cmpmem(buf, 16, "guest page two!", 16);
    close(rfd);

    /* made to fail: no mapping of that size */
    other = vmctl_lvm_find_ram(getpid(), RAM + 4096, &err);
    g_assert_null(other);
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND);
    g_assert_true(strstr(err->message, "has no shared file mapping of 4198400 bytes") != NULL);
    munmap(p, RAM);
}

/* A shell with QEMU's -name among its arguments stands in for QEMU. It
 * waits in the builtin 'read' on a pipe of ours, so it never forks: a forked
 * child carries its parent's cmdline until it execs, and would be a second
 * process of that name for a moment. */
static GPid spawn_named(const char *name_arg, int *stdin_fd)
{
    const char *argv[] = { "sh", "-c", "read x", "-name", name_arg, NULL };
    GPid pid;

    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, &pid, stdin_fd, NULL, NULL, NULL));
    return pid;
}

static void test_find_qemu(void)
{
    g_autofree char *name = g_strdup_printf("vmctl-test-%d", (int)getpid());
    g_autofree char *arg = g_strdup_printf("guest=%s,debug-threads=on", name);
    g_autofree char *longer = g_strdup_printf("guest=%sx", name);
    int in, in2;
    GPid pid, pid2;
    pid_t found = 0;

    g_assert_cmpint(vmctl_lvm_find_qemu(name, 0), ==, 0);
    /* our own children; waitpid below waits for them to be gone */
    pid2 = spawn_named(longer, &in2);
    pid = spawn_named(arg, &in);
    for (int i = 0; i < 200 && !found; i++) {
        found = vmctl_lvm_find_qemu(name, 0);
        if (!found)
            g_usleep(10000);
    }
    g_assert_cmpint(found, ==, pid); /* not the guest whose name only starts alike */
    g_assert_cmpint(vmctl_lvm_find_qemu(name, pid), ==, 0);
    kill(pid, SIGKILL);
    kill(pid2, SIGKILL);
    waitpid(pid, NULL, 0);
    waitpid(pid2, NULL, 0);
    close(in);
    close(in2);
    g_assert_cmpint(vmctl_lvm_find_qemu(name, 0), ==, 0);
}

static void test_migrate_uri(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "qemu+tcp://127.0.0.1:16509/system", "tcp://127.0.0.1:4242" },
        { "qemu+ssh://root@host2.example/system", "tcp://host2.example:4242" },
        { "qemu+tcp://[fd00::2]:16509/system", "tcp://[fd00::2]:4242" },
        { "qemu+unix:///system?socket=/run/x/libvirt-sock", "tcp://127.0.0.1:4242" },
        { "qemu+tcp://localhost/system", "tcp://127.0.0.1:4242" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *u = vmctl_lvm_migrate_uri(cases[i].in, 4242);
        g_assert_cmpstr(u, ==, cases[i].out);
    }
    g_assert_cmpuint(vmctl_lvm_free_port(), >, 0);
}

static void test_metadata(void)
{
    g_autoptr(json_object) spec = json_tokener_parse("{\"name\": \"g1\", \"linux\": {\"cmdline\": \"a<b && c>'d' \\\"e\\\"\"}}");
    g_autofree char *xml = vmctl_lvm_metadata_xml(spec);
    g_autofree char *as_libvirt = NULL;
    g_autoptr(json_object) back = NULL;
    g_autoptr(json_object) none = NULL;

    g_assert_nonnull(strstr(xml, "a&lt;b &amp;&amp; c&gt;"));
    /* libvirt gives it back with the namespace on the element */
    as_libvirt = g_strdup_printf("<guest xmlns=\"https://vmctl.dev/xmlns/guest/1\">%s", xml + strlen("<guest>"));
    back = vmctl_lvm_metadata_spec(as_libvirt);
    g_assert_nonnull(back);
    g_assert_true(json_object_equal(spec, back));
    /* made to fail: not a spec */
    none = vmctl_lvm_metadata_spec("<guest>[1, 2]</guest>");
    g_assert_null(none);
    g_assert_null(vmctl_lvm_metadata_spec("no xml"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/libvirt-migrate/find-ram", test_find_ram);
    g_test_add_func("/vmctl/libvirt-migrate/find-qemu", test_find_qemu);
    g_test_add_func("/vmctl/libvirt-migrate/migrate-uri", test_migrate_uri);
    g_test_add_func("/vmctl/libvirt-migrate/metadata", test_metadata);
    return g_test_run();
}
