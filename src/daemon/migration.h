/* migration.h: live migration of a vmctld guest, one pipeline whatever
 * moves it:
 *
 *   check -> plan -> destination -> transfer -> proof -> hand-over
 *                                                    \-> keep the source
 *
 * The pipeline (migration.c) runs the stages in the main loop, streams
 * phases and progress to the caller, makes the proof (every page compared
 * by the host oracle of migrate.h, the tiny guest's stamps, the guest's
 * VERIFY on its console, the verdict) and the result. A transport does the
 * steps that differ: QMP between two QEMUs of this host (`--to local`,
 * migration_qmp.c) or libvirt's peer-to-peer migration (libvirt_driver.c). On
 * failure or cancel the source keeps running. Protocol: docs/api.md. */
#pragma once

#include <json-c/json.h>

#include "daemon/server.h"
#include "migrate.h"

typedef struct Migration VmctldMigration;

/* What the proof compares, given by the transport's images step. */
typedef struct {
    GPtrArray *blocks;  /* VmctlMigrateBlock (empty: RAM not compared); NULL: no compare at all */
    char *src_ram;      /* the source's RAM image (NULL: not reachable) */
    char *dst_ram;      /* the destination's (NULL: not reachable: no stamps, no fault) */
    bool dumps;         /* the images are dumps of ours, removed after the compare */
    bool dst_runs;      /* the destination runs meanwhile (postcopy): the proof pauses no guest */
    const char *how;    /* what the images are, for the proof's "images" (NULL: said already) */
} VmctldMigrationImages;

/* A transport's steps. Each runs in the main loop and ends, now or later,
 * in vmctld_migration_next() (images: vmctld_migration_compare()) or
 * vmctld_migration_fail(). NULL steps are skipped. */
typedef struct {
    const char *driver;
    void (*plan)(VmctldMigration *m);        /* decide how (strategy auto: measure first) */
    void (*destination)(VmctldMigration *m); /* make the destination ready */
    void (*transfer)(VmctldMigration *m);    /* move the guest: both sides paused at the end, or the destination
                                              * running under postcopy */
    void (*images)(VmctldMigration *m);      /* what to compare: vmctld_migration_compare() */
    void (*resume)(VmctldMigration *m);      /* run the destination */
    char *(*console)(VmctldMigration *m);    /* the destination's console socket, or NULL: not reachable */
    /* the way out, after the verdict or a failure: each ends in
     * vmctld_migration_done() */
    void (*hand_over)(VmctldMigration *m);   /* PASS or UNVERIFIED: the guest is the destination */
    void (*keep)(VmctldMigration *m);        /* FAIL or a failure (vmctld_migration_failure()) */
    /* a failure reported to the pipeline (NULL: as is): it ends, now or
     * later, in vmctld_migration_failed() */
    void (*fail)(VmctldMigration *m, GError *error);
    void (*result)(VmctldMigration *m, json_object *r); /* the transport's members of the result */
    void (*free)(void *data);
} VmctldMigrationTransport;

/* What the pipeline knows of the guest, from the transport's check. */
typedef struct {
    const char *to;
    VmctlMigrateStrategy strategy;
    bool verify, running, stamps;
    uint64_t memory;
    const char *qemu_version, *accel, *backing;
    const char *fault;   /* test-only (docs/api.md), made by the pipeline */
    const char *src_ram; /* the source's RAM image, for a dst-stale fault (NULL: none) */
} VmctldMigrationGuest;

/* True when guest `name` is not being migrated (false and *error if it is). */
bool vmctld_migration_idle(const char *name, GError **error);
/* A migration of guest `name` for `call`, registered as running (NULL and
 * *error when one runs already). It starts when the transport's check ends
 * in vmctld_migration_next(). */
VmctldMigration *vmctld_migration_new(VmctldCall *call, const char *name, const VmctldMigrationTransport *tp,
                                      void *data, GError **error);
/* The check's facts; false (and *error) for a fault the pipeline cannot make. */
bool vmctld_migration_guest(VmctldMigration *m, const VmctldMigrationGuest *g, GError **error);
void vmctld_migration_next(VmctldMigration *m);
void vmctld_migration_compare(VmctldMigration *m, VmctldMigrationImages *img);
void vmctld_migration_fail(VmctldMigration *m, GError *error);
/* the failure recorded (the first one counts): the proof stops, the way
 * out is the transport's keep() */
void vmctld_migration_failed(VmctldMigration *m, GError *error);
/* the transfer has completed: the proof's pause counts from now (else from
 * the end of the transfer step) */
void vmctld_migration_completed(VmctldMigration *m);
/* the reply: a result or an error (stolen) */
void vmctld_migration_done(VmctldMigration *m, json_object *result, GError *error);

void *vmctld_migration_data(const VmctldMigration *m);
json_object *vmctld_migration_proof(const VmctldMigration *m);
const GError *vmctld_migration_failure(const VmctldMigration *m);
uint64_t vmctld_migration_elapsed_ms(const VmctldMigration *m);
void vmctld_migration_phase(VmctldMigration *m, const char *name, const char *detail);
/* the result's common members; the transport's result() adds its own */
json_object *vmctld_migration_result(VmctldMigration *m);
/* run(data) in a worker thread, then done(m, data) in the main loop; not
 * called when the migration ended meanwhile. One at a time. */
void vmctld_migration_offload(VmctldMigration *m, void (*run)(void *data), void (*done)(VmctldMigration *m, void *data),
                              void *data, GDestroyNotify free_data);

/* `data` is the VmctldGuests of the daemon. */
void vmctld_migration_cmd_migrate(VmctldServer *srv, json_object *args, VmctldCall *call, void *data);
json_object *vmctld_migration_cmd_cancel(VmctldServer *srv, json_object *args, void *data, GError **error);
