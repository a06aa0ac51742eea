/*
 * The job message of pulled updates (see pull.h): a strict JSON reader
 * for one object, which keeps the four members a job needs and skips any
 * other value. Pure: no locks, no allocation; host-tested
 * (test/unit/test_pull_job.c). The sender is not trusted: every byte is
 * checked, nesting is bounded, and numbers never overflow.
 */
#include <string.h>
#include <kernel/pull.h>
#include <kernel/errno.h>

#define JSON_MAX_DEPTH	16
#define HAVE_SEQ	1
#define HAVE_URL	2
#define HAVE_SIZE	4
#define HAVE_SHA	8

struct cur {
	const char *s, *end;
};

static void ws(struct cur *c)
{
	while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r'))
		c->s++;
}

static bool eat(struct cur *c, char ch)
{
	ws(c);
	if (c->s < c->end && *c->s == ch) {
		c->s++;
		return true;
	}
	return false;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char b = s[i];
		size_t k;
		uint32_t cp;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			k = 1, cp = b & 0x1f;
		else if (b >= 0xe0 && b <= 0xef)
			k = 2, cp = b & 0x0f;
		else if (b >= 0xf0 && b <= 0xf4)
			k = 3, cp = b & 0x07;
		else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/*
 * A string; its decoded bytes go to @out (@cap with the NUL) if non-NULL.
 * Escaped code points above 0x7f are stored as 0xff: nothing a job needs
 * may contain them, and 0xff is never valid where it lands. *@fits is
 * false if the string was cut.
 */
static bool string(struct cur *c, char *out, size_t cap, bool *fits)
{
	size_t n = 0;

	if (fits)
		*fits = true;
	if (!eat(c, '"'))
		return false;
	while (c->s < c->end) {
		unsigned char ch = (unsigned char)*c->s++;

		if (ch == '"') {
			if (out)
				out[n < cap ? n : cap - 1] = '\0';
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch == '\\') {
			if (c->s >= c->end)
				return false;
			ch = (unsigned char)*c->s++;
			switch (ch) {
			case '"': case '\\': case '/': break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'u': {
				uint32_t cp = 0;

				if (c->end - c->s < 4)
					return false;
				for (int i = 0; i < 4; i++) {
					int h = hexval(*c->s++);

					if (h < 0)
						return false;
					cp = cp << 4 | (uint32_t)h;
				}
				ch = cp < 0x80 ? (unsigned char)cp : 0xff;
				break;
			}
			default:
				return false;
			}
		}
		if (out && n + 1 < cap)
			out[n] = (char)ch;
		else if (out && fits)
			*fits = false;
		n++;
	}
	return false;
}

/* A number; *@is_int when it has no fraction or exponent, then *@v (clamped to ±2^62). */
static bool number(struct cur *c, bool *is_int, long long *v)
{
	bool neg = false;
	long long x = 0;
	const long long cap = 1LL << 62;

	ws(c);
	*is_int = true;
	if (c->s < c->end && *c->s == '-') {
		neg = true;
		c->s++;
	}
	if (c->s >= c->end || *c->s < '0' || *c->s > '9')
		return false;
	if (*c->s == '0') {
		c->s++;
	} else {
		while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
			x = x <= (cap - 9) / 10 ? x * 10 + (*c->s - '0') : cap;
			c->s++;
		}
	}
	if (c->s < c->end && *c->s == '.') {
		*is_int = false;
		c->s++;
		if (c->s >= c->end || *c->s < '0' || *c->s > '9')
			return false;
		while (c->s < c->end && *c->s >= '0' && *c->s <= '9')
			c->s++;
	}
	if (c->s < c->end && (*c->s == 'e' || *c->s == 'E')) {
		*is_int = false;
		c->s++;
		if (c->s < c->end && (*c->s == '+' || *c->s == '-'))
			c->s++;
		if (c->s >= c->end || *c->s < '0' || *c->s > '9')
			return false;
		while (c->s < c->end && *c->s >= '0' && *c->s <= '9')
			c->s++;
	}
	*v = neg ? -x : x;
	return true;
}

static bool literal(struct cur *c, const char *word)
{
	size_t n = strlen(word);

	ws(c);
	if ((size_t)(c->end - c->s) < n || memcmp(c->s, word, n))
		return false;
	c->s += n;
	return true;
}

static bool value(struct cur *c, int depth);

static bool object_or_array(struct cur *c, int depth, char open, char close)
{
	if (depth > JSON_MAX_DEPTH || !eat(c, open))
		return false;
	if (eat(c, close))
		return true;
	do {
		if (open == '{' && (!string(c, NULL, 0, NULL) || !eat(c, ':')))
			return false;
		if (!value(c, depth + 1))
			return false;
	} while (eat(c, ','));
	return eat(c, close);
}

/* Any value, skipped. */
static bool value(struct cur *c, int depth)
{
	bool is_int;
	long long v;

	ws(c);
	if (c->s >= c->end)
		return false;
	switch (*c->s) {
	case '"': return string(c, NULL, 0, NULL);
	case '{': return object_or_array(c, depth, '{', '}');
	case '[': return object_or_array(c, depth, '[', ']');
	case 't': return literal(c, "true");
	case 'f': return literal(c, "false");
	case 'n': return literal(c, "null");
	default: return number(c, &is_int, &v);
	}
}

static bool sha256_hex(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;	/* lowercase, as the contract says */
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
	return true;
}

/* One member of the top-level object; the four a job needs are kept. */
static bool member(struct cur *c, struct pull_job *job, unsigned int *have)
{
	char key[8], sha[66];
	bool fits, is_int;
	long long v;

	if (!string(c, key, sizeof(key), &fits) || !eat(c, ':'))
		return false;
	ws(c);
	if (fits && !strcmp(key, "seq")) {
		if (!number(c, &is_int, &v) || !is_int || v < 0 || v > 0xffffffffLL)
			return false;
		job->seq = (uint32_t)v;
		*have |= HAVE_SEQ;
	} else if (fits && !strcmp(key, "size")) {
		if (!number(c, &is_int, &v) || !is_int)
			return false;
		job->size = v;
		*have |= HAVE_SIZE;
	} else if (fits && !strcmp(key, "url")) {
		if (!string(c, job->url, sizeof(job->url), &fits))
			return false;
		if (!fits)
			job->url[0] = '\0';	/* too long for any URL we take */
		*have |= HAVE_URL;
	} else if (fits && !strcmp(key, "sha256")) {
		if (!string(c, sha, sizeof(sha), &fits) || !fits || !sha256_hex(sha, job->sha256))
			return false;
		*have |= HAVE_SHA;
	} else {
		return value(c, 1);
	}
	return true;
}

int pull_job_parse(const char *json, size_t len, struct pull_job *job)
{
	struct cur c = { json, json + len };
	unsigned int have = 0;

	memset(job, 0, sizeof(*job));
	if (!json || !utf8_valid((const unsigned char *)json, len) || !eat(&c, '{'))
		return -KE_INVAL;
	if (!eat(&c, '}')) {
		do {
			if (!member(&c, job, &have))
				return -KE_INVAL;
		} while (eat(&c, ','));
		if (!eat(&c, '}'))
			return -KE_INVAL;
	}
	ws(&c);
	if (c.s != c.end || have != (HAVE_SEQ | HAVE_URL | HAVE_SIZE | HAVE_SHA))
		return -KE_INVAL;
	return 0;
}

bool pull_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (!n || n >= PULL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.' || ch == ':' || ch == '-'))
			return false;
	}
	return true;
}
