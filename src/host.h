/* host.h: facts about this host that decide what vmctl can measure here:
 * kernel version against the table of known KVM/DAX changes, KVM
 * capabilities, THP, KSM, page_idle, DAMON, QEMU and libvirt versions with
 * their known bugs. Never prints; every fact is also JSON. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "util.h"

struct vmctl_version {
    int major, minor, patch;
};

/* Parse "6.1.0-28-cloud-amd64", "7.2.22", "9.0.0" (leading numbers only). */
bool vmctl_version_parse(const char *str, struct vmctl_version *v);
/* <0, 0, >0 like strcmp. */
int vmctl_version_cmp(const struct vmctl_version *a, const struct vmctl_version *b);

/* A change or bug in a range of versions: applies when since <= v < fixed
 * (fixed.major == 0: not known to be fixed). */
struct vmctl_known_change {
    const char *component; /* "kernel", "qemu", "libvirt" */
    const char *id;        /* stable key for JSON and the report */
    struct vmctl_version since;
    struct vmctl_version fixed;
    const char *summary;
};

const struct vmctl_known_change *vmctl_known_changes(size_t *n);
bool vmctl_known_change_applies(const struct vmctl_known_change *c, const struct vmctl_version *v);

/* QEMU's version from `QEMU --version` (run once, cached per binary). */
bool vmctl_qemu_version(const char *qemu_binary, struct vmctl_version *v, char **full, GError **error);

/* The QEMU binary vmctl uses: $VMCTL_QEMU or the configured default. */
const char *vmctl_qemu_binary(void);

/* All host facts as one JSON object. */
json_object *vmctl_host_facts(void);
