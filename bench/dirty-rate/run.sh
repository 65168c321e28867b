#!/bin/sh
# run.sh: accuracy of `vmctl dirty-rate` against the tiny guest's own rate,
# for each mode this host can do, under KVM and TCG, at 5k..200k pages/s.
#
# usage: [RATES="5000 20000"] [QEMU=backports] bench/dirty-rate/run.sh [BUILD_DIR] [REPEATS]
# Prints one line per measurement and a table of measured/true ratios
# (true = the guest's own write counter, asked over its console at both
# ends of QEMU's window, over the host clock), and true/asked (the rate the
# guest was launched with: how well the guest paces itself).
# QEMU=backports also runs everything on bookworm-backports' QEMU (fetched
# by bench/lib/fetch-qemu.sh into BUILD_DIR/bench-qemu, nothing installed),
# each QEMU with a vmctld of its own; the table has a column per QEMU.
#
# QEMU counts a page once per window, so each guest gets a working set
# larger than rate x window (ws = 1.2 x rate x window): every page is then
# written at most once per window and the count is the rate. The window
# grows at low rates so that page-sampling sees enough dirty samples (its
# error is binomial: about sqrt((1-p)/(n p)) with n sampled pages of which
# a fraction p is dirtied); sampling uses QEMU's largest sample, 4096 pages
# per GiB, and guests of at least 256 MiB (QEMU skips RAM blocks under
# 128 MiB when sampling).
set -u
B=${1:-$(pwd)}
REPEATS=${2:-3}
# a copy, so that rebuilding the tree during a run does not break it
T=$(mktemp -d -p /tmp)
cp "$B/vmctl" "$T/vmctl"
VMCTL="$T/vmctl"
export VMCTLD="$B/vmctld"
export VMCTL_SOCKET="$T/run/vmctld.sock" VMCTL_STATE_DIR="$T/state"
GUESTS=""
daemon_stop() {
    p=$(printf '{"execute":"ping"}\n' | nc -U -N "$VMCTL_SOCKET" 2>/dev/null | jq -r .return.pid 2>/dev/null)
    [ -n "$p" ] && [ "$p" != null ] && kill "$p"
    while [ -n "$p" ] && [ "$p" != null ] && kill -0 "$p" 2>/dev/null; do sleep 0.1; done
}
cleanup() {
    for g in $GUESTS; do "$VMCTL" kill "$g" >/dev/null 2>&1; done
    daemon_stop
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
QEMUS=$(command -v qemu-system-x86_64) || { echo "no qemu-system-x86_64 installed" >&2; exit 2; }
case ${QEMU:-} in
'') ;;
backports) QEMUS="$QEMUS $(sh "$(dirname "$0")/../lib/fetch-qemu.sh" "$B/bench-qemu")" || exit 2 ;;
*) echo "QEMU='$QEMU' is not 'backports'" >&2; exit 2 ;;
esac

window_of() { # rate -> seconds
    if [ "$1" -le 5000 ]; then echo 8; elif [ "$1" -le 20000 ]; then echo 2; else echo 1; fi
}

# launch NAME ACCEL RATE WINDOW [RING]
launch() {
    ws=$(($3 * $4 * 6 / 5))
    mib=$(( (ws * 4096 / 1048576 + 2 + 16 + 1) / 2 * 2 ))
    [ $mib -lt 256 ] && mib=256
    ring=${5:-0}
    GUESTS="$GUESTS $1"
    "$VMCTL" launch "$1" --accel "$2" --memory "${mib}M" --rate "$3" --ws "$ws" --dirty-ring "$ring" >/dev/null || return 1
    log=$("$VMCTL" info "$1" --json | jq -r .console_log)
    i=0
    while ! grep -q '^STAT' "$log" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.5; i=$((i + 1)); done
    echo "# $1: $2 rate=$3 ws=$ws memory=${mib}M ring=$ring ($(grep '^READY' "$log"))"
}

RESULTS="$T/results"
: >"$RESULTS"
# measure NAME ACCEL MODE RATE WINDOW
measure() {
    n=0
    while [ $n -lt "$REPEATS" ]; do
        out=$("$VMCTL" dirty-rate "$1" --mode "$3" --seconds "$5" --sample-pages 4096 --json) || { echo "# $1 $3: failed"; return; }
        line=$(printf '%s' "$out" | jq -r --arg q "$qv" --arg a "$2" --arg r "$4" \
            '[$q, $a, .mode, $r, .result.calc_time_s, .result.dirty_rate_mbps, .result.dirty_pages_per_s,
              (.result.reference.pages_per_s|floor), (.result.reference.ratio*1000|round/1000),
              (.result.reference.pages_per_s / ($r|tonumber) * 1000 | round / 1000)] | @tsv')
        echo "$line"
        echo "$line" >>"$RESULTS"
        n=$((n + 1))
    done
}

echo "qemu	accel	mode	rate	window_s	MB/s	pages/s	true	ratio	true/asked"
for qemu in $QEMUS; do
    qv=$("$qemu" --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
    daemon_stop # the next vmctld runs this QEMU
    export VMCTL_QEMU=$qemu
for rate in ${RATES:-5000 20000 50000 200000}; do
    w=$(window_of $rate)
    if [ -r /dev/kvm ]; then
        launch k$rate kvm $rate $w && {
            measure k$rate kvm dirty-bitmap $rate $w
            measure k$rate kvm page-sampling $rate $w
        }
        "$VMCTL" kill k$rate >/dev/null
        launch r$rate kvm $rate $w 65536 && measure r$rate kvm dirty-ring $rate $w
        "$VMCTL" kill r$rate >/dev/null
    fi
    launch t$rate tcg $rate $w && measure t$rate tcg page-sampling $rate $w
    "$VMCTL" kill t$rate >/dev/null
done
done

echo
echo "# summary: min..max of measured/true (and of true/asked) per QEMU, accel, mode and rate"
awk -F'\t' '{k=$1" "$2" "$3" "$4; if(!(k in mn)||$9<mn[k])mn[k]=$9; if(!(k in mx)||$9>mx[k])mx[k]=$9;
    if(!(k in an)||$10<an[k])an[k]=$10; if(!(k in ax)||$10>ax[k])ax[k]=$10; n[k]++}
    END {for (k in n) printf "%-36s n=%d  measured/true %.3f..%.3f  true/asked %.3f..%.3f\n", k, n[k], mn[k], mx[k], an[k], ax[k]}' \
    "$RESULTS" | sort -k1,1V -k2,2 -k3,3 -k4n
