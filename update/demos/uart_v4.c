/* Demo update 6, second step: uart 3 -> 4 also counts lines. */
#include "uart_v34.h"

static long v4_write(struct object *self, const char *buf, size_t len)
{
	return v34_write(self, buf, len, 1);
}

static const struct uart_ops v4_ops = {
	.write = v4_write,
	.rx_byte = v34_rx_byte,
	.irq = v34_irq,
	.rx_irq = v34_rx_irq,
};

static const struct class v4_class = {
	.name = "uart",
	.impl = "ns16550",
	.version = 4,
	.iface_version = 1,
	.ops = &v4_ops,
	.nmethods = CLASS_NMETHODS(struct uart_ops),
	.state_size = sizeof(struct ns16550_v34),
};

static int carry(const struct object *from, struct object *to)
{
	const struct ns16550_v34 *o = (const struct ns16550_v34 *)from;
	struct ns16550_v34 *n = (struct ns16550_v34 *)to;

	v34_copy_dev(from, to);
	n->bytes = o->bytes;
	n->lines = o->lines;
	return 0;
}

static int v4_selftest(const struct class *cls)
{
	return cls->state_size > sizeof(struct ns16550) ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI,
	.class_name = "uart",
	.impl = "ns16550",
	.from = 3,
	.to = 4,
	.cls = &v4_class,
	.transfer = carry,
	.flags = UPDATE_PURE_TRANSFER,	/* it only reads the old state */
	.transfer_back = carry,
	.selftest = v4_selftest,
	.mode = UPDATE_MODE_EAGER,
};
