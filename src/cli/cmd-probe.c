/* cmd-probe.c: `vmctl probe dirty-log`, the in-process KVM probe of dirty
 * logging for every backing and tracking mode. Prints a table (or JSON) of
 * the results that dirty_track.c hands back. */
#include "config.h"

#include "cli/builtin.h"
#include "dirty_track.h"
#include "kvm_vmm.h"
#include "probe_backing.h"

#include <stdio.h>
#include <string.h>

#define PROBE_DEFAULT_SIZE (64 * MiB) /* bytes */
#define PROBE_DEFAULT_ROUNDS 8

static char *fmt_ns(uint64_t ns)
{
    if (ns >= 10000000)
        return g_strdup_printf("%.0fms", ns / 1e6);
    if (ns >= 1000000)
        return g_strdup_printf("%.1fms", ns / 1e6);
    if (ns >= 10000)
        return g_strdup_printf("%.0fus", ns / 1e3);
    if (ns >= 1000)
        return g_strdup_printf("%.1fus", ns / 1e3);
    return g_strdup_printf("%" G_GUINT64_FORMAT "ns", ns);
}

static void print_pages(const char *what, const char *row, const struct vmctl_dirty_pages *p)
{
    GString *s;

    if (!p->count)
        return;
    s = g_string_new(NULL);
    for (uint32_t i = 0; i < p->listed; i++)
        g_string_append_printf(s, "%s%" G_GUINT64_FORMAT, i ? ", " : "", p->pages[i]);
    printf("  %s: %s: pages %s%s (%" G_GUINT64_FORMAT " occurrence(s) over all harvests)\n", row, what, s->str,
           p->listed == VMCTL_DIRTY_LISTED && p->count > p->listed ? ", ..." : "", p->count);
    g_string_free(s, TRUE);
}

static void print_table(GPtrArray *results)
{
    int w = 12; /* width of the backing column */

    for (guint i = 0; i < results->len; i++)
        w = MAX(w, (int)strlen(((const struct vmctl_dirty_result *)results->pdata[i])->backing));
    printf("%-*s %-7s %-7s %8s %8s %-14s %-10s %s\n", w, "BACKING", "MODE", "VERDICT", "MISSING", "EXTRA",
           "ORACLE MISSES", "HUGE b/d/a", "HARVEST/GiB few | all");
    for (guint i = 0; i < results->len; i++) {
        const struct vmctl_dirty_result *r = results->pdata[i];
        g_autofree char *oracle = NULL, *few = NULL, *all = NULL, *huge = NULL;
        g_autofree char *verdict = g_ascii_strup(vmctl_dirty_verdict_name(r->verdict), -1);

        if (r->verdict == VMCTL_DIRTY_NA || r->verdict == VMCTL_DIRTY_ERROR) {
            printf("%-*s %-7s %-7s %s\n", w, r->backing, r->mode, verdict, r->reason ? r->reason : "");
            continue;
        }
        oracle = r->oracle_applies ? g_strdup_printf("%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " chg",
                                                     r->oracle_misses.count, r->oracle_changed)
                                   : g_strdup("n/a");
        /* huge (2M + 1G) mappings before / during / after dirty logging */
        huge = r->huge_applicable ? g_strdup_printf("%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                                                    r->stats_before.pages_2m + r->stats_before.pages_1g,
                                                    r->stats_during.pages_2m + r->stats_during.pages_1g,
                                                    r->stats_after.pages_2m + r->stats_after.pages_1g)
                                  : g_strdup("n/a");
        few = fmt_ns(r->few.total_ns_per_gib);
        all = fmt_ns(r->all.total_ns_per_gib);
        printf("%-*s %-7s %-7s %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT " %-14s %-10s %s | %s\n", w, r->backing,
               r->mode, verdict, r->missing.count, r->extra.count, oracle, huge, few, all);
    }
    for (guint i = 0; i < results->len; i++) {
        const struct vmctl_dirty_result *r = results->pdata[i];
        g_autofree char *row = g_strdup_printf("%s/%s", r->backing, r->mode);

        if (r->verdict != VMCTL_DIRTY_PASS && r->verdict != VMCTL_DIRTY_FAIL)
            continue;
        print_pages("missing from the harvest", row, &r->missing);
        print_pages("harvested but never written", row, &r->extra);
        print_pages("changed in the backing but not harvested", row, &r->oracle_misses);
        if (r->backing_page_size > 4096 || r->huge_applicable)
            printf("  %s: %s\n", row, r->huge_verdict);
    }
}

static int probe_dirty_log(const char *const *backings, bool backings_given, const char *const *modes,
                           bool modes_given, const struct vmctl_dirty_probe_opts *opts, struct vmctl_ctx *ctx)
{
    g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func(vmctl_dirty_result_free);
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    bool failed;

    failed = !vmctl_dirty_probe_matrix(backings, backings_given, modes, modes_given, opts, results, errors, &err);
    if (err)
        return vmctl_cli_fail(err);
    for (guint i = 0; i < errors->len; i++)
        vmctl_cli_failf("%s", (const char *)errors->pdata[i]);

    if (ctx->json) {
        g_autoptr(json_object) o = json_object_new_object();
        json_object *arr = json_object_new_array();

        vmctl_json_add_str(o, "probe", "dirty-log");
        vmctl_json_add_u64(o, "size", opts->size);
        vmctl_json_add_u64(o, "rounds", opts->rounds);
        vmctl_json_add_u64(o, "seed", opts->seed);
        for (guint i = 0; i < results->len; i++)
            json_object_array_add(arr, vmctl_dirty_result_to_json(results->pdata[i]));
        json_object_object_add(o, "results", arr);
        vmctl_json_add_bool(o, "pass", !failed);
        vmctl_json_add_injected_faults(o);
        vmctl_json_print(o);
    } else {
        g_autofree char *fault = vmctl_injected_faults();

        print_table(results);
        if (fault)
            printf("under an injected test fault: %s (not a measurement of this host)\n", fault);
    }
    return failed ? VMCTL_EXIT_FAIL : VMCTL_EXIT_OK;
}

int cmd_probe(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_auto(GStrv) backings = NULL;
    g_auto(GStrv) modes = NULL;
    g_autofree char *size_str = NULL;
    g_autoptr(GError) err = NULL;
    gint rounds = PROBE_DEFAULT_ROUNDS;
    gint64 seed = 1;
    gboolean bare = FALSE;
    gint ring_entries = 0;
    struct vmctl_dirty_probe_opts opts = { .size = PROBE_DEFAULT_SIZE };
    const GOptionEntry entries[] = {
        { "backend", 'b', 0, G_OPTION_ARG_STRING_ARRAY, &backings,
          "backing of the probed slot (repeatable): anonymous, thp, memfd, shm, file[:DIR], hugetlbfs[:DIR], "
          "devdax:/dev/daxX.Y, fsdax:PATH; default: every one reachable here",
          "SPEC" },
        { "mode", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &modes,
          "dirty tracking mode (repeatable): bitmap, clear, ring; default: every mode KVM offers", "MODE" },
        { "size", 's', 0, G_OPTION_ARG_STRING, &size_str, "size of the probed slot (default 64M)", "SIZE" },
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "rounds of guest writes (default 8)", "N" },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the random rounds (default 1)", "N" },
        { "bare", 0, 0, G_OPTION_ARG_NONE, &bare, "also time the bare ioctls on the same VM and slot", NULL },
        { "ring-entries", 0, 0, G_OPTION_ARG_INT, &ring_entries,
          "dirty ring size in entries, a power of two (default: KVM's maximum up to 65536)", "N" },
        { NULL },
    };
    g_autofree const char **default_modes = NULL;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "dirty-log",
                         "Run the in-process KVM probes. dirty-log: does KVM dirty logging report exactly the pages a "
                         "guest wrote, for each backing and mode.",
                         entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 2 || strcmp(argv[1], "dirty-log") != 0) {
        fprintf(stderr, "vmctl probe: probe '%s' is unknown: the probes are 'dirty-log'\n", argc > 1 ? argv[1] : "");
        return VMCTL_EXIT_USAGE;
    }
    if (size_str && !vmctl_parse_size(size_str, false, &opts.size, &err))
        return vmctl_cli_fail(err);
    if (opts.size % (2 * MiB)) {
        g_autofree char *h = vmctl_format_size(opts.size);
        return vmctl_cli_failf("--size '%s' is not a multiple of 2M", h);
    }
    if (opts.size > VMCTL_VMM_PROBE_MAX) {
        g_autofree char *h = vmctl_format_size(opts.size);
        return vmctl_cli_failf("--size '%s' is larger than the %lluG the probe guest maps", h,
                               VMCTL_VMM_PROBE_MAX >> 30);
    }
    if (rounds < 1 || rounds > 10000)
        return vmctl_cli_failf("--rounds '%d' is not in [1, 10000]", rounds);
    opts.rounds = (unsigned)rounds;
    opts.seed = (uint64_t)seed;
    opts.bare = bare;
    if (ring_entries < 0)
        return vmctl_cli_failf("--ring-entries '%d' is negative", ring_entries);
    opts.ring_entries = (uint32_t)ring_entries;
    /* tests only: let the ring fill to exercise DIRTY_RING_FULL exits */
    opts.ring_fill = g_strcmp0(g_getenv("VMCTL_PROBE_RING_FILL"), "1") == 0;
    if (!vmctl_dirty_fault_parse(g_getenv("VMCTL_PROBE_FAULT"), &opts.fault, &err))
        return vmctl_cli_fail(err);
    for (size_t i = 0; backings && backings[i]; i++)
        if (!vmctl_probe_backing_spec_ok(backings[i], &err))
            return vmctl_cli_fail(err);
    for (size_t i = 0; modes && modes[i]; i++)
        if (!vmctl_dirty_mode_find(modes[i]))
            return vmctl_cli_failf("mode '%s' is unknown: use bitmap, clear or ring", modes[i]);
    default_modes = g_new0(const char *, vmctl_dirty_n_modes + 1);
    for (size_t i = 0; i < vmctl_dirty_n_modes; i++)
        default_modes[i] = vmctl_dirty_modes[i].name;

    if (!backings) {
        /* the defaults, with the DAX this machine offers to a probe */
        g_autoptr(GPtrArray) found = vmctl_probe_backing_default_specs();
        g_ptr_array_add(found, NULL);
        return probe_dirty_log((const char *const *)found->pdata, false,
                               modes ? (const char *const *)modes : default_modes, modes != NULL, &opts, ctx);
    }
    return probe_dirty_log((const char *const *)backings, true, modes ? (const char *const *)modes : default_modes,
                           modes != NULL, &opts, ctx);
}
