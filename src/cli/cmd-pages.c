/* cmd-pages.c: `vmctl pages`, a dispatcher over page-image subcommands:
 * `check` (THE RULE of the page-stamp format over one image) and `diff`
 * (compare two memory images, src/cli/cmd-pages-diff.c). --json may come
 * before the subcommand as after it (`vmctl pages --json check FILE`). */
#include "config.h"

#include "cli/builtin.h"
#include "page_stamp.h"
#include "page_work.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct pages_sub {
    const char *name;
    vmctl_cmd_fn fn; /* NULL: not built into this vmctl */
    const char *help;
};

static int cmd_pages_check(int argc, char **argv, struct vmctl_ctx *ctx);

static const struct pages_sub subs[] = {
    { "check", cmd_pages_check, "check every stamped page of an image against the page-stamp rule" },
    { "diff", cmd_pages_diff, "compare two memory images page by page" }, /* src/cli/cmd-pages-diff.c */
};

static void pages_usage(FILE *out)
{
    fprintf(out, "usage: vmctl pages [--json] SUBCOMMAND [ARGS...]\n\nsubcommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(subs); i++)
        fprintf(out, "  %-8s %s\n", subs[i].name, subs[i].help);
    fprintf(out, "\n'vmctl pages SUBCOMMAND --help' for its options\n");
}

int cmd_pages(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *name = NULL;
    g_autofree char **sub_argv = NULL;
    int a = 1;

    /* options of `pages` itself, before the subcommand */
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (strcmp(argv[a], "--json") == 0) {
            ctx->json = true;
        } else if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            pages_usage(stdout);
            return VMCTL_EXIT_OK;
        } else {
            fprintf(stderr, "vmctl: option '%s' of 'pages' is unknown before the subcommand: 'vmctl pages --help' "
                            "lists them\n", argv[a]);
            return VMCTL_EXIT_USAGE;
        }
    }
    if (a >= argc) {
        pages_usage(stderr);
        return VMCTL_EXIT_USAGE;
    }
    if (strcmp(argv[a], "help") == 0) {
        pages_usage(stdout);
        return VMCTL_EXIT_OK;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(subs); i++) {
        if (strcmp(subs[i].name, argv[a]) != 0)
            continue;
        if (!subs[i].fn) {
            vmctl_cli_failf("subcommand '%s' is not built", argv[a]);
            return VMCTL_EXIT_USAGE;
        }
        /* the subcommand sees "pages NAME" as its argv[0], for its messages */
        name = g_strdup_printf("pages %s", argv[a]);
        sub_argv = g_new0(char *, argc - a + 1);
        sub_argv[0] = name;
        for (int k = a + 1; k < argc; k++)
            sub_argv[k - a] = argv[k];
        return subs[i].fn(argc - a, sub_argv, ctx);
    }
    fprintf(stderr, "vmctl: subcommand '%s' of 'pages' is unknown: 'vmctl pages --help' lists them\n", argv[a]);
    return VMCTL_EXIT_USAGE;
}

static void print_human(const char *path, const VmctlPagesReport *r)
{
    GString *kinds = g_string_new(NULL);

    for (unsigned v = 1; v < VMCTL_PAGE_VERDICTS; v++)
        if (r->counts[v])
            g_string_append_printf(kinds, "%s%s %" G_GUINT64_FORMAT, kinds->len ? ", " : "",
                                   vmctl_page_verdict_name(v), r->counts[v]);
    printf("%s: %s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " pages break the rule%s%s%s, %" G_GUINT64_FORMAT
           " in flight skipped (region 0x%" G_GINT64_MODIFIER "x, control page at offset 0x%" G_GINT64_MODIFIER
           "x, %" G_GUINT64_FORMAT " writes)\n",
           path, r->bad ? "BAD" : "clean", r->bad, r->checked, kinds->len ? " (" : "", kinds->str,
           kinds->len ? ")" : "", r->in_flight, r->ctl.region, r->ctl_offset, r->ctl.writes);
    if (r->ctl_behind)
        printf("  the control page is behind its pages (one lost page): it counts %" G_GUINT64_FORMAT
               " writes, the pages show %" G_GUINT64_FORMAT "; the pages were judged against those\n",
               r->ctl.writes, r->writes_seen);
    if (r->scan && r->duplicates)
        printf("  %" G_GUINT64_FORMAT " extra copies of stamped pages found (the best copy counts)\n", r->duplicates);
    if (r->scan && r->conflicts) {
        printf("  %" G_GUINT64_FORMAT " of them differ from another copy of their page (a stale copy beside a good "
               "one): pages", r->conflicts);
        for (unsigned k = 0; k < r->n_conflict_first; k++)
            printf("%s%" G_GUINT64_FORMAT, k ? "," : " ", r->conflict_first[k]);
        printf("%s\n", r->conflicts > r->n_conflict_first ? ", ..." : "");
    }
    for (unsigned k = 0; k < r->n_first; k++) {
        const VmctlPageBad *b = &r->first[k];

        if (b->offset == VMCTL_PAGES_NO_OFFSET)
            printf("  page %" G_GUINT64_FORMAT " not found: %s\n", b->index, vmctl_page_verdict_name(b->verdict));
        else
            printf("  page %" G_GUINT64_FORMAT " at offset 0x%" G_GINT64_MODIFIER "x: %s (generation %" G_GUINT64_FORMAT
                   ", expected %" G_GUINT64_FORMAT ")\n",
                   b->index, b->offset, vmctl_page_verdict_name(b->verdict), b->actual_gen, b->expected_gen);
    }
    if (r->bad > r->n_first + r->ctl_behind)
        printf("  ... and %" G_GUINT64_FORMAT " more\n", r->bad - r->n_first - r->ctl_behind);
    g_string_free(kinds, TRUE);
}

/* An image offset: "2M", "2097152" or "0x200000" (the form dumps and
 * guest-physical addresses come in). */
static bool parse_offset(const char *str, uint64_t *out, GError **error)
{
    if (g_str_has_prefix(str, "0x") || g_str_has_prefix(str, "0X")) {
        char *end = NULL;

        errno = 0;
        *out = g_ascii_strtoull(str + 2, &end, 16);
        if (str[2] && !*end && errno == 0)
            return true;
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "offset '%s' is not a hexadecimal number", str);
        return false;
    }
    return vmctl_parse_size(str, true, out, error);
}

static int cmd_pages_check(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *offset_str = NULL, *threads = NULL;
    gboolean scan = FALSE;
    uint64_t v;
    VmctlPagesCheckOptions opts = { 0 };
    VmctlPagesReport report;
    const GOptionEntry entries[] = {
        { "offset", 0, 0, G_OPTION_ARG_STRING, &offset_str, "byte offset of the control page (default 0; K/M/G suffix or 0x hex)",
          "N" },
        { "scan", 0, 0, G_OPTION_ARG_NONE, &scan, "find the control page and the pages anywhere in the image", NULL },
        { "threads", 0, 0, G_OPTION_ARG_STRING, &threads, "check with N threads (default 0: one per online CPU)",
          "N" },
        { NULL },
    };

    if (!vmctl_cli_parse(ctx, &argc, &argv, "FILE",
                         "Check every stamped page of a guest RAM backing file or memory dump against the\n"
                         "page-stamp rule (include/vmctl/page_stamp.h). Pause the guest first: an image\n"
                         "whose control page changes during the check is refused.\n"
                         "Exit status: 0 clean, 1 a page breaks the rule, 2 the image could not be checked.",
                         entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 2) {
        vmctl_cli_failf("pages check takes one FILE, got %d arguments", argc - 1);
        return VMCTL_EXIT_USAGE;
    }
    if (scan && offset_str) {
        vmctl_cli_failf("--offset '%s' and --scan exclude each other", offset_str);
        return VMCTL_EXIT_USAGE;
    }
    if (offset_str && !parse_offset(offset_str, &opts.offset, &err)) {
        vmctl_cli_fail(err);
        return VMCTL_EXIT_USAGE;
    }
    if (threads) {
        if (!vmctl_parse_uint("--threads", threads, VMCTL_PAGE_WORK_MAX_WORKERS, &v, &err)) {
            vmctl_cli_fail(err);
            return VMCTL_EXIT_USAGE;
        }
        opts.threads = (unsigned)v;
    }
    opts.scan = scan;
    if (!vmctl_pages_check_file(argv[1], &opts, &report, &err)) {
        vmctl_cli_fail(err);
        return VMCTL_EXIT_USAGE;
    }
    if (report.changed) {
        vmctl_cli_failf("image '%s' changed while it was checked (writes %" G_GUINT64_FORMAT
                        " at the start): pause the guest for a consistent view",
                        argv[1], report.ctl.writes);
        return VMCTL_EXIT_USAGE;
    }
    if (ctx->json) {
        g_autoptr(json_object) o = vmctl_pages_report_to_json(&report);

        vmctl_json_add_str(o, "file", argv[1]);
        vmctl_json_print(o);
    } else {
        print_human(argv[1], &report);
    }
    return report.bad ? VMCTL_EXIT_FAIL : VMCTL_EXIT_OK;
}
