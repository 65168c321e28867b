/* test-qmp.c: the QMP client against a fake QEMU that replays sessions
 * recorded from the real QEMU 7.2 (tests/data/qmp/qemu-7.2-*.qmp).
 *
 * The fake peer sits on the other end of a socketpair in the same main
 * context. It answers each command with what QEMU answered in the recording
 * (events first, then the reply, the id replaced), or holds its replies so a
 * test can send them in another order, in pieces, late, or not at all. It
 * writes one piece per low-priority idle, so the client has read a piece
 * before the next one is written. */
#include "config.h"

#include "qmp.h"
#include "util.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANDSHAKE_MS 20000 /* a safety net only: no test measures time */
#define WATCHDOG_S 300     /* seconds for the whole program */

typedef struct {
    GSocket *sock;
    GSource *in;
    GSource *writer;
    json_tokener *tok;
    GQueue chunks;         /* GByteArray pieces waiting to be written */
    gsize chunk_size;      /* 0: each message in one write */
    guint writes;          /* pieces written */
    gsize queued;          /* bytes queued so far */
    char *greeting;        /* first line of the recording */
    GHashTable *script;    /* command name -> GPtrArray of recorded lines */
    GPtrArray *received;   /* json_object commands received, in order */
    bool hold;             /* keep requests unanswered */
} Peer;

typedef struct {
    Peer peer;
    VmctlQmp *qmp;
    int client_fd;
} Fixture;

/* ---- the fake peer ------------------------------------------------------ */

static gboolean peer_write_one(gpointer data)
{
    Peer *p = data;
    GByteArray *chunk = g_queue_peek_head(&p->chunks);
    g_autoptr(GError) err = NULL;
    gssize n;

    if (!chunk) {
        g_source_unref(p->writer);
        p->writer = NULL;
        return G_SOURCE_REMOVE;
    }
    n = g_socket_send(p->sock, (const char *)chunk->data, chunk->len, NULL, &err);
    if (n < 0) {
        /* would block: the client reads first (it has the higher priority) */
        g_assert_error(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
        return G_SOURCE_CONTINUE;
    }
    g_byte_array_remove_range(chunk, 0, n);
    if (chunk->len == 0) {
        g_byte_array_unref(g_queue_pop_head(&p->chunks));
        p->writes++;
    }
    return G_SOURCE_CONTINUE;
}

/* Queue raw bytes, cut into chunk_size pieces. */
static void peer_send_raw(Peer *p, const char *data, gsize len)
{
    gsize step = p->chunk_size ? p->chunk_size : len;

    p->queued += len;

    for (gsize off = 0; off < len; off += step) {
        GByteArray *chunk = g_byte_array_new();
        g_byte_array_append(chunk, (const guint8 *)data + off, MIN(step, len - off));
        g_queue_push_tail(&p->chunks, chunk);
    }
    if (!p->writer && p->sock) {
        p->writer = g_idle_source_new();
        g_source_set_priority(p->writer, G_PRIORITY_LOW);
        g_source_set_callback(p->writer, peer_write_one, p, NULL);
        g_source_attach(p->writer, NULL);
    }
}

static void peer_send_line(Peer *p, const char *line)
{
    g_autofree char *text = g_strconcat(line, "\r\n", NULL);

    peer_send_raw(p, text, strlen(text));
}

/* Send the recorded answer of `request` (events, then the reply with the
 * request's id), or CommandNotFound as QEMU words it. */
static void peer_answer(Peer *p, json_object *request)
{
    const char *name = json_object_get_string(json_object_object_get(request, "execute"));
    json_object *id = json_object_object_get(request, "id");
    GPtrArray *lines = g_hash_table_lookup(p->script, name);

    if (!lines) {
        g_autoptr(json_object) reply = json_object_new_object();
        g_autoptr(json_object) error = json_object_new_object();
        g_autofree char *desc = g_strdup_printf("The command %s has not been found", name);

        json_object_object_add(error, "class", json_object_new_string("CommandNotFound"));
        json_object_object_add(error, "desc", json_object_new_string(desc));
        json_object_object_add(reply, "id", json_object_get(id));
        json_object_object_add(reply, "error", json_object_get(error));
        peer_send_line(p, json_object_to_json_string_ext(reply, JSON_C_TO_STRING_SPACED));
        return;
    }
    for (guint i = 0; i < lines->len; i++) {
        g_autoptr(json_object) msg = json_tokener_parse(lines->pdata[i]);

        g_assert_nonnull(msg);
        if (json_object_object_get_ex(msg, "id", NULL))
            json_object_object_add(msg, "id", json_object_get(id));
        peer_send_line(p, json_object_to_json_string_ext(msg, JSON_C_TO_STRING_SPACED));
    }
}

static gboolean peer_readable(GSocket *sock, GIOCondition cond, gpointer data)
{
    Peer *p = data;
    char buf[4096];
    gssize n = g_socket_receive(sock, buf, sizeof buf, NULL, NULL);
    const char *at = buf;

    if (n <= 0)
        return n < 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
    while (n > 0) {
        json_object *req = json_tokener_parse_ex(p->tok, at, (int)n);
        enum json_tokener_error jerr = json_tokener_get_error(p->tok);
        gssize used;

        if (jerr == json_tokener_continue)
            break;
        g_assert_cmpint(jerr, ==, json_tokener_success);
        used = (gssize)json_tokener_get_parse_end(p->tok);
        at += used;
        n -= used;
        g_ptr_array_add(p->received, req);
        if (!p->hold)
            peer_answer(p, req);
    }
    return G_SOURCE_CONTINUE;
}

static void load_recording(Peer *p, const char *file)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "qmp", file, NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GPtrArray *current = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, &err));
    g_assert_no_error(err);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *l = lines[i];

        if (g_str_has_prefix(l, "C: ")) {
            g_autoptr(json_object) req = json_tokener_parse(l + 3);
            const char *name = json_object_get_string(json_object_object_get(req, "execute"));

            current = g_ptr_array_new_with_free_func(g_free);
            g_hash_table_replace(p->script, g_strdup(name), current);
        } else if (g_str_has_prefix(l, "S: ")) {
            if (current)
                g_ptr_array_add(current, g_strdup(l + 3));
            else
                p->greeting = g_strdup(l + 3);
        }
    }
    g_assert_nonnull(p->greeting);
}

/* Replace the recorded answer of a command with one line. */
static void peer_script(Peer *p, const char *name, const char *line)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);

    g_ptr_array_add(lines, g_strdup(line));
    g_hash_table_replace(p->script, g_strdup(name), lines);
}

static void peer_close(Peer *p)
{
    if (p->in) {
        g_source_destroy(p->in);
        g_clear_pointer(&p->in, g_source_unref);
    }
    if (p->writer) {
        g_source_destroy(p->writer);
        g_clear_pointer(&p->writer, g_source_unref);
    }
    if (p->sock) {
        g_socket_close(p->sock, NULL);
        g_clear_object(&p->sock);
    }
}

/* Run the main context until the peer has written everything queued. */
static void peer_flush(Peer *p)
{
    while (p->writer)
        g_main_context_iteration(NULL, TRUE);
}

static void put_json(gpointer obj)
{
    json_object_put(obj);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    const char *recording = data && g_str_has_suffix(data, ".qmp") ? data : "qemu-7.2-tcg.qmp";
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    f->client_fd = sv[0];
    f->peer.sock = g_socket_new_from_fd(sv[1], NULL);
    g_assert_nonnull(f->peer.sock);
    g_socket_set_blocking(f->peer.sock, FALSE);
    f->peer.tok = json_tokener_new();
    g_queue_init(&f->peer.chunks);
    f->peer.script = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
    f->peer.received = g_ptr_array_new_with_free_func(put_json);
    f->peer.in = g_socket_create_source(f->peer.sock, G_IO_IN | G_IO_HUP, NULL);
    g_source_set_callback(f->peer.in, (GSourceFunc)(void (*)(void))peer_readable, &f->peer, NULL);
    g_source_attach(f->peer.in, NULL);
    load_recording(&f->peer, recording);
    f->qmp = vmctl_qmp_new(NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_clear_pointer(&f->qmp, vmctl_qmp_unref);
    peer_close(&f->peer);
    g_queue_clear_full(&f->peer.chunks, (GDestroyNotify)g_byte_array_unref);
    json_tokener_free(f->peer.tok);
    g_hash_table_unref(f->peer.script);
    g_ptr_array_unref(f->peer.received);
    g_free(f->peer.greeting);
    /* nothing of the client may be left on the context */
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

static void connect_ok(Fixture *f)
{
    g_autoptr(GError) err = NULL;

    peer_send_line(&f->peer, f->peer.greeting);
    g_assert_true(vmctl_qmp_connect_fd_sync(f->qmp, f->client_fd, HANDSHAKE_MS, &err));
    g_assert_no_error(err);
    g_assert_true(vmctl_qmp_is_ready(f->qmp));
}

static const char *received_name(Fixture *f, guint i)
{
    g_assert_cmpuint(i, <, f->peer.received->len);
    return json_object_get_string(json_object_object_get(f->peer.received->pdata[i], "execute"));
}

/* ---- reply and event recorders ------------------------------------------ */

typedef struct {
    int calls;
    json_object *ret;
    GError *error;
    int order; /* value of a shared counter when called */
} Reply;

static int call_counter;

static void on_reply(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data)
{
    Reply *r = data;

    r->calls++;
    r->order = ++call_counter;
    g_assert_true(ret == NULL || error == NULL);
    if (error)
        r->error = g_error_copy(error);
    else
        r->ret = json_object_get(ret);
}

static void reply_clear(Reply *r)
{
    g_clear_pointer(&r->ret, json_object_put);
    g_clear_error(&r->error);
    r->calls = 0;
}

static void wait_reply(Reply *r)
{
    while (r->calls == 0)
        g_main_context_iteration(NULL, TRUE);
}

typedef struct {
    GPtrArray *names;
    gint64 last_ts;
    char *last_data;
    int order;
} Events;

static void on_event(VmctlQmp *qmp, const char *name, json_object *data, gint64 ts, gpointer user)
{
    Events *e = user;

    g_ptr_array_add(e->names, g_strdup(name));
    e->last_ts = ts;
    g_free(e->last_data);
    e->last_data = data ? g_strdup(json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN)) : NULL;
    e->order = ++call_counter;
}

static char *joined(GPtrArray *names)
{
    g_ptr_array_add(names, NULL);
    char *s = g_strjoinv(",", (char **)names->pdata);
    g_ptr_array_remove_index(names, names->len - 1);
    return s;
}

typedef struct {
    int calls;
    GError *error;
} Disc;

static void on_disconnect(VmctlQmp *qmp, const GError *reason, gpointer data)
{
    Disc *d = data;

    d->calls++;
    g_clear_error(&d->error);
    d->error = g_error_copy(reason);
}

/* ---- tests -------------------------------------------------------------- */

static void test_greeting(Fixture *f, gconstpointer data)
{
    int major, minor, micro;

    connect_ok(f);
    g_assert_true(vmctl_qmp_version(f->qmp, &major, &minor, &micro));
    g_assert_cmpint(major, ==, 7);
    g_assert_cmpint(minor, ==, 2);
    g_assert_cmpint(micro, ==, 22);
    g_assert_cmpstr(vmctl_qmp_package(f->qmp), ==, "Debian 1:7.2+dfsg-7+deb12u18+b3");
    /* qmp_capabilities first, then the discovery, sent together */
    g_assert_cmpuint(f->peer.received->len, ==, 5);
    g_assert_cmpstr(received_name(f, 0), ==, "qmp_capabilities");
    g_assert_cmpstr(received_name(f, 1), ==, "query-version");
    g_assert_cmpstr(received_name(f, 4), ==, "query-commands");
    g_assert_true(vmctl_qmp_kvm_present(f->qmp));
    g_assert_cmpint(vmctl_qmp_kvm_enabled(f->qmp), ==, data != NULL); /* the KVM recording */
    g_assert_true(vmctl_qmp_has_migrate_capability(f->qmp, "postcopy-ram"));
    g_assert_true(vmctl_qmp_has_migrate_capability(f->qmp, "x-ignore-shared"));
    g_assert_false(vmctl_qmp_has_migrate_capability(f->qmp, "dirty-limit")); /* 8.1+ */
    g_assert_cmpuint(g_strv_length((char **)vmctl_qmp_migrate_capabilities(f->qmp)), ==, 21);
    g_assert_true(vmctl_qmp_has_command(f->qmp, "calc-dirty-rate"));
    g_assert_true(vmctl_qmp_has_command(f->qmp, "query-status"));
    g_assert_false(vmctl_qmp_has_command(f->qmp, "no-such-command"));

    g_autoptr(json_object) info = vmctl_qmp_info_to_json(f->qmp);
    g_assert_cmpint(json_object_get_int(json_object_object_get(json_object_object_get(info, "version"), "micro")), ==,
                    22);
    g_assert_cmpint(json_object_array_length(json_object_object_get(info, "migrate-capabilities")), ==, 21);
}

static void test_no_discovery(Fixture *f, gconstpointer data)
{
    int major = 0;

    vmctl_qmp_set_discovery(f->qmp, false);
    connect_ok(f);
    g_assert_cmpuint(f->peer.received->len, ==, 1);
    /* the version of the greeting is kept */
    g_assert_true(vmctl_qmp_version(f->qmp, &major, NULL, NULL));
    g_assert_cmpint(major, ==, 7);
    g_assert_false(vmctl_qmp_has_command(f->qmp, "query-status"));
}

static void check_status_running(json_object *ret)
{
    g_assert_nonnull(ret);
    g_assert_cmpstr(json_object_get_string(json_object_object_get(ret, "status")), ==, "running");
}

static void test_split_bytes(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) ret = NULL;
    guint before;
    gsize queued;

    f->peer.chunk_size = 1; /* greeting, replies and events byte by byte */
    connect_ok(f);
    peer_flush(&f->peer); /* the "\r\n" after the last reply */
    g_assert_cmpuint(f->peer.writes, ==, f->peer.queued);
    before = f->peer.writes;
    queued = f->peer.queued;
    ret = vmctl_qmp_command_sync(f->qmp, "query-status", NULL, 0, &err);
    g_assert_no_error(err);
    check_status_running(ret);
    peer_flush(&f->peer);
    /* each byte of the reply was a write of its own */
    g_assert_cmpuint(f->peer.queued - queued, >, 50);
    g_assert_cmpuint(f->peer.writes - before, ==, f->peer.queued - queued);
}

static void test_split_batch(Fixture *f, gconstpointer data)
{
    Reply r[3] = { 0 };
    Events ev = { g_ptr_array_new_with_free_func(g_free) };
    const char *names[] = { "query-status", "query-kvm", "query-version" };
    g_autofree char *seen = NULL;
    GString *batch = g_string_new(NULL);

    connect_ok(f);
    vmctl_qmp_on_event(f->qmp, NULL, on_event, &ev);
    f->peer.hold = true;
    for (int i = 0; i < 3; i++)
        vmctl_qmp_command(f->qmp, names[i], NULL, 0, on_reply, &r[i]);
    while (f->peer.received->len < 8)
        g_main_context_iteration(NULL, TRUE);

    /* one write: event, reply 3, reply 1, event, reply 2 */
    const char *id[3];
    for (int i = 0; i < 3; i++)
        id[i] = json_object_get_string(json_object_object_get(f->peer.received->pdata[5 + i], "id"));
    g_string_append(batch, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n");
    g_string_append_printf(batch, "{\"return\": {\"qemu\": {\"major\": 7}}, \"id\": \"%s\"}\r\n", id[2]);
    g_string_append_printf(batch, "{\"return\": {\"status\": \"running\"}, \"id\": \"%s\"}", id[0]);
    g_string_append(batch, "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 3, \"microseconds\": 4}}\n");
    g_string_append_printf(batch, "{\"return\": {\"enabled\": true}, \"id\": \"%s\"}\r\n", id[1]);
    peer_send_raw(&f->peer, batch->str, batch->len);
    g_string_free(batch, TRUE);
    while (r[1].calls == 0)
        g_main_context_iteration(NULL, TRUE);

    check_status_running(r[0].ret);
    g_assert_true(json_object_get_boolean(json_object_object_get(r[1].ret, "enabled")));
    g_assert_cmpint(json_object_get_int(json_object_object_get(json_object_object_get(r[2].ret, "qemu"), "major")), ==, 7);
    g_assert_cmpint(r[2].order, <, r[0].order);
    g_assert_cmpint(r[0].order, <, ev.order);
    g_assert_cmpint(ev.order, <, r[1].order);
    seen = joined(ev.names);
    g_assert_cmpstr(seen, ==, "STOP,RESUME");
    g_assert_cmpint(ev.last_ts, ==, 3 * G_USEC_PER_SEC + 4);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(r[i].calls, ==, 1);
        reply_clear(&r[i]);
    }
    g_ptr_array_unref(ev.names);
    g_free(ev.last_data);
}

static void test_out_of_order(Fixture *f, gconstpointer data)
{
    Reply r[3] = { 0 };

    connect_ok(f);
    f->peer.hold = true;
    for (int i = 0; i < 3; i++)
        vmctl_qmp_command(f->qmp, "query-status", NULL, 0, on_reply, &r[i]);
    while (f->peer.received->len < 8)
        g_main_context_iteration(NULL, TRUE);
    /* answer last first, each with its own marker */
    for (int i = 2; i >= 0; i--) {
        const char *id = json_object_get_string(json_object_object_get(f->peer.received->pdata[5 + i], "id"));
        g_autofree char *line = g_strdup_printf("{\"return\": {\"n\": %d}, \"id\": \"%s\"}", i, id);
        peer_send_line(&f->peer, line);
        peer_flush(&f->peer);
    }
    while (r[0].calls == 0)
        g_main_context_iteration(NULL, TRUE);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(r[i].calls, ==, 1);
        g_assert_cmpint(json_object_get_int(json_object_object_get(r[i].ret, "n")), ==, i);
        reply_clear(&r[i]);
    }
    g_assert_cmpint(r[2].order, <, r[1].order);
}

static void test_large(Fixture *f, gconstpointer data)
{
    const gsize size = 1024 * 1024; /* bytes of the string in the reply */
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) ret = NULL;
    GString *line = g_string_new("{\"return\": {\"blob\": \"");

    for (gsize i = 0; i < size; i++)
        g_string_append_c(line, 'a' + i % 26);
    g_string_append(line, "\"}, \"id\": \"ID\"}");
    peer_script(&f->peer, "x-blob", line->str);
    g_string_free(line, TRUE);

    connect_ok(f);
    f->peer.chunk_size = 4093; /* pieces that cut the message anywhere */
    ret = vmctl_qmp_command_sync(f->qmp, "x-blob", NULL, 0, &err);
    g_assert_no_error(err);
    const char *blob = json_object_get_string(json_object_object_get(ret, "blob"));
    g_assert_cmpuint(strlen(blob), ==, size);
    for (gsize i = 0; i < size; i += 4099)
        g_assert_cmpint(blob[i], ==, 'a' + i % 26);
    g_assert_cmpint(blob[size - 1], ==, 'a' + (size - 1) % 26);

    /* and the connection goes on */
    g_clear_pointer(&ret, json_object_put);
    f->peer.chunk_size = 0;
    ret = vmctl_qmp_command_sync(f->qmp, "query-status", NULL, 0, &err);
    g_assert_no_error(err);
    check_status_running(ret);
}

static void test_too_large(Fixture *f, gconstpointer data)
{
    const gsize limit = 64 * 1024; /* bytes */
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) ret = NULL;
    GString *line = g_string_new("{\"return\": {\"blob\": \"");
    Disc d = { 0 };

    /* a reply of exactly the limit passes */
    while (line->len < limit - strlen("\"}, \"id\": \"vmctl-6\"}"))
        g_string_append_c(line, 'x');
    g_string_append(line, "\"}, \"id\": \"ID\"}");
    peer_script(&f->peer, "x-blob", line->str);
    peer_script(&f->peer, "x-bigger", "{\"return\": {\"blob\": \"");
    g_string_free(line, TRUE);

    vmctl_qmp_set_max_message(f->qmp, limit);
    connect_ok(f);
    vmctl_qmp_on_disconnect(f->qmp, on_disconnect, &d);
    ret = vmctl_qmp_command_sync(f->qmp, "x-blob", NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(strlen(json_object_get_string(json_object_object_get(ret, "blob"))), ==,
                     limit - strlen("{\"return\": {\"blob\": \"\"}, \"id\": \"vmctl-6\"}"));

    /* one that never ends: refused once past the limit */
    f->peer.hold = true;
    vmctl_qmp_command(f->qmp, "x-bigger", NULL, 0, NULL, NULL);
    {
        g_autofree char *endless = g_strnfill(4 * limit, 'y');
        peer_send_raw(&f->peer, "{\"return\": \"", 12);
        peer_send_raw(&f->peer, endless, strlen(endless));
    }
    while (d.calls == 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(d.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_PROTOCOL);
    g_test_message("%s", d.error->message);
    g_assert_nonnull(strstr(d.error->message, ": message longer than 65536 bytes: 'yyy"));
    g_clear_error(&d.error);
}

static void on_event_remove_self(VmctlQmp *qmp, const char *name, json_object *data, gint64 ts, gpointer user)
{
    guint *id = user;

    g_assert_true(vmctl_qmp_remove_handler(qmp, *id));
    *id = 0;
}

static void test_events(Fixture *f, gconstpointer data)
{
    Events stop = { g_ptr_array_new_with_free_func(g_free) };
    Events resume = { g_ptr_array_new_with_free_func(g_free) };
    Events all = { g_ptr_array_new_with_free_func(g_free) };
    Events shutdown = { g_ptr_array_new_with_free_func(g_free) };
    Reply r = { 0 };
    g_autofree char *s1 = NULL, *s2 = NULL;
    guint stop_id, self_id;

    connect_ok(f);
    stop_id = vmctl_qmp_on_event(f->qmp, "STOP", on_event, &stop);
    vmctl_qmp_on_event(f->qmp, "RESUME", on_event, &resume);
    vmctl_qmp_on_event(f->qmp, NULL, on_event, &all);
    vmctl_qmp_on_event(f->qmp, "SHUTDOWN", on_event, &shutdown);
    self_id = vmctl_qmp_on_event(f->qmp, "STOP", on_event_remove_self, &self_id);

    /* the recorded STOP comes before the reply to stop */
    vmctl_qmp_command(f->qmp, "stop", NULL, 0, on_reply, &r);
    wait_reply(&r);
    g_assert_no_error(r.error);
    g_assert_cmpuint(stop.names->len, ==, 1);
    g_assert_cmpint(stop.order, <, r.order);
    g_assert_cmpint(stop.last_ts, ==, G_GINT64_CONSTANT(1795644542) * G_USEC_PER_SEC + 555389);
    g_assert_cmpuint(self_id, ==, 0);
    reply_clear(&r);

    vmctl_qmp_command(f->qmp, "cont", NULL, 0, on_reply, &r);
    wait_reply(&r);
    reply_clear(&r);
    g_assert_cmpuint(resume.names->len, ==, 1);
    g_assert_cmpuint(stop.names->len, ==, 1);

    /* a removed handler is not called again; the catch-all still is */
    g_assert_true(vmctl_qmp_remove_handler(f->qmp, stop_id));
    g_assert_false(vmctl_qmp_remove_handler(f->qmp, stop_id));
    vmctl_qmp_command(f->qmp, "stop", NULL, 0, on_reply, &r);
    wait_reply(&r);
    reply_clear(&r);
    g_assert_cmpuint(stop.names->len, ==, 1);
    s1 = joined(all.names);
    g_assert_cmpstr(s1, ==, "STOP,RESUME,STOP");

    /* data of an event */
    vmctl_qmp_command(f->qmp, "quit", NULL, 0, on_reply, &r);
    wait_reply(&r);
    reply_clear(&r);
    s2 = joined(shutdown.names);
    g_assert_cmpstr(s2, ==, "SHUTDOWN");
    g_assert_cmpstr(shutdown.last_data, ==, "{\"guest\":false,\"reason\":\"host-qmp-quit\"}");

    Events *all_ev[] = { &stop, &resume, &all, &shutdown };
    for (guint i = 0; i < G_N_ELEMENTS(all_ev); i++) {
        g_ptr_array_unref(all_ev[i]->names);
        g_free(all_ev[i]->last_data);
    }
}

static void test_error_reply(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    json_object *ret;
    json_object *args = json_object_new_object();

    connect_ok(f);
    ret = vmctl_qmp_command_sync(f->qmp, "no-such-command", NULL, 0, &err);
    g_assert_null(ret);
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpstr(err->message, ==,
                    "QMP command 'no-such-command' failed: The command no-such-command has not been found "
                    "(CommandNotFound)");
    g_clear_error(&err);

    json_object_object_add(args, "max-bandwidth", json_object_new_string("x"));
    ret = vmctl_qmp_command_sync(f->qmp, "migrate-set-parameters", args, 0, &err);
    g_assert_null(ret);
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_COMMAND);
    g_assert_cmpstr(err->message, ==,
                    "QMP command 'migrate-set-parameters' failed: Parameter 'max-bandwidth' expects uint64 "
                    "(GenericError)");
    /* the arguments went out as given */
    json_object *sent = json_object_object_get(f->peer.received->pdata[f->peer.received->len - 1], "arguments");
    g_assert_cmpstr(json_object_to_json_string_ext(sent, JSON_C_TO_STRING_PLAIN), ==, "{\"max-bandwidth\":\"x\"}");
}

static void test_timeout(Fixture *f, gconstpointer data)
{
    Reply r = { 0 };
    Reply later = { 0 };
    g_autofree char *line = NULL;

    connect_ok(f);
    f->peer.hold = true;
    vmctl_qmp_command(f->qmp, "query-status", NULL, 50, on_reply, &r);
    wait_reply(&r);
    g_assert_error(r.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_TIMEOUT);
    g_assert_cmpstr(r.error->message, ==, "QMP command 'query-status' got no reply within 50 ms");

    /* the late reply is ignored, the connection stays usable */
    line = g_strdup_printf("{\"return\": {\"status\": \"late\"}, \"id\": \"%s\"}",
                           json_object_get_string(json_object_object_get(f->peer.received->pdata[5], "id")));
    peer_send_line(&f->peer, line);
    peer_send_line(&f->peer, "{\"return\": {}, \"id\": \"vmctl-999\"}");
    peer_send_line(&f->peer, "{\"return\": {}, \"id\": 7}");
    peer_send_line(&f->peer, "{\"return\": {}}");
    peer_flush(&f->peer);
    f->peer.hold = false;
    vmctl_qmp_command(f->qmp, "query-status", NULL, 0, on_reply, &later);
    wait_reply(&later);
    check_status_running(later.ret);
    g_assert_cmpint(r.calls, ==, 1);
    g_assert_true(vmctl_qmp_is_ready(f->qmp));
    reply_clear(&r);
    reply_clear(&later);
}

static void test_dead_peer(Fixture *f, gconstpointer data)
{
    Reply r[2] = { 0 };
    Reply after = { 0 };
    Disc d = { 0 };

    connect_ok(f);
    vmctl_qmp_on_disconnect(f->qmp, on_disconnect, &d);
    f->peer.hold = true;
    vmctl_qmp_command(f->qmp, "query-status", NULL, 0, on_reply, &r[0]);
    vmctl_qmp_command(f->qmp, "stop", NULL, 60000, on_reply, &r[1]);
    while (f->peer.received->len < 7)
        g_main_context_iteration(NULL, TRUE);
    peer_close(&f->peer);
    while (d.calls == 0)
        g_main_context_iteration(NULL, TRUE);

    g_assert_cmpint(d.calls, ==, 1);
    g_assert_error(d.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED);
    g_assert_true(g_str_has_prefix(d.error->message, "QMP connection to fd "));
    g_assert_true(g_str_has_suffix(d.error->message, " was closed by QEMU"));
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(r[i].calls, ==, 1);
        g_assert_error(r[i].error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED);
    }
    g_assert_true(g_str_has_prefix(r[0].error->message, "QMP command 'query-status' got no reply: QMP connection to fd "));
    g_assert_true(g_str_has_prefix(r[1].error->message, "QMP command 'stop' got no reply: "));
    g_assert_cmpint(r[0].order, <, r[1].order);
    g_assert_cmpint(r[1].order, <, call_counter + 1);
    g_assert_false(vmctl_qmp_is_ready(f->qmp));

    /* afterwards: refused, from the main loop, and no second disconnect */
    vmctl_qmp_command(f->qmp, "query-status", NULL, 0, on_reply, &after);
    g_assert_cmpint(after.calls, ==, 0);
    wait_reply(&after);
    g_assert_error(after.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_NOT_READY);
    g_assert_cmpstr(after.error->message, ==,
                    "QMP command 'query-status' cannot be sent: the QMP connection is not ready");
    g_assert_cmpint(d.calls, ==, 1);
    reply_clear(&r[0]);
    reply_clear(&r[1]);
    reply_clear(&after);
    g_clear_error(&d.error);
}

static void test_garbage(Fixture *f, gconstpointer data)
{
    const char *garbage = data;
    Reply r = { 0 };
    Disc d = { 0 };

    g_test_message("garbage: %s", garbage);
    connect_ok(f);
    vmctl_qmp_on_disconnect(f->qmp, on_disconnect, &d);
    f->peer.hold = true;
    vmctl_qmp_command(f->qmp, "query-status", NULL, 0, on_reply, &r);
    while (f->peer.received->len < 6)
        g_main_context_iteration(NULL, TRUE);
    peer_send_raw(&f->peer, garbage, strlen(garbage) + (garbage[0] == 0 ? 4 : 0));
    while (d.calls == 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpint(d.calls, ==, 1);
    g_assert_error(d.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_PROTOCOL);
    g_assert_true(g_str_has_prefix(d.error->message, "QMP protocol error from fd "));
    g_assert_cmpint(r.calls, ==, 1);
    g_assert_error(r.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED);
    g_assert_nonnull(strstr(r.error->message, "QMP protocol error from fd "));
    g_assert_false(vmctl_qmp_is_ready(f->qmp));
    /* the client closed its end: the peer sees EOF */
    char c;
    g_socket_set_blocking(f->peer.sock, TRUE);
    g_assert_cmpint(g_socket_receive(f->peer.sock, &c, 1, NULL, NULL), ==, 0);
    reply_clear(&r);
    g_clear_error(&d.error);
}

static void test_garbage_messages(void)
{
    /* the error text for each kind of garbage, checked through a fixture */
    static const struct {
        const char *bytes;
        const char *what;
    } cases[] = {
        { "{\"return\": }\r\n", "invalid JSON (" },
        { "hello\r\n", "invalid JSON (" },
        { "[1, 2]\r\n", "message is not a JSON object: '[1,2]'" },
        { "42 ", "message is not a JSON object: '42'" },
        { "null\r\n", "message is not a JSON object: 'null'" },
        { "{\"foo\": 1}\r\n", "message is neither a reply nor an event: '{\"foo\":1}'" },
        { "{\"event\": 5}\r\n", "event without a name" },
        { "{\"QMP\": {}}\r\n", "unexpected second greeting" },
        { "}}}}", "invalid JSON (" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        Fixture f = { 0 };
        Disc d = { 0 };

        fixture_setup(&f, NULL);
        connect_ok(&f);
        vmctl_qmp_on_disconnect(f.qmp, on_disconnect, &d);
        peer_send_raw(&f.peer, cases[i].bytes, strlen(cases[i].bytes));
        while (d.calls == 0)
            g_main_context_iteration(NULL, TRUE);
        g_assert_error(d.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_PROTOCOL);
        g_test_message("%s -> %s", cases[i].bytes, d.error->message);
        g_assert_nonnull(strstr(d.error->message, cases[i].what));
        g_clear_error(&d.error);
        fixture_teardown(&f, NULL);
    }
}

static void test_garbage_handshake(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    /* an event where the greeting belongs */
    peer_send_line(&f->peer, "{\"event\": \"STOP\"}");
    g_assert_false(vmctl_qmp_connect_fd_sync(f->qmp, f->client_fd, HANDSHAKE_MS, &err));
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_PROTOCOL);
    g_assert_true(g_str_has_suffix(err->message, ": expected the QMP greeting: '{\"event\":\"STOP\"}'"));
    g_assert_false(vmctl_qmp_is_ready(f->qmp));
}

static void test_connect_errors(void)
{
    g_autoptr(VmctlQmp) qmp = vmctl_qmp_new(NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *long_path = g_strnfill(120, 'x');

    g_assert_false(vmctl_qmp_connect_sync(qmp, "/nonexistent/vmctl/qmp.sock", 0, &err));
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_CONNECT);
    g_assert_cmpstr(err->message, ==,
                    "cannot connect to QMP socket '/nonexistent/vmctl/qmp.sock': No such file or directory");
    g_clear_error(&err);

    g_assert_false(vmctl_qmp_connect_sync(qmp, long_path, 0, &err));
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_CONNECT);
    g_assert_true(g_str_has_suffix(err->message, "x' is longer than 107 bytes"));
}

static void test_handshake_timeout(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    /* no greeting at all */
    g_assert_false(vmctl_qmp_connect_fd_sync(f->qmp, f->client_fd, 50, &err));
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_TIMEOUT);
    g_assert_true(g_str_has_suffix(err->message, " did not finish within 50 ms"));
    g_assert_true(g_str_has_prefix(err->message, "QMP handshake with fd "));
}

static void test_handshake_errors(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    peer_script(&f->peer, "qmp_capabilities",
                "{\"id\": \"x\", \"error\": {\"class\": \"GenericError\", \"desc\": \"Capabilities negotiation is "
                "already complete\"}}");
    peer_send_line(&f->peer, f->peer.greeting);
    g_assert_false(vmctl_qmp_connect_fd_sync(f->qmp, f->client_fd, HANDSHAKE_MS, &err));
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_COMMAND);
    g_assert_cmpstr(err->message, ==,
                    "QMP command 'qmp_capabilities' failed: Capabilities negotiation is already complete "
                    "(GenericError)");
}

static void test_discovery_error(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    g_hash_table_remove(f->peer.script, "query-kvm");
    peer_send_line(&f->peer, f->peer.greeting);
    g_assert_false(vmctl_qmp_connect_fd_sync(f->qmp, f->client_fd, HANDSHAKE_MS, &err));
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpstr(err->message, ==,
                    "QMP command 'query-kvm' failed: The command query-kvm has not been found (CommandNotFound)");
    g_assert_false(vmctl_qmp_is_ready(f->qmp));
}

static void test_dead_peer_handshake(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *expected = NULL;
    Disc d = { 0 };
    Disc connected = { 0 };

    vmctl_qmp_on_disconnect(f->qmp, on_disconnect, &d);
    f->peer.hold = true;
    peer_send_line(&f->peer, f->peer.greeting);
    vmctl_qmp_connect_fd_async(f->qmp, f->client_fd, HANDSHAKE_MS, (VmctlQmpConnectFunc)on_disconnect, &connected);
    while (f->peer.received->len < 1)
        g_main_context_iteration(NULL, TRUE);
    peer_close(&f->peer);
    while (connected.calls == 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(connected.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED);
    g_assert_true(g_str_has_suffix(connected.error->message, " was closed by QEMU"));
    g_clear_error(&connected.error);
    g_assert_false(vmctl_qmp_is_ready(f->qmp));
    /* the handshake never finished: no disconnect handler */
    g_assert_cmpint(d.calls, ==, 0);

    /* a connect on a client that is connecting is refused */
    g_autoptr(VmctlQmp) other = vmctl_qmp_new(NULL);
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    vmctl_qmp_connect_fd_async(other, sv[0], 0, NULL, NULL);
    g_assert_false(vmctl_qmp_connect_fd_sync(other, sv[1], 0, &err));
    g_assert_error(err, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_NOT_READY);
    expected = g_strdup_printf("cannot connect to fd %d: the QMP client is already connected", sv[1]);
    g_assert_cmpstr(err->message, ==, expected);
    close(sv[1]);
}

static void test_not_ready(void)
{
    g_autoptr(VmctlQmp) qmp = vmctl_qmp_new(NULL);
    Reply r = { 0 };

    vmctl_qmp_command(qmp, "query-status", json_object_new_object(), 0, on_reply, &r);
    g_assert_cmpint(r.calls, ==, 0); /* never from inside the call */
    wait_reply(&r);
    g_assert_error(r.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_NOT_READY);
    g_assert_false(vmctl_qmp_has_command(qmp, "query-status"));
    g_assert_false(vmctl_qmp_version(qmp, NULL, NULL, NULL));
    g_assert_false(vmctl_qmp_schema_has(qmp, "query-status"));
    g_assert_null(vmctl_qmp_migrate_capabilities(qmp)[0]);
    reply_clear(&r);
}

static void on_reply_close(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data)
{
    on_reply(qmp, ret, error, data);
    vmctl_qmp_close(qmp);
}

static void on_reply_unref(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data)
{
    Fixture *f = data;

    g_clear_pointer(&f->qmp, vmctl_qmp_unref);
}

static void test_reentrancy(Fixture *f, gconstpointer data)
{
    Reply first = { 0 }, second = { 0 }, third = { 0 };
    Disc d = { 0 };

    connect_ok(f);
    vmctl_qmp_on_disconnect(f->qmp, on_disconnect, &d);
    /* closing from a reply callback fails the other pending commands */
    f->peer.hold = true;
    vmctl_qmp_command(f->qmp, "query-status", NULL, 0, on_reply_close, &first);
    vmctl_qmp_command(f->qmp, "query-kvm", NULL, 0, on_reply, &second);
    while (f->peer.received->len < 7)
        g_main_context_iteration(NULL, TRUE);
    peer_answer(&f->peer, f->peer.received->pdata[5]);
    wait_reply(&second);
    g_assert_cmpint(first.calls, ==, 1);
    g_assert_no_error(first.error);
    g_assert_error(second.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED);
    g_assert_true(g_str_has_suffix(second.error->message, "was closed"));
    g_assert_cmpint(d.calls, ==, 0); /* closed by us: no disconnect handler */
    reply_clear(&first);
    reply_clear(&second);

    /* dropping the last reference fails what is pending, callbacks included */
    g_autoptr(VmctlQmp) q2 = vmctl_qmp_new(NULL);
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    vmctl_qmp_set_discovery(q2, false);
    g_assert_cmpint(write(sv[1], "{\"QMP\": {}}\n", 12), ==, 12);
    vmctl_qmp_connect_fd_async(q2, sv[0], 0, NULL, NULL);
    while (!vmctl_qmp_is_ready(q2)) {
        char buf[256];
        g_main_context_iteration(NULL, TRUE);
        ssize_t n = recv(sv[1], buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n > 0) {
            g_assert_nonnull(g_strstr_len(buf, n, "vmctl-1"));
            g_assert_cmpint(write(sv[1], "{\"return\": {}, \"id\": \"vmctl-1\"}", 31), ==, 31);
        }
    }
    vmctl_qmp_command(q2, "query-status", NULL, 0, on_reply, &third);
    g_clear_pointer(&q2, vmctl_qmp_unref);
    g_assert_cmpint(third.calls, ==, 1);
    g_assert_error(third.error, VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED);
    reply_clear(&third);
    close(sv[1]);

    /* dropping the last reference from a callback */
    vmctl_qmp_unref(f->qmp);
    f->qmp = vmctl_qmp_new(NULL);
    /* (reuse the fixture's object for the next part) */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    vmctl_qmp_set_discovery(f->qmp, false);
    g_assert_cmpint(write(sv[1], "{\"QMP\": {}}\n{\"return\": {}, \"id\": \"vmctl-1\"}", 43), ==, 43);
    g_autoptr(GError) err = NULL;
    g_assert_true(vmctl_qmp_connect_fd_sync(f->qmp, sv[0], HANDSHAKE_MS, &err));
    vmctl_qmp_command(f->qmp, "query-status", NULL, 0, on_reply_unref, f);
    g_assert_cmpint(write(sv[1], "{\"return\": {}, \"id\": \"vmctl-2\"}", 31), ==, 31);
    while (f->qmp)
        g_main_context_iteration(NULL, TRUE);
    close(sv[1]);
}

static void test_schema(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    VmctlQmp *q;

    connect_ok(f);
    q = f->qmp;
    g_assert_false(vmctl_qmp_schema_loaded(q));
    g_assert_false(vmctl_qmp_command_has_arg(q, "calc-dirty-rate", "mode"));
    g_assert_true(vmctl_qmp_load_schema_sync(q, 0, &err));
    g_assert_no_error(err);
    g_assert_true(vmctl_qmp_schema_loaded(q));

    g_assert_true(vmctl_qmp_has_command(q, "calc-dirty-rate"));
    g_assert_false(vmctl_qmp_has_command(q, "STOP")); /* an event */
    g_assert_false(vmctl_qmp_has_command(q, "no-such-command"));
    g_assert_true(vmctl_qmp_command_has_arg(q, "calc-dirty-rate", "mode"));
    g_assert_true(vmctl_qmp_command_has_arg(q, "calc-dirty-rate", "calc-time"));
    g_assert_false(vmctl_qmp_command_has_arg(q, "calc-dirty-rate", "no-such-arg"));
    g_assert_true(vmctl_qmp_command_has_arg(q, "migrate-set-parameters", "max-bandwidth"));
    g_assert_false(vmctl_qmp_command_has_arg(q, "migrate-set-parameters", "x-vcpu-dirty-limit-period")); /* 8.1+ */
    g_assert_false(vmctl_qmp_command_has_arg(q, "no-such-command", "mode"));
    /* enum values, through the array of the reply */
    g_assert_true(vmctl_qmp_schema_has(q, "query-migrate-capabilities/ret-type/capability/x-ignore-shared"));
    g_assert_false(vmctl_qmp_schema_has(q, "query-migrate-capabilities/ret-type/capability/dirty-limit"));
    g_assert_true(vmctl_qmp_type_has_member(q, "migrate-set-capabilities/arg-type/capabilities", "capability"));
    g_assert_true(vmctl_qmp_schema_has(q, "calc-dirty-rate/arg-type/mode/dirty-ring"));
    g_assert_true(vmctl_qmp_schema_has(q, "calc-dirty-rate/mode/page-sampling"));
    g_assert_false(vmctl_qmp_schema_has(q, "calc-dirty-rate/arg-type/mode/dirty-ring/more"));
    /* event data; alternates (str or null) */
    g_assert_true(vmctl_qmp_schema_has(q, "SHUTDOWN/reason/host-qmp-quit"));
    g_assert_true(vmctl_qmp_schema_has(q, "migrate-set-parameters/arg-type/tls-creds"));
    /* types by their (masked) schema name and built-ins */
    g_assert_true(vmctl_qmp_type_has_member(q, "str", "") == false);
    g_assert_true(vmctl_qmp_schema_has(q, "int"));
    g_assert_false(vmctl_qmp_schema_has(q, "no-such-thing"));
    g_assert_false(vmctl_qmp_schema_has(q, ""));
    g_assert_false(vmctl_qmp_schema_has(q, "query-status/no-such-step/x"));
}

static void test_reconnect(Fixture *f, gconstpointer data)
{
    Fixture second = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) ret = NULL;

    connect_ok(f);
    vmctl_qmp_close(f->qmp);
    g_assert_false(vmctl_qmp_is_ready(f->qmp));
    g_assert_false(vmctl_qmp_has_command(f->qmp, "no-such-command"));

    /* the same client on a new connection */
    fixture_setup(&second, "qemu-7.2-kvm.qmp");
    peer_send_line(&second.peer, second.peer.greeting);
    g_assert_true(vmctl_qmp_connect_fd_sync(f->qmp, second.client_fd, HANDSHAKE_MS, &err));
    g_assert_no_error(err);
    g_assert_true(vmctl_qmp_kvm_enabled(f->qmp)); /* discovery ran again */
    ret = vmctl_qmp_command_sync(f->qmp, "query-status", NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(json_object_get_string(json_object_object_get(ret, "status")), ==, "prelaunch");
    vmctl_qmp_close(f->qmp);
    fixture_teardown(&second, NULL);
}

static void test_schema_bad(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    peer_script(&f->peer, "query-qmp-schema", "{\"return\": {}, \"id\": \"ID\"}");
    connect_ok(f);
    g_assert_false(vmctl_qmp_load_schema_sync(f->qmp, 0, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_INVALID);
    g_assert_cmpstr(err->message, ==, "QMP schema must be a list of entries");
    g_assert_false(vmctl_qmp_schema_loaded(f->qmp));
    g_clear_error(&err);

    peer_script(&f->peer, "query-qmp-schema", "{\"return\": [{\"name\": \"x\"}], \"id\": \"ID\"}");
    g_assert_false(vmctl_qmp_load_schema_sync(f->qmp, 0, &err));
    g_assert_cmpstr(err->message, ==, "QMP schema entry 0 must have a 'name' and a 'meta-type'");
    g_assert_false(vmctl_qmp_schema_loaded(f->qmp));
    /* without a schema, commands come from query-commands */
    g_assert_true(vmctl_qmp_has_command(f->qmp, "query-status"));
    g_assert_false(vmctl_qmp_command_has_arg(f->qmp, "calc-dirty-rate", "mode"));
}

int main(int argc, char **argv)
{
    /* A client that never calls back would hang a wait loop: end the run
     * instead (a watchdog, not a timing check). */
    alarm(WATCHDOG_S);
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn, data) g_test_add(path, Fixture, data, fixture_setup, fn, fixture_teardown)
    ADD("/vmctl/qmp/greeting", test_greeting, NULL);
    ADD("/vmctl/qmp/greeting/kvm", test_greeting, "qemu-7.2-kvm.qmp");
    ADD("/vmctl/qmp/greeting/no-discovery", test_no_discovery, NULL);
    ADD("/vmctl/qmp/split/bytes", test_split_bytes, NULL);
    ADD("/vmctl/qmp/split/batch", test_split_batch, NULL);
    ADD("/vmctl/qmp/split/large", test_large, NULL);
    ADD("/vmctl/qmp/garbage/too-large", test_too_large, NULL);
    ADD("/vmctl/qmp/out-of-order", test_out_of_order, NULL);
    ADD("/vmctl/qmp/events", test_events, NULL);
    ADD("/vmctl/qmp/error-reply", test_error_reply, NULL);
    ADD("/vmctl/qmp/timeout", test_timeout, NULL);
    ADD("/vmctl/qmp/dead-peer", test_dead_peer, NULL);
    ADD("/vmctl/qmp/dead-peer/handshake", test_dead_peer_handshake, NULL);
    ADD("/vmctl/qmp/garbage", test_garbage, "{\"event\": \"STOP\"}\r\n{\"return\": [}\r\n");
    ADD("/vmctl/qmp/garbage/binary", test_garbage, "\0\xff\xfe\x01");
    g_test_add_func("/vmctl/qmp/garbage/messages", test_garbage_messages);
    ADD("/vmctl/qmp/garbage/handshake", test_garbage_handshake, NULL);
    g_test_add_func("/vmctl/qmp/connect/errors", test_connect_errors);
    ADD("/vmctl/qmp/connect/timeout", test_handshake_timeout, NULL);
    ADD("/vmctl/qmp/connect/capabilities-error", test_handshake_errors, NULL);
    ADD("/vmctl/qmp/connect/discovery-error", test_discovery_error, NULL);
    g_test_add_func("/vmctl/qmp/not-ready", test_not_ready);
    ADD("/vmctl/qmp/reentrancy", test_reentrancy, NULL);
    ADD("/vmctl/qmp/reconnect", test_reconnect, NULL);
    ADD("/vmctl/qmp/schema", test_schema, NULL);
    ADD("/vmctl/qmp/schema/bad", test_schema_bad, NULL);
    return g_test_run();
}
