"""A stand-in for a board's OTA agent, for testing ota-server/ota.py's own
logic only (the real end-to-end tests run the kernel in QEMU). It listens on
127.0.0.1 and speaks the agent's HTTP contract:

  PUT /update  body = pack -> 200 {"result": "success", "seq": N, "classes": {...}}
                             or 400/409/413/422 {"result": "<code>", "detail": "..."}
  GET /status  -> 200 {"abi", "board", "classes", "seq", "state", "result", "events"}

It checks what it can cheaply (a FIT, each image's sha256, the sequence
number, the version chain) and can misbehave on request: drop the first
connections, answer 409 busy, reject, be slow to go idle, or roll back
after answering (as probation does when new code faults).
"""
import hashlib
import http.server
import json
import socket
import threading
import time

import libfdt


class AgentServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        agent = self.server.agent
        with agent.lock:
            drop = agent.drops > 0
            if drop:
                agent.drops -= 1
                agent.dropped += 1
        if drop:
            # a dropped connection: read a little, then reset it
            try:
                self.request.settimeout(0.5)
                self.request.recv(64)
            except OSError:
                pass
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            self.request.close()
            return
        super().handle()

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def do_GET(self):
        agent = self.server.agent
        agent.requests.append(("GET", self.path, dict(self.headers), b""))
        if self.path != "/status":
            return self._send(404, {"result": "not-found", "detail": self.path})
        self._send(200, agent.status())

    def do_PUT(self):
        agent = self.server.agent
        length = int(self.headers.get("Content-Length", "-1"))
        if self.path != "/update":
            return self._send(404, {"result": "not-found", "detail": self.path})
        if length < 0:
            return self._send(411, {"result": "bad-request", "detail": "no Content-Length"})
        if length > agent.max_size:
            agent.requests.append(("PUT", self.path, dict(self.headers), b""))
            return self._send(413, {"result": "too-large", "detail": "%d bytes" % length})
        body = b""
        while len(body) < length:
            chunk = self.rfile.read(length - len(body))
            if not chunk:
                break
            body += chunk
        agent.requests.append(("PUT", self.path, dict(self.headers), body))
        code, reply = agent.apply(body)
        self._send(code, reply)


class FakeAgent:
    def __init__(self, board="qemu-virt", classes=None, drops=0, busy=False, reject=None,
                 settle=0.0, rollback_after=None, listen=True, max_size=1 << 20, extra=None):
        self.board = board
        self.classes = dict(classes or {"uart": 1, "counter": 1, "sched": 1})
        self.seq = 0
        self.state = "idle"
        self.result = "initial"
        self.events = ["boot: ready harts=4 board=%s" % board]
        self.reason = "ok"
        self.drops = drops
        self.dropped = 0
        self.busy = busy
        self.reject = reject          # (http code, result, detail): reject every pack
        self.settle = settle          # seconds in "updating" after answering
        self.rollback_after = rollback_after  # result code the board ends in (probation)
        self.max_size = max_size
        self.extra = extra or {}
        self.requests = []
        self.lock = threading.Lock()
        self.server = AgentServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.agent = self
        self.server.server_bind()
        self.port = self.server.server_address[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.thread = None
        self.settle_until = 0.0
        self.pending = None
        if listen:
            self.listen()

    def listen(self):
        self.server.server_activate()
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        if self.thread:
            self.server.shutdown()
        self.server.server_close()

    def puts(self):
        return [r for r in self.requests if r[0] == "PUT"]

    def status(self):
        with self.lock:
            if self.pending and time.monotonic() >= self.settle_until:
                self.state, self.result, classes, event = self.pending
                self.reason = "ok" if self.result == "success" else "rolled-back"
                if classes is not None:
                    self.classes = classes
                self.events.append(event)
                self.pending = None
            body = {"abi": "lukos-abi-3", "board": self.board, "classes": dict(self.classes),
                    "seq": self.seq, "state": self.state, "result": self.result,
                    "result_code": {"initial": 0, "success": 1, "integrity-failure": 5,
                                    "unsupported-package": 6, "update-failed": 8}.get(self.result, 8),
                    "reason": self.reason, "events": self.events[-8:]}
            body.update(self.extra)
            return body

    def _reject(self, code, result, detail, reason=None):
        """Like the agent: the LwM2M result, the engine's reason, a detail."""
        self.result = result
        self.reason = reason or result
        self.events.append("seq=%d %s" % (self.seq, self.reason))
        return code, {"result": result, "reason": self.reason, "seq": self.seq, "detail": detail}

    def apply(self, pack):
        with self.lock:
            if self.busy or self.pending:
                return 409, {"result": "busy", "detail": "an update is in progress"}
            if self.reject:
                return self._reject(*self.reject)
            try:
                seq, steps = self.parse(pack)
            except (libfdt.FdtException, ValueError, KeyError) as e:
                return self._reject(422, "unsupported-package", "not a pack: %s" % e, "malformed")
            for s in steps:
                if hashlib.sha256(s["data"]).digest() != s["hash"]:
                    return self._reject(422, "integrity-failure", "hash of %s" % s["image"], "integrity")
            if seq <= self.seq:
                return self._reject(422, "unsupported-package", "seq %d <= %d" % (seq, self.seq), "replay")
            new = dict(self.classes)
            for s in steps:
                if s["class"] not in new:
                    return self._reject(422, "unsupported-package", "unknown class %s" % s["class"], "unknown-class")
                if s["from"] != new[s["class"]] or s["to"] != s["from"] + 1:
                    return self._reject(422, "unsupported-package", "chain: %s %d->%d at %d" % (
                        s["class"], s["from"], s["to"], new[s["class"]]), "gap")
                new[s["class"]] = s["to"]
            old = dict(self.classes)
            self.seq = seq
            self.classes = new
            self.result = "success"
            self.reason = "ok"
            for s in steps:
                self.events.append("update: applied class=%s from=%d to=%d" % (s["class"], s["from"], s["to"]))
            if self.settle or self.rollback_after:
                self.state = "updating"
                self.settle_until = time.monotonic() + self.settle
                if self.rollback_after:
                    self.pending = ("idle", self.rollback_after, old,
                                    "update: rolled-back class=%s reason=\"fault\"" % steps[0]["class"])
                else:
                    self.pending = ("idle", "success", None, "update: committed seq=%d" % seq)
            return 200, {"result": "success", "seq": seq, "classes": dict(new), "board": self.board}

    @staticmethod
    def parse(pack):
        fdt = libfdt.Fdt(pack)
        conf = fdt.path_offset("/configurations")
        coff = fdt.subnode_offset(conf, fdt.getprop(conf, "default").as_str())
        seq = fdt.getprop(coff, "update,seq").as_uint32()
        names = [n.decode() for n in bytes(fdt.getprop(coff, "loadables")).split(b"\0") if n]
        steps = []
        for name in names:
            off = fdt.path_offset("/images/" + name)
            hoff = fdt.subnode_offset(off, "hash-1")
            steps.append({"image": name, "class": fdt.getprop(off, "update,class").as_str(),
                          "from": fdt.getprop(off, "update,from").as_uint32(),
                          "to": fdt.getprop(off, "update,to").as_uint32(),
                          "data": bytes(fdt.getprop(off, "data")),
                          "hash": bytes(fdt.getprop(hoff, "value"))})
        return seq, steps
