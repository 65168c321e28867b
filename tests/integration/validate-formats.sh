#!/bin/sh
# validate-formats.sh: `vmctl validate --junit`, `--openmetrics` and
# `--compare`. The goldens of tests/data/report (rendered from real reports
# by tests/unit/test-report-formats) are checked against a JUnit XSD
# (xmllint) and the Prometheus text format (promtool where installed, and
# always the strict reader prom-text-check.py); both checkers are shown to
# refuse broken input. Then the command line: outputs of a real run of the
# kvm-device check, an output path that cannot be written, and two saved
# reports compared.
. "$top_srcdir/tests/lib/tap.sh"

data=$top_srcdir/tests/data/report
xsd=$data/junit.xsd
promcheck="python3 $top_srcdir/tests/integration/prom-text-check.py"
export VMCTL_SOCKET="$TEST_TMP/sock" VMCTL_STATE_DIR="$TEST_TMP/state"

# ---- JUnit XML against the XSD ----
if command -v xmllint >/dev/null 2>&1; then
    for f in "$data"/*.junit.xml; do
        out=$(xmllint --noout --schema "$xsd" "$f" 2>&1)
        check "$(basename "$f") validates against junit.xsd" test $? -eq 0 || diag "$out"
    done
    # the schema refuses what readers refuse
    printf '<?xml version="1.0"?>\n<testsuites><testsuite name="s" tests="1"><testcase classname="c"/></testsuite></testsuites>\n' \
        >"$TEST_TMP/noname.xml"
    out=$(xmllint --noout --schema "$xsd" "$TEST_TMP/noname.xml" 2>&1); rc=$?
    check "xsd refuses a testcase without a name (exit $rc)" test "$rc" -ne 0
    like "naming the missing attribute" "$out" "attribute 'name' is required"
    printf '<?xml version="1.0"?>\n<testsuites><testsuite name="s" tests="1"><testcase name="t"/><failure message="m">x</failure></testsuite></testsuites>\n' \
        >"$TEST_TMP/outside.xml"
    out=$(xmllint --noout --schema "$xsd" "$TEST_TMP/outside.xml" 2>&1); rc=$?
    check "xsd refuses a failure outside a testcase (exit $rc)" test "$rc" -ne 0
    like "naming the element" "$out" "Element 'failure': This element is not expected"
    printf '<?xml version="1.0"?>\n<testsuite name="s" tests="-1" timestamp="2026-01-01T00:00:00Z"><testcase name="t"><skipped/><failure/></testcase></testsuite>\n' \
        >"$TEST_TMP/counts.xml"
    out=$(xmllint --noout --schema "$xsd" "$TEST_TMP/counts.xml" 2>&1); rc=$?
    check "xsd refuses a negative count, a zoned timestamp, skipped with a failure (exit $rc)" test "$rc" -ne 0
    is "three problems found" "$(printf '%s\n' "$out" | grep -c 'validity error')" 3
else
    skip "JUnit XML against junit.xsd" "xmllint is not installed (Debian: libxml2-utils)"
fi

# ---- Prometheus text format ----
for f in "$data"/*.prom; do
    out=$($promcheck "$f" 2>&1)
    check "$(basename "$f"): strict exposition-format reader accepts it" test $? -eq 0 || diag "$out"
done
# bootstrap.sh check takes promtool out of Debian's prometheus package
promtool=$(command -v promtool || echo "$top_builddir/tools/bin/promtool")
if [ -x "$promtool" ]; then
    for f in "$data"/*.prom; do
        out=$("$promtool" check metrics <"$f" 2>&1)
        check "$(basename "$f"): promtool check metrics" test $? -eq 0 || diag "$out"
    done
    out=$(printf '# TYPE vmctl_x gauge\nvmctl_x 1 2 3\n' | "$promtool" check metrics 2>&1); rc=$?
    check "promtool refuses a line with a value after the timestamp (exit $rc)" test "$rc" -ne 0
    like "  naming the parse error" "$out" "parsing error"
else
    skip "promtool check metrics" "promtool is not installed (Debian: prometheus); the strict reader above stands in"
fi
# the reader refuses what the textfile collector refuses
bad() {
    out=$(printf "$2" | $promcheck 2>&1); rc=$?
    check "reader refuses $1 (exit $rc)" test "$rc" -eq 1
    like "  naming it" "$out" "$3"
}
bad "a duplicate series" '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n' '^3: duplicate series a'
bad "a bad metric name" 'vmctl-check 1\n' '^1: bad metric name'
bad "a name starting with a digit" '1vmctl 1\n' '^1: bad metric name'
bad "a bad escape in a label value" 'a{x="\\q"} 1\n' "^1: bad escape '.q' in label 'x'"
bad "an unescaped quote in a label value" 'a{x="a"b"} 1\n' "^1: expected , or \\} after label 'x'"
bad "the samples of one family split" 'a 1\nb 1\na{y="2"} 1\n' '^3: samples of family a split'
bad "a # TYPE after the family's samples" 'a 1\n# TYPE a gauge\n' '^2: # TYPE a after its samples'
bad "a timestamp" 'a 1 1700000000000\n' 'refuses timestamps'
bad "a value that is no float" 'a one\n' "^1: value 'one' of a is not a float"
bad "a last line without newline" 'a 1' 'no newline'

# ---- the command line: a real run of one check ----
"$VMCTL" validate --only kvm-device --junit "$TEST_TMP/r.xml" --openmetrics "$TEST_TMP/r.prom" \
    --json >"$TEST_TMP/r.json" 2>"$TEST_TMP/r.err"
rc=$?
check "validate --only kvm-device --junit --openmetrics exits 0 (exit $rc)" test "$rc" -eq 0 || diag "$(cat "$TEST_TMP/r.err")"
is "one testcase, for kvm-device" "$(grep -c '<testcase ' "$TEST_TMP/r.xml")" 1
like "the testsuite has the run's timestamp and hostname" "$(cat "$TEST_TMP/r.xml")" \
    '<testsuite name="vmctl validate" tests="1" .* timestamp="[0-9T:-]+" hostname="[^"]+">'
if command -v xmllint >/dev/null 2>&1; then
    check "the run's JUnit validates" xmllint --noout --schema "$xsd" "$TEST_TMP/r.xml"
fi
out=$($promcheck "$TEST_TMP/r.prom" 2>&1)
check "the run's metrics are read ($out)" test $? -eq 0
st=$(jq -r '.checks[0].status' "$TEST_TMP/r.json")
like "its status sample matches the JSON ($st)" "$(cat "$TEST_TMP/r.prom")" \
    "^vmctl_check_status\\{check=\"kvm-device\",status=\"$st\"\\} 1\$"
like "the JSON has the vmctl version and start" "$(jq -r '.vmctl_version + " " + .started' "$TEST_TMP/r.json")" \
    '^[0-9]+\.[0-9]+\.[0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'

# an output that cannot be written: one line naming the path, nothing left
out=$("$VMCTL" validate --only kvm-device --junit "$TEST_TMP/no/such/dir/r.xml" 2>&1); rc=$?
is "--junit in a missing directory exits 2" "$rc" 2
is "  with one line naming the path" "$out" \
    "vmctl: --junit '$TEST_TMP/no/such/dir/r.xml': cannot write in '$TEST_TMP/no/such/dir': No such file or directory"
mkdir "$TEST_TMP/adir"
out=$("$VMCTL" validate --only kvm-device --openmetrics "$TEST_TMP/adir" 2>&1); rc=$?
is "--openmetrics naming a directory exits 2" "$rc" 2
is "  with one line" "$out" "vmctl: --openmetrics '$TEST_TMP/adir': is a directory"
# /proc takes no new file, even from root: the run happens, the write fails
out=$("$VMCTL" validate --only kvm-device --junit /proc/vmctl-report.xml 2>&1 >/dev/null); rc=$?
is "--junit that fails at the write exits 2" "$rc" 2
is "  one line" "$(printf '%s\n' "$out" | wc -l)" 1
like "  naming the path" "$out" "^vmctl: --junit '/proc/vmctl-report.xml': cannot create '/proc/vmctl-report.xml.tmp"
check "  nothing written" test ! -e /proc/vmctl-report.xml
is "  no temporary file left" "$(ls /proc | grep -c vmctl-report)" 0

# ---- --compare ----
out=$("$VMCTL" validate --compare "$data/kvm.json" "$data/kvm.json" 2>&1); rc=$?
is "a report against itself exits 0" "$rc" 0
is "  saying no changes" "$out" "no changes"
out=$("$VMCTL" validate --compare "$data/kvm.json" "$data/compare/kvm-changed.json" 2>&1); rc=$?
is "a report made to change exits 1" "$rc" 1
like "  naming the check that failed" "$out" '^regression   check dirty-log/memfd/ring: PASS -> FAIL$'
like "  and the figure that moved" "$out" \
    '^regression   figure migration_elapsed_seconds of migration/tiny: 2.393 s -> 4.8 s \(beyond its band of \+-1.197 s\)$'
like "  and the count" "$out" '^2 changes, 2 regressions, 0 improvements$'
out=$("$VMCTL" validate --compare "$data/compare/kvm-changed.json" "$data/kvm.json" 2>&1); rc=$?
is "the other way round exits 0" "$rc" 0
like "  an improvement" "$out" '^improvement  check dirty-log/memfd/ring: FAIL -> PASS$'
out=$("$VMCTL" validate --compare "$data/kvm.json" "$data/compare/kvm-changed.json" --json); rc=$?
is "--json exits 1 too" "$rc" 1
is "  regressions in the JSON" "$(printf '%s' "$out" | jq -c '[.regressions, [.changes[] | select(.regression) | .id]]')" \
    '[2,["dirty-log/memfd/ring","migration_elapsed_seconds migration/tiny"]]'
is "  the files named" "$(printf '%s' "$out" | jq -r '.old | endswith("kvm.json")')" true
# the real reports of this host with and without KVM
out=$("$VMCTL" validate --compare "$data/kvm.json" "$data/nokvm.json" 2>&1); rc=$?
is "this host's report with KVM, then without, exits 1" "$rc" 1
like "  migration/tiny failed under TCG" "$out" '^regression   check migration/tiny: PASS -> FAIL$'
like "  kvm-device no longer applies" "$out" '^changed      check kvm-device: PASS -> NOT APPLICABLE$'
like "  the host fact says why" "$out" '^host         kvm available: true -> false$'
like "  one regression" "$out" ', 1 regression, 0 improvements$'
out=$("$VMCTL" validate --compare "$data/kvm.json" "$data/dirty-log-fault.json" 2>&1); rc=$?
is "a report of fewer checks, some failing, exits 1" "$rc" 1
like "  lists removed checks" "$out" '^removed      check migration/tiny: was PASS$'

# bad input: exit 2, one line naming the file and the rule
echo '{"verdict": "pass"}' >"$TEST_TMP/OLD.json"
out=$("$VMCTL" validate --compare "$TEST_TMP/OLD.json" "$data/kvm.json" 2>&1); rc=$?
is "a JSON without checks exits 2" "$rc" 2
is "  one line naming the file and the rule" "$out" "vmctl: $TEST_TMP/OLD.json: not a vmctl validate report (no checks array)"
printf '{"checks": [' >"$TEST_TMP/cut.json"
out=$("$VMCTL" validate --compare "$data/kvm.json" "$TEST_TMP/cut.json" 2>&1); rc=$?
is "a cut JSON exits 2" "$rc" 2
like "  one line naming it" "$out" "^vmctl: $TEST_TMP/cut.json: not a vmctl validate report \\(not JSON: unexpected end at byte 12\\)\$"
echo '{"checks": []} x' >"$TEST_TMP/more.json"
out=$("$VMCTL" validate --compare "$TEST_TMP/more.json" "$data/kvm.json" 2>&1); rc=$?
is "a JSON with more after it exits 2" "$rc" 2
is "  one line" "$out" "vmctl: $TEST_TMP/more.json: not a vmctl validate report (not JSON: more after the value at byte 15)"
out=$("$VMCTL" validate --compare "$TEST_TMP/none.json" "$data/kvm.json" 2>&1); rc=$?
is "a missing file exits 2" "$rc" 2
is "  one line" "$out" "vmctl: $TEST_TMP/none.json: cannot read: No such file or directory"
out=$("$VMCTL" validate --compare "$data/kvm.json" 2>&1); rc=$?
is "--compare with one report exits 2" "$rc" 2
is "  one line" "$out" "vmctl validate: --compare takes two reports: OLD.json NEW.json"
out=$("$VMCTL" validate --compare --tap "$data/kvm.json" "$data/kvm.json" 2>&1); rc=$?
is "--compare with --tap exits 2" "$rc" 2
is "  one line" "$out" "vmctl validate: --compare runs no check and takes only --json and --html"

# --compare --html: the same comparison as a page, a row per change
"$VMCTL" validate --compare "$data/kvm.json" "$data/nokvm.json" --html "$TEST_TMP/cmp.html" >"$TEST_TMP/cmp.txt"
is "--compare --html exits 1 on the regression too" "$?" 1
n=$("$VMCTL" validate --compare "$data/kvm.json" "$data/nokvm.json" --json | jq '.changes | length')
is "  a row per change ($n)" "$(grep -c '^<tr class="' "$TEST_TMP/cmp.html")" "$n"
is "  the regression row names migration/tiny" \
    "$(grep -c '^<tr class="regression"><td>regression</td><td>status</td><td>migration/tiny</td><td>PASS</td><td>FAIL</td>' "$TEST_TMP/cmp.html")" 1
like "  the counts on top" "$(cat "$TEST_TMP/cmp.html")" '<p id="verdict" class="fail">[0-9]+ changes, 1 regression, 0 improvements</p>'
like "  both reports' kernels side by side" "$(cat "$TEST_TMP/cmp.html")" '<tr><th>kernel</th><td>[^<]+</td><td>[^<]+</td></tr>'
check "  self-contained: no script, no external resource" sh -c "! grep -qiE '<script|src=|<link' '$TEST_TMP/cmp.html'"
"$VMCTL" validate --compare "$data/kvm.json" "$data/kvm.json" --html "$TEST_TMP/same.html" >/dev/null
like "the same report against itself: no changes" "$(cat "$TEST_TMP/same.html")" '<p id="verdict" class="pass">no changes</p>'
out=$("$VMCTL" validate --compare "$data/kvm.json" "$data/kvm.json" --html /nonexistent/x.html 2>&1); rc=$?
is "--compare --html into a missing directory exits 2, one line" "$rc:$(printf '%s\n' "$out" | wc -l)" "2:1"

tap_done
