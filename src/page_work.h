/* page_work.h: a long walk over an image (pages diff, pages check) cut into
 * units that worker threads take in turn, one worker per online CPU, with
 * the units' results merged strictly in unit order. The result of a walk is
 * therefore the same for any number of workers: counts are exact and "the
 * first N" are the first N in image order. Never prints. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define VMCTL_PAGE_WORK_MAX_WORKERS 64u /* threads per walk at most */

struct vmctl_page_work_ops {
    /* Work on unit `unit` with the state of worker `worker` (0 .. workers-1;
     * one thread runs one worker). `quiet`: the results merged so far list
     * all that may be listed, so the unit need only count. Returns the
     * unit's result, or NULL with error set. */
    void *(*unit)(void *data, unsigned worker, uint64_t unit, bool quiet, GError **error);
    /* Take the result of the next unit in order into the total and free it.
     * Returns true when the total lists all it may (later units are quiet).
     * Called with a lock held: it must be short. */
    bool (*merge)(void *data, void *result);
    /* Free a result that was never merged (after an error). */
    void (*free_result)(void *result);
};

/* Workers for a walk of n_units: `threads` (0: one per online CPU), at most
 * n_units and VMCTL_PAGE_WORK_MAX_WORKERS, at least 1. */
unsigned vmctl_page_work_workers(uint64_t n_units, unsigned threads);

/* Run units 0 .. n_units-1 on `workers` workers (the calling thread is
 * worker 0) and merge them in order. `quiet` starts the walk quiet (nothing
 * to list). On the first error the workers stop taking units and that error
 * is returned. */
bool vmctl_page_work_run(const struct vmctl_page_work_ops *ops, void *data, uint64_t n_units, unsigned workers,
                         bool quiet, GError **error);
