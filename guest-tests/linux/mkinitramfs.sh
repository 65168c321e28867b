#!/bin/sh
# mkinitramfs.sh: the Linux test guest's initramfs images (cpio newc, zstd).
#
#   mkinitramfs.sh base OUT KERNELDIR STAMPWL INIT
#       busybox (static), the NVDIMM/DAX modules and what they depend on
#       (after modules.dep) with a fresh `depmod -b`, mke2fs with its
#       shared libraries, the workload program and the init script.
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

mode=${1:-}
case "$mode" in
base)
    [ $# -eq 5 ] || die "usage: mkinitramfs.sh base OUT KERNELDIR STAMPWL INIT"
    out=$2 kdir=$3 stampwl=$4 init=$5
    release=$(cat "$kdir/release")
    kmods=$kdir/root/lib/modules/$release
    busybox=$(command -v busybox) || die "busybox is not installed (package busybox-static)"
    file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked' &&
        die "busybox '$busybox' is dynamically linked: install busybox-static"

    tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmctl-initramfs.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    r=$tmp/root
    mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/proc" "$r/sys" "$r/dev" \
        "$r/tmp" "$r/mnt/pmem" "$r/etc" "$r/lib/modules/$release"
    cp "$busybox" "$r/bin/busybox"
    for app in $("$busybox" --list); do
        [ "$app" = busybox ] || ln -sf busybox "$r/bin/$app"
    done

    # modules.dep lists the full dependency chain of each module
    depmod -b "$kdir/root" "$release"
    for m in $MODULES; do
        line=$(grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$kmods/modules.dep") ||
            die "module '$m' is not in '$kmods/modules.dep'"
        for f in $(echo "$line" | tr -d ':'); do
            mkdir -p "$r/lib/modules/$release/$(dirname "$f")"
            cp "$kmods/$f" "$r/lib/modules/$release/$f"
        done
    done
    cp "$kmods/modules.builtin" "$kmods/modules.builtin.modinfo" "$kmods/modules.order" "$r/lib/modules/$release/"
    depmod -b "$r" "$release"

    mke2fs=$(command -v mke2fs || echo /sbin/mke2fs)
    [ -x "$mke2fs" ] || die "mke2fs is not installed (package e2fsprogs)"
    # busybox has a mke2fs (ext2 only): the real one is mkfs.ext4
    copy_bin "$mke2fs" "$r" /sbin/mkfs.ext4
    [ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$r/etc/"

    cp "$stampwl" "$r/bin/stampwl"
    cp "$init" "$r/init"
    chmod 755 "$r/init" "$r/bin/stampwl"
    pack "$r" >"$out.tmp"
    mv "$out.tmp" "$out"
    ;;
vmctl)
    [ $# -eq 4 ] || die "usage: mkinitramfs.sh vmctl OUT BASE VMCTL"
    out=$2 base=$3 vmctl=$4
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmctl-initramfs.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    r=$tmp/root
    copy_bin "$vmctl" "$r" /usr/bin/vmctl
    { cat "$base"; pack "$r"; } >"$out.tmp"
    mv "$out.tmp" "$out"
    ;;
*)
    die "mode '$mode' is unknown: use base or vmctl"
    ;;
esac
