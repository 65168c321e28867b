#!/bin/sh
# linux-dax-probe.sh: `vmctl backend probe` on real DAX, inside the Linux
# test guest under TCG with an emulated NVDIMM: on a file of a dax=always
# ext4 mount (fsdax) and on /dev/dax0.0 (devdax). The host has no DAX of
# its own, so this is where pmem_backend's detection meets the real kernel
# interfaces (statx STATX_ATTR_DAX, mountinfo, MAP_SYNC, /sys/bus/dax).
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/guest-tests/linux/guest.sh"

INITRD=$LG_DIR/initramfs-vmctl.cpio.zst
why=$(lg_ready)
[ -n "$why" ] || [ -f "$INITRD" ] || why="$INITRD is not built"
[ -n "$why" ] || command -v jq >/dev/null 2>&1 || why="jq is not installed"
[ -n "$why" ] || "$VMCTL" help backend >/dev/null 2>&1 || why="this vmctl has no 'backend' command"
if [ -n "$why" ]; then
    skip "vmctl backend probe inside the Linux guest" "$why" qemu
    tap_done
fi

# run NAME TAG COMMAND: run COMMAND in the guest's shell, print its stdout
# (between marker lines) and return its exit status.
run() {
    lg_send "$1" "echo '==BEGIN $2=='; $3; echo \"==END $2 rc=\$?==\""
    end=$(lg_wait "$1" "==END $2 rc=[0-9]+==" 120) || { echo "no end marker for $2" >&2; return 125; }
    # a shell prompt may precede the begin marker on its line
    lg_log "$1" | sed -n "/==BEGIN $2==\$/,/^==END $2 /p" | sed '1d;$d'
    rc=${end#*rc=}
    return "${rc%==}"
}

# jqcheck DESC FILE FILTER: one test point from a jq -e filter on FILE
jqcheck() {
    if jq -e "$3" "$2" >/dev/null 2>&1; then ok "$1"; else
        not_ok "$1"
        diag "jq '$3' is not true of: $(cat "$2")"
    fi
}

# Both guests boot at once (each TCG guest is one host thread).
LG_INITRD=$INITRD LG_PMEM=fsdax LG_APPEND="vmctl.run=shell" lg_start fsdax
LG_INITRD=$INITRD LG_PMEM=devdax LG_APPEND="vmctl.run=shell" lg_start devdax

# --- fsdax: a file on the dax=always ext4 mount ---------------------------------
if lg_wait fsdax 'INIT run=shell' 180 >/dev/null; then
    ok "fsdax guest up: $(lg_log fsdax | grep '^PMEM ' | head -n1)"
    run fsdax mk "truncate -s 64M /mnt/pmem/somefile" >/dev/null
    run fsdax probe "vmctl backend probe --json /mnt/pmem/somefile --size 64M" >"$TEST_TMP/fsdax.json"
    is "probe of the DAX file exits 0" "$?" 0
    jqcheck "DAX file: kind is fsdax" "$TEST_TMP/fsdax.json" '.kind == "fsdax"'
    jqcheck "DAX file: pmem=on is recommended" "$TEST_TMP/fsdax.json" '.pmem.recommended == true'
    jqcheck "DAX file: statx reports STATX_ATTR_DAX" "$TEST_TMP/fsdax.json" '.dax_evidence.statx_dax == true'
    jqcheck "DAX file: mountinfo shows the dax option" "$TEST_TMP/fsdax.json" '.dax_evidence.mount_dax == true'
    jqcheck "DAX file: MAP_SYNC mapping works" "$TEST_TMP/fsdax.json" '.dax_evidence.map_sync == true'
    jqcheck "DAX file: the QEMU object has pmem=on" "$TEST_TMP/fsdax.json" '.qemu_object | tostring | test("\"pmem\":true")'

    # the same probe on a file that is not DAX (tmpfs) must say so
    run fsdax mk2 "truncate -s 64M /tmp/plainfile" >/dev/null
    run fsdax plain "vmctl backend probe --json /tmp/plainfile --size 64M" >"$TEST_TMP/plain.json"
    jqcheck "tmpfs file in the same guest: kind is not fsdax" "$TEST_TMP/plain.json" '.kind != "fsdax" and .kind != "devdax"'
    jqcheck "tmpfs file: pmem=on is not recommended" "$TEST_TMP/plain.json" '.pmem.recommended == false'
else
    not_ok "fsdax guest up"
    lg_log fsdax | tail -n 20 | while read -r l; do diag "$l"; done
fi

# --- devdax: /dev/dax0.0 ---------------------------------------------------------
if lg_wait devdax 'INIT run=shell' 180 >/dev/null; then
    ok "devdax guest up: $(lg_log devdax | grep '^PMEM ' | head -n1)"
    run devdax probe "vmctl backend probe --json /dev/dax0.0 --size 64M" >"$TEST_TMP/devdax.json"
    is "probe of /dev/dax0.0 exits 0" "$?" 0
    jqcheck "/dev/dax0.0: kind is devdax" "$TEST_TMP/devdax.json" '.kind == "devdax"'
    jqcheck "/dev/dax0.0: align is the 2M the namespace was made with" "$TEST_TMP/devdax.json" \
        '.align == 2097152 and .devdax.align == 2097152'
    jqcheck "/dev/dax0.0: name and size from sysfs" "$TEST_TMP/devdax.json" \
        '.devdax.name == "dax0.0" and .devdax.size > 67108864'
    jqcheck "/dev/dax0.0: pmem=on is recommended" "$TEST_TMP/devdax.json" '.pmem.recommended == true'

    # a size that is not a multiple of the device alignment is refused
    out=$(run devdax odd "vmctl backend probe /dev/dax0.0 --size 65M 2>&1")
    rc=$?
    check "probe of /dev/dax0.0 with --size 65M fails" [ "$rc" -ne 0 ]
    like "... and names the 2M alignment" "$out" "is not a multiple of the 2M alignment of '/dev/dax0.0'"
else
    not_ok "devdax guest up"
    lg_log devdax | tail -n 20 | while read -r l; do diag "$l"; done
fi
lg_stop fsdax
lg_stop devdax
tap_done
