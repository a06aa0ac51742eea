/*
 * MQTT 3.1.1 (OASIS, 2014) packets for the board's client: pure encoders
 * of what a client sends (CONNECT with a last will, SUBSCRIBE, PUBLISH,
 * PUBACK, PINGREQ, DISCONNECT) and a stream decoder with parsers of what
 * a broker sends (CONNACK, SUBACK, PUBLISH, PUBACK, PINGRESP). No
 * allocation, no locks; host-tested (test/unit/test_mqtt.c). The session
 * (connection, timers, retransmission) is update/mqtt_client.c.
 *
 * Everything from the broker is checked against the spec's fixed-header
 * rules before use; a packet that breaks them is a protocol error, on
 * which a client must close the connection (spec 4.8).
 */
#ifndef KERNEL_MQTT_H
#define KERNEL_MQTT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum mqtt_type {
	MQTT_CONNECT = 1, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC,
	MQTT_PUBREL, MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE,
	MQTT_UNSUBACK, MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT,
};

#define MQTT_MAX_REMAINING	268435455u	/* four length bytes (spec 2.2.3) */
#define MQTT_RX_KEEP		2048		/* bytes of a packet's body kept */
#define MQTT_SUBACK_FAILURE	0x80

struct mqtt_will {
	const char *topic;
	const void *payload;
	size_t len;
	uint8_t qos;
	bool retain;
};

/*
 * Encoders: write one packet into @out (@cap bytes) and return its length,
 * or 0 if it does not fit or an argument is invalid (empty topic or client
 * id, a string over 65535 bytes, QoS above 1, packet id 0 with QoS 1).
 */
size_t mqtt_put_connect(uint8_t *out, size_t cap, const char *client_id, uint16_t keepalive,
			bool clean, const struct mqtt_will *will);
size_t mqtt_put_publish(uint8_t *out, size_t cap, const char *topic, const void *payload,
			size_t len, uint8_t qos, bool retain, bool dup, uint16_t pid);
size_t mqtt_put_subscribe(uint8_t *out, size_t cap, uint16_t pid, const char *topic, uint8_t qos);
size_t mqtt_put_puback(uint8_t *out, size_t cap, uint16_t pid);
/* PINGREQ or DISCONNECT (no body). */
size_t mqtt_put_empty(uint8_t *out, size_t cap, enum mqtt_type type);
/* Sets the DUP flag of an encoded QoS 1 PUBLISH (a retransmission). */
void mqtt_set_dup(uint8_t *packet);

/* One received packet: its first MQTT_RX_KEEP body bytes, and how many there were. */
struct mqtt_packet {
	uint8_t type, flags;
	const uint8_t *body;
	size_t kept;		/* bytes at body */
	size_t len;		/* the remaining length: kept < len means truncated */
};

enum mqtt_rx_state { MQTT_RX_HEADER, MQTT_RX_LENGTH, MQTT_RX_BODY, MQTT_RX_ERROR };

struct mqtt_rx {
	enum mqtt_rx_state state;
	uint8_t header;
	uint8_t nlen;		/* length bytes read */
	uint32_t len, got;
	uint8_t body[MQTT_RX_KEEP];
};

void mqtt_rx_init(struct mqtt_rx *rx);
/*
 * Feeds bytes as they arrive, in any split. Returns how many it consumed;
 * it stops after the end of a packet, which it then describes in @pkt
 * (valid until the next call) with *@done = true. A malformed remaining
 * length puts the decoder in MQTT_RX_ERROR (it then consumes nothing).
 */
size_t mqtt_rx_feed(struct mqtt_rx *rx, const void *data, size_t len, struct mqtt_packet *pkt,
		    bool *done);

struct mqtt_publish {
	const char *topic;	/* not NUL-terminated */
	size_t topic_len;
	uint8_t qos;
	bool retain, dup;
	uint16_t pid;		/* 0 for QoS 0 */
	const uint8_t *payload;
	size_t payload_kept;	/* bytes at payload */
	size_t payload_len;	/* the whole payload: more than kept when truncated */
};

/*
 * Parsers: 0, or -KE_BADMSG when the packet breaks the spec's rules for a
 * packet a server sends (flags, length, QoS 3, packet id 0, ...).
 */
int mqtt_parse_connack(const struct mqtt_packet *p, bool *session_present, uint8_t *code);
int mqtt_parse_suback(const struct mqtt_packet *p, uint16_t *pid, uint8_t *granted);
int mqtt_parse_puback(const struct mqtt_packet *p, uint16_t *pid);
int mqtt_parse_pingresp(const struct mqtt_packet *p);
int mqtt_parse_publish(const struct mqtt_packet *p, struct mqtt_publish *out);

/* The CONNACK return code's meaning (spec 3.2.2.3). */
const char *mqtt_connack_reason(uint8_t code);

#endif
