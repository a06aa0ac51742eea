/*
 * Escaping text that came from outside (a pack's names, an HTTP peer, the
 * journal) before it goes into a JSON answer or a UART log line, so that
 * it can neither end the string it sits in nor start a line or a field of
 * its own. Pure: host-tested (test/unit/test_escape.c).
 *
 * Every function writes a NUL-terminated result into @out (@len bytes,
 * @len > 0), cutting only between whole escapes, and returns @out, so a
 * call can sit in a printf argument list.
 */
#ifndef KERNEL_ESCAPE_H
#define KERNEL_ESCAPE_H

#include <stddef.h>

/*
 * The contents of a JSON string: `"` and `\` backslashed, control
 * characters and every byte above 0x7e as \u00XX (so the answer is plain
 * ASCII and valid JSON whatever bytes came in).
 */
char *esc_json(char *out, size_t len, const char *in);

/*
 * A quoted log value (key="..."): `"` and `\` backslashed, anything that
 * is not printable ASCII as \xNN, and `[` `]` as \x5b \x5d, so no value
 * can hold something that looks like a log line's prefix.
 */
char *esc_log(char *out, size_t len, const char *in);

/*
 * An unquoted log value (key=...): as esc_log(), and space and `=` as
 * \x20 and \x3d as well, so the value stays one field. An empty string
 * becomes "-".
 */
char *esc_log_word(char *out, size_t len, const char *in);

#endif
