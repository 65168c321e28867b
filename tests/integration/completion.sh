#!/bin/sh
# completion.sh: completion/vmctl.bash driven in bash as readline drives it
# (COMP_WORDS, COMP_CWORD, then the function; COMPREPLY checked): the
# commands, one command's options, a subcommand after an option, backing
# kinds and paths after --backend (whole words and words readline split at
# ':' and '='), option values, and guest names from a stand-in `vmctl` on
# PATH whose `list --json` prints a fixed list (no daemon). An option that
# does not exist completes to nothing; without vmctld's socket no guest list
# is asked for. `make install` puts the file in the bash-completion dir.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/tap.sh"

# the stand-in: `list --json` answers from a fixed list, the rest is the
# real vmctl; every call is logged
mkdir -p "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/vmctl" <<EOF
#!/bin/sh
echo "\$*" >>"$TEST_TMP/calls"
case " \$* " in
*" list --json "*) printf '[{"name":"t1","state":"running","pid":1,"kind":"tiny","accel":"kvm","backend":"memfd"},{"name":"web-2","state":"dead","error":"x"}]\n' ;;
*) exec "$VMCTL" "\$@" ;;
esac
EOF
chmod +x "$TEST_TMP/bin/vmctl"
PATH=$TEST_TMP/bin:$PATH
# a socket file, so that the completion asks for guests
python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$TEST_TMP/vmctld.sock"
export VMCTL_SOCKET=$TEST_TMP/vmctld.sock

# file names are completed in an empty directory
mkdir -p "$TEST_TMP/cwd"
cd "$TEST_TMP/cwd" || exit 1

# shellcheck source=../../completion/vmctl.bash
. "$top_srcdir/completion/vmctl.bash"
is "sourcing it registers _vmctl for vmctl" "$(complete -p vmctl)" "complete -F _vmctl vmctl"

# comp WORD...: the replies for the last word, sorted, space-separated
comp() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _vmctl
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

# --- commands and options --------------------------------------------------
want=$("$VMCTL" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { f = 0 } f && /^  [a-z]/ { print $1 }' | sort | tr '\n' ' ' | sed 's/ $//')
is "an empty word after vmctl: every command of vmctl --help" "$(comp vmctl '')" "$want"
is "'vmctl mi': migrate" "$(comp vmctl mi)" "migrate"
is "after --json and --socket PATH: still the commands" "$(comp vmctl --json --socket "$VMCTL_SOCKET" v)" "validate version"
is "options before the command" "$(comp vmctl --)" "--help --json --socket --version"
is "the options of migrate" "$(comp vmctl migrate t1 --d)" "--dest-backend --dest-nvdimm --dest-virtio-pmem --downtime"
is "the long options of pages check, every one its --help prints" "$(comp vmctl pages check --)" \
    "--help --json --offset --scan --threads"
is "short and long options of probe" "$(comp vmctl probe -)" \
    "--backend --bare --help --json --mode --ring-entries --rounds --seed --size -b -h -m -r -s"
is "the subcommands of pages" "$(comp vmctl pages '')" "check diff"
is "a subcommand after pages --json" "$(comp vmctl pages --json d)" "diff"
is "and its options after it" "$(comp vmctl pages --json check --sc)" "--scan"
is "subcommands named only in the help text (backend)" "$(comp vmctl backend '')" "list probe"

# --- what does not exist completes to nothing -----------------------------
is "an option pages check does not have: nothing" "$(comp vmctl pages check --nosuch)" ""
is "a command that does not exist: no options" "$(comp vmctl nosuch --)" ""
is "a command prefix that matches none: nothing" "$(comp vmctl zz)" ""
# the check itself fails when the replies differ: a reply that is not there
check "and a comparison with an invented option fails" \
    sh -c "[ '$(comp vmctl pages check --)' != '--help --json --offset --scan --threads --nosuch' ]"

# --- backings ----------------------------------------------------------------
is "probe -b: the backing kinds of src/probe_backing.c" "$(comp vmctl probe -b '')" \
    "anonymous devdax: file file: fsdax: hugetlbfs hugetlbfs: memfd shm thp"
is "probe --backend d: devdax:" "$(comp vmctl probe --backend d)" "devdax:"
mkdir -p "$TEST_TMP/dax/m1" "$TEST_TMP/dax/m2"
is "fsdax: then a directory" "$(comp vmctl probe -b "fsdax:$TEST_TMP/dax/m")" "fsdax:$TEST_TMP/dax/m1/ fsdax:$TEST_TMP/dax/m2/"
is "the same split by readline at ':': replies for the piece after it" \
    "$(comp vmctl probe -b fsdax : "$TEST_TMP/dax/m")" "$TEST_TMP/dax/m1/ $TEST_TMP/dax/m2/"
is "the cursor right after the colon: the pieces after it" "$(comp vmctl launch g --backend = memfd :)" "hugetlb"
is "launch --backend: memfd, memfd:hugetlb, anonymous (src/pmem_backend.c)" "$(comp vmctl launch g --backend m)" \
    "memfd memfd:hugetlb"
is "--backend=VALUE in one word" "$(comp vmctl launch g --backend=an)" "--backend=anonymous"
is "and split by readline at '='" "$(comp vmctl launch g --backend = an)" "anonymous"
: >"$TEST_TMP/dax/g.ram"
is "a file path as backing" "$(comp vmctl xml g --memory 64M --backend "$TEST_TMP/dax/g.")" "$TEST_TMP/dax/g.ram"
is "backend probe's argument" "$(comp vmctl backend probe memfd:)" "memfd:hugetlb"
is "validate --backend also takes devdax: and fsdax:" "$(comp vmctl validate --backend f)" "fsdax:"

# --- option values -------------------------------------------------------
is "--accel" "$(comp vmctl launch g --accel '')" "auto kvm tcg"
is "dirty-rate --mode" "$(comp vmctl dirty-rate t1 --mode dirty)" "dirty-bitmap dirty-ring"
is "probe -m (short for --mode)" "$(comp vmctl probe -m '')" "bitmap clear ring"
is "lab -m is --memory there: no words" "$(comp vmctl lab run -m '')" ""
is "validate --only, the last of a list" "$(comp vmctl validate --only kvm-device,dirty)" \
    "kvm-device,dirty-log kvm-device,dirty-rate"
is "a value is not taken for an option" "$(comp vmctl migrate t1 --to '')" "local"

# --- guest names -------------------------------------------------------------
: >"$TEST_TMP/calls"
is "info: the guests of vmctl list --json" "$(comp vmctl info '')" "t1 web-2"
is "stop w: web-2" "$(comp vmctl stop w)" "web-2"
is "migrate's NAME after an option and its value" "$(comp vmctl migrate --to local '')" "t1 web-2"
is "asked through vmctl list --json, once per completion" "$(grep -c '^list --json$' "$TEST_TMP/calls")" 3
is "no guest names for the second argument of qmp" "$(comp vmctl qmp t1 '')" ""
is "nor for launch (a new name)" "$(comp vmctl launch '')" ""
: >"$TEST_TMP/calls"
comp vmctl --socket "$TEST_TMP/vmctld.sock" kill '' >/dev/null
like "--socket before the command goes to vmctl list" "$(cat "$TEST_TMP/calls")" "--socket $TEST_TMP/vmctld.sock list --json"
: >"$TEST_TMP/calls"
out=$(VMCTL_SOCKET=$TEST_TMP/none.sock comp vmctl info '')
is "without vmctld's socket: no names" "$out" ""
is "and vmctl list is not run (a completion never starts vmctld)" "$(grep -c 'list' "$TEST_TMP/calls")" 0

# --- installed ---------------------------------------------------------------
# with prefix /usr, where bash-completion's own pkg-config file points
if make -s -C "$top_builddir" install-bashcompletionDATA DESTDIR="$TEST_TMP/inst" prefix=/usr >"$TEST_TMP/install.out" 2>&1; then
    dir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null || echo /usr/share/bash-completion/completions)
    check "make install puts it in bash-completion's completionsdir as vmctl ($dir)" \
        cmp -s "$top_srcdir/completion/vmctl.bash" "$TEST_TMP/inst$dir/vmctl"
else
    not_ok "make install-bashcompletionDATA"
    diag "$(tail -n 5 "$TEST_TMP/install.out")"
fi

tap_done
