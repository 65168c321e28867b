/* hugepages.c: huge page pools, read from sysfs and grown for a while. */
#include "config.h"

#include "hugepages.h"
#include "sysfs.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

static char *pool_file(uint64_t page_size, const char *attr)
{
    return g_strdup_printf("%s/kernel/mm/hugepages/hugepages-%" G_GUINT64_FORMAT "kB/%s", vmctl_sysfs_root(),
                           page_size / KiB, attr);
}

static bool pool_get(uint64_t page_size, const char *attr, uint64_t *out)
{
    g_autofree char *path = pool_file(page_size, attr);

    return vmctl_read_u64(path, out, NULL);
}

bool vmctl_huge_pool_read(uint64_t page_size, VmctlHugePool *pool)
{
    *pool = (VmctlHugePool){ 0 };
    pool_get(page_size, "resv_hugepages", &pool->resv);
    return pool_get(page_size, "nr_hugepages", &pool->nr) && pool_get(page_size, "free_hugepages", &pool->free);
}

uint64_t vmctl_huge_pool_available(const VmctlHugePool *pool)
{
    return pool->free > pool->resv ? pool->free - pool->resv : 0;
}

static bool pool_set_nr(uint64_t page_size, uint64_t nr, GError **error)
{
    g_autofree char *path = pool_file(page_size, "nr_hugepages");
    g_autofree char *val = g_strdup_printf("%" G_GUINT64_FORMAT, nr);
    FILE *f = fopen(path, "w");
    bool ok;

    if (f) {
        ok = fputs(val, f) >= 0;
        ok = fclose(f) == 0 && ok;
    } else {
        ok = false;
    }
    if (!ok)
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_FAILED, "writing '%s' to %s failed: %s", val, path,
                    g_strerror(errno));
    return ok;
}

bool vmctl_huge_pool_reserve(uint64_t page_size, uint64_t need, uint64_t *added, GError **error)
{
    VmctlHugePool pool;
    uint64_t avail;
    g_autofree char *size = vmctl_format_size(page_size);

    *added = 0;
    if (!vmctl_huge_pool_read(page_size, &pool)) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED, "this kernel has no pool of %s huge pages", size);
        return false;
    }
    avail = vmctl_huge_pool_available(&pool);
    if (avail >= need)
        return true;
    if (geteuid() != 0) {
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "%" G_GUINT64_FORMAT " free %s huge pages needed, %" G_GUINT64_FORMAT
                    " free and not root (none reserved)",
                    need, size, avail);
        return false;
    }
    if (!pool_set_nr(page_size, pool.nr + (need - avail), error))
        return false;
    *added = need - avail;
    if (!vmctl_huge_pool_read(page_size, &pool) || vmctl_huge_pool_available(&pool) < need) {
        uint64_t got = vmctl_huge_pool_available(&pool);

        vmctl_huge_pool_give_back(page_size, added, NULL);
        g_set_error(error, VMCTL_ERROR, VMCTL_ERROR_UNSUPPORTED,
                    "%" G_GUINT64_FORMAT " free %s huge pages needed, only %" G_GUINT64_FORMAT
                    " after raising nr_hugepages (the kernel found no more free memory)",
                    need, size, got);
        return false;
    }
    return true;
}

bool vmctl_huge_pool_give_back(uint64_t page_size, uint64_t *added, GError **error)
{
    uint64_t nr = 0;

    if (!*added)
        return true;
    pool_get(page_size, "nr_hugepages", &nr);
    nr = nr > *added ? nr - *added : 0;
    *added = 0;
    return pool_set_nr(page_size, nr, error);
}

char *vmctl_huge_default_size_str(void)
{
    g_autofree char *meminfo = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/meminfo", &meminfo, NULL, NULL))
        return NULL;
    lines = g_strsplit(meminfo, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        guint64 kb;
        if (g_str_has_prefix(lines[i], "Hugepagesize:") && sscanf(lines[i] + 13, "%" G_GUINT64_FORMAT, &kb) == 1)
            return g_strdup_printf("%" G_GUINT64_FORMAT "K", kb);
    }
    return NULL;
}
