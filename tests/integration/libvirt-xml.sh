#!/bin/sh
# libvirt-xml.sh: `vmctl xml` against the real tools. libvirt's schema
# (virt-xml-validate) accepts every golden file, every file in libvirt-xml/
# as it stands (each what its command in libvirt-xml/README.md prints) and
# the command's own output, and refuses broken copies; a bad spec gives one
# line and exit 1; `vmctl xml NAME` gives the XML of the spec vmctld holds. Then a private libvirtd
# (tests/lib/libvirtd.sh) runs what `vmctl xml` printed: the Linux guest
# under TCG with file-backed shared RAM and an NVDIMM boots to READY, the
# same guest with a virtio-pmem device runs it (or, on libvirt 9.0, is
# refused only after QEMU created the device), and after `virsh destroy`
# no QEMU of theirs is left. (The tiny guest under KVM through libvirt:
# libvirt-tiny-kvm.sh.)
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/libvirtd.sh"

validate() { virt-xml-validate "$1" domain >"$TEST_TMP/validate.out" 2>&1; }

# --- the schema --------------------------------------------------------
if ! command -v virt-xml-validate >/dev/null 2>&1; then
    skip "golden files validate against libvirt's schema" "virt-xml-validate (libvirt-clients) is missing" libvirt
else
    n=0 bad=""
    for f in "$top_srcdir"/tests/data/xml/*.xml; do
        n=$((n + 1))
        validate "$f" || bad="$bad $(basename "$f")"
    done
    is "all $n golden files validate against libvirt's domain schema" "${bad:-none}" none
    # the files in libvirt-xml/, as an operator hands them to virsh: valid
    # as they stand, and each exactly what its command in
    # libvirt-xml/README.md prints
    n=0 bad="" differ=""
    for f in "$top_srcdir"/libvirt-xml/*.xml; do
        n=$((n + 1))
        grep -q '@[A-Z_]*@' "$f" && bad="$bad $(basename "$f"):placeholder"
        validate "$f" || bad="$bad $(basename "$f")"
        args=$(sed -n "s/^| \`$(basename "$f")\` | \`vmctl \(xml .*\)\` |\$/\1/p" "$top_srcdir/libvirt-xml/README.md")
        # shellcheck disable=SC2086 # the command line as README.md gives it
        if [ -z "$args" ] || ! VMCTL_QEMU=/usr/bin/qemu-system-x86_64 "$VMCTL" $args >"$TEST_TMP/rendered.xml" 2>&1 ||
            ! sed '1,/-->$/d' "$f" | cmp -s - "$TEST_TMP/rendered.xml"; then
            differ="$differ $(basename "$f")"
        fi
    done
    is "all $n files in libvirt-xml/ validate as they stand, no placeholder left" "${bad:-none}" none
    is "and each is what its vmctl xml command in libvirt-xml/README.md prints" "${differ:-none}" none
    # the same check refuses a broken copy of one of them
    sed "s|<memory unit='MiB'>|<memory unit='MiBs'>|" "$top_srcdir/libvirt-xml/nvdimm.xml" >"$TEST_TMP/broken.xml"
    check "and a copy of nvdimm.xml with a bad memory unit is refused by it" sh -c "! virt-xml-validate '$TEST_TMP/broken.xml' domain >/dev/null 2>&1"
    sed '/<name>/d' "$top_srcdir/libvirt-xml/tiny.xml" >"$TEST_TMP/noname.xml"
    check "and so is a copy of tiny.xml without its name" sh -c "! virt-xml-validate '$TEST_TMP/noname.xml' domain >/dev/null 2>&1"
    bad=""
    for s in "$top_srcdir"/tests/data/spec/*.json "$top_srcdir"/tests/data/xml/*.json; do
        case $s in */xml/*) spec=$(jq -c .spec "$s") ;; *) spec=$(cat "$s") ;; esac
        printf '%s\n' "$spec" | "$VMCTL" xml --spec - --serial /x/s >"$TEST_TMP/out.xml" 2>"$TEST_TMP/err" &&
            validate "$TEST_TMP/out.xml" || bad="$bad $(basename "$s")"
    done
    is "vmctl xml --spec output for every test spec validates" "${bad:-none}" none
    # the schema check can fail: a domain type libvirt does not know
    "$VMCTL" xml --spec "$top_srcdir/tests/data/spec/tiny-minimal.json" | sed "s|type='kvm'|type='kvmx'|" >"$TEST_TMP/bad.xml"
    check "and a broken domain is refused by the same check" sh -c "! virt-xml-validate '$TEST_TMP/bad.xml' domain >/dev/null 2>&1"
fi

# --- refusals ------------------------------------------------------------
out=$(echo '{"name": "g", "memory": "64M", "backend": "/dev/dax0.0"}' | "$VMCTL" xml --spec - 2>&1); rc=$?
is "main RAM on device-dax is refused with exit 1" "$rc" 1
is "in one line naming the backend and the rule" "$out" \
    "vmctl: backend '/dev/dax0.0' of guest 'g' is a device: libvirt cannot place main RAM on a device (give it as --nvdimm)"
out=$(echo '{"name": "g", "memory": "64M"}' | "$VMCTL" xml --spec - --type xen 2>&1); rc=$?
is "an unknown domain type is refused" "$rc:$out" "1:vmctl: domain type 'xen' of guest 'g' must be 'kvm' or 'qemu'"
out=$(echo '{"name": "g", "memory": "64M",' | "$VMCTL" xml --spec - 2>&1); rc=$?
like "a spec that is not JSON is refused" "$rc:$out" "^1:vmctl: spec file '-' is not JSON"
out=$(echo '{"name": "g", "memory": "64M"}' | "$VMCTL" --json xml --spec - | jq -r .xml | head -n 1)
is "--json wraps the XML" "$out" "<domain type='kvm'>"

# --- the options vmctl launch takes describe the same spec ---------------
echo '{"name": "o1", "memory": "128M", "backend": "memfd", "tiny": {"rate": 5000, "ws": 1024}, "nvdimm": [{"path": "/var/tmp/nv0", "size": "64M"}]}' |
    "$VMCTL" xml --spec - >"$TEST_TMP/o1-spec.xml"
"$VMCTL" xml o1 --memory 128M --backend memfd --rate 5000 --ws 1024 --nvdimm /var/tmp/nv0,64M >"$TEST_TMP/o1-opts.xml"
check "vmctl xml NAME --memory ... gives the XML of the same spec as a file" cmp -s "$TEST_TMP/o1-spec.xml" "$TEST_TMP/o1-opts.xml"
out=$("$VMCTL" xml o1 --memory 128M --rate lots 2>&1); rc=$?
is "a bad launch option is refused in one line naming it" "$rc:$out" "1:vmctl: --rate 'lots' is not an integer between 0 and 1000000000"
out=$("$VMCTL" xml --spec - --memory 128M </dev/null 2>&1); rc=$?
is "--spec and launch options together are a usage error" "$rc" 2

# --- a guest vmctld runs -------------------------------------------------
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld
out=$("$VMCTL" xml nosuch 2>&1); rc=$?
is "vmctl xml of a guest vmctld does not know fails in one line" "$rc:$out" "1:vmctl: guest 'nosuch' does not exist"
if have_qemu; then
    if "$VMCTL" launch vd --memory 64M --backend "$TEST_TMP/vd.ram" --rate 10 >/dev/null 2>"$TEST_TMP/launch.err"; then
        "$VMCTL" info vd --json | jq .spec >"$TEST_TMP/vd.json"
        "$VMCTL" xml vd --serial "$TEST_TMP/vd.serial" >"$TEST_TMP/vd-name.xml"
        "$VMCTL" xml --spec "$TEST_TMP/vd.json" --serial "$TEST_TMP/vd.serial" >"$TEST_TMP/vd-spec.xml"
        check "vmctl xml NAME gives the XML of the spec vmctld holds" cmp -s "$TEST_TMP/vd-name.xml" "$TEST_TMP/vd-spec.xml"
        like "of that guest" "$(grep -c "<name>vd</name>\|backend '$TEST_TMP/vd.ram'\|rate=10 " "$TEST_TMP/vd-name.xml")" '^3$'
        "$VMCTL" kill vd >/dev/null 2>&1
    else
        not_ok "vmctld launches a tiny guest"
        diag "$(cat "$TEST_TMP/launch.err")"
    fi
else
    skip "vmctl xml NAME" "no QEMU" qemu
fi

# --- a real libvirtd ----------------------------------------------------
if ! have_libvirtd || ! is_root; then
    skip "domains from vmctl xml run under a real libvirtd" "needs root, libvirtd, virsh and unshare" libvirt
    tap_done
fi
if ! have_qemu; then
    skip "domains from vmctl xml run under a real libvirtd" "no QEMU" qemu
    tap_done
fi
img="$top_builddir/guest-tests"
if [ ! -e "$img/linux/vmlinuz" ] || [ ! -e "$img/tiny/tiny.bin" ]; then
    not_ok "the guest images are built ($img)"
    tap_done
fi
mkdir -p "$TEST_TMP/images"
ln -s "$img/tiny/tiny.bin" "$img/linux/vmlinuz" "$img/linux/initramfs.cpio.zst" "$TEST_TMP/images/"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if ! libvirtd_start xml "$port"; then
    not_ok "a private libvirtd starts"
    tap_done
fi
ok "a private libvirtd starts (port $port)"
V() { virsh -q -c "$LV_URI_xml" "$@"; }
qemu_pid() { cat "$TEST_TMP/libvirt-xml/run/qemu/$1.pid" 2>/dev/null; }

# (a) Linux under TCG: RAM in a shared file, an NVDIMM on a share=on file
truncate -s 64M "$TEST_TMP/nv0" "$TEST_TMP/vp0"
cat >"$TEST_TMP/lx.json" <<EOF
{"name": "lx", "memory": "256M", "backend": "$TEST_TMP/lx.ram", "kind": "linux", "accel": "tcg",
 "nvdimm": [{"path": "$TEST_TMP/nv0", "size": "64M"}],
 "linux": {"cmdline": "vmctl.pmem=raw vmctl.pages=2048 vmctl.ws=1024 vmctl.rate=1000"}}
EOF
"$VMCTL" xml --spec "$TEST_TMP/lx.json" --serial "$TEST_TMP/lx.serial" --image-dir "$TEST_TMP/images" >"$TEST_TMP/lx.xml"
t0=$(date +%s)
out=$(V create "$TEST_TMP/lx.xml" 2>&1); rc=$?
is "virsh create of the Linux guest's XML (file RAM + NVDIMM) succeeds" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
on_exit "virsh -q -c '$LV_URI_xml' destroy lx"
lxpid=$(qemu_pid lx)
[ -n "$lxpid" ] && on_exit "kill -9 $lxpid"

# (a') the same guest with a virtio-pmem device instead. libvirt 9.0 starts
# QEMU with it, then fails on QEMU's answer to query-memory-devices
# ("virtio-pmem memory device info is not handled yet") and stops it; a
# libvirt that parses it must run the domain with the device.
sed -e 's/"lx"/"vp"/' -e 's/"nvdimm"/"virtio-pmem"/' -e "s|/nv0|/vp0|" "$TEST_TMP/lx.json" >"$TEST_TMP/vp.json"
"$VMCTL" xml --spec "$TEST_TMP/vp.json" --serial "$TEST_TMP/vp.serial" --image-dir "$TEST_TMP/images" >"$TEST_TMP/vp.xml"
out=$(V create "$TEST_TMP/vp.xml" 2>&1); rc=$?
if [ $rc -eq 0 ]; then
    on_exit "virsh -q -c '$LV_URI_xml' destroy vp"
    vppid=$(qemu_pid vp)
    [ -n "$vppid" ] && on_exit "kill -9 $vppid"
    devs=$(V qemu-monitor-command vp '{"execute":"query-memory-devices"}' 2>&1)
    is "the virtio-pmem domain runs and QEMU has the device" \
        "$(printf '%s' "$devs" | jq -r '[.return[] | .type + ":" + (.data.size | tostring)] | join(" ")' 2>/dev/null)" \
        "virtio-pmem:67108864"
    like "backed by its file" "$(cat "/proc/$vppid/maps" 2>/dev/null)" "$TEST_TMP/vp0"
    V destroy vp >/dev/null 2>&1
else
    like "libvirt $(virsh -v) refuses virtio-pmem only after QEMU made it (known libvirt limitation)" "$out" \
        "virtio-pmem memory device info is not handled yet"
    like "QEMU was started with the device on its file" \
        "$(grep -a 'virtio-pmem-pci' "$TEST_TMP/libvirt-xml/log/qemu/vp.log" 2>/dev/null | tail -n 1)" \
        "virtio-pmem-pci"
    check "and no domain is left of it" sh -c "! virsh -q -c '$LV_URI_xml' domstate vp >/dev/null 2>&1"
fi

if ready=$(wait_line "$TEST_TMP/lx.serial" '^READY ' 120); then
    ok "the Linux guest boots to READY under TCG ($(($(date +%s) - t0)) s)"
    like "with the command line vmctl xml gave it" "$ready" 'pages=2048 ws=1024 same=0 rate=1000'
    like "the guest found the NVDIMM (ACPI NFIT through libvirt)" "$(grep -a '^PMEM' "$TEST_TMP/lx.serial")" \
        '^PMEM mode=raw dev=/dev/pmem0'
else
    not_ok "the Linux guest boots to READY under TCG"
    diag "$(tail -n 5 "$TEST_TMP/lx.serial" "$TEST_TMP/libvirt-xml/log/qemu/lx.log" 2>/dev/null)"
fi
devs=$(V qemu-monitor-command lx '{"execute":"query-memory-devices"}' 2>&1)
is "QEMU has the NVDIMM, of the size in the spec" \
    "$(printf '%s' "$devs" | jq -r '[.return[] | .type + ":" + (.data.size | tostring)] | join(" ")' 2>/dev/null)" \
    "nvdimm:67108864"
maps=$(cat "/proc/$lxpid/maps" 2>/dev/null)
like "the NVDIMM is QEMU's mapping of its file" "$maps" "$TEST_TMP/nv0"
# libvirt puts file-backed RAM in its memory_backing_dir, /var/lib/libvirt/qemu/ram
like "guest RAM is a file in libvirt's memory_backing_dir" "$maps" "/var/lib/libvirt/qemu/ram/.*ram-node0"
like "mapped shared" "$(grep 'ram-node0' "/proc/$lxpid/maps" 2>/dev/null)" ' [r-][w-][x-]s '

# --- destroy, nothing left ------------------------------------------------
V destroy lx >/dev/null 2>&1
i=0
while [ $i -lt 100 ] && ! gone "$lxpid"; do
    sleep 0.1
    i=$((i + 1))
done
check "after virsh destroy the Linux guest's QEMU (${lxpid:-no pid}) is gone" sh -c "[ -n '$lxpid' ] && ! [ -e /proc/$lxpid/status ] || grep -q '^State:.*Z' /proc/$lxpid/status"
is "libvirt lists no domain" "$(V list --all --name | tr -d '\n')" ""

tap_done
