/*
 * HTTP/1.1 message heads, as the agent's server (http.c) and the pull
 * client (http_client.c) both read them: line framing and header fields.
 * Pure: no locks, no allocation.
 */
#include <string.h>
#include <kernel/http_head.h>
#include <kernel/errno.h>

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

bool http_ieq(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!lit[i] || lower(s[i]) != lower(lit[i]))
			return false;
	return !lit[i];
}

/* RFC 9110 5.6.2: tchar. */
static bool token_char(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

int http_field_split(const char *s, size_t n, struct http_field *f)
{
	const char *colon = memchr(s, ':', n);

	if (!colon || colon == s)
		return -KE_BADMSG;
	f->name = s;
	f->nlen = (size_t)(colon - s);
	for (size_t i = 0; i < f->nlen; i++)
		if (!token_char(s[i]))
			return -KE_BADMSG;
	f->value = colon + 1;
	f->vlen = n - f->nlen - 1;
	while (f->vlen && ows(*f->value))
		f->value++, f->vlen--;
	while (f->vlen && ows(f->value[f->vlen - 1]))
		f->vlen--;
	return 0;
}

int http_head_walk(const char *head, size_t len, http_line_fn line, void *ctx)
{
	const char *p = head, *end = head + len;
	bool first = true;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n;
		int rc;

		if (!eol || eol == p || eol[-1] != '\r')
			return -KE_BADMSG;	/* bare LF, or no line end */
		n = (size_t)(eol - 1 - p);
		if (!n)
			return first ? -KE_BADMSG : 0;	/* the blank line */
		if (memchr(p, '\0', n) || memchr(p, '\r', n))
			return -KE_BADMSG;
		rc = line(ctx, p, n, first);
		if (rc)
			return rc;
		first = false;
		p = eol + 1;
	}
	return -KE_BADMSG;
}
