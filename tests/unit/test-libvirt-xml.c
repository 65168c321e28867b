/* test-libvirt-xml.c: libvirt domain XML golden files
 * (tests/data/xml/CASE.json -> CASE.xml; VMCTL_REGENERATE=1 rewrites them,
 * review the diff), every error of vmctl_libvirt_xml(), and the templates
 * in libvirt-xml/: below its leading comment each one is the function's
 * output for its example spec (VMCTL_REGENERATE=1 rewrites their bodies
 * and keeps their leading comment).
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

/* Templates: below its leading comment, each file in libvirt-xml/ is the
 * XML of an example spec, as it stands (libvirt-xml/README.md gives the
 * `vmctl xml` command line of the same spec; tests/integration/libvirt-xml.sh
 * runs it and validates the files). */
typedef struct {
    const char *file;
    const char *spec;
    const char *serial;
} TemplateCase;

static const TemplateCase templates[] = {
    { "tiny.xml",
      "{\"name\": \"tiny1\", \"memory\": \"256M\", \"backend\": \"/var/tmp/tiny1.ram\","
      " \"tiny\": {\"rate\": 5000, \"ws\": 4096}}",
      "/var/log/vmctl/tiny1.log" },
    { "linux.xml",
      "{\"name\": \"linux1\", \"memory\": \"256M\", \"backend\": \"/var/tmp/linux1.ram\", \"kind\": \"linux\","
      " \"accel\": \"tcg\", \"linux\": {\"cmdline\": \"vmctl.rate=1000\"}}",
      "/var/log/vmctl/linux1.log" },
    { "nvdimm.xml",
      "{\"name\": \"nv1\", \"memory\": \"512M\", \"backend\": \"/var/tmp/nv1.ram\", \"kind\": \"linux\","
      " \"accel\": \"tcg\", \"nvdimm\": [{\"path\": \"/var/tmp/nv1.nvdimm\", \"size\": \"256M\"}],"
      " \"linux\": {\"cmdline\": \"vmctl.rate=1000\"}}",
      "/var/log/vmctl/nv1.log" },
    { "virtio-pmem.xml",
      "{\"name\": \"vp1\", \"memory\": \"512M\", \"backend\": \"/var/tmp/vp1.ram\", \"kind\": \"linux\","
      " \"accel\": \"tcg\", \"virtio-pmem\": [{\"path\": \"/var/tmp/vp1.pmem\", \"size\": \"256M\"}],"
      " \"linux\": {\"cmdline\": \"vmctl.rate=1000\"}}",
      "/var/log/vmctl/vp1.log" },
};

static void test_template(gconstpointer data)
{
    const TemplateCase *t = data;
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "..", "libvirt-xml", t->file, NULL);
    g_autoptr(json_object) j = json_tokener_parse(t->spec);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_from_json(j, &err);
    VmctlLibvirtXmlOpts opts = { EMULATOR, IMAGE_DIR, t->serial, NULL };
    g_autofree char *xml = NULL, *text = NULL;
    const char *body, *end;

    g_assert_no_error(err);
    xml = vmctl_libvirt_xml(spec, &opts, &err);
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    /* the leading comment says what the file is; the body follows it */
    end = strstr(text, "-->\n");
    g_assert_true(g_str_has_prefix(text, "<!--") && end);
    body = end + strlen("-->\n");
    if (vmctl_test_regenerate()) {
        g_autofree char *head = g_strndup(text, body - text);
        g_autofree char *whole = g_strconcat(head, xml, NULL);

        g_assert_true(g_file_set_contents(path, whole, -1, NULL));
        return;
    }
    g_assert_cmpstr(body, ==, xml);
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
