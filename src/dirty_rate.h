/* dirty_rate.h: a guest's dirty rate as QEMU measures it (QMP
 * calc-dirty-rate + query-dirty-rate), with the choice of measurement mode
 * made from what this QEMU and accelerator can really do.
 *
 * Modes (QEMU's names): page-sampling hashes a sample of pages at the start
 * and end of the window (any accelerator); dirty-bitmap and dirty-ring count
 * the pages KVM's dirty logging reports (KVM only; dirty-ring also per
 * vCPU and only when the guest was started with a dirty ring, which in turn
 * makes QEMU refuse dirty-bitmap). QEMU reports MB/s (MiB of dirtied 4 KiB
 * pages per second, integer); pages/s here are computed from that.
 *
 * Library code: talks to vmctld (client.h), never prints. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "host.h"
#include "util.h"

#define VMCTL_DIRTY_RATE_PAGE_SIZE 4096 /* bytes: QEMU's target page size on x86 */
#define VMCTL_DIRTY_RATE_CALC_TIME_MAX 60 /* seconds: QEMU 7.2 accepts 1..60 */
/* page-sampling's sample, pages per GiB: QEMU's largest. Its default of 512
 * leaves a 16 MiB guest 8 pages (a busy half of its RAM could read as 0). */
#define VMCTL_DIRTY_RATE_SAMPLE_PAGES 4096

typedef enum {
    VMCTL_DIRTY_RATE_AUTO,
    VMCTL_DIRTY_RATE_PAGE_SAMPLING,
    VMCTL_DIRTY_RATE_DIRTY_BITMAP,
    VMCTL_DIRTY_RATE_DIRTY_RING,
} VmctlDirtyRateMode;

/* "auto", "page-sampling", "dirty-bitmap", "dirty-ring". */
const char *vmctl_dirty_rate_mode_name(VmctlDirtyRateMode mode);
/* How far a mode's measurement may be from a guest's true rate, as a
 * fraction, and why (measured: bench/dirty-rate/RESULTS.md). The exact modes
 * count every written page: their error is QEMU's rounding to whole MB/s
 * (256 pages/s) and the window's edges; page-sampling adds its sampling
 * error. */
double vmctl_dirty_rate_tolerance(VmctlDirtyRateMode mode, const char **why);
bool vmctl_dirty_rate_mode_from_name(const char *name, VmctlDirtyRateMode *out);

/* What decides the mode: facts about one running guest. */
typedef struct {
    struct vmctl_version qemu; /* from QMP query-version */
    bool kvm;                  /* QMP query-kvm "enabled" */
    unsigned ring_entries;     /* the guest's dirty ring (spec "dirty-ring"), 0 = none */
    bool has_command;          /* the schema has calc-dirty-rate */
    bool has_mode_arg;         /* calc-dirty-rate takes "mode" (QEMU 6.2+) */
    unsigned modes;            /* bit (1 << mode) for each mode in the schema's enum */
} VmctlDirtyRateCaps;

/* The decision table: the mode to use for REQUESTED on a guest with CAPS,
 * or false with one line that says why it is refused. Never picks a mode
 * this QEMU would crash on or refuse (known bug 'tcg-calc-dirty-rate-crash'
 * from host.c; dirty-bitmap with a dirty ring; dirty-ring without one). */
bool vmctl_dirty_rate_choose(const VmctlDirtyRateCaps *caps, VmctlDirtyRateMode requested, VmctlDirtyRateMode *chosen,
                             GError **error);

/* Fill caps->has_command, has_mode_arg and modes from a query-qmp-schema
 * reply (the "return" list). */
bool vmctl_dirty_rate_caps_from_schema(VmctlDirtyRateCaps *caps, json_object *schema, GError **error);

typedef struct {
    int64_t id;        /* vCPU index */
    int64_t rate_mbps; /* MB/s */
} VmctlVcpuDirtyRate;

/* One query-dirty-rate reply. */
typedef struct {
    char *status;              /* "unstarted", "measuring", "measured" */
    VmctlDirtyRateMode mode;   /* page-sampling when QEMU does not say */
    bool has_rate;             /* dirty-rate is only there once measured */
    int64_t rate_mbps;         /* MB/s as QEMU gives it */
    int64_t start_time;        /* s, QEMU's monotonic clock */
    int64_t calc_time;         /* s */
    int64_t sample_pages;      /* per GiB (page-sampling), 0 otherwise */
    GArray *vcpu;              /* VmctlVcpuDirtyRate, empty unless dirty-ring */
} VmctlDirtyRate;

VmctlDirtyRate *vmctl_dirty_rate_new(void);
void vmctl_dirty_rate_free(VmctlDirtyRate *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmctlDirtyRate, vmctl_dirty_rate_free)

/* Parse the "return" value of query-dirty-rate. */
VmctlDirtyRate *vmctl_dirty_rate_parse(json_object *reply, GError **error);

/* MB/s (MiB/s) to 4 KiB pages per second. */
uint64_t vmctl_dirty_rate_mbps_to_pages(int64_t mbps);

/* {"mode","status","calc_time_s","start_time_s","sample_pages","dirty_rate_mbps",
 *  "dirty_pages_per_s","vcpu":[{"id","dirty_rate_mbps","dirty_pages_per_s"}]} */
json_object *vmctl_dirty_rate_to_json(const VmctlDirtyRate *r);

/* The guest's truth from the tiny guest's console log: the mean "rate=" of
 * the STAT lines in TEXT (count in *n). False when there is none. */
bool vmctl_dirty_rate_stat_mean(const char *text, double *mean, unsigned *n);

/* Ask the tiny guest for a STAT line now over its serial socket (the
 * `STAT` console command) and return its cumulative writes= counter with
 * the host's monotonic time (ns) when the line arrived. Two of these around
 * a measurement give the guest's real rate by the host clock, which holds
 * even when the guest's own TSC calibration (and so its rate=) is off.
 * Fails when another client holds the console. */
bool vmctl_dirty_rate_tiny_writes(const char *serial_socket, uint64_t *writes, uint64_t *host_ns, GError **error);

/* --- live, through vmctld's "qmp" command --- */

/* One QMP command to guest NAME; returns the "return" value. */
json_object *vmctl_dirty_rate_qmp(const char *socket, const char *name, const char *execute, json_object *arguments,
                                  GError **error);

/* Query version, accelerator and schema of guest NAME's QEMU; the ring size
 * comes from INFO (the reply of vmctld "info": its spec). */
bool vmctl_dirty_rate_probe(const char *socket, const char *name, json_object *info, VmctlDirtyRateCaps *caps,
                            GError **error);

/* Called when the window starts (calc-dirty-rate accepted, END false) and
 * when it ends (CALC_TIME s later, before the result is fetched). */
typedef void (*VmctlDirtyRateWindowFn)(bool end, void *data);

/* Start one measurement of CALC_TIME seconds in MODE (not auto) and wait for
 * it: QEMU 7.2 sends no event when it is done, so query-dirty-rate is polled
 * (every 50 ms after the window). SAMPLE_PAGES 0 leaves QEMU's default.
 * CANCELLED, when not NULL, is looked at while waiting; WINDOW_FN, when not
 * NULL, is called at both ends of the window. */
VmctlDirtyRate *vmctl_dirty_rate_measure(const char *socket, const char *name, const VmctlDirtyRateCaps *caps,
                                         VmctlDirtyRateMode mode, unsigned calc_time, unsigned sample_pages,
                                         volatile int *cancelled, VmctlDirtyRateWindowFn window_fn,
                                         void *window_data, GError **error);
