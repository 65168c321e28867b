#!/bin/sh
# daemon-protocol.sh: vmctld's protocol and names, as a hostile or careless
# client would use them: trailing bytes after a request and a second object
# on one line are refused, not ignored; bytes that are not UTF-8 are refused
# and every reply is JSON; migrate's arguments are typed (no coercion of
# -1 or "false"); guest names that the CLI cannot manage (a leading '-') or
# that collide with vmctld's own files ('.tmp.', '.dst-N') are refused; a
# backing path with a control character (a newline would break `vmctl list`)
# is refused. Requests sent together in one write, the first a call that
# vmctld answers at once, are each answered in order by a daemon that
# lives on. No QEMU is needed: every refusal comes before a guest starts.
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/vmctld.sh"
private_vmctld
"$VMCTL" list >/dev/null # starts vmctld
vmctld_pid=$(daemon_pid)

# desc REPLY: the error's desc, or "no error"
desc() { printf '%s' "$1" | jq -r '.error.desc // "no error"' 2>/dev/null || echo "not JSON: $1"; }

r=$(req '{"execute":"ping"} trailing')
is "trailing bytes after a request are refused" "$(desc "$r")" "request has bytes after its JSON object"
r=$(req '{"execute":"ping"}{"execute":"list"}')
is "a second object on the line is refused, not dropped" "$(desc "$r")" "request has bytes after its JSON object"
r=$(req '{"execute":"ping"}   ')
is "trailing spaces are fine" "$(desc "$r")" "no error"
r=$(printf '{"execute":"p\377ng"}\n' | nc -U -N "$VMCTL_SOCKET" 2>/dev/null)
check "a request that is not UTF-8: the reply is still JSON" sh -c "printf '%s' '$r' | jq -e . >/dev/null"
is "and it is refused as such" "$(desc "$r")" "request is not valid UTF-8"

# migrate: arguments are typed; each refusal names the argument and the rule
for a in '"bandwidth":-1' '"bandwidth":"8G"' '"downtime":1.5' '"timeout":-3' '"verify":"false"' '"shared":1' \
    '"strategy":7' '"keep-source":"yes"'; do
    k=$(printf '%s' "$a" | sed 's/^"\([a-z-]*\)".*/\1/')
    r=$(req "{\"execute\":\"migrate\",\"arguments\":{\"name\":\"nobody\",$a}}")
    like "migrate $a is refused, naming '$k'" "$(desc "$r")" "^argument '$k' must be (a non-negative integer|true or false|a string)"
done

# names: what the CLI can manage, and never one of vmctld's own files
for n in -rf --help x.tmp.1 a.json.tmp.3 web.dst-1; do
    r=$(req "{\"execute\":\"launch\",\"arguments\":{\"spec\":{\"name\":\"$n\",\"memory\":\"64M\",\"backend\":\"anonymous\"}}}")
    like "guest name '$n' is refused" "$(desc "$r")" "^guest name '$n' must"
done
out=$("$VMCTL" launch -- -x --memory 64M 2>&1)
is "from the CLI too, one line, exit 2" "$?:$(printf '%s\n' "$out" | wc -l)" "2:1"

# a backing path with a newline or another control character
r=$(req "{\"execute\":\"launch\",\"arguments\":{\"spec\":{\"name\":\"nl\",\"memory\":\"64M\",\"backend\":\"$TEST_TMP/a\\nb\"}}}")
like "a backing path with a newline is refused, shown escaped on one line" "$(desc "$r")" \
    "^backend '$TEST_TMP/a\\\\nb' must not contain control characters$"
is "nothing was launched" "$("$VMCTL" list --json | jq length)" 0
# several requests in one write, the first a call answered at once (a
# migrate refused before it starts): every one answered, in order
r=$(printf '%s\n' '{"execute":"migrate","arguments":{"name":"nobody"},"id":1}' '{"execute":"ping","id":2}' \
    '{"execute":"migrate","arguments":{"name":"nobody"},"id":3}' '{"execute":"list","id":4}' '{"execute":"ping","id":5}' |
    nc -U -N "$VMCTL_SOCKET" 2>/dev/null)
is "five requests in one write: five replies, in order" "$(printf '%s\n' "$r" | jq -r .id 2>/dev/null | tr '\n' ,)" "1,2,3,4,5,"
is "the same vmctld answers after them" "$(daemon_pid)" "$vmctld_pid"
tap_done
