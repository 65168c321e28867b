#!/bin/sh
# wss.sh: `vmctl wss` on tiny guests with a known working set (ws pages
# rewritten round robin at a rate), on anonymous and on file-backed RAM:
# the mechanism is the best one this host has, the estimate is in the right
# range, a larger working set gives a larger estimate, and forced mechanisms
# the host lacks fail with one line.
. "$top_srcdir/tests/lib/tap.sh"

if ! have_qemu; then
    skip "vmctl wss" "no QEMU" qemu
    tap_done
fi
if ! kvm_or_lab; then
    skip "vmctl wss" "$lab_why" kvm
    tap_done
fi

. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

# The mechanism this host should get (the same order as src/wss.h).
DAMON=/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds
# (both accessed-bit mechanisms need the frame numbers of
# /proc/PID/pagemap, root only; without them wss falls back to the dirty log)
if ! is_root; then
    expect_mech=dirty-log; key=written_pages
elif [ -e /sys/kernel/mm/page_idle/bitmap ]; then
    expect_mech=page-idle; key=accessed_pages
elif [ -e $DAMON ] && [ "$(cat $DAMON)" = 0 ]; then
    expect_mech=damon; key=accessed_pages
else
    expect_mech=dirty-log; key=written_pages
fi
diag "this host: page_idle $([ -e /sys/kernel/mm/page_idle/bitmap ] && echo yes || echo no), DAMON kdamonds $(cat $DAMON 2>/dev/null || echo none): expect $expect_mech"

SECONDS_=3
# Bounds: within 2x of ws. The write set from the dirty log is exact to
# QEMU's whole MB/s (steps of 256 pages x window, a few hundred pages here)
# plus the guest's control page and stack; DAMON merges regions of similar
# access (its granularity is a region, not a page) and page_idle also counts
# the guest's code, stack and page tables. 2x is what all three reach; the
# second guest (4x the working set) must come out more than twice as large,
# so the bound cannot pass for a number unrelated to the working set.
in_2x() { [ "$1" -ge $(($2 / 2)) ] && [ "$1" -le $(($2 * 2)) ]; }

# --- anonymous RAM, ws 8192 pages (32 MiB): the rate covers the working
# set several times in the window even on a loaded host
"$VMCTL" launch wa --memory 256M --rate 20000 --ws 8192 >/dev/null
check "the anonymous guest runs its workload" wait_for "$("$VMCTL" info wa --json | jq -r .console_log)" '^STAT' 30
out=$("$VMCTL" wss wa --seconds $SECONDS_ --json); rc=$?
is "wss exits 0" "$rc" 0
is "the mechanism is the best this host has" "$(printf '%s' "$out" | jq -r .mechanism)" "$expect_mech"
like "it says why" "$(printf '%s' "$out" | jq -r .why)" "."
is "anonymous RAM is not DAX" "$(printf '%s' "$out" | jq -r .dax)" false
wa=$(printf '%s' "$out" | jq -r ".$key")
diag "anonymous, ws 8192 pages: $key $wa ($(printf '%s' "$out" | jq -c '{mechanism, dirty_log_mode, written_quantum_pages, resolution_bytes, damon_regions}'))"
check "estimate $wa is within 2x of the 8192-page working set" in_2x "$wa" 8192
[ "$expect_mech" = dirty-log ] &&
    is "the dirty log is labelled writes only" "$(printf '%s' "$out" | jq -r .accessed)" false
human=$("$VMCTL" wss wa --seconds 1)
like "the human view names the mechanism" "$human" "^guest wa: $expect_mech over 1 s$"
like "and the resolution" "$human" "(resolution [0-9]+ bytes|steps of [0-9]+ pages)"
"$VMCTL" kill wa >/dev/null

# --- file-backed RAM (share=on), ws 32768 pages (128 MiB)
"$VMCTL" launch wf --memory 256M --backend "$TEST_TMP/wf.ram" --rate 50000 --ws 32768 >/dev/null
check "the file-backed guest runs its workload" wait_for "$("$VMCTL" info wf --json | jq -r .console_log)" '^STAT' 30
out=$("$VMCTL" wss wf --seconds $SECONDS_ --json); rc=$?
is "wss of a file-backed guest exits 0" "$rc" 0
is "its backing is a file" "$(printf '%s' "$out" | jq -r .backend_kind)" file
wf=$(printf '%s' "$out" | jq -r ".$key")
diag "file-backed, ws 32768 pages: $key $wf"
check "estimate $wf is within 2x of the 32768-page working set" in_2x "$wf" 32768
check "4x the working set gives more than 2x the estimate ($wa -> $wf)" test "$wf" -gt $((wa * 2))

# --- forced mechanisms this host lacks: one line, exit 1
if is_root && [ ! -e /sys/kernel/mm/page_idle/bitmap ]; then
    err=$("$VMCTL" wss wf --mechanism page-idle 2>&1); rc=$?
    is "page-idle without page_idle fails" "$rc:$err" \
        "1:vmctl: cannot open '/sys/kernel/mm/page_idle/bitmap': No such file or directory"
fi
if is_root && [ -e $DAMON ] && [ "$(cat $DAMON)" != 0 ]; then
    before=$(cat /sys/kernel/mm/damon/admin/kdamonds/0/state)
    err=$("$VMCTL" wss wf --mechanism damon 2>&1); rc=$?
    is "damon in use by another user is left alone" "$rc:$err" \
        "1:vmctl: DAMON is in use by another user ('$DAMON' is $(cat $DAMON))"
    is "and its kdamond keeps its state" "$(cat /sys/kernel/mm/damon/admin/kdamonds/0/state)" "$before"
fi
"$VMCTL" kill wf >/dev/null

# --- bad input
err=$("$VMCTL" wss wf --seconds 0 2>&1); rc=$?
is "a zero interval" "$rc:$err" "1:vmctl: --seconds '0' is not within 1..60"
err=$("$VMCTL" wss wf --mechanism psychic 2>&1); rc=$?
is "an unknown mechanism" "$rc:$err" "1:vmctl: --mechanism 'psychic' is not one of auto, page-idle, damon, dirty-log"
err=$("$VMCTL" wss nosuch 2>&1); rc=$?
is "an unknown guest" "$rc:$err" "1:vmctl: guest 'nosuch' does not exist"
tap_done
