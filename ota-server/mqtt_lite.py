"""mqtt_lite.py: a minimal asyncio MQTT 3.1.1 client, for simulating many boards.

One MqttClient is one connection (an asyncio.Protocol, no thread, no task
of its own), so ten thousand of them fit in one event loop. It does what a
board does and no more: CONNECT with a client id, keep-alive and a last
will; SUBSCRIBE; PUBLISH QoS 0 and 1 (retained or not) and acknowledge
incoming QoS 1; PINGREQ when idle; DISCONNECT. QoS 2 is not supported (we
never subscribe with it, so a broker never sends it). Reconnecting is the
caller's job (see simboard.py): a lost connection fails every pending
operation with MqttError and calls on_lost once.

Packet layout: MQTT 3.1.1 (OASIS, 2014), section 2 (fixed header with the
variable-length "remaining length") and section 3 (each packet).

The real clients of the project are paho (ota-server/fleet.py, the host
side) and the kernel's own client (the board side); this one exists so that
a simulated fleet does not need a thread per board.
"""
import asyncio
import struct

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
MAX_PACKET = 1 << 20            # we never expect more than a job or a state

CONNACK_CODES = {1: "unacceptable protocol version", 2: "identifier rejected",
                 3: "server unavailable", 4: "bad user name or password", 5: "not authorized"}


class MqttError(Exception):
    """The connection failed, was refused, or went away."""


def _retrieved(fut):
    """Mark a future's exception as seen, so asyncio does not log it when nobody awaits it."""
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())
    return fut


def _remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s):
    b = s.encode() if isinstance(s, str) else bytes(s)
    if len(b) > 0xFFFF:
        raise ValueError("MQTT string longer than 65535 bytes")
    return struct.pack(">H", len(b)) + b


def packet(kind, flags, body):
    return bytes([(kind << 4) | flags]) + _remaining_length(len(body)) + body


def connect_packet(client_id, keepalive, will=None, clean=True):
    """will: (topic, payload bytes, qos, retain) or None."""
    flags = 0x02 if clean else 0
    tail = _utf8(client_id)
    if will:
        topic, payload, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        tail += _utf8(topic) + _utf8(payload)
    return packet(CONNECT, 0, _utf8("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive) + tail)


def publish_packet(topic, payload, qos=0, retain=False, pid=0, dup=False):
    flags = (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = _utf8(topic) + (struct.pack(">H", pid) if qos else b"") + bytes(payload)
    return packet(PUBLISH, flags, body)


def subscribe_packet(pid, topics):
    return packet(SUBSCRIBE, 0x02, struct.pack(">H", pid) +
                  b"".join(_utf8(t) + bytes([q]) for t, q in topics))


def parse_packets(buf):
    """Split complete packets off the front of buf (a bytearray, consumed).

    Returns [(kind, flags, body bytes)]; raises MqttError on a malformed length."""
    out = []
    while len(buf) >= 2:
        n, shift, i = 0, 0, 1
        while True:
            if i >= len(buf):
                return out          # length not complete yet
            byte = buf[i]
            n |= (byte & 0x7F) << shift
            i += 1
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MqttError("malformed remaining length")
        if n > MAX_PACKET:
            raise MqttError("packet of %d bytes is over our limit" % n)
        if len(buf) < i + n:
            return out
        out.append((buf[0] >> 4, buf[0] & 0x0F, bytes(buf[i:i + n])))
        del buf[:i + n]
    return out


class MqttClient(asyncio.Protocol):
    """One MQTT 3.1.1 connection. Callbacks run in the event loop:

    on_message(topic str, payload bytes, retain bool)   for each PUBLISH received
    on_lost(exc or None)                                 once, when the connection ends
    """

    def __init__(self, client_id, keepalive=60, will=None, on_message=None, on_lost=None):
        self.client_id = client_id
        self.keepalive = keepalive
        self.will = will
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport = None
        self.connected = False
        self._buf = bytearray()
        self._connack = None
        self._pending = {}          # packet id -> future (PUBACK, SUBACK)
        self._next_pid = 0
        self._timer = None
        self._last_rx = 0.0
        self._last_tx = 0.0
        self._lost_called = False
        self.loop = None

    # --- connecting ---------------------------------------------------------

    async def connect(self, host, port, timeout=10.0):
        self.loop = asyncio.get_running_loop()
        self._connack = self.loop.create_future()
        _retrieved(self._connack)   # it may fail before anyone awaits it (a broker dying mid-connect)
        try:
            await asyncio.wait_for(self.loop.create_connection(lambda: self, host, port), timeout)
        except (OSError, asyncio.TimeoutError) as e:
            raise MqttError("cannot connect to %s:%d: %s" % (host, port, e or "timeout"))
        self._send(connect_packet(self.client_id, self.keepalive, self.will))
        try:
            await asyncio.wait_for(asyncio.shield(self._connack), timeout)
        except asyncio.TimeoutError:
            self.abort()
            raise MqttError("no CONNACK within %gs" % timeout)
        self.connected = True
        if self.keepalive:
            self._arm_timer()

    def connection_made(self, transport):
        self.transport = transport
        self._last_rx = self._last_tx = asyncio.get_running_loop().time()

    def connection_lost(self, exc):
        self.connected = False
        if self._timer:
            self._timer.cancel()
        err = MqttError("connection lost: %s" % (exc or "closed by the broker"))
        if self._connack and not self._connack.done():
            self._connack.set_exception(err)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(err)
        self._pending.clear()
        if not self._lost_called:
            self._lost_called = True
            if self.on_lost:
                self.on_lost(exc)

    # --- sending -------------------------------------------------------------

    def _send(self, data):
        if self.transport is None or self.transport.is_closing():
            raise MqttError("not connected")
        self.transport.write(data)
        self._last_tx = self.loop.time()

    def _pid(self):
        for _ in range(0xFFFF):
            self._next_pid = self._next_pid % 0xFFFF + 1
            if self._next_pid not in self._pending:
                return self._next_pid
        raise MqttError("no free packet identifier")

    def publish(self, topic, payload, qos=0, retain=False):
        """Send a PUBLISH; returns a future done when it is acknowledged (QoS 1) or sent (QoS 0)."""
        if isinstance(payload, str):
            payload = payload.encode()
        fut = self.loop.create_future()
        if qos == 0:
            self._send(publish_packet(topic, payload, 0, retain))
            fut.set_result(None)
        else:
            pid = self._pid()
            self._pending[pid] = fut
            self._send(publish_packet(topic, payload, 1, retain, pid))
        return fut

    async def subscribe(self, topics, timeout=10.0):
        """topics: [(filter, qos)]; returns the granted QoS list (0x80 = refused)."""
        pid = self._pid()
        fut = self.loop.create_future()
        self._pending[pid] = fut
        self._send(subscribe_packet(pid, topics))
        return await asyncio.wait_for(fut, timeout)

    def disconnect(self):
        """A clean DISCONNECT: the broker drops the last will."""
        if self.transport and not self.transport.is_closing():
            try:
                self._send(packet(DISCONNECT, 0, b""))
            except MqttError:
                pass
            self.transport.close()

    def abort(self):
        """Drop the connection without DISCONNECT: the broker publishes the will."""
        if self.transport:
            self.transport.abort()

    # --- keep-alive ------------------------------------------------------------

    def _arm_timer(self):
        self._timer = self.loop.call_later(self.keepalive / 2.0, self._tick)

    def _tick(self):
        now = self.loop.time()
        if now - self._last_rx > self.keepalive * 1.5:
            self.abort()            # broker silent: MQTT-3.1.2-24 from our side
            return
        if now - self._last_tx >= self.keepalive / 2.0:
            try:
                self._send(packet(PINGREQ, 0, b""))
            except MqttError:
                return
        self._arm_timer()

    # --- receiving -------------------------------------------------------------

    def data_received(self, data):
        self._last_rx = self.loop.time()
        self._buf += data
        try:
            for kind, flags, body in parse_packets(self._buf):
                self._handle(kind, flags, body)
        except (MqttError, struct.error, IndexError, UnicodeDecodeError):
            self.abort()

    def _handle(self, kind, flags, body):
        if kind == CONNACK:
            if self._connack.done():
                return
            code = body[1] if len(body) >= 2 else 255
            if code:
                self._connack.set_exception(MqttError("connection refused: %s" % CONNACK_CODES.get(code, code)))
                self.abort()
            else:
                self._connack.set_result(True)
        elif kind == PUBLISH:
            qos = (flags >> 1) & 3
            tlen, = struct.unpack_from(">H", body, 0)
            topic = body[2:2 + tlen].decode()
            pos = 2 + tlen
            if qos:
                pid, = struct.unpack_from(">H", body, pos)
                pos += 2
                if qos == 1:
                    self._send(packet(PUBACK, 0, struct.pack(">H", pid)))
                else:
                    raise MqttError("QoS 2 is not supported")
            if self.on_message:
                self.on_message(topic, body[pos:], bool(flags & 1))
        elif kind in (PUBACK, SUBACK):
            pid, = struct.unpack_from(">H", body, 0)
            fut = self._pending.pop(pid, None)
            if fut and not fut.done():
                fut.set_result(list(body[2:]) if kind == SUBACK else None)
        elif kind == PINGRESP:
            pass
        else:
            raise MqttError("unexpected packet type %d" % kind)
