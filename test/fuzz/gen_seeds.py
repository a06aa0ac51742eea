#!/usr/bin/python3
"""Writes the committed seed corpora of the http and tcp fuzz targets.

    /usr/bin/python3 test/fuzz/gen_seeds.py      (from the top of the tree)

test/fuzz/corpus/http/: requests as the agent sees them (fuzz_http.c's
format: a selector byte, chunk sizes, the bytes). test/fuzz/corpus/tcp/:
scripts for fuzz_tcp.c (its header comment and the op_* functions define
the format): real handshakes, data in and out of order, FIN and RST in
every direction, retransmissions, zero windows, DHCP leases, ARP, ICMP.
The pack and elf seeds are made at build time from the unit tests'
fixtures (test/fuzz/fuzz.mk), since their keys and objects are built then.
The output is deterministic; rerun after changing a harness's format.
"""
import os
import struct

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)))


def write(target, name, data):
    d = os.path.join(TOP, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- http -------------------------------------------------------------------

def http(name, req, sizes=(), sel=0):
    assert len(sizes) < 16
    write("http", name, bytes([sel | len(sizes) << 2]) + bytes(sizes) + req)


def http_seeds():
    http("put", b"PUT /update HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
         b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
    http("put-split", b"PUT /update HTTP/1.1\r\nContent-Length: 4194304\r\n\r\n",
         sizes=(1, 2, 3, 5, 8, 13, 0, 21))
    http("get", b"GET /status HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
    http("get-close", b"GET /status HTTP/1.0\r\nconnection: CLOSE\r\n\r\n", sizes=(7,))
    http("chunked", b"PUT /update HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    http("two-lengths", b"PUT /update HTTP/1.1\r\nContent-Length: 1\r\n"
         b"content-length: 1\r\n\r\nx")
    http("too-large", b"PUT /update HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
         sel=1)
    http("version", b"GET / HTTP/2.0\r\n\r\n")
    http("long-path", b"GET /" + b"a" * 80 + b" HTTP/1.1\r\n\r\n")
    http("long-method", b"PROPFIND /status HTTP/1.1\r\n\r\n")
    http("bare-lf", b"GET /status HTTP/1.1\nHost: x\n\n")
    http("long-head", b"GET /status HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 2100 + b"\r\n\r\n",
         sizes=(255, 100))
    http("ab", b"GET /status HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ApacheBench/2.3\r\n"
         b"Accept: */*\r\n\r\n", sel=2)


# --- tcp --------------------------------------------------------------------

MODE_STATIC, MODE_CONN, MODE_DHCP_CONN, MODE_DHCP_SELECTING = range(4)
WRAP = 4			# mode bit: the stack's sequence numbers wrap soon
POL_RECVED, POL_ECHO, POL_CLOSE_FIN, POL_ABORT_FIN = 1, 2, 4, 8
POL_REFILL, POL_CLOSE_DATA, POL_GREET, POL_ABORT_ACC = 16, 32, 64, 128
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
SEQ_REL, SEQ_RAW, SEQ_IRS, SEQ_REL16 = range(4)
ACK_UNA, ACK_NXT, ACK_MAX, ACK_ISS = range(4)
DPORT_OPEN, DPORT_REFUSE, DPORT_CLOSED, DPORT_ANY = range(4)
CONN0 = 0x08			# sel: the 4-tuple of connection slot 0


def u16(v):
    return struct.pack("<H", v & 0xffff)


def u32(v):
    return struct.pack("<I", v & 0xffffffff)


def clock(ms):
    shift = 0
    while ms >> shift > 0xffff:
        shift += 1
    assert shift < 8
    return bytes([shift << 4]) + u16(ms >> shift)


NEXT_TIMER = bytes([0xf0])


def tcp(sel=CONN0, flags=ACK, seq=0, seq_mode=SEQ_REL, ack=0, ack_base=ACK_MAX,
        ack_raw=None, wnd=65535, opts=b"", dlen=0, data=None, bad_sum=False, ipopt=False,
        dport=None):
    op = 0x02 | (0x10 if data is not None else 0) | (0x20 if bad_sum else 0) | \
        (0x40 if ipopt else 0)
    mode = seq_mode | (0x10 if ack_raw is not None else 0) | ack_base << 5
    out = bytes([op, sel, mode])
    if (sel & 0x08) == 0 and (sel >> 4) & 3 == DPORT_ANY:
        out += u16(dport)
    if seq_mode == SEQ_RAW:
        out += u16(0) + u32(seq)
    else:
        out += u16(seq)
    out += struct.pack("<b", ack)
    if ack_raw is not None:
        out += u32(ack_raw)
    assert len(opts) % 4 == 0 and len(opts) <= 40
    out += bytes([flags]) + u16(wnd) + bytes([len(opts) // 4]) + opts
    if data is not None:
        out += u16(len(data)) + data
    else:
        out += u16(dlen)
    return out


def app(slot, act, arg=None):
    out = bytes([0x03, slot | act << 3])
    if arg is not None:
        out += u16(arg) if act in (0, 1, 5) else bytes([arg])
    return out


def write_(slot, n):
    return app(slot, 0, n)


def recved(slot, n):
    return app(slot, 1, n)


def close(slot):
    return app(slot, 2)


def abort(slot):
    return app(slot, 3)


def policy(p):
    return app(0, 4, p)


POL2_ABORT_DATA, POL2_ABORT_SENT, POL2_CLOSE_SENT, POL2_RECVED_ALL = 1, 2, 4, 8


def policy2(p):
    return app(0, 6, p)


def connect(port, peer2=False):
    return bytes([0x03, 5 << 3 | (0x40 if peer2 else 0)]) + u16(port)


def dhcp(type_idx, xid=None, yiaddr=None, times=None, extra=b"", dst_us=False,
         no_end=False, zero_sum=False, bad_sum=False):
    f = type_idx | (0x08 if xid is not None else 0) | (0x10 if yiaddr is not None else 0) | \
        (0x40 if dst_us else 0) | (0x80 if times is not None else 0)
    out = bytes([0x04 | (0x10 if no_end else 0) | (0x20 if zero_sum else 0) |
                 (0x40 if bad_sum else 0), f])
    if xid is not None:
        out += u32(xid)
    if yiaddr is not None:
        out += u32(yiaddr)
    if times is not None:
        out += b"".join(u32(t) for t in times)	# lease, t1, t2, mask, router
    return out + bytes([len(extra)]) + extra


def icmp(n, bcast=False):
    return bytes([0x05 | (0x10 if bcast else 0)]) + u16(n)


def arp(f, spa=None, tpa=None, mac=None):
    out = bytes([0x06, f])
    if f & 4:
        out += u32(spa)
    if f & 8:
        out += u32(tpa)
    if f & 0x10:
        out += mac
    return out


def ip(proto, payload, fl=0, frag=None):
    out = bytes([0x07, proto, fl])
    if fl & 1:
        out += u16(frag)
    return out + u16(len(payload)) + payload


def script(name, mode, pol, *ops):
    write("tcp", name, bytes([mode, pol]) + b"".join(ops))


MSS = bytes([2, 4, 0x05, 0xb4])
ALL_OPTS = bytes([2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10]) + bytes(8) + bytes([1, 1, 1, 0])


def tcp_seeds():
    script("data-in", MODE_CONN, POL_RECVED,
           tcp(flags=ACK | PSH, dlen=100), tcp(flags=ACK | PSH, dlen=1460),
           clock(200))
    script("echo", MODE_CONN, POL_RECVED | POL_ECHO,
           tcp(flags=ACK | PSH, dlen=500), tcp(ack_base=ACK_MAX), clock(50),
           tcp(flags=ACK | PSH, dlen=700), NEXT_TIMER, tcp(ack_base=ACK_MAX))
    script("out-of-order", MODE_CONN, POL_RECVED,
           tcp(flags=ACK | PSH, seq=1000, dlen=500), tcp(flags=ACK | PSH, seq=3000, dlen=200),
           tcp(flags=ACK | PSH, seq=1400, dlen=900), tcp(flags=ACK | PSH, dlen=1000),
           tcp(flags=ACK | FIN, dlen=700), tcp(flags=ACK | FIN))
    script("no-recved", MODE_CONN, 0,
           *[tcp(flags=ACK | PSH, dlen=1460) for i in range(12)],
           recved(0, 5000), tcp(flags=ACK | PSH, dlen=1460))
    script("peer-fin", MODE_CONN, POL_RECVED | POL_CLOSE_FIN,
           tcp(flags=ACK | PSH, dlen=10), tcp(flags=ACK | FIN),
           tcp(ack_base=ACK_MAX), NEXT_TIMER)
    script("app-close", MODE_CONN, POL_RECVED | POL_GREET,
           write_(0, 300), close(0), tcp(ack_base=ACK_MAX),
           tcp(flags=ACK | FIN, ack_base=ACK_MAX), NEXT_TIMER, NEXT_TIMER)
    script("closing", MODE_CONN, POL_RECVED,
           close(0), tcp(flags=ACK | FIN, ack_base=ACK_UNA), tcp(ack_base=ACK_MAX),
           NEXT_TIMER)
    script("bulk-out", MODE_CONN, POL_RECVED | POL_REFILL,
           write_(0, 20000), tcp(ack_base=ACK_UNA, ack=100),
           tcp(ack_base=ACK_UNA), tcp(ack_base=ACK_UNA), tcp(ack_base=ACK_UNA),
           tcp(ack_base=ACK_UNA, ack=64, wnd=65535), tcp(ack_base=ACK_MAX), NEXT_TIMER,
           NEXT_TIMER, tcp(ack_base=ACK_MAX))
    script("zero-window", MODE_CONN, POL_RECVED,
           write_(0, 3000), tcp(ack_base=ACK_MAX, wnd=0), write_(0, 3000), NEXT_TIMER,
           NEXT_TIMER, NEXT_TIMER, tcp(ack_base=ACK_MAX, wnd=8192), tcp(ack_base=ACK_MAX))
    script("rto", MODE_CONN, POL_RECVED,
           write_(0, 5000), *[NEXT_TIMER] * 10)
    script("second-conn", MODE_CONN, POL_RECVED | POL_ECHO,
           tcp(sel=1, flags=SYN, seq_mode=SEQ_RAW, seq=0x2000, opts=MSS),
           tcp(sel=CONN0 | 1, ack_base=ACK_ISS, ack=1),
           tcp(sel=CONN0 | 1, flags=ACK | PSH, dlen=64), tcp(sel=CONN0 | 1, flags=RST | ACK))
    script("refused", MODE_CONN, 0,
           tcp(sel=2 | DPORT_REFUSE << 4, flags=SYN, seq_mode=SEQ_RAW, seq=77),
           tcp(sel=CONN0 | 1, ack_base=ACK_ISS, ack=1))
    script("closed-port", MODE_CONN, 0,
           tcp(sel=3 | DPORT_CLOSED << 4, flags=SYN, seq_mode=SEQ_RAW, seq=5),
           tcp(sel=3 | DPORT_ANY << 4, dport=12345, flags=ACK, dlen=10))
    script("rst", MODE_CONN, POL_RECVED,
           tcp(flags=RST, seq=100), tcp(flags=RST | ACK, seq=0))
    script("syn-in-window", MODE_CONN, 0,
           tcp(flags=SYN, seq=5), tcp(flags=ACK, seq=-1000), tcp(flags=ACK, ack=100,
                                                                   ack_base=ACK_MAX))
    script("options", MODE_CONN, 0,
           tcp(sel=1, flags=SYN, seq_mode=SEQ_RAW, seq=9, opts=ALL_OPTS),
           tcp(sel=CONN0 | 1, ack_base=ACK_ISS, ack=1, opts=bytes([1, 1, 8, 10]) + bytes(8)),
           tcp(ipopt=True, flags=ACK | PSH, dlen=20))
    script("time-wait", MODE_CONN, POL_RECVED | POL_CLOSE_FIN,
           close(0), tcp(ack_base=ACK_MAX), tcp(flags=ACK | FIN, ack_base=ACK_MAX),
           tcp(sel=0, flags=SYN, seq=6250, seq_mode=SEQ_REL16), NEXT_TIMER)
    script("active-open", MODE_CONN, POL_RECVED | POL_GREET,
           connect(80), tcp(sel=CONN0 | 1, flags=SYN | ACK, seq_mode=SEQ_RAW, seq=0x5000,
                            ack_base=ACK_ISS, ack=1, opts=MSS),
           tcp(sel=CONN0 | 1, flags=ACK | PSH, dlen=30), close(1),
           tcp(sel=CONN0 | 1, flags=ACK | FIN, ack_base=ACK_MAX), NEXT_TIMER)
    script("backlog", MODE_CONN, 0,
           *[tcp(sel=i & 3 | (0x40 if i > 3 else 0), flags=SYN, seq_mode=SEQ_RAW, seq=i * 1000)
             for i in range(8)], clock(10001))
    script("abort", MODE_CONN, POL_RECVED | POL_ABORT_FIN,
           write_(0, 100), tcp(flags=ACK | FIN), abort(0))
    script("idle", MODE_CONN, 0, clock(60001), NEXT_TIMER)
    script("dhcp-renew", MODE_DHCP_CONN, POL_RECVED,
           tcp(flags=ACK | PSH, dlen=10), clock(1800000), dhcp(1), NEXT_TIMER,
           clock(3000000), dhcp(2))
    script("dhcp-rebind", MODE_DHCP_CONN, 0, clock(1800000), NEXT_TIMER, clock(1400000),
           NEXT_TIMER, NEXT_TIMER)
    script("dhcp-select", MODE_DHCP_SELECTING, 0,
           dhcp(0), dhcp(1), arp(0), tcp(sel=0, flags=SYN, seq_mode=SEQ_RAW, seq=1))
    script("dhcp-options", MODE_DHCP_SELECTING, 0,
           dhcp(0, times=(600, 200, 500, 0xffffff00, 0x0a000201),
                extra=bytes([0, 0, 3, 8, 10, 0, 2, 1, 10, 0, 2, 2, 6, 4, 8, 8, 8, 8])),
           dhcp(1, times=(0xffffffff, 0, 0, 0, 0)), dhcp(2, dst_us=True))
    script("dhcp-timeout", MODE_DHCP_SELECTING, 0, NEXT_TIMER, NEXT_TIMER, clock(31000))
    script("icmp", MODE_STATIC, 0, arp(0), icmp(64), icmp(1472), icmp(9, bcast=True))
    script("arp", MODE_STATIC, 0,
           arp(1), arp(0x20 | 1), arp(4 | 8, spa=0x0a000209, tpa=0x0a00020f),
           arp(0x10 | 2, mac=bytes([0x52, 0, 0, 0, 0, 9])), icmp(20))
    script("arp-pending", MODE_CONN, 0,
           tcp(sel=0x40, flags=SYN, seq_mode=SEQ_RAW, seq=4), NEXT_TIMER, NEXT_TIMER,
           arp(1 | 0x20))
    script("ip", MODE_CONN, 0,
           ip(17, bytes([0, 67, 0, 68, 0, 8, 0, 0])), ip(6, bytes(20), fl=1, frag=0x2000),
           ip(1, bytes([8, 0, 0xf7, 0xff]) + bytes(4), fl=2), ip(99, b"x" * 30))
    script("ooo-fragmented", MODE_CONN, POL_RECVED,
           *[tcp(flags=ACK | PSH, seq=200 * i, dlen=100) for i in range(10, 0, -1)],
           tcp(flags=ACK | PSH, seq=150, dlen=400), tcp(flags=ACK | PSH, dlen=2200))
    script("abort-on-data", MODE_CONN, 0, policy2(POL2_ABORT_DATA),
           tcp(flags=ACK | PSH, seq=100, dlen=100), tcp(flags=ACK | PSH, dlen=150))
    script("abort-on-sent", MODE_CONN, POL_RECVED, write_(0, 2000), policy2(POL2_ABORT_SENT),
           tcp(ack_base=ACK_UNA, ack=100))
    script("close-on-sent", MODE_CONN, 0, write_(0, 2000), tcp(flags=ACK | PSH, dlen=3000),
           policy2(POL2_CLOSE_SENT | POL2_RECVED_ALL), tcp(ack_base=ACK_MAX),
           tcp(flags=ACK | FIN, ack_base=ACK_MAX))
    script("old-fin", MODE_CONN, POL_RECVED,
           tcp(flags=ACK | PSH, dlen=200), tcp(flags=ACK | FIN, seq=-100, dlen=50),
           tcp(flags=ACK | FIN, seq=-100, dlen=100))
    script("syn-rcvd-retries", MODE_CONN, 0,
           tcp(sel=1, flags=SYN, seq_mode=SEQ_RAW, seq=0x3000), *[NEXT_TIMER] * 6,
           tcp(sel=1, flags=SYN, seq_mode=SEQ_RAW, seq=0x3000))
    script("dhcp-bad-sum", MODE_DHCP_SELECTING, 0, dhcp(0, bad_sum=True), dhcp(0, zero_sum=True),
           dhcp(1, xid=0x1234), dhcp(1))
    script("wrap-send", MODE_CONN | WRAP, POL_RECVED,
           write_(0, 16000), tcp(ack_base=ACK_UNA, ack=100, wnd=65535),
           *[tcp(ack_base=ACK_MAX) for i in range(4)], write_(0, 16000), NEXT_TIMER,
           tcp(ack_base=ACK_MAX))
    script("wrap-recv", MODE_CONN, POL_RECVED,
           tcp(sel=1, flags=SYN, seq_mode=SEQ_RAW, seq=0xfffffa00, opts=MSS),
           tcp(sel=CONN0 | 1, ack_base=ACK_ISS, ack=1),
           tcp(sel=CONN0 | 1, flags=ACK | PSH, seq=1000, dlen=1000),
           tcp(sel=CONN0 | 1, flags=ACK | PSH, seq=2500, dlen=500),
           tcp(sel=CONN0 | 1, flags=ACK | PSH, dlen=1200),
           tcp(sel=CONN0 | 1, flags=ACK | FIN, dlen=1460))
    script("fin-behind-ooo", MODE_CONN, POL_RECVED,
           tcp(flags=ACK | FIN, seq=1, dlen=1174), tcp(flags=ACK | FIN), NEXT_TIMER)
    script("raw", MODE_CONN, 0,
           bytes([0x01]) + u16(60) + bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56]) * 2 +
           bytes([0x08, 0x06]) + bytes(46))


if __name__ == "__main__":
    http_seeds()
    tcp_seeds()
