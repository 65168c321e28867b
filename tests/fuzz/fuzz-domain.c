/* fuzz-domain.c: libvirt domain XML as the hook reads it from libvirt
 * (vmctl_domain_parse, src/libvirt_domain.h).
 *
 * Input: the XML bytes (with their length, NUL bytes included). Property:
 * a parse says yes with no error or no with one, and a parsed domain has
 * its device list. */
#include "config.h"

#include "fuzz.h"
#include "libvirt_domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(VmctlDomain) d = NULL;
    g_autoptr(GError) err = NULL;
    volatile uint64_t sum = 0;

    d = vmctl_domain_parse((const char *)data, (gssize)size, &err);
    if ((d == NULL) != (err != NULL))
        abort();
    if (!d)
        return 0;
    if (!d->memdevs)
        abort();
    /* Touch every field so that ASan sees each string. */
    sum += d->memory + d->hugepage_size + strlen(d->name ? d->name : "") + strlen(d->type ? d->type : "");
    sum += strlen(d->backing_source ? d->backing_source : "") + strlen(d->backing_access ? d->backing_access : "");
    for (guint i = 0; i < d->memdevs->len; i++) {
        const VmctlDomainMemdev *m = d->memdevs->pdata[i];

        sum += m->size + m->alignsize + m->pmem;
        sum += strlen(m->model ? m->model : "") + strlen(m->access ? m->access : "") + strlen(m->path ? m->path : "");
    }
    return 0;
}
