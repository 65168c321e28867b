# vmctld.sh: a private vmctld for one test (sourced after tap.sh).
#
#   private_vmctld   socket and state dir under $TEST_TMP (S is the state
#                    dir); at exit every guest it lists is killed and the
#                    daemon stopped by its pid
#   req LINE         one raw request line, the reply on stdout
#   daemon_pid       the running vmctld's pid
#   info NAME JQ     a member of `vmctl info NAME --json`

req() { printf '%s\n' "$1" | nc -U -N "$VMCTL_SOCKET" 2>/dev/null; }
daemon_pid() { req '{"execute":"ping"}' | jq -r .return.pid 2>/dev/null; }
info() { "$VMCTL" info "$1" --json | jq -r "$2"; }

_private_vmctld_cleanup() {
    for n in $("$VMCTL" list --json 2>/dev/null | jq -r '.[].name'); do
        "$VMCTL" kill "$n" >/dev/null 2>&1
    done
    p=$(daemon_pid)
    [ -n "$p" ] && [ "$p" != null ] && kill "$p" 2>/dev/null
}

private_vmctld() {
    export VMCTL_SOCKET="$TEST_TMP/run/vmctld.sock"
    export VMCTL_STATE_DIR="$TEST_TMP/state"
    S="$VMCTL_STATE_DIR"
    on_exit _private_vmctld_cleanup
}

# qemu_cmdline PID: a QEMU's command line on one line, each backing vmctld
# passed by descriptor (mem-path /proc/self/fd/N) named by the file that
# QEMU has open there
qemu_cmdline() {
    tr '\0' '\n' <"/proc/$1/cmdline" | while IFS= read -r _a; do
        case $_a in
        *'"mem-path":"/proc/self/fd/'*)
            _n=${_a#*\"mem-path\":\"/proc/self/fd/}
            _n=${_n%%\"*}
            _t=$(readlink "/proc/$1/fd/$_n")
            _a=$(printf '%s' "$_a" | sed "s|\"/proc/self/fd/$_n\"|\"$_t\"|")
            ;;
        esac
        printf '%s ' "$_a"
    done
}

# console NAME LINE [SECONDS]: the test guest's answer to LINE (a VERIFY,
# OK or ERROR line) over its serial console; SECONDS defaults to
# $CONSOLE_TIMEOUT or 60.
console() {
    "$VMCTL" console "$1" --send "$2" --expect "^(VERIFY|OK|ERROR)" --timeout "${3:-${CONSOLE_TIMEOUT:-60}}" |
        grep -aE '^(VERIFY|OK|ERROR)' | tail -n 1
}
