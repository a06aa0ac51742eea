/*
 * The kernel's MQTT session (see mqtt_client.h): a state machine driven
 * by the TCP callbacks and a tick, both on the network thread, which owns
 * everything here; no locks. Packets are encoded by update/mqtt.c into an
 * output ring that drains into the TCP send buffer as it empties, so a
 * packet is never half-queued.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/mqtt_client.h>
#include <kernel/net.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>

#define OUT_RING	8192

enum mqttc_state { MS_OFF, MS_WAIT, MS_CONNECTING, MS_CONNACK, MS_UP };

struct slot {
	bool used;
	uint16_t pid;
	size_t len;
	uint64_t sent_at;
	uint8_t pkt[MQTTC_PUB_MAX];
};

static struct {
	struct mqttc_config cfg;
	enum mqttc_state state;
	struct tcp_pcb *pcb;
	uint64_t next_attempt, deadline;	/* MS_WAIT; MS_CONNECTING/CONNACK, SUBACK */
	uint64_t last_rx, last_tx, up_since;
	uint32_t backoff_ms;
	unsigned int attempts;
	bool subscribed, sub_pending, ping_out;
	uint16_t sub_pid, next_pid;
	struct mqtt_rx rx;
	size_t out_head, out_len;
	uint8_t out[OUT_RING];
	uint8_t scratch[160];
	struct slot slots[MQTTC_SLOTS];
} mc;

static uint64_t now_ms(void)
{
	return timer_freq_hz ? rdtime() * 1000ULL / timer_freq_hz : 0;
}

static const char *broker_str(void)
{
	static char s[24];
	uint32_t ip = mc.cfg.ip;

	snprintf(s, sizeof(s), "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
		 ip & 255, mc.cfg.port);
	return s;
}

/* --- output ---------------------------------------------------------------- */

static void out_flush(void)
{
	while (mc.out_len && mc.pcb) {
		size_t chunk = OUT_RING - mc.out_head < mc.out_len ? OUT_RING - mc.out_head : mc.out_len;
		size_t n = tcp_write(mc.pcb, mc.out + mc.out_head, chunk);

		if (!n)
			break;
		mc.out_head = (mc.out_head + n) % OUT_RING;
		mc.out_len -= n;
	}
}

/* Queues a whole packet; false if the ring has no room (the connection is stuck). */
static bool out_put(const uint8_t *p, size_t len)
{
	size_t tail, first;

	if (!len || len > OUT_RING - mc.out_len)
		return false;
	tail = (mc.out_head + mc.out_len) % OUT_RING;
	first = OUT_RING - tail < len ? OUT_RING - tail : len;
	memcpy(mc.out + tail, p, first);
	memcpy(mc.out, p + first, len - first);
	mc.out_len += len;
	mc.last_tx = now_ms();
	out_flush();
	return true;
}

/* --- connection ------------------------------------------------------------ */

static const struct tcp_callbacks mqttc_cb;

static void lost(const char *why)
{
	struct tcp_pcb *pcb = mc.pcb;
	uint32_t wait;

	mc.pcb = NULL;			/* our own closed() callback is ignored */
	if (pcb)
		tcp_abort(pcb);
	wait = mc.backoff_ms / 2 + (uint32_t)(rdtime() % (mc.backoff_ms / 2 + 1));
	klog("mqtt", "lost reason=%s broker=%s up_ms=%llu retry_ms=%u", why, broker_str(),
	     mc.state == MS_UP ? (unsigned long long)(now_ms() - mc.up_since) : 0ULL, wait);
	mc.state = MS_WAIT;
	mc.next_attempt = now_ms() + wait;
	mc.backoff_ms = mc.backoff_ms * 2 > MQTTC_BACKOFF_MAX_MS ? MQTTC_BACKOFF_MAX_MS
								 : mc.backoff_ms * 2;
	mc.subscribed = false;
	mc.sub_pending = false;
	mc.out_len = 0;
	/* Clean session: the broker forgets them too; the owner republishes what is current. */
	for (int i = 0; i < MQTTC_SLOTS; i++)
		mc.slots[i].used = false;
}

static uint16_t new_pid(void)
{
	for (;;) {
		bool taken = false;

		if (!++mc.next_pid)
			mc.next_pid = 1;
		for (int i = 0; i < MQTTC_SLOTS; i++)
			taken |= mc.slots[i].used && mc.slots[i].pid == mc.next_pid;
		if (!taken && mc.next_pid != mc.sub_pid)
			return mc.next_pid;
	}
}

static void attempt(struct net_stack *ns)
{
	mc.attempts++;
	mqtt_rx_init(&mc.rx);
	mc.out_len = 0;
	mc.pcb = tcp_connect(ns, mc.cfg.ip, mc.cfg.port, &mqttc_cb, NULL);
	if (!mc.pcb) {
		mc.state = MS_CONNECTING;
		lost("no-tcp-slot");
		return;
	}
	mc.state = MS_CONNECTING;
	mc.deadline = now_ms() + 30000;	/* TCP itself gives up on the SYN after 20 s */
}

static int on_accepted(void *arg, struct tcp_pcb *pcb)
{
	size_t n;

	if (pcb != mc.pcb)
		return 0;
	n = mqtt_put_connect(mc.scratch, sizeof(mc.scratch), mc.cfg.client_id, mc.cfg.keepalive_s,
			     true, &mc.cfg.will);
	mc.state = MS_CONNACK;
	mc.deadline = now_ms() + MQTTC_REPLY_MS;
	mc.last_rx = now_ms();
	if (!out_put(mc.scratch, n))
		lost("connect-encode");
	return 0;
}

static void subscribe(void)
{
	size_t n;

	mc.sub_pid = 0;
	mc.sub_pid = new_pid();
	n = mqtt_put_subscribe(mc.scratch, sizeof(mc.scratch), mc.sub_pid, mc.cfg.topic, mc.cfg.qos);
	mc.sub_pending = true;
	mc.deadline = now_ms() + MQTTC_REPLY_MS;
	if (!out_put(mc.scratch, n))
		lost("subscribe-encode");
}

static void got_connack(const struct mqtt_packet *p)
{
	bool sp;
	uint8_t code;
	char why[48];

	if (mc.state != MS_CONNACK || mqtt_parse_connack(p, &sp, &code)) {
		lost("protocol");
		return;
	}
	if (code) {
		snprintf(why, sizeof(why), "refused code=%u (%s)", code, mqtt_connack_reason(code));
		lost(why);
		return;
	}
	mc.state = MS_UP;
	mc.up_since = now_ms();
	mc.ping_out = false;
	klog("mqtt", "connected broker=%s id=%s keepalive=%u session=%d attempt=%u", broker_str(),
	     mc.cfg.client_id, mc.cfg.keepalive_s, sp, mc.attempts);
	if (mc.cfg.on_up)
		mc.cfg.on_up(mc.cfg.arg);
	if (mc.pcb)
		subscribe();
}

static void got_suback(const struct mqtt_packet *p)
{
	uint16_t pid;
	uint8_t granted;

	if (mqtt_parse_suback(p, &pid, &granted) || !mc.sub_pending || pid != mc.sub_pid) {
		lost("protocol");
		return;
	}
	mc.sub_pending = false;
	if (granted == MQTT_SUBACK_FAILURE) {
		lost("subscribe-refused");
		return;
	}
	mc.subscribed = true;
	mc.backoff_ms = MQTTC_BACKOFF_MIN_MS;
	klog("mqtt", "subscribed topic=%s qos=%u", mc.cfg.topic, granted);
}

static void got_publish(const struct mqtt_packet *p)
{
	struct mqtt_publish pub;

	/* QoS 2 is never granted to us, so a broker may not send it (3.8.4). */
	if (mc.state != MS_UP || mqtt_parse_publish(p, &pub) || pub.qos > 1) {
		lost("protocol");
		return;
	}
	if (pub.qos) {
		size_t n = mqtt_put_puback(mc.scratch, sizeof(mc.scratch), pub.pid);

		if (!out_put(mc.scratch, n)) {
			lost("overflow");
			return;
		}
	}
	if (pub.topic_len == strlen(mc.cfg.topic) && !memcmp(pub.topic, mc.cfg.topic, pub.topic_len) &&
	    mc.cfg.on_message)
		mc.cfg.on_message(mc.cfg.arg, &pub);
}

static void got_puback(const struct mqtt_packet *p)
{
	uint16_t pid;

	if (mc.state != MS_UP || mqtt_parse_puback(p, &pid)) {
		lost("protocol");
		return;
	}
	for (int i = 0; i < MQTTC_SLOTS; i++)
		if (mc.slots[i].used && mc.slots[i].pid == pid) {
			mc.slots[i].used = false;
			if (mc.cfg.on_slot_free)
				mc.cfg.on_slot_free(mc.cfg.arg);
			return;
		}
	/* An acknowledgement of something we no longer wait for (a resent DUP): harmless. */
}

static void got_packet(const struct mqtt_packet *p)
{
	switch (p->type) {
	case MQTT_CONNACK:
		got_connack(p);
		break;
	case MQTT_SUBACK:
		got_suback(p);
		break;
	case MQTT_PUBLISH:
		got_publish(p);
		break;
	case MQTT_PUBACK:
		got_puback(p);
		break;
	case MQTT_PINGRESP:
		if (mqtt_parse_pingresp(p))
			lost("protocol");
		mc.ping_out = false;
		break;
	default:
		lost("protocol");	/* nothing else may come from a broker to us (4.8) */
	}
}

static void on_received(void *arg, struct tcp_pcb *pcb, const void *data, size_t len)
{
	const uint8_t *d = data;

	if (pcb != mc.pcb) {
		tcp_recved(pcb, len);
		return;
	}
	if (!len) {
		lost("closed");
		return;
	}
	tcp_recved(pcb, len);
	mc.last_rx = now_ms();
	while (len && pcb == mc.pcb) {
		struct mqtt_packet p;
		bool done;
		size_t used = mqtt_rx_feed(&mc.rx, d, len, &p, &done);

		if (mc.rx.state == MQTT_RX_ERROR) {
			lost("protocol");
			return;
		}
		d += used;
		len -= used;
		if (done)
			got_packet(&p);
	}
}

static void on_sent(void *arg, struct tcp_pcb *pcb, size_t acked)
{
	if (pcb == mc.pcb)
		out_flush();
}

static void on_closed(void *arg, struct tcp_pcb *pcb, int reason)
{
	if (pcb != mc.pcb)
		return;
	mc.pcb = NULL;
	lost(reason == TCP_CLOSED_RESET ? "reset" : reason == TCP_CLOSED_TIMEOUT ? "timeout" : "closed");
}

static const struct tcp_callbacks mqttc_cb = {
	.accepted = on_accepted,
	.received = on_received,
	.sent = on_sent,
	.closed = on_closed,
};

/* --- timers ------------------------------------------------------------------ */

static void keepalive(uint64_t now)
{
	uint64_t k = (uint64_t)mc.cfg.keepalive_s * 1000;

	if (!k)
		return;
	if (now - mc.last_rx >= k) {
		lost("keepalive");
		return;
	}
	if (now - mc.last_tx >= k / 2 || (now - mc.last_rx >= k / 2 && !mc.ping_out)) {
		size_t n = mqtt_put_empty(mc.scratch, sizeof(mc.scratch), MQTT_PINGREQ);

		mc.ping_out = true;
		if (!out_put(mc.scratch, n))
			lost("overflow");
	}
}

static void resend(uint64_t now)
{
	for (int i = 0; i < MQTTC_SLOTS && mc.pcb; i++) {
		struct slot *s = &mc.slots[i];

		if (!s->used || now - s->sent_at < MQTTC_RESEND_MS)
			continue;
		mqtt_set_dup(s->pkt);
		s->sent_at = now;
		if (!out_put(s->pkt, s->len))
			lost("overflow");
	}
}

void mqttc_tick(struct net_stack *ns)
{
	uint64_t now = now_ms();

	switch (mc.state) {
	case MS_OFF:
		break;
	case MS_WAIT:
		if (now >= mc.next_attempt && !net_ip(ns))
			mc.next_attempt = now + MQTTC_BACKOFF_MIN_MS;	/* DHCP is not done yet */
		else if (now >= mc.next_attempt)
			attempt(ns);
		break;
	case MS_CONNECTING:
	case MS_CONNACK:
		if (now >= mc.deadline)
			lost(mc.state == MS_CONNACK ? "connack-timeout" : "connect-timeout");
		break;
	case MS_UP:
		if (mc.sub_pending && now >= mc.deadline) {
			lost("suback-timeout");
			break;
		}
		keepalive(now);
		if (mc.pcb)
			resend(now);
		break;
	}
}

void mqttc_start(const struct mqttc_config *cfg)
{
	memset(&mc, 0, sizeof(mc));
	mc.cfg = *cfg;
	mc.backoff_ms = MQTTC_BACKOFF_MIN_MS;
	mc.state = MS_WAIT;
	mc.next_attempt = 0;
	mc.next_pid = (uint16_t)rdtime();
	klog("mqtt", "starting broker=%s id=%s keepalive=%u", broker_str(), cfg->client_id,
	     cfg->keepalive_s);
}

int mqttc_publish(const char *topic, const void *payload, size_t len, uint8_t qos, bool retain)
{
	struct slot *s = NULL;
	size_t n;

	if (mc.state != MS_UP || !mc.pcb)
		return -KE_BUSY;
	if (qos > 1)
		return -KE_INVAL;
	if (!qos) {
		static uint8_t pkt[MQTTC_PUB_MAX];

		n = mqtt_put_publish(pkt, sizeof(pkt), topic, payload, len, 0, retain, false, 0);
		if (!n)
			return -KE_INVAL;
		if (!out_put(pkt, n))
			return -KE_BUSY;
		return 0;
	}
	for (int i = 0; i < MQTTC_SLOTS && !s; i++)
		if (!mc.slots[i].used)
			s = &mc.slots[i];
	if (!s)
		return -KE_BUSY;
	s->pid = new_pid();
	n = mqtt_put_publish(s->pkt, sizeof(s->pkt), topic, payload, len, 1, retain, false, s->pid);
	if (!n)
		return -KE_INVAL;
	if (!out_put(s->pkt, n))
		return -KE_BUSY;
	s->used = true;
	s->len = n;
	s->sent_at = now_ms();
	return 0;
}

bool mqttc_ready(void)
{
	return mc.state == MS_UP && mc.subscribed;
}
