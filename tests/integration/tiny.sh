#!/bin/sh
# tiny.sh: the tiny guest under KVM and under TCG: it boots to READY, dirties
# memory at the configured rate (within 10%, counted in the share=on backing
# file against the wall clock), its VERIFY and `vmctl pages check` on the
# paused backing file are clean, and one flipped byte in the backing file is
# named, as exactly that page, by both.
. "$top_srcdir/tests/lib/tap.sh"
# without KVM here, the whole test (its KVM part with the rest) runs in a lab
kvm_or_lab || true

QEMU=${VMCTL_QEMU:-qemu-system-x86_64}
BIN=$top_builddir/guest-tests/tiny/tiny.bin
MEM=64       # MiB of guest RAM
BASE=2097152 # bytes: guest-physical address of the region = file offset
RATE=20000   # pages/s
WS=4096      # pages
SAME=10      # permille: 158 same pages
FLIP=1000    # stamped page whose byte is flipped (in the working set)
SECONDS_MEASURED=4

# ctl_word FILE WORD: a 64-bit word of the control page in the backing file
ctl_word() { od -An -tu8 -j $((BASE + 8 * $2)) -N8 "$1" | tr -d ' '; }
now_ns() { date +%s%N; }



# serial NAME LINE: send a command line to the guest's COM1
serial() { printf '%s\n' "$2" >"$TEST_TMP/$1.ser.in"; }

# flip FILE OFFSET: xor one byte with 0x01
flip() {
    _b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((_b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# start NAME ACCEL CPU PARAMS: QEMU with RAM in $TEST_TMP/NAME.ram (share=on),
# COM1 on the pipes NAME.ser.in/.out (copied to NAME.log), QMP on NAME.qmp
start() {
    _d=$TEST_TMP/$1
    mkfifo "$_d.ser.in" "$_d.ser.out"
    "$QEMU" -accel "$2" -cpu "$3" -m ${MEM}M -bios "$BIN" -machine pc,memory-backend=ram0 \
        -object memory-backend-file,id=ram0,size=${MEM}M,mem-path="$_d.ram",share=on \
        -display none -nodefaults -chardev pipe,id=ser0,path="$_d.ser" -serial chardev:ser0 \
        -qmp unix:"$_d.qmp",server=on,wait=off -fw_cfg name=opt/vmctl/tiny,string="$4" 2>"$_d.err" &
    _pid=$!
    on_exit "kill $_pid"
    cat "$_d.ser.out" >"$_d.log" &
    on_exit "kill $!"
}

run_accel() {
    name=$1 accel=$2 cpu=$3
    d=$TEST_TMP/$name
    start "$name" "$accel" "$cpu" "rate=$RATE ws=$WS same=$SAME seed=7"
    ready=$(wait_line "$d.log" '^READY|^ERROR' 60)
    like "$accel: the tiny guest boots to READY" "$ready" "^READY region=0x[0-9a-f]+ pages=15871 base=0x200000 same=158 ws=$WS rate=$RATE "
    diag "$accel: $ready"
    case "$ready" in READY*) ;; *)
        diag "serial: $(cat "$d.log")" "qemu: $(cat "$d.err")"
        return ;;
    esac

    # The rate, from ctl.writes in the backing file over a measured wall
    # interval. The guest catches up when it was not scheduled for less
    # than 2 s, so a correct pacing holds against the wall clock; a window
    # the host starved longer is measured again (at most 3 windows): a
    # pacing that is off fails every one of them.
    wait_line "$d.log" '^STAT' 10 >/dev/null
    attempt=0 rate=0
    while [ $attempt -lt 3 ]; do
        attempt=$((attempt + 1))
        w1=$(ctl_word "$d.ram" 8); t1=$(now_ns)
        sleep $SECONDS_MEASURED
        w2=$(ctl_word "$d.ram" 8); t2=$(now_ns)
        rate=$(( (w2 - w1) * 1000000000 / (t2 - t1) ))
        diag "$accel: window $attempt: $((w2 - w1)) writes in $(( (t2 - t1) / 1000000 )) ms wall = $rate pages/s (configured $RATE)"
        diag "$accel: guest says: $(grep -a '^STAT' "$d.log" | tail -n 2 | tr '\n' ' ')"
        [ $((rate * 10)) -ge $((RATE * 9)) ] && [ $((rate * 10)) -le $((RATE * 11)) ] && break
    done
    check "$accel: dirty rate $rate pages/s is within 10% of $RATE" \
        [ $((rate * 10)) -ge $((RATE * 9)) -a $((rate * 10)) -le $((RATE * 11)) ]

    serial "$name" VERIFY
    v=$(wait_line "$d.log" '^VERIFY' 60)
    is "$accel: guest VERIFY is ok" "$v" "VERIFY ok pages=15871"

    # the running guest changes the image under the checker: refused
    live=
    for _ in 1 2 3; do
        live=$("$VMCTL" pages check --offset 2M "$d.ram" 2>&1)
        rc=$?
        [ $rc = 2 ] && break
    done
    like "$accel: pages check of the running guest is refused" "$rc:$live" \
        "^2:vmctl: image '.*/$name.ram' changed while it was checked \\(writes [0-9]+ at the start\\): pause the guest for a consistent view\$"

    qmp "$d.qmp" '{"execute":"stop"}' >/dev/null
    j=$("$VMCTL" pages check --json --offset 2M "$d.ram"); rc=$?
    is "$accel: vmctl pages check on the paused backing file exits 0" "$rc" 0
    is "$accel: pages check: clean, every page checked" "$(echo "$j" | jq -c '[.clean, .checked + .in_flight, .page_count]')" '[true,15871,15871]'
    diag "$accel: pages check: writes=$(echo "$j" | jq .writes) in_flight=$(echo "$j" | jq .in_flight)"

    # negative control: one byte of one working-set page, guest paused
    flip "$d.ram" $((BASE + (FLIP + 1) * 4096 + 2345))
    j=$("$VMCTL" pages check --json --offset 2M "$d.ram"); rc=$?
    is "$accel: pages check after the flip exits 1" "$rc" 1
    is "$accel: pages check names exactly page $FLIP" "$(echo "$j" | jq -c '[.bad, .first_bad[0].index, .first_bad[0].verdict]')" "[1,$FLIP,\"bad_csum\"]"
    j=$("$VMCTL" pages check --json --scan "$d.ram")
    is "$accel: pages check --scan finds the region and names page $FLIP at its offset" \
        "$(echo "$j" | jq -c '[.control_offset, .checked + .in_flight, .bad, .first_bad[0].index, .first_bad[0].offset]')" \
        "[$BASE,15871,1,$FLIP,$((BASE + (FLIP + 1) * 4096))]"
    qmp "$d.qmp" '{"execute":"cont"}' >/dev/null
    serial "$name" VERIFY
    v=$(wait_line "$d.log" '^VERIFY bad' 60)
    is "$accel: guest VERIFY names exactly page $FLIP" "$v" "VERIFY bad=1 first=$FLIP"
    qmp "$d.qmp" '{"execute":"stop"}' >/dev/null
    "$VMCTL" pages check --offset 2M "$d.ram" >"$d.check"; rc=$?
    is "$accel: still exactly that page after more rewrites" "$rc:$(grep -c '^  page' "$d.check"):$(grep -c "^  page $FLIP at" "$d.check")" "1:1:1"

    # Paused for 3 s (the guest TSC runs on under KVM, not under TCG): on
    # resuming, the guest must not catch up the paused time. Its writes
    # after `cont` stay within the rate times the wall time since `cont`
    # (a busy host can only lower them).
    w0=$(ctl_word "$d.ram" 8)
    sleep 3
    t0=$(now_ns)
    qmp "$d.qmp" '{"execute":"cont"}' >/dev/null
    sleep 1
    w1=$(ctl_word "$d.ram" 8); t1=$(now_ns)
    bound=$(( RATE * (t1 - t0) / 1000000000 * 11 / 10 + 100 ))
    diag "$accel: $((w1 - w0)) writes in the $(( (t1 - t0) / 1000000 )) ms after a 3 s pause (bound $bound)"
    check "$accel: no burst after a 3 s pause" [ $((w1 - w0)) -le $bound ]
    diag "$accel: guest says: $(wait_line "$d.log" 'jumps=[1-9]' 2 || echo 'no TSC jump seen (the TSC stood still)')"
    qmp "$d.qmp" '{"execute":"quit"}' >/dev/null
}

if ! have_qemu; then
    skip "tiny guest under KVM and TCG" "no $QEMU" qemu
elif ! nc -h 2>&1 | grep -q -- '-N'; then
    skip "tiny guest under KVM and TCG" "no OpenBSD nc for QMP (Debian package netcat-openbsd)" qemu
elif [ ! -f "$BIN" ]; then
    not_ok "tiny guest image $BIN is built"
else
    if have_kvm; then
        run_accel kvm kvm qemu64,-pni
    else
        skip "tiny guest under KVM" "no usable /dev/kvm" kvm
    fi
    run_accel tcg tcg qemu64
fi

tap_done
