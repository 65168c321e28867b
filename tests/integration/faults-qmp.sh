#!/bin/sh
# faults-qmp.sh: a QMP socket that misbehaves. A stand-in QEMU
# (tests/integration/fake-qemu, VMCTL_QEMU) daemonizes like QEMU and then
# (a) never sends the greeting, (b) sends garbage, (c) greets and never
# answers, (d) never finishes daemonizing (its launcher does not exit),
# (e) fails to start but leaves its daemonized half running:
# each launch ends in a one-line error, the stand-in is killed,
# no state file or run dir is left. Then a real QEMU stopped with SIGSTOP:
# `vmctl qmp` to it times out with a clear error, and after SIGCONT the
# guest answers again.
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

FAKE="$top_builddir/tests/integration/fake-qemu"
# pids of the stand-in QEMUs that run with this test's state dir
fakes() { pgrep -f -- "-name guest=.* .*$TEST_TMP/state/run/" 2>/dev/null; }
kill_fakes() { for p in $(fakes); do kill -9 "$p"; done; }
on_exit kill_fakes

export VMCTL_QEMU="$FAKE"
for mode in silent garbage stall hang fail; do
    out=$("$VMCTL" launch "$mode-1" --memory 16M --backend "$TEST_TMP/$mode.ram" --accel tcg 2>&1)
    rc=$?
    is "$mode: launch exits 1" "$rc" 1
    is "$mode: the error is one line" "$(printf '%s\n' "$out" | wc -l)" 1
    case $mode in
    silent | stall) re="^vmctl: guest '$mode-1': QMP handshake with '.*/qmp.sock' did not finish within [0-9]+ ms$" ;;
    garbage) re="^vmctl: guest '$mode-1': QMP protocol error from '.*/qmp.sock': invalid JSON" ;;
    hang) re="^vmctl: QEMU of guest '$mode-1' did not finish starting within [0-9]+ s$" ;;
    fail) re="^vmctl: QEMU failed to start guest '$mode-1': fake-qemu: failing on purpose$" ;;
    esac
    like "$mode: the error says what QMP did" "$out" "$re"
    diag "$mode: $out"
    is "$mode: the stand-in QEMU is killed" "$(fakes | wc -l)" 0
    check "$mode: no state file is left" test ! -e "$S/$mode-1.json"
    check "$mode: no run dir is left" test ! -e "$S/run/$mode-1"
    is "$mode: the guest is not listed" "$("$VMCTL" list --json | jq length)" 0
done
kill "$(daemon_pid)"
unset VMCTL_QEMU

# --- a real QEMU that stops answering
if ! have_qemu; then
    skip "QMP to a stopped QEMU" "no QEMU" qemu
    tap_done
fi
"$VMCTL" launch q1 --memory 16M --backend "$TEST_TMP/q1.ram" --accel tcg --json >/dev/null
pid=$(info q1 .pid)
on_exit "kill -CONT $pid"
kill -STOP "$pid"
out=$("$VMCTL" qmp q1 '{"execute":"query-status"}' 2>&1)
rc=$?
kill -CONT "$pid"
is "SIGSTOPped QEMU: vmctl qmp exits non-zero" "$([ $rc -ne 0 ] && echo yes)" yes
is "SIGSTOPped QEMU: the error is one line" "$(printf '%s\n' "$out" | wc -l)" 1
# vmctld's own verdict, not the client giving up on vmctld
like "SIGSTOPped QEMU: vmctld says QEMU did not answer" "$out" "^vmctl: QMP command 'query-status' got no reply within [0-9]+ ms$"
diag "stopped: $out"
is "after SIGCONT the guest answers QMP" "$("$VMCTL" qmp q1 '{"execute":"query-status"}' --json | jq -r .status)" running
is "after SIGCONT the guest is listed running with its pid" "$(info q1 '[.state, .pid] | @tsv')" "$(printf 'running\t%s' "$pid")"
"$VMCTL" kill q1 >/dev/null
check "the guest's QEMU is gone after kill" gone "$pid"
tap_done
