/* cmd-lab.c: `vmctl lab`, a Linux VM with a real KVM and real DAX that
 * runs the host's own vmctl (src/lab.c, lab/):
 *   vmctl lab run [OPTIONS] -- COMMAND [ARGS...]   run, stream, exit status
 *   vmctl lab shell [OPTIONS]                      an interactive shell
 *   vmctl lab info [OPTIONS]                       what the lab offers
 *   vmctl lab facts                                (inside) this machine's facts
 * Exit status of run: the command's; 125 when the lab could not run it,
 * 130 when interrupted (the lab is torn down either way). */
#include "config.h"

#include "cli/builtin.h"
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#define LAB_EXIT_NOT_RUN 125  /* the lab could not run the command */
#define LAB_EXIT_CANCELLED 130

struct lab_cli {
    VmctlLabOptions o;
    char *kernel, *accel, *memory, *nvdimm_size;
    int cpus, hugepages, timeout;
};

static bool lab_parse(struct vmctl_ctx *ctx, struct lab_cli *c, int *argc, char ***argv, const char *params,
                      const char *summary)
{
    const GOptionEntry entries[] = {
        { "kernel", 'k', 0, G_OPTION_ARG_STRING, &c->kernel,
          "the lab's kernel: bookworm (default), bookworm-generic, bookworm-backports, trixie, trixie-cloud, "
          "bullseye, ...; FILE.deb; an unpacked kernel DIR; or host",
          "K" },
        { "accel", 0, 0, G_OPTION_ARG_STRING, &c->accel, "L1's accelerator: auto (default), tcg or kvm", "A" },
        { "memory", 'm', 0, G_OPTION_ARG_STRING, &c->memory, "L1's ordinary RAM (default 2G)", "SIZE" },
        { "cpus", 0, 0, G_OPTION_ARG_INT, &c->cpus, "L1's vCPUs (default 2)", "N" },
        { "hugepages", 0, 0, G_OPTION_ARG_INT, &c->hugepages, "2M pages reserved in L1 (default 128)", "N" },
        { "nvdimm-size", 0, 0, G_OPTION_ARG_STRING, &c->nvdimm_size, "size of each of the 3 NVDIMMs (default 512M)",
          "SIZE" },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &c->timeout, "end the lab after this many seconds (default: none)",
          "S" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    uint64_t v;

    vmctl_lab_options_default(&c->o);
    c->cpus = c->o.cpus;
    c->hugepages = c->o.hugepages;
    if (!vmctl_cli_parse(ctx, argc, argv, params, summary, entries))
        return false;
    if (c->kernel)
        c->o.kernel = c->kernel;
    if (c->accel && !vmctl_lab_accel_parse(c->accel, &c->o.accel, &error))
        return vmctl_cli_fail(error), false;
    if (c->memory) {
        if (!vmctl_parse_size(c->memory, false, &v, &error))
            return vmctl_cli_fail(error), false;
        if (v % MiB || v < 256 * MiB)
            return vmctl_cli_failf("lab memory '%s' must be a whole number of MiB, at least 256M", c->memory), false;
        c->o.memory = v;
    }
    if (c->nvdimm_size) {
        if (!vmctl_parse_size(c->nvdimm_size, false, &v, &error))
            return vmctl_cli_fail(error), false;
        if (v % (2 * MiB) || v < 64 * MiB)
            return vmctl_cli_failf("lab nvdimm-size '%s' must be a multiple of 2M, at least 64M", c->nvdimm_size),
                   false;
        c->o.nvdimm_size = v;
    }
    if (c->cpus < 1 || c->cpus > 64)
        return vmctl_cli_failf("lab cpus '%d' must be between 1 and 64", c->cpus), false;
    if (c->hugepages < 0 || (uint64_t)c->hugepages * 2 * MiB > c->o.memory / 2)
        return vmctl_cli_failf("lab hugepages '%d' must be at most half of the lab's memory in 2M pages",
                               c->hugepages),
               false;
    if (c->timeout < 0)
        return vmctl_cli_failf("lab timeout '%d' must not be negative", c->timeout), false;
    c->o.cpus = c->cpus;
    c->o.hugepages = c->hugepages;
    if (vmctl_lab_inside())
        return vmctl_cli_failf("vmctl lab cannot start a lab inside a lab"), false;
    return true;
}

static void lab_cli_clear(struct lab_cli *c)
{
    g_free(c->kernel);
    g_free(c->accel);
    g_free(c->memory);
    g_free(c->nvdimm_size);
}

/* A signalfd for SIGINT, SIGTERM and SIGHUP (blocked): the lab's pump
 * ends when one arrives and the lab is torn down. */
static int cancel_fd(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

/* A signal arrived on the signalfd: the lab was interrupted. */
static bool cancelled(int cfd)
{
    struct signalfd_siginfo si;
    int fl = fcntl(cfd, F_GETFL);

    fcntl(cfd, F_SETFL, fl | O_NONBLOCK);
    return cfd >= 0 && read(cfd, &si, sizeof(si)) == sizeof(si);
}

static void progress_line(const char *line, void *data)
{
    (void)data;
    fprintf(stderr, "vmctl: lab: %s\n", g_str_has_prefix(line, "mkimage: ") ? line + strlen("mkimage: ") : line);
}

/* Boot a lab for argv and pump it. Output goes to out_fd/err_fd (and
 * from in_fd when interactive). Returns the exit status to hand on. */
static int lab_go(struct lab_cli *c, char **argv, int in_fd, int out_fd, int err_fd, VmctlLab **lab_out,
                  GError **error)
{
    g_autofree char *image = NULL, *cwd = g_get_current_dir();
    g_auto(GStrv) envp = g_get_environ();
    g_autoptr(VmctlLab) lab = NULL;
    int cfd = cancel_fd(), status = LAB_EXIT_NOT_RUN;

    image = vmctl_lab_image(c->o.kernel, progress_line, NULL, error);
    /* on a terminal, a word while the lab boots (seconds under KVM, tens
     * of seconds under TCG) before the command's own output; elsewhere
     * the output stays the command's alone */
    if (image && isatty(STDERR_FILENO) && err_fd == STDERR_FILENO)
        fprintf(stderr, "vmctl: lab: booting kernel '%s', then running the command\n",
                c->o.kernel ? c->o.kernel : "bookworm");
    if (image && !vmctl_lab_run(&c->o, image, argv, cwd, envp, in_fd, out_fd, err_fd, cfd, c->timeout, &status,
                                &lab, error))
        status = cancelled(cfd) ? LAB_EXIT_CANCELLED : LAB_EXIT_NOT_RUN;
    if (cfd >= 0)
        close(cfd);
    *lab_out = g_steal_pointer(&lab);
    return status;
}

static int lab_run(int argc, char **argv, struct vmctl_ctx *ctx)
{
    struct lab_cli c = { 0 };
    g_autoptr(GError) error = NULL;
    g_autoptr(VmctlLab) lab = NULL;
    char **cmd = NULL;
    int status;

    /* the lab's options come before "--", the command after it */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            cmd = argv + i + 1;
            argv[i] = NULL;
            argc = i;
            break;
        }
    if (!lab_parse(ctx, &c, &argc, &argv, "-- COMMAND [ARGS...]",
                   "Boot a lab (a Linux VM with a real KVM and real DAX running this host's own files), run "
                   "COMMAND in it in this directory with this environment, stream its output and return its "
                   "exit status (125: the lab could not run it).")) {
        lab_cli_clear(&c);
        return VMCTL_EXIT_USAGE;
    }
    if (argc > 1 || !cmd || !cmd[0]) {
        lab_cli_clear(&c);
        return vmctl_cli_failf("lab run needs '-- COMMAND [ARGS...]'"), VMCTL_EXIT_USAGE;
    }
    if (ctx->json) {
        g_autoptr(json_object) o = json_object_new_object();
        g_autofree char *so = NULL, *se = NULL, *cwd = g_get_current_dir();
        json_object *lj = NULL, *parsed;
        int cfd = cancel_fd();

        if (!vmctl_lab_run_capture(&c.o, cmd, cwd, cfd, c.timeout, progress_line, NULL, &so, &se, &status, &lj,
                                   &error))
            status = cancelled(cfd) ? LAB_EXIT_CANCELLED : LAB_EXIT_NOT_RUN;
        if (cfd >= 0)
            close(cfd);
        json_object_object_add(o, "lab", lj ? lj : json_object_new_object());
        if (error)
            vmctl_json_add_str(o, "error", error->message);
        else
            vmctl_json_add_i64(o, "exit_status", status);
        if (so && (parsed = json_tokener_parse(so)))
            json_object_object_add(o, "stdout_json", parsed);
        vmctl_json_add_str(o, "stdout", so ? so : "");
        vmctl_json_add_str(o, "stderr", se ? se : "");
        vmctl_json_print(o);
    } else {
        status = lab_go(&c, cmd, -1, STDOUT_FILENO, STDERR_FILENO, &lab, &error);
    }
    if (error)
        vmctl_cli_fail(error);
    lab_cli_clear(&c);
    return status;
}

static int lab_shell(int argc, char **argv, struct vmctl_ctx *ctx)
{
    struct lab_cli c = { 0 };
    g_autoptr(GError) error = NULL;
    g_autoptr(VmctlLab) lab = NULL;
    char *sh[] = { (char *)(g_file_test("/bin/bash", G_FILE_TEST_IS_EXECUTABLE) ? "/bin/bash" : "/bin/sh"),
                   (char *)"-i", NULL };
    struct termios saved, raw;
    bool tty = isatty(STDIN_FILENO);
    int status;

    if (!lab_parse(ctx, &c, &argc, &argv, "",
                   "Boot a lab and give an interactive shell in it, in this directory ('exit' ends the lab).")) {
        lab_cli_clear(&c);
        return VMCTL_EXIT_USAGE;
    }
    c.o.interactive = true;
    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        cfmakeraw(&raw);
        raw.c_oflag |= OPOST | ONLCR;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        tty = false;
    }
    status = lab_go(&c, sh, STDIN_FILENO, STDOUT_FILENO, STDOUT_FILENO, &lab, &error);
    if (tty)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    if (error)
        vmctl_cli_fail(error);
    lab_cli_clear(&c);
    return status;
}

static void print_info(json_object *lab, json_object *facts)
{
    json_object *v, *host = NULL, *mm = NULL, *kvm = NULL, *caps = NULL;

    json_object_object_get_ex(facts, "host", &host);
    json_object_object_get_ex(host, "memory", &mm);
    json_object_object_get_ex(host, "kvm", &kvm);
    json_object_object_get_ex(kvm, "caps", &caps);
    printf("kernel:       %s", json_object_get_string(json_object_object_get(lab, "kernel")));
    if (json_object_object_get_ex(lab, "kernel_package", &v))
        printf(" (%s %s)", json_object_get_string(v),
               json_object_get_string(json_object_object_get(lab, "kernel_version")));
    printf("\nrelease:      %s\n", json_object_get_string(json_object_object_get(lab, "release")));
    printf("accelerator:  %s: %s\n", json_object_get_string(json_object_object_get(lab, "accel")),
           json_object_get_string(json_object_object_get(lab, "accel_reason")));
    if (json_object_object_get_ex(lab, "boot_ns", &v))
        printf("boot:         %.1f s to the command\n", json_object_get_int64(v) / 1e9);
    if (json_object_object_get_ex(lab, "kvm", &v))
        printf("kvm:          %s\n", json_object_get_string(v));
    if (caps) {
        printf("kvm caps:    ");
        json_object_object_foreach(caps, key, val) printf(" %s=%" PRId64, key, json_object_get_int64(val));
        printf("\n");
    }
    if (json_object_object_get_ex(lab, "pmem", &v))
        for (size_t i = 0; i < json_object_array_length(v); i++)
            printf("nvdimm %zu:     %s\n", i, json_object_get_string(json_object_array_get_idx(v, i)));
    if (mm) {
        json_object *lru = json_object_object_get(mm, "lru_gen");
        printf("hugetlbfs:    %" PRId64 " 2M pages\n",
               json_object_get_int64(json_object_object_get(mm, "hugepages_2m")));
        printf("DAMON:        %s\n", json_object_get_boolean(json_object_object_get(mm, "damon_sysfs"))
                                         ? "yes (sysfs)"
                                         : "no (this kernel has no DAMON sysfs interface)");
        printf("page_idle:    %s\n", json_object_get_boolean(json_object_object_get(mm, "page_idle"))
                                         ? "yes"
                                         : "no (this kernel has no CONFIG_IDLE_PAGE_TRACKING)");
        if (!lru || strcmp(json_object_get_string(lru), "unavailable") == 0)
            printf("MGLRU:        no\n");
        else
            printf("MGLRU:        yes (lru_gen/enabled %s)\n", json_object_get_string(lru));
    }
}

static int lab_info(int argc, char **argv, struct vmctl_ctx *ctx)
{
    struct lab_cli c = { 0 };
    g_autoptr(GError) error = NULL;
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    char *facts_argv[] = { self, (char *)"lab", (char *)"facts", (char *)"--json", NULL };
    g_autofree char *so = NULL, *se = NULL;
    g_autoptr(json_object) facts = NULL;
    g_autoptr(json_object) lj = NULL;
    int status;

    if (!lab_parse(ctx, &c, &argc, &argv, "",
                   "Boot a lab and say what it offers: kernel, accelerator and why, DAX devices, KVM "
                   "capabilities, hugetlbfs, DAMON, page_idle.")) {
        lab_cli_clear(&c);
        return VMCTL_EXIT_USAGE;
    }
    {
        g_autofree char *cwd = g_get_current_dir();
        int cfd = cancel_fd();

        if (!vmctl_lab_run_capture(&c.o, facts_argv, cwd, cfd, c.timeout, progress_line, NULL, &so, &se, &status,
                                   &lj, &error))
            status = cancelled(cfd) ? LAB_EXIT_CANCELLED : LAB_EXIT_NOT_RUN;
        if (cfd >= 0)
            close(cfd);
    }
    lab_cli_clear(&c);
    if (error)
        return vmctl_cli_fail(error), status;
    facts = json_tokener_parse(so);
    if (status != 0 || !facts)
        return vmctl_cli_failf("lab facts failed (exit status %d): %s", status, g_strstrip(se)), LAB_EXIT_NOT_RUN;
    if (ctx->json) {
        json_object_object_add(lj, "facts", json_object_get(facts));
        vmctl_json_print(lj);
    } else {
        print_info(lj, facts);
    }
    return VMCTL_EXIT_OK;
}

static int lab_facts(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autoptr(json_object) o = NULL;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "",
                         "Print the facts of the machine this runs on as a lab reports them (host facts and DAX "
                         "backings), as JSON.",
                         NULL))
        return VMCTL_EXIT_USAGE;
    o = vmctl_lab_facts();
    vmctl_json_print(o);
    return VMCTL_EXIT_OK;
}

static const struct {
    const char *name;
    vmctl_cmd_fn fn;
    const char *help;
} subs[] = {
    { "facts", lab_facts, "print this machine's facts as JSON (what 'lab info' runs inside)" },
    { "info", lab_info, "boot a lab and say what it offers" },
    { "run", lab_run, "run a command in a lab and return its exit status" },
    { "shell", lab_shell, "an interactive shell in a lab" },
};

static void lab_usage(FILE *out)
{
    fprintf(out, "usage: vmctl lab SUBCOMMAND [OPTIONS] [-- COMMAND [ARGS...]]\n\nsubcommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(subs); i++)
        fprintf(out, "  %-6s %s\n", subs[i].name, subs[i].help);
    fprintf(out, "\n'vmctl lab SUBCOMMAND --help' for its options\n");
}

int cmd_lab(int argc, char **argv, struct vmctl_ctx *ctx)
{
    if (argc < 2) {
        lab_usage(stderr);
        return VMCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        lab_usage(stdout);
        return VMCTL_EXIT_OK;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(subs); i++) {
        if (strcmp(subs[i].name, argv[1]) == 0) {
            g_autofree char *name = g_strdup_printf("lab %s", argv[1]);
            argv[1] = name;
            return subs[i].fn(argc - 1, argv + 1, ctx);
        }
    }
    fprintf(stderr, "vmctl: lab subcommand '%s' is unknown: use facts, info, run or shell\n", argv[1]);
    return VMCTL_EXIT_USAGE;
}
