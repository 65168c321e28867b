/* test-golden.h: golden-file unit tests. Every tests/data/DIR/CASE.json
 * becomes a test path PREFIX/CASE.json run by FN with the file name as its
 * data, in name order. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <string.h>

/* VMCTL_REGENERATE=1 asks a golden test to rewrite its goldens for review
 * instead of checking them. Under CI (CI=true) that would turn every golden
 * check into a pass, so it is refused there: the test fails, naming it. */
static inline bool vmctl_test_regenerate(void)
{
    if (!g_getenv("VMCTL_REGENERATE"))
        return false;
    if (g_strcmp0(g_getenv("CI"), "true") == 0)
        g_error("VMCTL_REGENERATE is refused under CI=true: goldens are checked there, never rewritten");
    return true;
}

static gint vmctl_test_cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names added (they are the tests' data): free after g_test_run(). */
static inline GPtrArray *vmctl_test_add_goldens(const char *dir_name, const char *prefix, GTestDataFunc fn)
{
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", dir_name, NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *e;

    g_assert_nonnull(d);
    while ((e = g_dir_read_name(d)))
        if (g_str_has_suffix(e, ".json"))
            g_ptr_array_add(names, g_strdup(e));
    g_ptr_array_sort(names, vmctl_test_cmp_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_strdup_printf("%s/%s", prefix, (char *)names->pdata[i]);
        g_test_add_data_func(path, names->pdata[i], fn);
    }
    return names;
}
