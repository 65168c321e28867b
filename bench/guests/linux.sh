#!/bin/sh
# bench/guests/linux.sh: pages/s the Linux test guest dirties under TCG at
# its maximum rate (vmctl.rate=0), with the region in anonymous memory, in a
# MAP_SYNC file on a dax=always ext4 (fsdax) and on /dev/dax0.0 (devdax).
# Not part of `make check`.
#
# usage: bench/guests/linux.sh [BUILDDIR]   (default: the current directory)
#   BENCH_SECONDS  STAT lines (about 1 s each) per measurement (default 5)
#
# Two measurements per case: the guest's own (ctl.writes over its
# CLOCK_MONOTONIC, from the STAT lines) and the host's (ctl.writes read from
# the share=on backing file, over the host's wall clock). The machine may be
# shared: the load average is printed with the table.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
top_builddir=$(cd "${1:-.}" && pwd)
SECONDS_N=${BENCH_SECONDS:-5}
SCAN=$top_builddir/guest-tests/linux/stampscan

die() { echo "bench: $*" >&2; exit 2; }

TEST_TMP=$(mktemp -d -p "${TMPDIR:-/tmp}")
_cleanups=""
on_exit() { _cleanups="$1; $_cleanups"; }
trap 'eval "$_cleanups" >/dev/null 2>&1; rm -rf "$TEST_TMP"' EXIT
trap 'exit 130' INT TERM
. "$top_srcdir/guest-tests/linux/guest.sh"

why=$(lg_ready)
[ -n "$why" ] && die "$why"
[ -x "$SCAN" ] || die "$SCAN is not built: run 'make check' (or make guest-tests/linux/stampscan) first"

field() { echo "$1" | sed -n "s/.* $2=\([0-9a-fx]*\).*/\1/p"; }
now_ms() { date +%s%3N; }

# ctl_offset IMAGE REGION: byte offset of REGION's control page in IMAGE
ctl_offset() { "$SCAN" ctl "$1" | grep " region=$2 " | sed -n 's/^ctl offset=\([0-9]*\) .*/\1/p' | head -n1; }

# host_writes IMAGE OFFSET: "WRITES MS", ctl.writes (the 9th word of the
# control page) read from IMAGE and the host time of the reading
host_writes() { echo "$(od -An -tu8 -j $(($2 + 64)) -N8 "$1" | tr -d ' ') $(now_ms)"; }

# case NAME PMEM IMAGE APPEND: boot, measure, print one table row
bench_case() {
    name=$1 pmem=$2 image=$3 append=$4
    rm -f "$TEST_TMP/ram.img" "$TEST_TMP/nv.img"
    if [ "$pmem" = none ]; then
        LG_PMEM=none LG_RAM_FILE=$TEST_TMP/ram.img LG_NVDIMM= LG_APPEND="$append" lg_start "$name"
    else
        LG_PMEM=$pmem LG_RAM_FILE= LG_NVDIMM=$TEST_TMP/nv.img LG_APPEND="$append" lg_start "$name"
    fi
    ready=$(lg_wait "$name" 'READY ' 120) || {
        echo "bench: case $name did not get READY" >&2
        lg_log "$name" | tail -n 5 >&2
        lg_stop "$name"
        return
    }
    region=$(field "$ready" region)
    lg_wait "$name" 'STAT ' 30 >/dev/null # warm-up second
    off=$(ctl_offset "$TEST_TMP/$image" "$region")
    first=$(lg_wait "$name" 'STAT ' 30)
    set -- $(host_writes "$TEST_TMP/$image" "$off")
    h0=$1 t0=$2
    last=$first
    for _ in $(seq 1 "$SECONDS_N"); do last=$(lg_wait "$name" 'STAT ' 30); done
    set -- $(host_writes "$TEST_TMP/$image" "$off")
    h1=$1 t1=$2
    lg_send "$name" VERIFY
    verify=$(lg_wait "$name" 'VERIFY ' 120)
    lg_stop "$name"
    gw=$(( $(field "$last" writes) - $(field "$first" writes) ))
    gt=$(( $(field "$last" t) - $(field "$first" t) ))
    printf '%-8s %-6s %-4s %9s %14s %14s  %s\n' "$name" "$(field "$ready" ws)" "$(field "$ready" sync)" \
        "$((gw / 1000))k" "$((gw * 1000 / gt))" "$(( (h1 - h0) * 1000 / (t1 - t0) ))" "$verify"
}

echo "Linux guest under TCG (QEMU $("$LG_QEMU" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p'), 1 vCPU), vmctl.rate=0"
printf '%-8s %-6s %-4s %9s %14s %14s  %s\n' case ws sync writes "guest pages/s" "host pages/s" check
common="vmctl.rate=0 vmctl.seed=7"
bench_case anon none ram.img "$common vmctl.mode=anon vmctl.pages=16384 vmctl.ws=4096"
bench_case anon-big none ram.img "$common vmctl.mode=anon vmctl.pages=65536 vmctl.ws=65536"
bench_case fsdax fsdax nv.img "$common vmctl.mode=file vmctl.file=/mnt/pmem/stamp vmctl.pages=16384 vmctl.ws=4096"
bench_case fsdax-big fsdax nv.img "$common vmctl.mode=file vmctl.file=/mnt/pmem/stamp vmctl.pages=32768 vmctl.ws=32768"
bench_case devdax devdax nv.img "$common vmctl.mode=file vmctl.file=/dev/dax0.0 vmctl.pages=16384 vmctl.ws=4096"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
