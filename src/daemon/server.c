/* server.c: the control socket of vmctld. Each connection is read in chunks
 * into a bounded buffer; every complete line is one request. Bad input gets
 * an error reply and never takes the daemon down: an oversized request
 * closes that connection only. Replies are queued and written as the peer
 * reads them, never waited for: a peer that does not read is dropped once
 * VMCTLD_MAX_OUTPUT bytes wait for it. The accept loop is vmctld's own: it
 * serves at most VMCTLD_MAX_CLIENTS, drops idle peers, and out of
 * descriptors it waits instead of spinning, logging once a second at most. */
#include "config.h"

#include "daemon/server.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct VmctldServer {
    GSocketListener *listener;
    GCancellable *stop;
    guint backoff; /* a retry of accept after running out of descriptors */
    unsigned clients;
    unsigned idle_s;
    char *path;
    gid_t gid;
    bool have_group;
    const VmctldCommand *commands;
    size_t n_commands;
    void *data;
};

typedef struct {
    int refs;                /* the connection and a pending call each hold one */
    VmctldServer *srv;
    GSocketConnection *conn;
    GString *buf;
    bool in_lines;           /* handle_lines() is on the stack */
    char chunk[64 * 1024];
    bool closing;            /* stop serving: error, EOF or refusal */
    bool pending;            /* an asynchronous call is not answered yet */
    bool draining;           /* refused: input is read and dropped until EOF */
    GString *queue;          /* replies not handed to the socket yet */
    GBytes *inflight;        /* what the socket is writing now */
    bool writing;            /* a write of inflight is under way */
    bool eof;                /* the peer sent all it will send */
    bool close_when_sent;    /* closed once what is queued is written */
    bool shut_when_sent;     /* our side shut once it is written (then drained) */
    guint idle;              /* the idle timer */
} Client;

struct VmctldCall {
    Client *client;
    json_object *id;
};

static void client_read(Client *c);
static void handle_lines(Client *c);

/* A warning at most once a second per kind, with the count of those
 * it held back. */
typedef struct {
    gint64 last_us;
    unsigned held;
} RateLog;

static void G_GNUC_PRINTF(2, 3) rate_warning(RateLog *rl, const char *fmt, ...)
{
    gint64 now = g_get_monotonic_time();
    g_autofree char *msg = NULL;
    va_list ap;

    if (rl->last_us && now - rl->last_us < G_USEC_PER_SEC) {
        rl->held++;
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (rl->held)
        g_warning("%s (and %u more like it in the last second)", msg, rl->held);
    else
        g_warning("%s", msg);
    rl->last_us = now;
    rl->held = 0;
}

static RateLog accept_log, drop_log;

bool vmctld_peer_allowed(uid_t uid, const gid_t *gids, size_t n_gids, gid_t allowed_gid, bool have_group)
{
    if (uid == 0 || uid == geteuid())
        return true;
    for (size_t i = 0; have_group && i < n_gids; i++)
        if (gids[i] == allowed_gid)
            return true;
    return false;
}

/* The peer's real/effective and supplementary groups from /proc/PID/status
 * (SO_PEERCRED carries only the primary gid). */
static GArray *peer_groups(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *status = NULL;
    g_auto(GStrv) lines = NULL;
    GArray *gids = g_array_new(FALSE, FALSE, sizeof(gid_t));

    if (!g_file_get_contents(path, &status, NULL, NULL))
        return gids;
    lines = g_strsplit(status, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) f = NULL;

        if (!g_str_has_prefix(lines[i], "Gid:") && !g_str_has_prefix(lines[i], "Groups:"))
            continue;
        f = g_strsplit_set(strchr(lines[i], ':') + 1, "\t ", -1);
        for (size_t j = 0; f[j]; j++) {
            guint64 v;
            if (*f[j] && g_ascii_string_to_unsigned(f[j], 10, 0, G_MAXUINT32, &v, NULL)) {
                gid_t g = (gid_t)v;
                g_array_append_val(gids, g);
            }
        }
    }
    return gids;
}

static void client_unref(Client *c)
{
    if (--c->refs > 0)
        return;
    if (c->idle)
        g_source_remove(c->idle);
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    g_object_unref(c->conn);
    g_string_free(c->buf, TRUE);
    g_string_free(c->queue, TRUE);
    if (c->inflight)
        g_bytes_unref(c->inflight);
    c->srv->clients--;
    g_free(c);
}

/* The connection is done with: no more reading, dispatching or writing. */
static void client_close(Client *c)
{
    c->closing = true;
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
}

static void client_flush(Client *c);
static bool client_has_output(const Client *c);

static gboolean on_idle(gpointer user)
{
    Client *c = user;

    c->idle = 0;
    if (c->pending || client_has_output(c)) {
        /* busy, not idle: a call under way, or replies being read */
        c->idle = g_timeout_add_seconds(c->srv->idle_s, on_idle, c);
        return G_SOURCE_REMOVE;
    }
    g_message("a client sent nothing for %u s: closed", c->srv->idle_s);
    client_close(c);
    return G_SOURCE_REMOVE;
}

/* The client did something: its idle time starts again. */
static void client_touch(Client *c)
{
    if (c->idle)
        g_source_remove(c->idle);
    c->idle = g_timeout_add_seconds(c->srv->idle_s, on_idle, c);
}

static bool client_has_output(const Client *c)
{
    return c->inflight || c->queue->len;
}

/* What waits for the output to be written, once it is. */
static void client_sent(Client *c)
{
    if (c->closing || client_has_output(c))
        return;
    if (c->close_when_sent || (c->eof && !c->pending))
        client_close(c);
    else if (c->shut_when_sent) {
        c->shut_when_sent = false;
        g_socket_shutdown(g_socket_connection_get_socket(c->conn), FALSE, TRUE, NULL);
    }
}

static void on_written(GObject *src, GAsyncResult *res, gpointer user)
{
    Client *c = user;
    g_autoptr(GError) err = NULL;
    gssize n = g_output_stream_write_bytes_finish(G_OUTPUT_STREAM(src), res, &err);

    c->writing = false;
    if (n < 0) {
        if (!c->closing)
            client_close(c);
    } else if (!c->closing) {
        gsize size = g_bytes_get_size(c->inflight);
        GBytes *rest = (gsize)n < size ? g_bytes_new_from_bytes(c->inflight, n, size - n) : NULL;

        g_bytes_unref(c->inflight);
        c->inflight = rest;
        client_flush(c);
        client_sent(c);
    }
    client_unref(c);
}

/* Hand what is queued to the socket, one write at a time; the write holds
 * a reference until it is done. */
static void client_flush(Client *c)
{
    if (c->closing || c->writing)
        return;
    if (!c->inflight) {
        if (!c->queue->len)
            return;
        c->inflight = g_string_free_to_bytes(c->queue);
        c->queue = g_string_new(NULL);
    }
    c->writing = true;
    c->refs++;
    g_output_stream_write_bytes_async(g_io_stream_get_output_stream(G_IO_STREAM(c->conn)), c->inflight,
                                      G_PRIORITY_DEFAULT, NULL, on_written, c);
}

static void client_send(Client *c, json_object *reply)
{
    const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    gsize waiting = c->queue->len + (c->inflight ? g_bytes_get_size(c->inflight) : 0);

    if (c->closing)
        return;
    if (waiting + strlen(text) + 1 > VMCTLD_MAX_OUTPUT) {
        /* it does not read what it asked for: it is not waited for */
        rate_warning(&drop_log, "a client left %" G_GSIZE_FORMAT " bytes of replies unread: dropped", waiting);
        client_close(c);
        return;
    }
    g_string_append(c->queue, text);
    g_string_append_c(c->queue, '\n');
    client_flush(c);
}

static json_object *error_reply(json_object *id, const char *cls, const char *desc)
{
    json_object *r = json_object_new_object();
    json_object *e = json_object_new_object();

    vmctl_json_add_str(e, "class", cls);
    vmctl_json_add_str(e, "desc", desc);
    json_object_object_add(r, "error", e);
    if (id)
        json_object_object_add(r, "id", json_object_get(id));
    return r;
}

static json_object *ok_reply(json_object *id, json_object *ret)
{
    json_object *r = json_object_new_object();

    json_object_object_add(r, "return", ret);
    if (id)
        json_object_object_add(r, "id", json_object_get(id));
    return r;
}

/* Parse and run one request line. Returns the reply, or NULL when an
 * asynchronous call was started (the client is then pending). */
static json_object *dispatch(Client *c, const char *line)
{
    VmctldServer *srv = c->srv;
    g_autoptr(json_object) req = NULL;
    enum json_tokener_error jerr;
    json_object *cmd, *args = NULL, *id = NULL;
    g_autoptr(GError) err = NULL;
    json_object *ret;

    if (!g_utf8_validate(line, -1, NULL))
        return error_reply(NULL, VMCTLD_ERR_BAD_REQUEST, "request is not valid UTF-8");
    {
        json_tokener *tok = json_tokener_new();
        size_t len = strlen(line), end;

        req = json_tokener_parse_ex(tok, line, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!req || jerr != json_tokener_success)
            return error_reply(NULL, VMCTLD_ERR_BAD_REQUEST, "request is not valid JSON");
        /* one request per line: nothing but blanks after it */
        for (; end < len; end++)
            if (!g_ascii_isspace(line[end]))
                return error_reply(NULL, VMCTLD_ERR_BAD_REQUEST, "request has bytes after its JSON object");
    }
    if (!json_object_is_type(req, json_type_object))
        return error_reply(NULL, VMCTLD_ERR_BAD_REQUEST, "request must be a JSON object");
    json_object_object_get_ex(req, "id", &id);
    if (!json_object_object_get_ex(req, "execute", &cmd) || !json_object_is_type(cmd, json_type_string))
        return error_reply(id, VMCTLD_ERR_BAD_REQUEST, "member 'execute' must be a string naming a command");
    if (json_object_object_get_ex(req, "arguments", &args) && !json_object_is_type(args, json_type_object))
        return error_reply(id, VMCTLD_ERR_BAD_REQUEST, "member 'arguments' must be an object");
    json_object_object_foreach(req, key, val)
    {
        (void)val;
        if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
            g_autofree char *m = g_strdup_printf("member '%s' is unknown: a request has execute, arguments, id", key);
            return error_reply(id, VMCTLD_ERR_BAD_REQUEST, m);
        }
    }
    for (size_t i = 0; i < srv->n_commands; i++) {
        const VmctldCommand *command = &srv->commands[i];

        if (strcmp(command->name, json_object_get_string(cmd)) != 0)
            continue;
        if (command->async) {
            VmctldCall *call = g_new0(VmctldCall, 1);

            call->client = c;
            call->id = id ? json_object_get(id) : NULL;
            c->refs++;
            c->pending = true;
            command->async(srv, args, call, srv->data);
            return NULL;
        }
        ret = command->fn(srv, args, srv->data, &err);
        if (!ret)
            return error_reply(id, VMCTLD_ERR_GENERIC, err ? err->message : "command failed");
        return ok_reply(id, ret);
    }
    {
        g_autofree char *m = g_strdup_printf("command '%s' is unknown", json_object_get_string(cmd));
        return error_reply(id, VMCTLD_ERR_UNKNOWN_COMMAND, m);
    }
}

static void call_finish(VmctldCall *call, json_object *reply)
{
    Client *c = call->client;

    if (!c->closing)
        client_send(c, reply);
    json_object_put(reply);
    json_object_put(call->id);
    g_free(call);
    c->pending = false;
    if (!c->closing && !c->eof)
        handle_lines(c); /* requests that arrived meanwhile */
    client_sent(c);
    client_unref(c);
}

void vmctld_call_return(VmctldCall *call, json_object *ret)
{
    call_finish(call, ok_reply(call->id, ret ? ret : json_object_new_object()));
}

void vmctld_call_error(VmctldCall *call, const GError *error)
{
    call_finish(call, error_reply(call->id, VMCTLD_ERR_GENERIC, error ? error->message : "command failed"));
}

void vmctld_call_event(VmctldCall *call, const char *name, json_object *data)
{
    g_autoptr(json_object) ev = json_object_new_object();

    vmctl_json_add_str(ev, "event", name);
    json_object_object_add(ev, "data", data ? data : json_object_new_object());
    if (call->id)
        json_object_object_add(ev, "id", json_object_get(call->id));
    if (!call->client->closing)
        client_send(call->client, ev);
}

bool vmctld_call_peer_gone(const VmctldCall *call)
{
    return call->client->closing || call->client->eof;
}

static void handle_lines(Client *c)
{
    size_t pos = 0; /* the lines before it are handled: erased once, at the end */
    char *nl;

    /* a call answered at once ends in call_finish(), which comes here for
     * the lines that waited: the loop below is already on them */
    if (c->in_lines)
        return;
    c->in_lines = true;
    while (!c->closing && !c->pending && !c->draining &&
           (nl = memchr(c->buf->str + pos, '\n', c->buf->len - pos))) {
        size_t n = nl - (c->buf->str + pos);
        g_autofree char *line = g_strndup(c->buf->str + pos, n);
        g_autoptr(json_object) reply = NULL;

        pos += n + 1;
        g_strstrip(line);
        if (!*line)
            continue;
        reply = dispatch(c, line);
        if (reply)
            client_send(c, reply);
    }
    g_string_erase(c->buf, 0, pos);
    c->in_lines = false;
    if (!c->closing && !c->draining && c->buf->len > VMCTLD_MAX_REQUEST) {
        g_autoptr(json_object) reply = NULL;
        g_autofree char *m = g_strdup_printf("request exceeds %d bytes", VMCTLD_MAX_REQUEST);

        reply = error_reply(NULL, VMCTLD_ERR_BAD_REQUEST, m);
        client_send(c, reply);
        /* closing with unread input would reset the connection and could
         * take the reply with it: end our side once the reply is out, then
         * drain until the peer closes */
        c->shut_when_sent = true;
        client_sent(c);
        g_string_truncate(c->buf, 0);
        c->draining = true;
    }
}

static void on_read(GObject *src, GAsyncResult *res, gpointer user)
{
    Client *c = user;
    g_autoptr(GError) err = NULL;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, &err);

    if (n <= 0 || c->closing) {
        /* EOF: what is queued and a pending call's answer are still
         * written (the peer may only have shut its side), then it closes */
        if (n < 0)
            client_close(c);
        c->eof = true;
        client_sent(c);
        client_unref(c);
        return;
    }
    client_touch(c);
    if (c->draining) {
        client_read(c);
        return;
    }
    g_string_append_len(c->buf, c->chunk, n);
    handle_lines(c);
    if (c->closing) {
        client_unref(c);
        return;
    }
    client_read(c);
}

static void client_read(Client *c)
{
    g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(c->conn)), c->chunk, sizeof(c->chunk),
                              G_PRIORITY_DEFAULT, NULL, on_read, c);
}

static void serve(VmctldServer *srv, GSocketConnection *conn)
{
    GSocket *sock = g_socket_connection_get_socket(conn);
    g_autoptr(GCredentials) cred = g_socket_get_credentials(sock, NULL);
    g_autofree char *denied = NULL;
    bool allowed = false;
    Client *c;

    c = g_new0(Client, 1);
    c->refs = 1;
    c->srv = srv;
    c->conn = g_object_ref(conn);
    c->buf = g_string_new(NULL);
    c->queue = g_string_new(NULL);
    if (srv->clients >= VMCTLD_MAX_CLIENTS) {
        g_autofree char *m = g_strdup_printf("vmctld serves at most %d clients at once: try again later",
                                             VMCTLD_MAX_CLIENTS);
        g_autoptr(json_object) reply = error_reply(NULL, VMCTLD_ERR_BUSY, m);

        srv->clients++;
        rate_warning(&drop_log, "a client over the limit of %d was turned away", VMCTLD_MAX_CLIENTS);
        c->close_when_sent = true;
        client_send(c, reply);
        client_unref(c);
        return;
    }
    srv->clients++;
    if (cred) {
        uid_t uid = g_credentials_get_unix_user(cred, NULL);
        g_autoptr(GArray) gids = peer_groups(g_credentials_get_unix_pid(cred, NULL));

        allowed = vmctld_peer_allowed(uid, (const gid_t *)(void *)gids->data, gids->len, srv->gid, srv->have_group);
        if (!allowed)
            denied = g_strdup_printf("uid %d is not allowed to use vmctld: only root%s", (int)uid,
                                     srv->have_group ? " or members of the configured group" : "");
    } else {
        denied = g_strdup("the peer's credentials cannot be read");
    }
    if (!allowed) {
        g_autoptr(json_object) reply = error_reply(NULL, VMCTLD_ERR_DENIED, denied);

        c->close_when_sent = true;
        client_send(c, reply);
        client_unref(c);
        return;
    }
    client_touch(c);
    client_read(c);
}

static void accept_next(VmctldServer *srv);

static gboolean accept_again(gpointer user)
{
    VmctldServer *srv = user;

    srv->backoff = 0;
    accept_next(srv);
    return G_SOURCE_REMOVE;
}

static void on_accept(GObject *src, GAsyncResult *res, gpointer user)
{
    g_autoptr(GError) err = NULL;
    GSocketConnection *conn = g_socket_listener_accept_finish(G_SOCKET_LISTENER(src), res, NULL, &err);
    VmctldServer *srv = user;

    if (!conn) {
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            return; /* the server is gone */
        /* out of descriptors (or another passing failure): wait a little
         * rather than spin on a connection that cannot be taken */
        rate_warning(&accept_log, "cannot accept a client: %s", err->message);
        srv->backoff = g_timeout_add(VMCTLD_ACCEPT_BACKOFF_MS, accept_again, srv);
        return;
    }
    serve(srv, conn);
    g_object_unref(conn);
    accept_next(srv);
}

static void accept_next(VmctldServer *srv)
{
    g_socket_listener_accept_async(srv->listener, srv->stop, on_accept, srv);
}

VmctldServer *vmctld_server_new(const char *path, const char *group, const VmctldCommand *commands,
                                size_t n_commands, void *data, GError **error)
{
    g_autoptr(VmctldServer) srv = g_new0(VmctldServer, 1);
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(GSocketClient) probe = NULL;
    g_autoptr(GSocketConnection) live = NULL;
    g_autofree char *dir = g_path_get_dirname(path);
    mode_t mode = 0600;

    srv->path = g_strdup(path);
    srv->commands = commands;
    srv->n_commands = n_commands;
    srv->data = data;
    if (group) {
        struct group *gr = getgrnam(group);
        if (!gr) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "group '%s' does not exist", group);
            return NULL;
        }
        srv->gid = gr->gr_gid;
        srv->have_group = true;
        mode = 0660;
    }
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot create '%s': %s", dir, g_strerror(errno));
        return NULL;
    }
    addr = g_unix_socket_address_new(path);
    probe = g_socket_client_new();
    live = g_socket_client_connect(probe, G_SOCKET_CONNECTABLE(addr), NULL, NULL);
    if (live) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "socket '%s' is in use by a running vmctld", path);
        return NULL;
    }
    unlink(path); /* stale socket of a daemon that died */
    srv->listener = g_socket_listener_new();
    srv->stop = g_cancellable_new();
    if (!g_socket_listener_add_address(srv->listener, addr, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                       NULL, error))
        return NULL;
    if (chmod(path, mode) < 0 || (srv->have_group && chown(path, 0, srv->gid) < 0)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot set the mode of '%s': %s", path, g_strerror(errno));
        return NULL;
    }
    {
        const char *idle = g_getenv("VMCTLD_CLIENT_IDLE_S");
        guint64 v;

        srv->idle_s = idle && g_ascii_string_to_unsigned(idle, 10, 1, 86400, &v, NULL) ? (unsigned)v
                                                                                    : VMCTLD_CLIENT_IDLE_S;
    }
    accept_next(srv);
    return g_steal_pointer(&srv);
}

void vmctld_server_free(VmctldServer *srv)
{
    if (!srv)
        return;
    if (srv->backoff)
        g_source_remove(srv->backoff);
    if (srv->stop)
        g_cancellable_cancel(srv->stop);
    if (srv->listener) {
        g_socket_listener_close(srv->listener);
        g_object_unref(srv->listener);
        unlink(srv->path);
    }
    g_clear_object(&srv->stop);
    g_free(srv->path);
    g_free(srv);
}
