# pmem-setup.sh: turn an emulated NVDIMM region into raw pmem, fsdax or
# device-dax through sysfs alone (no ndctl). Sourced by the Linux test
# guest's init and the lab's init (both busybox sh).
#
#   pmem_setup N KIND MOUNTPOINT
#       region N (namespaceN.0) becomes KIND: raw (/dev/pmemN as the kernel
#       made it), fsdax (a pfn device, ext4 made on it unless PMEM_MKFS=0,
#       mounted dax=always at MOUNTPOINT) or devdax (/dev/daxN.0).
#       PMEM_ALIGN: alignment in bytes (2097152). On success PMEM_INFO holds
#       "mode=... dev=... align=..."; on failure PMEM_ERROR says why.

nd=/sys/bus/nd

_pmem_wait() { # PATH: up to ~5 s for a device to appear
    _w=0
    while [ ! -e "$1" ] && [ $_w -lt 50 ]; do sleep 0.1; _w=$((_w + 1)); done
    [ -e "$1" ]
}

_pmem_fail() { PMEM_ERROR=$*; return 1; }

# _pmem_claimed_by KIND NS: the device of that kind (pfn, dax) that owns NS;
# an info block written at an earlier boot is claimed by the kernel itself
_pmem_claimed_by() {
    for _d in $nd/devices/$1*; do
        [ "$(cat "$_d/namespace" 2>/dev/null)" = "$2" ] && [ -e "$_d/driver" ] && basename "$_d" && return 0
    done
    return 1
}

# _pmem_claim REGION KIND DRIVER: configure the region's KIND seed to own
# its namespace and bind it to DRIVER; prints the seed's name
_pmem_claim() {
    _r=region$1 _ns=namespace$1.0
    _seed=$(cat $nd/devices/$_r/${2}_seed 2>/dev/null)
    [ -n "$_seed" ] || _pmem_fail "$_r has no $2 seed" || return 1
    # a raw namespace is bound to nd_pmem at boot and must be released first
    if [ -e $nd/devices/$_ns/driver ]; then
        echo $_ns >$nd/devices/$_ns/driver/unbind || _pmem_fail "unbind of $_ns failed" || return 1
    fi
    echo $_ns >$nd/devices/$_seed/namespace &&
        cat /proc/sys/kernel/random/uuid >$nd/devices/$_seed/uuid &&
        echo "${PMEM_ALIGN:-2097152}" >$nd/devices/$_seed/align &&
        echo pmem >$nd/devices/$_seed/mode ||
        _pmem_fail "configuring $_seed for $_ns failed" || return 1
    echo "$_seed" >$nd/drivers/$3/bind || _pmem_fail "bind of $_seed to $3 failed" || return 1
    echo "$_seed"
}

# _pmem_blockdev DEV: the /dev/pmemX block device under an nd device
_pmem_blockdev() {
    _pmem_wait "$nd/devices/$1/block" || return 1
    _b=$(ls "$nd/devices/$1/block" | head -n1)
    [ -n "$_b" ] && _pmem_wait "/dev/$_b" && echo "/dev/$_b"
}

pmem_setup() {
    _n=$1 _kind=$2 _mnt=$3
    PMEM_INFO= PMEM_ERROR=
    _pmem_wait $nd/devices/namespace$_n.0 || _pmem_fail "no NVDIMM namespace$_n.0 (is the -device nvdimm given?)" || return 1
    case "$_kind" in
    raw)
        _b=$(_pmem_blockdev namespace$_n.0) || _pmem_fail "raw namespace$_n.0 gave no /dev/pmem" || return 1
        PMEM_INFO="mode=raw dev=$_b"
        ;;
    fsdax)
        _d=$(_pmem_claimed_by pfn namespace$_n.0) || _d=$(_pmem_claim "$_n" pfn nd_pmem) || return 1
        _b=$(_pmem_blockdev "$_d") || _pmem_fail "$_d gave no /dev/pmem" || return 1
        if [ "${PMEM_MKFS:-1}" = 1 ]; then
            # stride/stripe of 2M (512 blocks): ext4 aligns large extents to
            # 2M, which DAX needs to map a file with huge pages
            /sbin/mkfs.ext4 -q -F -b 4096 -E stride=512,stripe_width=512 "$_b" >/dev/null ||
                _pmem_fail "mkfs.ext4 on $_b failed" || return 1
        fi
        mkdir -p "$_mnt"
        mount -t ext4 -o dax=always "$_b" "$_mnt" || _pmem_fail "mount of $_b with dax=always failed" || return 1
        PMEM_INFO="mode=fsdax dev=$_b pfn=$_d mount=$_mnt dax=always align=$(cat $nd/devices/$_d/align)"
        ;;
    devdax)
        _d=$(_pmem_claimed_by dax namespace$_n.0) || _d=$(_pmem_claim "$_n" dax dax_pmem) || return 1
        _pmem_wait /dev/dax$_n.0 || _pmem_fail "$_d gave no /dev/dax$_n.0" || return 1
        PMEM_INFO="mode=devdax dev=/dev/dax$_n.0 nd=$_d align=$(cat /sys/bus/dax/devices/dax$_n.0/align 2>/dev/null)"
        ;;
    *)
        _pmem_fail "kind '$_kind' is unknown: use raw, fsdax or devdax"
        ;;
    esac
}
