#!/bin/sh
# dirty-rate.sh: `vmctl dirty-rate` against tiny guests with a known rate:
# the accuracy of one KVM mode (dirty-bitmap) and of page-sampling under TCG
# at 20k pages/s (within 15% of the guest's own rate), the modes refused on
# each accelerator (and QEMU still alive after the refusal), the time series
# of --watch, and bad input.
. "$top_srcdir/tests/lib/tap.sh"
# without KVM here, the whole test (its KVM part with the rest) runs in a lab
kvm_or_lab || true

if ! have_qemu; then
    skip "vmctl dirty-rate" "no QEMU" qemu
    tap_done
fi

. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld

# within15 RATIO: |ratio - 1| <= 0.15
within15() { awk -v r="$1" 'BEGIN { exit !(r >= 0.85 && r <= 1.15) }'; }

# 20k pages/s over a 4 s window dirty 80000 pages: a working set of 96000
# pages (375 MiB) is written at most once per window, so what QEMU counts
# is the rate. The window is 4 s, not 1-2 s: on a loaded host the guest
# runs in bursts, and a burst that falls just inside or outside QEMU's
# window moved single 2 s results by up to 20% in bench/dirty-rate; a
# longer window dilutes that edge effect. (Page-sampling also skips RAM
# blocks under 128 MiB; 512 MiB is well above.)
RATE=20000
WS=96000
WINDOW=4
MEM=512M

# --- TCG: page-sampling (the only mode that does not crash QEMU before 9.1
# there; from 9.1 on dirty-bitmap counts no pages under TCG)
"$VMCTL" launch dt --accel tcg --memory $MEM --rate $RATE --ws $WS >/dev/null; rc=$?
is "launch of a TCG tiny guest" "$rc" 0
log=$("$VMCTL" info dt --json | jq -r .console_log)
check "the TCG guest reports its rate" wait_for "$log" '^STAT' 60
out=$("$VMCTL" dirty-rate dt --seconds $WINDOW --json); rc=$?
is "dirty-rate under TCG exits 0" "$rc" 0
is "auto picks page-sampling under TCG" "$(printf '%s' "$out" | jq -r .mode)" page-sampling
# QEMU's default sample (512 pages per GiB) leaves a small guest a handful
# of pages; vmctl asks for its largest unless told otherwise
is "page-sampling hashes 4096 pages per GiB by default" "$(printf '%s' "$out" | jq -r .result.sample_pages)" 4096
is "accel is tcg" "$(printf '%s' "$out" | jq -r .accel)" tcg
ratio=$(printf '%s' "$out" | jq -r .result.reference.ratio)
diag "TCG page-sampling at $RATE pages/s: $(printf '%s' "$out" | jq -c '[.result.dirty_pages_per_s, .result.reference.pages_per_s, .result.reference.ratio]')"
check "TCG page-sampling is within 15% of the guest's rate (ratio $ratio)" within15 "$ratio"
out=$("$VMCTL" dirty-rate dt --seconds 2 --sample-pages 4096 --expect-rate $((RATE * 2)) --json)
ratio=$(printf '%s' "$out" | jq -r .result.reference.ratio)
check "a wrong expected rate (2x) is caught (ratio $ratio)" sh -c "! awk -v r=$ratio 'BEGIN { exit !(r >= 0.85 && r <= 1.15) }'"
# the known bug 'tcg-calc-dirty-rate-crash' is fixed in 9.1 (src/host.c)
qemu_version=$(printf '%s' "$out" | jq -r .qemu_version)
case $qemu_version in
[0-8].* | 9.0.*) why="crashes QEMU $qemu_version under TCG \(NULL kvm_state, known bug 'tcg-calc-dirty-rate-crash'\)" ;;
*) why="needs KVM dirty logging and the guest runs under TCG" ;;
esac
for m in dirty-bitmap dirty-ring; do
    err=$("$VMCTL" dirty-rate dt --mode $m 2>&1); rc=$?
    is "$m under TCG is refused (exit 1)" "$rc" 1
    like "with the reason for QEMU $qemu_version" "$err" "^vmctl: mode '$m' $why: use 'page-sampling'$"
done
case $qemu_version in
[0-8].* | 9.0.*) ;;
*)
    # the reason holds: QEMU takes dirty-bitmap under TCG but counts nothing
    "$VMCTL" qmp dt '{"execute":"calc-dirty-rate","arguments":{"calc-time":1,"mode":"dirty-bitmap"}}' >/dev/null
    for i in $(seq 30); do
        q=$("$VMCTL" qmp dt '{"execute":"query-dirty-rate"}')
        [ "$(printf '%s' "$q" | jq -r '.status + " " + .mode')" = "measured dirty-bitmap" ] && break
        sleep 1
    done
    is "QEMU $qemu_version: dirty-bitmap under TCG counts no pages of the busy guest" \
        "$(printf '%s' "$q" | jq -c '[.status, .mode, ."dirty-rate"]')" '["measured","dirty-bitmap",0]'
    ;;
esac
is "QEMU is still alive after the refusals" "$("$VMCTL" qmp dt '{"execute":"query-status"}' | jq -r .status)" running
"$VMCTL" kill dt >/dev/null

if ! have_kvm; then
    skip "vmctl dirty-rate under KVM" "no usable /dev/kvm" kvm
    tap_done
fi

# --- KVM without a dirty ring: dirty-bitmap
"$VMCTL" launch dk --accel kvm --memory $MEM --rate $RATE --ws $WS >/dev/null; rc=$?
is "launch of a KVM tiny guest" "$rc" 0
log=$("$VMCTL" info dk --json | jq -r .console_log)
check "the KVM guest reports its rate" wait_for "$log" '^STAT' 30
out=$("$VMCTL" dirty-rate dk --seconds $WINDOW --json); rc=$?
is "dirty-rate under KVM exits 0" "$rc" 0
is "auto picks dirty-bitmap under KVM without a ring" "$(printf '%s' "$out" | jq -r .mode)" dirty-bitmap
ratio=$(printf '%s' "$out" | jq -r .result.reference.ratio)
diag "KVM dirty-bitmap at $RATE pages/s: $(printf '%s' "$out" | jq -c '[.result.dirty_pages_per_s, .result.reference.pages_per_s, .result.reference.ratio]')"
check "KVM dirty-bitmap is within 15% of the guest's rate (ratio $ratio)" within15 "$ratio"
is "pages/s is MB/s x 256" "$(printf '%s' "$out" | jq '.result.dirty_rate_mbps * 256 == .result.dirty_pages_per_s')" true
err=$("$VMCTL" dirty-rate dk --mode dirty-ring 2>&1); rc=$?
is "dirty-ring without a ring is refused" "$rc:$err" \
    "1:vmctl: mode 'dirty-ring' needs a guest launched with --dirty-ring N and this one has none: use 'dirty-bitmap' or 'page-sampling'"

# --watch: a series of [t, pages/s] points for the report
out=$("$VMCTL" dirty-rate dk --watch 1 --seconds 2 --json); rc=$?
is "--watch exits 0" "$rc" 0
is "--watch 1 --seconds 2 gives two points" "$(printf '%s' "$out" | jq '.evidence.series.points | length')" 2
is "the series is labelled" "$(printf '%s' "$out" | jq -r '.evidence.series | [.name, .x_label, .y_label] | join("|")')" \
    "dirty rate|time (s)|dirty pages/s"
is "points are increasing in time" "$(printf '%s' "$out" | jq '.evidence.series.points | .[0][0] < .[1][0]')" true
out=$("$VMCTL" dirty-rate dk --watch 1 --seconds 2)
is "human --watch prints one line per point" "$(printf '%s\n' "$out" | grep -c '^t=')" 2
"$VMCTL" kill dk >/dev/null

# --- bad input
err=$("$VMCTL" dirty-rate dk --mode fast 2>&1); rc=$?
is "an unknown mode" "$rc:$err" "1:vmctl: --mode 'fast' is not one of auto, page-sampling, dirty-bitmap, dirty-ring"
err=$("$VMCTL" dirty-rate dk --seconds 61 2>&1); rc=$?
is "a window over QEMU's 60 s" "$rc:$err" "1:vmctl: --seconds '61' is not within 1..60"
err=$("$VMCTL" dirty-rate dk --sample-pages 5 2>&1); rc=$?
is "a sample size QEMU refuses" "$rc:$err" "1:vmctl: --sample-pages '5' is not within QEMU's 128..4096 pages per GiB"
err=$("$VMCTL" dirty-rate nosuch 2>&1); rc=$?
is "an unknown guest" "$rc:$err" "1:vmctl: guest 'nosuch' does not exist"
tap_done
