#!/bin/sh
# pages-check.sh: `vmctl pages check` on stamped images written by
# pages-check-mkimage: clean images pass, and each kind of damage (flipped
# byte, zeroed page, lost write, missing control page) is named at exactly
# the damaged page, in offset and in scan mode; exit codes 0/1/2.
. "$top_srcdir/tests/lib/tap.sh"

MK="$top_builddir/tests/integration/pages-check-mkimage"
img=$TEST_TMP/img
BASE=2097152 # the control page at 2 MiB, as in the tiny guest

# flip BYTE_OFFSET FILE: xor one byte with 0x01
flip() {
    b=$(od -An -tu1 -j "$1" -N1 "$2" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$2" bs=1 seek="$1" conv=notrunc status=none
}

"$MK" "$img" $BASE 200 10 50 123 >"$TEST_TMP/map" || exit 1
off150=$(sed -n 151p "$TEST_TMP/map")

out=$("$VMCTL" pages check --offset 2M "$img"); rc=$?
is "clean image exits 0" "$rc" 0
like "summary line says clean" "$out" "^$img: clean: 0 of 200 pages break the rule, 0 in flight skipped \\(region 0xabcdef, control page at offset 0x200000, 123 writes\\)$"

j=$("$VMCTL" pages check --offset 0x200000 --json "$img")
is "JSON: clean, all pages checked, writes" "$(echo "$j" | jq -c '[.clean, .checked, .bad, .writes, .verdicts.ok, .ws_pages, .same_pages]')" '[true,200,0,123,200,50,10]'

cp "$img" "$img.1"
flip $((off150 + 1000)) "$img.1"
out=$("$VMCTL" pages check --offset 2M "$img.1"); rc=$?
is "flipped byte exits 1" "$rc" 1
like "human output names page 150 as bad_csum" "$out" "page 150 at offset 0x$(printf %x "$off150"): bad_csum \\(generation 0, expected 0\\)"
j=$("$VMCTL" --json pages check --offset 2M "$img.1")
is "JSON names exactly page 150 at its offset" "$(echo "$j" | jq -c '[.bad, .first_bad[0].index, .first_bad[0].offset, .first_bad[0].verdict]')" "[1,150,$off150,\"bad_csum\"]"
is "--threads 1 and --threads 3 report the same" "$("$VMCTL" --json pages check --threads 3 --offset 2M "$img.1")" \
    "$("$VMCTL" --json pages check --threads 1 --offset 2M "$img.1")"
out=$("$VMCTL" pages check --threads -1 --offset 2M "$img" 2>&1); rc=$?
is "bad --threads exits 2" "$rc:$out" "2:vmctl: --threads '-1' is not an integer between 0 and 64"

# a lost write: ctl.writes counts one more rewrite than reached the page
cp "$img" "$img.2"
printf '\174' | dd of="$img.2" bs=1 seek=$((BASE + 64)) conv=notrunc status=none # writes = 124
j=$("$VMCTL" pages check --offset 2M --json "$img.2"); rc=$?
is "lost write exits 1" "$rc" 1
is "lost write: page 33 is stale, generation 2 of 3" "$(echo "$j" | jq -c '[.bad, .first_bad[0].index, .first_bad[0].verdict, .first_bad[0].actual_generation, .first_bad[0].expected_generation]')" '[1,33,"stale",2,3]'

# a zeroed page
cp "$img" "$img.3"
dd if=/dev/zero of="$img.3" bs=4096 seek=$(( $(sed -n 6p "$TEST_TMP/map") / 4096 )) count=1 conv=notrunc status=none
j=$("$VMCTL" pages check --offset 2M --json "$img.3")
is "zeroed same page 5 is bad_magic" "$(echo "$j" | jq -c '[.bad, .first_bad[0].index, .first_bad[0].verdict]')" '[1,5,"bad_magic"]'

# no control page where it is said to be
out=$("$VMCTL" pages check "$img" 2>&1); rc=$?
is "no control page exits 2" "$rc" 2
is "no control page is one line" "$out" "vmctl: '$img': no control page at offset '0': its magic is not VMTCTL1"
out=$("$VMCTL" pages check "$TEST_TMP/nonexistent" 2>&1); rc=$?
is "missing file exits 2" "$rc" 2
is "missing file is one line" "$out" "vmctl: cannot open '$TEST_TMP/nonexistent': No such file or directory"
: >"$TEST_TMP/empty"
out=$("$VMCTL" pages check "$TEST_TMP/empty" 2>&1); rc=$?
is "empty file exits 2 with one line" "$rc:$(printf '%s\n' "$out" | wc -l)" "2:1"
out=$("$VMCTL" pages check --offset 0x2g "$img" 2>&1); rc=$?
is "bad hex offset exits 2 with one line" "$rc:$out" "2:vmctl: offset '0x2g' is not a hexadecimal number"
out=$("$VMCTL" pages check --offset 2Q "$img" 2>&1); rc=$?
is "bad size offset exits 2" "$rc" 2
out=$("$VMCTL" pages check --scan --offset 0 "$img" 2>&1); rc=$?
is "--scan with --offset exits 2" "$rc:$out" "2:vmctl: --offset '0' and --scan exclude each other"

# scan mode: pages shuffled over a larger image
"$MK" "$img.s" 0 300 20 100 1000 scatter >"$TEST_TMP/smap" || exit 1
j=$("$VMCTL" pages check --scan --json "$img.s"); rc=$?
is "scan: shuffled clean image exits 0" "$rc" 0
is "scan: every page found and ok" "$(echo "$j" | jq -c '[.mode, .clean, .checked, .same_found, .duplicates, .writes]')" '["scan",true,300,20,0,1000]'
offs=$(sed -n 201p "$TEST_TMP/smap")
flip $((offs + 4000)) "$img.s"
j=$("$VMCTL" pages check --scan --json "$img.s"); rc=$?
is "scan: flipped byte exits 1" "$rc" 1
is "scan: names exactly page 200 at its offset" "$(echo "$j" | jq -c '[.bad, .first_bad[0].index, .first_bad[0].offset, .first_bad[0].verdict]')" "[1,200,$offs,\"bad_csum\"]"
out=$("$VMCTL" pages check --scan "$TEST_TMP/empty" 2>&1); rc=$?
is "scan: no control page exits 2" "$rc" 2
dd if=/dev/zero of="$img.z" bs=1M count=1 status=none
out=$("$VMCTL" pages check --scan "$img.z" 2>&1); rc=$?
is "scan: zero image has no control page" "$rc:$out" "2:vmctl: '$img.z': no control page anywhere in the image: no 4 KiB block carries the VMTCTL1 magic"

# the dispatcher
out=$("$VMCTL" pages 2>&1); rc=$?
is "pages without a subcommand exits 2" "$rc" 2
out=$("$VMCTL" pages frob 2>&1); rc=$?
is "unknown subcommand is one line, exit 2" "$rc:$out" "2:vmctl: subcommand 'frob' of 'pages' is unknown: 'vmctl pages --help' lists them"
out=$("$VMCTL" help pages)
like "vmctl help pages lists check" "$out" "check .*page-stamp rule"
like "vmctl help pages lists diff" "$out" "diff .*compare two memory images"
is "'vmctl help pages' equals 'vmctl pages --help'" "$out" "$("$VMCTL" pages --help)"
like "pages check --help shows its options" "$("$VMCTL" pages check --help)" "--scan"

# --json before the subcommand, after it, and before `pages`: the same output
a=$("$VMCTL" pages --json check --offset 2M "$img.1"); rca=$?
b=$("$VMCTL" pages check --json --offset 2M "$img.1"); rcb=$?
c=$("$VMCTL" --json pages check --offset 2M "$img.1"); rcc=$?
is "pages --json check and pages check --json exit alike (1: a bad page)" "$rca:$rcb:$rcc" "1:1:1"
is "pages --json check prints the JSON of pages check --json" "$a" "$b"
is "and of vmctl --json pages check" "$a" "$c"
is "it is the report" "$(echo "$a" | jq -c '[.bad, .first_bad[0].index]')" '[1,150]'
cp "$img" "$img.d"
flip $((off150 + 8)) "$img.d"
a=$("$VMCTL" pages --json diff "$img" "$img.d"); rca=$?
b=$("$VMCTL" pages diff --json "$img" "$img.d"); rcb=$?
is "pages --json diff and pages diff --json exit alike (1: pages differ)" "$rca:$rcb" "1:1"
is "and print the same counts" "$(echo "$a" | jq -c "[.total.pages_differ, .total.pages, .identical]")" "$(echo "$b" | jq -c "[.total.pages_differ, .total.pages, .identical]")"
is "one page differs" "$(echo "$a" | jq -c .total.pages_differ)" 1
out=$("$VMCTL" pages --frob check "$img" 2>&1); rc=$?
is "an unknown option before the subcommand is one line, exit 2" "$rc:$out" \
    "2:vmctl: option '--frob' of 'pages' is unknown before the subcommand: 'vmctl pages --help' lists them"
out=$("$VMCTL" pages --json 2>&1); rc=$?
is "pages --json without a subcommand exits 2" "$rc" 2
is "pages --json --help is the help" "$("$VMCTL" pages --json --help)" "$("$VMCTL" pages --help)"

# a FIFO is refused at once, one line, instead of waiting for a writer
mkfifo "$TEST_TMP/fifo"
out=$(timeout 10 "$VMCTL" pages check "$TEST_TMP/fifo" 2>&1)
is "a FIFO: exit 2 within 10 s, one line" "$?:$(printf '%s\n' "$out" | wc -l)" "2:1"
like "naming it and the rule" "$out" "'$TEST_TMP/fifo' is not a regular file, a block device or a device-dax"

# An image in 2 MiB pages is mapped, not read: cut short while it is
# checked, it must end as an error, never as a crash (SIGBUS). A private
# mount namespace holds a tmpfs with huge pages.
if ! is_root; then
    skip "an image that shrinks while it is checked" "a private tmpfs mount needs root" root
else
    H="$TEST_TMP/huge"
    mkdir -p "$H"
    export H VMCTL img
    st=$(unshare -m sh -c 'mount -t tmpfs -o huge=always,size=160M none "$H" || exit 99
        cp "$img" "$H/img"; truncate -s 64M "$H/img"; stat -c %o "$H/img" >"$H/../blksize"
        ( while :; do truncate -s 1M "$H/img"; truncate -s 64M "$H/img"; done ) & cutter=$!
        for i in $(seq 1 30); do "$VMCTL" pages check --scan --json "$H/img" >/dev/null 2>&1; echo "$?"; done
        kill $cutter; wait $cutter 2>/dev/null')
    is "the huge tmpfs gives 2 MiB blocks (the image is mapped)" "$(cat "$TEST_TMP/blksize")" 2097152
    diag "exit statuses of 30 checks while the image is cut and grown:" $(printf '%s\n' "$st" | sort | uniq -c)
    is "no check died of a signal while the image was cut and grown" "$(printf '%s\n' "$st" | awk '$1 >= 128' | wc -l)" 0
    out=$(unshare -m sh -c 'mount -t tmpfs -o huge=always,size=160M none "$H" || exit 99
        cp "$img" "$H/img"; truncate -s 64M "$H/img"
        VMCTL_PAGES_FAULT=shrink-a:1M "$VMCTL" pages check --scan "$H/img" 2>&1; echo "rc=$?"')
    like "an image cut short after it was sized is an error (exit 2)" "$out" "rc=2$"
    like "it names the image, the offset and its size now" "$out" \
        "^vmctl: '$H/img': the image shrank while it was checked: no data at offset 0x100000 \(it is now 1M\)"
fi
tap_done
