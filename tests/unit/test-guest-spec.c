/* test-guest-spec.c: the guest spec's JSON form and rules. Every rule is
 * shown once accepted at its edge and once refused with its exact message;
 * the JSON form is checked against golden files (tests/data/spec/NAME.json
 * from NAME.in.json; VMCTL_REGENERATE=1 rewrites them for review). */
#include "config.h"

#include "guest_spec.h"
#include "util.h"

#include <string.h>
#include "test-golden.h"

#define MAX_VCPUS 8 /* limit used unless a case says otherwise (TCG here) */

static VmctlGuestSpec *parse(const char *text, GError **error)
{
    g_autoptr(json_object) json = json_tokener_parse(text);

    g_assert_nonnull(json);
    return vmctl_guest_spec_from_json(json, error);
}

static char *to_text(const VmctlGuestSpec *spec)
{
    g_autoptr(json_object) json = vmctl_guest_spec_to_json(spec);

    return g_strconcat(json_object_to_json_string_ext(json, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE),
                       "\n", NULL);
}

static void test_defaults(void)
{
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_new();
    g_autoptr(GError) err = NULL;

    g_assert_cmpstr(spec->backend, ==, "anonymous");
    g_assert_cmpint(spec->kind, ==, VMCTL_GUEST_TINY);
    g_assert_cmpint(spec->accel, ==, VMCTL_ACCEL_AUTO);
    g_assert_cmpuint(spec->vcpus, ==, 1);
    g_assert_true(spec->mem_merge);
    g_assert_cmpuint(spec->tiny.seed, ==, 1);
    /* name and memory have no defaults */
    g_assert_false(vmctl_guest_spec_validate(spec, MAX_VCPUS, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    g_assert_cmpstr(err->message, ==, "guest name '' must match [A-Za-z0-9._-]{1,64}");
    g_clear_error(&err);
    spec->name = g_strdup("g");
    g_assert_false(vmctl_guest_spec_validate(spec, MAX_VCPUS, &err));
    g_assert_cmpstr(err->message, ==, "memory size '0' must be at least 16M");
    g_clear_error(&err);
    spec->memory = 16 * MiB;
    g_assert_true(vmctl_guest_spec_validate(spec, MAX_VCPUS, &err));
    g_assert_no_error(err);
}

static void test_golden(void)
{
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "spec", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;
    int cases = 0;

    g_assert_nonnull(d);
    while ((entry = g_dir_read_name(d))) {
        g_autofree char *in_path = NULL, *gold_path = NULL, *in = NULL, *gold = NULL;
        g_autofree char *out = NULL, *again = NULL, *base = NULL;
        g_autoptr(VmctlGuestSpec) spec = NULL, back = NULL;
        g_autoptr(GError) err = NULL;

        if (!g_str_has_suffix(entry, ".in.json"))
            continue;
        base = g_strndup(entry, strlen(entry) - strlen(".in.json"));
        in_path = g_build_filename(dir, entry, NULL);
        gold_path = g_strdup_printf("%s/%s.json", dir, base);
        g_test_message("spec %s", base);
        g_assert_true(g_file_get_contents(in_path, &in, NULL, NULL));
        spec = parse(in, &err);
        g_assert_no_error(err);
        g_assert_true(vmctl_guest_spec_validate(spec, MAX_VCPUS, &err));
        g_assert_no_error(err);
        out = to_text(spec);
        if (vmctl_test_regenerate())
            g_assert_true(g_file_set_contents(gold_path, out, -1, NULL));
        g_assert_true(g_file_get_contents(gold_path, &gold, NULL, NULL));
        g_assert_cmpstr(out, ==, gold);
        /* the written form reads back to the same spec */
        back = parse(gold, &err);
        g_assert_no_error(err);
        again = to_text(back);
        g_assert_cmpstr(again, ==, gold);
        {
            g_autoptr(VmctlGuestSpec) copy = vmctl_guest_spec_copy(spec);
            g_autofree char *copied = to_text(copy);
            g_assert_cmpstr(copied, ==, gold);
        }
        cases++;
    }
    g_assert_cmpint(cases, ==, 4);
}

/* A valid base, one member replaced by each case. */
#define BASE_TINY "\"name\": \"g\", \"memory\": \"64M\""

static void test_json_refused(void)
{
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        { "[]", "guest spec must be a JSON object" },
        { "{\"memory\": \"64M\"}", "member 'name' is missing" },
        { "{\"name\": \"g\"}", "member 'memory' is missing" },
        { "{" BASE_TINY ", \"colour\": \"red\"}", "member 'colour' is not a guest spec member" },
        { "{\"name\": 5, \"memory\": \"64M\"}", "member 'name' must be a string" },
        { "{\"name\": \"g\", \"memory\": \"lots\"}", "member 'memory' must be a size string like '512M'" },
        { "{\"name\": \"g\", \"memory\": -1}", "member 'memory' must be a size string like '512M'" },
        { "{\"name\": \"g\", \"memory\": 1.5}", "member 'memory' must be a size string like '512M'" },
        { "{\"name\": \"g\", \"memory\": true}", "member 'memory' must be a size string like '512M'" },
        { "{" BASE_TINY ", \"backend\": null}", "member 'backend' must be a string" },
        { "{" BASE_TINY ", \"kind\": \"windows\"}", "member 'kind' must be 'tiny' or 'linux'" },
        { "{" BASE_TINY ", \"accel\": \"hvf\"}", "member 'accel' must be 'auto', 'kvm' or 'tcg'" },
        { "{" BASE_TINY ", \"vcpus\": \"2\"}", "member 'vcpus' must be an integer" },
        { "{" BASE_TINY ", \"vcpus\": -2}", "member 'vcpus' must not be negative" },
        { "{" BASE_TINY ", \"vcpus\": 4294967296}", "member 'vcpus' must be at most 4294967295" },
        { "{" BASE_TINY ", \"mem-merge\": \"on\"}", "member 'mem-merge' must be true or false" },
        { "{" BASE_TINY ", \"dirty-ring\": 1.0}", "member 'dirty-ring' must be an integer" },
        { "{" BASE_TINY ", \"nvdimm\": \"/x,1G\"}", "member 'nvdimm' must be a list of {\"path\", \"size\"} objects" },
        { "{" BASE_TINY ", \"nvdimm\": [\"/x,1G\"]}", "member 'nvdimm[0]' must be a {\"path\", \"size\"} object" },
        { "{" BASE_TINY ", \"virtio-pmem\": [{\"path\": \"/x\"}]}", "member 'virtio-pmem[0].size' is missing" },
        { "{" BASE_TINY ", \"virtio-pmem\": [{\"size\": \"2M\"}]}", "member 'virtio-pmem[0].path' is missing" },
        { "{" BASE_TINY ", \"nvdimm\": [{\"path\": \"/x\", \"size\": \"2M\"}, {\"path\": \"/y\", \"size\": \"big\"}]}",
          "member 'nvdimm[1].size' must be a size string like '1G'" },
        { "{" BASE_TINY ", \"nvdimm\": [{\"path\": \"/x\", \"size\": \"2M\", \"label\": 1}]}",
          "member 'nvdimm[0].label' is not a guest spec member" },
        { "{" BASE_TINY ", \"tiny\": []}", "member 'tiny' must be an object" },
        { "{" BASE_TINY ", \"tiny\": {\"rate\": \"fast\"}}", "member 'tiny.rate' must be an integer" },
        { "{" BASE_TINY ", \"tiny\": {\"same\": 4294967296}}", "member 'tiny.same' must be at most 4294967295" },
        { "{" BASE_TINY ", \"tiny\": {\"pages\": 1}}", "member 'tiny.pages' is not a guest spec member" },
        { "{" BASE_TINY ", \"linux\": {\"cmdline\": \"quiet\"}}", "member 'linux' applies to kind 'linux' only" },
        { "{" BASE_TINY ", \"kind\": \"linux\", \"tiny\": {}}", "member 'tiny' applies to kind 'tiny' only" },
        { "{" BASE_TINY ", \"kind\": \"linux\", \"linux\": {\"cmdline\": 1}}", "member 'linux.cmdline' must be a string" },
        { "{" BASE_TINY ", \"kind\": \"linux\", \"linux\": {\"initrd\": \"x\"}}",
          "member 'linux.initrd' is not a guest spec member" },
        { "{" BASE_TINY ", \"kind\": \"linux\", \"linux\": 1}", "member 'linux' must be an object" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VmctlGuestSpec) spec = NULL;

        g_test_message("json %s", cases[i].json);
        spec = parse(cases[i].json, &err);
        g_assert_null(spec);
        g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
        g_assert_cmpstr(err->message, ==, cases[i].msg);
    }
}

typedef struct {
    const char *json;  /* members added to BASE_TINY */
    unsigned max_vcpus;
    const char *msg;   /* NULL: accepted */
} RuleCase;

static void run_rules(const RuleCase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_autofree char *text = g_strdup_printf("{\"name\": \"g\", \"memory\": \"64M\"%s%s}",
                                                cases[i].json[0] ? ", " : "", cases[i].json);
        g_autoptr(GError) err = NULL;
        g_autoptr(VmctlGuestSpec) spec = NULL;
        bool ok;

        g_test_message("rule %s (max vcpus %u)", text, cases[i].max_vcpus);
        spec = parse(text, &err);
        g_assert_no_error(err);
        ok = vmctl_guest_spec_validate(spec, cases[i].max_vcpus, &err);
        if (!cases[i].msg) {
            g_assert_no_error(err);
            g_assert_true(ok);
        } else {
            g_assert_false(ok);
            g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
            g_assert_cmpstr(err->message, ==, cases[i].msg);
        }
    }
}

static void test_rules_name(void)
{
    static const RuleCase cases[] = {
        { "\"name\": \"A-Za_z.0-9\"", 1, NULL },
        { "\"name\": \"a234567890123456789012345678901234567890123456789012345678901234\"", 1, NULL },
        { "\"name\": \"a2345678901234567890123456789012345678901234567890123456789012345\"", 1,
          "guest name 'a2345678901234567890123456789012345678901234567890123456789012345' must match "
          "[A-Za-z0-9._-]{1,64}" },
        { "\"name\": \"a/b\"", 1, "guest name 'a/b' must match [A-Za-z0-9._-]{1,64}" },
        { "\"name\": \"\"", 1, "guest name '' must match [A-Za-z0-9._-]{1,64}" },
        { "\"name\": \"a b\"", 1, "guest name 'a b' must match [A-Za-z0-9._-]{1,64}" },
        { "\"name\": \"..\"", 1, "guest name '..' must not start with '.' or '-'" },
        { "\"name\": \".hidden\"", 1, "guest name '.hidden' must not start with '.' or '-'" },
        { "\"name\": \"g\\u00e9\"", 1, "guest name 'g\xc3\xa9' must match [A-Za-z0-9._-]{1,64}" },
    };

    run_rules(cases, G_N_ELEMENTS(cases));
}

static void test_rules_memory(void)
{
    static const RuleCase cases[] = {
        { "\"memory\": \"16M\"", 1, NULL },
        { "\"memory\": 16777216", 1, NULL },
        { "\"memory\": \"1T\"", 1, NULL },
        { "\"memory\": \"14M\"", 1, "memory size '14M' must be at least 16M" },
        { "\"memory\": \"0\"", 1, "memory size '0' must be at least 16M" },
        { "\"memory\": \"17M\"", 1, "memory size '17M' must be a multiple of 2M" },
        { "\"memory\": 16781312", 1, "memory size '16388K' must be a multiple of 2M" },
        { "\"backend\": \"\"", 1, "backend '' must name a backing: 'anonymous', 'memfd' or a path" },
        { "\"backend\": \"memfd:hugetlb\"", 1, NULL }, /* judged by the backend probe */
    };

    run_rules(cases, G_N_ELEMENTS(cases));
}

static void test_rules_vcpus(void)
{
    static const RuleCase cases[] = {
        { "\"vcpus\": 1", 1, NULL },
        { "\"vcpus\": 2, \"accel\": \"kvm\"", 2, NULL },
        { "\"vcpus\": 3, \"accel\": \"kvm\"", 2, "vcpus '3' must be between 1 and 2" },
        { "\"vcpus\": 8, \"accel\": \"tcg\"", 8, NULL },
        { "\"vcpus\": 9, \"accel\": \"tcg\"", 8, "vcpus '9' must be between 1 and 8" },
        { "\"vcpus\": 0", 8, "vcpus '0' must be between 1 and 8" },
    };

    run_rules(cases, G_N_ELEMENTS(cases));
}

static void test_rules_dirty_ring(void)
{
    static const RuleCase cases[] = {
        { "\"dirty-ring\": 0", 1, NULL },
        { "\"dirty-ring\": 1024", 1, NULL },
        { "\"dirty-ring\": 65536, \"accel\": \"kvm\"", 1, NULL },
        { "\"dirty-ring\": 512", 1, "dirty-ring '512' must be 0 or a power of two from 1024 to 65536" },
        { "\"dirty-ring\": 131072", 1, "dirty-ring '131072' must be 0 or a power of two from 1024 to 65536" },
        { "\"dirty-ring\": 3000", 1, "dirty-ring '3000' must be 0 or a power of two from 1024 to 65536" },
        { "\"dirty-ring\": 4096, \"accel\": \"tcg\"", 1, "dirty-ring '4096' needs accel 'kvm' or 'auto', not 'tcg'" },
    };

    run_rules(cases, G_N_ELEMENTS(cases));
}

static void test_rules_devices(void)
{
    static const RuleCase cases[] = {
        { "\"nvdimm\": [{\"path\": \"/pmem/a\", \"size\": \"2M\"}], "
          "\"virtio-pmem\": [{\"path\": \"/pmem/b\", \"size\": \"1G\"}]",
          1, NULL },
        { "\"nvdimm\": [{\"path\": \"pmem/a\", \"size\": \"2M\"}]", 1, "nvdimm path 'pmem/a' must be an absolute path" },
        { "\"nvdimm\": [{\"path\": \"\", \"size\": \"2M\"}]", 1, "nvdimm path '' must be an absolute path" },
        { "\"virtio-pmem\": [{\"path\": \"/pmem/b\", \"size\": \"3M\"}]", 1,
          "virtio-pmem size '3M' of '/pmem/b' must be a non-zero multiple of 2M" },
        { "\"virtio-pmem\": [{\"path\": \"/pmem/b\", \"size\": 0}]", 1,
          "virtio-pmem size '0' of '/pmem/b' must be a non-zero multiple of 2M" },
        { "\"nvdimm\": [{\"path\": \"/pmem/a\", \"size\": \"2M\"}], "
          "\"virtio-pmem\": [{\"path\": \"/pmem/a\", \"size\": \"2M\"}]",
          1, "virtio-pmem path '/pmem/a' is used by another device or the guest memory" },
        { "\"backend\": \"/pmem/a\", \"nvdimm\": [{\"path\": \"/pmem/a\", \"size\": \"2M\"}]", 1,
          "nvdimm path '/pmem/a' is used by another device or the guest memory" },
        { "\"nvdimm\": [{\"path\": \"/1\", \"size\": \"2M\"}, {\"path\": \"/2\", \"size\": \"2M\"}, "
          "{\"path\": \"/3\", \"size\": \"2M\"}, {\"path\": \"/4\", \"size\": \"2M\"}, "
          "{\"path\": \"/5\", \"size\": \"2M\"}, {\"path\": \"/6\", \"size\": \"2M\"}, "
          "{\"path\": \"/7\", \"size\": \"2M\"}, {\"path\": \"/8\", \"size\": \"2M\"}, "
          "{\"path\": \"/9\", \"size\": \"2M\"}]",
          1, "nvdimm devices '9' must be at most 8" },
    };

    run_rules(cases, G_N_ELEMENTS(cases));
}

static void test_rules_guest(void)
{
    static const RuleCase cases[] = {
        { "\"tiny\": {\"rate\": 1000000000, \"same\": 1000, \"ws\": 16384, \"seed\": 0}", 1, NULL },
        { "\"mem-merge\": false", 1, NULL },
        { "\"tiny\": {\"rate\": 1000000001}", 1, "tiny rate '1000000001' must be at most 1000000000 pages/s" },
        { "\"tiny\": {\"same\": 1001}", 1, "tiny same '1001' must be at most 1000 (per mille)" },
        { "\"tiny\": {\"ws\": 16385}", 1, "tiny ws '16385' must be at most the 16384 pages of memory size '64M'" },
        { "\"kind\": \"linux\", \"linux\": {\"cmdline\": \"vmctl.pmem=fsdax pti=on\"}", 1, NULL },
        { "\"kind\": \"linux\", \"linux\": {\"cmdline\": \"a\\nb\"}", 1,
          "linux cmdline 'a\\nb' must be printable ASCII on one line" },
    };
    g_autofree char *long_cmdline = g_strnfill(VMCTL_GUEST_CMDLINE_MAX + 1, 'x');
    g_autofree char *max_cmdline = g_strnfill(VMCTL_GUEST_CMDLINE_MAX, 'x');
    g_autofree char *long_json = g_strdup_printf("\"kind\": \"linux\", \"linux\": {\"cmdline\": \"%s\"}", long_cmdline);
    g_autofree char *max_json = g_strdup_printf("\"kind\": \"linux\", \"linux\": {\"cmdline\": \"%s\"}", max_cmdline);
    const RuleCase lengths[] = {
        { max_json, 1, NULL },
        { long_json, 1, "linux cmdline of 1025 bytes must be at most 1024 bytes" },
    };

    run_rules(cases, G_N_ELEMENTS(cases));
    run_rules(lengths, G_N_ELEMENTS(lengths));
}

static void test_device_arg(void)
{
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_new();
    static const char *const bad[] = { "/mnt/pmem/nv0", "/mnt/pmem/nv0,", ",1G", "/mnt/pmem/nv0,lots",
                                       "/mnt/pmem/nv0,0" };
    g_autoptr(GError) err = NULL;

    g_assert_true(vmctl_guest_spec_add_device(spec, "nvdimm", "/mnt/pmem/nv0,1G", &err));
    g_assert_true(vmctl_guest_spec_add_device(spec, "virtio-pmem", "/mnt/a,b/vp0,64M", &err));
    g_assert_no_error(err);
    g_assert_cmpuint(spec->nvdimm->len, ==, 1);
    g_assert_cmpstr(g_array_index(spec->nvdimm, VmctlGuestDevice, 0).path, ==, "/mnt/pmem/nv0");
    g_assert_cmpuint(g_array_index(spec->nvdimm, VmctlGuestDevice, 0).size, ==, GiB);
    g_assert_cmpstr(g_array_index(spec->virtio_pmem, VmctlGuestDevice, 0).path, ==, "/mnt/a,b/vp0");
    g_assert_cmpuint(g_array_index(spec->virtio_pmem, VmctlGuestDevice, 0).size, ==, 64 * MiB);
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *want = g_strdup_printf("nvdimm '%s' must be PATH,SIZE like '/mnt/pmem/nv0,1G'", bad[i]);

        g_assert_false(vmctl_guest_spec_add_device(spec, "nvdimm", bad[i], &err));
        g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
        g_assert_cmpstr(err->message, ==, want);
        g_clear_error(&err);
    }
    g_assert_cmpuint(spec->nvdimm->len, ==, 1);
}

static void test_names(void)
{
    VmctlGuestKind kind;
    VmctlAccel accel;

    g_assert_true(vmctl_guest_kind_from_name("linux", &kind));
    g_assert_cmpint(kind, ==, VMCTL_GUEST_LINUX);
    g_assert_false(vmctl_guest_kind_from_name("Linux", &kind));
    g_assert_true(vmctl_accel_from_name("tcg", &accel));
    g_assert_cmpint(accel, ==, VMCTL_ACCEL_TCG);
    g_assert_false(vmctl_accel_from_name(NULL, &accel));
    g_assert_cmpstr(vmctl_accel_name(VMCTL_ACCEL_KVM), ==, "kvm");
    g_assert_cmpstr(vmctl_guest_kind_name(VMCTL_GUEST_TINY), ==, "tiny");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/guest-spec/defaults", test_defaults);
    g_test_add_func("/vmctl/guest-spec/names", test_names);
    g_test_add_func("/vmctl/guest-spec/json/golden", test_golden);
    g_test_add_func("/vmctl/guest-spec/json/refused", test_json_refused);
    g_test_add_func("/vmctl/guest-spec/rules/name", test_rules_name);
    g_test_add_func("/vmctl/guest-spec/rules/memory", test_rules_memory);
    g_test_add_func("/vmctl/guest-spec/rules/vcpus", test_rules_vcpus);
    g_test_add_func("/vmctl/guest-spec/rules/dirty-ring", test_rules_dirty_ring);
    g_test_add_func("/vmctl/guest-spec/rules/devices", test_rules_devices);
    g_test_add_func("/vmctl/guest-spec/rules/guest", test_rules_guest);
    g_test_add_func("/vmctl/guest-spec/device-arg", test_device_arg);
    return g_test_run();
}
