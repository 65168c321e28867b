/* replay-main.c: feed files to a fuzz target without libFuzzer, so the
 * corpora and the regression inputs run in every `make check` under plain
 * gcc.
 *
 *   replay-NAME PATH...
 *
 * Each PATH is a file or a directory whose files (sorted by name, dot files
 * and README* left out) are fed one by one. Prints one line per directory;
 * exits 1 when a PATH is missing or a directory holds no input (a replay
 * that fed nothing proves nothing), and dies with the target's own abort
 * when an input breaks it. */
#include "config.h"

#include "fuzz.h"

#include <stdio.h>

static int feed_file(const char *path)
{
    g_autofree char *buf = NULL;
    gsize len = 0;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &buf, &len, &err)) {
        fprintf(stderr, "replay: %s\n", err->message);
        return -1;
    }
    if (g_getenv("FUZZ_REPLAY_VERBOSE"))
        fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int feed_dir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = g_dir_read_name(d)))
        if (e[0] != '.' && !g_str_has_prefix(e, "README"))
            g_ptr_array_add(names, g_strdup(e));
    qsort(names->pdata, names->len, sizeof(gpointer), cmp_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *p = g_build_filename(dir, names->pdata[i], NULL);

        if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
            continue;
        if (feed_file(p) < 0)
            return -1;
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    int status = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        int n = g_file_test(argv[i], G_FILE_TEST_IS_DIR) ? feed_dir(argv[i]) : feed_file(argv[i]);

        if (n <= 0) {
            fprintf(stderr, "replay: '%s' %s\n", argv[i], n < 0 ? "cannot be read" : "holds no input");
            status = 1;
            continue;
        }
        printf("%s: %d inputs\n", argv[i], n);
    }
    return status;
}
