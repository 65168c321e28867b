/* tiny.c: the tiny guest's workload, all of it in 64-bit ring 3.
 *
 * Reads its parameters from QEMU fw_cfg (file opt/vmctl/tiny), stamps a
 * region of guest RAM at a fixed guest-physical address with the shared
 * page-stamp format (include/vmctl/page_stamp.h), prints READY on COM1,
 * then rewrites working-set pages at a paced rate, prints STAT lines about
 * once a second and obeys commands read from COM1 (VERIFY, PAUSE, RESUME,
 * RATE n, STAT). guest-tests/tiny/README.md documents keys and commands.
 *
 * No state lives outside guest RAM and CPU registers, so the guest survives
 * migration. Pacing is by the TSC and forgets its backlog when the TSC
 * jumps (migration, pause), so it never bursts after a jump.
 *
 * Freestanding: no libc, no interrupts, no exceptions (an exception in
 * ring 3 ends the guest on a PVM host): every division is guarded.
 */
#include <stdint.h>

#include "vmctl/page_stamp.h"

#define REGION_BASE 0x200000ull   /* bytes: guest-physical start of the region */
#define COM1 0x3f8
#define UART_LSR (COM1 + 5)
#define LSR_DR 0x01               /* receive data ready */
#define LSR_THRE 0x20             /* transmit holding register empty */
#define FW_CFG_SEL 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_FILE_DIR 0x19
#define E820_RAM 1
#define PIT_HZ 1193182ull         /* Hz: i8254 input clock */
#define CALIB_SHORT_MS 2ull       /* ms: short TSC calibration trial against the PIT */
#define CALIB_LONG_MS 12ull       /* ms: long trial */
#define CALIB_TRIALS 8            /* trials of each length; the shortest counts */
#define RTC_EDGES_MAX 8           /* RTC second edges tried before the PIT is used */
#define BATCH_MAX 65536ull        /* rewrites between two looks at the clock */
#define JUMP_S 2ull               /* s: a longer gap between two looks at the TSC is a jump */
#define RATE_MAX 1000000000ull    /* pages/s accepted by rate= */
#define LINE_MAX 64               /* bytes: longest command line */
#define VERIFY_FIRST 8            /* bad indices printed by VERIFY */

struct params {
    uint64_t rate, ws, same, seed, region, stamp, tsc_khz, touch;
    int have_ws, have_region, have_stamp;
};

/* The writer's state: kept in .bss, i.e. in guest RAM. */
static struct {
    volatile struct vmctl_stamp_ctl *ctl;
    uint64_t hz;             /* TSC ticks per second */
    uint64_t rate;           /* pages/s, 0 = as fast as possible */
    uint64_t touch;          /* same-page touches per second */
    uint64_t slot;           /* working-set slot of the next rewrite */
    uint64_t jumps;          /* TSC jumps seen (pacing restarted) */
    int paused;
    char line[LINE_MAX];
    unsigned line_len;
} g;

/* --- ports, TSC, memory helpers ------------------------------------------ */

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ __volatile__("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;

    __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

/* The compiler may emit calls to these two; string instructions keep it
 * from turning their loops back into calls to themselves. */
void *memset(void *d, int c, unsigned long n)
{
    void *p = d;

    __asm__ __volatile__("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    void *p = d;

    __asm__ __volatile__("rep movsb" : "+D"(p), "+S"(s), "+c"(n) : : "memory");
    return d;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static int starts_with(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* --- COM1 ------------------------------------------------------------------ */

static void uart_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* divisor latch */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0x07); /* FIFOs on and cleared */
    outb(COM1 + 4, 0x03); /* DTR, RTS; OUT2 off: no IRQ */
}

static void putc_(char c)
{
    while (!(inb(UART_LSR) & LSR_THRE))
        ;
    outb(COM1, (uint8_t)c);
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void put_dec(uint64_t v)
{
    char buf[24];
    int n = 0;

    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc_(buf[--n]);
}

static void put_hex(uint64_t v)
{
    char buf[20];
    int n = 0;

    do {
        buf[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    puts_("0x");
    while (n)
        putc_(buf[--n]);
}

/* Stop for good after a fatal error: the line says why. */
static void __attribute__((noreturn)) die(const char *what, const char *detail)
{
    puts_("ERROR ");
    puts_(what);
    if (detail) {
        puts_(" '");
        puts_(detail);
        puts_("'");
    }
    puts_("\n");
    for (;;)
        __asm__ __volatile__("pause");
}

/* --- fw_cfg ---------------------------------------------------------------- */

static void fw_read(uint16_t sel, uint8_t *buf, uint32_t n)
{
    outw(FW_CFG_SEL, sel);
    for (uint32_t i = 0; i < n; i++)
        buf[i] = inb(FW_CFG_DATA);
}

/* Find a fw_cfg file by name; returns its size or -1. */
static int64_t fw_find(const char *name, uint16_t *sel)
{
    uint8_t hdr[4], ent[64];
    uint32_t count;

    fw_read(FW_CFG_FILE_DIR, hdr, 4);
    count = be32(hdr);
    /* the directory is one item: keep reading from the data port */
    for (uint32_t i = 0; i < count; i++) {
        for (int b = 0; b < 64; b++)
            ent[b] = inb(FW_CFG_DATA);
        ent[63] = 0;
        if (str_eq((const char *)ent + 8, name)) {
            *sel = (uint16_t)(ent[4] << 8 | ent[5]);
            return be32(ent);
        }
    }
    return -1;
}

/* End of the RAM below 4 GiB that contains REGION_BASE. */
static uint64_t ram_end(void)
{
    uint16_t sel;
    int64_t size = fw_find("etc/e820", &sel);
    uint8_t e[20], buf[8];
    uint64_t ram;

    if (size > 0) {
        outw(FW_CFG_SEL, sel);
        for (int64_t off = 0; off + 20 <= size; off += 20) {
            for (int b = 0; b < 20; b++)
                e[b] = inb(FW_CFG_DATA);
            uint64_t addr = le64(e), len = le64(e + 8);
            uint32_t type = (uint32_t)e[16] | (uint32_t)e[17] << 8 | (uint32_t)e[18] << 16 | (uint32_t)e[19] << 24;
            if (type == E820_RAM && addr <= REGION_BASE && addr + len > REGION_BASE)
                return addr + len;
        }
    }
    /* no e820: RAM size, capped at the lowest PCI hole start (q35) */
    fw_read(FW_CFG_RAM_SIZE, buf, 8);
    ram = le64(buf);
    return ram < 0x80000000ull ? ram : 0x80000000ull;
}

/* --- parameters ------------------------------------------------------------ */

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int base = 10;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return 0;
    for (; *s; s++) {
        int d;

        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            return 0;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return 0;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 1;
}

static void set_param(struct params *p, char *kv)
{
    char *eq = kv;
    uint64_t v;

    while (*eq && *eq != '=')
        eq++;
    if (!*eq)
        die("parameter is not key=value:", kv);
    *eq = 0;
    if (!parse_u64(eq + 1, &v))
        die("parameter value is not a number:", eq + 1);
    if (str_eq(kv, "rate"))
        p->rate = v;
    else if (str_eq(kv, "ws"))
        p->ws = v, p->have_ws = 1;
    else if (str_eq(kv, "same"))
        p->same = v;
    else if (str_eq(kv, "seed"))
        p->seed = v;
    else if (str_eq(kv, "region"))
        p->region = v, p->have_region = 1;
    else if (str_eq(kv, "stamp"))
        p->stamp = v, p->have_stamp = 1;
    else if (str_eq(kv, "tsc_khz"))
        p->tsc_khz = v;
    else if (str_eq(kv, "touch"))
        p->touch = v;
    else
        die("parameter key is unknown:", kv);
}

static void read_params(struct params *p)
{
    static char text[512];
    uint16_t sel;
    int64_t size;
    char *s;

    p->touch = 10;
    size = fw_find("opt/vmctl/tiny", &sel);
    if (size <= 0)
        return; /* all defaults */
    if (size >= (int64_t)sizeof(text))
        die("fw_cfg file opt/vmctl/tiny is longer than 511 bytes", 0);
    fw_read(sel, (uint8_t *)text, (uint32_t)size);
    text[size] = 0;
    for (s = text; *s;) {
        char *w;

        while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
            s++;
        if (!*s)
            break;
        w = s;
        while (*s && *s != ' ' && *s != '\n' && *s != '\t' && *s != '\r')
            s++;
        if (*s)
            *s++ = 0;
        set_param(p, w);
    }
    if (p->rate > RATE_MAX)
        die("rate is above 1000000000 pages/s", 0);
    if (p->same > 1000)
        die("same is above 1000 permille", 0);
    if (p->have_region && p->region == 0)
        die("region must be nonzero", 0);
}

/* --- TSC ------------------------------------------------------------------- */

/* Shortest TSC ticks over CALIB_TRIALS runs of `latch` PIT ticks on channel
 * 2 in mode 0 (gate: port 0x61 bit 0, output: port 0x61 bit 5). The TSC is
 * read before the count is armed and after the output rose, so anything
 * that delays the vCPU (a busy host) can only lengthen a trial. */
static uint64_t pit_trial_min(uint64_t latch)
{
    uint64_t best = UINT64_MAX;

    for (int t = 0; t < CALIB_TRIALS; t++) {
        uint64_t t0, t1;

        outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
        outb(0x43, 0xb0); /* channel 2, lobyte/hibyte, mode 0, binary */
        t0 = rdtsc();
        outb(0x42, (uint8_t)(latch & 0xff));
        outb(0x42, (uint8_t)(latch >> 8)); /* counting starts here */
        while (!(inb(0x61) & 0x20))
            ;
        t1 = rdtsc();
        if (t1 - t0 < best)
            best = t1 - t0;
    }
    return best;
}

/* TSC kHz: the difference of a long and a short trial cancels the fixed
 * cost of the port accesses (exits to the VMM) around each trial. */
static uint64_t tsc_khz_from_pit(void)
{
    uint64_t short_latch = PIT_HZ * CALIB_SHORT_MS / 1000, long_latch = PIT_HZ * CALIB_LONG_MS / 1000;
    uint64_t s = pit_trial_min(short_latch), l = pit_trial_min(long_latch);

    if (l <= s)
        return 0;
    return (l - s) * PIT_HZ / ((long_latch - short_latch) * 1000);
}

/* One RTC second edge: the seconds register changed between two reads,
 * each bracketed by rdtsc, so the edge lies in [*lo, *hi]. */
struct rtc_edge {
    uint64_t lo, hi;
    unsigned sec; /* the new value, binary */
};

static unsigned rtc_seconds(int bcd)
{
    uint8_t v;

    outb(0x70, 0x00); /* seconds; NMI mask bit clear */
    v = inb(0x71);
    return bcd ? (unsigned)(v >> 4) * 10 + (v & 15) : v;
}

static struct rtc_edge rtc_next_edge(int bcd)
{
    struct rtc_edge e;
    uint64_t a = rdtsc();
    unsigned s0 = rtc_seconds(bcd), s;

    for (;;) {
        uint64_t a2 = rdtsc();

        s = rtc_seconds(bcd);
        e.hi = rdtsc();
        if (s != s0)
            break;
        a = a2;
    }
    e.lo = a;
    e.sec = s;
    return e;
}

/* TSC kHz from two RTC second edges N seconds apart. A busy host that
 * deschedules the vCPU only widens an edge's bracket, it cannot shift it;
 * a pair is taken when both brackets together are under 1/200 of the
 * span (0.5%). The narrowest edge seen so far is kept as the reference.
 * Returns 0 when no pair qualified within RTC_EDGES_MAX edges; *edges
 * counts the edges used. */
static uint64_t tsc_khz_from_rtc(unsigned *edges)
{
    int bcd;
    struct rtc_edge ref, e;

    outb(0x70, 0x0b);
    bcd = !(inb(0x71) & 0x04); /* register B bit 2: binary mode */
    ref = rtc_next_edge(bcd);
    for (*edges = 1; *edges < RTC_EDGES_MAX;) {
        uint64_t span, n;

        e = rtc_next_edge(bcd);
        ++*edges;
        span = (e.lo + e.hi) / 2 - (ref.lo + ref.hi) / 2;
        n = (e.sec + 60 - ref.sec) % 60;
        if (n && (e.hi - e.lo) + (ref.hi - ref.lo) < span / 200)
            return span / (n * 1000);
        if (e.hi - e.lo < ref.hi - ref.lo)
            ref = e;
    }
    return 0;
}

/* --- the region -------------------------------------------------------------- */

static volatile uint64_t *page_of(uint64_t i)
{
    return (volatile uint64_t *)(uintptr_t)(REGION_BASE + (i + 1) * VMCTL_PAGE_SIZE);
}

/* Stamp every page, announcing progress in ctl->stamped. The control page
 * gets its magic last, so a reader never takes a half-written control page
 * (RAM is not cleared on a reset) for a valid one. */
static void stamp_region(const struct params *p, uint64_t end)
{
    volatile struct vmctl_stamp_ctl *ctl = (volatile struct vmctl_stamp_ctl *)(uintptr_t)REGION_BASE;
    uint64_t bytes = p->have_stamp ? p->stamp : end - REGION_BASE;
    uint64_t n;

    if (bytes > end - REGION_BASE)
        die("stamp is larger than the RAM above 2 MiB", 0);
    if (bytes < 2 * VMCTL_PAGE_SIZE)
        die("stamp is smaller than two pages", 0);
    n = bytes / VMCTL_PAGE_SIZE - 1;
    ctl->magic = 0;
    vmctl_stamp_barrier();
    ctl->version = VMCTL_STAMP_VERSION;
    ctl->region = p->have_region ? p->region : (vmctl_stamp_pattern(p->seed, 0x7469, 0) | 1);
    ctl->seed = p->seed;
    ctl->page_count = n;
    ctl->same_pages = n * p->same / 1000;
    ctl->ws_pages = p->have_ws ? p->ws : n - ctl->same_pages;
    if (ctl->ws_pages > n - ctl->same_pages)
        ctl->ws_pages = n - ctl->same_pages;
    ctl->stamped = 0;
    ctl->writes = 0;
    for (unsigned s = 0; s < VMCTL_STAMP_INFLIGHT_MAX; s++)
        ctl->inflight[s] = 0;
    ctl->verify_runs = 0;
    ctl->verify_bad = 0;
    vmctl_stamp_barrier();
    ctl->magic = VMCTL_STAMP_CTL_MAGIC;
    g.ctl = ctl;
    for (uint64_t i = 0; i < n; i++) {
        vmctl_stamp_init_page((const struct vmctl_stamp_ctl *)ctl, (uint64_t *)page_of(i), i);
        vmctl_stamp_barrier();
        ctl->stamped = i + 1;
    }
}

/* Walk the whole region against THE RULE. Runs between two rewrites of the
 * only writer, so no page is in flight; the in-flight test is kept anyway. */
static void verify(void)
{
    const struct vmctl_stamp_ctl *ctl = (const struct vmctl_stamp_ctl *)g.ctl;
    uint64_t bad = 0, first[VERIFY_FIRST];

    for (uint64_t i = 0; i < ctl->stamped; i++) {
        if (vmctl_stamp_in_flight(ctl, i))
            continue;
        if (vmctl_stamp_check_page(ctl, (const uint64_t *)page_of(i), i) != VMCTL_STAMP_OK) {
            if (bad < VERIFY_FIRST)
                first[bad] = i;
            bad++;
        }
    }
    g.ctl->verify_runs = g.ctl->verify_runs + 1;
    g.ctl->verify_bad = bad;
    if (!bad) {
        puts_("VERIFY ok pages=");
        put_dec(ctl->stamped);
    } else {
        puts_("VERIFY bad=");
        put_dec(bad);
        puts_(" first=");
        for (uint64_t k = 0; k < bad && k < VERIFY_FIRST; k++) {
            if (k)
                putc_(',');
            put_dec(first[k]);
        }
    }
    puts_("\n");
}

/* n working-set rewrites; g.slot follows vmctl_stamp_next_index() without
 * a division per page. */
static void rewrite(uint64_t n)
{
    volatile struct vmctl_stamp_ctl *ctl = g.ctl;
    uint64_t same = ctl->same_pages, ws = ctl->ws_pages, slot = g.slot;

    for (; n; n--) {
        uint64_t i = same + slot;

        vmctl_stamp_rewrite(ctl, page_of(i), i, 0);
        if (++slot == ws)
            slot = 0;
    }
    g.slot = slot;
}

/* --- commands -------------------------------------------------------------- */

static void print_stat(uint64_t rate)
{
    uint64_t ws = g.ctl->ws_pages;

    puts_("STAT gen=");
    put_dec(ws ? g.ctl->writes / ws : 0);
    puts_(" writes=");
    put_dec(g.ctl->writes);
    puts_(" rate=");
    put_dec(rate);
    puts_(" jumps=");
    put_dec(g.jumps);
    puts_(g.paused ? " paused\n" : "\n");
}

static void command(const char *line, uint64_t last_rate)
{
    uint64_t v;

    if (str_eq(line, "VERIFY")) {
        verify();
    } else if (str_eq(line, "PAUSE")) {
        g.paused = 1;
        puts_("OK PAUSE\n");
    } else if (str_eq(line, "RESUME")) {
        g.paused = 0;
        puts_("OK RESUME\n");
    } else if (starts_with(line, "RATE ") && parse_u64(line + 5, &v) && v <= RATE_MAX) {
        g.rate = v;
        puts_("OK RATE ");
        put_dec(v);
        puts_("\n");
    } else if (str_eq(line, "STAT")) {
        print_stat(last_rate);
    } else if (line[0]) {
        puts_("ERROR command is unknown '");
        puts_(line);
        puts_("'\n");
    }
}

/* Returns 1 when a command ran (it may have taken a while). */
static int poll_uart(uint64_t last_rate)
{
    int ran = 0;

    while (inb(UART_LSR) & LSR_DR) {
        char c = (char)inb(COM1);

        if (c == '\n' || c == '\r') {
            g.line[g.line_len] = 0;
            command(g.line, last_rate);
            g.line_len = 0;
            ran = 1;
        } else if (g.line_len < LINE_MAX - 1) {
            g.line[g.line_len++] = c;
        }
    }
    return ran;
}

/* --- main loop ------------------------------------------------------------- */

static void __attribute__((noreturn)) run(void)
{
    uint64_t hz = g.hz, poll_ticks = hz / 1000, now, last;
    uint64_t period_start, period_base; /* pacing: writes due by now = base + elapsed * rate / hz */
    uint64_t stat_start, stat_writes, next_poll, next_touch, last_rate = 0, touch_i = 0;

    now = last = rdtsc();
    period_start = stat_start = now;
    period_base = stat_writes = g.ctl->writes;
    next_poll = now + poll_ticks;
    next_touch = now;
    for (;;) {
        uint64_t writes = g.ctl->writes, n = 0;

        now = rdtsc();
        /* A TSC that went back or leapt by more than JUMP_S (migration, a
         * paused VM): start the pacing afresh, never catch up a gap. A
         * shorter gap (the vCPU was not scheduled) is caught up, so the
         * rate holds against the wall clock on a busy host. */
        if (now < last || now - last > JUMP_S * hz) {
            period_start = stat_start = now;
            period_base = stat_writes = writes;
            next_poll = now;
            next_touch = now;
            g.jumps++;
        }
        last = now;
        if (!g.paused && g.ctl->ws_pages) {
            if (g.rate == 0) {
                n = BATCH_MAX;
            } else {
                uint64_t due;

                while (now - period_start >= hz) {
                    period_start += hz;
                    period_base += g.rate;
                }
                due = period_base + (now - period_start) * g.rate / hz;
                /* more than JUMP_S behind (rate above what the guest
                 * can do): drop the backlog rather than burst for ever */
                if (due > writes + JUMP_S * g.rate) {
                    period_start = now;
                    period_base = due = writes;
                }
                n = due > writes ? due - writes : 0;
                if (n > BATCH_MAX)
                    n = BATCH_MAX;
            }
            rewrite(n);
        } else {
            period_start = now;
            period_base = writes;
        }
        if (!g.paused && g.touch && g.ctl->same_pages && now >= next_touch) {
            uint64_t i = touch_i++ % g.ctl->same_pages;

            vmctl_stamp_touch_same(g.ctl, page_of(i), i, 0);
            next_touch = now + hz / g.touch;
        }
        if (now - stat_start >= hz) {
            uint64_t w = g.ctl->writes;

            last_rate = (w - stat_writes) * hz / (now - stat_start);
            print_stat(last_rate);
            stat_start = now;
            stat_writes = w;
        }
        if (now >= next_poll) {
            if (poll_uart(last_rate)) {
                /* a command may have changed the rate or taken long */
                now = rdtsc();
                period_start = now;
                period_base = g.ctl->writes;
                last = now;
            }
            next_poll = now + poll_ticks;
        }
    }
}

void tiny_main(void);

void tiny_main(void)
{
    extern char __bss_start[], __bss_end[];
    struct params p = { 0 };
    uint8_t sig[4];
    uint64_t end;
    const char *tsc_src;
    unsigned edges = 0;

    memset(__bss_start, 0, (unsigned long)(__bss_end - __bss_start));
    uart_init();
    puts_("tiny: ring 3\n");
    fw_read(FW_CFG_SIGNATURE, sig, 4);
    if (sig[0] != 'Q' || sig[1] != 'E' || sig[2] != 'M' || sig[3] != 'U')
        die("fw_cfg signature is not QEMU", 0);
    read_params(&p);
    tsc_src = "param";
    if (!p.tsc_khz && (p.tsc_khz = tsc_khz_from_rtc(&edges)))
        tsc_src = "rtc";
    if (!p.tsc_khz && (p.tsc_khz = tsc_khz_from_pit()))
        tsc_src = "pit";
    g.hz = p.tsc_khz * 1000;
    if (g.hz < 1000000)
        die("TSC frequency is below 1 MHz", 0);
    g.rate = p.rate;
    g.touch = p.touch;
    end = ram_end();
    stamp_region(&p, end);
    puts_("READY region=");
    put_hex(g.ctl->region);
    puts_(" pages=");
    put_dec(g.ctl->page_count);
    puts_(" base=");
    put_hex(REGION_BASE);
    puts_(" same=");
    put_dec(g.ctl->same_pages);
    puts_(" ws=");
    put_dec(g.ctl->ws_pages);
    puts_(" rate=");
    put_dec(g.rate);
    puts_(" tsc_khz=");
    put_dec(g.hz / 1000);
    puts_(" tsc_src=");
    puts_(tsc_src);
    if (tsc_src[0] == 'r') {
        puts_(":");
        put_dec(edges);
    }
    puts_("\n");
    run();
}
