#!/bin/sh
# pages-diff.sh: `vmctl pages diff` on small images: identical, one changed
# byte, many changed pages, RAM blocks at other offsets, and every error it
# reports (sizes, missing image, bad block, bad command line). Checks the
# human lines, the exit status and the --json output (jq).
#
# When this vmctl has no `pages diff` yet, the JSON checks run through the
# library (tests/unit/test-page-diff --diff-json) and the CLI-only checks skip.
. "$top_srcdir/tests/lib/tap.sh"

T=$TEST_TMP
KiB=1024

if "$VMCTL" help pages 2>/dev/null | grep -q '^ *diff '; then
    have_cli=1
    diffj() { "$VMCTL" pages diff --json "$@"; }
else
    have_cli=
    drv="$top_builddir/tests/unit/test-page-diff"
    # the driver takes RAM blocks as bare NAME:OFFA:OFFB:LEN arguments
    diffj() {
        a=$1 b=$2
        shift 2
        set -- "$a" "$b" $(printf '%s\n' "$@" | sed -n 's/^--block=//p')
        "$drv" --diff-json "$@"
    }
fi

# put_byte FILE OFFSET CHAR: overwrite one byte in place
put_byte() { printf '%s' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# 1 MiB of random content; "same" is a copy, "b" a copy with one byte changed.
head -c $((1024 * KiB)) /dev/urandom >"$T/a"
put_byte "$T/a" $((37 * 4096 + 0x123)) A
cp "$T/a" "$T/same"
cp "$T/a" "$T/b"
put_byte "$T/b" $((37 * 4096 + 0x123)) B

cli_only() {
    if [ -z "$have_cli" ]; then
        skip "$1" "this vmctl has no 'pages diff' command yet"  pages-diff
        return 1
    fi
}

# --- identical ---
if cli_only "identical images: exit 0 and '0 differ'"; then
    out=$("$VMCTL" pages diff "$T/a" "$T/same"); rc=$?
    is "identical images exit 0" "$rc" 0
    is "identical images: block line" "$(printf '%s\n' "$out" | head -1)" "image: 256 pages, 0 differ"
    like "identical images: total line" "$(printf '%s\n' "$out" | tail -1)" '^total: 256 pages, 0 differ \(1M in [0-9.]+ s, [0-9.]+ GB/s\)$'
fi
j=$(diffj "$T/a" "$T/same"); rc=$?
is "identical images --json exit 0" "$rc" 0
is "identical images --json: identical true, 256 pages" "$(printf '%s' "$j" | jq -c '[.identical, .total.pages, .total.pages_differ]')" "[true,256,0]"

# --- one byte ---
if cli_only "one changed byte: exit 1 and the page with its byte offset"; then
    out=$("$VMCTL" pages diff "$T/a" "$T/b"); rc=$?
    is "one changed byte exits 1" "$rc" 1
    is "one changed byte: page 37 at 0x25000+0x123" "$(printf '%s\n' "$out" | head -1)" \
        "image: 256 pages, 1 differ: 37 (0x25000+0x123)"
fi
j=$(diffj "$T/a" "$T/b"); rc=$?
is "one changed byte --json exit 1" "$rc" 1
is "one changed byte --json: page, offsets, byte" \
    "$(printf '%s' "$j" | jq -c '.blocks[0].differ[0] | [.page, .offset_a, .offset_b, .byte]')" "[37,151552,151552,291]"
is "one changed byte --json: counts" "$(printf '%s' "$j" | jq -c '[.identical, .total.pages_differ, .blocks[0].unlisted]')" "[false,1,0]"

# --- many pages: exact count, first N listed ---
pages="1 2 3 5 8 13 21 34 55 89 144 233"
cp "$T/a" "$T/a2"
for p in $pages; do put_byte "$T/a2" $((p * 4096 + 1)) Y; done
cp "$T/a2" "$T/many"
for p in $pages; do put_byte "$T/many" $((p * 4096 + 1)) Z; done
want=12
if cli_only "many changed pages: --max-report lists the first N and counts the rest"; then
    out=$("$VMCTL" pages diff --max-report 2 "$T/a2" "$T/many"); rc=$?
    is "many changed pages exit 1" "$rc" 1
    is "many changed pages: two listed, the rest counted" "$(printf '%s\n' "$out" | head -1)" \
        "image: 256 pages, 12 differ: 1 (0x1000+0x1), 2 (0x2000+0x1), ... 10 more"
    out=$("$VMCTL" pages diff --max-report 0 "$T/a2" "$T/many")
    is "--max-report 0: the count alone" "$(printf '%s\n' "$out" | head -1)" "image: 256 pages, 12 differ"
    j=$("$VMCTL" pages diff --json --max-report 0 "$T/a2" "$T/many")
    is "--max-report 0: none listed, all counted" "$(printf '%s' "$j" | jq -c '[.max_report, (.blocks[0].differ | length), .blocks[0].unlisted]')" "[0,0,$want]"
    j=$("$VMCTL" pages diff --json --threads 3 "$T/a2" "$T/many")
    is "--threads 3: the same count and pages" "$(printf '%s' "$j" | jq -c '[.total.pages_differ, [.blocks[0].differ[].page]]')" \
        "[$want,[1,2,3,5,8,13,21,34,55,89]]"
fi
j=$(diffj "$T/a2" "$T/many")
is "many changed pages --json: exact count" "$(printf '%s' "$j" | jq .total.pages_differ)" "$want"
is "many changed pages --json: the first 10 listed" "$(printf '%s' "$j" | jq -c '[.blocks[0].differ[].page]')" "[1,2,3,5,8,13,21,34,55,89]"

# --- RAM blocks at other offsets ---
# A: low (256K) at 0, high (256K) at 512K. B: low at 0, high at 256K, with
# page 3 of high changed.
head -c $((768 * KiB)) /dev/urandom >"$T/ra"
head -c $((512 * KiB)) /dev/urandom >"$T/rb"
dd if="$T/ra" of="$T/rb" bs=1K count=256 conv=notrunc status=none
dd if="$T/ra" of="$T/rb" bs=1K skip=512 seek=256 count=256 conv=notrunc status=none
put_byte "$T/ra" $((512 * KiB + 3 * 4096 + 7)) A
put_byte "$T/rb" $((256 * KiB + 3 * 4096 + 7)) B
j=$(diffj "$T/ra" "$T/rb" --block=low:0:0:256K --block=high:512K:256K:256K); rc=$?
is "RAM blocks --json exit 1" "$rc" 1
is "RAM blocks --json: per-block counts" "$(printf '%s' "$j" | jq -c '[.blocks[] | [.name, .pages, .pages_differ]]')" \
    '[["low",64,0],["high",64,1]]'
is "RAM blocks --json: page of the block, offsets of each image" \
    "$(printf '%s' "$j" | jq -c '.blocks[1].differ[0] | [.page, .offset_a, .offset_b, .byte]')" "[3,536576,274432,7]"
if cli_only "RAM blocks: one line per block"; then
    out=$("$VMCTL" pages diff --block low:0:0:256K --block high:512K:256K:256K "$T/ra" "$T/rb")
    is "RAM blocks: one line per block" "$(printf '%s\n' "$out" | head -2)" "low: 64 pages, 0 differ
high: 64 pages, 1 differ: 3 (0x83000/0x43000+0x7)"
    like "RAM blocks: total" "$(printf '%s\n' "$out" | tail -1)" '^total: 128 pages, 1 differ '
    out=$("$VMCTL" pages diff --offset-a 512K --offset-b 256K --length 256K "$T/ra" "$T/rb"); rc=$?
    is "--offset-a/--offset-b/--length exit 1" "$rc" 1
    is "--offset-a/--offset-b/--length: the page" "$(printf '%s\n' "$out" | head -1)" "image: 64 pages, 1 differ: 3 (0x83000/0x43000+0x7)"
fi

# --- a block device: its size comes from the device ---
loopdev=""
if is_root && command -v losetup >/dev/null 2>&1; then
    loopdev=$(losetup -f --show "$T/a" 2>/dev/null) || loopdev=""
fi
if [ -n "$loopdev" ]; then
    on_exit "losetup -d $loopdev"
    j=$(diffj "$loopdev" "$T/b"); rc=$?
    is "block device against a file exits 1" "$rc" 1
    is "block device: its size and the changed page" \
        "$(printf '%s' "$j" | jq -c '[.image_a.size, .total.pages, .blocks[0].differ[0].page, .blocks[0].differ[0].byte]')" \
        "[1048576,256,37,291]"
else
    skip "block device against a file" "needs root and a free loop device" root
fi

# --- errors: one line on stderr, exit 2 ---
head -c $((256 * KiB)) /dev/zero >"$T/small"
head -c $((512 * KiB)) /dev/zero >"$T/big"
if [ -n "$have_cli" ]; then
    err() { "$VMCTL" pages diff "$@" 2>&1 >/dev/null; }
else
    err() { diffj "$@" 2>&1 >/dev/null; }
fi
out=$(err "$T/small" "$T/big"); rc=$?
is "sizes that differ exit 2" "$rc" 2
is "sizes that differ: the message" "$out" "vmctl: images '$T/small' (256K) and '$T/big' (512K) differ in size"
out=$(err "$T/small" "$T/missing"); rc=$?
is "missing image exits 2" "$rc" 2
is "missing image: the message" "$out" "vmctl: image '$T/missing' cannot be opened: No such file or directory"
out=$(err "$T/small" "$T/big" --block=r:256K:0:4K); rc=$?
is "block beyond the end exits 2" "$rc" 2
is "block beyond the end: the message" "$out" "vmctl: block 'r' (offset 0x40000, length 4K) goes beyond the end of '$T/small' (256K)"
if cli_only "command-line errors exit 2 with one line"; then
    out=$("$VMCTL" pages diff --length 256K "$T/small" "$T/big" 2>&1); rc=$?
    is "a common --length makes images of different sizes comparable" "$rc:$(printf '%s\n' "$out" | head -1)" \
        "0:image: 64 pages, 0 differ"
    out=$(err --block 'x:0:0' "$T/small" "$T/big"); rc=$?
    is "bad --block exits 2" "$rc" 2
    is "bad --block: the message" "$out" "vmctl: block 'x:0:0' is not NAME:OFFSET_A:OFFSET_B:LENGTH"
    out=$(err --block 'x:0:0:4K' --length 4K "$T/small" "$T/big"); rc=$?
    is "--block with --length exits 2" "$rc:$out" "2:vmctl: --block cannot be combined with --offset-a, --offset-b or --length"
    out=$(err --length 0 "$T/small" "$T/big"); rc=$?
    is "--length 0 exits 2" "$rc:$out" "2:vmctl: size '0' must be greater than zero"
    out=$(err --max-report -1 "$T/small" "$T/big"); rc=$?
    is "bad --max-report exits 2" "$rc:$out" "2:vmctl: --max-report '-1' is not an integer between 0 and 1000000"
    out=$(err --threads 65 "$T/small" "$T/big"); rc=$?
    is "bad --threads exits 2" "$rc:$out" "2:vmctl: --threads '65' is not an integer between 0 and 64"
    out=$(err "$T/small"); rc=$?
    is "one image exits 2" "$rc:$out" "2:vmctl: pages diff needs two images A and B, got 1"
    out=$(err --bogus "$T/small" "$T/big"); rc=$?
    is "unknown option exits 2" "$rc" 2
    is "unknown option: one line" "$(printf '%s\n' "$out" | wc -l)" 1
    a=$("$VMCTL" pages diff --help 2>&1); rc=$?
    is "pages diff --help exits 0" "$rc" 0
    like "pages diff --help names --block" "$a" "--block=NAME:OFFA:OFFB:LEN"
fi

# Images that shrink under the compare. Files in 2 MiB pages are mapped, not
# read: a page cut off after the mapping faults with SIGBUS, which must end
# as an error of that image, never as a crash. A private mount namespace
# holds a tmpfs with huge pages (st_blksize 2M: mapped).
if ! is_root || ! cli_only "images that shrink under the compare"; then
    is_root || skip "images that shrink under the compare" "a private tmpfs mount needs root" root
else
    # shrink_run SCRIPT: SCRIPT run in a mount namespace with $H a huge tmpfs
    H="$T/huge"
    mkdir -p "$H"
    shrink_run() { unshare -m sh -c 'mount -t tmpfs -o huge=always,size=160M none "$H" || exit 99; '"$1"; }
    export H VMCTL
    out=$(shrink_run 'head -c 64M /dev/zero >"$H/a"; cp "$H/a" "$H/b"; stat -c %o "$H/a"')
    is "the huge tmpfs gives 2 MiB blocks (the images are mapped)" "$out" 2097152
    # deterministic: image A is cut to 2M after it was opened and sized
    out=$(shrink_run 'head -c 64M /dev/zero >"$H/a"; cp "$H/a" "$H/b"
        VMCTL_PAGES_FAULT=shrink-a:2M "$VMCTL" pages diff --threads 1 "$H/a" "$H/b" 2>&1; echo "rc=$?"')
    like "a mapped image cut short under the compare is an error (exit 2), not a crash" "$out" "rc=2$"
    like "it names the image, the offset and its size now" "$out" \
        "^vmctl: image '$H/a' shrank while it was compared: no data at offset 0x200000 \(it is now 2M\)"
    # the same race from outside: the file is cut and grown again while
    # compares run; not one may die of a signal
    st=$(shrink_run 'head -c 64M /dev/zero >"$H/a"; cp "$H/a" "$H/b"
        ( while :; do truncate -s 1M "$H/a"; truncate -s 64M "$H/a"; done ) & cutter=$!
        for i in $(seq 1 30); do "$VMCTL" pages diff --json "$H/a" "$H/b" >/dev/null 2>&1; echo "$?"; done
        kill $cutter; wait $cutter 2>/dev/null')
    diag "exit statuses of 30 compares while image A is cut and grown:" $(printf '%s\n' "$st" | sort | uniq -c)
    is "no compare died of a signal while image A was cut and grown" "$(printf '%s\n' "$st" | awk '$1 >= 128' | wc -l)" 0
fi

tap_done
