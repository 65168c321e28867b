/* guest_line.c: the test guests' serial protocol lines. */
#include "config.h"

#include "guest_line.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

/* The words of LINE, trailing blanks and a CR (serial consoles) dropped. */
static GStrv split_words(const char *line)
{
    g_autofree char *copy = g_strchomp(g_strdup(line ? line : ""));

    return g_strsplit(copy, " ", -1);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    guint64 v;
    char *end = NULL;

    if (!s || !g_ascii_isdigit(s[0]))
        return false;
    errno = 0;
    v = g_ascii_strtoull(s, &end, g_str_has_prefix(s, "0x") ? 16 : 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

bool vmctl_guest_line_u64(const char *line, const char *key, uint64_t *out)
{
    g_auto(GStrv) words = split_words(line);
    size_t n = strlen(key);

    /* the first word names the line; a key cannot be it */
    for (size_t i = 1; words[0] && words[i]; i++)
        if (strncmp(words[i], key, n) == 0 && words[i][n] == '=')
            return parse_u64(words[i] + n + 1, out);
    return false;
}

static void parse_first(const char *list, VmctlGuestLine *out)
{
    g_auto(GStrv) items = g_strsplit(list, ",", -1);

    for (size_t i = 0; items[i] && out->n_first < VMCTL_GUEST_LINE_FIRST_MAX; i++) {
        uint64_t v;

        if (!parse_u64(items[i], &v))
            break;
        out->first[out->n_first++] = v;
    }
}

void vmctl_guest_line_parse(const char *line, VmctlGuestLine *out)
{
    g_auto(GStrv) words = split_words(line);
    guint n = g_strv_length(words);

    *out = (VmctlGuestLine){ VMCTL_GUEST_LINE_OTHER };
    if (n == 0)
        return;
    if (strcmp(words[0], "READY") == 0) {
        out->kind = VMCTL_GUEST_LINE_READY;
    } else if (strcmp(words[0], "STAT") == 0) {
        out->kind = VMCTL_GUEST_LINE_STAT;
        out->paused = n > 1 && strcmp(words[n - 1], "paused") == 0;
    } else if (strcmp(words[0], "VERIFY") == 0) {
        out->kind = VMCTL_GUEST_LINE_VERIFY;
        if (n > 1 && strcmp(words[1], "ok") == 0) {
            out->verify_ok = true;
            return;
        }
        for (guint i = 1; i < n; i++) {
            if (g_str_has_prefix(words[i], "bad="))
                parse_u64(words[i] + 4, &out->bad);
            else if (g_str_has_prefix(words[i], "first="))
                parse_first(words[i] + 6, out);
        }
    }
}

bool vmctl_guest_line_verify_ok(const char *line)
{
    VmctlGuestLine l;

    vmctl_guest_line_parse(line, &l);
    return l.kind == VMCTL_GUEST_LINE_VERIFY && l.verify_ok;
}
