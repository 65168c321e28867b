/* memcmp-baseline.c: the plainest comparison of two images, for the page
 * diff benchmark: mmap both whole, memcmp them in 2 MiB chunks, unmap.
 * Prints "BYTES DIFFERING_CHUNKS"; exit 0 equal, 1 different, 2 error. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (2u << 20) /* bytes */

static const unsigned char *map(const char *path, size_t *len)
{
    struct stat st;
    void *p;
    int fd = open(path, O_RDONLY);

    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        return NULL;
    }
    *len = st.st_size;
    p = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror(path);
        return NULL;
    }
    return p;
}

int main(int argc, char **argv)
{
    const unsigned char *a, *b;
    size_t la, lb;
    uint64_t differ = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: %s A B\n", argv[0]);
        return 2;
    }
    a = map(argv[1], &la);
    b = map(argv[2], &lb);
    if (!a || !b || la != lb)
        return 2;
    for (size_t o = 0; o < la; o += CHUNK) {
        size_t n = la - o < CHUNK ? la - o : CHUNK;

        if (memcmp(a + o, b + o, n) != 0)
            differ++;
    }
    munmap((void *)a, la);
    munmap((void *)b, lb);
    printf("%zu %llu\n", la, (unsigned long long)differ);
    return differ ? 1 : 0;
}
