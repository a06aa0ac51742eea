#!/usr/bin/python3
"""Abusive clients for the OTA agent's load tests and benchmark
(test_ota_load.py, test/bench/ota_load_bench.py). A separate program so
that it can run inside a network namespace (`ip netns exec NS ...`).
Every mode prints one JSON object on stdout.

  flood KIND N     opens N connections at once, of a KIND:
                     half-open     connect, send nothing, keep it open
                     partial-head  connect, send "GET /sta", keep it open
                     reset         connect, (every other one: part of a head),
                                   then RST (SO_LINGER 0)
                   then times the next GET /status (with the flood's
                   connections still open) and closes them
  mixed SECONDS    20 threads for SECONDS: GETs, PUTs of --pack, held
                   half-open PUT heads, resets, garbage; then the next GET
  gets C N         C threads x N GET /status: status counts, latencies

Every socket has a timeout (--timeout, default 30 s).
"""
import argparse
import concurrent.futures
import json
import os
import socket
import statistics
import struct
import sys
import threading
import time


def http(host, port, data, timeout):
    """Sends data, reads until the agent closes: (HTTP status or None, raw)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        raw = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            raw += d
    finally:
        s.close()
    status = None
    if raw.startswith(b"HTTP/1.") and len(raw) > 12:
        try:
            status = int(raw[9:12])
        except ValueError:
            pass
    return status, raw


def timed_get(host, port, timeout):
    t0 = time.monotonic()
    try:
        status, raw = http(host, port, b"GET /status HTTP/1.1\r\nHost: board\r\n\r\n", timeout)
        err = None
    except OSError as e:
        status, raw, err = None, b"", repr(e)
    ok = status == 200 and b'"classes"' in raw
    return {"s": round(time.monotonic() - t0, 4), "status": status, "ok": ok, "error": err}


def put_request(data):
    return b"PUT /update HTTP/1.1\r\nHost: board\r\nContent-Length: %d\r\n\r\n" % len(data) + data


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def flood(a):
    if a.kind not in ("half-open", "partial-head", "reset"):
        raise SystemExit(f"unknown flood kind {a.kind}")

    def one(i):
        """The connection to hold, None, or the error (the board may reset
        a flood's connection to make room: that is its right)."""
        try:
            s = socket.create_connection((a.host, a.port), timeout=a.timeout)
            if a.kind == "partial-head" or (a.kind == "reset" and i % 2):
                s.sendall(b"GET /sta" if a.kind == "partial-head" else
                          b"GET /status HTTP/1.1\r\n")
            if a.kind == "reset":
                reset(s)
                return None
            return s
        except OSError as e:
            return type(e).__name__

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(min(a.n, 64)) as ex:
        got = list(ex.map(one, range(a.n)))
    took = time.monotonic() - t0
    held = [s for s in got if isinstance(s, socket.socket)]
    errors = [s for s in got if isinstance(s, str)]
    nxt = timed_get(a.host, a.port, a.timeout)
    for s in held:
        s.close()
    return {"kind": a.kind, "n": a.n, "flood_s": round(took, 3), "held": len(held),
            "errors": errors, "next": nxt}


def mixed(a):
    pack = open(a.pack, "rb").read() if a.pack else os.urandom(5000)
    stop = time.monotonic() + a.seconds
    held, res, lock = [], {}, threading.Lock()

    def note(k, v):
        with lock:
            res.setdefault(k, []).append(v)

    def worker(i):
        while time.monotonic() < stop:
            k = ("get", "put", "held", "reset", "garbage")[i % 5]
            try:
                if k == "get":
                    note(k, http(a.host, a.port, b"GET /status HTTP/1.1\r\n\r\n", a.timeout)[0])
                elif k == "put":
                    note(k, http(a.host, a.port, put_request(pack), a.timeout)[0])
                elif k == "held":
                    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
                    s.sendall(b"PUT /update HTTP/1.1\r\n")
                    with lock:
                        held.append(s)
                    note(k, "held")
                    time.sleep(0.05)
                elif k == "reset":
                    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
                    s.sendall(b"GET /st")
                    reset(s)
                    note(k, "reset")
                else:
                    note(k, http(a.host, a.port, os.urandom(200) + b"\r\n\r\n", a.timeout)[0])
            except OSError as e:
                note(k, f"error {type(e).__name__}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.timeout * 3)
    nxt = timed_get(a.host, a.port, a.timeout)
    for s in held:
        s.close()
    return {"answers": res, "next": nxt}


def gets(a):
    out, lock = [], threading.Lock()

    def worker():
        for _ in range(a.n):
            r = timed_get(a.host, a.port, a.timeout)
            with lock:
                out.append(r)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    lat = sorted(r["s"] for r in out)
    counts = {}
    for r in out:
        counts[str(r["status"])] = counts.get(str(r["status"]), 0) + 1
    return {"requests": len(out), "seconds": round(took, 3), "statuses": counts,
            "p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, int(len(lat) * .99))],
            "max": lat[-1], "mean": round(statistics.mean(lat), 4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--timeout", type=float, default=30)
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("flood")
    p.add_argument("kind")
    p.add_argument("n", type=int)
    p = sub.add_parser("mixed")
    p.add_argument("seconds", type=float)
    p.add_argument("--pack")
    p = sub.add_parser("gets")
    p.add_argument("c", type=int)
    p.add_argument("n", type=int)
    a = ap.parse_args()
    r = {"flood": flood, "mixed": mixed, "gets": gets}[a.mode](a)
    json.dump(r, sys.stdout)
    print()


if __name__ == "__main__":
    main()
