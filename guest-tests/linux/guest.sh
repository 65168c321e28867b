# guest.sh: boot and drive the Linux test guest under TCG (sourced by the
# tests and bench/guests/linux.sh; needs tests/lib/tap.sh's on_exit and
# $TEST_TMP, $top_builddir).
#
#   lg_start NAME        boot a guest; settings from these variables:
#     LG_PMEM=none|raw|fsdax|devdax   NVDIMM setup in the guest (vmctl.pmem)
#     LG_NVDIMM=FILE      NVDIMM backing file (share=on), made if missing
#     LG_NVDIMM_SIZE=256M
#     LG_RAM_FILE=FILE    guest RAM in a share=on file the host can read
#     LG_MEM=512M  LG_SMP=1
#     LG_INITRD=FILE      default: the base initramfs
#     LG_APPEND="..."     more kernel command line (vmctl.rate=... etc.)
#     LG_PTI=on|off       see lg_cmdline
#     LG_QEMU_ARGS="..."  more QEMU arguments (-qmp ..., -incoming ...)
#   lg_send NAME LINE    one line to the guest's serial console
#   lg_wait NAME ERE [SECONDS]  the next console line matching ^ERE (after
#                        the last one matched), printed; status 1 on timeout
#   lg_skip NAME         lg_wait looks only at lines that come after now
#   lg_stop NAME         power off (POWEROFF to stampwl, poweroff to a shell),
#                        then kill QEMU by its PID if it is still there
#   lg_log NAME          the console output so far
LG_DIR=${LG_DIR:-$top_builddir/guest-tests/linux}
LG_QEMU=${VMCTL_QEMU:-qemu-system-x86_64}

# lg_ready: empty when the guest can boot, else the reason it cannot.
lg_ready() {
    command -v "$LG_QEMU" >/dev/null 2>&1 || { echo "$LG_QEMU is not installed"; return; }
    [ -f "$LG_DIR/vmlinuz" ] || { echo "$LG_DIR/vmlinuz is not built"; return; }
    [ -f "$LG_DIR/initramfs.cpio.zst" ] || { echo "$LG_DIR/initramfs.cpio.zst is not built"; return; }
}

# The kernel command line. pti=on: QEMU 7.2's TCG live migration loses dirty
# pages of a busy guest (fixed in 9.0); booting with page-table isolation
# avoided it in most runs measured. Tests that
# migrate keep it; LG_PTI=off boots without it, for a test that needs the
# bug on purpose.
# no_timer_check: on a loaded host TCG may deliver the first timer ticks too
# late for the kernel's IO-APIC timer check, which then panics ("IO-APIC +
# timer doesn't work!"); virtual machines skip that check.
lg_cmdline() {
    _lg_c="console=ttyS0 panic=-1 loglevel=3 no_timer_check vmctl.pmem=${LG_PMEM:-none}"
    [ "${LG_PTI:-on}" = on ] && _lg_c="$_lg_c pti=on"
    echo "$_lg_c ${LG_APPEND:-}"
}

lg_start() {
    _lg_name=$1
    _lg_d=$TEST_TMP/lg-$_lg_name
    mkdir -p "$_lg_d"
    rm -f "$_lg_d/serial.in" "$_lg_d/serial.out" "$_lg_d/console"
    mkfifo "$_lg_d/serial.in" "$_lg_d/serial.out"
    : >"$_lg_d/console"
    echo 0 >"$_lg_d/cursor"
    set -- -accel tcg -nodefaults -display none -no-reboot -smp "${LG_SMP:-1}" \
        -kernel "$LG_DIR/vmlinuz" -initrd "${LG_INITRD:-$LG_DIR/initramfs.cpio.zst}" \
        -append "$(lg_cmdline)" -serial "pipe:$_lg_d/serial"
    if [ "${LG_PMEM:-none}" != none ] || [ -n "${LG_NVDIMM:-}" ]; then
        _lg_nv=${LG_NVDIMM:-$_lg_d/nvdimm.img}
        [ -f "$_lg_nv" ] || truncate -s "${LG_NVDIMM_SIZE:-256M}" "$_lg_nv"
        set -- "$@" -machine pc,nvdimm=on -m "${LG_MEM:-512M},slots=2,maxmem=4G" \
            -object "memory-backend-file,id=nv0,mem-path=$_lg_nv,size=${LG_NVDIMM_SIZE:-256M},share=on" \
            -device nvdimm,id=nvdimm0,memdev=nv0
    else
        set -- "$@" -machine pc -m "${LG_MEM:-512M}"
    fi
    if [ -n "${LG_RAM_FILE:-}" ]; then
        [ -f "$LG_RAM_FILE" ] || truncate -s "${LG_MEM:-512M}" "$LG_RAM_FILE"
        set -- "$@" -object "memory-backend-file,id=ram0,mem-path=$LG_RAM_FILE,size=${LG_MEM:-512M},share=on" \
            -machine memory-backend=ram0
    fi
    # shellcheck disable=SC2086 # word splitting intended
    set -- "$@" ${LG_QEMU_ARGS:-}
    # the reader must run before QEMU fills the pipe
    cat "$_lg_d/serial.out" >>"$_lg_d/console" &
    echo $! >"$_lg_d/cat.pid"
    "$LG_QEMU" "$@" >"$_lg_d/qemu.log" 2>&1 &
    echo $! >"$_lg_d/qemu.pid"
    on_exit "lg_kill $_lg_name"
    # A test killed by a signal its traps do not cover (SIGPIPE, SIGKILL)
    # runs no cleanup: this watcher ends QEMU when the test is gone.
    (
        _lg_qpid=$(cat "$_lg_d/qemu.pid")
        while lg_pid_alive $$ && lg_pid_alive "$_lg_qpid"; do sleep 1; done
        kill "$_lg_qpid" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
}

lg_kill() {
    _lg_d=$TEST_TMP/lg-$1
    for _lg_p in qemu cat; do
        [ -f "$_lg_d/$_lg_p.pid" ] || continue
        kill "$(cat "$_lg_d/$_lg_p.pid")" 2>/dev/null
        rm -f "$_lg_d/$_lg_p.pid"
    done
}

# lg_pid_alive PID: running (an exited child not yet reaped is a zombie,
# which kill -0 still finds)
lg_pid_alive() {
    _lg_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$_lg_st" ] && [ "$_lg_st" != Z ] && [ "$_lg_st" != X ]
}

lg_alive() { [ -f "$TEST_TMP/lg-$1/qemu.pid" ] && lg_pid_alive "$(cat "$TEST_TMP/lg-$1/qemu.pid")"; }

# Opened read-write, the FIFO never blocks, also when QEMU is gone.
lg_send() { printf '%s\n' "$2" 1<>"$TEST_TMP/lg-$1/serial.in"; }

lg_log() { tr -d '\r' <"$TEST_TMP/lg-$1/console"; }

lg_wait() {
    _lg_d=$TEST_TMP/lg-$1
    _lg_re=$2
    _lg_tries=$(( ${3:-60} * 10 ))
    _lg_cur=$(cat "$_lg_d/cursor")
    while [ $_lg_tries -gt 0 ]; do
        # only whole lines: the last one may still be arriving
        cp "$_lg_d/console" "$_lg_d/snap"
        _lg_cut=
        [ -n "$(tail -c1 "$_lg_d/snap")" ] && _lg_cut='$d'
        _lg_hit=$(tr -d '\r' <"$_lg_d/snap" | sed "$_lg_cut" | tail -n +$((_lg_cur + 1)) |
            grep -n -m1 -E "^($_lg_re)" || true)
        if [ -n "$_lg_hit" ]; then
            echo $((_lg_cur + ${_lg_hit%%:*})) >"$_lg_d/cursor"
            printf '%s\n' "${_lg_hit#*:}"
            return 0
        fi
        lg_alive "$1" || break
        sleep 0.1
        _lg_tries=$((_lg_tries - 1))
    done
    return 1
}

lg_skip() { lg_log "$1" | wc -l >"$TEST_TMP/lg-$1/cursor"; }

lg_stop() {
    _lg_d=$TEST_TMP/lg-$1
    lg_alive "$1" || { lg_kill "$1"; return 0; }
    if grep -q '^INIT run=shell' "$_lg_d/console"; then lg_send "$1" poweroff; else lg_send "$1" POWEROFF; fi
    _lg_n=0
    while lg_alive "$1" && [ $_lg_n -lt 100 ]; do sleep 0.1; _lg_n=$((_lg_n + 1)); done
    lg_kill "$1"
}
