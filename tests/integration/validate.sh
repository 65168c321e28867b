#!/bin/sh
# validate.sh: `vmctl validate` output forms, exit status, and a check made
# to fail.
. "$top_srcdir/tests/lib/tap.sh"

if ! have_kvm; then
    skip "validate on a KVM host" "no usable /dev/kvm" kvm
    tap_done
fi

"$VMCTL" validate --json >"$TEST_TMP/r.json"; rc=$?
is "validate --json exits 0 on this host" "$rc" 0
is "kvm-device check passes" "$(jq -r '.checks[] | select(.id=="kvm-device") | .status' "$TEST_TMP/r.json")" PASS
is "evidence has the API version" "$(jq -r '.checks[] | select(.id=="kvm-device") | .evidence.api_version' "$TEST_TMP/r.json")" 12
like "host facts name the kernel" "$(jq -r .host.kernel.release "$TEST_TMP/r.json")" "^[0-9]+\."
is "no check is PASS without evidence" "$(jq '[.checks[] | select(.status=="PASS" and (.evidence|length)==0)] | length' "$TEST_TMP/r.json")" 0

out=$("$VMCTL" validate --tap); rc=$?
is "validate --tap exits 0" "$rc" 0
like "TAP output has a version line" "$out" "^TAP version 13"
like "TAP output has a plan" "$out" "1\.\.[0-9]+"
like "TAP output has the kvm-device point" "$out" "ok 1 - kvm-device"

out=$("$VMCTL" validate --tap --json 2>&1); rc=$?
is "--tap with --json is a usage error" "$rc" 2

# The kvm-device check made to fail: a user without access to /dev/kvm.
if is_root && command -v setpriv >/dev/null; then
    cp "$VMCTL" "$TEST_TMP/vmctl" && chmod 755 "$TEST_TMP" "$TEST_TMP/vmctl"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$TEST_TMP/vmctl" validate --json >"$TEST_TMP/n.json" 2>/dev/null; rc=$?
    is "validate exits 1 when a check fails" "$rc" 1
    is "kvm-device FAILs without access to /dev/kvm" "$(jq -r '.checks[] | select(.id=="kvm-device") | .status' "$TEST_TMP/n.json")" FAIL
    like "the failure names the device" "$(jq -r '.checks[] | select(.id=="kvm-device") | .summary' "$TEST_TMP/n.json")" "cannot open '/dev/kvm'"
else
    skip "kvm-device made to fail" "needs root and setpriv to drop privileges" kvm
fi

tap_done
