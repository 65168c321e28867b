#!/bin/sh
# faults-daemon.sh: vmctld killed mid-launch, and what a request may carry.
# - kill -9 of vmctld while a QEMU it started has not answered QMP yet (a
#   stand-in QEMU that never greets, deterministic), and right after a real
#   launch request: after the restart the guest is either listed and
#   answers QMP, or no QEMU of it is left and no state file; never a QEMU
#   that nothing lists.
# - nothing from a request reaches a shell: a backing path with `$(...)`,
#   backquotes and `;` runs nothing; the source has no system(), popen()
#   or sh -c.
# - guest names that would name other files: '.', '..' and '/' are refused
#   and the state dir keeps every other guest's file.
. "$top_srcdir/tests/lib/tap.sh"

if ! have_qemu; then
    skip "vmctld faults" "no QEMU" qemu
    tap_done
fi
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

FAKE="$top_builddir/tests/integration/fake-qemu"
# pids of QEMU processes (real or stand-in) of this test's guests
qemus() { pgrep -f -- "-name guest=.*$TEST_TMP/" 2>/dev/null | sort; }
kill_qemus() { for p in $(qemus); do kill -9 "$p"; done; }
on_exit kill_qemus
listed_pids() { "$VMCTL" list --json | jq -r '.[] | select(.pid > 0) | .pid' | sort; }
wait_file() { _i=0; while [ ! -e "$1" ] && [ $_i -lt $(($2 * 10)) ]; do sleep 0.1; _i=$((_i + 1)); done; [ -e "$1" ]; }

# --- killed while QEMU runs but has not answered QMP (stand-in: silent)
export VMCTL_QEMU="$FAKE"
"$VMCTL" list >/dev/null # a daemon whose QEMU is the stand-in
unset VMCTL_QEMU
"$VMCTL" launch silent-1 --memory 16M --backend "$TEST_TMP/l1.ram" --accel tcg >/dev/null 2>&1 &
check "the stand-in QEMU writes its pidfile" wait_file "$S/run/silent-1/qemu.pid" 10
fake=$(cat "$S/run/silent-1/qemu.pid")
check "the launch is recorded before QMP answers" test "$(jq -r .state "$S/silent-1.json")" = launching
kill -9 "$(daemon_pid)"
wait
"$VMCTL" list >/dev/null # restarts vmctld (with the real QEMU)
check "restarted: the QEMU of the interrupted launch is killed" gone_within "$fake" 20
_i=0
while [ -e "$S/silent-1.json" ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
check "restarted: no state file of it" test ! -e "$S/silent-1.json"
is "restarted: it is not listed" "$("$VMCTL" list --json | jq length)" 0
is "restarted: no QEMU of it is left" "$(qemus)" ""

# --- killed right after a real launch request, at whatever point it is
for i in 1 2 3; do
    "$VMCTL" launch "r$i" --memory 16M --backend "$TEST_TMP/r$i.ram" --accel tcg >/dev/null 2>&1 &
    wait_file "$S/r$i.json" 10
    kill -9 "$(daemon_pid)"
    wait
    "$VMCTL" list >/dev/null
    sleep 1 # the launcher may still be daemonizing QEMU
    state=$(info "r$i" .state 2>/dev/null)
    case $state in
    running | paused)
        is "restart $i: the listed guest answers QMP" \
            "$("$VMCTL" qmp "r$i" '{"execute":"query-status"}' --json | jq -r .status)" running
        ;;
    *)
        _j=0
        while [ -n "$(qemus)" ] && [ $_j -lt 100 ]; do sleep 0.1; _j=$((_j + 1)); done
        is "restart $i: not listed ($state), no state file and no QEMU" \
            "$(test -e "$S/r$i.json" && echo state-file)$(qemus)" ""
        ;;
    esac
    is "restart $i: every QEMU of the test is listed" "$(qemus)" "$(listed_pids)"
    diag "restart $i: the guest was '${state:-not listed}'"
    "$VMCTL" kill "r$i" >/dev/null 2>&1
done

# --- nothing from a request reaches a shell
# a shell would run these in its working directory: vmctld's, or ours
evil="$TEST_TMP/a;touch pwned1;\$(touch pwned2)\`touch pwned3\`|touch pwned4&.ram"
pwned() { ls "$TEST_TMP" "$(readlink "/proc/$(daemon_pid)/cwd")" . 2>/dev/null | grep -cx 'pwned[0-9]'; }
"$VMCTL" launch sh1 --memory 16M --backend "$evil" --accel tcg >/dev/null 2>"$TEST_TMP/sh1.err"
is "a backing path with shell syntax is taken as a file name" "$(info sh1 .spec.backend)" "$evil"
check "the file has exactly that name" test -f "$evil"
is "nothing in it ran" "$(pwned)" 0
"$VMCTL" kill sh1 >/dev/null
out=$("$VMCTL" launch "x;touch pwned5" --memory 16M --backend "$TEST_TMP/x.ram" 2>&1)
like "a guest name with shell syntax is refused" "$out" "^vmctl: guest name '.*' must match"
out=$(req "{\"execute\":\"qmp\",\"arguments\":{\"name\":\"\$(touch pwned6)\",\"command\":{\"execute\":\"query-status\"}}}" | jq -r .error.desc)
like "a qmp request naming \$(...) is an unknown guest" "$out" "does not exist"
is "nothing ran" "$(pwned)" 0
is "the source runs no shell (system, popen, g_spawn_command_line, sh -c)" \
    "$(grep -rnE '\bsystem\(|popen\(|g_spawn_command_line|"(/bin/)?sh", *"-c"' "$top_srcdir/src" | wc -l)" 0

# --- guest names that would name other files
"$VMCTL" launch keep --memory 16M --backend "$TEST_TMP/keep.ram" --accel tcg >/dev/null
for n in . .. .hidden a/b ../x; do
    out=$("$VMCTL" launch "$n" --memory 16M --backend "$TEST_TMP/n.ram" --accel tcg 2>&1)
    like "guest name '$n' is refused" "$out" "^vmctl: guest name '$(printf '%s' "$n" | sed 's/\./\\./g')' must"
done
check "the other guest's state file is kept" test -f "$S/keep.json"
is "the other guest still runs" "$(info keep .state)" running
"$VMCTL" kill keep >/dev/null
is "no QEMU is left" "$(qemus)" ""
tap_done
