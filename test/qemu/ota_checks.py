"""Helpers for the over-the-network update tests (test_ota*.py): boot a
board with its agent reachable, talk HTTP to it (curl, ota-server/ota.py,
or raw sockets for what no proper client sends), and read what it says.

The agent (update/agent.c) listens on TCP port 8080 of the guest. In QEMU
the board gets user networking with `restrict=on` and one hostfwd rule
bound to 127.0.0.1 on a free port picked here (platform/run.mk does the
same with a fixed port); the loss test builds its own tap network in a
namespace and passes the QEMU command itself.

The packs: update/demos/packs.txt, built into build/<board>/demos/packs/
by `make build/<board>/kernel-demo.elf` (ensure_built() runs that make
once per board and session; it is quick when everything is up to date).
"""
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time

from kernel_qemu import BOARDS, OPENSBI_FW_DYNAMIC, QEMU_BIN, REPO_ROOT, QemuError
from kernel_checks import check_heartbeat

OTA_PY = os.path.join(REPO_ROOT, "ota-server", "ota.py")
# ota.py reads packs with python3-libfdt: the interpreter pytest runs on
# (/usr/bin/python3, as the Makefile's HOSTPY), not whatever `python3` is.
PYTHON = sys.executable
AGENT_PORT = 8080
MAX_PACK = 4 << 20                       # AGENT_MAX_PACK (include/kernel/agent.h)
MAX_CONNS = 40                           # AGENT_MAX_CONNS, update/agent_http.c
NIC = {"qemu-virt": ["-device", "virtio-net-device,netdev=n0"],      # PLAT_QEMU_NIC
       "hifive-unleashed": ["-global", "cadence_gem.netdev=n0"]}
KEYDIR = os.path.join(REPO_ROOT, "build", "keys")
KEY_NAME = "dev"

# update_result -> LwM2M result name (update/agent.c lwm2m_of()).
LWM2M = {"ok": "success", "integrity": "integrity-failure", "nomem": "out-of-memory",
         "link": "update-failed", "selftest": "update-failed", "quiesce-timeout": "update-failed",
         "rolled-back": "update-failed", "busy": "update-failed"}
LWM2M_CODE = {"initial": 0, "success": 1, "not-enough-flash": 2, "out-of-memory": 3,
              "connection-lost": 4, "integrity-failure": 5, "unsupported-package": 6,
              "update-failed": 8}


def lwm2m_result(reason):
    """The `result` the agent reports for an engine reason."""
    return LWM2M.get(reason, "unsupported-package")


# --- builds and packs ------------------------------------------------------------

_built = set()


def ensure_built(board):
    """kernel.elf and the demo packs of `board`, signed with build/keys."""
    if board in _built:
        return
    cmd = ["make", "--no-print-directory", "-s", f"BOARD={board}",
           f"build/{board}/kernel.elf", f"build/{board}/kernel-demo.elf"]
    p = subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=900)
    assert p.returncode == 0, f"{' '.join(cmd)} failed:\n{p.stdout[-3000:]}"
    _built.add(board)


def pack_path(board, name):
    p = os.path.join(REPO_ROOT, "build", board, "demos", "packs", name + ".itb")
    assert os.path.exists(p), f"{p} is missing: make build/{board}/kernel-demo.elf"
    return p


def module_path(board, name):
    p = os.path.join(REPO_ROOT, "build", board, "demos", "mod", name + ".o")
    assert os.path.exists(p), f"{p} is missing: make build/{board}/kernel-demo.elf"
    return p


def build_pack(board, out, seq, *steps, allow_any_step=False):
    """A pack signed with the build key, made by `ota.py build` from the
    board's compiled demo modules. steps: "class:from:to:mode:module"."""
    args = ["build", "--kernel-build", os.path.join(REPO_ROOT, "build", board),
            "--seq", str(seq), "--keys", KEYDIR, "--key-name", KEY_NAME, "-o", out]
    for s in steps:
        cls, frm, to, mode, mod = s.split(":")
        args += ["--step", f"{cls}:{frm}:{to}:{mode}:{module_path(board, mod)}"]
    if allow_any_step:
        args.append("--allow-any-step")
    p = ota_tool(*args, timeout=120)
    assert p.returncode == 0, f"ota.py build failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return out


def fdt_edit(src, dst, edit):
    """Copies a pack, changing it with python3-libfdt: edit(fdt, libfdt).
    The signature stays as it was."""
    import libfdt
    fdt = libfdt.Fdt(bytearray(open(src, "rb").read()))
    edit(fdt, libfdt)
    with open(dst, "wb") as f:
        f.write(fdt.as_bytearray())
    return dst


def pack_meta(path):
    """seq, steps [(class, from, to)] and whether the configuration has a signature."""
    import libfdt
    fdt = libfdt.Fdt(open(path, "rb").read())
    conf = fdt.path_offset("/configurations")
    coff = fdt.subnode_offset(conf, fdt.getprop(conf, "default").as_str())
    seq = fdt.getprop(coff, "update,seq").as_uint32()
    names = [n.decode() for n in bytes(fdt.getprop(coff, "loadables")).split(b"\0") if n]
    steps = []
    for n in names:
        off = fdt.path_offset("/images/" + n)
        steps.append((fdt.getprop(off, "update,class").as_str(),
                      fdt.getprop(off, "update,from").as_uint32(),
                      fdt.getprop(off, "update,to").as_uint32()))
    signed = fdt.subnode_offset(coff, "signature-1", quiet=(libfdt.NOTFOUND,)) >= 0
    return {"seq": seq, "steps": steps, "signed": signed}


# --- HTTP ---------------------------------------------------------------------


class Response:
    """One HTTP exchange as the client saw it."""

    def __init__(self, raw, closed, error=None):
        self.raw = raw
        self.closed = closed          # the agent closed (or reset) the connection
        self.error = error            # exception text when the exchange broke off
        self.status = None
        self.reason = ""
        self.headers = {}
        self.body = b""
        self.interim = []             # 1xx answers before the final one
        rest = raw
        while rest.startswith(b"HTTP/"):
            head, sep, after = rest.partition(b"\r\n\r\n")
            if not sep:
                break
            lines = head.decode("latin-1").split("\r\n")
            m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)$", lines[0])
            if not m:
                break
            status = int(m.group(1))
            headers = {}
            for l in lines[1:]:
                k, _, v = l.partition(":")
                headers[k.strip().lower()] = v.strip()
            if 100 <= status < 200:
                self.interim.append(status)
                rest = after
                continue
            self.status, self.reason, self.headers = status, m.group(2), headers
            n = int(headers.get("content-length", len(after)))
            self.body = after[:n]
            break

    @property
    def json(self):
        try:
            return json.loads(self.body.decode())
        except ValueError as e:
            raise AssertionError(f"the agent's answer is not JSON ({e}): {self.raw!r}")

    def __repr__(self):
        return (f"<HTTP {self.status} closed={self.closed} error={self.error} "
                f"raw={self.raw[:300]!r}>")


def _read_answer(s, deadline):
    raw, closed, error = b"", False, None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            error = "timeout"
            break
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            error = "timeout"
            break
        except ConnectionResetError as e:
            closed, error = True, f"reset ({e})"
            break
        if not d:
            closed = True
            break
        raw += d
    return raw, closed, error


def exchange(port, data, host="127.0.0.1", timeout=30.0, then=None, close_write=False):
    """Connects, sends `data`, optionally runs then(sock) (e.g. to wait while
    an upload hangs half done), reads until the agent closes. A send the
    agent cut short (it answered early and closed) is not an error."""
    deadline = time.monotonic() + timeout
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        send_error = None
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            send_error = f"send: {e}"
        if then is not None:
            then(s)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        raw, closed, error = _read_answer(s, deadline)
        return Response(raw, closed, error or send_error)
    finally:
        s.close()


def request_bytes(method, path, body=b"", content_length="auto", headers=(), version="HTTP/1.1"):
    head = f"{method} {path} {version}\r\nHost: board\r\n"
    if content_length == "auto":
        content_length = len(body) if (body or method in ("PUT", "POST")) else None
    if content_length is not None:
        head += f"Content-Length: {content_length}\r\n"
    for h in headers:
        head += h + "\r\n"
    return head.encode() + b"\r\n" + body


def http_get_status(port, host="127.0.0.1", timeout=15.0):
    r = exchange(port, request_bytes("GET", "/status"), host=host, timeout=timeout)
    assert r.status == 200, f"GET /status: {r!r}"
    st = r.json
    for k in ("abi", "board", "classes", "seq", "state", "result", "result_code", "reason",
              "events"):
        assert k in st, f"GET /status has no {k!r}: {st}"
    return st


def wait_status(port, pred, timeout=20.0, host="127.0.0.1", netns=None):
    """Polls GET /status until pred(status); returns it."""
    deadline = time.monotonic() + timeout
    st = None
    while True:
        try:
            st = (curl_status(port, host=host, netns=netns) if netns else
                  http_get_status(port, host=host))
            if pred(st):
                return st
        except (OSError, AssertionError, ValueError, subprocess.TimeoutExpired):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"GET /status never satisfied the condition in {timeout}s; "
                                 f"last: {st}")
        time.sleep(0.2)


def curl_put(port, path, host="127.0.0.1", timeout=60, netns=None):
    """curl -T: returns (HTTP status, JSON body)."""
    cmd = ["curl", "-sS", "--max-time", str(timeout), "-o", "-", "-w", "\n%{http_code}",
           "-T", path, f"http://{host}:{port}/update"]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout + 10)
    body, _, code = p.stdout.rpartition("\n")
    assert code.strip().isdigit() and int(code) >= 200, (
        f"curl got no final answer (exit {p.returncode}, last status {code.strip()!r}): "
        f"{p.stderr.strip()} {body!r}")
    try:
        js = json.loads(body) if body.strip() else None
    except ValueError:
        raise AssertionError(f"curl: the answer is not JSON: {body!r}")
    return int(code), js


def curl_status(port, host="127.0.0.1", netns=None, timeout=15, headers=()):
    cmd = ["curl", "-sS", "--max-time", str(timeout), f"http://{host}:{port}/status"]
    for h in headers:
        cmd += ["-H", h]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout + 10)
    assert p.returncode == 0, f"curl GET /status failed ({p.returncode}): {p.stderr.strip()}"
    return json.loads(p.stdout)


def ota_tool(*args, timeout=120, netns=None):
    cmd = [PYTHON, OTA_PY, *args]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    return subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def ota_json(*args, timeout=120, netns=None, rc=None):
    """Runs `ota.py ... --json`; returns (exit code, parsed output)."""
    p = ota_tool(*args, "--json", timeout=timeout, netns=netns)
    if rc is not None:
        assert p.returncode == rc, (
            f"ota.py {' '.join(args)} exited {p.returncode}, wanted {rc}:\n{p.stdout}\n{p.stderr}")
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        raise AssertionError(f"ota.py {' '.join(args)} printed no JSON (exit {p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")


# --- boards --------------------------------------------------------------------


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def user_net(board, port):
    return ["-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:{AGENT_PORT}",
            *NIC[board]]


class Agent:
    """A booted board whose agent answers on host:port."""

    def __init__(self, q, board, port, host="127.0.0.1", netns=None):
        self.qemu = q              # conftest attaches its UART tail to failure reports
        self.board = board
        self.port = port
        self.host = host
        self.netns = netns

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def mark(self):
        """Where the UART log stands now (for lines printed after it)."""
        return len(self.qemu.lines)

    def status(self):
        if self.netns:
            return curl_status(self.port, host=self.host, netns=self.netns)
        return http_get_status(self.port, host=self.host)

    def wait_line(self, pattern, since, timeout=15.0):
        return self.qemu.wait_for(pattern, timeout=timeout, start=since, advance=False)

    def lines(self, pattern, since=0):
        return self.qemu.find(pattern, since=since)

    def nharts(self):
        return self.qemu.log("boot", "ready")[0].int("harts")

    def next_heartbeat(self, since, timeout=10.0):
        """The first heartbeat after `since` that could compare the totals
        (match=yes, checked); `match=unknown` ones before it are passed over
        (see heartbeat_ok), `match=NO` fails."""
        deadline = time.monotonic() + timeout
        while True:
            h = self.wait_line(r"\] h\d+ workload: heartbeat ", since,
                               timeout=max(0.1, deadline - time.monotonic()))
            if heartbeat_ok(h.entry, self.nharts()):
                return h
            since = h.index + 1

    def halt(self):
        """Ends the run with the shell's `halt` (QEMU exits 0), else kills it."""
        q = self.qemu
        if not q.running:
            q.kill()
            return
        try:
            q.send("halt\n")
            q.wait_exit(timeout=15)
        except (QemuError, OSError):
            q.kill()


def wait_agent_up(q, port, host="127.0.0.1", timeout=40.0):
    q.wait_for(r"\] h\d+ ota: agent listening port=8080 max_pack=4194304$", timeout=timeout,
               start=0, advance=False)
    q.wait_for(r"\] h\d+ net: up ip=", timeout=timeout, start=0, advance=False)
    deadline = time.monotonic() + 20
    while True:
        try:
            return http_get_status(port, host=host, timeout=5)
        except (OSError, AssertionError):
            if time.monotonic() > deadline or not q.running:
                raise
            time.sleep(0.3)


def boot_agent(factory, board, smp, args, hard_timeout, name):
    """Boots `board` with user networking (restrict=on, 127.0.0.1:<free
    port> forwarded to the agent); returns an Agent once GET /status works."""
    for attempt in range(3):
        port = free_port()
        q = factory(board, smp, args=args, extra_args=user_net(board, port),
                    hard_timeout=hard_timeout, name=name + (f"-{attempt}" if attempt else ""))
        try:
            wait_agent_up(q, port)
            return Agent(q, board, port)
        except (QemuError, OSError, AssertionError):
            q.kill()
            if "host forwarding" in q.stderr and attempt < 2:
                continue            # another process took the port first
            raise


# --- a board on a tap device in a network namespace ---------------------------------


def netns_missing():
    """Why a board cannot get a tap network here, or None."""
    if os.geteuid() != 0:
        return "needs root (a network namespace and a tap device)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no tap devices in this container)"
    if not shutil.which("ip"):
        return "`ip` not found (Debian package iproute2)"
    return None


def _sh(*cmd, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    if check and p.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stdout.strip()}")
    return p


def in_netns(ns, argv):
    """argv run inside network namespace ns (or as is when ns is None)."""
    return ["ip", "netns", "exec", ns] + list(argv) if ns else list(argv)


@contextlib.contextmanager
def tap_agent(factory, board, smp, args, hard_timeout, name, guest="10.79.0.2",
              host_side="10.79.0.1"):
    """A board on a tap device in a network namespace made (and always
    removed) here, static address `guest`/24, the namespace's end
    `host_side`: nothing reaches the host's network, and no user-mode
    network stands between the clients and the board. Clients must run in
    the namespace (in_netns). Yields an Agent (host=guest, port 8080)."""
    why = netns_missing()
    if why:
        import pytest
        pytest.skip(why)
    tag = secrets.token_hex(3)
    ns, tap = f"ota-{tag}", f"otat{tag}"
    q = None
    p = _sh("ip", "netns", "add", ns, check=False)
    if p.returncode:
        import pytest
        pytest.skip(f"cannot create a network namespace: {p.stdout.strip()}")
    try:
        _sh("ip", "-n", ns, "link", "set", "lo", "up")
        _sh("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
        _sh("ip", "-n", ns, "addr", "add", f"{host_side}/24", "dev", tap)
        _sh("ip", "-n", ns, "link", "set", tap, "up")
        b = BOARDS[board]
        args = f"{args} ip={guest}/24 dhcp=off"
        cmd = ["ip", "netns", "exec", ns, QEMU_BIN, "-M", b.machine, "-smp", str(smp), "-m",
               b.mem, *b.extra, "-bios", OPENSBI_FW_DYNAMIC, "-kernel", b.kernel_elf,
               "-append", args, "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
               *NIC[board]]
        q = factory(board, smp, args=args, cmd=cmd, hard_timeout=hard_timeout, name=name)
        q.wait_for(r"\] h\d+ ota: agent listening port=8080 ", timeout=40, start=0, advance=False)
        q.wait_for(rf"\] h\d+ net: up ip={re.escape(guest)} mask=255\.255\.255\.0 .*source=static$",
                   timeout=20, start=0, advance=False)
        a = Agent(q, board, AGENT_PORT, host=guest, netns=ns)
        curl_status(AGENT_PORT, host=guest, netns=ns, timeout=30)
        yield a
        a.halt()
    finally:
        if q is not None:
            q.kill()
        _sh("ip", "netns", "del", ns, check=False)


# --- checks ------------------------------------------------------------------

TROUBLE = re.compile(r"\] h\d+ (panic: |trap: thread stopped|update: rollback of \S+ incomplete"
                     r"|update: eager conversion of \S+ incomplete|workload: (call failed|not started))")


def check_no_trouble(agent):
    bad = [h.line for h in agent.lines(TROUBLE)]
    hint = ""
    if agent.lines(r"\] h\d+ update: (fault in new code|rolled-back) "):
        hint = ("\n(after the rollback of the faulty counter update: the kernel bug of "
                "update_checks.RollbackCrash, a counter instance used after it was freed)")
    assert not bad, "the run went wrong:\n" + "\n".join(bad[:10]) + hint


def board_dead(agent):
    """Why the board cannot go on (a panic, a stopped thread, QEMU gone), or None."""
    bad = [h.line for h in agent.lines(r"\] h\d+ (panic: |trap: thread stopped)")]
    if bad:
        return bad[-1]
    if not agent.qemu.running:
        return f"QEMU {agent.qemu.status()}"
    return None


def heartbeat_ok(e, nharts):
    """True for a checked match=yes heartbeat. False for `match=unknown`:
    not every worker parked within the heartbeat's 2 s (on a loaded 2-core
    host a vCPU can stall that long), so the totals could not be compared;
    that is allowed, a mismatch (`match=NO`) never is."""
    if e.kv.get("match") == "unknown":
        parked, total = (int(x) for x in e.kv["parked"].split("/"))
        assert parked < total, f"match=unknown with every worker parked: {e.raw}"
        return False
    check_heartbeat(e, nharts)
    return True


def check_all_heartbeats(agent, since=0):
    """Every heartbeat since `since` matches (or could not compare), seq
    numbers consecutive, calls made between each two. Returns them."""
    hbs = agent.qemu.log("workload", "heartbeat", since=since)
    n = agent.nharts()
    for e in hbs:
        heartbeat_ok(e, n)
    for a, b in zip(hbs, hbs[1:]):
        assert b.int("seq") == a.int("seq") + 1, f"heartbeat seq skipped:\n  {a.raw}\n  {b.raw}"
        assert b.int("made") > a.int("made"), f"no calls made between:\n  {a.raw}\n  {b.raw}"
    return hbs


def versions(st):
    """The comparable part of a status: class versions and seq."""
    return {"classes": dict(st["classes"]), "seq": st["seq"]}
