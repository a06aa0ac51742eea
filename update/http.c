/*
 * HTTP/1.1 request heads for the OTA agent (see http.h). Pure: no locks,
 * no allocation; the head is collected in the request's own buffer and
 * parsed once the blank line arrives. Only what the agent needs is
 * understood: the request line, Content-Length, Expect and Connection.
 * Transfer-Encoding is refused (411: send a Content-Length), so a body's
 * size is always known before it arrives.
 */
#include <string.h>
#include <kernel/http.h>
#include <kernel/http_head.h>

void http_init(struct http_req *r)
{
	memset(r, 0, sizeof(*r));
	r->state = HTTP_HEAD;
	r->content_length = -1;
}

static size_t fail(struct http_req *r, int status, size_t consumed)
{
	r->state = HTTP_ERROR;
	r->status = status;
	return consumed;
}

/* "METHOD SP path SP HTTP/1.x" */
static int parse_request_line(struct http_req *r, const char *s, size_t n)
{
	const char *sp1 = memchr(s, ' ', n), *sp2;
	size_t mlen, plen;

	if (!sp1)
		return 400;
	mlen = (size_t)(sp1 - s);
	sp2 = memchr(sp1 + 1, ' ', n - mlen - 1);
	if (!sp2 || mlen == 0)
		return 400;
	plen = (size_t)(sp2 - sp1 - 1);
	if (mlen >= sizeof(r->method))
		return 501;
	for (size_t i = 0; i < mlen; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return 400;
	if (plen == 0 || sp1[1] != '/')
		return 400;
	if (plen >= sizeof(r->path))
		return 414;
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)sp1[1 + i] <= ' ' || (unsigned char)sp1[1 + i] >= 0x7f)
			return 400;
	if (n - (size_t)(sp2 + 1 - s) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return sp2[1] == 'H' ? 505 : 400;
	memcpy(r->method, s, mlen);
	memcpy(r->path, sp1 + 1, plen);
	return 0;
}

static int parse_length(struct http_req *r, const char *v, size_t n, long long max_body)
{
	long long x = 0;

	if (n == 0 || r->content_length >= 0)
		return 400;	/* empty, or given twice */
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 400;
		if (x > (max_body + 1) * 10)
			return 413;
		x = x * 10 + (v[i] - '0');
	}
	if (x > max_body)
		return 413;
	r->content_length = x;
	return 0;
}

static int parse_header(struct http_req *r, const char *s, size_t n, long long max_body)
{
	struct http_field f;

	if (http_field_split(s, n, &f))
		return 400;
	if (http_field_is(&f, "content-length"))
		return parse_length(r, f.value, f.vlen, max_body);
	if (http_field_is(&f, "transfer-encoding"))
		return 411;
	if (http_field_is(&f, "expect"))
		r->expect_continue = http_ieq(f.value, f.vlen, "100-continue");
	if (http_field_is(&f, "connection"))
		r->close = http_ieq(f.value, f.vlen, "close");
	return 0;
}

struct head_walk {
	struct http_req *r;
	long long max_body;
};

/* One line of the head; a status to answer if it is refused. */
static int parse_line(void *ctx, const char *s, size_t n, bool first)
{
	struct head_walk *w = ctx;

	return first ? parse_request_line(w->r, s, n) : parse_header(w->r, s, n, w->max_body);
}

size_t http_feed(struct http_req *r, const char *data, size_t len, long long max_body)
{
	size_t i;

	if (r->state != HTTP_HEAD)
		return 0;
	for (i = 0; i < len; i++) {
		int rc;

		if (r->used >= sizeof(r->head))
			return fail(r, 431, i);
		r->head[r->used++] = data[i];
		if (r->used < 4 || memcmp(r->head + r->used - 4, "\r\n\r\n", 4))
			continue;
		rc = http_head_walk(r->head, r->used, parse_line, &(struct head_walk){ r, max_body });
		if (rc)
			return fail(r, rc < 0 ? 400 : rc, i + 1);
		r->state = HTTP_BODY;
		return i + 1;
	}
	return i;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 422: return "Unprocessable Entity";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}
