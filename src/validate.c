/* validate.c: the table of host-report checks and the runner. A check only
 * reports PASS for what it measured in this run. */
#include "config.h"

#include "validate.h"

#include "accessed_probe.h"
#include "client.h"
#include "dirty_rate.h"
#include "dirty_track.h"
#include "ksm_check.h"
#include "libvirt_migrate.h"
#include "migrate.h"
#include "pmem_backend.h"
#include "probe_backing.h"
#include "qemu_cmdline.h"
#include "report_html.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A group of checks: it runs and emits one result per check through the
 * runner, so a group can produce a result per backing and mode. */
typedef struct Runner Runner;
typedef void (*VmctlCheckGroupFn)(Runner *r);

struct Runner {
    const VmctlValidateOpts *opts;
    VmctlValidateProgress progress;
    void *data;
    json_object *checks;
    unsigned n_fail, n_error, n_na, n;
    VmctlCheckInfo cur;
    uint64_t t0;
    char *no_kvm; /* why the checks that need a KVM cannot run here, NULL: they can */
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
    int fd = vmctl_kvm_open();
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

static const char *const not_built[] = {
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

/* Announce the next check (progress shows it while it runs). */
static void begin(Runner *r, const char *id, const char *title)
{
    r->cur.id = id;
    r->cur.title = title;
    r->t0 = vmctl_now_ns();
    if (r->progress)
        r->progress(&r->cur, NULL, r->data);
}

/* Record the result of the check announced last; takes res's contents. */
static void emit(Runner *r, VmctlCheckResult *res)
{
    json_object *o = json_object_new_object();

    res->duration_ns = vmctl_now_ns() - r->t0;
    if (!res->summary)
        res->summary = g_strdup("the check produced no result");
    if (!res->evidence)
        res->evidence = json_object_new_object();
    r->n_fail += res->status == VMCTL_CHECK_FAIL;
    r->n_error += res->status == VMCTL_CHECK_ERROR;
    r->n_na += res->status == VMCTL_CHECK_NA;
    r->n++;
    if (r->progress)
        r->progress(&r->cur, res, r->data);
    vmctl_json_add_str(o, "id", r->cur.id);
    vmctl_json_add_str(o, "title", r->cur.title);
    vmctl_json_add_str(o, "status", vmctl_check_status_name(res->status));
    vmctl_json_add_str(o, "summary", res->summary);
    vmctl_json_add_u64(o, "duration_ns", res->duration_ns);
    json_object_object_add(o, "evidence", res->evidence);
    json_object_array_add(r->checks, o);
    g_free(res->summary);
    memset(res, 0, sizeof(*res));
}

static void group_kvm_device(Runner *r)
{
    VmctlCheckResult res = { .status = VMCTL_CHECK_ERROR, .evidence = json_object_new_object() };

    begin(r, "kvm-device", "KVM device usable for dirty logging");
    check_kvm_device(r->opts, &res);
    emit(r, &res);
}

/* Why this host has no KVM to run the probe VMM on, or NULL. */
static char *kvm_missing(void)
{
    int fd = vmctl_kvm_open(), api;

    if (fd < 0)
        return g_strdup_printf("cannot open '/dev/kvm': %s", g_strerror(errno));
    api = ioctl(fd, KVM_GET_API_VERSION, 0);
    close(fd);
    return api == KVM_API_VERSION ? NULL : g_strdup_printf("KVM API version %d is not %d", api, KVM_API_VERSION);
}

/* A check that needs KVM, where there is none: NOT APPLICABLE, saying so
 * once the same way for every such check, with where it can be measured. */
static void emit_needs_kvm(Runner *r, const char *id, const char *title)
{
    VmctlCheckResult res = { 0 };

    begin(r, id, title);
    result_set(&res, VMCTL_CHECK_NA, "needs kvm-device (%s): `vmctl validate --lab bookworm` measures it on a lab's "
               "KVM", r->no_kvm);
    emit(r, &res);
}

/* A backing given as "devdax:PATH" or "fsdax:PATH": its path. */
static const char *dax_path(const char *spec)
{
    if (g_str_has_prefix(spec, "devdax:"))
        return spec + strlen("devdax:");
    if (g_str_has_prefix(spec, "fsdax:"))
        return spec + strlen("fsdax:");
    return spec;
}

/* The probe spec of a --backend that is DAX ("devdax:PATH", "fsdax:PATH"),
 * as given or found by probing a plain path; NULL when it is not DAX. */
static char *dax_probe_spec(const char *spec)
{
    g_autoptr(VmctlBackend) b = NULL;

    if (dax_path(spec) != spec)
        return g_strdup(spec);
    b = vmctl_backend_probe(spec, 0, NULL);
    if (!b || !vmctl_backend_is_dax(b))
        return NULL;
    return g_strdup_printf("%s:%s", vmctl_backend_kind_name(vmctl_backend_kind(b)), spec);
}

/* Add SPEC (taken) unless it is NULL or already there. */
static void add_unique(GPtrArray *a, char *spec)
{
    for (guint i = 0; spec && i < a->len; i++)
        if (g_strcmp0(a->pdata[i], spec) == 0) {
            g_free(spec);
            return;
        }
    if (spec)
        g_ptr_array_add(a, spec);
}

/* --backend SPEC: what it is and whether a guest can use it (pmem_backend). */
static void group_backends(Runner *r)
{
    for (size_t i = 0; r->opts->backends && r->opts->backends[i]; i++) {
        const char *spec = r->opts->backends[i];
        g_autofree char *id = g_strdup_printf("backend/%s", spec);
        g_autofree char *title = g_strdup_printf("memory backing '%s'", spec);
        VmctlCheckResult res = { 0 };
        g_autoptr(GError) err = NULL;
        g_autoptr(VmctlBackend) b = NULL;

        begin(r, id, title);
        b = vmctl_backend_probe(dax_path(spec), 0, &err);
        if (!b) {
            result_set(&res, VMCTL_CHECK_FAIL, "%s", err->message);
            res.evidence = json_object_new_object();
        } else {
            res.evidence = vmctl_backend_to_json(b);
            result_set(&res, VMCTL_CHECK_PASS, "%s backing, %s", vmctl_backend_kind_name(vmctl_backend_kind(b)),
                       vmctl_backend_is_dax(b) ? "real DAX (MAP_SYNC or device-dax)" : vmctl_backend_pmem_reason(b));
        }
        emit(r, &res);
    }
}

static VmctlCheckStatus dirty_status(VmctlDirtyVerdict v)
{
    switch (v) {
    case VMCTL_DIRTY_PASS:
        return VMCTL_CHECK_PASS;
    case VMCTL_DIRTY_FAIL:
        return VMCTL_CHECK_FAIL;
    case VMCTL_DIRTY_NA:
        return VMCTL_CHECK_NA;
    case VMCTL_DIRTY_ERROR:
        break;
    }
    return VMCTL_CHECK_ERROR;
}

static char *pages_list(const struct vmctl_dirty_pages *p)
{
    GString *s = g_string_new(NULL);

    for (uint32_t i = 0; i < p->listed; i++)
        g_string_append_printf(s, "%s%" G_GUINT64_FORMAT, i ? "," : "", p->pages[i]);
    return g_string_free(s, FALSE);
}

/* The in-process KVM probe on every backing reachable here (and the DAX
 * backings given with --backend devdax:PATH / fsdax:PATH), every mode, and
 * what happens to huge mappings under dirty logging. */
static void group_dirty_log(Runner *r)
{
    struct vmctl_dirty_probe_opts po = { .size = r->opts->quick ? 16 * MiB : 64 * MiB,
                                         .rounds = r->opts->quick ? 4 : 8,
                                         .seed = 1 };
    g_autoptr(GPtrArray) backings = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) defaults = vmctl_probe_backing_default_specs();
    g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func(vmctl_dirty_result_free);
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) modes = g_ptr_array_new();
    g_autoptr(GError) err = NULL;

    for (size_t i = 0; i < defaults->len; i++)
        g_ptr_array_add(backings, g_strdup(defaults->pdata[i]));
    for (size_t i = 0; r->opts->backends && r->opts->backends[i]; i++)
        add_unique(backings, dax_probe_spec(r->opts->backends[i]));
    g_ptr_array_add(backings, NULL);
    for (size_t i = 0; i < vmctl_dirty_n_modes; i++)
        g_ptr_array_add(modes, (gpointer)vmctl_dirty_modes[i].name);
    g_ptr_array_add(modes, NULL);

    if (r->no_kvm) {
        emit_needs_kvm(r, "dirty-log", "KVM dirty logging, every backing and mode");
        return;
    }
    begin(r, "dirty-log", "KVM dirty logging, every backing and mode");
    /* the tests make this check fail on purpose with VMCTL_PROBE_FAULT */
    if (!vmctl_dirty_fault_parse(g_getenv("VMCTL_PROBE_FAULT"), &po.fault, &err)) {
        VmctlCheckResult res = { 0 };
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        emit(r, &res);
        return;
    }
    vmctl_dirty_probe_matrix((const char *const *)backings->pdata, false, (const char *const *)modes->pdata, false,
                             &po, results, errors, &err);
    if (err) {
        VmctlCheckResult res = { 0 };
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        emit(r, &res);
        return;
    }
    for (guint i = 0; i < results->len; i++) {
        const struct vmctl_dirty_result *d = results->pdata[i];
        g_autofree char *id = g_strdup_printf("dirty-log/%s/%s", d->backing, d->mode);
        g_autofree char *title = g_strdup_printf("dirty log exact: %s, %s", d->backing, d->mode);
        VmctlCheckResult res = { .evidence = vmctl_dirty_result_to_json(d) };

        begin(r, id, title);
        res.status = dirty_status(d->verdict);
        if (d->verdict == VMCTL_DIRTY_PASS) {
            res.summary = g_strdup_printf("%" G_GUINT64_FORMAT " pages written, all harvested, %" G_GUINT64_FORMAT
                                          " extra%s",
                                          d->written, d->extra.count,
                                          d->oracle_applies ? "; backing oracle: no change missed" : "");
        } else if (d->verdict == VMCTL_DIRTY_FAIL) {
            g_autofree char *miss = pages_list(&d->missing);
            g_autofree char *extra = pages_list(&d->extra);
            g_autofree char *omiss = pages_list(&d->oracle_misses);
            res.summary = g_strdup_printf("%" G_GUINT64_FORMAT " written pages missing from the harvest (%s), %"
                                          G_GUINT64_FORMAT " harvested pages never written (%s), %"
                                          G_GUINT64_FORMAT " backing changes not harvested (%s)",
                                          d->missing.count, miss, d->extra.count, extra, d->oracle_misses.count,
                                          omiss);
        } else {
            res.summary = g_strdup(d->reason ? d->reason : "not run");
        }
        emit(r, &res);
    }
    /* huge mappings under dirty logging, for backings with huge pages */
    for (guint i = 0; i < results->len; i++) {
        const struct vmctl_dirty_result *d = results->pdata[i];
        g_autofree char *id = NULL, *title = NULL;
        VmctlCheckResult res = { 0 };

        if (d->verdict != VMCTL_DIRTY_PASS && d->verdict != VMCTL_DIRTY_FAIL)
            continue;
        if (d->backing_page_size <= 4096 || strcmp(d->mode, "bitmap") != 0)
            continue;
        id = g_strdup_printf("huge-pages/%s", d->backing);
        title = g_strdup_printf("huge mappings come back after dirty logging: %s", d->backing);
        begin(r, id, title);
        res.evidence = json_object_new_object();
        vmctl_json_add_u64(res.evidence, "pages_2m_before", d->stats_before.pages_2m);
        vmctl_json_add_u64(res.evidence, "pages_2m_during", d->stats_during.pages_2m);
        vmctl_json_add_u64(res.evidence, "pages_2m_after", d->stats_after.pages_2m);
        vmctl_json_add_u64(res.evidence, "pages_1g_before", d->stats_before.pages_1g);
        vmctl_json_add_u64(res.evidence, "pages_1g_after", d->stats_after.pages_1g);
        if (!d->huge_applicable)
            result_set(&res, VMCTL_CHECK_NA, "%s", d->huge_verdict);
        else if (d->huge_restored)
            result_set(&res, VMCTL_CHECK_PASS, "%s", d->huge_verdict);
        else
            result_set(&res, VMCTL_CHECK_FAIL, "%s", d->huge_verdict);
        emit(r, &res);
    }
    /* the host as it was: 2M pages the probe reserved for a backing must go
     * back to the pool (one row per backing that reserved any) */
    for (guint i = 0; i < results->len; i++) {
        const struct vmctl_dirty_result *d = results->pdata[i];
        g_autofree char *id = NULL, *title = NULL;
        VmctlCheckResult res = { 0 };

        if (!d->hugepages_reserved || (i > 0 && g_strcmp0(((const struct vmctl_dirty_result *)results->pdata[i - 1])->backing,
                                                         d->backing) == 0))
            continue;
        id = g_strdup_printf("hugepages-restored/%s", d->backing);
        title = g_strdup_printf("huge pages reserved for the probe given back: %s", d->backing);
        begin(r, id, title);
        res.evidence = json_object_new_object();
        vmctl_json_add_u64(res.evidence, "reserved_2m_pages", d->hugepages_reserved);
        vmctl_json_add_bool(res.evidence, "given_back", d->hugepages_restored);
        if (d->hugepages_restored)
            result_set(&res, VMCTL_CHECK_PASS, "%" G_GUINT64_FORMAT " 2M pages reserved, all given back",
                       d->hugepages_reserved);
        else
            result_set(&res, VMCTL_CHECK_FAIL, "%" G_GUINT64_FORMAT " 2M pages reserved and not given back: "
                       "nr_hugepages stays raised", d->hugepages_reserved);
        emit(r, &res);
    }
}

static VmctlCheckStatus accessed_status(VmctlAccessedVerdict v)
{
    switch (v) {
    case VMCTL_ACCESSED_PASS:
        return VMCTL_CHECK_PASS;
    case VMCTL_ACCESSED_FAIL:
        return VMCTL_CHECK_FAIL;
    case VMCTL_ACCESSED_NA:
        return VMCTL_CHECK_NA;
    case VMCTL_ACCESSED_ERROR:
        break;
    }
    return VMCTL_CHECK_ERROR;
}

/* The backings of the accessed-bit group: the dirty-log defaults, then each
 * --backend: devdax:/fsdax: as given, a path by what pmem_backend finds
 * there (DAX keeps its kind; other files are probed as a file in the same
 * directory). A --backend that does not probe is left to its own check. */
/* The backings of the accessed-bit checks: the defaults (with the DAX this
 * machine offers a probe), then those given; *n_defaults says how many
 * came by default (a default that cannot be set up is NOT APPLICABLE, a
 * given one that cannot is an ERROR). */
static GPtrArray *accessed_backings(const VmctlValidateOpts *opts, guint *n_defaults)
{
    GPtrArray *out = vmctl_probe_backing_default_specs();

    *n_defaults = out->len;
    for (size_t i = 0; opts->backends && opts->backends[i]; i++) {
        const char *spec = opts->backends[i];
        char *dax = dax_probe_spec(spec);

        if (dax) {
            add_unique(out, dax);
        } else {
            g_autoptr(VmctlBackend) b = vmctl_backend_probe(spec, 0, NULL);
            g_autofree char *dir = g_path_get_dirname(spec);
            if (b)
                g_ptr_array_add(out, g_strdup_printf("file:%s", dir));
        }
    }
    return out;
}

/* Accessed-bit coverage: per backing, whether the host sees the pages a
 * KVM guest READ (page_idle, else DAMON when free), or why it cannot. */
static void group_accessed(Runner *r)
{
    guint n_defaults;
    g_autoptr(GPtrArray) backings = accessed_backings(r->opts, &n_defaults);
    uint64_t size = r->opts->quick ? 16 * MiB : 64 * MiB;

    for (guint i = 0; i < backings->len; i++) {
        const char *spec = backings->pdata[i];
        g_autofree char *id = g_strdup_printf("accessed/%s", spec);
        g_autofree char *title = g_strdup_printf("accessed-bit coverage: %s", spec);
        VmctlAccessedResult *a;
        VmctlCheckResult res = { 0 };

        if (r->no_kvm) {
            emit_needs_kvm(r, id, title);
            continue;
        }
        begin(r, id, title);
        a = vmctl_accessed_probe(spec, size, i >= n_defaults);
        res.status = accessed_status(a->verdict);
        res.summary = g_steal_pointer(&a->summary);
        res.evidence = g_steal_pointer(&a->evidence);
        vmctl_accessed_result_free(a);
        emit(r, &res);
    }
}

static VmctlCheckStatus status_from_name(const char *s)
{
    if (g_strcmp0(s, "PASS") == 0)
        return VMCTL_CHECK_PASS;
    if (g_strcmp0(s, "FAIL") == 0)
        return VMCTL_CHECK_FAIL;
    if (g_strcmp0(s, "NOT APPLICABLE") == 0 || g_strcmp0(s, "N/A") == 0)
        return VMCTL_CHECK_NA;
    return VMCTL_CHECK_ERROR;
}

/* Re-emit checks a library already shaped as {id, title, status, summary,
 * evidence}, under a prefix. */
static void emit_checks(Runner *r, const char *prefix, json_object *checks)
{
    for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        g_autofree char *id = g_strdup_printf("%s/%s", prefix, json_object_get_string(json_object_object_get(c, "id")));
        const char *title = json_object_get_string(json_object_object_get(c, "title"));
        VmctlCheckResult res = { 0 };

        begin(r, id, title ? title : id);
        res.status = status_from_name(json_object_get_string(json_object_object_get(c, "status")));
        res.summary = g_strdup(json_object_get_string(json_object_object_get(c, "summary")));
        res.evidence = json_object_get(json_object_object_get(c, "evidence"));
        emit(r, &res);
    }
}

/* KSM: merges identical anonymous guest pages, never share=on guest RAM
 * (file and, with --backend, DAX backings), loses nothing, and every knob
 * is restored. Real guests under vmctld. */
static void group_ksm(Runner *r)
{
    VmctlKsmCheckOpts ko;
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) report = NULL;
    g_autoptr(GPtrArray) negatives = g_ptr_array_new();

    vmctl_ksm_check_opts_init(&ko);
    ko.socket_path = vmctl_client_socket_path(NULL);
    ko.memory = r->opts->quick ? 32 * MiB : VMCTL_KSM_CHECK_MEMORY;
    for (size_t i = 0; r->opts->backends && r->opts->backends[i]; i++) {
        const char *b = r->opts->backends[i];
        if (g_str_has_prefix(b, "devdax:") || g_str_has_prefix(b, "fsdax:"))
            b = strchr(b, ':') + 1;
        if (b[0] == '/')
            g_ptr_array_add(negatives, (gpointer)b);
    }
    if (negatives->len) {
        g_ptr_array_add(negatives, NULL);
        ko.negative_backends = (char **)negatives->pdata;
    }
    begin(r, "ksm", "KSM merges what it should and never guest RAM it must not");
    report = vmctl_ksm_check_run(&ko, NULL, &err);
    if (!report) {
        VmctlCheckResult res = { 0 };
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        emit(r, &res);
        return;
    }
    emit_checks(r, "ksm", json_object_object_get(report, "checks"));
}

#define RATE_CHECK_PAGES 5000      /* pages/s the tiny guest is set to */
#define RATE_CHECK_WS 30000        /* pages: > rate x window, so no page is written twice in a window */

struct rate_window {
    const char *serial;
    uint64_t writes[2], ns[2];
    bool ok[2];
};

/* Poll a guest's console log for a line starting with `prefix`. */
static bool wait_console(const char *log, const char *prefix, unsigned seconds)
{
    for (unsigned i = 0; log && i < seconds * 10; i++) {
        g_autofree char *text = NULL;
        g_autofree char *needle = g_strdup_printf("\n%s", prefix);

        if (g_file_get_contents(log, &text, NULL, NULL) && (g_str_has_prefix(text, prefix) || strstr(text, needle)))
            return true;
        g_usleep(G_USEC_PER_SEC / 10);
    }
    return false;
}

static void rate_window_cb(bool end, void *data)
{
    struct rate_window *w = data;

    w->ok[end] = vmctl_dirty_rate_tiny_writes(w->serial, &w->writes[end], &w->ns[end], NULL);
}

#define RATE_SERIES_SAMPLES 6      /* guest write counter reads after the window */
#define RATE_SERIES_STEP_US 200000  /* us between two reads */

/* The dirty rate over time for the report's plot: the guest's own write
 * counter read every RATE_SERIES_STEP_US after the window, as pages/s per
 * step, next to the rate the measurement gave. */
static json_object *rate_series(const char *serial, double measured)
{
    json_object *arr = json_object_new_array();
    json_object *guest = vmctl_report_series_new("guest writes (its own counter)", "pages/s");
    json_object *qemu = vmctl_report_series_new("measured for the window", "pages/s");
    uint64_t w0 = 0, ns0 = 0, first_ns = 0;

    for (unsigned i = 0; i < RATE_SERIES_SAMPLES; i++) {
        uint64_t w, ns;

        if (i)
            g_usleep(RATE_SERIES_STEP_US);
        if (!vmctl_dirty_rate_tiny_writes(serial, &w, &ns, NULL))
            continue;
        if (!first_ns)
            first_ns = ns;
        else if (ns > ns0)
            vmctl_report_series_add(guest, (double)(ns - first_ns) / 1e9, (double)(w - w0) * 1e9 / (double)(ns - ns0));
        w0 = w;
        ns0 = ns;
    }
    vmctl_report_series_add(qemu, 0, measured);
    vmctl_report_series_add(qemu, first_ns && ns0 > first_ns ? (double)(ns0 - first_ns) / 1e9 : 1, measured);
    json_object_array_add(arr, guest);
    json_object_array_add(arr, qemu);
    return arr;
}

/* One accelerator: launch a tiny guest at RATE_CHECK_PAGES, measure with
 * the mode auto picks for this QEMU and accelerator, compare with the
 * guest's own write counter read at both ends of the window. */
static void rate_check(Runner *r, const char *accel)
{
    const char *sock = vmctl_client_socket_path(NULL);
    g_autofree char *name = g_strdup_printf("validate-rate-%s-%d", accel, (int)getpid());
    g_autofree char *id = g_strdup_printf("dirty-rate/%s", accel);
    g_autofree char *title = g_strdup_printf("guest dirty-rate accuracy under %s", accel);
    g_autoptr(json_object) spec = json_object_new_object();
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) info = NULL, stop = NULL, stop_args = json_object_new_object();
    g_autoptr(VmctlDirtyRate) rate = NULL;
    g_autoptr(GError) err = NULL;
    json_object *tiny = json_object_new_object();
    VmctlCheckResult res = { .evidence = json_object_new_object() };
    VmctlDirtyRateCaps caps;
    VmctlDirtyRateMode mode;
    struct rate_window w = { 0 };
    unsigned window = r->opts->quick ? 3 : 5;
    double truth, measured, ratio, tolerance;
    const char *tolerance_why = NULL;

    begin(r, id, title);
    vmctl_json_add_str(spec, "name", name);
    vmctl_json_add_str(spec, "memory", "128M");
    vmctl_json_add_str(spec, "accel", accel);
    vmctl_json_add_u64(tiny, "rate", RATE_CHECK_PAGES);
    vmctl_json_add_u64(tiny, "ws", RATE_CHECK_WS);
    json_object_object_add(spec, "tiny", tiny);
    json_object_object_add(args, "spec", json_object_get(spec));
    info = vmctl_client_call(sock, "launch", args, true, &err);
    if (!info) {
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        emit(r, &res);
        return;
    }
    vmctl_json_add_str(stop_args, "name", name);
    w.serial = json_object_get_string(json_object_object_get(info, "serial_socket"));
    if (!vmctl_dirty_rate_probe(sock, name, info, &caps, &err) ||
        !vmctl_dirty_rate_choose(&caps, VMCTL_DIRTY_RATE_AUTO, &mode, &err)) {
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        goto out;
    }
    /* the guest stamps all its memory before READY: measure after that */
    if (!wait_console(json_object_get_string(json_object_object_get(info, "console_log")), "READY", 60)) {
        result_set(&res, VMCTL_CHECK_ERROR, "the tiny guest did not report READY within 60 s");
        goto out;
    }
    g_usleep(G_USEC_PER_SEC);
    /* page-sampling: QEMU's largest sample (pages per GiB); the default 512
     * is too coarse for a small guest */
    rate = vmctl_dirty_rate_measure(sock, name, &caps, mode, window, mode == VMCTL_DIRTY_RATE_PAGE_SAMPLING ? 4096 : 0,
                                    NULL, rate_window_cb, &w, &err);
    if (!rate) {
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        goto out;
    }
    json_object_object_add(res.evidence, "measurement", vmctl_dirty_rate_to_json(rate));
    vmctl_json_add_str(res.evidence, "mode", vmctl_dirty_rate_mode_name(mode));
    if (!w.ok[0] || !w.ok[1] || w.ns[1] <= w.ns[0]) {
        result_set(&res, VMCTL_CHECK_ERROR, "the guest's write counter could not be read around the window");
        goto out;
    }
    truth = (double)(w.writes[1] - w.writes[0]) * 1e9 / (double)(w.ns[1] - w.ns[0]);
    measured = (double)vmctl_dirty_rate_mbps_to_pages(rate->rate_mbps);
    {
        /* the tests make this check fail on purpose: VMCTL_RATE_FAULT=scale:F */
        const char *f = g_getenv("VMCTL_RATE_FAULT");
        char *end = NULL;
        double k = f && g_str_has_prefix(f, "scale:") ? g_ascii_strtod(f + 6, &end) : 0;

        if (f && *f && (!end || *end || k <= 0)) {
            result_set(&res, VMCTL_CHECK_ERROR, "VMCTL_RATE_FAULT '%s' is not 'scale:F' with F > 0", f);
            goto out;
        }
        if (k > 0)
            measured *= k;
    }
    tolerance = vmctl_dirty_rate_tolerance(mode, &tolerance_why);
    ratio = truth > 0 ? measured / truth : 0;
    vmctl_json_add_double(res.evidence, "true_pages_per_s", truth);
    vmctl_json_add_double(res.evidence, "measured_pages_per_s", measured);
    vmctl_json_add_double(res.evidence, "ratio", ratio);
    vmctl_json_add_double(res.evidence, "tolerance", tolerance);
    vmctl_json_add_str(res.evidence, "tolerance_why", tolerance_why);
    json_object_object_add(res.evidence, "series", rate_series(w.serial, measured));
    result_set(&res, fabs(ratio - 1) <= tolerance ? VMCTL_CHECK_PASS : VMCTL_CHECK_FAIL,
               "%s: measured %.0f pages/s, guest wrote %.0f pages/s (ratio %.3f, tolerance %.0f%%: %s)",
               vmctl_dirty_rate_mode_name(mode), measured, truth, ratio, tolerance * 100,
               mode == VMCTL_DIRTY_RATE_PAGE_SAMPLING ? "sampled" : "exact mode");
out:
    stop = vmctl_client_call(sock, "kill", stop_args, false, NULL);
    emit(r, &res);
}

static void group_dirty_rate(Runner *r)
{
    VmctlAccelHost host;

    vmctl_accel_host_probe(&host);
    if (host.kvm_usable)
        rate_check(r, "kvm");
    rate_check(r, "tcg");
}

/* Count the pages that differ over every block of a migration's proof. */
static uint64_t migration_pages_differ(json_object *verify, uint64_t *compared, GString *blocks)
{
    json_object *b = json_object_object_get(json_object_object_get(verify, "pages"), "blocks");
    uint64_t differ = 0;

    for (size_t i = 0; b && i < json_object_array_length(b); i++) {
        json_object *blk = json_object_array_get_idx(b, i);
        uint64_t d = (uint64_t)json_object_get_int64(json_object_object_get(blk, "pages_differ"));
        uint64_t n = (uint64_t)json_object_get_int64(json_object_object_get(blk, "pages"));

        differ += d;
        *compared += n;
        g_string_append_printf(blocks, "%s%s %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                               blocks->len ? ", " : "", json_object_get_string(json_object_object_get(blk, "name")),
                               d, n);
    }
    return differ;
}

#define MIGRATION_POLL_US 50000 /* between two query-migrate polls: a short migration still gets a curve */

struct migration_poll {
    const char *sock, *name;
    gint done;
    uint64_t t0;
    json_object *transferred, *remaining; /* series */
};

/* Migration progress for the report's plot: query-migrate on the source
 * while vmctld migrates it (RAM transferred and remaining, MiB). */
static gpointer migration_poll_main(gpointer data)
{
    struct migration_poll *mp = data;

    while (!g_atomic_int_get(&mp->done)) {
        g_autoptr(json_object) q = vmctl_dirty_rate_qmp(mp->sock, mp->name, "query-migrate", NULL, NULL);
        json_object *ram = q ? json_object_object_get(q, "ram") : NULL;
        double t = (double)(vmctl_now_ns() - mp->t0) / 1e9;

        if (ram && g_strcmp0(json_object_get_string(json_object_object_get(q, "status")), "active") == 0) {
            vmctl_report_series_add(mp->transferred, t,
                         (double)json_object_get_int64(json_object_object_get(ram, "transferred")) / (double)MiB);
            vmctl_report_series_add(mp->remaining, t,
                         (double)json_object_get_int64(json_object_object_get(ram, "remaining")) / (double)MiB);
        }
        g_usleep(MIGRATION_POLL_US);
    }
    return NULL;
}

/* One live migration under vmctld with its page-level proof. `spec` is the
 * guest (it is launched, migrated to this host, and killed). */
static void migration_check(Runner *r, const char *id, const char *title, json_object *spec, unsigned ready_s)
{
    const char *sock = vmctl_client_socket_path(NULL);
    const char *name = json_object_get_string(json_object_object_get(spec, "name"));
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) margs = json_object_new_object();
    g_autoptr(json_object) kargs = json_object_new_object();
    g_autoptr(json_object) info = NULL, ret = NULL, killed = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) blocks = g_string_new(NULL);
    VmctlCheckResult res = { 0 };
    const char *verdict;
    g_autofree char *known = NULL;
    uint64_t compared = 0, differ;

    begin(r, id, title);
    json_object_object_add(args, "spec", json_object_get(spec));
    vmctl_json_add_str(kargs, "name", name);
    info = vmctl_client_call(sock, "launch", args, true, &err);
    if (!info) {
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        emit(r, &res);
        return;
    }
    if (!wait_console(json_object_get_string(json_object_object_get(info, "console_log")), "READY", ready_s)) {
        result_set(&res, VMCTL_CHECK_ERROR, "guest '%s' did not report READY within %u s", name, ready_s);
        goto out;
    }
    vmctl_json_add_str(margs, "name", name);
    vmctl_json_add_str(margs, "to", "local");
    {
        struct migration_poll mp = { .sock = sock, .name = name, .t0 = vmctl_now_ns(),
                                     .transferred = vmctl_report_series_new("RAM transferred", "MiB"),
                                     .remaining = vmctl_report_series_new("RAM remaining", "MiB") };
        GThread *th = g_thread_new("migration-poll", migration_poll_main, &mp);

        ret = vmctl_client_call(sock, "migrate", margs, false, &err);
        g_atomic_int_set(&mp.done, 1);
        g_thread_join(th);
        if (!ret) {
            json_object_put(mp.transferred);
            json_object_put(mp.remaining);
            result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
            goto out;
        }
        res.evidence = json_object_get(ret);
        if (json_object_array_length(json_object_object_get(mp.transferred, "points")) > 1) {
            json_object *series = json_object_new_array();

            json_object_array_add(series, mp.transferred);
            json_object_array_add(series, mp.remaining);
            json_object_object_add(res.evidence, "series", series);
        } else {
            json_object_put(mp.transferred);
            json_object_put(mp.remaining);
        }
    }
    verdict = json_object_get_string(json_object_object_get(ret, "verdict"));
    differ = migration_pages_differ(json_object_object_get(ret, "verify"), &compared, blocks);
    known = vmctl_migrate_known_bug(ret);
    result_set(&res, g_strcmp0(verdict, "PASS") == 0 ? VMCTL_CHECK_PASS : VMCTL_CHECK_FAIL,
               "%s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " pages differ (%s); QEMU %s, %s, %s backing%s%s",
               verdict ? verdict : "no verdict", differ, compared, blocks->str,
               json_object_get_string(json_object_object_get(ret, "qemu")),
               json_object_get_string(json_object_object_get(ret, "accel")),
               json_object_get_string(json_object_object_get(ret, "backing")), known ? "; " : "", known ? known : "");
out:
    killed = vmctl_client_call(sock, "kill", kargs, false, NULL);
    emit(r, &res);
}

#define PEER_DEFAULT_LOCAL "qemu:///system"

bool vmctl_validate_peer_uri_check(const char *uri, GError **error)
{
    g_autoptr(GError) e = NULL;
    g_autoptr(GUri) u = g_uri_parse(uri, G_URI_FLAGS_NONE, &e);

    if (!u || !g_uri_get_scheme(u) || !*g_uri_get_scheme(u)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID, "'%s' is not a libvirt URI (like qemu+tcp://HOST/system)%s%s",
                    uri, e ? ": " : "", e ? e->message : "");
        return false;
    }
    return true;
}

/* The first differing pages a migration's proof names: "pc.ram page 1234, ...". */
static char *migration_first_pages(json_object *verify)
{
    json_object *b = json_object_object_get(json_object_object_get(verify, "pages"), "blocks");
    GString *s = g_string_new(NULL);

    for (size_t i = 0; b && i < json_object_array_length(b); i++) {
        json_object *blk = json_object_array_get_idx(b, i);
        json_object *first = json_object_object_get(blk, "first");

        for (size_t k = 0; first && k < json_object_array_length(first) && k < 4; k++)
            g_string_append_printf(s, "%s%s page %" PRId64, s->len ? ", " : "",
                                   json_object_get_string(json_object_object_get(blk, "name")),
                                   json_object_get_int64(json_object_object_get(json_object_array_get_idx(first, k),
                                                                                "page")));
    }
    return g_string_free(s, s->len == 0);
}

struct peer_series {
    uint64_t t0;
    json_object *transferred, *remaining;
};

/* The driver's migration-progress events, for the report's plot. */
static void peer_event(const char *name, json_object *data, void *user)
{
    struct peer_series *ps = user;
    double t = (double)(vmctl_now_ns() - ps->t0) / 1e9;

    if (g_strcmp0(name, "migration-progress") != 0)
        return;
    vmctl_report_series_add(ps->transferred, t,
                            (double)json_object_get_int64(json_object_object_get(data, "transferred")) / (double)MiB);
    vmctl_report_series_add(ps->remaining, t,
                            (double)json_object_get_int64(json_object_object_get(data, "remaining")) / (double)MiB);
}

/* One live migration of the tiny guest from this host's libvirt to the
 * peer's, through the libvirt driver of the private vmctld at `sock`,
 * with the driver's page-level proof; the guest is ended on both sides
 * afterwards. */
static void peer_check(Runner *r, const char *sock, const char *local, json_object *local_facts, const char *peer,
                       unsigned n)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) facts = vmctl_lvm_facts(peer, &err);
    const char *host = facts ? json_object_get_string(json_object_object_get(facts, "hostname")) : NULL;
    g_autofree char *id = g_strdup_printf("migration/peer/%s", host && *host ? host : peer);
    g_autofree char *title = g_strdup_printf("live migration to peer '%s' (libvirt), no page lost",
                                             host && *host ? host : peer);
    g_autofree char *name = g_strdup_printf("validate-peer-%d-%u", (int)getpid(), n);
    g_autofree char *known = NULL, *first = NULL;
    g_autoptr(json_object) spec = json_object_new_object();
    g_autoptr(json_object) args = json_object_new_object();
    g_autoptr(json_object) margs = json_object_new_object();
    g_autoptr(json_object) kargs = json_object_new_object();
    g_autoptr(json_object) info = NULL, ret = NULL, killed = NULL;
    g_autoptr(GString) blocks = g_string_new(NULL);
    json_object *tp = json_object_new_object();
    const char *verdict, *fault = g_getenv("VMCTL_MIGRATE_FAULT");
    VmctlCheckResult res = { 0 };
    struct peer_series ps = { 0 };
    uint64_t compared = 0, differ;
    bool launched = false;

    begin(r, id, title);
    if (!facts) {
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        res.evidence = json_object_new_object();
        vmctl_json_add_str(res.evidence, "peer_uri", peer);
        emit(r, &res);
        return;
    }
    vmctl_json_add_str(spec, "name", name);
    vmctl_json_add_str(spec, "memory", "128M");
    vmctl_json_add_u64(tp, "rate", 5000);
    json_object_object_add(spec, "tiny", tp);
    json_object_object_add(args, "spec", json_object_get(spec));
    vmctl_json_add_str(kargs, "name", name);
    info = vmctl_client_call(sock, "launch", args, false, &err);
    if (!info) {
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        goto out;
    }
    launched = true;
    if (!wait_console(json_object_get_string(json_object_object_get(info, "console_log")), "READY", 60)) {
        result_set(&res, VMCTL_CHECK_ERROR, "guest '%s' did not report READY within 60 s", name);
        goto out;
    }
    vmctl_json_add_str(margs, "name", name);
    vmctl_json_add_str(margs, "to", peer);
    /* the tests make this check fail on purpose: VMCTL_MIGRATE_FAULT=dst-page:N */
    if (fault && *fault)
        vmctl_json_add_str(margs, "fault", fault);
    ps.t0 = vmctl_now_ns();
    ps.transferred = vmctl_report_series_new("RAM transferred", "MiB");
    ps.remaining = vmctl_report_series_new("RAM remaining", "MiB");
    ret = vmctl_client_call_events(sock, "migrate", margs, false, peer_event, &ps, &err);
    if (!ret) {
        result_set(&res, VMCTL_CHECK_ERROR, "%s", err->message);
        goto out;
    }
    res.evidence = json_object_get(ret);
    if (json_object_array_length(json_object_object_get(ps.transferred, "points")) > 1) {
        json_object *series = json_object_new_array();

        json_object_array_add(series, g_steal_pointer(&ps.transferred));
        json_object_array_add(series, g_steal_pointer(&ps.remaining));
        json_object_object_add(res.evidence, "series", series);
    }
    verdict = json_object_get_string(json_object_object_get(ret, "verdict"));
    differ = migration_pages_differ(json_object_object_get(ret, "verify"), &compared, blocks);
    first = migration_first_pages(json_object_object_get(ret, "verify"));
    known = vmctl_migrate_known_bug(ret);
    {
        VmctlCheckStatus st = g_strcmp0(verdict, "PASS") == 0 ? VMCTL_CHECK_PASS
                              : g_strcmp0(verdict, "FAIL") == 0 ? VMCTL_CHECK_FAIL
                                                                : VMCTL_CHECK_ERROR; /* nothing compared: no proof */
        json_object *stamps = json_object_object_get(json_object_object_get(ret, "verify"), "stamps");

        result_set(&res, st,
                   "%s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " pages differ (%s)%s%s; stamps %" PRId64
                   " bad of %" PRId64 "; guest %s; peer %s: libvirt %s, %s %s%s%s",
                   verdict ? verdict : "no verdict", differ, compared, blocks->len ? blocks->str : "not compared",
                   first ? ", first " : "", first ? first : "",
                   json_object_get_int64(json_object_object_get(stamps, "bad")),
                   json_object_get_int64(json_object_object_get(stamps, "checked")),
                   json_object_get_string(json_object_object_get(json_object_object_get(ret, "verify"), "guest"))
                       ?: "not asked",
                   host ? host : peer, json_object_get_string(json_object_object_get(facts, "libvirt_version")) ?: "?",
                   json_object_get_string(json_object_object_get(facts, "hypervisor")) ?: "hypervisor",
                   json_object_get_string(json_object_object_get(facts, "hypervisor_version")) ?: "?",
                   known ? "; " : "", known ? known : "");
    }
out:
    if (!res.evidence)
        res.evidence = json_object_new_object();
    json_object_put(ps.transferred);
    json_object_put(ps.remaining);
    json_object_object_add(res.evidence, "peer", json_object_get(facts));
    json_object_object_add(res.evidence, "local", json_object_get(local_facts));
    /* wherever the guest is now: the source (a migration that failed) or
     * the peer (migrated, or kept paused there when it differs) */
    if (launched) {
        g_autoptr(GError) derr = NULL;

        killed = vmctl_client_call(sock, "kill", kargs, false, NULL);
        if (!vmctl_lvm_destroy(peer, name, &derr))
            vmctl_json_add_str(res.evidence, "peer_cleanup", derr->message);
    }
    emit(r, &res);
}

/* Remove a directory tree of validate's own (no symlink is followed). */
static void remove_tree(const char *path)
{
    g_autoptr(GDir) d = g_file_test(path, G_FILE_TEST_IS_SYMLINK) ? NULL : g_dir_open(path, 0, NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(path, e, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            remove_tree(p);
        else
            g_unlink(p);
    }
    g_rmdir(path);
}

/* --peer URI...: the migration checks between this host's libvirt
 * (--peer-local) and each peer, through a private vmctld with the libvirt
 * driver (its socket and state under `dir`), stopped afterwards. */
static void group_migration_peers(Runner *r, const char *dir)
{
    const char *local = r->opts->peer_local ? r->opts->peer_local : PEER_DEFAULT_LOCAL;
    g_autofree char *sock = g_build_filename(dir, "peer.sock", NULL);
    g_autofree char *state = g_build_filename(dir, "ps", NULL); /* short: the guests' sockets go under it */
    g_autofree char *log = g_build_filename(dir, "peer-vmctld.log", NULL);
    const char *extra[] = { "--driver", "libvirt", "--connect", local, NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(json_object) local_facts = vmctl_lvm_facts(local, &err);
    pid_t pid = 0;

    if (local_facts)
        pid = vmctl_client_daemon_spawn(sock, state, extra, log, &err);
    for (unsigned i = 0; r->opts->peers[i]; i++) {
        if (!pid) {
            /* no local side: every peer's row says why, on one line */
            g_autofree char *id = g_strdup_printf("migration/peer/%s", r->opts->peers[i]);
            g_autofree char *title = g_strdup_printf("live migration to peer '%s' (libvirt), no page lost",
                                                     r->opts->peers[i]);
            VmctlCheckResult res = { 0 };

            begin(r, id, title);
            result_set(&res, VMCTL_CHECK_ERROR, "this host's side (--peer-local '%s'): %s", local, err->message);
            res.evidence = json_object_new_object();
            vmctl_json_add_str(res.evidence, "peer_uri", r->opts->peers[i]);
            emit(r, &res);
            continue;
        }
        peer_check(r, sock, local, local_facts, r->opts->peers[i], i);
    }
    vmctl_client_daemon_stop(pid);
    remove_tree(state);
}

/* Migration with page-level verification: the tiny guest under KVM where
 * it runs natively, and (not with --quick) the Linux guest under TCG with
 * its NVDIMM content. Backings go in a temporary directory. */
static void group_migration(Runner *r)
{
    g_autofree char *dir = g_dir_make_tmp("vmctl-validate-XXXXXX", NULL);
    g_autofree char *tiny_ram = g_build_filename(dir, "tiny.ram", NULL);
    g_autofree char *lx_ram = g_build_filename(dir, "linux.ram", NULL);
    g_autofree char *nv = g_build_filename(dir, "nv0.img", NULL);
    g_autofree char *tname = g_strdup_printf("validate-mig-tiny-%d", (int)getpid());
    g_autofree char *lname = g_strdup_printf("validate-mig-linux-%d", (int)getpid());
    g_autoptr(json_object) tiny = json_object_new_object();
    json_object *tp = json_object_new_object();
    VmctlAccelHost host;

    vmctl_accel_host_probe(&host);
    vmctl_json_add_str(tiny, "name", tname);
    vmctl_json_add_str(tiny, "memory", "128M");
    vmctl_json_add_str(tiny, "backend", tiny_ram);
    vmctl_json_add_u64(tp, "rate", 20000);
    json_object_object_add(tiny, "tiny", tp);
    migration_check(r, "migration/tiny", host.kvm_usable ? "live migration, tiny guest (KVM), no page lost"
                                                          : "live migration, tiny guest (TCG), no page lost",
                    tiny, 60);
    if (!r->opts->quick) {
        g_autoptr(json_object) lx = json_object_new_object();
        json_object *nvs = json_object_new_array();
        json_object *nvd = json_object_new_object();
        json_object *lxo = json_object_new_object();
        FILE *f = fopen(nv, "w");

        if (f) {
            if (ftruncate(fileno(f), 64 * MiB) < 0)
                g_warning("cannot size '%s': %s", nv, g_strerror(errno));
            fclose(f);
        }
        vmctl_json_add_str(lx, "name", lname);
        vmctl_json_add_str(lx, "memory", "256M");
        vmctl_json_add_str(lx, "backend", lx_ram);
        vmctl_json_add_str(lx, "kind", "linux");
        vmctl_json_add_str(nvd, "path", nv);
        vmctl_json_add_str(nvd, "size", "64M");
        json_object_array_add(nvs, nvd);
        json_object_object_add(lx, "nvdimm", nvs);
        vmctl_json_add_str(lxo, "cmdline", "vmctl.pmem=fsdax vmctl.mode=file vmctl.rate=1000 vmctl.pages=4096 vmctl.ws=2048");
        json_object_object_add(lx, "linux", lxo);
        migration_check(r, "migration/linux-nvdimm", "live migration, Linux guest with NVDIMM, no page lost",
                        lx, 180);
    }
    if (r->opts->peers && r->opts->peers[0])
        group_migration_peers(r, dir);
    {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *e;
        while (d && (e = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(dir, e, NULL);
            g_unlink(p);
        }
        g_rmdir(dir);
    }
}

static const struct {
    const char *name; /* for --only; the ids of its checks start so */
    VmctlCheckGroupFn fn;
} groups[] = {
    { "kvm-device", group_kvm_device },
    { "backend", group_backends },
    { "dirty-log", group_dirty_log }, /* with huge-pages/ */
    { "accessed", group_accessed },
    { "dirty-rate", group_dirty_rate },
    { "migration", group_migration },
    { "ksm", group_ksm },
};

bool vmctl_validate_groups_check(char **only, GError **error)
{
    for (size_t i = 0; only && only[i]; i++) {
        bool known = false;
        for (size_t j = 0; j < G_N_ELEMENTS(groups); j++)
            known |= strcmp(only[i], groups[j].name) == 0;
        if (!known) {
            g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_INVALID,
                        "check group '%s' is unknown: use kvm-device, backend, dirty-log, accessed, dirty-rate, "
                        "migration or ksm",
                        only[i]);
            return false;
        }
    }
    return true;
}

json_object *vmctl_validate_run(const VmctlValidateOpts *opts, VmctlValidateProgress progress, void *data)
{
    json_object *report = json_object_new_object();
    Runner r = { .opts = opts, .progress = progress, .data = data, .checks = json_object_new_array(),
                 .no_kvm = kvm_missing() };
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *started = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");

    /* who made the report and when: the page's head, the comparisons */
    vmctl_json_add_str(report, "vmctl_version", PACKAGE_VERSION);
    vmctl_json_add_str(report, "started", started);
    for (size_t i = 0; i < G_N_ELEMENTS(groups); i++)
        if (!opts->only || g_strv_contains((const char *const *)opts->only, groups[i].name))
            groups[i].fn(&r);
    json_object_object_add(report, "checks", r.checks);
    vmctl_json_add_str(report, "verdict", r.n_fail ? "fail" : r.n_error ? "error" : "pass");
    /* a pass counts what it could not measure */
    vmctl_json_add_u64(report, "checks_total", r.n);
    vmctl_json_add_u64(report, "checks_not_applicable", r.n_na);
    g_free(r.no_kvm);
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
