#!/bin/sh
# replay.sh: every seed corpus and regression input of tests/fuzz fed to its
# fuzz target, built without libFuzzer (tests/fuzz/replay-NAME), so that an
# input that once broke a parser keeps being tried by every `make check`.
. "$top_srcdir/tests/lib/tap.sh"

targets="size guest-spec domain hook mountinfo sysfs page-stamp guest-line qmp qmp-schema vmctld"
fuzz_src="$top_srcdir/tests/fuzz"

for t in $targets; do
    dirs="$fuzz_src/corpus/$t"
    [ -d "$fuzz_src/regressions/$t" ] && dirs="$dirs $fuzz_src/regressions/$t"
    # shellcheck disable=SC2086
    if out=$("$top_builddir/tests/fuzz/replay-$t" $dirs 2>&1); then
        ok "fuzz target $t replays its inputs ($(echo "$out" | sed 's|.*/tests/fuzz/||' | tr '\n' ' '))"
    else
        not_ok "fuzz target $t replays its inputs"
        diag "$out"
    fi
done

# A replay that fed nothing proves nothing: it must fail.
mkdir "$TEST_TMP/empty"
if "$top_builddir/tests/fuzz/replay-size" "$TEST_TMP/empty" >/dev/null 2>&1; then
    not_ok "a replay of an empty directory fails"
else
    ok "a replay of an empty directory fails"
fi

# An input that cannot be read is an error, not an input skipped.
if "$top_builddir/tests/fuzz/replay-size" "$TEST_TMP/no-such-input" >/dev/null 2>&1; then
    not_ok "a replay of a missing input fails"
else
    ok "a replay of a missing input fails"
fi

tap_done
