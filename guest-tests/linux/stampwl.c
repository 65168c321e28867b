/* stampwl.c: the page-stamp workload of the Linux test guest.
 *
 * Runs as a static program inside the guest's initramfs. It stamps a region
 * (a control page + N pages, include/vmctl/page_stamp.h), then one writer
 * thread rewrites the working set round-robin at a paced rate while the main
 * thread speaks the line protocol of the test guests on its stdin/stdout
 * (the serial console):
 *
 *   out  READY region=0x<id> pages=N ws=N same=N rate=N mode=anon|file sync=0|1
 *   out  STAT gen=G writes=W rate=R t=MS [paused]   about once per second
 *   in   VERIFY   -> VERIFY ok pages=N  |  VERIFY bad=N first=I,J,K
 *   in   PAUSE    -> OK PAUSE writes=W gen=G
 *   in   RESUME   -> OK RESUME
 *   in   RATE n   -> OK RATE n                  (pages/s, 0 = as fast as possible)
 *   in   STAT     -> a STAT line now
 *   in   POWEROFF -> OK POWEROFF, then exit 0 (the init script powers the guest off)
 * (the replies are the tiny guest's, guest-tests/tiny, plus the counters)
 *
 * Parameters come from the kernel command line (vmctl.KEY=VALUE) and may be
 * overridden by KEY=VALUE arguments: rate, ws, same (per mille), seed,
 * region, pages, mode (anon|file), file (path for mode=file).
 *
 * Only the writer thread touches the region while it runs; VERIFY and PAUSE
 * stop it at a page boundary first, so a check never sees a half-done
 * rewrite and THE RULE of page_stamp.h holds for every page it reads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vmctl/page_stamp.h"

#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif

#define STAT_PERIOD_MS 1000     /* ms between STAT lines */
#define PACE_SLEEP_NS 200000    /* ns the paced writer sleeps when ahead */
#define FIRST_BAD_MAX 8         /* bad pages listed by VERIFY */
#define WRITER_SLOT 0           /* inflight[] slot of the single writer */
#define DEVDAX_ALIGN (2u << 20) /* bytes: mapping granule of a devdax device */

struct params {
    uint64_t rate;  /* pages/s, 0 = unpaced */
    uint64_t ws;    /* working-set pages */
    uint64_t same;  /* identical pages, per mille of pages */
    uint64_t seed;
    uint64_t region;
    uint64_t pages; /* stamped pages (the control page comes on top) */
    char mode[16];
    char file[256];
};

static struct params P = {
    .rate = 5000, .ws = 4096, .same = 0, .seed = 1, .region = 0, .pages = 16384,
    .mode = "anon", .file = "/mnt/pmem/stamp",
};

static volatile struct vmctl_stamp_ctl *ctl;
static uint8_t *pages_base; /* first stamped page */
static int sync_map;        /* region mapped with MAP_SYNC */

/* Writer control, under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int pause_req;       /* main thread wants the writer stopped */
static int writer_parked;   /* writer acknowledged and waits */
static uint64_t cur_rate;   /* pages/s */
static volatile uint64_t rate_epoch; /* bumped on RATE/RESUME: restart pacing */
static volatile int pause_poll; /* lock-free hint for the hot loop */
static uint64_t stat_t, stat_w; /* ns and ctl.writes at the last STAT line */

static void out(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile uint64_t *page_at(uint64_t i)
{
    return (volatile uint64_t *)(pages_base + i * VMCTL_PAGE_SIZE);
}

static int set_param(const char *key, const char *val)
{
    if (!strcmp(key, "mode"))
        snprintf(P.mode, sizeof(P.mode), "%s", val);
    else if (!strcmp(key, "file"))
        snprintf(P.file, sizeof(P.file), "%s", val);
    else {
        uint64_t *dst = !strcmp(key, "rate") ? &P.rate : !strcmp(key, "ws") ? &P.ws
                      : !strcmp(key, "same") ? &P.same : !strcmp(key, "seed") ? &P.seed
                      : !strcmp(key, "region") ? &P.region : !strcmp(key, "pages") ? &P.pages : NULL;
        char *end;

        if (!dst)
            return 0; /* a key for someone else (init script) */
        errno = 0;
        *dst = strtoull(val, &end, 0);
        if (errno || end == val || *end) {
            out("ERROR parameter '%s' value '%s' is not a number\n", key, val);
            return -1;
        }
    }
    return 0;
}

static int parse_kv(const char *kv, const char *prefix)
{
    char key[64];
    const char *eq;
    size_t plen = strlen(prefix);

    if (strncmp(kv, prefix, plen))
        return 0;
    kv += plen;
    eq = strchr(kv, '=');
    if (!eq || (size_t)(eq - kv) >= sizeof(key))
        return 0;
    memcpy(key, kv, eq - kv);
    key[eq - kv] = 0;
    return set_param(key, eq + 1);
}

static int read_cmdline(void)
{
    char buf[4096], *tok, *save;
    FILE *f = fopen("/proc/cmdline", "r");
    size_t n;

    if (!f)
        return 0; /* not in the guest (a host-side run): arguments only */
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    for (tok = strtok_r(buf, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
        if (parse_kv(tok, "vmctl.") < 0)
            return -1;
    return 0;
}

/* Map control page + stamped pages. mode=file maps a shared file, with
 * MAP_SYNC when the file system allows it (a DAX mount). */
static void *map_region(size_t len)
{
    struct stat st;
    void *p;
    int fd;

    if (!strcmp(P.mode, "anon")) {
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED)
            out("ERROR mmap of %zu anonymous bytes failed: %s\n", len, strerror(errno));
        return p == MAP_FAILED ? NULL : p;
    }
    if (strcmp(P.mode, "file")) {
        out("ERROR mode '%s' is unknown: use anon or file\n", P.mode);
        return NULL;
    }
    fd = open(P.file, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        out("ERROR open of '%s' failed: %s\n", P.file, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)) {
        /* devdax: no sizing, and a mapping must cover whole device pages */
        len = (len + DEVDAX_ALIGN - 1) / DEVDAX_ALIGN * DEVDAX_ALIGN;
    } else if (ftruncate(fd, (off_t)len) < 0 || posix_fallocate(fd, 0, (off_t)len) != 0) {
        out("ERROR sizing '%s' to %zu bytes failed: %s\n", P.file, len, strerror(errno));
        close(fd);
        return NULL;
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC | MAP_POPULATE, fd, 0);
    if (p != MAP_FAILED) {
        sync_map = 1;
    } else {
        out("NOTE MAP_SYNC refused on '%s' (%s): mapping MAP_SHARED\n", P.file, strerror(errno));
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    }
    close(fd);
    if (p == MAP_FAILED) {
        out("ERROR mmap of '%s' failed: %s\n", P.file, strerror(errno));
        return NULL;
    }
    return p;
}

static int setup_region(void)
{
    size_t len = (size_t)(P.pages + 1) * VMCTL_PAGE_SIZE;
    struct vmctl_stamp_ctl init;
    void *base;

    if (P.pages == 0) {
        out("ERROR pages '0' must be at least 1\n");
        return -1;
    }
    base = map_region(len);
    if (!base)
        return -1;
    ctl = base;
    pages_base = (uint8_t *)base + VMCTL_PAGE_SIZE;

    memset(&init, 0, sizeof(init));
    init.magic = VMCTL_STAMP_CTL_MAGIC;
    init.version = VMCTL_STAMP_VERSION;
    init.region = P.region ? P.region : 0x4c494e0000000000ull + P.seed; /* "LIN" + seed */
    init.seed = P.seed;
    init.page_count = P.pages;
    init.same_pages = P.pages * (P.same > 1000 ? 1000 : P.same) / 1000;
    init.ws_pages = P.ws;
    if (init.ws_pages > P.pages - init.same_pages)
        init.ws_pages = P.pages - init.same_pages;
    init.stamped = 0;
    /* A reused file must not look valid before its pages are restamped. */
    memset((void *)ctl, 0, VMCTL_PAGE_SIZE);
    vmctl_stamp_barrier();
    memcpy((void *)ctl, &init, sizeof(init));

    for (uint64_t i = 0; i < P.pages; i++) {
        vmctl_stamp_init_page((const struct vmctl_stamp_ctl *)ctl, (uint64_t *)page_at(i), i);
        vmctl_stamp_barrier();
        ctl->stamped = i + 1;
    }
    return 0;
}

/* The paced writer's last catch-up: every page due by guest time t was
 * written, ctl.writes was w. STAT reports this pair rather than its own
 * reading, so that a vCPU descheduled by the host (the clock jumps, the
 * writer has not run yet) does not show up as a rate error. A sequence
 * count keeps the pair consistent for the reader. */
static uint64_t prog_seq, prog_t, prog_w;

static void publish_progress(uint64_t t, uint64_t w)
{
    __atomic_store_n(&prog_seq, prog_seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&prog_t, t, __ATOMIC_RELAXED);
    __atomic_store_n(&prog_w, w, __ATOMIC_RELAXED);
    __atomic_store_n(&prog_seq, prog_seq + 1, __ATOMIC_RELEASE);
}

static int read_progress(uint64_t *t, uint64_t *w)
{
    for (int tries = 0; tries < 100; tries++) {
        uint64_t s0 = __atomic_load_n(&prog_seq, __ATOMIC_ACQUIRE);

        *t = __atomic_load_n(&prog_t, __ATOMIC_RELAXED);
        *w = __atomic_load_n(&prog_w, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(s0 & 1) && s0 == __atomic_load_n(&prog_seq, __ATOMIC_RELAXED))
            return s0 != 0;
    }
    return 0;
}

/* Writer side of a pause: park until the main thread lets go. */
static void writer_park(void)
{
    pthread_mutex_lock(&lock);
    while (pause_req) {
        writer_parked = 1;
        pthread_cond_broadcast(&cond);
        pthread_cond_wait(&cond, &lock);
    }
    writer_parked = 0;
    pthread_mutex_unlock(&lock);
}

static void *writer(void *arg)
{
    uint64_t epoch = ~0ull, t0 = 0, w0 = 0, rate = 0;

    (void)arg;
    for (;;) {
        if (pause_poll)
            writer_park();
        if (ctl->ws_pages == 0) {
            struct timespec ts = {0, 1000000};

            nanosleep(&ts, NULL); /* nothing to rewrite: only answer pauses */
            continue;
        }
        if (epoch != rate_epoch) {
            pthread_mutex_lock(&lock);
            epoch = rate_epoch;
            rate = cur_rate;
            pthread_mutex_unlock(&lock);
            t0 = now_ns();
            w0 = ctl->writes;
        }
        if (rate == 0) {
            for (int k = 0; k < 256; k++) {
                uint64_t i = vmctl_stamp_next_index((const struct vmctl_stamp_ctl *)ctl);

                vmctl_stamp_rewrite(ctl, page_at(i), i, WRITER_SLOT);
            }
            continue;
        }
        /* Paced: catch up to rate * elapsed, then sleep a little. */
        uint64_t t = now_ns();
        uint64_t due = (uint64_t)((unsigned __int128)(t - t0) * rate / 1000000000u); /* no overflow for days */

        while (ctl->writes - w0 < due && !pause_poll) {
            uint64_t i = vmctl_stamp_next_index((const struct vmctl_stamp_ctl *)ctl);

            vmctl_stamp_rewrite(ctl, page_at(i), i, WRITER_SLOT);
        }
        if (ctl->writes - w0 >= due) {
            struct timespec ts = {0, PACE_SLEEP_NS};

            publish_progress(t, ctl->writes);
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Main side of a pause: returns once the writer is parked. */
static void pause_writer(void)
{
    pthread_mutex_lock(&lock);
    pause_req = 1;
    pause_poll = 1;
    while (!writer_parked)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

static void resume_writer(void)
{
    pthread_mutex_lock(&lock);
    pause_req = 0;
    pause_poll = 0;
    rate_epoch++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static void verify(void)
{
    const struct vmctl_stamp_ctl *c = (const struct vmctl_stamp_ctl *)ctl;
    uint64_t bad = 0, first[FIRST_BAD_MAX];

    for (uint64_t i = 0; i < c->stamped; i++) {
        if (vmctl_stamp_in_flight(c, i))
            continue;
        if (vmctl_stamp_check_page(c, (const uint64_t *)page_at(i), i) != VMCTL_STAMP_OK) {
            if (bad < FIRST_BAD_MAX)
                first[bad] = i;
            bad++;
        }
    }
    ctl->verify_runs = ctl->verify_runs + 1;
    ctl->verify_bad = bad;
    if (bad == 0) {
        out("VERIFY ok pages=%" PRIu64 "\n", c->stamped);
        return;
    }
    printf("VERIFY bad=%" PRIu64 " first=", bad);
    for (uint64_t k = 0; k < bad && k < FIRST_BAD_MAX; k++)
        printf("%s%" PRIu64, k ? "," : "", first[k]);
    out("\n");
}

/* A STAT line: the rate is over the time since the previous one. */
static void print_stat(int paused)
{
    uint64_t t = now_ns(), w = ctl->writes, pt, pw;

    /* A paced writer that caught up since the last line: its pair. */
    if (!paused && cur_rate && read_progress(&pt, &pw) && pt > stat_t) {
        t = pt;
        w = pw;
    }

    out("STAT gen=%" PRIu64 " writes=%" PRIu64 " rate=%" PRIu64 " t=%" PRIu64 "%s\n",
        ctl->ws_pages ? w / ctl->ws_pages : 0, w, t > stat_t ? (w - stat_w) * 1000000000ull / (t - stat_t) : 0,
        t / 1000000ull, paused ? " paused" : "");
    stat_t = t;
    stat_w = w;
}

/* One input line; returns 1 when the guest should power off. */
static int command(char *line, int *paused)
{
    line[strcspn(line, "\r\n")] = 0;
    if (!strcmp(line, "VERIFY")) {
        if (!*paused)
            pause_writer();
        verify();
        if (!*paused)
            resume_writer();
    } else if (!strcmp(line, "PAUSE")) {
        if (!*paused)
            pause_writer();
        *paused = 1;
        out("OK PAUSE writes=%" PRIu64 " gen=%" PRIu64 "\n", ctl->writes,
            ctl->ws_pages ? ctl->writes / ctl->ws_pages : 0);
    } else if (!strcmp(line, "RESUME")) {
        if (*paused)
            resume_writer();
        *paused = 0;
        out("OK RESUME\n");
    } else if (!strncmp(line, "RATE ", 5)) {
        char *end;
        uint64_t r = strtoull(line + 5, &end, 0);

        if (end == line + 5 || *end) {
            out("ERROR rate '%s' is not a number\n", line + 5);
            return 0;
        }
        pthread_mutex_lock(&lock);
        cur_rate = r;
        rate_epoch++;
        pthread_mutex_unlock(&lock);
        out("OK RATE %" PRIu64 "\n", r);
    } else if (!strcmp(line, "STAT")) {
        print_stat(*paused);
    } else if (!strcmp(line, "POWEROFF") || !strcmp(line, "poweroff")) {
        if (!*paused)
            pause_writer();
        if (sync_map || !strcmp(P.mode, "file"))
            msync((void *)ctl, (size_t)(P.pages + 1) * VMCTL_PAGE_SIZE, MS_SYNC);
        out("OK POWEROFF\n");
        return 1;
    } else if (line[0]) {
        out("ERROR command '%s' is unknown: use VERIFY, PAUSE, RESUME, RATE n, STAT or POWEROFF\n", line);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct termios tio;
    pthread_t th;
    char line[256];
    size_t used = 0;
    int paused = 0;

    if (read_cmdline() < 0)
        return 2;
    for (int a = 1; a < argc; a++)
        if (parse_kv(argv[a], "") < 0)
            return 2;
    /* Commands must not echo back into the protocol. */
    if (tcgetattr(0, &tio) == 0) {
        tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        tio.c_lflag |= ICANON;
        tcsetattr(0, TCSANOW, &tio);
    }
    if (setup_region() < 0)
        return 1;
    cur_rate = P.rate;
    rate_epoch = 1;
    if (pthread_create(&th, NULL, writer, NULL) != 0) {
        out("ERROR writer thread could not start\n");
        return 1;
    }
    out("READY region=0x%" PRIx64 " pages=%" PRIu64 " ws=%" PRIu64 " same=%" PRIu64 " rate=%" PRIu64
        " mode=%s sync=%d\n",
        ctl->region, ctl->page_count, ctl->ws_pages, ctl->same_pages, P.rate, P.mode, sync_map);

    stat_t = now_ns();
    stat_w = ctl->writes;
    for (;;) {
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        uint64_t t = now_ns();
        uint64_t next = stat_t + STAT_PERIOD_MS * 1000000ull;
        int wait_ms = (int)(next > t ? (next - t) / 1000000ull : 0);
        int r = poll(&pfd, 1, wait_ms);

        if (now_ns() - stat_t >= STAT_PERIOD_MS * 1000000ull)
            print_stat(paused);
        if (r <= 0 || !(pfd.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t n = read(0, line + used, sizeof(line) - 1 - used);

        if (n <= 0) {
            struct timespec ts = {0, 100000000};

            nanosleep(&ts, NULL); /* no input: keep the STAT lines coming */
            continue;
        }
        used += (size_t)n;
        line[used] = 0;
        char *nl;

        while ((nl = strpbrk(line, "\r\n"))) {
            *nl = 0;
            if (command(line, &paused))
                return 0;
            used -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, used + 1);
        }
        if (used == sizeof(line) - 1)
            used = 0; /* an overlong line: drop it */
    }
}
