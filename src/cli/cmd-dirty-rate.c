/* cmd-dirty-rate.c: `vmctl dirty-rate NAME`: a guest's dirty rate through
 * QEMU's calc-dirty-rate, once or as a time series (--watch), with the
 * guest's own rate beside it when it is known. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/builtin.h"
#include "client.h"
#include "dirty_rate.h"

static volatile int interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Bytes of the console log now (0 when there is none). */
static uint64_t file_size(const char *path)
{
    struct stat st;

    return path && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The tiny guest's STAT lines written since OFFSET. */
static bool stat_since(const char *path, uint64_t offset, double *mean, unsigned *n)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    *n = 0;
    if (!path || !g_file_get_contents(path, &text, &len, NULL) || offset >= len)
        return false;
    return vmctl_dirty_rate_stat_mean(text + offset, mean, n);
}

struct reference {
    double pages_per_s; /* what the guest really dirties per second, 0 = unknown */
    const char *source;
    unsigned stat_lines;
    double expected; /* what QEMU can see in one window: capped by the working set */
};

/* The rate to compare with: --expect-rate, else the tiny guest's writes
 * counter asked at both ends of the window (by the host clock: what the
 * guest really wrote while QEMU measured, which dirty logging itself can
 * slow down, see bench/dirty-rate), else its
 * STAT lines during the window (by its own TSC calibration), else its
 * configured rate. QEMU counts a page once per
 * window, so a working set smaller than rate x window caps what it can see
 * at ws / window. */
struct writes_sample {
    bool ok;
    uint64_t writes, ns;
};

struct window_samples {
    json_object *info;
    struct writes_sample at[2]; /* start and end of the window */
};

static void sample_writes(json_object *info, struct writes_sample *s);

static void on_window(bool end, void *data)
{
    struct window_samples *w = data;

    sample_writes(w->info, &w->at[end ? 1 : 0]);
}

static void sample_writes(json_object *info, struct writes_sample *s)
{
    const char *serial = json_object_get_string(json_object_object_get(info, "serial_socket"));
    json_object *tiny = json_object_object_get(json_object_object_get(info, "spec"), "tiny");

    s->ok = tiny && serial && vmctl_dirty_rate_tiny_writes(serial, &s->writes, &s->ns, NULL);
}

static void reference_of(json_object *info, uint64_t expect, uint64_t log_offset, unsigned window,
                         const struct writes_sample *w0, const struct writes_sample *w1, struct reference *ref)
{
    json_object *tiny = json_object_object_get(json_object_object_get(info, "spec"), "tiny");
    const char *log = json_object_get_string(json_object_object_get(info, "console_log"));
    uint64_t rate = tiny ? (uint64_t)json_object_get_int64(json_object_object_get(tiny, "rate")) : 0;
    uint64_t ws = tiny ? (uint64_t)json_object_get_int64(json_object_object_get(tiny, "ws")) : 0;
    double mean;

    memset(ref, 0, sizeof(*ref));
    if (expect) {
        ref->pages_per_s = (double)expect;
        ref->source = "--expect-rate";
        ref->expected = ref->pages_per_s;
        return;
    }
    if (w0->ok && w1->ok && w1->ns > w0->ns && w1->writes >= w0->writes) {
        ref->pages_per_s = (double)(w1->writes - w0->writes) * 1e9 / (double)(w1->ns - w0->ns);
        ref->source = "guest writes by the host clock";
    } else if (tiny && stat_since(log, log_offset, &mean, &ref->stat_lines)) {
        ref->pages_per_s = mean;
        ref->source = "guest STAT lines";
    } else if (rate) {
        ref->pages_per_s = (double)rate;
        ref->source = "guest spec rate";
    }
    ref->expected = ref->pages_per_s;
    if (ws && window && (double)ws / window < ref->expected)
        ref->expected = (double)ws / window;
}

static void print_result(const VmctlDirtyRate *r)
{
    printf("dirty rate      %" G_GINT64_FORMAT " MB/s = %" G_GUINT64_FORMAT " pages/s (%s, %" G_GINT64_FORMAT
           " s window)\n",
           r->rate_mbps, vmctl_dirty_rate_mbps_to_pages(r->rate_mbps), vmctl_dirty_rate_mode_name(r->mode),
           r->calc_time);
    for (guint i = 0; i < r->vcpu->len; i++) {
        const VmctlVcpuDirtyRate *d = &g_array_index(r->vcpu, VmctlVcpuDirtyRate, i);

        printf("  vcpu %-8" G_GINT64_FORMAT " %" G_GINT64_FORMAT " MB/s = %" G_GUINT64_FORMAT " pages/s\n", d->id,
               d->rate_mbps, vmctl_dirty_rate_mbps_to_pages(d->rate_mbps));
    }
}

static void add_reference(json_object *o, const struct reference *ref, const VmctlDirtyRate *r)
{
    json_object *j;

    if (!ref->pages_per_s)
        return;
    j = json_object_new_object();
    vmctl_json_add_double(j, "pages_per_s", ref->pages_per_s);
    vmctl_json_add_str(j, "source", ref->source);
    vmctl_json_add_u64(j, "stat_lines", ref->stat_lines);
    vmctl_json_add_double(j, "expected_pages_per_s", ref->expected);
    vmctl_json_add_double(j, "ratio", (double)vmctl_dirty_rate_mbps_to_pages(r->rate_mbps) / ref->expected);
    json_object_object_add(o, "reference", j);
}

static void print_reference(const struct reference *ref, const VmctlDirtyRate *r)
{
    if (!ref->pages_per_s)
        return;
    printf("guest rate      %.0f pages/s (%s)\n", ref->pages_per_s, ref->source);
    if (ref->expected < ref->pages_per_s)
        printf("visible         %.0f pages/s (working set / window: a page counts once per window)\n",
               ref->expected);
    printf("measured/true   %.3f\n", (double)vmctl_dirty_rate_mbps_to_pages(r->rate_mbps) / ref->expected);
}

/* A guest of vmctld's libvirt driver: virDomainStartDirtyRateCalc and
 * the domain's dirty-rate stats, done by the daemon; the reference is the
 * guest's configured rate (or --expect-rate), capped by what one window
 * can see. */
static int libvirt_dirty_rate(struct vmctl_ctx *ctx, const char *sock, json_object *info, const char *mode,
                              unsigned window, uint64_t expect)
{
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) r = NULL;
    g_autoptr(json_object) out = json_object_new_object();
    g_autoptr(GError) err = NULL;
    const char *name = json_object_get_string(json_object_object_get(info, "name"));
    json_object *tiny = json_object_object_get(json_object_object_get(info, "spec"), "tiny");
    uint64_t rate = tiny ? (uint64_t)json_object_get_int64(json_object_object_get(tiny, "rate")) : 0;
    uint64_t ws = tiny ? (uint64_t)json_object_get_int64(json_object_object_get(tiny, "ws")) : 0;
    double ref = expect ? (double)expect : (double)rate, expected = ref;
    uint64_t pages;

    vmctl_json_add_str(args, "name", name);
    vmctl_json_add_u64(args, "seconds", window);
    if (mode)
        vmctl_json_add_str(args, "mode", mode);
    if (!(r = vmctl_client_call(sock, "dirty-rate", args, true, &err)))
        return vmctl_cli_fail(err);
    pages = (uint64_t)json_object_get_int64(json_object_object_get(r, "pages_per_s"));
    if (ws && window && (double)ws / window < expected)
        expected = (double)ws / window;
    vmctl_json_add_str(out, "guest", name);
    vmctl_json_add_str(out, "driver", "libvirt");
    vmctl_json_add_str(out, "accel", json_object_get_string(json_object_object_get(info, "accel")));
    vmctl_json_add_str(out, "mode", json_object_get_string(json_object_object_get(r, "mode")));
    vmctl_json_add_u64(out, "page_size", VMCTL_DIRTY_RATE_PAGE_SIZE);
    if (ref > 0) {
        json_object *j = json_object_new_object();

        vmctl_json_add_double(j, "pages_per_s", ref);
        vmctl_json_add_str(j, "source", expect ? "--expect-rate" : "guest spec rate");
        vmctl_json_add_double(j, "expected_pages_per_s", expected);
        vmctl_json_add_double(j, "ratio", (double)pages / expected);
        json_object_object_add(r, "reference", j);
    }
    json_object_object_add(out, "result", json_object_get(r));
    if (ctx->json) {
        vmctl_json_print(out);
        return VMCTL_EXIT_OK;
    }
    printf("guest %s: libvirt driver, %s, mode %s (%s), %u s window\n", name,
           json_object_get_string(json_object_object_get(info, "accel")),
           json_object_get_string(json_object_object_get(r, "mode")),
           json_object_get_string(json_object_object_get(r, "why")), window);
    printf("dirty rate      %" G_GINT64_FORMAT " MB/s = %" G_GUINT64_FORMAT " pages/s\n",
           json_object_get_int64(json_object_object_get(r, "rate_mbps")), pages);
    if (ref > 0) {
        printf("guest rate      %.0f pages/s (%s)\n", ref, expect ? "--expect-rate" : "guest spec rate");
        printf("measured/true   %.3f\n", (double)pages / expected);
    }
    return VMCTL_EXIT_OK;
}

int cmd_dirty_rate(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *mode_str = NULL;
    gint seconds = 0, watch = 0, sample_pages = 0;
    gint64 expect = 0;
    const GOptionEntry entries[] = {
        { "mode", 0, 0, G_OPTION_ARG_STRING, &mode_str, "auto (default), page-sampling, dirty-bitmap or dirty-ring",
          "MODE" },
        { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds,
          "measurement window (default 1); with --watch the total time (default: until Ctrl-C)", "N" },
        { "watch", 0, 0, G_OPTION_ARG_INT, &watch, "measure again and again with windows of INTERVAL s", "INTERVAL" },
        { "sample-pages", 0, 0, G_OPTION_ARG_INT, &sample_pages, "page-sampling: pages per GiB (QEMU: 128..4096; default 4096)",
          "N" },
        { "expect-rate", 0, 0, G_OPTION_ARG_INT64, &expect, "compare with this rate (pages/s)", "N" },
        { NULL },
    };
    const char *sock;
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) info = NULL, args = json_object_new_object(), out = json_object_new_object();
    g_autoptr(json_object) results = json_object_new_array(), points = json_object_new_array();
    VmctlDirtyRateCaps caps;
    VmctlDirtyRateMode requested = VMCTL_DIRTY_RATE_AUTO, mode;
    const char *log;
    unsigned window, n_done = 0;
    uint64_t t0;
    g_autofree char *ver = NULL;
    struct sigaction sa = { .sa_handler = on_sigint }, old_sa;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME",
                         "Measure a guest's dirty rate through QEMU's calc-dirty-rate, in the mode this QEMU and "
                         "accelerator can do safely.",
                         entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 2) {
        fprintf(stderr, "vmctl dirty-rate: needs one guest NAME\n");
        return VMCTL_EXIT_USAGE;
    }
    if (mode_str && !vmctl_dirty_rate_mode_from_name(mode_str, &requested))
        return vmctl_cli_failf("--mode '%s' is not one of auto, page-sampling, dirty-bitmap, dirty-ring", mode_str);
    if (seconds < 0 || seconds > (watch ? 86400 : VMCTL_DIRTY_RATE_CALC_TIME_MAX))
        return vmctl_cli_failf("--seconds '%d' is not within 1..%d", seconds,
                               watch ? 86400 : VMCTL_DIRTY_RATE_CALC_TIME_MAX);
    if (watch < 0 || watch > VMCTL_DIRTY_RATE_CALC_TIME_MAX)
        return vmctl_cli_failf("--watch '%d' is not within 1..%d s", watch, VMCTL_DIRTY_RATE_CALC_TIME_MAX);
    if (sample_pages && (sample_pages < 128 || sample_pages > 4096))
        return vmctl_cli_failf("--sample-pages '%d' is not within QEMU's 128..4096 pages per GiB", sample_pages);
    if (!sample_pages)
        sample_pages = VMCTL_DIRTY_RATE_SAMPLE_PAGES;
    if (expect < 0)
        return vmctl_cli_failf("--expect-rate '%" G_GINT64_FORMAT "' is negative", expect);
    window = watch ? (unsigned)watch : (seconds ? (unsigned)seconds : 1);

    sock = vmctl_client_socket_path(ctx->socket_path);
    vmctl_json_add_str(args, "name", argv[1]);
    if (!(info = vmctl_client_call(sock, "info", args, true, &err)))
        return vmctl_cli_fail(err);
    if (g_strcmp0(json_object_get_string(json_object_object_get(info, "driver")), "libvirt") == 0) {
        if (watch)
            return vmctl_cli_failf("--watch is not available for guest '%s' of vmctld's libvirt driver", argv[1]);
        return libvirt_dirty_rate(ctx, sock, info, mode_str, window, (uint64_t)expect);
    }
    if (!vmctl_dirty_rate_probe(sock, argv[1], info, &caps, &err))
        return vmctl_cli_fail(err);
    if (!vmctl_dirty_rate_choose(&caps, requested, &mode, &err))
        return vmctl_cli_fail(err);
    log = json_object_get_string(json_object_object_get(info, "console_log"));
    ver = g_strdup_printf("%d.%d.%d", caps.qemu.major, caps.qemu.minor, caps.qemu.patch);

    vmctl_json_add_str(out, "guest", argv[1]);
    vmctl_json_add_str(out, "qemu_version", ver);
    vmctl_json_add_str(out, "accel", caps.kvm ? "kvm" : "tcg");
    vmctl_json_add_u64(out, "dirty_ring", caps.ring_entries);
    vmctl_json_add_str(out, "requested_mode", vmctl_dirty_rate_mode_name(requested));
    vmctl_json_add_str(out, "mode", vmctl_dirty_rate_mode_name(mode));
    vmctl_json_add_u64(out, "page_size", VMCTL_DIRTY_RATE_PAGE_SIZE);
    if (!ctx->json) {
        g_autofree char *ring = caps.ring_entries ? g_strdup_printf(" with a %u-entry dirty ring", caps.ring_entries)
                                                  : g_strdup("");
        g_autofree char *total = !watch ? g_strdup("")
                                 : seconds ? g_strdup_printf(", %d s in all", seconds)
                                           : g_strdup(", until Ctrl-C");

        printf("guest %s: QEMU %s, %s%s, mode %s%s, %u s window%s\n", argv[1], ver, caps.kvm ? "KVM" : "TCG", ring,
               vmctl_dirty_rate_mode_name(mode), requested == VMCTL_DIRTY_RATE_AUTO ? " (auto)" : "", window, total);
    }

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    t0 = vmctl_now_ns();
    do {
        uint64_t log_offset = file_size(log);
        g_autoptr(VmctlDirtyRate) r = NULL;
        struct reference ref;
        json_object *j, *pt;
        double t;

        struct window_samples ws = { .info = info };

        r = vmctl_dirty_rate_measure(sock, argv[1], &caps, mode, window, (unsigned)sample_pages, &interrupted,
                                     on_window, &ws, &err);
        if (!r) {
            if (interrupted && json_object_array_length(results) > 0)
                break;
            sigaction(SIGINT, &old_sa, NULL);
            return vmctl_cli_fail(err);
        }
        t = (double)(vmctl_now_ns() - t0) / 1e9;
        reference_of(info, (uint64_t)expect, log_offset, window, &ws.at[0], &ws.at[1], &ref);
        j = vmctl_dirty_rate_to_json(r);
        vmctl_json_add_double(j, "t_s", t);
        add_reference(j, &ref, r);
        json_object_array_add(results, j);
        pt = json_object_new_array();
        json_object_array_add(pt, json_object_new_double(t));
        json_object_array_add(pt, json_object_new_int64((int64_t)vmctl_dirty_rate_mbps_to_pages(r->rate_mbps)));
        json_object_array_add(points, pt);
        if (!ctx->json) {
            if (watch) {
                g_autofree char *ratio =
                    ref.pages_per_s ? g_strdup_printf("  measured/true %.3f",
                                                      (double)vmctl_dirty_rate_mbps_to_pages(r->rate_mbps) / ref.expected)
                                    : g_strdup("");

                printf("t=%-7.1f %6" G_GINT64_FORMAT " MB/s  %8" G_GUINT64_FORMAT " pages/s%s\n", t, r->rate_mbps,
                       vmctl_dirty_rate_mbps_to_pages(r->rate_mbps), ratio);
            } else {
                print_result(r);
                print_reference(&ref, r);
            }
            fflush(stdout);
        }
        n_done++;
        /* --seconds is the measuring time in all: windows of INTERVAL s */
    } while (watch && !interrupted && (!seconds || n_done * window < (unsigned)seconds));
    sigaction(SIGINT, &old_sa, NULL);

    if (ctx->json) {
        if (watch) {
            json_object *ev = json_object_new_object(), *series = json_object_new_object();

            json_object_object_add(out, "results", json_object_get(results));
            vmctl_json_add_str(series, "name", "dirty rate");
            vmctl_json_add_str(series, "x_label", "time (s)");
            vmctl_json_add_str(series, "y_label", "dirty pages/s");
            json_object_object_add(series, "points", json_object_get(points));
            json_object_object_add(ev, "series", series);
            json_object_object_add(out, "evidence", ev);
        } else {
            json_object_object_add(out, "result", json_object_get(json_object_array_get_idx(results, 0)));
        }
        vmctl_json_print(out);
    }
    return VMCTL_EXIT_OK;
}
