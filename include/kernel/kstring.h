/*
 * Word-at-a-time copy and clear for the large buffers of the update path
 * (module pages, sections, ELF headers read from a pack). picolibc's
 * memcpy and memset are byte loops (its size-optimised build): six and
 * four instructions a byte. These move eight bytes in about two
 * instructions whenever source and destination are equally aligned (four
 * bytes at a time when they agree modulo 4), and fall back to bytes
 * otherwise. Same contracts as memcpy (no overlap) and memset(.., 0, ..).
 *
 * Header-only and pure, so the host-tested loader (and anything else
 * that compiles it) needs nothing more; not inlined, so each file using
 * them holds one copy (under QEMU, code is translated before it runs:
 * its size counts on a cold path).
 */
#ifndef KERNEL_KSTRING_H
#define KERNEL_KSTRING_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t __attribute__((may_alias)) kstr_u64;
typedef uint32_t __attribute__((may_alias)) kstr_u32;

static __attribute__((noinline, unused)) void *kmemcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (!(((uintptr_t)d ^ (uintptr_t)s) & 7)) {
		for (; n && ((uintptr_t)d & 7); n--)
			*d++ = *s++;
		for (; n >= 32; n -= 32, d += 32, s += 32) {
			kstr_u64 a = ((const kstr_u64 *)s)[0], b = ((const kstr_u64 *)s)[1];
			kstr_u64 c = ((const kstr_u64 *)s)[2], e = ((const kstr_u64 *)s)[3];

			((kstr_u64 *)d)[0] = a;
			((kstr_u64 *)d)[1] = b;
			((kstr_u64 *)d)[2] = c;
			((kstr_u64 *)d)[3] = e;
		}
		for (; n >= 8; n -= 8, d += 8, s += 8)
			*(kstr_u64 *)d = *(const kstr_u64 *)s;
	} else if (!(((uintptr_t)d ^ (uintptr_t)s) & 3)) {
		for (; n && ((uintptr_t)d & 3); n--)
			*d++ = *s++;
		for (; n >= 16; n -= 16, d += 16, s += 16) {
			kstr_u32 a = ((const kstr_u32 *)s)[0], b = ((const kstr_u32 *)s)[1];
			kstr_u32 c = ((const kstr_u32 *)s)[2], e = ((const kstr_u32 *)s)[3];

			((kstr_u32 *)d)[0] = a;
			((kstr_u32 *)d)[1] = b;
			((kstr_u32 *)d)[2] = c;
			((kstr_u32 *)d)[3] = e;
		}
		for (; n >= 4; n -= 4, d += 4, s += 4)
			*(kstr_u32 *)d = *(const kstr_u32 *)s;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

static __attribute__((noinline, unused)) void kmemzero(void *dst, size_t n)
{
	uint8_t *d = dst;

	for (; n && ((uintptr_t)d & 7); n--)
		*d++ = 0;
	for (; n >= 32; n -= 32, d += 32) {
		((kstr_u64 *)d)[0] = 0;
		((kstr_u64 *)d)[1] = 0;
		((kstr_u64 *)d)[2] = 0;
		((kstr_u64 *)d)[3] = 0;
	}
	for (; n >= 8; n -= 8, d += 8)
		*(kstr_u64 *)d = 0;
	while (n--)
		*d++ = 0;
}

#endif
