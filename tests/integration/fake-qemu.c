/* fake-qemu.c: a stand-in for qemu-system-x86_64 whose QMP socket
 * misbehaves, for tests/integration/faults-qmp.sh (VMCTL_QEMU=fake-qemu).
 *
 * It takes QEMU's command line as vmctld builds it, daemonizes the way
 * `-daemonize` does (the launcher exits 0 once the pidfile is written and
 * the QMP socket listens) and then treats every QMP connection according
 * to its mode, the guest name up to its first '-' (or FAKE_QEMU_MODE):
 *   silent   accepts and never sends the greeting
 *   garbage  sends bytes that are not JSON
 *   stall    sends the greeting and never answers a command
 *   hang     like silent, and the launcher never exits (a QEMU stuck
 *            before the end of its setup)
 *   fail     like silent, and the launcher exits 1 (a failed start that
 *            leaves its daemonized half running)
 * It runs until it is killed. `--version` prints a QEMU 7.2 version line. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": []}}\r\n"
#define GARBAGE "\x01\xff{{]]]not json at all\r\n\x7f\x00}}}\r\n"

/* The path= of the chardev with id=qmp0. */
static char *qmp_path(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++) {
        char *p;

        if (strcmp(argv[i], "-chardev") != 0 || !strstr(argv[i + 1], "id=qmp0"))
            continue;
        p = strstr(argv[i + 1], "path=");
        if (!p)
            return NULL;
        p = strdup(p + 5);
        p[strcspn(p, ",")] = '\0';
        return p;
    }
    return NULL;
}

static const char *arg_after(int argc, char **argv, const char *opt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], opt) == 0)
            return argv[i + 1];
    return NULL;
}

static int listen_unix(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
        return -1;
    strcpy(a.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)
        return -1;
    return fd;
}

static void serve(int lfd, const char *mode)
{
    for (;;) {
        int c = accept(lfd, NULL, NULL);

        if (c < 0) {
            if (errno == EINTR)
                continue;
            pause();
        }
        if (strcmp(mode, "garbage") == 0) {
            if (write(c, GARBAGE, sizeof(GARBAGE) - 1) < 0)
                continue;
        } else if (strcmp(mode, "stall") == 0) {
            if (write(c, GREETING, sizeof(GREETING) - 1) < 0)
                continue;
        }
        /* the connection stays open and unanswered */
    }
}

int main(int argc, char **argv)
{
    const char *mode = getenv("FAKE_QEMU_MODE");
    const char *pidfile = arg_after(argc, argv, "-pidfile");
    char *path = qmp_path(argc, argv);
    int lfd, pfd[2];
    char b;
    pid_t pid;
    FILE *f;

    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("QEMU emulator version 7.2.0 (fake-qemu)\n");
        return 0;
    }
    if (!mode) {
        const char *name = arg_after(argc, argv, "-name");
        char *m = strdup(name && strncmp(name, "guest=", 6) == 0 ? name + 6 : "silent");

        m[strcspn(m, "-")] = '\0';
        mode = m;
    }
    if (!path || !pidfile) {
        fprintf(stderr, "fake-qemu: no -chardev id=qmp0,path= or -pidfile\n");
        return 1;
    }
    if (pipe(pfd) < 0)
        return 1;
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid > 0) { /* the launcher: exit 0 once the child is ready (_exit:
                    * what it allocated is the child's to keep) */
        close(pfd[1]);
        _exit(read(pfd[0], &b, 1) == 1 && b == '1' ? 0 : 1);
    }
    close(pfd[0]);
    setsid();
    signal(SIGPIPE, SIG_IGN);
    lfd = listen_unix(path);
    if (lfd < 0) {
        fprintf(stderr, "fake-qemu: cannot listen on '%s': %s\n", path, strerror(errno));
        return 1;
    }
    f = fopen(pidfile, "w");
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
        return 1;
    fprintf(stderr, "fake-qemu: QMP on '%s' in mode %s\n", path, mode);
    if (strcmp(mode, "fail") == 0)
        fprintf(stderr, "fake-qemu: failing on purpose\n");
    if (strcmp(mode, "hang") != 0) {
        if (write(pfd[1], strcmp(mode, "fail") == 0 ? "0" : "1", 1) != 1)
            return 1;
        close(pfd[1]);
    }
    serve(lfd, mode);
    return 0;
}
