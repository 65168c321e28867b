/* libvirt_hook.h: the policy of vmctl's libvirt QEMU hook
 * (/etc/libvirt/hooks/qemu -> `vmctl hook qemu NAME OP SUBOP`). It checks
 * every memory backing a domain names before libvirt starts or accepts it,
 * and records lifecycle events. It must never refuse a domain that is fine
 * and must answer quickly (no guest is started, nothing waits). */
#pragma once

#include <json-c/json.h>

#include "libvirt_domain.h"
#include "util.h"

typedef enum {
    VMCTL_HOOK_ALLOW,
    VMCTL_HOOK_REFUSE, /* libvirt aborts the operation and shows the message */
} VmctlHookVerdict;

typedef struct {
    VmctlHookVerdict verdict;
    char *message;        /* one line: why refused, or NULL */
    GPtrArray *warnings;  /* char*: allowed, but worth saying */
    json_object *checked; /* what was checked, per backing */
} VmctlHookResult;

void vmctl_hook_result_clear(VmctlHookResult *r);

/* Run the policy for one hook call. `xml` may be NULL for operations that
 * do not carry one. Returns false only for a bad call (unknown object, XML
 * that does not parse on an operation that needs it): the caller refuses
 * then too. */
bool vmctl_hook_run(const char *object, const char *name, const char *op, const char *subop, const char *xml,
                    VmctlHookResult *res, GError **error);

/* Append one JSON line for a lifecycle event to the hook log
 * ($VMCTL_HOOK_LOG, default /var/log/vmctl/hook.log). */
bool vmctl_hook_log_event(const char *name, const char *op, const char *subop, GError **error);
