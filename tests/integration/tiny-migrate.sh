#!/bin/sh
# tiny-migrate.sh: the tiny guest survives a live migration under KVM while
# it dirties memory: on the destination its VERIFY is ok, it goes on at the
# configured pace (no burst after the TSC moved), and `vmctl pages check` on
# the destination's paused backing file is clean.
. "$top_srcdir/tests/lib/tap.sh"

QEMU=${VMCTL_QEMU:-qemu-system-x86_64}
BIN=$top_builddir/guest-tests/tiny/tiny.bin
MEM=64       # MiB
RATE=20000   # pages/s
PARAMS="rate=$RATE ws=4096 seed=11"



# start NAME [QEMU ARGS...]: one side, RAM in NAME.ram, COM1 on NAME.ser pipes
start() {
    _d=$TEST_TMP/$1
    shift
    mkfifo "$_d.ser.in" "$_d.ser.out"
    "$QEMU" -accel kvm -cpu qemu64,-pni -m ${MEM}M -bios "$BIN" -machine pc,memory-backend=ram0 \
        -object memory-backend-file,id=ram0,size=${MEM}M,mem-path="$_d.ram",share=on \
        -display none -nodefaults -chardev pipe,id=ser0,path="$_d.ser" -serial chardev:ser0 \
        -qmp unix:"$_d.qmp",server=on,wait=off -fw_cfg name=opt/vmctl/tiny,string="$PARAMS" "$@" 2>"$_d.err" &
    on_exit "kill $!"
    cat "$_d.ser.out" >"$_d.log" &
    on_exit "kill $!"
}

if ! have_qemu; then
    skip "tiny guest migration" "no $QEMU" qemu
    tap_done
fi
if ! nc -h 2>&1 | grep -q -- '-N'; then
    skip "tiny guest migration" "no OpenBSD nc for QMP (Debian package netcat-openbsd)" qemu
    tap_done
fi
if ! kvm_or_lab; then
    skip "tiny guest migration" "$lab_why" kvm
    tap_done
fi

src=$TEST_TMP/src dst=$TEST_TMP/dst
start src
start dst -incoming unix:"$TEST_TMP/mig.sock"
ready=$(wait_line "$src.log" '^READY|^ERROR' 30)
like "source guest is READY" "$ready" '^READY '
wait_line "$src.log" '^STAT gen=[0-9]+ writes=[0-9]+ rate=[0-9]+ jumps=0' 10 >/dev/null
sleep 1

qmp "$src.qmp" '{"execute":"migrate-set-parameters","arguments":{"max-bandwidth":1073741824}}' \
    '{"execute":"migrate","arguments":{"uri":"unix:'"$TEST_TMP/mig.sock"'"}}' >/dev/null
status=
for _ in $(seq 1 300); do
    status=$(qmp "$src.qmp" '{"execute":"query-migrate"}' | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p' | tail -n 1)
    case "$status" in completed | failed | cancelled) break ;; esac
    sleep 0.1
done
is "migration completes" "$status" completed
diag "source: $(grep -a '^STAT' "$src.log" | tail -n 1)"

# the destination goes on where the source stopped
wait_line "$dst.log" '^STAT' 10 >/dev/null
is "destination continues the source's run (it did not boot)" "$(grep -ac '^READY\|^tiny:' "$dst.log")" 0
sleep 4
printf 'VERIFY\n' >"$dst.ser.in"
v=$(wait_line "$dst.log" '^VERIFY' 30)
is "destination VERIFY is ok" "$v" "VERIFY ok pages=15871"
# the mean of the destination's STAT rates, without the first (it may hold
# the catch-up of the migration's last moments) and the last (maybe cut)
rates=$(grep -a '^STAT' "$dst.log" | sed '1d;$d' | sed -n 's/.* rate=\([0-9]*\) .*/\1/p' | tr '\n' ' ')
diag "destination STAT rates: $rates"
r=$(echo "$rates" | awk '{ for (i = 1; i <= NF; i++) s += $i; if (NF) printf "%d", s / NF; else print 0 }')
check "destination paces at $RATE pages/s within 10% (mean $r)" \
    [ "$r" -ge $((RATE * 9 / 10)) -a "$r" -le $((RATE * 11 / 10)) ]

qmp "$dst.qmp" '{"execute":"stop"}' >/dev/null
j=$("$VMCTL" pages check --json --offset 2M "$dst.ram"); rc=$?
is "pages check of the destination's backing file exits 0" "$rc" 0
is "pages check: clean, every page" "$(echo "$j" | jq -c '[.clean, .checked + .in_flight]')" '[true,15871]'
diag "destination pages check: writes=$(echo "$j" | jq .writes)"

tap_done
