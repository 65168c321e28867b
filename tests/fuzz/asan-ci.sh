#!/bin/sh
# asan-ci.sh: the sanitized run .ci/run makes before the suite (make
# check-asan of the tests in build/asan-ci.tests, docs/reliability.md), as
# test points: its exit status and every failed test point of it. Outside
# CI the run is not made and this test says so; inside the sanitized build
# itself there is nothing to report.
. "$top_srcdir/tests/lib/tap.sh"

status="$top_builddir/asan-ci.status"
log="$top_builddir/asan-ci.log"
if ldd "$VMCTLD" 2>/dev/null | grep -q libasan; then
    skip "the CI sanitizer run" "this is the sanitized build"
    tap_done
fi
if [ ! -f "$status" ]; then
    if [ "${CI:-}" = true ]; then
        not_ok "the CI sanitizer run ran (no $status)"
    else
        skip "the CI sanitizer run" "run by .ci/run only (make check-asan TESTS=...)"
    fi
    tap_done
fi
ci_status "make check-asan" "$status"
if [ -f "$log" ]; then
    for k in TOTAL PASS SKIP XFAIL FAIL XPASS ERROR; do
        n=$(sed -n "s/^# $k: *//p" "$log" | tail -n 1)
        case $k in
        FAIL | XPASS | ERROR) is "asan: $k ${n:-?}" "${n:-?}" 0 ;;
        *) ok "asan: $k ${n:-?}" ;;
        esac
    done
    grep -E '^(FAIL|ERROR):' "$log" | head -n 30 | while read -r l; do diag "$l"; done
else
    not_ok "the sanitizer run's log exists ($log)"
fi
tap_done
