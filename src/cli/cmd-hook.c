/* cmd-hook.c: `vmctl hook qemu NAME OP SUBOP [EXTRA]`, called by libvirt's
 * QEMU hook script with the domain XML on stdin. A refusal is one line on
 * stderr (libvirt shows it) and exit status 1; everything else exits 0. */
#include "config.h"

#include "cli/builtin.h"
#include "libvirt_hook.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HOOK_MAX_XML (16 * 1024 * 1024) /* bytes */

static char *read_stdin(GError **error)
{
    GString *s = g_string_new(NULL);
    char buf[65536];
    ssize_t n;

    if (isatty(STDIN_FILENO))
        return g_string_free(s, FALSE);
    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
        g_string_append_len(s, buf, n);
        if (s->len > HOOK_MAX_XML) {
            g_string_free(s, TRUE);
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "domain XML on stdin exceeds %d bytes", HOOK_MAX_XML);
            return NULL;
        }
    }
    return g_string_free(s, FALSE);
}

int cmd_hook(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    VmctlHookResult res;
    const char *object, *name, *op, *subop;
    int status = VMCTL_EXIT_OK;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "OBJECT NAME OP SUBOP [EXTRA]",
                         "libvirt hook: check a domain's memory backings before it starts or migrates in "
                         "(domain XML on stdin).",
                         NULL))
        return VMCTL_EXIT_USAGE;
    if (argc < 5) {
        fprintf(stderr, "vmctl hook: needs OBJECT NAME OP SUBOP, as libvirt passes them\n");
        return VMCTL_EXIT_USAGE;
    }
    object = argv[1], name = argv[2], op = argv[3], subop = argv[4];
    if ((strcmp(op, "started") == 0 || strcmp(op, "stopped") == 0 || strcmp(op, "release") == 0 ||
         strcmp(op, "migrate") == 0 || strcmp(op, "prepare") == 0) &&
        !vmctl_hook_log_event(name, op, subop, &err)) {
        fprintf(stderr, "vmctl: warning: %s\n", err->message); /* never block a domain for the log */
        g_clear_error(&err);
    }
    xml = read_stdin(&err);
    if (!xml) {
        fprintf(stderr, "vmctl: domain '%s': %s\n", name, err->message);
        return VMCTL_EXIT_FAIL;
    }
    if (!vmctl_hook_run(object, name, op, subop, xml, &res, &err)) {
        fprintf(stderr, "vmctl: domain '%s': %s\n", name, err->message);
        vmctl_hook_result_clear(&res);
        return VMCTL_EXIT_FAIL;
    }
    for (guint i = 0; i < res.warnings->len; i++)
        fprintf(stderr, "vmctl: warning: domain '%s': %s\n", name, (char *)res.warnings->pdata[i]);
    if (res.verdict == VMCTL_HOOK_REFUSE) {
        fprintf(stderr, "vmctl: domain '%s' refused: %s\n", name, res.message);
        status = VMCTL_EXIT_FAIL;
    }
    if (ctx->json) {
        g_autoptr(json_object) o = json_object_new_object();
        vmctl_json_add_str(o, "domain", name);
        vmctl_json_add_str(o, "verdict", res.verdict == VMCTL_HOOK_REFUSE ? "refuse" : "allow");
        vmctl_json_add_str(o, "message", res.message);
        json_object_object_add(o, "checked", json_object_get(res.checked));
        vmctl_json_print(o);
    }
    vmctl_hook_result_clear(&res);
    return status;
}
