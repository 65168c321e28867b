#!/bin/sh
# bench/daemon/soak.sh BUILDDIR [SECONDS]: one vmctld under hostile and
# careless clients for SECONDS (default 300; 60 for a smoke run): flooders
# that send requests and read nothing, clients that connect and stay
# silent, clients that list and read; meanwhile tiny guests launch, migrate
# (with KVM) and stop, and `vmctl list` is timed over and over. Prints the
# list latency (p50, p99), the daemon's RSS and descriptors at the start
# and the end, its log size, what was lost, and the goal line: p99 under
# 100 ms, RSS and descriptors flat. Outside `make check`. Every process it
# starts is stopped by its pid at the end.
set -u
B=$(cd "${1:?usage: soak.sh BUILDDIR [SECONDS]}" && pwd)
SECS=${2:-300}
T=$(mktemp -d)
export VMCTL_SOCKET="$T/vmctld.sock" VMCTL_STATE_DIR="$T/state"
VMCTL=$B/vmctl
pids=""
cleanup() {
    for n in $("$VMCTL" list --json 2>/dev/null | jq -r '.[].name' 2>/dev/null); do
        "$VMCTL" kill "$n" >/dev/null 2>&1
    done
    for p in $pids; do kill "$p" 2>/dev/null; done
    [ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

mkdir -p "$T/state"
"$B/vmctld" --socket "$VMCTL_SOCKET" --state-dir "$T/state" 2>"$T/vmctld.log" &
dpid=$!
i=0; while [ ! -S "$VMCTL_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$dpid/status"; }
nfd() { ls "/proc/$dpid/fd" | wc -l; }
rss0=$(rss) fd0=$(nfd)

# the hostile and careless clients, one Python process per kind
cat >"$T/clients.py" <<'EOF'
import socket, sys, time
path, secs, kind, n = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
end = time.time() + secs
dropped = reconnects = answered = 0
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s
socks = [conn() for _ in range(n)]
while time.time() < end:
    for i, s in enumerate(socks):
        try:
            if kind == "flood":
                s.setblocking(False)
                s.send(b'{"execute":"list"}\n' * 200)
            elif kind == "reader":
                s.setblocking(True)
                s.sendall(b'{"execute":"list"}\n')
                if s.recv(65536):
                    answered += 1
        except BlockingIOError:
            pass
        except OSError:
            dropped += 1
            s.close()
            socks[i] = conn()
            reconnects += 1
    time.sleep(0.05 if kind != "idle" else 1)
print(kind, "dropped", dropped, "reconnects", reconnects, "answered", answered)
EOF
for spec in "flood 4" "idle 20" "reader 4"; do
    set -- $spec
    python3 "$T/clients.py" "$VMCTL_SOCKET" "$SECS" "$1" "$2" >"$T/$1.out" 2>&1 &
    pids="$pids $!"
done

# guests come and go (and migrate where there is KVM) while it runs
tiny_churn() {
    n=0
    while [ -e "$T/running" ]; do
        n=$((n + 1))
        if "$VMCTL" launch "soak$n" --memory 16M --backend memfd >/dev/null 2>&1; then
            [ -c /dev/kvm ] && "$VMCTL" migrate "soak$n" --to local --timeout 60 >/dev/null 2>&1
            "$VMCTL" kill "soak$n" >/dev/null 2>&1
            echo ok >>"$T/guests"
        else
            echo failed >>"$T/guests"
        fi
    done
}
touch "$T/running"
tiny_churn &
churn=$!
pids="$pids $churn"

# `vmctl list` timed until the end
end=$(($(date +%s) + SECS))
: >"$T/lat"
lost=0
while [ "$(date +%s)" -lt "$end" ]; do
    a=$(date +%s%N)
    "$VMCTL" list --json >/dev/null 2>&1 || lost=$((lost + 1))
    b=$(date +%s%N)
    echo $(((b - a) / 1000)) >>"$T/lat"
    sleep 0.2
done
rm -f "$T/running"
wait $churn 2>/dev/null
sleep 1
rss1=$(rss) fd1=$(nfd)
n=$(wc -l <"$T/lat")
p50=$(sort -n "$T/lat" | awk -v n="$n" 'NR == int((n + 1) / 2) {printf "%.1f", $1 / 1000}')
p99=$(sort -n "$T/lat" | awk -v n="$n" 'NR == int(n * 0.99 + 0.999) {printf "%.1f", $1 / 1000}')
echo "soak of $SECS s: $n timed 'vmctl list' calls, $lost failed"
echo "list latency: p50 $p50 ms, p99 $p99 ms"
echo "daemon RSS: $rss0 kB at the start, $rss1 kB at the end"
echo "daemon descriptors: $fd0 at the start, $fd1 at the end"
echo "daemon log: $(wc -c <"$T/vmctld.log") bytes, $(wc -l <"$T/vmctld.log") lines"
touch "$T/guests"
echo "guests: $(grep -c ok "$T/guests") launched$([ -c /dev/kvm ] && echo ', migrated') and stopped, $(grep -c failed "$T/guests") failed"
cat "$T"/flood.out "$T"/idle.out "$T"/reader.out 2>/dev/null
echo "goal: p99 under 100 ms: $(awk -v p="$p99" 'BEGIN {print (p < 100) ? "met" : "NOT met"}'); RSS flat (within 20%): $(awk -v a="$rss0" -v b="$rss1" 'BEGIN {print (b <= a * 1.2 + 1024) ? "met" : "NOT met"}'); descriptors flat: $([ "$fd1" -le $((fd0 + 4)) ] && echo met || echo "NOT met"); nothing lost: $([ "$lost" -eq 0 ] && echo met || echo "NOT met")"
