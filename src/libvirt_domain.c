/* libvirt_domain.c: a GMarkup reader for the memory parts of a domain XML.
 * It keeps a stack of element names and acts on the paths it knows; the
 * rest of the document is skipped. Malformed XML is an error, never a
 * crash. */
#include "config.h"

#include "libvirt_domain.h"

#include <string.h>

typedef struct {
    VmctlDomain *dom;
    GPtrArray *stack;        /* element names */
    VmctlDomainMemdev *cur;  /* inside <devices><memory> */
    char *unit;              /* unit attribute of the element whose text we read */
    GString *text;
} ParseCtx;

static void memdev_free(gpointer p)
{
    VmctlDomainMemdev *m = p;

    g_free(m->model);
    g_free(m->access);
    g_free(m->path);
    g_free(m);
}

void vmctl_domain_free(VmctlDomain *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->type);
    g_free(d->backing_source);
    g_free(d->backing_access);
    if (d->memdevs)
        g_ptr_array_unref(d->memdevs);
    g_free(d);
}

bool vmctl_domain_scaled(const char *value, const char *unit, const char *dflt_unit, uint64_t *out, GError **error)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {
        { "b", 1 },           { "bytes", 1 },         { "k", KiB },         { "KiB", KiB },
        { "KB", 1000 },       { "M", MiB },           { "MiB", MiB },       { "MB", 1000000 },
        { "G", GiB },         { "GiB", GiB },         { "GB", 1000000000 }, { "T", TiB },
        { "TiB", TiB },       { "TB", 1000000000000 },
    };
    g_autofree char *v = g_strstrip(g_strdup(value ? value : ""));
    const char *u = unit ? unit : dflt_unit;
    guint64 n;

    if (!g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, &n, NULL)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "value '%s' is not an unsigned integer", v);
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (strcmp(units[i].unit, u) != 0 && !(strlen(u) == 1 && g_ascii_strcasecmp(units[i].unit, u) == 0))
            continue;
        if (n > G_MAXUINT64 / units[i].mult) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "value '%s %s' is too large", v, u);
            return false;
        }
        *out = n * units[i].mult;
        return true;
    }
    g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "unit '%s' is not a libvirt size unit", u);
    return false;
}

/* Does the element stack end with these names (innermost last)? */
static bool at(ParseCtx *pc, int n, ...)
{
    va_list ap;
    bool ok = pc->stack->len >= (guint)n;

    va_start(ap, n);
    for (int i = 0; ok && i < n; i++) {
        const char *want = va_arg(ap, const char *);
        ok = strcmp(pc->stack->pdata[pc->stack->len - n + i], want) == 0;
    }
    va_end(ap);
    return ok;
}

static const char *attr(const char **names, const char **values, const char *name)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

static void on_start(GMarkupParseContext *ctx, const char *el, const char **names, const char **values, gpointer user,
                     GError **error)
{
    ParseCtx *pc = user;
    VmctlDomain *d = pc->dom;

    g_ptr_array_add(pc->stack, g_strdup(el));
    g_string_truncate(pc->text, 0);
    g_clear_pointer(&pc->unit, g_free);
    pc->unit = g_strdup(attr(names, values, "unit"));

    if (pc->stack->len == 1) {
        if (strcmp(el, "domain") != 0) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "root element '%s' is not 'domain'", el);
            return;
        }
        g_free(d->type);
        d->type = g_strdup(attr(names, values, "type"));
    } else if (at(pc, 3, "domain", "memoryBacking", "source")) {
        g_free(d->backing_source);
        d->backing_source = g_strdup(attr(names, values, "type"));
    } else if (at(pc, 3, "domain", "memoryBacking", "access")) {
        g_free(d->backing_access);
        d->backing_access = g_strdup(attr(names, values, "mode"));
    } else if (at(pc, 3, "domain", "memoryBacking", "hugepages")) {
        d->hugepages = true;
    } else if (at(pc, 4, "domain", "memoryBacking", "hugepages", "page")) {
        const char *size = attr(names, values, "size");
        if (size && !vmctl_domain_scaled(size, attr(names, values, "unit"), "KiB", &d->hugepage_size, error))
            return;
    } else if (at(pc, 3, "domain", "devices", "memory")) {
        pc->cur = g_new0(VmctlDomainMemdev, 1);
        pc->cur->model = g_strdup(attr(names, values, "model"));
        pc->cur->access = g_strdup(attr(names, values, "access"));
        g_ptr_array_add(d->memdevs, pc->cur);
    } else if (pc->cur && at(pc, 3, "memory", "source", "pmem")) {
        pc->cur->pmem = true;
    }
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer user, GError **error)
{
    ParseCtx *pc = user;

    g_string_append_len(pc->text, text, len);
}

static void on_end(GMarkupParseContext *ctx, const char *el, gpointer user, GError **error)
{
    ParseCtx *pc = user;
    VmctlDomain *d = pc->dom;
    g_autofree char *txt = g_strstrip(g_strdup(pc->text->str));

    if (at(pc, 2, "domain", "name")) {
        g_free(d->name);
        d->name = g_strdup(txt);
    } else if (at(pc, 2, "domain", "memory")) {
        if (!vmctl_domain_scaled(txt, pc->unit, "KiB", &d->memory, error))
            g_prefix_error(error, "<memory>: ");
    } else if (pc->cur && at(pc, 3, "memory", "source", "path")) {
        g_free(pc->cur->path);
        pc->cur->path = g_strdup(txt);
    } else if (pc->cur && at(pc, 3, "memory", "source", "alignsize")) {
        if (!vmctl_domain_scaled(txt, pc->unit, "KiB", &pc->cur->alignsize, error))
            g_prefix_error(error, "<alignsize>: ");
    } else if (pc->cur && at(pc, 3, "memory", "target", "size")) {
        if (!vmctl_domain_scaled(txt, pc->unit, "KiB", &pc->cur->size, error))
            g_prefix_error(error, "<target><size>: ");
    } else if (at(pc, 3, "domain", "devices", "memory")) {
        pc->cur = NULL;
    }
    g_string_truncate(pc->text, 0);
    g_ptr_array_remove_index(pc->stack, pc->stack->len - 1);
}

VmctlDomain *vmctl_domain_parse(const char *xml, gssize len, GError **error)
{
    static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
    g_autoptr(VmctlDomain) d = g_new0(VmctlDomain, 1);
    ParseCtx pc = { .dom = d, .stack = g_ptr_array_new_with_free_func(g_free), .text = g_string_new(NULL) };
    GMarkupParseContext *ctx;
    g_autoptr(GError) local = NULL;
    bool ok;

    d->memdevs = g_ptr_array_new_with_free_func(memdev_free);
    ctx = g_markup_parse_context_new(&parser, 0, &pc, NULL);
    ok = g_markup_parse_context_parse(ctx, xml, len, &local) && g_markup_parse_context_end_parse(ctx, &local);
    g_markup_parse_context_free(ctx);
    g_ptr_array_unref(pc.stack);
    g_string_free(pc.text, TRUE);
    g_free(pc.unit);
    if (!ok) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "domain XML is malformed: %s", local->message);
        return NULL;
    }
    if (!d->name || !*d->name) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "domain XML has no <name>");
        return NULL;
    }
    return g_steal_pointer(&d);
}
