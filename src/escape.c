/*
 * Escaping outside text for JSON answers and log lines (see escape.h).
 * Pure, no locks, no allocation.
 */
#include <stdbool.h>
#include <string.h>
#include <kernel/escape.h>

enum esc_mode { ESC_JSON, ESC_LOG, ESC_LOG_WORD };

static const char hexdig[] = "0123456789abcdef";

/* The escape of byte @c in @mode into @e; its length (1 when it stays as is). */
static size_t esc_one(unsigned char c, enum esc_mode mode, char e[8])
{
	bool plain = c >= 0x20 && c < 0x7f;

	if (c == '"' || c == '\\') {
		e[0] = '\\';
		e[1] = (char)c;
		return 2;
	}
	/* In a log line, no value may look like a line's "[ stamp] h0 subsys: " prefix. */
	if (mode != ESC_JSON && (c == '[' || c == ']'))
		plain = false;
	if (mode == ESC_LOG_WORD && (c == ' ' || c == '='))
		plain = false;
	if (plain) {
		e[0] = (char)c;
		return 1;
	}
	if (mode == ESC_JSON) {
		memcpy(e, "\\u00", 4);
		e[4] = hexdig[c >> 4];
		e[5] = hexdig[c & 15];
		return 6;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hexdig[c >> 4];
	e[3] = hexdig[c & 15];
	return 4;
}

static char *esc(char *out, size_t len, const char *in, enum esc_mode mode)
{
	size_t n = 0;

	if (!out || !len)
		return out;
	for (; in && *in; in++) {
		char e[8];
		size_t k = esc_one((unsigned char)*in, mode, e);

		if (n + k >= len)
			break;		/* never half an escape */
		memcpy(out + n, e, k);
		n += k;
	}
	if (mode == ESC_LOG_WORD && n == 0 && len > 1)
		out[n++] = '-';
	out[n] = '\0';
	return out;
}

char *esc_json(char *out, size_t len, const char *in)
{
	return esc(out, len, in, ESC_JSON);
}

char *esc_log(char *out, size_t len, const char *in)
{
	return esc(out, len, in, ESC_LOG);
}

char *esc_log_word(char *out, size_t len, const char *in)
{
	return esc(out, len, in, ESC_LOG_WORD);
}
