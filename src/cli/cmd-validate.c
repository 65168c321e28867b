/* cmd-validate.c: `vmctl validate`, the host report. Prints the host facts
 * and runs every check that is built; a check that did not run is never
 * printed as a result. */
#include "config.h"

#include "cli/builtin.h"
#include "host.h"

#include <stdio.h>
#include <string.h>

/* Checks of the report that have no implementation in this build yet; they
 * are listed as such, never as results. */
static const char *const not_built[] = {
    "dirty-log probe per backing and mode",
    "huge-page mapping under dirty logging",
    "guest dirty-rate accuracy",
    "migration with page-level verification",
    "NVDIMM content across migration",
    "KSM positive and negative checks",
    "accessed-bit coverage per backing",
};

static void print_changes(json_object *arr, const char *indent)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *c = json_object_array_get_idx(arr, i);
        json_object *applies = json_object_object_get(c, "applies");

        printf("%s[%s] %s\n", indent, json_object_get_boolean(applies) ? "applies" : "n/a    ",
               json_object_get_string(json_object_object_get(c, "summary")));
    }
}

static const char *jstr(json_object *o, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);

    for (size_t i = 0; parts[i] && o; i++)
        o = json_object_object_get(o, parts[i]);
    return o ? json_object_get_string(o) : "unknown";
}

static void print_facts(json_object *facts)
{
    json_object *caps = json_object_object_get(json_object_object_get(facts, "kvm"), "caps");

    printf("Host facts\n");
    printf("  kernel            %s\n", jstr(facts, "kernel.release"));
    print_changes(json_object_object_get(json_object_object_get(facts, "kernel"), "known_changes"), "                    ");
    printf("  kvm               %s (module %s)\n",
           strcmp(jstr(facts, "kvm.available"), "true") == 0 ? "available" : "unavailable", jstr(facts, "kvm.module"));
    if (caps) {
        json_object_object_foreach(caps, k, v) printf("                    %-28s %s\n", k, json_object_get_string(v));
    }
    printf("  thp               %s\n", jstr(facts, "memory.thp"));
    printf("  ksm               %s (run=%s)\n",
           strcmp(jstr(facts, "memory.ksm.available"), "true") == 0 ? "available" : "unavailable",
           jstr(facts, "memory.ksm.run"));
    printf("  page_idle         %s\n", jstr(facts, "memory.page_idle"));
    printf("  damon (sysfs)     %s\n", jstr(facts, "memory.damon_sysfs"));
    printf("  accessed bits     %s\n", jstr(facts, "memory.dax_accessed_bits"));
    printf("  qemu              %s (%s)\n", jstr(facts, "qemu.version"), jstr(facts, "qemu.binary"));
    print_changes(json_object_object_get(json_object_object_get(facts, "qemu"), "known_issues"), "                    ");
    printf("  libvirt           %s\n", jstr(facts, "libvirt.library_version"));
}

int cmd_validate(int argc, char **argv, struct vmctl_ctx *ctx)
{
    g_autoptr(json_object) report = json_object_new_object();
    json_object *facts;
    json_object *nb;

    if (!vmctl_cli_parse(ctx, &argc, &argv, "", "Report what this host does with DAX-backed guest memory.", NULL))
        return VMCTL_EXIT_USAGE;

    facts = vmctl_host_facts();
    json_object_object_add(report, "host", facts);
    nb = json_object_new_array();
    for (size_t i = 0; i < G_N_ELEMENTS(not_built); i++)
        json_object_array_add(nb, json_object_new_string(not_built[i]));
    json_object_object_add(report, "not_built", nb);

    if (ctx->json) {
        vmctl_json_print(report);
        return VMCTL_EXIT_OK;
    }
    print_facts(facts);
    printf("\nNot built yet in this version (not run, no result):\n");
    for (size_t i = 0; i < G_N_ELEMENTS(not_built); i++)
        printf("  - %s\n", not_built[i]);
    return VMCTL_EXIT_OK;
}
