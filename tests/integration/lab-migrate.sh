#!/bin/sh
# lab-migrate.sh: live migration between DAX devices. A busy tiny guest
# (L2, under the lab's KVM) with its RAM on /dev/dax0.0 moves to
# /dev/dax2.0: PASS with every page of the two devices compared, the stamps
# clean, the guest's VERIFY ok, the guest then on /dev/dax2.0 (pmem=on)
# and /dev/dax0.0 left in place. The negative control puts back, on the
# paused destination, one page as it was before the migration (a lost last
# write): FAIL naming that page, as stale; the source runs on. Then
# device-dax to an fsdax file and back. Refused before anything starts: no
# destination for a device-dax source, a destination that is not DAX, the
# source's own device. An NVDIMM on one device-dax moves to the other with
# its content, compared page by page. DAX exists only in a lab here: the
# whole test runs in one, on any host.
. "$top_srcdir/tests/lib/tap.sh"

lab_only "migration between DAX devices"

. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld
STALE=1000                       # a stamped page in the working set
STALE_PAGE=$((512 + 1 + STALE)) # its RAM page: the stamped region starts at 2M, after its control page

migrate() {
    "$VMCTL" migrate d1 --to local --strategy precopy --timeout 600 --json "$@" >"$TEST_TMP/mig.out" 2>"$TEST_TMP/mig.err"
    rc=$?
    out=$(tail -n 1 "$TEST_TMP/mig.out")
}
j() { printf '%s' "$out" | jq -r "$1"; }
qemu_args() { qemu_cmdline "$(info d1 .pid)"; }

out=$("$VMCTL" launch d1 --memory 128M --backend /dev/dax0.0 --rate 5000 --ws 4096 --json 2>&1)
is "the tiny guest launches on /dev/dax0.0" "$?" 0
check "it is READY" wait_for "$S/run/d1/console.log" '^READY' 120
pid=$(info d1 .pid)

# --- refused before anything starts
refused() { # WHAT REGEX ARGS...
    what=$1 re=$2
    shift 2
    migrate "$@"
    is "$what: exit 2, one line" "$rc:$(wc -l <"$TEST_TMP/mig.err")" 2:1
    like "$what: naming the rule" "$(cat "$TEST_TMP/mig.err")" "^vmctl: $re"
    is "$what: the source runs on" "$(info d1 '[.state, .pid] | @tsv')" "$(printf 'running\t%s' "$pid")"
}
refused "a device-dax source with no destination" \
    "RAM of guest 'd1' is the device '/dev/dax0.0', which cannot be copied beside itself: name its destination with --dest-backend"
refused "a destination that is not DAX" "destination '/tmp/d1.ram' of the RAM of guest 'd1' is not DAX" \
    --dest-backend /tmp/d1.ram
check "and it was not made" test ! -e /tmp/d1.ram
refused "the source's own device" "--dest-backend '/dev/dax0.0' is the source's own backing" --dest-backend /dev/dax0.0

# --- device-dax to device-dax
migrate --dest-backend /dev/dax2.0
is "dax0.0 -> dax2.0: exit 0" "$rc:$(head -c 300 "$TEST_TMP/mig.err")" 0:
is "PASS, all 32768 pages of the two devices compared, 0 differ" \
    "$(j '[.verdict, .verify.pages.pages, .verify.pages.pages_differ, .verify.images] | @tsv')" \
    "$(printf 'PASS\t32768\t0\tbacking files and devices (share=on)')"
is "the stamps are clean" "$(j '[.verify.stamps.bad, .verify.stamps.checked > 4000] | @tsv')" "$(printf '0\ttrue')"
like "the guest's VERIFY is ok" "$(j .verify.guest)" '^VERIFY ok pages='
diag "dax0.0 -> dax2.0: $(printf '%s' "$out" | jq -c .stats)"
is "the guest now runs on /dev/dax2.0, seen as devdax" "$(info d1 '[.state, .spec.backend, .backend_kind] | @tsv')" \
    "$(printf 'running\t/dev/dax2.0\tdevdax')"
like "QEMU maps it with pmem=on" "$(qemu_args)" 'mem-path":"/dev/dax2.0".*"pmem":true|mem-path=/dev/dax2.0,.*pmem=on'
check "the source's device stays" test -c /dev/dax0.0

# --- the negative control: one page put back as it was before
pid=$(info d1 .pid)
VMCTL_MIGRATE_FAULT=dst-stale:$STALE_PAGE migrate --dest-backend /dev/dax0.0
is "a stale page on the destination: exit 1" "$rc:$(head -c 300 "$TEST_TMP/mig.err")" 1:
is "FAIL, under the injected fault, which the result names" "$(j '[.verdict, .injected_fault] | @tsv')" \
    "$(printf 'FAIL\tVMCTL_MIGRATE_FAULT=dst-stale:%s' $STALE_PAGE)"
is "exactly that page differs" "$(j '[.verify.pages.pages_differ, .verify.pages.blocks[0].first[0].page] | @tsv')" \
    "$(printf '1\t%s' $STALE_PAGE)"
is "the stamp checker names it stale, not corrupt" \
    "$(j '[.verify.stamps.bad, .verify.stamps.first_bad[0].index, .verify.stamps.first_bad[0].verdict] | @tsv')" \
    "$(printf '1\t%s\tstale' $STALE)"
is "the source runs on, on /dev/dax2.0" "$(info d1 '[.state, .pid, .spec.backend] | @tsv')" \
    "$(printf 'running\t%s\t/dev/dax2.0' "$pid")"
like "and says VERIFY ok" "$(console d1 VERIFY 120)" '^VERIFY ok'

# --- device-dax to fsdax and back
fallocate -l 128M /mnt/fsdax1/d1.ram
migrate --dest-backend /mnt/fsdax1/d1.ram
is "dax2.0 -> fsdax file: PASS, 0 of 32768 differ" \
    "$rc:$(j '[.verdict, .verify.pages.pages, .verify.pages.pages_differ] | @tsv')" "$(printf '0:PASS\t32768\t0')"
is "the guest runs on the fsdax file" "$(info d1 '[.spec.backend, .backend_kind] | @tsv')" \
    "$(printf '/mnt/fsdax1/d1.ram\tfsdax')"
migrate --dest-backend /dev/dax0.0
is "fsdax file -> dax0.0: PASS, 0 of 32768 differ" \
    "$rc:$(j '[.verdict, .verify.pages.pages, .verify.pages.pages_differ] | @tsv')" "$(printf '0:PASS\t32768\t0')"
check "the fsdax source file is removed after the hand-over" test ! -e /mnt/fsdax1/d1.ram
like "after four migrations the guest says VERIFY ok" "$(console d1 VERIFY 120)" '^VERIFY ok'
"$VMCTL" kill d1 >/dev/null

# --- an NVDIMM on device-dax goes to the other device-dax with its content
# pattern DEV PAGES [CHECK]: page i of DEV holds "nvdimm page i" (CHECK:
# compare instead of write; exit 1 at the first page that differs)
pattern() {
    python3 -c 'import mmap, os, sys
n = int(sys.argv[2]); check = len(sys.argv) > 3
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, n * 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
for i in range(n):
    want = (b"nvdimm page %08d" % i).ljust(4096, b".")
    if check and m[i * 4096:(i + 1) * 4096] != want:
        sys.exit(1)
    if not check:
        m[i * 4096:(i + 1) * 4096] = want
m.close()' "$@"
}
pattern /dev/dax2.0 32768
"$VMCTL" launch n1 --memory 64M --backend memfd --nvdimm /dev/dax2.0,128M --rate 2000 --json >/dev/null
check "a guest with its NVDIMM on /dev/dax2.0 is READY" wait_for "$S/run/n1/console.log" '^READY' 120
"$VMCTL" migrate n1 --to local --strategy precopy --timeout 600 --json --dest-nvdimm /dev/dax0.0 >"$TEST_TMP/mig.out" 2>"$TEST_TMP/mig.err"
rc=$?
out=$(tail -n 1 "$TEST_TMP/mig.out")
is "NVDIMM dax2.0 -> dax0.0: PASS" "$rc:$(j .verdict)" 0:PASS
is "its 32768 pages compared like RAM, 0 differ" \
    "$(j '[.verify.pages.blocks[] | select(.name == "nvdimm0") | .pages, .pages_differ] | @tsv')" "$(printf '32768\t0')"
is "the guest's NVDIMM is /dev/dax0.0" "$(info n1 '.spec.nvdimm[0].path')" /dev/dax0.0
check "and /dev/dax0.0 holds the NVDIMM's content" pattern /dev/dax0.0 32768 check
"$VMCTL" kill n1 >/dev/null
tap_done
