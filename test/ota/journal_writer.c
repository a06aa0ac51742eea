/*
 * Writes a journal image with the kernel's own journal code
 * (update/journal.c), for test_journal_image.py to read back with the
 * host's independent reader (ota-server/journal_image.py).
 *
 *   journal_writer IMAGE SIZE OP...
 *     store:SEQ:LEN   a pack of LEN bytes (byte i = (SEQ + i) & 255)
 *     commit:SEQ  rollback:SEQ:REASON  forget  reopen  state:RESULT:REASON
 *
 * The image starts as erased NOR (0xff). Exits 1 on any journal error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/journal.h>

static unsigned char *img;

static int d_read(void *c, uint64_t off, void *buf, size_t len)
{
	memcpy(buf, img + off, len);
	return 0;
}

static int d_program(void *c, uint64_t off, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		img[off + i] &= p[i];
	return 0;
}

static int d_erase(void *c, uint64_t off, size_t len)
{
	memset(img + off, 0xff, len);
	return 0;
}

static int d_flush(void *c)
{
	return 0;
}

int main(int argc, char **argv)
{
	static struct journal_entry ent[256];
	static unsigned char scratch[4096];
	struct journal_open_info info;
	struct journal j;
	struct journal_dev dev = { 0 };
	size_t size;
	FILE *f;

	if (argc < 3)
		return 2;
	size = strtoul(argv[2], NULL, 0);
	img = malloc(size);
	memset(img, 0xff, size);
	dev.size = size;
	dev.erase_size = 4096;
	dev.read = d_read;
	dev.program = d_program;
	dev.erase = d_erase;
	dev.flush = d_flush;
	if (journal_open(&j, &dev, scratch, ent, 256, &info))
		return 1;
	for (int i = 3; i < argc; i++) {
		char op[64], arg[64] = "";
		unsigned int seq = 0, len = 0;
		int rc = 0;

		if (sscanf(argv[i], "store:%u:%u", &seq, &len) == 2) {
			unsigned char *p = malloc(len);

			for (unsigned int k = 0; k < len; k++)
				p[k] = (unsigned char)(seq + k);
			rc = journal_store(&j, seq, p, len);
			free(p);
		} else if (sscanf(argv[i], "commit:%u", &seq) == 1) {
			rc = journal_commit(&j, seq);
		} else if (sscanf(argv[i], "rollback:%u:%63s", &seq, arg) == 2) {
			rc = journal_rollback(&j, seq, arg);
		} else if (sscanf(argv[i], "state:%u:%63s", &seq, arg) == 2) {
			struct journal_state st = { 0, (uint8_t)seq, "" };

			strncpy(st.reason, arg, sizeof(st.reason) - 1);
			rc = journal_set_state(&j, &st);
		} else if (!strcmp(argv[i], "forget")) {
			rc = journal_forget_all(&j);
		} else if (!strcmp(argv[i], "reopen")) {
			rc = journal_open(&j, &dev, scratch, ent, 256, &info);
		} else {
			fprintf(stderr, "bad op %s\n", argv[i]);
			return 2;
		}
		if (rc) {
			snprintf(op, sizeof(op), "%s", argv[i]);
			fprintf(stderr, "%s failed: %d\n", op, rc);
			return 1;
		}
	}
	f = fopen(argv[1], "wb");
	if (!f || fwrite(img, 1, size, f) != size)
		return 1;
	fclose(f);
	return 0;
}
