#!/bin/sh
# backend.sh: `vmctl backend probe` and `list` on the real filesystems of
# this machine (tmpfs, the filesystem of $TEST_TMP, a hugetlbfs mounted here
# with 2M pages reserved for the test, memfd, anonymous), every rule made to
# fail with its exact one-line error, and the generated objects fed to QEMU.
. "$top_srcdir/tests/lib/tap.sh"

HOST1="$top_srcdir/tests/data/sysfs/host1"
NR2M=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
QEMU_BIN=${VMCTL_QEMU:-qemu-system-x86_64}

# fails DESC EXPECTED-MESSAGE VMCTL-ARGS...: exit 1 and exactly that one line
fails() {
    desc=$1 want=$2
    shift 2
    out=$("$VMCTL" "$@" 2>&1 >/dev/null); rc=$?
    if [ "$rc" = 1 ] && [ "$out" = "vmctl: $want" ]; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "exit $rc, got:  '$out'"
        diag "expected:     'vmctl: $want'"
    fi
}

# size_str BYTES: what vmctl prints for a byte count (binary units)
size_str() {
    b=$1
    if [ "$b" -eq 0 ]; then echo "0 bytes"; return; fi
    for u in T:1099511627776 G:1073741824 M:1048576 K:1024; do
        n=${u#*:}
        if [ "$b" -ge "$n" ] && [ $((b % n)) -eq 0 ]; then echo "$((b / n))${u%%:*}"; return; fi
    done
    echo "$b bytes"
}

# qemu_accepts DESC OBJECT-JSON: QEMU creates the backend and quits
qemu_accepts() {
    if ! have_qemu; then
        skip "$1" "no $QEMU_BIN" qemu
        return
    fi
    out=$(printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
        timeout 60 "$QEMU_BIN" -M none -nodefaults -display none -qmp stdio -object "$2" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then ok "$1"; else not_ok "$1"; diag "$out"; fi
}

# ---- tmpfs --------------------------------------------------------------
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    j=$("$VMCTL" backend probe /dev/shm --size 64M --json); rc=$?
    is "tmpfs: probe /dev/shm exits 0" "$rc" 0
    is "tmpfs: kind" "$(printf '%s' "$j" | jq -r .kind)" tmpfs
    is "tmpfs: mount point from mountinfo" "$(printf '%s' "$j" | jq -r .filesystem.mount_point)" /dev/shm
    is "tmpfs: pmem=on not recommended" "$(printf '%s' "$j" | jq -r .pmem.recommended)" false
    is "tmpfs: object" "$(printf '%s' "$j" | jq -c .qemu_object)" \
        '{"qom-type":"memory-backend-file","id":"mem0","mem-path":"/dev/shm","size":67108864,"share":true,"pmem":false,"prealloc":false,"discard-data":true}'
    qemu_accepts "tmpfs: QEMU 7.2 creates the object" "$(printf '%s' "$j" | jq -c .qemu_object)"
    fails "tmpfs: size not a multiple of 4K" "size '4097' is not a multiple of the 4K alignment of '/dev/shm'" \
        backend probe /dev/shm --size 4097
    free=$(( $(stat -f -c %a /dev/shm) * $(stat -f -c %S /dev/shm) ))
    big=$(( (free / 1073741824 + 64) * 1073741824 ))
    out=$("$VMCTL" backend probe /dev/shm/guest.ram --size "$big" 2>&1); rc=$?
    is "tmpfs: larger than the free space exits 1" "$rc" 1
    like "tmpfs: larger than the free space names both" "$out" \
        "^vmctl: size '$(size_str "$big")' is larger than the [0-9]+([KMGT]| bytes) free on the tmpfs filesystem of '/dev/shm/guest.ram'\$"
else
    skip "tmpfs: /dev/shm" "/dev/shm is not tmpfs on this machine" tmpfs
fi

# ---- the filesystem of $TEST_TMP (the root filesystem here) ---------------
fstype=$(findmnt -n -o FSTYPE -T "$TEST_TMP")
case $fstype in
tmpfs | hugetlbfs | ramfs)
    skip "file: page-cache filesystem" "\$TEST_TMP is on $fstype" page-cache-fs
    ;;
*)
    j=$("$VMCTL" backend probe "$TEST_TMP/guest.img" --size 32M --json); rc=$?
    is "file: probe of a new file exits 0" "$rc" 0
    is "file: kind" "$(printf '%s' "$j" | jq -r .kind)" file
    is "file: type" "$(printf '%s' "$j" | jq -r .type)" new-file
    is "file: MAP_SYNC refused on a page-cache filesystem" "$(printf '%s' "$j" | jq -r .dax_evidence.map_sync)" false
    like "file: filesystem named" "$(printf '%s' "$j" | jq -r .filesystem.type)" '^[a-z0-9]+$'
    is "file: object" "$(printf '%s' "$j" | jq -c .qemu_object)" \
        "{\"qom-type\":\"memory-backend-file\",\"id\":\"mem0\",\"mem-path\":\"$TEST_TMP/guest.img\",\"size\":33554432,\"share\":true,\"pmem\":false,\"prealloc\":false,\"discard-data\":false}"
    qemu_accepts "file: QEMU 7.2 creates the object" "$(printf '%s' "$j" | jq -c .qemu_object)"
    is "file: QEMU made the file of that size" "$(stat -c %s "$TEST_TMP/guest.img" 2>/dev/null || echo none)" \
        "$(have_qemu && echo 33554432 || echo none)"
    truncate -s 32M "$TEST_TMP/guest.img"
    j=$("$VMCTL" backend probe "$TEST_TMP/guest.img" --json)
    is "file: existing file, size of its own" "$(printf '%s' "$j" | jq -c '[.type, .file_size, .qemu_object.size]')" \
        '["file",33554432,33554432]'
    fails "file: existing file of another size" \
        "existing file '$TEST_TMP/guest.img' has size '32M', not the size '64M'" \
        backend probe "$TEST_TMP/guest.img" --size 64M
    out=$("$VMCTL" backend probe "$TEST_TMP/new.img" --size 1024T 2>&1); rc=$?
    is "file: larger than the free space exits 1" "$rc" 1
    like "file: larger than the free space is one line naming the path" "$out" \
        "^vmctl: size '1024T' is larger than the .* free on the $fstype filesystem of '$TEST_TMP/new.img'\$"
    fails "file: directory on $fstype refused" \
        "directory '$TEST_TMP' is on $fstype, not on hugetlbfs, tmpfs or a DAX mount: name a file in it instead" \
        backend probe "$TEST_TMP"
    mkdir "$TEST_TMP/rel"
    is "file: a relative path is made absolute" "$(cd "$TEST_TMP/rel" && "$VMCTL" backend probe g.img --json | jq -r .path)" \
        "$TEST_TMP/rel/g.img"
    ;;
esac

# ---- directories and permissions -----------------------------------------
fails "missing directory" "directory '$TEST_TMP/nodir' of '$TEST_TMP/nodir/g.img' does not exist" \
    backend probe "$TEST_TMP/nodir/g.img"
: >"$TEST_TMP/plain"
fails "parent is a file" "'$TEST_TMP/plain' of '$TEST_TMP/plain/g.img' is not a directory" \
    backend probe "$TEST_TMP/plain/g.img"
mkfifo "$TEST_TMP/fifo"
fails "a fifo is no backing" "'$TEST_TMP/fifo' is not a regular file, directory or device" backend probe "$TEST_TMP/fifo"
ro="$TEST_TMP/ro"
mkdir "$ro"
if is_root && mount -t tmpfs -o size=1M tmpfs "$ro" 2>/dev/null; then
    on_exit "umount '$ro'"
    : >"$ro/existing.img"
    mount -o remount,ro "$ro"
    why="Read-only file system"
else
    : >"$ro/existing.img"
    chmod 0444 "$ro/existing.img"
    chmod 0555 "$ro"
    on_exit "chmod 0755 '$ro'"
    why="Permission denied"
fi
fails "not writable: directory of a new file" "directory '$ro' of '$ro/g.img' is not writable: $why" backend probe "$ro/g.img"
fails "not writable: directory" "directory '$ro' is not writable: $why" backend probe "$ro"
fails "not writable: existing file" "'$ro/existing.img' is not writable: $why" backend probe "$ro/existing.img"

# ---- paths that are refused ------------------------------------------------
fails "refused: /proc" "path '/proc/self/mem' is not allowed: guest memory may not live under /proc" backend probe /proc/self/mem
fails "refused: /sys" "path '/sys/kernel/x' is not allowed: guest memory may not live under /sys" backend probe /sys/kernel/x
fails "refused: /dev/sda" \
    "path '/dev/sda' is not allowed: under /dev only /dev/dax*, /dev/pmem*, /dev/shm and /dev/hugepages are" \
    backend probe /dev/sda
fails "refused: /dev/null" \
    "path '/dev/null' is not allowed: under /dev only /dev/dax*, /dev/pmem*, /dev/shm and /dev/hugepages are" \
    backend probe /dev/null
fails "refused: '..'" "path '/dev/shm/../sda' has a '..' component, which is not allowed" backend probe /dev/shm/../sda
fails "refused: relative '..'" "path '../g.img' has a '..' component, which is not allowed" backend probe ../g.img
ln -s /proc/self "$TEST_TMP/proclink"
fails "refused: a symlink into /proc" \
    "path '$TEST_TMP/proclink/g.img' is not allowed: guest memory may not live under /proc" \
    backend probe "$TEST_TMP/proclink/g.img"
fails "device does not exist" "device '/dev/dax99.99' does not exist" backend probe /dev/dax99.99
fails "pmem device does not exist" "device '/dev/pmem99' does not exist" backend probe /dev/pmem99
fails "bad size" "size '12X' is not a number with an optional K/M/G/T suffix" backend probe /dev/shm --size 12X
out=$("$VMCTL" backend probe 2>&1); rc=$?
is "probe without a path exits 2" "$rc" 2
out=$("$VMCTL" backend frob 2>&1); rc=$?
is "unknown subcommand exits 2" "$rc" 2
is "unknown subcommand is one line" "$out" "vmctl: backend subcommand 'frob' is unknown: use 'probe' or 'list'"
is "'vmctl help backend' equals 'vmctl backend --help'" "$("$VMCTL" help backend 2>&1)" "$("$VMCTL" backend --help 2>&1)"

# ---- memfd and anonymous ---------------------------------------------------
j=$("$VMCTL" backend probe memfd --size 64M --json)
is "memfd: object" "$(printf '%s' "$j" | jq -c .qemu_object)" \
    '{"qom-type":"memory-backend-memfd","id":"mem0","size":67108864,"share":true}'
qemu_accepts "memfd: QEMU 7.2 creates the object" "$(printf '%s' "$j" | jq -c .qemu_object)"
j=$("$VMCTL" backend probe anonymous --size 64M --private --id ram0 --json)
is "anonymous: object" "$(printf '%s' "$j" | jq -c .qemu_object)" \
    '{"qom-type":"memory-backend-ram","id":"ram0","size":67108864,"share":false}'
qemu_accepts "anonymous: QEMU 7.2 creates the object" "$(printf '%s' "$j" | jq -c .qemu_object)"
fails "memfd: bad option" "backing 'memfd:huge' is not one of 'memfd', 'memfd:hugetlb', 'memfd:hugetlb=SIZE'" \
    backend probe memfd:huge

# ---- hugetlbfs with 2M pages reserved here ---------------------------------
if ! is_root || [ ! -w "$NR2M" ]; then
    skip "hugetlbfs: mount and reserve 2M pages" "needs root" hugetlb
else
    # give back exactly the pages added (the old count unless someone else
    # changed the pool meanwhile)
    old=$(cat "$NR2M")
    echo $((old + 8)) >"$NR2M"
    added=$(($(cat "$NR2M") - old))
    on_exit 'echo $(($(cat '"$NR2M"') - '"$added"')) >'"$NR2M"
    H="$TEST_TMP/huge"
    mkdir "$H"
    mount -t hugetlbfs -o pagesize=2M nodev "$H"
    on_exit "umount '$H'"
    pool=/sys/kernel/mm/hugepages/hugepages-2048kB
    avail=$(( ($(cat $pool/free_hugepages) - $(cat $pool/resv_hugepages)) * 2097152 ))
    if [ "$avail" -lt 16777216 ]; then
        not_ok "hugetlbfs: 8 pages reserved"
        diag "only $avail bytes of 2M pages available"
    else
        ok "hugetlbfs: 8 pages reserved ($(size_str "$avail") available)"
    fi
    j=$("$VMCTL" backend probe "$H" --size 16M --json); rc=$?
    is "hugetlbfs: probe exits 0" "$rc" 0
    is "hugetlbfs: kind, align, page size" "$(printf '%s' "$j" | jq -c '[.kind, .align, .hugepages.page_size]')" \
        '["hugetlbfs",2097152,2097152]'
    is "hugetlbfs: available from the pool" "$(printf '%s' "$j" | jq .hugepages.available)" "$avail"
    is "hugetlbfs: object" "$(printf '%s' "$j" | jq -c .qemu_object)" \
        "{\"qom-type\":\"memory-backend-file\",\"id\":\"mem0\",\"mem-path\":\"$H\",\"size\":16777216,\"share\":true,\"align\":2097152,\"pmem\":false,\"prealloc\":true,\"discard-data\":true}"
    qemu_accepts "hugetlbfs: QEMU 7.2 creates and preallocates the object" "$(printf '%s' "$j" | jq -c .qemu_object)"
    fails "hugetlbfs: size not a multiple of 2M" "size '3M' is not a multiple of the 2M alignment of '$H'" \
        backend probe "$H" --size 3M
    over=$((avail + 2097152))
    fails "hugetlbfs: larger than the free huge pages" \
        "size '$(size_str "$over")' is larger than the $(size_str "$avail") available in free 2M huge pages for '$H/guest.ram'" \
        backend probe "$H/guest.ram" --size "$over"
    j=$("$VMCTL" backend probe memfd:hugetlb=2M --size 16M --json)
    is "memfd:hugetlb: object" "$(printf '%s' "$j" | jq -c .qemu_object)" \
        '{"qom-type":"memory-backend-memfd","id":"mem0","size":16777216,"share":true,"hugetlb":true,"hugetlbsize":2097152,"prealloc":true}'
    qemu_accepts "memfd:hugetlb: QEMU 7.2 creates the object" "$(printf '%s' "$j" | jq -c .qemu_object)"
    is "list: the hugetlbfs mount with its page size" \
        "$("$VMCTL" backend list --json | jq -c --arg m "$H" '[.hugetlbfs[] | select(.mount_point == $m) | .page_size]')" \
        '[2097152]'
fi

# ---- list on this machine --------------------------------------------------
j=$("$VMCTL" backend list --json); rc=$?
is "list exits 0" "$rc" 0
is "list: every section is an array" "$(printf '%s' "$j" | jq -c '[.dax_devices, .namespaces, .hugepage_pools, .hugetlbfs, .tmpfs | type]')" \
    '["array","array","array","array","array"]'
n=$(printf '%s' "$j" | jq '.dax_devices | length')
h=$("$VMCTL" backend list)
if [ "$n" = 0 ]; then
    like "list: an honest line when there are no DAX devices" "$h" "DAX devices \\(/sys/bus/dax/devices\\):
  none"
else
    like "list: DAX devices shown" "$h" "/dev/dax"
fi
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    is "list: /dev/shm among tmpfs mounts" "$(printf '%s' "$j" | jq -c '[.tmpfs[] | select(.mount_point == "/dev/shm")] | length')" 1
fi

# ---- the recorded DAX host through the command line ------------------------
# an empty file stands in for the character device /dev/dax0.0
DEV="$TEST_TMP/dev"
mkdir "$DEV" && : >"$DEV/dax0.0"
export VMCTL_SYSFS_ROOT="$HOST1/sys" VMCTL_DEV_ROOT="$DEV" VMCTL_MOUNTINFO="$HOST1/mountinfo"
j=$("$VMCTL" backend probe "$DEV/dax0.0" --size 4G --json)
is "recorded devdax: kind, align, pmem" "$(printf '%s' "$j" | jq -c '[.kind, .align, .pmem.recommended, .qemu_object.pmem, .qemu_object.align]')" \
    '["devdax",2097152,true,true,2097152]'
fails "recorded devdax: size not a multiple of the align" \
    "size '1001M' is not a multiple of the 2M alignment of '$DEV/dax0.0'" backend probe "$DEV/dax0.0" --size 1001M
fails "recorded devdax: larger than the device" \
    "size '17G' is larger than the 16G of device '$DEV/dax0.0'" backend probe "$DEV/dax0.0" --size 17G
h=$("$VMCTL" backend list)
like "recorded list: dax0.0 16G align 2M node 0" "$h" "dax0.0 +16G +align 2M +numa node 0 +devdax"
like "recorded list: fsdax namespace with its block device" "$h" "namespace1.0 +fsdax +8G +pmem1"
unset VMCTL_SYSFS_ROOT VMCTL_DEV_ROOT VMCTL_MOUNTINFO

# ---- a bare environment (as in a busybox guest: no HOME, PATH, /run) -------
out=$(env -i "$VMCTL" backend probe /dev/shm --json 2>&1 | jq -r .kind 2>&1)
is "probe works with an empty environment" "$out" tmpfs

tap_done
