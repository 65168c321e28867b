#!/bin/sh
# cli.sh: the command table, help, exit codes and one-line errors.
. "$top_srcdir/tests/lib/tap.sh"

out=$("$VMCTL" help 2>&1); rc=$?
is "vmctl help exits 0" "$rc" 0
like "vmctl help lists validate" "$out" "validate"

out=$("$VMCTL" nosuchcmd 2>&1); rc=$?
is "unknown command exits 2" "$rc" 2
is "unknown command is one line naming it" "$out" "vmctl: command 'nosuchcmd' is unknown: 'vmctl help' lists the commands"

a=$("$VMCTL" help version 2>&1)
b=$("$VMCTL" version --help 2>&1)
is "'vmctl help CMD' equals 'vmctl CMD --help'" "$a" "$b"

v=$("$VMCTL" version --json | jq -r .version)
like "version --json gives the version" "$v" '^[0-9]+\.[0-9]+\.[0-9]+$'

out=$("$VMCTL" version --bogus 2>&1); rc=$?
is "unknown option exits 2" "$rc" 2
is "unknown option error is one line" "$(printf '%s\n' "$out" | wc -l)" 1

# vmctl loads libvirt only when a command needs it: linked, libvirt's forty
# libraries were loaded at every start (17 of the 22 ms of `vmctl version`)
is "vmctl does not link libvirt" "$(ldd "$VMCTL" | grep -c 'libvirt')" 0
like "yet the host facts still name libvirt's version (loaded on use)" \
    "$("$VMCTL" validate --only kvm-device --json 2>/dev/null | jq -r .host.libvirt.library_version)" '^[0-9]+\.[0-9]+\.[0-9]+$'

# and where libvirt cannot be loaded (its library hidden in a private mount
# namespace) vmctl still runs and the host facts say why, in one line
lib=$(readlink -f "$(ldconfig -p | awk '/libvirt\.so\.0 /{print $NF; exit}')" 2>/dev/null)
if ! is_root || [ ! -f "$lib" ]; then
    skip "vmctl without a loadable libvirt" "hiding libvirt's library needs root and the library (got '$lib')" root
else
    out=$(unshare -m sh -c 'mount --bind /dev/null "$1" && "$2" version >/dev/null && "$2" validate --only kvm-device --json 2>/dev/null' \
        sh "$lib" "$VMCTL" | jq -r '.host.libvirt | [.library_version // "none", .library_error] | @tsv')
    like "without a loadable libvirt: vmctl runs, the facts give the reason on one line" "$out" \
        "^none	libvirt cannot be loaded \\(libvirt\\.so\\.0\\): [^	]+\$"
fi

tap_done
