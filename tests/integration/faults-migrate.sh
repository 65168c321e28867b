#!/bin/sh
# faults-migrate.sh: kill -9 of the source QEMU in the middle of
# `vmctl migrate --to local`: a one-line error naming the source's death,
# the destination QEMU gone, the guest listed dead with QEMU's words, no
# destination run dir or backing left. Then vmctld killed after the
# migration completed but before the hand-over (the source paused in
# postmigrate): the restarted daemon drops the destination and resumes the
# source (VERIFY ok).
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


# --- the source QEMU killed mid-migration (16M/s for a busy 128M guest)
"$VMCTL" launch s1 --memory 128M --backend "$TEST_TMP/s1.ram" --rate 0 >/dev/null
check "the guest is READY" wait_for "$S/run/s1/console.log" '^READY' 30
src=$(info s1 .pid)
"$VMCTL" migrate s1 --to local --strategy precopy --bandwidth 16M --json >"$TEST_TMP/src.out" 2>"$TEST_TMP/src.err" &
mig=$!
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
check "restarted: the destination QEMU is killed" gone_within "$dst" 10
wait_running() { _i=0; while [ "$(info s2 .state)" != running ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done; }
wait_running
is "restarted: the source keeps the name and runs again" "$(info s2 '[.pid, .state] | @tsv')" "$(printf '%s\trunning' "$src")"
is "restarted: QEMU says it runs" "$("$VMCTL" qmp s2 '{"execute":"query-status"}' --json | jq -r .status)" running
like "restarted: the source says VERIFY ok" "$(console s2 VERIFY)" '^VERIFY ok'
is "restarted: no destination run dir or backing, no resume marker is left" \
    "$(ls -d "$S"/run/s2.dst-* "$TEST_TMP"/s2.ram.dst-* "$S"/run/s2/resume-after-migration 2>/dev/null)" ""
tap_done
