/* libvirt_hook.c: which domains libvirt may start or accept on this host,
 * judged by their memory backings through pmem_backend. */
#include "config.h"

#include "libvirt_hook.h"

#include "pmem_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define HOOK_LOG_DEFAULT "/var/log/vmctl/hook.log"

void vmctl_hook_result_clear(VmctlHookResult *r)
{
    g_clear_pointer(&r->message, g_free);
    g_clear_pointer(&r->warnings, g_ptr_array_unref);
    g_clear_pointer(&r->checked, json_object_put);
}

static bool refuse(VmctlHookResult *res, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool refuse(VmctlHookResult *res, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    res->verdict = VMCTL_HOOK_REFUSE;
    res->message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return true;
}

/* One <memory> device with a backing path. `incoming`: the domain is being
 * migrated to this host. */
static bool check_memdev(const VmctlDomain *d, const VmctlDomainMemdev *m, bool incoming, VmctlHookResult *res)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmctlBackend) b = NULL;
    json_object *o = json_object_new_object();
    bool virtio_pmem = g_strcmp0(m->model, "virtio-pmem") == 0;
    g_autofree char *dir = g_path_get_dirname(m->path);

    json_object_array_add(res->checked, o);
    vmctl_json_add_str(o, "model", m->model);
    vmctl_json_add_str(o, "path", m->path);
    vmctl_json_add_u64(o, "size", m->size);

    if (virtio_pmem && incoming && !g_file_test(m->path, G_FILE_TEST_EXISTS))
        return refuse(res,
                      "virtio-pmem backing '%s' does not exist on this host: QEMU does not migrate virtio-pmem "
                      "content, so the destination needs the same shared backing",
                      m->path);
    if (virtio_pmem && incoming)
        g_ptr_array_add(res->warnings,
                        g_strdup_printf("virtio-pmem content is not migrated: '%s' must be the same shared storage "
                                        "as on the source",
                                        m->path));
    /* an NVDIMM's backing is its disk: one that is missing at a start is
     * a lost disk, not a new one (an incoming migration brings the content
     * into a new file) */
    if (g_strcmp0(m->model, "nvdimm") == 0 && !incoming && !g_file_test(m->path, G_FILE_TEST_EXISTS) &&
        g_file_test(dir, G_FILE_TEST_IS_DIR))
        return refuse(res, "nvdimm backing '%s' does not exist: a persistent-memory backing that is missing is a "
                      "lost disk (make a new one first, e.g. fallocate -l SIZE '%s')", m->path, m->path);
    if (m->alignsize && m->size % m->alignsize != 0) {
        g_autofree char *s = vmctl_format_size(m->size);
        g_autofree char *a = vmctl_format_size(m->alignsize);
        return refuse(res, "%s size '%s' of '%s' is not a multiple of its alignsize '%s'", m->model, s, m->path, a);
    }
    b = vmctl_backend_probe(m->path, m->size, &err);
    if (!b)
        return refuse(res, "%s backing: %s", m->model ? m->model : "memory", err->message);
    vmctl_json_add_str(o, "kind", vmctl_backend_kind_name(vmctl_backend_kind(b)));
    vmctl_json_add_bool(o, "dax", vmctl_backend_is_dax(b));
    if (m->alignsize && m->alignsize < vmctl_backend_align(b)) {
        g_autofree char *a = vmctl_format_size(m->alignsize);
        g_autofree char *ba = vmctl_format_size(vmctl_backend_align(b));
        return refuse(res, "%s alignsize '%s' of '%s' is below the backing's alignment '%s'", m->model, a, m->path,
                      ba);
    }
    if (m->pmem && !vmctl_backend_is_dax(b))
        return refuse(res, "%s '%s' asks for <pmem/> but the backing is not DAX: %s", m->model, m->path,
                      vmctl_backend_pmem_reason(b));
    if (vmctl_backend_kind(b) == VMCTL_BACKEND_DEVDAX && g_strcmp0(m->access, "shared") != 0)
        return refuse(res, "%s '%s' is device-dax and needs access='shared'", m->model, m->path);
    return true;
}

static bool check_domain(const VmctlDomain *d, bool incoming, VmctlHookResult *res)
{
    for (guint i = 0; i < d->memdevs->len; i++) {
        const VmctlDomainMemdev *m = d->memdevs->pdata[i];

        if (!m->path)
            continue;
        check_memdev(d, m, incoming, res);
        if (res->verdict == VMCTL_HOOK_REFUSE)
            return true;
    }
    if (d->hugepages) {
        g_autoptr(GError) err = NULL;
        g_autofree char *hp = d->hugepage_size ? vmctl_format_size(d->hugepage_size) : NULL;
        g_autofree char *spec = g_strdup_printf("memfd:hugetlb%s%s", hp ? "=" : "", hp ? hp : "");
        g_autoptr(VmctlBackend) b = vmctl_backend_probe(spec, d->memory, &err);

        if (!b)
            return refuse(res, "<hugepages> guest memory: %s", err->message);
    }
    return true;
}

bool vmctl_hook_run(const char *object, const char *name, const char *op, const char *subop, const char *xml,
                    VmctlHookResult *res, GError **error)
{
    g_autoptr(VmctlDomain) d = NULL;
    bool start = g_strcmp0(op, "prepare") == 0 && g_strcmp0(subop, "begin") == 0;
    bool incoming = g_strcmp0(op, "migrate") == 0 && g_strcmp0(subop, "begin") == 0;

    memset(res, 0, sizeof(*res));
    res->verdict = VMCTL_HOOK_ALLOW;
    res->warnings = g_ptr_array_new_with_free_func(g_free);
    res->checked = json_object_new_array();
    if (g_strcmp0(object, "qemu") != 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "hook object '%s' is not 'qemu'", object);
        return false;
    }
    if (!start && !incoming)
        return true;
    if (!xml || !*xml) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "hook '%s %s' of domain '%s' got no domain XML on stdin",
                    op, subop, name);
        return false;
    }
    d = vmctl_domain_parse(xml, -1, error);
    if (!d)
        return false;
    return check_domain(d, incoming, res);
}

bool vmctl_hook_log_event(const char *name, const char *op, const char *subop, GError **error)
{
    const char *path = g_getenv("VMCTL_HOOK_LOG");
    g_autofree char *dir = NULL;
    g_autoptr(json_object) o = json_object_new_object();
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *ts = g_date_time_format_iso8601(now);
    g_autofree char *line = NULL;
    int fd;

    if (!path || !*path)
        path = HOOK_LOG_DEFAULT;
    dir = g_path_get_dirname(path);
    g_mkdir_with_parents(dir, 0755);
    vmctl_json_add_str(o, "time", ts);
    vmctl_json_add_str(o, "domain", name);
    vmctl_json_add_str(o, "op", op);
    vmctl_json_add_str(o, "subop", subop);
    line = g_strdup_printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot append to hook log '%s': %s", path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}
