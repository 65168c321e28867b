#!/bin/sh
# daemon-stall.sh: no client can stall vmctld. A client that floods
# requests and reads none of the replies does not block the others (its
# replies wait in a bounded queue; past VMCTLD_MAX_OUTPUT it is dropped);
# out of file descriptors the accept loop waits instead of spinning and
# logs a bounded number of lines; more than VMCTLD_MAX_CLIENTS clients get a
# one-line error; a client that sends nothing is closed after the idle time.
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/vmctld.sh"

PY=$(command -v python3)
if [ -z "$PY" ]; then
    skip "vmctld under hostile clients" "no python3 for the clients" python3
    tap_done
fi

# start_daemon NAME [ULIMIT_N]: a vmctld of this test (stderr to NAME.log),
# its pid in $dpid and socket in $dsock; stopped by its pid at exit
start_daemon() {
    dsock="$TEST_TMP/$1.sock"
    mkdir -p "$TEST_TMP/$1.state"
    if [ -n "${2:-}" ]; then
        sh -c 'ulimit -n "$1"; shift; exec "$@"' sh "$2" "$VMCTLD" --socket "$dsock" --state-dir "$TEST_TMP/$1.state" \
            2>"$TEST_TMP/$1.log" &
    else
        "$VMCTLD" --socket "$dsock" --state-dir "$TEST_TMP/$1.state" 2>"$TEST_TMP/$1.log" &
    fi
    dpid=$!
    on_exit "kill $dpid"
    _i=0
    while [ ! -S "$dsock" ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
}
# list_ok: `vmctl list --json` against $dsock answers within 10 s
list_ok() { VMCTL_SOCKET="$dsock" VMCTLD=/nonexistent timeout 10 "$VMCTL" list --json >/dev/null 2>&1; }
# cpu_ticks PID: user + system clock ticks of PID
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# --- 4. a client that floods and never reads
start_daemon flood
check "the daemon serves" list_ok
"$PY" - "$dsock" >"$TEST_TMP/flood.out" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.setblocking(False)
req = b'{"execute":"list"}\n' * 1000
sent, closed = 0, False
t0 = time.time()
while time.time() - t0 < 20:
    try:
        sent += s.send(req)
    except BlockingIOError:
        time.sleep(0.01)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
        break
print("sent", sent, "closed" if closed else "open")
time.sleep(3)
PYEOF
flooder=$!
on_exit "kill $flooder"
sleep 2
t0=$(date +%s%N)
check "while a client floods without reading, another is answered" list_ok
t1=$(date +%s%N)
diag "vmctl list answered in $(((t1 - t0) / 1000000)) ms during the flood"
wait $flooder
out=$(cat "$TEST_TMP/flood.out")
diag "flooder: $out"
like "the flooding client was dropped (its connection closed)" "$out" "closed$"
like "and the daemon says so, once" "$(cat "$TEST_TMP/flood.log")" "a client left [0-9]+ bytes of replies unread: dropped"
check "the daemon is alive and serves" list_ok
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$dpid/status")
diag "daemon RSS after the flood: $rss kB"
check "its memory stayed bounded (RSS under 64 MiB)" test "$rss" -lt 65536
kill $dpid

# --- 5. out of descriptors: back-off, bounded log, recovery
start_daemon fds 32
check "the daemon with 32 descriptors serves" list_ok
"$PY" - "$dsock" >"$TEST_TMP/fds.out" 2>&1 <<'PYEOF' &
import socket, sys, time
held = []
# 60 connections within 3 s: a full backlog refuses at once (EAGAIN on a
# Unix socket), so each is tried again until it is taken or time is up
deadline = time.time() + 3
while len(held) < 60 and time.time() < deadline:
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
        held.append(s)
    except BlockingIOError:
        s.close()
        time.sleep(0.02)
refused = 60 - len(held)
print("holding", len(held) - refused, "refused", refused, flush=True)
time.sleep(4)
for s in held:
    s.close()
print("released", flush=True)
time.sleep(1)
PYEOF
holder=$!
on_exit "kill $holder"
sleep 1
c0=$(cpu_ticks $dpid)
sleep 3
c1=$(cpu_ticks $dpid)
hz=$(getconf CLK_TCK)
diag "daemon CPU over 3 s out of descriptors: $((c1 - c0)) ticks of $((3 * hz))"
check "out of descriptors the accept loop does not spin (under half a CPU)" test $((c1 - c0)) -lt $((3 * hz / 2))
wait $holder
n=$(grep -c "Too many open files" "$TEST_TMP/fds.log")
diag "'Too many open files' logged $n times"
check "the log stays short (under 20 lines of it)" test "$n" -lt 20
sleep 1
check "with the descriptors back the daemon serves again" list_ok
kill $dpid

# --- 5. more clients than the limit, and idle clients
VMCTLD_CLIENT_IDLE_S=2 start_daemon many
"$PY" - "$dsock" >"$TEST_TMP/many.out" 2>&1 <<'PYEOF'
import socket, sys, time
held = []
for i in range(64):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
time.sleep(0.5)
extra = socket.socket(socket.AF_UNIX)
extra.connect(sys.argv[1])
extra.settimeout(5)
print("extra:", extra.recv(4096).decode().strip())
# the 64 send nothing: after the idle time the daemon closes them
held[0].settimeout(6)
print("idle:", "closed" if held[0].recv(1) == b"" else "open")
PYEOF
out=$(cat "$TEST_TMP/many.out")
like "a client over the limit gets one line" "$out" \
    'extra: \{"error":\{"class":"TooManyClients","desc":"vmctld serves at most 64 clients at once: try again later"\}\}'
like "a client that sends nothing is closed after the idle time" "$out" "idle: closed"
check "then the daemon serves again" list_ok
kill $dpid

tap_done
