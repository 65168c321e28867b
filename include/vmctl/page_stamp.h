/* page_stamp.h: the page-stamp format shared by the test guests
 * (guest-tests/tiny, guest-tests/linux) and the host-side checker
 * (src/page_stamp.c). One header so the two sides cannot drift.
 *
 * Freestanding: needs only <stdint.h>, no libc, so the tiny guest can use it.
 *
 * A stamped region is a control page followed by page_count stamped pages:
 *
 *   page 0                      struct vmctl_stamp_ctl
 *   pages 1 .. same_pages       "same" pages: identical content, in this
 *                               guest and in every other guest (KSM food)
 *   next ws_pages pages         working set, rewritten round-robin
 *   the rest                    stamped once, never rewritten
 *
 * Stamped pages are numbered from 0 (the first page after the control
 * page). Each carries a struct vmctl_page_stamp in its first 64 bytes and a
 * body pattern that depends on (seed, index) only. Rewriting a page changes
 * its generation word and updates the checksum incrementally: two stores,
 * which lets a guest dirty ~10^8 pages/s.
 *
 * THE RULE (checked by the guests' VERIFY and by `vmctl pages check`):
 *   for every stamped page i < ctl.stamped that is not in ctl.inflight[]:
 *   - magic is VMCTL_STAMP_MAGIC (VMCTL_STAMP_SAME_MAGIC for same pages),
 *   - index == i and region == ctl.region (same pages: index 0, region 0),
 *   - checksum == vmctl_stamp_checksum(page),
 *   - generation == vmctl_stamp_expected_gen(ctl, i).
 * It holds at every instruction boundary of the writer, because a writer
 * announces the page in ctl.inflight[] before touching it and bumps
 * ctl.writes before clearing the announcement (see vmctl_stamp_rewrite()).
 * So a guest paused or killed at any instant leaves a region that obeys it,
 * and a page that a migration failed to carry shows up as a generation
 * behind its expected value.
 */
#ifndef VMCTL_PAGE_STAMP_H
#define VMCTL_PAGE_STAMP_H

#include <stdint.h>

#define VMCTL_PAGE_SIZE 4096u                 /* bytes */
#define VMCTL_PAGE_WORDS (VMCTL_PAGE_SIZE / 8) /* 64-bit words per page */
#define VMCTL_STAMP_INFLIGHT_MAX 8            /* writer slots (vCPUs/threads) */
#define VMCTL_STAMP_VERSION 1

#define VMCTL_STAMP_MAGIC 0x31504d5453544d56ull      /* "VMTSTMP1" */
#define VMCTL_STAMP_SAME_MAGIC 0x31454d4153544d56ull /* "VMTSAME1" */
#define VMCTL_STAMP_CTL_MAGIC 0x314c544354544d56ull  /* "VMTCTL1" */

/* Word positions inside a stamped page. */
enum {
    VMCTL_STAMP_W_MAGIC = 0,
    VMCTL_STAMP_W_REGION = 1,
    VMCTL_STAMP_W_INDEX = 2,
    VMCTL_STAMP_W_GEN = 3,
    VMCTL_STAMP_W_CSUM = 4,
    VMCTL_STAMP_W_BODY = 8, /* first word of the body pattern */
};

struct vmctl_page_stamp {
    uint64_t magic;
    uint64_t region;     /* region id of the writer (0 for same pages) */
    uint64_t index;      /* stamped-page index (0 for same pages) */
    uint64_t generation; /* times the page was rewritten after its stamp */
    uint64_t checksum;   /* vmctl_stamp_checksum() of the page */
    uint64_t reserved[3];
};

/* The control page. Only the writer changes it; readers take it as it is
 * in the image they look at. */
struct vmctl_stamp_ctl {
    uint64_t magic;       /* VMCTL_STAMP_CTL_MAGIC */
    uint64_t version;     /* VMCTL_STAMP_VERSION */
    uint64_t region;      /* region id: nonzero, differs between guests */
    uint64_t seed;        /* body pattern seed of the non-same pages */
    uint64_t page_count;  /* stamped pages after the control page */
    uint64_t same_pages;  /* pages [0, same_pages) are same pages */
    uint64_t ws_pages;    /* pages [same_pages, same_pages + ws_pages) rewritten */
    uint64_t stamped;     /* pages [0, stamped) are stamped (init progress) */
    uint64_t writes;      /* completed working-set rewrites, all writers */
    uint64_t inflight[VMCTL_STAMP_INFLIGHT_MAX]; /* stamped index + 1 being written, 0 none */
    uint64_t verify_runs; /* VERIFY passes completed by the guest */
    uint64_t verify_bad;  /* bad pages found by the last VERIFY */
};

/* Same pages use this fixed seed so that every guest has them identical. */
#define VMCTL_STAMP_SAME_SEED 0x5a4d5341454d4153ull

/* Per-word checksum weight: odd, so a change of any single word always
 * changes the checksum (odd numbers are invertible mod 2^64). */
static inline uint64_t vmctl_stamp_weight(uint32_t word)
{
    return 0x9e3779b97f4a7c15ull * (2ull * word + 1);
}

/* Body pattern: splitmix64 of (seed, index, word). */
static inline uint64_t vmctl_stamp_pattern(uint64_t seed, uint64_t index, uint32_t word)
{
    uint64_t z = seed + index * 0xbf58476d1ce4e5b9ull + (uint64_t)word * 0x9e3779b97f4a7c15ull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Checksum over every word of the page but the checksum word. */
static inline uint64_t vmctl_stamp_checksum(const uint64_t *page)
{
    uint64_t a = 0, b = 0;

    for (uint32_t w = 0; w < VMCTL_PAGE_WORDS; w += 2) {
        a += page[w] * vmctl_stamp_weight(w);
        b += page[w + 1] * vmctl_stamp_weight(w + 1);
    }
    return a + b - page[VMCTL_STAMP_W_CSUM] * vmctl_stamp_weight(VMCTL_STAMP_W_CSUM);
}

static inline int vmctl_stamp_is_same(const struct vmctl_stamp_ctl *ctl, uint64_t i)
{
    return i < ctl->same_pages;
}

/* Generation a page must have once ctl->writes rewrites have completed.
 * Rewrite number w (0-based) goes to working-set slot w % ws_pages and
 * sets that page's generation to w / ws_pages + 1. */
static inline uint64_t vmctl_stamp_expected_gen(const struct vmctl_stamp_ctl *ctl, uint64_t i)
{
    uint64_t k;

    if (i < ctl->same_pages || i >= ctl->same_pages + ctl->ws_pages || ctl->ws_pages == 0)
        return 0;
    k = i - ctl->same_pages;
    return ctl->writes / ctl->ws_pages + (k < ctl->writes % ctl->ws_pages ? 1 : 0);
}

/* The page the next rewrite must go to (a single writer; several writers
 * must serialise the choice and the ctl->writes update). */
static inline uint64_t vmctl_stamp_next_index(const struct vmctl_stamp_ctl *ctl)
{
    return ctl->same_pages + ctl->writes % ctl->ws_pages;
}

/* Stamp page i with generation 0 (writer side, before it is announced in
 * ctl->stamped). */
static inline void vmctl_stamp_init_page(const struct vmctl_stamp_ctl *ctl, uint64_t *page, uint64_t i)
{
    int same = vmctl_stamp_is_same(ctl, i);
    uint64_t seed = same ? VMCTL_STAMP_SAME_SEED : ctl->seed;
    uint64_t index = same ? 0 : i;

    page[VMCTL_STAMP_W_MAGIC] = same ? VMCTL_STAMP_SAME_MAGIC : VMCTL_STAMP_MAGIC;
    page[VMCTL_STAMP_W_REGION] = same ? 0 : ctl->region;
    page[VMCTL_STAMP_W_INDEX] = index;
    page[VMCTL_STAMP_W_GEN] = 0;
    page[VMCTL_STAMP_W_CSUM] = 0;
    for (uint32_t w = 5; w < VMCTL_PAGE_WORDS; w++)
        page[w] = w < VMCTL_STAMP_W_BODY ? 0 : vmctl_stamp_pattern(seed, index, w);
    page[VMCTL_STAMP_W_CSUM] = vmctl_stamp_checksum(page);
}

#define vmctl_stamp_barrier() __asm__ __volatile__("" ::: "memory")

/* Rewrite working-set page i: announce, bump generation and checksum,
 * count, withdraw. The order keeps THE RULE true at every instruction
 * boundary (x86 stores are not reordered with other stores). */
static inline void vmctl_stamp_rewrite(volatile struct vmctl_stamp_ctl *ctl, volatile uint64_t *page, uint64_t i,
                                       unsigned slot)
{
    uint64_t g = page[VMCTL_STAMP_W_GEN];

    ctl->inflight[slot] = i + 1;
    vmctl_stamp_barrier();
    page[VMCTL_STAMP_W_GEN] = g + 1;
    page[VMCTL_STAMP_W_CSUM] = page[VMCTL_STAMP_W_CSUM] + vmctl_stamp_weight(VMCTL_STAMP_W_GEN);
    vmctl_stamp_barrier();
    ctl->writes = ctl->writes + 1;
    vmctl_stamp_barrier();
    ctl->inflight[slot] = 0;
}

/* Rewrite a same page with its own content: a real store (breaks a KSM
 * merge by copy-on-write) that leaves the page identical. */
static inline void vmctl_stamp_touch_same(volatile struct vmctl_stamp_ctl *ctl, volatile uint64_t *page, uint64_t i,
                                          unsigned slot)
{
    ctl->inflight[slot] = i + 1;
    vmctl_stamp_barrier();
    page[VMCTL_STAMP_W_BODY] = page[VMCTL_STAMP_W_BODY];
    vmctl_stamp_barrier();
    ctl->inflight[slot] = 0;
}

/* Problems a page can have, in the order they are checked. */
enum vmctl_stamp_verdict {
    VMCTL_STAMP_OK = 0,
    VMCTL_STAMP_BAD_MAGIC,
    VMCTL_STAMP_BAD_INDEX,  /* index or region of another page */
    VMCTL_STAMP_BAD_CSUM,   /* content corrupted */
    VMCTL_STAMP_STALE,      /* generation behind the expected: a lost write */
    VMCTL_STAMP_AHEAD,      /* generation ahead of the expected */
};

/* Check stamped page i of a region against THE RULE. Pages in flight must be
 * skipped by the caller (vmctl_stamp_in_flight()). */
static inline enum vmctl_stamp_verdict vmctl_stamp_check_page(const struct vmctl_stamp_ctl *ctl,
                                                              const uint64_t *page, uint64_t i)
{
    int same = vmctl_stamp_is_same(ctl, i);
    uint64_t want;

    if (page[VMCTL_STAMP_W_MAGIC] != (same ? VMCTL_STAMP_SAME_MAGIC : VMCTL_STAMP_MAGIC))
        return VMCTL_STAMP_BAD_MAGIC;
    if (page[VMCTL_STAMP_W_INDEX] != (same ? 0 : i) || page[VMCTL_STAMP_W_REGION] != (same ? 0 : ctl->region))
        return VMCTL_STAMP_BAD_INDEX;
    if (page[VMCTL_STAMP_W_CSUM] != vmctl_stamp_checksum(page))
        return VMCTL_STAMP_BAD_CSUM;
    want = vmctl_stamp_expected_gen(ctl, i);
    if (page[VMCTL_STAMP_W_GEN] < want)
        return VMCTL_STAMP_STALE;
    if (page[VMCTL_STAMP_W_GEN] > want)
        return VMCTL_STAMP_AHEAD;
    return VMCTL_STAMP_OK;
}

static inline int vmctl_stamp_in_flight(const struct vmctl_stamp_ctl *ctl, uint64_t i)
{
    for (unsigned s = 0; s < VMCTL_STAMP_INFLIGHT_MAX; s++)
        if (ctl->inflight[s] == i + 1)
            return 1;
    return 0;
}

#endif /* VMCTL_PAGE_STAMP_H */
