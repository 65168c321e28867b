/* lab_report.c: the host report's lab sections and their kernel x check
 * matrix (see lab_report.h). */
#include "config.h"

#include "lab_report.h"

#include "host.h"
#include "lab.h"
#include "report.h"

#include <string.h>

#define LAB_VALIDATE_TIMEOUT_S 900 /* s for one lab kernel's checks (about 1-2 min when well) */

json_object *vmctl_lab_validate(const char *kernel, bool quick, void (*progress)(const char *line, void *data),
                                void *data, GError **error)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(json_object) lab = NULL;
    json_object *report, *o;
    VmctlLabOptions lo;
    int status = -1;
    /* the lab's device-dax and fsdax mount are among the defaults there;
     * named, they get their backend checks too */
    const char *argv[] = { self, "validate", "--json", "--only", VMCTL_LAB_CHECK_GROUPS, "--backend", "/dev/dax0.0",
                           "--backend", "/dev/dax2.0", "--backend", "/mnt/fsdax1", quick ? "--quick" : NULL, NULL };

    vmctl_lab_options_default(&lo);
    lo.kernel = kernel;
    /* the checks' own scratch files live in the lab's /tmp */
    /* bounded: a lab whose nested guest stalls becomes that lab's error,
     * never a report that never ends */
    if (!vmctl_lab_run_capture(&lo, (char *const *)argv, "/tmp", -1, LAB_VALIDATE_TIMEOUT_S, progress, data, &out,
                               &err, &status, &lab, error))
        return NULL;
    report = json_tokener_parse(out);
    if (!report || !json_object_object_get_ex(report, "checks", NULL)) {
        g_strstrip(err);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "the report in the lab (kernel '%s') gave no result "
                    "(exit status %d)%s%s", kernel, status, *err ? ": " : "", err);
        if (report)
            json_object_put(report);
        return NULL;
    }
    o = json_object_new_object();
    vmctl_json_add_str(o, "kernel", kernel);
    json_object_object_add(o, "lab", json_object_get(lab));
    json_object_object_add(o, "report", report);
    return o;
}

static json_object *lab_checks(json_object *lab)
{
    json_object *report = NULL, *checks = NULL;

    if (json_object_object_get_ex(lab, "report", &report))
        json_object_object_get_ex(report, "checks", &checks);
    return checks;
}

static json_object *find_check(json_object *lab, const char *id)
{
    json_object *checks = lab_checks(lab);

    for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        if (g_strcmp0(json_object_get_string(json_object_object_get(c, "id")), id) == 0)
            return c;
    }
    return NULL;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

json_object *vmctl_lab_matrix(json_object *labs)
{
    json_object *m = json_object_new_object();
    json_object *kernels = json_object_new_array();
    json_object *rows = json_object_new_array();
    json_object *changes = json_object_new_array();
    g_autoptr(GPtrArray) ids = g_ptr_array_new();
    g_autoptr(GHashTable) titles = g_hash_table_new(g_str_hash, g_str_equal);
    size_t nl = json_object_array_length(labs);
    const struct vmctl_known_change *kc;
    size_t nkc;

    for (size_t k = 0; k < nl; k++) {
        json_object *lab = json_object_array_get_idx(labs, k);
        json_object *checks = lab_checks(lab);

        json_object_array_add(kernels, json_object_new_string(jstr(lab, "kernel")));
        for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
            json_object *c = json_object_array_get_idx(checks, i);
            const char *id = jstr(c, "id");
            if (id && !g_hash_table_contains(titles, id)) {
                g_hash_table_insert(titles, (gpointer)id, (gpointer)jstr(c, "title"));
                g_ptr_array_add(ids, (gpointer)id);
            }
        }
    }
    for (guint i = 0; i < ids->len; i++) {
        json_object *row = json_object_new_object(), *cells = json_object_new_array();
        const char *first = NULL;
        bool differs = false;

        vmctl_json_add_str(row, "id", ids->pdata[i]);
        vmctl_json_add_str(row, "title", g_hash_table_lookup(titles, ids->pdata[i]));
        for (size_t k = 0; k < nl; k++) {
            json_object *c = find_check(json_object_array_get_idx(labs, k), ids->pdata[i]);
            const char *st = c ? jstr(c, "status") : NULL;
            json_object_array_add(cells, st ? json_object_new_string(st) : NULL);
            if (k == 0)
                first = st;
            else
                differs |= g_strcmp0(first, st) != 0;
        }
        json_object_object_add(row, "cells", cells);
        vmctl_json_add_bool(row, "differs", differs);
        json_object_array_add(rows, row);
    }
    kc = vmctl_known_changes(&nkc);
    for (size_t i = 0; i < nkc; i++) {
        json_object *row, *cells;

        if (strcmp(kc[i].component, "kernel") != 0)
            continue;
        row = json_object_new_object();
        cells = json_object_new_array();
        vmctl_json_add_str(row, "id", kc[i].id);
        vmctl_json_add_str(row, "summary", kc[i].summary);
        for (size_t k = 0; k < nl; k++) {
            json_object *lab = json_object_array_get_idx(labs, k);
            json_object *cell = json_object_new_object();
            const char *release = jstr(json_object_object_get(lab, "lab"), "release");
            struct vmctl_version v;
            const char *seen = NULL, *check = NULL;
            g_autofree char *measured =
                lab_checks(lab) ? vmctl_report_measure_change(kc[i].id, lab_checks(lab), &seen, &check) : NULL;

            if (release && vmctl_version_parse(release, &v))
                vmctl_json_add_bool(cell, "applies", vmctl_known_change_applies(&kc[i], &v));
            vmctl_json_add_str(cell, "measured", measured);
            vmctl_json_add_str(cell, "seen", seen);
            json_object_array_add(cells, cell);
        }
        json_object_object_add(row, "cells", cells);
        json_object_array_add(changes, row);
    }
    json_object_object_add(m, "kernels", kernels);
    json_object_object_add(m, "rows", rows);
    json_object_object_add(m, "changes", changes);
    return m;
}

const char *vmctl_lab_verdict(json_object *labs)
{
    bool fail = false, error = false;

    for (size_t k = 0; k < json_object_array_length(labs); k++) {
        json_object *lab = json_object_array_get_idx(labs, k);
        const char *v = jstr(json_object_object_get(lab, "report"), "verdict");

        if (!v)
            error = true;
        else if (strcmp(v, "fail") == 0)
            fail = true;
        else if (strcmp(v, "error") == 0)
            error = true;
    }
    return fail ? "fail" : error ? "error" : "pass";
}
