/* test-env.h: what a unit test does when this machine lacks something it
 * needs (root, /dev/kvm, KSM, a mount). Outside CI it skips with the
 * reason; under CI=true it fails, because CI machines have all of it. */
#pragma once

#include <glib.h>

static inline void vmctl_test_needs(const char *why)
{
    if (g_strcmp0(g_getenv("CI"), "true") == 0)
        g_test_fail_printf("needed under CI: %s", why);
    else
        g_test_skip(why);
}
