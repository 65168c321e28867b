#!/bin/sh
# guests.sh: vmctld launching and supervising real guests: a tiny guest
# (under KVM, or TCG where this host has none) and a Linux guest (TCG
# unless this host's KVM can run a kernel) on file-backed share=on memory,
# list/info/console/qmp/stop, kill -9 of vmctld with both running and a
# restart that reattaches, a guest whose QEMU dies, and bad input (one-line
# errors, no orphaned QEMU, no stale state file).
. "$top_srcdir/tests/lib/tap.sh"

if ! have_qemu; then
    skip "guests under vmctld" "no QEMU" qemu
    tap_done
fi

. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld
state_of() { "$VMCTL" list --json | jq -r ".[] | select(.name==\"$1\") | .state"; }
qemu_pid() { "$VMCTL" info "$1" --json | jq -r .pid; }
# wait_state NAME STATE SECONDS
wait_state() {
    local i=0
    while [ $i -lt $(($3 * 10)) ]; do
        [ "$(state_of "$1")" = "$2" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# --- a tiny guest under KVM on a share=on file
out=$("$VMCTL" launch t1 --memory 128M --backend "$TEST_TMP/t1.ram" --rate 5000 --ws 2048 --json); rc=$?
is "launch of a tiny guest exits 0" "$rc" 0
is "it runs" "$(printf '%s' "$out" | jq -r .state)" running
# auto: KVM where this host has a usable one, TCG where it has none (the
# supervision below is the same on both)
if have_kvm; then
    is "under KVM (auto)" "$(printf '%s' "$out" | jq -r .accel)" kvm
    like "info says why" "$("$VMCTL" info t1)" "accel_reason +the tiny guest runs its workload in 64-bit ring 3"
else
    is "under TCG (auto: no usable KVM here)" "$(printf '%s' "$out" | jq -r .accel)" tcg
    like "info says why" "$("$VMCTL" info t1)" "accel_reason +no usable /dev/kvm"
fi
like "its RAM is passed to QEMU by descriptor, shared" "$(printf '%s' "$out" | jq -r '.argv[]' | grep memory-backend)" \
    "\"mem-path\":\"/proc/self/fd/[0-9]+\".*\"share\":true"
like "and that descriptor is the file" "$(qemu_cmdline "$(printf '%s' "$out" | jq -r .pid)")" "\"mem-path\":\"$TEST_TMP/t1.ram\".*\"share\":true"
check "the guest reports READY on its console" wait_for "$S/run/t1/console.log" '^READY' 30
out=$("$VMCTL" console t1 --send VERIFY --expect '^VERIFY' --timeout 60 | grep '^VERIFY')
like "console: VERIFY ok" "$out" "^VERIFY ok pages=[0-9]+"
is "qmp passthrough: query-status" "$("$VMCTL" qmp t1 '{"execute":"query-status"}' | jq -r .status)" running
"$VMCTL" qmp t1 '{"execute":"stop"}' >/dev/null
check "a QMP STOP event makes the guest paused" wait_state t1 paused 10
"$VMCTL" qmp t1 '{"execute":"cont"}' >/dev/null
check "and RESUME running again" wait_state t1 running 10
out=$("$VMCTL" qmp t1 '{"execute":"no-such-command"}' 2>&1); rc=$?
is "a failing QMP command exits 1" "$rc" 1
is "with QEMU's error in one line" "$out" "vmctl: QMP command 'no-such-command' failed: The command no-such-command has not been found (CommandNotFound)"

# --- a Linux guest on a share=on file (TCG unless a KVM can run a kernel)
out=$("$VMCTL" launch l1 --guest linux --memory 256M --backend "$TEST_TMP/l1.ram" --rate 1000 --ws 2048 --json); rc=$?
is "launch of a Linux guest exits 0" "$rc" 0
is "under the accelerator auto picks here (tcg with no KVM or a paravirtual one)" "$(printf '%s' "$out" | jq -r .accel)" \
    "$( [ -d /sys/module/kvm_pvm ] || ! have_kvm && echo tcg || echo kvm)"
check "the Linux guest reports READY" wait_for "$S/run/l1/console.log" '^READY' 120
out=$("$VMCTL" console l1 --send VERIFY --expect '^VERIFY' --timeout 60 | grep '^VERIFY')
like "its VERIFY is ok" "$out" "^VERIFY ok pages=[0-9]+"

# --- kill -9 of vmctld with both running, then a restart that reattaches
dpid=$(daemon_pid)
p_t1=$(qemu_pid t1); p_l1=$(qemu_pid l1)
kill -9 "$dpid"
sleep 0.2
check "the guests keep running when vmctld dies" kill -0 "$p_t1" "$p_l1"
out=$("$VMCTL" list --json); rc=$?
is "vmctl list restarts vmctld" "$rc" 0
is "both guests are listed running" "$(printf '%s' "$out" | jq -r '.[] | .name + "=" + .state' | tr '\n' ,)" "l1=running,t1=running,"
check "vmctld is a new process" test "$(daemon_pid)" != "$dpid"
is "t1 answers QMP" "$("$VMCTL" qmp t1 '{"execute":"query-status"}' | jq -r .status)" running
is "l1 answers QMP" "$("$VMCTL" qmp l1 '{"execute":"query-status"}' | jq -r .status)" running
is "the same QEMU processes" "$(qemu_pid t1) $(qemu_pid l1)" "$p_t1 $p_l1"

# --- a guest whose QEMU dies is reported as such
kill -9 "$p_l1"
check "a killed QEMU makes the guest dead" wait_state l1 dead 10
like "with the reason" "$("$VMCTL" info l1 --json | jq -r .error)" "^QEMU exited unexpectedly"
"$VMCTL" stop l1 >/dev/null; rc=$?
is "stop forgets a dead guest" "$rc:$(state_of l1)" "0:"

# --- clean stop
"$VMCTL" stop t1 >/dev/null; rc=$?
is "stop exits 0" "$rc" 0
check "QEMU is gone" gone "$p_t1"
check "its state file is gone" test ! -e "$S/t1.json"
check "its run dir is gone" test ! -e "$S/run/t1"

# --- bad input: one line, non-zero, nothing left behind
err_of() { "$VMCTL" launch "$@" 2>&1 >/dev/null; }
is "a bad name" "$(err_of 'a/b' --memory 64M)" "vmctl: guest name 'a/b' must match [A-Za-z0-9._-]{1,64}"
is "a size that does not parse" "$(err_of t3 --memory 12Q)" "vmctl: --memory: size '12Q' is not a number with an optional K/M/G/T suffix"
is "a backing in a missing directory" "$(err_of t3 --memory 64M --backend "$TEST_TMP/none/x")" \
    "vmctl: directory '$TEST_TMP/none' of '$TEST_TMP/none/x' does not exist"
"$VMCTL" launch t3 --memory 64M >/dev/null
is "a duplicate name" "$(err_of t3 --memory 64M)" "vmctl: guest 't3' already exists"
"$VMCTL" kill t3 >/dev/null

# QEMU failing to start: a second vmctld whose tiny image is broken
mkdir -p "$TEST_TMP/badimg"
head -c 1000 /dev/zero >"$TEST_TMP/badimg/tiny.bin"
"$VMCTLD" --socket "$TEST_TMP/bad.sock" --state-dir "$TEST_TMP/badstate" --image-dir "$TEST_TMP/badimg" 2>/dev/null &
bad_pid=$!
on_exit "kill $bad_pid"
i=0; while [ ! -S "$TEST_TMP/bad.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
out=$(VMCTL_SOCKET="$TEST_TMP/bad.sock" "$VMCTL" launch d1 --memory 64M 2>&1); rc=$?
is "QEMU failing to start exits 1" "$rc" 1
like "and shows QEMU's stderr" "$out" "^vmctl: QEMU failed to start guest 'd1': .*(BIOS|bios)"
is "it is a single line" "$(printf '%s\n' "$out" | wc -l)" 1
check "no state file is left" test ! -e "$TEST_TMP/badstate/d1.json"
is "no guest is left" "$(VMCTL_SOCKET="$TEST_TMP/bad.sock" "$VMCTL" list --json | jq length)" 0
is "no QEMU is left" "$(pgrep -c -f "guest=d1( |$)" || true)" 0

tap_done
