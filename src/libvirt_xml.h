/* libvirt_xml.h: the libvirt domain XML of a vmctl guest, a pure function of
 * its spec (guest_spec.h) and a few paths, the libvirt counterpart of
 * qemu_cmdline.h. Golden files in tests/data/xml check it; the templates in
 * libvirt-xml/ are its output for placeholder values.
 *
 * Mapping of the spec:
 *   backend    "anonymous"            <memoryBacking><source type='anonymous'/>
 *              "memfd"                source type='memfd', access shared
 *              "memfd:hugetlb[=SIZE]" the same plus <hugepages> (page SIZE)
 *              a path                 source type='file', access shared: libvirt
 *                                     makes the file in its memory_backing_dir
 *                                     (qemu.conf), not at the path
 *              a path with a component named hugepages* or hugetlbfs*
 *                                     <hugepages/> plus source file, shared
 *              /dev/daxX.Y, /dev/pmemX refused: libvirt cannot put main RAM
 *                                     on a device (give it as an NVDIMM)
 *   nvdimm     <memory model='nvdimm' access='shared'>, alignsize 2 MiB,
 *              <pmem/> only for /dev/dax paths (the one backing known to be
 *              DAX without probing the host; the vmctl hook judges files)
 *   virtio-pmem <memory model='virtio-pmem' access='shared'>
 *              any device adds <maxMemory> (one slot per device) and NUMA
 *              cell 0 holding the guest RAM, as libvirt requires
 *   kind       tiny: <loader type='rom'> + fw_cfg opt/vmctl/tiny;
 *              linux: <kernel>/<initrd>/<cmdline> (LINUX_BASE_CMDLINE of qemu_cmdline.h)
 *   mem-merge  off: <nosharepages/>
 *   dirty-ring <features><kvm><dirty-ring> (domain type kvm only) */
#pragma once

#include <glib.h>

#include "guest_spec.h"
#include "util.h"

typedef struct {
    const char *emulator;    /* QEMU binary path (vmctl_qemu_binary()) */
    const char *image_dir;   /* directory with tiny.bin, vmlinuz, initramfs.cpio.zst */
    const char *serial_path; /* file that receives the guest console (<serial type='file'>), NULL: none */
    const char *domain_type; /* "kvm" or "qemu"; NULL: from spec->accel (auto: tiny -> kvm, linux -> qemu) */
    const char *serial_socket; /* a Unix socket QEMU listens on for the console (input too: the guests
                                  take VERIFY, STAT ...), logged to serial_path when given; NULL: none */
} VmctlLibvirtXmlOpts;

/* The libvirt domain XML for SPEC (a pure function: no host access), or NULL
 * with a one-line error naming the spec member and the rule. */
char *vmctl_libvirt_xml(const VmctlGuestSpec *spec, const VmctlLibvirtXmlOpts *opts, GError **error);
