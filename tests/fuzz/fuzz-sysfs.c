/* fuzz-sysfs.c: the sysfs readers of src/pmem_backend.c (DAX devices, pmem
 * namespaces, regions, huge page pools) and the mount table they are
 * combined with, through vmctl_backend_list and vmctl_backend_probe on a
 * device-dax stand-in.
 *
 * The recorded host1 tree of tests/data/sysfs is copied once into a
 * temporary directory ($VMCTL_SYSFS_ROOT, $VMCTL_MOUNTINFO, $VMCTL_DEV_ROOT
 * point there). Input: records of one selector byte and the new content of
 * one file up to the next NUL byte; the selector picks a regular file of
 * the tree by its sorted index modulo their number, the last index being
 * the mount table. The changed files are restored after each run.
 *
 * Properties: listing and probing answer with JSON or an error, never
 * both or neither. */
#include "config.h"

#include "fuzz.h"
#include "pmem_backend.h"

typedef struct {
    char *path;
    char *orig;
    gsize len;
    bool dirty;
} FixtureFile;

static GArray *files; /* FixtureFile */
static char *dax_path;

static int cmp_paths(const void *a, const void *b)
{
    return strcmp(((const FixtureFile *)a)->path, ((const FixtureFile *)b)->path);
}

static void collect(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, e, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            continue;
        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            collect(p);
        } else {
            FixtureFile f = { .path = g_steal_pointer(&p) };

            if (!g_file_get_contents(f.path, &f.orig, &f.len, NULL))
                abort();
            g_array_append_val(files, f);
        }
    }
}

static void setup(void)
{
    const char *tmp;
    g_autofree char *cmd = NULL, *sys = NULL, *mountinfo = NULL, *dev = NULL;
    FixtureFile mi = { 0 };
    int status = 0;

    if (files)
        return;
    tmp = fuzz_tmpdir();
    cmd = g_strdup_printf("cp -a '%s/tests/data/sysfs/host1/sys' '%s/sys'", VMCTL_FUZZ_SRCDIR, tmp);
    if (!g_spawn_command_line_sync(cmd, NULL, NULL, &status, NULL) || status != 0)
        abort();
    sys = g_build_filename(tmp, "sys", NULL);
    files = g_array_new(FALSE, TRUE, sizeof(FixtureFile));
    collect(sys);
    g_array_sort(files, cmp_paths);

    mountinfo = g_build_filename(tmp, "mountinfo", NULL);
    mi.path = g_strdup(mountinfo);
    if (!g_file_get_contents(VMCTL_FUZZ_SRCDIR "/tests/data/sysfs/host1/mountinfo", &mi.orig, &mi.len, NULL))
        abort();
    fuzz_write_file(mi.path, mi.orig, mi.len);
    g_array_append_val(files, mi);

    dev = g_build_filename(tmp, "dev", NULL);
    g_mkdir_with_parents(dev, 0755);
    dax_path = g_build_filename(dev, "dax0.0", NULL);
    fuzz_write_file(dax_path, "", 0);
    g_setenv("VMCTL_SYSFS_ROOT", sys, TRUE);
    g_setenv("VMCTL_MOUNTINFO", mountinfo, TRUE);
    g_setenv("VMCTL_DEV_ROOT", dev, TRUE);
}

static void check_probe(const char *spec, uint64_t size)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = vmctl_backend_probe(spec, size, &err);
    g_autoptr(json_object) j = NULL;
    g_autoptr(json_object) obj = NULL;

    if ((b == NULL) == (err == NULL))
        abort();
    if (!b)
        return;
    j = vmctl_backend_to_json(b);
    obj = vmctl_backend_qemu_object(b, "mem0", size, true);
    if (!j || !obj || !json_object_to_json_string(j) || !vmctl_backend_pmem_reason(b))
        abort();
    (void)vmctl_backend_align(b);
    (void)vmctl_backend_natural_size(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) list = NULL;

    setup();
    while (p < end) {
        FixtureFile *f = &g_array_index(files, FixtureFile, *p % files->len);
        const uint8_t *nul;

        p++;
        nul = memchr(p, '\0', end - p);
        if (!nul)
            nul = end;
        fuzz_write_file(f->path, p, nul - p);
        f->dirty = true;
        p = nul < end ? nul + 1 : end;
    }

    list = vmctl_backend_list(&err);
    if ((list == NULL) == (err == NULL))
        abort();
    if (list && !json_object_to_json_string(list))
        abort();
    check_probe(dax_path, 0);
    check_probe(dax_path, 2u << 20);
    check_probe("memfd:hugetlb=1G", 1u << 30);
    check_probe("memfd:hugetlb", 4u << 20);

    for (guint i = 0; i < files->len; i++) {
        FixtureFile *f = &g_array_index(files, FixtureFile, i);

        if (f->dirty) {
            fuzz_write_file(f->path, f->orig, f->len);
            f->dirty = false;
        }
    }
    return 0;
}
