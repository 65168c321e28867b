#!/bin/sh
# bench/dirty-log/run.sh: harvest cost of `vmctl probe dirty-log` next to the
# bare ioctls timed in the same run on the same VM and slot (--bare: the
# same guest writes, only KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG / the ring
# walk + KVM_RESET_DIRTY_RINGS, no bookkeeping, no checks). Not part of
# `make check`: timing belongs here, never in a test.
#
# usage: bench/dirty-log/run.sh [SIZES] [MODES]
#   SIZES  default "1G 4G"; MODES default "bitmap clear ring"
# env:    VMCTL (default ./vmctl, else build/vmctl), BACKING (default
#         anonymous), ROUNDS (default 24), OUT (directory for the JSON)
# Target: probe harvest within 1.2x of the bare ioctls.
set -eu

SIZES=${1:-"1G 4G"}
MODES=${2:-"bitmap clear ring"}
BACKING=${BACKING:-anonymous}
ROUNDS=${ROUNDS:-24}
if [ -z "${VMCTL:-}" ]; then
    for c in ./vmctl build/vmctl; do [ -x "$c" ] && VMCTL=$c && break; done
fi
[ -x "${VMCTL:-}" ] || { echo "run.sh: set VMCTL to the vmctl binary" >&2; exit 2; }
command -v jq >/dev/null || { echo "run.sh: jq is needed" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d -p "${TMPDIR:-/tmp}")}
mkdir -p "$OUT"

echo "backing $BACKING, $ROUNDS rounds per run (medians), $(uname -r), $(nproc) CPUs"
printf '%-5s %-7s %-5s %16s %16s %8s %s\n' SIZE MODE DIRTY "PROBE ns/GiB" "BARE ns/GiB" RATIO VERDICT
worst=0
for size in $SIZES; do
    for mode in $MODES; do
        j="$OUT/$size-$mode.json"
        "$VMCTL" --json probe dirty-log --backend "$BACKING" --mode "$mode" --size "$size" \
            --rounds "$ROUNDS" --bare >"$j" || true
        verdict=$(jq -r '.results[0].verdict' "$j")
        for cls in few all; do
            probe=$(jq -r ".results[0].cost.$cls.harvest_ns_per_gib // 0" "$j")
            bare=$(jq -r ".results[0].cost.$cls.bare_ns_per_gib // 0" "$j")
            ratio=$(awk -v p="$probe" -v b="$bare" 'BEGIN { if (b > 0) printf "%.2f", p / b; else print "-" }')
            printf '%-5s %-7s %-5s %16s %16s %8s %s\n' "$size" "$mode" "$cls" "$probe" "$bare" "$ratio" "$verdict"
        done
    done
done
echo "JSON in $OUT"
