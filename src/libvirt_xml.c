/* libvirt_xml.c: build the libvirt domain XML of a vmctl guest from its
 * spec. Pure: the backend string is classified by its form only (the host is
 * never probed), so the same spec gives the same XML on every machine and
 * golden files can check it. Every string from the spec or the options goes
 * through g_markup escaping; sizes are whole MiB (the spec keeps memory and
 * device sizes multiples of 2 MiB). */
#include "config.h"

#include "libvirt_xml.h"

#include <string.h>

#include "qemu_cmdline.h"

#define XML_MAX_VCPUS 255        /* vCPUs: libvirt's limit for the pc machine */
#define XML_NVDIMM_ALIGN_KIB 2048 /* KiB: NVDIMM alignsize, VMCTL_GUEST_DEVICE_ALIGN */

typedef enum {
    RAM_ANONYMOUS,
    RAM_MEMFD,
    RAM_FILE,
} RamSource;

typedef struct {
    RamSource source;
    bool shared;
    bool hugepages;
    uint64_t page_size; /* bytes, 0: the host's default huge page size */
} RamBacking;

static bool fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool fail(GError **error, const char *fmt, ...)
{
    va_list ap;

    if (!error)
        return false;
    va_start(ap, fmt);
    *error = g_error_new_valist(VMCTL_ERROR, VMCTL_ERROR_INVALID, fmt, ap);
    va_end(ap);
    return false;
}

/* A path component named hugepages* or hugetlbfs* (/dev/hugepages,
 * /mnt/hugepages-1G, /hugetlbfs) is taken for a hugetlbfs mount: the usual
 * names, since a pure function cannot look at the mount table. */
static bool path_looks_hugetlbfs(const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);

    for (guint i = 0; parts[i]; i++)
        if (g_str_has_prefix(parts[i], "hugepages") || g_str_has_prefix(parts[i], "hugetlbfs"))
            return true;
    return false;
}

static bool is_device_path(const char *path)
{
    return g_str_has_prefix(path, "/dev/dax") || g_str_has_prefix(path, "/dev/pmem");
}

static bool ram_backing(const VmctlGuestSpec *spec, RamBacking *rb, GError **error)
{
    const char *b = spec->backend;

    memset(rb, 0, sizeof(*rb));
    if (strcmp(b, "anonymous") == 0) {
        rb->source = RAM_ANONYMOUS;
        return true;
    }
    if (strcmp(b, "memfd") == 0 || g_str_has_prefix(b, "memfd:")) {
        const char *opt = b + strlen("memfd");

        rb->source = RAM_MEMFD;
        rb->shared = true;
        if (!*opt)
            return true;
        if (strcmp(opt, ":hugetlb") == 0) {
            rb->hugepages = true;
            return true;
        }
        if (g_str_has_prefix(opt, ":hugetlb=") &&
            vmctl_parse_size(opt + strlen(":hugetlb="), false, &rb->page_size, NULL) &&
            rb->page_size % KiB == 0) {
            rb->hugepages = true;
            return true;
        }
        return fail(error, "backend '%s' of guest '%s' must be 'memfd', 'memfd:hugetlb' or 'memfd:hugetlb=SIZE'", b,
                    spec->name);
    }
    if (is_device_path(b))
        return fail(error,
                    "backend '%s' of guest '%s' is a device: libvirt cannot place main RAM on a device "
                    "(give it as --nvdimm)",
                    b, spec->name);
    rb->source = RAM_FILE;
    rb->shared = true;
    rb->hugepages = path_looks_hugetlbfs(b);
    return true;
}

static bool domain_type(const VmctlGuestSpec *spec, const VmctlLibvirtXmlOpts *opts, const char **type,
                        GError **error)
{
    if (opts->domain_type) {
        if (strcmp(opts->domain_type, "kvm") != 0 && strcmp(opts->domain_type, "qemu") != 0)
            return fail(error, "domain type '%s' of guest '%s' must be 'kvm' or 'qemu'", opts->domain_type,
                        spec->name);
        *type = opts->domain_type;
        return true;
    }
    switch (spec->accel) {
    case VMCTL_ACCEL_KVM:
        *type = "kvm";
        break;
    case VMCTL_ACCEL_TCG:
        *type = "qemu";
        break;
    case VMCTL_ACCEL_AUTO:
        /* as vmctl_accel_choose() decides on this project's hosts: the tiny
         * guest runs natively under (paravirtual) KVM, a Linux kernel runs
         * faster under TCG there */
        *type = spec->kind == VMCTL_GUEST_TINY ? "kvm" : "qemu";
        break;
    }
    return true;
}

/* One line at INDENT spaces; the values of FMT are XML-escaped. */
static void line(GString *out, int indent, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void line(GString *out, int indent, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *s = NULL;

    va_start(ap, fmt);
    s = g_markup_vprintf_escaped(fmt, ap);
    va_end(ap);
    g_string_append_printf(out, "%*s%s\n", indent, "", s);
}

/* An XML comment around TEXT: "--" may not appear inside one, nor a
 * trailing "-". */
static void comment(GString *out, int indent, const char *text)
{
    GString *c = g_string_new(NULL);

    for (const char *p = text; *p; p++) {
        g_string_append_c(c, *p);
        if (*p == '-' && (p[1] == '-' || p[1] == '\0'))
            g_string_append_c(c, ' ');
    }
    g_string_append_printf(out, "%*s<!-- %s -->\n", indent, "", c->str);
    g_string_free(c, TRUE);
}

static uint64_t devices_bytes(const VmctlGuestSpec *spec)
{
    uint64_t sum = 0;

    for (guint i = 0; i < spec->nvdimm->len; i++)
        sum += g_array_index(spec->nvdimm, VmctlGuestDevice, i).size;
    for (guint i = 0; i < spec->virtio_pmem->len; i++)
        sum += g_array_index(spec->virtio_pmem, VmctlGuestDevice, i).size;
    return sum;
}

static void add_memory_backing(GString *out, const VmctlGuestSpec *spec, const RamBacking *rb)
{
    static const char *const sources[] = { [RAM_ANONYMOUS] = "anonymous", [RAM_MEMFD] = "memfd", [RAM_FILE] = "file" };

    line(out, 2, "<memoryBacking>");
    if (rb->source == RAM_FILE) {
        g_autofree char *c = g_strdup_printf("backend '%s': libvirt creates the RAM file in its memory_backing_dir "
                                             "(qemu.conf)%s, not at this path",
                                             spec->backend, rb->hugepages ? " or on its hugetlbfs mount" : "");
        comment(out, 4, c);
    }
    if (rb->hugepages && rb->page_size) {
        line(out, 4, "<hugepages>");
        line(out, 6, "<page size='%" G_GUINT64_FORMAT "' unit='KiB'/>", rb->page_size / KiB);
        line(out, 4, "</hugepages>");
    } else if (rb->hugepages) {
        line(out, 4, "<hugepages/>");
    }
    if (!spec->mem_merge)
        line(out, 4, "<nosharepages/>");
    line(out, 4, "<source type='%s'/>", sources[rb->source]);
    if (rb->shared)
        line(out, 4, "<access mode='shared'/>");
    line(out, 2, "</memoryBacking>");
}

static void add_os(GString *out, const VmctlGuestSpec *spec, const VmctlLibvirtXmlOpts *opts)
{
    line(out, 2, "<os>");
    line(out, 4, "<type arch='x86_64' machine='pc'>hvm</type>");
    if (spec->kind == VMCTL_GUEST_TINY) {
        g_autofree char *bios = g_build_filename(opts->image_dir, "tiny.bin", NULL);
        line(out, 4, "<loader type='rom'>%s</loader>", bios);
    } else {
        g_autofree char *kernel = g_build_filename(opts->image_dir, "vmlinuz", NULL);
        g_autofree char *initrd = g_build_filename(opts->image_dir, "initramfs.cpio.zst", NULL);
        const char *extra = spec->linux_guest.cmdline ? spec->linux_guest.cmdline : "";

        line(out, 4, "<kernel>%s</kernel>", kernel);
        line(out, 4, "<initrd>%s</initrd>", initrd);
        line(out, 4, "<cmdline>%s%s%s</cmdline>", LINUX_BASE_CMDLINE, *extra ? " " : "", extra);
    }
    line(out, 2, "</os>");
}

/* The tiny guest's parameters, the same string the daemon gives -fw_cfg
 * (qemu_cmdline.c; libvirt doubles commas itself). */
static void add_sysinfo(GString *out, const VmctlGuestSpec *spec)
{
    g_autoptr(GString) params = g_string_new(NULL);

    g_string_append_printf(params, "rate=%" G_GUINT64_FORMAT " seed=%" G_GUINT64_FORMAT " same=%u", spec->tiny.rate,
                           spec->tiny.seed, spec->tiny.same);
    if (spec->tiny.ws)
        g_string_append_printf(params, " ws=%" G_GUINT64_FORMAT, spec->tiny.ws);
    line(out, 2, "<sysinfo type='fwcfg'>");
    line(out, 4, "<entry name='opt/vmctl/tiny'>%s</entry>", params->str);
    line(out, 2, "</sysinfo>");
}

static void add_features(GString *out, const VmctlGuestSpec *spec)
{
    line(out, 2, "<features>");
    line(out, 4, "<acpi/>"); /* QEMU's default; the NVDIMM needs its NFIT table */
    if (spec->dirty_ring) {
        line(out, 4, "<kvm>");
        line(out, 6, "<dirty-ring state='on' size='%u'/>", spec->dirty_ring);
        line(out, 4, "</kvm>");
    }
    line(out, 2, "</features>");
}

/* One CPU for both domain types, so that a domain moves between kvm and
 * qemu by its type alone: qemu64 without pni (paravirtual KVM fails to set
 * it up) and svm; neither test guest uses SSE3 or SVM. check='none': the
 * host CPU is not compared with it. */
static void add_cpu(GString *out, const VmctlGuestSpec *spec, const RamBacking *rb)
{
    line(out, 2, "<cpu mode='custom' match='exact' check='none'>");
    line(out, 4, "<model fallback='forbid'>qemu64</model>");
    line(out, 4, "<feature policy='disable' name='pni'/>");
    line(out, 4, "<feature policy='disable' name='svm'/>");
    if (spec->nvdimm->len + spec->virtio_pmem->len) {
        g_autofree char *cpus = spec->vcpus > 1 ? g_strdup_printf("0-%u", spec->vcpus - 1) : g_strdup("0");

        /* memory devices need a NUMA node for libvirt; cell 0 is the RAM */
        line(out, 4, "<numa>");
        if (rb->shared)
            line(out, 6, "<cell id='0' cpus='%s' memory='%" G_GUINT64_FORMAT "' unit='MiB' memAccess='shared'/>",
                 cpus, spec->memory / MiB);
        else
            line(out, 6, "<cell id='0' cpus='%s' memory='%" G_GUINT64_FORMAT "' unit='MiB'/>", cpus,
                 spec->memory / MiB);
        line(out, 4, "</numa>");
    }
    line(out, 2, "</cpu>");
}

static void add_memory_devices(GString *out, const VmctlGuestSpec *spec)
{
    for (guint i = 0; i < spec->nvdimm->len; i++) {
        const VmctlGuestDevice *d = &g_array_index(spec->nvdimm, VmctlGuestDevice, i);

        line(out, 4, "<memory model='nvdimm' access='shared'>");
        line(out, 6, "<source>");
        line(out, 8, "<path>%s</path>", d->path);
        line(out, 8, "<alignsize unit='KiB'>%d</alignsize>", XML_NVDIMM_ALIGN_KIB);
        /* pmem=on (QEMU persists with MAP_SYNC) only where the backing is
         * DAX without a probe: a device-dax device */
        if (g_str_has_prefix(d->path, "/dev/dax"))
            line(out, 8, "<pmem/>");
        line(out, 6, "</source>");
        line(out, 6, "<target>");
        line(out, 8, "<size unit='MiB'>%" G_GUINT64_FORMAT "</size>", d->size / MiB);
        line(out, 8, "<node>0</node>");
        line(out, 6, "</target>");
        line(out, 4, "</memory>");
    }
    for (guint i = 0; i < spec->virtio_pmem->len; i++) {
        const VmctlGuestDevice *d = &g_array_index(spec->virtio_pmem, VmctlGuestDevice, i);

        line(out, 4, "<memory model='virtio-pmem' access='shared'>");
        line(out, 6, "<source>");
        line(out, 8, "<path>%s</path>", d->path);
        line(out, 6, "</source>");
        line(out, 6, "<target>");
        line(out, 8, "<size unit='MiB'>%" G_GUINT64_FORMAT "</size>", d->size / MiB);
        line(out, 6, "</target>");
        line(out, 4, "</memory>");
    }
}

/* A console socket that takes input, its output also logged to LOG. */
static void add_serial_socket(GString *out, const char *socket, const char *log)
{
    line(out, 4, "<serial type='unix'>");
    line(out, 6, "<source mode='bind' path='%s'/>", socket);
    if (log)
        line(out, 6, "<log file='%s' append='on'/>", log);
    line(out, 6, "<target port='0'/>");
    line(out, 4, "</serial>");
    line(out, 4, "<console type='unix'>");
    line(out, 6, "<source mode='bind' path='%s'/>", socket);
    line(out, 6, "<target type='serial' port='0'/>");
    line(out, 4, "</console>");
}

static void add_serial(GString *out, const char *path)
{
    /* append='on': the file keeps what the guest printed across a restart
     * or a migration */
    line(out, 4, "<serial type='file'>");
    line(out, 6, "<source path='%s' append='on'/>", path);
    line(out, 6, "<target port='0'/>");
    line(out, 4, "</serial>");
    line(out, 4, "<console type='file'>");
    line(out, 6, "<source path='%s' append='on'/>", path);
    line(out, 6, "<target type='serial' port='0'/>");
    line(out, 4, "</console>");
}

char *vmctl_libvirt_xml(const VmctlGuestSpec *spec, const VmctlLibvirtXmlOpts *opts, GError **error)
{
    g_autoptr(GString) out = g_string_new(NULL);
    guint ndev = spec->nvdimm->len + spec->virtio_pmem->len;
    uint64_t total = spec->memory + devices_bytes(spec);
    const char *type = NULL;
    RamBacking rb;

    if (!vmctl_guest_spec_validate(spec, XML_MAX_VCPUS, error) || !ram_backing(spec, &rb, error) ||
        !domain_type(spec, opts, &type, error))
        return NULL;
    if (!opts->image_dir || !g_path_is_absolute(opts->image_dir)) {
        fail(error, "image directory '%s' of guest '%s' must be an absolute path",
             opts->image_dir ? opts->image_dir : "", spec->name);
        return NULL;
    }
    if (spec->dirty_ring && strcmp(type, "kvm") != 0) {
        fail(error, "dirty-ring '%u' of guest '%s' needs domain type 'kvm', not '%s'", spec->dirty_ring, spec->name,
             type);
        return NULL;
    }
    if (opts->serial_path && !g_path_is_absolute(opts->serial_path)) {
        fail(error, "serial path '%s' of guest '%s' must be an absolute path", opts->serial_path, spec->name);
        return NULL;
    }
    if (opts->serial_socket && !g_path_is_absolute(opts->serial_socket)) {
        fail(error, "serial socket '%s' of guest '%s' must be an absolute path", opts->serial_socket, spec->name);
        return NULL;
    }

    line(out, 0, "<domain type='%s'>", type);
    line(out, 2, "<name>%s</name>", spec->name);
    /* with memory devices, <memory> counts them too (libvirt's rule) */
    line(out, 2, "<memory unit='MiB'>%" G_GUINT64_FORMAT "</memory>", total / MiB);
    if (ndev)
        line(out, 2, "<maxMemory slots='%u' unit='MiB'>%" G_GUINT64_FORMAT "</maxMemory>", ndev, total / MiB);
    line(out, 2, "<vcpu>%u</vcpu>", spec->vcpus);
    add_memory_backing(out, spec, &rb);
    if (spec->kind == VMCTL_GUEST_TINY)
        add_sysinfo(out, spec);
    add_os(out, spec, opts);
    add_features(out, spec);
    add_cpu(out, spec, &rb);
    line(out, 2, "<on_poweroff>destroy</on_poweroff>");
    line(out, 2, "<devices>");
    if (opts->emulator)
        line(out, 4, "<emulator>%s</emulator>", opts->emulator);
    add_memory_devices(out, spec);
    if (opts->serial_socket)
        add_serial_socket(out, opts->serial_socket, opts->serial_path);
    else if (opts->serial_path)
        add_serial(out, opts->serial_path);
    line(out, 4, "<controller type='usb' model='none'/>");
    line(out, 4, "<memballoon model='none'/>");
    line(out, 2, "</devices>");
    line(out, 0, "</domain>");
    return g_string_free(g_steal_pointer(&out), FALSE);
}
