/* stampscan.c: find page-stamp pages in an image file (test helper).
 *
 * The Linux guest's regions sit anywhere in guest RAM or on the NVDIMM, so
 * the tests look for them by content in the share=on backing file:
 *
 *   stampscan ctl FILE                 every control page:
 *       ctl offset=BYTES region=0xID writes=N pages=N ws=N stamped=N
 *   stampscan page FILE REGION INDEX   the stamped page INDEX of REGION:
 *       page offset=BYTES gen=N
 *
 * Exit status 0 when something was found, 1 when not, 2 on errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmctl/page_stamp.h"

static int usage(void)
{
    fprintf(stderr, "usage: stampscan ctl FILE | stampscan page FILE REGION INDEX\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct stat st;
    const uint8_t *map;
    uint64_t region = 0, index = 0, npages;
    int fd, page_mode, found = 0;

    if (argc < 3)
        return usage();
    page_mode = !strcmp(argv[1], "page");
    if ((page_mode && argc != 5) || (!page_mode && (strcmp(argv[1], "ctl") || argc != 3)))
        return usage();
    if (page_mode) {
        region = strtoull(argv[3], NULL, 0);
        index = strtoull(argv[4], NULL, 0);
    }
    fd = open(argv[2], O_RDONLY);
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "stampscan: open of '%s' failed: %s\n", argv[2], strerror(errno));
        return 2;
    }
    npages = (uint64_t)st.st_size / VMCTL_PAGE_SIZE;
    if (npages == 0)
        return 1;
    map = mmap(NULL, npages * VMCTL_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        fprintf(stderr, "stampscan: mmap of '%s' failed: %s\n", argv[2], strerror(errno));
        return 2;
    }
    for (uint64_t p = 0; p < npages; p++) {
        const uint64_t *w = (const uint64_t *)(map + p * VMCTL_PAGE_SIZE);

        if (!page_mode && w[0] == VMCTL_STAMP_CTL_MAGIC) {
            const struct vmctl_stamp_ctl *c = (const void *)w;

            printf("ctl offset=%" PRIu64 " region=0x%" PRIx64 " writes=%" PRIu64 " pages=%" PRIu64
                   " ws=%" PRIu64 " stamped=%" PRIu64 "\n",
                   p * VMCTL_PAGE_SIZE, c->region, c->writes, c->page_count, c->ws_pages, c->stamped);
            found = 1;
        } else if (page_mode && w[VMCTL_STAMP_W_MAGIC] == VMCTL_STAMP_MAGIC && w[VMCTL_STAMP_W_REGION] == region &&
                   w[VMCTL_STAMP_W_INDEX] == index) {
            printf("page offset=%" PRIu64 " gen=%" PRIu64 "\n", p * VMCTL_PAGE_SIZE, w[VMCTL_STAMP_W_GEN]);
            found = 1;
        }
    }
    return found ? 0 : 1;
}
