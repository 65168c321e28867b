/* libvirt_migrate.c: host-side pieces of a verified libvirt migration (see
 * libvirt_migrate.h). */
#include "config.h"

#include "libvirt_migrate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libvirt_dl.h"

pid_t vmctl_lvm_find_qemu(const char *name, pid_t exclude)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    g_autofree char *want = g_strdup_printf("guest=%s", name);
    g_autofree char *want_comma = g_strdup_printf("guest=%s,", name);
    const char *e;
    pid_t best = 0;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        g_autofree char *cmd = NULL;
        gsize len = 0;
        pid_t pid;

        if (strspn(e, "0123456789") != strlen(e))
            continue;
        pid = (pid_t)atoi(e);
        if (pid == exclude)
            continue;
        path = g_strdup_printf("/proc/%s/cmdline", e);
        if (!g_file_get_contents(path, &cmd, &len, NULL) || len == 0)
            continue; /* gone, or a zombie */
        for (gsize off = 0; off < len;) {
            const char *arg = cmd + off;
            gsize al = strlen(arg);

            if (strcmp(arg, "-name") == 0 && off + al + 1 < len) {
                const char *v = arg + al + 1;
                if ((strcmp(v, want) == 0 || g_str_has_prefix(v, want_comma)) && (!best || pid < best))
                    best = pid;
                break;
            }
            off += al + 1;
        }
    }
    return best;
}

char *vmctl_lvm_find_ram(pid_t pid, uint64_t memory, GError **error)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/maps", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, error))
        return NULL;
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        unsigned long long start, end, off, inode;
        char perms[8], dev[16];

        if (sscanf(lines[i], "%llx-%llx %7s %llx %15s %llu", &start, &end, perms, &off, dev, &inode) != 6)
            continue;
        if (end - start == memory && inode != 0 && perms[3] == 's')
            return g_strdup_printf("/proc/%d/map_files/%llx-%llx", (int)pid, start, end);
    }
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_NOT_FOUND,
                "QEMU pid %d has no shared file mapping of %" G_GUINT64_FORMAT " bytes (the guest RAM)", (int)pid,
                memory);
    return NULL;
}

char *vmctl_lvm_migrate_uri(const char *dest_uri, unsigned port)
{
    g_autofree char *host = NULL;
    const char *p = dest_uri ? strstr(dest_uri, "://") : NULL;

    if (p) {
        const char *h = p + 3, *e;

        if (*h == '[') { /* an IPv6 literal keeps its brackets */
            e = strchr(h, ']');
            e = e ? e + 1 : h;
        } else {
            e = h;
            while (*e && *e != '/' && *e != ':' && *e != '?')
                e++;
        }
        host = g_strndup(h, (gsize)(e - h));
        if (strchr(host, '@')) { /* user@host */
            char *at = g_strdup(strchr(host, '@') + 1);
            g_free(host);
            host = at;
        }
    }
    if (!host || !*host || strcmp(host, "localhost") == 0) {
        g_free(host);
        host = g_strdup("127.0.0.1");
    }
    return g_strdup_printf("tcp://%s:%u", host, port);
}

unsigned vmctl_lvm_free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unsigned port = 0;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

char *vmctl_lvm_metadata_xml(json_object *spec)
{
    g_autofree char *esc = g_markup_escape_text(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN), -1);

    return g_strdup_printf("<guest>%s</guest>", esc);
}

json_object *vmctl_lvm_metadata_spec(const char *xml)
{
    const char *a = xml ? strchr(xml, '>') : NULL;
    const char *b = xml ? strrchr(xml, '<') : NULL;
    g_autoptr(GString) s = NULL;
    json_object *j;

    if (!a || !b || b <= a)
        return NULL;
    s = g_string_new_len(a + 1, b - a - 1);
    g_string_replace(s, "&lt;", "<", 0);
    g_string_replace(s, "&gt;", ">", 0);
    g_string_replace(s, "&quot;", "\"", 0);
    g_string_replace(s, "&apos;", "'", 0);
    g_string_replace(s, "&#39;", "'", 0);
    g_string_replace(s, "&amp;", "&", 0);
    j = json_tokener_parse(s->str);
    if (j && !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        return NULL;
    }
    return j;
}

static void lvm_silent(void *data, virErrorPtr err)
{
    (void)data;
    (void)err; /* reported once, by the caller, with its context */
}

/* libvirt's last error of this thread, on one line. */
static char *lvm_last_error(const VmctlLibvirt *v)
{
    const char *m = v->virGetLastErrorMessage();
    char *s = g_strdup(m && *m ? m : "unknown libvirt error");

    g_strdelimit(s, "\r\n", ' ');
    return s;
}

static virConnectPtr lvm_open(const VmctlLibvirt *v, const char *uri, GError **error)
{
    virConnectPtr c;

    v->virSetErrorFunc(NULL, lvm_silent);
    c = v->virConnectOpen(uri);
    if (!c) {
        g_autofree char *why = lvm_last_error(v);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot connect to libvirt at '%s': %s", uri, why);
    }
    return c;
}

static char *lvm_version(unsigned long long v)
{
    return g_strdup_printf("%llu.%llu.%llu", v / 1000000, v / 1000 % 1000, v % 1000);
}

json_object *vmctl_lvm_facts(const char *uri, GError **error)
{
    const VmctlLibvirt *v = vmctl_libvirt(error);
    virConnectPtr c = v ? lvm_open(v, uri, error) : NULL;
    json_object *o;
    unsigned long lib = 0, hv = 0;
    const char *type;
    char *s;

    if (!c)
        return NULL;
    o = json_object_new_object();
    vmctl_json_add_str(o, "uri", uri);
    if ((s = v->virConnectGetHostname(c))) {
        vmctl_json_add_str(o, "hostname", s);
        free(s);
    }
    if (v->virConnectGetLibVersion(c, &lib) == 0) {
        g_autofree char *ver = lvm_version(lib);
        vmctl_json_add_str(o, "libvirt_version", ver);
    }
    if ((type = v->virConnectGetType(c)))
        vmctl_json_add_str(o, "hypervisor", type);
    if (v->virConnectGetVersion(c, &hv) == 0 && hv) {
        g_autofree char *ver = lvm_version(hv);
        vmctl_json_add_str(o, "hypervisor_version", ver);
    }
    v->virConnectClose(c);
    return o;
}

bool vmctl_lvm_destroy(const char *uri, const char *name, GError **error)
{
    const VmctlLibvirt *v = vmctl_libvirt(error);
    virConnectPtr c = v ? lvm_open(v, uri, error) : NULL;
    virDomainPtr d;
    bool ok = true;

    if (!c)
        return false;
    d = v->virDomainLookupByName(c, name);
    if (d && v->virDomainDestroy(d) < 0) {
        g_autofree char *why = lvm_last_error(v);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "cannot destroy guest '%s' in libvirt at '%s': %s", name,
                    uri, why);
        ok = false;
    }
    if (d)
        v->virDomainFree(d);
    v->virConnectClose(c);
    return ok;
}
