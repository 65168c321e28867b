/* cmd-wss.c: `vmctl wss NAME`: a guest's working-set estimate by the best
 * mechanism this host has (idle page tracking, DAMON, else the dirty-log
 * write set), saying which one and at what resolution. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/builtin.h"
#include "client.h"
#include "dirty_rate.h"
#include "wss.h"

/* The backing file QEMU maps, when the spec names one regular file. */
static const char *ram_path(json_object *spec)
{
    const char *b = json_object_get_string(json_object_object_get(spec, "backend"));
    struct stat st;

    return b && b[0] == '/' && stat(b, &st) == 0 && S_ISREG(st.st_mode) ? b : NULL;
}

/* The accessed pages by page_idle or DAMON; false (with error) when the
 * mechanism cannot be used after all. */
static bool accessed_set(VmctlWssMechanism m, json_object *info, unsigned seconds, json_object *out, GError **error)
{
    json_object *spec = json_object_object_get(info, "spec");
    pid_t pid = (pid_t)json_object_get_int(json_object_object_get(info, "pid"));
    uint64_t memory = (uint64_t)json_object_get_int64(json_object_object_get(spec, "memory"));
    uint64_t start, len, present, accessed = 0, regions = 0;
    g_autoptr(GArray) ranges = NULL;

    if (!vmctl_wss_find_ram(pid, memory, ram_path(spec), &start, &len, error) ||
        !(ranges = vmctl_wss_pfn_ranges(pid, start, len, &present, error)))
        return false;
    if (m == VMCTL_WSS_PAGE_IDLE) {
        if (!vmctl_wss_page_idle(ranges, seconds, &accessed, error))
            return false;
        vmctl_json_add_u64(out, "accessed_pages", accessed);
        vmctl_json_add_u64(out, "accessed_bytes", accessed * VMCTL_DIRTY_RATE_PAGE_SIZE);
        vmctl_json_add_u64(out, "resolution_bytes", VMCTL_DIRTY_RATE_PAGE_SIZE);
    } else {
        if (!vmctl_wss_damon(ranges, seconds, &accessed, &regions, error))
            return false;
        vmctl_json_add_u64(out, "accessed_bytes", accessed);
        vmctl_json_add_u64(out, "accessed_pages", accessed / VMCTL_DIRTY_RATE_PAGE_SIZE);
        vmctl_json_add_u64(out, "damon_regions", regions);
        vmctl_json_add_u64(out, "resolution_bytes", regions ? present * VMCTL_DIRTY_RATE_PAGE_SIZE / regions : 0);
    }
    vmctl_json_add_u64(out, "ram_present_pages", present);
    vmctl_json_add_u64(out, "pfn_ranges", ranges->len);
    return true;
}

/* The pages written during SECONDS, from QEMU's dirty logging. */
static bool write_set(const char *sock, const char *name, json_object *info, unsigned seconds, json_object *out,
                      GError **error)
{
    VmctlDirtyRateCaps caps;
    VmctlDirtyRateMode mode;
    g_autoptr(VmctlDirtyRate) r = NULL;
    uint64_t pages;

    if (!vmctl_dirty_rate_probe(sock, name, info, &caps, error) ||
        !vmctl_dirty_rate_choose(&caps, VMCTL_DIRTY_RATE_AUTO, &mode, error) ||
        !(r = vmctl_dirty_rate_measure(sock, name, &caps, mode, seconds, 4096, NULL, NULL, NULL, error)))
        return false;
    /* QEMU reports whole MB/s: the count is a multiple of 256 pages x window */
    pages = vmctl_dirty_rate_mbps_to_pages(r->rate_mbps) * (uint64_t)r->calc_time;
    vmctl_json_add_str(out, "dirty_log_mode", vmctl_dirty_rate_mode_name(mode));
    vmctl_json_add_u64(out, "written_pages", pages);
    vmctl_json_add_u64(out, "written_bytes", pages * VMCTL_DIRTY_RATE_PAGE_SIZE);
    vmctl_json_add_u64(out, "written_quantum_pages", vmctl_dirty_rate_mbps_to_pages(1) * (uint64_t)r->calc_time);
    vmctl_json_add_bool(out, "written_sampled", mode == VMCTL_DIRTY_RATE_PAGE_SAMPLING);
    return true;
}

static uint64_t u64_of(json_object *o, const char *key)
{
    return (uint64_t)json_object_get_int64(json_object_object_get(o, key));
}

static void print_human(json_object *out)
{
    const char *mech = json_object_get_string(json_object_object_get(out, "mechanism"));

    printf("guest %s: %s over %" G_GUINT64_FORMAT " s\n", json_object_get_string(json_object_object_get(out, "guest")),
           mech, u64_of(out, "seconds"));
    printf("why             %s\n", json_object_get_string(json_object_object_get(out, "why")));
    if (json_object_object_get(out, "fallback_from"))
        printf("fell back       %s could not run: %s\n",
               json_object_get_string(json_object_object_get(out, "fallback_from")),
               json_object_get_string(json_object_object_get(out, "fallback_error")));
    if (json_object_object_get(out, "accessed_pages")) {
        g_autofree char *h = vmctl_format_size(u64_of(out, "accessed_bytes"));
        printf("working set     %" G_GUINT64_FORMAT " pages (%s) accessed, resolution %" G_GUINT64_FORMAT " bytes\n",
               u64_of(out, "accessed_pages"), h, u64_of(out, "resolution_bytes"));
    }
    if (json_object_object_get(out, "written_pages")) {
        g_autofree char *h = vmctl_format_size(u64_of(out, "written_bytes"));
        printf("write set       %" G_GUINT64_FORMAT " pages (%s) written (writes only; %s, %s%" G_GUINT64_FORMAT
               " pages)\n",
               u64_of(out, "written_pages"), h, json_object_get_string(json_object_object_get(out, "dirty_log_mode")),
               json_object_get_boolean(json_object_object_get(out, "written_sampled")) ? "sampled, steps of "
                                                                                        : "4 KiB pages, steps of ",
               u64_of(out, "written_quantum_pages"));
    }
}

int cmd_wss(int argc, char **argv, struct vmctl_ctx *ctx)
{
    gint seconds = 2;
    g_autofree char *mech_str = NULL;
    const GOptionEntry entries[] = {
        { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "interval to watch (default 2)", "N" },
        { "mechanism", 0, 0, G_OPTION_ARG_STRING, &mech_str,
          "auto (default: the best one), page-idle, damon or dirty-log; a forced one that cannot run is an error",
          "M" },
        { NULL },
    };
    g_autoptr(json_object) args = json_object_new_object(), info = NULL, out = json_object_new_object();
    g_autoptr(GError) err = NULL;
    g_autofree char *why = NULL;
    VmctlWssHost host = { 0 };
    VmctlWssMechanism m, forced = VMCTL_WSS_PAGE_IDLE;
    bool accessed;
    const char *sock;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME",
                         "Estimate a guest's working set with the best mechanism this host has: idle page tracking, "
                         "DAMON (paddr), else the pages written (QEMU dirty logging).",
                         entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 2) {
        fprintf(stderr, "vmctl wss: needs one guest NAME\n");
        return VMCTL_EXIT_USAGE;
    }
    if (seconds < 1 || seconds > VMCTL_DIRTY_RATE_CALC_TIME_MAX)
        return vmctl_cli_failf("--seconds '%d' is not within 1..%d", seconds, VMCTL_DIRTY_RATE_CALC_TIME_MAX);
    if (mech_str && strcmp(mech_str, "auto") != 0) {
        while (strcmp(vmctl_wss_mechanism_name(forced), mech_str) != 0)
            if (++forced > VMCTL_WSS_DIRTY_LOG)
                return vmctl_cli_failf("--mechanism '%s' is not one of auto, page-idle, damon, dirty-log", mech_str);
    }
    sock = vmctl_client_socket_path(ctx->socket_path);
    vmctl_json_add_str(args, "name", argv[1]);
    if (!(info = vmctl_client_call(sock, "info", args, true, &err)))
        return vmctl_cli_fail(err);

    vmctl_wss_host_probe(&host);
    host.backend_kind = json_object_get_string(json_object_object_get(info, "backend_kind"));
    m = vmctl_wss_choose(&host, &accessed, &why);
    if (mech_str && strcmp(mech_str, "auto") != 0) {
        if (forced != VMCTL_WSS_DIRTY_LOG && vmctl_wss_kind_is_dax(host.backend_kind))
            return vmctl_cli_failf("%s", why);
        if (forced != m) {
            g_free(why);
            why = g_strdup_printf("--mechanism %s", mech_str);
        }
        accessed = forced != VMCTL_WSS_DIRTY_LOG;
        if (forced != VMCTL_WSS_DIRTY_LOG && !accessed_set(forced, info, (unsigned)seconds, out, &err))
            return vmctl_cli_fail(err);
        m = forced;
        vmctl_json_add_str(out, "forced", vmctl_wss_mechanism_name(m));
    }

    vmctl_json_add_str(out, "guest", argv[1]);
    vmctl_json_add_u64(out, "seconds", (uint64_t)seconds);
    vmctl_json_add_str(out, "backend_kind", host.backend_kind ? host.backend_kind : "");
    vmctl_json_add_bool(out, "dax", vmctl_wss_kind_is_dax(host.backend_kind));
    vmctl_json_add_bool(out, "page_idle", host.page_idle);
    vmctl_json_add_bool(out, "damon_sysfs", host.damon);
    vmctl_json_add_u64(out, "damon_kdamonds_in_use", host.damon_kdamonds);
    if (!json_object_object_get(out, "forced") && m != VMCTL_WSS_DIRTY_LOG &&
        !accessed_set(m, info, (unsigned)seconds, out, &err)) {
        /* the accessed-bit mechanism could not run here: say so, then
         * give the write set */
        vmctl_json_add_str(out, "fallback_from", vmctl_wss_mechanism_name(m));
        vmctl_json_add_str(out, "fallback_error", err->message);
        g_clear_error(&err);
        m = VMCTL_WSS_DIRTY_LOG;
        accessed = false;
    }
    vmctl_json_add_str(out, "mechanism", vmctl_wss_mechanism_name(m));
    vmctl_json_add_bool(out, "accessed", accessed);
    vmctl_json_add_str(out, "why", why);
    if (m == VMCTL_WSS_DIRTY_LOG && !write_set(sock, argv[1], info, (unsigned)seconds, out, &err))
        return vmctl_cli_fail(err);
    if (ctx->json)
        vmctl_json_print(out);
    else
        print_human(out);
    return VMCTL_EXIT_OK;
}
