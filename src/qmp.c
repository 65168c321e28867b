/* qmp.c: asynchronous QMP client (see qmp.h).
 *
 * The socket is non-blocking and watched by GSources on the client's main
 * context. Incoming bytes go through one incremental json_tokener, so a
 * message may arrive in any number of pieces and a read may hold several
 * messages. Outgoing text is queued and written when the socket accepts it.
 *
 * Invariants: every pending command sits in `pending` (keyed by its id) until
 * its callback has been called exactly once; callbacks never run from inside
 * a public call (errors found there are delivered from an idle source); once
 * the state is CLOSED no further byte is read and no callback but the
 * failures of the pending commands runs. */
#define G_LOG_DOMAIN "vmctl-qmp" /* = VMCTL_QMP_LOG_DOMAIN */
#include "config.h"

#include "qmp.h"
#include "qmp_schema.h"
#include "util.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/un.h>

#define ID_PREFIX "vmctl-"
#define READ_CHUNK (64 * 1024) /* bytes per read */
#define QUOTE_MAX 80           /* bytes of a bad message quoted in an error */

typedef enum {
    QMP_IDLE,      /* never connected, or closed and ready to connect again */
    QMP_CONNECTING, /* socket connect in progress */
    QMP_GREETING,  /* waiting for {"QMP": ...} */
    QMP_HANDSHAKE, /* qmp_capabilities and discovery in flight */
    QMP_READY,
    QMP_CLOSED,
} QmpState;

typedef struct {
    guint64 id;
    char *name;
    VmctlQmpReplyFunc cb;
    gpointer user_data;
    GSource *timeout;
    guint timeout_ms;
    VmctlQmp *qmp; /* not a reference: a pending entry never outlives the client */
} Pending;

typedef struct {
    guint id;
    char *event;                /* NULL: every event (for event handlers) */
    VmctlQmpEventFunc on_event; /* one of the two is set */
    VmctlQmpDisconnectFunc on_disconnect;
    gpointer user_data;
} Handler;

struct VmctlQmp {
    gint refcount;
    GMainContext *context;
    QmpState state;
    guint generation; /* counts connections, so a late failure hits only its own */
    char *peer; /* socket path or "fd N", for messages */

    GSocket *socket;
    GSource *in_source;
    GSource *out_source;
    GSource *connect_source;
    GSource *handshake_timeout;
    GByteArray *outbuf;
    json_tokener *tok;
    size_t msg_bytes; /* bytes fed into the current unfinished message */
    size_t max_message; /* bytes */

    guint64 next_id;
    GHashTable *pending; /* guint64 id -> Pending */

    GPtrArray *handlers;  /* Handler, owns them */
    GHashTable *by_event; /* event name -> GArray of handler ids */
    GArray *catch_all;    /* handler ids */
    GArray *disconnect;   /* handler ids */
    guint next_handler;

    VmctlQmpConnectFunc connect_cb;
    gpointer connect_data;
    guint handshake_ms;
    bool discovery;
    int discovery_left;

    /* discovery results */
    bool have_version;
    int major, minor, micro;
    char *package;
    bool kvm_enabled, kvm_present;
    GPtrArray *migrate_caps; /* NULL-terminated strings */
    GHashTable *commands;    /* name set */
    VmctlQmpSchema *schema; /* NULL until loaded */
};

G_DEFINE_QUARK(vmctl-qmp-error-quark, vmctl_qmp_error)

static void fail_connection(VmctlQmp *qmp, GError *reason);

/* ---- small helpers ------------------------------------------------------ */

static bool debug_on(void)
{
#if GLIB_CHECK_VERSION(2, 68, 0)
    return !g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
#else
    return true;
#endif
}

/* A bad message quoted in an error: at most QUOTE_MAX bytes, one line. */
static char *quote_text(const char *text)
{
    GString *s = g_string_new(NULL);

    for (const char *p = text; *p && s->len < QUOTE_MAX; p++)
        g_string_append_c(s, g_ascii_isprint(*p) ? *p : '?');
    if (strlen(text) > QUOTE_MAX)
        g_string_append(s, "...");
    return g_string_free(s, FALSE);
}

/* A message as text, for the debug log and error messages only (large
 * replies are not serialised again otherwise). */
static const char *msg_text(json_object *msg)
{
    return msg ? json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN) : "null";
}

static const char *str_member(json_object *obj, const char *key)
{
    json_object *v;

    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static json_object *member(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

typedef struct {
    VmctlQmp *qmp;
    guint generation;
    VmctlQmpReplyFunc reply_cb;
    VmctlQmpConnectFunc connect_cb;
    gpointer user_data;
    GError *error;
} Deferred;

static gboolean deferred_run(gpointer data)
{
    Deferred *d = data;

    if (d->reply_cb)
        d->reply_cb(d->qmp, NULL, d->error, d->user_data);
    else if (d->connect_cb)
        d->connect_cb(d->qmp, d->error, d->user_data);
    else if (d->generation == d->qmp->generation)
        fail_connection(d->qmp, g_steal_pointer(&d->error));
    return G_SOURCE_REMOVE;
}

static void deferred_free(gpointer data)
{
    Deferred *d = data;

    g_clear_error(&d->error);
    vmctl_qmp_unref(d->qmp);
    g_free(d);
}

/* Run one of the callbacks (or fail_connection when both are NULL) from an
 * idle source, so that no callback runs inside a public call. error is
 * stolen. */
static void defer(VmctlQmp *qmp, VmctlQmpReplyFunc reply_cb, VmctlQmpConnectFunc connect_cb, gpointer user_data,
                  GError *error)
{
    Deferred *d = g_new0(Deferred, 1);
    GSource *src = g_idle_source_new();

    d->qmp = vmctl_qmp_ref(qmp);
    d->generation = qmp->generation;
    d->reply_cb = reply_cb;
    d->connect_cb = connect_cb;
    d->user_data = user_data;
    d->error = error;
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, deferred_run, d, deferred_free);
    g_source_attach(src, qmp->context);
    g_source_unref(src);
}

static void destroy_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

/* ---- object life -------------------------------------------------------- */

static void pending_free(gpointer data)
{
    Pending *p = data;

    destroy_source(&p->timeout);
    g_free(p->name);
    g_free(p);
}

static void handler_free(gpointer data)
{
    Handler *h = data;

    g_free(h->event);
    g_free(h);
}

static void reset_discovery(VmctlQmp *qmp)
{
    qmp->have_version = false;
    qmp->major = qmp->minor = qmp->micro = 0;
    g_clear_pointer(&qmp->package, g_free);
    qmp->kvm_enabled = qmp->kvm_present = false;
    g_clear_pointer(&qmp->migrate_caps, g_ptr_array_unref);
    g_clear_pointer(&qmp->commands, g_hash_table_unref);
    g_clear_pointer(&qmp->schema, vmctl_qmp_schema_free);
}

VmctlQmp *vmctl_qmp_new(GMainContext *context)
{
    VmctlQmp *qmp = g_new0(VmctlQmp, 1);

    qmp->refcount = 1;
    qmp->context = context ? g_main_context_ref(context) : g_main_context_ref_thread_default();
    qmp->state = QMP_IDLE;
    qmp->outbuf = g_byte_array_new();
    qmp->tok = json_tokener_new();
    qmp->next_id = 1;
    qmp->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, pending_free);
    qmp->handlers = g_ptr_array_new_with_free_func(handler_free);
    qmp->by_event = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
    qmp->catch_all = g_array_new(FALSE, FALSE, sizeof(guint));
    qmp->disconnect = g_array_new(FALSE, FALSE, sizeof(guint));
    qmp->next_handler = 1;
    qmp->discovery = true;
    qmp->max_message = VMCTL_QMP_MAX_MESSAGE;
    return qmp;
}

VmctlQmp *vmctl_qmp_ref(VmctlQmp *qmp)
{
    g_atomic_int_inc(&qmp->refcount);
    return qmp;
}

void vmctl_qmp_unref(VmctlQmp *qmp)
{
    if (!qmp || !g_atomic_int_dec_and_test(&qmp->refcount))
        return;
    /* Callbacks of pending commands still run; they must not take a new
     * reference (the object is going away). */
    qmp->refcount = 1;
    vmctl_qmp_close(qmp);
    qmp->refcount = 0;
    g_hash_table_unref(qmp->pending);
    g_ptr_array_unref(qmp->handlers);
    g_hash_table_unref(qmp->by_event);
    g_array_unref(qmp->catch_all);
    g_array_unref(qmp->disconnect);
    g_byte_array_unref(qmp->outbuf);
    json_tokener_free(qmp->tok);
    reset_discovery(qmp);
    g_free(qmp->peer);
    g_main_context_unref(qmp->context);
    g_free(qmp);
}

void vmctl_qmp_set_discovery(VmctlQmp *qmp, bool enabled)
{
    qmp->discovery = enabled;
}

void vmctl_qmp_set_max_message(VmctlQmp *qmp, size_t bytes)
{
    qmp->max_message = bytes ? bytes : VMCTL_QMP_MAX_MESSAGE;
}

bool vmctl_qmp_is_ready(VmctlQmp *qmp)
{
    return qmp->state == QMP_READY;
}

/* ---- tearing down -------------------------------------------------------- */

static gint compare_pending(gconstpointer a, gconstpointer b)
{
    const Pending *pa = *(Pending *const *)a, *pb = *(Pending *const *)b;

    return pa->id < pb->id ? -1 : pa->id > pb->id;
}

/* Fail every pending command with `reason`, oldest first. */
static void fail_pending(VmctlQmp *qmp, const GError *reason)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(pending_free);
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, qmp->pending);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        g_ptr_array_add(list, value);
        g_hash_table_iter_steal(&it);
    }
    g_ptr_array_sort(list, compare_pending);
    for (guint i = 0; i < list->len; i++) {
        Pending *p = list->pdata[i];
        g_autoptr(GError) err = g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED,
                                            "QMP command '%s' got no reply: %s", p->name, reason->message);

        destroy_source(&p->timeout);
        if (p->cb)
            p->cb(qmp, NULL, err, p->user_data);
    }
}

static void teardown_io(VmctlQmp *qmp)
{
    destroy_source(&qmp->in_source);
    destroy_source(&qmp->out_source);
    destroy_source(&qmp->connect_source);
    destroy_source(&qmp->handshake_timeout);
    if (qmp->socket) {
        g_socket_close(qmp->socket, NULL);
        g_clear_object(&qmp->socket);
    }
    g_byte_array_set_size(qmp->outbuf, 0);
    json_tokener_reset(qmp->tok);
    qmp->msg_bytes = 0;
}

/* The connection is over. Pending commands fail; a connect in progress
 * fails with `reason`; disconnect handlers run when the connection had been
 * ready. `reason` is stolen; NULL means closed by vmctl_qmp_close(). */
static void fail_connection(VmctlQmp *qmp, GError *reason)
{
    g_autoptr(GError) err = reason;
    g_autoptr(GArray) ids = NULL;
    VmctlQmpConnectFunc connect_cb = qmp->connect_cb;
    gpointer connect_data = qmp->connect_data;
    bool was_ready = qmp->state == QMP_READY;

    if (qmp->state == QMP_IDLE || qmp->state == QMP_CLOSED)
        return;
    vmctl_qmp_ref(qmp);
    qmp->state = QMP_CLOSED;
    qmp->connect_cb = NULL;
    qmp->connect_data = NULL;
    teardown_io(qmp);
    if (!err)
        err = g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED, "QMP connection to %s was closed", qmp->peer);
    g_debug("%s: connection ends: %s", qmp->peer, err->message);

    fail_pending(qmp, err);
    if (connect_cb)
        connect_cb(qmp, err, connect_data);
    if (was_ready && reason) {
        ids = g_array_copy(qmp->disconnect);
        for (guint i = 0; i < ids->len; i++) {
            guint id = g_array_index(ids, guint, i);
            for (guint j = 0; j < qmp->handlers->len; j++) {
                Handler *h = qmp->handlers->pdata[j];
                if (h->id == id) {
                    h->on_disconnect(qmp, err, h->user_data);
                    break;
                }
            }
        }
    }
    vmctl_qmp_unref(qmp);
}

static void protocol_error(VmctlQmp *qmp, const char *what, const char *text)
{
    g_autofree char *quoted = quote_text(text ? text : "");

    fail_connection(qmp, g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_PROTOCOL, "QMP protocol error from %s: %s: '%s'",
                                     qmp->peer, what, quoted));
}

void vmctl_qmp_close(VmctlQmp *qmp)
{
    fail_connection(qmp, NULL);
}

/* ---- writing ------------------------------------------------------------ */

static gboolean on_writable(GSocket *socket, GIOCondition cond, gpointer data);

static void flush_output(VmctlQmp *qmp)
{
    while (qmp->outbuf->len > 0) {
        g_autoptr(GError) err = NULL;
        gssize n = g_socket_send(qmp->socket, (const char *)qmp->outbuf->data, qmp->outbuf->len, NULL, &err);

        if (n < 0) {
            if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
                if (!qmp->out_source) {
                    qmp->out_source = g_socket_create_source(qmp->socket, G_IO_OUT, NULL);
                    g_source_set_callback(qmp->out_source, (GSourceFunc)(void (*)(void))on_writable, qmp, NULL);
                    g_source_attach(qmp->out_source, qmp->context);
                }
                return;
            }
            /* Reported from the main loop: this may run inside a public call. */
            g_byte_array_set_size(qmp->outbuf, 0);
            defer(qmp, NULL, NULL, NULL,
                  g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED, "QMP connection to %s failed: %s",
                              qmp->peer, err->message));
            return;
        }
        g_byte_array_remove_range(qmp->outbuf, 0, n);
    }
    destroy_source(&qmp->out_source);
}

static gboolean on_writable(GSocket *socket, GIOCondition cond, gpointer data)
{
    VmctlQmp *qmp = data;

    /* flush_output() drops this source when the queue is empty; keep it
     * alive until we return. */
    GSource *self = g_source_ref(qmp->out_source);
    flush_output(qmp);
    gboolean keep = qmp->out_source == self;
    g_source_unref(self);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- commands ----------------------------------------------------------- */

static gboolean on_command_timeout(gpointer data)
{
    Pending *p = data;
    VmctlQmp *qmp = p->qmp;
    g_autoptr(GError) err = NULL;
    guint64 id = p->id;

    g_hash_table_steal(qmp->pending, &p->id);
    g_source_unref(p->timeout);
    p->timeout = NULL;
    err = g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_TIMEOUT, "QMP command '%s' got no reply within %u ms", p->name,
                      p->timeout_ms);
    g_debug("%s: command %s%" G_GUINT64_FORMAT " timed out", qmp->peer, ID_PREFIX, id);
    vmctl_qmp_ref(qmp);
    if (p->cb)
        p->cb(qmp, NULL, err, p->user_data);
    pending_free(p);
    vmctl_qmp_unref(qmp);
    return G_SOURCE_REMOVE;
}

/* Queue a command without looking at the state (the handshake uses it). */
static guint64 send_command(VmctlQmp *qmp, const char *name, json_object *args, guint timeout_ms,
                            VmctlQmpReplyFunc cb, gpointer user_data)
{
    g_autoptr(json_object) msg = json_object_new_object();
    g_autofree char *id = NULL;
    Pending *p = g_new0(Pending, 1);
    const char *text;

    p->id = qmp->next_id++;
    p->name = g_strdup(name);
    p->cb = cb;
    p->user_data = user_data;
    p->timeout_ms = timeout_ms;
    p->qmp = qmp;
    id = g_strdup_printf(ID_PREFIX "%" G_GUINT64_FORMAT, p->id);
    json_object_object_add(msg, "execute", json_object_new_string(name));
    if (args)
        json_object_object_add(msg, "arguments", args);
    json_object_object_add(msg, "id", json_object_new_string(id));
    text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (debug_on())
        g_debug("%s: send %s", qmp->peer, text);
    g_byte_array_append(qmp->outbuf, (const guint8 *)text, strlen(text));
    g_byte_array_append(qmp->outbuf, (const guint8 *)"\r\n", 2);

    if (timeout_ms > 0) {
        p->timeout = g_timeout_source_new(timeout_ms);
        g_source_set_callback(p->timeout, on_command_timeout, p, NULL);
        g_source_attach(p->timeout, qmp->context);
    }
    g_hash_table_insert(qmp->pending, &p->id, p);
    flush_output(qmp);
    return p->id;
}

guint64 vmctl_qmp_command(VmctlQmp *qmp, const char *name, json_object *args, guint timeout_ms, VmctlQmpReplyFunc cb,
                          gpointer user_data)
{
    g_return_val_if_fail(qmp && name, 0);
    g_return_val_if_fail(!args || json_object_is_type(args, json_type_object), 0);

    if (qmp->state != QMP_READY) {
        guint64 id = qmp->next_id++;

        json_object_put(args);
        if (cb)
            defer(qmp, cb, NULL, user_data,
                  g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_NOT_READY,
                              "QMP command '%s' cannot be sent: the QMP connection is not ready", name));
        return id;
    }
    return send_command(qmp, name, args, timeout_ms, cb, user_data);
}

typedef struct {
    bool done;
    json_object *ret;
    GError *error;
} SyncWait;

static void sync_reply(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data)
{
    SyncWait *w = data;

    w->done = true;
    if (error)
        w->error = g_error_copy(error);
    else
        w->ret = json_object_get(ret);
}

json_object *vmctl_qmp_command_sync(VmctlQmp *qmp, const char *name, json_object *args, guint timeout_ms, GError **error)
{
    g_autoptr(VmctlQmp) hold G_GNUC_UNUSED = vmctl_qmp_ref(qmp);
    SyncWait w = { 0 };

    vmctl_qmp_command(qmp, name, args, timeout_ms, sync_reply, &w);
    while (!w.done)
        g_main_context_iteration(qmp->context, TRUE);
    if (w.error) {
        g_propagate_error(error, w.error);
        return NULL;
    }
    return w.ret;
}

/* ---- incoming messages -------------------------------------------------- */

static void dispatch_reply(VmctlQmp *qmp, json_object *msg)
{
    const char *id = str_member(msg, "id");
    guint64 num = 0;
    Pending *p;
    json_object *err_obj = member(msg, "error");
    g_autoptr(GError) err = NULL;

    if (!id || !g_str_has_prefix(id, ID_PREFIX) ||
        !g_ascii_string_to_unsigned(id + strlen(ID_PREFIX), 10, 1, G_MAXUINT64, &num, NULL) ||
        !(p = g_hash_table_lookup(qmp->pending, &num))) {
        /* A reply to a command that timed out, or an error QEMU could not
         * tie to a command: nobody waits for it. */
        g_debug("%s: reply with unknown id ignored", qmp->peer);
        return;
    }
    g_hash_table_steal(qmp->pending, &num);
    if (err_obj) {
        const char *cls = str_member(err_obj, "class");
        const char *desc = str_member(err_obj, "desc");
        err = g_error_new(VMCTL_QMP_ERROR,
                          g_strcmp0(cls, "CommandNotFound") == 0 ? VMCTL_QMP_ERROR_COMMAND_NOT_FOUND
                                                                 : VMCTL_QMP_ERROR_COMMAND,
                          "QMP command '%s' failed: %s (%s)", p->name, desc ? desc : "no description",
                          cls ? cls : "no class");
    }
    destroy_source(&p->timeout);
    if (p->cb)
        p->cb(qmp, err ? NULL : member(msg, "return"), err, p->user_data);
    pending_free(p);
}

static Handler *find_handler(VmctlQmp *qmp, guint id)
{
    for (guint i = 0; i < qmp->handlers->len; i++) {
        Handler *h = qmp->handlers->pdata[i];
        if (h->id == id)
            return h;
    }
    return NULL;
}

/* Call the handlers listed in ids (a copy: handlers may come and go while
 * they run; a removed one is not called). */
static void call_event_handlers(VmctlQmp *qmp, GArray *list, const char *name, json_object *data, gint64 ts)
{
    g_autoptr(GArray) ids = NULL;

    if (!list || list->len == 0)
        return;
    ids = g_array_copy(list);
    for (guint i = 0; i < ids->len && qmp->state != QMP_CLOSED; i++) {
        Handler *h = find_handler(qmp, g_array_index(ids, guint, i));
        if (h)
            h->on_event(qmp, name, data, ts, h->user_data);
    }
}

static void dispatch_event(VmctlQmp *qmp, json_object *msg)
{
    const char *name = str_member(msg, "event");
    json_object *ts = member(msg, "timestamp");
    json_object *sec = member(ts, "seconds"), *usec = member(ts, "microseconds");
    gint64 when = -1;

    if (!name) {
        protocol_error(qmp, "event without a name", msg_text(msg));
        return;
    }
    if (sec && usec) {
        gint64 s = json_object_get_int64(sec), us = json_object_get_int64(usec);

        /* a timestamp QEMU could not have sent stays "unknown" (-1) rather
         * than overflowing */
        if (s >= 0 && s < G_MAXINT64 / G_USEC_PER_SEC - 1 && us >= 0 && us < G_USEC_PER_SEC)
            when = s * G_USEC_PER_SEC + us;
    }
    call_event_handlers(qmp, g_hash_table_lookup(qmp->by_event, name), name, member(msg, "data"), when);
    call_event_handlers(qmp, qmp->catch_all, name, member(msg, "data"), when);
}

static void on_capabilities(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data);

static void handle_greeting(VmctlQmp *qmp, json_object *msg)
{
    json_object *qemu = member(member(member(msg, "QMP"), "version"), "qemu");

    if (!member(msg, "QMP")) {
        protocol_error(qmp, "expected the QMP greeting", msg_text(msg));
        return;
    }
    if (qemu) {
        qmp->major = json_object_get_int(member(qemu, "major"));
        qmp->minor = json_object_get_int(member(qemu, "minor"));
        qmp->micro = json_object_get_int(member(qemu, "micro"));
        qmp->have_version = true;
    }
    qmp->state = QMP_HANDSHAKE;
    send_command(qmp, "qmp_capabilities", NULL, 0, on_capabilities, NULL);
}

/* Takes the message. */
static void handle_message(VmctlQmp *qmp, json_object *msg)
{
    g_autoptr(json_object) hold G_GNUC_UNUSED = msg;

    if (debug_on())
        g_debug("%s: recv %s", qmp->peer, msg_text(msg));
    if (!msg || !json_object_is_type(msg, json_type_object)) {
        protocol_error(qmp, "message is not a JSON object", msg_text(msg));
        return;
    }
    if (qmp->state == QMP_GREETING)
        handle_greeting(qmp, msg);
    else if (member(msg, "QMP"))
        protocol_error(qmp, "unexpected second greeting", msg_text(msg));
    else if (member(msg, "event"))
        dispatch_event(qmp, msg);
    else if (member(msg, "return") || member(msg, "error"))
        dispatch_reply(qmp, msg);
    else
        protocol_error(qmp, "message is neither a reply nor an event", msg_text(msg));
}

static void feed(VmctlQmp *qmp, const char *buf, size_t len)
{
    while (len > 0 && qmp->state != QMP_CLOSED) {
        json_object *obj = json_tokener_parse_ex(qmp->tok, buf, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(qmp->tok);

        if (jerr == json_tokener_continue) {
            qmp->msg_bytes += len;
            if (qmp->msg_bytes > qmp->max_message) {
                g_autofree char *what = g_strdup_printf("message longer than %zu bytes", qmp->max_message);
                g_autofree char *piece = g_strndup(buf, MIN(len, QUOTE_MAX + 1));
                protocol_error(qmp, what, piece);
            }
            return;
        }
        if (jerr != json_tokener_success) {
            g_autofree char *what = g_strdup_printf("invalid JSON (%s)", json_tokener_error_desc(jerr));
            g_autofree char *rest = g_strndup(buf, MIN(len, QUOTE_MAX + 1));
            protocol_error(qmp, what, rest);
            return;
        }
        size_t used = json_tokener_get_parse_end(qmp->tok);
        buf += used;
        len -= used;
        qmp->msg_bytes = 0;
        handle_message(qmp, obj);
    }
}

static gboolean on_readable(GSocket *socket, GIOCondition cond, gpointer data)
{
    VmctlQmp *qmp = data;
    g_autoptr(VmctlQmp) hold G_GNUC_UNUSED = vmctl_qmp_ref(qmp);
    g_autoptr(GError) err = NULL;
    g_autofree char *buf = g_malloc(READ_CHUNK);
    gssize n = g_socket_receive(socket, buf, READ_CHUNK, NULL, &err);

    /* QEMU closes the socket with input unread after 'quit': a reset is
     * an end of the connection like EOF. */
    if (n == 0 || g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)) {
        fail_connection(qmp, g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED,
                                         "QMP connection to %s was closed by QEMU", qmp->peer));
        return G_SOURCE_REMOVE;
    }
    if (n < 0) {
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
        fail_connection(qmp, g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_DISCONNECTED,
                                         "QMP connection to %s failed: %s", qmp->peer, err->message));
        return G_SOURCE_REMOVE;
    }
    feed(qmp, buf, n);
    return qmp->state == QMP_CLOSED ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* ---- connecting and discovery ------------------------------------------- */

static void become_ready(VmctlQmp *qmp)
{
    VmctlQmpConnectFunc cb = qmp->connect_cb;
    gpointer data = qmp->connect_data;

    qmp->state = QMP_READY;
    qmp->connect_cb = NULL;
    qmp->connect_data = NULL;
    destroy_source(&qmp->handshake_timeout);
    g_debug("%s: ready (QEMU %d.%d.%d)", qmp->peer, qmp->major, qmp->minor, qmp->micro);
    if (cb)
        cb(qmp, NULL, data);
}

typedef enum { DISC_VERSION, DISC_KVM, DISC_MIGRATE_CAPS, DISC_COMMANDS } DiscoveryStep;

static void parse_discovery(VmctlQmp *qmp, DiscoveryStep step, json_object *ret)
{
    json_object *qemu = member(ret, "qemu");
    size_t n = json_object_is_type(ret, json_type_array) ? json_object_array_length(ret) : 0;

    switch (step) {
    case DISC_VERSION:
        if (qemu) {
            qmp->major = json_object_get_int(member(qemu, "major"));
            qmp->minor = json_object_get_int(member(qemu, "minor"));
            qmp->micro = json_object_get_int(member(qemu, "micro"));
            qmp->have_version = true;
        }
        g_free(qmp->package);
        qmp->package = g_strdup(str_member(ret, "package"));
        break;
    case DISC_KVM:
        qmp->kvm_enabled = json_object_get_boolean(member(ret, "enabled"));
        qmp->kvm_present = json_object_get_boolean(member(ret, "present"));
        break;
    case DISC_MIGRATE_CAPS:
        g_clear_pointer(&qmp->migrate_caps, g_ptr_array_unref);
        qmp->migrate_caps = g_ptr_array_new_with_free_func(g_free);
        for (size_t i = 0; i < n; i++) {
            const char *cap = str_member(json_object_array_get_idx(ret, i), "capability");
            if (cap)
                g_ptr_array_add(qmp->migrate_caps, g_strdup(cap));
        }
        g_ptr_array_add(qmp->migrate_caps, NULL);
        break;
    case DISC_COMMANDS:
        g_clear_pointer(&qmp->commands, g_hash_table_unref);
        qmp->commands = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (size_t i = 0; i < n; i++) {
            const char *name = str_member(json_object_array_get_idx(ret, i), "name");
            if (name)
                g_hash_table_add(qmp->commands, g_strdup(name));
        }
        break;
    }
}

static void on_discovery(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data)
{
    if (qmp->state != QMP_HANDSHAKE)
        return;
    if (error) {
        fail_connection(qmp, g_error_copy(error));
        return;
    }
    parse_discovery(qmp, GPOINTER_TO_INT(data), ret);
    if (--qmp->discovery_left == 0)
        become_ready(qmp);
}

static void on_capabilities(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data)
{
    static const struct {
        const char *command;
        DiscoveryStep step;
    } steps[] = {
        { "query-version", DISC_VERSION },
        { "query-kvm", DISC_KVM },
        { "query-migrate-capabilities", DISC_MIGRATE_CAPS },
        { "query-commands", DISC_COMMANDS },
    };

    if (qmp->state != QMP_HANDSHAKE)
        return;
    if (error) {
        fail_connection(qmp, g_error_copy(error));
        return;
    }
    if (!qmp->discovery) {
        become_ready(qmp);
        return;
    }
    /* All at once: the replies come back by id in any order. */
    qmp->discovery_left = G_N_ELEMENTS(steps);
    for (size_t i = 0; i < G_N_ELEMENTS(steps); i++)
        send_command(qmp, steps[i].command, NULL, 0, on_discovery, GINT_TO_POINTER(steps[i].step));
}

static gboolean on_handshake_timeout(gpointer data)
{
    VmctlQmp *qmp = data;

    g_source_unref(qmp->handshake_timeout);
    qmp->handshake_timeout = NULL;
    fail_connection(qmp, g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_TIMEOUT,
                                     "QMP handshake with %s did not finish within %u ms", qmp->peer,
                                     qmp->handshake_ms));
    return G_SOURCE_REMOVE;
}

static void start_reading(VmctlQmp *qmp)
{
    qmp->state = QMP_GREETING;
    qmp->in_source = g_socket_create_source(qmp->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback(qmp->in_source, (GSourceFunc)(void (*)(void))on_readable, qmp, NULL);
    g_source_attach(qmp->in_source, qmp->context);
}

static gboolean on_connected(GSocket *socket, GIOCondition cond, gpointer data)
{
    VmctlQmp *qmp = data;
    g_autoptr(GError) err = NULL;

    g_source_unref(qmp->connect_source);
    qmp->connect_source = NULL;
    if (!g_socket_check_connect_result(socket, &err)) {
        fail_connection(qmp, g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_CONNECT, "cannot connect to QMP socket %s: %s",
                                         qmp->peer, err->message));
        return G_SOURCE_REMOVE;
    }
    start_reading(qmp);
    return G_SOURCE_REMOVE;
}

/* Common start of both connects; false (and cb deferred) when the client is
 * busy. */
static bool begin_connect(VmctlQmp *qmp, char *peer, guint timeout_ms, VmctlQmpConnectFunc cb, gpointer user_data)
{
    if (qmp->state != QMP_IDLE && qmp->state != QMP_CLOSED) {
        defer(qmp, NULL, cb, user_data,
              g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_NOT_READY, "cannot connect to %s: the QMP client is already connected",
                          peer));
        g_free(peer);
        return false;
    }
    reset_discovery(qmp);
    g_free(qmp->peer);
    qmp->peer = peer;
    qmp->generation++;
    qmp->state = QMP_CONNECTING;
    qmp->connect_cb = cb;
    qmp->connect_data = user_data;
    qmp->handshake_ms = timeout_ms;
    if (timeout_ms > 0) {
        qmp->handshake_timeout = g_timeout_source_new(timeout_ms);
        g_source_set_callback(qmp->handshake_timeout, on_handshake_timeout, qmp, NULL);
        g_source_attach(qmp->handshake_timeout, qmp->context);
    }
    return true;
}

void vmctl_qmp_connect_async(VmctlQmp *qmp, const char *path, guint timeout_ms, VmctlQmpConnectFunc cb,
                             gpointer user_data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) addr = NULL;

    if (!begin_connect(qmp, g_strdup_printf("'%s'", path), timeout_ms, cb, user_data))
        return;
    if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        defer(qmp, NULL, NULL, NULL,
              g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_CONNECT,
                          "QMP socket path '%s' is longer than %zu bytes", path,
                          sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1));
        return;
    }
    qmp->socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &err);
    if (!qmp->socket) {
        defer(qmp, NULL, NULL, NULL,
              g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_CONNECT, "cannot connect to QMP socket '%s': %s", path,
                          err->message));
        return;
    }
    g_socket_set_blocking(qmp->socket, FALSE);
    addr = g_unix_socket_address_new(path);
    if (g_socket_connect(qmp->socket, addr, NULL, &err)) {
        start_reading(qmp);
    } else if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_PENDING)) {
        qmp->connect_source = g_socket_create_source(qmp->socket, G_IO_OUT, NULL);
        g_source_set_callback(qmp->connect_source, (GSourceFunc)(void (*)(void))on_connected, qmp, NULL);
        g_source_attach(qmp->connect_source, qmp->context);
    } else {
        defer(qmp, NULL, NULL, NULL,
              g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_CONNECT, "cannot connect to QMP socket '%s': %s", path,
                          err->message));
    }
}

void vmctl_qmp_connect_fd_async(VmctlQmp *qmp, int fd, guint timeout_ms, VmctlQmpConnectFunc cb, gpointer user_data)
{
    g_autoptr(GError) err = NULL;

    if (!begin_connect(qmp, g_strdup_printf("fd %d", fd), timeout_ms, cb, user_data))
        return;
    qmp->socket = g_socket_new_from_fd(fd, &err);
    if (!qmp->socket) {
        defer(qmp, NULL, NULL, NULL,
              g_error_new(VMCTL_QMP_ERROR, VMCTL_QMP_ERROR_CONNECT, "cannot use fd %d as a QMP socket: %s", fd,
                          err->message));
        return;
    }
    g_socket_set_blocking(qmp->socket, FALSE);
    start_reading(qmp);
}

typedef struct {
    bool done;
    GError *error;
} ConnectWait;

static void sync_done(VmctlQmp *qmp, const GError *error, gpointer data)
{
    ConnectWait *w = data;

    w->done = true;
    if (error)
        w->error = g_error_copy(error);
}

static bool wait_done(VmctlQmp *qmp, ConnectWait *w, GError **error)
{
    while (!w->done)
        g_main_context_iteration(qmp->context, TRUE);
    if (w->error) {
        g_propagate_error(error, w->error);
        return false;
    }
    return true;
}

bool vmctl_qmp_connect_sync(VmctlQmp *qmp, const char *path, guint timeout_ms, GError **error)
{
    g_autoptr(VmctlQmp) hold G_GNUC_UNUSED = vmctl_qmp_ref(qmp);
    ConnectWait w = { 0 };

    vmctl_qmp_connect_async(qmp, path, timeout_ms, sync_done, &w);
    return wait_done(qmp, &w, error);
}

bool vmctl_qmp_connect_fd_sync(VmctlQmp *qmp, int fd, guint timeout_ms, GError **error)
{
    g_autoptr(VmctlQmp) hold G_GNUC_UNUSED = vmctl_qmp_ref(qmp);
    ConnectWait w = { 0 };

    vmctl_qmp_connect_fd_async(qmp, fd, timeout_ms, sync_done, &w);
    return wait_done(qmp, &w, error);
}

/* ---- handlers ----------------------------------------------------------- */

static guint add_handler(VmctlQmp *qmp, Handler *h, GArray *list)
{
    h->id = qmp->next_handler++;
    g_ptr_array_add(qmp->handlers, h);
    g_array_append_val(list, h->id);
    return h->id;
}

guint vmctl_qmp_on_event(VmctlQmp *qmp, const char *name, VmctlQmpEventFunc cb, gpointer user_data)
{
    Handler *h = g_new0(Handler, 1);
    GArray *list = qmp->catch_all;

    h->event = g_strdup(name);
    h->on_event = cb;
    h->user_data = user_data;
    if (name) {
        list = g_hash_table_lookup(qmp->by_event, name);
        if (!list) {
            list = g_array_new(FALSE, FALSE, sizeof(guint));
            g_hash_table_insert(qmp->by_event, g_strdup(name), list);
        }
    }
    return add_handler(qmp, h, list);
}

guint vmctl_qmp_on_disconnect(VmctlQmp *qmp, VmctlQmpDisconnectFunc cb, gpointer user_data)
{
    Handler *h = g_new0(Handler, 1);

    h->on_disconnect = cb;
    h->user_data = user_data;
    return add_handler(qmp, h, qmp->disconnect);
}

static void drop_id(GArray *list, guint id)
{
    for (guint i = 0; list && i < list->len; i++) {
        if (g_array_index(list, guint, i) == id) {
            g_array_remove_index(list, i);
            return;
        }
    }
}

bool vmctl_qmp_remove_handler(VmctlQmp *qmp, guint id)
{
    Handler *h = find_handler(qmp, id);

    if (!h)
        return false;
    if (h->on_disconnect)
        drop_id(qmp->disconnect, id);
    else if (h->event)
        drop_id(g_hash_table_lookup(qmp->by_event, h->event), id);
    else
        drop_id(qmp->catch_all, id);
    g_ptr_array_remove_fast(qmp->handlers, h);
    return true;
}

/* ---- discovery results -------------------------------------------------- */

bool vmctl_qmp_version(VmctlQmp *qmp, int *major, int *minor, int *micro)
{
    if (major)
        *major = qmp->major;
    if (minor)
        *minor = qmp->minor;
    if (micro)
        *micro = qmp->micro;
    return qmp->have_version;
}

const char *vmctl_qmp_package(VmctlQmp *qmp)
{
    return qmp->package;
}

bool vmctl_qmp_kvm_enabled(VmctlQmp *qmp)
{
    return qmp->kvm_enabled;
}

bool vmctl_qmp_kvm_present(VmctlQmp *qmp)
{
    return qmp->kvm_present;
}

const char *const *vmctl_qmp_migrate_capabilities(VmctlQmp *qmp)
{
    static const char *const none[] = { NULL };

    return qmp->migrate_caps ? (const char *const *)qmp->migrate_caps->pdata : none;
}

bool vmctl_qmp_has_migrate_capability(VmctlQmp *qmp, const char *name)
{
    return g_strv_contains(vmctl_qmp_migrate_capabilities(qmp), name);
}

bool vmctl_qmp_has_command(VmctlQmp *qmp, const char *name)
{
    if (qmp->schema)
        return vmctl_qmp_schema_is_command(qmp->schema, name);
    return qmp->commands && g_hash_table_contains(qmp->commands, name);
}

json_object *vmctl_qmp_info_to_json(VmctlQmp *qmp)
{
    json_object *obj = json_object_new_object();
    json_object *ver = json_object_new_object();
    json_object *kvm = json_object_new_object();
    json_object *caps = json_object_new_array();
    const char *const *names = vmctl_qmp_migrate_capabilities(qmp);

    json_object_object_add(ver, "major", json_object_new_int(qmp->major));
    json_object_object_add(ver, "minor", json_object_new_int(qmp->minor));
    json_object_object_add(ver, "micro", json_object_new_int(qmp->micro));
    json_object_object_add(ver, "package", qmp->package ? json_object_new_string(qmp->package) : NULL);
    json_object_object_add(obj, "version", ver);
    json_object_object_add(kvm, "enabled", json_object_new_boolean(qmp->kvm_enabled));
    json_object_object_add(kvm, "present", json_object_new_boolean(qmp->kvm_present));
    json_object_object_add(obj, "kvm", kvm);
    for (size_t i = 0; names[i]; i++)
        json_object_array_add(caps, json_object_new_string(names[i]));
    json_object_object_add(obj, "migrate-capabilities", caps);
    json_object_object_add(obj, "commands",
                           json_object_new_int(qmp->commands ? (int)g_hash_table_size(qmp->commands) : 0));
    return obj;
}

/* ---- schema ------------------------------------------------------------- */

typedef struct {
    VmctlQmpConnectFunc cb;
    gpointer user_data;
} SchemaLoad;

static void on_schema(VmctlQmp *qmp, json_object *ret, const GError *error, gpointer data)
{
    g_autofree SchemaLoad *load = data;
    g_autoptr(GError) err = NULL;

    if (!error) {
        VmctlQmpSchema *schema = vmctl_qmp_schema_new(ret, &err);

        if (schema) {
            g_clear_pointer(&qmp->schema, vmctl_qmp_schema_free);
            qmp->schema = schema;
        }
    }
    if (load->cb)
        load->cb(qmp, error ? error : err, load->user_data);
}

void vmctl_qmp_load_schema_async(VmctlQmp *qmp, guint timeout_ms, VmctlQmpConnectFunc cb, gpointer user_data)
{
    SchemaLoad *load = g_new0(SchemaLoad, 1);

    load->cb = cb;
    load->user_data = user_data;
    vmctl_qmp_command(qmp, "query-qmp-schema", NULL, timeout_ms, on_schema, load);
}

bool vmctl_qmp_load_schema_sync(VmctlQmp *qmp, guint timeout_ms, GError **error)
{
    g_autoptr(VmctlQmp) hold G_GNUC_UNUSED = vmctl_qmp_ref(qmp);
    ConnectWait w = { 0 };

    vmctl_qmp_load_schema_async(qmp, timeout_ms, sync_done, &w);
    return wait_done(qmp, &w, error);
}

bool vmctl_qmp_schema_loaded(VmctlQmp *qmp)
{
    return qmp->schema != NULL;
}

bool vmctl_qmp_schema_has(VmctlQmp *qmp, const char *path)
{
    return qmp->schema && vmctl_qmp_schema_lookup(qmp->schema, path);
}

bool vmctl_qmp_command_has_arg(VmctlQmp *qmp, const char *command, const char *arg)
{
    g_autofree char *path = g_strdup_printf("%s/arg-type/%s", command, arg);

    return vmctl_qmp_has_command(qmp, command) && vmctl_qmp_schema_has(qmp, path);
}

bool vmctl_qmp_type_has_member(VmctlQmp *qmp, const char *type, const char *member_name)
{
    g_autofree char *path = g_strdup_printf("%s/%s", type, member_name);

    return vmctl_qmp_schema_has(qmp, path);
}
