/* client.c: requests to vmctld over its Unix socket, and starting vmctld on
 * demand. The daemon is started detached (its own session, not our child)
 * and says it is ready by writing to a pipe: no polling for the socket. */
#include "config.h"

#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define VMCTL_DEFAULT_SOCKET "/run/vmctl/vmctld.sock"
#define CLIENT_TIMEOUT_MS 30000   /* per reply */
#define DAEMON_START_TIMEOUT_MS 10000

const char *vmctl_client_socket_path(const char *explicit_path)
{
    const char *env = g_getenv("VMCTL_SOCKET");

    if (explicit_path && *explicit_path)
        return explicit_path;
    return env && *env ? env : VMCTL_DEFAULT_SOCKET;
}

static int connect_unix(const char *path, GError **error)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "socket path '%s' is longer than %zu bytes", path,
                    sizeof(sa.sun_path) - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        g_set_error(error, VMCTL_ERROR, e == ENOENT || e == ECONNREFUSED ? VMCTL_ERROR_NOT_FOUND : VMCTL_ERROR_FAILED,
                    "cannot connect to vmctld at '%s': %s", path, g_strerror(e));
        return -1;
    }
    return fd;
}

static char *daemon_binary(void)
{
    const char *env = g_getenv("VMCTLD");
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);

    if (env && *env)
        return g_strdup(env);
    if (self) {
        g_autofree char *dir = g_path_get_dirname(self);
        g_autofree char *p = g_build_filename(dir, "vmctld", NULL);
        if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
            return g_steal_pointer(&p);
    }
    return g_build_filename(VMCTL_SBINDIR, "vmctld", NULL);
}
/* In a vmctld about to be exec'd: stdout and stderr to its log, stdin from
 * /dev/null, and the ready pipe's end kept open across the exec. */
static void daemon_child_stdio(const char *log_path, int ready_fd)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

    fcntl(ready_fd, F_SETFD, 0);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        dup2(fd, STDIN_FILENO);
}


static bool start_daemon(const char *socket_path, GError **error)
{
    g_autofree char *bin = daemon_binary();
    const char *state_dir = g_getenv("VMCTL_STATE_DIR");
    g_autofree char *log_path = NULL;
    int pfd[2];
    pid_t pid;
    char c;
    struct pollfd p;
    int r, status;

    if (pipe2(pfd, O_CLOEXEC) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "pipe: %s", g_strerror(errno));
        return false;
    }
    {
        g_autofree char *sockdir = g_path_get_dirname(socket_path);
        log_path = g_build_filename(state_dir && *state_dir ? state_dir : sockdir, "vmctld.log", NULL);
        g_mkdir_with_parents(state_dir && *state_dir ? state_dir : sockdir, 0700);
    }
    pid = fork();
    if (pid < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "fork: %s", g_strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return false;
    }
    if (pid == 0) {
        /* first child: new session, then the daemon as a grandchild so it
         * is not ours to reap and outlives this command */
        setsid();
        if (fork() == 0) {
            g_autofree char *fdstr = g_strdup_printf("%d", pfd[1]);
            const char *argv[12];
            int n = 0;

            daemon_child_stdio(log_path, pfd[1]);
            argv[n++] = bin;
            argv[n++] = "--socket";
            argv[n++] = socket_path;
            if (state_dir && *state_dir) {
                argv[n++] = "--state-dir";
                argv[n++] = state_dir;
            }
            argv[n++] = "--ready-fd";
            argv[n++] = fdstr;
            argv[n] = NULL;
            execv(bin, (char **)argv);
            _exit(127);
        }
        _exit(0);
    }
    close(pfd[1]);
    waitpid(pid, &status, 0);
    p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
    do
        r = poll(&p, 1, DAEMON_START_TIMEOUT_MS);
    while (r < 0 && errno == EINTR);
    if (r <= 0 || read(pfd[0], &c, 1) != 1) {
        close(pfd[0]);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "vmctld '%s' did not start: see '%s'", bin, log_path);
        return false;
    }
    close(pfd[0]);
    return true;
}

static bool write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        n -= w;
    }
    return true;
}

typedef struct {
    VmctlClientEventFunc cb;
    void *user;
    int timeout_ms; /* per reply line, -1: none */
} EventSink;

static json_object *read_reply(int fd, const char *command, const EventSink *sink, GError **error)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    char chunk[65536];

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char *nl;
        ssize_t n;
        int r = poll(&p, 1, sink ? sink->timeout_ms : CLIENT_TIMEOUT_MS);

        if (r < 0 && errno == EINTR) {
            if (sink && sink->cb)
                sink->cb(NULL, NULL, sink->user);
            continue;
        }
        if (r == 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "vmctld did not answer '%s' within %d s", command,
                        CLIENT_TIMEOUT_MS / 1000);
            return NULL;
        }
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            if (sink && sink->cb)
                sink->cb(NULL, NULL, sink->user);
            continue;
        }
        if (n <= 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "vmctld closed the connection during '%s'", command);
            return NULL;
        }
        g_string_append_len(buf, chunk, n);
        while ((nl = memchr(buf->str, '\n', buf->len))) {
            json_object *o, *ev;
            *nl = '\0';
            o = json_tokener_parse(buf->str);
            g_string_erase(buf, 0, nl - buf->str + 1);
            if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "vmctld sent a reply that is not a JSON object");
                return NULL;
            }
            if (json_object_object_get_ex(o, "event", &ev)) {
                /* progress of a long call, before its reply; a signal that
                 * came while it was handled interrupted no wait, so the
                 * caller is asked about signals after it too */
                if (sink && sink->cb) {
                    sink->cb(json_object_get_string(ev), json_object_object_get(o, "data"), sink->user);
                    sink->cb(NULL, NULL, sink->user);
                }
                json_object_put(o);
                continue;
            }
            return o;
        }
    }
}

static json_object *client_call(const char *socket_path, const char *command, json_object *args, bool autostart,
                                const EventSink *sink, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(json_object) req = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    const char *text;
    json_object *ret, *err;
    int fd;

    fd = connect_unix(socket_path, &local);
    if (fd < 0 && autostart && g_error_matches(local, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND)) {
        g_clear_error(&local);
        if (!start_daemon(socket_path, error))
            return NULL;
        fd = connect_unix(socket_path, &local);
    }
    if (fd < 0) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    vmctl_json_add_str(req, "execute", command);
    if (args)
        json_object_object_add(req, "arguments", json_object_get(args));
    text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!write_all(fd, text, strlen(text)) || !write_all(fd, "\n", 1)) {
        /* the daemon may have refused us before reading: show its reply */
        int e = errno;
        reply = read_reply(fd, command, sink, NULL);
        if (!reply) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot send '%s' to vmctld: %s", command, g_strerror(e));
            close(fd);
            return NULL;
        }
    } else {
        reply = read_reply(fd, command, sink, error);
    }
    close(fd);
    if (!reply)
        return NULL;
    if (json_object_object_get_ex(reply, "error", &err)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "%s",
                    json_object_get_string(json_object_object_get(err, "desc")));
        return NULL;
    }
    if (!json_object_object_get_ex(reply, "return", &ret)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "vmctld's reply to '%s' has no 'return'", command);
        return NULL;
    }
    return json_object_get(ret);
}

json_object *vmctl_client_call(const char *socket_path, const char *command, json_object *args, bool autostart,
                               GError **error)
{
    return client_call(socket_path, command, args, autostart, NULL, error);
}

json_object *vmctl_client_call_events(const char *socket_path, const char *command, json_object *args,
                                      bool autostart, VmctlClientEventFunc cb, void *user_data, GError **error)
{
    EventSink sink = { cb, user_data, -1 };

    return client_call(socket_path, command, args, autostart, &sink, error);
}

/* The last non-empty line of a log, for a one-line error. */
static char *log_last_line(const char *path)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = g_strv_length(lines); i > 0; i--)
        if (*g_strstrip(lines[i - 1]))
            return g_strdup(lines[i - 1]);
    return NULL;
}

pid_t vmctl_client_daemon_spawn(const char *socket_path, const char *state_dir, const char *const *extra,
                                const char *log_path, GError **error)
{
    g_autofree char *bin = daemon_binary();
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    int pfd[2], r;
    pid_t pid;
    char c;
    struct pollfd p;

    if (pipe2(pfd, O_CLOEXEC) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "pipe: %s", g_strerror(errno));
        return 0;
    }
    g_ptr_array_add(argv, g_strdup(bin));
    g_ptr_array_add(argv, g_strdup("--socket"));
    g_ptr_array_add(argv, g_strdup(socket_path));
    g_ptr_array_add(argv, g_strdup("--state-dir"));
    g_ptr_array_add(argv, g_strdup(state_dir));
    g_ptr_array_add(argv, g_strdup("--ready-fd"));
    g_ptr_array_add(argv, g_strdup_printf("%d", pfd[1]));
    for (size_t i = 0; extra && extra[i]; i++)
        g_ptr_array_add(argv, g_strdup(extra[i]));
    g_ptr_array_add(argv, NULL);
    pid = fork();
    if (pid < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "fork: %s", g_strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return 0;
    }
    if (pid == 0) {
        daemon_child_stdio(log_path, pfd[1]);
        execv(bin, (char **)argv->pdata);
        _exit(127);
    }
    close(pfd[1]);
    p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
    do
        r = poll(&p, 1, DAEMON_START_TIMEOUT_MS);
    while (r < 0 && errno == EINTR);
    if (r <= 0 || read(pfd[0], &c, 1) != 1) {
        g_autofree char *why = log_last_line(log_path);

        close(pfd[0]);
        vmctl_client_daemon_stop(pid);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "vmctld '%s' did not start: %s", bin,
                    why ? why : r == 0 ? "no answer within 10 s" : "it exited");
        return 0;
    }
    close(pfd[0]);
    return pid;
}

void vmctl_client_daemon_stop(pid_t pid)
{
    int status;

    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return;
        g_usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}
