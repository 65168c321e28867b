#!/bin/sh
# libvirt-tiny-kvm.sh: the tiny guest's domain XML from `vmctl xml` under a
# private real libvirtd (tests/lib/libvirtd.sh) with domain type 'kvm':
# QEMU starts, the guest reaches READY with its fw_cfg parameters, and
# after `virsh destroy` its QEMU is gone. Without KVM here, in a lab.
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/libvirtd.sh"

if ! have_libvirtd || ! is_root; then
    skip "the tiny guest under kvm through libvirt" "needs root, libvirtd, virsh and unshare" libvirt
    tap_done
fi
if ! have_qemu; then
    skip "the tiny guest under kvm through libvirt" "no QEMU" qemu
    tap_done
fi
if ! kvm_or_lab; then
    skip "the tiny guest under kvm through libvirt" "$lab_why" kvm
    tap_done
fi
img="$top_builddir/guest-tests"
if [ ! -e "$img/tiny/tiny.bin" ]; then
    not_ok "the tiny guest's image is built ($img/tiny/tiny.bin)"
    tap_done
fi
mkdir -p "$TEST_TMP/images"
ln -s "$img/tiny/tiny.bin" "$TEST_TMP/images/"

port=$(free_port)
if ! libvirtd_start tk "$port"; then
    not_ok "a private libvirtd starts"
    tap_done
fi
ok "a private libvirtd starts (port $port)"
V() { virsh -q -c "$LV_URI_tk" "$@"; }

cat >"$TEST_TMP/tn.json" <<EOJ
{"name": "tn", "memory": "64M", "backend": "$TEST_TMP/tn.ram", "kind": "tiny", "accel": "kvm",
 "tiny": {"rate": 1000, "ws": 1024, "seed": 3}}
EOJ
"$VMCTL" xml --spec "$TEST_TMP/tn.json" --serial "$TEST_TMP/tn.serial" --image-dir "$TEST_TMP/images" >"$TEST_TMP/tn.xml"
out=$(V create "$TEST_TMP/tn.xml" 2>&1)
rc=$?
is "virsh create of the tiny guest's XML (kvm) succeeds" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
on_exit "virsh -q -c '$LV_URI_tk' destroy tn"
tiny=$(cat "$TEST_TMP/libvirt-tk/run/qemu/tn.pid" 2>/dev/null)
[ -n "$tiny" ] && on_exit "kill -9 $tiny"
like "QEMU runs under KVM" "$(V qemu-monitor-command tn '{"execute":"query-kvm"}' 2>&1)" '"enabled":true'
if ready=$(wait_line "$TEST_TMP/tn.serial" '^READY ' 60); then
    ok "the tiny guest reaches READY under kvm"
    like "with the parameters from fw_cfg" "$ready" 'ws=1024 rate=1000'
else
    not_ok "the tiny guest reaches READY under kvm"
    diag "$(tail -n 5 "$TEST_TMP/tn.serial" "$TEST_TMP/libvirt-tk/log/qemu/tn.log" 2>/dev/null)"
fi
V destroy tn >/dev/null 2>&1
if [ -n "$tiny" ] && gone_within "$tiny" 10; then
    ok "after virsh destroy the tiny guest's QEMU ($tiny) is gone"
else
    not_ok "after virsh destroy the tiny guest's QEMU (${tiny:-no pid}) is gone"
fi
is "libvirt lists no domain" "$(V list --all --name | tr -d '\n')" ""
tap_done
