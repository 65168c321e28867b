/* cmd-migrate.c: `vmctl migrate NAME --to local`: live migration through
 * vmctld with progress, and the proof that no page was lost. Exit 0 PASS,
 * 1 FAIL (pages differ or the guest's VERIFY is bad), 2 could not run. */
#include "config.h"

#include "cli/builtin.h"
#include "client.h"
#include "migrate.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    struct vmctl_ctx *ctx;
    const char *name;
    bool tty;
    bool progress_shown;
    bool cancel_sent;
} MigrateView;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static uint64_t u64(json_object *o, const char *key)
{
    json_object *v = o ? json_object_object_get(o, key) : NULL;

    return v ? (uint64_t)json_object_get_int64(v) : 0;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v = o ? json_object_object_get(o, key) : NULL;

    return v ? json_object_get_string(v) : NULL;
}

static void on_event(const char *name, json_object *data, void *user)
{
    MigrateView *v = user;

    if (!name) { /* a signal: Ctrl-C asks the daemon to cancel */
        if (interrupted && !v->cancel_sent) {
            g_autoptr(json_object) args = json_object_new_object();
            g_autoptr(json_object) r = NULL;
            g_autoptr(GError) err = NULL;

            v->cancel_sent = true;
            vmctl_json_add_str(args, "name", v->name);
            r = vmctl_client_call(vmctl_client_socket_path(v->ctx->socket_path), "migrate-cancel", args, false, &err);
            if (!v->ctx->json)
                fprintf(stderr, "%svmctl: cancelling the migration of '%s'%s%s\n", v->progress_shown ? "\n" : "",
                        v->name, err ? ": " : "", err ? err->message : "");
        }
        return;
    }
    if (v->ctx->json) {
        g_autoptr(json_object) ev = json_object_new_object();

        vmctl_json_add_str(ev, "event", name);
        json_object_object_add(ev, "data", json_object_get(data));
        printf("%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        fflush(stdout);
        return;
    }
    if (!v->tty)
        return;
    if (strcmp(name, "migration-progress") == 0) {
        g_autofree char *tr = vmctl_format_size(u64(data, "transferred"));
        g_autofree char *rem = vmctl_format_size(u64(data, "remaining"));

        fprintf(stderr, "\r\033[K%s: %s sent, %s remaining, dirty %" G_GUINT64_FORMAT " pages/s, iteration %" G_GUINT64_FORMAT
                ", expected downtime %" G_GUINT64_FORMAT " ms",
                str(data, "status"), tr, rem, u64(data, "dirty_pages_rate"), u64(data, "iteration"),
                u64(data, "expected_downtime_ms"));
        v->progress_shown = true;
    } else if (strcmp(name, "migration-phase") == 0) {
        fprintf(stderr, "\r\033[K%s%s%s", str(data, "phase"), str(data, "detail") ? ": " : "",
                str(data, "detail") ? str(data, "detail") : "");
        v->progress_shown = true;
    }
    fflush(stderr);
}

static void print_result(json_object *r)
{
    json_object *verify = json_object_object_get(r, "verify");
    json_object *pages = verify ? json_object_object_get(verify, "pages") : NULL;
    json_object *blocks = pages ? json_object_object_get(pages, "blocks") : NULL;
    json_object *decisions = json_object_object_get(r, "decisions");
    json_object *stats = json_object_object_get(r, "stats");
    g_autofree char *faulted =
        str(r, "injected_fault") ? g_strdup_printf("  [under an injected test fault: %s]", str(r, "injected_fault"))
                                 : g_strdup("");

    g_autofree char *known = vmctl_migrate_known_bug(r);
    g_autofree char *known_part = known ? g_strdup_printf("; %s", known) : g_strdup("");

    printf("verdict    %s  (QEMU %s, accel %s, backing %s)%s%s\n", str(r, "verdict"), str(r, "qemu"), str(r, "accel"),
           str(r, "backing"), known_part, faulted);
    for (size_t i = 0; decisions && i < json_object_array_length(decisions); i++) {
        json_object *d = json_object_array_get_idx(decisions, i);
        printf("decision   %s = %s: %s\n", str(d, "what"), json_object_to_json_string(json_object_object_get(d, "value")),
               str(d, "why"));
    }
    if (stats) {
        json_object *dp = json_object_object_get(r, "downtime_promise");
        g_autofree char *promise =
            !dp ? g_strdup("")
                : g_strdup_printf(json_object_get_boolean(json_object_object_get(dp, "kept"))
                                      ? " (within the %" G_GUINT64_FORMAT " ms promised)"
                                      : " (OVER the %" G_GUINT64_FORMAT " ms promised)",
                                  u64(dp, "promised_ms"));

        printf("migration  %" G_GUINT64_FORMAT " ms total, %" G_GUINT64_FORMAT " ms downtime%s, %" G_GUINT64_FORMAT
               " bytes, %" G_GUINT64_FORMAT " iterations%s\n",
               u64(stats, "total_time_ms"), u64(stats, "downtime_ms"), promise, u64(stats, "transferred"),
               u64(stats, "iterations"), json_object_get_boolean(json_object_object_get(stats, "postcopy")) ? ", postcopy" : "");
        if (u64(stats, "cpu_throttle_max_percent"))
            printf("throttle   auto-converge held the guest's CPUs back by up to %" G_GUINT64_FORMAT "%%\n",
                   u64(stats, "cpu_throttle_max_percent"));
        if (u64(stats, "dirty_limit_throttle_max_us"))
            printf("throttle   dirty-limit held each vCPU back by up to %" G_GUINT64_FORMAT " us per round\n",
                   u64(stats, "dirty_limit_throttle_max_us"));
    }
    for (size_t i = 0; blocks && i < json_object_array_length(blocks); i++) {
        json_object *b = json_object_array_get_idx(blocks, i);
        json_object *first = json_object_object_get(b, "first");

        printf("pages      %-8s %" G_GUINT64_FORMAT " compared, %" G_GUINT64_FORMAT " differ", str(b, "name"),
               u64(b, "pages"), u64(b, "pages_differ"));
        for (size_t j = 0; first && j < json_object_array_length(first); j++)
            printf("%s%" G_GUINT64_FORMAT, j ? "," : ": first ", u64(json_object_array_get_idx(first, j), "page"));
        printf("\n");
    }
    if (verify && json_object_object_get(json_object_object_get(verify, "pages"), "compare_ms")) {
        json_object *pg = json_object_object_get(verify, "pages");
        g_autofree char *pause = NULL;

        if (json_object_object_get(verify, "verification_pause_ms"))
            pause = g_strdup_printf(", verification pause %" G_GUINT64_FORMAT " ms before the destination ran",
                                    u64(verify, "verification_pause_ms"));
        printf("proof      page compare %" G_GUINT64_FORMAT " ms (%.2f GB/s)%s\n", u64(pg, "compare_ms"),
               json_object_get_double(json_object_object_get(pg, "compare_bytes_per_s")) / 1e9, pause ? pause : "");
    }
    if (verify && str(verify, "host_oracle")) /* libvirt driver: why no page was compared */
        printf("pages      not compared: %s\n", str(verify, "host_oracle"));
    if (verify && json_object_object_get(verify, "stamps")) {
        json_object *s = json_object_object_get(verify, "stamps");
        json_object *verdicts = json_object_object_get(s, "verdicts");

        printf("stamps     %" G_GUINT64_FORMAT " checked, %" G_GUINT64_FORMAT " bad", u64(s, "checked"), u64(s, "bad"));
        json_object_object_foreach(verdicts, k, val)
        {
            if (strcmp(k, "ok") != 0 && json_object_get_int64(val) > 0)
                printf(", %s %" G_GINT64_FORMAT, k, json_object_get_int64(val));
        }
        printf("\n");
    }
    if (verify && str(verify, "guest"))
        printf("guest      %s\n", str(verify, "guest"));
    if (str(r, "kept"))
        printf("kept       %s\n", str(r, "kept"));
    else if (str(r, "driver") && str(r, "destination"))
        printf("guest      '%s' now runs in libvirt at '%s'\n", str(r, "name"), str(r, "destination"));
    else if (str(r, "run_dir"))
        printf("guest      '%s' now runs as QEMU pid %" G_GUINT64_FORMAT " on '%s'\n", str(r, "name"), u64(r, "pid"),
               str(r, "backend"));
}

/* A backing spec as the daemon reads it: a path made absolute against this
 * directory ("anonymous" and "memfd..." as they are). */
static char *absolute_spec(const char *spec)
{
    if (strcmp(spec, "anonymous") == 0 || g_str_has_prefix(spec, "memfd"))
        return g_strdup(spec);
    return g_canonicalize_filename(spec, NULL);
}

static json_object *paths_json(char **paths)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; paths[i]; i++) {
        g_autofree char *p = g_canonicalize_filename(paths[i], NULL);
        json_object_array_add(a, json_object_new_string(p));
    }
    return a;
}

int cmd_migrate(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *to = NULL, *strategy = NULL, *bandwidth = NULL, *downtime = NULL, *timeout = NULL;
    gboolean verify = FALSE, no_verify = FALSE, shared = FALSE, keep = FALSE, force = FALSE;
    g_autofree char *dest_backend = NULL;
    g_auto(GStrv) dest_nvdimm = NULL, dest_vpmem = NULL;
    const GOptionEntry entries[] = {
        { "to", 0, 0, G_OPTION_ARG_STRING, &to,
          "where to: local (a second QEMU on this host) or, with vmctld --driver libvirt, the destination's libvirt URI",
          "local|URI" },
        { "strategy", 0, 0, G_OPTION_ARG_STRING, &strategy, "auto (default), precopy, postcopy, multifd, auto-converge",
          "S" },
        { "bandwidth", 0, 0, G_OPTION_ARG_STRING, &bandwidth, "max-bandwidth per second (size, e.g. 2G)", "B" },
        { "downtime", 0, 0, G_OPTION_ARG_STRING, &downtime, "downtime-limit", "MS" },
        { "verify", 0, 0, G_OPTION_ARG_NONE, &verify, "compare every page and run the guest's VERIFY (default)", NULL },
        { "no-verify", 0, 0, G_OPTION_ARG_NONE, &no_verify, "hand over without the proof", NULL },
        { "shared", 0, 0, G_OPTION_ARG_NONE, &shared, "destination maps the same share=on file (x-ignore-shared)", NULL },
        { "keep-source", 0, 0, G_OPTION_ARG_NONE, &keep, "keep the source's backing file after the hand-over", NULL },
        { "force", 0, 0, G_OPTION_ARG_NONE, &force, "migrate even where QEMU cannot carry a device's content", NULL },
        { "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout, "give up (and keep the source) after S seconds", "S" },
        { "dest-backend", 0, 0, G_OPTION_ARG_FILENAME, &dest_backend,
          "the destination's RAM backing (another device-dax, an fsdax file, any launch backing; default: a new file "
          "beside the source's)", "SPEC" },
        { "dest-nvdimm", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &dest_nvdimm,
          "the destination's backing of the next NVDIMM (once per NVDIMM)", "PATH" },
        { "dest-virtio-pmem", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &dest_vpmem,
          "the destination's backing of the next virtio-pmem device (once per device)", "PATH" },
        { NULL },
    };
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) ret = NULL;
    g_autoptr(GError) err = NULL;
    MigrateView view = { 0 };
    struct sigaction sa = { 0 }, old;
    VmctlMigrateStrategy s;
    const char *verdict, *fault = g_getenv("VMCTL_MIGRATE_FAULT");
    uint64_t v;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME --to local|URI",
                         "Live-migrate a guest and prove that no page was lost.\n\n"
                         "Exit status: 0 PASS, 1 FAIL (pages differ or the guest's VERIFY is bad), 2 could not run.",
                         entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 2) {
        fprintf(stderr, "vmctl migrate: needs exactly one guest NAME\n");
        return VMCTL_EXIT_USAGE;
    }
    if (!to) {
        vmctl_cli_failf("--to is required (local, or a libvirt URI with vmctld --driver libvirt)");
        return VMCTL_EXIT_USAGE;
    }
    /* another host: a libvirt URI, which vmctld's libvirt driver takes
     * (the QEMU driver refuses it with its reason) */
    if (strategy && !vmctl_migrate_strategy_from_name(strategy, &s)) {
        vmctl_cli_failf("--strategy '%s' is not one of auto, precopy, postcopy, multifd, auto-converge", strategy);
        return VMCTL_EXIT_USAGE;
    }
    if (verify && no_verify) {
        vmctl_cli_failf("--verify and --no-verify exclude each other");
        return VMCTL_EXIT_USAGE;
    }
    vmctl_json_add_str(args, "name", argv[1]);
    vmctl_json_add_str(args, "to", to);
    if (strategy)
        vmctl_json_add_str(args, "strategy", strategy);
    if (bandwidth) {
        if (!vmctl_parse_size(bandwidth, false, &v, &err)) {
            vmctl_cli_failf("--bandwidth: %s", err->message);
            return VMCTL_EXIT_USAGE;
        }
        vmctl_json_add_u64(args, "bandwidth", v);
    }
    if (downtime) {
        if (!vmctl_parse_uint("--downtime", downtime, 600000, &v, &err)) {
            vmctl_cli_fail(err);
            return VMCTL_EXIT_USAGE;
        }
        vmctl_json_add_u64(args, "downtime", v);
    }
    if (timeout) {
        if (!vmctl_parse_uint("--timeout", timeout, 86400, &v, &err)) {
            vmctl_cli_fail(err);
            return VMCTL_EXIT_USAGE;
        }
        vmctl_json_add_u64(args, "timeout", v);
    }
    if (dest_backend) {
        g_autofree char *spec = absolute_spec(dest_backend);
        vmctl_json_add_str(args, "dest-backend", spec);
    }
    if (dest_nvdimm)
        json_object_object_add(args, "dest-nvdimm", paths_json(dest_nvdimm));
    if (dest_vpmem)
        json_object_object_add(args, "dest-virtio-pmem", paths_json(dest_vpmem));
    vmctl_json_add_bool(args, "verify", !no_verify);
    vmctl_json_add_bool(args, "shared", shared);
    vmctl_json_add_bool(args, "keep-source", keep);
    vmctl_json_add_bool(args, "force", force);
    if (fault && *fault) /* test-only fault hook, see tests/integration/migrate.sh */
        vmctl_json_add_str(args, "fault", fault);

    view.ctx = ctx;
    view.name = argv[1];
    view.tty = isatty(STDERR_FILENO);
    sa.sa_handler = on_sigint; /* no SA_RESTART: the wait sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    ret = vmctl_client_call_events(vmctl_client_socket_path(ctx->socket_path), "migrate", args, true, on_event, &view,
                                   &err);
    sigaction(SIGINT, &old, NULL);
    if (view.progress_shown)
        fprintf(stderr, "\r\033[K");
    if (!ret) {
        vmctl_cli_fail(err);
        return VMCTL_EXIT_USAGE;
    }
    verdict = str(ret, "verdict");
    vmctl_json_add_injected_faults(ret);
    if (ctx->json)
        printf("%s\n", json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    else
        print_result(ret);
    return g_strcmp0(verdict, "FAIL") == 0 ? VMCTL_EXIT_FAIL : VMCTL_EXIT_OK;
}
