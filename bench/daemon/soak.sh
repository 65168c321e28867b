#!/bin/sh
# bench/daemon/soak.sh BUILDDIR [SECONDS]: one vmctld under hostile and
# careless clients for SECONDS (default 300; 60 for a smoke run): flooders
# that send requests and read nothing, clients that connect and stay
# silent, clients that list and read; meanwhile tiny guests launch, migrate
# (with KVM) and stop, and `vmctl list` is timed over and over. The
# baseline is the same daemon quiet: `vmctl list` timed for a while before
# any client or guest comes. Prints the list latency (p50, p99) quiet and
# under attack with their ratio, the daemon's RSS every tenth of the run,
# its descriptors, its log size, what was lost, and the goal line: p99
# under 100 ms; RSS flat once warm (the last sample within 10% + 1 MiB of
# the one at three tenths of the run); descriptors flat. Outside `make
# check`. Every process it starts is stopped by its pid at the end.
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

# time `vmctl list` until a deadline into file $2, counting failures in $T/lost
timed_lists() {
    while [ "$(date +%s)" -lt "$1" ]; do
        a=$(date +%s%N)
        "$VMCTL" list --json >/dev/null 2>&1 || echo x >>"$T/lost"
        b=$(date +%s%N)
        echo $(((b - a) / 1000)) >>"$2"
        sleep 0.2
    done
}
: >"$T/lost"
pct() { sort -n "$1" | awk -v q="$2" '{v[NR] = $1} END {i = int(NR * q + 0.999); if (i < 1) i = 1; printf "%.1f", v[i] / 1000}'; }

# the baseline: the same daemon, quiet
QUIET=$((SECS / 6 > 10 ? SECS / 6 : 10))
: >"$T/lat.quiet"
timed_lists $(($(date +%s) + QUIET)) "$T/lat.quiet"

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

# the daemon's RSS every tenth of the run
(for k in 1 2 3 4 5 6 7 8 9 10; do sleep $((SECS / 10 > 0 ? SECS / 10 : 1)); rss >>"$T/rss"; done) &
sampler=$!
pids="$pids $sampler"

# `vmctl list` timed until the end
: >"$T/lat"
timed_lists $(($(date +%s) + SECS)) "$T/lat"
wait $sampler 2>/dev/null
rm -f "$T/running"
wait $churn 2>/dev/null
sleep 1
fd1=$(nfd)
n=$(wc -l <"$T/lat")
lost=$(wc -l <"$T/lost")
p50=$(pct "$T/lat" 0.5) p99=$(pct "$T/lat" 0.99)
q50=$(pct "$T/lat.quiet" 0.5) q99=$(pct "$T/lat.quiet" 0.99)
warm=$(sed -n 3p "$T/rss") last=$(tail -n 1 "$T/rss")
echo "soak of $SECS s after $QUIET s quiet: $n timed 'vmctl list' calls under attack, $(wc -l <"$T/lat.quiet") quiet, $lost failed"
echo "list latency quiet (baseline): p50 $q50 ms, p99 $q99 ms"
echo "list latency under attack:     p50 $p50 ms, p99 $p99 ms"
echo "ratio under attack / quiet: p50 $(awk -v a="$p50" -v b="$q50" 'BEGIN {printf "%.2f", a / b}'), p99 $(awk -v a="$p99" -v b="$q99" 'BEGIN {printf "%.2f", a / b}')"
echo "daemon RSS (kB): $rss0 quiet at the start; each tenth of the run: $(tr '\n' ' ' <"$T/rss")"
echo "daemon descriptors: $fd0 at the start, $fd1 at the end"
echo "daemon log: $(wc -c <"$T/vmctld.log") bytes, $(wc -l <"$T/vmctld.log") lines"
touch "$T/guests"
echo "guests: $(grep -c ok "$T/guests") launched$([ -c /dev/kvm ] && echo ', migrated') and stopped, $(grep -c failed "$T/guests") failed"
cat "$T"/flood.out "$T"/idle.out "$T"/reader.out 2>/dev/null
echo "goal: p99 under 100 ms: $(awk -v p="$p99" 'BEGIN {print (p < 100) ? "met" : "NOT met"}'); RSS flat once warm ($warm -> $last kB): $(awk -v a="$warm" -v b="$last" 'BEGIN {print (b <= a * 1.1 + 1024) ? "met" : "NOT met"}'); descriptors flat: $([ "$fd1" -le $((fd0 + 4)) ] && echo met || echo "NOT met"); nothing lost: $([ "$lost" -eq 0 ] && echo met || echo "NOT met")"
