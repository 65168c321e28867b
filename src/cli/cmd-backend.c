/* cmd-backend.c: `vmctl backend probe PATH` and `vmctl backend list`, the
 * front end of pmem_backend.c: what a memory backing is, whether a guest of
 * a given size fits it, the QEMU object for it, and what the host offers. */
#include "config.h"

#include "cli/builtin.h"
#include "pmem_backend.h"

#include <stdio.h>
#include <string.h>

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = json_object_object_get(o, key);
    return v ? json_object_get_string(v) : NULL;
}

static uint64_t ju64(json_object *o, const char *key)
{
    json_object *v = json_object_object_get(o, key);
    return v ? json_object_get_uint64(v) : 0;
}

/* "1G" or "-" for a JSON null. */
static char *jsize(json_object *o, const char *key)
{
    json_object *v = json_object_object_get(o, key);
    return v ? vmctl_format_size(json_object_get_uint64(v)) : g_strdup("-");
}

static void print_probe(const VmctlBackend *b, json_object *info, json_object *obj)
{
    json_object *fs = json_object_object_get(info, "filesystem");
    json_object *dd = json_object_object_get(info, "devdax");
    json_object *hp = json_object_object_get(info, "hugepages");
    json_object *ev = json_object_object_get(info, "dax_evidence");
    g_autofree char *align = vmctl_format_size(vmctl_backend_align(b));

    printf("%-12s %s\n", "backing", vmctl_backend_path(b) ? vmctl_backend_path(b) : jstr(info, "spec"));
    printf("%-12s %s%s\n", "kind", vmctl_backend_kind_name(vmctl_backend_kind(b)),
           json_object_get_boolean(json_object_object_get(info, "stand_in")) ? " (stand-in file)" : "");
    if (jstr(info, "type"))
        printf("%-12s %s\n", "type", jstr(info, "type"));
    if (fs) {
        g_autofree char *fr = jsize(fs, "free"), *tot = jsize(fs, "total");
        printf("%-12s %s on %s (%s free of %s)\n", "filesystem", jstr(fs, "type"),
               jstr(fs, "mount_point") ? jstr(fs, "mount_point") : "?", fr, tot);
        if (jstr(fs, "super_options"))
            printf("%-12s %s\n", "options", jstr(fs, "super_options"));
    }
    if (ev)
        printf("%-12s statx %s, mount option %s, MAP_SYNC %s%s%s%s\n", "dax",
               jstr(ev, "statx_dax") ? jstr(ev, "statx_dax") : "unknown", jstr(ev, "mount_dax"),
               jstr(ev, "map_sync") ? jstr(ev, "map_sync") : "not tried", jstr(ev, "map_sync_error") ? " (" : "",
               jstr(ev, "map_sync_error") ? jstr(ev, "map_sync_error") : "", jstr(ev, "map_sync_error") ? ")" : "");
    if (dd) {
        g_autofree char *sz = jsize(dd, "size");
        printf("%-12s %s, %s, numa node %s, dev %s, driver %s\n", "device", jstr(dd, "name"), sz,
               jstr(dd, "numa_node"), jstr(dd, "dev") ? jstr(dd, "dev") : "?",
               jstr(dd, "driver") ? jstr(dd, "driver") : "none");
    }
    if (hp) {
        g_autofree char *ps = jsize(hp, "page_size"), *av = jsize(hp, "available");
        printf("%-12s %s pages, %" G_GUINT64_FORMAT " free, %" G_GUINT64_FORMAT " reserved, %s available\n",
               "huge pages", ps, ju64(hp, "free_hugepages"), ju64(hp, "resv_hugepages"), av);
    }
    printf("%-12s %s\n", "align", align);
    if (json_object_object_get(info, "size")) {
        g_autofree char *sz = jsize(info, "size");
        printf("%-12s %s fits\n", "size", sz);
    }
    printf("%-12s %s: %s\n", "pmem=on", vmctl_backend_is_dax(b) ? "yes" : "no", vmctl_backend_pmem_reason(b));
    printf("%-12s %s\n", "-object",
           json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    if (!json_object_object_get(obj, "size"))
        printf("%-12s give --size: the backing has no size of its own\n", "");
}

static int backend_probe(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autofree char *size_str = NULL, *id = NULL;
    gboolean private_map = FALSE;
    const GOptionEntry entries[] = {
        { "size", 's', 0, G_OPTION_ARG_STRING, &size_str, "guest memory size to check (e.g. 4G)", "SIZE" },
        { "id", 0, 0, G_OPTION_ARG_STRING, &id, "id of the QEMU object (default mem0)", "ID" },
        { "private", 0, 0, G_OPTION_ARG_NONE, &private_map, "share=off (not for DAX kinds)", NULL },
        { NULL },
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = NULL;
    g_autoptr(json_object) info = NULL, obj = NULL;
    uint64_t size = 0;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "PATH|memfd|memfd:hugetlb[=SIZE]|anonymous",
                         "Tell what a memory backing is, whether a guest of --size fits it, and print the QEMU\n"
                         "memory-backend object for it (QMP object-add / -object JSON).",
                         entries))
        return VMCTL_EXIT_USAGE;
    if (argc != 2) {
        fprintf(stderr, "vmctl backend probe: give one PATH, 'memfd' or 'anonymous'\n");
        return VMCTL_EXIT_USAGE;
    }
    if (size_str && !vmctl_parse_size(size_str, false, &size, &err))
        return vmctl_cli_fail(err);
    b = vmctl_backend_probe(argv[1], size, &err);
    if (!b)
        return vmctl_cli_fail(err);
    info = vmctl_backend_to_json(b);
    obj = vmctl_backend_qemu_object(b, id ? id : "mem0", size, !private_map);
    if (ctx->json) {
        json_object_object_add(info, "qemu_object", json_object_get(obj));
        vmctl_json_print(info);
    } else {
        print_probe(b, info, obj);
    }
    return VMCTL_EXIT_OK;
}

static void print_list(json_object *l)
{
    json_object *a;

    a = json_object_object_get(l, "dax_devices");
    printf("DAX devices (%s/bus/dax/devices):\n", vmctl_sysfs_root());
    if (json_object_array_length(a) == 0)
        printf("  none\n");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *d = json_object_array_get_idx(a, i);
        g_autofree char *sz = jsize(d, "size"), *al = jsize(d, "align");
        printf("  %-14s %-8s align %-5s numa node %-3s %s (%s)\n", jstr(d, "path"), sz, al, jstr(d, "numa_node"),
               jstr(d, "mode"), jstr(d, "driver") ? jstr(d, "driver") : "no driver");
    }
    a = json_object_object_get(l, "namespaces");
    printf("pmem namespaces (%s/bus/nd/devices):\n", vmctl_sysfs_root());
    if (json_object_array_length(a) == 0)
        printf("  none\n");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *d = json_object_array_get_idx(a, i);
        g_autofree char *sz = jsize(d, "size");
        const char *dev = jstr(d, "chardev") ? jstr(d, "chardev") : jstr(d, "blockdev");
        printf("  %-14s %-7s %-8s %s\n", jstr(d, "name"), jstr(d, "mode"), sz, dev ? dev : "-");
    }
    a = json_object_object_get(l, "hugepage_pools");
    printf("huge page pools:\n");
    if (json_object_array_length(a) == 0)
        printf("  none\n");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *d = json_object_array_get_idx(a, i);
        g_autofree char *ps = jsize(d, "page_size"), *av = jsize(d, "available");
        printf("  %-6s %s pages, %s free, %s reserved, %s available\n", ps, jstr(d, "nr_hugepages"),
               jstr(d, "free_hugepages"), jstr(d, "resv_hugepages"), av);
    }
    a = json_object_object_get(l, "hugetlbfs");
    printf("hugetlbfs mounts:\n");
    if (json_object_array_length(a) == 0)
        printf("  none\n");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *d = json_object_array_get_idx(a, i);
        g_autofree char *ps = jsize(d, "page_size"), *av = jsize(d, "available"), *lim = jsize(d, "size_limit");
        printf("  %-20s %s pages, %s available, limit %s\n", jstr(d, "mount_point"), ps, av, lim);
    }
    a = json_object_object_get(l, "tmpfs");
    printf("tmpfs mounts:\n");
    if (json_object_array_length(a) == 0)
        printf("  none\n");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *d = json_object_array_get_idx(a, i);
        g_autofree char *sz = jsize(d, "size"), *fr = jsize(d, "free");
        printf("  %-20s size %s, %s free\n", jstr(d, "mount_point"), sz, fr);
    }
}

static int backend_list(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) l = NULL;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "",
                         "List DAX devices, pmem namespaces, huge page pools, hugetlbfs and tmpfs mounts.", NULL))
        return VMCTL_EXIT_USAGE;
    if (argc != 1) {
        fprintf(stderr, "vmctl backend list: takes no arguments\n");
        return VMCTL_EXIT_USAGE;
    }
    l = vmctl_backend_list(&err);
    if (!l)
        return vmctl_cli_fail(err);
    if (ctx->json)
        vmctl_json_print(l);
    else
        print_list(l);
    return VMCTL_EXIT_OK;
}

int cmd_backend(int argc, char **argv, struct vmctl_ctx *ctx)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv, struct vmctl_ctx *ctx);
    } subs[] = { { "list", backend_list }, { "probe", backend_probe } };

    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; i < G_N_ELEMENTS(subs); i++) {
            if (strcmp(argv[1], subs[i].name) == 0) {
                g_autofree char *name = g_strdup_printf("backend %s", subs[i].name);
                g_autofree char **sub_argv = g_new0(char *, argc + 1);
                sub_argv[0] = name;
                for (int j = 2; j < argc; j++)
                    sub_argv[j - 1] = argv[j];
                return subs[i].fn(argc - 1, sub_argv, ctx);
            }
        }
        fprintf(stderr, "vmctl: backend subcommand '%s' is unknown: use 'probe' or 'list'\n", argv[1]);
        return VMCTL_EXIT_USAGE;
    }
    if (!vmctl_cli_parse(ctx, &argc, &argv, "probe PATH [--size SIZE] | list",
                         "Probe and list memory backings: device-dax, fsdax, hugetlbfs, tmpfs, files, memfd,\n"
                         "anonymous. 'vmctl backend probe --help' and 'vmctl backend list --help' for options.",
                         NULL))
        return VMCTL_EXIT_USAGE;
    fprintf(stderr, "vmctl backend: give a subcommand, 'probe' or 'list'\n");
    return VMCTL_EXIT_USAGE;
}
