/* test-libvirt-xml.c: libvirt domain XML golden files
 * (tests/data/xml/CASE.json -> CASE.xml; VMCTL_REGENERATE=1 rewrites them,
 * review the diff), every error of vmctl_libvirt_xml(), and the templates
 * in libvirt-xml/: each one filled with its placeholder values must equal
 * the function's output for the same spec (VMCTL_REGENERATE=1 rewrites
 * their bodies and keeps their leading comment).
 *
 * A case file: {"spec": GUEST SPEC, "type": "kvm"|"qemu" (optional),
 * "serial": PATH (optional), "serial-socket": PATH (optional)}. */
#include "config.h"

#include "libvirt_xml.h"

#include <string.h>

#include "test-golden.h"

#define EMULATOR "/usr/bin/qemu-system-x86_64"
#define IMAGE_DIR "/usr/share/vmctl"

static char *xml_of(json_object *c, GError **error)
{
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_from_json(json_object_object_get(c, "spec"), error);
    VmctlLibvirtXmlOpts opts = {
        .emulator = EMULATOR,
        .image_dir = IMAGE_DIR,
        .serial_path = json_object_get_string(json_object_object_get(c, "serial")),
        .domain_type = json_object_get_string(json_object_object_get(c, "type")),
        .serial_socket = json_object_get_string(json_object_object_get(c, "serial-socket")),
    };

    if (!spec)
        return NULL;
    return vmctl_libvirt_xml(spec, &opts, error);
}

static void run_case(gconstpointer data)
{
    const char *name = data;
    g_autofree char *in = g_test_build_filename(G_TEST_DIST, "data", "xml", name, NULL);
    g_autofree char *base = g_strndup(in, strlen(in) - strlen(".json"));
    g_autofree char *golden = g_strdup_printf("%s.xml", base);
    g_autoptr(json_object) c = json_object_from_file(in);
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL, *want = NULL;

    g_assert_nonnull(c);
    text = xml_of(c, &err);
    g_assert_no_error(err);
    if (vmctl_test_regenerate()) {
        g_assert_true(g_file_set_contents(golden, text, -1, NULL));
        return;
    }
    g_assert_true(g_file_get_contents(golden, &want, NULL, NULL));
    g_assert_cmpstr(text, ==, want);
}

/* Every refusal: the spec (JSON), the domain type asked for, the message. */
static const struct {
    const char *path, *spec, *type, *message;
} errors[] = {
    { "devdax-ram", "{\"name\": \"g\", \"memory\": \"64M\", \"backend\": \"/dev/dax0.0\"}", NULL,
      "backend '/dev/dax0.0' of guest 'g' is a device: libvirt cannot place main RAM on a device (give it as "
      "--nvdimm)" },
    { "pmem-ram", "{\"name\": \"g\", \"memory\": \"64M\", \"backend\": \"/dev/pmem1\"}", NULL,
      "backend '/dev/pmem1' of guest 'g' is a device: libvirt cannot place main RAM on a device (give it as "
      "--nvdimm)" },
    { "memfd-option", "{\"name\": \"g\", \"memory\": \"64M\", \"backend\": \"memfd:huge\"}", NULL,
      "backend 'memfd:huge' of guest 'g' must be 'memfd', 'memfd:hugetlb' or 'memfd:hugetlb=SIZE'" },
    { "memfd-pagesize", "{\"name\": \"g\", \"memory\": \"64M\", \"backend\": \"memfd:hugetlb=2X\"}", NULL,
      "backend 'memfd:hugetlb=2X' of guest 'g' must be 'memfd', 'memfd:hugetlb' or 'memfd:hugetlb=SIZE'" },
    { "domain-type", "{\"name\": \"g\", \"memory\": \"64M\"}", "xen",
      "domain type 'xen' of guest 'g' must be 'kvm' or 'qemu'" },
    { "dirty-ring-tcg", "{\"name\": \"g\", \"memory\": \"64M\", \"dirty-ring\": 4096}", "qemu",
      "dirty-ring '4096' of guest 'g' needs domain type 'kvm', not 'qemu'" },
    { "dirty-ring-linux-auto", "{\"name\": \"g\", \"memory\": \"64M\", \"kind\": \"linux\", \"dirty-ring\": 4096}",
      NULL, "dirty-ring '4096' of guest 'g' needs domain type 'kvm', not 'qemu'" },
    { "spec-rule", "{\"name\": \"g\", \"memory\": \"63M\"}", NULL, "memory size '63M' must be a multiple of 2M" },
    { "device-path", "{\"name\": \"g\", \"memory\": \"64M\", \"nvdimm\": [{\"path\": \"nv0\", \"size\": \"2M\"}]}",
      NULL, "nvdimm path 'nv0' must be an absolute path" },
};

static void test_error(gconstpointer data)
{
    guint i = GPOINTER_TO_UINT(data);
    g_autoptr(json_object) j = json_tokener_parse(errors[i].spec);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_from_json(j, &err);
    VmctlLibvirtXmlOpts opts = { EMULATOR, IMAGE_DIR, NULL, errors[i].type };

    g_assert_no_error(err);
    g_assert_null(vmctl_libvirt_xml(spec, &opts, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    g_assert_cmpstr(err->message, ==, errors[i].message);
}

static void test_opts_paths(void)
{
    g_autoptr(json_object) j = json_tokener_parse("{\"name\": \"g\", \"memory\": \"64M\"}");
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_from_json(j, &err);
    VmctlLibvirtXmlOpts opts = { EMULATOR, "images", NULL, NULL };

    g_assert_null(vmctl_libvirt_xml(spec, &opts, &err));
    g_assert_cmpstr(err->message, ==, "image directory 'images' of guest 'g' must be an absolute path");
    g_clear_error(&err);
    opts = (VmctlLibvirtXmlOpts){ EMULATOR, IMAGE_DIR, "g.serial", NULL };
    g_assert_null(vmctl_libvirt_xml(spec, &opts, &err));
    g_assert_cmpstr(err->message, ==, "serial path 'g.serial' of guest 'g' must be an absolute path");
    g_clear_error(&err);
    opts = (VmctlLibvirtXmlOpts){ EMULATOR, IMAGE_DIR, NULL, NULL, "g.sock" };
    g_assert_null(vmctl_libvirt_xml(spec, &opts, &err));
    g_assert_cmpstr(err->message, ==, "serial socket 'g.sock' of guest 'g' must be an absolute path");
}

/* Strings from the spec reach the XML escaped: a path with markup in it
 * stays one text node, and "--" cannot end the comment early. */
static void test_escape(void)
{
    g_autoptr(json_object) j = json_tokener_parse(
        "{\"name\": \"g\", \"memory\": \"64M\", \"backend\": \"/var/tmp/a--b<c>&'\", \"kind\": \"linux\","
        " \"linux\": {\"cmdline\": \"x=<y> z='&'\"}}");
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_from_json(j, &err);
    VmctlLibvirtXmlOpts opts = { "/opt/q&a/qemu", IMAGE_DIR, "/tmp/s'<", NULL };
    g_autofree char *xml = vmctl_libvirt_xml(spec, &opts, &err);
    g_autoptr(GMarkupParseContext) ctx = NULL;
    static const GMarkupParser none = { 0 };

    g_assert_no_error(err);
    g_assert_nonnull(strstr(xml, "<cmdline>console=ttyS0 panic=-1 loglevel=3 no_timer_check pti=on x=&lt;y&gt; "
                                 "z=&apos;&amp;&apos;</cmdline>"));
    g_assert_nonnull(strstr(xml, "<emulator>/opt/q&amp;a/qemu</emulator>"));
    g_assert_nonnull(strstr(xml, "<source path='/tmp/s&apos;&lt;' append='on'/>"));
    g_assert_nonnull(strstr(xml, "backend '/var/tmp/a- -b<c>&''"));
    ctx = g_markup_parse_context_new(&none, 0, NULL, NULL);
    g_assert_true(g_markup_parse_context_parse(ctx, xml, -1, &err));
    g_assert_true(g_markup_parse_context_end_parse(ctx, &err));
    g_assert_no_error(err);
}

/* Templates: TEMPLATE filled with PAIRS (placeholder, value, ...) equals
 * the XML of SPEC. Values are chosen so that none occurs by accident in
 * the XML, which lets VMCTL_REGENERATE turn the output back into the
 * template. */
typedef struct {
    const char *file;
    const char *spec;
    const char *serial;
    const char *pairs[32];
} TemplateCase;

static const TemplateCase templates[] = {
    { "tiny.xml",
      "{\"name\": \"tmpl-name\", \"memory\": \"1234M\", \"backend\": \"/var/tmp/tmpl-ram\", \"kind\": \"tiny\","
      " \"accel\": \"kvm\", \"tiny\": {\"rate\": 777, \"seed\": 5, \"same\": 9, \"ws\": 4242}}",
      "/tmp/tmpl-serial",
      { "@NAME@", "tmpl-name", "<domain type='@TYPE@'>", "<domain type='kvm'>", "@MEMORY_MIB@", "1234",
        "@TINY_BIN@", IMAGE_DIR "/tiny.bin", "@PARAMS@", "rate=777 seed=5 same=9 ws=4242",
        "@SERIAL@", "/tmp/tmpl-serial", "@EMULATOR@", EMULATOR,
        "@RAM_PATH@", "/var/tmp/tmpl-ram", NULL } },
    { "linux.xml",
      "{\"name\": \"tmpl-name\", \"memory\": \"1234M\", \"backend\": \"/var/tmp/tmpl-ram\", \"kind\": \"linux\","
      " \"accel\": \"tcg\", \"vcpus\": 1, \"linux\": {\"cmdline\": \"tmpl.extra=1\"}}",
      "/tmp/tmpl-serial",
      { "@NAME@", "tmpl-name", "<domain type='@TYPE@'>", "<domain type='qemu'>", "@MEMORY_MIB@", "1234",
        "@KERNEL@", IMAGE_DIR "/vmlinuz", "@INITRD@", IMAGE_DIR "/initramfs.cpio.zst",
        "@CMDLINE_EXTRA@", "tmpl.extra=1", "@SERIAL@", "/tmp/tmpl-serial", "@EMULATOR@", EMULATOR,
        "@RAM_PATH@", "/var/tmp/tmpl-ram", NULL } },
    { "nvdimm.xml",
      "{\"name\": \"tmpl-name\", \"memory\": \"1234M\", \"backend\": \"/var/tmp/tmpl-ram\", \"kind\": \"linux\","
      " \"accel\": \"tcg\", \"nvdimm\": [{\"path\": \"/var/tmp/tmpl-nv\", \"size\": \"66M\"}],"
      " \"linux\": {\"cmdline\": \"tmpl.extra=1\"}}",
      "/tmp/tmpl-serial",
      { "@NAME@", "tmpl-name", "<domain type='@TYPE@'>", "<domain type='qemu'>", "@MEMORY_MIB@", "1300",
        "@RAM_MIB@", "1234", "@NV_PATH@", "/var/tmp/tmpl-nv", "@NV_MIB@", "66", "@OS_EXTRA@",
        "<kernel>" IMAGE_DIR "/vmlinuz</kernel>\n    <initrd>" IMAGE_DIR
        "/initramfs.cpio.zst</initrd>\n    <cmdline>console=ttyS0 panic=-1 loglevel=3 no_timer_check pti=on "
        "tmpl.extra=1</cmdline>",
        "@SERIAL@", "/tmp/tmpl-serial", "@EMULATOR@", EMULATOR, "@RAM_PATH@", "/var/tmp/tmpl-ram", NULL } },
    { "virtio-pmem.xml",
      "{\"name\": \"tmpl-name\", \"memory\": \"1234M\", \"backend\": \"/var/tmp/tmpl-ram\", \"kind\": \"linux\","
      " \"accel\": \"tcg\", \"virtio-pmem\": [{\"path\": \"/var/tmp/tmpl-vp\", \"size\": \"66M\"}],"
      " \"linux\": {\"cmdline\": \"tmpl.extra=1\"}}",
      "/tmp/tmpl-serial",
      { "@NAME@", "tmpl-name", "<domain type='@TYPE@'>", "<domain type='qemu'>", "@MEMORY_MIB@", "1300",
        "@RAM_MIB@", "1234", "@VP_PATH@", "/var/tmp/tmpl-vp", "@VP_MIB@", "66",
        "@KERNEL@", IMAGE_DIR "/vmlinuz", "@INITRD@", IMAGE_DIR "/initramfs.cpio.zst",
        "@CMDLINE_EXTRA@", "tmpl.extra=1", "@SERIAL@", "/tmp/tmpl-serial", "@EMULATOR@", EMULATOR,
        "@RAM_PATH@", "/var/tmp/tmpl-ram", NULL } },
};

static char *replace_all(const char *s, const char *from, const char *to)
{
    g_auto(GStrv) parts = g_strsplit(s, from, -1);
    return g_strjoinv(to, parts);
}

static gint cmp_value_len(gconstpointer a, gconstpointer b)
{
    const char *const *pa = *(const char *const *const *)a;
    const char *const *pb = *(const char *const *const *)b;

    return (gint)strlen(pb[1]) - (gint)strlen(pa[1]);
}

static void test_template(gconstpointer data)
{
    const TemplateCase *t = data;
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "..", "libvirt-xml", t->file, NULL);
    g_autoptr(json_object) j = json_tokener_parse(t->spec);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_from_json(j, &err);
    VmctlLibvirtXmlOpts opts = { EMULATOR, IMAGE_DIR, t->serial, NULL };
    g_autofree char *xml = NULL, *text = NULL, *filled = NULL;
    const char *body, *end;

    g_assert_no_error(err);
    xml = vmctl_libvirt_xml(spec, &opts, &err);
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    /* the leading comment lists the placeholders; the body follows it */
    end = strstr(text, "-->\n");
    g_assert_true(g_str_has_prefix(text, "<!--") && end);
    body = end + strlen("-->\n");
    if (vmctl_test_regenerate()) {
        g_autofree char *out = g_strdup(xml);
        g_autofree char *head = g_strndup(text, body - text);
        g_autofree char *whole = NULL;

        /* longest value first: a value inside a longer one stays there */
        g_autoptr(GPtrArray) order = g_ptr_array_new();
        for (guint i = 0; t->pairs[i]; i += 2)
            g_ptr_array_add(order, (gpointer)&t->pairs[i]);
        g_ptr_array_sort(order, cmp_value_len);
        for (guint i = 0; i < order->len; i++) {
            const char *const *pair = order->pdata[i];
            char *next = replace_all(out, pair[1], pair[0]);
            g_free(out);
            out = next;
        }
        whole = g_strconcat(head, out, NULL);
        g_assert_true(g_file_set_contents(path, whole, -1, NULL));
        return;
    }
    filled = g_strdup(body);
    for (guint i = 0; t->pairs[i]; i += 2) {
        char *next = replace_all(filled, t->pairs[i], t->pairs[i + 1]);
        g_free(filled);
        filled = next;
    }
    g_assert_cmpstr(filled, ==, xml);
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;

    g_test_init(&argc, &argv, NULL);
    names = vmctl_test_add_goldens("xml", "/vmctl/libvirt-xml/golden", run_case);
    for (guint i = 0; i < G_N_ELEMENTS(errors); i++) {
        g_autofree char *path = g_strdup_printf("/vmctl/libvirt-xml/error/%s", errors[i].path);
        g_test_add_data_func(path, GUINT_TO_POINTER(i), test_error);
    }
    g_test_add_func("/vmctl/libvirt-xml/error/opts-paths", test_opts_paths);
    g_test_add_func("/vmctl/libvirt-xml/escape", test_escape);
    for (guint i = 0; i < G_N_ELEMENTS(templates); i++) {
        g_autofree char *path = g_strdup_printf("/vmctl/libvirt-xml/template/%s", templates[i].file);
        g_test_add_data_func(path, &templates[i], test_template);
    }
    return g_test_run();
}
