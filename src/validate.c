/* validate.c: the table of host-report checks and the runner. A check only
 * reports PASS for what it measured in this run. */
#include "config.h"

#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef void (*VmctlCheckFn)(const VmctlValidateOpts *opts, VmctlCheckResult *res);

struct vmctl_check {
    VmctlCheckInfo info;
    VmctlCheckFn run;
};

static void result_set(VmctlCheckResult *res, VmctlCheckStatus st, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void result_set(VmctlCheckResult *res, VmctlCheckStatus st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_free(res->summary);
    res->summary = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    res->status = st;
}

/* /dev/kvm usable for dirty logging: the device opens, the API version is
 * the stable one (12), a VM can be created, and the dirty-log interfaces the
 * probes use are reported. */
static void check_kvm_device(const VmctlValidateOpts *opts, VmctlCheckResult *res)
{
    static const struct {
        const char *name;
        long cap;
    } caps[] = {
        { "manual_dirty_log_protect2", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 },
        { "dirty_log_ring", KVM_CAP_DIRTY_LOG_RING },
        { "nr_vcpus", KVM_CAP_NR_VCPUS },
    };
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int api, vm;

    if (fd < 0) {
        result_set(res, errno == ENOENT ? VMCTL_CHECK_NA : VMCTL_CHECK_FAIL, "cannot open '/dev/kvm': %s",
                   g_strerror(errno));
        return;
    }
    api = ioctl(fd, KVM_GET_API_VERSION, 0);
    vmctl_json_add_i64(res->evidence, "api_version", api);
    for (size_t i = 0; i < G_N_ELEMENTS(caps); i++) {
        int r = ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap);
        vmctl_json_add_i64(res->evidence, caps[i].name, r < 0 ? 0 : r);
    }
    vm = ioctl(fd, KVM_CREATE_VM, 0);
    vmctl_json_add_bool(res->evidence, "create_vm", vm >= 0);
    if (api != KVM_API_VERSION)
        result_set(res, VMCTL_CHECK_FAIL, "KVM API version %d is not %d", api, KVM_API_VERSION);
    else if (vm < 0)
        result_set(res, VMCTL_CHECK_FAIL, "KVM_CREATE_VM failed: %s", g_strerror(errno));
    else
        result_set(res, VMCTL_CHECK_PASS, "/dev/kvm opens, API %d, a VM can be created", api);
    if (vm >= 0)
        close(vm);
    close(fd);
}

static const struct vmctl_check checks[] = {
    { { "kvm-device", "KVM device usable for dirty logging" }, check_kvm_device },
};

static const char *const not_built[] = {
    "dirty-log probe per backing and mode",
    "huge-page mapping under dirty logging",
    "guest dirty-rate accuracy",
    "migration with page-level verification",
    "NVDIMM content across migration",
    "KSM positive and negative checks",
    "accessed-bit coverage per backing",
    NULL,
};

const char *const *vmctl_validate_not_built(void)
{
    return not_built;
}

const char *vmctl_check_status_name(VmctlCheckStatus s)
{
    switch (s) {
    case VMCTL_CHECK_PASS:
        return "PASS";
    case VMCTL_CHECK_FAIL:
        return "FAIL";
    case VMCTL_CHECK_NA:
        return "NOT APPLICABLE";
    case VMCTL_CHECK_ERROR:
        return "ERROR";
    }
    return "?";
}

json_object *vmctl_validate_run(const VmctlValidateOpts *opts, VmctlValidateProgress progress, void *data)
{
    json_object *report = json_object_new_object();
    json_object *arr = json_object_new_array();
    unsigned n_fail = 0, n_error = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(checks); i++) {
        VmctlCheckResult res = { .status = VMCTL_CHECK_ERROR, .evidence = json_object_new_object() };
        json_object *o = json_object_new_object();
        uint64_t t0 = vmctl_now_ns();

        if (progress)
            progress(&checks[i].info, NULL, data);
        checks[i].run(opts, &res);
        res.duration_ns = vmctl_now_ns() - t0;
        if (!res.summary)
            res.summary = g_strdup("the check produced no result");
        n_fail += res.status == VMCTL_CHECK_FAIL;
        n_error += res.status == VMCTL_CHECK_ERROR;
        if (progress)
            progress(&checks[i].info, &res, data);

        vmctl_json_add_str(o, "id", checks[i].info.id);
        vmctl_json_add_str(o, "title", checks[i].info.title);
        vmctl_json_add_str(o, "status", vmctl_check_status_name(res.status));
        vmctl_json_add_str(o, "summary", res.summary);
        vmctl_json_add_u64(o, "duration_ns", res.duration_ns);
        json_object_object_add(o, "evidence", res.evidence);
        json_object_array_add(arr, o);
        g_free(res.summary);
    }
    json_object_object_add(report, "checks", arr);
    vmctl_json_add_str(report, "verdict", n_fail ? "fail" : n_error ? "error" : "pass");
    return report;
}

int vmctl_validate_exit_status(json_object *report)
{
    const char *v = json_object_get_string(json_object_object_get(report, "verdict"));

    if (g_strcmp0(v, "pass") == 0)
        return 0;
    if (g_strcmp0(v, "fail") == 0)
        return 1;
    return 2;
}
