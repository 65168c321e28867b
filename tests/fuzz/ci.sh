#!/bin/sh
# ci.sh: the short fuzzing pass .ci/run makes before the suite (make fuzz
# FUZZ_SECONDS=10), one test point per target from its summary. Outside CI
# the pass is not run and this test says so.
. "$top_srcdir/tests/lib/tap.sh"

status="$top_builddir/fuzz-ci.status"
if ldd "$VMCTLD" 2>/dev/null | grep -q libasan; then
    skip "the CI fuzzing pass" "this is the sanitized build (make check-asan)"
    tap_done
fi
summary="$top_builddir/fuzz-build/tests/fuzz/work/summary.txt"
if [ ! -f "$status" ]; then
    if [ "${CI:-}" = true ]; then
        not_ok "the CI fuzzing pass ran (no $status)"
    else
        skip "the CI fuzzing pass" "run by .ci/run only (make fuzz FUZZ_SECONDS=10)"
    fi
    tap_done
fi
ci_status "make fuzz" "$status"
if [ -f "$summary" ]; then
    while read -r line; do
        case "$line" in
        *FAIL* | *crash* | *leak*) not_ok "fuzz: $line" ;;
        ?*) ok "fuzz: $line" ;;
        esac
    done <"$summary"
else
    not_ok "the fuzz summary exists ($summary)"
fi
tap_done
