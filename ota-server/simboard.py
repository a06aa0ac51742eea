#!/usr/bin/python3
"""simboard.py: simulated boards that speak a real board's MQTT and HTTP contract.

  simboard.py --broker 127.0.0.1:1883 --count 1000 [--prefix sim-] [options]
  simboard.py --broker 127.0.0.1:1883 --ids a,b,c --fail-ids b

The contract is DESIGN.md "Fleet over MQTT" (and docs/fleet.md): each board
connects with client id <id> and a retained last will {"state": "offline"}
on lukos/<id>/state, publishes its state there (retained, QoS 1: the JSON
of the agent's GET /status plus "job"), subscribes to lukos/<id>/job
(QoS 1), and on a job fetches the URL with HTTP/1.1 GET, resuming with
Range after a dropped connection, checks size and sha256, then "applies"
the pack: it reads the pack's seq and steps (a real FIT; the signature is
not checked, this is not a kernel) and moves its class versions as the
kernel's engine would, after --apply-delay seconds. Refusals, with nothing
changed and the reason in the state: garbage JSON (bad-job), a seq at or
below the board's floor (replay), a URL that is not http://host[:port]/...
(bad-url), a size over --max-pack (too-large), an HTTP error (http-<code>),
a wrong size or hash (size-mismatch, sha256-mismatch), a pack the engine
would refuse (malformed, replay, unknown-class, gap, duplicate, downgrade).
Injected failures: --fail-ids and --fail-rate give result update-failed
(reason --fail-reason, default rolled-back) after the download; --crash-ids
boards drop their connection on a job and stay away (the broker then
publishes their will).

A job identical to the last one handled (byte for byte) is ignored: the
retained job comes back on every reconnect and must not be handled twice.
"job" in the state is the seq of the job being handled or last handled (0
before any); a job's outcome is final when "state" is "idle" again.

Scale: every board is one MqttClient (mqtt_lite.py) in one asyncio loop,
no thread per board. At most --http-conns downloads run at once in the
process and at most --connect-conns connections are being opened at once
(a real fleet is spread over time and networks; one process on a
two-core machine is not). With --share-body, once one board of this
process has fetched and verified a pack in full, the others still make
their own HTTP request, a Range GET of its first 4 KiB that must match the
bytes already fetched, and take the rest from memory: every board still
shows up in the server's log, but the body crosses the loopback once per
process instead of once per board. Without it (the default) every board
fetches the whole body.

Exit: SIGINT/SIGTERM, or --duration. Boards then drop their connections
without DISCONNECT, like boards losing power (their wills fire), unless
--clean-exit. The last stderr line is `simboard: stats {...}` (JSON).
"""
import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import signal
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import packtool  # noqa: E402
from mqtt_lite import MqttClient, MqttError  # noqa: E402

# The agent's LwM2M update results (update/agent.c result_names, in code order).
RESULTS = ["initial", "success", "not-enough-flash", "out-of-memory", "connection-lost",
           "integrity-failure", "unsupported-package", "invalid-uri", "update-failed"]
# The engine's result names (update/engine.c) mapped as update/agent.c lwm2m_of does.
ENGINE_TO_LWM2M = {"ok": "success", "integrity": "integrity-failure", "nomem": "out-of-memory",
                   "link": "update-failed", "selftest": "update-failed",
                   "quiesce-timeout": "update-failed", "rolled-back": "update-failed",
                   "busy": "update-failed"}
DEFAULT_CLASSES = {"counter": 1, "netdev": 1, "plic": 1, "sched": 1, "timer": 1, "uart": 1}
MAX_PACK = 4 << 20              # include/kernel/agent.h AGENT_MAX_PACK
PROBE = 4096                    # the Range GET a --share-body board makes
NEVENTS = 8


def lwm2m_of(engine_reason):
    return ENGINE_TO_LWM2M.get(engine_reason, "unsupported-package")


def log(msg):
    print("simboard: %s" % msg, file=sys.stderr, flush=True)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _quiet(fut):
    """A publish whose connection died is not an error: the state is re-published on reconnect."""
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())


def _loop_error(loop, ctx):
    """One line instead of asyncio's traceback for an error nobody waited for."""
    log("asyncio: %s %r" % (ctx.get("message"), ctx.get("exception")))


class Refused(Exception):
    """A job refused or failed: (LwM2M result, reason)."""

    def __init__(self, result, reason):
        super().__init__(reason)
        self.result, self.reason = result, reason


# --- HTTP/1.1 client (one request per connection) ----------------------------------

async def http_get(host, port, path, headers, limit, timeout):
    """GET; returns (status, headers dict lowercased, body, complete)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        req = "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n" % (path, host, port)
        req += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        writer.write(req.encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise Refused("connection-lost", "bad-http")
        status = int(parts[1])
        hdrs = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        length = int(hdrs.get("content-length", "-1"))
        if length > limit:
            raise Refused("not-enough-flash", "too-large")
        body, complete = bytearray(), True
        try:
            if length >= 0:
                while len(body) < length:
                    chunk = await asyncio.wait_for(reader.read(min(65536, length - len(body))), timeout)
                    if not chunk:
                        complete = False
                        break
                    body += chunk
            else:
                while len(body) <= limit:
                    chunk = await asyncio.wait_for(reader.read(65536), timeout)
                    if not chunk:
                        break
                    body += chunk
        except (OSError, asyncio.TimeoutError):
            complete = False
        return status, hdrs, bytes(body), complete
    finally:
        writer.close()


def parse_url(url):
    """http://host[:port]/path -> (host, port, path); Refused(invalid-uri, bad-url) otherwise."""
    try:
        u = urllib.parse.urlsplit(url)
        port = u.port or 80
    except ValueError:
        raise Refused("invalid-uri", "bad-url")
    if u.scheme != "http" or not u.hostname or u.username or not u.path.startswith("/"):
        raise Refused("invalid-uri", "bad-url")
    return u.hostname, port, u.path + ("?" + u.query if u.query else "")


# --- the fleet: shared settings, limits, caches, counters --------------------------

class SimFleet:
    def __init__(self, broker, ids, apply_delay=0.2, jitter=0.5, fail_ids=(), fail_rate=0.0,
                 fail_reason="rolled-back", crash_ids=(), seed=0, seq=0, classes=None,
                 max_pack=MAX_PACK, http_conns=32, connect_conns=200, share_body=False,
                 keepalive=30, http_timeout=10.0, verbose=False, connect_to=None):
        self.broker = broker
        self.apply_delay, self.jitter = apply_delay, jitter
        self.fail_ids, self.crash_ids = set(fail_ids), set(crash_ids)
        self.fail_rate, self.fail_reason, self.seed = fail_rate, fail_reason, seed
        self.max_pack, self.share_body = max_pack, share_body
        self.keepalive, self.http_timeout, self.verbose = keepalive, http_timeout, verbose
        self.connect_to = connect_to    # (host, port) instead of the URL's, like curl --connect-to
        self.http_sem = asyncio.Semaphore(http_conns)
        self.connect_sem = asyncio.Semaphore(connect_conns)
        self.bodies = {}            # (url, sha256) -> verified body (--share-body)
        self.packs = {}             # sha256 -> read_pack() or the error
        self.stopping = False
        self.stats = {"connects": 0, "reconnects": 0, "http_requests": 0, "http_bytes": 0,
                      "full_fetches": 0, "probes": 0, "resumes": 0, "jobs": 0, "results": {}}
        self.boards = [SimBoard(self, i, seq, dict(classes or DEFAULT_CLASSES)) for i in ids]
        self.tasks = []

    def fails(self, board_id, seq):
        if board_id in self.fail_ids:
            return True
        if not self.fail_rate:
            return False
        h = hashlib.sha256(("%s/%s/%s" % (self.seed, board_id, seq)).encode()).digest()
        return int.from_bytes(h[:8], "big") / 2.0 ** 64 < self.fail_rate

    def count(self, key, n=1):
        self.stats[key] += n

    async def start(self, timeout=600.0):
        """Start every board; return once each has connected and subscribed once."""
        t0 = time.monotonic()
        self.tasks = [asyncio.ensure_future(b.run()) for b in self.boards]
        waits = [b.ready.wait() for b in self.boards]
        await asyncio.wait_for(asyncio.gather(*waits), timeout)
        return time.monotonic() - t0

    async def stop(self, clean=False):
        self.stopping = True
        for b in self.boards:
            b.shutdown(clean)
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # --- fetching -----------------------------------------------------------------

    async def fetch(self, board, url, size, sha):
        host, port, path = parse_url(url)
        if self.connect_to:
            host, port = self.connect_to
        async with self.http_sem:
            cached = self.bodies.get((url, sha)) if self.share_body else None
            if cached is not None:
                n = min(len(cached), PROBE)
                status, _, body, complete = await self._get(board, host, port, path,
                                                            {"Range": "bytes=0-%d" % (n - 1)}, self.max_pack)
                self.count("probes")
                if status in (200, 206) and complete and body[:n] == cached[:n]:
                    return cached
                # the server's file changed: fetch it like the first board did
            body = await self.download(board, host, port, path)
        if self.share_body and len(body) == size and hashlib.sha256(body).hexdigest() == sha:
            self.bodies[(url, sha)] = body
        return body

    async def _get(self, board, host, port, path, headers, limit):
        headers = dict(headers, **{"User-Agent": "lukos-simboard/%s" % board.id})
        self.count("http_requests")
        try:
            r = await http_get(host, port, path, headers, limit, self.http_timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError, UnicodeDecodeError):
            return None, {}, b"", False
        self.count("http_bytes", len(r[2]))
        return r

    async def download(self, board, host, port, path):
        """The whole body, resuming with Range (and If-Range) after a dropped connection."""
        got, etag, tries = bytearray(), None, 0
        while True:
            headers = {}
            if got:
                headers["Range"] = "bytes=%d-" % len(got)
                if etag:
                    headers["If-Range"] = etag
            status, hdrs, body, complete = await self._get(board, host, port, path, headers,
                                                           self.max_pack)
            if status == 206 and got and hdrs.get("content-range", "").startswith("bytes %d-" % len(got)):
                got += body
            elif status == 200:
                got = bytearray(body)
                etag = hdrs.get("etag")
            elif status == 206:         # a range we did not ask for: start over
                got, etag, complete = bytearray(), None, False
            elif status is not None:
                raise Refused("invalid-uri" if status in (404, 410, 403) else "connection-lost",
                              "http-%d" % status)
            if len(got) > self.max_pack:
                raise Refused("not-enough-flash", "too-large")
            if status in (200, 206) and complete:
                self.count("full_fetches")
                return bytes(got)
            tries += 1
            if tries > 5:
                raise Refused("connection-lost", "fetch-failed")
            if got:
                self.count("resumes")
                if self.verbose:
                    log("%s: download dropped at byte %d, resuming" % (board.id, len(got)))
            await asyncio.sleep(0.1 * 2 ** tries * random.uniform(0.5, 1.0))

    def read_pack(self, body, sha):
        meta = self.packs.get(sha)
        if meta is None:
            try:
                meta = packtool.read_pack(body)
            except ValueError:
                meta = "malformed"
            self.packs[sha] = meta
        return meta


# --- one board -----------------------------------------------------------------------

class SimBoard:
    def __init__(self, fleet, board_id, seq, classes):
        self.fleet, self.id = fleet, board_id
        self.topic_state, self.topic_job = "lukos/%s/state" % board_id, "lukos/%s/job" % board_id
        self.seq, self.classes = seq, classes
        self.state, self.result, self.reason = "idle", "initial", "none"
        self.events, self.job = [], 0
        self.client = None
        self.ready = asyncio.Event()
        self.last_job = None        # the payload of the job handled last (or now)
        self.pending = None         # a job that came while busy
        self.busy = False
        self.crashed = False

    def status(self):
        return {"abi": packtool.KERNEL_ABI, "board": "simboard", "classes": self.classes,
                "seq": self.seq, "state": self.state, "result": self.result,
                "result_code": RESULTS.index(self.result), "reason": self.reason,
                "events": self.events[-NEVENTS:], "job": self.job}

    def publish_state(self):
        c = self.client
        if c is not None and c.connected:
            try:
                _quiet(c.publish(self.topic_state, json.dumps(self.status()), qos=1, retain=True))
            except MqttError:
                pass

    def set_state(self, state):
        self.state = state
        self.publish_state()

    def finish(self, result, reason, event):
        self.result, self.reason, self.state = result, reason, "idle"
        self.events.append(event)
        del self.events[:-NEVENTS]
        st = self.fleet.stats["results"]
        st[reason] = st.get(reason, 0) + 1
        self.publish_state()

    # --- connection -------------------------------------------------------------

    async def run(self):
        fleet, delay = self.fleet, 0.5
        host, port = fleet.broker
        while not fleet.stopping and not self.crashed:
            lost = asyncio.Event()
            c = MqttClient(self.id, fleet.keepalive,
                           will=(self.topic_state, b'{"state": "offline"}', 1, True),
                           on_message=self.on_message, on_lost=lambda exc: lost.set())
            try:
                async with fleet.connect_sem:
                    await c.connect(host, port)
                    self.client = c
                    self.publish_state()
                    granted = await c.subscribe([(self.topic_job, 1)])
                    if granted and granted[0] == 0x80:
                        raise MqttError("subscription to %s refused" % self.topic_job)
                fleet.count("reconnects" if self.ready.is_set() else "connects")
                self.ready.set()
                delay = 0.5
                await lost.wait()
            except MqttError as e:
                if fleet.verbose:
                    log("%s: %s" % (self.id, e))
                c.abort()
            self.client = None
            if fleet.stopping:
                break
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 8.0)

    def shutdown(self, clean):
        c = self.client
        if c is not None:
            c.disconnect() if clean else c.abort()

    def on_message(self, topic, payload, retain):
        if topic != self.topic_job or not payload or payload == self.last_job:
            return
        if self.busy:
            self.pending = payload
            return
        self.busy = True
        asyncio.ensure_future(self.work(payload))

    # --- jobs -----------------------------------------------------------------------

    async def work(self, payload):
        try:
            while payload is not None:
                self.last_job = payload
                try:
                    await self.handle(payload)
                except Refused as r:
                    self.finish(r.result, r.reason, "job=%s %s" % (self.job, r.reason))
                except Exception as e:  # a bug here must not kill the board
                    log("%s: job failed: %r" % (self.id, e))
                    self.finish("update-failed", "internal", "internal error")
                payload, self.pending = self.pending, None
                if payload == self.last_job:
                    payload = None
        finally:
            self.busy = False

    async def handle(self, payload):
        fleet = self.fleet
        fleet.count("jobs")
        try:
            job = json.loads(payload)
            seq, url, size, sha = job["seq"], job["url"], job["size"], job["sha256"]
            ok = (isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2 ** 32 and
                  isinstance(url, str) and isinstance(size, int) and not isinstance(size, bool) and
                  isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha))
        except (ValueError, TypeError, KeyError):
            ok = False
        if not ok:
            raise Refused("unsupported-package", "bad-job")
        self.job = seq
        if seq <= self.seq:
            raise Refused("unsupported-package", "replay")
        parse_url(url)
        if size <= 0 or size > fleet.max_pack:
            raise Refused("not-enough-flash", "too-large")
        if self.id in fleet.crash_ids:
            self.crashed = True     # as if the pack's code took the board down
            self.client and self.client.abort()
            return
        self.set_state("downloading")
        body = await fleet.fetch(self, url, size, sha)
        if len(body) != size:
            raise Refused("integrity-failure", "size-mismatch")
        if hashlib.sha256(body).hexdigest() != sha:
            raise Refused("integrity-failure", "sha256-mismatch")
        self.set_state("downloaded")
        meta = fleet.read_pack(body, sha)
        if meta == "malformed":
            raise Refused("unsupported-package", "malformed")
        self.set_state("updating")
        await asyncio.sleep(fleet.apply_delay * random.uniform(1 - fleet.jitter, 1 + fleet.jitter))
        reason, classes = self.engine(meta)
        if reason == "ok" and fleet.fails(self.id, meta["seq"]):
            reason = fleet.fail_reason
        if reason != "ok":
            raise Refused(lwm2m_of(reason), reason)
        self.classes, self.seq = classes, meta["seq"]
        self.finish("success", "ok", "seq=%d ok" % self.seq)

    def engine(self, meta):
        """The engine's checks on a pack's seq and version chain (update/engine.c)."""
        if meta["seq"] <= self.seq:
            return "replay", None
        classes = dict(self.classes)
        for st in meta["steps"]:
            cur = classes.get(st["class"])
            if cur is None:
                return "unknown-class", None
            if st["to"] < st["from"]:
                return "downgrade", None
            if st["from"] > cur or st["to"] > st["from"] + 1:
                return "gap", None
            if st["from"] < cur or st["to"] == st["from"]:
                return "duplicate", None
            classes[st["class"]] = st["to"]
        return "ok", classes


# --- command line --------------------------------------------------------------------

def board_ids(a):
    if a.ids:
        return [i for i in a.ids.split(",") if i]
    return ["%s%d" % (a.prefix, n) for n in range(a.start, a.start + a.count)]


def parse_host_port(spec):
    host, _, port = spec.rpartition(":")
    return host, int(port)


def parse_classes(spec):
    out = {}
    for item in spec.split(","):
        name, _, v = item.partition("=")
        out[name.strip()] = int(v)
    return out


async def amain(a):
    host, _, port = a.broker.rpartition(":")
    fleet = SimFleet((host, int(port)), board_ids(a), apply_delay=a.apply_delay, jitter=a.jitter,
                     fail_ids=[i for i in a.fail_ids.split(",") if i], fail_rate=a.fail_rate,
                     fail_reason=a.fail_reason, crash_ids=[i for i in a.crash_ids.split(",") if i],
                     seed=a.seed, seq=a.seq, classes=parse_classes(a.classes) if a.classes else None,
                     max_pack=a.max_pack, http_conns=a.http_conns, connect_conns=a.connect_conns,
                     share_body=a.share_body, keepalive=a.keepalive, verbose=a.verbose,
                     connect_to=parse_host_port(a.connect_to) if a.connect_to else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_loop_error)
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    try:
        took = await fleet.start(a.connect_timeout)
    except asyncio.TimeoutError:
        n = sum(b.ready.is_set() for b in fleet.boards)
        log("only %d of %d boards connected within %gs" % (n, len(fleet.boards), a.connect_timeout))
        await fleet.stop()
        return 1
    print("simboard: ready boards=%d seconds=%.2f" % (len(fleet.boards), took), flush=True)
    try:
        await asyncio.wait_for(stop.wait(), a.duration)
    except asyncio.TimeoutError:
        pass
    await fleet.stop(clean=a.clean_exit)
    log("stats %s" % json.dumps(fleet.stats, sort_keys=True))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="simboard.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--broker", required=True, metavar="HOST:PORT")
    ap.add_argument("--count", type=int, default=1, help="boards PREFIX0..PREFIX<count-1> (default 1)")
    ap.add_argument("--prefix", default="sim-", help="board id prefix (default sim-)")
    ap.add_argument("--start", type=int, default=0, help="first board number (default 0)")
    ap.add_argument("--ids", default="", help="comma-separated board ids (instead of --count)")
    ap.add_argument("--seq", type=int, default=0, help="each board's floor at start (default 0)")
    ap.add_argument("--classes", default="", help="class versions, e.g. counter=1,uart=2 "
                    "(default: those of a qemu-virt board, all at 1)")
    ap.add_argument("--apply-delay", type=float, default=0.2, help="seconds an update takes (default 0.2)")
    ap.add_argument("--jitter", type=float, default=0.5, help="apply delay varies by +-this fraction")
    ap.add_argument("--fail-ids", default="", help="boards whose updates fail")
    ap.add_argument("--fail-rate", type=float, default=0.0, help="fraction of updates that fail "
                    "(deterministic per board, seq and --seed)")
    ap.add_argument("--fail-reason", default="rolled-back", help="engine reason of an injected "
                    "failure (default rolled-back -> update-failed)")
    ap.add_argument("--crash-ids", default="", help="boards that drop off the broker on a job")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-pack", type=int, default=MAX_PACK, help="largest pack accepted (default 4 MiB)")
    ap.add_argument("--share-body", action="store_true",
                    help="after one full fetch, other boards make a 4 KiB Range GET and reuse the body")
    ap.add_argument("--connect-to", metavar="HOST:PORT", default="",
                    help="fetch every pack from HOST:PORT whatever the job's URL says (QEMU boards "
                    "reach the pack server at 10.0.2.100 through guestfwd, simulated ones at 127.0.0.1)")
    ap.add_argument("--http-conns", type=int, default=32, help="downloads at once (default 32)")
    ap.add_argument("--connect-conns", type=int, default=200, help="MQTT connects at once (default 200)")
    ap.add_argument("--keepalive", type=int, default=30, help="MQTT keep-alive seconds (default 30)")
    ap.add_argument("--connect-timeout", type=float, default=600.0)
    ap.add_argument("--duration", type=float, default=None, help="exit after this many seconds")
    ap.add_argument("--clean-exit", action="store_true", help="DISCONNECT at exit (no wills)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    raise_nofile()
    return asyncio.run(amain(a))


if __name__ == "__main__":
    sys.exit(main())
