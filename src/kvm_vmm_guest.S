/* kvm_vmm_guest.S: the probe guest program, 64-bit code run at CPL 3.
 *
 * The host copies these bytes into the system slot and sets the registers
 * for each command with KVM_SET_REGS:
 *   rax  0 = stride form, 1 = list form
 *   rdi  stride form: guest-physical address of the first page
 *   rdx  stride form: bytes between two pages
 *   rsi  list form: address of `rcx` 64-bit guest-physical addresses
 *   rcx  number of pages to write
 *   rbx  the word to store at offset 0 of each page
 * It stores rbx once per named page, then writes to the exit port.
 * Invariant: the program touches no memory but the named pages and the
 * list; no stack, no exceptions (any exception ends the VM here). The code
 * is position independent (relative jumps only). */

	.section .rodata
	.balign 16
	.globl vmctl_vmm_guest_code
	.globl vmctl_vmm_guest_code_end
	.code64
vmctl_vmm_guest_code:
1:	test	%rcx, %rcx
	jz	4f
	cmp	$1, %rax
	je	3f
2:	mov	%rbx, (%rdi)		/* stride form */
	add	%rdx, %rdi
	dec	%rcx
	jnz	2b
	jmp	4f
3:	mov	(%rsi), %r8		/* list form */
	mov	%rbx, (%r8)
	add	$8, %rsi
	dec	%rcx
	jnz	3b
4:	out	%al, $0x10		/* VMCTL_VMM_EXIT_PORT */
	jmp	1b
vmctl_vmm_guest_code_end:

	.section .note.GNU-stack,"",@progbits
