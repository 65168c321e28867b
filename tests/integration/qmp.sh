#!/bin/sh
# qmp.sh: the QMP client against the real QEMU: discovery, schema lookups,
# STOP/RESUME events, an error reply and the disconnect after quit under TCG
# (-machine none), and query-kvm under KVM. Every QEMU started here is
# killed by PID at exit.
. "$top_srcdir/tests/lib/tap.sh"
# without KVM here, the whole test (its KVM part with the rest) runs in a lab
kvm_or_lab || true

QEMU=${VMCTL_QEMU:-qemu-system-x86_64}
CLIENT=$top_builddir/tests/qmp-client-test

# start_qemu NAME ARGS...: QEMU with its QMP socket at $TEST_TMP/NAME.sock;
# sets QEMU_PID. Waits (bounded) for the socket to appear.
start_qemu() {
    name=$1
    shift
    sock=$TEST_TMP/$name.sock
    "$QEMU" "$@" -nodefaults -display none -qmp "unix:$sock,server=on,wait=off" \
        </dev/null >"$TEST_TMP/$name.log" 2>&1 &
    QEMU_PID=$!
    on_exit "kill $QEMU_PID"
    i=0
    while [ ! -S "$sock" ] && [ $i -lt 600 ] && kill -0 "$QEMU_PID" 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
    done
    [ -S "$sock" ]
}

out=$("$CLIENT" "$TEST_TMP/no-such.sock" info 2>&1)
rc=$?
is "client: exit status for a missing socket" "$rc" 1
is "client: error for a missing socket" "$out" \
    "qmp-client-test: cannot connect to QMP socket '$TEST_TMP/no-such.sock': No such file or directory"

if ! have_qemu; then
    skip "qmp: QEMU session" "$QEMU not installed" qemu
    skip "qmp: query-kvm under KVM" "$QEMU not installed" qemu
    tap_done
fi

# ---- TCG, no machine: everything but KVM ----
if start_qemu tcg -machine none; then
    out=$(timeout 120 "$CLIENT" "$TEST_TMP/tcg.sock" full 2>"$TEST_TMP/client.err")
    rc=$?
    is "tcg: client finished" "$rc" 0
    [ $rc -eq 0 ] || diag "$(cat "$TEST_TMP/client.err")"
    echo "$out" >"$TEST_TMP/tcg.json"
    j() { jq -r "$1" "$TEST_TMP/tcg.json" 2>/dev/null; }

    want=$("$QEMU" --version | sed -n 's/^QEMU emulator version \([0-9]*\)\.\([0-9]*\)\.\([0-9]*\).*/\1.\2.\3/p')
    is "tcg: query-version matches $QEMU --version" "$(j '.info.version | "\(.major).\(.minor).\(.micro)"')" "$want"
    is "tcg: query-kvm enabled=false under TCG" "$(j '.info.kvm.enabled')" false
    is "tcg: query-kvm present" "$(j '.info.kvm.present')" true
    is "tcg: migrate capability postcopy-ram listed" "$(j '.info["migrate-capabilities"] | index("postcopy-ram") != null')" true
    is "tcg: query-commands has query-kvm" "$(j '."has-query-kvm"')" true
    is "tcg: schema has calc-dirty-rate" "$(j '.schema["calc-dirty-rate"]')" true
    is "tcg: calc-dirty-rate has argument mode" "$(j '.schema["calc-dirty-rate/arg-type/mode"]')" true
    is "tcg: migrate-set-parameters has max-bandwidth" \
        "$(j '.schema["migrate-set-parameters/arg-type/max-bandwidth"]')" true
    is "tcg: capability enum has postcopy-ram" \
        "$(j '.schema["query-migrate-capabilities/ret-type/capability/postcopy-ram"]')" true
    is "tcg: capability enum lacks an invented value" \
        "$(j '.schema["query-migrate-capabilities/ret-type/capability/no-such-capability"]')" false
    is "tcg: migrate-set-parameters lacks an invented argument" \
        "$(j '.schema["migrate-set-parameters/arg-type/no-such-parameter"]')" false
    is "tcg: STOP then RESUME from stop/cont" "$(j '[.events[] | select(. == "STOP" or . == "RESUME")] | join(",")')" \
        "STOP,RESUME"
    is "tcg: unknown command gives QEMU's error" "$(j '."unknown-command-error"')" \
        "QMP command 'no-such-command' failed: The command no-such-command has not been found (CommandNotFound)"
    is "tcg: unknown command is CommandNotFound" "$(j '."unknown-command-not-found"')" true
    is "tcg: SHUTDOWN event after quit" "$(j '.events | index("SHUTDOWN") != null')" true
    is "tcg: one disconnect after quit" "$(j '.disconnects')" 1
    is "tcg: disconnect reason" "$(j '."disconnect-reason"')" "QMP connection to '$TEST_TMP/tcg.sock' was closed by QEMU"
    is "tcg: not ready after quit" "$(j '."ready-after-quit"')" false
    wait "$QEMU_PID"
    is "tcg: QEMU exited after quit" "$?" 0
else
    not_ok "tcg: QEMU started with a QMP socket"
    diag "$(cat "$TEST_TMP/tcg.log")"
fi

# ---- KVM: only to read query-kvm (no firmware runs: -S) ----
if ! have_kvm; then
    skip "kvm: query-kvm enabled=true" "/dev/kvm not usable" kvm
elif start_qemu kvm -accel kvm -machine pc -m 64M -cpu qemu64,-pni -S; then
    out=$(timeout 120 "$CLIENT" "$TEST_TMP/kvm.sock" info 2>"$TEST_TMP/client.err")
    rc=$?
    is "kvm: client finished" "$rc" 0
    [ $rc -eq 0 ] || diag "$(cat "$TEST_TMP/client.err")"
    is "kvm: query-kvm enabled=true" "$(echo "$out" | jq -r '.info.kvm.enabled' 2>/dev/null)" true
    is "kvm: one disconnect after quit" "$(echo "$out" | jq -r '.disconnects' 2>/dev/null)" 1
    wait "$QEMU_PID"
else
    not_ok "kvm: QEMU started with -accel kvm"
    diag "$(cat "$TEST_TMP/kvm.log")"
fi

tap_done
