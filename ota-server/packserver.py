"""packserver.py: serve a folder of packs over HTTP/1.1 for boards to fetch (`ota.py serve`).

GET and HEAD of files directly in (or below) the folder; nothing else.
Single byte ranges (RFC 9110 section 14): `Range: bytes=a-b`, `bytes=a-`,
`bytes=-n` give 206 with Content-Range; a range starting past the end
gives 416 with `Content-Range: bytes */size`; several ranges, or a Range
header we cannot parse, are ignored (200, the whole file), as the RFC
allows. `If-Range` with our ETag (or Last-Modified date) keeps the range,
anything else sends the whole file. Keep-alive as HTTP/1.1 says (and
`Connection: close` honoured). Every request is logged as one line:

  <time> <client> "<request line>" <status> <body bytes> range=<spec|-> ua="<User-Agent>"

Robustness: one thread per connection (ThreadingMixIn), at most
max_conns of them (the accept loop waits when all are busy, so a flood of
boards queues in the listen backlog instead of spawning thousands of
threads); an idle or slow connection is closed after `timeout` seconds;
request lines and headers are bounded by http.server (64 KiB, 100
headers); paths are resolved and must stay inside the folder (no
symlinks out, no dot files, no directory listings).

For tests only, drop_after=N makes the first GET of each file whose body
would pass byte N stop after sending byte N-1 and close the connection
(the client sees a short body): this is how the tests check that boards
resume with Range.

Locking: the server's counters and the drop-once set are under self.lock;
everything else is per-connection.
"""
import email.utils
import http.server
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

CHUNK = 64 * 1024
RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.I)


def parse_range(header, size):
    """One byte range against a file of `size` bytes.

    Returns None (ignore the header: send everything), "unsatisfiable", or
    (first, last) inclusive."""
    if header is None:
        return None
    m = RANGE_RE.match(header)
    if not m or (not m.group(1) and not m.group(2)):
        return None             # several ranges, another unit, or garbage
    first, last = m.group(1), m.group(2)
    if first == "":             # suffix: the last n bytes
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return (max(0, size - n), size - 1) if size else "unsatisfiable"
    first = int(first)
    if last and int(last) < first:
        return None             # invalid range-spec: ignore the header
    if first >= size:
        return "unsatisfiable"
    last = int(last) if last else size - 1
    return (first, min(last, size - 1))


class PackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, root, host="127.0.0.1", port=0, log=sys.stderr, timeout=30.0,
                 max_conns=256, drop_after=None):
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError("no such folder: %s" % root)
        self.log_stream = log
        self.conn_timeout = timeout
        self.drop_after = drop_after
        self.dropped = set()
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(max_conns)
        self.requests = 0
        self.bytes_sent = 0
        self.thread = None
        super().__init__((host, port), PackHandler)

    @property
    def port(self):
        return self.server_address[1]

    def process_request(self, request, client_address):
        self.slots.acquire()
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        pass                    # a client that went away is not our error; it is logged per request

    def log_line(self, line):
        if self.log_stream:
            with self.lock:
                try:
                    self.log_stream.write(line + "\n")
                    self.log_stream.flush()
                except (OSError, ValueError):
                    pass

    def should_drop(self, path, first, last):
        if self.drop_after is None or not first <= self.drop_after <= last:
            return False
        with self.lock:
            if path in self.dropped:
                return False
            self.dropped.add(path)
            return True

    def start(self):
        """Serve in a background thread (for tests and embedding); stop() ends it."""
        self.thread = threading.Thread(target=self.serve_forever, args=(0.1,), name="packserver",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


class PackHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lukos-packserver/1"
    default_request_version = "HTTP/1.1"   # answers to garbage get a status line too

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        self.connection.settimeout(self.server.conn_timeout)

    def handle_one_request(self):
        self.code, self.sent, self.range_spec = None, 0, None
        try:
            super().handle_one_request()
        finally:
            if self.code is not None:
                self.log_done()

    def send_response(self, code, message=None):
        # as http.server's, without its log line: ours comes after the body (log_done)
        self.code = code
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        self.send_header("Date", self.date_time_string())

    def log_message(self, fmt, *args):
        pass

    def log_done(self):
        srv = self.server
        headers = getattr(self, "headers", None)
        ua = headers.get("User-Agent", "-") if headers is not None else "-"
        req = getattr(self, "requestline", "") or "-"
        srv.log_line('%s %s "%s" %s %d range=%s ua="%s"' % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), self.client_address[0],
            req.replace('"', "'")[:200], self.code, self.sent,
            (self.range_spec or "-").replace(" ", ""), str(ua).replace('"', "'")[:100]))
        with srv.lock:          # after the line: a test that sees the count sees the line
            srv.requests += 1
            srv.bytes_sent += self.sent

    def send_error(self, code, message=None, explain=None):
        # small plain bodies, and the connection closed after an error
        self.close_connection = True
        body = ("%d %s\n" % (code, message or self.responses.get(code, ("",))[0])).encode()
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
                self.sent += len(body)
        except OSError:
            pass

    def resolve(self):
        """The file a request path names, or None (404)."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        parts = [p for p in path.split("/") if p]
        if not parts or any(p.startswith(".") or "\0" in p or "\\" in p for p in parts):
            return None
        full = os.path.realpath(os.path.join(self.server.root, *parts))
        if os.path.commonpath([full, self.server.root]) != self.server.root or not os.path.isfile(full):
            return None
        return full

    def do_HEAD(self):
        self.serve(head=True)

    def do_GET(self):
        self.serve(head=False)

    def serve(self, head):
        full = self.resolve()
        if full is None:
            self.send_error(404)
            return
        try:
            f = open(full, "rb")
        except OSError:
            self.send_error(404)
            return
        with f:
            st = os.fstat(f.fileno())
            size = st.st_size
            etag = '"%x-%x"' % (size, st.st_mtime_ns)
            modified = email.utils.formatdate(st.st_mtime, usegmt=True)
            self.range_spec = self.headers.get("Range")
            rng = parse_range(self.range_spec, size)
            if_range = self.headers.get("If-Range")
            if rng is not None and if_range is not None and if_range.strip() not in (etag, modified):
                rng = None      # the file changed since the client's first part: start over
            if rng == "unsatisfiable":
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            first, last = rng if rng else (0, size - 1)
            length = last - first + 1 if size else 0
            self.send_response(206 if rng else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", modified)
            if rng:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (first, last, size))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if head or not length:
                return
            drop = self.server.should_drop(full, first, last)
            self.copy(f, first, self.server.drop_after - first if drop else length)
            if drop:
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def copy(self, f, offset, count):
        f.seek(offset)
        while count > 0:
            data = f.read(min(CHUNK, count))
            if not data:
                break               # the file shrank under us: the client sees a short body
            self.wfile.write(data)
            self.sent += len(data)
            count -= len(data)


def serve(root, host="127.0.0.1", port=8000, log=sys.stderr, drop_after=None, max_conns=256):
    """`ota.py serve`: run until interrupted."""
    srv = PackServer(root, host, port, log=log, drop_after=drop_after, max_conns=max_conns)
    packs = sorted(n for n in os.listdir(srv.root) if not n.startswith("."))
    print("serving %s on http://%s:%d/ (%d files%s)" % (
        srv.root, host, srv.port, len(packs),
        ", dropping each file's first GET after %d bytes" % drop_after if drop_after is not None else ""),
        flush=True)
    try:
        srv.serve_forever()
    finally:
        srv.server_close()
    return 0
