/* qmp_schema.c: an index over QEMU's QMP schema and path queries on it
 * (see qmp_schema.h). The entries stay inside the json_object list they came
 * in; the index maps names to them. */
#include "config.h"

#include "qmp_schema.h"
#include "util.h"

#include <string.h>

#define SCHEMA_DEPTH 16 /* links followed while looking for one member */

struct VmctlQmpSchema {
    json_object *list;   /* the query-qmp-schema reply, referenced */
    GHashTable *by_name; /* name -> entry inside list */
};

static const char *str_member(json_object *obj, const char *key)
{
    json_object *v;

    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static json_object *array_member(json_object *obj, const char *key)
{
    json_object *v;

    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_array))
        return NULL;
    return v;
}

VmctlQmpSchema *vmctl_qmp_schema_new(json_object *list, GError **error)
{
    VmctlQmpSchema *schema;
    size_t n;

    if (!json_object_is_type(list, json_type_array)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "QMP schema must be a list of entries");
        return NULL;
    }
    n = json_object_array_length(list);
    schema = g_new0(VmctlQmpSchema, 1);
    schema->list = json_object_get(list);
    schema->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(list, i);
        const char *name = str_member(e, "name");

        if (!name || !str_member(e, "meta-type")) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "QMP schema entry %zu must have a 'name' and a 'meta-type'", i);
            vmctl_qmp_schema_free(schema);
            return NULL;
        }
        g_hash_table_insert(schema->by_name, (gpointer)name, e);
    }
    return schema;
}

void vmctl_qmp_schema_free(VmctlQmpSchema *schema)
{
    if (!schema)
        return;
    g_hash_table_unref(schema->by_name);
    json_object_put(schema->list);
    g_free(schema);
}

static json_object *entry(const VmctlQmpSchema *schema, const char *name)
{
    return name ? g_hash_table_lookup(schema->by_name, name) : NULL;
}

bool vmctl_qmp_schema_is_command(const VmctlQmpSchema *schema, const char *name)
{
    return g_strcmp0(str_member(entry(schema, name), "meta-type"), "command") == 0;
}

static json_object *find_member(const VmctlQmpSchema *schema, json_object *type, const char *name, bool last,
                                int depth);

/* find_member() over the types named by `key` in each element of `list`. */
static json_object *find_in_branches(const VmctlQmpSchema *schema, json_object *list, const char *key,
                                     const char *name, bool last, int depth)
{
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *branch = entry(schema, str_member(json_object_array_get_idx(list, i), key));
        json_object *found = find_member(schema, branch, name, last, depth + 1);

        if (found)
            return found;
    }
    return NULL;
}

/* The type of member `name` of `type` (an object, array, alternate,
 * command or event, followed as needed); for an enum `type`, the enum
 * itself when `name` is one of its values and `last` is set. */
static json_object *find_member(const VmctlQmpSchema *schema, json_object *type, const char *name, bool last,
                                int depth)
{
    const char *meta = str_member(type, "meta-type");
    json_object *list;

    if (!type || depth > SCHEMA_DEPTH)
        return NULL;
    if (g_strcmp0(meta, "command") == 0 || g_strcmp0(meta, "event") == 0)
        return find_member(schema, entry(schema, str_member(type, "arg-type")), name, last, depth + 1);
    if (g_strcmp0(meta, "array") == 0)
        return find_member(schema, entry(schema, str_member(type, "element-type")), name, last, depth + 1);
    if (g_strcmp0(meta, "alternate") == 0)
        return find_in_branches(schema, array_member(type, "members"), "type", name, last, depth);
    if (g_strcmp0(meta, "enum") == 0) {
        list = array_member(type, "values");
        for (size_t i = 0; last && list && i < json_object_array_length(list); i++)
            if (g_strcmp0(json_object_get_string(json_object_array_get_idx(list, i)), name) == 0)
                return type;
        return NULL;
    }
    if (g_strcmp0(meta, "object") != 0)
        return NULL;
    list = array_member(type, "members");
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *m = json_object_array_get_idx(list, i);

        if (g_strcmp0(str_member(m, "name"), name) == 0) {
            json_object *found = entry(schema, str_member(m, "type"));
            /* the member exists even when its type is not listed */
            return found ? found : (last ? type : NULL);
        }
    }
    /* flat unions: the members of the variant branches */
    return find_in_branches(schema, array_member(type, "variants"), "type", name, last, depth);
}

bool vmctl_qmp_schema_lookup(const VmctlQmpSchema *schema, const char *path)
{
    g_auto(GStrv) steps = NULL;
    json_object *cur;

    if (!schema || !path)
        return false;
    steps = g_strsplit(path, "/", -1);
    cur = entry(schema, steps[0]);
    for (size_t i = 1; cur && steps[i]; i++) {
        const char *s = steps[i];

        if (strcmp(s, "arg-type") == 0 || strcmp(s, "ret-type") == 0 || strcmp(s, "element-type") == 0)
            cur = entry(schema, str_member(cur, s));
        else
            cur = find_member(schema, cur, s, steps[i + 1] == NULL, 0);
    }
    return cur != NULL;
}
