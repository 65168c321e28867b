/* pages-check-mkimage.c: write a stamped region into a file for the
 * `vmctl pages check` tests, using the shared format's own functions the way
 * a guest does.
 *
 *   pages-check-mkimage FILE OFFSET PAGES SAME WS WRITES [scatter]
 *
 * The control page goes to byte OFFSET; with "scatter" the control page and
 * the pages are spread in a shuffled order over an image three times the
 * region (zeros in between), as blocks of a file on a filesystem. */
#include "config.h"

#include "vmctl/page_stamp.h"

#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    uint64_t off, pages, n, size;
    struct vmctl_stamp_ctl *ctl;
    g_autofree uint8_t *region = NULL, *image = NULL;
    g_autoptr(GError) err = NULL;
    bool scatter;

    if (argc < 7) {
        g_printerr("usage: %s FILE OFFSET PAGES SAME WS WRITES [scatter]\n", argv[0]);
        return 2;
    }
    off = g_ascii_strtoull(argv[2], NULL, 0);
    pages = g_ascii_strtoull(argv[3], NULL, 0);
    scatter = argc > 7 && strcmp(argv[7], "scatter") == 0;
    n = pages + 1;
    region = g_malloc0(n * VMCTL_PAGE_SIZE);
    ctl = (struct vmctl_stamp_ctl *)(void *)region;
    *ctl = (struct vmctl_stamp_ctl){
        .magic = VMCTL_STAMP_CTL_MAGIC,
        .version = VMCTL_STAMP_VERSION,
        .region = 0xabcdef,
        .seed = 1,
        .page_count = pages,
        .same_pages = g_ascii_strtoull(argv[4], NULL, 0),
        .ws_pages = g_ascii_strtoull(argv[5], NULL, 0),
    };
    for (uint64_t i = 0; i < pages; i++) {
        vmctl_stamp_init_page(ctl, (uint64_t *)(void *)(region + (i + 1) * VMCTL_PAGE_SIZE), i);
        ctl->stamped = i + 1;
    }
    for (uint64_t w = g_ascii_strtoull(argv[6], NULL, 0); w && ctl->ws_pages; w--) {
        uint64_t i = vmctl_stamp_next_index(ctl);

        vmctl_stamp_rewrite(ctl, (uint64_t *)(void *)(region + (i + 1) * VMCTL_PAGE_SIZE), i, 0);
    }
    if (!scatter) {
        size = off + n * VMCTL_PAGE_SIZE;
        image = g_malloc0(size);
        memcpy(image + off, region, n * VMCTL_PAGE_SIZE);
        for (uint64_t i = 0; i < pages; i++)
            g_print("%" G_GUINT64_FORMAT "\n", off + (i + 1) * VMCTL_PAGE_SIZE);
    } else {
        GRand *rand = g_rand_new_with_seed(1);
        uint64_t slots = 3 * n;
        g_autofree uint64_t *perm = g_new(uint64_t, slots);

        size = slots * VMCTL_PAGE_SIZE;
        image = g_malloc0(size);
        for (uint64_t k = 0; k < slots; k++)
            perm[k] = k;
        for (uint64_t k = slots - 1; k > 0; k--) {
            uint64_t j = (uint64_t)g_rand_int_range(rand, 0, (gint32)k + 1), t = perm[k];

            perm[k] = perm[j];
            perm[j] = t;
        }
        for (uint64_t k = 0; k < n; k++)
            memcpy(image + perm[k] * VMCTL_PAGE_SIZE, region + k * VMCTL_PAGE_SIZE, VMCTL_PAGE_SIZE);
        for (uint64_t k = 1; k < n; k++)
            g_print("%" G_GUINT64_FORMAT "\n", perm[k] * VMCTL_PAGE_SIZE);
        g_rand_free(rand);
    }
    if (!g_file_set_contents(argv[1], (const char *)image, (gssize)size, &err)) {
        g_printerr("%s\n", err->message);
        return 1;
    }
    return 0;
}
