/*
 * TLS blocks. The linker script lays out .tdata then .tbss; local-exec
 * TLS on RISC-V addresses variables at tp + their offset in that image,
 * so a block is a copy of .tdata followed by zeroed .tbss space.
 */
#include <string.h>
#include <kernel/tls.h>
#include <kernel/mem.h>

extern char __tdata_start[], __tdata_end[], __tbss_start[], __tbss_end[];

size_t tls_size(void)
{
	size_t n = (size_t)(__tbss_end - __tdata_start);

	return n < 16 ? 16 : (n + 15) & ~(size_t)15;
}

void tls_init(void *block)
{
	size_t tdata = (size_t)(__tdata_end - __tdata_start);

	memset(block, 0, tls_size());
	memcpy(block, __tdata_start, tdata);
}

void *tls_alloc(void)
{
	void *b = kmalloc(tls_size());

	if (b)
		tls_init(b);
	return b;
}
