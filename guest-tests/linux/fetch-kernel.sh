#!/bin/sh
# fetch-kernel.sh DIR: the Linux test guest's kernel, unpacked into DIR.
#
# Takes the Debian cloud kernel (the package linux-image-cloud-amd64 points
# at the versioned linux-image-*-cloud-amd64) with `apt-get download` and
# unpacks it with `dpkg -x` into DIR/root: nothing is installed on the host.
# The .deb stays in DIR, so a rebuild unpacks it again without the network.
# VMCTL_LINUX_KERNEL_DEB=FILE uses a given .deb instead (offline builds).
#
# Writes DIR/vmlinuz (a copy of the kernel image) and DIR/release (the
# kernel release, the name of DIR/root/lib/modules/RELEASE).
set -eu

die() { echo "fetch-kernel: $*" >&2; exit 1; }

dir=$1
mkdir -p "$dir"
meta=linux-image-cloud-amd64

deb=${VMCTL_LINUX_KERNEL_DEB:-}
if [ -z "$deb" ]; then
    deb=$(ls "$dir"/linux-image-*-cloud-amd64_*_amd64.deb 2>/dev/null | head -n1 || true)
fi
if [ -z "$deb" ]; then
    pkg_of() {
        apt-cache depends "$meta" 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1
    }
    pkg=$(pkg_of)
    if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
        # apt's package lists may never have been fetched on a fresh machine
        apt-get update -qq >/dev/null || true
        pkg=$(pkg_of)
    fi
    [ -n "$pkg" ] || die "package '$meta' is unknown to apt: run apt-get update"
    cached=$(ls /var/cache/apt/archives/"${pkg}"_*_amd64.deb 2>/dev/null | head -n1 || true)
    if [ -n "$cached" ]; then
        cp "$cached" "$dir/"
    else
        echo "fetch-kernel: downloading $pkg" >&2
        (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") ||
            die "download of '$pkg' failed"
    fi
    deb=$(ls "$dir"/"${pkg}"_*_amd64.deb | head -n1)
fi
[ -f "$deb" ] || die "kernel package '$deb' does not exist"

rm -rf "$dir/root" "$dir/root.tmp"
dpkg -x "$deb" "$dir/root.tmp"
mv "$dir/root.tmp" "$dir/root"
release=$(ls "$dir/root/lib/modules" | head -n1)
[ -n "$release" ] && [ -f "$dir/root/boot/vmlinuz-$release" ] ||
    die "package '$deb' holds no kernel image and modules"
cp "$dir/root/boot/vmlinuz-$release" "$dir/vmlinuz"
echo "$release" >"$dir/release"
