#!/bin/sh
# bench/daemon/run.sh BUILDDIR [GUESTS]: vmctld beside libvirtd with the same
# idle tiny guests (default 20): API round-trip latency (raw socket and the
# CLI: `vmctl list` vs `virsh list`) and the daemons' resident memory.
# Outside `make check`; needs root, KVM, QEMU and libvirtd. Prints a table
# with ratios. Every process it starts is stopped by PID at the end.
set -u
B=$(cd "${1:?usage: run.sh BUILDDIR [GUESTS]}" && pwd)
N=${2:-20}
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
top_builddir=$B
. "$top_srcdir/tests/lib/tap.sh" >/dev/null
. "$top_srcdir/tests/lib/libvirtd.sh"
export VMCTL_SOCKET="$TEST_TMP/run/vmctld.sock" VMCTL_STATE_DIR="$TEST_TMP/state"
VMCTL=$B/vmctl
RUNS=${RUNS:-50}
TINY=$B/guest-tests/tiny/tiny.bin

cc -O2 -o "$TEST_TMP/rtt" "$top_srcdir/bench/daemon/rtt.c" || exit 1

# cli_ms CMD...: median wall time of a command, ms
cli_ms() {
    i=0
    : >"$TEST_TMP/t"
    while [ $i -lt $RUNS ]; do
        a=$(date +%s%N); "$@" >/dev/null 2>&1; b=$(date +%s%N)
        echo $(((b - a) / 1000)) >>"$TEST_TMP/t"
        i=$((i + 1))
    done
    sort -n "$TEST_TMP/t" | awk '{v[NR]=$1} END {printf "%.2f", v[int((NR+1)/2)]/1000}'
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

echo "starting $N idle tiny guests under vmctld ..." >&2
i=1
while [ $i -le "$N" ]; do
    "$VMCTL" launch "b$i" --memory 32M --backend "$TEST_TMP/b$i.ram" --rate 10 --ws 64 >/dev/null || exit 1
    i=$((i + 1))
done
dpid=$(printf '{"execute":"ping"}\n' | nc -U -N "$VMCTL_SOCKET" | jq -r .return.pid)
on_exit "kill $dpid"
on_exit "i=1; while [ \$i -le $N ]; do '$VMCTL' kill b\$i >/dev/null 2>&1; i=\$((i + 1)); done"
set -- $("$TEST_TMP/rtt" "$VMCTL_SOCKET" '{"execute":"ping"}' 2000)
v_ping_med=$2 v_ping_p99=$3
set -- $("$TEST_TMP/rtt" "$VMCTL_SOCKET" '{"execute":"list"}' 2000)
v_list_med=$2 v_list_p99=$3
v_cli=$(cli_ms "$VMCTL" list)
v_rss=$(rss_kb "$dpid")

echo "starting a private libvirtd and the same $N guests under it ..." >&2
mkdir -p "$TEST_TMP/libvirt-a/etc"
libvirtd_start a 16571 || exit 1
lpid=$(eval echo "\$LV_PID_a")
URI=$(eval echo "\$LV_URI_a")
i=1
while [ $i -le "$N" ]; do
    # the domain of libvirt-xml/tiny.xml with this guest's values
    VMCTL_QEMU=$(command -v qemu-system-x86_64) "$VMCTL" xml "lb$i" --memory 32M --backend "$TEST_TMP/lb$i.ram" \
        --rate 10 --ws 64 --seed "$i" --type kvm --serial "$TEST_TMP/lb$i.serial" --image-dir "$(dirname "$TINY")" \
        >"$TEST_TMP/lb$i.xml" || exit 1
    virsh -q -c "$URI" create "$TEST_TMP/lb$i.xml" >/dev/null || exit 1
    i=$((i + 1))
done
on_exit "i=1; while [ \$i -le $N ]; do virsh -q -c '$URI' destroy lb\$i >/dev/null 2>&1; i=\$((i + 1)); done"
l_cli=$(cli_ms virsh -q -c "$URI" list)
l_rss=$(rss_kb "$lpid")

printf '\n%-34s %12s %12s %8s\n' "with $N idle tiny guests" vmctld libvirtd ratio
printf '%-34s %12s %12s %8s\n' "CLI list, median ms" "$v_cli" "$l_cli" "$(echo "$v_cli $l_cli" | awk '{printf "%.2f", $1/$2}')"
printf '%-34s %12s %12s %8s\n' "daemon RSS, KiB" "$v_rss" "$l_rss" "$(echo "$v_rss $l_rss" | awk '{printf "%.2f", $1/$2}')"
printf '%-34s %12s %12s\n' "socket ping round trip, median us" "$v_ping_med" "-"
printf '%-34s %12s %12s\n' "socket ping round trip, p99 us" "$v_ping_p99" "-"
printf '%-34s %12s %12s\n' "socket list round trip, median us" "$v_list_med" "-"
printf '%-34s %12s %12s\n' "socket list round trip, p99 us" "$v_list_p99" "-"
