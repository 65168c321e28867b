/* spec-options.h: the command-line options that describe a guest spec
 * (--memory, --backend, --guest, ... as `vmctl launch` takes them), shared
 * by every command that builds a spec from options (launch, xml). */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>

typedef struct {
    char *memory, *backend, *guest, *accel, *vcpus, *merge, *ring;
    char *rate, *ws, *same, *seed, *cmdline;
    GStrv nvdimm, vpmem;
} VmctlSpecOptions;

/* Append the spec options' GOptionEntry rows (filling O) to ENTRIES, a
 * GArray of GOptionEntry; the caller ends it with a zeroed row. */
void vmctl_spec_options_add_entries(GArray *entries, VmctlSpecOptions *o);

/* Whether any spec option was given. */
bool vmctl_spec_options_given(const VmctlSpecOptions *o);

/* The spec JSON for guest NAME from the options, checked by every rule
 * that needs no host (guest_spec.h), or NULL with a one-line error naming
 * the option. --memory is required. */
json_object *vmctl_spec_options_build(const VmctlSpecOptions *o, const char *name, GError **error);

void vmctl_spec_options_clear(VmctlSpecOptions *o);
