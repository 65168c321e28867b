/* report_metrics.c: the validate report as Prometheus text exposition
 * format 0.0.4, the format the node_exporter textfile collector reads
 * (--collector.textfile.directory; the file must hold no timestamps), and the
 * measured figures of a report's checks that the metrics and
 * vmctl_report_compare() share.
 *
 * Every family is a gauge with its # HELP and # TYPE lines, its samples
 * together; label values escape \\, \" and \n; a check id appears once per
 * family (the first check of an id wins, should a report repeat one). */
#include "config.h"

#include "report_formats.h"

#include "report.h"

#include <math.h>
#include <string.h>

/* A measured figure in a check's evidence. */
static const struct figure_def {
    const char *name;  /* the metric is vmctl_NAME */
    const char *unit;  /* of the value after scaling */
    const char *help;  /* for # HELP */
    const char *group; /* the checks whose id starts with this */
    const char *path;  /* evidence member, dotted */
    const char *per;   /* divided by this evidence member (a ratio), or NULL */
    double scale;      /* to the unit */
    const char *label; /* a second label: "name=value", or "name" for the value of that
                        * evidence member (a string), or NULL */
} figures[] = {
    /* entries of one name stay together: they are one metric family */
    { "dirty_log_harvest_seconds_per_gib", "s/GiB",
      "Time to harvest (get and reset) the dirty log, per GiB of slot, median over the rounds; pages=few: a few "
      "pages written per round, pages=all: every page",
      "dirty-log/", "cost.few.harvest_ns_per_gib", NULL, 1e-9, "pages=few" },
    { "dirty_log_harvest_seconds_per_gib", "s/GiB", NULL, "dirty-log/", "cost.all.harvest_ns_per_gib", NULL, 1e-9,
      "pages=all" },
    { "dirty_rate_ratio", "ratio", "QEMU's measured dirty rate divided by the guest's own count of pages written",
      "dirty-rate/", "ratio", NULL, 1, "mode" },
    { "dirty_rate_measured_pages_per_second", "pages/s", "Dirty rate QEMU's calc-dirty-rate measured",
      "dirty-rate/", "measured_pages_per_s", NULL, 1, "mode" },
    { "dirty_rate_true_pages_per_second", "pages/s", "Dirty rate the guest's own write counter gives",
      "dirty-rate/", "true_pages_per_s", NULL, 1, "mode" },
    { "migration_elapsed_seconds", "s", "Live migration from start to the destination verified, as vmctl timed it",
      "migration/", "elapsed_ms", NULL, 1e-3, NULL },
    { "migration_total_time_seconds", "s", "Live migration time as QEMU reports it (total-time)", "migration/",
      "stats.total_time_ms", NULL, 1e-3, NULL },
    { "migration_downtime_seconds", "s", "Guest downtime of the live migration as QEMU reports it", "migration/",
      "stats.downtime_ms", NULL, 1e-3, NULL },
    { "migration_transferred_bytes", "bytes", "RAM QEMU transferred for the live migration", "migration/",
      "stats.transferred", NULL, 1, NULL },
    { "ksm_merged_ratio", "ratio", "Identical guest pages KSM merged, divided by the identical pages", "ksm/",
      "merged_pages", "identical_pages", 1, NULL },
    { "ksm_half_merged_seconds", "s", "Time until KSM had merged half of the identical guest pages", "ksm/",
      "half_merged_after_s", NULL, 1, NULL },
};

const char *const *vmctl_report_figure_names(void)
{
    static const char *names[G_N_ELEMENTS(figures) + 1];

    if (!names[0]) {
        size_t n = 0;
        for (size_t i = 0; i < G_N_ELEMENTS(figures); i++)
            if (!n || strcmp(names[n - 1], figures[i].name) != 0)
                names[n++] = figures[i].name;
    }
    return names;
}

/* A number member by dotted path: false when absent, not a number or not finite. */
static bool jnum(json_object *o, const char *path, double *out)
{
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);

    for (size_t i = 0; parts[i] && o; i++)
        o = json_object_is_type(o, json_type_object) ? json_object_object_get(o, parts[i]) : NULL;
    if (!o || !(json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double)))
        return false;
    *out = json_object_get_double(o);
    return isfinite(*out);
}

/* The report's checks with the first of each id only. */
static GPtrArray *unique_checks(json_object *report)
{
    json_object *checks = json_object_object_get(report, "checks");
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *out = g_ptr_array_new();

    for (size_t i = 0; json_object_is_type(checks, json_type_array) && i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        const char *id = vmctl_report_str(c, "id");

        if (!id || !g_hash_table_add(seen, (gpointer)id))
            continue;
        g_ptr_array_add(out, c);
    }
    return out;
}

json_object *vmctl_report_figures(json_object *report)
{
    json_object *out = json_object_new_array();
    g_autoptr(GPtrArray) checks = unique_checks(report);

    for (size_t f = 0; f < G_N_ELEMENTS(figures); f++) {
        const struct figure_def *d = &figures[f];

        for (guint i = 0; i < checks->len; i++) {
            json_object *c = checks->pdata[i], *ev = json_object_object_get(c, "evidence"), *fig;
            const char *id = vmctl_report_str(c, "id");
            double v, per = 1;

            if (!g_str_has_prefix(id, d->group) || !jnum(ev, d->path, &v))
                continue;
            if (d->per && (!jnum(ev, d->per, &per) || per <= 0))
                continue;
            fig = json_object_new_object();
            vmctl_json_add_str(fig, "name", d->name);
            vmctl_json_add_str(fig, "check", id);
            if (d->label) {
                g_auto(GStrv) kv = g_strsplit(d->label, "=", 2);
                json_object *labels = json_object_new_object();
                const char *val = kv[1] ? kv[1] : vmctl_report_str(ev, kv[0]);

                vmctl_json_add_str(labels, kv[0], val && *val ? val : "unknown");
                json_object_object_add(fig, "labels", labels);
            }
            vmctl_json_add_str(fig, "unit", d->unit);
            vmctl_json_add_double(fig, "value", v / per * d->scale);
            json_object_array_add(out, fig);
        }
    }
    return out;
}

/* ---- the exposition format ---- */

static void label_esc(GString *s, const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);

    for (const char *p = valid; *p; p++) {
        if (*p == '\\')
            g_string_append(s, "\\\\");
        else if (*p == '"')
            g_string_append(s, "\\\"");
        else if (*p == '\n')
            g_string_append(s, "\\n");
        else
            g_string_append_c(s, *p);
    }
}

/* # HELP text escapes only \\ and \n. */
static void family(GString *s, const char *name, const char *help)
{
    g_string_append_printf(s, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            g_string_append(s, "\\\\");
        else if (*p == '\n')
            g_string_append(s, "\\n");
        else
            g_string_append_c(s, *p);
    }
    g_string_append_printf(s, "\n# TYPE %s gauge\n", name);
}

/* A value: an integer as one, else the shortest form that reads back the same
 * up to 15 digits (Go's ParseFloat takes either). */
static void value(GString *s, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (v == floor(v) && fabs(v) < 1e15)
        g_string_append_printf(s, " %.0f\n", v);
    else
        g_string_append_printf(s, " %s\n", g_ascii_formatd(buf, sizeof(buf), "%.15g", v));
}

/* name{k1="v1",k2="v2",...} for a NULL-terminated list of names and values. */
static void sample(GString *s, const char *name, double v, ...) G_GNUC_NULL_TERMINATED;

static void sample(GString *s, const char *name, double v, ...)
{
    va_list ap;
    const char *k;
    bool first = true;

    g_string_append(s, name);
    va_start(ap, v);
    while ((k = va_arg(ap, const char *))) {
        const char *val = va_arg(ap, const char *);

        g_string_append_printf(s, "%s%s=\"", first ? "{" : ",", k);
        label_esc(s, val);
        g_string_append_c(s, '"');
        first = false;
    }
    va_end(ap);
    if (!first)
        g_string_append_c(s, '}');
    value(s, v);
}

static const char *const statuses[] = { "PASS", "FAIL", "NOT APPLICABLE", "ERROR" };

static const char *or_unknown(const char *s)
{
    return s && *s ? s : "unknown";
}

char *vmctl_report_openmetrics(json_object *report)
{
    GString *s = g_string_new(NULL);
    g_autoptr(GPtrArray) checks = unique_checks(report);
    g_autoptr(json_object) figs = vmctl_report_figures(report);
    json_object *host = json_object_object_get(report, "host");
    const char *verdict = vmctl_report_str(report, "verdict");
    const char *started = vmctl_report_str(report, "started");
    g_autoptr(GDateTime) t = started ? g_date_time_new_from_iso8601(started, NULL) : NULL;
    const char *last = NULL;

    family(s, "vmctl_host_info", "Host facts of the report: kernel release, KVM module, QEMU, libvirt and vmctl "
                                 "versions (unknown where the report has none)");
    sample(s, "vmctl_host_info", 1, "kernel", or_unknown(vmctl_report_str(host, "kernel.release")), "kvm_module",
           or_unknown(vmctl_report_str(host, "kvm.module")), "qemu", or_unknown(vmctl_report_str(host, "qemu.version")), "libvirt",
           or_unknown(vmctl_report_str(host, "libvirt.library_version")), "vmctl", or_unknown(vmctl_report_str(report, "vmctl_version")),
           NULL);

    family(s, "vmctl_report_verdict", "The report's verdict: 1 for the one it has, 0 for the others");
    for (size_t i = 0; i < 3; i++) {
        static const char *const verdicts[] = { "pass", "fail", "error" };
        sample(s, "vmctl_report_verdict", g_strcmp0(verdict, verdicts[i]) == 0, "verdict", verdicts[i], NULL);
    }

    family(s, "vmctl_report_checks", "Checks in the report by status");
    for (size_t i = 0; i < G_N_ELEMENTS(statuses); i++) {
        unsigned n = 0;
        for (guint j = 0; j < checks->len; j++)
            n += g_strcmp0(vmctl_report_str(checks->pdata[j], "status"), statuses[i]) == 0;
        sample(s, "vmctl_report_checks", n, "status", statuses[i], NULL);
    }

    if (t) {
        family(s, "vmctl_report_start_time_seconds", "When the report's run started, seconds since the epoch");
        sample(s, "vmctl_report_start_time_seconds", (double)g_date_time_to_unix(t), NULL);
    }

    /* a state set: every status of every check, 1 for the one it has, so a
     * query never has to tell a missing series from a status it does not have */
    family(s, "vmctl_check_status", "Status of a check: 1 for the one it has, 0 for the others");
    for (guint j = 0; j < checks->len; j++) {
        const char *id = vmctl_report_str(checks->pdata[j], "id"), *st = vmctl_report_str(checks->pdata[j], "status");
        for (size_t i = 0; i < G_N_ELEMENTS(statuses); i++)
            sample(s, "vmctl_check_status", g_strcmp0(st, statuses[i]) == 0, "check", id, "status", statuses[i],
                   NULL);
    }

    family(s, "vmctl_check_duration_seconds", "How long a check took");
    for (guint j = 0; j < checks->len; j++) {
        double ns = 0;

        jnum(checks->pdata[j], "duration_ns", &ns);
        sample(s, "vmctl_check_duration_seconds", ns / 1e9, "check", vmctl_report_str(checks->pdata[j], "id"), NULL);
    }

    for (size_t i = 0; i < json_object_array_length(figs); i++) {
        json_object *f = json_object_array_get_idx(figs, i), *labels = json_object_object_get(f, "labels");
        const char *name = vmctl_report_str(f, "name");
        g_autofree char *metric = g_strdup_printf("vmctl_%s", name);
        double v = 0;

        if (g_strcmp0(name, last) != 0) {
            for (size_t d = 0; d < G_N_ELEMENTS(figures); d++)
                if (strcmp(figures[d].name, name) == 0) {
                    g_autofree char *help = g_strdup_printf("%s (%s)", figures[d].help, figures[d].unit);
                    family(s, metric, help);
                    break;
                }
            last = name;
        }
        jnum(f, "value", &v);
        if (labels) {
            json_object_object_foreach(labels, k, lv)
            {
                sample(s, metric, v, "check", vmctl_report_str(f, "check"), k, json_object_get_string(lv), NULL);
                break; /* one sub-label per figure */
            }
        } else {
            sample(s, metric, v, "check", vmctl_report_str(f, "check"), NULL);
        }
    }
    return g_string_free(s, FALSE);
}
