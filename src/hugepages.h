/* hugepages.h: the kernel's huge page pools
 * (SYSFS/kernel/mm/hugepages/hugepages-<N>kB): what a pool holds, and, as
 * root, growing a pool for a while and giving back exactly what was added.
 *
 * The sysfs root is vmctl_sysfs_root() (sysfs.h), so the readers
 * work on recorded trees in tests. Library code: never prints. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t nr;   /* nr_hugepages */
    uint64_t free; /* free_hugepages */
    uint64_t resv; /* resv_hugepages: promised to mappings not faulted yet */
} VmctlHugePool;

/* Read the pool of `page_size`-byte pages; false when the pool does not
 * exist (resv is 0 when the kernel does not report it). */
bool vmctl_huge_pool_read(uint64_t page_size, VmctlHugePool *pool);

/* Pages a new mapping can still get: free minus reserved. */
uint64_t vmctl_huge_pool_available(const VmctlHugePool *pool);

/* Make sure `need` pages are available, raising nr_hugepages by the missing
 * ones (root only). *added gets how many were added (0 when none were
 * needed); on failure nothing stays added. */
bool vmctl_huge_pool_reserve(uint64_t page_size, uint64_t need, uint64_t *added, GError **error);

/* Lower nr_hugepages by *added (what reserve added, so a concurrent change
 * by someone else is kept) and set *added to 0. */
bool vmctl_huge_pool_give_back(uint64_t page_size, uint64_t *added, GError **error);

/* The kernel's default huge page size as a size string ("2048K"), from
 * /proc/meminfo, or NULL. */
char *vmctl_huge_default_size_str(void);
