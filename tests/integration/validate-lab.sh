#!/bin/sh
# validate-lab.sh: `vmctl validate --lab bookworm,trixie`: the report's KVM
# and DAX checks run in a lab per kernel (device-dax and fsdax included),
# labelled as the lab kernel's; the kernel x check matrix and the known
# kernel changes with a measured column, in JSON, text and HTML. Made to
# fail: a dirty page dropped in the labs' probes (FAIL, exit 1), a kernel
# that does not exist (that lab an error, exit 2), bad options.
. "$top_srcdir/tests/lib/tap.sh"

need_lab "validate --lab"
cd "$TEST_TMP" || exit 1

# the host part is kept to its first check: the labs are the subject here
"$VMCTL" validate --quick --only kvm-device --lab bookworm,trixie --json --html "$TEST_TMP/r.html" \
    >"$TEST_TMP/r.json" 2>"$TEST_TMP/r.err"
rc=$?
j() { jq -r "$@" "$TEST_TMP/r.json" 2>/dev/null; }
is "validate --lab exits 0 when every lab check passes or cannot apply" "$rc" 0
if [ $rc -ne 0 ]; then
    diag "$(tail -n 5 "$TEST_TMP/r.err")"
    # every lab check that did not pass or apply, with its reason
    diag "$(j '.labs[] | .kernel as $k | (.error // empty | "\($k): \(.)"),
        (.report.checks[]? | select(.status != "PASS" and .status != "NOT APPLICABLE")
         | "\($k): \(.id) \(.status): \(.summary)")')"
fi
is "two lab sections, in the order asked" "$(j '[.labs[].kernel] | join(",")')" "bookworm,trixie"
like "bookworm's lab runs Debian 12's 6.1 kernel" "$(j '.labs[0].lab.release')" '^6\.1\.'
like "trixie's lab runs Debian 13's 6.12 kernel" "$(j '.labs[1].lab.release')" '^6\.12\.'
is "the host's own checks are only the host's" "$(j '[.checks[].id] | join(",")')" "kvm-device"
is "each lab ran its KVM and DAX checks" "$(j '[.labs[] | .report.checks | length > 10] | all')" true
for k in 0 1; do
    kn=$(j ".labs[$k].kernel")
    for m in bitmap clear ring; do
        is "$kn lab: dirty log exact on device-dax, $m" \
            "$(j --arg m $m ".labs[$k].report.checks[] | select(.id == \"dirty-log/devdax:/dev/dax0.0/\" + \$m) | .status")" PASS
    done
    is "$kn lab: dirty log exact on fsdax, bitmap" \
        "$(j ".labs[$k].report.checks[] | select(.id == \"dirty-log/fsdax:/mnt/fsdax1/bitmap\") | .status")" PASS
    is "$kn lab: the second device-dax too" \
        "$(j ".labs[$k].report.checks[] | select(.id == \"dirty-log/devdax:/dev/dax2.0/ring\") | .status")" PASS
    is "$kn lab: huge mappings of device-dax come back after logging" \
        "$(j ".labs[$k].report.checks[] | select(.id == \"huge-pages/devdax:/dev/dax0.0\") | .status")" PASS
    like "$kn lab: DAX accessed bits say plainly what they are" \
        "$(j ".labs[$k].report.checks[] | select(.id | startswith(\"accessed/devdax:\")) | .status + \": \" + .summary" | head -n1)" \
        '^(PASS|FAIL|NOT APPLICABLE): .+'
done
is "the matrix has a column per lab kernel" "$(j '.lab_matrix.kernels | join(",")')" "bookworm,trixie"
is "every matrix row has a cell per kernel" "$(j '[.lab_matrix.rows[] | .cells | length == 2] | all')" true
differs=$(j '[.lab_matrix.rows[] | select(.differs) | .id] | join(" ")')
diag "rows where the kernels differ: ${differs:-none}"
# DAMON: trixie's generic kernel has it, bookworm's 6.1 has not
is "the kernels differ where DAMON does: an accessed-bit row" \
    "$(j '[.lab_matrix.rows[] | select(.differs and (.id | startswith("accessed/")))] | length > 0')" true
is "bookworm's lab says it has no DAMON" "$(j '.labs[0].report.host.memory.damon_sysfs')" false
is "trixie's lab has DAMON" "$(j '.labs[1].report.host.memory.damon_sysfs')" true
# accessed bits where the lab's kernel has DAMON: measured through KVM's
# MMU-notifier aging, on ordinary memory and on DAX alike
a() { j ".labs[1].report.checks[] | select(.id == \"accessed/$1\") | $2"; }
is "trixie: DAMON sees the pages a KVM guest read on anonymous memory" "$(a anonymous .status)" PASS
like "trixie: on device-dax it was measured, not assumed, and said plainly" \
    "$(a devdax:/dev/dax0.0 '.status + ": " + .summary')" \
    '^NOT APPLICABLE: damon saw none of the [0-9]+ pages the guest read \(measured\): DAX \(ZONE_DEVICE\) pages are not on the LRU'
is "trixie: the device-dax evidence: pages read, pages seen" \
    "$(a devdax:/dev/dax0.0 '[.evidence.mechanism, .evidence.touched_pages > 0, .evidence.seen_touched_pages, .evidence.measured_blind] | @csv')" \
    '"damon",true,0,true'
like "trixie: fsdax likewise" "$(a fsdax:/mnt/fsdax1 .summary)" '\(measured\): DAX'
like "bookworm: no mechanism, and it says why" "$(j '.labs[0].report.checks[] | select(.id == "accessed/devdax:/dev/dax0.0") | .summary')" \
    'page_idle absent .* no DAMON sysfs interface \(and DAX pages are ZONE_DEVICE'
is "device-dax huge mappings: measured on both kernels" \
    "$(j '[.lab_matrix.changes[] | select(.id == "dax-huge-mappings") | .cells[].seen] | join(",")')" "seen,seen"
like "the fsdax 2M regression: the version rule and the measurement side by side" \
    "$(j '.lab_matrix.changes[] | select(.id == "fsdax-2m-regression") | .cells[0] | (.applies | tostring) + " / " + .seen + " (" + .measured + ")"')" \
    '^(true|false) / (seen|not seen) \([0-9]+ 2M mappings of an allocated, 2M-aligned fsdax file'
is "dirty marking reaches DAX pages on both kernels" \
    "$(j '[.lab_matrix.changes[] | select(.id == "zone-device-not-reserved") | .cells[].seen] | join(",")')" "seen,seen"
is "lab verdict" "$(j .lab_verdict)" pass
grep -q '<table id="lab-matrix">' "$TEST_TMP/r.html" && grep -q '<table id="lab-changes">' "$TEST_TMP/r.html"
is "the HTML page has the lab matrix and the known changes" "$?" 0
like "the HTML says the lab results are the labs' kernels', not the host's" "$(cat "$TEST_TMP/r.html")" \
    'Lab kernels \(results of the labs. kernels, not of this host\)'
is "the HTML matrix has a cell per kernel per row" \
    "$(grep -o '<td class="[a-z]*">\(PASS\|FAIL\|NOT APPLICABLE\|ERROR\|not run\)</td>' "$TEST_TMP/r.html" | wc -l)" \
    "$(($(j '.lab_matrix.rows | length') * 2))"

# --- made to fail ---------------------------------------------------------------
# a dirty page dropped by the probes inside the lab (the environment goes in)
VMCTL_PROBE_FAULT=drop-page:3 "$VMCTL" validate --quick --only kvm-device --lab bookworm >"$TEST_TMP/f.txt" 2>&1
is "a dropped dirty page in the lab: exit 1" "$?" 1
like "the lab's dirty-log rows FAIL naming the page" "$(cat "$TEST_TMP/f.txt")" \
    'dirty log exact: devdax:/dev/dax0.0, bitmap +FAIL +[0-9]+ written pages missing from the harvest \(3\)'
like "the text report says the lab verdict" "$(cat "$TEST_TMP/f.txt")" 'Lab verdict: fail'
like "and labels the lab's section as the lab kernel's" "$(cat "$TEST_TMP/f.txt")" \
    'Lab kernel bookworm \(results of the lab.s kernel, not of this host\)'

"$VMCTL" validate --quick --only kvm-device --lab no-such-kernel --json >"$TEST_TMP/e.json" 2>/dev/null
is "a kernel that does not exist: exit 2" "$?" 2
like "its lab section holds the one-line reason" "$(jq -r '.labs[0].error' "$TEST_TMP/e.json")" \
    "^lab image of kernel 'no-such-kernel' could not be made: "
is "lab verdict error" "$(jq -r '.lab_verdict' "$TEST_TMP/e.json")" error

out=$("$VMCTL" validate --only kvm-device,nope 2>&1)
is "an unknown check group: one line, exit 2" "$?:$(printf '%s\n' "$out" | wc -l)" "2:1"
like "naming it" "$out" "check group 'nope' is unknown"
out=$("$VMCTL" validate --lab bookworm,,trixie 2>&1)
is "an empty kernel name: exit 2" "$?" 2
like "naming the list" "$out" "--lab 'bookworm,,trixie' has an empty kernel name"
tap_done
