/* kvm_vmm_guest.S: the probe guest program, 64-bit code run at CPL 3.
 *
 * The host copies these bytes into the system slot and sets the registers
 * for each command with KVM_SET_REGS:
 *   rax  0 = stride form, 1 = list form; +2 = read instead of write
 *   rdi  stride form: guest-physical address of the first page
 *   rdx  stride form: bytes between two pages
 *   rsi  list form: address of `rcx` 64-bit guest-physical addresses
 *   rcx  number of pages to write
 *   rbx  the word to store at offset 0 of each page
 * It stores rbx once per named page (read forms: loads the first word of
 * each named page into r9 and stores nothing), then writes to the exit port.
 * Invariant: the program touches no memory but the named pages and the
 * list; the read forms write none of it; no stack, no exceptions (any
 * exception ends the VM here). The code
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
	cmp	$2, %rax
	je	5f
	cmp	$3, %rax
	je	6f
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
5:	mov	(%rdi), %r9		/* stride form, read */
	add	%rdx, %rdi
	dec	%rcx
	jnz	5b
	jmp	4b
6:	mov	(%rsi), %r8		/* list form, read */
	mov	(%r8), %r9
	add	$8, %rsi
	dec	%rcx
	jnz	6b
	jmp	4b
vmctl_vmm_guest_code_end:

	.section .note.GNU-stack,"",@progbits
