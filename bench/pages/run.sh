#!/bin/bash
# bench/pages/run.sh: throughput of `vmctl pages diff` (and `vmctl pages
# check` when it is built) on large images, beside `cmp` and a plain
# mmap+memcmp loop measured in the same run. Not part of `make check`.
#
# usage: bench/pages/run.sh [BUILDDIR]      (default: the current directory)
#   BENCH_SIZE_MIB  image size (default 4096)
#   BENCH_REPS      runs per measurement, the best counts (default 3)
#   BENCH_DIR       where the images go (default /dev/shm when it has room)
#   BENCH_HUGE=0    skip the huge-page tmpfs case (root only; it mounts a
#                   tmpfs with huge=always for the run, like a 2 MiB-mapped
#                   DAX or hugetlbfs backing, and unmounts it at exit)
#
# GB/s is bytes of one image per second of the whole process (start,
# mapping, comparing, unmapping, exit), once by wall time and once by CPU
# time (user+sys; every tool here runs on one core). On a shared machine the
# CPU figure is the steadier one; the best of BENCH_REPS runs is reported,
# and the load average at the start. "cpu ratio" is the tool's CPU
# throughput against the mmap+memcmp baseline on the same images.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
build=${1:-.}
VMCTL=${VMCTL:-$build/vmctl}
SIZE_MIB=${BENCH_SIZE_MIB:-4096}
REPS=${BENCH_REPS:-3}
SIZE=$((SIZE_MIB * 1024 * 1024))

die() { echo "bench: $*" >&2; exit 2; }
[ -x "$VMCTL" ] || die "'$VMCTL' is not an executable vmctl: give the build directory"
"$VMCTL" pages diff --help >/dev/null 2>&1 || die "'$VMCTL' has no 'pages diff' command"

W=$(mktemp -d -p "${TMPDIR:-/tmp}")
IMG=""
HUGE_MNT=""
cleanup() {
    rm -rf "$W"
    [ -n "$IMG" ] && rm -rf "$IMG"
    if [ -n "$HUGE_MNT" ]; then
        umount "$HUGE_MNT" && rmdir "$HUGE_MNT"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc=${CC:-cc}
$cc -O2 -o "$W/memcmp-baseline" "$here/memcmp-baseline.c" || die "cannot build memcmp-baseline"
$cc -O2 -I"$top_srcdir/include" -o "$W/stamp-image" "$here/stamp-image.c" || die "cannot build stamp-image"

avail_kib() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }

# Images on /dev/shm when two of them fit in free memory with 2 GiB to spare.
pick_dir() {
    local need_kib=$((2 * SIZE / 1024 + 2 * 1024 * 1024))
    if [ -n "${BENCH_DIR:-}" ]; then
        echo "$BENCH_DIR"
    elif [ "$(avail_kib)" -ge "$need_kib" ] &&
        [ "$(df -k --output=avail /dev/shm 2>/dev/null | tail -1)" -ge $((2 * SIZE / 1024)) ]; then
        echo /dev/shm
    else
        echo "${TMPDIR:-/tmp}"
    fi
}

# timeit CMD...: the best wall time of REPS runs into $best and the best CPU
# time (user+sys) into $best_cpu, in seconds. Exit status 0 (equal) or 1
# (different) is a result; anything else aborts the benchmark.
TIMEFORMAT='%R %U %S'
timeit() {
    local i rc real user sys cpu
    best="" best_cpu=""
    for i in $(seq "$REPS"); do
        { time { "$@" >"$W/out" 2>"$W/err"; echo $? >"$W/status"; }; } 2>"$W/time"
        rc=$(cat "$W/status")
        [ "$rc" -le 1 ] || { cat "$W/err" >&2; die "'$*' failed with status $rc"; }
        read -r real user sys <"$W/time"
        cpu=$(awk "BEGIN {printf \"%.3f\", $user + $sys}")
        if [ -z "$best" ] || awk "BEGIN {exit !($real < $best)}"; then best=$real; fi
        if [ -z "$best_cpu" ] || awk "BEGIN {exit !($cpu < $best_cpu)}"; then best_cpu=$cpu; fi
    done
}

rows=()
notes=()
FMT='%-20s %-24s %7s %6s %7s %6s %9s'
# row CASE TOOL: a table row from $best and $best_cpu; the ratio is CPU
# throughput against the baseline's ($base_cpu)
row() {
    local gw gc r
    gw=$(gbs "$best")
    gc=$(gbs "$best_cpu")
    r=$([ -n "${base_cpu:-}" ] && awk "BEGIN {printf \"%.2fx\", $base_cpu / $best_cpu}" || echo -)
    rows+=("$(printf "$FMT" "$1" "$2" "$best" "$gw" "$best_cpu" "$gc" "$r")")
}
gbs() { awk "BEGIN {printf \"%.2f\", $SIZE / ($1 > 0 ? $1 : 0.001) / 1e9}"; }

# measure CASE A B: the baseline, vmctl pages diff and cmp on one pair
measure() {
    local case=$1 a=$2 b=$3
    base_cpu=""
    timeit "$W/memcmp-baseline" "$a" "$b"
    base_cpu=$best_cpu
    row "$case" "mmap+memcmp (baseline)"
    timeit "$VMCTL" pages diff "$a" "$b"
    row "$case" "vmctl pages diff"
    "$VMCTL" pages diff --json "$a" "$b" >"$W/json"
    notes+=("$case: vmctl pages diff: $(jq -r '"\(.total.pages_differ) pages differ, its own timing \(.bytes_per_sec / 1e7 | floor / 100) GB/s"' "$W/json")")
    # cmp stops at the first difference when its output is /dev/null: $W/out
    timeit cmp -l "$a" "$b"
    row "$case" "cmp -l"
}

# flip N bytes of FILE at scattered offsets (each byte becomes 255 - byte)
scatter() {
    local f=$1 n=$2 k off v
    for k in $(seq 1 "$n"); do
        off=$(( (k * (SIZE / (n + 1))) + (k * 4099) % 4096 ))
        v=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
        printf "\\$(printf %03o $((255 - v)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
    done
}

make_pair() {
    local dir=$1
    head -c "$SIZE" /dev/urandom >"$dir/a" || die "cannot write $SIZE_MIB MiB to '$dir'"
    cp "$dir/a" "$dir/b" || die "cannot copy to '$dir/b'"
}

DIR=$(pick_dir)
IMG=$(mktemp -d -p "$DIR")
notes+=("images: 2 x $SIZE_MIB MiB in $DIR; best of $REPS runs; load average at start $(cut -d' ' -f1-3 /proc/loadavg)")

make_pair "$IMG"
measure "identical" "$IMG/a" "$IMG/b"
scatter "$IMG/b" 16
measure "16 scattered bytes" "$IMG/a" "$IMG/b"
rm -f "$IMG/a" "$IMG/b"

if [ "${BENCH_HUGE:-1}" != 0 ] && [ "$(id -u)" = 0 ] && [ "$(avail_kib)" -ge $((2 * SIZE / 1024 + 2 * 1024 * 1024)) ]; then
    HUGE_MNT=$(mktemp -d -p "${TMPDIR:-/tmp}")
    if mount -t tmpfs -o "huge=always,size=$((2 * SIZE_MIB + 64))M" vmctl-bench "$HUGE_MNT"; then
        make_pair "$HUGE_MNT"
        measure "identical, 2M pages" "$HUGE_MNT/a" "$HUGE_MNT/b"
        rm -f "$HUGE_MNT/a" "$HUGE_MNT/b"
    else
        rmdir "$HUGE_MNT"
        HUGE_MNT=""
    fi
fi

if "$VMCTL" pages check --help >/dev/null 2>&1; then
    "$W/stamp-image" "$IMG/stamped" "$SIZE_MIB" || die "cannot write the stamped image"
    timeit "$VMCTL" pages check "$IMG/stamped"
    base_cpu=""
    row "stamped image" "vmctl pages check"
    "$VMCTL" pages check --json "$IMG/stamped" >"$W/json"
    notes+=("stamped image: vmctl pages check: $(jq -c '{checked, bad}' "$W/json")")
    rm -f "$IMG/stamped"
else
    notes+=("vmctl pages check is not built: skipped")
fi

printf "$FMT\n" "case" "tool" "wall s" "GB/s" "cpu s" "GB/s" "cpu ratio"
printf '%s\n' "${rows[@]}" "" "${notes[@]}"
