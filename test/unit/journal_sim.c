/*
 * Storage models with power cuts for the journal tests (journal_sim.h).
 * Not a test binary: listed in `// unit-srcs:` by the tests that use it.
 */
#include <stdlib.h>
#include <string.h>
#include "journal_sim.h"

unsigned int sim_rand(struct sim *s)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return (s->seed >> 16) & 0x7fff;
}

static bool cut_now(struct sim *s)
{
	if (s->dead)
		return true;
	s->ops++;
	return s->cut_at && s->ops >= s->cut_at;
}

/* DISK: the unflushed writes that make it, sector by sector, then power off. */
static void disk_crash(struct sim *s)
{
	for (size_t i = 0; i < s->npending; i++) {
		struct sim_write *w = &s->pending[i];

		for (size_t at = 0; at < w->len; at += 512) {
			size_t n = w->len - at < 512 ? w->len - at : 512;

			if (sim_rand(s) & 1)
				memcpy(s->durable + w->off + at, w->data + at, n);
		}
		free(w->data);
	}
	s->npending = 0;
	memcpy(s->mem, s->durable, s->size);
}

static void disk_queue(struct sim *s, uint64_t off, const void *data, size_t len)
{
	struct sim_write *w;

	if (s->npending == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->pending = realloc(s->pending, s->cap * sizeof(*s->pending));
	}
	w = &s->pending[s->npending++];
	w->off = off;
	w->len = len;
	w->data = malloc(len);
	memcpy(w->data, data, len);
	memcpy(s->mem + off, data, len);
}

static int sim_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct sim *s = ctx;

	if (s->dead || off + len > s->size || off + len < off)
		return -1;
	memcpy(buf, s->mem + off, len);
	return 0;
}

static void nor_program_bytes(struct sim *s, uint64_t off, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((s->mem[off + i] & p[i]) != p[i])
			s->violations++;
		s->mem[off + i] &= p[i];
	}
}

static int sim_program(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct sim *s = ctx;
	const uint8_t *p = buf;

	if (off + len > s->size || off + len < off)
		return -1;
	if (cut_now(s)) {
		if (!s->dead) {
			size_t part = len ? sim_rand(s) % (len + 1) : 0;

			if (s->kind == SIM_NOR) {
				nor_program_bytes(s, off, p, part);
				if (part < len)	/* one byte half programmed */
					s->mem[off + part] &= p[part] | (uint8_t)sim_rand(s);
			} else {
				disk_queue(s, off, p, part);
				disk_crash(s);
			}
			s->dead = true;
		}
		return -1;
	}
	if (s->kind == SIM_NOR)
		nor_program_bytes(s, off, p, len);
	else
		disk_queue(s, off, p, len);
	return 0;
}

static int sim_erase(void *ctx, uint64_t off, size_t len)
{
	struct sim *s = ctx;

	if (off % s->esz || len % s->esz || off + len > s->size)
		return -1;
	if (cut_now(s)) {
		if (!s->dead) {
			uint8_t *junk = malloc(len);

			for (size_t i = 0; i < len; i++)
				junk[i] = (sim_rand(s) & 3) ? 0xff : (uint8_t)sim_rand(s);
			if (s->kind == SIM_NOR) {
				memcpy(s->mem + off, junk, len);
			} else {
				disk_queue(s, off, junk, len / 2);
				disk_crash(s);
			}
			free(junk);
			s->dead = true;
		}
		return -1;
	}
	if (s->kind == SIM_NOR) {
		memset(s->mem + off, 0xff, len);
	} else {
		uint8_t *ff = malloc(len);

		memset(ff, 0xff, len);
		disk_queue(s, off, ff, len);
		free(ff);
	}
	return 0;
}

static int sim_flush(void *ctx)
{
	struct sim *s = ctx;

	if (cut_now(s)) {
		if (!s->dead) {
			if (s->kind == SIM_DISK)
				disk_crash(s);
			s->dead = true;
		}
		return -1;
	}
	for (size_t i = 0; i < s->npending; i++) {
		memcpy(s->durable + s->pending[i].off, s->pending[i].data, s->pending[i].len);
		free(s->pending[i].data);
	}
	s->npending = 0;
	return 0;
}

void sim_init(struct sim *s, enum sim_kind kind, size_t size, uint32_t esz, unsigned int seed)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->size = size;
	s->esz = esz;
	s->seed = seed;
	s->mem = malloc(size);
	s->durable = malloc(size);
	memset(s->mem, kind == SIM_NOR ? 0xff : 0, size);
	memcpy(s->durable, s->mem, size);
	s->dev.ctx = s;
	s->dev.size = size;
	s->dev.erase_size = esz;
	s->dev.read = sim_read;
	s->dev.program = sim_program;
	s->dev.erase = sim_erase;
	s->dev.flush = sim_flush;
}

void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->npending; i++)
		free(s->pending[i].data);
	free(s->pending);
	free(s->mem);
	free(s->durable);
}

uint8_t *sim_snapshot(const struct sim *s)
{
	uint8_t *snap = malloc(s->size);

	/* Only durable bytes: unflushed ones would not survive anyway. */
	memcpy(snap, s->kind == SIM_DISK ? s->durable : s->mem, s->size);
	return snap;
}

void sim_restore(struct sim *s, const uint8_t *snap)
{
	for (size_t i = 0; i < s->npending; i++)
		free(s->pending[i].data);
	s->npending = 0;
	memcpy(s->mem, snap, s->size);
	memcpy(s->durable, snap, s->size);
	s->dead = false;
	s->cut_at = 0;
}

void sim_power_on(struct sim *s)
{
	if (s->kind == SIM_DISK && !s->dead)
		disk_crash(s);	/* a reboot without a cut still loses the cache */
	s->dead = false;
	s->cut_at = 0;
}

void sim_cut_after(struct sim *s, long n)
{
	s->cut_at = s->ops + n;
}
