#!/bin/sh
# lab.sh: `vmctl lab` for real: L1 boots (TCG with an emulated SVM CPU, or
# KVM where the host nests), runs the host's own files, gives a real KVM
# and real DAX; exit status, stdout and stderr come back apart; nothing is
# left after a normal end, Ctrl-C or kill -9; bad input is one line. Then
# `vmctl probe dirty-log` inside on device-dax and fsdax in every mode,
# with its negative controls there too.
. "$top_srcdir/tests/lib/tap.sh"

need_lab "vmctl lab"

# --- one boot: status, streams, directory, environment, the machine --------
cd "$TEST_TMP" || exit 1
mkdir -p "$TEST_TMP/here"
cd "$TEST_TMP/here" || exit 1
mkdir -p "$TEST_TMP/labtmp"
TMPDIR=$TEST_TMP/labtmp VMCTL_LAB_TEST_VAR="a b'c" "$VMCTL" lab run --json -- sh -c '
    echo "pwd=$(pwd)"
    echo "var=$VMCTL_LAB_TEST_VAR"
    echo "kvm=$(test -c /dev/kvm && echo yes)"
    echo "dax0=$(test -c /dev/dax0.0 && echo yes) dax2=$(test -c /dev/dax2.0 && echo yes)"
    echo "fsdax=$(grep " /mnt/fsdax1 " /proc/mounts | grep -c dax=always)"
    echo "huge=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)"
    echo "vmctl=$(sha256sum <"$VMCTL")"
    echo written >"$TEST_TMP/here/from-the-lab"
    echo to-stderr >&2
    exit 7' >"$TEST_TMP/run.json" 2>"$TEST_TMP/run.err"
rc=$?
cd "$TEST_TMP" || exit 1
is "lab run: the command's exit status comes back" "$rc" 7
j() { jq -r "$1" "$TEST_TMP/run.json" 2>/dev/null; }
is "lab run --json: exit_status" "$(j .exit_status)" 7
is "stderr comes back on its own" "$(j .stderr)" "to-stderr"
out=$(j .stdout)
like "the command ran in this directory" "$out" "pwd=$TEST_TMP/here"
like "the environment came along" "$out" "var=a b'c"
like "L1 has a KVM" "$out" "kvm=yes"
like "L1 has two device-dax devices" "$out" "dax0=yes dax2=yes"
like "L1 has a dax=always fsdax mount" "$out" "fsdax=1"
like "L1 has a hugetlbfs pool" "$out" "huge=128"
like "the host's own vmctl binary is the one inside" "$out" "vmctl=$(sha256sum <"$VMCTL")"
is "what the lab wrote did not reach the host's files" "$(ls "$TEST_TMP/here")" ""
like "the lab says which accelerator and why" "$(j '.lab.accel + ": " + .lab.accel_reason')" \
    '^(tcg|kvm): .+'
is "the lab set up three NVDIMMs" "$(j '.lab.pmem | length')" 3
like "NVDIMM 0 is device-dax with 2M alignment" "$(j '.lab.pmem[0]')" '^mode=devdax dev=/dev/dax0.0 .*align=2097152'
like "NVDIMM 1 is fsdax" "$(j '.lab.pmem[1]')" '^mode=fsdax dev=/dev/pmem1 .*mount=/mnt/fsdax1 dax=always'
like "boot time is measured" "$(j .lab.boot_ns)" '^[0-9]+$'
diag "lab: $(j '.lab.release + ", " + .lab.accel + ", ready in " + ((.lab.boot_ns / 1e6 | floor) | tostring) + " ms"')"
is "no lab directory is left" "$(ls "$TEST_TMP/labtmp")" ""

# --- lab info ---------------------------------------------------------------
"$VMCTL" lab info --json >"$TEST_TMP/info.json" 2>"$TEST_TMP/info.err"
is "lab info exits 0" "$?" 0
j() { jq -r "$1" "$TEST_TMP/info.json" 2>/dev/null; }
is "info: the kernel release inside is the lab's" "$(j .facts.host.kernel.release)" "$(j .release)"
is "info: KVM is available inside" "$(j .facts.host.kvm.available)" true
like "info: KVM module inside" "$(j .facts.host.kvm.module)" '^kvm_(amd|intel)$'
like "info: dirty ring capability inside" "$(j .facts.host.kvm.caps.dirty_log_ring)" '^[1-9][0-9]*$'
is "info: the DAX devices are listed" \
    "$(j '[.facts.backends.dax_devices[] | .path] | sort | join(" ")')" \
    "/dev/dax0.0 /dev/dax2.0"
is "info: the fsdax namespace is listed with its block device" \
    "$(j '[.facts.backends.namespaces[] | select(.mode == "fsdax") | .blockdev] | join(" ")')" pmem1
[ -s "$TEST_TMP/info.err" ] && diag "$(head -c 2000 "$TEST_TMP/info.err")"

# --- the dirty-log probe on real DAX, and its negative controls ------------
# One lab: the probe on its defaults (in a lab they include its device-dax
# and its fsdax mount), then the controls, their JSON one per line.
"$VMCTL" lab run -- sh -c '
    "$VMCTL" --json probe dirty-log -s 32M >/tmp/all.json
    echo "rc=$?"; jq -c . /tmp/all.json
    VMCTL_PROBE_FAULT=drop-page:100 "$VMCTL" --json probe dirty-log -b devdax:/dev/dax0.0 -m clear -s 64M >/tmp/drop.json
    echo "rc=$?"; jq -c . /tmp/drop.json
    VMCTL_PROBE_FAULT=host-write:77 "$VMCTL" --json probe dirty-log -b fsdax:/mnt/fsdax1 -m bitmap -s 64M >/tmp/hw.json
    echo "rc=$?"; jq -c . /tmp/hw.json
    # the libvirt hook on a real device-dax: one good domain, two refused
    dom() { echo "<domain type=\"kvm\"><name>g</name><memory unit=\"MiB\">192</memory><devices><memory model=\"nvdimm\" access=\"$1\"><source><path>/dev/dax0.0</path><alignsize unit=\"KiB\">$2</alignsize></source><target><size unit=\"MiB\">128</size></target></memory></devices></domain>"; }
    for a in shared:2048 private:2048 shared:4; do
        out=$(dom ${a%%:*} ${a#*:} | "$VMCTL" hook qemu g prepare begin - 2>&1 >/dev/null); rc=$?
        echo "${out:+$out }rc=$rc"
    done' >"$TEST_TMP/probe.out" 2>"$TEST_TMP/probe.err"
is "probe lab exits 0" "$?" 0
sed -n 2p "$TEST_TMP/probe.out" >"$TEST_TMP/all.json"
sed -n 4p "$TEST_TMP/probe.out" >"$TEST_TMP/drop.json"
sed -n 6p "$TEST_TMP/probe.out" >"$TEST_TMP/hw.json"
is "probe on DAX exits 0" "$(sed -n 1p "$TEST_TMP/probe.out")" "rc=0"
is "hook: a device-dax NVDIMM, shared, 2M aligned, is allowed" "$(sed -n 7p "$TEST_TMP/probe.out")" "rc=0"
like "hook: a device-dax NVDIMM with access='private' is refused in one line" "$(sed -n 8p "$TEST_TMP/probe.out")" \
    "^vmctl: domain 'g' refused: nvdimm '/dev/dax0.0' is device-dax and needs access='shared' rc=1$"
like "hook: an alignsize below the device's 2M alignment is refused in one line" "$(sed -n 9p "$TEST_TMP/probe.out")" \
    "^vmctl: domain 'g' refused: nvdimm alignsize '4K(iB)?' of '/dev/dax0.0' is below the backing's alignment '2M(iB)?' rc=1$"
j() { jq -r "$1" "$TEST_TMP/all.json" 2>/dev/null; }
for b in devdax:/dev/dax0.0 devdax:/dev/dax2.0 fsdax:/mnt/fsdax1; do
    for m in bitmap clear ring; do
        is "$b/$m passes on real DAX" \
            "$(jq -r --arg b $b --arg m $m '.results[] | select(.backing==$b and .mode==$m) | .verdict' "$TEST_TMP/all.json")" pass
    done
done
is "no page missing, no page extra on DAX" "$(j '[.results[] | (.missing.count // 0) + (.extra.count // 0)] | add')" 0
is "the probe's defaults in a lab are its DAX and the usual backings, all passing" \
    "$(j '[.results[] | select(.verdict == "pass") | .backing] | unique | length')" 9
is "device-dax: the backing oracle missed nothing" \
    "$(j '[.results[] | select(.backing | startswith("devdax")) | select(.oracle.applies and .oracle.misses.count == 0)] | length')" 6
is "device-dax: KVM maps it huge, and huge again after logging" \
    "$(j '[.results[] | select(.backing | startswith("devdax")) | select(.stats.huge_verdict | endswith(": restored"))] | length')" 6
is "fsdax: KVM maps an allocated file huge, and huge again after logging" \
    "$(j '[.results[] | select(.backing | startswith("fsdax")) | select(.stats.huge_verdict | endswith(": restored"))] | length')" 3
diag "devdax huge mappings: $(j '[.results[] | select(.backing | startswith("devdax")) | .stats.huge_verdict] | unique | join("; ")')"
diag "fsdax huge mappings: $(j '[.results[] | select(.backing | startswith("fsdax")) | .stats.huge_verdict] | unique | join("; ")')"
is "drop-page control on device-dax: exit 1" "$(sed -n 3p "$TEST_TMP/probe.out")" "rc=1"
is "drop-page control on device-dax: FAIL naming page 100" \
    "$(jq -c '[.results[0].verdict, .results[0].missing.first_pages]' "$TEST_TMP/drop.json")" '["fail",[100]]'
is "host-write control on fsdax: exit 1" "$(sed -n 5p "$TEST_TMP/probe.out")" "rc=1"
is "host-write control on fsdax: the oracle names page 77" \
    "$(jq -c '[.results[0].verdict, .results[0].oracle.misses.first_pages]' "$TEST_TMP/hw.json")" '["fail",[77]]'
[ -s "$TEST_TMP/probe.err" ] && diag "$(head -c 2000 "$TEST_TMP/probe.err")"

# --- Ctrl-C and kill -9: nothing is left ------------------------------------
# lab_children PID: the pids of QEMU and virtiofsd that PID started
lab_children() { pgrep -P "$1" 2>/dev/null | tr '\n' ' '; }
"$VMCTL" lab run -- sleep 600 >"$TEST_TMP/int.out" 2>"$TEST_TMP/int.err" &
pid=$!
wait_for_children() { # PID N: wait until PID has N children (up to 30 s)
    _i=0
    while [ "$(pgrep -P "$1" | wc -l)" -lt "$2" ] && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
}
wait_for_children $pid 2
kids=$(lab_children $pid)
like "the lab runs QEMU and virtiofsd" "$kids" '^[0-9]+ [0-9]+ $'
dir=$(grep -l "^$pid\$" "${TMPDIR:-/tmp}"/vmctl-lab-*/pid 2>/dev/null | head -n1)
dir=${dir%/pid}
sleep 2
kill -INT $pid
wait $pid
is "Ctrl-C: exit 130" "$?" 130
like "Ctrl-C: one line says the lab was cancelled" "$(head -n1 "$TEST_TMP/int.err")" "^vmctl: lab \(kernel '[^']+'\) ended before its command did: cancelled"
left=""
for k in $kids; do gone_within "$k" 5 || left="$left $k"; done
is "Ctrl-C: QEMU and virtiofsd are gone" "$left" ""
is "Ctrl-C: the lab's directory is gone" "$( [ -n "$dir" ] && [ -e "$dir" ] && echo "$dir")" ""

"$VMCTL" lab run -- sleep 600 >/dev/null 2>&1 &
pid=$!
wait_for_children $pid 2
kids=$(lab_children $pid)
dir=$(grep -l "^$pid\$" "${TMPDIR:-/tmp}"/vmctl-lab-*/pid 2>/dev/null | head -n1)
dir=${dir%/pid}
kill -KILL $pid
wait $pid 2>/dev/null
left=""
for k in $kids; do gone_within "$k" 5 || left="$left $k"; done
is "kill -9: QEMU and virtiofsd die with vmctl" "$left" ""
"$VMCTL" lab run -- true
is "the next lab runs" "$?" 0
is "kill -9: the next lab removed the dead one's directory" "$( [ -n "$dir" ] && [ -e "$dir" ] && echo "$dir")" ""

# --- bad input: one line, no lab ----------------------------------------------
bad() { # DESC EXPECTED-RC REGEX ARGS...
    _d=$1 _rc=$2 _re=$3
    shift 3
    _out=$(TMPDIR=$TEST_TMP/bad "$VMCTL" "$@" 2>&1)
    _got=$?
    if [ "$_got" = "$_rc" ] && [ "$(printf '%s\n' "$_out" | wc -l)" = 1 ] && printf '%s' "$_out" | grep -Eq -- "$_re"; then
        ok "$_d"
    else
        not_ok "$_d"
        diag "exit $_got (want $_rc): $_out"
    fi
}
mkdir -p "$TEST_TMP/bad"
bad "run without a command" 2 "^vmctl: lab run needs '-- COMMAND" lab run
bad "an unknown kernel name" 125 "^vmctl: lab image of kernel 'sid-rt' could not be made" lab run --kernel sid-rt -- true
bad "an unknown accelerator" 2 "^vmctl: lab accel 'hvf' must be auto, tcg or kvm" lab run --accel hvf -- true
bad "too little memory" 2 "^vmctl: lab memory '100M' must be a whole number of MiB, at least 256M" lab run --memory 100M -- true
bad "an odd NVDIMM size" 2 "^vmctl: lab nvdimm-size '65M' must be a multiple of 2M" lab run --nvdimm-size 65M -- true
bad "a hugetlbfs pool larger than half the memory" 2 "^vmctl: lab hugepages '9999'" lab run --hugepages 9999 -- true
bad "an unknown subcommand" 2 "^vmctl: lab subcommand 'boot' is unknown" lab boot
if have_kvm && [ -d /sys/module/kvm_pvm ]; then
    bad "accel kvm on a paravirtual KVM" 125 "^vmctl: lab accel 'kvm' needs a KVM with nested virtualization: .*paravirtual" \
        lab run --accel kvm -- true
fi
# on a terminal the boot is announced; elsewhere stderr is the command's
if command -v script >/dev/null; then
    out=$(script -qec "'$VMCTL' lab run -- echo lab-says-hi" /dev/null 2>&1 | tr -d '\r')
    like "on a terminal: the boot is announced" "$out" "^vmctl: lab: booting kernel 'bookworm', then running the command$"
    like "  then the command's output" "$out" "^lab-says-hi$"
    out=$("$VMCTL" lab run -- echo lab-says-hi 2>&1)
    is "not on a terminal: only the command's output" "$out" "lab-says-hi"
fi
# a boot that does not reach the command in time is ended (booted twice)
out=$(VMCTL_LAB_BOOT_TIMEOUT=1 TMPDIR=$TEST_TMP/bad "$VMCTL" lab run -- true 2>&1)
is "a lab that does not boot in time: exit 125" "$?" 125
like "and the error says so" "$(printf '%s\n' "$out" | head -n 1)" \
    "^vmctl: lab \(kernel 'bookworm'\) ended before its command did: it did not boot in time"
is "no lab was left by the bad input: no process, no directory" \
    "$(pgrep -f "$TEST_TMP/bad" | wc -l) $(ls "$TEST_TMP/bad" | wc -l)" "0 0"
tap_done
