#!/bin/sh
# faults-migrate.sh: kill -9 of the source QEMU in the middle of
# `vmctl migrate --to local`: a one-line error naming the source's death,
# the destination QEMU gone, the guest listed dead with QEMU's words, no
# destination run dir or backing left. Then vmctld killed after the
# migration completed but before the hand-over (the source paused in
# postmigrate): the restarted daemon drops the destination and resumes the
# source (VERIFY ok). Last, a slow page compare (held 15 s by the
# test-only VMCTL_MIGRATE_COMPARE_HOLD_MS): vmctld answers other clients
# meanwhile, and a migration cancelled during it leaves the source running
# and the daemon whole when the compare ends.
. "$top_srcdir/tests/lib/tap.sh"

if ! have_qemu; then
    skip "migration faults" "no QEMU" qemu
    tap_done
fi
if ! kvm_or_lab; then
    skip "migration faults" "$lab_why" kvm
    tap_done
fi
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld
wait_running() { _i=0; while [ "$(info "$1" .state)" != running ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done; }
# migrate_bg NAME OUT ARGS...: `vmctl migrate NAME --to local ARGS --json`
# in the background (its pid in $mig, the source's in $src), its lines in
# $TEST_TMP/OUT.out and its stderr in $TEST_TMP/OUT.err
migrate_bg() {
    _n=$1 _o=$2
    shift 2
    src=$(info "$_n" .pid)
    "$VMCTL" migrate "$_n" --to local "$@" --json >"$TEST_TMP/$_o.out" 2>"$TEST_TMP/$_o.err" &
    mig=$!
}

# --- the source QEMU killed mid-migration (16M/s for a busy 128M guest)
"$VMCTL" launch s1 --memory 128M --backend "$TEST_TMP/s1.ram" --rate 0 >/dev/null
check "the guest is READY" wait_for "$S/run/s1/console.log" '^READY' 30
migrate_bg s1 src --strategy precopy --bandwidth 16M
check "the migration runs" wait_for "$TEST_TMP/src.out" '"migration-progress"' 30
dst=$(jq -r 'select(.event == "migration-destination") | .data.pid' "$TEST_TMP/src.out")
kill -9 "$src"
wait $mig
is "killed source: migrate exits 2" "$?" 2
is "killed source: the error is one line" "$(wc -l <"$TEST_TMP/src.err")" 1
like "killed source: the error names the source's death" "$(cat "$TEST_TMP/src.err")" \
    "^vmctl: the source QEMU of guest 's1' died during the migration$"
diag "$(cat "$TEST_TMP/src.err")"
check "killed source: the destination QEMU is gone" gone_within "$dst" 10
is "killed source: the guest is listed dead" "$(info s1 .state)" dead
like "killed source: with QEMU's words" "$(info s1 .error)" "^QEMU exited"
is "killed source: no destination run dir or backing is left" \
    "$(ls -d "$S"/run/s1.dst-* "$TEST_TMP"/s1.ram.dst-* 2>/dev/null)" ""
is "killed source: the state file says dead" "$(jq -r .state "$S/s1.json")" dead
"$VMCTL" stop s1 >/dev/null
check "stop removes the dead guest's record" test ! -e "$S/s1.json"

# --- vmctld killed after the migration completed, before the hand-over.
# VMCTL_MIGRATE_HOLD_MS (test-only) holds the daemon there for a minute.
kill "$(daemon_pid)"
export VMCTL_MIGRATE_HOLD_MS=60000
"$VMCTL" launch s2 --memory 128M --backend "$TEST_TMP/s2.ram" --rate 5000 >/dev/null
unset VMCTL_MIGRATE_HOLD_MS
check "the second guest is READY" wait_for "$S/run/s2/console.log" '^READY' 30
src=$(info s2 .pid)
"$VMCTL" migrate s2 --to local --strategy precopy --bandwidth 8G --json >"$TEST_TMP/done.out" 2>/dev/null &
mig=$!
check "the migration completes" wait_for "$TEST_TMP/done.out" '"phase":"completed"' 60
dst=$(jq -r 'select(.event == "migration-destination") | .data.pid' "$TEST_TMP/done.out")
is "completed: the source is paused by it" "$("$VMCTL" qmp s2 '{"execute":"query-status"}' --json | jq -r .status)" postmigrate
kill -9 "$(daemon_pid)"
wait $mig
is "vmctld killed after completion: migrate exits 2" "$?" 2
"$VMCTL" list >/dev/null # starts vmctld again
# nested in a lab under load, a killed QEMU that received a whole guest
# was seen still exiting after 30 s: killed and on its way out counts, and
# if it is neither, what it is doing
if killed_within "$dst" 30; then
    ok "restarted: the destination QEMU is killed"
else
    not_ok "restarted: the destination QEMU is killed"
    diag "destination pid $dst: $(grep -E '^(Name|State)' "/proc/$dst/status" 2>/dev/null | tr '\n' ' ')wchan $(cat "/proc/$dst/wchan" 2>/dev/null) stack $(tr '\n' ' ' <"/proc/$dst/stack" 2>/dev/null)"
    diag "vmctld said: $(grep -E 's2|destination' "$S/vmctld.log" | tail -n 8)"
fi
wait_running s2
is "restarted: the source keeps the name and runs again" "$(info s2 '[.pid, .state] | @tsv')" "$(printf '%s\trunning' "$src")"
is "restarted: QEMU says it runs" "$("$VMCTL" qmp s2 '{"execute":"query-status"}' --json | jq -r .status)" running
like "restarted: the source says VERIFY ok" "$(console s2 VERIFY)" '^VERIFY ok'
is "restarted: no destination run dir or backing, no resume marker is left" \
    "$(ls -d "$S"/run/s2.dst-* "$TEST_TMP"/s2.ram.dst-* "$S"/run/s2/resume-after-migration 2>/dev/null)" ""
# --- a slow compare: the daemon answers meanwhile; cancelled during it
"$VMCTL" stop s2 >/dev/null
kill "$(daemon_pid)"
export VMCTL_MIGRATE_COMPARE_HOLD_MS=15000
"$VMCTL" launch s3 --memory 128M --backend "$TEST_TMP/s3.ram" --rate 5000 >/dev/null
unset VMCTL_MIGRATE_COMPARE_HOLD_MS
vmctld_before=$(daemon_pid)
check "the third guest is READY" wait_for "$S/run/s3/console.log" '^READY' 30
migrate_bg s3 cmp --strategy precopy --bandwidth 8G
check "the compare begins" wait_for "$TEST_TMP/cmp.out" '"phase":"compare"' 60
dst=$(jq -r 'select(.event == "migration-destination") | .data.pid' "$TEST_TMP/cmp.out")
# the compare holds 15 s: an answer within 6 s comes from a main loop that
# is not inside it
timeout 6 "$VMCTL" list --json >"$TEST_TMP/cmp.list" 2>&1
is "during the compare: vmctl list answers" "$?" 0
is "during the compare: it lists the guest" "$(jq -r '.[] | select(.name == "s3") | .name' "$TEST_TMP/cmp.list" 2>/dev/null)" s3
kill -INT $mig
wait $mig
is "cancelled during the compare: migrate exits 2" "$?" 2
like "cancelled during the compare: says so" "$(cat "$TEST_TMP/cmp.err")" "cancelled on request"
check "cancelled during the compare: the destination QEMU is gone" gone_within "$dst" 10
wait_running s3
is "cancelled during the compare: the source runs on" "$(info s3 '[.pid, .state] | @tsv')" "$(printf '%s\trunning' "$src")"
sleep 16 # the compare's findings arrive for a migration that is gone
is "after the compare ends: the same vmctld answers" "$("$VMCTL" list --json >/dev/null && daemon_pid)" "$vmctld_before"
is "after the compare ends: QEMU says the source runs" "$("$VMCTL" qmp s3 '{"execute":"query-status"}' --json | jq -r .status)" running
is "after the compare ends: no destination run dir or backing, no dump is left" \
    "$(ls -d "$S"/run/s3.dst-* "$TEST_TMP"/s3.ram.dst-* "$S"/run/*/*.ram.dump 2>/dev/null)" ""
"$VMCTL" stop s3 >/dev/null
tap_done
