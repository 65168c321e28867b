#!/bin/sh
# bench/guests/run.sh: pages/s the tiny guest dirties at its maximum rate
# (rate=0) under KVM and under TCG, side by side with the ratio. Not part of
# `make check`. (The Linux test guest has its own bench: linux.sh.)
#
# usage: bench/guests/run.sh [BUILDDIR]   (default: the current directory)
#   BENCH_SECONDS  length of one measured window (default 5)
#   BENCH_MEM_MIB  guest RAM (default 256)
#   BENCH_WS       working-set pages (default: all stamped pages)
#   BENCH_DIR      where the backing files go (default /dev/shm: on a disk
#                  filesystem the host's writeback of the dirty file pages
#                  write-protects them again and again and costs a fault each)
#
# Three figures per accelerator: the host's (ctl.writes read from the
# share=on backing file over the host's wall clock), the guest's own (a
# complete STAT line, over its TSC), and ctl.writes per second of CPU time
# QEMU got (user + system, guest time included), the one that holds on a
# shared machine. The load average is printed with the table.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_builddir=$(cd "${1:-.}" && pwd)
SECS=${BENCH_SECONDS:-5}
MEM=${BENCH_MEM_MIB:-256}
QEMU=${VMCTL_QEMU:-qemu-system-x86_64}
BIN=$top_builddir/guest-tests/tiny/tiny.bin
BASE=2097152 # bytes: the region's control page in the backing file

die() { echo "bench: $*" >&2; exit 2; }
[ -f "$BIN" ] || die "no $BIN: build first (make guest-tests/tiny/tiny.bin)"
command -v "$QEMU" >/dev/null || die "no $QEMU"

dir=${BENCH_DIR:-/dev/shm}
[ -d "$dir" ] && [ -w "$dir" ] || dir=${TMPDIR:-/tmp}
TMP=$(mktemp -d -p "$dir")
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

writes() { od -An -tu8 -j $((BASE + 64)) -N8 "$1" | tr -d ' '; }
# cpu_ticks PID: user + system clock ticks of a process (guest time is in user)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
now_ns() { date +%s%N; }

# measure ACCEL CPU: prints "HOST_RATE GUEST_RATE CPU_RATE" (pages/s), or "- - -"
measure() {
    d=$TMP/$1
    params="rate=0 seed=1${BENCH_WS:+ ws=$BENCH_WS}"
    "$QEMU" -accel "$1" -cpu "$2" -m "${MEM}M" -bios "$BIN" -machine pc,memory-backend=ram0 \
        -object memory-backend-file,id=ram0,size="${MEM}M",mem-path="$d.ram",share=on \
        -display none -nodefaults -serial file:"$d.log" \
        -fw_cfg name=opt/vmctl/tiny,string="$params" 2>"$d.err" &
    qpid=$!
    pids="$pids $qpid"
    i=0
    until grep -q '^READY' "$d.log" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 1200 ] || ! kill -0 $qpid 2>/dev/null; then
            echo "bench: $1: no READY: $(cat "$d.log" "$d.err" 2>/dev/null | tail -n 3)" >&2
            echo "- - -"
            kill $qpid 2>/dev/null
            return
        fi
        sleep 0.1
    done
    sleep 1 # let it run past the first STAT
    w1=$(writes "$d.ram"); t1=$(now_ns); c1=$(cpu_ticks $qpid)
    sleep "$SECS"
    w2=$(writes "$d.ram"); t2=$(now_ns); c2=$(cpu_ticks $qpid)
    kill $qpid 2>/dev/null
    wait $qpid 2>/dev/null
    grep '^READY' "$d.log" | sed "s/^/# $1: /" >&2
    # the last complete STAT line: the very last one may be cut by the kill
    guest=$(grep '^STAT' "$d.log" | tail -n 2 | head -n 1 | sed -n 's/.* rate=\([0-9]*\) .*/\1/p')
    cpu=-
    [ "$c2" -gt "$c1" ] && cpu=$(( (w2 - w1) * HZ / (c2 - c1) ))
    echo "$(( (w2 - w1) * 1000000000 / (t2 - t1) )) ${guest:--} $cpu"
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    set -- $(measure kvm qemu64,-pni)
    kvm_host=$1 kvm_guest=$2 kvm_cpu=$3
else
    echo "bench: no usable /dev/kvm: KVM column left empty" >&2
    kvm_host=- kvm_guest=- kvm_cpu=-
fi
set -- $(measure tcg qemu64)
tcg_host=$1 tcg_guest=$2 tcg_cpu=$3

ratio() { if [ "$1" = - ] || [ "$2" = - ] || [ "$2" -eq 0 ]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; fi; }
echo "tiny guest, rate=0 (max), ${MEM} MiB RAM in $dir, ws ${BENCH_WS:-all} pages, ${SECS} s window, load average $load"
printf '%-28s %16s %16s %10s\n' "pages/s" "KVM" "TCG" "KVM/TCG"
printf '%-28s %16s %16s %10s\n' "host (backing file, wall)" "$kvm_host" "$tcg_host" "$(ratio "$kvm_host" "$tcg_host")"
printf '%-28s %16s %16s %10s\n' "guest (a STAT line, TSC)" "$kvm_guest" "$tcg_guest" "$(ratio "$kvm_guest" "$tcg_guest")"
printf '%-28s %16s %16s %10s\n' "per CPU-second of QEMU" "$kvm_cpu" "$tcg_cpu" "$(ratio "$kvm_cpu" "$tcg_cpu")"
