"""The UART log: parsing its lines, reading it from wherever it comes.

A log line (DESIGN.md, "The UART log"; include/kernel/log.h):

    [<sec>.<usec>] h<hart> <subsystem>: <message> key=value ...

e.g. ``[    1.204311] h2 update: applied class=uart from=1 to=2 lazy=1``.
Values may be double-quoted (``detail="bad hash"``). Anything else on the
line (OpenSBI's banner, U-Boot, a shell prompt) is passed through as text.

Sources (open_source): a file (tail -f semantics when following; a file
that is truncated or replaced, as `make run` does on every boot, is read
again from its start), a unix socket (QEMU `-serial unix:PATH,server` or a
`-chardev socket,path=PATH,server=on`), ``tcp:HOST:PORT``, a serial device
(/dev/ttyUSB0: opened raw, 8N1, 115200 by default, with termios; no
pyserial), or ``-`` for standard input.
"""
import os
import re
import select
import socket
import stat
import sys
import time

LINE_RE = re.compile(r"^\[\s*(\d+)\.(\d+)\]\s+h(\d+)\s+([A-Za-z0-9_.\-]+):\s?(.*)$")
KV_RE = re.compile(r'(?<![^\s])([A-Za-z_][A-Za-z0-9_.\-]*)=("(?:[^"\\]|\\.)*"|[^\s]*)')

# Subsystems whose lines are update events (`watch --events`).
EVENT_SUBSYSTEMS = ("update", "ota")

GOOD_WORDS = ("applied", "committed", "success", "succeeded")
BAD_RE = re.compile(r"\b(rejected|rolled[- ]back|rollback|rolling back|fault|faulted|failed|"
                    r"failure|error|timeout|timed out|refused|aborted)\b")
INFO_WORDS = ("receiving", "received", "downloading", "downloaded", "verified",
              "verifying", "accepted")

ANSI = {"green": "\033[32m", "red": "\033[1;31m", "cyan": "\033[36m", "yellow": "\033[33m",
        "dim": "\033[2m", "bold": "\033[1m", "reset": "\033[0m"}


class Event:
    """One parsed log line. `text` is the line as read (without newline)."""
    __slots__ = ("text", "time", "hart", "subsystem", "message", "fields")

    def __init__(self, text, time=None, hart=None, subsystem=None, message=None, fields=None):
        self.text = text
        self.time = time
        self.hart = hart
        self.subsystem = subsystem
        self.message = message
        self.fields = fields or {}

    @property
    def is_log(self):
        return self.subsystem is not None

    @property
    def is_update(self):
        return self.subsystem in EVENT_SUBSYSTEMS

    def as_dict(self):
        return {"time": self.time, "hart": self.hart, "subsystem": self.subsystem,
                "message": self.message, "fields": self.fields, "kind": classify(self),
                "text": self.text}


def _unquote(v):
    if len(v) >= 2 and v[0] == v[-1] == '"':
        return re.sub(r"\\(.)", r"\1", v[1:-1])
    return v


def parse_line(line):
    """An Event for one line; lines not in the log format get only `text`."""
    line = line.rstrip("\r\n")
    m = LINE_RE.match(line)
    if not m:
        return Event(line)
    sec, usec, hart, subsys, rest = m.groups()
    fields = {}
    first = None
    for kv in KV_RE.finditer(rest):
        if first is None:
            first = kv.start()
        fields[kv.group(1)] = _unquote(kv.group(2))
    message = (rest if first is None else rest[:first]).strip()
    t = int(sec) + int(usec) / 10 ** len(usec)
    return Event(line, t, int(hart), subsys, message, fields)


def classify(ev):
    """'good', 'bad', 'info' or None: how an update/ota line is highlighted.

    applied/committed: good (green); rejected, rolled-back, fault, failed:
    bad (red); ota receiving/verified: info (cyan). A trap fault is bad too.
    """
    if not ev.is_log:
        return None
    msg = ev.message.lower()
    if ev.subsystem == "trap" and msg.startswith("fault"):
        return "bad"
    if not ev.is_update:
        return None
    if BAD_RE.search(msg) or ev.fields.get("result", "success") not in ("success", "ok", "applied"):
        return "bad"
    if any(msg.startswith(w) for w in GOOD_WORDS):
        return "good"
    if any(msg.startswith(w) for w in INFO_WORDS):
        return "info"
    return None


# The engine's result names (update/engine.c) that mean a pack did not apply.
FAILURE_NAMES_RE = re.compile(r"\b(malformed|integrity|abi|replay|unknown-class|gap|downgrade|duplicate|"
                              r"requirement|link|interface|selftest|nomem|quiesce-timeout|busy|"
                              r"integrity-failure|unsupported-package|out-of-memory|update-failed|"
                              r"connection-lost|not-enough-flash|not-enough-storage)\b")
GOOD_RE = re.compile(r"\b(ok|success|applied|committed)\b")


def classify_text(text):
    """Like classify, for a free-form event (the agent's status "events")."""
    low = text.lower()
    if BAD_RE.search(low) or FAILURE_NAMES_RE.search(low):
        return "bad"
    if GOOD_RE.search(low):
        return "good"
    if any(w in low for w in INFO_WORDS):
        return "info"
    return None


def render(ev, color):
    """The line to print: coloured by its class when `color`."""
    if not color:
        return ev.text
    kind = classify(ev)
    c = {"good": ANSI["green"], "bad": ANSI["red"], "info": ANSI["cyan"]}.get(kind)
    if c:
        return c + ev.text + ANSI["reset"]
    if ev.is_log:
        return ev.text
    return ANSI["dim"] + ev.text + ANSI["reset"]


# ---------------------------------------------------------------------------
# Sources: each yields text lines (without newline). `follow` keeps going
# after the end (file: wait for more; stream: reconnect); `stop` is a
# callable that tells when to give up (deadline).


class SourceError(Exception):
    pass


def _lines_from_chunks(chunks):
    buf = b""
    for chunk in chunks:
        if chunk is None:  # idle tick: lets the caller check its deadline
            yield None
            continue
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[:nl], buf[nl + 1:]
            yield line.decode("utf-8", "replace").rstrip("\r")
    if buf:
        yield buf.decode("utf-8", "replace").rstrip("\r")


def _file_chunks(path, follow, lines, poll=0.2):
    while True:
        try:
            f = open(path, "rb")
            break
        except FileNotFoundError:
            if not follow:
                raise SourceError("no such file: %s" % path)
            yield None
            time.sleep(poll)
    with f:
        if lines is not None:
            data = f.read()
            keep = data.split(b"\n")
            if keep and keep[-1] == b"":
                keep.pop()
            yield b"".join(l + b"\n" for l in keep[-lines:]) if lines else b""
        ino = os.fstat(f.fileno()).st_ino
        while True:
            data = f.read(65536)
            if data:
                yield data
                continue
            if not follow:
                return
            yield None
            time.sleep(poll)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            if st.st_ino != ino or st.st_size < f.tell():
                # replaced or truncated (a new boot): read it again from the start
                f.close()
                f = open(path, "rb")
                ino = os.fstat(f.fileno()).st_ino


def _fd_chunks(fd, poll=0.2):
    while True:
        r, _, _ = select.select([fd], [], [], poll)
        if not r:
            yield None
            continue
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not data:
            return
        yield data


def _socket_chunks(make_sock, what, follow, poll=0.5):
    announced = False
    while True:
        try:
            s = make_sock()
        except OSError as e:
            if not follow:
                raise SourceError("cannot connect to %s: %s" % (what, e.strerror or e))
            if not announced:
                print("watch: waiting for %s (%s)" % (what, e.strerror or e), file=sys.stderr)
                announced = True
            yield None
            time.sleep(poll)
            continue
        announced = False
        with s:
            s.setblocking(False)
            while True:
                r, _, _ = select.select([s], [], [], 0.2)
                if not r:
                    yield None
                    continue
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    break
                yield data
        if not follow:
            return
        print("watch: %s closed; reconnecting" % what, file=sys.stderr)


def open_serial(path, baud=115200):
    """Opens a serial device raw (8N1, no flow control) at `baud`."""
    import termios
    import tty
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        speed = getattr(termios, "B%d" % baud, None)
        if speed is None:
            raise SourceError("unsupported baud rate %d" % baud)
        attrs[4] = attrs[5] = speed
        attrs[2] &= ~(termios.CSIZE | termios.PARENB | termios.CSTOPB | getattr(termios, "CRTSCTS", 0))
        attrs[2] |= termios.CS8 | termios.CLOCAL | termios.CREAD
        attrs[0] &= ~(termios.IXON | termios.IXOFF | termios.IXANY)
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except termios.error as e:
        os.close(fd)
        raise SourceError("%s is not a serial port: %s" % (path, e))
    return fd


def parse_tcp(spec):
    host, _, port = spec.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SourceError("bad tcp source %r: want tcp:HOST:PORT" % ("tcp:" + spec))
    return host, int(port)


def describe_source(source):
    """('file'|'unix'|'tcp'|'serial'|'stdin', target)."""
    if source == "-":
        return "stdin", None
    if source.startswith("tcp:"):
        return "tcp", parse_tcp(source[4:])
    if source.startswith("unix:"):
        return "unix", source[5:]
    try:
        st = os.stat(source)
    except FileNotFoundError:
        return "file", source
    if stat.S_ISSOCK(st.st_mode):
        return "unix", source
    if stat.S_ISCHR(st.st_mode):
        return "serial", source
    return "file", source


def read_lines(source, follow=False, lines=None, baud=115200):
    """Yields the source's lines as they come (None on idle ticks)."""
    kind, target = describe_source(source)
    if kind == "file":
        chunks = _file_chunks(target, follow, lines)
    elif kind == "stdin":
        chunks = _fd_chunks(sys.stdin.fileno())
    elif kind == "serial":
        fd = open_serial(target, baud)
        chunks = _fd_chunks(fd)
    elif kind == "unix":
        def mk():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(target)
            except OSError:
                s.close()
                raise
            return s
        chunks = _socket_chunks(mk, target, follow)
    else:
        chunks = _socket_chunks(lambda: socket.create_connection(target, timeout=5),
                                "tcp:%s:%d" % target, follow)
    return _lines_from_chunks(chunks)
