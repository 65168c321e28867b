#!/bin/sh
# mkinitramfs.sh: the Linux test guest's initramfs images (cpio newc, zstd).
#
#   mkinitramfs.sh base OUT KERNELDIR STAMPWL INIT
#       busybox (static), the NVDIMM/DAX modules and what they depend on
#       (after modules.dep) with a fresh `depmod -b`, mke2fs with its
#       shared libraries, the workload program and the init script.
#   mkinitramfs.sh lab OUT KERNELDIR INIT PMEM_SETUP
#       a vmctl lab's initramfs: busybox, the modules of LAB_MODULES, mke2fs
#       and the lab's init; the lab's userland is the host's own root.
#   mkinitramfs.sh vmctl OUT BASE VMCTL
#       BASE followed by a second archive with the vmctl binary, its shared
#       libraries and the dynamic loader (the kernel unpacks concatenated
#       archives in order).
set -eu

die() { echo "mkinitramfs: $*" >&2; exit 1; }

# Modules the init script may load; their dependencies come from modules.dep.
# nfit: ACPI NFIT table of the emulated NVDIMM; libnvdimm: the nd bus;
# nd_pmem (+nd_btt): /dev/pmemN and fsdax (pfn) devices; dax_pmem +
# device_dax: devdax (/dev/daxN.M); virtio_pmem (+virtio_pci): virtio-pmem.
MODULES="nfit libnvdimm nd_pmem nd_btt dax_pmem device_dax virtio_pmem virtio_pci"
# The lab also needs virtiofs (the host's root), overlay (a writable view of
# it), KVM with nested virtualization support, and ext4 where it is a module
# (with a crc32c provider: ext4 asks the crypto API for one at mount time).
# A trailing '?' marks a module that a kernel may lack.
LAB_MODULES="$MODULES virtiofs overlay ext4 crc32c_intel? crc32c_generic? kvm kvm_amd kvm_intel"

compress() {
    if command -v zstd >/dev/null 2>&1; then zstd -q -1 -T0 -c; else gzip -6 -c; fi
}

# copy_bin FILE ROOT [DEST]: FILE (as DEST, default its own path) and every
# shared library ldd lists, with the dynamic loader, at their paths under ROOT.
copy_bin() {
    bin=$1 root=$2 dest=${3:-$1}
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$bin" "$root$dest"
    ldd "$bin" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\/[^ ]* \(/ { print $1 }' |
        while read -r lib; do
            [ -e "$root$lib" ] && continue
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib"
        done
}

pack() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | compress; }


# kmods KERNELDIR: where the unpacked kernel package keeps its modules
# (/lib/modules before Debian 13, /usr/lib/modules from 13 on)
kmods() {
    release=$(cat "$1/release")
    for d in "$1/root/lib/modules/$release" "$1/root/usr/lib/modules/$release"; do
        [ -d "$d" ] && { echo "$d"; return 0; }
    done
    die "no modules for '$release' under '$1/root'"
}

# add_modules KERNELDIR ROOT MODULE...: each module and the chain modules.dep
# gives it, uncompressed (busybox modprobe reads plain .ko only), with a
# fresh modules.dep. Built-in modules are skipped; '-' and '_' are one;
# MODULE? is skipped when the kernel has no such module.
add_modules() {
    kdir=$1 root=$2
    shift 2
    src=$(kmods "$kdir")
    release=$(cat "$kdir/release")
    dst=$root/lib/modules/$release
    mkdir -p "$dst"
    depmod -b "${src%/lib/modules/$release}" "$release" 2>/dev/null ||
        depmod -b "$kdir/root" "$release"
    for m in "$@"; do
        optional=0
        case "$m" in *\?) optional=1 m=${m%\?} ;; esac
        re=$(echo "$m" | sed 's/[-_]/[-_]/g')
        if grep -Eq "(^|/)$re\.ko(\.[a-z]+)?\$" "$src/modules.builtin"; then continue; fi
        if ! line=$(grep -E "(^|/)$re\.ko(\.[a-z]+)?:" "$src/modules.dep"); then
            [ "$optional" = 1 ] && continue
            die "module '$m' is not in '$src/modules.dep'"
        fi
        for f in $(echo "$line" | tr -d ':'); do
            plain=${f%.xz}
            plain=${plain%.zst}
            [ -f "$dst/$plain" ] && continue
            mkdir -p "$dst/$(dirname "$f")"
            case "$f" in
            *.xz) xz -dc "$src/$f" >"$dst/$plain" ;;
            *.zst) zstd -q -dc "$src/$f" >"$dst/$plain" ;;
            *) cp "$src/$f" "$dst/$f" ;;
            esac
        done
    done
    cp "$src/modules.builtin" "$src/modules.order" "$dst/"
    [ -f "$src/modules.builtin.modinfo" ] && cp "$src/modules.builtin.modinfo" "$dst/"
    # modules.order names compressed files: plain ones from here on
    sed -i 's/\.ko\.\(xz\|zst\)$/.ko/' "$dst/modules.order"
    depmod -b "$root" "$release"
}

# new_root DIR: busybox (static) with its applets, mke2fs as mkfs.ext4
new_root() {
    r=$1
    busybox=$(command -v busybox) || die "busybox is not installed (package busybox-static)"
    file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked' &&
        die "busybox '$busybox' is dynamically linked: install busybox-static"
    mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/proc" "$r/sys" "$r/dev" \
        "$r/tmp" "$r/mnt/pmem" "$r/etc" "$r/lib"
    cp "$busybox" "$r/bin/busybox"
    for app in $("$busybox" --list); do
        [ "$app" = busybox ] || ln -sf busybox "$r/bin/$app"
    done
    mke2fs=$(command -v mke2fs || echo /sbin/mke2fs)
    [ -x "$mke2fs" ] || die "mke2fs is not installed (package e2fsprogs)"
    # busybox has a mke2fs (ext2 only): the real one is mkfs.ext4
    copy_bin "$mke2fs" "$r" /sbin/mkfs.ext4
    [ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$r/etc/"
    return 0
}

# build OUT KERNELDIR INIT MODULES...: a root with busybox, mke2fs,
# pmem-setup.sh (next to INIT unless $PMEM_SETUP names it), the modules and
# INIT; then $EXTRA (a function) adds what the image needs besides; packed.
build() {
    out=$1 kdir=$2 init=$3
    shift 3
    tmp=$(mktemp -d -p "${TMPDIR:-/tmp}")
    trap 'rm -rf "$tmp"' EXIT
    r=$tmp/root
    new_root "$r"
    add_modules "$kdir" "$r" "$@"
    cp "${PMEM_SETUP:-$(dirname "$init")/pmem-setup.sh}" "$r/lib/pmem-setup.sh"
    cp "$init" "$r/init"
    chmod 755 "$r/init"
    "$EXTRA" "$r"
    pack "$r" >"$out.tmp"
    mv "$out.tmp" "$out"
}

mode=${1:-}
case "$mode" in
base)
    [ $# -eq 5 ] || die "usage: mkinitramfs.sh base OUT KERNELDIR STAMPWL INIT"
    stampwl=$4
    base_extra() { install -m 755 "$stampwl" "$1/bin/stampwl"; }
    EXTRA=base_extra
    # shellcheck disable=SC2086 # one word per module
    build "$2" "$3" "$5" $MODULES
    ;;
lab)
    [ $# -eq 5 ] || die "usage: mkinitramfs.sh lab OUT KERNELDIR INIT PMEM_SETUP"
    # the kernel loads what it asks for (fs-ext4, crypto-crc32c) through it
    lab_extra() { ln -sf ../bin/busybox "$1/sbin/modprobe"; }
    EXTRA=lab_extra PMEM_SETUP=$5
    # shellcheck disable=SC2086 # one word per module
    build "$2" "$3" "$4" $LAB_MODULES
    ;;
vmctl)
    [ $# -eq 4 ] || die "usage: mkinitramfs.sh vmctl OUT BASE VMCTL"
    out=$2 base=$3 vmctl=$4
    tmp=$(mktemp -d -p "${TMPDIR:-/tmp}")
    trap 'rm -rf "$tmp"' EXIT
    r=$tmp/root
    copy_bin "$vmctl" "$r" /usr/bin/vmctl
    { cat "$base"; pack "$r"; } >"$out.tmp"
    mv "$out.tmp" "$out"
    ;;
*)
    die "mode '$mode' is unknown: use base, lab or vmctl"
    ;;
esac
