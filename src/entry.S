/*
 * Entry points: the boot hart's _start (from OpenSBI or U-Boot, a0 = hartid,
 * a1 = DTB), secondary harts' entry (from SBI HSM hart_start, a1 = the
 * stack top the boot hart chose), the thread context switch, and the trap
 * vector. Everything runs in S-mode; there is no user mode, so a trap
 * always arrives on a valid kernel stack.
 */
#include <kernel/hart.h>

#define BOOT_STACK_SHIFT 14		/* 16 KiB per hart */
#define FRAME_SIZE (36 * 8)

	.section .text.entry, "ax"
	.globl _start
_start:
	csrw	sie, zero
	csrw	sscratch, zero
	mv	tp, zero		/* tp pointed into OpenSBI's memory */
	li	t0, PLAT_MAX_HARTS
	bgeu	a0, t0, .Lpark
	/*
	 * Only the first hart here may boot. OpenSBI 1.1 can send a hart we
	 * start with HSM here (its cold-boot address, a1 = the DTB) instead of
	 * to secondary_entry: such a hart must not touch .bss. It waits for
	 * the stack the boot hart made for it and joins as a secondary.
	 */
	la	t0, boot_claimed
	li	t1, 1
	amoswap.w.aq t1, t1, (t0)
	bnez	t1, .Llate

	la	sp, boot_stacks
	addi	t1, a0, 1
	slli	t1, t1, BOOT_STACK_SHIFT
	add	sp, sp, t1
	/* Zero .bss; the boot stack lives there but holds nothing yet. */
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	call	kmain
.Lpark:
	wfi
	j	.Lpark

.Llate:
	la	t0, smp_secondary_stack
	slli	t1, a0, 3
	add	t0, t0, t1
3:	ld	a1, 0(t0)
	beqz	a1, 3b
	fence	r, rw
	j	secondary_entry

	.globl secondary_entry
secondary_entry:
	csrw	sie, zero
	mv	tp, zero
	mv	sp, a1
	call	secondary_main
	j	.Lpark

	.text
/*
 * void stack_switch_call(void (*fn)(void), uintptr_t top): runs fn on the
 * stack that ends at @top; fn never returns. The frame-pointer chain ends
 * here (s0 = 0), so a backtrace stops at fn.
 */
	.globl stack_switch_call
stack_switch_call:
	mv	sp, a1
	mv	s0, zero
	mv	ra, zero
	jr	a0

/* void ctx_switch(struct context *save, const struct context *load) */
	.globl ctx_switch
ctx_switch:
	sd	ra, 0(a0)
	sd	sp, 8(a0)
	sd	s0, 16(a0)
	sd	s1, 24(a0)
	sd	s2, 32(a0)
	sd	s3, 40(a0)
	sd	s4, 48(a0)
	sd	s5, 56(a0)
	sd	s6, 64(a0)
	sd	s7, 72(a0)
	sd	s8, 80(a0)
	sd	s9, 88(a0)
	sd	s10, 96(a0)
	sd	s11, 104(a0)
	sd	tp, 112(a0)
	ld	ra, 0(a1)
	ld	sp, 8(a1)
	ld	s0, 16(a1)
	ld	s1, 24(a1)
	ld	s2, 32(a1)
	ld	s3, 40(a1)
	ld	s4, 48(a1)
	ld	s5, 56(a1)
	ld	s6, 64(a1)
	ld	s7, 72(a1)
	ld	s8, 80(a1)
	ld	s9, 88(a1)
	ld	s10, 96(a1)
	ld	s11, 104(a1)
	ld	tp, 112(a1)
	ret

/* First code a new thread runs: s0 = entry, s1 = argument. */
	.globl thread_trampoline
thread_trampoline:
	call	thread_start_hook
	mv	a0, s1
	jalr	s0
	call	thread_exit

/* Every register but sp into the frame at sp, then the trap CSRs. */
.macro SAVE_FRAME
	sd	x1, 1*8(sp)
	sd	x3, 3*8(sp)
	sd	x4, 4*8(sp)
	sd	x5, 5*8(sp)
	sd	x6, 6*8(sp)
	sd	x7, 7*8(sp)
	sd	x8, 8*8(sp)
	sd	x9, 9*8(sp)
	sd	x10, 10*8(sp)
	sd	x11, 11*8(sp)
	sd	x12, 12*8(sp)
	sd	x13, 13*8(sp)
	sd	x14, 14*8(sp)
	sd	x15, 15*8(sp)
	sd	x16, 16*8(sp)
	sd	x17, 17*8(sp)
	sd	x18, 18*8(sp)
	sd	x19, 19*8(sp)
	sd	x20, 20*8(sp)
	sd	x21, 21*8(sp)
	sd	x22, 22*8(sp)
	sd	x23, 23*8(sp)
	sd	x24, 24*8(sp)
	sd	x25, 25*8(sp)
	sd	x26, 26*8(sp)
	sd	x27, 27*8(sp)
	sd	x28, 28*8(sp)
	sd	x29, 29*8(sp)
	sd	x30, 30*8(sp)
	sd	x31, 31*8(sp)
	csrr	t0, sepc
	sd	t0, 0*8(sp)
	csrr	t0, sstatus
	sd	t0, 32*8(sp)
	csrr	t0, scause
	sd	t0, 33*8(sp)
	csrr	t0, stval
	sd	t0, 34*8(sp)
.endm

/* sepc and sstatus back, then every register, sp (slot 2) last. */
.macro RESTORE_FRAME_AND_SRET
	ld	t0, 0*8(sp)
	csrw	sepc, t0
	ld	t0, 32*8(sp)
	csrw	sstatus, t0
	ld	x1, 1*8(sp)
	ld	x3, 3*8(sp)
	ld	x4, 4*8(sp)
	ld	x5, 5*8(sp)
	ld	x6, 6*8(sp)
	ld	x7, 7*8(sp)
	ld	x8, 8*8(sp)
	ld	x9, 9*8(sp)
	ld	x10, 10*8(sp)
	ld	x11, 11*8(sp)
	ld	x12, 12*8(sp)
	ld	x13, 13*8(sp)
	ld	x14, 14*8(sp)
	ld	x15, 15*8(sp)
	ld	x16, 16*8(sp)
	ld	x17, 17*8(sp)
	ld	x18, 18*8(sp)
	ld	x19, 19*8(sp)
	ld	x20, 20*8(sp)
	ld	x21, 21*8(sp)
	ld	x22, 22*8(sp)
	ld	x23, 23*8(sp)
	ld	x24, 24*8(sp)
	ld	x25, 25*8(sp)
	ld	x26, 26*8(sp)
	ld	x27, 27*8(sp)
	ld	x28, 28*8(sp)
	ld	x29, 29*8(sp)
	ld	x30, 30*8(sp)
	ld	x31, 31*8(sp)
	/* Last: the saved sp, which a handler may have redirected (update retry). */
	ld	x2, 2*8(sp)
	sret
.endm

/*
 * Trap vector (direct mode). Saves every register into a struct trap_frame
 * on the current stack, calls trap_handle(frame) and returns with sret.
 * trap_handle may switch threads; the frame stays on this thread's stack.
 *
 * First, the stack check (kernel/kstack.h): if sp is below this hart's
 * stack_floor, the frame would not fit above the thread's guard page (the
 * thread ran off its stack, or is about to), so the trap is taken on the
 * hart's emergency stack with the floor cleared meanwhile. sscratch holds
 * t0 for the few instructions it takes; SIE is off, and the loads are of
 * the always-mapped hart page and struct hart, so nothing traps in between.
 */
	.align 4
	.globl trap_vector
trap_vector:
	csrw	sscratch, t0
	li	t0, HART_SELF_PTR_VA
	ld	t0, 0(t0)
	ld	t0, HART_STACK_FLOOR(t0)
	bltu	sp, t0, .Lemergency
	csrr	t0, sscratch
	addi	sp, sp, -FRAME_SIZE
	SAVE_FRAME
	addi	t0, sp, FRAME_SIZE
	sd	t0, 2*8(sp)		/* the interrupted sp */
	mv	a0, sp
	call	trap_handle
	RESTORE_FRAME_AND_SRET

.Lemergency:
	li	t0, HART_SELF_PTR_VA
	ld	t0, 0(t0)
	sd	t1, HART_EMERG_T1(t0)
	ld	t1, HART_STACK_FLOOR(t0)
	sd	t1, HART_FLOOR_SAVED(t0)
	sd	zero, HART_STACK_FLOOR(t0)
	ld	t1, HART_EMERG_TOP(t0)
	addi	t1, t1, -FRAME_SIZE
	sd	sp, 2*8(t1)		/* the interrupted sp */
	mv	sp, t1
	ld	t1, HART_EMERG_T1(t0)
	csrr	t0, sscratch
	SAVE_FRAME
	mv	a0, sp
	call	trap_handle
	/* Returning to the thread (an interrupt, or a retried call): its floor back. */
	li	t0, HART_SELF_PTR_VA
	ld	t0, 0(t0)
	ld	t1, HART_FLOOR_SAVED(t0)
	sd	t1, HART_STACK_FLOOR(t0)
	RESTORE_FRAME_AND_SRET

	.data
	.align 3
boot_claimed:
	.word	0			/* in .data: .bss is zeroed after the claim */

	.bss
	.align 12
	.globl boot_stacks
boot_stacks:
	.space (PLAT_MAX_HARTS + 1) << BOOT_STACK_SHIFT
