/*
 * Fixture: the usual way to start an aligned assembly function. Under
 * -mrelax gas emits 2 bytes of nops plus R_RISCV_ALIGN at offset 0, and
 * only deleting them (linker relaxation) would align bad_aligned to 4: the
 * loader must refuse. Under -mno-relax gas pads exactly and it loads.
 */
	.section .text.bad_align, "ax", @progbits
	.p2align 2
	.globl bad_aligned
bad_aligned:
	ret
