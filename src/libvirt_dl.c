/* libvirt_dl.c: libvirt loaded on first use (see libvirt_dl.h). */
#include "config.h"

#include "libvirt_dl.h"

#include <dlfcn.h>

#include "util.h"

#define LIBVIRT_SONAME "libvirt.so.0"

static VmctlLibvirt api;
static char *load_error; /* why loading failed, kept for every later caller */

static gpointer load(gpointer unused)
{
    void *h = dlopen(LIBVIRT_SONAME, RTLD_NOW | RTLD_GLOBAL);

    (void)unused;
    if (!h) {
        load_error = g_strdup_printf("libvirt cannot be loaded (%s): %s", LIBVIRT_SONAME, dlerror());
        return NULL;
    }
#define VMCTL_LIBVIRT_LOAD(f)                                                                                          \
    if (!(api.f = (__typeof__(f) *)dlsym(h, #f))) {                                                                   \
        load_error = g_strdup_printf("libvirt (%s) has no function '%s'", LIBVIRT_SONAME, #f);                        \
        return NULL;                                                                                                   \
    }
    VMCTL_LIBVIRT_FUNCS(VMCTL_LIBVIRT_LOAD)
#undef VMCTL_LIBVIRT_LOAD
    return &api;
}

const VmctlLibvirt *vmctl_libvirt(GError **error)
{
    static GOnce once = G_ONCE_INIT;
    const VmctlLibvirt *v = g_once(&once, load, NULL);

    if (!v)
        g_set_error_literal(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, load_error);
    return v;
}
