/* fuzz-mountinfo.c: the mount table reader of src/pmem_backend.c
 * (vmctl_mountinfo_parse, vmctl_mountinfo_read through $VMCTL_MOUNTINFO,
 * vmctl_mountinfo_find, vmctl_mount_option).
 *
 * Input: a mountinfo text. Properties: every parsed mount has all its
 * strings; reading the same text from a file gives the same mounts; the
 * mount found for a path is a prefix of it. */
#include "config.h"

#include "fuzz.h"
#include "pmem_backend.h"

static void check_find(GPtrArray *mounts, const char *path)
{
    const VmctlMount *m = vmctl_mountinfo_find(mounts, path, 0);

    if (m && !g_str_has_prefix(path, m->mount_point) && strcmp(m->mount_point, "/") != 0) {
        fprintf(stderr, "mount '%s' found for path '%s'\n", m->mount_point, path);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *s = fuzz_strndup(data, size);
    g_autoptr(GPtrArray) mounts = vmctl_mountinfo_parse(s);
    g_autoptr(GPtrArray) again = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *file = g_build_filename(fuzz_tmpdir(), "mountinfo", NULL);
    static const char *const options[] = { "dax", "pagesize", "size", "ro", "" };

    if (!mounts)
        abort();
    for (guint i = 0; i < mounts->len; i++) {
        const VmctlMount *m = mounts->pdata[i];
        g_autofree char *sub = NULL;

        if (!m->root || !m->mount_point || !m->mount_options || !m->fstype || !m->source || !m->super_options)
            abort();
        for (size_t k = 0; k < G_N_ELEMENTS(options); k++) {
            char *v = NULL;

            if (vmctl_mount_option(m->super_options, options[k], &v) && !v)
                abort();
            g_free(v);
            vmctl_mount_option(m->mount_options, options[k], NULL);
        }
        sub = g_build_filename(m->mount_point, "sub", "file", NULL);
        check_find(mounts, m->mount_point);
        check_find(mounts, sub);
    }
    check_find(mounts, "/");
    check_find(mounts, "/dev/shm/vmctl/guest");

    /* The same text through the file reader. */
    fuzz_write_file(file, data, size);
    g_setenv("VMCTL_MOUNTINFO", file, TRUE);
    again = vmctl_mountinfo_read(&err);
    if (!again) {
        fprintf(stderr, "mountinfo read failed: %s\n", err->message);
        abort();
    }
    if (again->len != mounts->len && !memchr(data, '\0', size)) {
        fprintf(stderr, "mountinfo: %u mounts parsed, %u read from a file\n", mounts->len, again->len);
        abort();
    }
    return 0;
}
