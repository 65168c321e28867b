#!/bin/sh
# linux-guest.sh: the Linux test guest under TCG. One boot with anonymous
# memory (guest RAM in a share=on file the host reads): READY, the paced
# dirty rate, the host's view of ctl.writes, VERIFY. One boot with an
# NVDIMM in fsdax mode: the workload on a dax=always ext4 file mapped
# MAP_SYNC, VERIFY, and the negative control (one byte flipped on the host
# in the NVDIMM backing file is named by the guest's VERIFY).
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/guest-tests/linux/guest.sh"

SCAN=$top_builddir/guest-tests/linux/stampscan
RATE=5000          # pages/s asked of the guest
TOL=10             # percent the measured rate may differ
STATS=5            # STAT lines in a measurement (about 1 s apart)

why=$(lg_ready)
[ -n "$why" ] || [ -x "$SCAN" ] || why="$SCAN is not built (make check builds it)"
if [ -n "$why" ]; then
    skip "Linux guest boots under TCG" "$why" qemu
    tap_done
fi

# field LINE KEY: the value of KEY=VALUE in a protocol line
field() { echo "$1" | sed -n "s/.* $2=\([0-9a-fx]*\).*/\1/p"; }

# measure NAME: the guest's dirty rate (pages/s) over STATS STAT lines, from
# its own counters and clock; empty when the lines do not come.
measure() {
    first=$(lg_wait "$1" 'STAT ' 20) || return 0
    last=$first
    for _ in $(seq 2 $STATS); do last=$(lg_wait "$1" 'STAT ' 20) || return 0; done
    w0=$(field "$first" writes) t0=$(field "$first" t) w1=$(field "$last" writes) t1=$(field "$last" t)
    [ "$t1" -gt "$t0" ] && echo $(( (w1 - w0) * 1000 / (t1 - t0) ))
}

# within GOT WANT: GOT is within TOL percent of WANT
within() { [ -n "$1" ] && [ $(( ($1 - $2) * 100 )) -le $(( $2 * TOL )) ] && [ $(( ($2 - $1) * 100 )) -le $(( $2 * TOL )) ]; }


# Both guests boot at once (each TCG guest is one host thread); boot 1 is
# checked first, boot 2 runs its workload meanwhile.
LG_PMEM=none LG_RAM_FILE=$TEST_TMP/ram.img LG_NVDIMM='' \
    LG_APPEND="vmctl.mode=anon vmctl.pages=8192 vmctl.ws=4096 vmctl.rate=$RATE vmctl.seed=1"
lg_start anon
NV=$TEST_TMP/nvdimm.img
LG_PMEM=fsdax LG_NVDIMM=$NV LG_RAM_FILE=$TEST_TMP/ram2.img \
    LG_APPEND="vmctl.mode=file vmctl.file=/mnt/pmem/stamp vmctl.pages=4096 vmctl.ws=1024 vmctl.rate=$RATE vmctl.seed=2"
lg_start dax

# --- boot 1: anonymous memory ------------------------------------------------
ready=$(lg_wait anon 'READY ' 180)
if [ -z "$ready" ]; then
    not_ok "Linux guest boots under TCG and reports READY"
    lg_log anon | tail -n 20 | while read -r l; do diag "$l"; done
    tap_done
fi
ok "Linux guest boots under TCG and reports READY"
like "READY names the region and its parameters" "$ready" \
    '^READY region=0x[0-9a-f]+ pages=8192 ws=4096 same=0 rate=5000 mode=anon'
region=$(field "$ready" region)

# The host's view, for the log only (host timing is noisy): ctl.writes is
# the 9th word of the control page in the share=on RAM file.
off=$("$SCAN" ctl "$TEST_TMP/ram.img" | grep " region=$region " | sed -n 's/^ctl offset=\([0-9]*\) .*/\1/p')
host_writes() { od -An -tu8 -j $((${off:-0} + 64)) -N8 "$TEST_TMP/ram.img" | tr -d ' '; }
lg_skip anon # STAT lines that came during the scan
h0=$(host_writes) ms0=$(date +%s%3N)
got=$(measure anon)
h1=$(host_writes) ms1=$(date +%s%3N)
diag "host view: $(( (h1 - h0) * 1000 / (ms1 - ms0) )) pages/s over $((ms1 - ms0)) ms of host time"
if within "$got" $RATE; then ok "dirty rate ${got} pages/s is within ${TOL}% of $RATE"; else
    not_ok "dirty rate '${got}' pages/s is within ${TOL}% of $RATE"; fi
# the check itself must be able to fail
if within $((RATE * 12 / 10)) $RATE; then not_ok "rate check rejects a rate 20% off"; else
    ok "rate check rejects a rate 20% off"; fi

lg_send anon "RATE 2000"
lg_wait anon 'OK RATE 2000' 30 >/dev/null
lg_wait anon 'STAT ' 30 >/dev/null # the first window straddles the change
got=$(measure anon)
if within "$got" 2000; then ok "after RATE 2000 the rate ${got} pages/s is within ${TOL}%"; else
    not_ok "after RATE 2000 the rate '${got}' pages/s is within ${TOL}%"; fi

lg_send anon PAUSE
paused=$(lg_wait anon 'OK PAUSE ' 30)
writes=$(field "$paused" writes)
ctl=$("$SCAN" ctl "$TEST_TMP/ram.img" | grep " region=$region ")
is "ctl.writes in the share=on RAM file equals the guest's count" "$(field "$ctl" writes)" "$writes"
lg_send anon STAT
st=$(lg_wait anon 'STAT .* paused' 30)
is "STAT while paused: ctl.writes stands still" "$(field "$st" writes)" "$writes"
lg_send anon VERIFY
is "VERIFY after $writes rewrites" "$(lg_wait anon 'VERIFY ' 30)" "VERIFY ok pages=8192"
lg_send anon RESUME
lg_wait anon 'OK RESUME' 30 >/dev/null
lg_send anon VERIFY
is "VERIFY while the writer runs" "$(lg_wait anon 'VERIFY ' 30)" "VERIFY ok pages=8192"
lg_send anon POWEROFF
is "POWEROFF is acknowledged" "$(lg_wait anon 'OK POWEROFF' 30)" "OK POWEROFF"
lg_stop anon

# --- boot 2: NVDIMM in fsdax mode, the workload on a DAX file ----------------
pm=$(lg_wait dax 'PMEM ' 180)
like "fsdax namespace mounted as ext4 with dax=always" "$pm" '^PMEM mode=fsdax dev=/dev/pmem0 .*mount=/mnt/pmem dax=always'
ready=$(lg_wait dax 'READY ' 120)
like "workload maps the DAX file with MAP_SYNC" "$ready" 'pages=4096 ws=1024 .*mode=file sync=1$'
region=$(field "$ready" region)
s1=$(lg_wait dax 'STAT ' 20)
s2=$(lg_wait dax 'STAT ' 20)
check "workload rewrites pages on the DAX file" [ "$(field "$s2" writes)" -gt "$(field "$s1" writes)" ]

lg_send dax PAUSE
paused=$(lg_wait dax 'OK PAUSE ' 30)
ctl=$("$SCAN" ctl "$NV" | grep " region=$region ")
is "ctl.writes in the NVDIMM backing file equals the guest's count" \
    "$(field "$ctl" writes)" "$(field "$paused" writes)"
# DAX: the file's pages are the NVDIMM's, with no page-cache copy in RAM
check "the DAX file's control page is not in guest RAM" sh -c \
    "! '$SCAN' ctl '$TEST_TMP/ram2.img' | grep -q ' region=$region '"
lg_send dax VERIFY
is "VERIFY on the DAX file" "$(lg_wait dax 'VERIFY ' 30)" "VERIFY ok pages=4096"
# the host-side checker reads the same image (when this tree has it)
host_check() { "$VMCTL" pages check --scan --json "$NV" | jq -c "$1"; }
if "$VMCTL" pages check --help >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
    have_host_check=1
    is "vmctl pages check --scan: NVDIMM image clean, same writes" \
        "$(host_check '[.clean, .region_hex, .writes]')" "[true,\"$region\",$(field "$paused" writes)]"
else
    have_host_check=
    skip "vmctl pages check --scan on the NVDIMM image" "this vmctl has no 'pages check' (or no jq)" jq
fi

# Negative control: page 3000 is outside the working set (stable). Flip one
# byte of its body in the backing file on the host.
victim=3000
off=$("$SCAN" page "$NV" "$region" $victim | sed -n 's/^page offset=\([0-9]*\) .*/\1/p')
if [ -n "$off" ] && [ "$(echo "$off" | wc -l)" = 1 ]; then
    ok "page $victim found once in the NVDIMM backing file"
    at=$((off + 8 * 100)) # a body word
    orig=$(od -An -tx1 -j $at -N1 "$NV" | tr -d ' ')
    printf "\\$(printf '%03o' $(( 0x$orig ^ 0x5a )))" | dd of="$NV" bs=1 seek=$at conv=notrunc status=none
    lg_send dax VERIFY
    is "VERIFY names exactly the corrupted page" "$(lg_wait dax 'VERIFY ' 30)" "VERIFY bad=1 first=$victim"
    if [ -n "$have_host_check" ]; then
        is "vmctl pages check --scan names the same page at the same offset" \
            "$(host_check '[.bad, .first_bad[0].index, .first_bad[0].offset, .first_bad[0].verdict]')" \
            "[1,$victim,$off,\"bad_csum\"]"
    else
        skip "vmctl pages check --scan names the corrupted page" "this vmctl has no 'pages check' (or no jq)" jq
    fi
    printf "\\$(printf '%03o' $(( 0x$orig )))" | dd of="$NV" bs=1 seek=$at conv=notrunc status=none
    lg_send dax VERIFY
    is "VERIFY ok again once the byte is restored" "$(lg_wait dax 'VERIFY ' 30)" "VERIFY ok pages=4096"
else
    not_ok "page $victim found once in the NVDIMM backing file"
    diag "offsets: '$off'"
fi
lg_send dax RESUME
lg_wait dax 'OK RESUME' 30 >/dev/null
lg_send dax POWEROFF
is "POWEROFF is acknowledged" "$(lg_wait dax 'OK POWEROFF' 30)" "OK POWEROFF"
lg_stop dax
tap_done
