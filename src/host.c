/* host.c: host facts and the tables of known kernel/QEMU/libvirt changes.
 * Behaviour elsewhere follows what the host and QMP report; these tables
 * only explain results and name known bugs. */
#include "config.h"

#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "libvirt_dl.h"

#define V(a, b, c) { a, b, c }
#define NOT_FIXED { 0, 0, 0 }

static const struct vmctl_known_change known_changes[] = {
    { "kernel", "zone-device-not-reserved", V(5, 4, 0), NOT_FIXED,
      "KVM no longer treats ZONE_DEVICE (DAX) pages as reserved: dirty and accessed marking reach them" },
    { "kernel", "dax-huge-mappings", V(5, 6, 0), NOT_FIXED,
      "KVM maps DAX memory with huge pages by reading the host page tables" },
    { "kernel", "fsdax-2m-regression", V(5, 16, 0), V(6, 13, 0),
      "fsdax files are not mapped with 2M pages by KVM (fixed in 6.13 and in 6.12.y stable)" },
    { "kernel", "non-refcounted-pages", V(6, 13, 0), NOT_FIXED,
      "KVM maps pages without taking references (non-refcounted pfns); DAX follows the common path" },
    { "qemu", "tcg-lost-dirty-pages", V(0, 0, 1), V(9, 0, 0),
      "live migration under TCG can lose pages a busy guest dirties (guest pti=on avoids it)" },
    { "qemu", "tcg-calc-dirty-rate-crash", V(0, 0, 1), V(9, 1, 0),
      "calc-dirty-rate modes dirty-bitmap and dirty-ring crash QEMU under TCG (seen on 7.2; fixed in 9.1, where dirty-ring is refused and dirty-bitmap counts no pages under TCG); only page-sampling is used there" },
    { "qemu", "no-dirty-limit", V(0, 0, 1), V(8, 1, 0),
      "the dirty-limit migration capability does not exist before 8.1" },
    { "qemu", "virtio-pmem-not-migrated", V(0, 0, 1), NOT_FIXED,
      "virtio-pmem content is not migrated: the destination needs the same shared backing" },
};

const struct vmctl_known_change *vmctl_known_changes(size_t *n)
{
    *n = G_N_ELEMENTS(known_changes);
    return known_changes;
}

bool vmctl_version_parse(const char *str, struct vmctl_version *v)
{
    int n;

    memset(v, 0, sizeof(*v));
    if (!str)
        return false;
    n = sscanf(str, "%d.%d.%d", &v->major, &v->minor, &v->patch);
    return n >= 2;
}

int vmctl_version_cmp(const struct vmctl_version *a, const struct vmctl_version *b)
{
    if (a->major != b->major)
        return a->major < b->major ? -1 : 1;
    if (a->minor != b->minor)
        return a->minor < b->minor ? -1 : 1;
    if (a->patch != b->patch)
        return a->patch < b->patch ? -1 : 1;
    return 0;
}

bool vmctl_known_change_applies(const struct vmctl_known_change *c, const struct vmctl_version *v)
{
    if (vmctl_version_cmp(v, &c->since) < 0)
        return false;
    if (c->fixed.major == 0 && c->fixed.minor == 0 && c->fixed.patch == 0)
        return true;
    return vmctl_version_cmp(v, &c->fixed) < 0;
}

const char *vmctl_qemu_binary(void)
{
    const char *env = g_getenv("VMCTL_QEMU");

    return env && *env ? env : VMCTL_QEMU_DEFAULT;
}

bool vmctl_qemu_version(const char *qemu_binary, struct vmctl_version *v, char **full, GError **error)
{
    const char *argv[] = { qemu_binary, "--version", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) local = NULL;
    const char *p;
    int status;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &local)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "cannot run QEMU '%s': %s", qemu_binary, local->message);
        return false;
    }
    p = out ? strstr(out, "version ") : NULL;
    if (!p || !vmctl_version_parse(p + strlen("version "), v)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "QEMU '%s' --version printed no version", qemu_binary);
        return false;
    }
    if (full) {
        char *nl = strchr(p, '\n');
        *full = g_strndup(p + strlen("version "), nl ? (size_t)(nl - p - strlen("version ")) : strlen(p));
    }
    return true;
}

/* "6.13.0" */
static json_object *version_json(const struct vmctl_version *v)
{
    g_autofree char *s = g_strdup_printf("%d.%d.%d", v->major, v->minor, v->patch);

    return json_object_new_string(s);
}

static json_object *changes_json(const char *component, const struct vmctl_version *v)
{
    json_object *arr = json_object_new_array();

    for (size_t i = 0; i < G_N_ELEMENTS(known_changes); i++) {
        const struct vmctl_known_change *c = &known_changes[i];
        json_object *o;

        if (strcmp(c->component, component) != 0)
            continue;
        o = json_object_new_object();
        vmctl_json_add_str(o, "id", c->id);
        vmctl_json_add_bool(o, "applies", v && vmctl_known_change_applies(c, v));
        vmctl_json_add_str(o, "summary", c->summary);
        /* 0.0.1: since the first version this tool knows */
        if (vmctl_version_cmp(&c->since, &(struct vmctl_version)V(0, 0, 1)) > 0)
            json_object_object_add(o, "since", version_json(&c->since));
        if (c->fixed.major || c->fixed.minor || c->fixed.patch)
            json_object_object_add(o, "fixed_in", version_json(&c->fixed));
        json_object_array_add(arr, o);
    }
    return arr;
}

static json_object *kernel_json(void)
{
    json_object *o = json_object_new_object();
    struct utsname u;
    struct vmctl_version v;

    uname(&u);
    vmctl_json_add_str(o, "release", u.release);
    vmctl_json_add_bool(o, "version_parsed", vmctl_version_parse(u.release, &v));
    json_object_object_add(o, "known_changes", changes_json("kernel", &v));
    return o;
}

static const struct {
    const char *name;
    long cap;
} kvm_caps[] = {
    { "manual_dirty_log_protect2", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 },
    { "dirty_log_ring", KVM_CAP_DIRTY_LOG_RING },
#ifdef KVM_CAP_DIRTY_LOG_RING_ACQ_REL
    { "dirty_log_ring_acq_rel", KVM_CAP_DIRTY_LOG_RING_ACQ_REL },
#endif
#ifdef KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP
    { "dirty_log_ring_with_bitmap", KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP },
#endif
#ifdef KVM_CAP_BINARY_STATS_FD
    { "binary_stats_fd", KVM_CAP_BINARY_STATS_FD },
#endif
    { "sync_mmu", KVM_CAP_SYNC_MMU },
    { "nr_vcpus", KVM_CAP_NR_VCPUS },
    { "max_vcpus", KVM_CAP_MAX_VCPUS },
    { "nr_memslots", KVM_CAP_NR_MEMSLOTS },
};

static json_object *kvm_json(void)
{
    json_object *o = json_object_new_object();
    json_object *caps;
    const char *mods[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
    int fd = vmctl_kvm_open();

    vmctl_json_add_bool(o, "available", fd >= 0);
    if (fd < 0) {
        vmctl_json_add_str(o, "reason", g_strerror(errno));
        return o;
    }
    vmctl_json_add_i64(o, "api_version", ioctl(fd, KVM_GET_API_VERSION, 0));
    for (size_t i = 0; i < G_N_ELEMENTS(mods); i++) {
        g_autofree char *p = g_strdup_printf("/sys/module/%s", mods[i]);
        if (g_file_test(p, G_FILE_TEST_IS_DIR))
            vmctl_json_add_str(o, "module", mods[i]);
    }
    caps = json_object_new_object();
    for (size_t i = 0; i < G_N_ELEMENTS(kvm_caps); i++) {
        int r = ioctl(fd, KVM_CHECK_EXTENSION, kvm_caps[i].cap);
        vmctl_json_add_i64(caps, kvm_caps[i].name, r < 0 ? 0 : r);
    }
    json_object_object_add(o, "caps", caps);
    close(fd);
    return o;
}

/* "always [madvise] never" -> "madvise" */
static char *sysfs_selected(const char *path)
{
    g_autofree char *s = vmctl_read_file_trimmed(path, NULL);
    char *a, *b;

    if (!s || !(a = strchr(s, '[')) || !(b = strchr(a, ']')))
        return NULL;
    return g_strndup(a + 1, b - a - 1);
}

static json_object *mm_json(void)
{
    json_object *o = json_object_new_object();
    json_object *ksm = json_object_new_object();
    g_autofree char *thp = sysfs_selected("/sys/kernel/mm/transparent_hugepage/enabled");
    uint64_t v;

    vmctl_json_add_str(o, "thp", thp ? thp : "unavailable");
    vmctl_json_add_bool(ksm, "available", g_file_test("/sys/kernel/mm/ksm/run", G_FILE_TEST_EXISTS));
    if (vmctl_read_u64("/sys/kernel/mm/ksm/run", &v, NULL))
        vmctl_json_add_u64(ksm, "run", v);
    json_object_object_add(o, "ksm", ksm);
    vmctl_json_add_bool(o, "page_idle", g_file_test("/sys/kernel/mm/page_idle/bitmap", G_FILE_TEST_EXISTS));
    vmctl_json_add_bool(o, "damon_sysfs", g_file_test("/sys/kernel/mm/damon/admin", G_FILE_TEST_IS_DIR));
    {
        g_autofree char *lru = vmctl_read_file_trimmed("/sys/kernel/mm/lru_gen/enabled", NULL);
        vmctl_json_add_str(o, "lru_gen", lru ? lru : "unavailable");
    }
    vmctl_json_add_str(o, "dax_accessed_bits",
                       "page_idle and DAMON do not see DAX (ZONE_DEVICE) pages: they are not on the LRU");
    if (vmctl_read_u64("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", &v, NULL))
        vmctl_json_add_u64(o, "hugepages_2m", v);
    if (vmctl_read_u64("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", &v, NULL))
        vmctl_json_add_u64(o, "hugepages_1g", v);
    return o;
}

static json_object *qemu_json(void)
{
    json_object *o = json_object_new_object();
    struct vmctl_version v;
    g_autofree char *full = NULL;
    g_autoptr(GError) err = NULL;
    bool have = vmctl_qemu_version(vmctl_qemu_binary(), &v, &full, &err);

    vmctl_json_add_str(o, "binary", vmctl_qemu_binary());
    vmctl_json_add_bool(o, "available", have);
    if (have)
        vmctl_json_add_str(o, "version", full);
    else
        vmctl_json_add_str(o, "reason", err->message);
    json_object_object_add(o, "known_issues", changes_json("qemu", have ? &v : NULL));
    return o;
}

static json_object *libvirt_json(void)
{
    json_object *o = json_object_new_object();
    unsigned long ver = 0;
    g_autoptr(GError) err = NULL;
    const VmctlLibvirt *v = vmctl_libvirt(&err);

    if (!v)
        vmctl_json_add_str(o, "library_error", err->message);
    else if (v->virGetVersion(&ver, NULL, NULL) == 0) {
        g_autofree char *s = g_strdup_printf("%lu.%lu.%lu", ver / 1000000, ver / 1000 % 1000, ver % 1000);
        vmctl_json_add_str(o, "library_version", s);
    }
    vmctl_json_add_bool(o, "libvirtd_socket", g_file_test("/run/libvirt/libvirt-sock", G_FILE_TEST_EXISTS));
    return o;
}

json_object *vmctl_host_facts(void)
{
    json_object *o = json_object_new_object();
    char name[256] = "";

    if (gethostname(name, sizeof(name) - 1) == 0)
        vmctl_json_add_str(o, "hostname", name);
    json_object_object_add(o, "kernel", kernel_json());
    json_object_object_add(o, "kvm", kvm_json());
    json_object_object_add(o, "memory", mm_json());
    json_object_object_add(o, "qemu", qemu_json());
    json_object_object_add(o, "libvirt", libvirt_json());
    return o;
}
