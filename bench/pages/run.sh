#!/bin/bash
# bench/pages/run.sh: throughput of `vmctl pages diff` and `vmctl pages
# check` on large images, each beside a plain single-core baseline measured
# in the same run: mmap+memcmp of the two images for diff (and `cmp -l`), an
# mmap and one read of every word of the image for check. Images in 4 KiB
# pages (tmpfs /dev/shm) and in 2 MiB pages (a huge=always tmpfs). Prints
# the wall-time ratio of each tool to its baseline and whether the goals
# are met: diff and check >= 3x the baseline on 4 KiB pages, >= 0.95x on
# 2 MiB pages. Not part of `make check`.
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
# mapping or reading, comparing, unmapping, exit), once by wall time and
# once by CPU time (user+sys). The baselines run on one core; vmctl runs a
# worker per online CPU, so its CPU time is the sum over its threads and
# may exceed its wall time; the "1 thread" rows (--threads 1) show what the
# threads add. "wall ratio" (the goal: how long a paused guest waits) and
# "cpu ratio" are a tool's throughput against the baseline on the same
# images. The baseline and the vmctl runs of a case take turns, REPS times,
# so that a change of the machine's load hits them alike; the best of each
# is reported, with the load average at the start and at the end: on a
# shared machine other load lowers the wall figures of the threads most.
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

# run_once K CMD...: one run of tool K; keeps its best wall time in
# wall[K] and its best CPU time (user+sys) in cpu[K], in seconds. Exit
# status 0 (equal) or 1 (different) is a result; anything else aborts the
# benchmark.
TIMEFORMAT='%R %U %S'
declare -a wall cpu
run_once() {
    local k=$1 rc real user sys c
    shift
    { time { "$@" >"$W/out" 2>"$W/err"; echo $? >"$W/status"; }; } 2>"$W/time"
    rc=$(cat "$W/status")
    [ "$rc" -le 1 ] || { cat "$W/err" >&2; die "'$*' failed with status $rc"; }
    read -r real user sys <"$W/time"
    c=$(awk "BEGIN {printf \"%.3f\", $user + $sys}")
    if [ -z "${wall[k]:-}" ] || awk "BEGIN {exit !($real < ${wall[k]})}"; then wall[k]=$real; fi
    if [ -z "${cpu[k]:-}" ] || awk "BEGIN {exit !($c < ${cpu[k]})}"; then cpu[k]=$c; fi
}

rows=()
notes=()
goals=()
FMT='%-23s %-28s %7s %6s %7s %6s %10s %9s'
gbs() { awk "BEGIN {printf \"%.2f\", $SIZE / ($1 > 0 ? $1 : 0.001) / 1e9}"; }
ratio() { awk "BEGIN {printf \"%.2f\", $1 / ($2 > 0 ? $2 : 0.001)}"; }

# row CASE TOOL K: a table row of tool K, its ratios against tool 0 (the
# baseline of the case)
row() {
    local k=$3
    rows+=("$(printf "$FMT" "$1" "$2" "${wall[k]}" "$(gbs "${wall[k]}")" "${cpu[k]}" "$(gbs "${cpu[k]}")" \
        "$(ratio "${wall[0]}" "${wall[k]}")x" "$(ratio "${cpu[0]}" "${cpu[k]}")x")")
}

# goal WHAT K MIN: whether tool K's wall ratio reaches MIN
goal() {
    local r verdict="met"
    r=$(ratio "${wall[0]}" "${wall[$2]}")
    awk "BEGIN {exit !($r >= $3)}" || verdict="NOT met"
    goals+=("$(printf 'goal: %-38s wall %5sx the baseline (goal >= %sx): %s' "$1" "$r" "$3" "$verdict")")
}

# compare CASE BASELINE_NAME SUBCOMMAND FILES...: the baseline (tool 0),
# vmctl with a thread per CPU (1) and with one thread (2), run in turn REPS
# times so that a change of the machine's load hits them alike
compare() {
    local case=$1 bname=$2 sub=$3 i
    shift 3
    wall=() cpu=()
    for i in $(seq "$REPS"); do
        run_once 0 "$W/memcmp-baseline" "$@"
        run_once 1 "$VMCTL" pages "$sub" "$@"
        run_once 2 "$VMCTL" pages "$sub" --threads 1 "$@"
    done
    row "$case" "$bname" 0
    row "$case" "vmctl pages $sub" 1
    row "$case" "vmctl pages $sub, 1 thread" 2
}

# measure CASE A B [MIN]: the baseline and vmctl pages diff on one pair,
# then cmp; with MIN, the goal of the diff's wall ratio
measure() {
    local case=$1 a=$2 b=$3 min=${4:-}
    compare "$case" "mmap+memcmp (baseline)" diff "$a" "$b"
    [ -n "$min" ] && goal "pages diff, $case" 1 "$min"
    "$VMCTL" pages diff --json "$a" "$b" >"$W/json"
    notes+=("$case: vmctl pages diff: $(jq -r '"\(.total.pages_differ) pages differ, its own timing \(.bytes_per_sec / 1e7 | floor / 100) GB/s"' "$W/json")")
    # cmp stops at the first difference when its output is /dev/null: $W/out
    wall[3]="" cpu[3]=""
    for i in $(seq "$REPS"); do run_once 3 cmp -l "$a" "$b"; done
    row "$case" "cmp -l" 3
}

# measure_check CASE DIR MIN: a stamped image in DIR, the one-image
# baseline and vmctl pages check
measure_check() {
    local case=$1 img=$2/stamped
    "$W/stamp-image" "$img" "$SIZE_MIB" || die "cannot write the stamped image"
    compare "$case" "mmap+read (baseline)" check "$img"
    goal "pages check, $case" 1 "$3"
    "$VMCTL" pages check --json "$img" >"$W/json"
    notes+=("$case: vmctl pages check: $(jq -c '{checked, bad}' "$W/json")")
    rm -f "$img"
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

have_check=
if "$VMCTL" pages check --help >/dev/null 2>&1; then
    have_check=1
else
    notes+=("vmctl pages check is not built: skipped")
fi

make_pair "$IMG"
measure "identical" "$IMG/a" "$IMG/b" 3
scatter "$IMG/b" 16
measure "16 scattered bytes" "$IMG/a" "$IMG/b"
rm -f "$IMG/a" "$IMG/b"
[ -n "$have_check" ] && measure_check "stamped image" "$IMG" 3

if [ "${BENCH_HUGE:-1}" != 0 ] && [ "$(id -u)" = 0 ] && [ "$(avail_kib)" -ge $((2 * SIZE / 1024 + 2 * 1024 * 1024)) ]; then
    HUGE_MNT=$(mktemp -d -p "${TMPDIR:-/tmp}")
    if mount -t tmpfs -o "huge=always,size=$((2 * SIZE_MIB + 64))M" vmctl-bench "$HUGE_MNT"; then
        make_pair "$HUGE_MNT"
        measure "identical, 2M pages" "$HUGE_MNT/a" "$HUGE_MNT/b" 0.95
        rm -f "$HUGE_MNT/a" "$HUGE_MNT/b"
        [ -n "$have_check" ] && measure_check "stamped image, 2M pages" "$HUGE_MNT" 0.95
    else
        rmdir "$HUGE_MNT"
        HUGE_MNT=""
    fi
fi

notes+=("CPUs online: $(getconf _NPROCESSORS_ONLN); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)")
printf "$FMT\n" "case" "tool" "wall s" "GB/s" "cpu s" "GB/s" "wall ratio" "cpu ratio"
printf '%s\n' "${rows[@]}" "" "${goals[@]}" "" "${notes[@]}"
