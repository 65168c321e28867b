/* fuzz-guest-spec.c: guest specs as the CLI and the daemon read them:
 * json_tokener text -> vmctl_guest_spec_from_json -> _validate, and the
 * "PATH,SIZE" device argument (vmctl_guest_spec_add_device).
 *
 * Properties: from_json says yes with no error or no with one; the JSON
 * form of an accepted spec is accepted again and gives the same JSON (a
 * stored spec can always be read back); copy gives the same JSON. */
#include "config.h"

#include "fuzz.h"
#include "guest_spec.h"
#include "util.h"

#include <json-c/json.h>

static void round_trip(const VmctlGuestSpec *spec)
{
    g_autoptr(json_object) j1 = vmctl_guest_spec_to_json(spec);
    g_autoptr(VmctlGuestSpec) again = NULL;
    g_autoptr(VmctlGuestSpec) copy = vmctl_guest_spec_copy(spec);
    g_autoptr(json_object) j2 = NULL;
    g_autoptr(json_object) j3 = NULL;
    g_autoptr(GError) err = NULL;

    again = vmctl_guest_spec_from_json(j1, &err);
    if (!again) {
        fprintf(stderr, "spec JSON not accepted back: %s\n%s\n", err->message, json_object_to_json_string(j1));
        abort();
    }
    j2 = vmctl_guest_spec_to_json(again);
    if (!json_object_equal(j1, j2)) {
        fprintf(stderr, "spec JSON changed on a round trip:\n%s\n%s\n", json_object_to_json_string(j1),
                json_object_to_json_string(j2));
        abort();
    }
    if (!copy)
        abort();
    j3 = vmctl_guest_spec_to_json(copy);
    if (!json_object_equal(j1, j3))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *s = fuzz_strndup(data, size);
    g_autoptr(json_object) j = NULL;
    g_autoptr(VmctlGuestSpec) spec = NULL;
    g_autoptr(GError) err = NULL;
    enum json_tokener_error jerr;

    j = json_tokener_parse_verbose(s, &jerr);
    if (!j) {
        /* Not JSON: use it as a device argument. */
        g_autoptr(VmctlGuestSpec) base = vmctl_guest_spec_new();
        bool ok = vmctl_guest_spec_add_device(base, size % 2 ? "nvdimm" : "virtio-pmem", s, &err);

        if (ok != (err == NULL))
            abort();
        return 0;
    }
    spec = vmctl_guest_spec_from_json(j, &err);
    if ((spec == NULL) != (err != NULL))
        abort();
    if (!spec)
        return 0;
    for (unsigned max = 1; max <= 1024; max *= 32) {
        bool ok = vmctl_guest_spec_validate(spec, max, &err);

        if (ok != (err == NULL))
            abort();
        g_clear_error(&err);
    }
    round_trip(spec);
    return 0;
}
