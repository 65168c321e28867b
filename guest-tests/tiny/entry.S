/* entry.S: the tiny guest from the reset vector to ring 3.
 *
 * Real mode -> 32-bit protected mode -> 64-bit long mode (identity map of
 * the low 4 GiB with 2 MiB pages) -> iretq to ring 3, where tiny.c runs the
 * whole workload. On a paravirtual (PVM) KVM host only 64-bit ring-3 code
 * runs natively and everything before it is emulated one instruction at a
 * time, so this file does the least it can: no loop over guest memory other
 * than the 6 pages of page tables.
 *
 * Invariants kept here:
 * - the image is linked at 0xF0000, the ISA alias of the last 64 KiB of the
 *   -bios ROM, so 32/64-bit code and constants are addressed below 1 MiB
 *   (mcmodel=small works) and real mode sees the same bytes through
 *   CS base 0xFFFF0000;
 * - the GDT the CPU uses is in RAM (GDT_RAM), never in the ROM;
 * - every paging level has U/S set, so ring 3 can reach all of the low 4 GiB;
 * - ring 3 runs with the host's user selectors (CS 0x33, SS/DS 0x2b, DPL 3)
 *   and RFLAGS 0x3002: IOPL 3 keeps in/out legal, IF=0 means no interrupt
 *   is ever delivered (there is no IDT: any event would end the guest).
 */

#define PT_BASE 0x1000          /* bytes: PML4, then PDPT, then 4 PDs */
#define PML4 (PT_BASE)
#define PDPT (PT_BASE + 0x1000)
#define PD0 (PT_BASE + 0x2000)
#define PT_PAGES 6              /* pages of page tables */
#define PTE_P_RW_US 0x7         /* present, writable, user */
#define PDE_2M 0x87             /* present, writable, user, 2 MiB page */
#define PAGE_2M 0x200000        /* bytes */
#define STACK_TOP 0x80000       /* bytes: ring-3 stack grows down from here */
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_CD_NW 0x60000000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA 0x18
#define SEL_USER_DATA 0x2b      /* index 5, RPL 3 */
#define SEL_USER_CODE 0x33      /* index 6, RPL 3 */
#define RFLAGS_USER 0x3002      /* IOPL 3, IF 0, reserved bit 1 */
#define IMAGE_BASE 0xf0000
#define GDT_RAM 0x800           /* bytes: the GDT is copied to RAM */

    .section .entry16, "ax"
    .code16
    .globl entry16
entry16:
    cli
    cld
    /* CS base is 0xffff0000 after reset; continue in the alias below
     * 1 MiB (CS base 0xf0000), which the mode switch below can leave */
    ljmpw $(IMAGE_BASE >> 4), $(1f - IMAGE_BASE)
    /* Loading a selector sets the descriptor's accessed bit: a GDT in ROM
     * makes that write fail, and PVM's emulator retries the far jump
     * forever. So the GDT is copied to RAM first. */
1:  movw %cs, %ax
    movw %ax, %ds
    xorw %ax, %ax
    movw %ax, %es
    movw $(gdt - IMAGE_BASE), %si
    movw $GDT_RAM, %di
    movw $(gdt_end - gdt), %cx
    rep movsb
    lgdtl %cs:(gdt_desc - IMAGE_BASE)
    movl %cr0, %eax
    andl $~CR0_CD_NW, %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl $SEL_CODE32, $entry32

    .section .reset, "ax"
    .code16
    .globl reset_vector
reset_vector:                   /* 0xfffffff0: the first instruction */
    jmp entry16
    .balign 16, 0xf4

    .text
    .code32
entry32:
    movw $SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    /* RAM is not cleared on a reset: zero the page-table pages */
    movl $PT_BASE, %edi
    xorl %eax, %eax
    movl $(PT_PAGES * 4096 / 4), %ecx
    rep stosl
    movl $(PDPT + PTE_P_RW_US), PML4
    movl $(PD0 + PTE_P_RW_US), PDPT
    movl $(PD0 + 0x1000 + PTE_P_RW_US), PDPT + 8
    movl $(PD0 + 0x2000 + PTE_P_RW_US), PDPT + 16
    movl $(PD0 + 0x3000 + PTE_P_RW_US), PDPT + 24
    movl $PD0, %edi
    movl $PDE_2M, %eax
    movl $2048, %ecx            /* 4 GiB / 2 MiB */
1:  movl %eax, (%edi)
    addl $PAGE_2M, %eax
    addl $8, %edi
    loop 1b
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $PML4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $CR0_PG, %eax
    movl %eax, %cr0
    ljmpl $SEL_CODE64, $entry64

    .code64
entry64:
    movw $SEL_USER_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movq $STACK_TOP, %rsp       /* the iretq frame is built on the same stack */
    pushq $SEL_USER_DATA        /* SS */
    pushq $STACK_TOP            /* RSP */
    pushq $RFLAGS_USER          /* RFLAGS */
    pushq $SEL_USER_CODE        /* CS */
    pushq $ring3_start          /* RIP */
    iretq

ring3_start:
    andq $-16, %rsp
    call tiny_main
2:  jmp 2b                      /* tiny_main never returns */

    .section .rodata
    .balign 8
gdt:
    .quad 0                     /* 0x00 null */
    .quad 0x00cf9a000000ffff    /* 0x08 code, 32-bit, flat, DPL 0 */
    .quad 0x00af9a000000ffff    /* 0x10 code, 64-bit, DPL 0 */
    .quad 0x00cf92000000ffff    /* 0x18 data, flat, DPL 0 */
    .quad 0                     /* 0x20 unused (user code 32) */
    .quad 0x00cff2000000ffff    /* 0x28 data, flat, DPL 3 */
    .quad 0x00affa000000ffff    /* 0x30 code, 64-bit, DPL 3 */
gdt_end:
    .balign 4
gdt_desc:
    .word gdt_end - gdt - 1
    .long GDT_RAM

    .section .note.GNU-stack, "", @progbits
