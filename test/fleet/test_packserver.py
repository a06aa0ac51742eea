"""ota-server/packserver.py (`ota.py serve`): HTTP/1.1, single ranges, robustness; and
the wave and budget arithmetic of ota-server/fleet.py."""
import http.client
import os
import socket
import threading
import time

import pytest

import fleet
import packserver

BODY = os.urandom(10000)


@pytest.fixture
def srv(tmp_path):
    (tmp_path / "p.itb").write_bytes(BODY)
    (tmp_path / ".hidden").write_bytes(b"secret")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "q.itb").write_bytes(b"q" * 10)
    os.symlink("/etc/passwd", str(tmp_path / "out.itb"))
    log = open(str(tmp_path / "log"), "w+")
    s = packserver.PackServer(str(tmp_path), port=0, log=log, timeout=1.0, max_conns=8).start()
    s.logfile = log
    yield s
    s.stop()
    log.close()


def get(srv, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def raw(srv, data, timeout=5):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out


@pytest.mark.parametrize("rng,status,first,last", [
    (None, 200, 0, 9999),
    ("bytes=0-99", 206, 0, 99),
    ("bytes=9000-", 206, 9000, 9999),
    ("bytes=-300", 206, 9700, 9999),
    ("bytes=9990-20000", 206, 9990, 9999),
    ("bytes=-20000", 206, 0, 9999),
    ("bytes=0-1,5-6", 200, 0, 9999),        # several ranges: ignored, the whole file
    ("items=0-5", 200, 0, 9999),
    ("bytes=7-3", 200, 0, 9999),
])
def test_ranges(srv, rng, status, first, last):
    r, body = get(srv, "/p.itb", {"Range": rng} if rng else {})
    assert r.status == status
    assert body == BODY[first:last + 1]
    assert int(r.getheader("Content-Length")) == last - first + 1
    assert r.getheader("Accept-Ranges") == "bytes"
    if status == 206:
        assert r.getheader("Content-Range") == "bytes %d-%d/10000" % (first, last)


@pytest.mark.parametrize("rng", ["bytes=10000-", "bytes=20000-20001", "bytes=-0"])
def test_unsatisfiable_range_is_416(srv, rng):
    r, body = get(srv, "/p.itb", {"Range": rng})
    assert r.status == 416 and body == b""
    assert r.getheader("Content-Range") == "bytes */10000"


def test_if_range(srv):
    r, _ = get(srv, "/p.itb")
    etag = r.getheader("ETag")
    r, body = get(srv, "/p.itb", {"Range": "bytes=5000-", "If-Range": etag})
    assert r.status == 206 and body == BODY[5000:]
    r, body = get(srv, "/p.itb", {"Range": "bytes=5000-", "If-Range": '"changed"'})
    assert r.status == 200 and body == BODY


def test_head_and_subfolder(srv):
    r, body = get(srv, "/p.itb", method="HEAD")
    assert r.status == 200 and body == b"" and r.getheader("Content-Length") == "10000"
    r, body = get(srv, "/sub/q.itb")
    assert r.status == 200 and body == b"q" * 10


@pytest.mark.parametrize("path", ["/nosuch.itb", "/", "/sub", "/.hidden", "/../../etc/passwd",
                                  "/%2e%2e/%2e%2e/etc/passwd", "/out.itb", "/p.itb%00"])
def test_only_files_inside_the_folder(srv, path):
    r, body = get(srv, path)
    assert r.status == 404 and b"root:" not in body


def test_keep_alive_and_close(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    for _ in range(3):                  # three requests, one connection
        c.request("GET", "/p.itb", headers={"Range": "bytes=0-9"})
        r = c.getresponse()
        assert r.status == 206 and r.read() == BODY[:10]
    c.close()
    out = raw(srv, b"GET /p.itb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200") and b"Connection: close" in out and out.endswith(BODY)


@pytest.mark.parametrize("junk", [
    b"GARBAGE\r\n\r\n",
    b"\x00\x01\xff\xfe\r\n\r\n",
    b"GET /p.itb HTTP/9.9\r\n\r\n",
    b"GET " + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
    b"GET /p.itb HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
    b"DELETE /p.itb HTTP/1.1\r\nHost: x\r\n\r\n",
])
def test_garbage_gets_an_error_and_the_server_lives(srv, junk):
    out = raw(srv, junk)
    assert out == b"" or out.startswith(b"HTTP/1.") and int(out.split()[1]) >= 400, out[:100]
    r, body = get(srv, "/p.itb")
    assert r.status == 200 and body == BODY


def test_idle_and_half_open_clients_do_not_block_the_server(srv):
    # more idle connections than max_conns (8): they are closed after the timeout (1 s)
    idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(12)]
    idle[0].sendall(b"GET /p.itb HTTP/1.1\r\nHost:")       # and one that stops mid-header
    t0 = time.monotonic()
    r, body = get(srv, "/p.itb")
    assert r.status == 200 and body == BODY
    assert time.monotonic() - t0 < 4.5
    for s in idle:
        s.close()


def test_parallel_clients(srv):
    results = []

    def one(i):
        r, body = get(srv, "/p.itb", {"Range": "bytes=%d-" % i})
        results.append(r.status == 206 and body == BODY[i:])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 40
    deadline = time.monotonic() + 5      # each request is counted just after its answer
    while srv.requests < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.requests == 40


def test_request_log(srv):
    get(srv, "/p.itb", {"Range": "bytes=100-199", "User-Agent": "lukos-simboard/b7"})
    get(srv, "/nosuch")
    deadline = time.monotonic() + 5      # each request is logged just after its answer
    while srv.requests < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.logfile.seek(0)
    lines = srv.logfile.read().splitlines()
    assert any(l.endswith('"GET /p.itb HTTP/1.1" 206 100 range=bytes=100-199 ua="lukos-simboard/b7"')
               for l in lines), lines
    assert any('"GET /nosuch HTTP/1.1" 404' in l for l in lines)


def test_drop_after_cuts_the_first_get_once(tmp_path):
    (tmp_path / "p.itb").write_bytes(BODY)
    s = packserver.PackServer(str(tmp_path), port=0, log=None, drop_after=3000).start()
    try:
        out = raw(s, b"GET /p.itb HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        assert b"Content-Length: 10000" in head and body == BODY[:3000]
        r, body = get(s, "/p.itb", {"Range": "bytes=3000-"})
        assert r.status == 206 and body == BODY[3000:]
        r, body = get(s, "/p.itb")
        assert r.status == 200 and body == BODY
    finally:
        s.stop()


# --- fleet.py arithmetic ------------------------------------------------------------------------

@pytest.mark.parametrize("spec,n,marks", [
    ("1,10%,50%,100%", 20, [1, 2, 10, 20]),
    ("1,10%,50%,100%", 10000, [1, 1000, 5000, 10000]),
    ("1,10%,50%,100%", 3, [1, 2, 3]),           # 10% of 3 rounds up to 1: an empty wave is dropped
    ("1,10%,50%,100%", 1, [1]),
    ("5,25%", 100, [5, 25, 100]),               # the rest is a last wave
    ("100%", 7, [7]),
    ("2,2,4", 4, [2, 4]),
    ("50", 10, [10]),
])
def test_parse_waves(spec, n, marks):
    assert fleet.parse_waves(spec, n) == marks


@pytest.mark.parametrize("spec", ["x", "10%,5%", "150%", "-1", ""])
def test_parse_waves_errors(spec):
    with pytest.raises(ValueError):
        fleet.parse_waves(spec, 100)


@pytest.mark.parametrize("spec,size,budget", [("0", 10, 0), ("3", 10, 3), ("10%", 10, 1),
                                              ("10%", 9, 0), ("50%", 5, 2), ("100%", 4, 4)])
def test_parse_budget(spec, size, budget):
    assert fleet.parse_budget(spec, size) == budget


def test_board_ids(tmp_path):
    f = tmp_path / "boards"
    f.write_text("# lab\nb1 b2\nb3,b1\n\n")
    assert fleet.read_board_ids("a,b1", str(f)) == ["a", "b1", "b2", "b3"]
    for bad in ("a/b", "#", "x+", "a b"):
        with pytest.raises(ValueError):
            fleet.read_board_ids(bad, None)
