/* lab.c: boot a vmctl lab (see lab.h), run one command in it, stream its
 * output back and clean up: virtiofsd and QEMU are our children, killed by
 * pid (and by the kernel if we die: PR_SET_PDEATHSIG), and the lab's
 * directory (NVDIMM files, job, sockets, logs) is removed. */
#include "config.h"

#include "lab.h"

#include "host.h"
#include "pmem_backend.h"
#include "qemu_cmdline.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LAB_DEFAULT_MEMORY (2 * GiB)        /* bytes of L1 RAM */
#define LAB_DEFAULT_CPUS 2
#define LAB_DEFAULT_HUGEPAGES 128           /* 2M pages: 256 MiB pool */
#define LAB_DEFAULT_NVDIMM_SIZE (512 * MiB) /* bytes, each */
#define LAB_CONSOLE_KEEP 25                 /* console lines kept for errors */
#define LAB_SOCKET_WAIT_MS 10000            /* virtiofsd's socket must appear */
#define LAB_BOOT_TIMEOUT_S 240              /* s from QEMU's start to LAB READY */
#define LAB_BOOT_ATTEMPTS 2                 /* boots tried before giving up */

/* region0: device-dax, region1: fsdax, region2: device-dax (a second DAX
 * device, so that a guest can move from one device-dax to another) */
static const char *const lab_nvdimm_kinds[] = { "devdax", "fsdax", "devdax" };

void vmctl_lab_options_default(VmctlLabOptions *o)
{
    memset(o, 0, sizeof(*o));
    o->kernel = "bookworm";
    o->accel = VMCTL_LAB_ACCEL_AUTO;
    o->memory = LAB_DEFAULT_MEMORY;
    o->cpus = LAB_DEFAULT_CPUS;
    o->hugepages = LAB_DEFAULT_HUGEPAGES;
    o->nvdimm_size = LAB_DEFAULT_NVDIMM_SIZE;
}

bool vmctl_lab_inside(void)
{
    return g_file_test("/run/vmctl-lab/job", G_FILE_TEST_EXISTS);
}

/* ---- running ------------------------------------------------------------- */

/* A lab's directory holds only files (job, socket, logs, pid). */
static void remove_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}

/* The lab's own directory, $TMPDIR/vmctl-lab-PID-N (mode 0700): the first
 * N that does not exist yet, so labs of one vmctl never share one, and a
 * stale one names the vmctl that made it. */
static char *make_lab_dir(GError **error)
{
    for (unsigned n = 0; n < 1000; n++) {
        g_autofree char *dir = g_strdup_printf("%s/vmctl-lab-%d-%u", g_get_tmp_dir(), (int)getpid(), n);

        if (mkdir(dir, 0700) == 0)
            return g_steal_pointer(&dir);
        if (errno != EEXIST) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "lab directory '%s' cannot be made: %s", dir,
                        g_strerror(errno));
            return NULL;
        }
    }
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "no free lab directory name in '%s'", g_get_tmp_dir());
    return NULL;
}

/* A vmctl killed by SIGKILL cannot clean up: its QEMU and virtiofsd die
 * with it (PR_SET_PDEATHSIG), and the next lab removes its directory. */
static void sweep_stale(void)
{
    const char *tmp = g_get_tmp_dir();
    GDir *d = g_dir_open(tmp, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *dir = NULL, *pidf = NULL, *pid = NULL;
        struct stat st;

        if (!g_str_has_prefix(name, "vmctl-lab-"))
            continue;
        dir = g_build_filename(tmp, name, NULL);
        pidf = g_build_filename(dir, "pid", NULL);
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
            continue;
        pid = vmctl_read_file_trimmed(pidf, NULL);
        if (pid && atoi(pid) > 0 && (kill(atoi(pid), 0) == 0 || errno != ESRCH))
            continue;
        if (!pid && time(NULL) - st.st_mtime < 60)
            continue; /* a lab being made right now */
        remove_dir(dir);
    }
    if (d)
        g_dir_close(d);
}


struct VmctlLab {
    char *dir;          /* the lab's own directory: removed at the end */
    char *image_dir;
    char *kernel_name;  /* as asked */
    char *kernel_line;  /* the image's "kernel" file: NAME PACKAGE VERSION */
    char *release;
    VmctlLabAccel accel;
    const char *accel_reason;
    GPid qemu_pid, vfs_pid;
    int console, out, err; /* our ends of the three serial sockets */
    uint64_t start_ns, ready_ns, end_ns;
    GString *console_buf;  /* a partial console line */
    GQueue *console_tail;  /* the last LAB_CONSOLE_KEEP lines */
    int console_log;       /* fd of console.log in dir */
    GPtrArray *pmem;       /* "LAB PMEM ..." lines, without the prefix */
    char *kvm_line;
    char *error_line;      /* "LAB ERROR ..." */
    bool has_status;
    int status;
    bool boot_failed;      /* no LAB READY: the command never started */
};

static void child_setup(gpointer data)
{
    (void)data;
    /* our children die with us, and a terminal's Ctrl-C reaches only us:
     * we decide how the lab ends */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpgid(0, 0);
}

static const char *virtiofsd_binary(void)
{
    static const char *const known[] = { "/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd" };
    const char *env = g_getenv("VMCTL_VIRTIOFSD");
    static char *found;

    if (env && *env)
        return env;
    if (!found)
        found = g_find_program_in_path("virtiofsd");
    if (found)
        return found;
    for (size_t i = 0; i < G_N_ELEMENTS(known); i++)
        if (g_file_test(known[i], G_FILE_TEST_IS_EXECUTABLE))
            return known[i];
    return NULL;
}

static bool spawn(char **argv, int out_fd, const int *src, const int *dst, size_t n, GPid *pid, GError **error)
{
    return g_spawn_async_with_pipes_and_fds(NULL, (const char *const *)argv, NULL,
                                            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL, child_setup,
                                            NULL, -1, out_fd, out_fd, src, dst, n, pid, NULL, NULL, NULL, error);
}

static bool start_virtiofsd(VmctlLab *lab, const char *sock, int log_fd, GError **error)
{
    const char *bin = virtiofsd_binary();
    g_autofree char *help = NULL;
    g_autofree char *sockopt = g_strdup_printf("--socket-path=%s", sock);
    uint64_t deadline;

    if (!bin) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND,
                    "virtiofsd is not installed (QEMU 7.2's is /usr/lib/qemu/virtiofsd; or set VMCTL_VIRTIOFSD)");
        return false;
    }
    /* the Rust virtiofsd and QEMU's C one name their options differently;
     * the host's root is shared as is, so chroot, not a pivot_root into / */
    {
        const char *hv[] = { bin, "--help", NULL };
        g_spawn_sync(NULL, (char **)hv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &help, NULL, NULL, NULL);
    }
    if (help && strstr(help, "--shared-dir")) {
        char *argv[] = { (char *)bin, sockopt, (char *)"--shared-dir=/", (char *)"--cache=always",
                         (char *)"--sandbox=chroot", NULL };
        if (!spawn(argv, log_fd, NULL, NULL, 0, &lab->vfs_pid, error))
            return false;
    } else {
        char *argv[] = { (char *)bin, sockopt, (char *)"-o", (char *)"source=/", (char *)"-o",
                         (char *)"cache=always", (char *)"-o", (char *)"sandbox=chroot", NULL };
        if (!spawn(argv, log_fd, NULL, NULL, 0, &lab->vfs_pid, error))
            return false;
    }
    deadline = vmctl_now_ns() + LAB_SOCKET_WAIT_MS * 1000000ULL;
    while (!g_file_test(sock, G_FILE_TEST_EXISTS)) {
        if (waitpid(lab->vfs_pid, NULL, WNOHANG) == lab->vfs_pid) {
            lab->vfs_pid = 0;
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "virtiofsd '%s' exited before it listened", bin);
            return false;
        }
        if (vmctl_now_ns() > deadline) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "virtiofsd '%s' made no socket in %d ms", bin,
                        LAB_SOCKET_WAIT_MS);
            return false;
        }
        g_usleep(20 * 1000);
    }
    return true;
}

static char *read_image_file(const char *image_dir, const char *name)
{
    g_autofree char *p = g_build_filename(image_dir, name, NULL);

    return vmctl_read_file_trimmed(p, NULL);
}

VmctlLab *vmctl_lab_start(const VmctlLabOptions *o, const char *image_dir, char *const *argv, const char *cwd,
                          char *const *envp, GError **error)
{
    g_autoptr(VmctlLab) lab = g_new0(VmctlLab, 1);
    VmctlLabHost host;
    VmctlLabMachine m = { 0 };
    g_autofree char *job = NULL, *job_path = NULL, *sock = NULL, *kernel = NULL, *initrd = NULL, *log = NULL;
    g_autofree char *clog = NULL, *monitor = NULL;
    g_autoptr(GPtrArray) nv_paths = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) qargv = NULL;
    g_autoptr(GPtrArray) full = NULL;
    int pairs[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
    int src[3 + VMCTL_LAB_MAX_NVDIMMS], dst[3 + VMCTL_LAB_MAX_NVDIMMS];
    int nv_fds[VMCTL_LAB_MAX_NVDIMMS] = { -1, -1, -1, -1 };
    int log_fd = -1;
    bool ok = false;

    lab->console = lab->out = lab->err = lab->console_log = -1;
    lab->console_buf = g_string_new(NULL);
    lab->console_tail = g_queue_new();
    lab->pmem = g_ptr_array_new_with_free_func(g_free);
    lab->kernel_name = g_strdup(o->kernel);
    lab->image_dir = g_strdup(image_dir);
    lab->kernel_line = read_image_file(image_dir, "kernel");
    lab->release = read_image_file(image_dir, "release");

    vmctl_lab_host_probe(&host);
    if (!vmctl_lab_accel_choose(o->accel, &host, &lab->accel, &lab->accel_reason, error))
        return NULL;
    sweep_stale();
    lab->dir = make_lab_dir(error);
    if (!lab->dir)
        return NULL;
    if (strpbrk(lab->dir, " \t\n")) {
        /* the job's path goes on L1's kernel command line */
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                    "lab directory '%s' must not contain white space (set TMPDIR)", lab->dir);
        return NULL;
    }
    {
        g_autofree char *pidf = g_build_filename(lab->dir, "pid", NULL);
        g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
        if (!g_file_set_contents(pidf, pid, -1, error))
            return NULL;
    }

    job = vmctl_lab_job_text(argv, cwd, envp, o->interactive);
    job_path = g_build_filename(lab->dir, "job", NULL);
    if (!g_file_set_contents(job_path, job, -1, error))
        return NULL;
    kernel = g_build_filename(image_dir, "vmlinuz", NULL);
    initrd = g_build_filename(image_dir, "initramfs.cpio.zst", NULL);
    sock = g_build_filename(lab->dir, "virtiofs.sock", NULL);
    log = g_build_filename(lab->dir, "qemu.log", NULL);
    clog = g_build_filename(lab->dir, "console.log", NULL);
    log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    lab->console_log = open(clog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0 || lab->console_log < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "lab log in '%s' cannot be made: %s", lab->dir,
                    g_strerror(errno));
        goto out;
    }

    m.accel = lab->accel;
    m.memory = o->memory;
    m.cpus = o->cpus;
    m.hugepages = o->hugepages;
    m.nvdimm_size = o->nvdimm_size;
    m.n_nvdimms = G_N_ELEMENTS(lab_nvdimm_kinds);
    /* the NVDIMM files are unlinked at once and reach QEMU as open fds
     * (mem-path=/dev/fd/N): whatever ends the lab, nothing large is left */
    for (unsigned i = 0; i < m.n_nvdimms; i++) {
        g_autofree char *p = g_strdup_printf("%s/nvdimm%u.img", lab->dir, i);
        int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        if (fd >= 0)
            nv_fds[i] = fd;
        if (fd < 0 || unlink(p) < 0 || ftruncate(fd, (off_t)o->nvdimm_size) < 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "NVDIMM file '%s' cannot be made: %s", p,
                        g_strerror(errno));
            goto out;
        }
        src[3 + i] = fd;
        dst[3 + i] = 6 + i; /* QEMU's fds 6, 7, ... */
        g_ptr_array_add(nv_paths, g_strdup_printf("/dev/fd/%d", dst[3 + i]));
        m.nvdimm_kinds[i] = lab_nvdimm_kinds[i];
        m.nvdimm_paths[i] = nv_paths->pdata[i];
    }
    m.kernel = kernel;
    m.initrd = initrd;
    m.virtiofs_socket = sock;
    monitor = g_build_filename(lab->dir, "monitor.sock", NULL);
    m.monitor_socket = monitor;
    m.job = job_path;
    for (int i = 0; i < 3; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[i]) < 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "socketpair failed: %s", g_strerror(errno));
            goto out;
        }
        src[i] = pairs[i][1];
        dst[i] = 3 + i; /* QEMU's fds 3, 4, 5 */
    }
    m.console_fd = dst[0];
    m.out_fd = dst[1];
    m.err_fd = dst[2];

    if (!start_virtiofsd(lab, sock, log_fd, error))
        goto out;
    qargv = vmctl_lab_qemu_argv(&m);
    full = g_ptr_array_new();
    g_ptr_array_add(full, (gpointer)vmctl_qemu_binary());
    for (char **a = qargv; *a; a++)
        g_ptr_array_add(full, *a);
    g_ptr_array_add(full, NULL);
    lab->start_ns = vmctl_now_ns();
    if (!spawn((char **)full->pdata, log_fd, src, dst, 3 + m.n_nvdimms, &lab->qemu_pid, error))
        goto out;
    lab->console = pairs[0][0];
    lab->out = pairs[1][0];
    lab->err = pairs[2][0];
    pairs[0][0] = pairs[1][0] = pairs[2][0] = -1;
    ok = true;
out:
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            if (pairs[i][j] >= 0)
                close(pairs[i][j]);
    for (unsigned i = 0; i < VMCTL_LAB_MAX_NVDIMMS; i++)
        if (nv_fds[i] >= 0)
            close(nv_fds[i]);
    if (log_fd >= 0)
        close(log_fd);
    return ok ? g_steal_pointer(&lab) : NULL;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= w;
    }
    return true;
}

static void console_line(VmctlLab *lab, const char *line)
{
    g_queue_push_tail(lab->console_tail, g_strdup(line));
    while (g_queue_get_length(lab->console_tail) > LAB_CONSOLE_KEEP)
        g_free(g_queue_pop_head(lab->console_tail));
    if (!g_str_has_prefix(line, "LAB "))
        return;
    line += 4;
    if (g_str_has_prefix(line, "READY"))
        lab->ready_ns = vmctl_now_ns();
    else if (g_str_has_prefix(line, "EXIT rc=")) {
        lab->has_status = true;
        lab->status = atoi(line + 8);
    } else if (g_str_has_prefix(line, "PMEM "))
        g_ptr_array_add(lab->pmem, g_strdup(line + 5));
    else if (g_str_has_prefix(line, "KVM ")) {
        g_free(lab->kvm_line);
        lab->kvm_line = g_strdup(line + 4);
    } else if (g_str_has_prefix(line, "ERROR ")) {
        g_free(lab->error_line);
        lab->error_line = g_strdup(line + 6);
    }
}

static void console_data(VmctlLab *lab, const char *buf, size_t n)
{
    char *nl;

    write_all(lab->console_log, buf, n);
    g_string_append_len(lab->console_buf, buf, n);
    while ((nl = memchr(lab->console_buf->str, '\n', lab->console_buf->len))) {
        g_autofree char *line = g_strndup(lab->console_buf->str, nl - lab->console_buf->str);
        g_strchomp(line);
        console_line(lab, line);
        g_string_erase(lab->console_buf, 0, nl - lab->console_buf->str + 1);
    }
}

static char *console_tail(const VmctlLab *lab)
{
    GString *s = g_string_new(NULL);

    for (GList *l = lab->console_tail->head; l; l = l->next)
        g_string_append_printf(s, "\n  %s", (const char *)l->data);
    return g_string_free(s, FALSE);
}

static void kill_child(GPid *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

/* How long L1 may take to its command: about 5-10 s on an idle host,
 * minutes on a loaded one; a boot that hangs (it happened under
 * multi-threaded TCG on a loaded host, with no console output at all)
 * ends here instead of never. */
static uint64_t boot_timeout_ns(void)
{
    const char *env = g_getenv("VMCTL_LAB_BOOT_TIMEOUT");
    uint64_t s = LAB_BOOT_TIMEOUT_S;

    if (env && *env)
        vmctl_parse_uint("VMCTL_LAB_BOOT_TIMEOUT", env, 86400, &s, NULL);
    return s * 1000000000ULL;
}

bool vmctl_lab_wait(VmctlLab *lab, int in_fd, int out_fd, int err_fd, int cancel_fd, unsigned timeout_s,
                    int *status, GError **error)
{
    uint64_t deadline = timeout_s ? lab->start_ns + (uint64_t)timeout_s * 1000000000ULL : 0;
    const char *stopped = NULL;
    char buf[65536];

    while (lab->console >= 0 || lab->out >= 0 || lab->err >= 0) {
        struct pollfd p[5];
        int *fds[3] = { &lab->console, &lab->out, &lab->err };
        int n = 0, r;

        for (int i = 0; i < 3; i++)
            p[n++] = (struct pollfd){ .fd = *fds[i], .events = POLLIN };
        p[n++] = (struct pollfd){ .fd = in_fd >= 0 && lab->out >= 0 ? in_fd : -1, .events = POLLIN };
        p[n++] = (struct pollfd){ .fd = cancel_fd, .events = POLLIN };
        r = poll(p, n, 200);
        if (r < 0 && errno != EINTR) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "poll failed: %s", g_strerror(errno));
            return false;
        }
        if (cancel_fd >= 0 && (p[4].revents & POLLIN)) {
            stopped = "cancelled";
            break;
        }
        if (deadline && vmctl_now_ns() > deadline) {
            stopped = "timed out";
            break;
        }
        if (!lab->ready_ns && vmctl_now_ns() > lab->start_ns + boot_timeout_ns()) {
            stopped = "it did not boot in time (no LAB READY; VMCTL_LAB_BOOT_TIMEOUT seconds)";
            lab->boot_failed = true;
            break;
        }
        for (int i = 0; i < 3; i++) {
            ssize_t got;

            if (*fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            got = read(*fds[i], buf, sizeof(buf));
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got <= 0) {
                close(*fds[i]);
                *fds[i] = -1;
                continue;
            }
            if (i == 0)
                console_data(lab, buf, got);
            else
                write_all(i == 1 ? out_fd : err_fd, buf, got);
        }
        if (in_fd >= 0 && (p[3].revents & (POLLIN | POLLHUP))) {
            ssize_t got = read(in_fd, buf, sizeof(buf));
            if (got > 0 && lab->out >= 0)
                write_all(lab->out, buf, got);
            else if (got == 0)
                in_fd = -1;
        }
    }
    if (stopped) {
        kill_child(&lab->qemu_pid);
    } else if (lab->qemu_pid > 0) {
        waitpid(lab->qemu_pid, NULL, 0);
        lab->qemu_pid = 0;
    }
    lab->end_ns = vmctl_now_ns();
    if (lab->console_buf->len)
        console_line(lab, lab->console_buf->str);
    if (stopped || !lab->has_status) {
        g_autofree char *tail = console_tail(lab);
        g_autofree char *qlog_path = g_build_filename(lab->dir, "qemu.log", NULL);
        g_autofree char *qlog = NULL;
        g_autofree char *why = NULL;

        g_file_get_contents(qlog_path, &qlog, NULL, NULL);
        if (stopped)
            why = g_strdup(stopped);
        else if (lab->error_line)
            why = g_strdup_printf("its init failed: %s", lab->error_line);
        else if (qlog && *qlog)
            why = g_strdup_printf("QEMU said: %s", g_strstrip(qlog));
        else
            why = g_strdup("it gave no exit status");
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "lab (kernel '%s') ended before its command did: %s%s%s",
                    lab->kernel_name, why, *tail ? "; last console lines:" : "", tail);
        return false;
    }
    *status = lab->status;
    return true;
}

json_object *vmctl_lab_to_json(const VmctlLab *lab)
{
    json_object *o = json_object_new_object();
    json_object *pmem = json_object_new_array();
    g_auto(GStrv) k = lab->kernel_line ? g_strsplit(lab->kernel_line, " ", 3) : NULL;

    vmctl_json_add_str(o, "kernel", lab->kernel_name);
    if (k && k[0] && k[1] && k[2]) {
        vmctl_json_add_str(o, "kernel_package", k[1]);
        vmctl_json_add_str(o, "kernel_version", k[2]);
    }
    if (lab->release)
        vmctl_json_add_str(o, "release", lab->release);
    vmctl_json_add_str(o, "accel", vmctl_lab_accel_name(lab->accel));
    vmctl_json_add_str(o, "accel_reason", lab->accel_reason);
    if (lab->kvm_line)
        vmctl_json_add_str(o, "kvm", lab->kvm_line);
    for (guint i = 0; i < lab->pmem->len; i++)
        json_object_array_add(pmem, json_object_new_string(lab->pmem->pdata[i]));
    json_object_object_add(o, "pmem", pmem);
    if (lab->ready_ns)
        vmctl_json_add_u64(o, "boot_ns", lab->ready_ns - lab->start_ns);
    if (lab->end_ns)
        vmctl_json_add_u64(o, "total_ns", lab->end_ns - lab->start_ns);
    if (lab->has_status)
        vmctl_json_add_i64(o, "exit_status", lab->status);
    return o;
}

void vmctl_lab_free(VmctlLab *lab)
{
    if (!lab)
        return;
    kill_child(&lab->qemu_pid);
    kill_child(&lab->vfs_pid);
    for (int *fd = &lab->console; fd <= &lab->err; fd++)
        if (*fd >= 0)
            close(*fd);
    if (lab->console_log >= 0)
        close(lab->console_log);
    if (lab->dir)
        remove_dir(lab->dir);
    g_free(lab->dir);
    g_free(lab->image_dir);
    g_free(lab->kernel_name);
    g_free(lab->kernel_line);
    g_free(lab->release);
    g_string_free(lab->console_buf, TRUE);
    g_queue_free_full(lab->console_tail, g_free);
    g_ptr_array_unref(lab->pmem);
    g_free(lab->kvm_line);
    g_free(lab->error_line);
    g_free(lab);
}

json_object *vmctl_lab_facts(void)
{
    json_object *o = json_object_new_object();
    g_autoptr(GError) error = NULL;
    json_object *backends = vmctl_backend_list(&error);

    json_object_object_add(o, "host", vmctl_host_facts());
    if (backends)
        json_object_object_add(o, "backends", backends);
    else
        vmctl_json_add_str(o, "backends_error", error->message);
    return o;
}

char *vmctl_lab_read_fd(int fd)
{
    GString *s = g_string_new(NULL);
    char buf[65536];
    ssize_t n;

    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        g_string_append_len(s, buf, n);
    return g_string_free(s, FALSE);
}

bool vmctl_lab_run_capture(const VmctlLabOptions *o, char *const *argv, const char *cwd, int cancel_fd,
                           unsigned timeout_s, void (*progress)(const char *line, void *data), void *data,
                           char **out, char **err, int *status, json_object **lab_json, GError **error)
{
    g_autofree char *image = vmctl_lab_image(o->kernel, progress, data, error);
    g_auto(GStrv) envp = g_get_environ();
    g_autoptr(VmctlLab) lab = NULL;
    int ofd = -1, efd = -1;
    bool ok = false;

    if (!image)
        return false;
    ofd = memfd_create("lab-stdout", MFD_CLOEXEC);
    efd = memfd_create("lab-stderr", MFD_CLOEXEC);
    if (ofd < 0 || efd < 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "memfd_create failed: %s", g_strerror(errno));
        goto out;
    }
    ok = vmctl_lab_run(o, image, argv, cwd, envp, -1, ofd, efd, cancel_fd, timeout_s, status, &lab, error);
    *out = vmctl_lab_read_fd(ofd);
    *err = vmctl_lab_read_fd(efd);
    if (lab)
        *lab_json = vmctl_lab_to_json(lab);
out:
    if (ofd >= 0)
        close(ofd);
    if (efd >= 0)
        close(efd);
    return ok;
}


bool vmctl_lab_run(const VmctlLabOptions *o, const char *image_dir, char *const *argv, const char *cwd,
                   char *const *envp, int in_fd, int out_fd, int err_fd, int cancel_fd, unsigned timeout_s,
                   int *status, VmctlLab **lab_out, GError **error)
{
    for (int attempt = 1;; attempt++) {
        g_autoptr(VmctlLab) lab = vmctl_lab_start(o, image_dir, argv, cwd, envp, error);
        g_autoptr(GError) err = NULL;
        bool ok;

        if (!lab)
            return false;
        ok = vmctl_lab_wait(lab, in_fd, out_fd, err_fd, cancel_fd, timeout_s, status, &err);
        /* a boot that hung ran nothing: booting once more is safe */
        if (!ok && lab->boot_failed && attempt < LAB_BOOT_ATTEMPTS)
            continue;
        if (!ok)
            g_propagate_error(error, g_steal_pointer(&err));
        if (lab_out)
            *lab_out = g_steal_pointer(&lab);
        return ok;
    }
}
