/* vmctl.c: the command line front end. Finds the command in the table and
 * hands it argv; all output and error reporting of the CLI starts here. */
#include "config.h"

#include "cli/builtin.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct vmctl_cmd commands[] = {
    /* sorted by name */
    { "backend", cmd_backend, "probe and list memory backings (DAX, hugetlbfs, tmpfs, files)" },
    { "console", cmd_console, "attach to a guest's serial console" },
    { "dirty-rate", cmd_dirty_rate, "measure a guest's dirty rate through QEMU (calc-dirty-rate)" },
    { "help", cmd_help, "show help for vmctl or for one command" },
    { "hook", cmd_hook, "libvirt QEMU hook: check memory backings of a domain (XML on stdin)" },
    { "info", cmd_info, "show a guest: state, accelerator and why, backing, sockets" },
    { "kill", cmd_kill, "kill a guest's QEMU and forget the guest" },
    { "ksm-check", cmd_ksm_check, "check KSM merges what it should and never guest RAM it must not" },
    { "lab", cmd_lab, "a Linux VM with a real KVM and real DAX that runs this host's vmctl (run, shell, info)" },
    { "launch", cmd_launch, "launch a guest on a memory backing under vmctld" },
    { "list", cmd_list, "list the guests vmctld supervises" },
    { "migrate", cmd_migrate, "live-migrate a guest and prove no page was lost" },
    { "pages", cmd_pages, "check page stamps and compare memory images" },
    { "probe", cmd_probe, "run the in-process KVM probes (dirty-log)" },
    { "qmp", cmd_qmp, "send one QMP command to a guest's QEMU" },
    { "stop", cmd_stop, "stop a guest (QMP quit) and forget it" },
    { "validate", cmd_validate, "run the host report: facts and checks with evidence" },
    { "version", cmd_version, "print the version of vmctl" },
    { "wss", cmd_wss, "estimate a guest's working set with the best mechanism this host has" },
    { "xml", cmd_xml, "print the libvirt domain XML of a guest or a guest spec" },
};

static const struct vmctl_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: vmctl [--json] [--socket PATH] COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n'vmctl help COMMAND' or 'vmctl COMMAND --help' for a command's options\n");
}

int vmctl_cli_fail(const GError *error)
{
    fprintf(stderr, "vmctl: %s\n", error ? error->message : "unknown error");
    return VMCTL_EXIT_FAIL;
}

int vmctl_cli_failf(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "vmctl: %s\n", msg);
    return VMCTL_EXIT_FAIL;
}

bool vmctl_cli_parse(struct vmctl_ctx *ctx, int *argc, char ***argv, const char *params, const char *summary,
                     const GOptionEntry *entries)
{
    g_autoptr(GOptionContext) octx = g_option_context_new(params);
    g_autoptr(GError) error = NULL;
    gboolean json = ctx->json;
    const GOptionEntry common[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON on stdout", NULL },
        { NULL },
    };

    g_option_context_set_summary(octx, summary);
    g_option_context_set_help_enabled(octx, TRUE);
    if (entries)
        g_option_context_add_main_entries(octx, entries, NULL);
    g_option_context_add_main_entries(octx, common, NULL);
    if (!g_option_context_parse(octx, argc, argv, &error)) {
        fprintf(stderr, "vmctl %s: %s\n", (*argv)[0], error->message);
        return false;
    }
    ctx->json = json;
    return true;
}

int cmd_help(int argc, char **argv, struct vmctl_ctx *ctx)
{
    const struct vmctl_cmd *cmd;
    char *sub_argv[] = { NULL, (char *)"--help", NULL };

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return VMCTL_EXIT_OK;
    }
    cmd = find_command(argv[1]);
    if (!cmd)
        return vmctl_cli_failf("command '%s' is unknown: 'vmctl help' lists the commands", argv[1]);
    if (cmd->fn == cmd_help) {
        usage(stdout);
        return VMCTL_EXIT_OK;
    }
    sub_argv[0] = argv[1];
    return cmd->fn(2, sub_argv, ctx);
}

int cmd_version(int argc, char **argv, struct vmctl_ctx *ctx)
{
    if (!vmctl_cli_parse(ctx, &argc, &argv, "", "Print the version of vmctl.", NULL))
        return VMCTL_EXIT_USAGE;
    if (ctx->json) {
        g_autoptr(json_object) o = json_object_new_object();
        vmctl_json_add_str(o, "version", PACKAGE_VERSION);
        vmctl_json_print(o);
    } else {
        printf("vmctl %s\n", PACKAGE_VERSION);
    }
    return VMCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct vmctl_ctx ctx = { .socket_path = g_getenv("VMCTL_SOCKET") };
    const struct vmctl_cmd *cmd;
    int i = 1;

    signal(SIGPIPE, SIG_IGN); /* a closed socket is an error to report, not a death */

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            ctx.socket_path = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return VMCTL_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("vmctl %s\n", PACKAGE_VERSION);
            return VMCTL_EXIT_OK;
        } else {
            fprintf(stderr, "vmctl: option '%s' is unknown before the command: 'vmctl help' lists the options\n", argv[i]);
            return VMCTL_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return VMCTL_EXIT_USAGE;
    }
    cmd = find_command(argv[i]);
    if (!cmd) {
        fprintf(stderr, "vmctl: command '%s' is unknown: 'vmctl help' lists the commands\n", argv[i]);
        return VMCTL_EXIT_USAGE;
    }
    return cmd->fn(argc - i, argv + i, &ctx);
}
