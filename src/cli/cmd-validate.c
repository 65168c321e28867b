/* cmd-validate.c: `vmctl validate`, the host report. Prints the host facts
 * and runs every check that is built; a check that did not run is never
 * printed as a result. */
#include "config.h"

#include "cli/builtin.h"
#include "host.h"
#include "report_html.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>
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

int cmd_validate(int argc, char **argv, struct vmctl_ctx *ctx)
{
    gboolean quick = FALSE, tap = FALSE;
    g_autofree char *html = NULL;
    g_auto(GStrv) backends = NULL;
    const GOptionEntry entries[] = {
        { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "the short variant of every check (under 60 s)", NULL },
        { "tap", 0, 0, G_OPTION_ARG_NONE, &tap, "print TAP 13, one test point per check", NULL },
        { "backend", 0, 0, G_OPTION_ARG_STRING_ARRAY, &backends, "also validate this memory backing", "SPEC" },
        { "html", 0, 0, G_OPTION_ARG_FILENAME, &html, "also write the report as one self-contained HTML page", "FILE" },
        { NULL },
    };
    g_autoptr(json_object) report = NULL;
    struct progress_ctx pc = { 0 };
    VmctlValidateOpts opts = { 0 };
    const char *const *nb = vmctl_validate_not_built();
    json_object *facts, *nbj;
    int status;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "", "Report what this host does with DAX-backed guest memory.", entries))
        return VMCTL_EXIT_USAGE;
    if (argc > 1) {
        fprintf(stderr, "vmctl validate: argument '%s' is not expected\n", argv[1]);
        return VMCTL_EXIT_USAGE;
    }
    if (tap && ctx->json) {
        fprintf(stderr, "vmctl validate: --tap and --json cannot be combined\n");
        return VMCTL_EXIT_USAGE;
    }
    opts.quick = quick;
    opts.backends = backends;
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
    if (html) {
        g_autofree char *page = vmctl_report_html(report);
        g_autoptr(GError) err = NULL;

        if (!vmctl_write_file_atomic(html, page, -1, 0644, &err)) {
            vmctl_cli_fail(err);
            return VMCTL_EXIT_USAGE;
        }
    }

    if (ctx->json) {
        vmctl_json_print(report);
    } else if (tap) {
        printf("1..%u\n", pc.n);
    } else {
        if (nb[0])
            printf("\nNot built yet in this version (not run, no result):\n");
        for (size_t i = 0; nb[i]; i++)
            printf("  - %s\n", nb[i]);
        printf("\nVerdict: %s\n", json_object_get_string(json_object_object_get(report, "verdict")));
    }
    return status;
}
