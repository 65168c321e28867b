#!/bin/sh
# lab-guests.sh: vmctld launching the tiny guest (L2, under the lab's KVM)
# with its RAM on real DAX: /dev/dax0.0 (pmem=on, align 2M) and a file on
# the fsdax mount. Each reaches READY, answers VERIFY ok, and `vmctl pages
# check` of the paused backing is clean; a byte flipped in the paused
# backing is named by the checker and by the guest (the negative control).
# KSM never merges DAX-backed guest RAM. DAX exists only in
# a lab here: the whole test runs in one, on any host.
. "$top_srcdir/tests/lib/tap.sh"

lab_only "tiny guests on real DAX under vmctld"

. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld
FLIP=1000 # a stamped page in the working set

# flip FILE OFFSET: one bit of one byte, in place, through a shared
# mapping (device-dax has no read or write, only mmap, 2M-aligned)
flip() {
    python3 -c 'import mmap, os, sys
off = int(sys.argv[2]); base = off & ~(2 * 1024 * 1024 - 1)
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 2 * 1024 * 1024, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=base)
m[off - base] ^= 1
m.close()' "$1" "$2"
}
qemu_args() { qemu_cmdline "$(info "$1" .pid)"; }
info() { "$VMCTL" info "$1" --json | jq -r "$2"; }

# guest NAME BACKEND KIND: launch, READY, VERIFY, the paused backing checked
guest() {
    name=$1 backend=$2 kind=$3
    out=$("$VMCTL" launch "$name" --memory 128M --backend "$backend" --rate 5000 --ws 4096 --json 2>&1)
    is "$kind: vmctld launches the tiny guest on '$backend'" "$?" 0
    [ -n "$(printf '%s' "$out" | jq -r .pid 2>/dev/null)" ] || { diag "$out"; return 1; }
    is "$kind: under the lab's KVM" "$(printf '%s' "$out" | jq -r .accel)" kvm
    is "$kind: the backing is seen as $kind" "$(info "$name" .backend_kind)" "$kind"
    like "$kind: QEMU maps it with pmem=on, 2M aligned" "$(qemu_args "$name")" \
        "memory-backend-file,.*mem-path=$backend,.*pmem=on|\"mem-path\":\"$backend\".*\"pmem\":true"
    check "$kind: the guest is READY" wait_for "$S/run/$name/console.log" '^READY' 120
    like "$kind: guest VERIFY" "$(console "$name" VERIFY 120)" '^VERIFY ok pages='
    "$VMCTL" qmp "$name" '{"execute":"stop"}' >/dev/null
    j=$("$VMCTL" pages check --json --offset 2M "$backend")
    is "$kind: pages check of the paused backing exits 0" "$?" 0
    is "$kind: clean, every stamped page checked" "$(echo "$j" | jq -c '[.clean, .checked + .in_flight == .page_count]')" \
        '[true,true]'
    # negative control: one byte of a working-set page, guest paused
    flip "$backend" $((2097152 + (FLIP + 1) * 4096 + 77))
    j=$("$VMCTL" pages check --json --offset 2M "$backend")
    is "$kind: after the flip pages check exits 1" "$?" 1
    is "$kind: and names exactly page $FLIP" "$(echo "$j" | jq -c '[.bad, .first_bad[0].index]')" "[1,$FLIP]"
    "$VMCTL" qmp "$name" '{"execute":"cont"}' >/dev/null
    like "$kind: the guest's VERIFY names it too" "$(console "$name" VERIFY 120)" "^VERIFY bad=1 first=$FLIP"
}

fallocate -l 128M /mnt/fsdax1/f1.ram
guest d1 /dev/dax0.0 devdax
guest f1 /mnt/fsdax1/f1.ram fsdax

"$VMCTL" kill d1 >/dev/null
"$VMCTL" kill f1 >/dev/null

# KSM never merges DAX-backed guest RAM: ksm-check with its negative guests
# on the two device-dax devices (their stamped pages hold many identical
# ones), its positive control on anonymous RAM showing KSM does merge here
if [ -w /sys/kernel/mm/ksm/run ]; then
    "$VMCTL" ksm-check --json --seconds 90 --memory 64M --backend /dev/dax0.0 --backend /dev/dax2.0 \
        >"$TEST_TMP/ksm.json" 2>"$TEST_TMP/ksm.err"
    is "ksm-check with negative guests on device-dax exits 0" "$?" 0
    k() { jq -r "$1" "$TEST_TMP/ksm.json" 2>/dev/null; }
    is "its negative guests ran on device-dax" \
        "$(k '[.checks[] | select(.id == "negative") | .evidence.guests[].backend] | sort | join(" ")')" \
        "/dev/dax0.0 /dev/dax2.0"
    is "KSM never merged DAX-backed guest RAM" \
        "$(k '.checks[] | select(.id == "negative") | .status + " " + (.evidence.ksm_pages_in_guest_ram | tostring)')" \
        "PASS 0"
    is "while it merged anonymous guest RAM (the positive control)" \
        "$(k '.checks[] | select(.id == "positive") | .status')" PASS
    [ -s "$TEST_TMP/ksm.err" ] && diag "$(tail -n 3 "$TEST_TMP/ksm.err")"
else
    skip "KSM never merges DAX-backed guest RAM" "no writable /sys/kernel/mm/ksm/run in this lab kernel" ksm
fi
tap_done
