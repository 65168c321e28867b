#!/bin/sh
# libvirt-hook.sh: a real libvirtd (private instance, TCG) with vmctl's hook
# installed: a domain with an NVDIMM (libvirt-xml/nvdimm.xml) on a good file backing
# starts; one with a missing or misaligned backing is refused and libvirt
# shows the hook's line.
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/libvirtd.sh"

if ! have_libvirtd || ! is_root; then
    skip "libvirt hook under a real libvirtd" "needs root, libvirtd, virsh and unshare" libvirt
    tap_done
fi

# the hook, installed before the daemon starts (libvirt reads hooks at start)
mkdir -p "$TEST_TMP/libvirt-a/etc/hooks"
cat >"$TEST_TMP/libvirt-a/etc/hooks/qemu" <<EOF
#!/bin/sh
VMCTL_HOOK_LOG='$TEST_TMP/hook.log' exec '$VMCTL' hook qemu "\$@"
EOF
chmod +x "$TEST_TMP/libvirt-a/etc/hooks/qemu"

if ! libvirtd_start a 16531; then
    not_ok "a private libvirtd starts"
    tap_done
fi
ok "a private libvirtd starts"
V() { virsh -q -c "$LV_URI_a" "$@"; }

# fill NAME NV_PATH NV_MIB -> $TEST_TMP/NAME.xml: the domain of
# libvirt-xml/nvdimm.xml (vmctl xml, 128M of RAM) without a kernel to boot,
# its NVDIMM NV_MIB large (sizes vmctl xml would refuse included)
fill() {
    VMCTL_QEMU=$(command -v qemu-system-x86_64) "$VMCTL" xml "$1" --guest linux --accel tcg --memory 128M \
        --backend "$TEST_TMP/$1.ram" --nvdimm "$2,64M" --serial "$TEST_TMP/$1.serial" --image-dir "$TEST_TMP" |
        sed -e '/<kernel>/d; /<initrd>/d; /<cmdline>/d' -e "s|>192</|>$((128 + $3))</|" \
            -e "s|<size unit='MiB'>64</size>|<size unit='MiB'>$3</size>|" >"$TEST_TMP/$1.xml"
}

truncate -s 64M "$TEST_TMP/nv-good"
fill good "$TEST_TMP/nv-good" 64
check "the filled template validates against libvirt's schema" sh -c "virt-xml-validate '$TEST_TMP/good.xml' domain >/dev/null"
out=$(V create "$TEST_TMP/good.xml" 2>&1); rc=$?
is "a domain with a good NVDIMM backing starts" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
on_exit "virsh -q -c '$LV_URI_a' destroy good"
is "and runs" "$(V domstate good 2>&1)" running
qpid=$(cat "$TEST_TMP/libvirt-a/run/qemu/good.pid" 2>/dev/null)
like "its QEMU has the NVDIMM backing open" "$(ls -l /proc/$qpid/fd 2>/dev/null | grep -c "$TEST_TMP/nv-good")" '^[1-9]'
like "the hook logged the start" "$(jq -r 'select(.domain=="good") | .op' "$TEST_TMP/hook.log" | tr '\n' ' ')" "prepare .*started"
V destroy good >/dev/null 2>&1

fill missing "$TEST_TMP/nowhere/nv" 64
out=$(V create "$TEST_TMP/missing.xml" 2>&1); rc=$?
check "a domain whose backing is missing is refused" test $rc -ne 0
like "libvirt shows the hook's line" "$out" "refused: nvdimm backing: directory '$TEST_TMP/nowhere' of '$TEST_TMP/nowhere/nv' does not exist"
check "and it does not run" sh -c "! virsh -q -c '$LV_URI_a' domstate missing >/dev/null 2>&1"

fill misaligned "$TEST_TMP/nv-good" 63
out=$(V create "$TEST_TMP/misaligned.xml" 2>&1); rc=$?
check "a domain whose NVDIMM breaks its alignment is refused" test $rc -ne 0
like "with the hook's reason" "$out" "is not a multiple of its alignsize '2M'"

tap_done
