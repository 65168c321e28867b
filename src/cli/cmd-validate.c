/* cmd-validate.c: `vmctl validate`, the host report. Prints the host facts
 * and runs every check that is built; a check that did not run is never
 * printed as a result. */
#include "config.h"

#include "cli/builtin.h"
#include "host.h"
#include "lab_report.h"
#include "report.h"
#include "report_formats.h"
#include "report_html.h"
#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void print_changes(json_object *arr, const char *indent)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *c = json_object_array_get_idx(arr, i);
        json_object *applies = json_object_object_get(c, "applies");

        printf("%s[%s] %s\n", indent, json_object_get_boolean(applies) ? "applies" : "n/a    ",
               json_object_get_string(json_object_object_get(c, "summary")));
    }
}

static const char *jstr(json_object *o, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);

    for (size_t i = 0; parts[i] && o; i++)
        o = json_object_object_get(o, parts[i]);
    return o ? json_object_get_string(o) : "unknown";
}

static void print_facts(json_object *facts)
{
    json_object *caps = json_object_object_get(json_object_object_get(facts, "kvm"), "caps");

    printf("Host facts\n");
    printf("  kernel            %s\n", jstr(facts, "kernel.release"));
    print_changes(json_object_object_get(json_object_object_get(facts, "kernel"), "known_changes"), "                    ");
    printf("  kvm               %s (module %s)\n",
           strcmp(jstr(facts, "kvm.available"), "true") == 0 ? "available" : "unavailable", jstr(facts, "kvm.module"));
    if (caps) {
        json_object_object_foreach(caps, k, v) printf("                    %-28s %s\n", k, json_object_get_string(v));
    }
    printf("  thp               %s\n", jstr(facts, "memory.thp"));
    printf("  ksm               %s (run=%s)\n",
           strcmp(jstr(facts, "memory.ksm.available"), "true") == 0 ? "available" : "unavailable",
           jstr(facts, "memory.ksm.run"));
    printf("  page_idle         %s\n", jstr(facts, "memory.page_idle"));
    printf("  damon (sysfs)     %s\n", jstr(facts, "memory.damon_sysfs"));
    printf("  accessed bits     %s\n", jstr(facts, "memory.dax_accessed_bits"));
    printf("  qemu              %s (%s)\n", jstr(facts, "qemu.version"), jstr(facts, "qemu.binary"));
    print_changes(json_object_object_get(json_object_object_get(facts, "qemu"), "known_issues"), "                    ");
    printf("  libvirt           %s\n", jstr(facts, "libvirt.library_version"));
}

struct progress_ctx {
    bool human;
    bool tap;
    bool tty; /* progress lines are rewritten in place on a terminal */
    unsigned n;
};

static void progress(const VmctlCheckInfo *info, const VmctlCheckResult *res, void *data)
{
    struct progress_ctx *pc = data;

    if (pc->human) {
        if (!res && pc->tty) {
            printf("  %-56s ...", info->title);
            fflush(stdout);
        } else if (res) {
            printf("%s  %-56s %-14s %s\n", pc->tty ? "\r" : "", info->title, vmctl_check_status_name(res->status),
                   res->summary);
        }
    }
    if (pc->tap && res) {
        pc->n++;
        if (res->status == VMCTL_CHECK_PASS)
            printf("ok %u - %s: %s\n", pc->n, info->id, res->summary);
        else if (res->status == VMCTL_CHECK_NA)
            printf("ok %u - %s # SKIP %s\n", pc->n, info->id, res->summary);
        else
            printf("not ok %u - %s: %s %s\n", pc->n, info->id, vmctl_check_status_name(res->status), res->summary);
        printf("  ---\n  evidence: %s\n  ...\n", json_object_to_json_string_ext(res->evidence, JSON_C_TO_STRING_PLAIN));
        fflush(stdout);
    }
}

static void lab_progress(const char *line, void *data)
{
    (void)data;
    fprintf(stderr, "vmctl: lab: %s\n", g_str_has_prefix(line, "mkimage: ") ? line + strlen("mkimage: ") : line);
}

/* The labs' sections: each lab's checks, then the kernel x check matrix
 * and the known kernel changes with what each lab measured. */
static void print_labs(json_object *labs, json_object *matrix)
{
    json_object *kernels = json_object_object_get(matrix, "kernels");
    json_object *rows = json_object_object_get(matrix, "rows");
    json_object *changes = json_object_object_get(matrix, "changes");
    size_t nk = json_object_array_length(kernels);
    int w = 14;

    for (size_t k = 0; k < json_object_array_length(labs); k++) {
        json_object *l = json_object_array_get_idx(labs, k);
        json_object *checks = json_object_object_get(json_object_object_get(l, "report"), "checks");

        printf("\nLab kernel %s (results of the lab's kernel, not of this host)\n", jstr(l, "kernel"));
        if (json_object_object_get_ex(l, "error", NULL)) {
            printf("  ERROR: %s\n", jstr(l, "error"));
            continue;
        }
        printf("  release %s, %s: %s\n", jstr(l, "lab.release"), jstr(l, "lab.accel"), jstr(l, "lab.accel_reason"));
        for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
            json_object *c = json_object_array_get_idx(checks, i);
            printf("  %-56s %-14s %s\n", jstr(c, "title"), jstr(c, "status"), jstr(c, "summary"));
        }
    }
    printf("\nLab matrix (check x lab kernel; * where the kernels differ)\n");
    for (size_t k = 0; k < nk; k++)
        w = MAX(w, (int)strlen(json_object_get_string(json_object_array_get_idx(kernels, k))) + 1);
    printf("  %-52s", "check");
    for (size_t k = 0; k < nk; k++)
        printf(" %-*s", w, json_object_get_string(json_object_array_get_idx(kernels, k)));
    printf("\n");
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i), *cells = json_object_object_get(row, "cells");
        bool differs = json_object_get_boolean(json_object_object_get(row, "differs"));

        printf("%c %-52s", differs ? '*' : ' ', jstr(row, "id"));
        for (size_t k = 0; k < nk; k++) {
            json_object *c = json_object_array_get_idx(cells, k);
            printf(" %-*s", w, c ? json_object_get_string(c) : "-");
        }
        printf("\n");
    }
    printf("\nKnown kernel changes, by version and as measured in each lab\n");
    for (size_t i = 0; i < json_object_array_length(changes); i++) {
        json_object *row = json_object_array_get_idx(changes, i), *cells = json_object_object_get(row, "cells");

        printf("  %s: %s\n", jstr(row, "id"), jstr(row, "summary"));
        for (size_t k = 0; k < nk; k++) {
            json_object *c = json_object_array_get_idx(cells, k), *ap = json_object_object_get(c, "applies");
            json_object *m = json_object_object_get(c, "measured");

            printf("    %-*s by version: %-14s measured: %s%s%s%s\n", w,
                   json_object_get_string(json_object_array_get_idx(kernels, k)),
                   ap ? (json_object_get_boolean(ap) ? "applies" : "does not apply") : "unknown",
                   m ? jstr(c, "seen") : "not measured by the lab", m ? " (" : "", m ? json_object_get_string(m) : "",
                   m ? ")" : "");
        }
    }
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_tokener, json_tokener_free)

/* A saved report (`vmctl validate --json`), or NULL with a one-line error
 * that names the file and the rule it breaks. */
static json_object *read_report(const char *path, GError **error)
{
    g_autoptr(json_tokener) tok = json_tokener_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) r = NULL;
    g_autofree char *text = NULL;
    enum json_tokener_error jerr;
    struct stat st;
    gsize len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        int e = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : errno;

        if (fd >= 0)
            close(fd);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "%s: cannot read: %s", path, g_strerror(e));
        return NULL;
    }
    close(fd);
    if (!g_file_get_contents(path, &text, &len, &err)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "%s: cannot read: %s", path, err->message);
        return NULL;
    }
    r = json_tokener_parse_ex(tok, text, (int)MIN(len, (gsize)G_MAXINT));
    jerr = json_tokener_get_error(tok);
    if (jerr != json_tokener_success || !r) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "%s: not a vmctl validate report (not JSON: %s at byte %zu)",
                    path, jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr),
                    json_tokener_get_parse_end(tok));
        return NULL;
    }
    for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
        if (!g_ascii_isspace(text[i])) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "%s: not a vmctl validate report (not JSON: more after the value at byte %zu)", path, i);
            return NULL;
        }
    if (!vmctl_report_is_valid(r, &err)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "%s: %s", path, err->message);
        return NULL;
    }
    return g_steal_pointer(&r);
}

static void print_value(json_object *v, const char *unit)
{
    if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
        printf("%.4g%s%s", json_object_get_double(v), unit && strcmp(unit, "ratio") ? " " : "",
               unit && strcmp(unit, "ratio") ? unit : "");
    else
        printf("%s", v ? json_object_get_string(v) : "(none)");
}

/* One line per change, then "no changes" or the count. */
static void print_compare(json_object *cmp)
{
    json_object *changes = json_object_object_get(cmp, "changes");
    size_t n = json_object_array_length(changes);

    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(changes, i);
        const char *kind = jstr(c, "kind"), *unit = NULL;
        bool reg = json_object_get_boolean(json_object_object_get(c, "regression"));
        json_object *o = json_object_object_get(c, "old"), *nv = json_object_object_get(c, "new");
        const char *word = reg ? "regression" : kind;

        if (strcmp(kind, "status") == 0) {
            bool better = !g_str_equal(jstr(c, "new"), "FAIL") && !g_str_equal(jstr(c, "new"), "ERROR") &&
                          (g_str_equal(jstr(c, "old"), "FAIL") || g_str_equal(jstr(c, "old"), "ERROR"));
            printf("%-12s check %s: %s -> %s\n", reg ? word : better ? "improvement" : "changed", jstr(c, "id"),
                   jstr(c, "old"), jstr(c, "new"));
        } else if (strcmp(kind, "added") == 0) {
            printf("%-12s check %s: new, %s\n", word, jstr(c, "id"), jstr(c, "new"));
        } else if (strcmp(kind, "removed") == 0) {
            printf("%-12s check %s: was %s\n", word, jstr(c, "id"), jstr(c, "old"));
        } else if (strcmp(kind, "figure") == 0) {
            json_object *labels = json_object_object_get(c, "labels");
            const char *dir = jstr(c, "direction");

            unit = jstr(c, "unit");
            printf("%-12s figure %s of %s", reg ? word : strcmp(dir, "better") == 0 ? "improvement" : "moved",
                   jstr(c, "figure"), jstr(c, "check"));
            if (labels) {
                json_object_object_foreach(labels, k, v) printf(" (%s=%s)", k, json_object_get_string(v));
            }
            printf(": ");
            print_value(o, unit);
            printf(" -> ");
            print_value(nv, unit);
            printf(" (beyond its band of +-");
            print_value(json_object_object_get(c, "band"), unit);
            printf(")\n");
        } else {
            printf("%-12s %s: ", word, jstr(c, "id"));
            print_value(o, NULL);
            printf(" -> ");
            print_value(nv, NULL);
            printf("\n");
        }
    }
    if (!n) {
        printf("no changes\n");
    } else {
        int64_t reg = json_object_get_int64(json_object_object_get(cmp, "regressions"));
        int64_t imp = json_object_get_int64(json_object_object_get(cmp, "improvements"));

        printf("%zu change%s, %" PRId64 " regression%s, %" PRId64 " improvement%s\n", n, n == 1 ? "" : "s", reg,
               reg == 1 ? "" : "s", imp, imp == 1 ? "" : "s");
    }
}

/* `vmctl validate --compare OLD NEW`: no check runs. */
static bool write_output(const char *option, const char *path, const char *data);

static int compare_reports(const char *old_path, const char *new_path, const char *html, struct vmctl_ctx *ctx)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) old_r = read_report(old_path, &err);
    g_autoptr(json_object) new_r = NULL;
    g_autoptr(json_object) cmp = NULL;

    if (!old_r)
        return vmctl_cli_fail(err), VMCTL_EXIT_USAGE;
    new_r = read_report(new_path, &err);
    if (!new_r)
        return vmctl_cli_fail(err), VMCTL_EXIT_USAGE;
    cmp = vmctl_report_compare(old_r, new_r);
    if (html) {
        g_autofree char *page = vmctl_report_compare_html(cmp, old_r, new_r, old_path, new_path);

        if (!write_output("--html", html, page))
            return VMCTL_EXIT_USAGE;
    }
    if (ctx->json) {
        json_object *out = json_object_new_object();

        vmctl_json_add_str(out, "old", old_path);
        vmctl_json_add_str(out, "new", new_path);
        json_object_object_foreach(cmp, k, v) json_object_object_add(out, k, json_object_get(v));
        vmctl_json_print(out);
        json_object_put(out);
    } else {
        print_compare(cmp);
    }
    return json_object_get_int64(json_object_object_get(cmp, "regressions")) ? VMCTL_EXIT_FAIL : VMCTL_EXIT_OK;
}

/* Refuse an output file that cannot be written before any check runs: the
 * directory must exist and be writable, the path must not be a directory. */
static bool output_writable(const char *option, const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);

    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        vmctl_cli_failf("%s '%s': is a directory", option, path);
        return false;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        vmctl_cli_failf("%s '%s': cannot write in '%s': %s", option, path, dir, g_strerror(errno));
        return false;
    }
    return true;
}

/* Write one rendering of the report atomically; a one-line error naming the
 * option and the path when it cannot be written (nothing partial is left). */
static bool write_output(const char *option, const char *path, const char *data)
{
    g_autoptr(GError) err = NULL;

    if (vmctl_write_file_atomic(path, data, -1, 0644, &err))
        return true;
    vmctl_cli_failf("%s '%s': %s", option, path, err->message);
    return false;
}

/* The KVM and DAX checks in a lab per kernel, added to the report; the
 * exit status with the labs': a lab check that fails fails the run, a lab
 * that could not run is an error unless something failed. */
static int run_labs(json_object *report, GStrv kernels, bool quick, bool say, int status)
{
    json_object *labs = json_object_new_array();
    const char *lv;

    for (size_t i = 0; kernels[i]; i++) {
        g_autoptr(GError) lerr = NULL;
        json_object *l;

        if (say)
            fprintf(stderr, "vmctl: lab %s: booting, then the KVM and DAX checks inside\n", kernels[i]);
        l = vmctl_lab_validate(kernels[i], quick, lab_progress, NULL, &lerr);
        if (!l) {
            l = json_object_new_object();
            vmctl_json_add_str(l, "kernel", kernels[i]);
            vmctl_json_add_str(l, "error", lerr->message);
        }
        json_object_array_add(labs, l);
    }
    json_object_object_add(report, "lab_matrix", vmctl_lab_matrix(labs));
    json_object_object_add(report, "labs", labs);
    lv = vmctl_lab_verdict(labs);
    vmctl_json_add_str(report, "lab_verdict", lv);
    if (strcmp(lv, "fail") == 0)
        return 1;
    if (strcmp(lv, "error") == 0 && status == 0)
        return 2;
    return status;
}

/* --html, --junit, --openmetrics: each a pure function of the report. */
static bool write_reports(json_object *report, const char *html, const char *junit, const char *metrics)
{
    if (html) {
        g_autofree char *page = vmctl_report_html(report);
        g_autoptr(GError) err = NULL;

        if (!vmctl_write_file_atomic(html, page, -1, 0644, &err)) {
            vmctl_cli_fail(err);
            return false;
        }
    }
    if (junit) {
        g_autofree char *xml = vmctl_report_junit(report);

        if (!write_output("--junit", junit, xml))
            return false;
    }
    if (metrics) {
        g_autofree char *text = vmctl_report_openmetrics(report);

        if (!write_output("--openmetrics", metrics, text))
            return false;
    }
    return true;
}

/* The text report's end: what is not built, the labs, the counts, the
 * reason, and the verdict line last. */
static void print_end(json_object *report, const char *const *nb, bool labs)
{
    json_object *fault = json_object_object_get(report, "injected_fault");
    g_autofree char *counts = vmctl_report_counts_line(report);
    g_autofree char *reason = vmctl_report_reason(report);

    if (nb[0])
        printf("\nNot built yet in this version (not run, no result):\n");
    for (size_t i = 0; nb[i]; i++)
        printf("  - %s\n", nb[i]);
    if (labs)
        print_labs(json_object_object_get(report, "labs"), json_object_object_get(report, "lab_matrix"));
    /* the HTML page's head says the same: counts, then the reason */
    printf("\nCounts: %s\nReason: %s", counts, reason);
    printf("\nVerdict: %s", json_object_get_string(json_object_object_get(report, "verdict")));
    if (json_object_get_int64(json_object_object_get(report, "checks_not_applicable")))
        printf(", %" PRId64 " of %" PRId64 " checks not applicable",
               json_object_get_int64(json_object_object_get(report, "checks_not_applicable")),
               json_object_get_int64(json_object_object_get(report, "checks_total")));
    if (fault)
        printf(" (under an injected test fault: %s)", json_object_get_string(fault));
    printf("\n");
    if (labs)
        printf("Lab verdict: %s\n", json_object_get_string(json_object_object_get(report, "lab_verdict")));
}

int cmd_validate(int argc, char **argv, struct vmctl_ctx *ctx)
{
    gboolean quick = FALSE, tap = FALSE, compare = FALSE;
    g_autofree char *html = NULL, *lab = NULL, *only = NULL, *peer_local = NULL, *junit = NULL, *metrics = NULL;
    g_auto(GStrv) backends = NULL, lab_kernels = NULL, only_groups = NULL, peers = NULL;
    g_autoptr(GError) error = NULL;
    const GOptionEntry entries[] = {
        { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "the short variant of every check (under 60 s)", NULL },
        { "tap", 0, 0, G_OPTION_ARG_NONE, &tap, "print TAP 13, one test point per check", NULL },
        { "backend", 0, 0, G_OPTION_ARG_STRING_ARRAY, &backends, "also validate this memory backing", "SPEC" },
        { "html", 0, 0, G_OPTION_ARG_FILENAME, &html, "also write the report as one self-contained HTML page", "FILE" },
        { "junit", 0, 0, G_OPTION_ARG_FILENAME, &junit, "also write the report as JUnit XML, one testcase per check",
          "FILE" },
        { "openmetrics", 0, 0, G_OPTION_ARG_FILENAME, &metrics,
          "also write the report as Prometheus text metrics (node_exporter textfile collector)", "FILE" },
        { "compare", 0, 0, G_OPTION_ARG_NONE, &compare,
          "run no check: compare two saved reports (OLD.json NEW.json), exit 1 on a regression", NULL },
        { "only", 0, 0, G_OPTION_ARG_STRING, &only,
          "run only these check groups (kvm-device, backend, dirty-log, accessed, dirty-rate, migration, ksm)",
          "G,G,..." },
        { "lab", 0, 0, G_OPTION_ARG_STRING, &lab,
          "also run the KVM and DAX checks in a lab for each of these kernels (see vmctl lab) and add their "
          "sections and a kernel x check matrix",
          "K,K,..." },
        { "peer", 0, 0, G_OPTION_ARG_STRING_ARRAY, &peers,
          "also migrate between this host and the libvirtd at URI, verified page by page (migration group; "
          "repeatable)",
          "URI" },
        { "peer-local", 0, 0, G_OPTION_ARG_STRING, &peer_local,
          "this host's libvirt URI for --peer (default qemu:///system)", "URI" },
        { NULL },
    };
    g_autoptr(json_object) report = NULL;
    struct progress_ctx pc = { 0 };
    VmctlValidateOpts opts = { 0 };
    const char *const *nb = vmctl_validate_not_built();
    json_object *facts, *nbj;
    int status;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "[--compare OLD.json NEW.json]",
                         "Report what this host does with DAX-backed guest memory.", entries))
        return VMCTL_EXIT_USAGE;
    if (compare) {
        if (quick || tap || backends || only || lab || peers || peer_local || junit || metrics) {
            fprintf(stderr, "vmctl validate: --compare runs no check and takes only --json and --html\n");
            return VMCTL_EXIT_USAGE;
        }
        if (argc != 3) {
            fprintf(stderr, "vmctl validate: --compare takes two reports: OLD.json NEW.json\n");
            return VMCTL_EXIT_USAGE;
        }
        if (html && !output_writable("--html", html))
            return VMCTL_EXIT_USAGE;
        return compare_reports(argv[1], argv[2], html, ctx);
    }
    if (argc > 1) {
        fprintf(stderr, "vmctl validate: argument '%s' is not expected\n", argv[1]);
        return VMCTL_EXIT_USAGE;
    }
    if (tap && ctx->json) {
        fprintf(stderr, "vmctl validate: --tap and --json cannot be combined\n");
        return VMCTL_EXIT_USAGE;
    }
    if (only) {
        only_groups = g_strsplit(only, ",", -1);
        if (!vmctl_validate_groups_check(only_groups, &error))
            return vmctl_cli_fail(error), VMCTL_EXIT_USAGE;
    }
    for (size_t i = 0; peers && peers[i]; i++)
        if (!vmctl_validate_peer_uri_check(peers[i], &error))
            return vmctl_cli_failf("--peer %s", error->message), VMCTL_EXIT_USAGE;
    if (peer_local && !vmctl_validate_peer_uri_check(peer_local, &error))
        return vmctl_cli_failf("--peer-local %s", error->message), VMCTL_EXIT_USAGE;
    if (peer_local && !peers)
        return vmctl_cli_failf("--peer-local '%s' needs --peer", peer_local), VMCTL_EXIT_USAGE;
    if (peers && only_groups && !g_strv_contains((const char *const *)only_groups, "migration"))
        return vmctl_cli_failf("--peer runs in the migration checks: --only '%s' leaves them out", only),
               VMCTL_EXIT_USAGE;
    if (lab) {
        lab_kernels = g_strsplit(lab, ",", -1);
        for (size_t i = 0; lab_kernels[i]; i++)
            if (!*lab_kernels[i])
                return vmctl_cli_failf("--lab '%s' has an empty kernel name", lab), VMCTL_EXIT_USAGE;
    }
    if ((html && !output_writable("--html", html)) || (junit && !output_writable("--junit", junit)) ||
        (metrics && !output_writable("--openmetrics", metrics)))
        return VMCTL_EXIT_USAGE;
    opts.quick = quick;
    opts.backends = backends;
    opts.only = only_groups;
    opts.peers = peers;
    opts.peer_local = peer_local;
    pc.human = !ctx->json && !tap;
    pc.tap = tap;
    pc.tty = isatty(STDOUT_FILENO);

    facts = vmctl_host_facts();
    if (pc.human) {
        print_facts(facts);
        printf("\nChecks\n");
    }
    if (tap)
        printf("TAP version 13\n");
    report = vmctl_validate_run(&opts, progress, &pc);
    json_object_object_add(report, "host", facts);
    nbj = json_object_new_array();
    for (size_t i = 0; nb[i]; i++)
        json_object_array_add(nbj, json_object_new_string(nb[i]));
    json_object_object_add(report, "not_built", nbj);
    status = vmctl_validate_exit_status(report);
    if (lab_kernels)
        status = run_labs(report, lab_kernels, quick, pc.human || tap, status);
    vmctl_json_add_injected_faults(report);
    if (!write_reports(report, html, junit, metrics))
        return VMCTL_EXIT_USAGE;

    if (ctx->json) {
        vmctl_json_print(report);
    } else if (tap) {
        if (json_object_object_get(report, "injected_fault"))
            printf("# under an injected test fault: %s\n",
                   json_object_get_string(json_object_object_get(report, "injected_fault")));
        printf("1..%u\n", pc.n);
    } else {
        print_end(report, nb, lab_kernels != NULL);
    }
    return status;
}
