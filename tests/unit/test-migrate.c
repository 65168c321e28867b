/* test-migrate.c: migration strategy decisions, the page-level compare with
 * a corrupted page, the fault hook and the verdict. */
#include "config.h"

#include "migrate.h"
#include "page_stamp.h"

#include <glib/gstdio.h>
#include <string.h>

static json_object *decision(const VmctlMigratePlan *p, const char *what)
{
    for (size_t i = 0; i < json_object_array_length(p->decisions); i++) {
        json_object *d = json_object_array_get_idx(p->decisions, i);
        if (strcmp(json_object_get_string(json_object_object_get(d, "what")), what) == 0)
            return d;
    }
    return NULL;
}

static VmctlMigrateInputs inputs(VmctlMigrateStrategy s, double rate, bool postcopy_backing)
{
    VmctlMigrateInputs in = { 0 };

    in.strategy = s;
    in.ram_bytes = GiB;
    in.dirty_pages_per_s = rate;
    in.link_bytes_per_s = 4.0 * GiB;
    in.link_how = "test";
    in.cpus = 2;
    in.postcopy_backing_ok = postcopy_backing;
    in.has_multifd = in.has_postcopy = in.has_auto_converge = in.has_ignore_shared = true;
    return in;
}

static void test_names(void)
{
    VmctlMigrateStrategy s;

    g_assert_true(vmctl_migrate_strategy_from_name("auto-converge", &s));
    g_assert_cmpint(s, ==, VMCTL_MIGRATE_AUTO_CONVERGE);
    g_assert_cmpstr(vmctl_migrate_strategy_name(VMCTL_MIGRATE_MULTIFD), ==, "multifd");
    g_assert_false(vmctl_migrate_strategy_from_name("fast", &s));
    g_assert_false(vmctl_migrate_strategy_from_name(NULL, &s));
}

static void test_plan_auto_busy(void)
{
    VmctlMigrateInputs in = inputs(VMCTL_MIGRATE_AUTO, 50000, true);
    VmctlMigratePlan p;
    g_autoptr(GError) err = NULL;

    /* two host CPUs: one channel, and why */
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_cmpuint(p.multifd_channels, ==, 0);
    g_assert_nonnull(strstr(json_object_to_json_string(decision(&p, "multifd")), "host CPUs"));
    g_assert_true(p.postcopy);
    vmctl_migrate_plan_clear(&p);

    in.cpus = 8;
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    /* the bandwidth is always set, and never to QEMU's default */
    g_assert_cmpuint(p.max_bandwidth, ==, 4 * GiB);
    g_assert_nonnull(decision(&p, "max-bandwidth"));
    g_assert_cmpuint(p.multifd_channels, ==, 4);
    g_assert_false(p.postcopy); /* multifd and postcopy do not combine */
    g_assert_nonnull(strstr(json_object_to_json_string(decision(&p, "postcopy")), "do not combine"));
    /* QEMU gets a share of the promise: its estimate runs short */
    g_assert_cmpuint(p.downtime_promised_ms, >=, VMCTL_MIGRATE_QEMU_DOWNTIME);
    g_assert_cmpuint(p.downtime_ms, ==, p.downtime_promised_ms * VMCTL_MIGRATE_DOWNTIME_SHARE / 100);
    g_assert_cmpuint(p.downtime_ms, <, p.downtime_promised_ms);
    g_assert_nonnull(decision(&p, "downtime-promised"));
    vmctl_migrate_plan_clear(&p);
}

static void test_plan_auto_idle(void)
{
    VmctlMigrateInputs in = inputs(VMCTL_MIGRATE_AUTO, 100, false);
    VmctlMigratePlan p;
    g_autoptr(GError) err = NULL;

    in.link_bytes_per_s = 10 * MiB; /* a slow link: never below QEMU's default */
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_cmpuint(p.max_bandwidth, ==, VMCTL_MIGRATE_QEMU_BANDWIDTH);
    g_assert_cmpuint(p.multifd_channels, ==, 0);
    g_assert_false(p.postcopy);
    g_assert_nonnull(strstr(json_object_to_json_string(decision(&p, "postcopy")), "file-backed"));
    g_assert_cmpuint(p.downtime_promised_ms, ==, VMCTL_MIGRATE_QEMU_DOWNTIME);
    g_assert_cmpuint(p.downtime_ms, ==, VMCTL_MIGRATE_QEMU_DOWNTIME * VMCTL_MIGRATE_DOWNTIME_SHARE / 100);
    vmctl_migrate_plan_clear(&p);

    in = inputs(VMCTL_MIGRATE_AUTO, 5000, true); /* memfd: postcopy as the fallback */
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_true(p.postcopy);
    g_assert_false(p.postcopy_now);
    vmctl_migrate_plan_clear(&p);
}

static const char *why(const VmctlMigratePlan *p, const char *what)
{
    json_object *d = decision(p, what);

    return d ? json_object_get_string(json_object_object_get(d, "why")) : "";
}

/* A dirty rate above half the link is throttled: dirty-limit where QEMU
 * has it and the guest has a dirty ring, else auto-converge, each saying
 * why not the other; below, nothing is throttled. */
static void test_plan_throttle(void)
{
    /* 1 GiB/s of dirtying (262144 pages/s) on a link of 1.5 GiB/s */
    VmctlMigrateInputs in = inputs(VMCTL_MIGRATE_AUTO, 262144, false);
    VmctlMigratePlan p;
    g_autoptr(GError) err = NULL;

    in.link_bytes_per_s = 1.5 * GiB;
    g_assert_true(vmctl_migrate_plan(&in, &p, &err)); /* QEMU 7.2: no dirty-limit */
    g_assert_true(p.auto_converge);
    g_assert_false(p.dirty_limit);
    g_assert_nonnull(strstr(why(&p, "auto-converge"), "no dirty-limit capability (QEMU 8.1+)"));
    vmctl_migrate_plan_clear(&p);

    in.has_dirty_limit = true; /* QEMU 8.1+, but no dirty ring */
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_true(p.auto_converge);
    g_assert_nonnull(strstr(why(&p, "auto-converge"), "dirty ring"));
    vmctl_migrate_plan_clear(&p);

    in.dirty_ring = true;
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_false(p.auto_converge);
    g_assert_true(p.dirty_limit);
    g_assert_cmpuint(p.vcpu_dirty_limit, ==, (uint64_t)(1.5 * GiB / 4 / MiB)); /* a quarter of the link, MB/s */
    g_assert_cmpint(json_object_get_int64(json_object_object_get(decision(&p, "dirty-limit"), "value")), ==,
                    (int64_t)p.vcpu_dirty_limit);
    vmctl_migrate_plan_clear(&p);

    in.has_auto_converge = in.has_dirty_limit = false; /* nothing to throttle with: said */
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_false(p.auto_converge || p.dirty_limit);
    g_assert_nonnull(strstr(why(&p, "throttle"), "no auto-converge either"));
    vmctl_migrate_plan_clear(&p);

    in = inputs(VMCTL_MIGRATE_AUTO, 5000, false); /* 20 MiB/s on 4 GiB/s */
    in.has_dirty_limit = in.dirty_ring = true;
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_false(p.auto_converge || p.dirty_limit);
    g_assert_nonnull(strstr(why(&p, "throttle"), "at most 50% of the bandwidth"));
    g_assert_nonnull(strstr(why(&p, "dirty-limit"), "no throttle needed"));
    vmctl_migrate_plan_clear(&p);

    in = inputs(VMCTL_MIGRATE_PRECOPY, 262144, false); /* only auto decides it */
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_false(p.auto_converge || p.dirty_limit);
    g_assert_null(decision(&p, "throttle"));
    vmctl_migrate_plan_clear(&p);
}

/* The promise is broken by a downtime over it, kept at or under it. */
static void test_downtime_promise(void)
{
    VmctlMigrateInputs in = inputs(VMCTL_MIGRATE_AUTO, 5000, false);
    VmctlMigratePlan p;
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) over = NULL, at = NULL;

    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    over = vmctl_migrate_downtime_promise(&p, p.downtime_promised_ms + 1);
    at = vmctl_migrate_downtime_promise(&p, p.downtime_promised_ms);
    g_assert_false(json_object_get_boolean(json_object_object_get(over, "kept")));
    g_assert_true(json_object_get_boolean(json_object_object_get(at, "kept")));
    g_assert_cmpint(json_object_get_int64(json_object_object_get(over, "limit_ms")), ==, (int64_t)p.downtime_ms);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(over, "promised_ms")), ==, 300);
    vmctl_migrate_plan_clear(&p);
}

static void test_plan_explicit(void)
{
    VmctlMigrateInputs in = inputs(VMCTL_MIGRATE_PRECOPY, -1, false);
    VmctlMigratePlan p;
    g_autoptr(GError) err = NULL;

    in.bandwidth = 2 * GiB;
    in.downtime_ms = 50;
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_cmpuint(p.max_bandwidth, ==, 2 * GiB);
    g_assert_cmpuint(p.downtime_ms, ==, 50); /* asked for: given to QEMU as it is, and promised */
    g_assert_cmpuint(p.downtime_promised_ms, ==, 50);
    g_assert_false(p.postcopy);
    vmctl_migrate_plan_clear(&p);

    in = inputs(VMCTL_MIGRATE_PRECOPY, -1, false); /* no --bandwidth: QEMU's default stays */
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_cmpuint(p.max_bandwidth, ==, 0);
    g_assert_cmpuint(p.downtime_ms, ==, 0); /* QEMU's own limit, which is then the promise */
    g_assert_cmpuint(p.downtime_promised_ms, ==, VMCTL_MIGRATE_QEMU_DOWNTIME);
    vmctl_migrate_plan_clear(&p);

    in = inputs(VMCTL_MIGRATE_POSTCOPY, -1, false);
    g_assert_false(vmctl_migrate_plan(&in, &p, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(err->message, "userfaultfd"));
    g_clear_error(&err);

    in = inputs(VMCTL_MIGRATE_MULTIFD, -1, false);
    in.has_multifd = false;
    g_assert_false(vmctl_migrate_plan(&in, &p, &err));
    g_assert_cmpstr(err->message, ==,
                    "strategy 'multifd' needs the migration capability 'multifd', which this QEMU does not have");
    g_clear_error(&err);

    in = inputs(VMCTL_MIGRATE_POSTCOPY, -1, true);
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_true(p.postcopy && p.postcopy_now);
    vmctl_migrate_plan_clear(&p);
}

/* --shared: QEMU refuses postcopy-ram together with x-ignore-shared */
static void test_plan_shared(void)
{
    VmctlMigrateInputs in = inputs(VMCTL_MIGRATE_AUTO, 5000, true);
    VmctlMigratePlan p;
    g_autoptr(GError) err = NULL;

    in.shared = true;
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_true(p.ignore_shared);
    g_assert_false(p.postcopy);
    vmctl_migrate_plan_clear(&p);

    in.shared = false;
    g_assert_true(vmctl_migrate_plan(&in, &p, &err));
    g_assert_true(p.postcopy); /* the same guest without --shared */
    vmctl_migrate_plan_clear(&p);

    in = inputs(VMCTL_MIGRATE_POSTCOPY, -1, true);
    in.shared = true;
    g_assert_false(vmctl_migrate_plan(&in, &p, &err));
    g_assert_cmpstr(err->message, ==,
                    "strategy 'postcopy' does not combine with --shared: QEMU refuses postcopy-ram with x-ignore-shared");
}

static void test_dirty_rate_mode(void)
{
    struct vmctl_version q72 = { 7, 2, 22 }, q10 = { 10, 0, 2 };
    const char *why;

    g_assert_cmpstr(vmctl_migrate_dirty_rate_mode(false, false, &q72, &why), ==, "page-sampling");
    g_assert_nonnull(strstr(why, "tcg-calc-dirty-rate-crash"));
    g_assert_cmpstr(vmctl_migrate_dirty_rate_mode(false, false, &q10, &why), ==, "page-sampling");
    g_assert_null(strstr(why, "tcg-calc-dirty-rate-crash"));
    g_assert_cmpstr(vmctl_migrate_dirty_rate_mode(true, false, &q72, &why), ==, "dirty-bitmap");
    g_assert_cmpstr(vmctl_migrate_dirty_rate_mode(true, true, &q72, &why), ==, "dirty-ring");
}

static char *image(const char *dir, const char *name, size_t pages)
{
    char *path = g_build_filename(dir, name, NULL);
    g_autofree char *buf = g_malloc(pages * VMCTL_MIGRATE_PAGE);

    for (size_t i = 0; i < pages * VMCTL_MIGRATE_PAGE; i++)
        buf[i] = (char)(i * 7 + i / VMCTL_MIGRATE_PAGE);
    g_assert_true(g_file_set_contents(path, buf, (gssize)(pages * VMCTL_MIGRATE_PAGE), NULL));
    return path;
}

static void test_compare(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-migrate-XXXXXX", NULL);
    g_autofree char *a = image(dir, "src.ram", 64);
    g_autofree char *b = image(dir, "dst.ram", 64);
    g_autofree char *na = image(dir, "src.nv", 16);
    g_autofree char *nb = image(dir, "dst.nv", 16);
    g_autoptr(GPtrArray) blocks = g_ptr_array_new_with_free_func((GDestroyNotify)vmctl_migrate_block_free);
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) r = NULL;
    json_object *blk;
    uint64_t differ = 99;
    VmctlMigrateFault f;

    g_ptr_array_add(blocks, vmctl_migrate_block_new("pc.ram", a, 0, b, 0, 64 * VMCTL_MIGRATE_PAGE));
    g_ptr_array_add(blocks, vmctl_migrate_block_new("nvdimm0", na, 0, nb, 0, 16 * VMCTL_MIGRATE_PAGE));
    r = vmctl_migrate_compare(blocks, &differ, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(differ, ==, 0);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(r, "pages")), ==, 80);
    g_clear_pointer(&r, json_object_put);

    /* the negative control: one byte of one page, each block */
    g_assert_true(vmctl_migrate_fault_parse("dst-page:37", &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_MIGRATE_FAULT_CORRUPT);
    g_assert_true(vmctl_migrate_fault_apply(b, 0, f.page, &err));
    g_assert_true(vmctl_migrate_fault_apply(nb, 0, 3, &err));
    r = vmctl_migrate_compare(blocks, &differ, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(differ, ==, 2);
    blk = json_object_array_get_idx(json_object_object_get(r, "blocks"), 0);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(blk, "pages_differ")), ==, 1);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(
                        json_object_array_get_idx(json_object_object_get(blk, "first"), 0), "page")),
                    ==, 37);
    blk = json_object_array_get_idx(json_object_object_get(r, "blocks"), 1);
    g_assert_cmpstr(json_object_get_string(json_object_object_get(blk, "name")), ==, "nvdimm0");
    g_assert_cmpint(json_object_get_int64(json_object_object_get(
                        json_object_array_get_idx(json_object_object_get(blk, "first"), 0), "page")),
                    ==, 3);

    /* a fault beyond the image is an error, not a silent pass */
    g_assert_false(vmctl_migrate_fault_apply(b, 0, 64, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_FAILED);
    g_clear_error(&err);
    g_assert_false(vmctl_migrate_fault_parse("src-page:1", &f, &err));
    g_assert_cmpstr(err->message, ==, "fault 'src-page:1' is not 'dst-page:N', 'dst-stale:N' or 'dst-guest-page:N'");
    g_clear_error(&err);
    g_assert_true(vmctl_migrate_fault_parse("dst-guest-page:7", &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_MIGRATE_FAULT_GUEST);
    g_assert_cmpuint(f.page, ==, 7);
    g_assert_true(vmctl_migrate_fault_parse("dst-stale:5", &f, &err));
    g_assert_cmpint(f.kind, ==, VMCTL_MIGRATE_FAULT_STALE);
    g_assert_cmpuint(f.page, ==, 5);
    /* a page copied out of one image and into another makes them differ
     * exactly there */
    {
        uint8_t buf[VMCTL_MIGRATE_PAGE];
        g_assert_true(vmctl_migrate_page_read(a, 0, 40, buf, &err));
        g_assert_true(vmctl_migrate_page_write(b, 0, 41, buf, &err));
        g_assert_false(vmctl_migrate_page_read(a, 0, 64, buf, &err));
        g_assert_nonnull(strstr(err->message, "beyond its end"));
        g_clear_error(&err);
    }
    g_clear_pointer(&r, json_object_put);
    r = vmctl_migrate_compare(blocks, &differ, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(differ, ==, 3);
    blk = json_object_array_get_idx(json_object_object_get(r, "blocks"), 0);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(
                        json_object_array_get_idx(json_object_object_get(blk, "first"), 1), "page")),
                    ==, 41);

    g_ptr_array_add(blocks, vmctl_migrate_block_new("missing", a, 0, "/nonexistent/x", 0, VMCTL_MIGRATE_PAGE));
    g_clear_pointer(&r, json_object_put);
    r = vmctl_migrate_compare(blocks, &differ, &err);
    g_assert_null(r);
    g_assert_nonnull(strstr(err->message, "cannot compare RAM block 'missing'"));

    g_unlink(a);
    g_unlink(b);
    g_unlink(na);
    g_unlink(nb);
    g_rmdir(dir);
}

static void test_verdict(void)
{
    g_assert_cmpstr(vmctl_migrate_verdict(true, 0, 0, "VERIFY ok pages=10"), ==, "PASS");
    g_assert_cmpstr(vmctl_migrate_verdict(true, 0, 0, NULL), ==, "PASS");
    /* no page compared: never a plain PASS */
    g_assert_cmpstr(vmctl_migrate_verdict(false, 0, 0, "VERIFY ok pages=10"), ==, "PASS-UNCOMPARED");
    g_assert_cmpstr(vmctl_migrate_verdict(false, 0, 1, "VERIFY ok pages=10"), ==, "FAIL");
    g_assert_cmpstr(vmctl_migrate_verdict(true, 1, 0, "VERIFY ok pages=10"), ==, "FAIL");
    g_assert_cmpstr(vmctl_migrate_verdict(true, 0, 1, "VERIFY ok pages=10"), ==, "FAIL");
    g_assert_cmpstr(vmctl_migrate_verdict(true, 0, 0, "VERIFY bad=2 first=1,5"), ==, "FAIL");
    g_assert_cmpstr(vmctl_migrate_verdict(true, 0, 0, "no VERIFY answer within 120 s"), ==, "FAIL");
}

/* The proof's summary, as both drivers write it: a proof that checked
 * nothing is UNVERIFIED, whatever else it holds. */
static const char *conclude(json_object **proof, bool compared, uint64_t differ, uint64_t bad, const char *line,
                            bool stamps)
{
    json_object_put(*proof);
    *proof = json_object_new_object();
    if (stamps)
        json_object_object_add(*proof, "stamps", json_object_new_object());
    return vmctl_migrate_conclude(*proof, compared, differ, bad, line);
}

static const char *field(json_object *o, const char *k)
{
    return json_object_to_json_string(json_object_object_get(o, k));
}

static void test_conclude(void)
{
    g_autoptr(json_object) p = NULL;

    g_assert_cmpstr(conclude(&p, true, 0, 0, "VERIFY ok pages=10", false), ==, "PASS");
    g_assert_cmpstr(field(p, "verdict"), ==, "\"PASS\"");
    g_assert_cmpstr(field(p, "pages_compared"), ==, "true");
    g_assert_cmpstr(field(p, "pages_differ"), ==, "0");
    g_assert_cmpstr(field(p, "guest"), ==, "\"VERIFY ok pages=10\"");
    g_assert_null(json_object_object_get(p, "unverified"));
    /* nothing checked: no page, no stamp, no guest */
    g_assert_cmpstr(conclude(&p, false, 0, 0, NULL, false), ==, "UNVERIFIED");
    g_assert_cmpstr(field(p, "verdict"), ==, "\"UNVERIFIED\"");
    g_assert_nonnull(json_object_object_get(p, "unverified"));
    g_assert_cmpstr(field(p, "pages_compared"), ==, "false");
    /* one thing checked: uncompared, never a plain PASS */
    g_assert_cmpstr(conclude(&p, false, 0, 0, NULL, true), ==, "PASS-UNCOMPARED");
    g_assert_cmpstr(conclude(&p, false, 0, 0, "VERIFY ok pages=3", false), ==, "PASS-UNCOMPARED");
    g_assert_null(json_object_object_get(p, "unverified"));
    /* any finding fails */
    g_assert_cmpstr(conclude(&p, true, 3, 0, "VERIFY ok pages=10", true), ==, "FAIL");
    g_assert_cmpstr(field(p, "pages_differ"), ==, "3");
    g_assert_cmpstr(conclude(&p, false, 0, 2, NULL, true), ==, "FAIL");
    g_assert_cmpstr(field(p, "stamps_bad"), ==, "2");
    g_assert_cmpstr(conclude(&p, false, 0, 0, "no VERIFY answer within 120 s", false), ==, "FAIL");
}

static void test_result_head(void)
{
    g_autoptr(json_object) r = vmctl_migrate_result_new("g1", "local", VMCTL_MIGRATE_PRECOPY, "FAIL", "7.2.22", "tcg",
                                                        "file");
    g_autoptr(json_object) k = vmctl_migrate_result_new("g1", "qemu+tcp://b/system", VMCTL_MIGRATE_POSTCOPY, "FAIL",
                                                        "7.2.22", "kvm", "devdax");

    g_assert_cmpstr(field(r, "strategy"), ==, "\"precopy\"");
    g_assert_cmpstr(field(r, "backing"), ==, "\"file\"");
    /* a FAIL under TCG on 7.2 carries its known bug; under KVM none */
    g_assert_nonnull(json_object_object_get(r, "known_bug"));
    g_assert_null(json_object_object_get(k, "known_bug"));
    g_assert_cmpstr(json_object_get_string(json_object_object_get(k, "to")), ==, "qemu+tcp://b/system");
    g_assert_cmpstr(field(k, "strategy"), ==, "\"postcopy\"");
}

/* A FAIL under TCG on a QEMU with the lost-dirty-pages bug names it and
 * the version that fixes it; anything else names nothing. */
static json_object *result(const char *verdict, const char *qemu, const char *accel)
{
    json_object *r = json_object_new_object();

    json_object_object_add(r, "verdict", json_object_new_string(verdict));
    json_object_object_add(r, "qemu", json_object_new_string(qemu));
    json_object_object_add(r, "accel", json_object_new_string(accel));
    return r;
}

static void test_known_bug(void)
{
    static const struct {
        const char *verdict, *qemu, *accel;
        bool named;
    } cases[] = {
        { "FAIL", "7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)", "tcg", true },
        { "FAIL", "8.2.0", "tcg", true },
        { "FAIL", "9.0.0", "tcg", false },
        { "FAIL", "10.0.2 (Debian 1:10.0.2+ds-2~bpo12+1)", "tcg", false },
        { "FAIL", "7.2.19", "kvm", false },
        { "PASS", "7.2.19", "tcg", false },
        { "PASS-UNCOMPARED", "7.2.19", "tcg", false },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_object) r = result(cases[i].verdict, cases[i].qemu, cases[i].accel);
        g_autofree char *line = vmctl_migrate_known_bug(r);
        json_object *kb = json_object_object_get(r, "known_bug");

        g_assert_cmpint(line != NULL, ==, cases[i].named);
        g_assert_cmpint(kb != NULL, ==, cases[i].named);
        if (!cases[i].named)
            continue;
        g_assert_cmpstr(json_object_get_string(json_object_object_get(kb, "id")), ==, "tcg-lost-dirty-pages");
        g_assert_cmpstr(json_object_get_string(json_object_object_get(kb, "fixed_in")), ==, "9.0.0");
        g_assert_true(g_str_has_prefix(line, "known bug 'tcg-lost-dirty-pages' of this QEMU applies: "));
        g_assert_true(g_str_has_suffix(line, "; fixed in QEMU 9.0.0"));
        {
            /* asked again (the CLI after the daemon): the same line, one member */
            g_autofree char *again = vmctl_migrate_known_bug(r);
            g_assert_cmpstr(again, ==, line);
        }
        g_assert_cmpstr(json_object_get_string(json_object_object_get(r, "verdict")), ==, "FAIL");
    }
}

/* An image with the tiny guest's stamp region at VMCTL_MIGRATE_STAMP_OFFSET
 * (stamped: a control page and `pages` stamped pages), or all zero. */
static char *stamp_image(const char *dir, const char *name, bool stamped, uint64_t flip_page)
{
    const uint64_t pages = 32, size = VMCTL_MIGRATE_STAMP_OFFSET + (pages + 1) * VMCTL_PAGE_SIZE;
    g_autofree uint8_t *img = g_malloc0(size);
    char *path = g_build_filename(dir, name, NULL);
    struct vmctl_stamp_ctl *ctl = (struct vmctl_stamp_ctl *)(void *)(img + VMCTL_MIGRATE_STAMP_OFFSET);

    if (stamped) {
        *ctl = (struct vmctl_stamp_ctl){ .magic = VMCTL_STAMP_CTL_MAGIC, .version = VMCTL_STAMP_VERSION,
                                         .region = 1, .seed = 3, .page_count = pages, .ws_pages = pages };
        for (uint64_t i = 0; i < pages; i++) {
            vmctl_stamp_init_page(ctl, (uint64_t *)(void *)(img + VMCTL_MIGRATE_STAMP_OFFSET + (i + 1) * VMCTL_PAGE_SIZE), i);
            ctl->stamped = i + 1;
        }
        if (flip_page < pages)
            img[VMCTL_MIGRATE_STAMP_OFFSET + (flip_page + 1) * VMCTL_PAGE_SIZE + 100] ^= 0xff;
    }
    g_assert_true(g_file_set_contents(path, (const char *)img, (gssize)size, NULL));
    return path;
}

/* The stamp judgment shared by the local and the libvirt migration: clean,
 * made to fail by a flipped byte and by a destination without its stamps,
 * and skipped when neither side has them yet. */
static void test_check_stamps(void)
{
    g_autofree char *dir = g_dir_make_tmp("vmctl-stamps-XXXXXX", NULL);
    g_autofree char *src = stamp_image(dir, "src", true, G_MAXUINT64);
    g_autofree char *same = stamp_image(dir, "same", true, G_MAXUINT64);
    g_autofree char *flipped = stamp_image(dir, "flipped", true, 5);
    g_autofree char *blank = stamp_image(dir, "blank", false, 0);
    g_autofree char *blank2 = stamp_image(dir, "blank2", false, 0);
    g_autoptr(json_object) p1 = json_object_new_object(), p2 = json_object_new_object();
    g_autoptr(json_object) p3 = json_object_new_object(), p4 = json_object_new_object();
    g_autoptr(json_object) p5 = json_object_new_object();

    g_assert_cmpuint(vmctl_migrate_check_stamps(src, same, p1), ==, 0);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(json_object_object_get(p1, "stamps"), "bad")), ==, 0);
    g_assert_cmpuint(vmctl_migrate_check_stamps(src, flipped, p2), ==, 1);
    g_assert_cmpint(json_object_get_int64(json_object_object_get(json_object_object_get(p2, "stamps"), "bad")), ==, 1);
    g_assert_cmpuint(vmctl_migrate_check_stamps(src, blank, p3), ==, 1);
    g_assert_nonnull(json_object_object_get(p3, "stamps_error"));
    g_assert_null(json_object_object_get(p3, "stamps"));
    g_assert_cmpuint(vmctl_migrate_check_stamps(blank2, blank, p4), ==, 0);
    g_assert_nonnull(json_object_object_get(p4, "stamps_skipped"));
    g_assert_cmpuint(vmctl_migrate_check_stamps(NULL, blank, p5), ==, 0);
    g_assert_nonnull(json_object_object_get(p5, "stamps_skipped"));
    const char *files[] = { src, same, flipped, blank, blank2 };

    for (size_t i = 0; i < G_N_ELEMENTS(files); i++)
        g_unlink(files[i]);
    g_rmdir(dir);
}

/* The one host oracle of both drivers: the compare, then the stamps; each
 * part made to fail once (a page flipped and its stamp bad). */
static void test_host_oracle(void)
{
    g_autofree char *dir = g_dir_make_tmp(NULL, NULL);
    g_autofree char *src = stamp_image(dir, "src", true, G_MAXUINT64);
    g_autofree char *same = stamp_image(dir, "same", true, G_MAXUINT64);
    g_autofree char *flipped = stamp_image(dir, "flipped", true, 5);
    g_autoptr(GError) err = NULL;
    GStatBuf st;
    VmctlMigrateOracleResult res;

    g_assert_cmpint(g_stat(src, &st), ==, 0);
    for (int bad = 0; bad < 2; bad++) {
        g_autoptr(GPtrArray) blocks = g_ptr_array_new_with_free_func((GDestroyNotify)vmctl_migrate_block_free);
        g_autoptr(json_object) f = json_object_new_object();
        const char *dst = bad ? flipped : same;
        VmctlMigrateOracle o = { .blocks = blocks, .src_ram = src, .dst_ram = dst, .stamps = true };

        g_ptr_array_add(blocks, vmctl_migrate_block_new("pc.ram", src, 0, dst, 0, (uint64_t)st.st_size));
        g_assert_true(vmctl_migrate_host_oracle(&o, f, &res, &err));
        g_assert_no_error(err);
        g_assert_true(res.compared);
        g_assert_cmpuint(res.pages_differ, ==, bad ? 1 : 0);
        g_assert_cmpuint(res.stamps_bad, ==, bad ? 1 : 0);
        g_assert_nonnull(json_object_object_get(f, "pages"));
        g_assert_nonnull(json_object_object_get(f, "stamps"));
    }
    { /* no compare asked (postcopy, memory out of reach), no stamps: nothing claimed */
        g_autoptr(json_object) f = json_object_new_object();
        VmctlMigrateOracle o = { .src_ram = src, .dst_ram = flipped, .stamps = false };

        g_assert_true(vmctl_migrate_host_oracle(&o, f, &res, &err));
        g_assert_false(res.compared);
        g_assert_cmpuint(res.pages_differ + res.stamps_bad, ==, 0);
        g_assert_cmpint(json_object_object_length(f), ==, 0);
    }
    { /* stamps only: the flipped page is still found */
        g_autoptr(json_object) f = json_object_new_object();
        VmctlMigrateOracle o = { .src_ram = src, .dst_ram = flipped, .stamps = true };

        g_assert_true(vmctl_migrate_host_oracle(&o, f, &res, &err));
        g_assert_false(res.compared);
        g_assert_cmpuint(res.stamps_bad, ==, 1);
    }
    { /* a compare that cannot be made is an error, not a pass */
        g_autoptr(GPtrArray) blocks = g_ptr_array_new_with_free_func((GDestroyNotify)vmctl_migrate_block_free);
        g_autoptr(json_object) f = json_object_new_object();
        g_autofree char *gone = g_build_filename(dir, "gone", NULL);
        VmctlMigrateOracle o = { .blocks = blocks, .src_ram = src, .dst_ram = gone, .stamps = true };

        g_ptr_array_add(blocks, vmctl_migrate_block_new("pc.ram", src, 0, gone, 0, (uint64_t)st.st_size));
        g_assert_false(vmctl_migrate_host_oracle(&o, f, &res, &err));
        g_assert_nonnull(err);
    }
    g_unlink(src);
    g_unlink(same);
    g_unlink(flipped);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/migrate/strategy/names", test_names);
    g_test_add_func("/vmctl/migrate/plan/auto-busy", test_plan_auto_busy);
    g_test_add_func("/vmctl/migrate/plan/auto-idle", test_plan_auto_idle);
    g_test_add_func("/vmctl/migrate/plan/explicit", test_plan_explicit);
    g_test_add_func("/vmctl/migrate/plan/throttle", test_plan_throttle);
    g_test_add_func("/vmctl/migrate/downtime-promise", test_downtime_promise);
    g_test_add_func("/vmctl/migrate/plan/shared", test_plan_shared);
    g_test_add_func("/vmctl/migrate/dirty-rate-mode", test_dirty_rate_mode);
    g_test_add_func("/vmctl/migrate/verify/corrupt-page", test_compare);
    g_test_add_func("/vmctl/migrate/verdict", test_verdict);
    g_test_add_func("/vmctl/migrate/verdict/conclude", test_conclude);
    g_test_add_func("/vmctl/migrate/result-head", test_result_head);
    g_test_add_func("/vmctl/migrate/verify/stamps", test_check_stamps);
    g_test_add_func("/vmctl/migrate/verify/host-oracle", test_host_oracle);
    g_test_add_func("/vmctl/migrate/verdict/known-bug", test_known_bug);
    return g_test_run();
}
