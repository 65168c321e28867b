/* rtt.c: round-trip latency of one request line on a Unix socket that
 * answers one JSON line per request (vmctld). Prints min/median/p99/mean in
 * microseconds over N requests on one connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    const char *req;
    int n, fd;
    double *t, sum = 0;
    char buf[1 << 16];

    if (argc != 4) {
        fprintf(stderr, "usage: rtt SOCKET REQUEST-LINE N\n");
        return 2;
    }
    req = argv[2];
    n = atoi(argv[3]);
    t = calloc(n, sizeof(*t));
    strncpy(sa.sun_path, argv[1], sizeof(sa.sun_path) - 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        size_t got = 0;
        if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) < 0)
            return 1;
        for (;;) {
            ssize_t r = read(fd, buf + got, sizeof(buf) - got);
            if (r <= 0)
                return 1;
            got += r;
            if (memchr(buf, '\n', got))
                break;
            if (got == sizeof(buf))
                got = 0;
        }
        t[i] = now_us() - t0;
        sum += t[i];
    }
    qsort(t, n, sizeof(*t), cmp);
    printf("%.1f %.1f %.1f %.1f\n", t[0], t[n / 2], t[n * 99 / 100], sum / n);
    return 0;
}
