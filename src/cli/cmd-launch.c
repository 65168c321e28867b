/* cmd-launch.c: `vmctl launch NAME ...`: build a guest spec from the
 * options and have vmctld start it (vmctld is started when none runs). */
#include "config.h"

#include "cli/builtin.h"
#include "client.h"
#include "guest_spec.h"

#include <stdio.h>
#include <string.h>

static bool size_member(json_object *spec, const char *key, const char *opt, const char *val, GError **error)
{
    uint64_t v;

    if (!val)
        return true;
    if (!vmctl_parse_size(val, false, &v, error)) {
        g_prefix_error(error, "%s: ", opt);
        return false;
    }
    vmctl_json_add_u64(spec, key, v);
    return true;
}

static bool uint_member(json_object *obj, const char *key, const char *opt, const char *val, uint64_t max,
                        GError **error)
{
    uint64_t v;

    if (!val)
        return true;
    if (!vmctl_parse_uint(opt, val, max, &v, error))
        return false;
    vmctl_json_add_u64(obj, key, v);
    return true;
}

static bool devices(json_object *spec, const char *what, char **args, GError **error)
{
    g_autoptr(VmctlGuestSpec) scratch = vmctl_guest_spec_new();
    json_object *arr = json_object_new_array();

    json_object_object_add(spec, what, arr);
    for (size_t i = 0; args && args[i]; i++) {
        VmctlGuestDevice *d;
        json_object *o;

        if (!vmctl_guest_spec_add_device(scratch, what, args[i], error))
            return false;
        d = &g_array_index(strcmp(what, "nvdimm") == 0 ? scratch->nvdimm : scratch->virtio_pmem, VmctlGuestDevice, i);
        o = json_object_new_object();
        vmctl_json_add_str(o, "path", d->path);
        vmctl_json_add_u64(o, "size", d->size);
        json_object_array_add(arr, o);
    }
    return true;
}

static void print_guest(json_object *g)
{
    json_object *v;

    printf("guest '%s' %s, pid %s, %s (%s)\n", json_object_get_string(json_object_object_get(g, "name")),
           json_object_get_string(json_object_object_get(g, "state")),
           json_object_get_string(json_object_object_get(g, "pid")),
           json_object_get_string(json_object_object_get(g, "accel")),
           json_object_get_string(json_object_object_get(g, "accel_reason")));
    if ((v = json_object_object_get(g, "console_log")))
        printf("  console log  %s\n", json_object_get_string(v));
    if ((v = json_object_object_get(g, "qmp_socket")))
        printf("  QMP socket   %s\n", json_object_get_string(v));
}

int cmd_launch(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *memory = NULL, *backend = NULL, *guest = NULL, *accel = NULL, *vcpus = NULL, *merge = NULL;
    g_autofree char *ring = NULL, *rate = NULL, *ws = NULL, *same = NULL, *seed = NULL, *cmdline = NULL;
    g_auto(GStrv) nvdimm = NULL, vpmem = NULL;
    const GOptionEntry entries[] = {
        { "memory", 0, 0, G_OPTION_ARG_STRING, &memory, "guest RAM (size, e.g. 512M)", "SIZE" },
        { "backend", 0, 0, G_OPTION_ARG_STRING, &backend, "RAM backing: PATH, memfd, memfd:hugetlb, anonymous", "SPEC" },
        { "guest", 0, 0, G_OPTION_ARG_STRING, &guest, "tiny (default) or linux", "KIND" },
        { "accel", 0, 0, G_OPTION_ARG_STRING, &accel, "auto (default), kvm or tcg", "ACCEL" },
        { "vcpus", 0, 0, G_OPTION_ARG_STRING, &vcpus, "vCPUs (default 1)", "N" },
        { "nvdimm", 0, 0, G_OPTION_ARG_STRING_ARRAY, &nvdimm, "an NVDIMM backed by PATH", "PATH,SIZE" },
        { "virtio-pmem", 0, 0, G_OPTION_ARG_STRING_ARRAY, &vpmem, "a virtio-pmem device backed by PATH", "PATH,SIZE" },
        { "mem-merge", 0, 0, G_OPTION_ARG_STRING, &merge, "let KSM merge guest RAM: on (default) or off", "on|off" },
        { "dirty-ring", 0, 0, G_OPTION_ARG_STRING, &ring, "KVM dirty ring entries (0: bitmap)", "N" },
        { "rate", 0, 0, G_OPTION_ARG_STRING, &rate, "tiny guest: page rewrites per second (0: max)", "N" },
        { "ws", 0, 0, G_OPTION_ARG_STRING, &ws, "tiny guest: working-set pages", "N" },
        { "same", 0, 0, G_OPTION_ARG_STRING, &same, "tiny guest: identical pages per mille", "N" },
        { "seed", 0, 0, G_OPTION_ARG_STRING, &seed, "tiny guest: page pattern seed", "N" },
        { "cmdline", 0, 0, G_OPTION_ARG_STRING, &cmdline, "Linux guest: extra kernel command line", "TEXT" },
        { NULL },
    };
    g_autoptr(json_object) spec = json_object_new_object();
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) ret = NULL;
    g_autoptr(VmctlGuestSpec) parsed = NULL;
    g_autoptr(GError) err = NULL;
    json_object *tiny = json_object_new_object();

    if (!vmctl_cli_parse(ctx, &argc, &argv, "NAME", "Launch a guest under vmctld.", entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 2) {
        fprintf(stderr, "vmctl launch: needs exactly one guest NAME\n");
        json_object_put(tiny);
        return VMCTL_EXIT_USAGE;
    }
    if (!memory) {
        json_object_put(tiny);
        return vmctl_cli_failf("--memory is required");
    }
    vmctl_json_add_str(spec, "name", argv[1]);
    json_object_object_add(spec, "tiny", tiny);
    if (!size_member(spec, "memory", "--memory", memory, &err) ||
        !uint_member(spec, "vcpus", "--vcpus", vcpus, 1024, &err) ||
        !uint_member(spec, "dirty-ring", "--dirty-ring", ring, 1u << 20, &err) ||
        !uint_member(tiny, "rate", "--rate", rate, VMCTL_GUEST_TINY_RATE_MAX, &err) ||
        !uint_member(tiny, "ws", "--ws", ws, G_MAXUINT32, &err) ||
        !uint_member(tiny, "same", "--same", same, VMCTL_GUEST_SAME_MAX, &err) ||
        !uint_member(tiny, "seed", "--seed", seed, G_MAXUINT64, &err) || !devices(spec, "nvdimm", nvdimm, &err) ||
        !devices(spec, "virtio-pmem", vpmem, &err))
        return vmctl_cli_fail(err);
    if (backend)
        vmctl_json_add_str(spec, "backend", backend);
    if (guest)
        vmctl_json_add_str(spec, "kind", guest);
    if (accel)
        vmctl_json_add_str(spec, "accel", accel);
    if (merge) {
        if (strcmp(merge, "on") != 0 && strcmp(merge, "off") != 0)
            return vmctl_cli_failf("--mem-merge '%s' must be on or off", merge);
        vmctl_json_add_bool(spec, "mem-merge", strcmp(merge, "on") == 0);
    }
    if (guest && strcmp(guest, "linux") == 0) {
        /* the Linux guest's workload reads the same parameters from its
         * kernel command line */
        GString *cl = g_string_new(cmdline ? cmdline : "");
        json_object *lx = json_object_new_object();

        json_object_object_foreach(tiny, k, v)
            g_string_append_printf(cl, "%svmctl.%s=%s", cl->len ? " " : "", k, json_object_get_string(v));
        vmctl_json_add_str(lx, "cmdline", cl->str);
        g_string_free(cl, TRUE);
        json_object_object_add(spec, "linux", lx);
        json_object_object_del(spec, "tiny");
    } else if (cmdline) {
        return vmctl_cli_failf("--cmdline applies to --guest linux only");
    }
    /* the rules that need no host: refuse here, before a daemon is asked */
    parsed = vmctl_guest_spec_from_json(spec, &err);
    if (!parsed || !vmctl_guest_spec_validate(parsed, G_MAXUINT, &err))
        return vmctl_cli_fail(err);

    json_object_object_add(args, "spec", json_object_get(spec));
    ret = vmctl_client_call(vmctl_client_socket_path(ctx->socket_path), "launch", args, true, &err);
    if (!ret)
        return vmctl_cli_fail(err);
    if (ctx->json)
        vmctl_json_print(ret);
    else
        print_guest(ret);
    return VMCTL_EXIT_OK;
}
