/*
 * Interposition stubs: call-through (not tail-call) trampolines that let
 * the update engine stand between callers and an object for a while.
 *
 * They fill the dispatch table of a class version while an update is in
 * progress (update/convert.c): the table is K42's mediator, shared by every
 * instance of that version. Stub N records the method index and the
 * enter/exit handlers (kept as parameters so another family can share the
 * body):
 *
 *   enter(self, method, frame) -> fn     may rewrite frame->a0 (the self
 *                                        the call will use) and may wait
 *   fn(a0..a7)                           the real method, arguments intact
 *   exit(frame, result) -> result        bookkeeping after the call
 *
 * The frame also keeps every callee-saved register, so that a fault in
 * new code during probation can be retried from here on the old object
 * (update/probation.c sets sepc to ip_retry with sp at the frame; a block
 * in such code comes back through ip_resume).
 * Methods may take at most 7 arguments after self (nothing on the stack).
 */
#include <kernel/convert.h>

#define F_RA	0
#define F_A0	8		/* a0..a7 at 8..64 */
#define F_S0	72		/* s0..s11 at 72..160 */
#define F_ENTER	168
#define F_EXIT	176
#define F_METH	184
#define F_SIZE	IP_FRAME_SIZE	/* then the unwind node (kernel/convert.h) */

	.text
	.macro stubs family, enter, exit
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
\family\()_stub_\n:
	li	t0, \n
	la	t1, \enter
	la	t2, \exit
	j	ip_common
	.endr
	.section .rodata
	.balign 8
	.globl \family\()_stub_ops
\family\()_stub_ops:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.dword \family\()_stub_\n
	.endr
	.text
	.endm

	stubs lazy, lazy_enter, lazy_exit

	.globl ip_common
ip_common:
	addi	sp, sp, -F_SIZE
	sd	ra, F_RA(sp)
	sd	a0, F_A0+0(sp)
	sd	a1, F_A0+8(sp)
	sd	a2, F_A0+16(sp)
	sd	a3, F_A0+24(sp)
	sd	a4, F_A0+32(sp)
	sd	a5, F_A0+40(sp)
	sd	a6, F_A0+48(sp)
	sd	a7, F_A0+56(sp)
	sd	s0, F_S0+0(sp)
	sd	s1, F_S0+8(sp)
	sd	s2, F_S0+16(sp)
	sd	s3, F_S0+24(sp)
	sd	s4, F_S0+32(sp)
	sd	s5, F_S0+40(sp)
	sd	s6, F_S0+48(sp)
	sd	s7, F_S0+56(sp)
	sd	s8, F_S0+64(sp)
	sd	s9, F_S0+72(sp)
	sd	s10, F_S0+80(sp)
	sd	s11, F_S0+88(sp)
	sd	t1, F_ENTER(sp)
	sd	t2, F_EXIT(sp)
	sd	t0, F_METH(sp)
	sw	zero, IP_FRAME_FAULTS(sp)	/* a first entry, not a retry */
	.globl ip_retry
ip_retry:
	/* enter(self, method, frame); a retry comes back here with sp = frame. */
	ld	a0, F_A0(sp)
	ld	a1, F_METH(sp)
	mv	a2, sp
	ld	t1, F_ENTER(sp)
	jalr	t1
	mv	t1, a0
	ld	a0, F_A0+0(sp)
	ld	a1, F_A0+8(sp)
	ld	a2, F_A0+16(sp)
	ld	a3, F_A0+24(sp)
	ld	a4, F_A0+32(sp)
	ld	a5, F_A0+40(sp)
	ld	a6, F_A0+48(sp)
	ld	a7, F_A0+56(sp)
	jalr	t1
	mv	a1, a0
	mv	a0, sp
	ld	t1, F_EXIT(sp)
	jalr	t1
	ld	ra, F_RA(sp)
	ld	s0, F_S0+0(sp)
	ld	s1, F_S0+8(sp)
	ld	s2, F_S0+16(sp)
	ld	s3, F_S0+24(sp)
	ld	s4, F_S0+32(sp)
	ld	s5, F_S0+40(sp)
	ld	s6, F_S0+48(sp)
	ld	s7, F_S0+56(sp)
	ld	s8, F_S0+64(sp)
	ld	s9, F_S0+72(sp)
	ld	s10, F_S0+80(sp)
	ld	s11, F_S0+88(sp)
	addi	sp, sp, F_SIZE
	ret

/* void ip_resume(struct unwind_node *n): retry the call whose frame holds @n. */
	.globl ip_resume
ip_resume:
	addi	sp, a0, -IP_FRAME_NODE
	j	ip_retry
