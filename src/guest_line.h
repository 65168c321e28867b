/* guest_line.h: the lines the test guests print on their serial console
 * (guest-tests/tiny/README.md, guest-tests/linux/README.md):
 *   READY region=0x... pages=N ... rate=R ...
 *   STAT gen=G writes=W rate=R ...[ paused]
 *   VERIFY ok pages=N  |  VERIFY bad=N first=I,J,K
 * one word, then `key=value` words. The host reads them from guests whose
 * memory it is testing, so any bytes may arrive: the reader takes any text
 * and only says what it found. Library code: never prints. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    VMCTL_GUEST_LINE_OTHER, /* not a protocol line (kernel messages, ...) */
    VMCTL_GUEST_LINE_READY,
    VMCTL_GUEST_LINE_STAT,
    VMCTL_GUEST_LINE_VERIFY,
} VmctlGuestLineKind;

#define VMCTL_GUEST_LINE_FIRST_MAX 8 /* bad page indices a VERIFY line lists */

typedef struct {
    VmctlGuestLineKind kind;
    bool verify_ok;                            /* "VERIFY ok" */
    uint64_t bad;                              /* VERIFY bad=N */
    uint64_t first[VMCTL_GUEST_LINE_FIRST_MAX]; /* VERIFY first=I,J,K */
    unsigned n_first;
    bool paused; /* a STAT line ending in "paused" */
} VmctlGuestLine;

/* Read LINE (no newline; NULL reads as an empty line). A VERIFY line that
 * is neither "ok" nor a well-formed "bad=N" (N > 0) reads as not ok with
 * bad 0: whoever checks must treat only verify_ok as success. */
void vmctl_guest_line_parse(const char *line, VmctlGuestLine *out);

/* The unsigned value of the word KEY=VALUE of LINE (decimal or 0x hex);
 * false when there is no such word or VALUE is not a whole number. */
bool vmctl_guest_line_u64(const char *line, const char *key, uint64_t *out);

/* Whether LINE is a VERIFY line that says ok. */
bool vmctl_guest_line_verify_ok(const char *line);
