#!/bin/sh
# validate-html.sh: the page of `vmctl validate --html`, made on a host with
# KVM (this one's, or a lab's) and without (this host's KVM hidden, where it
# has one), renders in headless Chromium 1200 and 800 px wide:
# - the DOM, measured by a layout probe: nothing wider than the window; the
#   head (host, date, versions), the verdict with its reason and the counts
#   per status as the JSON has them; host facts and known changes as
#   tables; every plot with ticks on both axes, axis labels, marked points,
#   a legend below its data and a caption; no network resource;
# - the screenshot of the whole page: a PNG of its size, not blank, with
#   every plot's curves drawn.
# Made to fail: the same checks on the page without its ticks, counts,
# facts table, known changes or plots, with an element wider than the
# window, with a network resource, and on a white image.
# VMCTL_SCREENSHOTS=DIR (make docs-screenshots) keeps the 1200 px
# screenshots there as report-kvm.png and report-nokvm.png.
. "$top_srcdir/tests/lib/tap.sh"

CHECK="$top_srcdir/tests/integration/validate-html-check.py"
MAX_H=16000 # px, the tallest screenshot taken

CHROMIUM=$(command -v chromium || command -v chromium-browser)
if [ -z "$CHROMIUM" ]; then
    skip "validate --html in headless Chromium" "no chromium (Debian package chromium)" chromium
    tap_done
fi
PY=$(command -v python3)
if [ -z "$PY" ]; then
    skip "validate --html in headless Chromium" "no python3 for the PNG checker" chromium
    tap_done
fi
if ! have_qemu; then
    skip "validate --html with its plots" "no QEMU for a real report" qemu
    tap_done
fi
# The report needs KVM and KSM: this host's, or (without them) a lab's,
# where it is made; the page is rendered here either way.
if ! have_kvm || ! have_ksm; then
    lab_why=$(lab_ready)
    if [ -n "$lab_why" ]; then
        skip "validate --html with its plots" "no KVM or KSM here, and no lab: $lab_why" kvm
        tap_done
    fi
fi

if have_kvm && ! is_root; then
    skip "validate --html without KVM" "hiding this host's /dev/kvm needs root" root
    tap_done
fi

# the guests validate launches run under a vmctld of this test
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

# render HTML DOM PNG W H: one headless Chromium run in its own session
# (Chromium forks: the whole group is killed at exit) with a fresh profile
# that is removed afterwards; the rendered DOM to DOM, the screenshot (of a
# W x H window) to PNG.
render() {
    _prof="$TEST_TMP/chromium-profile"
    rm -rf "$_prof"
    setsid timeout -k 5 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --disable-background-networking --no-first-run --hide-scrollbars --user-data-dir="$_prof" \
        --window-size="$4,$5" --virtual-time-budget=2000 --dump-dom --screenshot="$3" "file://$1" \
        >"$2" 2>>"$TEST_TMP/chromium.err" &
    _pid=$!
    on_exit "kill -KILL -- -$_pid"
    wait $_pid
    _rc=$?
    kill -KILL -- -$_pid 2>/dev/null
    rm -rf "$_prof"
    return $_rc
}

# layout HTML W REPORT: the page probed and rendered W px wide; the
# checker's verdict in $rc, its lines in $out, the page height in $height
layout() {
    "$PY" "$CHECK" probe "$1" "$1.probe.html" || return 1
    render "$1.probe.html" "$1.probe.dom" "$TEST_TMP/probe.png" "$2" 1000
    out=$("$PY" "$CHECK" layout "$1.probe.dom" "$2" "$3")
    rc=$?
    height=$(printf '%s\n' "$out" | sed -n 's/^height //p')
}

# the report with KVM: this host's KVM and KSM, or a lab's
if have_kvm && have_ksm; then
    "$VMCTL" validate --quick --json --html "$TEST_TMP/kvm.html" >"$TEST_TMP/kvm.json"
else
    diag "no usable KVM or KSM here: the report with KVM is made in a lab ($VMCTL lab run) and rendered here"
    "$VMCTL" lab run -- sh -c 'cd "$TEST_TMP" && "$VMCTL" validate --quick --json --html lab.html >lab.json;
        tar -cf - lab.html lab.json' | tar -C "$TEST_TMP" -xf -
    mv "$TEST_TMP/lab.html" "$TEST_TMP/kvm.html"
    mv "$TEST_TMP/lab.json" "$TEST_TMP/kvm.json"
fi
# the report without KVM: this host's hidden from the report and from a
# vmctld of its own, started and stopped in the same mount namespace
if have_kvm; then
    export VMCTL
    NOKVM_SOCKET="$TEST_TMP/run-nokvm/vmctld.sock"
    on_exit "p=\$(printf '%s\n' '{\"execute\":\"ping\"}' | nc -U -N '$NOKVM_SOCKET' 2>/dev/null | jq -r .return.pid 2>/dev/null); [ -n \"\$p\" ] && [ \"\$p\" != null ] && kill \$p"
    VMCTL_SOCKET="$NOKVM_SOCKET" VMCTL_STATE_DIR="$TEST_TMP/state-nokvm" unshare -m sh -c '
        mount --bind /dev/null /dev/kvm || exit 2
        "$VMCTL" validate --quick --json --html "$TEST_TMP/nokvm.html" >"$TEST_TMP/nokvm.json"
        rc=$?
        p=$(printf "%s\n" "{\"execute\":\"ping\"}" | nc -U -N "$VMCTL_SOCKET" 2>/dev/null | jq -r .return.pid)
        [ -n "$p" ] && [ "$p" != null ] && kill "$p"
        exit $rc'
else
    "$VMCTL" validate --quick --json --html "$TEST_TMP/nokvm.html" >"$TEST_TMP/nokvm.json"
fi
is "the report without KVM has KVM unavailable" "$(jq -r .host.kvm.available "$TEST_TMP/nokvm.json")" false

for r in kvm nokvm; do
    R="$TEST_TMP/$r"
    check "$r: validate --quick --html wrote the page" test -s "$R.html"
    # the plots the report carries, one per check with a series
    nplots=$(jq '[.checks[] | select((.evidence.series? // []) | length > 0)] | length' "$R.json")
    [ "${nplots:-0}" -gt 0 ] || nplots=1
    for w in 1200 800; do
        layout "$R.html" $w "$R.json"
        is "$r, $w px: the layout probe finds the head, verdict, counts, tables and readable plots, no overflow" "$rc" 0
        [ $rc -eq 0 ] || diag "$out"
        [ "${height:-0}" -gt 0 ] || height=3000
        [ "$height" -le $MAX_H ] || height=$MAX_H
        render "$R.html" "$R-$w.dom" "$R-$w.png" $w "$height"
        is "$r, $w px: Chromium rendered the whole page ($height px)" "$?" 0
        out=$("$PY" "$CHECK" dom "$R-$w.dom" "$nplots" 5); rc=$?
        is "$r, $w px: the DOM has $nplots SVG plots with data points and no network resource" "$rc" 0
        [ $rc -eq 0 ] || diag "$out"
        out=$("$PY" "$CHECK" png "$R-$w.png" $w "$height" "$nplots"); rc=$?
        is "$r, $w px: the screenshot is a ${w}x$height PNG, not blank, with $nplots plot curves" "$rc" 0
        [ $rc -eq 0 ] || diag "$out"
    done
    if [ -n "${VMCTL_SCREENSHOTS:-}" ]; then
        cp "$R-1200.png" "$VMCTL_SCREENSHOTS/report-$r.png" && diag "kept $VMCTL_SCREENSHOTS/report-$r.png"
    fi
done
# series_of PREFIX: the series names of the checks whose id starts so
series_of() { jq -r --arg p "$1" '[.checks[] | select(.id | startswith($p)) | .evidence.series? // [] | .[].name] | join(",")' "$TEST_TMP/kvm.json"; }
like "the dirty-rate checks carry the rate over time" "$(series_of dirty-rate/)" "guest writes \(its own counter\)"
like "the migration check carries its progress" "$(series_of migration/)" "RAM transferred"
like "the KSM check carries its merge curve" "$(series_of ksm/)" "pages_sharing"
out=$("$PY" "$CHECK" dom "$TEST_TMP/kvm-1200.dom" 1 2)
for name in "guest writes (its own counter)" "RAM transferred" "pages_sharing"; do
    check "a rendered plot is labelled '$name'" sh -c 'printf "%s\n" "$1" | grep "^plot " | grep -qF "$2"' - "$out" "$name"
done
check "no Chromium process is left" gone "$_pid"
check "the Chromium profile is removed" test ! -e "$TEST_TMP/chromium-profile"

# made to fail: each part taken out of the page, one at a time
R="$TEST_TMP/kvm"
nplots=$(jq '[.checks[] | select((.evidence.series? // []) | length > 0)] | length' "$R.json")
# broken NAME SED-SCRIPT WHAT: the layout check of the page edited so fails
# and says WHAT
broken() {
    sed "$2" "$R.html" >"$TEST_TMP/$1.html"
    layout "$TEST_TMP/$1.html" 800 "$R.json"
    is "the layout check fails on the page $1" "$rc" 1
    like "it says $3" "$out" "$3"
}
broken "without x ticks" '/class="tick-x"/d' "x and [0-9]+ y ticks, need 3"
broken "without its counts" '/<table id="counts">/,/<\/table>/d' "the PASS count is None"
broken "without its facts table" '/<table id="facts">/,/<\/table>/d' "the host facts table has 0 rows"
broken "without its known changes" '/<table id="known-changes">/,/<\/table>/d' "the known changes table has 0 rows"
broken "without its reason" '/<p id="reason">/d' "the verdict has no reason line"
broken "without plot captions" '/<p class="caption">/d' "has no caption"
broken "with an element wider than the window" 's|<body>|<body><div style="width:1400px">wide</div>|' "the page overflows 800 px"
broken "with its legend over the data" 's|<text class="legend" x="\([0-9]*\)" y="[0-9]*"|<text class="legend" x="\1" y="100"|' "legend entries over its plot area"

awk '/<svg/{skip=1} !skip{print} /<\/svg>/{skip=0}' "$R.html" >"$TEST_TMP/noplots.html"
render "$TEST_TMP/noplots.html" "$TEST_TMP/noplots-dom.html" "$TEST_TMP/noplots.png" 1200 3000
out=$("$PY" "$CHECK" dom "$TEST_TMP/noplots-dom.html" "$nplots" 2); rc=$?
is "the DOM check fails on the page without plots" "$rc" 1
out=$("$PY" "$CHECK" png "$TEST_TMP/noplots.png" 1200 3000 "$nplots"); rc=$?
is "the screenshot check fails on the page without plots" "$rc" 1
like "it says the curves are missing" "$out" "0 plot curves"
layout "$TEST_TMP/noplots.html" 1200 "$R.json"
like "the layout check says the plots are missing" "$out" "0 plots drawn, the report has $nplots checks with series"
"$PY" -c '
import struct, sys, zlib
w, h = int(sys.argv[2]), int(sys.argv[3])
def chunk(k, b): return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xFFFFFFFF)
raw = (b"\0" + b"\xff" * 3 * w) * h
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
' "$TEST_TMP/white.png" 1200 3000
out=$("$PY" "$CHECK" png "$TEST_TMP/white.png" 1200 3000 "$nplots"); rc=$?
is "the screenshot check fails on a white page" "$rc" 1
like "it says the page is blank" "$out" "the page is blank"
# a page that loads from the network is refused
sed 's|<body>|<body><img src="https://example.invalid/x.png">|' "$R-1200.dom" >"$TEST_TMP/remote.html"
out=$("$PY" "$CHECK" dom "$TEST_TMP/remote.html" "$nplots" 2); rc=$?
is "the DOM check fails on a page with a network resource" "$rc" 1
like "it names the resource" "$out" "first 'https://example.invalid/x.png'"
# a file that is not a PNG
printf 'not a png' >"$TEST_TMP/bad.png"
out=$("$PY" "$CHECK" png "$TEST_TMP/bad.png" 1200 3000 1); rc=$?
is "the PNG check fails on a file that is not a PNG" "$rc" 1

tap_done
