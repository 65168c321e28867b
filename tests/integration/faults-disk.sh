#!/bin/sh
# faults-disk.sh: full disks. The state dir on a full tmpfs: launch fails
# with one line naming the state dir and ENOSPC, no QEMU is left, no state
# file and no temp file of a half-written one. A backing file on a tmpfs
# without room for the guest's RAM: refused up front by the backend's size
# rule, for a new file and for a sparse file of the right size (its
# missing blocks count); a fully allocated file on the same full tmpfs
# needs nothing more and runs.
. "$top_srcdir/tests/lib/tap.sh"

if ! is_root; then
    skip "full-disk faults" "mounting a tmpfs needs root" root
    tap_done
fi
if ! have_qemu; then
    skip "full-disk faults" "no QEMU" qemu
    tap_done
fi
. "$top_srcdir/tests/lib/vmctld.sh"

M="$TEST_TMP/full"
mkdir -p "$M"
mount -t tmpfs -o size=40M tmpfs "$M" || { not_ok "mount a 40M tmpfs at $M"; tap_done; }
# after the daemon's cleanup (registered later, run first)
on_exit "umount -l '$M'"
private_vmctld
export VMCTL_STATE_DIR="$M/state"
S="$VMCTL_STATE_DIR"

# qemus: QEMU processes whose command line names this test's dir
qemus() { pgrep -f -- "-name guest=.*$TEST_TMP" 2>/dev/null | wc -l; }
fill() { dd if=/dev/zero of="$M/fill" bs=64k 2>/dev/null; sync; }

# --- the state dir on a full file system
"$VMCTL" list >/dev/null # starts vmctld with its state dir on the tmpfs
fill
check "the tmpfs is full" test "$(df --output=avail -B1 "$M" | tail -n 1)" -lt 4096
out=$("$VMCTL" launch d1 --memory 16M --backend "$TEST_TMP/d1.ram" --accel tcg 2>&1)
rc=$?
is "full state dir: launch exits 1" "$rc" 1
is "full state dir: the error is one line" "$(printf '%s\n' "$out" | wc -l)" 1
like "full state dir: the error names the state dir and ENOSPC" "$out" \
    "^vmctl: cannot record guest 'd1' in state dir '$S': .*No space left on device$"
diag "$out"
is "full state dir: no QEMU is left" "$(qemus)" 0
check "full state dir: no state file" test ! -e "$S/d1.json"
is "full state dir: no temp file of a state file" "$(ls -a "$S" | grep -c '\.tmp\.')" 0
check "full state dir: no run dir" test ! -e "$S/run/d1"
is "full state dir: nothing is listed" "$("$VMCTL" list --json | jq length)" 0
rm -f "$M/fill"
"$VMCTL" launch d1 --memory 16M --backend "$TEST_TMP/d1.ram" --accel tcg >/dev/null
is "with room again the same launch works" "$(info d1 .state)" running
"$VMCTL" kill d1 >/dev/null
kill "$(daemon_pid)"

# --- a backing file on a full file system (the state dir elsewhere again)
export VMCTL_STATE_DIR="$TEST_TMP/state"
S="$VMCTL_STATE_DIR"
dd if=/dev/zero of="$M/b3.ram" bs=1M count=16 2>/dev/null
fill
free=$(df --output=avail -B1 "$M" | tail -n 1)
out=$("$VMCTL" launch b1 --memory 16M --backend "$M/b1.ram" --accel tcg 2>&1)
is "new backing file larger than the free space: exits 1" "$?" 1
like "new backing file: refused by the size rule" "$out" \
    "^vmctl: size '16M' is larger than the .* free on the tmpfs filesystem of '$M/b1.ram'$"
diag "$out"
check "new backing file: not created" test ! -e "$M/b1.ram"
rm -f "$M/fill"
truncate -s 16M "$M/b2.ram"
fill
out=$("$VMCTL" launch b2 --memory 16M --backend "$M/b2.ram" --accel tcg 2>&1)
is "sparse backing file: exits 1" "$?" 1
like "sparse backing file: its missing blocks count" "$out" \
    "^vmctl: size '16M' is larger than the .* free on the tmpfs filesystem of '$M/b2.ram'$"
diag "$out"
is "refused backings: no QEMU, nothing listed" "$(qemus):$("$VMCTL" list --json | jq length)" 0:0
"$VMCTL" launch b3 --memory 16M --backend "$M/b3.ram" --accel tcg >/dev/null 2>"$TEST_TMP/b3.err"
is "a fully allocated backing file on the full tmpfs runs" "$(info b3 .state)" running
"$VMCTL" kill b3 >/dev/null
is "no QEMU is left" "$(qemus)" 0
tap_done
