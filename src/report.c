/* report.c: the parts of the host report every rendering shares (see
 * report.h). */
#include "config.h"

#include "report.h"

#include <string.h>

static const char *const status_names[VMCTL_REPORT_NSTATUS] = { "PASS", "FAIL", "NOT APPLICABLE", "ERROR" };

const char *vmctl_report_status_name(enum vmctl_report_status st)
{
    return st < VMCTL_REPORT_NSTATUS ? status_names[st] : "ERROR";
}

const char *vmctl_report_str(json_object *o, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);

    for (size_t i = 0; parts[i] && o; i++)
        o = json_object_is_type(o, json_type_object) ? json_object_object_get(o, parts[i]) : NULL;
    return o && !json_object_is_type(o, json_type_object) && !json_object_is_type(o, json_type_array)
               ? json_object_get_string(o)
               : NULL;
}

/* A check's status; anything unknown counts as an ERROR. */
static enum vmctl_report_status check_status(json_object *check)
{
    const char *st = vmctl_report_str(check, "status");

    for (int i = 0; i < VMCTL_REPORT_NSTATUS; i++)
        if (g_strcmp0(st, status_names[i]) == 0)
            return i;
    return VMCTL_REPORT_ERROR;
}

static json_object *report_checks(json_object *report)
{
    json_object *checks = json_object_object_get(report, "checks");

    return json_object_is_type(checks, json_type_array) ? checks : NULL;
}

void vmctl_report_counts(json_object *report, unsigned counts[VMCTL_REPORT_NSTATUS])
{
    json_object *checks = report_checks(report);

    memset(counts, 0, sizeof(unsigned) * VMCTL_REPORT_NSTATUS);
    for (size_t i = 0; checks && i < json_object_array_length(checks); i++)
        counts[check_status(json_object_array_get_idx(checks, i))]++;
}

char *vmctl_report_counts_line(json_object *report)
{
    unsigned n[VMCTL_REPORT_NSTATUS];

    vmctl_report_counts(report, n);
    return g_strdup_printf("%u PASS, %u FAIL, %u NOT APPLICABLE, %u ERROR", n[VMCTL_REPORT_PASS],
                           n[VMCTL_REPORT_FAIL], n[VMCTL_REPORT_NA], n[VMCTL_REPORT_ERROR]);
}

int vmctl_report_first(json_object *report, enum vmctl_report_status st)
{
    json_object *checks = report_checks(report);

    for (size_t i = 0; checks && i < json_object_array_length(checks); i++)
        if (check_status(json_object_array_get_idx(checks, i)) == st)
            return (int)i;
    return -1;
}

/* A summary up to its first "; " (the rest is detail), without a leading
 * "FAIL: " that repeats the status. */
static char *first_clause(const char *summary)
{
    const char *s = summary ? summary : "";
    const char *end;

    if (g_str_has_prefix(s, "FAIL: "))
        s += strlen("FAIL: ");
    end = strstr(s, "; ");
    return end ? g_strndup(s, end - s) : g_strdup(s);
}

/* "first: ID: what (n more)" for the first check of `st`. */
static void append_first(GString *r, json_object *report, enum vmctl_report_status st, unsigned n)
{
    json_object *c = json_object_array_get_idx(report_checks(report), vmctl_report_first(report, st));
    json_object *kb = json_object_object_get(json_object_object_get(c, "evidence"), "known_bug");
    g_autofree char *what = first_clause(vmctl_report_str(c, "summary"));

    g_string_append_printf(r, "%s %s: %s", vmctl_report_str(c, "id") ? vmctl_report_str(c, "id") : "?",
                           st == VMCTL_REPORT_FAIL ? "failed" : "could not run", what);
    if (kb)
        g_string_append_printf(r, ", a known bug of the installed QEMU ('%s'), fixed in QEMU %s", vmctl_report_str(kb, "id"),
                               vmctl_report_str(kb, "fixed_in") ? vmctl_report_str(kb, "fixed_in") : "(not yet)");
    if (n > 1)
        g_string_append_printf(r, " (and %u more %s)", n - 1, vmctl_report_status_name(st));
}

char *vmctl_report_reason(json_object *report)
{
    GString *r = g_string_new(NULL);
    unsigned n[VMCTL_REPORT_NSTATUS];
    const char *lab_verdict = vmctl_report_str(report, "lab_verdict");
    const char *fault = vmctl_report_str(report, "injected_fault");

    vmctl_report_counts(report, n);
    if (n[VMCTL_REPORT_FAIL]) {
        append_first(r, report, VMCTL_REPORT_FAIL, n[VMCTL_REPORT_FAIL]);
    } else if (n[VMCTL_REPORT_ERROR]) {
        append_first(r, report, VMCTL_REPORT_ERROR, n[VMCTL_REPORT_ERROR]);
    } else if (!n[VMCTL_REPORT_PASS] && !n[VMCTL_REPORT_NA]) {
        g_string_append(r, "no check ran");
    } else {
        g_string_append_printf(r, "all %u measured checks passed", n[VMCTL_REPORT_PASS]);
        if (n[VMCTL_REPORT_NA]) {
            json_object *c = json_object_array_get_idx(report_checks(report), vmctl_report_first(report, VMCTL_REPORT_NA));
            g_autofree char *why = first_clause(vmctl_report_str(c, "summary"));

            g_string_append_printf(r, "; %u not applicable, first %s: %s", n[VMCTL_REPORT_NA], vmctl_report_str(c, "id"), why);
        }
    }
    if (lab_verdict && strcmp(lab_verdict, "pass") != 0)
        g_string_append_printf(r, "; the labs' verdict is %s", lab_verdict);
    if (fault)
        g_string_append_printf(r, " (under an injected test fault: %s)", fault);
    return g_string_free(r, FALSE);
}

char *vmctl_report_evidence_summary(json_object *evidence)
{
    GString *keys;
    json_object *series = NULL;
    unsigned n = 0;
    char *s;

    if (!json_object_is_type(evidence, json_type_object) || json_object_object_length(evidence) == 0)
        return g_strdup("no evidence recorded");
    keys = g_string_new(NULL);
    json_object_object_foreach(evidence, k, v) {
        (void)v;
        if (++n <= 6)
            g_string_append_printf(keys, "%s%s", n > 1 ? ", " : "", k);
    }
    if (n > 6)
        g_string_append(keys, ", ...");
    if (json_object_object_get_ex(evidence, "series", &series) && json_object_is_type(series, json_type_array))
        g_string_append_printf(keys, "; %zu plotted series", json_object_array_length(series));
    s = g_strdup_printf("%u field%s%s%s", n, n == 1 ? "" : "s", n ? ": " : "", keys->str);
    g_string_free(keys, TRUE);
    return s;
}

/* The checks whose id starts with `prefix`: how many, and how many of
 * them have `status`. */
static void count_checks(json_object *checks, const char *prefix, const char *status, unsigned *n, unsigned *with,
                         const char **first)
{
    *n = *with = 0;
    for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        if (!g_str_has_prefix(vmctl_report_str(c, "id"), prefix))
            continue;
        if (!(*n)++)
            *first = vmctl_report_str(c, "id");
        *with += g_strcmp0(vmctl_report_str(c, "status"), status) == 0;
    }
}

char *vmctl_report_measure_change(const char *id, json_object *checks, const char **seen, const char **check)
{
    if (strcmp(id, "zone-device-not-reserved") == 0) {
        unsigned n, pass;
        count_checks(checks, "dirty-log/devdax:", "PASS", &n, &pass, check);
        if (!n)
            return NULL;
        *seen = pass == n ? "seen" : "not seen";
        return g_strdup_printf("dirty logging exact on device-dax in %u of %u modes", pass, n);
    }
    if (strcmp(id, "dax-huge-mappings") == 0 || strcmp(id, "fsdax-2m-regression") == 0) {
        bool fsdax = id[0] == 'f';

        for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
            json_object *c = json_object_array_get_idx(checks, i);
            json_object *ev = json_object_object_get(c, "evidence");
            int64_t before;

            if (!g_str_has_prefix(vmctl_report_str(c, "id"), fsdax ? "huge-pages/fsdax:" : "huge-pages/devdax:"))
                continue;
            *check = vmctl_report_str(c, "id");
            if (g_strcmp0(vmctl_report_str(c, "status"), "NOT APPLICABLE") == 0 &&
                strstr(vmctl_report_str(c, "summary") ? vmctl_report_str(c, "summary") : "", "stats are not available")) {
                *seen = "not measurable";
                return g_strdup("KVM binary stats are not available on this kernel");
            }
            before = json_object_get_int64(json_object_object_get(ev, "pages_2m_before"));
            /* the regression is the absence of huge mappings */
            *seen = (before > 0) != fsdax ? "seen" : "not seen";
            return g_strdup_printf("%" PRId64 " 2M mappings of %s by KVM before dirty logging", before,
                                   fsdax ? "an allocated, 2M-aligned fsdax file" : "device-dax");
        }
        return NULL;
    }
    if (strcmp(id, "tcg-lost-dirty-pages") == 0) {
        /* only a migration under TCG can show it; its page compare counts
         * what was lost */
        for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
            json_object *c = json_object_array_get_idx(checks, i);
            json_object *ev = json_object_object_get(c, "evidence");

            if (!g_str_has_prefix(vmctl_report_str(c, "id"), "migration/") || g_strcmp0(vmctl_report_str(ev, "accel"), "tcg") != 0)
                continue;
            *check = vmctl_report_str(c, "id");
            if (json_object_object_get_ex(ev, "known_bug", NULL)) {
                g_autofree char *what = first_clause(vmctl_report_str(c, "summary"));
                *seen = "seen";
                return g_strdup_printf("a migration under TCG lost pages: %s", what);
            }
            if (g_strcmp0(vmctl_report_str(c, "status"), "PASS") == 0) {
                *seen = "not seen";
                return g_strdup("a migration under TCG lost no page this time (the loss is intermittent)");
            }
        }
        return NULL;
    }
    return NULL;
}

json_object *vmctl_report_known_changes(json_object *report)
{
    static const char *const parts[] = { "kernel", "known_changes", "qemu", "known_issues" };
    json_object *host = json_object_object_get(report, "host");
    json_object *rows = json_object_new_array();

    for (size_t p = 0; p < G_N_ELEMENTS(parts); p += 2) {
        json_object *arr = json_object_object_get(json_object_object_get(host, parts[p]), parts[p + 1]);

        for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
            json_object *c = json_object_array_get_idx(arr, i), *row = json_object_new_object();
            const char *seen = NULL, *check = NULL;
            g_autofree char *measured =
                vmctl_report_str(c, "id") ? vmctl_report_measure_change(vmctl_report_str(c, "id"), report_checks(report), &seen, &check)
                              : NULL;

            vmctl_json_add_str(row, "component", parts[p]);
            vmctl_json_add_str(row, "id", vmctl_report_str(c, "id"));
            vmctl_json_add_str(row, "summary", vmctl_report_str(c, "summary"));
            vmctl_json_add_bool(row, "applies", json_object_get_boolean(json_object_object_get(c, "applies")));
            if (vmctl_report_str(c, "since"))
                vmctl_json_add_str(row, "since", vmctl_report_str(c, "since"));
            if (vmctl_report_str(c, "fixed_in"))
                vmctl_json_add_str(row, "fixed_in", vmctl_report_str(c, "fixed_in"));
            if (measured) {
                vmctl_json_add_str(row, "measured", measured);
                vmctl_json_add_str(row, "seen", seen);
                vmctl_json_add_str(row, "check", check);
            }
            json_object_array_add(rows, row);
        }
    }
    return rows;
}
