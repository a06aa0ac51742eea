/*
 * What the agent's request parser (http.h) and the pull client's response
 * parser (http_client.h) share: the framing of an HTTP/1.1 message head
 * (RFC 9112 section 2: CRLF-ended lines up to a blank one) and header
 * fields (section 5: a token, a colon, a value with optional white space
 * around it). Pure: no locks, no allocation; host-tested through both.
 */
#ifndef KERNEL_HTTP_HEAD_H
#define KERNEL_HTTP_HEAD_H

#include <stddef.h>
#include <stdbool.h>

/* One header field: @name is a token, @value has its white space trimmed. */
struct http_field {
	const char *name;
	size_t nlen;
	const char *value;
	size_t vlen;
};

/* Is [@s, @s + @n) the string @lit, ignoring ASCII case? */
bool http_ieq(const char *s, size_t n, const char *lit);

/* Is @f's name @lit (lower-case), ignoring case? */
static inline bool http_field_is(const struct http_field *f, const char *lit)
{
	return http_ieq(f->name, f->nlen, lit);
}

/*
 * Splits the header line [@s, @s + @n) into @f. -KE_BADMSG if its name
 * is empty or not a token (RFC 9110 5.6.2: white space before the colon,
 * or a line folded onto the previous one, are among what that refuses).
 */
int http_field_split(const char *s, size_t n, struct http_field *f);

/*
 * Called for each line of a head, without its CRLF; @first for the start
 * line. A non-zero return stops the walk and is returned by it.
 */
typedef int (*http_line_fn)(void *ctx, const char *s, size_t n, bool first);

/*
 * Walks the complete head [@head, @head + @len), which ends in the blank
 * line, calling @line for each line before it. 0; -KE_BADMSG for a line
 * not ended by CRLF, one holding a NUL or a CR, a head with no start line
 * or no blank line; or what @line returned.
 */
int http_head_walk(const char *head, size_t len, http_line_fn line, void *ctx);

#endif
