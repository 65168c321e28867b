/* cmd-launch.c: `vmctl launch NAME ...`: build a guest spec from the
 * options and have vmctld start it (vmctld is started when none runs). */
#include "config.h"

#include "cli/builtin.h"
#include "cli/spec-options.h"
#include "client.h"

#include <stdio.h>

static void print_guest(json_object *g)
{
    json_object *v;

    printf("guest '%s' %s, pid %s, %s (%s)\n", json_object_get_string(json_object_object_get(g, "name")),
           json_object_get_string(json_object_object_get(g, "state")),
           json_object_get_string(json_object_object_get(g, "pid")),
           json_object_get_string(json_object_object_get(g, "accel")),
           json_object_get_string(json_object_object_get(g, "accel_reason")));
    if ((v = json_object_object_get(g, "console_log")))
        printf("  console log  %s\n", json_object_get_string(v));
    if ((v = json_object_object_get(g, "qmp_socket")))
        printf("  QMP socket   %s\n", json_object_get_string(v));
}

int cmd_launch(int argc, char **argv, struct vmctl_ctx *ctx)
{
    VmctlSpecOptions so = { 0 };
    g_autoptr(GArray) entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
    g_autoptr(json_object) spec = NULL;
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) ret = NULL;
    g_autoptr(GError) err = NULL;
    int rc;

    vmctl_spec_options_add_entries(entries, &so);
    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME", "Launch a guest under vmctld.",
                         (const GOptionEntry *)entries->data)) {
        rc = VMCTL_EXIT_USAGE;
    } else if (argc != 2) {
        fprintf(stderr, "vmctl launch: needs exactly one guest NAME\n");
        rc = VMCTL_EXIT_USAGE;
    } else if (!(spec = vmctl_spec_options_build(&so, argv[1], &err))) {
        rc = vmctl_cli_fail(err);
    } else {
        json_object_object_add(args, "spec", json_object_get(spec));
        ret = vmctl_client_call(vmctl_client_socket_path(ctx->socket_path), "launch", args, true, &err);
        if (!ret) {
            rc = vmctl_cli_fail(err);
        } else {
            if (ctx->json)
                vmctl_json_print(ret);
            else
                print_guest(ret);
            rc = VMCTL_EXIT_OK;
        }
    }
    vmctl_spec_options_clear(&so);
    return rc;
}
