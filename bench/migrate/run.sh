#!/bin/sh
# bench/migrate/run.sh: `vmctl migrate --strategy auto` against QEMU's
# defaults (precopy, max-bandwidth 128 MiB/s, downtime-limit 300 ms) on the
# same tiny guest, for the workloads idle, 5k, 20k, 50k pages/s and max
# (rate 0). Each migration is verified (every page compared, VERIFY). A run
# that does not complete within TIMEOUT seconds counts as not converged
# (the source keeps running).
#
# QEMU=backports runs the whole matrix twice, on the installed QEMU and on
# bookworm-backports' (fetched by bench/lib/fetch-qemu.sh into
# BUILD/bench-qemu, nothing installed), each with a vmctld of its own, and
# prints the two tables side by side. Verdicts per QEMU: auto's total time
# within the noise band of the defaults' (at most 15 % + 0.5 s more) at
# every workload, auto's downtime within the downtime it promised, every
# auto run converged.
#
# Writes results.tsv (a column qemu), a table and the verdicts on stdout,
# and migrate.svg into OUT (default bench/migrate/out).
#
#   bench/migrate/run.sh [BUILD_DIR] [OUT]     env: MEM=1G TIMEOUT=45 QEMU=backports ACCEL=auto|kvm|tcg
# Not part of `make check`: it takes minutes and its numbers are timings.
set -u
BUILD=${1:-$(pwd)}
OUT=${2:-$(dirname "$0")/out}
MEM=${MEM:-1G}
TIMEOUT=${TIMEOUT:-45}
ACCEL=${ACCEL:-auto}
VMCTL=$BUILD/vmctl
[ -x "$VMCTL" ] || { echo "no vmctl in '$BUILD'" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d -p /tmp)
export VMCTL_SOCKET=$W/run/vmctld.sock VMCTL_STATE_DIR=$W/state
daemon_stop() {
    p=$(printf '{"execute":"ping"}\n' | nc -U -N "$VMCTL_SOCKET" 2>/dev/null | jq -r .return.pid)
    [ -n "$p" ] && kill "$p" 2>/dev/null
    while [ -n "$p" ] && kill -0 "$p" 2>/dev/null; do sleep 0.1; done
}
cleanup() {
    "$VMCTL" kill bm >/dev/null 2>&1
    daemon_stop
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

QEMUS=$(command -v qemu-system-x86_64) || { echo "no qemu-system-x86_64 installed" >&2; exit 2; }
case ${QEMU:-} in
'') ;;
backports) QEMUS="$QEMUS $(sh "$(dirname "$0")/../lib/fetch-qemu.sh" "$BUILD/bench-qemu")" || exit 2 ;;
*) echo "QEMU='$QEMU' is not 'backports'" >&2; exit 2 ;;
esac

# guest_gone: kill the bench guest and wait until the daemon no longer
# knows it (a migration that timed out may still be winding down)
guest_gone() {
    i=0
    while "$VMCTL" info bm >/dev/null 2>&1 && [ $i -lt 300 ]; do
        "$VMCTL" kill bm >/dev/null 2>&1
        sleep 0.1
        i=$((i + 1))
    done
}

console() { "$VMCTL" console bm --send "$1" --expect '^(OK|ERROR)' --timeout 30 >/dev/null; }

printf 'qemu\tworkload\tstrategy\tconverged\ttotal_ms\tdowntime_ms\tpromised_ms\tbytes\titerations\tverdict\tdecisions\n' >"$OUT/results.tsv"
for qemu in $QEMUS; do
    qv=$("$qemu" --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
    guest_gone
    daemon_stop # the next vmctld runs this QEMU
    export VMCTL_QEMU=$qemu
    echo "QEMU $qv ($qemu)" >&2
for wl in idle 5000 20000 50000 max; do
    for strategy in auto defaults; do
        guest_gone
        rm -f "$W"/bm.ram*
        case $wl in idle) rate=5000 ;; max) rate=0 ;; *) rate=$wl ;; esac
        "$VMCTL" launch bm --accel "$ACCEL" --memory "$MEM" --backend "$W/bm.ram" --rate $rate >/dev/null || exit 2
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
            printf '%s\t%s\t%s\tyes\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$qv" $wl $strategy \
                "$(echo "$last" | jq -r .stats.total_time_ms)" "$(echo "$last" | jq -r .stats.downtime_ms)" \
                "$(echo "$last" | jq -r '.downtime_promise.promised_ms // 300')" \
                "$(echo "$last" | jq -r .stats.transferred)" "$(echo "$last" | jq -r .stats.iterations)" \
                "$(echo "$last" | jq -r .verdict)" \
                "$(echo "$last" | jq -r '[.decisions[] | "\(.what)=\(.value)"] | join(" ")')" >>"$OUT/results.tsv"
        else
            p=$(jq -c 'select(.event == "migration-progress") | .data' "$W/out.json" | tail -n 1)
            printf '%s\t%s\t%s\tno\t%s\t-\t-\t%s\t%s\t%s\t%s\n' "$qv" $wl $strategy "$((TIMEOUT * 1000))" \
                "$(echo "$p" | jq -r .transferred)" "$(echo "$p" | jq -r .iteration)" "$(head -c 80 "$W/err")" "-" \
                >>"$OUT/results.tsv"
        fi
    done
done
done
guest_gone

# the tables, one QEMU beside the other: total/downtime (promised) verdict
awk -F '\t' 'NR > 1 {
    if (!($1 in seen)) { seen[$1] = 1; q[++nq] = $1 }
    k = $2 SUBSEP $3
    if (!(k in row)) { row[k] = 1; r[++nr] = k; wl[nr] = $2; st[nr] = $3 }
    cell[$1, k] = $4 == "no" ? "no conv." : sprintf("%.1f s %s/%s ms %s", $5 / 1000, $6, $7, $10)
} END {
    printf "%-8s %-9s", "workload", "strategy"
    for (i = 1; i <= nq; i++) printf " | %-34s", "QEMU " q[i] ": total, downtime/promised"
    printf "\n"
    for (j = 1; j <= nr; j++) {
        printf "%-8s %-9s", wl[j], st[j]
        for (i = 1; i <= nq; i++) printf " | %-34s", cell[q[i], r[j]]
        printf "\n"
    }
}' "$OUT/results.tsv"

# the verdicts, per QEMU
awk -F '\t' 'NR > 1 {
    if (!($1 in seen)) { seen[$1] = 1; q[++nq] = $1 }
    if ($3 == "auto") { at[$1, $2] = $4 == "yes" ? $5 : -1; dt[$1, $2] = $6; pr[$1, $2] = $7; wls[$2] = 1 }
    else dfl[$1, $2] = $4 == "yes" ? $5 : -1
    order[$2] = NR
} END {
    for (i = 1; i <= nq; i++) {
        slow = ""; over = ""; noconv = ""
        for (w in wls) {
            a = at[q[i], w]; d = dfl[q[i], w]
            if (a < 0) { noconv = noconv " " w; continue }
            if (d >= 0 && a > d * 1.15 + 500) slow = slow sprintf(" %s (%.1f s vs %.1f s)", w, a / 1000, d / 1000)
            if (dt[q[i], w] + 0 > pr[q[i], w] + 0) over = over sprintf(" %s (%s ms > %s ms)", w, dt[q[i], w], pr[q[i], w])
        }
        printf "verdict QEMU %s: auto within the noise band of the defaults everywhere: %s\n", q[i], slow == "" ? "yes" : "NO," slow
        printf "verdict QEMU %s: auto kept the downtime it promised everywhere: %s\n", q[i], over == "" ? "yes" : "NO," over
        printf "verdict QEMU %s: auto converged everywhere: %s\n", q[i], noconv == "" ? "yes" : "NO," noconv
    }
}' "$OUT/results.tsv"

# SVG (the first QEMU): total time per workload, auto and defaults side by
# side; a run that did not converge is drawn to the timeout and marked.
awk -F '\t' -v timeout="$TIMEOUT" -v mem="$MEM" 'NR == 2 { q1 = $1 } NR > 1 && $1 == q1 {
    n++; wl[n] = $2; st[n] = $3; conv[n] = $4; t[n] = $5 / 1000.0
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
