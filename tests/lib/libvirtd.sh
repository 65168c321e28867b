# libvirtd.sh: real libvirtd instances for the tests (sourced after tap.sh).
#
# Each instance runs in a private mount namespace with its own
# /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
# /var/cache/libvirt bind-mounted from $TEST_TMP, so the host's own libvirt
# (if any) is never touched, and two instances act as two hosts. No systemd:
# the daemon is started by hand and stopped by SIGTERM to its PID.
#
#   libvirtd_start NAME TCP_PORT   -> sets LV_URI_<NAME> (unix),
#                                     LV_TCP_<NAME> (qemu+tcp URI) and
#                                     LV_PID_<NAME>; host name vmctl-lv-NAME
#   free_port                      -> a TCP port nobody listens on

# The QEMU capability probe takes seconds on a first start: keep the cache
# across runs in the build tree.
# One cache per test and instance: tests running side by side (make -j)
# never share one.
: "${LIBVIRT_CACHE_ROOT:=$top_builddir/tests/libvirt-cache/$(basename "$0" .sh)}"

libvirtd_start() {
    local name port d pid i
    name=$1
    port=$2
    d="$TEST_TMP/libvirt-$name"
    mkdir -p "$d/etc" "$d/run" "$d/lib" "$d/log" "$LIBVIRT_CACHE_ROOT/$name"
    cat >"$d/etc/libvirtd.conf" <<EOC
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$port"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOC
    # root/no cgroups/no namespaces: this host has no systemd and no
    # cgroup delegation; stdio_handler=file keeps QEMU's log without virtlogd.
    cat >"$d/etc/qemu.conf" <<EOC
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOC
    # --uts: a hostname of its own (libvirt refuses a migration to a host
    # of the same name); the pid file lives in the private /run/libvirt.
    unshare --mount --uts --propagation private sh -c "
        hostname 'vmctl-lv-$name' &&
        mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt &&
        mount --bind '$d/etc' /etc/libvirt && mount --bind '$d/run' /run/libvirt &&
        mount --bind '$d/lib' /var/lib/libvirt && mount --bind '$d/log' /var/log/libvirt &&
        mount --bind '$LIBVIRT_CACHE_ROOT/$name' /var/cache/libvirt &&
        exec libvirtd --listen --pid-file /run/libvirt/libvirtd.pid" >"$d/stdout" 2>&1 &
    pid=$!
    on_exit "libvirtd_stop $pid"
    eval "LV_PID_$name=$pid"
    eval "LV_URI_$name='qemu+unix:///system?socket=$d/run/libvirt-sock'"
    eval "LV_TCP_$name='qemu+tcp://127.0.0.1:$port/system'"
    i=0
    while [ $i -lt 600 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            diag "libvirtd $name exited: $(tail -n 5 "$d/stdout" "$d/log/libvirtd.log" 2>/dev/null)"
            return 1
        fi
        [ -S "$d/run/libvirt-sock" ] && virsh -q -c "qemu+unix:///system?socket=$d/run/libvirt-sock" uri >/dev/null 2>&1 && return 0
        sleep 0.1
        i=$((i + 1))
    done
    diag "libvirtd $name did not answer within 60 s"
    return 1
}

# libvirtd_stop PID: SIGTERM, then wait for it (libvirtd leaves guests
# running; the tests destroy their domains before).
libvirtd_stop() {
    local pid=$1 i=0
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$pid" 2>/dev/null || true
}

free_port() {
    local p
    for p in $(shuf -i 20000-40000 -n 50); do
        # not listening on any address (state 0A in /proc/net/tcp*)
        if ! awk -v h=":$(printf '%04X' "$p")" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
            /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

have_libvirtd() { command -v libvirtd >/dev/null 2>&1 && command -v virsh >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1; }

# libvirtd_end_guests PATTERN...: the guests whose names match a shell
# PATTERN, on every libvirtd of this test, die before their libvirtd does
# (libvirtd leaves guests running): by libvirt, then by the pid it wrote
libvirtd_end_guests() {
    for _d in "$TEST_TMP"/libvirt-*; do
        [ -d "$_d" ] || continue
        _uri=$(eval echo "\${LV_URI_${_d##*/libvirt-}:-}")
        for _pat in "$@"; do
            for _f in "$_d/run/qemu/"$_pat.pid; do
                [ -f "$_f" ] || continue
                [ -n "$_uri" ] && virsh -q -c "$_uri" destroy "$(basename "$_f" .pid)" >/dev/null 2>&1
                _p=$(cat "$_f" 2>/dev/null)
                [ -n "$_p" ] && kill -9 "$_p" 2>/dev/null
            done
        done
    done
}
