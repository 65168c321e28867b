#!/bin/sh
# ci-status.sh: the tests of .ci/run's status files (ci.sh, asan-ci.sh) take
# only a file made by this very run of this commit. Made to fail: a status
# file left by another run, one of another commit, one that says 1.
. "$top_srcdir/tests/lib/tap.sh"

head=$(git -C "$top_srcdir" rev-parse HEAD 2>/dev/null || echo unknown)
fake=$TEST_TMP/build
mkdir -p "$fake"
# the summary of a sanitized run in which every test passed
printf '# TOTAL: 3\n# PASS:  3\n# FAIL:  0\n# XPASS: 0\n# ERROR: 0\n' >"$fake/asan-ci.log"
# asan-ci.sh with a status file; prints its "not ok" lines
run_asan_ci() {
    printf '%s\n' "$1" >"$fake/asan-ci.status"
    top_builddir=$fake VMCTL_CI_RUN=$2 CI=true sh "$top_srcdir/tests/fuzz/asan-ci.sh" 2>&1 | grep '^not ok' | sed 's/^not ok [0-9]* - //'
}

is "this run, this commit, exit 0: every point passes" "$(run_asan_ci "0 $head 7.1" 7.1)" ""
is "a file left by another run is not taken" "$(run_asan_ci "0 $head 6.9" 7.1)" "make check-asan: made by this run"
is "a file of another commit is not taken" "$(run_asan_ci "0 0123abc 7.1" 7.1)" "make check-asan: of this commit"
is "the old format (a bare status) is not taken" "$(run_asan_ci "0" 7.1 | head -n 1)" "make check-asan: made by this run"
is "a run that failed fails" "$(run_asan_ci "1 $head 7.1" 7.1)" "make check-asan exited 0"
tap_done
