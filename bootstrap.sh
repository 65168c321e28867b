#!/bin/sh
# bootstrap.sh: set up vmctl on a Debian 12 host and run it.
#
#   ./bootstrap.sh            install what is missing and build
#   ./bootstrap.sh validate   ... then run the host report (vmctl validate)
#   ./bootstrap.sh check      ... then run the whole test suite
#
# Idempotent: packages are installed only when missing, autoreconf and
# configure run only when their inputs changed. QEMU=backports takes QEMU and
# libvirt from bookworm-backports. The build lives in ./build.
set -eu

cd "$(dirname "$0")"
SRCDIR=$(pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
MODE=${1:-build}
if [ $# -gt 0 ]; then shift; fi

say() { echo "bootstrap: $*" >&2; }
# vmctld_pid SOCKET: the pid of the vmctld answering there, or nothing
vmctld_pid() { printf '{"execute":"ping"}\n' | nc -U -N "$1" 2>/dev/null | jq -r '.return.pid // empty' 2>/dev/null || true; }
die() { echo "bootstrap: $*" >&2; exit 2; }

case "$MODE" in
build | validate | check) ;;
*) die "mode '$MODE' is unknown: use validate, check or nothing" ;;
esac

PACKAGES="build-essential autoconf automake libtool pkg-config
  libglib2.0-dev libjson-c-dev libvirt-dev linux-libc-dev
  qemu-system-x86 qemu-utils busybox-static e2fsprogs cpio jq kmod xz-utils zstd
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-utils netcat-openbsd
  clang libclang-rt-dev chromium python3 valgrind mandoc man-db bash-completion"
BACKPORTED="qemu-system-x86 qemu-utils libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"

install_packages() {
    missing=""
    for p in $PACKAGES; do
        dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
    done
    if [ "${QEMU:-}" = backports ]; then
        if ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/vmctl-backports.list
            need_update=1
        fi
        # every backported package must be a backport (libvirt-dev matching
        # libvirt0 and the daemon); those come only from bookworm-backports
        for p in $BACKPORTED; do
            v=$(dpkg-query -W -f '${Status} ${Version}' "$p" 2>/dev/null || true)
            case "$v" in "install ok installed "*~bpo*) ;; *) backports=1 ;; esac
        done
        rest=""
        for p in $missing; do
            case " $BACKPORTED " in *" $p "*) ;; *) rest="$rest $p" ;; esac
        done
        missing=$rest
    fi
    [ -z "$missing" ] && [ -z "${backports:-}" ] && return 0
    [ "$(id -u)" = 0 ] || die "packages missing ($missing${backports:+ and QEMU/libvirt from bookworm-backports} ): run as root to install them"
    export DEBIAN_FRONTEND=noninteractive
    if [ -n "${need_update:-}" ] || [ ! -e /var/lib/apt/lists/lock ] || [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ] || [ -n "$missing${backports:-}" ]; then
        say "apt-get update"
        apt-get update -qq
    fi
    if [ -n "$missing" ]; then
        say "installing:$missing"
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
    if [ -n "${backports:-}" ]; then
        say "installing QEMU and libvirt from bookworm-backports"
        apt-get install -y -qq --no-install-recommends -t bookworm-backports $BACKPORTED >/dev/null
    fi
}

# Users and groups libvirt's QEMU driver expects (Debian's
# libvirt-daemon-system would create them, but it pulls in systemd).
setup_host() {
    [ "$(id -u)" = 0 ] || return 0
    getent group kvm >/dev/null || groupadd -r kvm
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    getent passwd libvirt-qemu >/dev/null ||
        useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
}

build() {
    if [ ! -x configure ] || [ configure.ac -nt configure ]; then
        say "autoreconf"
        autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
    fi
    mkdir -p "$BUILDDIR"
    if [ ! -f "$BUILDDIR/Makefile" ] || [ configure -nt "$BUILDDIR/config.status" ]; then
        say "configure"
        (cd "$BUILDDIR" && "$SRCDIR/configure" -q)
    fi
    say "make"
    make -s -C "$BUILDDIR" -j"$(nproc)" all
}

# promtool for the tests of --openmetrics: Debian's prometheus package
# would install and start a server, so only its promtool is taken out of the
# .deb (apt-get download + dpkg -x) into BUILDDIR/tools/bin.
fetch_promtool() {
    command -v promtool >/dev/null 2>&1 && return 0
    [ -x "$BUILDDIR/tools/bin/promtool" ] && return 0
    [ "$(id -u)" = 0 ] || { say "promtool: not installed and not root: the --openmetrics tests skip it"; return 0; }
    say "promtool: taking it out of Debian's prometheus package"
    rm -rf "$BUILDDIR/tools/prometheus"
    mkdir -p "$BUILDDIR/tools/prometheus" "$BUILDDIR/tools/bin"
    if (cd "$BUILDDIR/tools/prometheus" && apt-get -o APT::Sandbox::User=root download -qq prometheus) &&
        dpkg -x "$BUILDDIR"/tools/prometheus/prometheus_*.deb "$BUILDDIR/tools/prometheus/root" &&
        cp "$BUILDDIR/tools/prometheus/root/usr/bin/promtool" "$BUILDDIR/tools/bin/promtool"; then
        rm -rf "$BUILDDIR/tools/prometheus"
    else
        say "promtool: could not be fetched"
    fi
}

# Print "N passed, N failed[, N skipped]" from automake's test-suite.log.
summary() {
    log="$BUILDDIR/test-suite.log"
    [ -f "$log" ] || { echo "0 passed, 1 failed"; return; }
    get() { sed -n "s/^# $1: *\([0-9]*\)$/\1/p" "$log" | head -n1; }
    pass=$(get PASS); fail=$(get FAIL); skip=$(get SKIP); xpass=$(get XPASS); err=$(get ERROR); xfail=$(get XFAIL)
    failed=$(( ${fail:-0} + ${xpass:-0} + ${err:-0} ))
    passed=$(( ${pass:-0} + ${xfail:-0} ))
    if [ "${skip:-0}" -gt 0 ]; then
        echo "$passed passed, $failed failed, ${skip} skipped"
    else
        echo "$passed passed, $failed failed"
    fi
}

install_packages
setup_host
build

case "$MODE" in
validate)
    # vmctl starts vmctld when none answers; a vmctld this run started is
    # stopped again (by its pid) when the report is done
    sock=${VMCTL_SOCKET:-/run/vmctl/vmctld.sock}
    before=$(vmctld_pid "$sock")
    rc=0
    "$BUILDDIR/vmctl" validate "$@" || rc=$?
    after=$(vmctld_pid "$sock")
    if [ -z "$before" ] && [ -n "$after" ]; then
        kill "$after" 2>/dev/null || true
    fi
    exit $rc
    ;;
check)
    rc=0
    fetch_promtool
    make -C "$BUILDDIR" -j"$(nproc)" check "$@" || rc=$?
    if [ $rc -ne 0 ]; then
        # show what failed, then the summary line last
        # the diagnostics of each failing script (its '# ' lines)
        for t in $(sed -n 's/^\(FAIL\|ERROR\): \([^ ]*\).*$/\2/p' "$BUILDDIR/test-suite.log" 2>/dev/null | sort -u); do
            log="$BUILDDIR/${t%.*}.log"
            [ -f "$log" ] || continue
            echo "--- $t: its last diagnostics" >&2
            grep -h '^# ' "$log" | tail -n 15 >&2 || true
        done
        grep -h '^not ok\|^Bail out' "$BUILDDIR"/tests/*/*.log "$BUILDDIR"/tests/*/*/*.log 2>/dev/null | head -n 40 >&2 || true
    fi
    summary
    exit $rc
    ;;
esac
