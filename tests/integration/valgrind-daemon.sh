#!/bin/sh
# valgrind-daemon.sh: vmctld under valgrind (memcheck) for a daemon run:
# protocol errors and random bytes, a tiny guest launched, listed, asked
# over QMP and stopped, refused and failed launches (bad spec, path outside
# the allow-list, a QEMU that exits at once), then SIGTERM. valgrind must
# report 0 errors and 0 definitely lost bytes (--error-exitcode=99
# --errors-for-leak-kinds=definite).
. "$top_srcdir/tests/lib/tap.sh"

if ! command -v valgrind >/dev/null 2>&1; then
    skip "vmctld under valgrind" "no valgrind (Debian package valgrind)" valgrind
    tap_done
fi
if ! have_qemu; then
    skip "vmctld under valgrind" "no QEMU" qemu
    tap_done
fi
if ldd "$VMCTLD" 2>/dev/null | grep -q 'libasan'; then
    skip "vmctld under valgrind" "vmctld is built with AddressSanitizer (make check-asan), which valgrind cannot run"
    tap_done
fi
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld
mkdir -p "$TEST_TMP/run"

G_SLICE=always-malloc G_DEBUG=gc-friendly VMCTLD_ALLOWED_PATHS="$TEST_TMP" \
    valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --track-fds=no --log-file="$TEST_TMP/vg.log" \
    "$VMCTLD" --socket "$VMCTL_SOCKET" --state-dir "$S" --ready-fd 9 9>"$TEST_TMP/ready" 2>"$TEST_TMP/vmctld.log" &
vg=$!
on_exit "kill -9 $vg"
_i=0
while [ ! -s "$TEST_TMP/ready" ] && [ $_i -lt 600 ]; do sleep 0.1; _i=$((_i + 1)); done
check "vmctld under valgrind is ready" test -s "$TEST_TMP/ready"

# protocol errors and noise
for line in 'not json' '[1]' '{"execute":"frobnicate","id":1}' '{"execute":"ping","bogus":1}' \
    '{"execute":"list","arguments":[]}' '{"execute":"info","arguments":{"name":"nope"}}' \
    '{"execute":"launch","arguments":{}}' '{"execute":"launch","arguments":{"spec":{"name":"x"}}}' \
    '{"execute":"qmp","arguments":{"name":"nope","command":{}}}' '{"execute":"stop","arguments":{"name":7}}'; do
    req "$line" >/dev/null
done
head -c 20000 /dev/urandom | nc -U -N "$VMCTL_SOCKET" >/dev/null 2>&1
printf '{"execute":"list"' | nc -U -N "$VMCTL_SOCKET" >/dev/null 2>&1

# a guest's whole life
"$VMCTL" launch vg1 --memory 16M --backend "$TEST_TMP/vg1.ram" --accel tcg >/dev/null
is "a guest launches" "$(info vg1 .state)" running
is "it answers QMP" "$("$VMCTL" qmp vg1 '{"execute":"query-status"}' --json | jq -r .status)" running
"$VMCTL" list --json >/dev/null
"$VMCTL" stop vg1 >/dev/null
is "stop ends it" "$("$VMCTL" list --json | jq length)" 0
# refusals and failures
"$VMCTL" launch vg2 --memory 16M --backend /etc/vg2.ram --accel tcg >/dev/null 2>&1
"$VMCTL" launch vg3 --memory 15M --backend "$TEST_TMP/vg3.ram" >/dev/null 2>&1
"$VMCTL" launch .. --memory 16M --backend "$TEST_TMP/vg4.ram" >/dev/null 2>&1
"$VMCTL" launch vg5 --memory 16M --backend "$TEST_TMP/vg5.ram" --accel tcg --cmdline x >/dev/null 2>&1
"$VMCTL" launch vg6 --memory 16M --backend "$TEST_TMP/vg6.ram" --accel tcg >/dev/null
"$VMCTL" kill vg6 >/dev/null
is "nothing is left" "$("$VMCTL" list --json | jq length)" 0

kill -TERM "$vg"
wait "$vg"
rc=$?
is "valgrind's exit status is vmctld's (0), not 99" "$rc" 0
like "valgrind: 0 errors" "$(grep 'ERROR SUMMARY' "$TEST_TMP/vg.log")" 'ERROR SUMMARY: 0 errors'
like "valgrind: no definitely lost bytes" "$(grep -E 'definitely lost|All heap blocks were freed' "$TEST_TMP/vg.log")" \
    '(definitely lost: 0 bytes|All heap blocks were freed)'
diag "$(grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|in use at exit' "$TEST_TMP/vg.log" | sed 's/^==[0-9]*== //')"
[ "$rc" = 0 ] || diag "$(tail -n 60 "$TEST_TMP/vg.log")"
tap_done
