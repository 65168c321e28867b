# tap.sh: TAP output for the shell integration tests (sourced).
#
# Every test point is `ok N - text` or `not ok N - text`. A test that needs
# something this machine lacks skips with the reason; under CI=true a skip of
# a KVM, QEMU, KSM or libvirt test is a failure, because CI machines have
# all of them.

_tap_n=0
_tap_failed=0
_tap_cleanups=""

: "${VMCTL:=$top_builddir/vmctl}"
: "${VMCTLD:=$top_builddir/vmctld}"
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmctl-test.XXXXXX")
export TEST_TMP

tap_plan() { echo "1..$1"; }

ok() {
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n - $*"
}

not_ok() {
    _tap_n=$((_tap_n + 1))
    _tap_failed=$((_tap_failed + 1))
    echo "not ok $_tap_n - $*"
}

diag() { echo "# $*" | sed '2,$s/^/# /'; }

# check DESCRIPTION COMMAND...: one test point from a command's status.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# is DESCRIPTION GOT EXPECTED
is() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1"
        diag "got:      '$2'"
        diag "expected: '$3'"
    fi
}

# like DESCRIPTION TEXT REGEX (extended regex)
like() {
    if printf '%s' "$2" | grep -Eq -- "$3"; then
        ok "$1"
    else
        not_ok "$1"
        diag "text '$2' does not match /$3/"
    fi
}

# skip DESCRIPTION REASON [KIND]: a KIND (what is missing: kvm, qemu, root, ...) makes it
# a failure under CI=true.
skip() {
    _tap_n=$((_tap_n + 1))
    if [ "${CI:-}" = "true" ] && [ -n "${3:-}" ]; then
        _tap_failed=$((_tap_failed + 1))
        echo "not ok $_tap_n - $1 # needs $3 under CI: $2"
    else
        echo "ok $_tap_n - $1 # SKIP $2"
    fi
}

# have_kvm: /dev/kvm is the KVM device (char 10:232: a /dev/null bound over
# it, as a test hiding KVM does, is not) and usable
have_kvm() { [ -c /dev/kvm ] && [ "$(stat -L -c %t:%T /dev/kvm 2>/dev/null)" = a:e8 ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
have_qemu() { command -v "${VMCTL_QEMU:-qemu-system-x86_64}" >/dev/null 2>&1; }
have_ksm() { [ -w /sys/kernel/mm/ksm/run ]; }
is_root() { [ "$(id -u)" = 0 ]; }

# lab_ready: empty when `vmctl lab` can run here, else the reason it cannot
lab_ready() {
    have_qemu || { echo "${VMCTL_QEMU:-qemu-system-x86_64} is not installed"; return; }
    [ -n "${VMCTL_VIRTIOFSD:-}" ] || command -v virtiofsd >/dev/null 2>&1 ||
        [ -x /usr/lib/qemu/virtiofsd ] || [ -x /usr/libexec/virtiofsd ] ||
        { echo "virtiofsd is not installed"; return; }
    is_root || { echo "the lab shares the host's root: needs root"; return; }
    [ ! -e /run/vmctl-lab/job ] || echo "already inside a lab"
}

# need_lab DESCRIPTION: a test that needs `vmctl lab` skips whole (a
# failure under CI) where no lab can run here.
need_lab() {
    _lw=$(lab_ready)
    [ -z "$_lw" ] && return 0
    skip "$1" "$_lw" qemu
    tap_done
}

# run_in_lab [ARGS...]: the whole test runs again inside a lab (vmctl lab:
# real KVM in a TCG guest with emulated NVDIMMs) and this process becomes
# that run: its TAP, its exit status. ARGS go to `vmctl lab run` (e.g.
# --memory 4G); VMCTL_TEST_LAB adds more. Bounded: a test that hangs in a
# lab fails instead of stalling the suite (VMCTL_TEST_LAB_TIMEOUT s).
run_in_lab() {
    rm -rf "$TEST_TMP"
    trap - EXIT
    # shellcheck disable=SC2086 # word splitting intended
    exec "$VMCTL" lab run --timeout "${VMCTL_TEST_LAB_TIMEOUT:-1200}" "$@" ${VMCTL_TEST_LAB:-} -- /bin/sh "$0"
}

# lab_only DESCRIPTION [ARGS...]: a test that exists only in a lab (real
# DAX) runs in one on any host (run_in_lab ARGS), unless it already does;
# where no lab can run it skips whole (a failure under CI).
lab_only() {
    _lo_desc=$1
    shift
    [ -e /run/vmctl-lab/job ] && return 0
    need_lab "$_lo_desc"
    run_in_lab "$@"
}

# kvm_or_lab [ARGS...]: a test that needs KVM runs on the host's KVM where
# there is one (returns 0); where there is none, in a lab (run_in_lab ARGS).
# Returns 1, with the reason in $lab_why, when neither is possible.
kvm_or_lab() {
    lab_why=
    have_kvm && return 0
    lab_why=$(lab_ready)
    if [ -n "$lab_why" ]; then
        lab_why="no usable /dev/kvm, and no lab: $lab_why"
        return 1
    fi
    echo "# no usable /dev/kvm here: this test runs inside a lab ($VMCTL lab run $* ${VMCTL_TEST_LAB:-})"
    run_in_lab "$@"
}

# on_exit COMMAND: run at exit, last registered first.
on_exit() { _tap_cleanups="$1; $_tap_cleanups"; }

_tap_finish() {
    local rc=$?
    eval "$_tap_cleanups" >/dev/null 2>&1 || true
    rm -rf "$TEST_TMP"
    if [ $rc -ne 0 ] && [ $_tap_failed -eq 0 ]; then
        echo "Bail out! test script exited with status $rc"
    fi
}
trap _tap_finish EXIT
trap 'exit 130' INT TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

# tap_done: call at the end; the plan comes last so tests may be dynamic.
tap_done() {
    echo "1..$_tap_n"
    exit 0
}

# wait_for FILE REGEX SECONDS: poll a log file until a line matches.
wait_for() {
    local i=0 n=$(($3 * 10))
    while [ $i -lt $n ]; do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# gone PID: the process has exited (a zombie waiting for its reaper counts)
gone() {
    [ ! -e "/proc/$1/status" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# gone_within PID SECONDS: wait for the process to be gone
gone_within() {
    _i=0
    while ! gone "$1" && [ $_i -lt $(($2 * 10)) ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    gone "$1"
}

# killed_within PID SECONDS: the process is gone, or it was killed and is
# on its way out: SIGKILL pending or the kernel already in its exit
# (PF_EXITING in /proc/PID/stat's flags). A nested KVM guest's teardown in
# a lab under load can take longer than any fair wait; what a test of the
# killer asserts is the kill.
killed_within() {
    gone_within "$1" "$2" && return 0
    _st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
    _fl=$(echo "$_st" | awk '{print $7}')
    [ -n "$_fl" ] && [ $((_fl & 4)) -ne 0 ] && return 0
    _pd=$(awk '/^(ShdPnd|SigPnd):/ {print $2}' "/proc/$1/status" 2>/dev/null)
    for _p in $_pd; do
        [ $((0x$_p & 0x100)) -ne 0 ] && return 0
    done
    gone "$1"
}

# wait_line LOG REGEX [SECONDS]: print the first complete line of a log
# that a guest is still writing which matches, or fail after the timeout.
# The file is read once per try, and a last line without its newline is
# left for the next try: a line caught half-written must not match.
wait_line() {
    _i=0
    while [ $_i -lt $((${3:-30} * 10)) ]; do
        _t=$(cat "$1" 2>/dev/null; printf x)
        case "$_t" in
        *"
x") _t=${_t%x} ;;
        *) _t=$(printf '%s' "${_t%x}" | sed '$d') ;;
        esac
        _l=$(printf '%s\n' "$_t" | grep -aE -m1 -- "$2") && { printf '%s\n' "$_l"; return 0; }
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# qmp SOCK JSON...: send commands after qmp_capabilities and print the
# replies; stdin stays open until every command has been answered
qmp() {
    _s=$1
    shift
    _o=$TEST_TMP/qmp.out
    : >"$_o"
    _n=$(($# + 1))
    {
        printf '{"execute":"qmp_capabilities"}\n'
        for _c; do printf '%s\n' "$_c"; done
        _i=0
        while [ "$(grep -c '"return"\|"error"' "$_o")" -lt $_n ] && [ $_i -lt 100 ]; do
            sleep 0.05
            _i=$((_i + 1))
        done
    } | nc -N -U "$_s" >"$_o"
    cat "$_o"
}

# ci_status WHAT FILE: the status file .ci/run leaves ("RC COMMIT RUN") as
# test points: made by this very run (VMCTL_CI_RUN) of this commit, and its
# exit status 0. A file from another run or commit is not taken.
ci_status() {
    local rc commit run head
    if [ -z "${VMCTL_CI_RUN:-}" ] && [ "${CI:-}" != true ]; then
        skip "$1" "$2 is from an earlier .ci/run, not this one"
        return
    fi
    read -r rc commit run <"$2"
    head=$(git -C "$top_srcdir" rev-parse HEAD 2>/dev/null || echo unknown)
    is "$1: made by this run" "${run:-none}" "${VMCTL_CI_RUN:-not a CI run}"
    is "$1: of this commit" "${commit:-none}" "$head"
    is "$1 exited 0" "$rc" 0
}
