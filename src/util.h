/* util.h: the small pieces every part of vmctl shares: the error domain,
 * size strings, JSON helpers and atomic file writes. Library code reports
 * through GError and never prints. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define VMCTL_ERROR (vmctl_error_quark())
GQuark vmctl_error_quark(void);

typedef enum {
    VMCTL_ERROR_FAILED,       /* generic failure */
    VMCTL_ERROR_INVALID,      /* bad input: the message names the thing and the rule */
    VMCTL_ERROR_NOT_FOUND,    /* a path, guest or device that does not exist */
    VMCTL_ERROR_UNSUPPORTED,  /* this host/QEMU cannot do it (not a failure of a check) */
    VMCTL_ERROR_CHECK_FAILED, /* a verification ran and found a problem */
} VmctlErrorCode;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

/* Parse "4096", "512K", "2M", "1G", "1GiB", "3T" (binary units). The whole
 * string must be consumed; zero is refused unless allow_zero. */
bool vmctl_parse_size(const char *str, bool allow_zero, uint64_t *out, GError **error);

/* Human form of a byte count: "1G", "1536M", "4096" when not a round unit. */
char *vmctl_format_size(uint64_t bytes);

/* Parse a non-negative decimal integer with an upper bound; `what` names the
 * thing in the error ("--seconds"). */
bool vmctl_parse_uint(const char *what, const char *str, uint64_t max, uint64_t *out, GError **error);

/* Read a whole small file (sysfs, procfs) and strip trailing whitespace.
 * Returns NULL with error set when it cannot be read. */
char *vmctl_read_file_trimmed(const char *path, GError **error);

/* Read a sysfs attribute as an unsigned integer (decimal or 0x hex). */
bool vmctl_read_u64(const char *path, uint64_t *out, GError **error);

/* Write data to path atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory. */
bool vmctl_write_file_atomic(const char *path, const char *data, gssize len, mode_t mode, GError **error);

/* JSON helpers: add members without repeating json_object_new_* everywhere.
 * Integers stay raw (bytes, pages, ns); the human view formats them. */
void vmctl_json_add_str(json_object *obj, const char *key, const char *val);

/* Run fn(data) with a SIGBUS of this thread (a read of a mapping whose
 * file was cut short under it) turned into a false return, *addr the
 * address that faulted. Every other SIGBUS stays fatal as before. */
bool vmctl_sigbus_guard(void (*fn)(void *data), void *data, void **addr);

/* VMCTL_PAGES_FAULT=shrink-a:SIZE (a test control): the image at `path`
 * (image A of a compare, the image of a check) is cut to SIZE through its
 * path, as by another process between its sizing and its reading. */
void vmctl_fault_shrink_image(const char *path);

/* Open the KVM device read-write (close-on-exec). A /dev/kvm that is not
 * the KVM character device (10:232; e.g. /dev/null bound over it to hide
 * KVM) counts as missing: -1 with errno ENOENT, as when there is none. */
int vmctl_kvm_open(void);

/* The test-only fault hooks set in this process's environment (every
 * non-empty VMCTL_*FAULT* variable, "NAME=VALUE, ..."), or NULL. A result
 * made under one is not a measurement of the host and must say so. */
char *vmctl_injected_faults(void);
/* "injected_fault": that list, when there is one. */
void vmctl_json_add_injected_faults(json_object *obj);
void vmctl_json_add_u64(json_object *obj, const char *key, uint64_t val);
void vmctl_json_add_i64(json_object *obj, const char *key, int64_t val);
void vmctl_json_add_bool(json_object *obj, const char *key, bool val);
void vmctl_json_add_double(json_object *obj, const char *key, double val);

/* Print a JSON value pretty on stdout with a trailing newline. */
void vmctl_json_print(json_object *obj);

/* Monotonic time in nanoseconds. */
uint64_t vmctl_now_ns(void);
