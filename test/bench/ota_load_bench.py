#!/usr/bin/python3
"""make bench, OTA agent under load: requests per second, failures and
latency percentiles of GET /status with 1, 8 and 32 concurrent clients
(Apache's ab), 32 curl processes in parallel, a flood of PUTs of a rejected
pack over 4 connections, and the first GET after floods of half-open,
partial-head, reset and mixed connections. qemu-virt, -smp 4 -m 256M, the
workload running (kernel.elf).

Two networks, each with a fresh board:
  user  QEMU user networking (restrict=on, hostfwd on 127.0.0.1), as `make
        run` sets it up. slirp listens with a backlog of 1: with more than a
        few concurrent clients the host kernel drops SYNs and handshake ACKs
        (and the request with them), and the clients' retransmission
        backoff (1 s, then data 0.2, 0.4, ... 13 s) sets the tail.
  tap   a tap device in a network namespace this script creates (and always
        removes): the clients reach the board directly, so the figures are
        the board's own. Needs root and /dev/net/tun; skipped otherwise.

Clients: ab (-l, -r, -s 30: ab gives up when no request moves for 30 s,
and then prints no percentiles), curl processes, and test/qemu/
load_client.py (Python threads, 30 s per request). Failures are requests
without a whole answer; non-2xx are answers other than 200 (503 +
Retry-After when every request slot is busy; for the PUTs of a rejected
pack all answers are non-2xx by design: 422, or 409 while another PUT is
being handled).
Latencies in ms, host clock, connect included. Last, the board's own
counters (GET /status "http"): timeouts=0 there means no request waited
30 s on the board, whatever the clients saw. Also runs against an older
kernel (--kernel): a board that stops answering is reported as such and the
rest of its rows are skipped.
"""
import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ota_bench import OPENSBI, QEMU, BenchError, Board, free_port   # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD_CLIENT = os.path.join(HERE, "..", "qemu", "load_client.py")
MACHINE = ["-M", "virt", "-smp", "4", "-m", "256M"]
NIC = ["-device", "virtio-net-device,netdev=n0"]
TIMEOUT = 30
GUEST, HOST_SIDE = "10.80.0.2", "10.80.0.1"


def sh(*cmd, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    if check and p.returncode:
        raise BenchError("%s failed: %s" % (" ".join(cmd), p.stdout.strip()))
    return p


class Target:
    """A booted board and how to reach it (host, port, network namespace)."""

    def __init__(self, net, kernel, timeout):
        self.net, self.ns, self.board = net, None, None
        if net == "user":
            self.host, self.port = "127.0.0.1", free_port()
            nd = ["-netdev", "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:8080" % self.port]
            args, pre = "", []
        else:
            tag = secrets.token_hex(3)
            self.ns, tap = "otab-" + tag, "otab" + tag
            self.host, self.port = GUEST, 8080
            sh("ip", "netns", "add", self.ns)
            sh("ip", "-n", self.ns, "link", "set", "lo", "up")
            sh("ip", "-n", self.ns, "tuntap", "add", "dev", tap, "mode", "tap")
            sh("ip", "-n", self.ns, "addr", "add", HOST_SIDE + "/24", "dev", tap)
            sh("ip", "-n", self.ns, "link", "set", tap, "up")
            nd = ["-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % tap]
            args, pre = "ip=%s/24 dhcp=off" % GUEST, ["ip", "netns", "exec", self.ns]
        argv = pre + [QEMU] + MACHINE + ["-bios", OPENSBI, "-kernel", kernel, "-append", args] \
            + nd + NIC + ["-nographic", "-serial", "stdio", "-display", "none", "-monitor", "none"]
        self.board = Board(argv, timeout, "board-" + net)
        self.board.wait_line(r" ota: agent listening port=8080", 60)
        self.board.wait_line(r" net: up ip=", 30)
        deadline = time.monotonic() + 30
        while not self.get()["ok"]:
            if time.monotonic() > deadline:
                raise BenchError("%s: GET /status never answered" % net)
            time.sleep(0.3)

    def cmd(self, argv):
        return (["ip", "netns", "exec", self.ns] if self.ns else []) + list(argv)

    def url(self, path="/status"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def client(self, *args, timeout=300):
        p = subprocess.run(self.cmd([sys.executable, LOAD_CLIENT, "--host", self.host, "--port",
                                     str(self.port), "--timeout", str(TIMEOUT)] + list(args)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        if p.returncode:
            raise BenchError("load_client %s: %s" % (args, p.stderr[-500:]))
        return json.loads(p.stdout)

    def get(self):
        r = self.client("gets", "1", "1", timeout=TIMEOUT + 10)
        return {"ok": r["statuses"].get("200") == 1, "s": r["max"]}

    def http_counters(self):
        """The board's own HTTP counters (GET /status "http"; older kernels: none)."""
        p = subprocess.run(self.cmd(["curl", "-s", "--max-time", str(TIMEOUT), self.url()]),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=TIMEOUT + 10)
        try:
            return json.loads(p.stdout).get("http")
        except ValueError:
            return None

    def kill(self):
        if self.board:
            self.board.kill()
        if self.ns:
            sh("ip", "netns", "del", self.ns, check=False)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def ab(t, n, c):
    p = subprocess.run(t.cmd(["ab", "-l", "-r", "-q", "-s", str(TIMEOUT), "-n", str(n),
                              "-c", str(c), t.url()]),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=TIMEOUT * 4 + n)
    out = p.stdout
    f = {k: float(v) for k, v in re.findall(r"^(Complete requests|Failed requests|Non-2xx "
                                           r"responses|Requests per second|Time taken for "
                                           r"tests):\s+([\d.]+)", out, re.M)}
    pc = {int(a): int(b) for a, b in re.findall(r"^\s+(\d+)%\s+(\d+)", out, re.M)}
    done = f.get("Complete requests")
    if done is None:
        m = re.search(r"Total of (\d+) requests completed", out)
        done = float(m.group(1)) if m else 0.0
    return {"requests": n, "clients": c, "rps": f.get("Requests per second"),
            "failed": int(n - done + f.get("Failed requests", 0)),
            "non2xx": int(f.get("Non-2xx responses", 0)),
            "p50": pc.get(50), "p99": pc.get(99), "max": pc.get(100)}


def curl_parallel(t, clients, per):
    cmd = ["curl", "-s", "--max-time", str(TIMEOUT), "-w", "%{http_code} %{time_total}\\n"]
    for _ in range(per):
        cmd += ["-o", "/dev/null", t.url()]
    t0 = time.monotonic()
    procs = [subprocess.Popen(t.cmd(cmd), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True) for _ in range(clients)]
    res = []
    for p in procs:
        out, _ = p.communicate(timeout=TIMEOUT * per + 30)
        res += [l.split() for l in out.splitlines() if l.strip()]
    took = time.monotonic() - t0
    lat = [float(x[1]) * 1000 for x in res]
    return {"requests": clients * per, "clients": clients,
            "rps": round(len(res) / took, 2), "failed": clients * per - sum(
                1 for x in res if x[0] != "000"),
            "non2xx": sum(1 for x in res if x[0] not in ("000", "200")),
            "p50": round(pct(lat, 50)), "p99": round(pct(lat, 99)), "max": round(max(lat))}


def put_flood(t, pack, conns=4, per=13):
    res, lock = [], threading.Lock()
    cmd = ["curl", "-s", "-o", "/dev/null", "--max-time", str(TIMEOUT), "-w",
           "%{http_code} %{time_total}", "-T", pack, t.url("/update")]

    def worker():
        for _ in range(per):
            p = subprocess.run(t.cmd(cmd), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, timeout=TIMEOUT + 10)
            code, secs = (p.stdout.split() + ["000", "0"])[:2]
            with lock:
                res.append((code, float(secs) * 1000))

    t0 = time.monotonic()
    ths = [threading.Thread(target=worker) for _ in range(conns)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    took = time.monotonic() - t0
    lat = [x[1] for x in res]
    return {"requests": conns * per, "clients": conns, "rps": round(len(res) / took, 2),
            "failed": sum(1 for c, _ in res if c == "000"),
            "non2xx": sum(1 for c, _ in res if c not in ("000", "200")),
            "p50": round(pct(lat, 50)), "p99": round(pct(lat, 99)), "max": round(max(lat))}


def run_net(net, kernel, pack, timeout, rows, lines, counters):
    t = None
    try:
        t = Target(net, kernel, timeout)
        for c, n in ((1, 200), (8, 400), (32, 640)):
            r = ab(t, n, c)
            rows.append((net, "ab GET /status", r))
            if r["failed"] and not t.get()["ok"]:
                rows.append((net, "board stopped answering", None))
                return
        r = curl_parallel(t, 32, 10)
        rows.append((net, "curl x32 GET /status", r))
        g = t.client("gets", "32", "20", timeout=TIMEOUT * 25)
        rows.append((net, "python x32 GET /status", {
            "requests": g["requests"], "clients": 32, "rps": round(g["requests"] / g["seconds"], 2),
            "failed": g["statuses"].get("None", 0),
            "non2xx": sum(v for k, v in g["statuses"].items() if k not in ("200", "None")),
            "p50": round(g["p50"] * 1000), "p99": round(g["p99"] * 1000),
            "max": round(g["max"] * 1000)}))
        r = put_flood(t, pack)
        rows.append((net, "curl PUT rejected pack", r))
        g = t.get()
        if not g["ok"]:
            rows.append((net, "board stopped answering", None))
            return
        for kind in ("half-open", "partial-head", "reset"):
            f = t.client("flood", kind, "60")
            lines.append((net, kind, f["flood_s"], f["next"]))
        f = t.client("mixed", "4", "--pack", pack)
        lines.append((net, "mixed", 4.0, f["next"]))
        counters.append((net, t.http_counters()))
    finally:
        if t:
            t.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="qemu-virt")
    ap.add_argument("--kernel", help="kernel.elf (default build/<board>/kernel.elf)")
    ap.add_argument("--packs", help="folder of the demo packs (default build/<board>/demos/packs)")
    ap.add_argument("--nets", default="user,tap", help="user, tap or both (default)")
    ap.add_argument("--timeout", type=int, default=600, help="hard limit per QEMU process (s)")
    a = ap.parse_args()
    if a.board != "qemu-virt":
        print("bench: ota_load skipped: qemu-virt only")
        return 0
    kernel = a.kernel or "build/%s/kernel.elf" % a.board
    pack = os.path.join(a.packs or "build/%s/demos/packs" % a.board, "unsigned.itb")
    for f in (kernel, pack, LOAD_CLIENT):
        if not os.path.exists(f):
            sys.exit("bench: ota_load: %s is missing" % f)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, f: sys.exit(128 + n))
    nets = [n for n in a.nets.split(",") if n]
    if "tap" in nets and (os.geteuid() != 0 or not os.path.exists("/dev/net/tun")):
        print("bench: ota_load tap skipped: needs root and /dev/net/tun")
        nets.remove("tap")
    rows, lines, counters, t0 = [], [], [], time.monotonic()
    for net in nets:
        try:
            run_net(net, kernel, pack, a.timeout, rows, lines, counters)
        except (BenchError, OSError, subprocess.TimeoutExpired) as e:
            rows.append((net, "error: %s" % str(e).splitlines()[0][:60], None))
    print("OTA agent under load on %s (%s; -smp 4, workload on; ms, host clock)"
          % (a.board, os.path.basename(kernel)))
    print("  %-5s %-24s %7s %7s %8s %6s %7s %7s %7s %7s" % (
        "net", "test", "clients", "requests", "req/s", "failed", "non2xx", "p50", "p99", "max"))
    for net, name, r in rows:
        if r is None:
            print("  %-5s %s" % (net, name))
            continue
        print("  %-5s %-24s %7d %8d %8s %6d %7d %7s %7s %7s" % (
            net, name, r["clients"], r["requests"], r["rps"], r["failed"], r["non2xx"],
            r["p50"], r["p99"], r["max"]))
    print("  first GET after a flood (its connections still open), ms:")
    for net, kind, took, nxt in lines:
        print("  %-5s %-24s %s" % (net, kind, "%d (HTTP %s)" % (nxt["s"] * 1000, nxt["status"])
                                   if nxt["ok"] else "NOT SERVED (%s)" % (nxt["error"] or
                                                                         nxt["status"])))
    for net, h in counters:
        if h:
            print("  %-5s board: %s" % (net, " ".join("%s=%s" % kv for kv in h.items())))
    for net, name, r in rows:
        if r is not None:
            print("bench: ota_load net=%s test=%s clients=%d rps=%s failed=%d non2xx=%d "
                  "p99_ms=%s max_ms=%s" % (net, name.split()[0] + ("_put" if "PUT" in name else ""),
                                           r["clients"], r["rps"], r["failed"], r["non2xx"],
                                           r["p99"], r["max"]))
        elif r is None:
            print("bench: ota_load net=%s %s" % (net, name.replace(" ", "_")))
    for net, kind, took, nxt in lines:
        print("bench: ota_load_next net=%s flood=%s served=%d next_ms=%d" % (
            net, kind, nxt["ok"], nxt["s"] * 1000))
    print("bench: ota_load done runtime_s=%.1f" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
