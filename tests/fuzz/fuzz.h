/* fuzz.h: what the fuzz targets (tests/fuzz/fuzz-*.c) share.
 *
 * Each target defines LLVMFuzzerTestOneInput() and nothing else that is
 * global. Linked with -fsanitize=fuzzer it is a libFuzzer program (`make
 * fuzz`); linked with replay-main.c it feeds the files of the corpus and
 * regression directories to the same function (`make check`, no clang).
 *
 * A target aborts (g_assert/abort) when a property of the parser breaks, so
 * that libFuzzer records the input; a parser refusing bad input is not a
 * finding. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The source tree, for fixtures under tests/data (set by fuzz.am). */
#ifndef VMCTL_FUZZ_SRCDIR
#define VMCTL_FUZZ_SRCDIR "."
#endif

/* The input as a NUL-terminated string (it ends at the first NUL byte). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    return g_strndup((const char *)data, size);
}

static inline void fuzz_rm_rf(const char *path)
{
    GDir *d;

    if (!g_file_test(path, G_FILE_TEST_IS_DIR) || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        g_unlink(path);
        return;
    }
    d = g_dir_open(path, 0, NULL);
    if (d) {
        const char *e;

        while ((e = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(path, e, NULL);
            fuzz_rm_rf(p);
        }
        g_dir_close(d);
    }
    g_rmdir(path);
}

static char *fuzz_tmp;

static inline void fuzz_tmp_cleanup(void)
{
    if (fuzz_tmp)
        fuzz_rm_rf(fuzz_tmp);
}

/* A private temporary directory of this process, removed at exit (a crash
 * leaves it behind: vmctl-fuzz-* in /dev/shm or $TMPDIR). */
static inline const char *fuzz_tmpdir(void)
{
    if (!fuzz_tmp) {
        /* tmpfs when there is one: the targets rewrite files for every
         * input, and ext4 flushes a file truncated and written again. */
        if (!g_getenv("TMPDIR") && g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) && access("/dev/shm", W_OK) == 0)
            fuzz_tmp = g_mkdtemp(g_strdup("/dev/shm/vmctl-fuzz-XXXXXX"));
        else
            fuzz_tmp = g_dir_make_tmp("vmctl-fuzz-XXXXXX", NULL);
        if (!fuzz_tmp)
            abort();
        atexit(fuzz_tmp_cleanup);
    }
    return fuzz_tmp;
}

/* Write bytes to a file in place (no fsync, no rename: fast enough to run
 * for every input; abort on failure: the harness is broken then). */
static inline void fuzz_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");

    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
}


