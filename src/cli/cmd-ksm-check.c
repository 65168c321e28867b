/* cmd-ksm-check.c: `vmctl ksm-check`: whether KSM merges identical pages
 * of anonymous guest RAM and never guest RAM on share=on file backings,
 * with the guests' VERIFY and every KSM knob restored, also on SIGINT and
 * SIGTERM. */
#include "config.h"

#include "cli/builtin.h"
#include "client.h"
#include "ksm.h"
#include "ksm_check.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    GCancellable *cancel;
    int signo;
} SignalState;

static gboolean on_signal(gpointer p, int signo)
{
    SignalState *s = p;

    s->signo = signo;
    g_cancellable_cancel(s->cancel);
    return G_SOURCE_CONTINUE; /* a second signal must not kill us mid-restore */
}

static gboolean on_sigint(gpointer p)
{
    return on_signal(p, SIGINT);
}

static gboolean on_sigterm(gpointer p)
{
    return on_signal(p, SIGTERM);
}

static json_object *member(json_object *o, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);

    for (size_t i = 0; parts[i] && o; i++)
        o = json_object_object_get(o, parts[i]);
    return o;
}

static const char *str_of(json_object *o, const char *path)
{
    json_object *v = member(o, path);

    return v ? json_object_get_string(v) : "?";
}

static void print_guests(json_object *ev)
{
    json_object *guests = member(ev, "guests");

    for (size_t i = 0; guests && i < json_object_array_length(guests); i++) {
        json_object *g = json_object_array_get_idx(guests, i);

        if (member(g, "verify")) {
            printf("           %-24s %s\n", str_of(g, "name"), str_of(g, "verify"));
            continue;
        }
        printf("           %-24s pid %s, %s", str_of(g, "name"), str_of(g, "pid"), str_of(g, "backend"));
        if (member(g, "backend_kind") && strcmp(str_of(g, "backend_kind"), str_of(g, "backend")) != 0)
            printf(" (%s)", str_of(g, "backend_kind"));
        printf(": %s of %s present guest-RAM pages KSM", str_of(g, "guest_ram.ksm"), str_of(g, "guest_ram.present"));
        if (member(g, "identical_range"))
            printf(", identical pages %s of %s", str_of(g, "identical_range.ksm"), str_of(g, "identical_pages"));
        if (member(g, "ksm_pages_outside_guest_ram"))
            printf(", %s outside", str_of(g, "ksm_pages_outside_guest_ram"));
        printf(", ksm_merging_pages %s\n", str_of(g, "ksm_stat.ksm_merging_pages"));
    }
}

static void print_report(json_object *report)
{
    json_object *checks = member(report, "checks");

    if (member(report, "injected_fault"))
        printf("under an injected test fault: %s (not a measurement of this host)\n",
               str_of(report, "injected_fault"));
    for (size_t i = 0; i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        json_object *ev = member(c, "evidence");
        const char *id = str_of(c, "id");

        printf("%-10s %-5s %s\n", id, str_of(c, "status"), str_of(c, "summary"));
        if (strcmp(id, "positive") == 0) {
            printf("           pages_sharing %s, pages_shared %s; %s after %s s (budget %s s)\n",
                   str_of(ev, "pages_sharing"), str_of(ev, "pages_shared"),
                   json_object_get_boolean(member(ev, "steady")) ? "steady" : "stopped",
                   member(ev, "steady_after_s") ? str_of(ev, "steady_after_s") : str_of(ev, "elapsed_s"),
                   str_of(ev, "seconds"));
            print_guests(ev);
        } else if (strcmp(id, "negative") == 0 || strcmp(id, "integrity") == 0) {
            print_guests(ev);
        } else if (strcmp(id, "restore") == 0 && json_object_array_length(member(ev, "differ"))) {
            printf("           differ %s\n", json_object_to_json_string_ext(member(ev, "differ"), JSON_C_TO_STRING_PLAIN));
        }
    }
}

struct progress {
    bool tty;
    bool shown;
    uint64_t last_merge_ns; /* not a terminal: a merging line every few seconds */
};

#define PLAIN_MERGE_EVERY_NS (UINT64_C(5) * 1000000000)

static void progress_line(const char *line, void *data)
{
    struct progress *p = data;

    if (p->tty) {
        fprintf(stderr, "\r\033[Kvmctl ksm-check: %s", line);
        p->shown = true;
        return;
    }
    if (g_str_has_prefix(line, "merging: ")) {
        uint64_t now = vmctl_now_ns();
        if (p->last_merge_ns && now - p->last_merge_ns < PLAIN_MERGE_EVERY_NS)
            return;
        p->last_merge_ns = now;
    }
    fprintf(stderr, "vmctl ksm-check: %s\n", line);
}

int cmd_ksm_check(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *seconds = NULL, *memory = NULL, *same = NULL, *positive = NULL;
    g_auto(GStrv) backends = NULL, negative = NULL;
    const GOptionEntry entries[] = {
        { "seconds", 0, 0, G_OPTION_ARG_STRING, &seconds, "budget of the positive control (default 60)", "N" },
        { "memory", 0, 0, G_OPTION_ARG_STRING, &memory, "RAM of each guest (default 64M)", "SIZE" },
        { "same", 0, 0, G_OPTION_ARG_STRING, &same, "identical pages per mille in each guest (default 500)", "N" },
        { "backend", 0, 0, G_OPTION_ARG_STRING_ARRAY, &backends,
          "share=on backing of a negative guest (file, directory, /dev/daxX.Y); default /dev/shm and $TMPDIR",
          "PATH" },
        /* proves the negative check can fail: a backing KSM does merge */
        { "negative-backend", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING_ARRAY, &negative, NULL, "SPEC" },
        /* proves the positive control can fail: a backing KSM never merges */
        { "positive-backend", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &positive, NULL, "SPEC" },
        { NULL },
    };
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    g_autoptr(json_object) report = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) neg = g_ptr_array_new();
    SignalState sig = { .cancel = cancel };
    VmctlKsmCheckOpts opts;
    struct progress prog = { 0 };
    uint64_t v;
    guint id_int, id_term;
    bool locked;
    int status;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "",
                         "Check that KSM merges identical pages of anonymous guest RAM and never guest RAM on "
                         "share=on file backings, with two tiny guests per side under vmctld.",
                         entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 1) {
        fprintf(stderr, "vmctl ksm-check: takes no arguments\n");
        return VMCTL_EXIT_USAGE;
    }
    vmctl_ksm_check_opts_init(&opts);
    if (seconds) {
        if (!vmctl_parse_uint("--seconds", seconds, 3600, &v, &err) || v == 0) {
            vmctl_cli_failf("%s", err ? err->message : "--seconds '0' must be at least 1");
            return VMCTL_EXIT_USAGE;
        }
        opts.seconds = (unsigned)v;
    }
    if (memory && !vmctl_parse_size(memory, false, &opts.memory, &err)) {
        g_prefix_error(&err, "--memory: ");
        vmctl_cli_fail(err);
        return VMCTL_EXIT_USAGE;
    }
    if (same) {
        if (!vmctl_parse_uint("--same", same, 1000, &v, &err)) {
            vmctl_cli_fail(err);
            return VMCTL_EXIT_USAGE;
        }
        opts.same = (unsigned)v;
    }
    for (size_t i = 0; backends && backends[i]; i++) {
        if (strcmp(backends[i], "anonymous") == 0 || g_str_has_prefix(backends[i], "memfd")) {
            vmctl_cli_failf("--backend '%s' is not a share=on file backing: the negative check needs a path",
                            backends[i]);
            return VMCTL_EXIT_USAGE;
        }
        g_ptr_array_add(neg, backends[i]);
    }
    for (size_t i = 0; negative && negative[i]; i++)
        g_ptr_array_add(neg, negative[i]);
    g_ptr_array_add(neg, NULL);
    opts.negative_backends = neg->len > 1 ? (char **)neg->pdata : NULL;
    opts.positive_backend = positive;
    opts.socket_path = vmctl_client_socket_path(ctx->socket_path);
    /* progress on stderr: rewritten in place on a terminal, plain lines
     * otherwise, none under --json */
    prog.tty = isatty(STDERR_FILENO);
    if (!ctx->json) {
        opts.progress = progress_line;
        opts.progress_data = &prog;
    }

    /* wait for another vmctl process using KSM before the signal handlers
     * go in: a Ctrl-C while waiting has nothing to undo */
    locked = vmctl_ksm_lock(NULL); /* best effort: without root the check says why it cannot run */
    id_int = g_unix_signal_add(SIGINT, on_sigint, &sig);
    id_term = g_unix_signal_add(SIGTERM, on_sigterm, &sig);
    report = vmctl_ksm_check_run(&opts, cancel, &err);
    if (prog.tty && prog.shown)
        fputs("\r\033[K", stderr);
    g_source_remove(id_int);
    g_source_remove(id_term);
    if (locked)
        vmctl_ksm_unlock();
    if (!report) {
        vmctl_cli_failf("%s%s", err->message,
                        sig.signo ? (sig.signo == SIGINT ? " (SIGINT)" : " (SIGTERM)") : "");
        return VMCTL_EXIT_USAGE; /* could not run */
    }
    status = vmctl_ksm_check_exit_status(report);
    vmctl_json_add_injected_faults(report);
    if (ctx->json)
        vmctl_json_print(report);
    else
        print_report(report);
    return status;
}
