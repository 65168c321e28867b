/* cmd-list.c: `vmctl list`: the guests vmctld knows, starting vmctld when
 * none runs. */
#include "config.h"

#include "cli/builtin.h"
#include "client.h"

#include <stdio.h>

static const char *member(json_object *o, const char *key, const char *dflt)
{
    json_object *v = json_object_object_get(o, key);

    return v ? json_object_get_string(v) : dflt;
}

int cmd_list(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autoptr(json_object) guests = NULL;
    g_autoptr(GError) err = NULL;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "", "List the guests vmctld supervises.", NULL))
        return VMCTL_EXIT_USAGE;
    guests = vmctl_client_call(vmctl_client_socket_path(ctx->socket_path), "list", NULL, true, &err);
    if (!guests)
        return vmctl_cli_fail(err);
    if (ctx->json) {
        vmctl_json_print(guests);
        return VMCTL_EXIT_OK;
    }
    printf("%-24s %-10s %-8s %s\n", "NAME", "STATE", "ACCEL", "BACKEND");
    for (size_t i = 0; i < json_object_array_length(guests); i++) {
        json_object *g = json_object_array_get_idx(guests, i);
        printf("%-24s %-10s %-8s %s\n", member(g, "name", "?"), member(g, "state", member(g, "error", "?")),
               member(g, "accel", "-"), member(g, "backend", "-"));
    }
    return VMCTL_EXIT_OK;
}
