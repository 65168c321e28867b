/* lab_image.c: a lab's boot image. Finds lab/mkimage.sh (the source tree
 * when vmctl runs from its build tree, else the installed data dir) and
 * its cache, runs it, and hands its progress lines on. */
#include "config.h"

#include "lab.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *self_dir(void)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);

    return self ? g_path_get_dirname(self) : NULL;
}

/* Running from the build tree: the scripts are in the source tree. */
static bool in_build_tree(void)
{
    g_autofree char *dir = self_dir();

    return dir && strcmp(dir, VMCTL_ABS_BUILDDIR) == 0;
}

static char *script_dir(void)
{
    const char *env = g_getenv("VMCTL_LAB_DIR");

    if (env && *env)
        return g_strdup(env);
    if (in_build_tree())
        return g_build_filename(VMCTL_ABS_SRCDIR, "lab", NULL);
    return g_build_filename(VMCTL_DATADIR, "lab", NULL);
}

static char *cache_dir(void)
{
    const char *env = g_getenv("VMCTL_LAB_CACHE");

    if (env && *env)
        return g_strdup(env);
    if (in_build_tree())
        return g_build_filename(VMCTL_ABS_BUILDDIR, "lab", "cache", NULL);
    if (geteuid() == 0)
        return g_strdup("/var/cache/vmctl/lab");
    return g_build_filename(g_get_user_cache_dir(), "vmctl", "lab", NULL);
}

/* mkimage.sh's stderr, line by line: every line but the last goes to
 * `progress` as it comes; the last is held, because on failure it is the
 * builder's one-line reason and becomes part of our error instead. */
struct image_lines {
    GString *partial;
    char *held;
    void (*progress)(const char *line, void *data);
    void *data;
};

static void image_line(struct image_lines *l, const char *line)
{
    if (l->held && l->progress)
        l->progress(l->held, l->data);
    g_free(l->held);
    l->held = g_strdup(line);
}

static void image_err_data(struct image_lines *l, const char *buf, size_t n)
{
    char *nl;

    g_string_append_len(l->partial, buf, n);
    while ((nl = memchr(l->partial->str, '\n', l->partial->len))) {
        g_autofree char *line = g_strndup(l->partial->str, nl - l->partial->str);
        image_line(l, line);
        g_string_erase(l->partial, 0, nl - l->partial->str + 1);
    }
}

char *vmctl_lab_image(const char *kernel, void (*progress)(const char *line, void *data), void *data,
                      GError **error)
{
    g_autofree char *dir = script_dir();
    g_autofree char *script = g_build_filename(dir, "mkimage.sh", NULL);
    g_autofree char *cache = cache_dir();
    g_autoptr(GString) out = g_string_new(NULL);
    g_auto(GStrv) envp = g_get_environ();
    const char *argv[] = { "/bin/sh", script, kernel, cache, NULL };
    struct image_lines lines = { g_string_new(NULL), NULL, progress, data };
    int fds[2] = { -1, -1 }, status = 0;
    GPid pid;
    char *ret = NULL;

    if (!g_file_test(script, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND, "lab image builder '%s' does not exist", script);
        goto out;
    }
    if (in_build_tree() && !g_environ_getenv(envp, "VMCTL_LAB_DEB_DIRS")) {
        /* the Linux test guest's kernel package, already downloaded */
        g_autofree char *debs = g_build_filename(VMCTL_ABS_BUILDDIR, "guest-tests", "linux", "kernel", NULL);
        envp = g_environ_setenv(envp, "VMCTL_LAB_DEB_DIRS", debs, TRUE);
    }
    if (!g_spawn_async_with_pipes(NULL, (char **)argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL,
                                  &fds[0], &fds[1], error))
        goto out;
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
        char buf[4096];

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            ssize_t n;
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(fds[i], buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(fds[i]);
                fds[i] = -1;
            } else if (i == 0) {
                g_string_append_len(out, buf, n);
            } else {
                image_err_data(&lines, buf, n);
            }
        }
    }
    waitpid(pid, &status, 0);
    if (lines.partial->len)
        image_line(&lines, lines.partial->str);
    if (!g_spawn_check_wait_status(status, NULL)) {
        /* the builder's last line is its reason: "mkimage: REASON" */
        const char *why = lines.held ? lines.held : "";
        if (g_str_has_prefix(why, "mkimage: "))
            why += strlen("mkimage: ");
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "lab image of kernel '%s' could not be made: %s", kernel,
                    *why ? why : "the image builder failed");
        goto out;
    }
    if (lines.held && progress)
        progress(lines.held, data);
    g_strstrip(out->str);
    if (!*out->str || !g_file_test(out->str, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "lab image builder '%s' named no image directory",
                    script);
        goto out;
    }
    ret = g_strdup(out->str);
out:
    g_string_free(lines.partial, TRUE);
    g_free(lines.held);
    return ret;
}

