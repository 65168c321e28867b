#!/bin/sh
# daemon.sh: vmctld started on demand by vmctl, its protocol errors, access
# control, state files, and a request fuzz smoke test.
. "$top_srcdir/tests/lib/tap.sh"

export VMCTL_SOCKET="$TEST_TMP/run/vmctld.sock"
export VMCTL_STATE_DIR="$TEST_TMP/state"

# req JSON-LINE...: send raw lines, print the replies
req() { printf '%s\n' "$@" | nc -U -N "$VMCTL_SOCKET" 2>/dev/null; }

out=$("$VMCTL" list --json); rc=$?
is "vmctl list starts vmctld and exits 0" "$rc" 0
is "no guests yet" "$(printf '%s' "$out" | jq -c .)" "[]"
pid=$(req '{"execute":"ping"}' | jq -r .return.pid)
like "vmctld answers ping with its pid" "$pid" '^[0-9]+$'
on_exit "kill $pid"
is "the socket is mode 0600" "$(stat -c %a "$VMCTL_SOCKET")" 600
ppid=$(awk '{print $4}' "/proc/$pid/stat")
is "vmctld is detached (its parent is init, not the caller)" "$ppid" 1

r=$(req 'this is not json')
is "malformed JSON gets BadRequest" "$(printf '%s' "$r" | jq -r .error.class)" BadRequest
r=$(req '[1,2,3]')
is "a non-object request is refused" "$(printf '%s' "$r" | jq -r .error.desc)" "request must be a JSON object"
r=$(req '{"execute":"frobnicate","id":7}')
is "an unknown command gets CommandNotFound" "$(printf '%s' "$r" | jq -r .error.class)" CommandNotFound
is "the error reply carries the request id" "$(printf '%s' "$r" | jq -r .id)" 7
r=$(req '{"execute":"ping","bogus":1}')
is "an unknown member is named" "$(printf '%s' "$r" | jq -r .error.desc)" "member 'bogus' is unknown: a request has execute, arguments, id"
r=$(req '{"execute":"list","arguments":[]}')
is "arguments must be an object" "$(printf '%s' "$r" | jq -r .error.desc)" "member 'arguments' must be an object"
r=$(req '{"execute":"ping","id":1}' '{"execute":"ping","id":2}')
is "two requests on one connection get two replies in order" "$(printf '%s\n' "$r" | jq -r .id | tr '\n' ,)" "1,2,"

head -c 2000000 /dev/zero | tr '\0' 'x' >"$TEST_TMP/big"
r=$( (cat "$TEST_TMP/big"; echo) | nc -U -N "$VMCTL_SOCKET" 2>/dev/null | head -n1)
is "an oversized request is refused" "$(printf '%s' "$r" | jq -r .error.desc)" "request exceeds 1048576 bytes"

# fuzz smoke: random bytes and truncated JSON, then the daemon must answer
valid='{"execute":"list","arguments":{},"id":12345}'
i=0
while [ $i -lt 150 ]; do
    case $((i % 3)) in
    0) head -c $((i * 37 % 3000 + 1)) /dev/urandom | nc -U -N "$VMCTL_SOCKET" >/dev/null 2>&1 ;;
    1) printf '%s' "$valid" | cut -c1-$((i % ${#valid} + 1)) | nc -U -N "$VMCTL_SOCKET" >/dev/null 2>&1 ;;
    2) printf '{"execute":%s}\n' "$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')" | nc -U -N "$VMCTL_SOCKET" >/dev/null 2>&1 ;;
    esac
    i=$((i + 1))
done
check "vmctld survives 150 fuzzed connections" kill -0 "$pid"
is "and still answers" "$(req '{"execute":"ping"}' | jq -r .return.pid)" "$pid"

# state files are read at start: a guest whose QEMU is gone is listed dead,
# an unreadable file is listed rather than dropped
kill "$pid"
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
printf '{"name":"g1","state":"running","pid":999999999,"accel":"kvm","spec":{"name":"g1","backend":"/dev/shm/x"}}\n' >"$VMCTL_STATE_DIR/g1.json"
printf '{"name":' >"$VMCTL_STATE_DIR/g2.json"
out=$("$VMCTL" list --json)
pid=$(req '{"execute":"ping"}' | jq -r .return.pid)
on_exit "kill $pid"
is "state files are listed by name after a restart" "$(printf '%s' "$out" | jq -r '.[].name' | tr '\n' ,)" "g1,g2,"
is "a guest whose QEMU is gone is dead" "$(printf '%s' "$out" | jq -r '.[0].state')" dead
like "saying so" "$(printf '%s' "$out" | jq -r '.[0].error')" "QEMU exited while vmctld was not running"
like "a corrupt state file is reported" "$(printf '%s' "$out" | jq -r '.[1].error')" "is not a JSON object"
"$VMCTL" stop g1 >/dev/null && "$VMCTL" stop g2 >/dev/null
check "stop removes both records" test ! -e "$VMCTL_STATE_DIR/g1.json" -a ! -e "$VMCTL_STATE_DIR/g2.json"

# access: other users cannot reach the socket; with the socket opened up
# by mistake, the peer-credential check still refuses them
if is_root && command -v setpriv >/dev/null; then
    chmod 755 "$TEST_TMP" "$TEST_TMP/run"
    cp "$VMCTL" "$TEST_TMP/vmctl-copy" && chmod 755 "$TEST_TMP/vmctl-copy"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env VMCTLD=/nonexistent "$TEST_TMP/vmctl-copy" list 2>&1); rc=$?
    is "another user's vmctl list fails" "$rc" 1
    like "with a one-line error naming the socket" "$out" "^vmctl: (cannot connect to vmctld at '$VMCTL_SOCKET'|vmctld '/nonexistent' did not start)"
    chmod 666 "$VMCTL_SOCKET"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env VMCTLD=/nonexistent "$TEST_TMP/vmctl-copy" list 2>&1)
    is "peer credentials are checked" "$out" "vmctl: uid 65534 is not allowed to use vmctld: only root"
    chmod 600 "$VMCTL_SOCKET"
else
    skip "access control" "needs root and setpriv" root
fi

# a config file names the socket, state dir and group; members of the group
# are served through a 0660 socket
cfg_sock="$TEST_TMP/cfg/vmctld.sock"
mkdir -p "$TEST_TMP/cfg"
printf '[vmctld]\nsocket=%s\nstate-dir=%s\ngroup=nogroup\n' "$cfg_sock" "$TEST_TMP/cfgstate" >"$TEST_TMP/cfg/vmctld.conf"
exec 9>"$TEST_TMP/cfg/ready"
"$VMCTLD" --config "$TEST_TMP/cfg/vmctld.conf" --ready-fd 9 2>"$TEST_TMP/cfg/log" &
cfg_pid=$!
exec 9>&-
on_exit "kill $cfg_pid"
i=0; while [ ! -s "$TEST_TMP/cfg/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
is "vmctld --config listens on the configured socket" "$(VMCTL_SOCKET=$cfg_sock "$VMCTL" list --json | jq -c .)" "[]"
is "with --group the socket is 0660" "$(stat -c '%a %G' "$cfg_sock")" "660 nogroup"
if is_root && command -v setpriv >/dev/null; then
    chmod 755 "$TEST_TMP/cfg"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env VMCTL_SOCKET="$cfg_sock" VMCTLD=/nonexistent "$TEST_TMP/vmctl-copy" list --json 2>&1)
    is "a member of the group is served" "$(printf '%s' "$out" | jq -c .)" "[]"
else
    skip "group member served" "needs root and setpriv" root
fi
kill "$cfg_pid"

# a second daemon on the same socket is refused; stop by SIGTERM
out=$("$VMCTLD" --socket "$VMCTL_SOCKET" --state-dir "$VMCTL_STATE_DIR" 2>&1); rc=$?
is "a second vmctld on a live socket exits 1" "$rc" 1
like "naming the socket" "$out" "socket '$VMCTL_SOCKET' is in use by a running vmctld"
kill "$pid"
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "vmctld stops on SIGTERM" sh -c "! kill -0 $pid 2>/dev/null"
check "and removes its socket" test ! -e "$VMCTL_SOCKET"

# The state dir is the daemon's alone: one that others may write, or that
# belongs to another user, is refused at startup; a state file another user
# owns is not read; a run dir a state file names outside the daemon's run
# root is never emptied.
me=$(id -u)
mkdir -m 0777 "$TEST_TMP/st-open"
chmod 0777 "$TEST_TMP/st-open"
out=$(timeout -k 1 10 "$VMCTLD" --socket "$TEST_TMP/st-open.sock" --state-dir "$TEST_TMP/st-open" 2>&1); rc=$?
is "a state dir writable by others is refused (exit 1)" "$rc" 1
is "naming it and the rule" "$out" \
    "vmctld: state dir '$TEST_TMP/st-open' is writable by group or others (mode 0777): it must belong to uid $me and be writable by it alone"
check "nothing was made in it" test -z "$(ls -A "$TEST_TMP/st-open")"
if is_root; then
    mkdir -m 0700 "$TEST_TMP/st-other"
    chown 65534 "$TEST_TMP/st-other"
    out=$(timeout -k 1 10 "$VMCTLD" --socket "$TEST_TMP/st-other.sock" --state-dir "$TEST_TMP/st-other" 2>&1); rc=$?
    is "a state dir of another user is refused (exit 1)" "$rc:$out" \
        "1:vmctld: state dir '$TEST_TMP/st-other' belongs to uid 65534: it must belong to uid $me and be writable by it alone"
else
    skip "a state dir of another user is refused" "chown needs root" root
fi
# a planted state file: a dead guest whose run dir is a directory elsewhere
mkdir -m 0700 "$TEST_TMP/st-plant" "$TEST_TMP/victim"
echo keep >"$TEST_TMP/victim/file"
printf '{"name":"planted","state":"running","pid":999999,"spec":{"name":"planted"},"run_dir":"%s"}\n' \
    "$TEST_TMP/victim" >"$TEST_TMP/st-plant/planted.json"
chmod 0600 "$TEST_TMP/st-plant/planted.json"
if is_root; then
    printf '{"name":"foreign","state":"running","pid":999998,"spec":{"name":"foreign"},"run_dir":"%s"}\n' \
        "$TEST_TMP/victim" >"$TEST_TMP/st-plant/foreign.json"
    chown 65534 "$TEST_TMP/st-plant/foreign.json"
fi
"$VMCTLD" --socket "$TEST_TMP/st-plant.sock" --state-dir "$TEST_TMP/st-plant" 2>"$TEST_TMP/st-plant.log" &
ppid_=$!
on_exit "kill $ppid_"
i=0; while [ ! -S "$TEST_TMP/st-plant.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
VMCTL_SOCKET="$TEST_TMP/st-plant.sock" VMCTL_STATE_DIR="$TEST_TMP/st-plant" "$VMCTL" stop planted >/dev/null 2>&1
VMCTL_SOCKET="$TEST_TMP/st-plant.sock" VMCTL_STATE_DIR="$TEST_TMP/st-plant" "$VMCTL" stop foreign >/dev/null 2>&1
check "a run dir named outside the run root is not emptied" test -f "$TEST_TMP/victim/file"
if is_root; then
    names=$(VMCTL_SOCKET="$TEST_TMP/st-plant.sock" "$VMCTL" list --json | jq -r '[.[].name] | join(",")')
    is "a state file of another user is not read" "$names" ""
    like "and the daemon says why" "$(cat "$TEST_TMP/st-plant.log")" \
        "state file '$TEST_TMP/st-plant/foreign.json' belongs to uid 65534, not $me: not read"
fi
kill "$ppid_"

tap_done
