#!/bin/sh
# fetch-kernel.sh DIR [SUITE [FLAVOUR]]: a Debian kernel, unpacked into DIR.
#
# Takes a Debian kernel with `apt-get download` and unpacks it with
# `dpkg -x` into DIR/root: nothing is installed on the host. FLAVOUR is
# cloud (the default: the package linux-image-cloud-amd64 points at the
# versioned linux-image-*-cloud-amd64) or generic (linux-image-amd64 and
# its linux-image-*-amd64). Without SUITE (the Linux test guest's kernel)
# or with the host's own suite, the host's apt finds the package. Any other
# SUITE (trixie, bookworm-backports, bullseye, ...) comes from a private apt
# state in VMCTL_KERNEL_APT_DIR (default DIR/apt) with its own sources on
# VMCTL_KERNEL_MIRROR (http://deb.debian.org/debian, then the archive
# http://archive.debian.org/debian), signed by the Debian archive keyring:
# the host's apt configuration and package lists are left alone.
# The .deb stays in DIR, so a rebuild unpacks it again without the network.
# VMCTL_LINUX_KERNEL_DEB=FILE uses a given .deb instead (offline builds);
# VMCTL_KERNEL_DEB_DIRS=DIR:DIR... are searched for an already downloaded
# .deb of the flavour before apt is asked (host suite only).
#
# Writes DIR/vmlinuz (a copy of the kernel image), DIR/release (the kernel
# release, the name of DIR/root/lib/modules/RELEASE, or of
# DIR/root/usr/lib/modules/RELEASE from Debian 13 on) and DIR/package
# ("PACKAGE VERSION" of the .deb).
set -eu

die() { echo "fetch-kernel: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 3 ] || die "usage: fetch-kernel.sh DIR [SUITE [cloud|generic]]"
dir=$1
suite=${2:-}
flavour=${3:-cloud}
mkdir -p "$dir"
case "$flavour" in
cloud) meta=linux-image-cloud-amd64 ;;
generic) meta=linux-image-amd64 ;;
*) die "flavour '$flavour' is unknown: use cloud or generic" ;;
esac

# flavour_debs: the kernel packages (.deb file names on stdin) of the flavour
flavour_debs() {
    if [ "$flavour" = cloud ]; then
        grep -E '/linux-image-[0-9][^/_]*-cloud-amd64_[^/]*_amd64\.deb$'
    else
        grep -E '/linux-image-[0-9][^/_]*-amd64_[^/]*_amd64\.deb$' | grep -v -e '-cloud-amd64_'
    fi
}

# the host's apt, or a private one for a suite the host does not follow
host_suite=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null || true)
private=0
[ -n "$suite" ] && [ "$suite" != "$host_suite" ] && private=1
mirror=${VMCTL_KERNEL_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
aptdir=${VMCTL_KERNEL_APT_DIR:-$dir/apt}

# apt_run PROGRAM ARG...: apt-get or apt-cache on the private state if any
apt_run() {
    prog=$1
    shift
    if [ "$private" = 0 ]; then
        "$prog" -o APT::Sandbox::User=root "$@"
        return
    fi
    "$prog" -o Dir::Etc::SourceList="$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
        -o Dir::State::Lists="$aptdir/lists" -o Dir::State::status="$aptdir/status" \
        -o Dir::Cache="$aptdir/cache" -o Acquire::Languages=none -o APT::Architectures=amd64 \
        -o Acquire::Check-Valid-Until="$valid_until" -o APT::Sandbox::User=root "$@"
}

# sources URL: the private sources.list for SUITE on the mirror URL
valid_until=true
sources() {
    [ -f "$keyring" ] || die "keyring '$keyring' is missing: install debian-archive-keyring"
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
    [ -f "$aptdir/status" ] || : >"$aptdir/status"
    echo "deb [signed-by=$keyring] $1 $suite main" >"$aptdir/sources.list"
}

pkg_of() {
    apt_run apt-cache depends "$meta" 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' |
        { if [ "$flavour" = cloud ]; then grep -e '-cloud-amd64$'; else grep -v -e '-cloud-amd64$'; fi; } |
        head -n1 || true
}

deb=${VMCTL_LINUX_KERNEL_DEB:-}
if [ -z "$deb" ]; then
    deb=$(ls "$dir"/linux-image-*_amd64.deb 2>/dev/null | flavour_debs | head -n1 || true)
fi
if [ -z "$deb" ] && [ "$private" = 0 ] && [ -n "${VMCTL_KERNEL_DEB_DIRS:-}" ]; then
    found=$(echo "$VMCTL_KERNEL_DEB_DIRS" | tr ':' '\n' | while read -r d; do
        [ -n "$d" ] && ls "$d"/linux-image-*_amd64.deb 2>/dev/null || true
    done | flavour_debs | awk -F/ '{ print $NF "\t" $0 }' | sort -V | tail -n1 | cut -f2)
    if [ -n "$found" ]; then
        echo "fetch-kernel: reusing $found" >&2
        cp "$found" "$dir/"
        deb=$dir/$(basename "$found")
    fi
fi
if [ -z "$deb" ]; then
    if [ "$private" = 1 ]; then
        # fresh lists: the versioned package of older ones may be gone
        tried=
        for m in "$mirror" http://archive.debian.org/debian; do
            # suites past their end of life move to the archive
            [ "$m" = http://archive.debian.org/debian ] && valid_until=false
            echo "fetch-kernel: reading the package lists of $suite from $m" >&2
            sources "$m"
            apt_run apt-get update -qq >/dev/null || true
            pkg=$(pkg_of)
            tried="$tried $m"
            [ -n "$pkg" ] || [ -n "${VMCTL_KERNEL_MIRROR:-}" ] && break
        done
        [ -n "$pkg" ] || die "package '$meta' of suite '$suite' was not found on$tried (is the network up?)"
    else
        pkg=$(pkg_of)
        if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
            # apt's package lists may never have been fetched on a fresh machine
            apt-get update -qq >/dev/null || true
            pkg=$(pkg_of)
        fi
        [ -n "$pkg" ] || die "package '$meta' is unknown to apt: run apt-get update"
    fi
    cached=
    [ "$private" = 0 ] && cached=$(ls /var/cache/apt/archives/"${pkg}"_*_amd64.deb 2>/dev/null | head -n1 || true)
    if [ -n "$cached" ]; then
        cp "$cached" "$dir/"
    else
        echo "fetch-kernel: downloading $pkg" >&2
        (cd "$dir" && apt_run apt-get download -qq "$pkg") ||
            die "download of '$pkg' failed"
    fi
    deb=$(ls "$dir"/"${pkg}"_*_amd64.deb | head -n1)
fi
[ -f "$deb" ] || die "kernel package '$deb' does not exist"

rm -rf "$dir/root" "$dir/root.tmp"
dpkg -x "$deb" "$dir/root.tmp"
mv "$dir/root.tmp" "$dir/root"
release=
for m in "$dir/root/lib/modules" "$dir/root/usr/lib/modules"; do
    [ -d "$m" ] && release=$(ls "$m" | head -n1)
    [ -n "$release" ] && break
done
[ -n "$release" ] && [ -f "$dir/root/boot/vmlinuz-$release" ] ||
    die "package '$deb' holds no kernel image and modules"
cp "$dir/root/boot/vmlinuz-$release" "$dir/vmlinuz"
dpkg-deb -f "$deb" Package Version | sed 's/^[A-Za-z]*: //' | paste -sd' ' >"$dir/package"
echo "$release" >"$dir/release"
