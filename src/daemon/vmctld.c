/* vmctld.c: the vmctl daemon. A GLib main loop serving the control socket;
 * it keeps one JSON state file per guest in the state dir so that it can
 * reattach to its guests after a restart. Guests are not its children in
 * the process-lifetime sense: they keep running when vmctld dies. */
#include "config.h"

#include "daemon/guests.h"
#include "daemon/libvirt_driver.h"
#include "daemon/migration.h"
#include "daemon/paths.h"
#include "daemon/server.h"
#include "daemon/state.h"
#include "host.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define VMCTLD_DEFAULT_SOCKET "/run/vmctl/vmctld.sock"
#define VMCTLD_DEFAULT_STATE_DIR "/var/lib/vmctl"

typedef struct {
    GMainLoop *loop;
} Daemon;

static json_object *cmd_ping(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    json_object *r = json_object_new_object();

    vmctl_json_add_str(r, "version", PACKAGE_VERSION);
    vmctl_json_add_i64(r, "pid", getpid());
    return r;
}

/* sorted by name */
static const VmctldCommand commands[] = {
    { "info", vmctld_guests_cmd_info, NULL },
    { "kill", NULL, vmctld_guests_cmd_kill },
    { "launch", NULL, vmctld_guests_cmd_launch },
    { "list", vmctld_guests_cmd_list, NULL },
    { "migrate", NULL, vmctld_migration_cmd_migrate },
    { "migrate-cancel", vmctld_migration_cmd_cancel, NULL },
    { "ping", cmd_ping, NULL },
    { "qmp", NULL, vmctld_guests_cmd_qmp },
    { "stop", NULL, vmctld_guests_cmd_stop },
};

/* --driver libvirt: guests are libvirt domains (sorted by name) */
static const VmctldCommand libvirt_commands[] = {
    { "dirty-rate", NULL, vmctld_libvirt_cmd_dirty_rate },
    { "info", NULL, vmctld_libvirt_cmd_info },
    { "kill", NULL, vmctld_libvirt_cmd_kill },
    { "launch", NULL, vmctld_libvirt_cmd_launch },
    { "list", NULL, vmctld_libvirt_cmd_list },
    { "migrate", NULL, vmctld_libvirt_cmd_migrate },
    { "ping", cmd_ping, NULL },
    { "stop", NULL, vmctld_libvirt_cmd_stop },
};

static gboolean on_signal(gpointer data)
{
    Daemon *d = data;

    g_main_loop_quit(d->loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    g_autofree char *socket_path = NULL;
    g_autofree char *state_dir = NULL;
    g_autofree char *group = NULL;
    g_autofree char *config = NULL;
    g_autofree char *image_dir = NULL;
    g_autofree char *allowed_paths = NULL;
    g_autofree char *driver = NULL;
    g_autofree char *connect_uri = NULL;
    VmctldGuestsConfig gcfg;
    VmctldGuests *guests = NULL;
    VmctldLibvirt *lv = NULL;
    gint ready_fd = -1;
    const GOptionEntry entries[] = {
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "key file with socket, state-dir, group", "FILE" },
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path, "control socket (default " VMCTLD_DEFAULT_SOCKET ")",
          "PATH" },
        { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
          "one JSON file per guest (default " VMCTLD_DEFAULT_STATE_DIR ")", "DIR" },
        { "group", 0, 0, G_OPTION_ARG_STRING, &group, "also let members of GROUP use the socket (mode 0660)",
          "GROUP" },
        { "allowed-paths", 0, 0, G_OPTION_ARG_STRING, &allowed_paths,
          "host paths a request may name, 'A;B;C': directories, or name prefixes ending in '*' (default "
          VMCTLD_DEFAULT_ALLOWED_PATHS " and the temp dir; also the config key and VMCTLD_ALLOWED_PATHS)",
          "LIST" },
        { "image-dir", 0, 0, G_OPTION_ARG_FILENAME, &image_dir,
          "directory with tiny.bin, vmlinuz and initramfs.cpio.zst (default: next to vmctld, else the data dir)",
          "DIR" },
        { "driver", 0, 0, G_OPTION_ARG_STRING, &driver,
          "qemu (default): vmctld runs QEMU itself; libvirt: guests are domains of the libvirtd at --connect",
          "qemu|libvirt" },
        { "connect", 0, 0, G_OPTION_ARG_STRING, &connect_uri, "libvirt URI for --driver libvirt (default qemu:///system)",
          "URI" },
        { "ready-fd", 0, 0, G_OPTION_ARG_INT, &ready_fd, "write one byte to FD once the socket listens", "FD" },
        { NULL },
    };
    g_autoptr(GOptionContext) octx = g_option_context_new("");
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctldServer) srv = NULL;
    Daemon d = { 0 };

    g_option_context_set_summary(octx, "Launch and supervise QEMU guests on DAX-backed memory.");
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &err)) {
        fprintf(stderr, "vmctld: %s\n", err->message);
        return 2;
    }
    if (driver && strcmp(driver, "qemu") != 0 && strcmp(driver, "libvirt") != 0) {
        fprintf(stderr, "vmctld: --driver '%s' is not one of qemu, libvirt\n", driver);
        return 2;
    }
    if (connect_uri && g_strcmp0(driver, "libvirt") != 0) {
        fprintf(stderr, "vmctld: --connect '%s' needs --driver libvirt\n", connect_uri);
        return 2;
    }
    if (config) {
        g_autoptr(GKeyFile) kf = g_key_file_new();

        if (!g_key_file_load_from_file(kf, config, G_KEY_FILE_NONE, &err)) {
            fprintf(stderr, "vmctld: config '%s': %s\n", config, err->message);
            return 2;
        }
        if (!socket_path)
            socket_path = g_key_file_get_string(kf, "vmctld", "socket", NULL);
        if (!state_dir)
            state_dir = g_key_file_get_string(kf, "vmctld", "state-dir", NULL);
        if (!group)
            group = g_key_file_get_string(kf, "vmctld", "group", NULL);
        if (group && !*group)
            g_clear_pointer(&group, g_free);
        if (!allowed_paths)
            allowed_paths = g_key_file_get_string(kf, "vmctld", "allowed-paths", NULL);
    }
    if (!allowed_paths)
        allowed_paths = g_strdup(g_getenv("VMCTLD_ALLOWED_PATHS"));
    if (!socket_path)
        socket_path = g_strdup(VMCTLD_DEFAULT_SOCKET);
    if (!state_dir)
        state_dir = g_strdup(VMCTLD_DEFAULT_STATE_DIR);
    if (!vmctld_state_dir_prepare(state_dir, &err)) {
        fprintf(stderr, "vmctld: %s\n", err->message);
        return 1;
    }
    if (g_strcmp0(driver, "libvirt") == 0) {
        /* the guests' state lives in libvirt: nothing to reattach */
        VmctldLibvirtConfig lcfg = { connect_uri ? connect_uri : "qemu:///system", state_dir, vmctl_qemu_binary(),
                                     image_dir, allowed_paths };

        lv = vmctld_libvirt_new(&lcfg, &err);
        if (!lv) {
            fprintf(stderr, "vmctld: %s\n", err->message);
            return 1;
        }
        srv = vmctld_server_new(socket_path, group, libvirt_commands, G_N_ELEMENTS(libvirt_commands), lv, &err);
    } else {
        gcfg = (VmctldGuestsConfig){ state_dir, vmctl_qemu_binary(), image_dir, allowed_paths };
        guests = vmctld_guests_new(&gcfg, &err);
        if (!guests) {
            fprintf(stderr, "vmctld: %s\n", err->message);
            return 1;
        }
        srv = vmctld_server_new(socket_path, group, commands, G_N_ELEMENTS(commands), guests, &err);
    }
    if (!srv) {
        fprintf(stderr, "vmctld: %s\n", err->message);
        if (guests)
            vmctld_guests_free(guests);
        vmctld_libvirt_free(lv);
        return 1;
    }
    d.loop = g_main_loop_new(NULL, FALSE);
    if (guests)
        vmctld_guests_reattach(guests);
    g_unix_signal_add(SIGTERM, on_signal, &d);
    g_unix_signal_add(SIGINT, on_signal, &d);
    signal(SIGPIPE, SIG_IGN);
    g_message("vmctld %s listening on %s, state in %s%s%s", PACKAGE_VERSION, socket_path, state_dir,
              lv ? ", libvirt driver at " : "", lv ? (connect_uri ? connect_uri : "qemu:///system") : "");
    if (ready_fd >= 0) {
        if (write(ready_fd, "1", 1) != 1)
            g_warning("cannot signal readiness on fd %d: %s", ready_fd, g_strerror(errno));
        close(ready_fd);
    }
    g_main_loop_run(d.loop);
    g_message("vmctld stopping; guests keep running");
    g_main_loop_unref(d.loop);
    g_clear_pointer(&srv, vmctld_server_free);
    if (guests)
        vmctld_guests_free(guests);
    vmctld_libvirt_free(lv);
    return 0;
}
