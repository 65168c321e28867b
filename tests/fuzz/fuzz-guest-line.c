/* fuzz-guest-line.c: the reader of the test guests' serial lines
 * (src/guest_line.h), which sees whatever a guest under test prints.
 *
 * Input: one line (up to the first NUL). Properties: the kind follows the
 * first word; a VERIFY line is ok only as "VERIFY ok" and then lists no bad
 * pages; at most VMCTL_GUEST_LINE_FIRST_MAX indices; a key found as a
 * number is found again by a second lookup with the same value, and a
 * value written back as "KEY=VALUE" in a fresh line reads the same. */
#include "config.h"

#include "fuzz.h"
#include "guest_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *s = fuzz_strndup(data, size);
    static const char *const keys[] = { "pages", "rate", "writes", "gen", "same", "ws", "region", "t", "bad" };
    VmctlGuestLine l;

    vmctl_guest_line_parse(s, &l);
    if (l.n_first > VMCTL_GUEST_LINE_FIRST_MAX)
        abort();
    if (l.kind != VMCTL_GUEST_LINE_VERIFY && (l.verify_ok || l.bad || l.n_first))
        abort();
    if (l.verify_ok && (l.bad || l.n_first))
        abort();
    if (l.paused && l.kind != VMCTL_GUEST_LINE_STAT)
        abort();
    if (vmctl_guest_line_verify_ok(s) != (l.kind == VMCTL_GUEST_LINE_VERIFY && l.verify_ok))
        abort();
    if (l.kind == VMCTL_GUEST_LINE_READY && !g_str_has_prefix(s, "READY"))
        abort();
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        uint64_t a = 0, b = 0;

        if (!vmctl_guest_line_u64(s, keys[i], &a))
            continue;
        if (!vmctl_guest_line_u64(s, keys[i], &b) || a != b)
            abort();
        g_autofree char *again = g_strdup_printf("STAT %s=%" G_GUINT64_FORMAT, keys[i], a);
        if (!vmctl_guest_line_u64(again, keys[i], &b) || a != b)
            abort();
    }
    return 0;
}
