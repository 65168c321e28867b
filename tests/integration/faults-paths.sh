#!/bin/sh
# faults-paths.sh: the host paths a request names (RAM backing, NVDIMM and
# virtio-pmem backings) must lie in vmctld's allow-list (VMCTLD_ALLOWED_PATHS,
# the config's allowed-paths): judged after resolving symlinks, with ".."
# refused, and one line "path 'X' is outside the allowed paths (...)". A
# dangling symlink is refused as such (QEMU 7.2 loops forever on one).
# The default list refuses /etc and /root.
. "$top_srcdir/tests/lib/tap.sh"

if ! have_qemu; then
    skip "path allow-list" "no QEMU" qemu
    tap_done
fi
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

A="$TEST_TMP/allowed"
O="$TEST_TMP/other"
mkdir -p "$A" "$O"
ln -s "$O" "$A/link-dir"
ln -s /etc/passwd "$A/passwd.ram"
ln -s "$O/o.ram" "$A/dangling.ram"

# refused NAME BACKEND [ARGS]: launch fails with the allow-list's error
refused() {
    _n=$1 _b=$2
    shift 2
    out=$("$VMCTL" launch "$_n" --memory 16M --backend "$_b" --accel tcg "$@" 2>&1)
    rc=$?
    is "$_n: refused with exit 1" "$rc" 1
    like "$_n: one line naming the path and the list" "$out" \
        "^vmctl: path '.*' is outside the allowed paths \\($A(;|\\))"
    check "$_n: not launched" test ! -e "$S/$_n.json"
}

# --- a daemon whose list is the allowed dir alone
export VMCTLD_ALLOWED_PATHS="$A"
"$VMCTL" launch in1 --memory 16M --backend "$A/in1.ram" --accel tcg >/dev/null
is "a backing inside the allowed dir runs" "$(info in1 .state)" running
"$VMCTL" kill in1 >/dev/null
"$VMCTL" launch mem1 --memory 16M --backend memfd --accel tcg >/dev/null
is "memfd names no path and runs" "$(info mem1 .state)" running
"$VMCTL" kill mem1 >/dev/null
refused out1 "$O/out1.ram"
check "out1: no file was made outside" test ! -e "$O/out1.ram"
refused link1 "$A/link-dir/l.ram"
check "link1: no file was made through the symlink" test ! -e "$O/l.ram"
refused passwd "$A/passwd.ram"
refused dangle "$A/dangling.ram"
check "dangle: the symlink's target was not made" test ! -e "$O/o.ram"
ln -s "$A/absent.ram" "$A/dangling-in.ram"
out=$("$VMCTL" launch dangle2 --memory 16M --backend "$A/dangling-in.ram" --accel tcg 2>&1)
like "a dangling symlink inside is refused (QEMU 7.2 would loop on it)" "$out" \
    "^vmctl: path '$A/dangling-in.ram' is a symlink to '$A/absent.ram', which does not exist$"
refused nv1 "$A/nv1.ram" --nvdimm "$O/nv.img,16M" --guest linux
refused vp1 "$A/vp1.ram" --virtio-pmem "$O/vp.img,16M" --guest linux
out=$(req "{\"execute\":\"launch\",\"arguments\":{\"spec\":{\"name\":\"dd1\",\"memory\":16777216,\"backend\":\"$A/../other/dd.ram\",\"accel\":\"tcg\"}}}" | jq -r .error.desc)
like "a '..' in a raw request is refused" "$out" "'\\.\\.'"
check "dd1: no file was made" test ! -e "$O/dd.ram"

# beneath N WHAT: the check and QEMU's open are one: the daemon opens each
# backing beneath its allowed directory (a symlink out is refused by the
# kernel at the open) and hands QEMU that descriptor, so no later lookup of
# the name happens. A path flipped between absent and a symlink to a file
# outside (of the guest's size: QEMU would map it and write guest RAM) while
# guests launch: the file outside is never written. Run with openat2
# (RESOLVE_BENEATH) and as on a kernel without it (VMCTL_PATHS_FAULT=
# no-openat2: the descriptor's own path is checked after the open).
beneath() {
    head -c 16M /dev/urandom >"$O/victim.ram"
    chmod 600 "$O/victim.ram"
    victim_sum=$(cksum <"$O/victim.ram")
    ( while :; do ln -sfn "$O/victim.ram" "$A/flip.ram"; rm -f "$A/flip.ram"; done ) >/dev/null 2>&1 &
    flipper=$!
    on_exit "kill $flipper"
    launched=0
    for i in $(seq 1 40); do
        if "$VMCTL" launch "flip$i$1" --memory 16M --backend "$A/flip.ram" --accel tcg >/dev/null 2>&1; then
            launched=$((launched + 1))
            "$VMCTL" kill "flip$i$1" >/dev/null 2>&1
        fi
    done
    kill $flipper
    wait $flipper 2>/dev/null
    diag "$launched of 40 launches ran while '$A/flip.ram' flipped"
    is "$2: the file outside was never written through the flipping symlink" "$(cksum <"$O/victim.ram")" "$victim_sum"
    rm -f "$A/flip.ram"

    # A migration's new backing (PATH.dst-N) and the source file it removes
    # after the hand-over are reached through the allowed directory too: a
    # directory of the source's path swapped for a symlink out after the
    # launch leads nowhere outside.
    rm -rf "$A/d" "$A/d.moved" "$O/swap"
    mkdir -p "$A/d" "$O/swap"
    "$VMCTL" launch sw$1 --memory 16M --backend "$A/d/sw$1.ram" --accel tcg >/dev/null
    is "$2: sw$1 runs from a directory inside" "$(info sw$1 .state)" running
    printf secret >"$O/swap/sw$1.ram"
    chmod 600 "$O/swap/sw$1.ram"
    mv "$A/d" "$A/d.moved"
    ln -s "$O/swap" "$A/d"
    out=$("$VMCTL" migrate sw$1 --to local 2>&1); rc=$?
    diag "migrate: exit $rc: $out"
    check "$2: no destination backing was made outside" test ! -e "$O/swap/sw$1.ram.dst-1"
    is "$2: the file outside with the source's name is intact" "$(cat "$O/swap/sw$1.ram" 2>/dev/null)" secret
    is "$2: the migration is refused (exit 2)" "$rc" 2
    like "$2: naming the path and the list" "$out" "'$A/d/sw$1.ram.dst-1' (leads|is) outside the allowed paths"
    is "$2: the source runs on" "$(info sw$1 .state)" running
    "$VMCTL" kill sw$1 >/dev/null
}
beneath 1 "openat2"
kill "$(daemon_pid)"
i=0; while [ -S "$VMCTL_SOCKET" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
export VMCTL_PATHS_FAULT=no-openat2
beneath 2 "without openat2"
unset VMCTL_PATHS_FAULT
kill "$(daemon_pid)"

# --- the default list
unset VMCTLD_ALLOWED_PATHS
out=$("$VMCTL" launch etc1 --memory 16M --backend /etc/vmctl-test-etc1.ram --accel tcg 2>&1)
like "default list: /etc is outside" "$out" "^vmctl: path '/etc/vmctl-test-etc1.ram' is outside the allowed paths \\(/dev/dax\\*;"
check "default list: nothing was made in /etc" test ! -e /etc/vmctl-test-etc1.ram
out=$("$VMCTL" launch root1 --memory 16M --backend /root/vmctl-test-root1.ram --accel tcg 2>&1)
like "default list: /root is outside" "$out" "outside the allowed paths"
is "nothing is listed" "$("$VMCTL" list --json | jq length)" 0
tap_done
