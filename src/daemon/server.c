/* server.c: the control socket of vmctld. Each connection is read in chunks
 * into a bounded buffer; every complete line is one request. Bad input gets
 * an error reply and never takes the daemon down: an oversized request
 * closes that connection only. */
#include "config.h"

#include "daemon/server.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct VmctldServer {
    GSocketService *service;
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
    char chunk[64 * 1024];
    bool closing;            /* stop serving: error, EOF or refusal */
    bool pending;            /* an asynchronous call is not answered yet */
    bool draining;           /* refused: input is read and dropped until EOF */
} Client;

struct VmctldCall {
    Client *client;
    json_object *id;
};

static void client_read(Client *c);
static void handle_lines(Client *c);

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
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    g_object_unref(c->conn);
    g_string_free(c->buf, TRUE);
    g_free(c);
}

/* The connection is done with: no more reading or dispatching. */
static void client_close(Client *c)
{
    c->closing = true;
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
}

static void client_send(Client *c, json_object *reply)
{
    const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(c->conn));
    g_autoptr(GError) err = NULL;

    /* Replies are small next to the socket buffer; a peer that does not
     * read them only blocks itself once the buffer is full. */
    if (!g_output_stream_write_all(out, text, strlen(text), NULL, NULL, &err) ||
        !g_output_stream_write_all(out, "\n", 1, NULL, NULL, &err))
        client_close(c);
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
    if (!c->closing)
        handle_lines(c); /* requests that arrived meanwhile */
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
    return call->client->closing;
}

static void handle_lines(Client *c)
{
    char *nl;

    while (!c->closing && !c->pending && !c->draining && (nl = memchr(c->buf->str, '\n', c->buf->len))) {
        size_t n = nl - c->buf->str;
        g_autofree char *line = g_strndup(c->buf->str, n);
        g_autoptr(json_object) reply = NULL;

        g_string_erase(c->buf, 0, n + 1);
        g_strstrip(line);
        if (!*line)
            continue;
        reply = dispatch(c, line);
        if (reply)
            client_send(c, reply);
    }
    if (!c->closing && !c->draining && c->buf->len > VMCTLD_MAX_REQUEST) {
        g_autoptr(json_object) reply = NULL;
        g_autofree char *m = g_strdup_printf("request exceeds %d bytes", VMCTLD_MAX_REQUEST);

        reply = error_reply(NULL, VMCTLD_ERR_BAD_REQUEST, m);
        client_send(c, reply);
        /* closing with unread input would reset the connection and could
         * take the reply with it: end our side, then drain until the peer
         * closes */
        g_socket_shutdown(g_socket_connection_get_socket(c->conn), FALSE, TRUE, NULL);
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
        /* EOF: a pending call still answers into the void, then frees */
        c->closing = true;
        client_unref(c);
        return;
    }
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

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source, gpointer user)
{
    VmctldServer *srv = user;
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

        client_send(c, reply);
        client_close(c);
        client_unref(c);
        return TRUE;
    }
    client_read(c);
    return TRUE;
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
    srv->service = g_socket_service_new();
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(srv->service), addr, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, error))
        return NULL;
    if (chmod(path, mode) < 0 || (srv->have_group && chown(path, 0, srv->gid) < 0)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot set the mode of '%s': %s", path, g_strerror(errno));
        return NULL;
    }
    g_signal_connect(srv->service, "incoming", G_CALLBACK(on_incoming), srv);
    g_socket_service_start(srv->service);
    return g_steal_pointer(&srv);
}

void vmctld_server_free(VmctldServer *srv)
{
    if (!srv)
        return;
    if (srv->service) {
        g_socket_service_stop(srv->service);
        g_socket_listener_close(G_SOCKET_LISTENER(srv->service));
        g_object_unref(srv->service);
        unlink(srv->path);
    }
    g_free(srv->path);
    g_free(srv);
}
