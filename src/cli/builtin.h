/* builtin.h: the vmctl command table. Every command is one handler of the
 * same shape in src/cli/cmd-NAME.c; vmctl.c dispatches by name. Handlers
 * return the process exit status. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "util.h"

struct vmctl_ctx {
    bool json;               /* --json: machine output on stdout */
    const char *socket_path; /* vmctld socket (--socket or $VMCTL_SOCKET) */
};

typedef int (*vmctl_cmd_fn)(int argc, char **argv, struct vmctl_ctx *ctx);

struct vmctl_cmd {
    const char *name;
    vmctl_cmd_fn fn;
    const char *help; /* one line for `vmctl help` */
};

/* Exit statuses shared by all commands. */
enum {
    VMCTL_EXIT_OK = 0,
    VMCTL_EXIT_FAIL = 1,  /* an error, or a check that failed */
    VMCTL_EXIT_USAGE = 2, /* bad command line; for validate: could not run */
};

/* Parse a command's options with GOption. Adds --json to `entries`. On a bad
 * command line prints one line and returns false; `--help` prints the help
 * and exits 0 (so `vmctl CMD --help` == `vmctl help CMD`). */
bool vmctl_cli_parse(struct vmctl_ctx *ctx, int *argc, char ***argv, const char *params, const char *summary,
                     const GOptionEntry *entries);

/* Report an error once, as one line on stderr: "vmctl: MESSAGE". Returns
 * VMCTL_EXIT_FAIL so handlers can `return vmctl_cli_fail(err);`. */
int vmctl_cli_fail(const GError *error);
int vmctl_cli_failf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* The commands. Keep this list and the table in vmctl.c sorted. */
int cmd_backend(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_console(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_dirty_rate(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_help(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_hook(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_info(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_kill(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_ksm_check(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_lab(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_launch(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_list(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_migrate(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_pages(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_pages_diff(int argc, char **argv, struct vmctl_ctx *ctx); /* `vmctl pages diff`, called by cmd_pages */
int cmd_probe(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_qmp(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_stop(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_validate(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_version(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_wss(int argc, char **argv, struct vmctl_ctx *ctx);
int cmd_xml(int argc, char **argv, struct vmctl_ctx *ctx);
