#!/bin/sh
# migrate-dest.sh: where a local migration's destination keeps the guest's
# memory. A guest whose RAM is a file in /dev/shm migrates like any file
# (it is a file, not a device); --dest-backend puts the RAM where the
# caller says and --dest-nvdimm each NVDIMM, whose content goes with the
# guest and is compared page by page like RAM. Every destination is checked
# before anything starts, with a launch's rules, and refused in one line
# (exit 2, the source running, nothing made): the source's own backing, a
# directory that does not exist, a file too small, another guest's backing,
# a path outside the allowed ones, one NVDIMM path too many, --shared with
# a destination. A launch on a backing another guest owns is refused too.
# Device-dax destinations are tested in a lab (lab-migrate.sh).
. "$top_srcdir/tests/lib/tap.sh"

if ! have_qemu; then
    skip "migration destinations" "no QEMU" qemu
    tap_done
fi
if ! kvm_or_lab; then
    skip "migration destinations" "$lab_why" kvm
    tap_done
fi

. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

SHM=$(mktemp -d -p /dev/shm)
on_exit "rm -rf '$SHM'"
NV_PAGES=4096 # 16M NVDIMM

# migrate NAME ARGS...: `vmctl migrate NAME --to local --json ARGS`, the
# exit status in $rc and the result line in $out
migrate() {
    name=$1
    shift
    "$VMCTL" migrate "$name" --to local --strategy precopy --timeout 120 --json "$@" >"$TEST_TMP/mig.out" \
        2>"$TEST_TMP/mig.err"
    rc=$?
    out=$(tail -n 1 "$TEST_TMP/mig.out")
}
j() { printf '%s' "$out" | jq -r "$1"; }

# --- RAM in /dev/shm: a file, not a device
"$VMCTL" launch s1 --memory 64M --backend "$SHM/s1.ram" --rate 2000 --json >/dev/null
check "a guest with its RAM in /dev/shm is READY" wait_for "$S/run/s1/console.log" '^READY' 60
migrate s1
is "its RAM in /dev/shm: migrate exits 0" "$rc:$(head -c 300 "$TEST_TMP/mig.err")" 0:
is "PASS, every page compared from the two files" "$(j '[.verdict, .verify.pages.pages, .verify.pages.pages_differ, .verify.images] | @tsv')" \
    "$(printf 'PASS\t16384\t0\tbacking files and devices (share=on)')"
like "the new backing is beside the old one" "$(info s1 .spec.backend)" "^$SHM/s1.ram.dst-1\$"
check "the old file is gone" test ! -e "$SHM/s1.ram"

# --- --dest-backend: RAM where the caller says
mkdir "$TEST_TMP/elsewhere"
migrate s1 --dest-backend "$TEST_TMP/elsewhere/s1.ram"
is "--dest-backend: exits 0" "$rc:$(head -c 300 "$TEST_TMP/mig.err")" 0:
is "--dest-backend: PASS, 16384 pages compared, 0 differ" "$(j '[.verdict, .verify.pages.pages, .verify.pages.pages_differ] | @tsv')" \
    "$(printf 'PASS\t16384\t0')"
is "the guest's RAM is the named file" "$(info s1 .spec.backend)" "$TEST_TMP/elsewhere/s1.ram"
like "QEMU maps it" "$(qemu_cmdline "$(info s1 .pid)")" "$TEST_TMP/elsewhere/s1.ram"
like "the guest still says VERIFY ok" "$(console s1 VERIFY)" '^VERIFY ok'
check "the source's file is gone" test ! -e "$SHM/s1.ram.dst-1"
# a relative path is the caller's, made absolute by vmctl
(cd "$TEST_TMP" && "$VMCTL" migrate s1 --to local --strategy precopy --json --dest-backend s1-rel.ram >"$TEST_TMP/rel.out" 2>&1)
is "a relative --dest-backend is taken from the caller's directory" "$?:$(info s1 .spec.backend)" "0:$TEST_TMP/s1-rel.ram"

# --- refusals: one line, exit 2, the source untouched, nothing made
pid=$(info s1 .pid)
ram=$(info s1 .spec.backend)
refused() { # WHAT EXPECTED-REGEX ARGS...
    what=$1 re=$2
    shift 2
    before=$(ls "$TEST_TMP" "$TEST_TMP/elsewhere" "$SHM" | sort | tr '\n' ' ')
    migrate s1 "$@"
    is "$what: exit 2" "$rc" 2
    like "$what: one line naming it" "$(cat "$TEST_TMP/mig.err")" "^vmctl: $re"
    is "$what: a single line" "$(wc -l <"$TEST_TMP/mig.err")" 1
    is "$what: the source runs on, unmoved" "$(info s1 '[.state, .pid, .spec.backend] | @tsv')" \
        "$(printf 'running\t%s\t%s' "$pid" "$ram")"
    is "$what: no file made" "$(ls "$TEST_TMP" "$TEST_TMP/elsewhere" "$SHM" | sort | tr '\n' ' ')" "$before"
}
refused "the source's own backing" "--dest-backend '$ram' is the source's own backing of the RAM of guest 's1'" \
    --dest-backend "$ram"
refused "a directory that does not exist" "destination of the RAM of guest 's1': .*$TEST_TMP/nodir" \
    --dest-backend "$TEST_TMP/nodir/x.ram"
truncate -s 16M "$TEST_TMP/small.ram"
refused "an existing file too small" "destination of the RAM of guest 's1': .*small.ram" \
    --dest-backend "$TEST_TMP/small.ram"
refused "a path outside the allowed ones" "path '/etc/s1.ram' is outside the allowed paths" \
    --dest-backend /etc/s1.ram
refused "an NVDIMM path for a guest without one" \
    "--dest-nvdimm is given 1 times and guest 's1' has 0 nvdimm device\\(s\\): name one destination for each" \
    --dest-nvdimm "$TEST_TMP/nv.img"
refused "a virtio-pmem path for a guest without one" \
    "--dest-virtio-pmem is given 1 times and guest 's1' has 0 virtio-pmem device\\(s\\): name one destination for each" \
    --dest-virtio-pmem "$TEST_TMP/vp.img"
refused "--shared with a destination" "--shared keeps the source's backings: it excludes --dest-backend" \
    --shared --dest-backend "$TEST_TMP/elsewhere/z.ram"

# another guest's backing: refused for a migration and for a launch
"$VMCTL" launch s2 --memory 64M --backend "$TEST_TMP/s2.ram" --json >/dev/null
refused "another guest's RAM" "backing '$TEST_TMP/s2.ram' \\(RAM of guest 's1'\\) is in use by guest 's2' \\(its RAM\\)" \
    --dest-backend "$TEST_TMP/s2.ram"
out=$("$VMCTL" launch s3 --memory 64M --backend "$TEST_TMP/s2.ram" 2>&1)
is "a launch on another guest's RAM: refused (exit 1, as every refused launch), one line" "$?:$out" \
    "1:vmctl: backing '$TEST_TMP/s2.ram' (RAM of guest 's3') is in use by guest 's2' (its RAM): a backing serves one guest"
is "and no guest s3" "$("$VMCTL" list --json | jq -r '[.[].name] | join(",")')" "s1,s2"
"$VMCTL" kill s2 >/dev/null

# --- an NVDIMM goes with the guest, compared page by page
python3 -c 'import sys
with open(sys.argv[1], "wb") as f:
    for i in range(4096):
        f.write(bytes([i % 251]) * 16 + (b"nvdimm page %08d" % i).ljust(4080, b"."))' "$SHM/n1.nv"
cp "$SHM/n1.nv" "$TEST_TMP/n1.expect"
"$VMCTL" launch n1 --memory 64M --backend "$SHM/n1.ram" --nvdimm "$SHM/n1.nv,16M" --rate 2000 --json >/dev/null
check "a guest with an NVDIMM is READY" wait_for "$S/run/n1/console.log" '^READY' 60
migrate n1 --dest-nvdimm "$TEST_TMP/elsewhere/n1.nv"
is "--dest-nvdimm: exits 0" "$rc:$(head -c 300 "$TEST_TMP/mig.err")" 0:
is "--dest-nvdimm: PASS" "$(j .verdict)" PASS
is "the NVDIMM is compared page by page like RAM" \
    "$(j '[.verify.pages.blocks[] | select(.name == "nvdimm0") | .pages, .pages_differ] | @tsv')" "$(printf '%s\t0' $NV_PAGES)"
is "the guest's NVDIMM is the named file" "$(info n1 '.spec.nvdimm[0].path')" "$TEST_TMP/elsewhere/n1.nv"
check "its content came along, byte for byte" cmp -s "$TEST_TMP/n1.expect" "$TEST_TMP/elsewhere/n1.nv"
check "the source's NVDIMM file is gone" test ! -e "$SHM/n1.nv"
tap_done
