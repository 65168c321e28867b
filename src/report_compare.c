/* report_compare.c: what changed between two validate reports (`vmctl
 * validate --compare OLD NEW`): checks whose status changed, checks only one
 * report has, measured figures that moved beyond their noise band, and host
 * facts that differ. Only the host's own checks are compared, not a lab's. */
#include "config.h"

#include "report_formats.h"

#include "report.h"

#include <math.h>
#include <string.h>

/* The noise band of every figure of vmctl_report_figures(): a move counts
 * only beyond max(abs, rel * |old|). Each band is as wide as the figure's
 * run-to-run scatter on a quiet host, so a move beyond it is the host, the
 * kernel or QEMU, not chance. */
static const VmctlFigureBand bands[] = {
    { "dirty_log_harvest_seconds_per_gib", NULL, 250e-6, 1.0, VMCTL_FIGURE_WORSE_UP,
      "one sample per mode and run, on a host shared with other work: across the backings of one run the "
      "few-page cost spread 0.13-0.56 ms/GiB and the every-page cost 6.9-17.6 ms/GiB, so only a doubling (and at "
      "least 0.25 ms/GiB) is a change" },
    /* the first entry of a name whose label matches wins: the sampled mode before the exact ones */
    { "dirty_rate_ratio", "mode=page-sampling", 0.10, 0, VMCTL_FIGURE_WORSE_AWAY_1,
      "page-sampling reads 4096 pages per GiB: measured 0.922-0.973 here and 0.928-1.091 over 5k-200k pages/s "
      "under load (bench/dirty-rate/RESULTS.md), so 0.10, still inside its 15% PASS tolerance" },
    { "dirty_rate_ratio", NULL, 0.05, 0, VMCTL_FIGURE_WORSE_AWAY_1,
      "exact modes count every written page; QEMU rounds the rate to whole MB/s (up to 5.1% of 5000 pages/s), "
      "measured 0.971-0.981: 0.05 is beyond the rounding and inside the 8% PASS tolerance" },
    { "dirty_rate_measured_pages_per_second", NULL, 0, 0.15, VMCTL_FIGURE_NEITHER,
      "follows the guest's write rate, which follows the host's load; its accuracy is dirty_rate_ratio's: listed "
      "beyond 15% (the sampled tolerance), never a regression" },
    { "dirty_rate_true_pages_per_second", NULL, 0, 0.15, VMCTL_FIGURE_NEITHER,
      "the guest's own write rate: it moves with the host's load, not with what is measured (15%, as above)" },
    { "migration_elapsed_seconds", NULL, 0.5, 0.5, VMCTL_FIGURE_WORSE_UP,
      "a few seconds including the destination's start and the page comparison, on a shared host: +-50% (and at "
      "least 0.5 s) is scheduling, more is a change" },
    { "migration_total_time_seconds", NULL, 0.5, 0.5, VMCTL_FIGURE_WORSE_UP,
      "QEMU's migration time of a small busy guest depends on how many passes the last dirty pages need: +-50% "
      "and at least 0.5 s" },
    { "migration_downtime_seconds", NULL, 0.05, 0.5, VMCTL_FIGURE_WORSE_UP,
      "tens of ms for a small guest (14-27 ms here), set by the last pass's dirty pages: +-50% and at least 50 ms "
      "(a sixth of QEMU's 300 ms downtime limit)" },
    { "migration_transferred_bytes", NULL, 64.0 * MiB, 0.5, VMCTL_FIGURE_WORSE_UP,
      "RAM plus the re-sent dirty pages of the busy guest (175-176 MiB for 128 MiB here): +-50% and at least "
      "64 MiB (half the tiny guest's RAM)" },
    { "ksm_merged_ratio", NULL, 0.02, 0, VMCTL_FIGURE_WORSE_DOWN,
      "99.95-99.99% of the identical pages merged in a run here; the few still in flight scatter it by well under "
      "0.02, so 0.02 absolute is a change in what KSM merges" },
    { "ksm_half_merged_seconds", NULL, 1.0, 1.0, VMCTL_FIGURE_WORSE_UP,
      "set by ksmd's scan pace and the 0.5 s sampling (0.5-1 s here): a doubling and at least 1 s" },
};

const VmctlFigureBand *vmctl_report_figure_band(const char *name, json_object *labels)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bands); i++) {
        g_auto(GStrv) kv = NULL;

        if (g_strcmp0(bands[i].name, name) != 0)
            continue;
        if (!bands[i].label)
            return &bands[i];
        kv = g_strsplit(bands[i].label, "=", 2);
        if (kv[1] && g_strcmp0(json_object_get_string(json_object_object_get(labels, kv[0])), kv[1]) == 0)
            return &bands[i];
    }
    return NULL;
}

static const char *const statuses[] = { "PASS", "FAIL", "NOT APPLICABLE", "ERROR" };

bool vmctl_report_is_valid(json_object *report, GError **error)
{
    json_object *checks;

    if (!json_object_is_type(report, json_type_object)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "not a vmctl validate report (not a JSON object)");
        return false;
    }
    checks = json_object_object_get(report, "checks");
    if (!json_object_is_type(checks, json_type_array)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "not a vmctl validate report (no checks array)");
        return false;
    }
    for (size_t i = 0; i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        const char *st;
        bool known = false;

        if (!json_object_is_type(c, json_type_object) ||
            !json_object_is_type(json_object_object_get(c, "id"), json_type_string)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "not a vmctl validate report (check %zu has no string id)", i);
            return false;
        }
        st = vmctl_report_str(c, "status");
        for (size_t j = 0; st && j < G_N_ELEMENTS(statuses); j++)
            known |= strcmp(st, statuses[j]) == 0;
        if (!known || !json_object_is_type(json_object_object_get(c, "status"), json_type_string)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "not a vmctl validate report (check '%s' has status '%s', not PASS, FAIL, NOT APPLICABLE "
                        "or ERROR)",
                        vmctl_report_str(c, "id"), st ? st : "");
            return false;
        }
    }
    return true;
}

static bool bad_status(const char *st)
{
    return g_strcmp0(st, "FAIL") == 0 || g_strcmp0(st, "ERROR") == 0;
}

static json_object *change_new(const char *kind, const char *id, json_object *old_val, json_object *new_val,
                               bool regression)
{
    json_object *c = json_object_new_object();

    vmctl_json_add_str(c, "kind", kind);
    vmctl_json_add_str(c, "id", id);
    json_object_object_add(c, "old", old_val);
    json_object_object_add(c, "new", new_val);
    vmctl_json_add_bool(c, "regression", regression);
    return c;
}

static json_object *jstring_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* id -> check object, the first of each id. */
static GHashTable *checks_by_id(json_object *report)
{
    json_object *checks = json_object_object_get(report, "checks");
    GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);

    for (size_t i = 0; i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        const char *id = vmctl_report_str(c, "id");

        if (!g_hash_table_contains(h, id))
            g_hash_table_insert(h, (gpointer)id, c);
    }
    return h;
}

static void compare_checks(json_object *old_r, json_object *new_r, json_object *changes)
{
    g_autoptr(GHashTable) old_ids = checks_by_id(old_r);
    g_autoptr(GHashTable) new_ids = checks_by_id(new_r);
    json_object *old_checks = json_object_object_get(old_r, "checks");
    json_object *new_checks = json_object_object_get(new_r, "checks");
    g_autoptr(GHashTable) done = g_hash_table_new(g_str_hash, g_str_equal);

    /* in NEW's order: status changes and added checks */
    for (size_t i = 0; i < json_object_array_length(new_checks); i++) {
        json_object *nc = json_object_array_get_idx(new_checks, i);
        const char *id = vmctl_report_str(nc, "id");
        json_object *oc = g_hash_table_lookup(old_ids, id);
        const char *ns = vmctl_report_str(nc, "status");

        if (!g_hash_table_add(done, (gpointer)id))
            continue;
        if (!oc) {
            json_object_array_add(changes, change_new("added", id, NULL, jstring_or_null(ns), bad_status(ns)));
        } else if (g_strcmp0(vmctl_report_str(oc, "status"), ns) != 0) {
            const char *os = vmctl_report_str(oc, "status");
            json_object *c = change_new("status", id, jstring_or_null(os), jstring_or_null(ns),
                                        bad_status(ns) && !bad_status(os));

            vmctl_json_add_str(c, "summary", vmctl_report_str(nc, "summary"));
            json_object_array_add(changes, c);
        }
    }
    /* then the checks only OLD has, in its order */
    for (size_t i = 0; i < json_object_array_length(old_checks); i++) {
        json_object *oc = json_object_array_get_idx(old_checks, i);
        const char *id = vmctl_report_str(oc, "id");

        if (g_hash_table_contains(new_ids, id) || !g_hash_table_add(done, (gpointer)id))
            continue;
        json_object_array_add(changes, change_new("removed", id, jstring_or_null(vmctl_report_str(oc, "status")), NULL, false));
    }
}

/* "NAME CHECK LABEL=VALUE": a figure's identity across reports. */
static char *figure_key(json_object *f)
{
    GString *k = g_string_new(NULL);
    json_object *labels = json_object_object_get(f, "labels");

    g_string_append_printf(k, "%s %s", vmctl_report_str(f, "name"), vmctl_report_str(f, "check"));
    if (labels) {
        json_object_object_foreach(labels, lk, lv) g_string_append_printf(k, " %s=%s", lk, json_object_get_string(lv));
    }
    return g_string_free(k, FALSE);
}

static void compare_figures(json_object *old_r, json_object *new_r, json_object *changes)
{
    g_autoptr(json_object) old_f = vmctl_report_figures(old_r);
    g_autoptr(json_object) new_f = vmctl_report_figures(new_r);
    g_autoptr(GHashTable) old_by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (size_t i = 0; i < json_object_array_length(old_f); i++) {
        json_object *f = json_object_array_get_idx(old_f, i);
        g_hash_table_insert(old_by_key, figure_key(f), f);
    }
    for (size_t i = 0; i < json_object_array_length(new_f); i++) {
        json_object *nf = json_object_array_get_idx(new_f, i);
        g_autofree char *key = figure_key(nf);
        json_object *of = g_hash_table_lookup(old_by_key, key), *c, *labels;
        const VmctlFigureBand *b = vmctl_report_figure_band(vmctl_report_str(nf, "name"), json_object_object_get(nf, "labels"));
        double ov, nv, band;
        const char *dir;
        bool worse, better;

        if (!of || !b)
            continue;
        ov = json_object_get_double(json_object_object_get(of, "value"));
        nv = json_object_get_double(json_object_object_get(nf, "value"));
        band = MAX(b->abs, b->rel * fabs(ov));
        if (!(fabs(nv - ov) > band))
            continue;
        switch (b->worse) {
        case VMCTL_FIGURE_WORSE_UP:
            worse = nv > ov, better = nv < ov;
            break;
        case VMCTL_FIGURE_WORSE_DOWN:
            worse = nv < ov, better = nv > ov;
            break;
        case VMCTL_FIGURE_WORSE_AWAY_1:
            /* 0.97 -> 1.03 moved 0.06 but is no less accurate: what counts is
             * how much farther from 1 it is */
            worse = fabs(nv - 1) - fabs(ov - 1) > band;
            better = fabs(ov - 1) - fabs(nv - 1) > band;
            break;
        case VMCTL_FIGURE_NEITHER:
        default:
            worse = better = false;
            break;
        }
        dir = worse ? "worse" : better ? "better" : "moved";
        c = change_new("figure", key, json_object_new_double(ov), json_object_new_double(nv), worse);
        vmctl_json_add_str(c, "figure", vmctl_report_str(nf, "name"));
        vmctl_json_add_str(c, "check", vmctl_report_str(nf, "check"));
        labels = json_object_object_get(nf, "labels");
        if (labels)
            json_object_object_add(c, "labels", json_object_get(labels));
        vmctl_json_add_str(c, "unit", vmctl_report_str(nf, "unit"));
        vmctl_json_add_double(c, "band", band);
        vmctl_json_add_str(c, "direction", dir);
        json_object_array_add(changes, c);
    }
}

static void compare_host(json_object *old_r, json_object *new_r, json_object *changes)
{
    static const struct {
        const char *id;
        const char *path;
    } facts[] = {
        { "kernel release", "host.kernel.release" },
        { "kvm available", "host.kvm.available" },
        { "kvm module", "host.kvm.module" },
        { "qemu version", "host.qemu.version" },
        { "libvirt version", "host.libvirt.library_version" },
        { "thp", "host.memory.thp" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(facts); i++) {
        const char *o = vmctl_report_str(old_r, facts[i].path), *n = vmctl_report_str(new_r, facts[i].path);

        if (g_strcmp0(o, n) != 0)
            json_object_array_add(changes, change_new("host", facts[i].id, jstring_or_null(o), jstring_or_null(n),
                                                      false));
    }
}

json_object *vmctl_report_compare(json_object *old_report, json_object *new_report)
{
    json_object *out = json_object_new_object();
    json_object *changes = json_object_new_array();
    unsigned regressions = 0, improvements = 0;

    compare_checks(old_report, new_report, changes);
    compare_figures(old_report, new_report, changes);
    compare_host(old_report, new_report, changes);
    for (size_t i = 0; i < json_object_array_length(changes); i++) {
        json_object *c = json_object_array_get_idx(changes, i);
        const char *kind = vmctl_report_str(c, "kind");

        regressions += json_object_get_boolean(json_object_object_get(c, "regression"));
        improvements += (strcmp(kind, "status") == 0 && bad_status(vmctl_report_str(c, "old")) && !bad_status(vmctl_report_str(c, "new"))) ||
                        (strcmp(kind, "figure") == 0 && g_strcmp0(vmctl_report_str(c, "direction"), "better") == 0);
    }
    json_object_object_add(out, "changes", changes);
    vmctl_json_add_u64(out, "regressions", regressions);
    vmctl_json_add_u64(out, "improvements", improvements);
    return out;
}
