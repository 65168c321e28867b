#!/bin/sh
# bench/lab/run.sh: what a lab costs. For each kernel: the time from `vmctl
# lab run` to the command (boot, NVDIMM setup, the host's root mounted) and
# to the end of a `true`, over N runs; then the dirty-log probe matrix
# (device-dax, fsdax, anonymous; every mode) inside the lab, next to the
# same matrix of ordinary backings on this host's own KVM when it has one
# (the baseline), with the ratio. Not part of `make check`: timing belongs
# here, never in a test.
#
# usage: bench/lab/run.sh [KERNELS]
#   KERNELS default "bookworm trixie"
# env:    VMCTL (default ./vmctl, else build/vmctl), RUNS (boots per kernel,
#         default 3), SIZE (probe slot, default 128M)
set -eu

KERNELS=${1:-"bookworm trixie"}
RUNS=${RUNS:-3}
SIZE=${SIZE:-128M}
if [ -z "${VMCTL:-}" ]; then
    for c in ./vmctl build/vmctl; do [ -x "$c" ] && VMCTL=$(cd "$(dirname "$c")" && pwd)/vmctl && break; done
fi
[ -x "${VMCTL:-}" ] || { echo "run.sh: set VMCTL to the vmctl binary" >&2; exit 2; }
command -v jq >/dev/null || { echo "run.sh: jq is needed" >&2; exit 2; }
OUT=$(mktemp -d -p "${TMPDIR:-/tmp}")
trap 'rm -rf "$OUT"' EXIT

now_ms() { date +%s%3N; }

echo "host $(uname -r), $(nproc) CPUs; $RUNS boots per kernel; probe slot $SIZE"
echo
printf '%-10s %-24s %-4s %12s %12s %12s %12s\n' KERNEL RELEASE ACCEL "BOOT min" "BOOT mean" "BOOT max" "TRUE mean"
for k in $KERNELS; do
    # the first run builds (and maybe downloads) the image: not timed
    "$VMCTL" lab run --kernel "$k" -- true >/dev/null 2>&1 || { echo "$k: the lab does not run" >&2; continue; }
    i=0
    : >"$OUT/$k.boot"
    while [ $i -lt "$RUNS" ]; do
        t0=$(now_ms)
        "$VMCTL" lab run --kernel "$k" --json -- true >"$OUT/$k.$i.json"
        t1=$(now_ms)
        echo "$(jq -r '.lab.boot_ns / 1e6 | floor' "$OUT/$k.$i.json") $((t1 - t0))" >>"$OUT/$k.boot"
        i=$((i + 1))
    done
    awk -v k="$k" -v r="$(jq -r .lab.release "$OUT/$k.0.json")" -v a="$(jq -r .lab.accel "$OUT/$k.0.json")" '
        { b[NR] = $1; s += $1; t += $2; if (NR == 1 || $1 < mn) mn = $1; if ($1 > mx) mx = $1 }
        END { printf "%-10s %-24s %-4s %10d ms %10d ms %10d ms %10d ms\n", k, r, a, mn, s / NR, mx, t / NR }' "$OUT/$k.boot"
done

echo
echo "dirty-log probe matrix ($SIZE, modes bitmap clear ring), wall time"
printf '%-10s %-44s %10s %10s %8s %s\n' WHERE BACKINGS "TIME" "HOST" RATIO VERDICT
base=""
if [ -c /dev/kvm ] && [ -w /dev/kvm ]; then
    t0=$(now_ms)
    "$VMCTL" --json probe dirty-log -b anonymous -b memfd -b shm -s "$SIZE" >"$OUT/host.json" 2>/dev/null || true
    base=$(($(now_ms) - t0))
    printf '%-10s %-44s %8d ms %10s %8s %s\n' host "anonymous memfd shm" "$base" - - \
        "$(jq -r '[.results[].verdict] | unique | join(",")' "$OUT/host.json")"
fi
for k in $KERNELS; do
    t0=$(now_ms)
    "$VMCTL" lab run --kernel "$k" -- "$VMCTL" --json probe dirty-log -b devdax:/dev/dax0.0 \
        -b fsdax:/mnt/fsdax1/bench.img -b anonymous -s "$SIZE" >"$OUT/$k.probe.json" 2>/dev/null || true
    t=$(($(now_ms) - t0))
    ratio=$(awk -v t="$t" -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.1fx", t / b; else print "-" }')
    printf '%-10s %-44s %8d ms %8s ms %8s %s\n' "lab:$k" "devdax fsdax anonymous (incl. boot)" "$t" "${base:--}" \
        "$ratio" "$(jq -r '[.results[].verdict] | unique | join(",")' "$OUT/$k.probe.json" 2>/dev/null)"
done
