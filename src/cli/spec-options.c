/* spec-options.c: a guest spec from command-line options. */
#include "config.h"

#include "cli/spec-options.h"
#include "guest_spec.h"
#include "util.h"

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

void vmctl_spec_options_add_entries(GArray *entries, VmctlSpecOptions *o)
{
    const GOptionEntry rows[] = {
        { "memory", 0, 0, G_OPTION_ARG_STRING, &o->memory, "guest RAM (size, e.g. 512M)", "SIZE" },
        { "backend", 0, 0, G_OPTION_ARG_STRING, &o->backend, "RAM backing: PATH, memfd, memfd:hugetlb, anonymous",
          "SPEC" },
        { "guest", 0, 0, G_OPTION_ARG_STRING, &o->guest, "tiny (default) or linux", "KIND" },
        { "accel", 0, 0, G_OPTION_ARG_STRING, &o->accel, "auto (default), kvm or tcg", "ACCEL" },
        { "vcpus", 0, 0, G_OPTION_ARG_STRING, &o->vcpus, "vCPUs (default 1)", "N" },
        { "nvdimm", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->nvdimm, "an NVDIMM backed by PATH", "PATH,SIZE" },
        { "virtio-pmem", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->vpmem, "a virtio-pmem device backed by PATH",
          "PATH,SIZE" },
        { "mem-merge", 0, 0, G_OPTION_ARG_STRING, &o->merge, "let KSM merge guest RAM: on (default) or off",
          "on|off" },
        { "dirty-ring", 0, 0, G_OPTION_ARG_STRING, &o->ring, "KVM dirty ring entries (0: bitmap)", "N" },
        { "rate", 0, 0, G_OPTION_ARG_STRING, &o->rate, "tiny guest: page rewrites per second (0: max)", "N" },
        { "ws", 0, 0, G_OPTION_ARG_STRING, &o->ws, "tiny guest: working-set pages", "N" },
        { "same", 0, 0, G_OPTION_ARG_STRING, &o->same, "tiny guest: identical pages per mille", "N" },
        { "seed", 0, 0, G_OPTION_ARG_STRING, &o->seed, "tiny guest: page pattern seed", "N" },
        { "cmdline", 0, 0, G_OPTION_ARG_STRING, &o->cmdline, "Linux guest: extra kernel command line", "TEXT" },
    };

    g_array_append_vals(entries, rows, G_N_ELEMENTS(rows));
}

bool vmctl_spec_options_given(const VmctlSpecOptions *o)
{
    return o->memory || o->backend || o->guest || o->accel || o->vcpus || o->merge || o->ring || o->rate || o->ws ||
           o->same || o->seed || o->cmdline || o->nvdimm || o->vpmem;
}

json_object *vmctl_spec_options_build(const VmctlSpecOptions *o, const char *name, GError **error)
{
    g_autoptr(json_object) spec = json_object_new_object();
    g_autoptr(VmctlGuestSpec) parsed = NULL;
    json_object *tiny = json_object_new_object();

    json_object_object_add(spec, "tiny", tiny);
    if (!o->memory) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "--memory is required");
        return NULL;
    }
    vmctl_json_add_str(spec, "name", name);
    if (!size_member(spec, "memory", "--memory", o->memory, error) ||
        !uint_member(spec, "vcpus", "--vcpus", o->vcpus, 1024, error) ||
        !uint_member(spec, "dirty-ring", "--dirty-ring", o->ring, 1u << 20, error) ||
        !uint_member(tiny, "rate", "--rate", o->rate, VMCTL_GUEST_TINY_RATE_MAX, error) ||
        !uint_member(tiny, "ws", "--ws", o->ws, G_MAXUINT32, error) ||
        !uint_member(tiny, "same", "--same", o->same, VMCTL_GUEST_SAME_MAX, error) ||
        !uint_member(tiny, "seed", "--seed", o->seed, G_MAXUINT64, error) ||
        !devices(spec, "nvdimm", o->nvdimm, error) || !devices(spec, "virtio-pmem", o->vpmem, error))
        return NULL;
    if (o->backend)
        vmctl_json_add_str(spec, "backend", o->backend);
    if (o->guest)
        vmctl_json_add_str(spec, "kind", o->guest);
    if (o->accel)
        vmctl_json_add_str(spec, "accel", o->accel);
    if (o->merge) {
        if (strcmp(o->merge, "on") != 0 && strcmp(o->merge, "off") != 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "--mem-merge '%s' must be on or off", o->merge);
            return NULL;
        }
        vmctl_json_add_bool(spec, "mem-merge", strcmp(o->merge, "on") == 0);
    }
    if (o->guest && strcmp(o->guest, "linux") == 0) {
        /* the Linux guest's workload reads the same parameters from its
         * kernel command line */
        g_autoptr(GString) cl = g_string_new(o->cmdline ? o->cmdline : "");
        json_object *lx = json_object_new_object();

        json_object_object_foreach(tiny, k, v)
            g_string_append_printf(cl, "%svmctl.%s=%s", cl->len ? " " : "", k, json_object_get_string(v));
        vmctl_json_add_str(lx, "cmdline", cl->str);
        json_object_object_add(spec, "linux", lx);
        json_object_object_del(spec, "tiny");
    } else if (o->cmdline) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "--cmdline applies to --guest linux only");
        return NULL;
    }
    /* the rules that need no host: refuse here, before a daemon is asked */
    parsed = vmctl_guest_spec_from_json(spec, error);
    if (!parsed || !vmctl_guest_spec_validate(parsed, G_MAXUINT, error))
        return NULL;
    return g_steal_pointer(&spec);
}

void vmctl_spec_options_clear(VmctlSpecOptions *o)
{
    char **strs[] = { &o->memory, &o->backend, &o->guest, &o->accel, &o->vcpus, &o->merge,
                      &o->ring,   &o->rate,    &o->ws,    &o->same,  &o->seed,  &o->cmdline };

    for (size_t i = 0; i < G_N_ELEMENTS(strs); i++)
        g_clear_pointer(strs[i], g_free);
    g_clear_pointer(&o->nvdimm, g_strfreev);
    g_clear_pointer(&o->vpmem, g_strfreev);
}
