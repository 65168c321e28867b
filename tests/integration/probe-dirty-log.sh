#!/bin/sh
# probe-dirty-log.sh: `vmctl probe dirty-log` on every backing reachable here
# in every mode, and its negative controls: a page dropped from the harvest
# must come out as missing (FAIL), a page added to it as extra (FAIL), a
# round the guest writes while the slot's logging is off as missing through
# the whole KVM path (FAIL), a write to the backing behind KVM's back must
# come out of the completeness oracle (FAIL), all by page number; huge
# mappings measured with logging still on are "not restored" (FAIL).
. "$top_srcdir/tests/lib/tap.sh"

SIZE=64M
HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

if ! kvm_or_lab; then
    skip "dirty-log probe" "$lab_why" kvm
    tap_done
fi

hp_before=$(cat $HP 2>/dev/null || echo none)

# --- every backing x every mode ------------------------------------------
out=$TEST_TMP/all.json
$VMCTL --json probe dirty-log --size $SIZE >"$out" 2>"$TEST_TMP/all.err"
rc=$?
is "default probe exits 0" "$rc" 0
[ -s "$TEST_TMP/all.err" ] && diag "$(cat "$TEST_TMP/all.err")"
is "JSON says pass" "$(jq -r .pass "$out")" true
for b in anonymous thp memfd shm file hugetlbfs; do
    for m in bitmap clear ring; do
        v=$(jq -r --arg b $b --arg m $m '.results[] | select(.backing==$b and .mode==$m) | .verdict' "$out")
        if [ "$v" = "n/a" ] && [ $b = hugetlbfs ]; then
            skip "$b/$m passes" "$(jq -r --arg b $b --arg m $m '.results[] | select(.backing==$b and .mode==$m) | .reason' "$out")" hugetlb
            continue
        fi
        is "$b/$m passes" "$v" pass
    done
done
is "no page missing anywhere" "$(jq '[.results[] | .missing.count // 0] | add' "$out")" 0
is "every pass harvested what was written" \
    "$(jq '[.results[] | select(.verdict=="pass") | select(.written_pages != .harvested_pages)] | length' "$out")" 0
is "oracle applies on memfd, shm and file" \
    "$(jq '[.results[] | select(.backing=="memfd" or .backing=="shm" or .backing=="file") | select(.oracle.applies and .oracle.changed_pages > 0 and .oracle.misses.count == 0)] | length' "$out")" 9
is "oracle not applicable on anonymous memory" \
    "$(jq -r '.results[] | select(.backing=="anonymous" and .mode=="bitmap") | .oracle.applies' "$out")" false
is "clear mode: first harvest showed every page (INITIALLY_SET)" \
    "$(jq '[.results[] | select(.mode=="clear" and .verdict=="pass") | select(.initially_set and .initially_set_ok | not)] | length' "$out")" 0
is "ring mode: KVM_GET_DIRTY_LOG gives ENXIO while the ring is on" \
    "$(jq -r '[.results[] | select(.mode=="ring" and .verdict=="pass") | .ring.get_dirty_log_while_on] | unique | join(",")' "$out")" ENXIO
is "ring mode: the ring never filled" \
    "$(jq '[.results[] | select(.mode=="ring") | .ring.full_exits // 0] | add' "$out")" 0
is "KVM stats read before, during and after" \
    "$(jq '[.results[] | select(.verdict=="pass") | select(.stats.before.available and .stats.during.available and .stats.after.available | not)] | length' "$out")" 0
is "4K backings: huge pages not applicable" \
    "$(jq -r '.results[] | select(.backing=="memfd" and .mode=="ring") | .stats.huge_verdict' "$out")" \
    "not applicable: the backing has 4K pages"
like "thp: huge mappings measured or not applicable with the reason" \
    "$(jq -r '.results[] | select(.backing=="thp" and .mode=="bitmap") | .stats.huge_verdict' "$out")" \
    '^(huge mappings [0-9]+ before, [0-9]+ during, [0-9]+ after logging|not applicable: )'
is "raw integers for costs" \
    "$(jq -r '.results[] | select(.backing=="anonymous" and .mode=="clear") | [.cost.all.get_ns_per_gib, .cost.all.clear_ns_per_gib, .cost.few.harvest_ns_per_gib] | map(type) | unique | join(",")' "$out")" number
# nr_hugepages itself is shared with whatever else runs on the host: check
# what the probe says it reserved and gave back.
is "huge pages the probe reserved were given back" \
    "$(jq '[.results[] | select(.hugepages) | select(.hugepages.restored | not)] | length' "$out")" 0

# --- human table ----------------------------------------------------------
txt=$($VMCTL probe dirty-log --size 4M --rounds 4 --backend memfd --mode bitmap)
is "table exits 0" "$?" 0
like "table has the header" "$txt" '^BACKING +MODE +VERDICT +MISSING +EXTRA +ORACLE MISSES'
like "table row" "$txt" 'memfd +bitmap +PASS +0 +0 +0/[0-9]+ chg'

# --- negative control: a page dropped from every harvest -----------------
out=$TEST_TMP/drop.json
VMCTL_PROBE_FAULT=drop-page:100 $VMCTL --json probe dirty-log --size $SIZE --backend memfd --mode clear >"$out"
is "drop-page: exit 1" "$?" 1
is "drop-page: verdict fail" "$(jq -r '.results[0].verdict' "$out")" fail
is "drop-page: page 100 reported missing" "$(jq -c '.results[0].missing.first_pages' "$out")" "[100]"
is "drop-page: the oracle names page 100 too" "$(jq -c '.results[0].oracle.misses.first_pages' "$out")" "[100]"
is "drop-page: the INITIALLY_SET check fails too" "$(jq -r '.results[0].initially_set_ok' "$out")" false
is "drop-page: the result says it was made under an injected fault" "$(jq -r .injected_fault "$out")" \
    "VMCTL_PROBE_FAULT=drop-page:100"
txt=$(VMCTL_PROBE_FAULT=drop-page:0 $VMCTL probe dirty-log --size 4M --rounds 4 --backend anonymous --mode ring)
is "drop-page in ring mode: exit 1" "$?" 1
like "drop-page in ring mode: table says FAIL and names page 0" "$txt" 'anonymous/ring: missing from the harvest: pages 0 '
like "and says the fault was injected, not measured" "$txt" \
    'under an injected test fault: VMCTL_PROBE_FAULT=drop-page:0 \(not a measurement of this host\)'

# --- negative control: a page harvested that was never written ----------
out=$TEST_TMP/extra.json
VMCTL_PROBE_FAULT=extra-page:300 $VMCTL --json probe dirty-log --size $SIZE --backend anonymous --mode bitmap >"$out"
is "extra-page: exit 1" "$?" 1
is "extra-page: verdict fail, nothing missing" "$(jq -r '.results[0] | .verdict + "/" + (.missing.count | tostring)' "$out")" \
    fail/0
is "extra-page: page 300 reported extra" "$(jq -c '.results[0].extra.first_pages' "$out")" "[300]"

# --- negative control through KVM: a round written with logging off ------
# the slot's KVM_MEM_LOG_DIRTY_PAGES is cleared for round 0 (the 7 pages of
# the "few" pattern) and set again before the harvest: KVM never logs them
for m in bitmap ring; do
    out=$TEST_TMP/logoff-$m.json
    VMCTL_PROBE_FAULT=log-off:0 $VMCTL --json probe dirty-log --size $SIZE --backend memfd --mode $m >"$out"
    is "log-off, $m: exit 1" "$?" 1
    is "log-off, $m: the round's pages are missing, by number" \
        "$(jq -c '.results[0].missing.first_pages[0:4]' "$out")" "[0,1,63,64]"
    is "log-off, $m: the oracle saw the same writes go unharvested" "$(jq -c '.results[0].oracle.misses.first_pages[0:4]' "$out")" \
        "[0,1,63,64]"
done
out=$TEST_TMP/logoff-clear.json
VMCTL_PROBE_FAULT=log-off:0 $VMCTL --json probe dirty-log --size $SIZE --backend memfd --mode clear >"$out"
is "log-off, clear: exit 1" "$?" 1
# logging set again under INITIALLY_SET marks every page: the unwritten ones are extra
is "log-off, clear: every unwritten page comes back as extra" "$(jq '.results[0].extra.count' "$out")" \
    "$(($(numfmt --from=iec $SIZE) / 4096 - 7))"
err=$(VMCTL_PROBE_FAULT=log-off:9 $VMCTL probe dirty-log --size 4M --rounds 4 --backend memfd --mode bitmap 2>&1 >/dev/null)
is "log-off of a round the probe does not run" "$err" "vmctl: VMCTL_PROBE_FAULT round 9 is not one of the 4 rounds"

# --- negative control: huge mappings measured with logging still on ------
out=$TEST_TMP/keep.json
VMCTL_PROBE_FAULT=keep-logging $VMCTL --json probe dirty-log --size $SIZE --backend thp --mode bitmap >"$out"
rc=$?
if [ "$(jq -r '.results[0].stats.huge_applicable' "$out")" = true ]; then
    is "keep-logging: exit 1" "$rc" 1
    like "keep-logging: thp huge mappings not restored" "$(jq -r '.results[0].stats.huge_verdict' "$out")" \
        ' after logging: not restored$'
    is "keep-logging: the dirty log itself still exact" "$(jq -r '.results[0].verdict' "$out")" pass
else
    skip "keep-logging control" "KVM mapped thp with 4K pages only here: $(jq -r '.results[0].stats.huge_verdict' "$out")" thp
fi

# --- a ring that fills: DIRTY_RING_FULL exits, duplicates deduplicated ---
out=$TEST_TMP/fill.json
VMCTL_PROBE_RING_FILL=1 $VMCTL --json probe dirty-log --size 16M --rounds 4 --backend memfd --mode ring \
    --ring-entries 1024 >"$out"
is "full ring: exit 0" "$?" 0
is "full ring: passes" "$(jq -r '.results[0].verdict' "$out")" pass
like "full ring: DIRTY_RING_FULL exits happened" "$(jq '.results[0].ring.full_exits' "$out")" '^[1-9][0-9]*$'
like "full ring: duplicate entries seen and dropped" "$(jq '.results[0].ring.duplicates' "$out")" '^[1-9][0-9]*$'
err=$($VMCTL probe dirty-log --size 4M --backend memfd --mode ring --ring-entries 1000 2>&1 >/dev/null)
like "ring size must be a power of two" "$err" "^vmctl: dirty ring of 1000 entries is not a power of two in \\[256, [0-9]+\\]$"

# --- negative control: a write to the backing behind KVM's back ----------
for b in file shm; do
    out=$TEST_TMP/hw-$b.json
    VMCTL_PROBE_FAULT=host-write:200 $VMCTL --json probe dirty-log --size $SIZE --backend $b --mode bitmap >"$out"
    is "host-write on $b: exit 1" "$?" 1
    is "host-write on $b: verdict fail" "$(jq -r '.results[0].verdict' "$out")" fail
    is "host-write on $b: oracle names page 200" "$(jq -c '.results[0].oracle.misses.first_pages' "$out")" "[200]"
    is "host-write on $b: exactness unaffected" "$(jq '.results[0].missing.count' "$out")" 0
done

# --- hugetlbfs file: oracle and control on a hugetlbfs mount --------------
if is_root && [ "$hp_before" != none ]; then
    mkdir -p "$TEST_TMP/huge"
    if mount -t hugetlbfs none "$TEST_TMP/huge" 2>/dev/null; then
        on_exit "umount '$TEST_TMP/huge'"
        out=$TEST_TMP/huge.json
        $VMCTL --json probe dirty-log --size 16M --rounds 4 --backend "hugetlbfs:$TEST_TMP/huge" >"$out"
        is "hugetlbfs file: exit 0" "$?" 0
        is "hugetlbfs file: all modes pass with the oracle" \
            "$(jq '[.results[] | select(.verdict=="pass" and .oracle.applies)] | length' "$out")" 3
        VMCTL_PROBE_FAULT=host-write:5 $VMCTL --json probe dirty-log --size 16M --rounds 4 \
            --backend "hugetlbfs:$TEST_TMP/huge" --mode ring >"$out"
        is "hugetlbfs file host-write: oracle names page 5" "$(jq -c '.results[0].oracle.misses.first_pages' "$out")" "[5]"
        umount "$TEST_TMP/huge"
    else
        skip "hugetlbfs file backing" "cannot mount hugetlbfs" hugetlb
    fi
else
    skip "hugetlbfs file backing" "needs root to mount hugetlbfs" hugetlb
fi

# --- errors: one line naming the thing ------------------------------------
err=$($VMCTL probe dirty-log --size 4M --backend devdax:/nonexistent/dax0.0 --mode bitmap 2>&1 >/dev/null)
is "devdax missing: exit 1" "$?" 1
is "devdax missing: one-line error" "$err" \
    "vmctl: backing 'devdax:/nonexistent/dax0.0' cannot be set up: open '/nonexistent/dax0.0' failed: No such file or directory"
err=$($VMCTL probe dirty-log --size 4M --backend fsdax:$TEST_TMP/plain-file --mode bitmap 2>&1 >/dev/null)
like "fsdax on a non-DAX file is refused" "$err" "^vmctl: backing 'fsdax:.*' cannot be set up: '.*' refused MAP_SYNC: not a file on a DAX filesystem$"
err=$($VMCTL probe dirty-log --mode pml 2>&1)
is "unknown mode" "$err" "vmctl: mode 'pml' is unknown: use bitmap, clear or ring"
err=$($VMCTL probe dirty-log --size 3M 2>&1)
is "size not 2M aligned" "$err" "vmctl: --size '3M' is not a multiple of 2M"
err=$(VMCTL_PROBE_FAULT=drop-page:99999 $VMCTL probe dirty-log --size 4M --backend memfd --mode bitmap 2>&1 >/dev/null)
is "fault page outside the slot" "$err" "vmctl: VMCTL_PROBE_FAULT page 99999 is outside the slot of 1024 pages"
$VMCTL probe nosuch >/dev/null 2>&1
is "unknown probe is a usage error" "$?" 2
is "'vmctl help probe' and 'vmctl probe --help' say the same" "$($VMCTL help probe)" "$($VMCTL probe --help)"
like "help lists the options" "$($VMCTL help probe)" '--backend=SPEC'
printf 'x' >"$TEST_TMP/small"
err=$($VMCTL probe dirty-log --size 4M --backend "fsdax:$TEST_TMP/small" --mode bitmap 2>&1 >/dev/null)
like "an existing fsdax file smaller than the slot is refused, not resized" "$err" "is 1 bytes, smaller than the slot"
is "and left as it was" "$(cat "$TEST_TMP/small")" x

tap_done
