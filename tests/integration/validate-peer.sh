#!/bin/sh
# validate-peer.sh: `vmctl validate --peer URI` against two real libvirtds on
# this machine (each in its own mount and UTS namespace: two "hosts"). The
# migration group also migrates the tiny guest from libvirtd a
# (--peer-local) to libvirtd b through the libvirt driver, verified page by
# page, reported as migration/peer/HOST with b's facts. Made to fail: a
# destination page corrupted before the compare (FAIL naming the page), a
# peer nobody listens for (ERROR, one line, exit 2). Nothing is left
# running afterwards.
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/libvirtd.sh"
. "$top_srcdir/tests/lib/vmctld.sh"

if ! have_libvirtd || ! is_root; then
    skip "validate --peer between two libvirtds" "needs root, libvirtd, virsh and unshare" libvirt
    tap_done
fi
if ! kvm_or_lab; then
    skip "validate --peer between two libvirtds" "$lab_why" kvm
    tap_done
fi

# migration/tiny runs too (the migration group): its vmctld is private
private_vmctld

pa=$(free_port)
pb=$(free_port)
while [ "$pb" = "$pa" ]; do pb=$(free_port); done
pc=$(free_port)
while [ "$pc" = "$pa" ] || [ "$pc" = "$pb" ]; do pc=$(free_port); done

if ! libvirtd_start a "$pa"; then
    not_ok "libvirtd a starts"
    tap_done
fi
if ! libvirtd_start b "$pb"; then
    not_ok "libvirtd b starts"
    tap_done
fi
ok "two private libvirtds start (ports $pa, $pb)"

# guests validate left behind die before their libvirtd
on_exit "libvirtd_end_guests 'validate-peer-*'"

# val ARGS...: vmctl validate --only migration --quick --json; sets rc, out
# (the report) and row (the migration/peer/ row)
val() {
    mkdir -p "$TEST_TMP/t"
    TMPDIR="$TEST_TMP/t" "$VMCTL" validate --only migration --quick --json "$@" >"$TEST_TMP/val.out" \
        2>"$TEST_TMP/val.err"
    rc=$?
    out=$(cat "$TEST_TMP/val.out")
    row=$(printf '%s' "$out" | jq -c '[.checks[] | select(.id | startswith("migration/peer/"))]' 2>/dev/null)
}
# nothing_left WHAT: no QEMU of a validate peer guest, no vmctld of
# validate's own (its socket is peer.sock), no domain in a or b, no file
# of validate's (its temporary directory is under $TEST_TMP/t)
nothing_left() {
    check "$1: no QEMU of a peer guest is left" sh -c "! pgrep -f 'guest=[v]alidate-peer-' >/dev/null"
    check "$1: no vmctld of validate's is left" sh -c "! pgrep -f 'vmctl[d].*peer[.]sock' >/dev/null"
    is "$1: no domain left in a or b" \
        "$(virsh -q -c "$LV_URI_a" list --all --name | grep -c .):$(virsh -q -c "$LV_URI_b" list --all --name | grep -c .)" \
        "0:0"
    is "$1: validate's temporary directory is removed" "$(ls -A "$TEST_TMP/t")" ""
}

# --- the command line ---------------------------------------------------------
out=$("$VMCTL" validate --peer 'not a uri' 2>&1)
like "a --peer that is not a URI: one line, exit 2" "$?:$out" "^2:vmctl: --peer 'not a uri' is not a libvirt URI"
check "on one line" test "$(printf '%s\n' "$out" | wc -l)" -eq 1
out=$("$VMCTL" validate --peer-local 'a b' --peer "$LV_TCP_b" 2>&1)
like "a --peer-local that is not a URI: one line, exit 2" "$?:$out" "^2:vmctl: --peer-local 'a b' is not a libvirt URI"
out=$("$VMCTL" validate --only ksm --peer "$LV_TCP_b" 2>&1)
is "--peer with --only leaving out migration is refused" "$?:$out" \
    "2:vmctl: --peer runs in the migration checks: --only 'ksm' leaves them out"
out=$("$VMCTL" validate --only migration --peer-local "$LV_URI_a" 2>&1)
is "--peer-local alone is refused" "$?:$out" "2:vmctl: --peer-local '$LV_URI_a' needs --peer"
check "--help names --peer" sh -c "'$VMCTL' validate --help | grep -q -- '--peer=URI'"
check "and --peer-local" sh -c "'$VMCTL' validate --help | grep -q -- '--peer-local=URI'"

# --- a -> b, verified --------------------------------------------------------
t0=$(date +%s)
val --peer-local "$LV_URI_a" --peer "$LV_TCP_b"
t1=$(date +%s)
is "one migration/peer/ row, named after b's hostname" "$(printf '%s' "$row" | jq -r '.[].id' 2>&1)" \
    "migration/peer/vmctl-lv-b"
is "PASS, and the run passes (exit 0)" "$rc:$(printf '%s' "$row" | jq -r '.[0].status' 2>&1)" "0:PASS"
[ $rc -eq 0 ] || diag "$(cat "$TEST_TMP/val.err"; printf '%s' "$row" | jq -c '.[0] | {summary, status}')"
like "the title names the peer" "$(printf '%s' "$row" | jq -r '.[0].title' 2>&1)" "peer 'vmctl-lv-b'"
pages=$(printf '%s' "$row" | jq -r '.[0].evidence.verify.pages.pages' 2>/dev/null)
check "pages were compared ($pages)" test "${pages:-0}" -gt 0
is "0 pages differ" "$(printf '%s' "$row" | jq -r '.[0].evidence.verify.pages.pages_differ' 2>&1)" 0
check "the stamps were checked on the destination, none bad" \
    test "$(printf '%s' "$row" | jq -r '.[0].evidence.verify.stamps | [.checked > 0, .bad == 0] | all' 2>&1)" = true
like "the guest's VERIFY on the destination" "$(printf '%s' "$row" | jq -r '.[0].evidence.verify.guest' 2>&1)" \
    '^VERIFY ok pages='
like "the summary: the verdict, the pages, the peer's versions" "$(printf '%s' "$row" | jq -r '.[0].summary' 2>&1)" \
    "^PASS: 0 of $pages pages differ \(pc.ram 0/$pages\); stamps 0 bad of [0-9]+; guest VERIFY ok.*; peer vmctl-lv-b: libvirt [0-9.]+, QEMU [0-9.]+"
is "the peer's facts in the evidence" \
    "$(printf '%s' "$row" | jq -r '.[0].evidence.peer | [.hostname, (.libvirt_version | test("^[0-9]+\\.")), .hypervisor, (.hypervisor_version | test("^[0-9]+\\.")), .uri] | map(tostring) | join(" ")' 2>&1)" \
    "vmctl-lv-b true QEMU true $LV_TCP_b"
is "and this host's side" "$(printf '%s' "$row" | jq -r '.[0].evidence.local.hostname' 2>&1)" vmctl-lv-a
is "migrated from a to b through the libvirt driver" \
    "$(printf '%s' "$row" | jq -r '.[0].evidence | [.driver, .from, .to] | join(" ")' 2>&1)" "libvirt $LV_URI_a $LV_TCP_b"
is "migration/tiny still runs beside it" "$(printf '%s' "$out" | jq -r '[.checks[].id] | join(" ")' 2>&1)" \
    "migration/tiny migration/peer/vmctl-lv-b"
diag "a -> b: $(printf '%s' "$row" | jq -c '.[0] | {duration_s: (.duration_ns / 1e9), pages: .evidence.verify.pages.pages, differ: .evidence.verify.pages.pages_differ, elapsed_ms: .evidence.elapsed_ms, peer: .evidence.peer}' 2>/dev/null); whole run $((t1 - t0)) s"
nothing_left "after a pass"

# --- made to fail: a corrupted destination page -------------------------------
VMCTL_MIGRATE_FAULT=dst-page:1234 val --peer-local "$LV_URI_a" --peer "$LV_TCP_b"
is "fault dst-page:1234: FAIL (exit 1)" "$rc:$(printf '%s' "$row" | jq -r '.[0].status' 2>&1)" "1:FAIL"
like "the summary names the page" "$(printf '%s' "$row" | jq -r '.[0].summary' 2>&1)" \
    '^FAIL: 1 of [0-9]+ pages differ \(pc\.ram 1/[0-9]+\), first pc\.ram page 1234;'
is "the evidence too" "$(printf '%s' "$row" | jq -r '.[0].evidence.verify.pages.blocks[0].first[0].page' 2>&1)" 1234
is "the report says it ran under a fault" "$(printf '%s' "$out" | jq -r .injected_fault 2>&1)" \
    "VMCTL_MIGRATE_FAULT=dst-page:1234"
diag "dst-page:1234: $(printf '%s' "$row" | jq -r '.[0].summary' 2>/dev/null)"
nothing_left "after a failure (the destination kept paused is ended)"

# --- a peer nobody listens for --------------------------------------------------
val --peer-local "$LV_URI_a" --peer "qemu+tcp://127.0.0.1:$pc/system"
is "unreachable peer: ERROR (exit 2)" "$rc:$(printf '%s' "$row" | jq -r '.[0].status' 2>&1)" "2:ERROR"
is "its row is named after the URI" "$(printf '%s' "$row" | jq -r '.[0].id' 2>&1)" \
    "migration/peer/qemu+tcp://127.0.0.1:$pc/system"
like "with a one-line reason naming it" "$(printf '%s' "$row" | jq -r '.[0].summary' 2>&1)" \
    "^cannot connect to libvirt at 'qemu\+tcp://127\.0\.0\.1:$pc/system': .+"
check "on one line" test "$(printf '%s' "$row" | jq -r '.[0].summary' | wc -l)" -eq 1
is "nothing on stderr" "$(cat "$TEST_TMP/val.err")" ""
nothing_left "after an unreachable peer"

# --- this host's side unreachable: every peer's row says so ----------------------
val --peer-local "qemu+tcp://127.0.0.1:$pc/system" --peer "$LV_TCP_b" --peer "$LV_TCP_a"
is "no local libvirt: one ERROR row per peer (exit 2)" \
    "$rc:$(printf '%s' "$row" | jq -r '[.[].status] | join(" ")' 2>&1)" "2:ERROR ERROR"
like "saying it is this host's side" "$(printf '%s' "$row" | jq -r '.[0].summary' 2>&1)" \
    "^this host's side \(--peer-local 'qemu\+tcp://127\.0\.0\.1:$pc/system'\): cannot connect to libvirt"
nothing_left "after an unreachable local side"

tap_done
