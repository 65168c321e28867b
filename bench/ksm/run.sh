#!/bin/sh
# bench/ksm/run.sh: how fast KSM reaches steady merging in `vmctl ksm-check`
# for a few guest sizes: time until half of the identical pages are merged,
# time to steady state, pages merged of identical, KSM full scans, and the
# load average beside them. Not part of `make check` (timings belong here,
# never in a test). Needs root, KSM and /dev/kvm.
#
# usage: bench/ksm/run.sh [BUILDDIR]   (default: the current directory)
#   BENCH_SIZES    guest RAM sizes (default "32M 64M 128M")
#   BENCH_RUNS     runs per size (default 1)
#   BENCH_SECONDS  budget of each run (default 60)
set -u

top_builddir=$(cd "${1:-.}" && pwd)
VMCTL=$top_builddir/vmctl
die() { echo "bench: $*" >&2; exit 2; }
[ -x "$VMCTL" ] || die "no $VMCTL: build first"
command -v jq >/dev/null || die "needs jq"
[ "$(id -u)" = 0 ] || die "needs root (KSM knobs, /proc/kpageflags)"

TMP=$(mktemp -d -p "${TMPDIR:-/tmp}")
export VMCTL_SOCKET="$TMP/vmctld.sock" VMCTL_STATE_DIR="$TMP/state"
stop_daemon() {
    p=$(printf '{"execute":"ping"}\n' | nc -U -N "$VMCTL_SOCKET" 2>/dev/null | jq -r .return.pid 2>/dev/null)
    [ -n "$p" ] && kill "$p" 2>/dev/null
    rm -rf "$TMP"
}
trap stop_daemon EXIT
trap 'exit 130' INT TERM

printf '%-6s %-4s %9s %9s %8s %9s %6s %6s  %s\n' size run "half(s)" "steady(s)" merged identical scans rc load
for size in ${BENCH_SIZES:-32M 64M 128M}; do
    for run in $(seq "${BENCH_RUNS:-1}"); do
        "$VMCTL" ksm-check --memory "$size" --seconds "${BENCH_SECONDS:-60}" --json >"$TMP/out.json" 2>"$TMP/err"
        rc=$?
        if [ ! -s "$TMP/out.json" ]; then
            printf '%-6s %-4s could not run: %s\n' "$size" "$run" "$(cat "$TMP/err")"
            continue
        fi
        jq -r --arg size "$size" --arg run "$run" --arg rc "$rc" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '
            (.checks[] | select(.id == "positive") | .evidence) as $p |
            (.checks[] | select(.id == "negative") | .evidence) as $n |
            [$size, $run, ($p.half_merged_after_s // "-"), ($p.steady_after_s // "-"), $p.merged_pages,
             $p.identical_pages, $n.full_scans_in_run, $rc, $load] | @tsv' "$TMP/out.json" |
            awk -F'\t' '{ printf "%-6s %-4s %9s %9s %8s %9s %6s %6s  %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
    done
done
