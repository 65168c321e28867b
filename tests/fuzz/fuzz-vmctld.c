/* fuzz-vmctld.c: vmctld's request protocol (src/daemon/server.c: line
 * framing, JSON requests, dispatch by command name) on what a local client
 * sends.
 *
 * A real VmctldServer listens on a socket in a temporary directory, with
 * the daemon's "list" handler (src/daemon/state.c, on an empty state
 * directory) and test handlers: "ping" (an empty object), "echo" (its
 * arguments), "fail" (an error) and "fail-silent" (NULL without an error).
 * Input: the bytes a client writes; the write side is then shut and the
 * replies are read by a thread until the server closes the connection,
 * while this thread runs the server's main context.
 *
 * Properties: every complete line that is not blank gets exactly one reply
 * line, and every reply is a JSON object with "return" or "error". */
#include "config.h"

#include "daemon/server.h"
#include "daemon/state.h"
#include "fuzz.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT (64 * 1024) /* bytes: below the socket buffer, so one write */

static VmctldServer *server;
static char *sock_path;
static char *state_dir;

static json_object *h_ping(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    return json_object_new_object();
}

static json_object *h_echo(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    return args ? json_object_get(args) : json_object_new_object();
}

static json_object *h_fail(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "command 'fail' always fails");
    return NULL;
}

static json_object *h_fail_silent(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    return NULL;
}

static json_object *h_list(VmctldServer *srv, json_object *args, void *data, GError **error)
{
    return vmctld_state_list(state_dir, error);
}

static const VmctldCommand commands[] = {
    { "echo", h_echo }, { "fail", h_fail }, { "fail-silent", h_fail_silent }, { "list", h_list }, { "ping", h_ping },
};

static void setup(void)
{
    g_autoptr(GError) err = NULL;

    if (server)
        return;
    sock_path = g_build_filename(fuzz_tmpdir(), "vmctld.sock", NULL);
    state_dir = g_build_filename(fuzz_tmpdir(), "state", NULL);
    if (!vmctld_state_dir_prepare(state_dir, &err))
        abort();
    server = vmctld_server_new(sock_path, NULL, commands, G_N_ELEMENTS(commands), NULL, &err);
    if (!server) {
        fprintf(stderr, "vmctld server: %s\n", err->message);
        abort();
    }
}

typedef struct {
    int fd;
    GString *out;
    gint done;
    GMainContext *ctx;
} Reader;

static gpointer reader_main(gpointer data)
{
    Reader *r = data;
    char buf[16384];
    ssize_t n;

    while ((n = read(r->fd, buf, sizeof(buf))) > 0)
        g_string_append_len(r->out, buf, n);
    g_atomic_int_set(&r->done, 1);
    g_main_context_wakeup(r->ctx);
    return NULL;
}

/* Replies the server owes: one per complete line that is not blank once
 * cut at a NUL byte and stripped (as server.c reads lines). */
static unsigned expected_replies(const uint8_t *data, size_t size)
{
    unsigned n = 0;
    const uint8_t *p = data, *end = data + size, *nl;

    while ((nl = memchr(p, '\n', end - p))) {
        g_autofree char *line = g_strndup((const char *)p, nl - p);

        if (*g_strstrip(line))
            n++;
        p = nl + 1;
    }
    return n;
}

static void check_replies(const GString *out, unsigned want)
{
    g_auto(GStrv) lines = g_strsplit(out->str, "\n", -1);
    unsigned got = 0;

    for (size_t i = 0; lines[i]; i++) {
        g_autoptr(json_object) j = NULL;

        if (!*lines[i] && !lines[i + 1])
            break; /* after the last newline */
        j = json_tokener_parse(lines[i]);
        if (!j || !json_object_is_type(j, json_type_object) ||
            (!json_object_object_get_ex(j, "return", NULL) && !json_object_object_get_ex(j, "error", NULL))) {
            fprintf(stderr, "vmctld reply %u is not a reply: '%s'\n", got + 1, lines[i]);
            abort();
        }
        got++;
    }
    if (got != want) {
        fprintf(stderr, "vmctld: %u replies for %u requests\n", got, want);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    Reader r = { .ctx = g_main_context_default() };
    GThread *th;
    int fd;

    if (size > FUZZ_MAX_INPUT)
        return -1;
    setup();
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(addr.sun_path, sock_path, sizeof(addr.sun_path));
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        abort();
    if (size > 0 && write(fd, data, size) != (ssize_t)size)
        abort();
    shutdown(fd, SHUT_WR);
    r.fd = fd;
    r.out = g_string_new(NULL);
    th = g_thread_new("replies", reader_main, &r);
    while (!g_atomic_int_get(&r.done))
        g_main_context_iteration(r.ctx, TRUE);
    g_thread_join(th);
    close(fd);
    check_replies(r.out, expected_replies(data, size));
    g_string_free(r.out, TRUE);
    return 0;
}
