#!/bin/sh
# fetch-qemu.sh DIR: QEMU from bookworm-backports, unpacked into DIR/root;
# prints the path of its qemu-system-x86_64.
#
# For benchmarks that compare QEMU versions side by side on one host: the
# packages qemu-system-x86, qemu-system-common and qemu-system-data are
# taken with `apt-get download` from a private apt state in DIR/apt (its own
# sources.list, lists and cache, signed by the Debian archive keyring) and
# unpacked with `dpkg -x`. Nothing is installed: the host's QEMU, apt
# configuration and package lists are left alone. The binary runs on the
# host's libraries (seen with 10.0.2 on Debian 12) and finds the host's
# firmware in /usr/share/qemu. A second run reuses DIR.
set -eu

die() { echo "fetch-qemu: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: fetch-qemu.sh DIR"
# apt reads Dir::* paths relative to its own root: the directory must be absolute
mkdir -p "$1" && dir=$(cd "$1" && pwd) || die "cannot make directory '$1'"
bin=$dir/root/usr/bin/qemu-system-x86_64
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
    echo "$bin"
    exit 0
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "keyring '$keyring' is missing: install debian-archive-keyring"
apt=$dir/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/debs"
[ -f "$apt/status" ] || : >"$apt/status"
echo "deb [signed-by=$keyring] ${VMCTL_QEMU_MIRROR:-http://deb.debian.org/debian} bookworm-backports main" \
    >"$apt/sources.list"
set -- -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
    -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status" -o Dir::Cache="$apt/cache" \
    -o Acquire::Languages=none -o APT::Architectures=amd64 -o APT::Sandbox::User=root
echo "fetch-qemu: reading the package lists of bookworm-backports" >&2
apt-get "$@" update -qq >/dev/null || die "apt-get update of bookworm-backports failed (is the network up?)"
(cd "$dir/debs" && apt-get "$@" download -qq qemu-system-x86 qemu-system-common qemu-system-data) ||
    die "download of QEMU from bookworm-backports failed"
rm -rf "$dir/root" "$dir/root.tmp"
for deb in "$dir"/debs/*.deb; do
    dpkg -x "$deb" "$dir/root.tmp"
done
mv "$dir/root.tmp" "$dir/root"
"$bin" --version >/dev/null 2>&1 || die "'$bin' does not run on this host's libraries"
echo "$bin"
