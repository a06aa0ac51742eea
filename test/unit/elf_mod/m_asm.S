/*
 * Fixture: hand-written assembly reaching the relocation types GCC emits
 * rarely or only for some flags: explicit R_RISCV_CALL, branches, JAL and
 * compressed branch/jump to an external symbol, absolute %hi/%lo
 * (HI20, LO12_I, LO12_S), %pcrel_hi/%pcrel_lo with loads and stores,
 * R_RISCV_32/64/32_PCREL data, label differences (ADD/SUB 8..64 with
 * -mrelax), and .reloc for the SET and 6-bit types, which gas otherwise
 * only puts in DWARF call frame info.
 *
 * The .align 3 follows 10 bytes of code, so the 6 bytes of nops gas
 * emits under -mrelax already end on an 8-byte boundary: R_RISCV_ALIGN
 * needs no byte deletion and the loader accepts it (see bad_align.S).
 */
	.option rvc
	.text
	.globl asm_entry
asm_entry:
	/* gas turns branches to undefined symbols into branch-over-jump
	 * sequences; .reloc keeps the short forms */
	.reloc	., R_RISCV_RVC_BRANCH, ext_near
	.half	0xc101			/* c.beqz a0, ext_near */
	.reloc	., R_RISCV_RVC_JUMP, ext_near
	.half	0xa001			/* c.j ext_near */
	.reloc	., R_RISCV_BRANCH, ext_near
	.word	0x00b50063		/* beq a0, a1, ext_near */
	c.nop
	.align 3
	.globl asm_aligned
asm_aligned:
	beq	a0, a1, ext_near
	bne	a0, a1, .Llocal
	jal	ext_near
	jal	zero, .Llocal
	call	ext_func
	.reloc	., R_RISCV_CALL, ext_void
	auipc	ra, 0
	jalr	ra, 0(ra)
	lui	a0, %hi(ext_abs)
	addi	a0, a0, %lo(ext_abs)
	lui	a1, %hi(asm_data)
	sd	a0, %lo(asm_data)(a1)
	lw	a2, %lo(asm_data + 12)(a1)
1:	auipc	a3, %pcrel_hi(ext_data)
	lw	a4, %pcrel_lo(1b)(a3)
	sw	a4, %pcrel_lo(1b)(a3)
2:	auipc	a5, %pcrel_hi(asm_data + 16)
	addi	a5, a5, %pcrel_lo(2b)
3:	auipc	a5, %pcrel_hi(asm_rodata - 0x7f0)
	ld	a5, %pcrel_lo(3b)(a5)
	c.bnez	a5, .Llocal
	c.j	.Llocal
	tail	ext_func
.Llocal:
	ret
.Lend:

	.section .rodata.asm, "a"
	.p2align 3
	.globl asm_rodata
asm_rodata:
	.dword	ext_func
	.dword	asm_entry + 8
	.dword	asm_data - 4
	.word	ext_abs
	.word	asm_aligned
	.word	ext_data - .
	.reloc	., R_RISCV_32_PCREL, ext_func + 4
	.word	0
	.reloc	., R_RISCV_SET6, ext_abs
	.byte	0xc0
	/* SUB relocations keep addend 0 (gas always folds constants into the
	 * ADD): ld 2.40 computes V - S + A for them, the psABI V - S - A. */
	.reloc	., R_RISCV_SUB6, asm_aligned
	.byte	0x7f
	.reloc	., R_RISCV_SET8, asm_aligned
	.byte	0
	.reloc	., R_RISCV_SET16, asm_aligned + 0x123
	.half	0
	.reloc	., R_RISCV_SET32, ext_data
	.word	0
	.byte	.Lend - asm_entry
	.half	.Lend - asm_aligned
	.word	.Lend - asm_entry
	.dword	.Lend - asm_entry
	.reloc	., R_RISCV_ADD8, ext_abs
	.reloc	., R_RISCV_SUB8, asm_entry
	.byte	1
	.reloc	., R_RISCV_ADD16, ext_abs
	.reloc	., R_RISCV_SUB16, asm_aligned
	.half	2
	.reloc	., R_RISCV_ADD32, ext_func
	.reloc	., R_RISCV_SUB32, asm_entry
	.word	3
	.reloc	., R_RISCV_ADD64, ext_data
	.reloc	., R_RISCV_SUB64, asm_data
	.dword	4

	.section .srodata, "a"
	.p2align 2
	.word	0x5eed

	.data
	.p2align 4
	.globl asm_data
asm_data:
	.dword	asm_rodata
	.dword	ext_array + 8
	.zero	16

	.section .sdata, "aw"
	.p2align 3
	.dword	asm_data + 8

	.section .sbss, "aw", @nobits
	.p2align 2
	.globl asm_sbss
asm_sbss:
	.zero	12

	.bss
	.p2align 6
	.globl asm_bss
asm_bss:
	.zero	100
