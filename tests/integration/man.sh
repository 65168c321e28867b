#!/bin/sh
# man.sh: the manual pages against the programs. Every command `vmctl
# --help` lists, and every subcommand a command's help names, has its
# subsection in vmctl(1) (".Ss CMD" or ".Ss CMD SUB"), and every long option
# its --help prints is in it as "Fl -OPTION"; every long option of `vmctld
# --help` is in vmctld(8)'s OPTIONS. The same checker fails on copies of
# the page with one option or one command taken out. The pages lint clean
# (mandoc -T lint, groff -ww), render through man -l, and `make install`
# puts them in man1, man5 and man8.
. "$top_srcdir/tests/lib/tap.sh"

MANDIR=$top_srcdir/man

# long_opts: the long options of a GOption --help on stdin, one a line;
# --help itself is documented once, in DESCRIPTION
long_opts() { sed -n 's/^  *\(-[A-Za-z], \)\{0,1\}\(--[a-z0-9][a-z0-9-]*\).*/\2/p' | grep -vx -- --help; }

# subcommands CMD: the subcommands of CMD its help text (stdin) names, in a
# "subcommands:" list or as 'vmctl CMD SUB --help'
subcommands() {
    _h=$(cat)
    printf '%s\n' "$_h" | awk '/^subcommands:/ { f = 1; next } f && /^$/ { f = 0 } f && /^  [a-z]/ { print $1 }'
    printf '%s\n' "$_h" | grep -o "'vmctl $1 [a-z][a-z-]* --help'" | awk '{ print $3 }'
}

# section PAGE TITLE: the source lines of the .Sh/.Ss sections titled TITLE
# or "TITLE ..." (a command's subcommands), up to the next heading
section() {
    awk -v want="$2" '
        /^\.S[hs][ \t]/ {
            t = $0; sub(/^\.S[hs][ \t]+/, "", t); gsub(/"/, "", t)
            on = (t == want || index(t, want " ") == 1); found += on; next
        }
        on { print }
        END { if (!found) exit 1 }' "$1"
}

# check_page PAGE LIST: LIST has lines "TITLE<TAB>OPTION ...". Prints what
# the page lacks ("TITLE: no section", "TITLE: --OPTION") and fails if
# anything.
check_page() {
    _bad=0
    while IFS='	' read -r _title _opts; do
        if ! _text=$(section "$1" "$_title"); then
            echo "$_title: no section"
            _bad=1
            continue
        fi
        for _o in $_opts; do
            if ! printf '%s\n' "$_text" | grep -Eq -- "(^|[ .])Fl ${_o#-}([^A-Za-z0-9-]|$)"; then
                echo "$_title: $_o"
                _bad=1
            fi
        done
    done <"$2"
    return $_bad
}

# --- what the programs say ---------------------------------------------
cmds=$("$VMCTL" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { f = 0 } f && /^  [a-z]/ { print $1 }')
like "vmctl --help lists the commands" "$(echo $cmds)" "^backend .*xml$"
: >"$TEST_TMP/vmctl.list"
n=0
for c in $cmds; do
    h=$("$VMCTL" "$c" --help 2>&1) || { not_ok "vmctl $c --help exits 0"; diag "$h"; continue; }
    printf '%s\t%s\n' "$c" "$(printf '%s\n' "$h" | long_opts | tr '\n' ' ')" >>"$TEST_TMP/vmctl.list"
    n=$((n + 1))
    for s in $(printf '%s\n' "$h" | subcommands "$c" | sort -u); do
        sh=$("$VMCTL" "$c" "$s" --help 2>&1) || { not_ok "vmctl $c $s --help exits 0"; diag "$sh"; continue; }
        printf '%s\t%s\n' "$c $s" "$(printf '%s\n' "$sh" | long_opts | tr '\n' ' ')" >>"$TEST_TMP/vmctl.list"
        n=$((n + 1))
    done
done
nopts=$(cut -f2 "$TEST_TMP/vmctl.list" | wc -w)
like "the commands and subcommands ($n) and their long options ($nopts) are read from --help" \
    "$(cut -f1 "$TEST_TMP/vmctl.list" | tr '\n' ,)" "backend probe,.*lab run,.*pages check,pages diff,.*xml,$"
printf 'OPTIONS\t%s\n' "$("$VMCTLD" --help | long_opts | tr '\n' ' ')" >"$TEST_TMP/vmctld.list"
like "vmctld --help lists its options" "$(cut -f2 "$TEST_TMP/vmctld.list")" "--config .*--ready-fd"

# --- the pages hold them --------------------------------------------------
out=$(check_page "$MANDIR/vmctl.1" "$TEST_TMP/vmctl.list"); rc=$?
is "vmctl(1) has a section per command with every long option" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
out=$(check_page "$MANDIR/vmctld.8" "$TEST_TMP/vmctld.list"); rc=$?
is "vmctld(8) OPTIONS has every long option" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
check "vmctl(1) documents --help and the options before the command" \
    sh -c "grep -q '^\.It Fl h , Fl -help' '$MANDIR/vmctl.1' && grep -q '^\.It Fl -socket' '$MANDIR/vmctl.1' &&
           grep -q '^\.It Fl -version' '$MANDIR/vmctl.1'"

# --- and the checker fails on a page that lacks one ------------------------
grep -v 'Fl -scan' "$MANDIR/vmctl.1" >"$TEST_TMP/no-scan.1"
out=$(check_page "$TEST_TMP/no-scan.1" "$TEST_TMP/vmctl.list"); rc=$?
is "a copy of vmctl(1) without pages check --scan fails the check, naming it" "$rc:$out" "1:pages check: --scan"
sed 's/^\.Ss wss$/.Ss wss-old/' "$MANDIR/vmctl.1" >"$TEST_TMP/no-wss.1"
out=$(check_page "$TEST_TMP/no-wss.1" "$TEST_TMP/vmctl.list"); rc=$?
is "a copy without the wss section fails, naming it" "$rc:$out" "1:wss: no section"
grep -v 'Fl -ready-fd' "$MANDIR/vmctld.8" >"$TEST_TMP/no-ready.8"
out=$(check_page "$TEST_TMP/no-ready.8" "$TEST_TMP/vmctld.list"); rc=$?
is "a copy of vmctld(8) without --ready-fd fails, naming it" "$rc:$out" "1:OPTIONS: --ready-fd"
# an option a command gains without its page: the same check fails
printf 'launch\t--memory --no-such-option\n' >"$TEST_TMP/new.list"
out=$(check_page "$MANDIR/vmctl.1" "$TEST_TMP/new.list"); rc=$?
is "an option the page does not have fails" "$rc:$out" "1:launch: --no-such-option"

# --- the config file's page: only the keys vmctld reads ------------------
keys=$(sed -n 's/.*g_key_file_get_string(kf, "vmctld", "\([a-z-]*\)".*/\1/p' "$top_srcdir/src/daemon/vmctld.c" | sort | tr '\n' ' ')
like "vmctld reads a key file with --config" "$keys" "allowed-paths .*socket"
doc=$(section "$MANDIR/vmctld.conf.5" DESCRIPTION | sed -n 's/^\.It Cm \([a-z-]*\)$/\1/p' | sort | tr '\n' ' ')
is "vmctld.conf(5) documents exactly the keys vmctld reads" "$doc" "$keys"

# --- lint and render ---------------------------------------------------------
pages="$MANDIR/vmctl.1 $MANDIR/vmctld.8 $MANDIR/vmctld.conf.5"
if command -v mandoc >/dev/null 2>&1; then
    for p in $pages; do
        out=$(mandoc -T lint -W warning "$p" 2>&1); rc=$?
        is "mandoc -T lint: no warnings in $(basename "$p")" "$rc:$out" "0:"
    done
    # and the lint does catch a bad page
    sed 's/^\.Sh NAME$/.Sh/' "$MANDIR/vmctl.1" >"$TEST_TMP/bad.1"
    check "mandoc -T lint fails on a page with a broken heading" sh -c "! mandoc -T lint -W warning '$TEST_TMP/bad.1' >/dev/null 2>&1"
else
    skip "mandoc -T lint" "mandoc is not installed" mandoc
fi
if command -v groff >/dev/null 2>&1; then
    for p in $pages; do
        out=$(groff -ww -man -z "$p" 2>&1; groff -ww -mdoc -z "$p" 2>&1)
        is "groff -ww -man / -mdoc: no warnings in $(basename "$p")" "$out" ""
    done
else
    skip "groff -ww" "groff is not installed" groff
fi
if command -v man >/dev/null 2>&1; then
    for p in $pages; do
        name=$(basename "$p")
        MANWIDTH=80 man -l "$p" >"$TEST_TMP/$name.txt" 2>"$TEST_TMP/$name.err"
        like "man -l $name renders its NAME section" "$(sed -n '/^NAME/,/^$/p' "$TEST_TMP/$name.txt" | tr -s ' \n' ' ')" \
            "NAME ${name%.[0-9]} —"
        is "and says nothing on stderr" "$(cat "$TEST_TMP/$name.err")" ""
    done
    like "vmctl(1) rendered has the pages check section and its options" \
        "$(sed -n '/^   pages check$/,/^   pages diff$/p' "$TEST_TMP/vmctl.1.txt" | tr -s ' \n' ' ')" \
        "vmctl pages \[--json\] check .*--offset n .*--scan .*--threads n"
else
    skip "man -l" "man-db is not installed" man-db
fi

# --- installed by make install -------------------------------------------
if make -s -C "$top_builddir" install-man DESTDIR="$TEST_TMP/inst" prefix=/usr >"$TEST_TMP/install.out" 2>&1; then
    is "make install-man puts the pages in man1, man5, man8" \
        "$(cd "$TEST_TMP/inst/usr/share/man" && ls man1/vmctl.1 man5/vmctld.conf.5 man8/vmctld.8 2>&1 | tr '\n' ' ')" \
        "man1/vmctl.1 man5/vmctld.conf.5 man8/vmctld.8 "
else
    not_ok "make install-man"
    diag "$(tail -n 5 "$TEST_TMP/install.out")"
fi

tap_done
