"""ota-server/mqtt_lite.py, the simulated boards' MQTT 3.1.1 client: its framing,
and its behaviour against the real broker (conftest.py's mosquitto)."""
import asyncio

import pytest

import mqtt_lite
from mqtt_lite import MqttClient, MqttError


@pytest.mark.parametrize("n,encoded", [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"),
                                       (16383, b"\xff\x7f"), (16384, b"\x80\x80\x01"),
                                       (268435455, b"\xff\xff\xff\x7f")])
def test_remaining_length(n, encoded):
    assert mqtt_lite._remaining_length(n) == encoded      # MQTT 3.1.1, 2.2.3


def test_parse_packets_byte_by_byte():
    stream = (mqtt_lite.publish_packet("a/b", b"x" * 300, qos=1, retain=True, pid=7) +
              mqtt_lite.packet(mqtt_lite.PINGRESP, 0, b""))
    buf, got = bytearray(), []
    for i in range(len(stream)):
        buf += stream[i:i + 1]
        got += mqtt_lite.parse_packets(buf)
    assert [(k, f) for k, f, _ in got] == [(mqtt_lite.PUBLISH, 0x03), (mqtt_lite.PINGRESP, 0)]
    assert got[0][2] == b"\x00\x03a/b\x00\x07" + b"x" * 300 and buf == b""


def test_parse_packets_rejects_bad_lengths():
    with pytest.raises(MqttError):
        mqtt_lite.parse_packets(bytearray(b"\x30\xff\xff\xff\xff\x01"))
    with pytest.raises(MqttError):
        mqtt_lite.parse_packets(bytearray(b"\x30" + mqtt_lite._remaining_length(mqtt_lite.MAX_PACKET + 1)))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_against_mosquitto(broker):
    host, port = broker.addr.split(":")
    port = int(port)

    async def main():
        got = asyncio.Queue()
        a = MqttClient("lite-a", keepalive=1, on_message=lambda t, p, r: got.put_nowait((t, p, r)))
        await a.connect(host, port)
        assert await a.subscribe([("lite/#", 1)]) == [1]
        b = MqttClient("lite-b", keepalive=30, will=("lite/will", b"gone", 1, True))
        await b.connect(host, port)
        await b.publish("lite/x", b"retained", qos=1, retain=True)     # PUBACK awaited
        assert await asyncio.wait_for(got.get(), 5) == ("lite/x", b"retained", False)
        await asyncio.sleep(2.5)            # idle past a's keep-alive: its PINGREQs keep it up
        assert a.connected
        b.abort()                           # no DISCONNECT: the broker publishes the will
        assert await asyncio.wait_for(got.get(), 5) == ("lite/will", b"gone", False)
        # a new subscriber gets both retained messages, flagged retained
        c_got = asyncio.Queue()
        c = MqttClient("lite-c", on_message=lambda t, p, r: c_got.put_nowait((t, p, r)))
        await c.connect(host, port)
        await c.subscribe([("lite/+", 1)])
        seen = {await asyncio.wait_for(c_got.get(), 5) for _ in range(2)}
        assert seen == {("lite/x", b"retained", True), ("lite/will", b"gone", True)}
        for cl in (a, c):
            cl.disconnect()
        with pytest.raises(MqttError):
            await MqttClient("lite-d").connect("127.0.0.1", 1, timeout=2)
    run(main())
