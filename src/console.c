/*
 * The console: the UART /chosen stdout-path names carries the log, and its
 * receive interrupt feeds a small command shell (type `help`).
 *
 * Locking: rx_lock guards the receive ring, filled from the UART's
 * interrupt and drained by the shell thread, which sleeps on rx_wq.
 */
#include <string.h>
#include <stdlib.h>
#include <kernel/uart.h>
#include <kernel/irq.h>
#include <kernel/log.h>
#include <kernel/thread.h>
#include <kernel/console.h>
#include <kernel/spinlock.h>
#include <kernel/errno.h>
#include <kernel/driver.h>
#include <kernel/devtree.h>

#define RX_RING 256

ott_ref_t console_ref;
static uint32_t console_irq;
static bool console_is_stdout;
static struct spinlock rx_lock = SPINLOCK_INIT("console-rx");
static struct waitq rx_wq;
static char rx_ring[RX_RING];
static size_t rx_head, rx_tail;
static uint64_t rx_dropped;

static void console_sink(const char *buf, size_t len)
{
	uart_write(console_ref, buf, len);
}

void console_attach(ott_ref_t uart, int is_stdout, unsigned int irq)
{
	/* stdout-path wins; otherwise the first UART bound is the console. */
	if (console_ref.entry && (console_is_stdout || !is_stdout))
		return;
	console_ref = uart;
	console_irq = irq;
	console_is_stdout = is_stdout;
	log_set_sink(console_sink);
}

int uart_bind(const void *fdt, int node, struct factory *f, const struct class *cls,
	      struct object *obj, const char *what, uint64_t base)
{
	uint32_t irq = 0;
	ott_ref_t ref;
	int err = driver_publish(f, cls, obj, &ref);

	if (err)
		return err;
	dt_irq(fdt, node, 0, &irq);
	console_attach(ref, node == dt_stdout_node(fdt), irq);
	klog("uart", "bound %s base=%#lx irq=%u", what, (unsigned long)base, irq);
	return 0;
}

long console_push(const char *buf, size_t len)
{
	spin_lock(&rx_lock);
	for (size_t i = 0; i < len; i++) {
		if (rx_head - rx_tail == RX_RING) {
			rx_dropped++;
			continue;
		}
		rx_ring[rx_head++ % RX_RING] = buf[i];
	}
	spin_unlock(&rx_lock);
	if (len)
		waitq_wake_all(&rx_wq);
	return (long)len;
}

long console_read(char *buf, size_t len)
{
	size_t n = 0;

	spin_lock(&rx_lock);
	while (rx_head == rx_tail)
		waitq_wait(&rx_wq, &rx_lock);
	while (n < len && rx_tail != rx_head)
		buf[n++] = rx_ring[rx_tail++ % RX_RING];
	spin_unlock(&rx_lock);
	return (long)n;
}

static void console_irq_handler(void *arg)
{
	uart_irq(console_ref);
}

int console_start_rx(void)
{
	int err;

	waitq_init(&rx_wq);
	if (!console_ref.entry)
		return -KE_NODEV;
	if (!console_irq || !irq_available()) {
		klog("console", "no receive interrupt: input disabled");
		return -KE_NODEV;
	}
	err = irq_attach(console_irq, console_irq_handler, NULL);
	if (err)
		return err;
	uart_rx_irq(console_ref, 1);
	return 0;
}
