#!/bin/sh
# mkimage.sh KERNEL CACHEDIR: the boot image of a vmctl lab for one kernel.
#
# Prints one line on stdout: the absolute path of the image directory,
# CACHEDIR/images/NAME, holding vmlinuz, initramfs.cpio.zst (made by
# `mkinitramfs.sh lab` with the lab's init and pmem-setup.sh), release (the
# kernel release) and kernel ("NAME PACKAGE VERSION"). KERNEL is one of
#   bookworm[-cloud|-generic]  bookworm-backports[-cloud|-generic]
#   bullseye[-cloud|-generic]  trixie[-generic|-cloud]
#       a Debian kernel fetched by fetch-kernel.sh into CACHEDIR/kernels/NAME
#       (the .deb stays there: later runs need no network). Without a
#       flavour: cloud, except trixie: generic (the one with DAMON).
#       bookworm's cloud kernel is first looked for in the dirs of
#       VMCTL_LAB_DEB_DIRS (colon-separated, e.g. the build tree's
#       guest-tests/linux/kernel) and /var/cache/apt/archives.
#   host
#       /boot/vmlinuz-$(uname -r) with /lib/modules/$(uname -r)
#   FILE.deb
#       a linux-image package, unpacked with dpkg -x
#   DIR
#       an unpacked kernel package: DIR/boot/vmlinuz-RELEASE with
#       DIR/lib/modules/RELEASE or DIR/usr/lib/modules/RELEASE
# An image is reused until one of its inputs (the kernel, init,
# pmem-setup.sh, mkinitramfs.sh) is newer than it. Runs are serialized by
# a lock on CACHEDIR/lock, and an image is built aside and renamed into
# place. The helpers are found in the source tree (../guest-tests/linux
# and ./init next to this script) or installed next to it. Progress
# messages go to stderr.
set -eu

die() { echo "mkimage: $*" >&2; exit 1; }
say() { echo "mkimage: $*" >&2; }

NAMES="bookworm bookworm-cloud bookworm-generic bookworm-backports bookworm-backports-cloud"
NAMES="$NAMES bookworm-backports-generic trixie trixie-cloud trixie-generic bullseye"
NAMES="$NAMES bullseye-cloud bullseye-generic"

[ $# -eq 2 ] || die "usage: mkimage.sh KERNEL CACHEDIR"
kernel=$1

here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$here/../guest-tests/linux/mkinitramfs.sh" ]; then
    helpers=$(cd "$here/../guest-tests/linux" && pwd)
else
    helpers=$here
fi
init=$here/init
for f in "$helpers/fetch-kernel.sh" "$helpers/mkinitramfs.sh" "$helpers/pmem-setup.sh" "$init"; do
    [ -f "$f" ] || die "helper '$f' is missing: keep mkimage.sh in the source tree or next to its helpers"
done

mkdir -p "$2" || die "cache dir '$2' cannot be created"
cache=$(cd "$2" && pwd)
mkdir -p "$cache/images" "$cache/kernels"

# stamp FILE: a short checksum of FILE's absolute path and mtime
stamp() {
    printf '%s %s\n' "$1" "$(stat -c %Y "$1")" | sha256sum | cut -c1-8
}
# plain_name FILE: the basename as a safe directory name
plain_name() { basename "$1" | sed -e 's/\.deb$//' -e 's/[^A-Za-z0-9._+-]/_/g'; }
# newer FILE REF: FILE (or anything under it) is newer than REF
newer() { [ -n "$(find "$1" -newer "$2" 2>/dev/null | head -n1)" ]; }

case "$kernel" in
bookworm | bookworm-cloud) name=bookworm-cloud ;;
bookworm-backports | bookworm-backports-cloud) name=bookworm-backports-cloud ;;
bullseye | bullseye-cloud) name=bullseye-cloud ;;
trixie | trixie-generic) name=trixie-generic ;;
bookworm-generic | bookworm-backports-generic | bullseye-generic | trixie-cloud) name=$kernel ;;
host) name=host-$(uname -r) ;;
*.deb)
    [ -f "$kernel" ] || die "kernel package '$kernel' does not exist"
    kernel=$(cd "$(dirname "$kernel")" && pwd)/$(basename "$kernel")
    name=$(plain_name "$kernel")-$(stamp "$kernel")
    ;;
*)
    [ -d "$kernel" ] || die "kernel '$kernel' is unknown: use one of $NAMES, host, FILE.deb or DIR"
    kernel=$(cd "$kernel" && pwd)
    name=$(plain_name "$kernel")-$(stamp "$kernel")
    ;;
esac

exec 9>"$cache/lock"
if ! flock -n 9; then
    say "waiting for the lock on $cache/lock"
    flock 9
fi

kdir=$cache/kernels/$name
img=$cache/images/$name

# shadow SRCROOT RELEASE: KERNELDIR laid out as fetch-kernel.sh does, for a
# kernel already unpacked at SRCROOT: the modules as symbolic links (depmod
# writes its files into the shadow, never into SRCROOT)
shadow() {
    src=$1 rel=$2
    if [ -d "$src/lib/modules/$rel" ]; then
        mods=lib/modules
    elif [ -d "$src/usr/lib/modules/$rel" ]; then
        mods=usr/lib/modules
    else
        die "kernel '$src' has no modules: neither lib/modules/$rel nor usr/lib/modules/$rel exists"
    fi
    rm -rf "$kdir.tmp"
    mkdir -p "$kdir.tmp/root/$mods" "$kdir.tmp/root/boot"
    cp -rs "$src/$mods/$rel" "$kdir.tmp/root/$mods/"
    # the index files depmod writes: replaced, not written through
    find "$kdir.tmp/root/$mods/$rel" -maxdepth 1 -type l -name 'modules.*' \
        ! -name modules.builtin ! -name modules.order ! -name modules.builtin.modinfo -exec rm {} +
    for f in modules.builtin modules.order modules.builtin.modinfo; do
        [ -L "$kdir.tmp/root/$mods/$rel/$f" ] || continue
        rm "$kdir.tmp/root/$mods/$rel/$f"
        cp "$src/$mods/$rel/$f" "$kdir.tmp/root/$mods/$rel/$f"
    done
    cp "$src/boot/vmlinuz-$rel" "$kdir.tmp/vmlinuz"
    ln -s ../vmlinuz "$kdir.tmp/root/boot/vmlinuz-$rel"
    echo "- -" >"$kdir.tmp/package"
    echo "$rel" >"$kdir.tmp/release"
    rm -rf "$kdir"
    mv "$kdir.tmp" "$kdir"
}

# the kernel, laid out in $kdir as fetch-kernel.sh does
case "$kernel" in
host)
    rel=$(uname -r)
    [ -f "/boot/vmlinuz-$rel" ] || die "host kernel '/boot/vmlinuz-$rel' does not exist: use a named kernel, a .deb or a directory"
    [ -d "/lib/modules/$rel" ] || die "host modules '/lib/modules/$rel' do not exist: use a named kernel, a .deb or a directory"
    if [ ! -f "$kdir/release" ] || newer "/boot/vmlinuz-$rel" "$kdir/release"; then
        say "taking the host's kernel $rel"
        shadow / "$rel"
    fi
    ;;
/*.deb)
    if [ ! -f "$kdir/release" ] || newer "$kernel" "$kdir/release"; then
        say "unpacking $kernel"
        rm -rf "$kdir"
        VMCTL_LINUX_KERNEL_DEB=$kernel sh "$helpers/fetch-kernel.sh" "$kdir" >&2
    fi
    ;;
/*)
    rel=$(ls "$kernel/boot" 2>/dev/null | sed -n 's/^vmlinuz-//p' | head -n1)
    [ -n "$rel" ] || die "kernel dir '$kernel' holds no boot/vmlinuz-RELEASE"
    if [ ! -f "$kdir/release" ] || newer "$kernel/boot/vmlinuz-$rel" "$kdir/release"; then
        say "taking the kernel $rel from $kernel"
        shadow "$kernel" "$rel"
    fi
    ;;
*)
    if [ ! -f "$kdir/release" ]; then
        suite=${name%-*} flavour=${name##*-}
        say "fetching the $flavour kernel of $suite"
        rm -rf "$kdir"
        VMCTL_KERNEL_DEB_DIRS=
        [ "$name" = bookworm-cloud ] && VMCTL_KERNEL_DEB_DIRS=${VMCTL_LAB_DEB_DIRS:-}:/var/cache/apt/archives
        VMCTL_KERNEL_DEB_DIRS=$VMCTL_KERNEL_DEB_DIRS VMCTL_KERNEL_APT_DIR=$cache/apt/$suite \
            sh "$helpers/fetch-kernel.sh" "$kdir" "$suite" "$flavour" >&2
    fi
    ;;
esac
release=$(cat "$kdir/release")
package=$(cat "$kdir/package" 2>/dev/null || echo "- -")

if [ -f "$img/kernel" ]; then
    stale=
    for f in "$kdir/release" "$init" "$helpers/pmem-setup.sh" "$helpers/mkinitramfs.sh"; do
        newer "$f" "$img/kernel" && stale="$stale $(basename "$f")"
    done
    if [ -z "$stale" ]; then
        echo "$img"
        exit 0
    fi
    say "rebuilding $name (newer:$stale)"
else
    say "building $name ($release)"
fi

# a fetched or unpacked kernel keeps only its .deb, vmlinuz and release
# between builds: its unpacked tree comes back from the .deb when needed
case "$kernel" in
/*.deb) deb=$kernel ;;
host | /*) deb= ;;
*) deb=$(ls "$kdir"/linux-image-*.deb 2>/dev/null | head -n1 || true) ;;
esac
if [ -n "$deb" ] && [ ! -d "$kdir/root" ]; then
    say "unpacking $deb"
    VMCTL_LINUX_KERNEL_DEB=$deb sh "$helpers/fetch-kernel.sh" "$kdir" >&2
    [ "$(cat "$kdir/release")" = "$release" ] || die "kernel package '$deb' changed its release: remove '$kdir'"
fi

tmp=$cache/images/.$name.tmp.$$
old=$cache/images/.$name.old.$$
trap 'rm -rf "$tmp" "$old"' EXIT
trap 'exit 1' HUP INT TERM
# leftovers of a run that was killed (none is running: the lock is ours)
rm -rf "$cache/images/.$name.tmp."* "$cache/images/.$name.old."*
mkdir -p "$tmp"
cp "$kdir/vmlinuz" "$tmp/vmlinuz"
sh "$helpers/mkinitramfs.sh" lab "$tmp/initramfs.cpio.zst" "$kdir" "$init" "$helpers/pmem-setup.sh" >&2
echo "$release" >"$tmp/release"
echo "$name $package" >"$tmp/kernel"
[ -d "$img" ] && mv "$img" "$old"
mv "$tmp" "$img"
rm -rf "$old"
[ -n "$deb" ] && rm -rf "$kdir/root"
say "image $name ready"
echo "$img"
