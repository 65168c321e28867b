/* stamp-image.c: write a stamped image for the page benchmark: a control
 * page then stamped pages (include/vmctl/page_stamp.h), as a paused guest
 * would leave it after `writes` working-set rewrites, so that
 * `vmctl pages check` finds every page clean.
 * usage: stamp-image FILE SIZE_MIB */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmctl/page_stamp.h"

int main(int argc, char **argv)
{
    struct vmctl_stamp_ctl *ctl;
    unsigned char *img;
    size_t size;
    uint64_t pages;
    int fd;

    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE SIZE_MIB\n", argv[0]);
        return 2;
    }
    size = strtoull(argv[2], NULL, 10) << 20;
    pages = size / VMCTL_PAGE_SIZE - 1;
    fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, size) < 0) {
        perror(argv[1]);
        return 2;
    }
    img = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (img == MAP_FAILED) {
        perror(argv[1]);
        return 2;
    }
    ctl = (struct vmctl_stamp_ctl *)img;
    ctl->magic = VMCTL_STAMP_CTL_MAGIC;
    ctl->version = VMCTL_STAMP_VERSION;
    ctl->region = 7;
    ctl->seed = 0x1234567;
    ctl->page_count = pages;
    ctl->same_pages = pages / 8;
    ctl->ws_pages = pages / 4;
    ctl->writes = 0;
    for (uint64_t i = 0; i < pages; i++)
        vmctl_stamp_init_page(ctl, (uint64_t *)(img + (i + 1) * VMCTL_PAGE_SIZE), i);
    ctl->stamped = pages;
    /* 2.5 rounds of rewrites over the working set */
    for (uint64_t w = 0; w < ctl->ws_pages * 5 / 2; w++) {
        uint64_t i = vmctl_stamp_next_index(ctl);

        vmctl_stamp_rewrite(ctl, (uint64_t *)(img + (i + 1) * VMCTL_PAGE_SIZE), i, 0);
    }
    munmap(img, size);
    close(fd);
    return 0;
}
