/*
 * HTTP/1.1 client pieces for pulled packs (see http_client.h): RFC 9110
 * and 9112 as far as a GET with one byte range needs. Pure: no locks, no
 * allocation; the response head is collected in its own buffer and parsed
 * line by line once complete.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/http_client.h>
#include <kernel/http_head.h>
#include <kernel/errno.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal digits at *@s (at most @max_digits, value <= @max); advances *@s. */
static int parse_uint(const char **s, unsigned int max_digits, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int n = 0;

	while (is_digit(**s)) {
		if (++n > max_digits)
			return -KE_INVAL;
		v = v * 10 + (uint64_t)(**s - '0');
		(*s)++;
	}
	if (!n || v > max)
		return -KE_INVAL;
	*out = v;
	return 0;
}

/* --- URL and request ------------------------------------------------------ */

int httpc_parse_url(const char *url, struct httpc_url *u)
{
	const char *s = url, *path;
	uint64_t part, port = 80;
	size_t plen;

	memset(u, 0, sizeof(*u));
	if (!url || strlen(url) < 8 || !http_ieq(url, 7, "http://"))
		return -KE_INVAL;
	s += 7;
	for (int i = 0; i < 4; i++) {
		if (parse_uint(&s, 3, 255, &part) || (i < 3 && *s++ != '.'))
			return -KE_INVAL;
		u->ip = u->ip << 8 | (uint32_t)part;
	}
	if (*s == ':') {
		s++;
		if (parse_uint(&s, 5, 65535, &port) || !port)
			return -KE_INVAL;
	}
	if (*s != '/')
		return -KE_INVAL;	/* no path, a name, userinfo, an IPv6 literal */
	path = s;
	plen = strcspn(path, "#");
	if (plen > HTTPC_PATH_MAX)
		return -KE_INVAL;
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)path[i] <= ' ' || (unsigned char)path[i] >= 0x7f)
			return -KE_INVAL;	/* must come percent-encoded */
	memcpy(u->path, path, plen);
	u->port = (uint16_t)port;
	snprintf(u->host, sizeof(u->host), "%u.%u.%u.%u:%u", u->ip >> 24, (u->ip >> 16) & 255,
		 (u->ip >> 8) & 255, u->ip & 255, u->port);
	return 0;
}

size_t httpc_request(char *out, size_t cap, const struct httpc_url *u, uint64_t from,
		     const char *etag, const char *agent)
{
	int n = snprintf(out, cap, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
			 "Accept-Encoding: identity\r\nConnection: close\r\n",
			 u->path, u->host, agent);
	int m = 0;

	if (n < 0 || (size_t)n >= cap)
		return 0;
	if (from)
		m = etag && *etag ? snprintf(out + n, cap - (size_t)n,
					     "Range: bytes=%llu-\r\nIf-Range: %s\r\n\r\n",
					     (unsigned long long)from, etag)
				  : snprintf(out + n, cap - (size_t)n, "Range: bytes=%llu-\r\n\r\n",
					     (unsigned long long)from);
	else
		m = snprintf(out + n, cap - (size_t)n, "\r\n");
	if (m < 0 || (size_t)m >= cap - (size_t)n)
		return 0;
	return (size_t)(n + m);
}

/* --- the response head ---------------------------------------------------- */

void httpc_init(struct httpc_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->state = HTTPC_HEAD;
	r->content_length = -1;
	r->range_total = -1;
}

/* "HTTP/1.x SSS[ reason]" */
static int parse_status_line(struct httpc_resp *r, const char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) || !is_digit(s[7]) || s[8] != ' ' ||
	    !is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]) || (n > 12 && s[12] != ' '))
		return -KE_BADMSG;
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	return r->status >= 100 ? 0 : -KE_BADMSG;
}

static int parse_content_length(struct httpc_resp *r, const char *v, size_t n)
{
	uint64_t x;
	const char *s = v;
	char buf[24];

	if (!n || n >= sizeof(buf))
		return -KE_BADMSG;
	memcpy(buf, v, n);
	buf[n] = '\0';
	s = buf;
	if (parse_uint(&s, 18, (uint64_t)1 << 60, &x) || *s)
		return -KE_BADMSG;
	/* Repeated with another value: which one frames the body? (RFC 9112 6.3) */
	if (r->content_length >= 0 && (uint64_t)r->content_length != x)
		return -KE_BADMSG;
	r->content_length = (long long)x;
	return 0;
}

/* "bytes first-last/total", or with "*" for the total; anything else is no range. */
static void parse_content_range(struct httpc_resp *r, const char *v, size_t n)
{
	char buf[64];
	const char *s = buf;
	uint64_t first, last, total;

	if (n < 6 || n >= sizeof(buf) || !http_ieq(v, 6, "bytes "))
		return;
	memcpy(buf, v + 6, n - 6);
	buf[n - 6] = '\0';
	if (parse_uint(&s, 18, (uint64_t)1 << 60, &first) || *s++ != '-' ||
	    parse_uint(&s, 18, (uint64_t)1 << 60, &last) || *s++ != '/' || last < first)
		return;
	if (*s == '*' && !s[1]) {
		r->range_total = -1;
	} else {
		if (parse_uint(&s, 18, (uint64_t)1 << 60, &total) || *s || last >= total)
			return;
		r->range_total = (long long)total;
	}
	r->range_first = first;
	r->range_last = last;
	r->has_range = true;
}

/* A strong entity tag, for If-Range (RFC 9110 8.8.3, 13.1.5: weak ones may not be used). */
static void parse_etag(struct httpc_resp *r, const char *v, size_t n)
{
	if (n < 2 || n >= sizeof(r->etag) || v[0] != '"' || v[n - 1] != '"')
		return;
	for (size_t i = 1; i + 1 < n; i++)
		if (v[i] == '"' || (unsigned char)v[i] < 0x21 || (unsigned char)v[i] == 0x7f)
			return;
	memcpy(r->etag, v, n);
	r->etag[n] = '\0';
}

static int parse_header(struct httpc_resp *r, const char *s, size_t n)
{
	struct http_field f;

	if (http_field_split(s, n, &f))
		return -KE_BADMSG;	/* no name, white space before the colon, a folded line */
	if (http_field_is(&f, "content-length"))
		return parse_content_length(r, f.value, f.vlen);
	if (http_field_is(&f, "content-range"))
		parse_content_range(r, f.value, f.vlen);
	else if (http_field_is(&f, "etag"))
		parse_etag(r, f.value, f.vlen);
	else if (http_field_is(&f, "transfer-encoding"))
		r->chunked = true;
	else if (http_field_is(&f, "connection"))
		r->close = http_ieq(f.value, f.vlen, "close");
	return 0;
}

static int parse_line(void *ctx, const char *s, size_t n, bool first)
{
	return first ? parse_status_line(ctx, s, n) : parse_header(ctx, s, n);
}

size_t httpc_feed(struct httpc_resp *r, const char *data, size_t len)
{
	size_t i;

	if (r->state != HTTPC_HEAD)
		return 0;
	for (i = 0; i < len; i++) {
		if (r->used >= sizeof(r->head)) {
			r->state = HTTPC_ERROR;
			return i;
		}
		r->head[r->used++] = data[i];
		if (r->used < 4 || memcmp(r->head + r->used - 4, "\r\n\r\n", 4))
			continue;
		if (http_head_walk(r->head, r->used, parse_line, r)) {
			r->state = HTTPC_ERROR;
			return i + 1;
		}
		if (r->status < 200) {		/* 1xx: the real answer follows */
			httpc_init(r);
			continue;
		}
		r->state = HTTPC_BODY;
		return i + 1;
	}
	return i;
}

enum httpc_plan httpc_plan_body(const struct httpc_resp *r, uint64_t have, uint64_t size)
{
	if (r->status != 200 && r->status != 206)
		return HTTPC_BAD_STATUS;
	if (r->chunked)
		return HTTPC_BAD_ENCODING;
	if (r->status == 200)
		return r->content_length >= 0 && (uint64_t)r->content_length != size ?
		       HTTPC_BAD_SIZE : HTTPC_RESTART;
	if (!r->has_range || r->range_first != have || !have)
		return HTTPC_RETRY;
	if ((r->range_total >= 0 && (uint64_t)r->range_total != size) || r->range_last >= size)
		return HTTPC_BAD_SIZE;
	if (r->content_length >= 0 &&
	    (uint64_t)r->content_length != r->range_last - r->range_first + 1)
		return HTTPC_RETRY;		/* inconsistent: do not trust its framing */
	return HTTPC_APPEND;
}
