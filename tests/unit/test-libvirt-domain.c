/* test-libvirt-domain.c: reading the memory parts of domain XML. */
#include "config.h"

#include "libvirt_domain.h"

static const char *good_xml =
    "<domain type='qemu'>\n"
    "  <name>g1</name>\n"
    "  <memory unit='MiB'>256</memory>\n"
    "  <maxMemory slots='2' unit='GiB'>4</maxMemory>\n"
    "  <memoryBacking><source type='file'/><access mode='shared'/>"
    "    <hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>\n"
    "  <devices>\n"
    "    <disk type='file'><source file='/not/a/memory/path'/></disk>\n"
    "    <memory model='nvdimm' access='shared'>\n"
    "      <source><path>/dev/shm/nv0</path><alignsize unit='KiB'>2048</alignsize><pmem/></source>\n"
    "      <target><size unit='MiB'>128</size><label><size unit='KiB'>128</size></label></target>\n"
    "    </memory>\n"
    "    <memory model='virtio-pmem' access='shared'>\n"
    "      <source><path>/dev/shm/vp0</path></source>\n"
    "      <target><size>65536</size></target>\n"
    "    </memory>\n"
    "  </devices>\n"
    "</domain>\n";

static void test_good(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlDomain) d = vmctl_domain_parse(good_xml, -1, &err);
    VmctlDomainMemdev *m;

    g_assert_no_error(err);
    g_assert_cmpstr(d->name, ==, "g1");
    g_assert_cmpstr(d->type, ==, "qemu");
    g_assert_cmpuint(d->memory, ==, 256 * MiB);
    g_assert_cmpstr(d->backing_source, ==, "file");
    g_assert_cmpstr(d->backing_access, ==, "shared");
    g_assert_true(d->hugepages);
    g_assert_cmpuint(d->hugepage_size, ==, 2 * MiB);
    g_assert_cmpuint(d->memdevs->len, ==, 2);
    m = d->memdevs->pdata[0];
    g_assert_cmpstr(m->model, ==, "nvdimm");
    g_assert_cmpstr(m->access, ==, "shared");
    g_assert_cmpstr(m->path, ==, "/dev/shm/nv0");
    g_assert_cmpuint(m->size, ==, 128 * MiB); /* the label's size is not the device's */
    g_assert_cmpuint(m->alignsize, ==, 2 * MiB);
    g_assert_true(m->pmem);
    m = d->memdevs->pdata[1];
    g_assert_cmpstr(m->model, ==, "virtio-pmem");
    g_assert_cmpuint(m->size, ==, 64 * MiB); /* default unit KiB */
    g_assert_false(m->pmem);
}

static void test_bad(void)
{
    static const struct {
        const char *xml;
        const char *msg;
    } cases[] = {
        { "<domain><name>x</name>", "domain XML is malformed: " },
        { "<vm><name>x</name></vm>", "domain XML is malformed: root element 'vm' is not 'domain'" },
        { "<domain type='qemu'><memory>1</memory></domain>", "domain XML has no <name>" },
        { "<domain><name>x</name><memory unit='parsecs'>1</memory></domain>",
          "domain XML is malformed: <memory>: unit 'parsecs' is not a libvirt size unit" },
        { "<domain><name>x</name><memory>-5</memory></domain>",
          "domain XML is malformed: <memory>: value '-5' is not an unsigned integer" },
        { "\x01\x02garbage", "domain XML is malformed: " },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VmctlDomain) d = vmctl_domain_parse(cases[i].xml, -1, &err);

        g_assert_null(d);
        g_assert_nonnull(err);
        g_assert_true(g_str_has_prefix(err->message, cases[i].msg));
    }
}

static void test_scaled(void)
{
    uint64_t v;

    g_assert_true(vmctl_domain_scaled("4", "G", "KiB", &v, NULL));
    g_assert_cmpuint(v, ==, 4 * GiB);
    g_assert_true(vmctl_domain_scaled("1000", "KB", "KiB", &v, NULL));
    g_assert_cmpuint(v, ==, 1000000);
    g_assert_true(vmctl_domain_scaled(" 12 ", NULL, "KiB", &v, NULL));
    g_assert_cmpuint(v, ==, 12 * KiB);
    g_assert_false(vmctl_domain_scaled("99999999999999999", "TiB", "KiB", &v, NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/libvirt/domain/good", test_good);
    g_test_add_func("/vmctl/libvirt/domain/bad", test_bad);
    g_test_add_func("/vmctl/libvirt/domain/scaled", test_scaled);
    return g_test_run();
}
