#!/bin/sh
# ksm-check.sh: `vmctl ksm-check` with real guests under vmctld. The
# positive control merges at least 90% of the identical pages, the
# negative check finds no KSM page in share=on file-backed guest RAM, the
# guests' VERIFY is clean and every KSM knob is as before. Each verdict is
# also made to fail: the negative check on anonymous memory (merged), the
# positive control on share=on files (never merged), a page corrupted in a
# guest's backing file (VERIFY bad). SIGINT and SIGTERM mid-run leave every
# knob as the test saved it and no guest or QEMU behind.
. "$top_srcdir/tests/lib/tap.sh"

KSM=/sys/kernel/mm/ksm
if ! is_root || ! have_ksm || [ ! -r /proc/kpageflags ]; then
    skip "ksm-check" "needs root, a writable $KSM and /proc/kpageflags" ksm
    tap_done
fi
if ! have_qemu; then
    skip "ksm-check" "no QEMU" qemu
    tap_done
fi

. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

# vmctl processes that change KSM knobs hold this flock (src/ksm.h); the
# script reads and writes knobs under it too, so that a concurrent KSM user
# (another test) never shows up as a knob that differs
LOCK=${VMCTL_KSM_LOCK:-/run/vmctl-ksm.lock}
locked() { (flock 9 && "$@") 9>>"$LOCK"; }

# every writable knob as NAME=VALUE, saved by this script itself
knobs() {
    for f in $(find "$KSM" -maxdepth 1 -type f -perm -u+w | sort); do
        printf '%s=%s\n' "${f##*/}" "$(cat "$f")"
    done
}
locked knobs >"$TEST_TMP/knobs.before"
on_exit "locked restore_knobs"
restore_knobs() {
    # a safety net only: the checks below compare before this runs
    while IFS='=' read -r k v; do
        [ "$(cat "$KSM/$k")" = "$v" ] || echo "$v" >"$KSM/$k"
    done <"$TEST_TMP/knobs.before"
}
knobs_as_before() { knobs | diff "$TEST_TMP/knobs.before" - >&2; }
# nothing of run PID left: no guest, no QEMU, no backing file
nothing_left() {
    [ "$("$VMCTL" list --json | jq length)" = 0 ] &&
        ! pgrep -f "guest=ksm-check-$1-" >/dev/null &&
        ! ls /dev/shm "${TMPDIR:-/tmp}" "$TEST_TMP/pos" 2>/dev/null | grep -q "ksm-check-$1-"
}
# wait_for_file PATH SECONDS
wait_for_file() {
    local i=0
    while [ $i -lt $(($2 * 10)) ]; do
        [ -e "$1" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# wait_for_guests PID N SECONDS: run PID has N guests under vmctld
wait_for_guests() {
    local i=0
    while [ $i -lt $(($3 * 10)) ]; do
        [ "$("$VMCTL" list --json 2>/dev/null | jq "[.[] | select(.name | startswith(\"ksm-check-$1-\"))] | length")" \
            -ge "$2" ] 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
pid_of() { jq -r '.checks[] | select(.id=="positive") | .evidence.guests[0].name' "$1" | sed 's/^ksm-check-\([0-9]*\)-.*/\1/'; }

# --- bad command lines: one line, exit 2, before anything is touched
out=$("$VMCTL" ksm-check --seconds 0 2>&1); rc=$?
is "--seconds 0 is refused" "$rc:$out" "2:vmctl: --seconds '0' must be at least 1"
out=$("$VMCTL" ksm-check --backend anonymous 2>&1); rc=$?
is "--backend anonymous is refused" "$rc:$out" \
    "2:vmctl: --backend 'anonymous' is not a share=on file backing: the negative check needs a path"
if command -v setpriv >/dev/null; then
    out=$(setpriv --reuid 65534 --regid 65534 --clear-groups "$VMCTL" ksm-check 2>&1); rc=$?
    is "not root: could not run" "$rc:$out" "2:vmctl: the KSM check needs root (KSM knobs, /proc/kpageflags)"
else
    skip "not root: could not run" "no setpriv" root
fi

# --- the check as it is meant to run: all four verdicts pass
"$VMCTL" ksm-check --json >"$TEST_TMP/pass.json" 2>"$TEST_TMP/pass.err"; rc=$?
is "ksm-check exits 0" "$rc" 0
is "under --json no progress is printed" "$(grep -c '^vmctl ksm-check: ' "$TEST_TMP/pass.err")" 0
J="$TEST_TMP/pass.json"
q() { jq -r "$1" "$J"; }
is "verdicts" "$(q '[.checks[] | .id + "=" + .status] | join(",")')" \
    "positive=PASS,negative=PASS,integrity=PASS,restore=PASS"
is "two guests of 64M with 500 per mille identical pages each" \
    "$(q '.checks[0].evidence.guests | map(.stamped_pages > 15000 and .identical_pages == (.stamped_pages * 500 / 1000 | floor)) | join(",")')" "true,true"
check "at least 90% of the identical pages are merged (page scan), the threshold stated" \
    test "$(q '.checks[0].evidence | .merged_pages * 100 >= .identical_pages * 90 and .identical_pages > 0 and .threshold_percent == 90')" = true
like "the summary states the threshold" "$(q '.checks[0].summary')" "identical pages merged \\([0-9.]+%, threshold 90%\\)"
check "and within the 60 s budget" test "$(q '.checks[0].evidence.half_merged_after_s <= 60')" = true
check "pages_sharing covers them" test "$(q '.checks[0].evidence | .pages_sharing >= .merged_pages / 2')" = true
like "per-process ksm_stat of each QEMU" "$(q '[.checks[0].evidence.guests[].ksm_stat.ksm_merging_pages] | map(. > 0) | join(",")')" "^true,true$"
is "the merge curve is a plottable series" \
    "$(q '.checks[0].evidence.series[0] | [.name, .x_label, (.points | length > 3), (.points[-1][1] > 0)] | join(",")')" \
    "pages_sharing,s,true,true"
is "negative: two share=on file guests, zero KSM pages in their guest RAM" \
    "$(q '.checks[1].evidence | [(.guests | length), .ksm_pages_in_guest_ram, (.guests | map(.guest_ram.present > 0) | all)] | join(",")')" \
    "2,0,true"
is "on tmpfs and on the filesystem of TMPDIR" \
    "$(q '.checks[1].evidence.guests | map(.backend | test("^/dev/shm/|^'"$(realpath "${TMPDIR:-/tmp}")"'/")) | join(",")')" "true,true"
check "with at least two full KSM scans behind the verdict" test "$(q '.checks[1].evidence.full_scans_in_run >= 2')" = true
like "VERIFY ok on all four guests" "$(q '[.checks[2].evidence.guests[].verify] | join(",")')" \
    "^VERIFY ok pages=[0-9]+(,VERIFY ok pages=[0-9]+){3}$"
is "restore: nothing differs" "$(q '.checks[3].evidence.differ | length')" 0
check "every knob equals the value this script saved" locked knobs_as_before
check "no guest, QEMU or backing file is left" nothing_left "$(pid_of "$J")"

# --- the negative check made to fail: guest RAM that KSM does merge
"$VMCTL" ksm-check --negative-backend anonymous --memory 32M >"$TEST_TMP/neg.txt" 2>"$TEST_TMP/neg.err"; rc=$?
is "a merged negative backing exits 1" "$rc" 1
# not a terminal: progress as plain lines on stderr, the merging ones a few
# seconds apart
like "progress: the guests launched" "$(cat "$TEST_TMP/neg.err")" "^vmctl ksm-check: launching guest 1 of [0-9]+$"
like "progress: the merge" "$(cat "$TEST_TMP/neg.err")" \
    "^vmctl ksm-check: merging: [0-9.]+ s, pages_sharing [0-9]+, [0-9]+ of [0-9]+ identical pages merged$"
like "progress: the settings restored" "$(cat "$TEST_TMP/neg.err")" "^vmctl ksm-check: stopping the guests, restoring the KSM settings$"
is "no terminal control characters" "$(tr -d '\n' <"$TEST_TMP/neg.err" | grep -c "$(printf '\r')")" 0
like "FAIL with the page count" "$(grep '^negative' "$TEST_TMP/neg.txt")" \
    "^negative +FAIL +[1-9][0-9]* KSM pages inside guest RAM: [0-9]+ in 'ksm-check-[0-9]+-neg1' \(anonymous, first at page"
like "the positive control still passes" "$(grep '^positive' "$TEST_TMP/neg.txt")" "^positive +PASS"
check "knobs as before" locked knobs_as_before

# --- the positive control, VERIFY and the restore made to fail: share=on
# files that KSM never merges, a page corrupted behind a guest's back, and a
# knob left as the run set it (a test hook)
mkdir -p "$TEST_TMP/pos"
set_knob() { echo "$2" >"$KSM/$1"; }
locked set_knob pages_to_scan 123 # not the run's 5000 (restored from knobs.before below)
VMCTL_KSM_CHECK_FAULT=keep-knob:pages_to_scan \
    "$VMCTL" ksm-check --positive-backend "$TEST_TMP/pos" --memory 32M --seconds 5 --json >"$TEST_TMP/fail.json" &
cpid=$!
check "the positive guests' backing file appears" wait_for_file "$TEST_TMP/pos/ksm-check-$cpid-pos1.ram" 30
wait_for "$VMCTL_STATE_DIR/run/ksm-check-$cpid-pos1/console.log" '^READY' 30
# stamped page 6000 (control page + 12000 pages after guest-physical 2 MiB)
printf 'CORRUPT!' | dd of="$TEST_TMP/pos/ksm-check-$cpid-pos1.ram" bs=1 seek=$((0x200000 + 4096 * 6001 + 200)) \
    conv=notrunc status=none
wait $cpid; rc=$?
J="$TEST_TMP/fail.json"
is "exits 1" "$rc" 1
is "verdicts" "$(q '[.checks[] | .id + "=" + .status] | join(",")')" \
    "positive=FAIL,negative=PASS,integrity=FAIL,restore=FAIL"
like "positive: none of the identical pages merged" "$(q '.checks[0].summary')" "^only 0 of [0-9]+ identical pages merged \\(0\\.0%\\), below the threshold of 90%"
is "integrity: the corrupted page is named" "$(q '.checks[2].evidence.guests[0].verify')" "VERIFY bad=1 first=6000"
is "restore: the knob left behind is named" "$(q '.checks[3].summary')" \
    'KSM settings ["pages_to_scan"] differ from before the run'
is "and it is the run's value" "$(locked cat "$KSM/pages_to_scan")" 5000
is "the report says it was made under an injected fault" "$(q .injected_fault)" "VMCTL_KSM_CHECK_FAULT=keep-knob:pages_to_scan"
locked restore_knobs
check "knobs as before (restored by this script)" locked knobs_as_before
check "nothing left" nothing_left "$cpid"

# --- interrupted mid-merge (SIGINT) and while launching (SIGTERM)
interrupt() { # SIGNAL WAIT-FOR-MERGING
    "$VMCTL" ksm-check >"$TEST_TMP/int.out" 2>&1 &
    ipid=$!
    if [ "$2" = yes ]; then
        wait_for_guests "$ipid" 4 30 && wait_for "$KSM/pages_to_scan" '^5000$' 30
        sleep 2 # into the merge phase
    else
        wait_for_guests "$ipid" 1 30
    fi
    kill -"$1" "$ipid"
    wait "$ipid"
}
interrupt INT yes; rc=$?
is "SIGINT mid-merge exits 2" "$rc" 2
# (the progress lines before it aside)
is "and says what it undid" "$(grep -v '^vmctl ksm-check: ' "$TEST_TMP/int.out")" \
    "vmctl: ksm-check was interrupted: 4 guests killed, KSM settings restored (SIGINT)"
check "every knob equals the value saved before" locked knobs_as_before
check "no guest, QEMU or backing file is left" nothing_left "$ipid"
interrupt TERM no; rc=$?
is "SIGTERM while launching exits 2" "$rc" 2
like "interrupted" "$(grep -v '^vmctl ksm-check: ' "$TEST_TMP/int.out")" "^vmctl: ksm-check was interrupted: [0-9] guests killed, KSM settings restored \(SIGTERM\)$"
check "every knob equals the value saved before" locked knobs_as_before
check "no guest, QEMU or backing file is left" nothing_left "$ipid"

tap_done
