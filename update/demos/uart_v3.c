/* Demo update 6, first step: uart 2 -> 3 adds a byte counter. */
#include "uart_v34.h"

static long v3_write(struct object *self, const char *buf, size_t len)
{
	return v34_write(self, buf, len, 0);
}

static const struct uart_ops v3_ops = {
	.write = v3_write,
	.rx_byte = v34_rx_byte,
	.irq = v34_irq,
	.rx_irq = v34_rx_irq,
};

static const struct class v3_class = {
	.name = "uart",
	.impl = "ns16550",
	.version = 3,
	.iface_version = 1,
	.ops = &v3_ops,
	.nmethods = CLASS_NMETHODS(struct uart_ops),
	.state_size = sizeof(struct ns16550_v34),
};

static int v2_to_v3(const struct object *from, struct object *to)
{
	v34_copy_dev(from, to);
	return 0;
}

/* The shape the transfer and the methods rely on. */
static int v3_selftest(const struct class *cls)
{
	return cls->nmethods == CLASS_NMETHODS(struct uart_ops) &&
	       cls->state_size == sizeof(struct ns16550_v34) ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI,
	.class_name = "uart",
	.impl = "ns16550",
	.from = 2,
	.to = 3,
	.cls = &v3_class,
	.transfer = v2_to_v3,
	.flags = UPDATE_PURE_TRANSFER,	/* it only reads the old state */
	.transfer_back = v2_to_v3,	/* the device part is what both share */
	.selftest = v3_selftest,
	.mode = UPDATE_MODE_EAGER,
};
