#!/bin/sh
# bench/migrate/run.sh: `vmctl migrate --strategy auto` against QEMU's
# defaults (precopy, max-bandwidth 128 MiB/s, downtime-limit 300 ms) on the
# same tiny guest under KVM, for the workloads idle, 5k, 20k, 50k pages/s
# and max (rate 0). Each migration is verified (every page compared,
# VERIFY). A run that does not complete within TIMEOUT seconds counts as
# not converged (the source keeps running). Writes results.tsv, a table on
# stdout and migrate.svg into OUT (default bench/migrate/out).
#
#   bench/migrate/run.sh [BUILD_DIR] [OUT]     env: MEM=1G TIMEOUT=45
# Not part of `make check`: it takes minutes and its numbers are timings.
set -u
BUILD=${1:-$(pwd)}
OUT=${2:-$(dirname "$0")/out}
MEM=${MEM:-1G}
TIMEOUT=${TIMEOUT:-45}
VMCTL=$BUILD/vmctl
[ -x "$VMCTL" ] || { echo "no vmctl in '$BUILD'" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d -p /tmp)
export VMCTL_SOCKET=$W/run/vmctld.sock VMCTL_STATE_DIR=$W/state
cleanup() {
    "$VMCTL" kill bm >/dev/null 2>&1
    p=$(printf '{"execute":"ping"}\n' | nc -U -N "$VMCTL_SOCKET" 2>/dev/null | jq -r .return.pid)
    [ -n "$p" ] && kill "$p" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

console() { "$VMCTL" console bm --send "$1" --expect '^(OK|ERROR)' --timeout 30 >/dev/null; }

printf 'workload\tstrategy\tconverged\ttotal_ms\tdowntime_ms\tbytes\titerations\tverdict\tdecisions\n' >"$OUT/results.tsv"
for wl in idle 5000 20000 50000 max; do
    for strategy in auto defaults; do
        "$VMCTL" kill bm >/dev/null 2>&1
        rm -f "$W"/bm.ram*
        case $wl in idle) rate=5000 ;; max) rate=0 ;; *) rate=$wl ;; esac
        "$VMCTL" launch bm --memory "$MEM" --backend "$W/bm.ram" --rate $rate >/dev/null || exit 2
        until grep -aq '^READY' "$W/state/run/bm/console.log" 2>/dev/null; do sleep 0.5; done
        [ $wl = idle ] && console PAUSE
        sleep 2
        if [ $strategy = auto ]; then
            set -- --strategy auto
        else
            set -- --strategy precopy # no --bandwidth/--downtime: QEMU's defaults
        fi
        "$VMCTL" migrate bm --to local "$@" --timeout "$TIMEOUT" --json >"$W/out.json" 2>"$W/err"
        rc=$?
        last=$(tail -n 1 "$W/out.json")
        if [ $rc -le 1 ] && echo "$last" | jq -e .verdict >/dev/null 2>&1; then
            printf '%s\t%s\tyes\t%s\t%s\t%s\t%s\t%s\t%s\n' $wl $strategy \
                "$(echo "$last" | jq -r .stats.total_time_ms)" "$(echo "$last" | jq -r .stats.downtime_ms)" \
                "$(echo "$last" | jq -r .stats.transferred)" "$(echo "$last" | jq -r .stats.iterations)" \
                "$(echo "$last" | jq -r .verdict)" \
                "$(echo "$last" | jq -r '[.decisions[] | "\(.what)=\(.value)"] | join(" ")')" >>"$OUT/results.tsv"
        else
            p=$(jq -c 'select(.event == "migration-progress") | .data' "$W/out.json" | tail -n 1)
            printf '%s\t%s\tno\t%s\t-\t%s\t%s\t%s\t%s\n' $wl $strategy "$((TIMEOUT * 1000))" \
                "$(echo "$p" | jq -r .transferred)" "$(echo "$p" | jq -r .iteration)" "$(head -c 80 "$W/err")" "-" \
                >>"$OUT/results.tsv"
        fi
    done
done

column -t -s "$(printf '\t')" "$OUT/results.tsv" | cut -c1-160

# SVG: total time per workload, auto and defaults side by side; a run that
# did not converge is drawn to the timeout and marked.
awk -F '\t' -v timeout="$TIMEOUT" -v mem="$MEM" 'NR > 1 {
    n++; wl[n] = $1; st[n] = $2; conv[n] = $3; t[n] = $4 / 1000.0
} END {
    w = 640; h = 340; left = 60; bottom = 290; top = 40; scale = (bottom - top) / timeout
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", w, h
    printf "<text x=\"%d\" y=\"20\" font-size=\"14\">vmctl migrate: total time, %s tiny guest under KVM (auto vs QEMU defaults)</text>\n", left, mem
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, bottom, w - 20, bottom
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, top, left, bottom
    for (s = 0; s <= timeout; s += 10) {
        y = bottom - s * scale
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%ds</text>\n", left - 5, y + 4, s
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", left, y, w - 20, y
    }
    for (i = 1; i <= n; i++) {
        g = int((i - 1) / 2); x = left + 20 + g * 110 + (st[i] == "auto" ? 0 : 40)
        bh = t[i] * scale; if (bh > bottom - top) bh = bottom - top
        color = st[i] == "auto" ? "#2b6cb0" : "#c05621"
        printf "<rect x=\"%d\" y=\"%.1f\" width=\"36\" height=\"%.1f\" fill=\"%s\"%s/>\n", x, bottom - bh, bh, color, conv[i] == "no" ? " fill-opacity=\"0.35\" stroke=\"" color "\" stroke-dasharray=\"4 2\"" : ""
        label = conv[i] == "no" ? "no conv." : sprintf("%.1fs", t[i])
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">%s</text>\n", x + 18, bottom - bh - 4, label
        if (st[i] == "auto") printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x + 38, bottom + 16, wl[i] == "idle" || wl[i] == "max" ? wl[i] : wl[i] " p/s"
    }
    printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#2b6cb0\"/><text x=\"%d\" y=\"%d\">auto</text>\n", left + 10, bottom + 30, left + 26, bottom + 40
    printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#c05621\"/><text x=\"%d\" y=\"%d\">QEMU defaults (128 MiB/s, 300 ms)</text>\n", left + 80, bottom + 30, left + 96, bottom + 40
    print "</svg>"
}' "$OUT/results.tsv" >"$OUT/migrate.svg"
echo "wrote $OUT/results.tsv and $OUT/migrate.svg"
