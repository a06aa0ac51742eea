/*
 * Unwinding a context back to a node of its chain (see unwind.h): the
 * mechanics shared by the fault path (trap.c, update/probation.c), the
 * loop and block detectors and the thread kill path.
 *
 * Everything here runs on the hart whose context is unwound, with
 * interrupts off (a trap) or from the context itself, so the chain and
 * the held-lock stack need no lock. Pure enough for the host tests
 * (HOST_TEST: a recovery point is a setjmp).
 */
#include <string.h>
#include <stdio.h>
#include <kernel/unwind.h>
#include <kernel/hart.h>
#include <kernel/thread.h>
#include <kernel/trap.h>
#include <kernel/riscv.h>
#include <kernel/spinlock.h>

struct unwind_node **unwind_chain(void)
{
	struct hart *h = this_hart();

	return h->cur ? (struct unwind_node **)&h->cur->ip_top : (struct unwind_node **)&h->ip_top;
}

void unwind_mark(struct unwind_node *n)
{
	struct hart *h = this_hart();

	n->nheld = h->nheld;
	n->irq_depth = h->irq_depth;
	n->irq_was_on = h->irq_was_on;
	n->sie = irq_enabled() ? 1 : 0;
	n->level = (uint8_t)h->irq_level;
}

void recover_push(struct recover_point *rp, int why, const void *what)
{
	struct unwind_node **top = unwind_chain();

	rp->node.kind = UNW_RECOVER;
	rp->node.why = (uint8_t)why;
	rp->node.cookie = 0;
	rp->node.what = what;
	unwind_mark(&rp->node);
	rp->node.prev = *top;
	*top = &rp->node;
}

void recover_pop(struct recover_point *rp)
{
	struct unwind_node **top = unwind_chain();

	/* Normally the top; anything left above it (a bug) is dropped with it. */
	unwind_drop(&rp->node);
	if (*top == &rp->node)
		*top = rp->node.prev;
}

unsigned int unwind_release_locks(uint32_t down_to, char *names, unsigned long len)
{
	struct hart *h = this_hart();
	unsigned int n = 0;
	size_t used = 0;

	if (names && len)
		names[0] = '\0';
	while (h->nheld > down_to) {
		uint32_t i = h->nheld - 1;

		if (i < HART_HELD_MAX) {
			struct spinlock *l = h->held[i];

			if (names && used + 1 < len)
				used += (size_t)snprintf(names + used, len - used, "%s%s", n ? "," : "",
							 l->name ? l->name : "?");
			spin_force_release(l);
		}
		h->nheld--;
		n++;
	}
	return n;
}

void unwind_drop(struct unwind_node *stop)
{
	struct unwind_node **top = unwind_chain();

	while (*top && *top != stop) {
		struct unwind_node *n = *top;

		*top = n->prev;
		if (n->kind == UNW_CALL && n->cookie)
			convert_call_dropped(n);
	}
}

struct unwind_node *unwind_top_here(void)
{
	struct unwind_node *n = *unwind_chain();

	return n && n->level == this_hart()->irq_level ? n : NULL;
}

/* Interrupt nesting back to @n's; the enable state goes in @tf (or now). */
static void restore_irq(const struct unwind_node *n, struct trap_frame *tf)
{
	struct hart *h = this_hart();

	h->irq_depth = n->irq_depth;
	h->irq_was_on = n->irq_was_on;
	if (tf)
		tf->sstatus = (tf->sstatus & ~(uint64_t)SSTATUS_SPIE) | (n->sie ? SSTATUS_SPIE : 0);
}

unsigned int unwind_to(struct unwind_node *n, struct trap_frame *tf)
{
	unsigned int released = unwind_release_locks(n->nheld, NULL, 0);

	restore_irq(n, tf);
	unwind_drop(n->prev);	/* n too: a call is counted again when retried */
#ifndef HOST_TEST
	if (n->kind == UNW_RECOVER && tf) {
		const uint64_t *r = ((struct recover_point *)n)->regs;

		tf->regs[0] = r[0];	/* sepc: where recover_save returned */
		tf->regs[1] = r[0];
		tf->regs[2] = r[1];
		tf->regs[8] = r[2];
		tf->regs[9] = r[3];
		for (int i = 0; i < 10; i++)
			tf->regs[18 + i] = r[4 + i];
		tf->regs[10] = 1;	/* recover_save returns 1 */
	}
#endif
	return released;
}

void unwind_jump(struct unwind_node *n)
{
	unwind_to(n, NULL);
	if (n->sie)
		irq_enable();
	else
		irq_disable();
#ifdef HOST_TEST
	if (n->kind == UNW_RECOVER)
		longjmp(((struct recover_point *)n)->regs, 1);
#else
	if (n->kind == UNW_RECOVER)
		recover_jump(((struct recover_point *)n)->regs);
#endif
	ip_resume(n);	/* a call node: retried from its frame (update/interpose.S) */
}
