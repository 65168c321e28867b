/* mountinfo.h: the mount table. VMCTL_MOUNTINFO replaces
 * /proc/self/mountinfo (tests use recorded tables). Library code: never
 * prints. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

/* One parsed line of /proc/self/mountinfo (exposed for tests and for other
 * parts that need the mount of a path). */
typedef struct {
    unsigned major, minor;
    char *root;
    char *mount_point;   /* unescaped */
    char *mount_options; /* per-mount options */
    char *fstype;
    char *source;
    char *super_options; /* per-superblock options */
} VmctlMount;

/* Parse a mountinfo text; returns a GPtrArray of VmctlMount* (in file
 * order) that frees its elements. Lines that do not parse are skipped. */
GPtrArray *vmctl_mountinfo_parse(const char *text);
/* Read and parse the mount table ($VMCTL_MOUNTINFO or /proc/self/mountinfo). */
GPtrArray *vmctl_mountinfo_read(GError **error);
/* The mount holding PATH (absolute, normalised): the longest mount point
 * that is a prefix of it, the last one listed among equals (the one on top);
 * entries whose device matches DEV (when not 0) win. NULL if none. */
const VmctlMount *vmctl_mountinfo_find(GPtrArray *mounts, const char *path, dev_t dev);
/* Whether OPTION ("dax", "pagesize") is in the comma list OPTS; with VALUE
 * not NULL, returns its value in *VALUE (borrowed up to the next comma is
 * copied: free it). */
bool vmctl_mount_option(const char *opts, const char *option, char **value);

/* Whether PATH is PREFIX or below it, by whole components ("/dev" holds
 * "/dev/dax0.0" but not "/devx"); both absolute and normalised. */
bool vmctl_path_has_prefix(const char *path, const char *prefix);
