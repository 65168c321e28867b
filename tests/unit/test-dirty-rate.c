/* test-dirty-rate.c: the mode decision table of `vmctl dirty-rate` (QEMU
 * version x accelerator x dirty ring x requested mode), the schema probe and
 * the parsing of query-dirty-rate replies recorded from QEMU 7.2
 * (tests/data/dirty-rate); the mechanism decision of `vmctl wss` (DAX
 * backings included, which this host does not have) and its DAMON sysfs
 * sequence against a fake sysfs tree. */
#include "config.h"

#include "test-env.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirty_rate.h"
#include "wss.h"

#define ALL_MODES ((1u << VMCTL_DIRTY_RATE_PAGE_SAMPLING) | (1u << VMCTL_DIRTY_RATE_DIRTY_BITMAP) | \
                   (1u << VMCTL_DIRTY_RATE_DIRTY_RING))

struct row {
    int major, minor;
    bool kvm;
    unsigned ring;
    bool mode_arg;
    const char *requested;
    const char *chosen; /* NULL: refused */
    const char *message; /* substring of the refusal */
};

static const struct row rows[] = {
    /* KVM: all three, the ring decides between bitmap and ring */
    { 7, 2, true, 0, true, "auto", "dirty-bitmap", NULL },
    { 7, 2, true, 4096, true, "auto", "dirty-ring", NULL },
    { 7, 2, true, 0, true, "page-sampling", "page-sampling", NULL },
    { 7, 2, true, 4096, true, "page-sampling", "page-sampling", NULL },
    { 7, 2, true, 0, true, "dirty-bitmap", "dirty-bitmap", NULL },
    { 7, 2, true, 4096, true, "dirty-ring", "dirty-ring", NULL },
    { 7, 2, true, 4096, true, "dirty-bitmap", NULL, "mode 'dirty-bitmap' is refused by QEMU for a guest with a dirty ring (--dirty-ring 4096)" },
    { 7, 2, true, 0, true, "dirty-ring", NULL, "mode 'dirty-ring' needs a guest launched with --dirty-ring N" },
    /* TCG before 9.1 (7.2 here): the KVM-only modes crash QEMU */
    { 7, 2, false, 0, true, "auto", "page-sampling", NULL },
    { 7, 2, false, 0, true, "page-sampling", "page-sampling", NULL },
    { 7, 2, false, 0, true, "dirty-bitmap", NULL,
      "mode 'dirty-bitmap' crashes QEMU 7.2.0 under TCG (NULL kvm_state, known bug 'tcg-calc-dirty-rate-crash'): use 'page-sampling'" },
    { 7, 2, false, 0, true, "dirty-ring", NULL, "mode 'dirty-ring' crashes QEMU 7.2.0 under TCG" },
    { 9, 0, false, 0, true, "dirty-ring", NULL, "mode 'dirty-ring' crashes QEMU 9.0.0 under TCG" },
    /* TCG from 9.1 on: no crash, but no KVM dirty log to count pages with */
    { 9, 1, false, 0, true, "dirty-ring", NULL,
      "mode 'dirty-ring' needs KVM dirty logging and the guest runs under TCG: use 'page-sampling'" },
    { 10, 0, false, 0, true, "dirty-bitmap", NULL,
      "mode 'dirty-bitmap' needs KVM dirty logging and the guest runs under TCG: use 'page-sampling'" },
    { 10, 0, false, 0, true, "auto", "page-sampling", NULL },
    /* QEMU without the 'mode' argument (before 6.2): sampling only */
    { 6, 0, true, 0, false, "auto", "page-sampling", NULL },
    { 6, 0, true, 0, false, "dirty-bitmap", NULL, "mode 'dirty-bitmap' is not offered by QEMU 6.0.0 (calc-dirty-rate has no 'mode' argument)" },
};

static void test_decision_table(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        const struct row *r = &rows[i];
        VmctlDirtyRateCaps caps = {
            .qemu = { r->major, r->minor, 0 },
            .kvm = r->kvm,
            .ring_entries = r->ring,
            .has_command = true,
            .has_mode_arg = r->mode_arg,
            .modes = r->mode_arg ? ALL_MODES : (1u << VMCTL_DIRTY_RATE_PAGE_SAMPLING),
        };
        VmctlDirtyRateMode req, chosen = VMCTL_DIRTY_RATE_AUTO;
        g_autoptr(GError) err = NULL;
        bool ok;

        g_assert_true(vmctl_dirty_rate_mode_from_name(r->requested, &req));
        ok = vmctl_dirty_rate_choose(&caps, req, &chosen, &err);
        if (g_test_verbose())
            g_test_message("row %zu: %d.%d %s ring %u %s -> %s", i, r->major, r->minor, r->kvm ? "kvm" : "tcg", r->ring,
                           r->requested, ok ? vmctl_dirty_rate_mode_name(chosen) : err->message);
        if (r->chosen) {
            g_assert_no_error(err);
            g_assert_true(ok);
            g_assert_cmpstr(vmctl_dirty_rate_mode_name(chosen), ==, r->chosen);
        } else {
            g_assert_false(ok);
            g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED);
            g_assert_nonnull(strstr(err->message, r->message));
            g_assert_null(strchr(err->message, '\n'));
        }
    }
}

/* A schema that lists only page-sampling in the enum: auto under KVM must
 * not pick a mode the enum lacks. */
static void test_decision_enum(void)
{
    VmctlDirtyRateCaps caps = { .qemu = { 7, 2, 0 }, .kvm = true, .has_command = true, .has_mode_arg = true,
                                .modes = 1u << VMCTL_DIRTY_RATE_PAGE_SAMPLING };
    VmctlDirtyRateMode m;
    g_autoptr(GError) err = NULL;

    g_assert_true(vmctl_dirty_rate_choose(&caps, VMCTL_DIRTY_RATE_AUTO, &m, &err));
    g_assert_cmpint(m, ==, VMCTL_DIRTY_RATE_PAGE_SAMPLING);
    g_assert_false(vmctl_dirty_rate_choose(&caps, VMCTL_DIRTY_RATE_DIRTY_BITMAP, &m, &err));
    g_assert_cmpstr(err->message, ==, "mode 'dirty-bitmap' is not offered by QEMU 7.2.0 (calc-dirty-rate lists other modes)");
    caps.has_command = false;
    g_clear_error(&err);
    g_assert_false(vmctl_dirty_rate_choose(&caps, VMCTL_DIRTY_RATE_AUTO, &m, &err));
    g_assert_cmpstr(err->message, ==, "QEMU 7.2.0 has no QMP command 'calc-dirty-rate'");
}

static json_object *load(const char *name)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "dirty-rate", name, NULL);
    json_object *o = json_object_from_file(path);

    g_assert_nonnull(o);
    return o;
}

static void test_schema(void)
{
    VmctlDirtyRateCaps caps = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) full = load("schema-7.2.json"), nomode = load("schema-no-mode.json"),
                           nocmd = load("schema-no-command.json");

    g_assert_true(vmctl_dirty_rate_caps_from_schema(&caps, full, &err));
    g_assert_true(caps.has_command);
    g_assert_true(caps.has_mode_arg);
    g_assert_cmpuint(caps.modes, ==, ALL_MODES);
    g_assert_true(vmctl_dirty_rate_caps_from_schema(&caps, nomode, &err));
    g_assert_true(caps.has_command);
    g_assert_false(caps.has_mode_arg);
    g_assert_cmpuint(caps.modes, ==, 1u << VMCTL_DIRTY_RATE_PAGE_SAMPLING);
    g_assert_true(vmctl_dirty_rate_caps_from_schema(&caps, nocmd, &err));
    g_assert_false(caps.has_command);
    g_assert_cmpuint(caps.modes, ==, 0);
}

static void test_parse_recorded(void)
{
    struct {
        const char *file, *status, *mode;
        bool has_rate;
        int64_t mbps, calc, sample;
        unsigned vcpus;
        uint64_t pages;
    } cases[] = {
        { "unstarted.json", "unstarted", "page-sampling", false, 0, 0, 0, 0, 0 },
        { "measuring.json", "measuring", "page-sampling", false, 0, 2, 512, 0, 0 },
        { "page-sampling.json", "measured", "page-sampling", true, 34, 2, 512, 0, 8704 },
        { "dirty-bitmap.json", "measured", "dirty-bitmap", true, 32, 2, 0, 0, 8192 },
        { "dirty-ring.json", "measured", "dirty-ring", true, 78, 2, 0, 1, 19968 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_object) o = load(cases[i].file);
        g_autoptr(GError) err = NULL;
        g_autoptr(VmctlDirtyRate) r = vmctl_dirty_rate_parse(o, &err);
        g_autoptr(json_object) j = NULL;

        g_assert_no_error(err);
        g_assert_cmpstr(r->status, ==, cases[i].status);
        g_assert_cmpstr(vmctl_dirty_rate_mode_name(r->mode), ==, cases[i].mode);
        g_assert_cmpint(r->has_rate, ==, cases[i].has_rate);
        g_assert_cmpint(r->rate_mbps, ==, cases[i].mbps);
        g_assert_cmpint(r->calc_time, ==, cases[i].calc);
        g_assert_cmpint(r->sample_pages, ==, cases[i].sample);
        g_assert_cmpuint(r->vcpu->len, ==, cases[i].vcpus);
        j = vmctl_dirty_rate_to_json(r);
        if (cases[i].has_rate)
            g_assert_cmpuint(json_object_get_int64(json_object_object_get(j, "dirty_pages_per_s")), ==, cases[i].pages);
        else
            g_assert_null(json_object_object_get(j, "dirty_pages_per_s"));
        if (cases[i].vcpus) {
            const VmctlVcpuDirtyRate *d = &g_array_index(r->vcpu, VmctlVcpuDirtyRate, 0);
            g_assert_cmpint(d->id, ==, 0);
            g_assert_cmpint(d->rate_mbps, ==, 78);
        }
    }
}

static void test_parse_bad(void)
{
    static const struct {
        const char *json, *message;
    } bad[] = {
        { "[]", "query-dirty-rate reply is not an object" },
        { "{\"start-time\":1,\"calc-time\":1}", "query-dirty-rate reply has no 'status'" },
        { "{\"status\":\"measured\",\"start-time\":1,\"calc-time\":1}", "query-dirty-rate status is 'measured' but there is no 'dirty-rate'" },
        { "{\"status\":\"measured\",\"dirty-rate\":\"9\",\"start-time\":1,\"calc-time\":1}", "query-dirty-rate member 'dirty-rate' is not an integer" },
        { "{\"status\":\"measured\",\"dirty-rate\":-1,\"start-time\":1,\"calc-time\":1}", "query-dirty-rate dirty-rate '-1' is negative" },
        { "{\"status\":\"measured\",\"mode\":\"x\",\"start-time\":1,\"calc-time\":1}", "query-dirty-rate mode 'x' is unknown" },
        { "{\"status\":\"measured\",\"calc-time\":1,\"dirty-rate\":1}", "query-dirty-rate reply has no 'start-time'" },
        { "{\"status\":\"measured\",\"dirty-rate\":1,\"start-time\":1,\"calc-time\":1,\"vcpu-dirty-rate\":[{\"id\":0}]}", "query-dirty-rate reply has no 'dirty-rate'" },
        { "{\"status\":\"measured\",\"dirty-rate\":1,\"start-time\":1,\"calc-time\":1,\"vcpu-dirty-rate\":{}}", "query-dirty-rate 'vcpu-dirty-rate' is not a list" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(json_object) o = json_tokener_parse(bad[i].json);
        g_autoptr(GError) err = NULL;
        g_autoptr(VmctlDirtyRate) r = vmctl_dirty_rate_parse(o, &err);

        g_assert_null(r);
        g_assert_cmpstr(err->message, ==, bad[i].message);
    }
}

static void test_units_and_stat(void)
{
    double mean = 0;
    unsigned n = 0;

    /* 1 MB/s is 256 pages of 4 KiB per second */
    g_assert_cmpuint(vmctl_dirty_rate_mbps_to_pages(1), ==, 256);
    g_assert_cmpuint(vmctl_dirty_rate_mbps_to_pages(0), ==, 0);
    g_assert_cmpuint(vmctl_dirty_rate_mbps_to_pages(-5), ==, 0);
    g_assert_true(vmctl_dirty_rate_stat_mean("READY region=0x1 pages=9 rate=7\n"
                                             "STAT gen=1 writes=20000 rate=19999 jumps=0\n"
                                             "STAT gen=2 writes=40159 rate=20001 jumps=0\n",
                                             &mean, &n));
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpfloat_with_epsilon(mean, 20000.0, 1e-9);
    g_assert_false(vmctl_dirty_rate_stat_mean("READY region=0x1 rate=5\ntiny: ring 3\n", &mean, &n));
    g_assert_cmpuint(n, ==, 0);
}

/* --- wss --- */

static void test_wss_choose(void)
{
    static const struct {
        bool idle, damon;
        unsigned kdamonds;
        const char *kind;
        const char *mech;
        bool accessed;
        const char *why; /* prefix */
    } wrows[] = {
        { true, true, 0, "anonymous", "page-idle", true, "idle page tracking" },
        { false, true, 0, "file", "damon", true, "no page_idle; DAMON paddr" },
        { false, true, 1, "tmpfs", "dirty-log", false, "no page_idle, and DAMON is in use by another user (nr_kdamonds 1, left alone)" },
        { false, false, 0, "memfd", "dirty-log", false, "no page_idle and no DAMON sysfs interface" },
        /* DAX: nothing that reads accessed bits sees ZONE_DEVICE pages */
        { true, true, 0, "devdax", "dirty-log", false, "accessed-bit tracking unavailable for DAX memory (backing 'devdax'" },
        { false, true, 0, "fsdax", "dirty-log", false, "accessed-bit tracking unavailable for DAX memory (backing 'fsdax'" },
        { true, false, 0, NULL, "page-idle", true, "idle page tracking" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(wrows); i++) {
        VmctlWssHost h = { wrows[i].idle, wrows[i].damon, wrows[i].kdamonds, wrows[i].kind };
        g_autofree char *why = NULL;
        bool accessed = !wrows[i].accessed;
        VmctlWssMechanism m = vmctl_wss_choose(&h, &accessed, &why);

        g_assert_cmpstr(vmctl_wss_mechanism_name(m), ==, wrows[i].mech);
        g_assert_cmpint(accessed, ==, wrows[i].accessed);
        g_assert_true(g_str_has_prefix(why, wrows[i].why));
        g_assert_null(strchr(why, '\n'));
    }
    g_assert_true(vmctl_wss_kind_is_dax("devdax"));
    g_assert_true(vmctl_wss_kind_is_dax("fsdax"));
    g_assert_false(vmctl_wss_kind_is_dax("file"));
    g_assert_false(vmctl_wss_kind_is_dax(NULL));
}

static void test_wss_clip(void)
{
    g_autoptr(GArray) r = g_array_new(FALSE, FALSE, sizeof(VmctlPfnRange));
    VmctlPfnRange a = { 10, 5 }, b = { 100, 1 };

    g_array_append_val(r, a);
    g_array_append_val(r, b);
    /* frames 10..14 and 100: bytes 40960..61439 and 409600..413695 */
    g_assert_cmpuint(vmctl_wss_clip(r, 0, 1 << 30), ==, 6 * 4096);
    g_assert_cmpuint(vmctl_wss_clip(r, 12 * 4096, 101 * 4096), ==, 4 * 4096);
    g_assert_cmpuint(vmctl_wss_clip(r, 12 * 4096 + 100, 13 * 4096), ==, 4096 - 100);
    g_assert_cmpuint(vmctl_wss_clip(r, 20 * 4096, 100 * 4096), ==, 0);
}

#define KD "kernel/mm/damon/admin/kdamonds"

static void put(const char *root, const char *rel, const char *val)
{
    g_autofree char *p = g_build_filename(root, rel, NULL);
    g_autofree char *d = g_path_get_dirname(p);

    g_assert_cmpint(g_mkdir_with_parents(d, 0755), ==, 0);
    g_assert_true(g_file_set_contents(p, val, -1, NULL));
}

static char *get(const char *root, const char *rel)
{
    g_autofree char *p = g_build_filename(root, rel, NULL);
    char *v = NULL;

    g_assert_true(g_file_get_contents(p, &v, NULL, NULL));
    return v;
}

/* A sysfs tree with the attribute files the kernel would create on the
 * nr_* writes, and tried regions as a kdamond would report them. */
static char *fake_damon(const char *nr_kdamonds)
{
    char *root = g_dir_make_tmp("vmctl-damon-XXXXXX", NULL);
    static const char *const attrs[] = {
        "0/state", "0/contexts/nr_contexts", "0/contexts/0/operations",
        "0/contexts/0/monitoring_attrs/intervals/sample_us", "0/contexts/0/monitoring_attrs/intervals/aggr_us",
        "0/contexts/0/monitoring_attrs/intervals/update_us", "0/contexts/0/monitoring_attrs/nr_regions/min",
        "0/contexts/0/monitoring_attrs/nr_regions/max", "0/contexts/0/targets/nr_targets",
        "0/contexts/0/targets/0/regions/nr_regions", "0/contexts/0/targets/0/regions/0/start",
        "0/contexts/0/targets/0/regions/0/end", "0/contexts/0/targets/0/regions/1/start",
        "0/contexts/0/targets/0/regions/1/end", "0/contexts/0/targets/0/regions/2/start",
        "0/contexts/0/targets/0/regions/2/end", "0/contexts/0/schemes/nr_schemes", "0/contexts/0/schemes/0/action",
        "0/contexts/0/schemes/0/access_pattern/sz/min", "0/contexts/0/schemes/0/access_pattern/sz/max",
        "0/contexts/0/schemes/0/access_pattern/nr_accesses/min",
        "0/contexts/0/schemes/0/access_pattern/nr_accesses/max", "0/contexts/0/schemes/0/access_pattern/age/min",
        "0/contexts/0/schemes/0/access_pattern/age/max",
    };

    g_assert_nonnull(root);
    put(root, KD "/nr_kdamonds", nr_kdamonds);
    for (size_t i = 0; i < G_N_ELEMENTS(attrs); i++) {
        g_autofree char *rel = g_strdup_printf(KD "/%s", attrs[i]);
        put(root, rel, "");
    }
    /* region 0: frames 0x100..0x10f accessed; region 1: 0x200..0x2ff not;
     * region 2 (0x300..0x3ff) holds guest frames 0x380..0x381 and others
     * that are not the guest's, accessed */
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/0/start", "1048576\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/0/end", "1114112\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/0/nr_accesses", "7\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/1/start", "2097152\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/1/end", "3145728\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/1/nr_accesses", "0\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/2/start", "3145728\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/2/end", "4194304\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/2/nr_accesses", "3\n");
    put(root, KD "/0/contexts/0/schemes/0/tried_regions/total_bytes", "0\n");
    return root;
}

static void rm_tree(const char *root)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", root);
    g_assert_cmpint(system(cmd), ==, 0);
}

static GArray *guest_ranges(void)
{
    GArray *r = g_array_new(FALSE, FALSE, sizeof(VmctlPfnRange));
    VmctlPfnRange a = { 0x100, 0x10 }, b = { 0x200, 0x100 }, c = { 0x380, 2 };

    g_array_append_val(r, a);
    g_array_append_val(r, b);
    g_array_append_val(r, c);
    return r;
}

static void test_wss_damon_sequence(void)
{
    g_autofree char *root = fake_damon("0\n");
    g_autoptr(GArray) ranges = guest_ranges();
    g_autoptr(GError) err = NULL;
    uint64_t bytes = 0, regions = 0;
    g_autofree char *ops = NULL, *start0 = NULL, *end0 = NULL, *nr = NULL, *state = NULL, *aggr = NULL;
    g_autofree char *action = NULL, *nreg = NULL;

    g_setenv("VMCTL_SYSFS_ROOT", root, TRUE);
    g_assert_true(vmctl_wss_damon(ranges, 1, &bytes, &regions, &err));
    g_assert_no_error(err);
    /* region 0 clipped to 0x100..0x10f (16 frames), region 2 to 2 frames */
    g_assert_cmpuint(regions, ==, 3);
    g_assert_cmpuint(bytes, ==, (16 + 2) * 4096);
    ops = get(root, KD "/0/contexts/0/operations");
    g_assert_cmpstr(ops, ==, "paddr");
    /* one DAMON region per run of frames */
    nreg = get(root, KD "/0/contexts/0/targets/0/regions/nr_regions");
    g_assert_cmpstr(nreg, ==, "3");
    start0 = get(root, KD "/0/contexts/0/targets/0/regions/0/start");
    end0 = get(root, KD "/0/contexts/0/targets/0/regions/0/end");
    g_assert_cmpstr(start0, ==, "1048576");
    g_assert_cmpstr(end0, ==, "1114112");
    aggr = get(root, KD "/0/contexts/0/monitoring_attrs/intervals/aggr_us");
    g_assert_cmpstr(aggr, ==, "1000000");
    action = get(root, KD "/0/contexts/0/schemes/0/action");
    g_assert_cmpstr(action, ==, "stat");
    /* everything we set up is stopped and removed again */
    state = get(root, KD "/0/state");
    g_assert_cmpstr(state, ==, "off");
    nr = get(root, KD "/nr_kdamonds");
    g_assert_cmpstr(nr, ==, "0");
    g_unsetenv("VMCTL_SYSFS_ROOT");
    rm_tree(root);
}

static void test_wss_damon_busy(void)
{
    g_autofree char *root = fake_damon("1\n");
    g_autoptr(GArray) ranges = guest_ranges();
    g_autoptr(GError) err = NULL;
    uint64_t bytes = 0, regions = 0;
    g_autofree char *nr = NULL, *state = NULL;

    g_setenv("VMCTL_SYSFS_ROOT", root, TRUE);
    g_assert_false(vmctl_wss_damon(ranges, 1, &bytes, &regions, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED);
    g_assert_true(g_str_has_prefix(err->message, "DAMON is in use by another user ("));
    /* someone else's kdamond is left exactly as it was */
    nr = get(root, KD "/nr_kdamonds");
    state = get(root, KD "/0/state");
    g_assert_cmpstr(nr, ==, "1\n");
    g_assert_cmpstr(state, ==, "");
    g_unsetenv("VMCTL_SYSFS_ROOT");
    rm_tree(root);
}

/* The frames of this test's own memory: present pages come back as runs
 * (frame numbers need CAP_SYS_ADMIN: skipped without it). */
static void test_wss_pagemap_self(void)
{
    size_t len = 64 * 4096;
    g_autofree char *mem = g_malloc(len + 4096);
    char *p = (char *)(((uintptr_t)mem + 4095) & ~(uintptr_t)4095);
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) r = NULL;
    uint64_t present = 0, total = 0;

    memset(p, 1, len);
    r = vmctl_wss_pfn_ranges(getpid(), (uint64_t)(uintptr_t)p, len, &present, &err);
    if (!r && g_error_matches(err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED)) {
        vmctl_test_needs(err->message);
        return;
    }
    g_assert_no_error(err);
    g_assert_cmpuint(present, ==, 64);
    for (guint i = 0; i < r->len; i++) {
        total += g_array_index(r, VmctlPfnRange, i).count;
        if (i)
            g_assert_cmpuint(g_array_index(r, VmctlPfnRange, i).pfn, >,
                             g_array_index(r, VmctlPfnRange, i - 1).pfn + g_array_index(r, VmctlPfnRange, i - 1).count);
    }
    g_assert_cmpuint(total, ==, 64);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/dirty-rate/decision/table", test_decision_table);
    g_test_add_func("/vmctl/dirty-rate/decision/enum", test_decision_enum);
    g_test_add_func("/vmctl/dirty-rate/schema", test_schema);
    g_test_add_func("/vmctl/dirty-rate/parse/recorded", test_parse_recorded);
    g_test_add_func("/vmctl/dirty-rate/parse/bad", test_parse_bad);
    g_test_add_func("/vmctl/dirty-rate/units-and-stat", test_units_and_stat);
    g_test_add_func("/vmctl/wss/choose", test_wss_choose);
    g_test_add_func("/vmctl/wss/clip", test_wss_clip);
    g_test_add_func("/vmctl/wss/damon/sequence", test_wss_damon_sequence);
    g_test_add_func("/vmctl/wss/damon/busy", test_wss_damon_busy);
    g_test_add_func("/vmctl/wss/pagemap/self", test_wss_pagemap_self);
    return g_test_run();
}
