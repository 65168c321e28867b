/* fuzz-size.c: the size and number parsers that read user and libvirt
 * input: vmctl_parse_size, vmctl_parse_uint (src/util.h) and libvirt's
 * scaled integers, vmctl_domain_scaled (src/libvirt_domain.h).
 *
 * Input: the text to parse; for the scaled integer, "VALUE UNIT" split at
 * the first space (no space: the default unit, "b" or "KiB" as the
 * parser's callers give it). Properties: a parser says yes with
 * no error or no with one; an accepted size formats and parses back to the
 * same number; parse_uint never returns more than its bound. */
#include "config.h"

#include "fuzz.h"
#include "libvirt_domain.h"
#include "util.h"

static void check_result(bool ok, GError **err)
{
    if (ok != (*err == NULL))
        abort();
    g_clear_error(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *s = fuzz_strndup(data, size);
    GError *err = NULL;
    uint64_t v = 0, back = 0;
    bool ok;
    char *sp;

    for (int zero = 0; zero < 2; zero++) {
        ok = vmctl_parse_size(s, zero, &v, &err);
        check_result(ok, &err);
        if (ok) {
            g_autofree char *text = vmctl_format_size(v);

            if (!zero && v == 0)
                abort();
            /* The human form of a size is a size string too. */
            if (!vmctl_parse_size(text, true, &back, &err) || back != v)
                abort();
        }
    }

    ok = vmctl_parse_uint("--count", s, 1000, &v, &err);
    check_result(ok, &err);
    if (ok && v > 1000)
        abort();
    ok = vmctl_parse_uint("--count", s, UINT64_MAX, &v, &err);
    check_result(ok, &err);

    sp = strchr(s, ' ');
    if (sp)
        *sp = '\0';
    for (int d = 0; d < 2; d++) {
        ok = vmctl_domain_scaled(s, sp ? sp + 1 : NULL, d ? "KiB" : "b", &v, &err);
        check_result(ok, &err);
    }
    return 0;
}
