"""The OTA agent under load and abuse (update/agent_http.c), driven by real
clients: Apache's `ab` (Debian apache2-utils), curl processes in parallel,
and test/qemu/load_client.py for what no proper client does. Two boards,
qemu-virt with 2 harts and the workload running:

`dut`: QEMU user networking (restrict=on, hostfwd on 127.0.0.1), as the
issue was reported and as `make run` sets it up:
  eight pollers 8 clients polling GET /status, ab and curl (before: 148 of
                320 got no answer): every one answered 200
  put flood     4 connections x 13 PUTs of a rejected pack (before: the
                network thread died): every PUT gets 409 or 422, then the
                next GET is served
  slow senders  one body byte then silence (408 after 10 s without a byte),
                one byte every 0.5 s (408 once the 1 KiB/s minimum applies,
                after 10 s); meanwhile a second PUT gets 409, GETs are served
  own answer    a pack that applies, its client resets the connection while
                the pack is on probation, GETs take the freed slot: none of
                them gets the verdict, which is dropped and counted
  escaping      a pack whose configuration name holds quotes, a newline, a
                fake log line, an escape sequence: the 422's JSON carries it
                intact, the UART line escaped (no forged line)
  sig cap       a pack with 41 signature nodes: refused before any RSA check
A board of its own with a state disk: 45 uploads whose rejections alternate
cost at most 8 journal superblock writes (flash erases), not one each.

`lan`: a tap device in a network namespace (ota_checks.tap_agent; needs
root, skipped otherwise). QEMU's user networking accepts host connections
with a listen backlog of 1: beyond a few concurrent clients the host kernel
drops SYNs and handshake ACKs (with the request) and the clients' own
retransmission backoff decides, up to tens of seconds (docs/architecture.md).
On the tap the board itself is what is measured:
  32 clients    ab -c 32 and 32 curl processes: every request answered, 200
                or 503 with Retry-After, within LAN_BOUND
  floods        60 half-open connections held open, 60 partial heads held
                open, 60 resets, and all of that mixed with GETs, PUTs and
                garbage for 4 s (hundreds of connections: a request may
                then lose its TCP slot, never get a wrong answer): after
                each, the next GET is served within 1 s (the flood's
                connections still open)

Both: no trap, heartbeats match, the request slots add up (accepted ==
answered + gone + open), every log line well formed.
"""
import concurrent.futures
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest

from kernel_checks import FAULT_CONTINUATION, check_log_format
from kernel_qemu import make_state_image
from ota_checks import (Agent, Response, boot_agent, check_all_heartbeats, check_no_trouble,
                        ensure_built, exchange, fdt_edit, free_port, in_netns, pack_path,
                        request_bytes, tap_agent, user_net, wait_agent_up, wait_status)

BOARD = "qemu-virt"
LIFETIME = 400
CLIENTS = 32
NEXT_WITHIN = 1.0              # s: the first GET after a flood
LAN_BOUND = 10.0               # s: any request with 32 clients on the tap (measured: < 1 s)
CLIENT_TIMEOUT = 30            # s: what a client waits for its answer
LOAD_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "load_client.py")


def need_tools():
    for tool, pkg in (("ab", "apache2-utils"), ("curl", "curl")):
        if not shutil.which(tool):
            pytest.fail(f"`{tool}` not found (Debian package {pkg}; `make deps` installs it)")


@pytest.fixture(scope="module")
def dut(qemu_module, tmp_path_factory):
    need_tools()
    ensure_built(BOARD)
    a = boot_agent(qemu_module, BOARD, 2, args=f"shutdown={LIFETIME}",
                   hard_timeout=LIFETIME + 20, name="ota-load")
    a.tmp = tmp_path_factory.mktemp("load")
    yield a
    a.halt()


@pytest.fixture(scope="module")
def lan(qemu_module):
    need_tools()
    ensure_built(BOARD)
    with tap_agent(qemu_module, BOARD, 2, f"shutdown={LIFETIME}", LIFETIME + 20,
                   "ota-load-lan") as a:
        yield a


def http_stats(a):
    return a.status()["http"]


def check_accounting(h):
    assert h["accepted"] == h["answered"] + h["gone"] + h["open"], (
        f"request slots do not add up (a slot leaked or was freed twice): {h}")


def timed_get(port, timeout=CLIENT_TIMEOUT):
    t0 = time.monotonic()
    r = exchange(port, request_bytes("GET", "/status"), timeout=timeout)
    return time.monotonic() - t0, r


def url(a, path="/status"):
    return f"http://{a.host}:{a.port}{path}"


# --- real clients -----------------------------------------------------------------------


AB_FIELD = re.compile(r"^(Complete requests|Failed requests|Non-2xx responses|"
                      r"Requests per second):\s+([\d.]+)", re.M)


def run_ab(a, n, c):
    p = subprocess.run(in_netns(a.netns, ["ab", "-l", "-r", "-q", "-s", str(CLIENT_TIMEOUT),
                                          "-n", str(n), "-c", str(c), url(a)]),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    f = {k: float(v) for k, v in AB_FIELD.findall(p.stdout)}
    assert p.returncode == 0 and "Complete requests" in f, f"ab failed ({p.returncode}):\n{p.stdout}"
    pct = {int(x): int(y) for x, y in re.findall(r"^\s+(\d+)%\s+(\d+)", p.stdout, re.M)}
    return f, pct, p.stdout


def check_ab(a, n, c):
    """ab -c c -n n: every request answered, the only non-2xx ones the 503s
    of a full board. Returns (fields, percentiles in ms)."""
    before = http_stats(a)
    f, pct, out = run_ab(a, n, c)
    after = http_stats(a)
    print(f"ab -c {c} -n {n}: {f.get('Requests per second')} req/s, p50 {pct.get(50)} ms, "
          f"p99 {pct.get(99)} ms, max {pct.get(100)} ms, non-2xx {f.get('Non-2xx responses', 0)}")
    assert f["Complete requests"] == n, out
    assert f.get("Failed requests", 0) == 0, f"requests without a whole answer:\n{out}"
    full = (after["refused"] - before["refused"]) + (after["evicted"] - before["evicted"])
    assert f.get("Non-2xx responses", 0) == full, (
        f"non-2xx answers that are not the 503 of a full board: {before} -> {after}\n{out}")
    assert after["timeouts"] == before["timeouts"], f"408s under load: {before} -> {after}"
    check_accounting(after)
    return f, pct


curl_errors = []      # curl's own messages (-sS), for the failure report


def curl_many(a, clients, per_client, max_time=CLIENT_TIMEOUT):
    """`clients` curl processes at once, each making `per_client` requests
    one after the other: [(code, retry-after, seconds)] (code 0: no answer)."""
    cmd = ["curl", "-sS", "--max-time", str(max_time),
           "-w", "%{http_code} %header{retry-after} %{time_total}\\n"]
    for _ in range(per_client):
        cmd += ["-o", "/dev/null", url(a)]
    procs = [subprocess.Popen(in_netns(a.netns, cmd), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(clients)]
    res = []
    for p in procs:
        out, err = p.communicate(timeout=max_time * per_client + 30)
        lines = out.splitlines()
        assert len(lines) == per_client, f"curl printed {out!r} {err!r}"
        for line in lines:
            parts = line.split()
            res.append((int(parts[0]), parts[1] if len(parts) == 3 else "", float(parts[-1])))
        curl_errors.extend(l for l in err.splitlines() if l.strip())
    return res


def check_curl(a, res):
    times = sorted(t for _, _, t in res)
    print(f"curl: codes {sorted({c for c, _, _ in res})}, p99 {times[int(len(times) * .99)]:.3f} s,"
          f" max {times[-1]:.3f} s")
    bad = [r for r in res if r[0] not in (200, 503)]
    assert not bad, (f"answers other than 200/503 (000: none at all): {bad[:10]}; "
                     f"curl said: {sorted(set(curl_errors))[:5]}")
    no_retry = [r for r in res if r[0] == 503 and not r[1].isdigit()]
    assert not no_retry, f"503 without Retry-After: {no_retry[:5]}"
    check_accounting(http_stats(a))
    return times


def load_client(a, *args, timeout=120):
    p = subprocess.run(in_netns(a.netns, [sys.executable, LOAD_CLIENT, "--host", a.host,
                                          "--port", str(a.port), *args]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    assert p.returncode == 0, f"load_client {args} failed: {p.stderr[-2000:]}"
    return json.loads(p.stdout)


def check_next(r, what):
    n = r["next"]
    assert n["ok"], f"after {what} the next GET was not served: {n}"
    assert n["s"] < NEXT_WITHIN, f"after {what} the next GET took {n['s']} s (bound {NEXT_WITHIN} s)"


# --- user networking: what was reported -------------------------------------------------


def test_eight_pollers(dut):
    """Before: 148 of 320 requests got no answer within 5 s (the agent had 4
    connection slots, held until TIME_WAIT; a fifth client was reset)."""
    f, pct = check_ab(dut, 320, 8)
    assert f.get("Non-2xx responses", 0) == 0, f
    res = curl_many(dut, 8, 40)
    times = check_curl(dut, res)
    assert all(c == 200 for c, _, _ in res), sorted({c for c, _, _ in res})
    slow = [t for t in times if t > 5]
    print(f"curl x8: {len(slow)} of {len(times)} took more than 5 s (host retransmissions)")


def curl_put_code(a, path):
    p = subprocess.run(in_netns(a.netns, ["curl", "-s", "-o", "/dev/null", "--max-time",
                                          str(CLIENT_TIMEOUT), "-w", "%{http_code}", "-T", path,
                                          url(a, "/update")]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=CLIENT_TIMEOUT + 10)
    return int(p.stdout or 0), p.returncode


def test_put_flood_of_rejected_packs(dut):
    """Before the fix the network thread died within some 50 such PUTs (a
    verdict answered on a job a newer PUT had taken over: job.conn NULL)."""
    pack = pack_path(BOARD, "unsigned")
    mark = dut.mark()

    def conn(_):
        return [curl_put_code(dut, pack) for _ in range(13)]

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        res = [r for rs in ex.map(conn, range(4)) for r in rs]
    bad = [r for r in res if r[0] not in (409, 422)]
    assert not bad, f"PUTs without a proper answer (000: none; curl exit 28: timeout): {bad}"
    assert any(c == 422 for c, _ in res), res
    t, r = timed_get(dut.port)
    assert r.status == 200 and t < 5, (t, r)
    st = wait_status(dut.port, lambda s: s["state"] == "idle", timeout=10)
    assert (st["result"], st["reason"]) == ("integrity-failure", "integrity"), st
    assert not dut.lines(r"\] h\d+ (trap|panic)", mark), "a trap or panic during the PUT flood"
    check_accounting(st["http"])


def open_conn(port, send=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
    if send:
        s.sendall(send)
    return s


def reset_conn(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


# --- slow senders ----------------------------------------------------------------------


def slow_upload(port, period, total=9000, limit=40):
    """A PUT of `total` bytes that sends one body byte every `period` s (0:
    one byte, then nothing). Returns (seconds until the answer, Response),
    and meanwhile checks that a second PUT gets 409 and a GET is served."""
    s = open_conn(port, request_bytes("PUT", "/update", b"X", content_length=total))
    s.settimeout(0.1)
    t0, raw, checked = time.monotonic(), b"", False
    try:
        while time.monotonic() - t0 < limit:
            try:
                d = s.recv(65536)
                if not d:
                    break
                raw += d
            except socket.timeout:
                pass
            except ConnectionResetError:
                break
            if not checked and time.monotonic() - t0 > 2:
                checked = True
                busy = exchange(port, request_bytes("PUT", "/update", b"0123456789"), timeout=10)
                assert busy.status == 409 and busy.headers.get("retry-after", "").isdigit(), busy
                t, r = timed_get(port)
                assert r.status == 200 and r.json["state"] == "downloading", r
            if period and not raw:
                try:
                    s.send(b"Y")
                except OSError:
                    break
                time.sleep(period)
    finally:
        s.close()
    return time.monotonic() - t0, Response(raw, True)


@pytest.mark.parametrize("period,reason", [(0, "stalled"), (0.5, "too-slow")])
def test_slow_sender_loses_the_upload_slot(dut, period, reason):
    """AGENT_UPLOAD_IDLE_MS (10 s without a byte) and AGENT_UPLOAD_MIN_BPS
    (1 KiB/s on average once 10 s have passed): 408, the slot is free."""
    mark = dut.mark()
    t, r = slow_upload(dut.port, period)
    assert r.status == 408 and r.json["result"] == "timeout", f"after {t:.1f} s: {r!r}"
    assert 9 <= t <= 25, f"the slow upload was cut after {t:.1f} s (10 s + poll period expected)"
    dut.wait_line(rf"\] h\d+ ota: rejected reason={reason} bytes=\d+ of 9000$", mark, timeout=5)
    st = wait_status(dut.port, lambda s: s["state"] == "idle", timeout=5)
    assert (st["result"], st["reason"]) == ("connection-lost", reason), st
    # the slot is free again: a (rejected) pack is taken and verified
    code, _ = curl_put_code(dut, pack_path(BOARD, "unsigned"))
    assert code == 422, code


# --- the verdict goes to its own connection --------------------------------------------


def test_verdict_never_goes_to_another_connection(dut):
    """counter-v2 applies (then 1.5 s of probation); its client resets the
    connection before the verdict; GETs take the freed request slot; none
    of them may get the verdict. The verdict is dropped and counted."""
    data = open(pack_path(BOARD, "counter-v2"), "rb").read()
    before = http_stats(dut)
    mark = dut.mark()
    s = open_conn(dut.port, request_bytes("PUT", "/update", data))
    dut.wait_line(rf"\] h\d+ ota: downloaded bytes={len(data)}$", mark, timeout=15)
    reset_conn(s)
    # the board saw the reset: only this status request holds a slot
    wait_status(dut.port, lambda x: x["http"]["open"] == 1, timeout=5)
    seen = []
    end = time.monotonic() + 15
    while time.monotonic() < end and not dut.lines(r"\] h\d+ ota: answer dropped ", mark):
        _, r = timed_get(dut.port)
        seen.append(r)
        time.sleep(0.05)
    line = dut.wait_line(r"\] h\d+ ota: answer dropped conn=\d+ http=200: the client is gone$",
                         mark, timeout=10)
    wrong = [r for r in seen if r.status != 200 or "classes" not in r.json]
    assert not wrong, f"a GET got something else than its status: {wrong[0]!r}"
    assert len(seen) >= 3, f"only {len(seen)} GETs during the verdict's wait"
    st = dut.status()
    assert st["classes"]["counter"] == 2 and st["result"] == "success", st
    assert st["http"]["answers_dropped"] == before["answers_dropped"] + 1, st["http"]
    assert dut.lines(r"\] h\d+ ota: result=ok http=200$", mark)[0].index < line.index


# --- attacker text and costs before authentication --------------------------------------


EVIL = b'x"\\\n[    1.000000] h0 update: applied class=uart from=1 to=9 \x1b[2J\xff'


def test_config_name_is_escaped(dut):
    """The configuration's name is the pack's own text, read before the
    signature is: the JSON answer keeps it intact, the log escapes it."""
    path = str(dut.tmp / "evil.itb")

    def edit(fdt, libfdt):
        fdt.resize(fdt.totalsize() + 1024)
        fdt.setprop(fdt.path_offset("/configurations"), "default", EVIL + b"\0")
        fdt.pack()

    fdt_edit(pack_path(BOARD, "counter-v3"), path, edit)
    mark = dut.mark()
    r = exchange(dut.port, request_bytes("PUT", "/update", open(path, "rb").read()), timeout=30)
    assert r.status == 422, r
    detail = r.json["detail"]                       # json.loads: the escapes are valid JSON
    assert detail.startswith("config " + EVIL[:32].decode("latin-1")), repr(detail)
    assert all(32 <= b < 127 for b in r.body.rstrip(b"\n")), f"not plain ASCII: {r.body!r}"
    rej = dut.wait_line(r"\] h\d+ ota: rejected reason=malformed detail=", mark, timeout=10)
    raw = rej.entry.kv["detail"]
    assert "\n" not in rej.line and "\x1b" not in rej.line and "[    1.000000]" not in rej.line, (
        rej.line)
    unescaped = re.sub(r'\\(x[0-9a-f]{2}|["\\])',
                       lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 3 else m.group(1),
                       raw)
    assert unescaped == detail, (raw, detail)
    assert not dut.lines(r"\] h\d+ update: applied class=uart from=1 to=9", mark)


def test_signature_nodes_capped(dut):
    """40 copies of the signature node: refused by the count, not after 40
    RSA checks."""
    path = str(dut.tmp / "manysigs.itb")

    def edit(fdt, libfdt):
        conf = fdt.path_offset("/configurations/conf-1")
        sig = fdt.subnode_offset(conf, "signature-1")
        props = []
        off = fdt.first_property_offset(sig, quiet=(libfdt.NOTFOUND,))
        while off >= 0:
            p = fdt.get_property_by_offset(off)
            props.append((p.name, bytes(p)))
            off = fdt.next_property_offset(off, quiet=(libfdt.NOTFOUND,))
        fdt.resize(fdt.totalsize() + 40 * 1024)
        for i in range(40):
            n = fdt.add_subnode(fdt.path_offset("/configurations/conf-1"), f"signature-{i + 2}")
            for name, val in props:
                fdt.setprop(n, name, val)
        fdt.pack()

    fdt_edit(pack_path(BOARD, "counter-v3"), path, edit)
    mark = dut.mark()
    r = exchange(dut.port, request_bytes("PUT", "/update", open(path, "rb").read()), timeout=30)
    assert r.status == 422 and r.json["result"] == "integrity-failure", r
    assert r.json["detail"] == "config conf-1: more than 4 signature nodes", r.json
    dut.wait_line(r"\] h\d+ ota: rejected reason=integrity detail=\"config conf-1: more than 4 "
                  r"signature nodes\"$", mark, timeout=10)


def test_rejection_flood_bounded_flash_writes(qemu, tmp_path):
    """Each change of the LwM2M result rewrites a journal superblock (an
    erase on NOR). 45 uploads whose rejections alternate (integrity,
    malformed, truncated) may cost at most the bucket of 8 state writes
    (update/persist.c), not one erase each; the board keeps answering and
    reports the newest result."""
    ensure_built(BOARD)
    img = make_state_image(BOARD, str(tmp_path / "state.img"))
    port = free_port()
    q = qemu(BOARD, 2, args="workload=off", extra_args=user_net(BOARD, port), state=img,
             hard_timeout=120, name="ota-load-wear")
    wait_agent_up(q, port, timeout=60)
    a = Agent(q, BOARD, port)
    tampered = open(pack_path(BOARD, "tampered"), "rb").read()
    for _ in range(15):
        assert exchange(port, request_bytes("PUT", "/update", tampered)).status == 422
        assert exchange(port, request_bytes("PUT", "/update", b"no pack" * 20)).status == 422
        r = exchange(port, request_bytes("PUT", "/update", tampered[:200],
                                         content_length=len(tampered)), close_write=True)
        assert r.status == 400, r
    st = a.status()
    assert (st["result"], st["reason"]) == ("connection-lost", "truncated"), st
    mark = a.mark()
    q.send("journal\n")
    w = a.wait_line(r"^  storage writes: .* superblocks=(\d+) ", mark, timeout=10)
    supers = int(w.match.group(1))
    assert supers <= 1 + 8, f"{supers} superblock writes for 45 rejected uploads: {w.line}"
    check_no_trouble(a)
    a.halt()


def test_run_is_clean(dut):
    check_no_trouble(dut)
    check_all_heartbeats(dut)
    check_accounting(http_stats(dut))
    for _ in range(20):
        if not dut.qemu.partial:
            break
        time.sleep(0.1)
    check_log_format(dut.qemu, allowed=FAULT_CONTINUATION)


# --- a tap network: 32 clients and floods -------------------------------------------------


def test_lan_ab_32_clients(lan):
    f, pct = check_ab(lan, 640, CLIENTS)
    assert pct[100] < LAN_BOUND * 1000, f"the longest request took {pct[100]} ms"


def test_lan_curl_32_clients(lan):
    times = check_curl(lan, curl_many(lan, CLIENTS, 5))
    assert times[-1] < LAN_BOUND, f"the longest request took {times[-1]:.2f} s"


@pytest.mark.parametrize("kind", ["half-open", "partial-head", "reset"])
def test_lan_flood_then_served(lan, kind):
    before = http_stats(lan)
    r = load_client(lan, "flood", kind, "60")
    print(f"{kind}: flood {r['flood_s']} s, next GET {r['next']['s']} s")
    check_next(r, f"60 {kind} connections")
    after = wait_status(lan.port, lambda s: s["http"]["open"] <= 1, timeout=10, host=lan.host,
                        netns=lan.netns)["http"]
    check_accounting(after)
    if kind != "reset":
        # 60 held connections, 40 request slots: idle ones gave way or newcomers were refused
        assert (after["evicted"] + after["refused"]) > (before["evicted"] + before["refused"]), (
            before, after)


def test_lan_mixed_flood_then_served(lan):
    r = load_client(lan, "mixed", "4", "--pack", pack_path(BOARD, "tampered"))
    ans = r["answers"]
    print({k: len(v) for k, v in ans.items()}, "next GET", r["next"]["s"], "s")
    check_next(r, "a mixed flood")
    # Hundreds of connections, 56 TCP slots: a request may lose its slot to the
    # flood (None: reset, no answer), but no answer is ever a wrong one.
    for kind, ok in (("get", {200, 503}), ("put", {409, 422, 503}), ("garbage", {400, 501, 503})):
        got = ans.get(kind, [])
        lost = [x for x in got if x is None or str(x).startswith("error")]
        assert got and all(x in ok for x in got if x not in lost), sorted(set(map(str, got)))
        assert sum(x in ok for x in got) * 2 > len(got), f"{kind}: most had no answer: {got}"
    assert 200 in ans["get"], ans["get"]
    st = wait_status(lan.port, lambda s: s["state"] == "idle" and s["http"]["open"] <= 1,
                     timeout=15, host=lan.host, netns=lan.netns)
    check_accounting(st["http"])


def test_lan_run_is_clean(lan):
    check_no_trouble(lan)
    check_all_heartbeats(lan)
    for _ in range(20):
        if not lan.qemu.partial:
            break
        time.sleep(0.1)
    check_log_format(lan.qemu, allowed=FAULT_CONTINUATION)
