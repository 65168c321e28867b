/* report_junit.c: the validate report as JUnit XML, the format Jenkins,
 * GitLab and most CI systems show as test results. One <testsuite> for the
 * host's checks (and one per lab with --lab), one <testcase> per check:
 *
 *   PASS            <testcase .../>
 *   FAIL            <failure message="SUMMARY" type="FAIL">EVIDENCE</failure>
 *   ERROR           <error message="SUMMARY" type="ERROR">EVIDENCE</error>
 *   NOT APPLICABLE  <skipped message="REASON"/>
 *
 * EVIDENCE is the check's evidence as pretty JSON. Everything that comes from
 * the report is escaped; characters XML 1.0 cannot carry become U+FFFD. */
#include "config.h"

#include "report_formats.h"

#include "report.h"

#include <string.h>

/* Append text escaped for XML character data or, with attr, for a
 * double-quoted attribute value (where tab, newline and carriage return are
 * character references, so a parser keeps them instead of folding them to
 * spaces). */
static void xml_esc(GString *s, const char *text, bool attr)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);

    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        switch (c) {
        case '&':
            g_string_append(s, "&amp;");
            break;
        case '<':
            g_string_append(s, "&lt;");
            break;
        case '>':
            g_string_append(s, "&gt;");
            break;
        case '"':
            g_string_append(s, attr ? "&quot;" : "\"");
            break;
        case '\t':
        case '\n':
        case '\r':
            if (attr)
                g_string_append_printf(s, "&#%u;", c);
            else
                g_string_append_c(s, (char)c);
            break;
        default:
            /* XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF] */
            if (c < 0x20 || (c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE || c == 0xFFFF)
                g_string_append(s, "\xEF\xBF\xBD");
            else
                g_string_append_len(s, p, g_utf8_next_char(p) - p);
        }
    }
}

static void xml_attr(GString *s, const char *name, const char *value)
{
    g_string_append_printf(s, " %s=\"", name);
    xml_esc(s, value, true);
    g_string_append_c(s, '"');
}

char *vmctl_report_check_group(const char *id)
{
    const char *slash = strchr(id ? id : "", '/');
    g_autofree char *first = slash ? g_strndup(id, slash - id) : g_strdup(id ? id : "");

    /* the huge-page checks come out of the dirty-log probe (`--only dirty-log`) */
    if (strcmp(first, "huge-pages") == 0 || strcmp(first, "hugepages-restored") == 0)
        return g_strdup("dirty-log");
    return g_steal_pointer(&first);
}

/* Seconds to the millisecond, the precision JUnit readers expect. */
static void append_seconds(GString *s, const char *name, double seconds)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    g_string_append_printf(s, " %s=\"%s\"", name, g_ascii_formatd(buf, sizeof(buf), "%.3f", seconds));
}

struct counts {
    unsigned tests, failures, errors, skipped;
    double seconds;
};

static void count_checks(json_object *checks, struct counts *c)
{
    for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
        json_object *chk = json_object_array_get_idx(checks, i);
        const char *st = vmctl_report_str(chk, "status");

        c->tests++;
        c->failures += g_strcmp0(st, "FAIL") == 0;
        c->skipped += g_strcmp0(st, "NOT APPLICABLE") == 0;
        /* a status this version does not know is written as an error */
        c->errors += g_strcmp0(st, "PASS") != 0 && g_strcmp0(st, "FAIL") != 0 && g_strcmp0(st, "NOT APPLICABLE") != 0;
        c->seconds += (double)json_object_get_int64(json_object_object_get(chk, "duration_ns")) / 1e9;
    }
}

static void append_testcase(GString *s, json_object *chk, const char *class_prefix)
{
    const char *id = vmctl_report_str(chk, "id");
    const char *st = vmctl_report_str(chk, "status");
    const char *summary = vmctl_report_str(chk, "summary");
    json_object *ev = json_object_object_get(chk, "evidence");
    g_autofree char *group = vmctl_report_check_group(id);
    g_autofree char *classname = g_strdup_printf("%s.%s", class_prefix, group);
    const char *tag = g_strcmp0(st, "FAIL") == 0 ? "failure" : g_strcmp0(st, "ERROR") == 0 ? "error" : NULL;

    g_string_append(s, "    <testcase");
    xml_attr(s, "classname", classname);
    xml_attr(s, "name", id ? id : "");
    append_seconds(s, "time", (double)json_object_get_int64(json_object_object_get(chk, "duration_ns")) / 1e9);
    if (tag) {
        g_string_append(s, ">\n");
        g_string_append_printf(s, "      <%s", tag);
        xml_attr(s, "message", summary ? summary : "");
        xml_attr(s, "type", st);
        g_string_append_c(s, '>');
        xml_esc(s, ev ? json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)
                      : "{}",
                false);
        g_string_append_printf(s, "</%s>\n    </testcase>\n", tag);
    } else if (g_strcmp0(st, "NOT APPLICABLE") == 0) {
        g_string_append(s, ">\n      <skipped");
        xml_attr(s, "message", summary ? summary : "");
        g_string_append(s, "/>\n    </testcase>\n");
    } else if (g_strcmp0(st, "PASS") == 0) {
        g_string_append(s, "/>\n");
    } else {
        /* a status this version does not know is not a pass */
        g_autofree char *msg = g_strdup_printf("unknown status '%s': %s", st ? st : "", summary ? summary : "");

        g_string_append(s, ">\n      <error");
        xml_attr(s, "message", msg);
        xml_attr(s, "type", "ERROR");
        g_string_append(s, "/>\n    </testcase>\n");
    }
}

static void append_property(GString *s, const char *name, const char *value)
{
    if (!value)
        return;
    g_string_append(s, "      <property");
    xml_attr(s, "name", name);
    xml_attr(s, "value", value);
    g_string_append(s, "/>\n");
}

/* The host facts a result depends on, as <properties>. */
static void append_properties(GString *s, json_object *report)
{
    json_object *host = json_object_object_get(report, "host");
    gsize start = s->len;

    g_string_append(s, "    <properties>\n");
    append_property(s, "kernel.release", vmctl_report_str(host, "kernel.release"));
    append_property(s, "kvm.available", vmctl_report_str(host, "kvm.available"));
    append_property(s, "kvm.module", vmctl_report_str(host, "kvm.module"));
    append_property(s, "memory.thp", vmctl_report_str(host, "memory.thp"));
    append_property(s, "qemu.version", vmctl_report_str(host, "qemu.version"));
    append_property(s, "libvirt.version", vmctl_report_str(host, "libvirt.library_version"));
    append_property(s, "vmctl.version", vmctl_report_str(report, "vmctl_version"));
    append_property(s, "verdict", vmctl_report_str(report, "verdict"));
    append_property(s, "injected_fault", vmctl_report_str(report, "injected_fault"));
    if (s->len == start + strlen("    <properties>\n"))
        g_string_truncate(s, start); /* none known: no element */
    else
        g_string_append(s, "    </properties>\n");
}

/* "2025-01-31T12:00:00Z" (any ISO 8601 time) as the UTC time without a
 * zone that the JUnit timestamp attribute takes; NULL when unparsable. */
static char *junit_timestamp(const char *iso)
{
    g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
    g_autoptr(GDateTime) t = iso ? g_date_time_new_from_iso8601(iso, utc) : NULL;
    g_autoptr(GDateTime) u = t ? g_date_time_to_utc(t) : NULL;

    return u ? g_date_time_format(u, "%Y-%m-%dT%H:%M:%S") : NULL;
}

static void append_suite(GString *s, const char *name, const char *class_prefix, json_object *report,
                         json_object *checks, const char *error)
{
    struct counts c = { 0 };
    g_autofree char *ts = junit_timestamp(vmctl_report_str(report, "started"));
    const char *hostname = vmctl_report_str(report, "host.hostname");

    count_checks(checks, &c);
    if (error)
        c.tests++, c.errors++;
    g_string_append(s, "  <testsuite");
    xml_attr(s, "name", name);
    g_string_append_printf(s, " tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\"", c.tests, c.failures,
                           c.errors, c.skipped);
    append_seconds(s, "time", c.seconds);
    if (ts)
        xml_attr(s, "timestamp", ts);
    if (hostname)
        xml_attr(s, "hostname", hostname);
    g_string_append(s, ">\n");
    append_properties(s, report);
    for (size_t i = 0; checks && i < json_object_array_length(checks); i++)
        append_testcase(s, json_object_array_get_idx(checks, i), class_prefix);
    if (error) {
        g_string_append(s, "    <testcase");
        xml_attr(s, "classname", class_prefix);
        xml_attr(s, "name", "lab");
        g_string_append(s, " time=\"0.000\">\n      <error");
        xml_attr(s, "message", error);
        xml_attr(s, "type", "ERROR");
        g_string_append(s, "/>\n    </testcase>\n");
    }
    g_string_append(s, "  </testsuite>\n");
}

char *vmctl_report_junit(json_object *report)
{
    GString *s = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    json_object *checks = json_object_object_get(report, "checks");
    json_object *labs = json_object_object_get(report, "labs");
    struct counts all = { 0 };

    count_checks(checks, &all);
    for (size_t k = 0; labs && k < json_object_array_length(labs); k++) {
        json_object *l = json_object_array_get_idx(labs, k);

        count_checks(json_object_object_get(json_object_object_get(l, "report"), "checks"), &all);
        if (vmctl_report_str(l, "error"))
            all.tests++, all.errors++;
    }
    g_string_append(s, "<testsuites name=\"vmctl validate\"");
    g_string_append_printf(s, " tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\"", all.tests,
                           all.failures, all.errors, all.skipped);
    append_seconds(s, "time", all.seconds);
    g_string_append(s, ">\n");
    append_suite(s, "vmctl validate", "vmctl", report, checks, NULL);
    /* a lab's checks are the lab kernel's results, never the host's: a suite
     * of their own, with the lab's host facts */
    for (size_t k = 0; labs && k < json_object_array_length(labs); k++) {
        json_object *l = json_object_array_get_idx(labs, k);
        json_object *lr = json_object_object_get(l, "report");
        const char *kernel = vmctl_report_str(l, "kernel");
        g_autofree char *name = g_strdup_printf("vmctl validate: lab kernel %s", kernel ? kernel : "?");
        g_autofree char *prefix = g_strdup_printf("vmctl.lab.%s", kernel ? kernel : "unknown");

        append_suite(s, name, prefix, lr ? lr : l, json_object_object_get(lr, "checks"), vmctl_report_str(l, "error"));
    }
    g_string_append(s, "</testsuites>\n");
    return g_string_free(s, FALSE);
}
