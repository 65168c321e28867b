#!/bin/sh
# validate.sh: `vmctl validate` output forms, exit status, and a check made
# to fail.
. "$top_srcdir/tests/lib/tap.sh"

if ! kvm_or_lab; then
    skip "validate on a KVM host" "$lab_why" kvm
    tap_done
fi

# the guests validate launches run under a vmctld of this test
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

"$VMCTL" validate --quick --json >"$TEST_TMP/r.json"; rc=$?
is "validate --json exits 0 on this host" "$rc" 0
[ $rc -eq 0 ] || diag "$(jq -r '.checks[] | select(.status != "PASS" and .status != "NOT APPLICABLE") | .id + ": " + .status + ": " + .summary' "$TEST_TMP/r.json")"
is "kvm-device check passes" "$(jq -r '.checks[] | select(.id=="kvm-device") | .status' "$TEST_TMP/r.json")" PASS
is "evidence has the API version" "$(jq -r '.checks[] | select(.id=="kvm-device") | .evidence.api_version' "$TEST_TMP/r.json")" 12
like "host facts name the kernel" "$(jq -r .host.kernel.release "$TEST_TMP/r.json")" "^[0-9]+\."
is "no check is PASS without evidence" "$(jq '[.checks[] | select(.status=="PASS" and (.evidence|length)==0)] | length' "$TEST_TMP/r.json")" 0

out=$("$VMCTL" validate --quick --only kvm-device,backend --tap); rc=$?
is "validate --tap exits 0" "$rc" 0
like "TAP output has a version line" "$out" "^TAP version 13"
like "TAP output has a plan" "$out" "1\.\.[0-9]+"
like "TAP output has the kvm-device point" "$out" "ok 1 - kvm-device"

out=$("$VMCTL" validate --tap --json 2>&1); rc=$?
is "--tap with --json is a usage error" "$rc" 2

# every dirty-log check that ran here passed, and one made to fail: a page
# dropped from every harvest
is "dirty-log checks ran" "$(jq '[.checks[] | select(.id | startswith("dirty-log/"))] | length > 0' "$TEST_TMP/r.json")" true
is "none of them failed" "$(jq -r '[.checks[] | select(.id | startswith("dirty-log/")) | .status] | map(select(. == "FAIL" or . == "ERROR")) | length' "$TEST_TMP/r.json")" 0
VMCTL_PROBE_FAULT=drop-page:100 "$VMCTL" validate --quick --only dirty-log --json >"$TEST_TMP/f.json"; rc=$?
is "validate exits 1 when a dirty page is dropped" "$rc" 1
like "the dirty-log checks name page 100" "$(jq -r '.checks[] | select(.id=="dirty-log/memfd/bitmap") | .summary' "$TEST_TMP/f.json")" "missing from the harvest \\(100\\)"
is "the report says it was made under an injected fault" "$(jq -r .injected_fault "$TEST_TMP/f.json")" \
    "VMCTL_PROBE_FAULT=drop-page:100"
is "a report without one has no such member" "$(jq -r .injected_fault "$TEST_TMP/r.json")" null
# exact means no page extra either: a page added to every harvest
VMCTL_PROBE_FAULT=extra-page:100 "$VMCTL" validate --quick --only dirty-log --json >"$TEST_TMP/x.json"; rc=$?
is "validate exits 1 when a harvest has a page never written" "$rc" 1
like "the dirty-log checks name the extra page" "$(jq -r '.checks[] | select(.id=="dirty-log/anonymous/ring") | .status + ": " + .summary' "$TEST_TMP/x.json")" \
    "^FAIL: 0 written pages missing from the harvest \(\), [0-9]+ harvested pages never written \(100\)"
# dirty-rate thresholds: 8% for the exact modes, 15% for page-sampling,
# stated beside each check; a measurement scaled by 0.88 passes 15% but
# not 8%, one scaled by 0.6 passes neither
is "dirty-rate: each row states its threshold and why" \
    "$(jq -r '[.checks[] | select(.id | startswith("dirty-rate/")) | .evidence.mode + "=" + (.evidence.tolerance | tostring) + (if .evidence.tolerance_why then "" else " (no why)" end)] | unique | map(select(. != "dirty-bitmap=0.08" and . != "dirty-ring=0.08" and . != "page-sampling=0.15")) | length' "$TEST_TMP/r.json")" 0
VMCTL_RATE_FAULT=scale:0.88 "$VMCTL" validate --quick --only dirty-rate --json >"$TEST_TMP/rate.json"; rc=$?
kmode=$(jq -r '.checks[] | select(.id == "dirty-rate/kvm") | .evidence.mode' "$TEST_TMP/rate.json")
diag "scaled by 0.88: $(jq -c '[.checks[] | {id, status, mode: .evidence.mode, ratio: .evidence.ratio}]' "$TEST_TMP/rate.json")"
case $kmode in
dirty-bitmap | dirty-ring)
    is "a 12% low measurement fails the exact mode ($kmode): exit 1" "$rc" 1
    like "naming the ratio and the tolerance" "$(jq -r '.checks[] | select(.id == "dirty-rate/kvm") | .status + ": " + .summary' "$TEST_TMP/rate.json")" \
        "^FAIL: $kmode: measured [0-9]+ pages/s, guest wrote [0-9]+ pages/s \\(ratio 0\\.[0-9]+, tolerance 8%: exact mode\\)$"
    ;;
*) not_ok "the KVM dirty-rate row used an exact mode (it used '$kmode')" ;;
esac
VMCTL_RATE_FAULT=scale:0.6 "$VMCTL" validate --quick --only dirty-rate --json >"$TEST_TMP/rate6.json"; rc=$?
is "a 40% low measurement fails every dirty-rate row: exit 1" "$rc" 1
is "every row FAIL" "$(jq -r '[.checks[] | select(.id | startswith("dirty-rate/")) | .status] | unique | join(",")' "$TEST_TMP/rate6.json")" FAIL
is "the report says the fault was injected" "$(jq -r .injected_fault "$TEST_TMP/rate6.json")" "VMCTL_RATE_FAULT=scale:0.6"

# 2M pages the probe reserved must go back to the pool: a row per backing
# that reserved any; made to fail by keeping them (the test restores)
is "the huge pages the probe reserved were given back" \
    "$(jq -r '[.checks[] | select(.id | startswith("hugepages-restored/")) | .status] | map(select(. != "PASS")) | length' "$TEST_TMP/r.json")" 0
HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -w $HP ]; then
    hp0=$(cat $HP)
    on_exit "echo $hp0 >$HP"
    # a pool with free pages (a lab boots with some) gives the probe no
    # reason to reserve: empty it first when none is in use
    P=/sys/kernel/mm/hugepages/hugepages-2048kB
    [ "$(cat $P/free_hugepages)" = "$hp0" ] && [ "$(cat $P/resv_hugepages)" = 0 ] && echo 0 >$HP
    VMCTL_PROBE_FAULT=keep-hugepages "$VMCTL" validate --quick --only dirty-log --json >"$TEST_TMP/hp.json"; rc=$?
    hp1=$(cat $HP)
    echo "$hp0" >$HP
    row=$(jq -r '.checks[] | select(.id == "hugepages-restored/hugetlbfs") | .status + ": " + .summary' "$TEST_TMP/hp.json")
    if [ -n "$row" ]; then
        is "huge pages kept: exit 1" "$rc" 1
        like "huge pages kept: the row fails, saying so" "$row" \
            "^FAIL: [1-9][0-9]* 2M pages reserved and not given back: nr_hugepages stays raised$"
        check "and the pool was really left raised (to $hp1), now restored to $hp0" test "$hp1" -gt 0 -a "$(cat $HP)" = "$hp0"
    else
        skip "huge pages kept" "the pool had free 2M pages: the probe reserved none" hugetlb
    fi
else
    skip "huge pages kept" "nr_hugepages is not writable here" root
fi

# huge mappings measured while logging is still on do not come back: FAIL
VMCTL_PROBE_FAULT=keep-logging "$VMCTL" validate --quick --only dirty-log --json >"$TEST_TMP/k.json"; rc=$?
is "validate exits 1 when huge mappings are not restored" "$rc" 1
like "the thp huge-pages check fails, saying so" \
    "$(jq -r '.checks[] | select(.id=="huge-pages/thp") | .status + ": " + .summary' "$TEST_TMP/k.json")" \
    "^FAIL: huge mappings [0-9]+ before, [0-9]+ during, [0-9]+ after logging: not restored$"
is "the dirty-log checks themselves still pass" \
    "$(jq '[.checks[] | select(.id | startswith("dirty-log/")) | select(.status != "PASS" and .status != "NOT APPLICABLE")] | length' "$TEST_TMP/k.json")" 0

# accessed-bit coverage: one check per backing of the dirty-log group; here
# (no page_idle, DAMON taken by another user or absent) each is NOT
# APPLICABLE with the reason and the host page-table evidence, never PASS
# without a measurement. Its FAIL paths run in tests/unit/test-accessed.
is "accessed checks ran for every backing of the dirty-log checks" \
    "$(jq -r '[.checks[] | select(.id | startswith("accessed/")) | .id | ltrimstr("accessed/")] | join(" ")' "$TEST_TMP/r.json")" \
    "$(jq -r '[.checks[] | select(.id | test("^dirty-log/.*/bitmap$")) | .id | ltrimstr("dirty-log/") | rtrimstr("/bitmap")] | join(" ")' "$TEST_TMP/r.json")"
like "... the usual six first" \
    "$(jq -r '[.checks[] | select(.id | startswith("accessed/")) | .id] | join(" ")' "$TEST_TMP/r.json")" \
    "^accessed/anonymous accessed/thp accessed/memfd accessed/shm accessed/file accessed/hugetlbfs"
is "no accessed check failed or errored" \
    "$(jq '[.checks[] | select(.id | startswith("accessed/")) | select(.status == "FAIL" or .status == "ERROR")] | length' "$TEST_TMP/r.json")" 0
is "accessed-bit coverage is no longer listed as not built" \
    "$(jq '[.not_built[] | select(test("accessed"))] | length' "$TEST_TMP/r.json")" 0
if [ -e /sys/kernel/mm/page_idle/bitmap ]; then
    is "page_idle present: anonymous is measured" \
        "$(jq -r '.checks[] | select(.id=="accessed/anonymous") | .evidence.mechanism' "$TEST_TMP/r.json")" page-idle
else
    like "page_idle absent: named with its config option" \
        "$(jq -r '.checks[] | select(.id=="accessed/anonymous") | .summary' "$TEST_TMP/r.json")" "page_idle absent \\(kernel without CONFIG_IDLE_PAGE_TRACKING\\)"
fi
is "the NOT APPLICABLE evidence lists what was probed" \
    "$(jq -r '.checks[] | select(.id=="accessed/anonymous") | .evidence.probed | has("page_idle") and has("damon_sysfs") and has("damon_kdamonds")' "$TEST_TMP/r.json")" true

# --backend: a backing that passes and one made to fail
"$VMCTL" validate --quick --only backend,accessed --json --backend "$TEST_TMP/good.ram" --backend "$TEST_TMP/none/bad.ram" >"$TEST_TMP/b.json"; rc=$?
is "validate exits 1 when a backing check fails" "$rc" 1
is "a usable backing passes" "$(jq -r '.checks[] | select(.id=="backend/'"$TEST_TMP"'/good.ram") | .status' "$TEST_TMP/b.json")" PASS
is "a --backend file gets its accessed check in its directory" \
    "$(jq -r '.checks[] | select(.id=="accessed/file:'"$TEST_TMP"'") | .status' "$TEST_TMP/b.json")" "$(jq -r '.checks[] | select(.id=="accessed/file") | .status' "$TEST_TMP/r.json")"
is "a missing directory fails with the rule" "$(jq -r '.checks[] | select(.id=="backend/'"$TEST_TMP"'/none/bad.ram") | .summary' "$TEST_TMP/b.json")" \
    "directory '$TEST_TMP/none' of '$TEST_TMP/none/bad.ram' does not exist"

# The kvm-device check made to fail: a user without access to /dev/kvm.
if is_root && command -v setpriv >/dev/null; then
    cp "$VMCTL" "$TEST_TMP/vmctl" && chmod 755 "$TEST_TMP" "$TEST_TMP/vmctl"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$TEST_TMP/vmctl" validate --quick --only kvm-device --json >"$TEST_TMP/n.json" 2>/dev/null; rc=$?
    is "validate exits 1 when a check fails" "$rc" 1
    is "kvm-device FAILs without access to /dev/kvm" "$(jq -r '.checks[] | select(.id=="kvm-device") | .status' "$TEST_TMP/n.json")" FAIL
    like "the failure names the device" "$(jq -r '.checks[] | select(.id=="kvm-device") | .summary' "$TEST_TMP/n.json")" "cannot open '/dev/kvm'"
else
    skip "kvm-device made to fail" "needs root and setpriv to drop privileges" kvm
fi

tap_done
