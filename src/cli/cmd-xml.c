/* cmd-xml.c: `vmctl xml NAME | --spec FILE|- | NAME --memory SIZE ...`: the
 * libvirt domain XML of a guest spec (libvirt_xml.h), from a guest vmctld
 * runs, from a spec file, or from the options `vmctl launch` takes, ready
 * for `virsh create`. */
#include "config.h"

#include "cli/builtin.h"
#include "cli/spec-options.h"
#include "client.h"
#include "guest_spec.h"
#include "host.h"
#include "libvirt_xml.h"

#include <stdio.h>
#include <string.h>

/* The spec JSON of FILE ("-": stdin). */
static json_object *read_spec_file(const char *file, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GString) in = NULL;
    json_object *j;
    enum json_tokener_error jerr;

    if (strcmp(file, "-") == 0) {
        char buf[4096];
        size_t n;

        in = g_string_new(NULL);
        while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
            g_string_append_len(in, buf, n);
        text = g_string_free(g_steal_pointer(&in), FALSE);
    } else if (!g_file_get_contents(file, &text, NULL, error)) {
        return NULL;
    }
    j = json_tokener_parse_verbose(text, &jerr);
    if (!j) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "spec file '%s' is not JSON: %s", file,
                    json_tokener_error_desc(jerr));
        return NULL;
    }
    return j;
}

static int print_xml(struct vmctl_ctx *ctx, json_object *j, const char *serial, const char *serial_socket,
                     const char *type, const char *image_dir)
{
    g_autoptr(VmctlGuestSpec) spec = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL, *dir = NULL, *serial_abs = NULL, *socket_abs = NULL;
    VmctlLibvirtXmlOpts opts;

    spec = vmctl_guest_spec_from_json(j, &err);
    if (!spec)
        return vmctl_cli_fail(err);
    /* relative paths are meant from here; libvirtd runs elsewhere */
    dir = image_dir ? g_canonicalize_filename(image_dir, NULL) : g_strdup(VMCTL_DATADIR);
    serial_abs = serial ? g_canonicalize_filename(serial, NULL) : NULL;
    socket_abs = serial_socket ? g_canonicalize_filename(serial_socket, NULL) : NULL;
    opts = (VmctlLibvirtXmlOpts){ vmctl_qemu_binary(), dir, serial_abs, type, socket_abs };
    xml = vmctl_libvirt_xml(spec, &opts, &err);
    if (!xml)
        return vmctl_cli_fail(err);
    if (ctx->json) {
        g_autoptr(json_object) out = json_object_new_object();

        vmctl_json_add_str(out, "xml", xml);
        vmctl_json_print(out);
    } else {
        fputs(xml, stdout);
    }
    return VMCTL_EXIT_OK;
}

/* The spec of guest NAME as vmctld has it. */
static json_object *daemon_spec(struct vmctl_ctx *ctx, const char *name, GError **error)
{
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) info = NULL;
    json_object *j;

    vmctl_json_add_str(args, "name", name);
    info = vmctl_client_call(vmctl_client_socket_path(ctx->socket_path), "info", args, true, error);
    if (!info)
        return NULL;
    j = json_object_object_get(info, "spec");
    if (!j) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "vmctld gave no spec for guest '%s'", name);
        return NULL;
    }
    return json_object_get(j);
}

int cmd_xml(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *spec_file = NULL, *serial = NULL, *serial_socket = NULL, *type = NULL, *image_dir = NULL;
    VmctlSpecOptions so = { 0 };
    const GOptionEntry own[] = {
        { "spec", 0, 0, G_OPTION_ARG_FILENAME, &spec_file,
          "guest spec JSON (as `vmctl info --json` shows it; -: stdin)", "FILE" },
        { "serial", 0, 0, G_OPTION_ARG_FILENAME, &serial, "file that receives the guest console", "PATH" },
        { "serial-socket", 0, 0, G_OPTION_ARG_FILENAME, &serial_socket,
          "Unix socket for the guest console, input too (logged to --serial when given)", "PATH" },
        { "type", 0, 0, G_OPTION_ARG_STRING, &type, "domain type: kvm or qemu (default: from the spec's accel)",
          "TYPE" },
        { "image-dir", 0, 0, G_OPTION_ARG_FILENAME, &image_dir,
          "directory with tiny.bin, vmlinuz and initramfs.cpio.zst (default: the data dir)", "DIR" },
    };
    g_autoptr(GArray) entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
    g_autoptr(json_object) json = NULL;
    g_autoptr(GError) err = NULL;
    int rc;

    g_array_append_vals(entries, own, G_N_ELEMENTS(own));
    vmctl_spec_options_add_entries(entries, &so);
    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME | --spec FILE | NAME --memory SIZE [launch options]",
                         "Print the libvirt domain XML of a guest that vmctld runs, of a spec file, or of the "
                         "guest the launch options describe.",
                         (const GOptionEntry *)entries->data)) {
        rc = VMCTL_EXIT_USAGE;
    } else if ((argc == 2) == (spec_file != NULL) || argc > 2) {
        fprintf(stderr, "vmctl xml: needs a guest NAME or --spec FILE, not both\n");
        rc = VMCTL_EXIT_USAGE;
    } else if (spec_file && vmctl_spec_options_given(&so)) {
        fprintf(stderr, "vmctl xml: --spec and launch options (--memory ...) exclude each other\n");
        rc = VMCTL_EXIT_USAGE;
    } else {
        if (spec_file)
            json = read_spec_file(spec_file, &err);
        else if (vmctl_spec_options_given(&so))
            json = vmctl_spec_options_build(&so, argv[1], &err);
        else
            json = daemon_spec(ctx, argv[1], &err);
        rc = json ? print_xml(ctx, json, serial, serial_socket, type, image_dir) : vmctl_cli_fail(err);
    }
    vmctl_spec_options_clear(&so);
    return rc;
}
