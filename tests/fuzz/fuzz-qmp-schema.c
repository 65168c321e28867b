/* fuzz-qmp-schema.c: the index over QEMU's QMP schema
 * (vmctl_qmp_schema_new and its path queries, src/qmp_schema.h), built
 * from the "return" value of query-qmp-schema.
 *
 * Input: JSON text for that value. The queries are the paths vmctl asks
 * plus paths made from the names found in the input itself, so that deep
 * walks (arrays, alternates, flat unions, enums) are reached. Property:
 * new says yes with no error or no with one. Loops in the type graph must
 * end (libFuzzer's -timeout catches a hang). */
#include "config.h"

#include "fuzz.h"
#include "qmp_schema.h"
#include "util.h"

static const char *const fixed[] = {
    "calc-dirty-rate/arg-type/mode",
    "query-migrate-capabilities/ret-type/capability/dirty-limit",
    "query-migrate-capabilities/ret-type/capability/postcopy-ram",
    "migrate-set-capabilities/arg-type/capabilities/element-type/capability/x-ignore-shared",
    "query-migrate/ret-type/ram/dirty-pages-rate",
    "object-add/arg-type/qom-type/memory-backend-file",
    "object-add/arg-type/mem-path",
    "MIGRATION/arg-type/status",
    "str",
    "",
    "/",
    "a//b",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *s = fuzz_strndup(data, size);
    g_autoptr(json_object) j = NULL;
    g_autoptr(VmctlQmpSchema) schema = NULL;
    g_autoptr(GError) err = NULL;
    enum json_tokener_error jerr;
    size_t n;

    j = json_tokener_parse_verbose(s, &jerr);
    if (!j)
        return 0;
    schema = vmctl_qmp_schema_new(j, &err);
    if ((schema == NULL) == (err == NULL))
        abort();
    if (!schema)
        return 0;
    for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
        (void)vmctl_qmp_schema_lookup(schema, fixed[i]);
    /* Paths from the names in the input: NAME, NAME/arg-type/M,
     * NAME/ret-type/M/element-type for each member name M seen. */
    n = json_object_is_type(j, json_type_array) ? json_object_array_length(j) : 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        json_object *e = json_object_array_get_idx(j, i), *name = NULL, *members = NULL;
        const char *nm;

        if (!json_object_object_get_ex(e, "name", &name) || !json_object_is_type(name, json_type_string))
            continue;
        nm = json_object_get_string(name);
        (void)vmctl_qmp_schema_is_command(schema, nm);
        (void)vmctl_qmp_schema_lookup(schema, nm);
        if (json_object_object_get_ex(e, "members", &members) && json_object_is_type(members, json_type_array)) {
            for (size_t k = 0; k < json_object_array_length(members) && k < 16; k++) {
                json_object *mn = NULL;
                const char *m;

                if (!json_object_object_get_ex(json_object_array_get_idx(members, k), "name", &mn))
                    continue;
                m = json_object_get_string(mn);
                for (size_t c = 0; c < n && c < 16; c++) {
                    json_object *cn = NULL;
                    g_autofree char *p1 = NULL, *p2 = NULL, *p3 = NULL;

                    if (!json_object_object_get_ex(json_object_array_get_idx(j, c), "name", &cn))
                        continue;
                    p1 = g_strdup_printf("%s/arg-type/%s", json_object_get_string(cn), m);
                    p2 = g_strdup_printf("%s/ret-type/%s/element-type/%s", json_object_get_string(cn), m, m);
                    p3 = g_strdup_printf("%s/%s/%s", json_object_get_string(cn), m, m);
                    (void)vmctl_qmp_schema_lookup(schema, p1);
                    (void)vmctl_qmp_schema_lookup(schema, p2);
                    (void)vmctl_qmp_schema_lookup(schema, p3);
                }
            }
        }
    }
    return 0;
}
