/* guest_spec.c: the guest spec, its JSON form and its rules (see
 * guest_spec.h). Every error is one line that names the member or the value
 * and the rule it broke. */
#include "config.h"

#include "guest_spec.h"
#include "util.h"

#include <string.h>

static const char *const kind_names[] = { [VMCTL_GUEST_TINY] = "tiny", [VMCTL_GUEST_LINUX] = "linux" };
static const char *const accel_names[] = { [VMCTL_ACCEL_AUTO] = "auto", [VMCTL_ACCEL_KVM] = "kvm",
                                           [VMCTL_ACCEL_TCG] = "tcg" };

const char *vmctl_guest_kind_name(VmctlGuestKind kind)
{
    return (unsigned)kind < G_N_ELEMENTS(kind_names) ? kind_names[kind] : "?";
}

const char *vmctl_accel_name(VmctlAccel accel)
{
    return (unsigned)accel < G_N_ELEMENTS(accel_names) ? accel_names[accel] : "?";
}

bool vmctl_guest_kind_from_name(const char *name, VmctlGuestKind *out)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(kind_names); i++) {
        if (g_strcmp0(name, kind_names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

bool vmctl_accel_from_name(const char *name, VmctlAccel *out)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(accel_names); i++) {
        if (g_strcmp0(name, accel_names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* ---- life --------------------------------------------------------------- */

static void device_clear(gpointer data)
{
    VmctlGuestDevice *d = data;

    g_free(d->path);
}

static GArray *device_array(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(VmctlGuestDevice));

    g_array_set_clear_func(a, device_clear);
    return a;
}

VmctlGuestSpec *vmctl_guest_spec_new(void)
{
    VmctlGuestSpec *spec = g_new0(VmctlGuestSpec, 1);

    spec->backend = g_strdup("anonymous");
    spec->kind = VMCTL_GUEST_TINY;
    spec->accel = VMCTL_ACCEL_AUTO;
    spec->vcpus = 1;
    spec->nvdimm = device_array();
    spec->virtio_pmem = device_array();
    spec->mem_merge = true;
    spec->tiny.seed = 1;
    spec->linux_guest.cmdline = g_strdup("");
    return spec;
}

void vmctl_guest_spec_free(VmctlGuestSpec *spec)
{
    if (!spec)
        return;
    g_free(spec->name);
    g_free(spec->backend);
    g_array_unref(spec->nvdimm);
    g_array_unref(spec->virtio_pmem);
    g_free(spec->linux_guest.cmdline);
    g_free(spec);
}

/* ---- JSON in ------------------------------------------------------------ */

static bool fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool fail(GError **error, const char *fmt, ...)
{
    va_list ap;

    if (!error)
        return false;
    g_return_val_if_fail(*error == NULL, false);
    va_start(ap, fmt);
    *error = g_error_new_valist(VMCTL_ERROR, VMCTL_ERROR_INVALID, fmt, ap);
    va_end(ap);
    return false;
}

static bool get_string(json_object *v, const char *member, char **out, GError **error)
{
    if (!json_object_is_type(v, json_type_string))
        return fail(error, "member '%s' must be a string", member);
    g_free(*out);
    *out = g_strdup(json_object_get_string(v));
    return true;
}

/* A non-negative JSON integer up to max. */
static bool get_uint(json_object *v, const char *member, uint64_t max, uint64_t *out, GError **error)
{
    uint64_t val;

    if (!json_object_is_type(v, json_type_int))
        return fail(error, "member '%s' must be an integer", member);
    if (json_object_get_int64(v) < 0)
        return fail(error, "member '%s' must not be negative", member);
    val = json_object_get_uint64(v);
    if (val > max)
        return fail(error, "member '%s' must be at most %" G_GUINT64_FORMAT, member, max);
    *out = val;
    return true;
}

/* A size: a size string ("512M") or a byte count. */
static bool get_size(json_object *v, const char *member, const char *example, uint64_t *out, GError **error)
{
    if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
        *out = json_object_get_uint64(v);
        return true;
    }
    if (!json_object_is_type(v, json_type_string) || !vmctl_parse_size(json_object_get_string(v), true, out, NULL))
        return fail(error, "member '%s' must be a size string like '%s'", member, example);
    return true;
}

static bool get_devices(json_object *v, const char *member, GArray *out, GError **error)
{
    size_t n;

    if (!json_object_is_type(v, json_type_array))
        return fail(error, "member '%s' must be a list of {\"path\", \"size\"} objects", member);
    n = json_object_array_length(v);
    g_array_set_size(out, 0);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(v, i);
        VmctlGuestDevice dev = { 0 };
        bool have_size = false;

        if (!json_object_is_type(item, json_type_object))
            return fail(error, "member '%s[%zu]' must be a {\"path\", \"size\"} object", member, i);
        json_object_object_foreach(item, key, val)
        {
            g_autofree char *where = g_strdup_printf("%s[%zu].%s", member, i, key);

            if (strcmp(key, "path") == 0) {
                if (!get_string(val, where, &dev.path, error))
                    goto bad;
            } else if (strcmp(key, "size") == 0) {
                if (!get_size(val, where, "1G", &dev.size, error))
                    goto bad;
                have_size = true;
            } else {
                fail(error, "member '%s' is not a guest spec member", where);
                goto bad;
            }
        }
        if (!dev.path || !have_size) {
            fail(error, "member '%s[%zu].%s' is missing", member, i, dev.path ? "size" : "path");
            goto bad;
        }
        g_array_append_val(out, dev);
        continue;
    bad:
        g_free(dev.path);
        return false;
    }
    return true;
}

static bool parse_tiny(VmctlGuestSpec *spec, json_object *v, GError **error)
{
    if (!json_object_is_type(v, json_type_object))
        return fail(error, "member 'tiny' must be an object");
    json_object_object_foreach(v, key, val)
    {
        g_autofree char *where = g_strdup_printf("tiny.%s", key);
        uint64_t same;

        if (strcmp(key, "rate") == 0) {
            if (!get_uint(val, where, G_MAXUINT64, &spec->tiny.rate, error))
                return false;
        } else if (strcmp(key, "ws") == 0) {
            if (!get_uint(val, where, G_MAXUINT64, &spec->tiny.ws, error))
                return false;
        } else if (strcmp(key, "same") == 0) {
            if (!get_uint(val, where, G_MAXUINT32, &same, error))
                return false;
            spec->tiny.same = same;
        } else if (strcmp(key, "seed") == 0) {
            if (!get_uint(val, where, G_MAXUINT64, &spec->tiny.seed, error))
                return false;
        } else {
            return fail(error, "member '%s' is not a guest spec member", where);
        }
    }
    return true;
}

static bool parse_linux(VmctlGuestSpec *spec, json_object *v, GError **error)
{
    if (!json_object_is_type(v, json_type_object))
        return fail(error, "member 'linux' must be an object");
    json_object_object_foreach(v, key, val)
    {
        g_autofree char *where = g_strdup_printf("linux.%s", key);

        if (strcmp(key, "cmdline") == 0) {
            if (!get_string(val, where, &spec->linux_guest.cmdline, error))
                return false;
        } else {
            return fail(error, "member '%s' is not a guest spec member", where);
        }
    }
    return true;
}

static bool parse_member(VmctlGuestSpec *spec, const char *key, json_object *val, GError **error)
{
    uint64_t n;

    if (strcmp(key, "name") == 0)
        return get_string(val, key, &spec->name, error);
    if (strcmp(key, "memory") == 0)
        return get_size(val, key, "512M", &spec->memory, error);
    if (strcmp(key, "backend") == 0)
        return get_string(val, key, &spec->backend, error);
    if (strcmp(key, "kind") == 0) {
        if (!json_object_is_type(val, json_type_string) ||
            !vmctl_guest_kind_from_name(json_object_get_string(val), &spec->kind))
            return fail(error, "member 'kind' must be 'tiny' or 'linux'");
        return true;
    }
    if (strcmp(key, "accel") == 0) {
        if (!json_object_is_type(val, json_type_string) || !vmctl_accel_from_name(json_object_get_string(val), &spec->accel))
            return fail(error, "member 'accel' must be 'auto', 'kvm' or 'tcg'");
        return true;
    }
    if (strcmp(key, "vcpus") == 0) {
        if (!get_uint(val, key, G_MAXUINT32, &n, error))
            return false;
        spec->vcpus = n;
        return true;
    }
    if (strcmp(key, "mem-merge") == 0) {
        if (!json_object_is_type(val, json_type_boolean))
            return fail(error, "member 'mem-merge' must be true or false");
        spec->mem_merge = json_object_get_boolean(val);
        return true;
    }
    if (strcmp(key, "dirty-ring") == 0) {
        if (!get_uint(val, key, G_MAXUINT32, &n, error))
            return false;
        spec->dirty_ring = n;
        return true;
    }
    if (strcmp(key, "nvdimm") == 0)
        return get_devices(val, key, spec->nvdimm, error);
    if (strcmp(key, "virtio-pmem") == 0)
        return get_devices(val, key, spec->virtio_pmem, error);
    if (strcmp(key, "tiny") == 0)
        return parse_tiny(spec, val, error);
    if (strcmp(key, "linux") == 0)
        return parse_linux(spec, val, error);
    return fail(error, "member '%s' is not a guest spec member", key);
}

VmctlGuestSpec *vmctl_guest_spec_from_json(json_object *json, GError **error)
{
    g_autoptr(VmctlGuestSpec) spec = vmctl_guest_spec_new();
    json_object *v;

    if (!json_object_is_type(json, json_type_object)) {
        fail(error, "guest spec must be a JSON object");
        return NULL;
    }
    json_object_object_foreach(json, key, val)
    {
        if (!parse_member(spec, key, val, error))
            return NULL;
    }
    if (!json_object_object_get_ex(json, "name", NULL)) {
        fail(error, "member 'name' is missing");
        return NULL;
    }
    if (!json_object_object_get_ex(json, "memory", NULL)) {
        fail(error, "member 'memory' is missing");
        return NULL;
    }
    if (json_object_object_get_ex(json, "tiny", &v) && spec->kind != VMCTL_GUEST_TINY) {
        fail(error, "member 'tiny' applies to kind 'tiny' only");
        return NULL;
    }
    if (json_object_object_get_ex(json, "linux", &v) && spec->kind != VMCTL_GUEST_LINUX) {
        fail(error, "member 'linux' applies to kind 'linux' only");
        return NULL;
    }
    return g_steal_pointer(&spec);
}

/* ---- JSON out ----------------------------------------------------------- */

static json_object *devices_to_json(GArray *devs)
{
    json_object *arr = json_object_new_array();

    for (guint i = 0; i < devs->len; i++) {
        const VmctlGuestDevice *d = &g_array_index(devs, VmctlGuestDevice, i);
        json_object *o = json_object_new_object();

        vmctl_json_add_str(o, "path", d->path);
        vmctl_json_add_u64(o, "size", d->size);
        json_object_array_add(arr, o);
    }
    return arr;
}

json_object *vmctl_guest_spec_to_json(const VmctlGuestSpec *spec)
{
    json_object *obj = json_object_new_object();
    json_object *sub = json_object_new_object();

    vmctl_json_add_str(obj, "name", spec->name ? spec->name : "");
    vmctl_json_add_u64(obj, "memory", spec->memory);
    vmctl_json_add_str(obj, "backend", spec->backend);
    vmctl_json_add_str(obj, "kind", vmctl_guest_kind_name(spec->kind));
    vmctl_json_add_str(obj, "accel", vmctl_accel_name(spec->accel));
    vmctl_json_add_u64(obj, "vcpus", spec->vcpus);
    vmctl_json_add_bool(obj, "mem-merge", spec->mem_merge);
    vmctl_json_add_u64(obj, "dirty-ring", spec->dirty_ring);
    json_object_object_add(obj, "nvdimm", devices_to_json(spec->nvdimm));
    json_object_object_add(obj, "virtio-pmem", devices_to_json(spec->virtio_pmem));
    if (spec->kind == VMCTL_GUEST_TINY) {
        vmctl_json_add_u64(sub, "rate", spec->tiny.rate);
        vmctl_json_add_u64(sub, "ws", spec->tiny.ws);
        vmctl_json_add_u64(sub, "same", spec->tiny.same);
        vmctl_json_add_u64(sub, "seed", spec->tiny.seed);
        json_object_object_add(obj, "tiny", sub);
    } else {
        vmctl_json_add_str(sub, "cmdline", spec->linux_guest.cmdline ? spec->linux_guest.cmdline : "");
        json_object_object_add(obj, "linux", sub);
    }
    return obj;
}

VmctlGuestSpec *vmctl_guest_spec_copy(const VmctlGuestSpec *spec)
{
    g_autoptr(json_object) json = vmctl_guest_spec_to_json(spec);
    g_autoptr(GError) err = NULL;
    VmctlGuestSpec *copy = vmctl_guest_spec_from_json(json, &err);

    /* to_json writes only what from_json reads */
    g_assert_no_error(err);
    return copy;
}

/* ---- rules -------------------------------------------------------------- */

static bool valid_name(const char *name)
{
    size_t len = name ? strlen(name) : 0;

    if (len < 1 || len > VMCTL_GUEST_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

/* A newline or another control character in a path breaks every line
 * that shows it (`vmctl list`, logs): refused, shown escaped. */
static bool check_path_chars(const char *what, const char *path, GError **error)
{
    g_autofree char *shown = NULL;

    for (const char *c = path; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            shown = g_strescape(path, NULL);
            return fail(error, "%s '%s' must not contain control characters", what, shown);
        }
    return true;
}

/* NAME.dst-N: the run dir of a migration's destination */
static bool name_is_dst(const char *name)
{
    const char *d = g_strrstr(name, ".dst-");

    if (!d || !d[5])
        return false;
    for (d += 5; *d; d++)
        if (!g_ascii_isdigit(*d))
            return false;
    return true;
}

static bool check_devices(GArray *devs, const char *what, GHashTable *paths, GError **error)
{
    if (devs->len > VMCTL_GUEST_DEVICES_MAX)
        return fail(error, "%s devices '%u' must be at most %d", what, devs->len, VMCTL_GUEST_DEVICES_MAX);
    for (guint i = 0; i < devs->len; i++) {
        const VmctlGuestDevice *d = &g_array_index(devs, VmctlGuestDevice, i);
        g_autofree char *size = vmctl_format_size(d->size);

        if (!d->path || !g_path_is_absolute(d->path))
            return fail(error, "%s path '%s' must be an absolute path", what, d->path ? d->path : "");
        {
            g_autofree char *what_path = g_strdup_printf("%s path", what);

            if (!check_path_chars(what_path, d->path, error))
                return false;
        }
        if (d->size == 0 || d->size % VMCTL_GUEST_DEVICE_ALIGN != 0)
            return fail(error, "%s size '%s' of '%s' must be a non-zero multiple of 2M", what, size, d->path);
        if (g_hash_table_contains(paths, d->path))
            return fail(error, "%s path '%s' is used by another device or the guest memory", what, d->path);
        g_hash_table_add(paths, d->path);
    }
    return true;
}

static bool check_cmdline(const char *cmdline, GError **error)
{
    size_t len = strlen(cmdline);

    if (len > VMCTL_GUEST_CMDLINE_MAX)
        return fail(error, "linux cmdline of %zu bytes must be at most %d bytes", len, VMCTL_GUEST_CMDLINE_MAX);
    for (const char *p = cmdline; *p; p++) {
        if (!g_ascii_isprint(*p)) {
            g_autofree char *shown = g_strescape(cmdline, NULL);
            return fail(error, "linux cmdline '%s' must be printable ASCII on one line", shown);
        }
    }
    return true;
}

bool vmctl_guest_spec_validate(const VmctlGuestSpec *spec, unsigned max_vcpus, GError **error)
{
    g_autoptr(GHashTable) paths = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *mem = vmctl_format_size(spec->memory);
    unsigned ring = spec->dirty_ring;

    if (!valid_name(spec->name))
        return fail(error, "guest name '%s' must match [A-Za-z0-9._-]{1,64}", spec->name ? spec->name : "");
    /* names become file names: not ".", "..", nor a hidden file; nor an
     * option to the CLI that has to manage them */
    if (spec->name[0] == '.' || spec->name[0] == '-')
        return fail(error, "guest name '%s' must not start with '.' or '-'", spec->name);
    /* nor one of vmctld's own files beside the guests' (state files being
     * written, a migration's destination run dir) */
    if (strstr(spec->name, ".tmp.") || name_is_dst(spec->name))
        return fail(error, "guest name '%s' must not contain '.tmp.' nor end in '.dst-N': vmctld names its own files "
                    "so", spec->name);
    if (spec->memory < VMCTL_GUEST_MEMORY_MIN)
        return fail(error, "memory size '%s' must be at least 16M", mem);
    if (spec->memory % VMCTL_GUEST_MEMORY_ALIGN != 0)
        return fail(error, "memory size '%s' must be a multiple of 2M", mem);
    if (!spec->backend || !*spec->backend)
        return fail(error, "backend '' must name a backing: 'anonymous', 'memfd' or a path");
    if (!check_path_chars("backend", spec->backend, error))
        return false;
    if (spec->vcpus < 1 || spec->vcpus > max_vcpus)
        return fail(error, "vcpus '%u' must be between 1 and %u", spec->vcpus, max_vcpus);
    if (ring != 0 &&
        (ring < VMCTL_GUEST_DIRTY_RING_MIN || ring > VMCTL_GUEST_DIRTY_RING_MAX || (ring & (ring - 1)) != 0))
        return fail(error, "dirty-ring '%u' must be 0 or a power of two from 1024 to 65536", ring);
    if (ring != 0 && spec->accel == VMCTL_ACCEL_TCG)
        return fail(error, "dirty-ring '%u' needs accel 'kvm' or 'auto', not 'tcg'", ring);
    if (spec->backend[0] == '/')
        g_hash_table_add(paths, spec->backend);
    if (!check_devices(spec->nvdimm, "nvdimm", paths, error) ||
        !check_devices(spec->virtio_pmem, "virtio-pmem", paths, error))
        return false;
    if (spec->kind == VMCTL_GUEST_TINY) {
        if (spec->tiny.rate > VMCTL_GUEST_TINY_RATE_MAX)
            return fail(error, "tiny rate '%" G_GUINT64_FORMAT "' must be at most 1000000000 pages/s", spec->tiny.rate);
        if (spec->tiny.same > VMCTL_GUEST_SAME_MAX)
            return fail(error, "tiny same '%u' must be at most 1000 (per mille)", spec->tiny.same);
        if (spec->tiny.ws > spec->memory / 4096)
            return fail(error, "tiny ws '%" G_GUINT64_FORMAT "' must be at most the %" G_GUINT64_FORMAT
                        " pages of memory size '%s'", spec->tiny.ws, spec->memory / 4096, mem);
    } else if (!check_cmdline(spec->linux_guest.cmdline ? spec->linux_guest.cmdline : "", error)) {
        return false;
    }
    return true;
}

bool vmctl_guest_spec_add_device(VmctlGuestSpec *spec, const char *what, const char *arg, GError **error)
{
    GArray *list = strcmp(what, "nvdimm") == 0 ? spec->nvdimm : spec->virtio_pmem;
    const char *comma = strrchr(arg, ',');
    VmctlGuestDevice dev = { 0 };

    if (!comma || comma == arg || !vmctl_parse_size(comma + 1, false, &dev.size, NULL))
        return fail(error, "%s '%s' must be PATH,SIZE like '/mnt/pmem/nv0,1G'", what, arg);
    dev.path = g_strndup(arg, comma - arg);
    g_array_append_val(list, dev);
    return true;
}
