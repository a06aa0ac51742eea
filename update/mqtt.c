/*
 * MQTT 3.1.1 packets (see mqtt.h): encoders of a client's packets and a
 * decoder of a broker's. Pure: no locks, no allocation; the caller owns
 * every buffer. Section numbers are those of the OASIS standard.
 */
#include <string.h>
#include <kernel/mqtt.h>
#include <kernel/errno.h>

#define MQTT_PROTOCOL_LEVEL	4	/* 3.1.1 */
#define CONNECT_CLEAN		0x02
#define CONNECT_WILL		0x04
#define CONNECT_WILL_RETAIN	0x20
#define PUBLISH_DUP		0x08
#define PUBLISH_RETAIN		0x01

/* --- encoding ------------------------------------------------------------ */

struct wr {
	uint8_t *p;
	size_t cap, n;
	bool bad;
};

static void put(struct wr *w, const void *d, size_t len)
{
	if (w->bad || len > w->cap - w->n) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->n, d, len);
	w->n += len;
}

static void put8(struct wr *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(w, b, 2);
}

/* A length-prefixed string or binary field (1.5.3, 3.1.3.3). */
static void put_field(struct wr *w, const void *d, size_t len)
{
	if (len > 0xffff) {
		w->bad = true;
		return;
	}
	put16(w, (uint16_t)len);
	put(w, d, len);
}

/* The remaining length's size in bytes (2.2.3). */
static size_t varint_len(size_t v)
{
	return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

/* Fixed header for @body bytes; false if they can never fit. */
static bool put_header(struct wr *w, uint8_t type, uint8_t flags, size_t body)
{
	if (body > MQTT_MAX_REMAINING || body + 1 + varint_len(body) > w->cap) {
		w->bad = true;
		return false;
	}
	put8(w, (uint8_t)(type << 4 | flags));
	do {
		uint8_t b = body & 0x7f;

		body >>= 7;
		put8(w, (uint8_t)(b | (body ? 0x80 : 0)));
	} while (body);
	return true;
}

static size_t done(struct wr *w)
{
	return w->bad ? 0 : w->n;
}

size_t mqtt_put_connect(uint8_t *out, size_t cap, const char *client_id, uint16_t keepalive,
			bool clean, const struct mqtt_will *will)
{
	struct wr w = { out, cap, 0, false };
	size_t idlen = client_id ? strlen(client_id) : 0;
	size_t body = 10 + 2 + idlen;
	uint8_t flags = clean ? CONNECT_CLEAN : 0;

	if (!out || !idlen)
		return 0;
	if (will) {
		if (!will->topic || !*will->topic || will->qos > 1 || (will->len && !will->payload))
			return 0;
		body += 2 + strlen(will->topic) + 2 + will->len;
		flags |= CONNECT_WILL | (uint8_t)(will->qos << 3) |
			 (will->retain ? CONNECT_WILL_RETAIN : 0);
	}
	if (!put_header(&w, MQTT_CONNECT, 0, body))
		return 0;
	put_field(&w, "MQTT", 4);
	put8(&w, MQTT_PROTOCOL_LEVEL);
	put8(&w, flags);
	put16(&w, keepalive);
	put_field(&w, client_id, idlen);
	if (will) {
		put_field(&w, will->topic, strlen(will->topic));
		put_field(&w, will->payload, will->len);
	}
	return done(&w);
}

size_t mqtt_put_publish(uint8_t *out, size_t cap, const char *topic, const void *payload,
			size_t len, uint8_t qos, bool retain, bool dup, uint16_t pid)
{
	struct wr w = { out, cap, 0, false };
	size_t tlen = topic ? strlen(topic) : 0;
	uint8_t flags = (uint8_t)(qos << 1) | (retain ? PUBLISH_RETAIN : 0) |
			(dup ? PUBLISH_DUP : 0);

	/* No wildcards in a topic name (4.7.1); DUP only on QoS > 0 (3.3.1.1). */
	if (!out || !tlen || qos > 1 || (qos && !pid) || (dup && !qos) || (len && !payload) ||
	    strpbrk(topic, "+#"))
		return 0;
	if (!put_header(&w, MQTT_PUBLISH, flags, 2 + tlen + (qos ? 2 : 0) + len))
		return 0;
	put_field(&w, topic, tlen);
	if (qos)
		put16(&w, pid);
	put(&w, payload, len);
	return done(&w);
}

size_t mqtt_put_subscribe(uint8_t *out, size_t cap, uint16_t pid, const char *topic, uint8_t qos)
{
	struct wr w = { out, cap, 0, false };
	size_t tlen = topic ? strlen(topic) : 0;

	if (!out || !tlen || !pid || qos > 1)
		return 0;
	/* Bits 3..0 of SUBSCRIBE's fixed header are 0010 (3.8.1). */
	if (!put_header(&w, MQTT_SUBSCRIBE, 0x02, 2 + 2 + tlen + 1))
		return 0;
	put16(&w, pid);
	put_field(&w, topic, tlen);
	put8(&w, qos);
	return done(&w);
}

size_t mqtt_put_puback(uint8_t *out, size_t cap, uint16_t pid)
{
	struct wr w = { out, cap, 0, false };

	if (!out || !pid || !put_header(&w, MQTT_PUBACK, 0, 2))
		return 0;
	put16(&w, pid);
	return done(&w);
}

size_t mqtt_put_empty(uint8_t *out, size_t cap, enum mqtt_type type)
{
	struct wr w = { out, cap, 0, false };

	if (!out || (type != MQTT_PINGREQ && type != MQTT_DISCONNECT))
		return 0;
	put_header(&w, (uint8_t)type, 0, 0);
	return done(&w);
}

void mqtt_set_dup(uint8_t *packet)
{
	if ((packet[0] >> 4) == MQTT_PUBLISH && (packet[0] & 0x06))
		packet[0] |= PUBLISH_DUP;
}

/* --- decoding ------------------------------------------------------------- */

void mqtt_rx_init(struct mqtt_rx *rx)
{
	rx->state = MQTT_RX_HEADER;
	rx->nlen = 0;
	rx->len = 0;
	rx->got = 0;
}

static void rx_complete(struct mqtt_rx *rx, struct mqtt_packet *pkt, bool *done_)
{
	pkt->type = rx->header >> 4;
	pkt->flags = rx->header & 0x0f;
	pkt->body = rx->body;
	pkt->len = rx->len;
	pkt->kept = rx->len < MQTT_RX_KEEP ? rx->len : MQTT_RX_KEEP;
	*done_ = true;
	mqtt_rx_init(rx);
}

size_t mqtt_rx_feed(struct mqtt_rx *rx, const void *data, size_t len, struct mqtt_packet *pkt,
		    bool *done_)
{
	const uint8_t *d = data;
	size_t i = 0;

	*done_ = false;
	while (i < len && rx->state != MQTT_RX_ERROR) {
		if (rx->state == MQTT_RX_HEADER) {
			rx->header = d[i++];
			rx->state = MQTT_RX_LENGTH;
		} else if (rx->state == MQTT_RX_LENGTH) {
			uint8_t b = d[i++];

			rx->len |= (uint32_t)(b & 0x7f) << (7 * rx->nlen);
			if (++rx->nlen == 4 && (b & 0x80)) {
				rx->state = MQTT_RX_ERROR;	/* a fifth length byte (2.2.3) */
				break;
			}
			if (b & 0x80)
				continue;
			rx->state = MQTT_RX_BODY;
			if (!rx->len) {
				rx_complete(rx, pkt, done_);
				return i;
			}
		} else {
			size_t n = rx->len - rx->got;

			if (n > len - i)
				n = len - i;
			if (rx->got < MQTT_RX_KEEP) {
				size_t keep = MQTT_RX_KEEP - rx->got;

				memcpy(rx->body + rx->got, d + i, keep < n ? keep : n);
			}
			rx->got += (uint32_t)n;
			i += n;
			if (rx->got == rx->len) {
				rx_complete(rx, pkt, done_);
				return i;
			}
		}
	}
	return i;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int mqtt_parse_connack(const struct mqtt_packet *p, bool *session_present, uint8_t *code)
{
	/* 3.2: flags 0, length 2, reserved bits of the first byte 0. */
	if (p->type != MQTT_CONNACK || p->flags || p->len != 2 || (p->body[0] & 0xfe))
		return -KE_BADMSG;
	*session_present = p->body[0] & 1;
	*code = p->body[1];
	/* A refused connection never has a session (3.2.2.2). */
	if (*code && *session_present)
		return -KE_BADMSG;
	return 0;
}

int mqtt_parse_suback(const struct mqtt_packet *p, uint16_t *pid, uint8_t *granted)
{
	uint8_t g;

	/* One topic per SUBSCRIBE here: one return code (3.9.3). */
	if (p->type != MQTT_SUBACK || p->flags || p->len != 3)
		return -KE_BADMSG;
	*pid = get16(p->body);
	g = p->body[2];
	if (!*pid || (g > 2 && g != MQTT_SUBACK_FAILURE))
		return -KE_BADMSG;
	*granted = g;
	return 0;
}

int mqtt_parse_puback(const struct mqtt_packet *p, uint16_t *pid)
{
	if (p->type != MQTT_PUBACK || p->flags || p->len != 2)
		return -KE_BADMSG;
	*pid = get16(p->body);
	return *pid ? 0 : -KE_BADMSG;
}

int mqtt_parse_pingresp(const struct mqtt_packet *p)
{
	return p->type == MQTT_PINGRESP && !p->flags && !p->len ? 0 : -KE_BADMSG;
}

int mqtt_parse_publish(const struct mqtt_packet *p, struct mqtt_publish *out)
{
	size_t tlen, off;

	if (p->type != MQTT_PUBLISH)
		return -KE_BADMSG;
	memset(out, 0, sizeof(*out));
	out->qos = (p->flags >> 1) & 3;
	out->retain = p->flags & PUBLISH_RETAIN;
	out->dup = p->flags & PUBLISH_DUP;
	/* QoS 3 is reserved; DUP must be 0 with QoS 0 (3.3.1.1, 3.3.1.2). */
	if (out->qos == 3 || (out->dup && !out->qos) || p->kept < 2)
		return -KE_BADMSG;
	tlen = get16(p->body);
	off = 2 + tlen + (out->qos ? 2 : 0);
	/* The topic and packet id must be among the kept bytes, and within the packet. */
	if (off > p->len || off > p->kept || !tlen)
		return -KE_BADMSG;
	out->topic = (const char *)p->body + 2;
	out->topic_len = tlen;
	/* A topic name has no wildcards and no NUL (4.7.1, 1.5.3). */
	for (size_t i = 0; i < tlen; i++)
		if (out->topic[i] == '+' || out->topic[i] == '#' || out->topic[i] == '\0')
			return -KE_BADMSG;
	if (out->qos) {
		out->pid = get16(p->body + 2 + tlen);
		if (!out->pid)
			return -KE_BADMSG;
	}
	out->payload = p->body + off;
	out->payload_kept = p->kept - off;
	out->payload_len = p->len - off;
	return 0;
}

const char *mqtt_connack_reason(uint8_t code)
{
	switch (code) {
	case 0: return "accepted";
	case 1: return "unacceptable-protocol-version";
	case 2: return "identifier-rejected";
	case 3: return "server-unavailable";
	case 4: return "bad-user-name-or-password";
	case 5: return "not-authorized";
	default: return "unknown";
	}
}
