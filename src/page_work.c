/* page_work.c: ordered parallel walks over image units (see page_work.h).
 *
 * Units are handed out in increasing order under one lock. A finished unit
 * parks its result in its slot; whoever finishes the unit the merge cursor
 * waits for merges it and every parked unit after it. The lock is taken
 * twice per unit, and a unit is megabytes of image, so it never contends. */
#include "config.h"

#include "page_work.h"

#include <unistd.h>

struct walk {
    const struct vmctl_page_work_ops *ops;
    void *data;
    uint64_t n_units;
    GMutex lock;
    uint64_t next;   /* next unit to hand out */
    uint64_t merged; /* units merged: the merge cursor */
    void **parked;   /* [n_units] results waiting for the cursor */
    bool quiet;
    GError *error;   /* the first error; stops the walk */
};

struct worker {
    struct walk *walk;
    unsigned id;
};

unsigned vmctl_page_work_workers(uint64_t n_units, unsigned threads)
{
    uint64_t n = threads;

    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        n = cpus > 0 ? (uint64_t)cpus : 1;
    }
    n = MIN(n, n_units);
    n = MIN(n, (uint64_t)VMCTL_PAGE_WORK_MAX_WORKERS);
    return n ? (unsigned)n : 1;
}

/* Called with the lock held. */
static void park(struct walk *w, uint64_t unit, void *result)
{
    w->parked[unit] = result;
    while (w->merged < w->n_units && w->parked[w->merged]) {
        void *r = g_steal_pointer(&w->parked[w->merged]);

        if (w->ops->merge(w->data, r))
            w->quiet = true;
        w->merged++;
    }
}

static gpointer worker_main(gpointer arg)
{
    struct worker *me = arg;
    struct walk *w = me->walk;

    for (;;) {
        GError *local = NULL;
        uint64_t unit;
        bool quiet;
        void *result;

        g_mutex_lock(&w->lock);
        if (w->error || w->next >= w->n_units) {
            g_mutex_unlock(&w->lock);
            return NULL;
        }
        unit = w->next++;
        quiet = w->quiet;
        g_mutex_unlock(&w->lock);

        result = w->ops->unit(w->data, me->id, unit, quiet, &local);

        g_mutex_lock(&w->lock);
        if (result)
            park(w, unit, result);
        else if (!w->error)
            w->error = g_steal_pointer(&local);
        g_mutex_unlock(&w->lock);
        g_clear_error(&local);
    }
}

bool vmctl_page_work_run(const struct vmctl_page_work_ops *ops, void *data, uint64_t n_units, unsigned workers,
                         bool quiet, GError **error)
{
    struct walk w = { .ops = ops, .data = data, .n_units = n_units, .quiet = quiet };
    g_autofree struct worker *me = NULL;
    g_autofree GThread **threads = NULL;

    if (n_units == 0)
        return true;
    workers = MAX(1u, MIN(workers, VMCTL_PAGE_WORK_MAX_WORKERS));
    me = g_new0(struct worker, workers);
    threads = g_new0(GThread *, workers);
    w.parked = g_new0(void *, n_units);
    g_mutex_init(&w.lock);
    /* A thread that cannot be started leaves its share to the others. */
    for (unsigned i = 0; i < workers; i++) {
        me[i].walk = &w;
        me[i].id = i;
        if (i > 0)
            threads[i] = g_thread_try_new("vmctl-pages", worker_main, &me[i], NULL);
    }
    worker_main(&me[0]);
    for (unsigned i = 1; i < workers; i++)
        if (threads[i])
            g_thread_join(threads[i]);
    for (uint64_t u = w.merged; u < n_units; u++)
        if (w.parked[u])
            ops->free_result(w.parked[u]);
    g_free(w.parked);
    g_mutex_clear(&w.lock);
    if (w.error) {
        g_propagate_error(error, w.error);
        return false;
    }
    g_assert(w.merged == n_units);
    return true;
}
