/*
 * The state device: which storage object the journal writes. Drivers call
 * storage_attach() from their probe (boot hart, before other harts run),
 * so no lock is needed; later readers only see a settled value.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/storage.h>
#include <kernel/object.h>
#include <kernel/log.h>
#include <kernel/mem.h>
#include <kernel/errno.h>

static ott_ref_t state_ref;
static bool state_bound;

void storage_attach(ott_ref_t dev)
{
	struct storage_info si;

	if (storage_info(dev, &si))
		return;
	if (si.flags & STORAGE_F_READONLY)
		return;
	if (state_bound) {
		klog("storage", "ignored model=%s: the first writable device holds the state",
		     si.model);
		return;
	}
	state_ref = dev;
	state_bound = true;
	klog("storage", "state device model=%s offset=%#lx size=%lu erase=%u", si.model,
	     (unsigned long)si.dev_offset, (unsigned long)si.size, si.erase_size);
}

bool storage_state_ref(ott_ref_t *out)
{
	if (state_bound)
		*out = state_ref;
	return state_bound;
}

/*
 * Driver check for tests and bring-up (`storage=selftest` on the command
 * line, run at boot before the journal opens): in the region's last erase
 * block, erase, program a pattern at unaligned offsets across page and
 * sector boundaries, flush, read back, then put the block's old content
 * back. Not power-cut safe: never run it on a board in service.
 */
#define SELFTEST_BUF	(8 * 1024)

static int selftest_block(ott_ref_t dev, uint64_t off, uint32_t esz, uint8_t *save, uint8_t *buf)
{
	static const struct { uint32_t at, len; } writes[] = {
		{ 3, 250 }, { 253, 300 }, { 600, 1000 }, { 1700, 2300 },
	};
	long err;

	if ((err = storage_read(dev, off, save, esz)) || (err = storage_erase(dev, off, esz)))
		return (int)err;
	if ((err = storage_read(dev, off, buf, esz)))
		return (int)err;
	for (uint32_t i = 0; i < esz; i++)
		if (buf[i] != 0xff)
			return -KE_IO;
	for (unsigned int w = 0; w < sizeof(writes) / sizeof(writes[0]); w++) {
		for (uint32_t i = 0; i < writes[w].len; i++)
			buf[i] = (uint8_t)(writes[w].at + i * 7);
		if ((err = storage_program(dev, off + writes[w].at, buf, writes[w].len)))
			return (int)err;
	}
	if ((err = storage_flush(dev)) || (err = storage_read(dev, off, buf, esz)))
		return (int)err;
	/* Every byte: the pattern where a write covered it, else still erased. */
	for (uint32_t i = 0; i < esz; i++) {
		uint8_t want = 0xff;

		for (unsigned int w = 0; w < sizeof(writes) / sizeof(writes[0]); w++)
			if (i >= writes[w].at && i - writes[w].at < writes[w].len)
				want = (uint8_t)(writes[w].at + (i - writes[w].at) * 7);
		if (buf[i] != want)
			return -KE_IO;
	}
	if ((err = storage_erase(dev, off, esz)) || (err = storage_program(dev, off, save, esz)))
		return (int)err;
	return (int)storage_flush(dev);
}

int storage_selftest(void)
{
	struct storage_info si;
	uint8_t *save, *buf;
	ott_ref_t dev;
	int err;

	if (!storage_state_ref(&dev)) {
		klog("storage", "selftest skipped: no state device");
		return -KE_NODEV;
	}
	if ((err = (int)storage_info(dev, &si)))
		return err;
	if (si.erase_size > SELFTEST_BUF || si.size < si.erase_size)
		return -KE_RANGE;
	save = kmalloc(SELFTEST_BUF);
	buf = kmalloc(SELFTEST_BUF);
	err = save && buf ? selftest_block(dev, si.size - si.erase_size, si.erase_size, save, buf)
			  : -KE_NOMEM;
	kfree(save);
	kfree(buf);
	klog("storage", "selftest %s model=%s block=%#lx err=%s", err ? "failed" : "ok", si.model,
	     (unsigned long)(si.size - si.erase_size), err_name(err));
	return err;
}

void storage_show(void)
{
	struct storage_info si;
	struct storage_stats st = { 0 };
	ott_ref_t dev;

	if (!storage_state_ref(&dev)) {
		kputs("  storage: none (volatile)\n");
		return;
	}
	storage_info(dev, &si);
	storage_stats(dev, &st);
	kprintf("  storage model=%s offset=%#lx size=%lu erase=%u%s\n", si.model,
		(unsigned long)si.dev_offset, (unsigned long)si.size, si.erase_size,
		si.flags & STORAGE_F_NOR ? " nor" : "");
	kprintf("  reads=%lu programs=%lu erases=%lu flushes=%lu bytes read=%lu programmed=%lu "
		"erased=%lu errors=%lu\n", (unsigned long)st.reads, (unsigned long)st.programs,
		(unsigned long)st.erases, (unsigned long)st.flushes, (unsigned long)st.read_bytes,
		(unsigned long)st.program_bytes, (unsigned long)st.erase_bytes,
		(unsigned long)st.errors);
}

/*
 * Console `storage <op> ...`: raw access to the state device for bring-up
 * and tests (durability after a kill). It bypasses the journal: on a board
 * in service it can destroy the journal.
 */
#define STORAGE_CMD_READ_MAX	64

static void storage_cmd_read(ott_ref_t dev, uint64_t off, size_t len)
{
	uint8_t buf[STORAGE_CMD_READ_MAX];
	char line[64 + 2 * STORAGE_CMD_READ_MAX];
	long err;
	int n;

	if (len > sizeof(buf))
		len = sizeof(buf);
	err = storage_read(dev, off, buf, len);
	/* One write: a log line of another hart cannot land inside the answer. */
	n = snprintf(line, sizeof(line), "  storage read off=%#lx len=%zu err=%s data=",
		     (unsigned long)off, len, err_name(err));
	for (size_t i = 0; i < len && !err && n + 3 < (int)sizeof(line); i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", buf[i]);
	snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	kputs(line);
}

void storage_command(const char *args)
{
	char *end;
	const char *text;
	uint64_t off;
	ott_ref_t dev;
	long err;

	if (!*args) {
		storage_show();
		return;
	}
	if (!storage_state_ref(&dev)) {
		kputs("  storage: none (volatile)\n");
		return;
	}
	if (!strcmp(args, "flush")) {
		kprintf("  storage flush err=%s\n", err_name(storage_flush(dev)));
		return;
	}
	text = strchr(args, ' ');
	off = text ? strtoull(text + 1, &end, 0) : 0;
	if (!text || end == text + 1) {
		kputs("  usage: storage [read <off> <len>|erase <off>|program <off> <text>|flush]\n");
		return;
	}
	if (!strncmp(args, "read ", 5)) {
		storage_cmd_read(dev, off, *end ? strtoul(end, NULL, 0) : 16);
	} else if (!strncmp(args, "erase ", 6)) {
		struct storage_info si;

		err = storage_info(dev, &si);
		if (!err)
			err = storage_erase(dev, off, si.erase_size);
		kprintf("  storage erase off=%#lx err=%s\n", (unsigned long)off, err_name(err));
	} else if (!strncmp(args, "program ", 8) && *end == ' ' && end[1]) {
		err = storage_program(dev, off, end + 1, strlen(end + 1));
		kprintf("  storage program off=%#lx len=%zu err=%s\n", (unsigned long)off,
			strlen(end + 1), err_name(err));
	} else {
		kputs("  usage: storage [read <off> <len>|erase <off>|program <off> <text>|flush]\n");
	}
}
