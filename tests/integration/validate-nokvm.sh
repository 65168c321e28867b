#!/bin/sh
# validate-nokvm.sh: `vmctl validate` where there is no KVM (this host's is
# hidden in a private mount namespace when it has one): the checks that
# need KVM are NOT APPLICABLE, each saying it needs kvm-device and that a
# lab can measure it, never an ERROR; the verdict counts what was not
# measured. And where KVM is usable the same checks run (no such row).
. "$top_srcdir/tests/lib/tap.sh"

if ! is_root; then
    skip "validate without KVM" "hiding /dev/kvm needs root" root
    tap_done
fi
# the negative control below needs a usable KVM: where this host has none
# the whole test runs in a lab (whose KVM the first part hides in turn)
with_kvm=
kvm_or_lab && with_kvm=1

# nokvm CMD...: CMD with /dev/kvm hidden (a /dev/null bound over it)
nokvm() {
    if have_kvm; then
        unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec "$@"' sh "$@"
    else
        "$@"
    fi
}
groups=kvm-device,dirty-log,accessed
nokvm "$VMCTL" validate --quick --only $groups --json >"$TEST_TMP/r.json" 2>"$TEST_TMP/r.err"
is "validate without KVM exits 0" "$?:$(head -c 300 "$TEST_TMP/r.err")" 0:
j() { jq -r "$1" "$TEST_TMP/r.json"; }
is "no check is an ERROR" "$(j '[.checks[] | select(.status == "ERROR")] | length')" 0
is "kvm-device is NOT APPLICABLE" "$(j '.checks[] | select(.id == "kvm-device") | .status')" "NOT APPLICABLE"
is "every other check says it needs kvm-device and offers a lab" \
    "$(j '[.checks[] | select(.id != "kvm-device") | select(.status == "NOT APPLICABLE" and (.summary | test("^needs kvm-device \\(.*\\): `vmctl validate --lab bookworm` measures it")))] | length')" \
    "$(j '[.checks[] | select(.id != "kvm-device")] | length')"
is "dirty-log and an accessed row per backing are among them" \
    "$(j '[.checks[] | .id | select(. == "dirty-log" or startswith("accessed/"))] | length > 1')" true
is "the verdict counts what was not measured" "$(j '[.verdict, .checks_not_applicable == .checks_total, .checks_total > 1] | @tsv')" \
    "$(printf 'pass\ttrue\ttrue')"
out=$(nokvm "$VMCTL" validate --quick --only $groups 2>/dev/null | tail -n 1)
like "the text verdict line says how many" "$out" '^Verdict: pass, [0-9]+ of [0-9]+ checks not applicable$'

# the negative control: with a usable KVM (here or in a lab) none of these
# rows says it needs one
if [ -n "$with_kvm" ]; then
    "$VMCTL" validate --quick --only kvm-device,dirty-log --json >"$TEST_TMP/k.json"
    is "with KVM: kvm-device passes" "$(jq -r '.checks[] | select(.id == "kvm-device") | .status' "$TEST_TMP/k.json")" PASS
    is "and no check says it needs kvm-device" "$(jq '[.checks[] | select(.summary | test("needs kvm-device"))] | length' "$TEST_TMP/k.json")" 0
else
    skip "validate with KVM" "$lab_why" kvm
fi
tap_done
