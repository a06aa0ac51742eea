/*
 * The kernel's MQTT 3.1.1 session (update/mqtt_client.c): one connection
 * to one broker, kept up for as long as the kernel runs. Every call, and
 * every callback, happens on the network thread (netif_run), since the
 * connection lives in the TCP/IP stack, which is single-threaded.
 *
 * On each (re)connect: CONNECT (client id, clean session, keep-alive, the
 * last will), then on_up() (the owner publishes its state), then SUBSCRIBE
 * to one topic. Keep-alive: PINGREQ after half the keep-alive without
 * traffic; nothing heard for a whole keep-alive means the broker is gone.
 * QoS 1 PUBLISHes wait in a few slots for their PUBACK and go again with
 * DUP after MQTTC_RESEND_MS; a reconnect drops them (clean session: the
 * owner publishes what is current in on_up). After a loss, the next
 * attempt waits an exponential backoff with jitter (0.5 s doubling to 8 s).
 *
 * UART: `mqtt: connected ...`, `mqtt: subscribed ...`, `mqtt: lost reason=...`.
 */
#ifndef KERNEL_MQTT_CLIENT_H
#define KERNEL_MQTT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <kernel/mqtt.h>

#define MQTTC_SLOTS		4	/* QoS 1 PUBLISHes awaiting PUBACK */
#define MQTTC_PUB_MAX		4608	/* one encoded PUBLISH */
#define MQTTC_RESEND_MS		10000
#define MQTTC_REPLY_MS		10000	/* CONNACK, SUBACK */
#define MQTTC_BACKOFF_MIN_MS	500
#define MQTTC_BACKOFF_MAX_MS	8000

struct net_stack;

struct mqttc_config {
	uint32_t ip;			/* broker, host order */
	uint16_t port;
	const char *client_id;
	uint16_t keepalive_s;
	struct mqtt_will will;
	const char *topic;		/* subscribed on every connect */
	uint8_t qos;
	/* Connected (CONNACK accepted), before the SUBSCRIBE goes out. */
	void (*on_up)(void *arg);
	/* A PUBLISH on the subscribed topic (QoS 1 ones are acknowledged already). */
	void (*on_message)(void *arg, const struct mqtt_publish *pub);
	/* A QoS 1 slot came free. */
	void (*on_slot_free)(void *arg);
	void *arg;
};

/* Sets the session up (the strings must stay); the first attempt is at the next tick. */
void mqttc_start(const struct mqttc_config *cfg);
/* Timers: connect attempts, keep-alive, retransmissions. Call every ~100 ms. */
void mqttc_tick(struct net_stack *ns);
/* 0 if queued; -KE_BUSY when not connected or every slot is taken (QoS 1); -KE_INVAL. */
int mqttc_publish(const char *topic, const void *payload, size_t len, uint8_t qos, bool retain);
/* Connected and subscribed. */
bool mqttc_ready(void);

#endif
