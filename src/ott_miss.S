/*
 * The OTT miss path. A hart's empty cache entry points to a miss object
 * whose ops table (ott_miss_ops) sends method N to stub N, which records N
 * and jumps to ott_miss_common. That resolves the real object through the
 * global table (ott_miss_resolve, with interrupts off so the entry it fills
 * is this hart's), then tail-calls the real method with the caller's
 * arguments untouched: the caller cannot tell a miss from a hit.
 */
#define NSTUBS 32

	.text
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.globl ott_miss_stub_\n
ott_miss_stub_\n:
	li	t0, \n
	j	ott_miss_common
	.endr

ott_miss_common:
	addi	sp, sp, -80
	sd	ra, 0(sp)
	sd	a1, 8(sp)
	sd	a2, 16(sp)
	sd	a3, 24(sp)
	sd	a4, 32(sp)
	sd	a5, 40(sp)
	sd	a6, 48(sp)
	sd	a7, 56(sp)
	csrrci	t1, sstatus, 2
	sd	t1, 64(sp)
	mv	a1, a0
	mv	a2, t0
	la	a0, kernel_ott
	call	ott_miss_resolve
	ld	t1, 64(sp)
	andi	t1, t1, 2
	csrs	sstatus, t1
	mv	t2, a1
	ld	ra, 0(sp)
	ld	a1, 8(sp)
	ld	a2, 16(sp)
	ld	a3, 24(sp)
	ld	a4, 32(sp)
	ld	a5, 40(sp)
	ld	a6, 48(sp)
	ld	a7, 56(sp)
	addi	sp, sp, 80
	jr	t2

	.section .rodata
	.balign 8
	.globl ott_miss_ops
ott_miss_ops:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.dword ott_miss_stub_\n
	.endr
