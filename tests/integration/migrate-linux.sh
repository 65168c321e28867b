#!/bin/sh
# migrate-linux.sh: live migration of the Linux guest under TCG.
# - With an NVDIMM in fsdax mode whose stamped file lives on DAX in the
#   guest: every page of RAM and of the NVDIMM compared (0 differ), the
#   NVDIMM moved to a new backing file, VERIFY ok.
# - QEMU 7.2's TCG lost-dirty-page bug: a busy guest booted without
#   page-table isolation (pti=off overrides the default pti=on: Linux takes
#   the last pti= on its command line) loses pages in migration; the
#   verification must catch it (FAIL with the pages) and keep the source.
#   The loss is a race: here a run lost pages 9 times in 12 alone, 4 in 10
#   beside migrate.sh (the runs that took 3 iterations never did, 5 or more
#   always did), and a CI run beside the rest of the suite saw 5 clean runs
#   in a row; so up to 15 runs, stopping at the first FAIL.
#   Fixed upstream in QEMU 9.0: on a fixed QEMU the check is skipped.
. "$top_srcdir/tests/lib/tap.sh"

if ! have_qemu; then
    skip "Linux guest migration" "no QEMU" qemu
    tap_done
fi
if [ ! -e "$top_builddir/guest-tests/linux/vmlinuz" ]; then
    skip "Linux guest migration" "no Linux guest image in the build" qemu
    tap_done
fi

. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld
CONSOLE_TIMEOUT=120

# both boot at once (~1 min under TCG on a busy host)
"$VMCTL" launch lnv --guest linux --accel tcg --memory 256M --backend "$TEST_TMP/lnv.ram" \
    --nvdimm "$TEST_TMP/nv0.img,128M" --cmdline 'vmctl.pmem=fsdax vmctl.mode=file' --rate 2000 --ws 1024 >/dev/null
"$VMCTL" launch lbusy --guest linux --accel tcg --memory 256M --backend "$TEST_TMP/lbusy.ram" \
    --cmdline 'pti=off' --rate 0 >/dev/null
check "the NVDIMM guest is READY with its stamps on fsdax" wait_for "$S/run/lnv/console.log" '^READY .*mode=file' 180
check "the busy guest is READY" wait_for "$S/run/lbusy/console.log" '^READY' 180
like "pti=off comes after the default pti=on" "$(info lbusy '.argv | index("-append") as $i | .[$i + 1]')" 'pti=on pti=off'

# --- NVDIMM content migrated and compared, once: a FAIL is a FAIL. QEMU
# 7.2's TCG bug (below) needs pages dirtied while RAM is sent, and it hit
# this pti=on guest once (5 pages of pc.ram) while both guests wrote: here
# both stamp writers pause, so what moves is the content as it stands
# (the loss under writes is the busy guest's test below).
like "the busy guest's writer pauses" "$(console lbusy PAUSE)" '^OK PAUSE'
like "the NVDIMM guest's writer pauses" "$(console lnv PAUSE)" '^OK PAUSE'
"$VMCTL" migrate lnv --to local --json >"$TEST_TMP/nv.out"
rc=$?
out=$(tail -n 1 "$TEST_TMP/nv.out")
[ $rc = 0 ] || diag "NVDIMM guest: $(echo "$out" | jq -c '{verdict, known_bug, blocks: [.verify.pages.blocks[] | {name, pages_differ, first: [.first[].page]}]}')"
is "NVDIMM guest: migrate exits 0" "$rc" 0
is "NVDIMM guest: PASS under TCG on a file" "$(echo "$out" | jq -c '[.verdict, .accel, .backing]')" '["PASS","tcg","file"]'
is "NVDIMM guest: every page of RAM and NVDIMM compared, none differs" \
    "$(echo "$out" | jq -c '[.verify.pages.blocks[] | [.name, .pages, .pages_differ]]')" '[["pc.ram",65536,0],["nvdimm0",32768,0]]'
like "NVDIMM guest: VERIFY ok on the destination" "$(echo "$out" | jq -r .verify.guest)" '^VERIFY ok pages=[0-9]+$'
is "NVDIMM guest: the calc-dirty-rate mode is page-sampling under TCG" "$(echo "$out" | jq -r .dirty_rate.mode)" page-sampling
like "NVDIMM guest: the NVDIMM moved to a new file" "$(info lnv '.spec.nvdimm[0].path')" "^$TEST_TMP/nv0.img.dst-1$"
check "NVDIMM guest: the old NVDIMM file is removed" test ! -e "$TEST_TMP/nv0.img"
like "NVDIMM guest: the migrated guest still says VERIFY ok" "$(console lnv VERIFY)" '^VERIFY ok'
like "NVDIMM guest: its writer resumes on the destination" "$(console lnv RESUME)" '^OK RESUME'

# --- the lost-dirty-page bug of QEMU 7.2 TCG, caught
like "the busy guest's writer resumes" "$(console lbusy RESUME)" '^OK RESUME'
qemu_version=$(echo "$out" | jq -r .qemu | cut -d' ' -f1)
case $qemu_version in
7.* | 8.*)
    fails=0
    for run in $(seq 1 15); do
        "$VMCTL" migrate lbusy --to local --json >"$TEST_TMP/busy.out"
        rc=$?
        r=$(tail -n 1 "$TEST_TMP/busy.out")
        diag "run $run: exit $rc $(echo "$r" | jq -c '{verdict, pages_differ: .verify.pages.pages_differ, first: [.verify.pages.blocks[0].first[].page], stats: {total_time_ms: .stats.total_time_ms, iterations: .stats.iterations}}')"
        if [ $rc = 1 ]; then
            fails=$((fails + 1))
            is "run $run: the FAIL names QEMU's known bug and the version that fixes it" \
                "$(echo "$r" | jq -r '[.verdict, .known_bug.id, .known_bug.fixed_in] | @tsv')" \
                "$(printf 'FAIL\ttcg-lost-dirty-pages\t9.0.0')"
            check "run $run: FAIL names pages of pc.ram" \
                [ "$(echo "$r" | jq '.verify.pages.blocks[0] | .pages_differ > 0 and (.first | length) > 0')" = true ]
            is "run $run: the destination is removed and the source resumed" "$(echo "$r" | jq -r .kept)" \
                "source: the destination was removed and the source resumed"
            like "run $run: the source's memory is intact (VERIFY ok)" "$(console lbusy VERIFY)" '^VERIFY ok'
            break
        fi
    done
    check "QEMU $qemu_version TCG: the verification catches lost dirty pages (FAIL within 15 runs)" [ $fails -ge 1 ]
    ;;
*)
    skip "the TCG lost-dirty-page bug" "QEMU $qemu_version has the fix (9.0)"
    ;;
esac

tap_done
