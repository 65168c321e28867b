/* sysfs.h: reading the kernel's sysfs attributes and /dev under roots that
 * tests can move: VMCTL_SYSFS_ROOT (default "/sys") and VMCTL_DEV_ROOT
 * (default "/dev"; when moved, a regular file named daxX.Y stands in for
 * a device-dax character device). A missing or unreadable attribute is not
 * an error here: readers answer false, NULL or the default given. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The sysfs root in use ($VMCTL_SYSFS_ROOT or "/sys"). */
const char *vmctl_sysfs_root(void);
/* The device directory in use ($VMCTL_DEV_ROOT or "/dev"), and whether it
 * was moved. */
const char *vmctl_dev_root(void);
bool vmctl_dev_root_moved(void);

/* ROOT/<printf of FMT>. */
char *vmctl_sysfs_path(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* DIR/ATTR as an unsigned, a signed (DFLT when missing) or a trimmed string. */
bool vmctl_sysfs_u64(const char *dir, const char *attr, uint64_t *out);
int64_t vmctl_sysfs_i64(const char *dir, const char *attr, int64_t dflt);
char *vmctl_sysfs_str(const char *dir, const char *attr);

/* Basename of the target of the symlink DIR/NAME ("device_dax" for
 * "driver"), or NULL. */
char *vmctl_sysfs_link_name(const char *dir, const char *name);

/* The alphabetically first entry of DIR/SUB (DIR when SUB is NULL) whose
 * name starts with PREFIX, or NULL. */
char *vmctl_sysfs_first_child(const char *dir, const char *sub, const char *prefix);

/* The size in bytes of a character device that has one in sysfs
 * (device-dax: /sys/dev/char/MAJ:MIN/size). */
bool vmctl_char_device_size(dev_t rdev, uint64_t *size);
