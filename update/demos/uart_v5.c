/* Test update: uart 4 -> 5 (same code as 4), paired with counter 3 -> 4 in one pack. */
#include "uart_v34.h"

static long v5_write(struct object *self, const char *buf, size_t len)
{
	return v34_write(self, buf, len, 1);
}

static const struct uart_ops v5_ops = {
	.write = v5_write, .rx_byte = v34_rx_byte, .irq = v34_irq, .rx_irq = v34_rx_irq,
};

static const struct class v5_class = {
	.name = "uart", .impl = "ns16550", .version = 5, .iface_version = 1, .ops = &v5_ops,
	.nmethods = CLASS_NMETHODS(struct uart_ops), .state_size = sizeof(struct ns16550_v34),
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

const struct update_desc update_desc = {
	.abi = KERNEL_ABI, .class_name = "uart", .impl = "ns16550", .from = 4, .to = 5,
	.cls = &v5_class, .transfer = carry, .transfer_back = carry, .mode = UPDATE_MODE_EAGER,
	.flags = UPDATE_PURE_TRANSFER,
};
