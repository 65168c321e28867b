#!/bin/sh
# run.sh: accuracy of `vmctl dirty-rate` against the tiny guest's own rate,
# for each mode this host can do, under KVM and TCG, at 5k..200k pages/s.
#
# usage: [RATES="5000 20000"] bench/dirty-rate/run.sh [BUILD_DIR] [REPEATS]
# Prints one line per measurement and a table of measured/true ratios
# (true = the rate the guest reports on its STAT lines during the window).
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
cleanup() {
    for g in $GUESTS; do "$VMCTL" kill "$g" >/dev/null 2>&1; done
    p=$(printf '{"execute":"ping"}\n' | nc -U -N "$VMCTL_SOCKET" 2>/dev/null | jq -r .return.pid 2>/dev/null)
    [ -n "$p" ] && [ "$p" != null ] && kill "$p"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

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
        line=$(printf '%s' "$out" | jq -r --arg a "$2" --arg r "$4" \
            '[$a, .mode, $r, .result.calc_time_s, .result.dirty_rate_mbps, .result.dirty_pages_per_s,
              (.result.reference.pages_per_s|floor), (.result.reference.ratio*1000|round/1000)] | @tsv')
        echo "$line"
        echo "$line" >>"$RESULTS"
        n=$((n + 1))
    done
}

echo "accel	mode	rate	window_s	MB/s	pages/s	true	ratio"
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

echo
echo "# summary: min..max of measured/true per accel, mode and rate"
awk -F'\t' '{k=$1" "$2" "$3; if(!(k in mn)||$8<mn[k])mn[k]=$8; if(!(k in mx)||$8>mx[k])mx[k]=$8; n[k]++}
    END {for (k in n) printf "%-28s n=%d  %.3f..%.3f\n", k, n[k], mn[k], mx[k]}' "$RESULTS" | sort -k1,1 -k2,2 -k3n
