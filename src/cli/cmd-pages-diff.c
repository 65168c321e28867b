/* cmd-pages-diff.c: `vmctl pages diff A B`, the page-level comparison of two
 * memory images (whole, from offsets, or per RAM block). Exit 0 when the
 * compared pages are identical, 1 when some differ, 2 when the comparison
 * could not run (bad command line, unreadable image, sizes that differ). */
#include "config.h"

#include "cli/builtin.h"
#include "page_diff.h"
#include "page_work.h"

#include <inttypes.h>
#include <stdio.h>

#define MAX_REPORT_LIMIT 1000000u /* pages listed per block at most */

static void print_block(const struct vmctl_page_diff_block *blk)
{
    g_autoptr(GString) line = g_string_new(NULL);

    g_string_append_printf(line, "%s: %" PRIu64 " pages, %" PRIu64 " differ", blk->name, blk->pages,
                           blk->pages_differ);
    for (guint i = 0; i < blk->listed->len; i++) {
        const struct vmctl_page_diff_page *d = &g_array_index(blk->listed, struct vmctl_page_diff_page, i);

        g_string_append(line, i == 0 ? ": " : ", ");
        if (d->offset_a == d->offset_b)
            g_string_append_printf(line, "%" PRIu64 " (0x%" PRIx64 "+0x%x)", d->page, d->offset_a, d->byte);
        else
            g_string_append_printf(line, "%" PRIu64 " (0x%" PRIx64 "/0x%" PRIx64 "+0x%x)", d->page, d->offset_a,
                                   d->offset_b, d->byte);
    }
    if (blk->listed->len && blk->pages_differ > blk->listed->len)
        g_string_append_printf(line, ", ... %" PRIu64 " more", blk->pages_differ - blk->listed->len);
    printf("%s\n", line->str);
}

static void print_human(const struct vmctl_page_diff *diff)
{
    g_autofree char *bytes = vmctl_format_size(diff->bytes);

    for (guint i = 0; i < diff->blocks->len; i++)
        print_block(g_ptr_array_index(diff->blocks, i));
    printf("total: %" PRIu64 " pages, %" PRIu64 " differ (%s in %.3f s, %.2f GB/s)\n", diff->pages,
           diff->pages_differ, bytes, diff->elapsed_ns / 1e9, diff->bytes_per_sec / 1e9);
}

static int cannot_run(const GError *error)
{
    vmctl_cli_fail(error);
    return VMCTL_EXIT_USAGE;
}

int cmd_pages_diff(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *off_a = NULL, *off_b = NULL, *length = NULL, *max_report = NULL, *threads = NULL;
    g_auto(GStrv) blocks = NULL;
    const GOptionEntry entries[] = {
        { "offset-a", 0, 0, G_OPTION_ARG_STRING, &off_a, "start at this offset of A (size string)", "N" },
        { "offset-b", 0, 0, G_OPTION_ARG_STRING, &off_b, "start at this offset of B (size string)", "N" },
        { "length", 0, 0, G_OPTION_ARG_STRING, &length, "compare this many bytes (default: to the end)", "N" },
        { "block", 0, 0, G_OPTION_ARG_STRING_ARRAY, &blocks,
          "compare a named range (RAM block) and report it; repeatable", "NAME:OFFA:OFFB:LEN" },
        { "max-report", 0, 0, G_OPTION_ARG_STRING, &max_report, "differing pages listed per block (default 10)",
          "N" },
        { "threads", 0, 0, G_OPTION_ARG_STRING, &threads, "compare with N threads (default 0: one per online CPU)",
          "N" },
        { NULL },
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(vmctl_page_diff) diff = NULL;
    g_autoptr(GArray) ranges = g_array_new(FALSE, TRUE, sizeof(struct vmctl_page_diff_range));
    struct vmctl_page_diff_opts opts;
    uint64_t v;

    g_array_set_clear_func(ranges, (GDestroyNotify)vmctl_page_diff_range_clear);
    if (!vmctl_cli_parse(ctx, &argc, &argv, "A B",
                         "Compare two memory images page by page (4 KiB): whole, from offsets, or per RAM block.\n"
                         "Prints per block the pages compared, how many differ and the first of them as\n"
                         "PAGE (OFFSET_A[/OFFSET_B]+FIRST_DIFFERING_BYTE), PAGE counted from the block start.\n"
                         "Exit 0: identical, 1: pages differ, 2: the comparison could not run.",
                         entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 3) {
        vmctl_cli_failf("pages diff needs two images A and B, got %d", argc - 1);
        return VMCTL_EXIT_USAGE;
    }
    vmctl_page_diff_opts_init(&opts);
    if (blocks && (off_a || off_b || length)) {
        vmctl_cli_failf("--block cannot be combined with --offset-a, --offset-b or --length");
        return VMCTL_EXIT_USAGE;
    }
    if ((off_a && !vmctl_parse_size(off_a, true, &opts.offset_a, &err)) ||
        (off_b && !vmctl_parse_size(off_b, true, &opts.offset_b, &err)) ||
        (length && !vmctl_parse_size(length, false, &opts.length, &err)))
        return cannot_run(err);
    opts.has_length = length != NULL;
    if (max_report) {
        if (!vmctl_parse_uint("--max-report", max_report, MAX_REPORT_LIMIT, &v, &err))
            return cannot_run(err);
        opts.max_report = (unsigned)v;
    }
    if (threads) {
        if (!vmctl_parse_uint("--threads", threads, VMCTL_PAGE_WORK_MAX_WORKERS, &v, &err))
            return cannot_run(err);
        opts.threads = (unsigned)v;
    }
    for (size_t i = 0; blocks && blocks[i]; i++) {
        struct vmctl_page_diff_range r = { 0 };

        if (!vmctl_page_diff_parse_range(blocks[i], &r, &err))
            return cannot_run(err);
        g_array_append_val(ranges, r);
    }
    opts.ranges = (const struct vmctl_page_diff_range *)ranges->data;
    opts.n_ranges = ranges->len;

    diff = vmctl_page_diff_images(argv[1], argv[2], &opts, &err);
    if (!diff)
        return cannot_run(err);
    if (ctx->json) {
        g_autoptr(json_object) o = vmctl_page_diff_to_json(diff);
        vmctl_json_print(o);
    } else {
        print_human(diff);
    }
    return diff->pages_differ ? VMCTL_EXIT_FAIL : VMCTL_EXIT_OK;
}
