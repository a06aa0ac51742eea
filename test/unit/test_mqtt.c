// unit-srcs: update/mqtt.c src/errno.c
/*
 * The board's MQTT 3.1.1 codec (update/mqtt.c): encoded packets compared
 * byte for byte with ones written out by hand from the OASIS standard's
 * figures; the stream decoder fed in every split; every way a broker's
 * packet can break the spec's rules refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/mqtt.h>
#include <kernel/errno.h>

#define STR(s)	s, (sizeof(s) - 1)

static void expect_bytes(const uint8_t *got, size_t n, const uint8_t *want, size_t wn)
{
	assert_int_equal(n, wn);
	assert_memory_equal(got, want, wn);
}

/* --- encoders ------------------------------------------------------------- */

static void test_connect_with_will(void **state)
{
	static const char will[] = "{\"state\": \"offline\"}";
	struct mqtt_will w = { "lukos/b1/state", will, strlen(will), 1, true };
	uint8_t out[128];
	static const uint8_t want[] = {
		0x10, 52,			/* CONNECT, remaining length: 10 + 4 + 16 + 22 */
		0, 4, 'M', 'Q', 'T', 'T', 4,	/* protocol name and level 4 (3.1.1) */
		0x2e,				/* will retain, will QoS 1, will flag, clean session */
		0, 30,				/* keep-alive */
		0, 2, 'b', '1',
		0, 14, 'l', 'u', 'k', 'o', 's', '/', 'b', '1', '/', 's', 't', 'a', 't', 'e',
		0, 20, '{', '"', 's', 't', 'a', 't', 'e', '"', ':', ' ', '"', 'o', 'f', 'f', 'l',
		'i', 'n', 'e', '"', '}',
	};
	size_t n = mqtt_put_connect(out, sizeof(out), "b1", 30, true, &w);

	expect_bytes(out, n, want, sizeof(want));
	/* One byte short: nothing. */
	assert_int_equal(mqtt_put_connect(out, sizeof(want) - 1, "b1", 30, true, &w), 0);
}

static void test_connect_plain(void **state)
{
	uint8_t out[64];
	static const uint8_t want[] = { 0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0x01, 0x2c,
					0, 1, 'x' };

	expect_bytes(out, mqtt_put_connect(out, sizeof(out), "x", 300, false, NULL), want, sizeof(want));
	assert_int_equal(mqtt_put_connect(out, sizeof(out), "", 30, true, NULL), 0);
	assert_int_equal(mqtt_put_connect(out, sizeof(out), NULL, 30, true, NULL), 0);
}

static void test_publish(void **state)
{
	uint8_t out[64];
	static const uint8_t qos1[] = { 0x33, 10, 0, 3, 'a', '/', 'b', 0x12, 0x34, 'h', 'i', '!' };
	static const uint8_t qos0[] = { 0x30, 6, 0, 1, 't', 'x', 'y', 'z' };

	expect_bytes(out, mqtt_put_publish(out, sizeof(out), "a/b", "hi!", 3, 1, true, false, 0x1234),
		     qos1, sizeof(qos1));
	mqtt_set_dup(out);
	assert_int_equal(out[0], 0x3b);		/* DUP, QoS 1, RETAIN */
	expect_bytes(out, mqtt_put_publish(out, sizeof(out), "t", "xyz", 3, 0, false, false, 0),
		     qos0, sizeof(qos0));
	mqtt_set_dup(out);
	assert_int_equal(out[0], 0x30);		/* never on QoS 0 */
	/* Refused: QoS 1 without a packet id, QoS 2, wildcards, DUP on QoS 0, empty topic. */
	assert_int_equal(mqtt_put_publish(out, sizeof(out), "t", "x", 1, 1, false, false, 0), 0);
	assert_int_equal(mqtt_put_publish(out, sizeof(out), "t", "x", 1, 2, false, false, 1), 0);
	assert_int_equal(mqtt_put_publish(out, sizeof(out), "a/+", "x", 1, 0, false, false, 0), 0);
	assert_int_equal(mqtt_put_publish(out, sizeof(out), "a/#", "x", 1, 0, false, false, 0), 0);
	assert_int_equal(mqtt_put_publish(out, sizeof(out), "t", "x", 1, 0, false, true, 0), 0);
	assert_int_equal(mqtt_put_publish(out, sizeof(out), "", "x", 1, 0, false, false, 0), 0);
}

/* Remaining lengths of 127, 128, 16383 and 16384 bytes take 1, 2, 2 and 3 bytes (2.2.3). */
static void test_publish_lengths(void **state)
{
	static uint8_t payload[20000], out[20100];
	static const struct { size_t body; uint8_t len[3]; size_t nlen; } cases[] = {
		{ 127, { 0x7f }, 1 }, { 128, { 0x80, 0x01 }, 2 },
		{ 16383, { 0xff, 0x7f }, 2 }, { 16384, { 0x80, 0x80, 0x01 }, 3 },
	};

	for (size_t i = 0; i < 4; i++) {
		size_t plen = cases[i].body - 3;	/* topic "t": 2 + 1 bytes */
		size_t n = mqtt_put_publish(out, sizeof(out), "t", payload, plen, 0, false, false, 0);

		assert_int_equal(n, 1 + cases[i].nlen + cases[i].body);
		assert_memory_equal(out + 1, cases[i].len, cases[i].nlen);
	}
}

static void test_subscribe_puback_ping(void **state)
{
	uint8_t out[64];
	static const uint8_t sub[] = { 0x82, 16, 0, 7, 0, 11, 'l', 'u', 'k', 'o', 's', '/', 'b', '/',
				       'j', 'o', 'b', 1 };
	static const uint8_t ack[] = { 0x40, 2, 0xbe, 0xef };
	static const uint8_t ping[] = { 0xc0, 0 }, disc[] = { 0xe0, 0 };

	expect_bytes(out, mqtt_put_subscribe(out, sizeof(out), 7, "lukos/b/job", 1), sub, sizeof(sub));
	expect_bytes(out, mqtt_put_puback(out, sizeof(out), 0xbeef), ack, sizeof(ack));
	expect_bytes(out, mqtt_put_empty(out, sizeof(out), MQTT_PINGREQ), ping, 2);
	expect_bytes(out, mqtt_put_empty(out, sizeof(out), MQTT_DISCONNECT), disc, 2);
	assert_int_equal(mqtt_put_empty(out, sizeof(out), MQTT_PUBLISH), 0);
	assert_int_equal(mqtt_put_subscribe(out, sizeof(out), 0, "t", 1), 0);
	assert_int_equal(mqtt_put_puback(out, sizeof(out), 0), 0);
	assert_int_equal(mqtt_put_empty(out, 1, MQTT_PINGREQ), 0);
}

/* --- the decoder ------------------------------------------------------------ */

/* A broker's stream: CONNACK, SUBACK, a retained QoS 1 PUBLISH, PUBACK, PINGRESP. */
static const uint8_t stream[] = {
	0x20, 2, 0x00, 0x00,
	0x90, 3, 0x00, 0x01, 0x01,
	0x33, 12, 0, 5, 'a', '/', 'j', 'o', 'b', 0x00, 0x09, '{', '}', '!',
	0x40, 2, 0x00, 0x05,
	0xd0, 0,
};

struct seen {
	int n;
	uint8_t types[8];
	struct mqtt_publish pub;
	uint8_t payload[16];
};

static void feed_all(struct mqtt_rx *rx, const uint8_t *d, size_t len, size_t chunk, struct seen *s)
{
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		while (n) {
			struct mqtt_packet p;
			bool done;
			size_t used = mqtt_rx_feed(rx, d + off, n, &p, &done);

			assert_true(used > 0);
			off += used;
			n -= used;
			if (!done)
				continue;
			s->types[s->n++] = p.type;
			if (p.type == MQTT_PUBLISH) {
				assert_int_equal(mqtt_parse_publish(&p, &s->pub), 0);
				memcpy(s->payload, s->pub.payload, s->pub.payload_kept);
				s->pub.payload = s->payload;
			}
		}
	}
}

static void test_decoder_any_split(void **state)
{
	for (size_t chunk = 1; chunk <= sizeof(stream); chunk++) {
		struct mqtt_rx rx;
		struct seen s = { 0 };

		mqtt_rx_init(&rx);
		feed_all(&rx, stream, sizeof(stream), chunk, &s);
		assert_int_equal(s.n, 5);
		assert_int_equal(s.types[0], MQTT_CONNACK);
		assert_int_equal(s.types[1], MQTT_SUBACK);
		assert_int_equal(s.types[2], MQTT_PUBLISH);
		assert_int_equal(s.types[3], MQTT_PUBACK);
		assert_int_equal(s.types[4], MQTT_PINGRESP);
		assert_int_equal(s.pub.topic_len, 5);
		assert_int_equal(s.pub.qos, 1);
		assert_true(s.pub.retain);
		assert_false(s.pub.dup);
		assert_int_equal(s.pub.pid, 9);
		assert_int_equal(s.pub.payload_len, 3);
		assert_memory_equal(s.pub.payload, "{}!", 3);
		assert_int_equal(rx.state, MQTT_RX_HEADER);
	}
}

static void test_decoder_keeps_a_prefix_of_big_packets(void **state)
{
	static uint8_t big[6000];
	struct mqtt_rx *rx = malloc(sizeof(*rx));
	struct mqtt_packet p;
	struct mqtt_publish pub;
	size_t n = mqtt_put_publish(big, sizeof(big), "lukos/x/job", "", 0, 0, false, false, 0);
	size_t plen = 5000, off = 0;
	bool done = false;
	uint8_t payload[5000];

	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)i;
	n = mqtt_put_publish(big, sizeof(big), "lukos/x/job", payload, plen, 1, false, false, 3);
	mqtt_rx_init(rx);
	while (!done)
		off += mqtt_rx_feed(rx, big + off, n - off < 700 ? n - off : 700, &p, &done);
	assert_int_equal(off, n);
	assert_int_equal(p.kept, MQTT_RX_KEEP);
	assert_int_equal(p.len, 2 + 11 + 2 + plen);
	assert_int_equal(mqtt_parse_publish(&p, &pub), 0);
	assert_int_equal(pub.pid, 3);
	assert_int_equal(pub.payload_len, plen);
	assert_int_equal(pub.payload_kept, MQTT_RX_KEEP - 15);
	assert_memory_equal(pub.payload, payload, pub.payload_kept);
	free(rx);
}

static void test_decoder_lengths(void **state)
{
	/* 268,435,455 (FF FF FF 7F) is the largest; a fifth length byte is an error. */
	static const uint8_t max[] = { 0x30, 0xff, 0xff, 0xff, 0x7f };
	static const uint8_t bad[] = { 0x30, 0xff, 0xff, 0xff, 0xff, 0x01 };
	struct mqtt_rx rx;
	struct mqtt_packet p;
	bool done;

	mqtt_rx_init(&rx);
	assert_int_equal(mqtt_rx_feed(&rx, max, sizeof(max), &p, &done), sizeof(max));
	assert_false(done);
	assert_int_equal(rx.state, MQTT_RX_BODY);
	assert_int_equal(rx.len, MQTT_MAX_REMAINING);
	mqtt_rx_init(&rx);
	assert_int_equal(mqtt_rx_feed(&rx, bad, sizeof(bad), &p, &done), 5);
	assert_int_equal(rx.state, MQTT_RX_ERROR);
	assert_int_equal(mqtt_rx_feed(&rx, bad, sizeof(bad), &p, &done), 0);
	assert_false(done);
}

/* --- parsers: what a broker must never send ----------------------------------- */

static struct mqtt_packet pkt(uint8_t header, const uint8_t *body, size_t len)
{
	return (struct mqtt_packet){ header >> 4, header & 15, body, len, len };
}

static void test_connack(void **state)
{
	bool sp;
	uint8_t code;
	struct mqtt_packet p;

	p = pkt(0x20, (const uint8_t *)"\x01\x00", 2);
	assert_int_equal(mqtt_parse_connack(&p, &sp, &code), 0);
	assert_true(sp);
	assert_int_equal(code, 0);
	p = pkt(0x20, (const uint8_t *)"\x00\x05", 2);
	assert_int_equal(mqtt_parse_connack(&p, &sp, &code), 0);
	assert_int_equal(code, 5);
	assert_string_equal(mqtt_connack_reason(code), "not-authorized");
	p = pkt(0x21, (const uint8_t *)"\x00\x00", 2);		/* flags */
	assert_int_equal(mqtt_parse_connack(&p, &sp, &code), -KE_BADMSG);
	p = pkt(0x20, (const uint8_t *)"\x00\x00\x00", 3);	/* length */
	assert_int_equal(mqtt_parse_connack(&p, &sp, &code), -KE_BADMSG);
	p = pkt(0x20, (const uint8_t *)"\x02\x00", 2);		/* reserved bits */
	assert_int_equal(mqtt_parse_connack(&p, &sp, &code), -KE_BADMSG);
	p = pkt(0x20, (const uint8_t *)"\x01\x03", 2);		/* session with a refusal */
	assert_int_equal(mqtt_parse_connack(&p, &sp, &code), -KE_BADMSG);
	p = pkt(0x90, (const uint8_t *)"\x00\x01\x00", 3);	/* not a CONNACK */
	assert_int_equal(mqtt_parse_connack(&p, &sp, &code), -KE_BADMSG);
}

static void test_suback_puback_pingresp(void **state)
{
	uint16_t pid;
	uint8_t g;
	struct mqtt_packet p;

	p = pkt(0x90, (const uint8_t *)"\x00\x02\x80", 3);
	assert_int_equal(mqtt_parse_suback(&p, &pid, &g), 0);
	assert_int_equal(pid, 2);
	assert_int_equal(g, MQTT_SUBACK_FAILURE);
	p = pkt(0x90, (const uint8_t *)"\x00\x02\x03", 3);	/* no such return code */
	assert_int_equal(mqtt_parse_suback(&p, &pid, &g), -KE_BADMSG);
	p = pkt(0x90, (const uint8_t *)"\x00\x00\x01", 3);	/* packet id 0 */
	assert_int_equal(mqtt_parse_suback(&p, &pid, &g), -KE_BADMSG);
	p = pkt(0x92, (const uint8_t *)"\x00\x02\x01", 3);	/* flags */
	assert_int_equal(mqtt_parse_suback(&p, &pid, &g), -KE_BADMSG);
	p = pkt(0x40, (const uint8_t *)"\x12\x34", 2);
	assert_int_equal(mqtt_parse_puback(&p, &pid), 0);
	assert_int_equal(pid, 0x1234);
	p = pkt(0x40, (const uint8_t *)"\x00\x00", 2);
	assert_int_equal(mqtt_parse_puback(&p, &pid), -KE_BADMSG);
	p = pkt(0x40, (const uint8_t *)"\x00\x01\x00", 3);
	assert_int_equal(mqtt_parse_puback(&p, &pid), -KE_BADMSG);
	p = pkt(0xd0, NULL, 0);
	assert_int_equal(mqtt_parse_pingresp(&p), 0);
	p = pkt(0xd0, (const uint8_t *)"x", 1);
	assert_int_equal(mqtt_parse_pingresp(&p), -KE_BADMSG);
	p = pkt(0xd1, NULL, 0);
	assert_int_equal(mqtt_parse_pingresp(&p), -KE_BADMSG);
}

static void test_publish_refused(void **state)
{
	struct mqtt_publish pub;
	struct mqtt_packet p;

	p = pkt(0x30, (const uint8_t *)"\x00\x01tpay", 6);
	assert_int_equal(mqtt_parse_publish(&p, &pub), 0);
	assert_int_equal(pub.qos, 0);
	assert_int_equal(pub.pid, 0);
	assert_int_equal(pub.payload_len, 3);
	p = pkt(0x36, (const uint8_t *)"\x00\x01t\x00\x01", 5);	/* QoS 3 */
	assert_int_equal(mqtt_parse_publish(&p, &pub), -KE_BADMSG);
	p = pkt(0x38, (const uint8_t *)"\x00\x01tx", 4);		/* DUP on QoS 0 */
	assert_int_equal(mqtt_parse_publish(&p, &pub), -KE_BADMSG);
	p = pkt(0x32, (const uint8_t *)"\x00\x01t\x00\x00", 5);	/* packet id 0 */
	assert_int_equal(mqtt_parse_publish(&p, &pub), -KE_BADMSG);
	p = pkt(0x32, (const uint8_t *)"\x00\x05t\x00\x01", 5);	/* topic past the end */
	assert_int_equal(mqtt_parse_publish(&p, &pub), -KE_BADMSG);
	p = pkt(0x30, (const uint8_t *)"\x00\x00xx", 4);		/* empty topic */
	assert_int_equal(mqtt_parse_publish(&p, &pub), -KE_BADMSG);
	p = pkt(0x30, (const uint8_t *)"\x00\x03a/#", 5);	/* wildcard */
	assert_int_equal(mqtt_parse_publish(&p, &pub), -KE_BADMSG);
	p = pkt(0x30, (const uint8_t *)"\x00\x03a\0b", 5);	/* NUL */
	assert_int_equal(mqtt_parse_publish(&p, &pub), -KE_BADMSG);
	p = pkt(0x30, (const uint8_t *)"\x00", 1);
	assert_int_equal(mqtt_parse_publish(&p, &pub), -KE_BADMSG);
}

/* Decoding what the encoder made gives the same fields back, whatever the payload size. */
static void test_round_trip(void **state)
{
	static uint8_t payload[3000], buf[3100];

	for (size_t plen = 0; plen < sizeof(payload); plen += 97) {
		struct mqtt_rx rx;
		struct mqtt_packet p;
		struct mqtt_publish pub;
		bool done;
		size_t n;

		for (size_t i = 0; i < plen; i++)
			payload[i] = (uint8_t)(i * 7 + plen);
		n = mqtt_put_publish(buf, sizeof(buf), "lukos/b-1/state", payload, plen, plen & 1,
				     true, false, (uint16_t)(plen + 1));
		assert_true(n > 0);
		mqtt_rx_init(&rx);
		assert_int_equal(mqtt_rx_feed(&rx, buf, n, &p, &done), n);
		assert_true(done);
		assert_int_equal(mqtt_parse_publish(&p, &pub), 0);
		assert_int_equal(pub.topic_len, 15);
		assert_memory_equal(pub.topic, "lukos/b-1/state", 15);
		assert_int_equal(pub.qos, plen & 1);
		assert_int_equal(pub.pid, (plen & 1) ? plen + 1 : 0);
		assert_int_equal(pub.payload_len, plen);
		assert_memory_equal(pub.payload, payload, pub.payload_kept);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_with_will),
		cmocka_unit_test(test_connect_plain),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_publish_lengths),
		cmocka_unit_test(test_subscribe_puback_ping),
		cmocka_unit_test(test_decoder_any_split),
		cmocka_unit_test(test_decoder_keeps_a_prefix_of_big_packets),
		cmocka_unit_test(test_decoder_lengths),
		cmocka_unit_test(test_connack),
		cmocka_unit_test(test_suback_puback_pingresp),
		cmocka_unit_test(test_publish_refused),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
