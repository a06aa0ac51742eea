/*
 * Hand-built frames for the network stack tests (not a test binary):
 * Ethernet, ARP, IPv4, ICMP, UDP and TCP with their own checksum code, so
 * the stack's checksums are checked against an independent one.
 *
 * List it in `// unit-srcs:` as test/unit/net/frames.c.
 */
#ifndef UNIT_NET_FRAMES_H
#define UNIT_NET_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define FB_MAX		1600

struct fb_tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *opts;	/* raw option bytes, padded by the caller */
	size_t optlen;
	const uint8_t *data;
	size_t dlen;
};

/* Checksum over @len bytes starting from @sum (RFC 1071). */
uint16_t fb_csum(uint32_t sum, const uint8_t *p, size_t len);
uint16_t fb_get16(const uint8_t *p);
uint32_t fb_get32(const uint8_t *p);

size_t fb_arp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t op,
	      const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa);
/* Ethernet + IPv4 (20-byte header) around @l4 (@l4len bytes). */
size_t fb_ip(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip,
	     uint32_t dip, uint8_t proto, const uint8_t *l4, size_t l4len);
size_t fb_icmp_echo(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip,
		    uint32_t dip, uint16_t id, uint16_t seq, const uint8_t *data, size_t len);
size_t fb_udp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip,
	      uint32_t dip, uint16_t sport, uint16_t dport, const uint8_t *data, size_t len);
size_t fb_tcp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip,
	      uint32_t dip, const struct fb_tcp *t);

/* Rewrites the IPv4 header checksum of an Ethernet frame after a change. */
void fb_fix_ip_csum(uint8_t *f);
/* Rewrites IPv4 and ICMP/TCP/UDP checksums, as far as the lengths allow. */
void fb_fix_checksums(uint8_t *f, size_t len);

/* Parsed view of a TCP frame the stack sent (Ethernet/IPv4/TCP). */
struct fb_tcp_view {
	uint32_t sip, dip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	uint16_t mss;		/* 0 if no option */
	const uint8_t *data;
	size_t dlen;
};
/* Checks every header and checksum; false if anything is off. */
bool fb_parse_tcp(const uint8_t *f, size_t len, struct fb_tcp_view *v);
/* Checks Ethernet/IPv4 headers and IP checksum; returns the L4 protocol or -1. */
int fb_parse_ip(const uint8_t *f, size_t len, const uint8_t **l4, size_t *l4len,
		uint32_t *sip, uint32_t *dip);

#endif
