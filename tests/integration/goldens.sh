#!/bin/sh
# goldens.sh: VMCTL_REGENERATE=1 makes a golden unit test rewrite its
# goldens for review instead of checking them; under CI=true every golden
# test refuses it (fails, naming it) and leaves the goldens as they were.
. "$top_srcdir/tests/lib/tap.sh"

sums() { find "$top_srcdir/tests/data" -type f -exec md5sum {} + | sort; }
before=$(sums)
for t in test-backend test-guest-spec test-lab test-libvirt-xml test-qemu-cmdline test-report-formats; do
    CI=true VMCTL_REGENERATE=1 "$top_builddir/tests/unit/$t" >/dev/null 2>"$TEST_TMP/$t.err"
    rc=$?
    check "$t: VMCTL_REGENERATE under CI fails (exit $rc)" test "$rc" -ne 0
    like "$t: naming it" "$(cat "$TEST_TMP/$t.err")" 'VMCTL_REGENERATE is refused under CI=true'
done
is "the goldens are unchanged" "$(sums)" "$before"
tap_done
