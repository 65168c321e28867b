/* test-page-work.c: ordered parallel walks. Units finish out of order on
 * purpose (a unit waits for a later one to start, no timing) and must still
 * be merged in unit order; a failing unit stops the walk, its error comes
 * back and results never merged are freed. */
#include "config.h"

#include "page_work.h"
#include "util.h"

#include <string.h>

struct order {
    GMutex lock;
    GCond cond;
    bool started[3];    /* units 0..2 have started */
    GArray *merged;     /* uint64_t unit numbers, in merge order */
    uint64_t fail_unit; /* a unit that fails, or UINT64_MAX */
    unsigned results;   /* results alive */
    bool seen_quiet;    /* a unit ran quiet */
};

/* Unit 0 waits until unit 2 starts. A worker parks a finished unit before
 * it takes the next one, so unit 1 is parked by then: it finishes first. */
static void *unit_fn(void *data, unsigned worker, uint64_t unit, bool quiet, GError **error)
{
    struct order *o = data;
    uint64_t *r;

    (void)worker;
    g_mutex_lock(&o->lock);
    if (unit < 3)
        o->started[unit] = true;
    g_cond_broadcast(&o->cond);
    while (unit == 0 && !o->started[2])
        g_cond_wait(&o->cond, &o->lock);
    o->seen_quiet = o->seen_quiet || quiet;
    if (unit == o->fail_unit) {
        g_mutex_unlock(&o->lock);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "unit %" G_GUINT64_FORMAT " failed", unit);
        return NULL;
    }
    o->results++;
    g_mutex_unlock(&o->lock);
    r = g_new(uint64_t, 1);
    *r = unit;
    return r;
}

static void free_fn(void *result)
{
    g_free(result);
}

static struct order *current;

static void free_counted(void *result)
{
    current->results--;
    g_free(result);
}

/* Merges are serialised by the walk's lock. */
static bool merge_fn(void *data, void *result)
{
    struct order *o = data;

    g_array_append_val(o->merged, *(uint64_t *)result);
    o->results--;
    free_fn(result);
    return o->merged->len >= 4; /* "listed in full" after four units */
}

static const struct vmctl_page_work_ops ops = { unit_fn, merge_fn, free_counted };

static void order_init(struct order *o)
{
    memset(o, 0, sizeof(*o));
    g_mutex_init(&o->lock);
    g_cond_init(&o->cond);
    o->merged = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    o->fail_unit = UINT64_MAX;
    current = o;
}

static void order_clear(struct order *o)
{
    g_array_unref(o->merged);
    g_mutex_clear(&o->lock);
    g_cond_clear(&o->cond);
}

static void test_order(void)
{
    struct order o;
    g_autoptr(GError) err = NULL;

    order_init(&o);
    g_assert_true(vmctl_page_work_run(&ops, &o, 6, 2, false, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(o.merged->len, ==, 6);
    for (guint i = 0; i < o.merged->len; i++)
        g_assert_cmpuint(g_array_index(o.merged, uint64_t, i), ==, i);
    g_assert_cmpuint(o.results, ==, 0);
    order_clear(&o);
}

/* Unit 0 fails after later units are parked: the walk returns its error,
 * nothing is merged and every parked result is freed. */
static void test_error(void)
{
    struct order o;
    g_autoptr(GError) err = NULL;

    order_init(&o);
    o.fail_unit = 0;
    g_assert_false(vmctl_page_work_run(&ops, &o, 6, 2, false, &err));
    g_assert_error(err, VMCTL_ERROR, VMCTL_ERROR_FAILED);
    g_assert_cmpstr(err->message, ==, "unit 0 failed");
    g_assert_cmpuint(o.merged->len, ==, 0);
    g_assert_cmpuint(o.results, ==, 0);
    order_clear(&o);
}

/* Once the merge says it lists all it may, later units run quiet; a walk
 * that starts quiet is quiet throughout. One worker: no thread is made. */
static void test_quiet(void)
{
    struct order o;
    g_autoptr(GError) err = NULL;

    order_init(&o);
    o.started[2] = true; /* one worker: unit 0 must not wait */
    g_assert_true(vmctl_page_work_run(&ops, &o, 4, 1, false, &err));
    g_assert_false(o.seen_quiet);
    order_clear(&o);

    order_init(&o);
    o.started[2] = true;
    g_assert_true(vmctl_page_work_run(&ops, &o, 5, 1, false, &err));
    g_assert_true(o.seen_quiet); /* unit 4 after four merged */
    g_assert_cmpuint(o.merged->len, ==, 5);
    order_clear(&o);

    order_init(&o);
    o.started[2] = true;
    g_assert_true(vmctl_page_work_run(&ops, &o, 1, 1, true, &err));
    g_assert_true(o.seen_quiet);
    order_clear(&o);
}

static void test_workers(void)
{
    g_assert_cmpuint(vmctl_page_work_workers(0, 0), ==, 1);
    g_assert_cmpuint(vmctl_page_work_workers(1, 8), ==, 1);
    g_assert_cmpuint(vmctl_page_work_workers(100, 3), ==, 3);
    g_assert_cmpuint(vmctl_page_work_workers(1000, 1000), ==, VMCTL_PAGE_WORK_MAX_WORKERS);
    g_assert_cmpuint(vmctl_page_work_workers(1000, 0), >=, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmctl/pages/work/order", test_order);
    g_test_add_func("/vmctl/pages/work/error", test_error);
    g_test_add_func("/vmctl/pages/work/quiet", test_quiet);
    g_test_add_func("/vmctl/pages/work/workers", test_workers);
    return g_test_run();
}
