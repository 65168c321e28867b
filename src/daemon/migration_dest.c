/* migration_dest.c: the destination backings of a local migration (see
 * migration_dest.h). */
#include "config.h"

#include "daemon/migration_dest.h"

#include "daemon/paths.h"
#include "guest_spec.h"
#include "pmem_backend.h"

#include <string.h>
#include <sys/stat.h>

void vmctld_dest_clear(VmctldDest *d)
{
    g_clear_pointer(&d->spec, json_object_put);
    g_clear_pointer(&d->ram, g_free);
    g_clear_pointer(&d->nv, g_ptr_array_unref);
    g_clear_pointer(&d->created, g_ptr_array_unref);
}

char *vmctld_backing_image(const char *backend)
{
    struct stat st;

    if (!backend || !g_path_is_absolute(backend) || stat(backend, &st) < 0)
        return NULL;
    return S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) ? g_strdup(backend) : NULL;
}

/* A new backing path next to `path`: PATH.dst-N (an earlier suffix
 * dropped), one that does not exist yet. */
static char *beside(const char *path)
{
    g_autofree char *base = g_strdup(path);
    char *suffix = g_strrstr(base, ".dst-");

    if (suffix && suffix[5] && strspn(suffix + 5, "0123456789") == strlen(suffix + 5))
        *suffix = '\0';
    for (unsigned n = 1;; n++) {
        char *p = g_strdup_printf("%s.dst-%u", base, n);
        if (strcmp(p, path) != 0 && !g_file_test(p, G_FILE_TEST_EXISTS))
            return p;
        g_free(p);
    }
}

/* One backing of the guest: RAM or a device. */
typedef struct {
    const char *guest;
    const char *role;   /* "RAM", "NVDIMM 0", ... */
    const char *option; /* the request's option that names its destination */
    const char *src;    /* the source's backing spec */
    const char *want;   /* the requested destination, NULL: beside the source's */
    uint64_t size;      /* bytes */
} Item;

/* The destination of one backing, checked; a file still to be made goes
 * to `created`. */
static char *item_dest(const Item *it, GPtrArray *created, GError **error)
{
    g_autofree char *src_image = vmctld_backing_image(it->src);
    g_autofree char *dst = NULL;
    g_autoptr(VmctlBackend) sb = NULL, db = NULL;
    struct stat st;

    if (it->want) {
        if (!g_path_is_absolute(it->want)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "%s '%s' must be an absolute path", it->option,
                        it->want);
            return NULL;
        }
        if (vmctld_same_backing(it->want, it->src)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "%s '%s' is the source's own backing of the %s of "
                        "guest '%s': name another (or use --shared)", it->option, it->want, it->role, it->guest);
            return NULL;
        }
        dst = g_strdup(it->want);
    } else if (src_image && stat(src_image, &st) == 0 && S_ISCHR(st.st_mode)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "%s of guest '%s' is the device '%s', which cannot be "
                    "copied beside itself: name its destination with %s (another device-dax or an fsdax file), or "
                    "use --shared", it->role, it->guest, it->src, it->option);
        return NULL;
    } else if (src_image) {
        dst = beside(src_image);
    } else {
        dst = g_strdup(it->src); /* anonymous, memfd, a directory: QEMU's own new memory */
    }
    db = vmctl_backend_probe(dst, it->size, error);
    if (!db) {
        g_prefix_error(error, "destination of the %s of guest '%s': ", it->role, it->guest);
        return NULL;
    }
    sb = vmctl_backend_probe(it->src, 0, NULL);
    if (sb && vmctl_backend_is_dax(sb) && !vmctl_backend_is_dax(db)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "destination '%s' of the %s of guest '%s' is not DAX "
                    "(%s) while its source '%s' is: memory QEMU maps pmem=on stays on DAX", dst, it->role, it->guest,
                    vmctl_backend_pmem_reason(db), it->src);
        return NULL;
    }
    if (g_path_is_absolute(dst) && !g_file_test(dst, G_FILE_TEST_EXISTS))
        g_ptr_array_add(created, g_strdup(dst));
    return g_steal_pointer(&dst);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* The destinations of the devices of one list ("nvdimm" or
 * "virtio-pmem") of `spec`, written into it; NVDIMM images go to `images`. */
static bool devices_dest(json_object *spec, const char *list, const char *what, const char *option,
                         const char *const *want, GPtrArray *created, GPtrArray *images, GError **error)
{
    json_object *devs = json_object_object_get(spec, list);
    size_t n = devs ? json_object_array_length(devs) : 0;

    if (want && g_strv_length((char **)want) != n) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "%s is given %u times and guest '%s' has %zu %s "
                    "device(s): name one destination for each", option, g_strv_length((char **)want),
                    jstr(spec, "name"), n, list);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(devs, i);
        g_autofree char *role = g_strdup_printf("%s %zu", what, i);
        Item it = { jstr(spec, "name"), role, option, jstr(d, "path"), want ? want[i] : NULL,
                    (uint64_t)json_object_get_int64(json_object_object_get(d, "size")) };
        char *dst = item_dest(&it, created, error);

        if (!dst)
            return false;
        if (images)
            g_ptr_array_add(images, g_strdup(dst));
        json_object_object_add(d, "path", json_object_new_string(dst));
        g_free(dst);
    }
    return true;
}

static void shared_images(VmctldDest *out)
{
    json_object *nv = json_object_object_get(out->spec, "nvdimm");

    out->ram = vmctld_backing_image(jstr(out->spec, "backend"));
    for (size_t i = 0; nv && i < json_object_array_length(nv); i++)
        g_ptr_array_add(out->nv, g_strdup(jstr(json_object_array_get_idx(nv, i), "path")));
}

bool vmctld_dest_plan(VmctldGuests *guests, json_object *src_spec, const VmctldDestRequest *req, VmctldDest *out,
                      GError **error)
{
    g_autoptr(VmctlGuestSpec) spec = NULL;
    g_autofree char *ram = NULL;
    Item it = { jstr(src_spec, "name"), "RAM", "--dest-backend", jstr(src_spec, "backend"), req->backend,
                (uint64_t)json_object_get_int64(json_object_object_get(src_spec, "memory")) };

    *out = (VmctldDest){ NULL, NULL, g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free) };
    json_object_deep_copy(src_spec, &out->spec, NULL);
    if (req->shared) {
        if (req->backend || req->nvdimm || req->virtio_pmem) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "--shared keeps the source's backings: it excludes "
                        "--dest-backend, --dest-nvdimm and --dest-virtio-pmem");
            vmctld_dest_clear(out);
            return false;
        }
        shared_images(out);
        return true;
    }
    if (!it.src)
        it.src = "anonymous";
    ram = item_dest(&it, out->created, error);
    if (!ram || !devices_dest(out->spec, "nvdimm", "NVDIMM", "--dest-nvdimm", req->nvdimm, out->created, out->nv, error) ||
        !devices_dest(out->spec, "virtio-pmem", "virtio-pmem device", "--dest-virtio-pmem", req->virtio_pmem,
                      out->created, NULL, error))
        goto fail;
    json_object_object_add(out->spec, "backend", json_object_new_string(ram));
    out->ram = vmctld_backing_image(ram);
    if (!out->ram && g_path_is_absolute(ram) && !g_file_test(ram, G_FILE_TEST_EXISTS))
        out->ram = g_strdup(ram); /* a file QEMU will make */
    spec = vmctl_guest_spec_from_json(out->spec, error);
    if (!spec || !vmctld_guests_backings_check(guests, spec, error))
        goto fail;
    return true;
fail:
    vmctld_dest_clear(out);
    return false;
}

static bool strv_member(json_object *args, const char *key, const char ***out, GError **error)
{
    json_object *a = NULL;
    const char **v;
    size_t n;

    if (!json_object_object_get_ex(args, key, &a) || !a)
        return true;
    if (!json_object_is_type(a, json_type_array)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument '%s' must be an array of paths", key);
        return false;
    }
    n = json_object_array_length(a);
    v = g_new0(const char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        if (!json_object_is_type(e, json_type_string)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument '%s' must be an array of paths", key);
            g_free(v);
            return false;
        }
        v[i] = json_object_get_string(e);
    }
    *out = v;
    return true;
}

bool vmctld_dest_request_from_args(json_object *args, bool shared, VmctldDestRequest *req, GError **error)
{
    json_object *b = NULL;

    *req = (VmctldDestRequest){ .shared = shared };
    if (args && json_object_object_get_ex(args, "dest-backend", &b) && b) {
        if (!json_object_is_type(b, json_type_string)) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "argument 'dest-backend' must be a backing spec");
            return false;
        }
        req->backend = json_object_get_string(b);
    }
    if (args && (!strv_member(args, "dest-nvdimm", (const char ***)&req->nvdimm, error) ||
                 !strv_member(args, "dest-virtio-pmem", (const char ***)&req->virtio_pmem, error))) {
        vmctld_dest_request_clear(req);
        return false;
    }
    return true;
}

void vmctld_dest_request_clear(VmctldDestRequest *req)
{
    g_free((gpointer)req->nvdimm);
    g_free((gpointer)req->virtio_pmem);
    req->nvdimm = req->virtio_pmem = NULL;
}
