/* libvirt_migrate.h: the host-side pieces of a verified migration between
 * libvirtds (daemon/libvirt_driver.c): finding a domain's QEMU on this
 * host and its guest RAM mapping (reachable through /proc/PID/map_files
 * from any mount namespace, and after libvirt unlinks the file), the
 * migration URI for a destination, and the guest spec kept in a domain's
 * <metadata>. Library code: never prints. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* The lowest pid of a QEMU on this host whose command line names the
 * guest (`-name guest=NAME[,...]`), other than `exclude`; 0: none here. */
pid_t vmctl_lvm_find_qemu(const char *name, pid_t exclude);

/* The shared file-backed mapping (share=on file, memfd) of exactly
 * `memory` bytes in process `pid`, as "/proc/PID/map_files/START-END". */
char *vmctl_lvm_find_ram(pid_t pid, uint64_t memory, GError **error);

/* tcp://HOST:PORT, HOST taken from the destination's libvirt URI
 * ("qemu+tcp://HOST:16509/system"), 127.0.0.1 when it has none or it is
 * "localhost". */
char *vmctl_lvm_migrate_uri(const char *dest_uri, unsigned port);

/* A TCP port free on 127.0.0.1 now (0 when none could be bound). */
unsigned vmctl_lvm_free_port(void);

/* The metadata element that carries a spec: <guest>ESCAPED JSON</guest>. */
char *vmctl_lvm_metadata_xml(json_object *spec);
/* And back, from what virDomainGetMetadata returns (attributes allowed);
 * NULL when it is not a JSON object. */
json_object *vmctl_lvm_metadata_spec(const char *xml);

/* What a libvirtd says of itself: {"uri", "hostname", "libvirt_version",
 * "hypervisor", "hypervisor_version"} (members it does not answer are
 * left out). An unreachable URI is an error naming it, on one line. */
json_object *vmctl_lvm_facts(const char *uri, GError **error);

/* Destroy the domain `name` in the libvirtd at `uri`, if it is there;
 * false (with why) only when the libvirtd cannot be reached or refuses. */
bool vmctl_lvm_destroy(const char *uri, const char *name, GError **error);
