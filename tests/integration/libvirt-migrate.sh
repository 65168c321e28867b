#!/bin/sh
# libvirt-migrate.sh: vmctld --driver libvirt against two real libvirtds on
# this machine (each in its own mount and UTS namespace: two "hosts").
# The tiny guest is launched through the driver, its dirty rate measured
# through libvirt, and it is live-migrated a -> b -> a with the proof:
# every page of the source against the destination, the page stamps and
# the guest's VERIFY. Made to fail: a destination page corrupted before
# the compare (FAIL naming the page, the destination left paused), the
# destination QEMU killed mid-migration (error, the source runs on).
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/libvirtd.sh"

if ! have_libvirtd || ! is_root; then
    skip "libvirt driver and migration between two libvirtds" "needs root, libvirtd, virsh and unshare" libvirt
    tap_done
fi
if ! kvm_or_lab; then
    skip "libvirt driver and migration between two libvirtds" "$lab_why" kvm
    tap_done
fi

pa=$(free_port)
pb=$(free_port)
while [ "$pb" = "$pa" ]; do pb=$(free_port); done
G=lvm$$ # a name no other test's QEMU has: the host oracle finds QEMUs by name

if ! libvirtd_start a "$pa"; then
    not_ok "libvirtd a starts"
    tap_done
fi
if ! libvirtd_start b "$pb"; then
    not_ok "libvirtd b starts"
    tap_done
fi
ok "two private libvirtds start (ports $pa, $pb)"
Va() { virsh -q -c "$LV_URI_a" "$@"; }
Vb() { virsh -q -c "$LV_URI_b" "$@"; }

# the test's guests die before their libvirtd
on_exit "libvirtd_end_guests '$G' '${G}k' '${G}p'"

# start_vmctld TAG URI: a private vmctld with the libvirt driver; sets
# VMCTL_SOCKET for the vmctl calls that follow
start_vmctld() {
    mkdir -p "$TEST_TMP/run-$1"
    "$VMCTLD" --driver libvirt --connect "$2" --socket "$TEST_TMP/run-$1/vmctld.sock" \
        --state-dir "$TEST_TMP/state" >"$TEST_TMP/vmctld-$1.log" 2>&1 &
    eval "VMCTLD_PID_$1=$!"
    on_exit "kill $!"
    export VMCTL_SOCKET="$TEST_TMP/run-$1/vmctld.sock"
    i=0
    while [ $i -lt 100 ]; do
        printf '{"execute":"ping"}\n' | nc -U -N "$VMCTL_SOCKET" 2>/dev/null | grep -q '"pid"' && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# mig ARGS...: vmctl migrate --json; sets rc and out (the result: the last
# line, after the streamed events)
mig() {
    "$VMCTL" migrate "$@" --json >"$TEST_TMP/mig.out" 2>&1
    rc=$?
    out=$(tail -n 1 "$TEST_TMP/mig.out")
}
# phases FILE: a migration's phases in order, on one line
phases() { jq -r 'select(.event == "migration-phase") | .data.phase' "$1" | tr '\n' ' ' | sed 's/ $//'; }
use_vmctld() { export VMCTL_SOCKET="$TEST_TMP/run-$1/vmctld.sock"; }
export VMCTL_STATE_DIR="$TEST_TMP/state"

out=$("$VMCTLD" --driver xen --state-dir "$TEST_TMP/x" 2>&1)
is "vmctld: an unknown driver is refused" "$?:$out" "2:vmctld: --driver 'xen' is not one of qemu, libvirt"
out=$("$VMCTLD" --connect "$LV_URI_a" --state-dir "$TEST_TMP/x" 2>&1)
is "vmctld: --connect without the libvirt driver is refused" "$?:$out" \
    "2:vmctld: --connect '$LV_URI_a' needs --driver libvirt"
out=$("$VMCTLD" --driver libvirt --connect qemu+unix:///system?socket=$TEST_TMP/nowhere --socket "$TEST_TMP/x.sock" \
    --state-dir "$TEST_TMP/x" 2>&1)
like "vmctld: an unreachable libvirt is one line naming the URI" "$?:$out" \
    "^1:vmctld: cannot connect to libvirt at 'qemu\+unix:///system\?socket=$TEST_TMP/nowhere': "

if ! start_vmctld a "$LV_URI_a"; then
    not_ok "vmctld --driver libvirt starts"
    diag "$(cat "$TEST_TMP/vmctld-a.log")"
    tap_done
fi
ok "vmctld --driver libvirt --connect URI starts"

# --- launch, state, dirty rate ---------------------------------------------
out=$("$VMCTL" launch $G --memory 128M --accel kvm --rate 5000 --json 2>&1)
is "launch through the driver" "$(printf '%s' "$out" | jq -r '.driver + " " + .state' 2>&1)" "libvirt running"
[ "$(printf '%s' "$out" | jq -r .state 2>/dev/null)" = running ] || diag "$out"
is "libvirt runs the domain" "$(Va domstate $G 2>&1)" running
is "list shows it" "$("$VMCTL" list --json | jq -r --arg g $G '.[] | select(.name==$g) | .accel')" kvm
log=$("$VMCTL" info $G --json | jq -r .console_log)
check "the guest stamped its region (READY on its console log)" wait_for "$log" '^READY' 30
out=$("$VMCTL" launch $G --memory 128M --accel kvm 2>&1)
is "a second guest of the same name is refused" "$?:$out" "1:vmctl: guest '$G' already exists in libvirt at '$LV_URI_a'"

out=$("$VMCTL" dirty-rate $G --json 2>&1)
ratio=$(printf '%s' "$out" | jq -r .result.reference.ratio 2>/dev/null)
is "dirty rate through libvirt: mode for KVM" "$(printf '%s' "$out" | jq -r .mode 2>&1)" dirty-bitmap
check "dirty rate through libvirt is plausible against the configured 5000 pages/s (ratio $ratio)" \
    awk -v r="$ratio" 'BEGIN { exit !(r >= 0.5 && r <= 1.5) }'
[ -n "$ratio" ] && [ "$ratio" != null ] || diag "$out"
diag "dirty rate: $(printf '%s' "$out" | jq -c '.result | {rate_mbps, pages_per_s, ratio: .reference.ratio}' 2>/dev/null)"

out=$("$VMCTL" migrate $G --to "$LV_TCP_b" --shared 2>&1)
is "an option of local migration only is refused" "$?:$out" \
    "2:vmctl: option 'shared' is local migration's: the libvirt driver does not have it"

# --- a -> b, verified --------------------------------------------------------
mig $G --to "$LV_TCP_b"
is "migrate a -> b: PASS (exit 0)" "$rc:$(printf '%s' "$out" | jq -r .verdict 2>&1)" "0:PASS"
[ $rc -eq 0 ] || diag "$out"
pages=$(printf '%s' "$out" | jq -r .verify.pages.pages 2>/dev/null)
check "every page was compared ($pages)" test "${pages:-0}" -eq 32768
is "0 pages differ" "$(printf '%s' "$out" | jq -r .verify.pages.pages_differ 2>&1)" 0
check "the stamps were checked on the destination, none bad" \
    test "$(printf '%s' "$out" | jq -r '[.verify.stamps.checked > 0, .verify.stamps.bad == 0] | all' 2>&1)" = true
like "the guest's VERIFY on the destination" "$(printf '%s' "$out" | jq -r .verify.guest 2>&1)" '^VERIFY ok pages='
# one pipeline: the proof's phases and the pause it added, as local migration gives them
is "the phases, as local migration's" "$(phases "$TEST_TMP/mig.out")" "migrate completed compare resume guest-verify verdict"
check "the pause the proof added is reported" test "$(printf '%s' "$out" | jq -r '.verify.verification_pause_ms >= .verify.pages.compare_ms' 2>&1)" = true
diag "a -> b: $(printf '%s' "$out" | jq -c '{elapsed_ms, stats, pages: .verify.pages.pages, differ: .verify.pages.pages_differ, guest: .verify.guest}' 2>/dev/null)"
is "the domain runs in b" "$(Vb domstate $G 2>&1)" running
check "and is gone from a" sh -c "! virsh -q -c '$LV_URI_a' domstate $G >/dev/null 2>&1"
out=$("$VMCTL" info $G 2>&1)
is "vmctld at a no longer has it" "$?:$out" "1:vmctl: no guest '$G' in libvirt at '$LV_URI_a'"

# --- b -> a through a vmctld at b (a vmctld finds the guests in its libvirt) ---
if ! start_vmctld b "$LV_URI_b"; then
    not_ok "a second vmctld --driver libvirt starts"
fi
is "vmctld at b lists the guest" "$("$VMCTL" list --json | jq -r '.[].name')" $G
mig $G --to "$LV_TCP_a"
is "migrate b -> a: PASS with 0 differing pages" \
    "$(printf '%s' "$out" | jq -r '.verdict + " " + (.verify.pages.pages_differ|tostring)' 2>&1)" "PASS 0"
is "the domain runs in a again" "$(Va domstate $G 2>&1)" running

# a restarted vmctld finds its guests in libvirt (no state files)
use_vmctld a
kill "$VMCTLD_PID_a"
i=0
while ! gone "$VMCTLD_PID_a" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
start_vmctld a "$LV_URI_a" || not_ok "vmctld at a starts again"
is "a restarted vmctld finds the guest in libvirt" "$("$VMCTL" info $G --json | jq -r '.state + " " + .spec.kind' 2>&1)" \
    "running tiny"

# --- made to fail: a corrupted destination page -------------------------------
use_vmctld a
export VMCTL_MIGRATE_FAULT=dst-page:1234
mig $G --to "$LV_TCP_b"
unset VMCTL_MIGRATE_FAULT
is "fault dst-page:1234: FAIL (exit 1)" "$rc:$(printf '%s' "$out" | jq -r .verdict 2>&1)" "1:FAIL"
is "one page differs" "$(printf '%s' "$out" | jq -r .verify.pages.pages_differ 2>&1)" 1
is "and it is page 1234" "$(printf '%s' "$out" | jq -r '.verify.pages.blocks[0].first[0].page' 2>&1)" 1234
out_h=$(VMCTL_MIGRATE_FAULT= "$VMCTL" migrate nosuch --to "$LV_TCP_b" 2>&1)
is "migrating an unknown guest: one line" "$out_h" "vmctl: no guest 'nosuch' in libvirt at '$LV_URI_a'"
like "the result says what was kept" "$(printf '%s' "$out" | jq -r .kept 2>&1)" '^destination paused and not resumed'
is "the unproven destination stays paused, never run" "$(Vb domstate $G 2>&1)" paused
Vb destroy $G >/dev/null 2>&1

# --- made to fail: the destination QEMU killed mid-migration -------------------
"$VMCTL" launch ${G}k --memory 128M --accel kvm --rate 5000 >/dev/null 2>&1
wait_for "$("$VMCTL" info ${G}k --json | jq -r .console_log)" '^READY' 30
"$VMCTL" migrate ${G}k --to "$LV_TCP_b" --bandwidth 4M >"$TEST_TMP/kill.out" 2>&1 &
mig=$!
i=0
dpid=
while [ $i -lt 300 ] && [ -z "$dpid" ]; do
    dpid=$(cat "$TEST_TMP/libvirt-b/run/qemu/${G}k.pid" 2>/dev/null)
    sleep 0.1
    i=$((i + 1))
done
sleep 1 # the transfer is under way (4 MiB/s of 128 MiB)
[ -n "$dpid" ] && kill -9 "$dpid"
wait $mig
rc=$?
out=$(cat "$TEST_TMP/kill.out")
is "destination killed: the migration fails (exit 2)" "$rc" 2
like "with one line naming the guest and the source's state" "$out" \
    "^vmctl: migration of guest '${G}k' to '[^']*' failed: .*; the source is running$"
check "on one line" test "$(printf '%s\n' "$out" | wc -l)" -eq 1
is "the source domain runs on in a" "$(Va domstate ${G}k 2>&1)" running
check "and the guest's own check holds there" \
    sh -c "'$VMCTL' console ${G}k --send VERIFY --expect '^VERIFY ok' --timeout 30 >/dev/null"

# --- a destination whose memory this host cannot reach: said, not claimed ------
export VMCTL_MIGRATE_FAULT=dst-unreachable
mig ${G}k --to "$LV_TCP_b"
unset VMCTL_MIGRATE_FAULT
is "unreachable destination memory: PASS-UNCOMPARED on the guest's VERIFY alone, never a plain PASS" \
    "$rc:$(printf '%s' "$out" | jq -r '.verdict + " " + .verify.guest' 2>&1)" "0:PASS-UNCOMPARED VERIFY ok pages=32255"
is "the result says no page was compared" \
    "$(printf '%s' "$out" | jq -r '[.verify.pages_compared, .verify.pages] | map(tostring) | join(" ")' 2>&1)" "false null"
is "and why" "$(printf '%s' "$out" | jq -r .verify.host_oracle 2>&1)" \
    "destination memory not reachable from this host: pages not compared"
use_vmctld b
check "kill through the driver (vmctld at b)" sh -c "'$VMCTL' kill ${G}k >/dev/null"
check "the domain is gone from b" sh -c "! virsh -q -c '$LV_URI_b' domstate ${G}k >/dev/null 2>&1"
use_vmctld a

# --- postcopy ------------------------------------------------------------------
"$VMCTL" launch ${G}p --memory 128M --accel kvm --rate 5000 >/dev/null 2>&1
wait_for "$("$VMCTL" info ${G}p --json | jq -r .console_log)" '^READY' 30
mig ${G}p --to "$LV_TCP_b" --strategy postcopy --bandwidth 32M
is "postcopy a -> b: PASS-UNCOMPARED on stamps and VERIFY (exit 0)" "$rc:$(printf '%s' "$out" | jq -r .verdict 2>&1)" \
    "0:PASS-UNCOMPARED"
[ $rc -eq 0 ] || diag "$(grep -v migration-progress "$TEST_TMP/mig.out")"
is "postcopy was switched to" "$(printf '%s' "$out" | jq -r .stats.postcopy 2>&1)" true
is "the result says the pages were not compared" "$(printf '%s' "$out" | jq -r .verify.pages_compared 2>&1)" false
like "and why" "$(printf '%s' "$out" | jq -r .verify.host_oracle 2>&1)" '^postcopy: the destination runs before its last page arrives'
is "no verification pause is reported: the destination ran meanwhile" "$(printf '%s' "$out" | jq -r '.verify | has("verification_pause_ms")' 2>&1)" false
check "the stamps were checked on the destination with its writer paused, none bad" \
    test "$(printf '%s' "$out" | jq -r '[.verify.stamps.checked > 0, .verify.stamps.bad == 0, (.verify.guest_pause | startswith("OK"))] | all' 2>&1)" = true
like "the guest's VERIFY on the destination" "$(printf '%s' "$out" | jq -r .verify.guest 2>&1)" '^VERIFY ok pages='
diag "postcopy: $(printf '%s' "$out" | jq -c '{elapsed_ms, stats, stamps: .verify.stamps.checked, guest: .verify.guest}' 2>/dev/null)"
is "the domain runs in b" "$(Vb domstate ${G}p 2>&1)" running
check "and is gone from a" sh -c "! virsh -q -c '$LV_URI_a' domstate ${G}p >/dev/null 2>&1"
use_vmctld b
check "stop through the driver (vmctld at b)" sh -c "'$VMCTL' stop ${G}p >/dev/null"
check "the domain is gone from b" sh -c "! virsh -q -c '$LV_URI_b' domstate ${G}p >/dev/null 2>&1"

tap_done
