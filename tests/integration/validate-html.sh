#!/bin/sh
# validate-html.sh: the page of `vmctl validate --html` renders in headless
# Chromium: the rendered DOM holds the SVG plots with their data points and
# asks nothing of the network; the screenshot is a PNG of the window size,
# not blank, with the plot curves drawn. Made to fail: the same checks on
# the page with its plots removed and on a white image must fail.
. "$top_srcdir/tests/lib/tap.sh"

CHECK="$top_srcdir/tests/integration/validate-html-check.py"
W=1200 H=3000 # px, the window and so the screenshot

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

# the guests validate launches run under a vmctld of this test
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

# render HTML DOM PNG: one headless Chromium run in its own session
# (Chromium forks: the whole group is killed at exit) with a fresh profile
# that is removed afterwards; the rendered DOM to DOM, the screenshot to PNG.
render() {
    _prof="$TEST_TMP/chromium-profile"
    rm -rf "$_prof"
    setsid timeout -k 5 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --disable-background-networking --no-first-run --hide-scrollbars --user-data-dir="$_prof" \
        --window-size=$W,$H --dump-dom --screenshot="$3" "file://$1" >"$2" 2>>"$TEST_TMP/chromium.err" &
    _pid=$!
    on_exit "kill -KILL -- -$_pid"
    wait $_pid
    _rc=$?
    kill -KILL -- -$_pid 2>/dev/null
    rm -rf "$_prof"
    return $_rc
}

if have_kvm && have_ksm; then
    "$VMCTL" validate --quick --json --html "$TEST_TMP/r.html" >"$TEST_TMP/r.json"
else
    diag "no usable KVM or KSM here: the report is made in a lab ($VMCTL lab run) and rendered here"
    "$VMCTL" lab run -- sh -c 'cd "$TEST_TMP" && "$VMCTL" validate --quick --json --html lab.html >lab.json;
        tar -cf - lab.html lab.json' | tar -C "$TEST_TMP" -xf -
    mv "$TEST_TMP/lab.html" "$TEST_TMP/r.html"
    mv "$TEST_TMP/lab.json" "$TEST_TMP/r.json"
fi
check "validate --quick --html wrote the page" test -s "$TEST_TMP/r.html"
# the plots the report carries, one per check with a series: the dirty
# rate over time, the migration progress, the KSM merge curve
nplots=$(jq '[.checks[] | select((.evidence.series? // []) | length > 0)] | length' "$TEST_TMP/r.json")
# series_of PREFIX: the series names of the checks whose id starts so
series_of() { jq -r --arg p "$1" '[.checks[] | select(.id | startswith($p)) | .evidence.series? // [] | .[].name] | join(",")' "$TEST_TMP/r.json"; }
like "the dirty-rate checks carry the rate over time" "$(series_of dirty-rate/)" "guest writes \(its own counter\)"
like "the migration check carries its progress" "$(series_of migration/)" "RAM transferred"
like "the KSM check carries its merge curve" "$(series_of ksm/)" "pages_sharing"
[ "${nplots:-0}" -gt 0 ] || nplots=1

render "$TEST_TMP/r.html" "$TEST_TMP/dom.html" "$TEST_TMP/shot.png"
is "Chromium rendered the page" "$?" 0
out=$("$PY" "$CHECK" dom "$TEST_TMP/dom.html" "$nplots" 5); rc=$?
is "the DOM has $nplots SVG plots with data points and no network resource" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
for name in "guest writes (its own counter)" "RAM transferred" "pages_sharing"; do
    check "a rendered plot is labelled '$name'" sh -c 'printf "%s\n" "$1" | grep "^plot " | grep -qF "$2"' - "$out" "$name"
done
out=$("$PY" "$CHECK" png "$TEST_TMP/shot.png" $W $H "$nplots"); rc=$?
is "the screenshot is a ${W}x${H} PNG, not blank, with $nplots plot curves" "$rc" 0
diag "$out"
check "no Chromium process is left" gone "$_pid"
check "the Chromium profile is removed" test ! -e "$TEST_TMP/chromium-profile"

# made to fail: the page without its plots, and a blank screenshot
awk '/<svg/{skip=1} !skip{print} /<\/svg>/{skip=0}' "$TEST_TMP/r.html" >"$TEST_TMP/noplots.html"
render "$TEST_TMP/noplots.html" "$TEST_TMP/noplots-dom.html" "$TEST_TMP/noplots.png"
out=$("$PY" "$CHECK" dom "$TEST_TMP/noplots-dom.html" "$nplots" 5); rc=$?
is "the DOM check fails on the page without plots" "$rc" 1
out=$("$PY" "$CHECK" png "$TEST_TMP/noplots.png" $W $H "$nplots"); rc=$?
is "the screenshot check fails on the page without plots" "$rc" 1
like "it says the curves are missing" "$out" "0 plot curves"
"$PY" -c '
import struct, sys, zlib
w, h = int(sys.argv[2]), int(sys.argv[3])
def chunk(k, b): return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xFFFFFFFF)
raw = (b"\0" + b"\xff" * 3 * w) * h
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
' "$TEST_TMP/white.png" $W $H
out=$("$PY" "$CHECK" png "$TEST_TMP/white.png" $W $H "$nplots"); rc=$?
is "the screenshot check fails on a white page" "$rc" 1
like "it says the page is blank" "$out" "the page is blank"
# a page that loads from the network is refused
sed 's|<body>|<body><img src="https://example.invalid/x.png">|' "$TEST_TMP/dom.html" >"$TEST_TMP/remote.html"
out=$("$PY" "$CHECK" dom "$TEST_TMP/remote.html" "$nplots" 5); rc=$?
is "the DOM check fails on a page with a network resource" "$rc" 1
like "it names the resource" "$out" "first 'https://example.invalid/x.png'"
# a file that is not a PNG
printf 'not a png' >"$TEST_TMP/bad.png"
out=$("$PY" "$CHECK" png "$TEST_TMP/bad.png" $W $H 1); rc=$?
is "the PNG check fails on a file that is not a PNG" "$rc" 1

tap_done
