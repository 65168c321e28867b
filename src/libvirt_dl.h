/* libvirt_dl.h: the libvirt calls made outside vmctld's libvirt driver (the
 * host facts, `validate --peer`), through a libvirt loaded on first use.
 *
 * vmctl runs many short commands; linked against libvirt it loaded some 40
 * libraries at every start (about 17 ms of a 22 ms `vmctl --version`), for
 * calls only two features make. vmctl_libvirt() loads libvirt.so.0 once and
 * returns its entry points, or NULL with the reason. */
#ifndef VMCTL_LIBVIRT_DL_H
#define VMCTL_LIBVIRT_DL_H

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* X(name): every libvirt function reached through the loader */
#define VMCTL_LIBVIRT_FUNCS(X)                                                                                         \
    X(virGetVersion)                                                                                                   \
    X(virGetLastErrorMessage)                                                                                          \
    X(virSetErrorFunc)                                                                                                 \
    X(virConnectOpen)                                                                                                  \
    X(virConnectClose)                                                                                                 \
    X(virConnectGetHostname)                                                                                           \
    X(virConnectGetLibVersion)                                                                                         \
    X(virConnectGetType)                                                                                               \
    X(virConnectGetVersion)                                                                                            \
    X(virDomainLookupByName)                                                                                           \
    X(virDomainDestroy)                                                                                                \
    X(virDomainFree)

typedef struct {
#define VMCTL_LIBVIRT_FIELD(f) __typeof__(f) *f;
    VMCTL_LIBVIRT_FUNCS(VMCTL_LIBVIRT_FIELD)
#undef VMCTL_LIBVIRT_FIELD
} VmctlLibvirt;

/* libvirt's entry points, loaded once (thread-safe); NULL and *error when
 * libvirt.so.0 or one of them cannot be found. */
const VmctlLibvirt *vmctl_libvirt(GError **error);

#endif
