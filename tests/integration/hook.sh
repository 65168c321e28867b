#!/bin/sh
# hook.sh: `vmctl hook qemu ...` as libvirt calls it: good domains pass,
# a missing, misaligned, wrongly sized or falsely-pmem backing is refused
# with one line, incoming virtio-pmem without its backing is refused, so is
# <hugepages> RAM the pool cannot hold, and lifecycle events are logged.
# (device-dax access and alignment refusals run on a real device-dax in
# lab.sh.)
. "$top_srcdir/tests/lib/tap.sh"

export VMCTL_HOOK_LOG="$TEST_TMP/hook.log"
nv="$TEST_TMP/nv0"
truncate -s 64M "$nv"

# dom NAME NV_PATH NV_SIZE_MIB [EXTRA_SOURCE_XML] [MODEL]
dom() {
    cat <<EOX
<domain type='qemu'><name>$1</name><memory unit='MiB'>192</memory>
<devices><memory model='${5:-nvdimm}' access='shared'><source><path>$2</path>
<alignsize unit='KiB'>2048</alignsize>$4</source><target><size unit='MiB'>$3</size></target></memory></devices></domain>
EOX
}

# hook OP SUBOP: run the hook with the XML in $TEST_TMP/x.xml on stdin;
# sets rc and err
hook() {
    err=$("$VMCTL" hook qemu g "$1" "$2" - <"$TEST_TMP/x.xml" 2>&1 >/dev/null)
    rc=$?
}

dom g "$nv" 64 >"$TEST_TMP/x.xml"; hook prepare begin
is "a good nvdimm domain is allowed" "$rc:$err" "0:"

dom g "$TEST_TMP/missing/nv" 64 >"$TEST_TMP/x.xml"; hook prepare begin
is "a backing in a missing directory is refused" "$rc" 1
is "with one line naming it" "$err" "vmctl: domain 'g' refused: nvdimm backing: directory '$TEST_TMP/missing' of '$TEST_TMP/missing/nv' does not exist"

dom g "$TEST_TMP/nv-lost" 64 >"$TEST_TMP/x.xml"; hook prepare begin
is "an NVDIMM backing that does not exist is refused (a lost disk)" "$rc:$err" \
    "1:vmctl: domain 'g' refused: nvdimm backing '$TEST_TMP/nv-lost' does not exist: a persistent-memory backing that is missing is a lost disk (make a new one first, e.g. fallocate -l SIZE '$TEST_TMP/nv-lost')"
check "and not made" test ! -e "$TEST_TMP/nv-lost"
hook migrate begin
is "while an incoming migration may bring it into a new file" "$rc:$err" "0:"

dom g "$nv" 63 >"$TEST_TMP/x.xml"; hook prepare begin
is "a size that breaks alignsize is refused" "$err" "vmctl: domain 'g' refused: nvdimm size '63M' of '$nv' is not a multiple of its alignsize '2M'"

dom g "$nv" 128 >"$TEST_TMP/x.xml"; hook prepare begin
is "an existing backing of another size is refused" "$err" "vmctl: domain 'g' refused: nvdimm backing: existing file '$nv' has size '64M', not the size '128M'"

dom g "$nv" 64 "<pmem/>" >"$TEST_TMP/x.xml"; hook prepare begin
is "<pmem/> on a backing that is not DAX is refused" "$rc" 1
like "and says why" "$err" "asks for <pmem/> but the backing is not DAX"

printf '<domain><name>g' >"$TEST_TMP/x.xml"; hook prepare begin
is "malformed XML on prepare is refused" "$rc" 1
like "as one line" "$err" "^vmctl: domain 'g': domain XML is malformed"
is "that line is the only one" "$(printf '%s\n' "$err" | wc -l)" 1

printf 'garbage' >"$TEST_TMP/x.xml"; hook reconnect begin
is "operations without checks never block" "$rc:$err" "0:"

dom g "$TEST_TMP/elsewhere/vp" 64 "" virtio-pmem >"$TEST_TMP/x.xml"; hook migrate begin
is "incoming virtio-pmem without its backing is refused" "$rc" 1
like "saying the content is not migrated" "$err" "QEMU does not migrate virtio-pmem content"
truncate -s 64M "$TEST_TMP/vp"
dom g "$TEST_TMP/vp" 64 "" virtio-pmem >"$TEST_TMP/x.xml"; hook migrate begin
is "incoming virtio-pmem with its shared backing is allowed" "$rc" 0
like "with a warning" "$err" "^vmctl: warning: domain 'g': virtio-pmem content is not migrated"

# <hugepages> guest RAM the huge-page pool cannot hold (64G) is refused
echo "<domain type='qemu'><name>g</name><memory unit='GiB'>64</memory><memoryBacking><hugepages/></memoryBacking><devices/></domain>" \
    >"$TEST_TMP/x.xml"
hook prepare begin
like "hugepages the pool cannot hold are refused in one line" "$rc:$err" \
    "^1:vmctl: domain 'g' refused: <hugepages> guest memory: size '64G' is larger than the [0-9]+ bytes available in free 2M huge pages"

dom g "$nv" 64 | "$VMCTL" hook qemu g started begin - >/dev/null 2>&1
dom g "$nv" 64 | "$VMCTL" hook qemu g stopped end - >/dev/null 2>&1
is "started and stopped are logged" "$(jq -r '.op + "/" + .subop' "$VMCTL_HOOK_LOG" | grep -E '^(started|stopped)' | tr '\n' ,)" "started/begin,stopped/end,"

out=$(dom g "$nv" 64 | "$VMCTL" hook qemu g prepare begin - --json)
is "--json gives the verdict" "$(printf '%s' "$out" | jq -r .verdict)" allow
is "and what was checked" "$(printf '%s' "$out" | jq -r '.checked[0].path')" "$nv"
like "with the backing's kind" "$(printf '%s' "$out" | jq -r '.checked[0].kind')" '^(file|tmpfs)$'

tap_done
