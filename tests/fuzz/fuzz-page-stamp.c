/* fuzz-page-stamp.c: the host-side page-stamp checker
 * (vmctl_pages_check_image, src/page_stamp.h) on guest RAM images, which
 * come from a guest and so are outside input.
 *
 * Input byte 0 chooses the mode: bit 0 scan (find the control page by its
 * magic) or a fixed control-page offset (bits 2-3: page 0-3); bit 1 raw or
 * synthesized image.
 * - raw: the rest of the input, zero-padded to whole pages (at most
 *   MAX_PAGES), is the image.
 * - synthesized: bytes 1-5 give page count, same pages, working-set pages,
 *   rewrites and region; the region is written with the format's own
 *   functions (vmctl_stamp_init_page, vmctl_stamp_rewrite) the way a guest
 *   does, then the remaining bytes are patches of (16-bit offset, byte).
 *
 * Properties: the counts add up (checked = sum of verdicts, bad = checked
 * - ok, plus one for a control page found behind its pages, which only
 * offset mode says and only when the pages show later writes; first pages
 * <= bad); an unpatched synthesized region has no bad
 * page and every page checked: a clean guest is never reported bad. */
#include "config.h"

#include "fuzz.h"
#include "page_stamp.h"

#define MAX_PAGES 40 /* pages per image */

static void check_report(const VmctlPagesReport *r)
{
    uint64_t sum = 0;
    g_autoptr(json_object) j = vmctl_pages_report_to_json(r);

    for (unsigned v = 0; v < VMCTL_PAGE_VERDICTS; v++)
        sum += r->counts[v];
    /* a stale control page is one bad page more than the stamped pages' */
    if (sum != r->checked || r->bad != r->checked - r->counts[VMCTL_STAMP_OK] + r->ctl_behind ||
        (r->ctl_behind && (r->scan || r->writes_seen <= r->ctl.writes)) ||
        r->n_first > MIN(r->bad, (uint64_t)VMCTL_PAGES_FIRST_MAX) || !j) {
        fprintf(stderr, "page report does not add up: checked %" G_GUINT64_FORMAT " sum %" G_GUINT64_FORMAT
                        " bad %" G_GUINT64_FORMAT " ok %" G_GUINT64_FORMAT " first %u\n",
                r->checked, sum, r->bad, r->counts[VMCTL_STAMP_OK], r->n_first);
        abort();
    }
    for (unsigned k = 0; k < r->n_first; k++)
        (void)vmctl_page_verdict_name(r->first[k].verdict);
}

/* Returns the image size in bytes. */
static size_t synthesize(uint8_t *image, const uint8_t *in, size_t n, unsigned ctl_page, const uint8_t **rest)
{
    uint8_t b[5] = { 0 };
    struct vmctl_stamp_ctl *ctl = (struct vmctl_stamp_ctl *)(image + (size_t)ctl_page * VMCTL_PAGE_SIZE);
    uint64_t *pages = (uint64_t *)(image + (size_t)(ctl_page + 1) * VMCTL_PAGE_SIZE);
    size_t avail = MAX_PAGES - ctl_page - 1;

    memcpy(b, in, MIN(n, sizeof(b)));
    *rest = in + MIN(n, sizeof(b));
    ctl->magic = VMCTL_STAMP_CTL_MAGIC;
    ctl->version = VMCTL_STAMP_VERSION;
    ctl->region = b[4] + 1;
    ctl->seed = 0x1234567ull * (b[4] + 1u);
    ctl->page_count = 1 + b[0] % avail;
    ctl->same_pages = b[1] % (ctl->page_count + 1);
    ctl->ws_pages = b[2] % (ctl->page_count - ctl->same_pages + 1);
    for (uint64_t i = 0; i < ctl->page_count; i++)
        vmctl_stamp_init_page(ctl, pages + i * VMCTL_PAGE_WORDS, i);
    ctl->stamped = ctl->page_count;
    for (unsigned w = 0; ctl->ws_pages && w < b[3]; w++) {
        uint64_t i = vmctl_stamp_next_index(ctl);

        vmctl_stamp_rewrite(ctl, pages + i * VMCTL_PAGE_WORDS, i, w % VMCTL_STAMP_INFLIGHT_MAX);
    }
    return (size_t)(ctl_page + 1 + ctl->page_count) * VMCTL_PAGE_SIZE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree uint8_t *image = NULL;
    VmctlPagesCheckOptions opts = { 0 };
    VmctlPagesReport report;
    g_autoptr(GError) err = NULL;
    unsigned ctl_page;
    size_t len;
    bool synth, patched = false, ok;

    if (size < 1)
        return 0;
    opts.scan = data[0] & 1;
    synth = data[0] & 2;
    ctl_page = (data[0] >> 2) & 3;
    opts.offset = (uint64_t)ctl_page * VMCTL_PAGE_SIZE;
    image = g_malloc0((size_t)MAX_PAGES * VMCTL_PAGE_SIZE);
    if (synth) {
        const uint8_t *p;

        len = synthesize(image, data + 1, size - 1, ctl_page, &p);
        for (; p + 3 <= data + size; p += 3) {
            size_t off = ((size_t)p[0] | (size_t)p[1] << 8) % len;

            image[off] ^= p[2] ? p[2] : 1;
            patched = true;
        }
    } else {
        size_t n = MIN(size - 1, (size_t)MAX_PAGES * VMCTL_PAGE_SIZE);

        memcpy(image, data + 1, n);
        len = (n + VMCTL_PAGE_SIZE - 1) / VMCTL_PAGE_SIZE * VMCTL_PAGE_SIZE;
    }

    memset(&report, 0, sizeof(report));
    ok = vmctl_pages_check_image(image, len, &opts, &report, &err);
    if (ok != (err == NULL))
        abort();
    if (synth && !patched && !ok) {
        fprintf(stderr, "clean synthesized region refused: %s\n", err->message);
        abort();
    }
    if (!ok)
        return 0;
    check_report(&report);
    if (synth && !patched && (report.bad != 0 ||
                               (!opts.scan && report.checked + report.in_flight != report.ctl.page_count))) {
        fprintf(stderr, "clean synthesized region: %" G_GUINT64_FORMAT " bad, %" G_GUINT64_FORMAT
                        " checked, %" G_GUINT64_FORMAT " in flight of %" G_GUINT64_FORMAT " pages\n",
                report.bad, report.checked, report.in_flight, report.ctl.page_count);
        abort();
    }
    return 0;
}
