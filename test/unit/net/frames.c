/*
 * Frame builders and parsers for the network stack tests; see frames.h.
 * Written independently of src/net/ so checksums cross-check.
 */
#include <string.h>
#include "net/frames.h"

uint16_t fb_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t fb_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

uint16_t fb_csum(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t s = sum;

	while (len > 1) {
		s += fb_get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t pseudo(uint32_t sip, uint32_t dip, uint8_t proto, size_t len)
{
	return (sip >> 16) + (sip & 0xffff) + (dip >> 16) + (dip & 0xffff) + proto + (uint32_t)len;
}

static size_t fb_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
	return 14;
}

size_t fb_arp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t op,
	      const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	uint8_t *a = f + fb_eth(f, dst, src, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	memset(a + 28, 0, 18);
	return 60;
}

size_t fb_ip(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip,
	     uint32_t dip, uint8_t proto, const uint8_t *l4, size_t l4len)
{
	uint8_t *h = f + fb_eth(f, dst, src, 0x0800);

	h[0] = 0x45;
	h[1] = 0;
	put16(h + 2, (uint16_t)(20 + l4len));
	put16(h + 4, 0x1234);
	put16(h + 6, 0x4000);
	h[8] = 64;
	h[9] = proto;
	put16(h + 10, 0);
	put32(h + 12, sip);
	put32(h + 16, dip);
	put16(h + 10, fb_csum(0, h, 20));
	memmove(h + 20, l4, l4len);
	return 34 + l4len;
}

size_t fb_icmp_echo(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip,
		    uint32_t dip, uint16_t id, uint16_t seq, const uint8_t *data, size_t len)
{
	uint8_t m[FB_MAX];

	m[0] = 8;
	m[1] = 0;
	put16(m + 2, 0);
	put16(m + 4, id);
	put16(m + 6, seq);
	memcpy(m + 8, data, len);
	put16(m + 2, fb_csum(0, m, 8 + len));
	return fb_ip(f, dst, src, sip, dip, 1, m, 8 + len);
}

size_t fb_udp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip,
	      uint32_t dip, uint16_t sport, uint16_t dport, const uint8_t *data, size_t len)
{
	uint8_t u[FB_MAX];
	uint16_t sum;

	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + len));
	put16(u + 6, 0);
	memcpy(u + 8, data, len);
	sum = fb_csum(pseudo(sip, dip, 17, 8 + len), u, 8 + len);
	put16(u + 6, sum ? sum : 0xffff);
	return fb_ip(f, dst, src, sip, dip, 17, u, 8 + len);
}

size_t fb_tcp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip,
	      uint32_t dip, const struct fb_tcp *t)
{
	uint8_t s[FB_MAX];
	size_t hl = 20 + t->optlen, len = hl + t->dlen;

	put16(s, t->sport);
	put16(s + 2, t->dport);
	put32(s + 4, t->seq);
	put32(s + 8, t->ack);
	s[12] = (uint8_t)((hl / 4) << 4);
	s[13] = t->flags;
	put16(s + 14, t->wnd);
	put32(s + 16, 0);
	if (t->optlen)
		memcpy(s + 20, t->opts, t->optlen);
	if (t->dlen)
		memcpy(s + hl, t->data, t->dlen);
	put16(s + 16, fb_csum(pseudo(sip, dip, 6, len), s, len));
	return fb_ip(f, dst, src, sip, dip, 6, s, len);
}

int fb_parse_ip(const uint8_t *f, size_t len, const uint8_t **l4, size_t *l4len,
		uint32_t *sip, uint32_t *dip)
{
	const uint8_t *h = f + 14;
	size_t tot;

	if (len < 34 || fb_get16(f + 12) != 0x0800 || h[0] != 0x45)
		return -1;
	tot = fb_get16(h + 2);
	if (tot < 20 || tot + 14 > len || fb_csum(0, h, 20) != 0)
		return -1;
	*l4 = h + 20;
	*l4len = tot - 20;
	*sip = fb_get32(h + 12);
	*dip = fb_get32(h + 16);
	return h[9];
}

bool fb_parse_tcp(const uint8_t *f, size_t len, struct fb_tcp_view *v)
{
	const uint8_t *s;
	size_t n, hl, i;

	memset(v, 0, sizeof(*v));
	if (fb_parse_ip(f, len, &s, &n, &v->sip, &v->dip) != 6 || n < 20)
		return false;
	hl = (size_t)(s[12] >> 4) * 4;
	if (hl < 20 || hl > n || fb_csum(pseudo(v->sip, v->dip, 6, n), s, n) != 0)
		return false;
	v->sport = fb_get16(s);
	v->dport = fb_get16(s + 2);
	v->seq = fb_get32(s + 4);
	v->ack = fb_get32(s + 8);
	v->flags = s[13];
	v->wnd = fb_get16(s + 14);
	v->data = s + hl;
	v->dlen = n - hl;
	for (i = 20; i + 3 < hl; i++)
		if (s[i] == 2 && s[i + 1] == 4) {
			v->mss = fb_get16(s + i + 2);
			break;
		}
	return true;
}

void fb_fix_ip_csum(uint8_t *f)
{
	size_t hl = (size_t)(f[14] & 15) * 4;

	f[24] = f[25] = 0;
	if (hl >= 20)
		put16(f + 24, fb_csum(0, f + 14, hl));
}

/* The offset of the checksum within an ICMP, TCP or UDP header, or -1. */
static int l4_csum_off(uint8_t proto)
{
	switch (proto) {
	case 1:
		return 2;
	case 6:
		return 16;
	case 17:
		return 6;
	default:
		return -1;
	}
}

void fb_fix_checksums(uint8_t *f, size_t len)
{
	size_t hl, tot;
	uint8_t *l4;
	uint32_t sum = 0;
	int off;

	if (len < 34 || fb_get16(f + 12) != 0x0800)
		return;
	hl = (size_t)(f[14] & 15) * 4;
	if (hl < 20 || 14 + hl > len)
		return;
	fb_fix_ip_csum(f);
	tot = fb_get16(f + 16);
	off = l4_csum_off(f[23]);
	if (tot < hl || 14 + tot > len || off < 0 || tot - hl < (size_t)off + 2)
		return;
	l4 = f + 14 + hl;
	put16(l4 + off, 0);
	if (f[23] != 1)
		sum = pseudo(fb_get32(f + 26), fb_get32(f + 30), f[23], tot - hl);
	put16(l4 + off, fb_csum(sum, l4, tot - hl));
}
