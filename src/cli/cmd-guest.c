/* cmd-guest.c: the commands on one guest by name: info, stop, kill (one
 * table, one handler), qmp (a QMP command passed through) and console (the
 * guest's serial line). */
#include "config.h"

#include "cli/builtin.h"
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const struct {
    const char *cmd;
    const char *summary;
} by_name[] = {
    { "info", "Show a guest: state, accelerator and why, backing, sockets, QEMU." },
    { "kill", "Kill a guest's QEMU (SIGKILL) and forget the guest." },
    { "stop", "Stop a guest: QMP quit, then forget the guest." },
};

static void print_info(json_object *g)
{
    static const char *const keys[] = { "name",      "state",      "pid",         "kind",        "accel",
                                        "accel_reason", "backend", "backend_kind", "started",    "error",
                                        "console_log", "serial_socket", "qmp_socket", "qemu_log" };

    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        json_object *v = json_object_object_get(g, keys[i]);
        if (v)
            printf("%-14s %s\n", keys[i], json_object_get_string(v));
    }
}

static int guest_by_name(int argc, char **argv, struct vmctl_ctx *ctx, const char *cmd, const char *summary)
{
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) ret = NULL;
    g_autoptr(GError) err = NULL;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME", summary, NULL))
        return VMCTL_EXIT_USAGE;
    if (argc != 2) {
        fprintf(stderr, "vmctl %s: needs exactly one guest NAME\n", cmd);
        return VMCTL_EXIT_USAGE;
    }
    vmctl_json_add_str(args, "name", argv[1]);
    ret = vmctl_client_call(vmctl_client_socket_path(ctx->socket_path), cmd, args, true, &err);
    if (!ret)
        return vmctl_cli_fail(err);
    if (ctx->json)
        vmctl_json_print(ret);
    else if (strcmp(cmd, "info") == 0)
        print_info(ret);
    else
        printf("guest '%s' ended\n", argv[1]);
    return VMCTL_EXIT_OK;
}

#define BY_NAME(fn, idx)                                                                                               \
    int fn(int argc, char **argv, struct vmctl_ctx *ctx)                                                               \
    {                                                                                                                  \
        return guest_by_name(argc, argv, ctx, by_name[idx].cmd, by_name[idx].summary);                                 \
    }
BY_NAME(cmd_info, 0)
BY_NAME(cmd_kill, 1)
BY_NAME(cmd_stop, 2)

int cmd_qmp(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) ret = NULL;
    g_autoptr(GError) err = NULL;
    json_object *cmd;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME '{\"execute\": ...}'", "Send one QMP command to a guest's QEMU.",
                         NULL))
        return VMCTL_EXIT_USAGE;
    if (argc != 3) {
        fprintf(stderr, "vmctl qmp: needs a guest NAME and a QMP command in JSON\n");
        return VMCTL_EXIT_USAGE;
    }
    cmd = json_tokener_parse(argv[2]);
    if (!cmd || !json_object_is_type(cmd, json_type_object) || !json_object_object_get(cmd, "execute")) {
        json_object_put(cmd);
        return vmctl_cli_failf("QMP command '%s' must be a JSON object with 'execute'", argv[2]);
    }
    vmctl_json_add_str(args, "name", argv[1]);
    json_object_object_add(args, "command", cmd);
    ret = vmctl_client_call(vmctl_client_socket_path(ctx->socket_path), "qmp", args, true, &err);
    if (!ret)
        return vmctl_cli_fail(err);
    vmctl_json_print(ret);
    return VMCTL_EXIT_OK;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Relay between the terminal (or a pipe) and the serial socket. With
 * --expect, stop with status 0 at the first guest line that matches, or 1
 * at --timeout; otherwise run until stdin or the guest closes. */
int cmd_console(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *send = NULL, *expect = NULL;
    gint timeout_s = 0;
    const GOptionEntry entries[] = {
        { "send", 0, 0, G_OPTION_ARG_STRING, &send, "send this line to the guest first", "LINE" },
        { "expect", 0, 0, G_OPTION_ARG_STRING, &expect, "exit 0 at the first guest line matching REGEX", "REGEX" },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "give up after SECONDS (exit 1)", "SECONDS" },
        { NULL },
    };
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) info = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) line = g_string_new(NULL);
    const char *sock_path;
    regex_t re;
    bool stdin_open = true;
    uint64_t deadline;
    int fd, status = VMCTL_EXIT_OK;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME", "Attach to a guest's serial console.", entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 2) {
        fprintf(stderr, "vmctl console: needs exactly one guest NAME\n");
        return VMCTL_EXIT_USAGE;
    }
    if (expect && regcomp(&re, expect, REG_EXTENDED | REG_NOSUB) != 0)
        return vmctl_cli_failf("--expect '%s' is not an extended regular expression", expect);
    vmctl_json_add_str(args, "name", argv[1]);
    info = vmctl_client_call(vmctl_client_socket_path(ctx->socket_path), "info", args, true, &err);
    if (!info)
        return vmctl_cli_fail(err);
    sock_path = json_object_get_string(json_object_object_get(info, "serial_socket"));
    fd = sock_path ? connect_unix(sock_path) : -1;
    if (fd < 0)
        return vmctl_cli_failf("cannot connect to the console of guest '%s' at '%s': %s", argv[1],
                               sock_path ? sock_path : "?", g_strerror(errno));
    if (send && (write(fd, send, strlen(send)) < 0 || write(fd, "\n", 1) < 0))
        return vmctl_cli_failf("cannot send to the console of guest '%s': %s", argv[1], g_strerror(errno));
    deadline = timeout_s > 0 ? vmctl_now_ns() + (uint64_t)timeout_s * 1000000000ull : 0;
    for (;;) {
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };
        int wait_ms = -1, r;
        char buf[4096];
        ssize_t n;

        if (deadline) {
            uint64_t now = vmctl_now_ns();
            if (now >= deadline) {
                status = expect ? VMCTL_EXIT_FAIL : VMCTL_EXIT_OK;
                if (expect)
                    fprintf(stderr, "vmctl: guest '%s' printed no line matching '%s' within %d s\n", argv[1], expect,
                            timeout_s);
                break;
            }
            wait_ms = (int)((deadline - now) / 1000000) + 1;
        }
        r = poll(p, stdin_open && !send ? 2 : 1, wait_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (p[0].revents) {
            n = read(fd, buf, sizeof(buf));
            if (n <= 0)
                break;
            if (fwrite(buf, 1, n, stdout) != (size_t)n)
                break;
            fflush(stdout);
            if (expect) {
                bool matched = false;
                for (ssize_t i = 0; i < n && !matched; i++) {
                    if (buf[i] == '\n' || buf[i] == '\r') {
                        matched = line->len && regexec(&re, line->str, 0, NULL, 0) == 0;
                        g_string_truncate(line, 0);
                    } else {
                        g_string_append_c(line, buf[i]);
                    }
                }
                if (matched)
                    break;
            }
        }
        if (stdin_open && !send && p[1].revents) {
            n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n <= 0) {
                stdin_open = false;
                if (!expect && !deadline)
                    break;
            } else if (write(fd, buf, n) != n) {
                break;
            }
        }
    }
    if (expect)
        regfree(&re);
    close(fd);
    return status;
}
