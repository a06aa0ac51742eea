"""Harness for the QEMU integration tests: boot the kernel, read its UART.

A `Qemu` instance starts one qemu-system-riscv64 process with the serial
port on a pipe (stdin/stdout of the process), reads the UART output in a
background thread, parses the kernel's log lines and offers
`wait_for(pattern)`, `send(text)` and `wait_exit()`. Every run has a hard
timeout after which QEMU is killed, whatever the test does; the kernel
normally ends the run itself (`shutdown=<sec>`, `bench`, or the `halt`
console command), with SBI SRST on qemu-virt and an SBI cold reboot plus
`-no-reboot` on sifive_u, so QEMU exits with status 0.

Log lines (docs: /work/shared/DESIGN.md, "The UART log"):
    [<sec>.<usec>] h<hart> <subsystem>: <message> key=value ...
`parse_line()` turns one into a `LogLine`.

State image (the journal's storage): `Qemu(..., state="path/to/img")`
attaches it the board's way (qemu-virt: a virtio-blk disk; sifive_u: the
SPI NOR flash, -drive if=mtd), `state_readonly=True` read-only;
`make_state_image(board, path)` makes an empty one of the board's size and
fill (what `make run STATE=fresh` makes).

Direct boot (default):  OpenSBI fw_dynamic as -bios, build/<board>/kernel.elf
as -kernel, the kernel arguments as -append. Other boot paths (U-Boot) pass
`bios=`, `kernel=None`, `append=None`, `drives=[...]`, `extra_args=[...]`,
or a whole command line with `cmd=[...]`; the harness then only adds the
console options (unless `console=False`) and keeps the same reading,
waiting and cleanup.

Run by hand:  python3 test/qemu/kernel_qemu.py [--board B] [--smp N] [ARGS...]
"""

import atexit
import os
import re
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
QEMU_BIN = "qemu-system-riscv64"
OPENSBI_FW_DYNAMIC = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
LOG_DIR = os.path.join(REPO_ROOT, "build", "test", "qemu")
DEFAULT_HARD_TIMEOUT = 60.0

# --- boards ---------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    """What the tests need to know about an emulated board."""
    name: str                 # BOARD= name, build/<name>/
    machine: str              # QEMU -M
    smp: int                  # default -smp
    mem: str                  # default -m
    extra: tuple = ()         # always-on QEMU options
    no_smode_hartids: tuple = ()   # harts that the kernel must skip (E51)
    # The state image (platform/<board>/platform.mk: PLAT_STATE_*): bytes,
    # fill byte of an empty one, and the QEMU options ({img}, {ro} filled in).
    state_size: int = 0
    state_fill: int = 0x00
    state_opts: tuple = ()

    def state_args(self, img, readonly=False):
        if not self.state_opts:
            raise ValueError(f"board {self.name} has no state device")
        ro = ",readonly=on" if readonly else ""
        img = str(img).replace(",", ",,")      # QEMU option syntax
        return [o.format(img=img, ro=ro) for o in self.state_opts]

    def expected_harts(self, smp):
        return smp - len([h for h in self.no_smode_hartids if h < smp])

    def expected_hartids(self, smp):
        return sorted(h for h in range(smp) if h not in self.no_smode_hartids)

    @property
    def kernel_elf(self):
        return os.path.join(REPO_ROOT, "build", self.name, "kernel.elf")


MIB = 1024 * 1024

BOARDS = {
    "qemu-virt": Board("qemu-virt", "virt", 4, "256M",
                       state_size=64 * MIB, state_fill=0x00,
                       state_opts=("-drive", "if=none,id=state,format=raw,file={img}{ro}",
                                   "-device", "virtio-blk-device,drive=state")),
    # SBI SRST shutdown is not supported there: the kernel asks for a cold
    # reboot and -no-reboot turns that into a QEMU exit. The state lives in
    # the SPI NOR flash (is25wp256: 32 MiB, erased = 0xff).
    "hifive-unleashed": Board("hifive-unleashed", "sifive_u", 5, "512M",
                              extra=("-no-reboot",), no_smode_hartids=(0,),
                              state_size=32 * MIB, state_fill=0xff,
                              state_opts=("-drive", "if=mtd,format=raw,file={img}{ro}")),
}


def make_state_image(board, path, size=None, fill=None):
    """An empty state image for `board` (a key of BOARDS) at `path`: the
    board's size and fill unless given (0x00 is made sparse). Returns path."""
    b = BOARDS[board]
    size = b.state_size if size is None else size
    fill = b.state_fill if fill is None else fill
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        if fill == 0:
            f.truncate(size)
        else:
            chunk = bytes([fill]) * MIB
            left = size
            while left > 0:
                f.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
    return path

# --- log lines -------------------------------------------------------------

LOG_RE = re.compile(
    r"^\[\s*(?P<sec>\d+)\.(?P<usec>\d{6})\] h(?P<hart>\d+) "
    r"(?P<subsystem>[a-z][a-z0-9_-]*): (?P<message>\S.*)$")
# A timestamp prefix anywhere: used to spot lines that got mixed together.
PREFIX_ANYWHERE_RE = re.compile(r"\[\s*\d+\.\d{6}\] h\d+ [a-z][a-z0-9_-]*: ")


def unglue_echo(q):
    """The shell echoes what is typed a character at a time, so a log line
    may follow the echo of a command on the same line ("mem[  6.39] h1 ...").
    Puts such a line back on its own for the parser (once the run is over)."""
    for i, line in enumerate(q.lines):
        m = PREFIX_ANYWHERE_RE.search(line)
        if m and m.start() > 0 and re.fullmatch(r"[a-z0-9 ]+", line[:m.start()]):
            q.lines[i] = line[m.start():]
KV_RE = re.compile(r'(?:^|(?<=\s))(?P<key>[A-Za-z_][A-Za-z0-9_.]*)='
                   r'(?P<value>"(?:[^"\\]|\\.)*"|[^\s]*)')


@dataclass
class LogLine:
    time: float          # seconds since the timer started
    hart: int            # hart id (not index) the line was written on
    subsystem: str
    message: str         # everything after "<subsystem>: "
    event: str           # the words before the first key=value
    kv: dict = field(default_factory=dict)
    raw: str = ""
    index: int = -1      # line number in Qemu.lines

    def int(self, key, base=0):
        return int(self.kv[key], base)

    def ints(self, key):
        """`a,b,c` -> [a, b, c]"""
        return [int(x, 0) for x in self.kv[key].split(",") if x != ""]

    def __str__(self):
        return self.raw


def parse_kv(text):
    kv = {}
    for m in KV_RE.finditer(text):
        v = m.group("value")
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1]
        else:
            v = v.rstrip(";,")
        kv[m.group("key")] = v
    return kv


def parse_line(line, index=-1):
    """A `LogLine` for a well-formed kernel log line, else None."""
    m = LOG_RE.match(line)
    if not m:
        return None
    msg = m.group("message")
    first = KV_RE.search(msg)
    event = (msg[:first.start()] if first else msg).strip()
    return LogLine(time=int(m.group("sec")) + int(m.group("usec")) / 1e6,
                   hart=int(m.group("hart")), subsystem=m.group("subsystem"),
                   message=msg, event=event, kv=parse_kv(msg), raw=line, index=index)


# --- errors ----------------------------------------------------------------


class QemuError(AssertionError):
    """The run did not do what the test waited for (an AssertionError so
    pytest shows it as a test failure with its message)."""


class QemuTimeout(QemuError):
    pass


@dataclass
class Hit:
    index: int           # line number in Qemu.lines
    line: str
    match: re.Match
    entry: LogLine       # parsed line, or None if it is not a log line


# --- the QEMU process -------------------------------------------------------

_live = weakref.WeakSet()


@atexit.register
def _kill_leftovers():
    for q in list(_live):
        q.kill()


class Qemu:
    """One QEMU run. Use as a context manager, or call kill() when done."""

    def __init__(self, board="qemu-virt", smp=None, mem=None, args="shutdown=5", *,
                 bios=OPENSBI_FW_DYNAMIC, kernel="default", append="default",
                 drives=(), extra_args=(), cmd=None, console=True,
                 hard_timeout=DEFAULT_HARD_TIMEOUT, name=None, log_dir=LOG_DIR,
                 env=None, state=None, state_readonly=False):
        """
        board        key of BOARDS (machine, default -smp/-m, board quirks)
        smp, mem     override the board's defaults
        args         kernel command line (direct boot: -append)
        bios         -bios path; None: no -bios option
        kernel       -kernel path; "default": build/<board>/kernel.elf; None: none
        append       -append string; "default": `args`; None: no -append
        drives       list of -drive specifications
        extra_args   more QEMU arguments, appended last
        cmd          a complete QEMU argv; replaces everything above
                     except the console options and the state image
        state        path of a state image to attach the board's way
                     (after everything above, so after a U-Boot boot
                     disk in `cmd`); state_readonly: read-only
        console      add `-serial stdio -display none -monitor none`
        hard_timeout seconds after start() when QEMU is killed regardless
        name         log file name: <log_dir>/<name>.log
        """
        self.board = BOARDS[board]
        self.smp = smp if smp is not None else self.board.smp
        self.mem = mem or self.board.mem
        self.args = args
        if cmd is not None:
            argv = list(cmd)
        else:
            argv = [QEMU_BIN, "-M", self.board.machine, "-smp", str(self.smp),
                    "-m", self.mem, *self.board.extra]
            if bios:
                argv += ["-bios", bios]
            if kernel == "default":
                kernel = self.board.kernel_elf
            if kernel:
                argv += ["-kernel", kernel]
            if append == "default":
                append = args
            if append is not None:
                argv += ["-append", append]
            for d in drives:
                argv += ["-drive", d]
            argv += list(extra_args)
        if state is not None:
            argv += self.board.state_args(state, state_readonly)
        if not any(a in ("-nic", "-netdev", "-net") for a in argv):
            # QEMU's default would be an unrestricted user network (sifive_u's GEM).
            argv += ["-nic", "none"]
        if console:
            argv += ["-serial", "stdio", "-display", "none", "-monitor", "none"]
        self.argv = argv
        self.kernel = kernel if cmd is None else None
        self.hard_timeout = hard_timeout
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or f"{board}-{self.smp}")
        self.log_path = os.path.join(log_dir, self.name + ".log") if log_dir else None
        self.env = env
        self.lines = []            # complete UART lines, without line ends
        self.partial = ""          # text after the last newline
        self.stderr = ""
        self.returncode = None
        self.timed_out = False     # killed by the hard timeout
        self.killed = False        # killed by us (timeout or teardown)
        self.start_time = None
        self.end_time = None
        self.cursor = 0            # wait_for() searches from here
        self.report = True         # conftest: attach the log tail to failure reports
        self._proc = None
        self._cond = threading.Condition()
        self._eof = False
        self._threads = []
        self._watchdog = None
        self._logf = None
        self._fin_lock = threading.Lock()

    # -- lifecycle --
    def start(self):
        if self.kernel and not os.path.exists(self.kernel):
            raise QemuError(f"{self.kernel} is missing: build it first "
                            f"(make BOARD={self.board.name})")
        if self.log_path:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            self._logf = open(self.log_path, "w", encoding="utf-8", errors="replace")
            self._logf.write("# " + " ".join(_quote(a) for a in self.argv) + "\n")
            self._logf.flush()
        self.start_time = time.monotonic()
        self._proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=REPO_ROOT, env=self.env,
            start_new_session=True)   # no terminal signals from the test runner
        _live.add(self)
        self._watchdog = threading.Timer(self.hard_timeout, self._hard_timeout)
        self._watchdog.daemon = True
        self._watchdog.start()
        t_out = threading.Thread(target=self._read_stdout, daemon=True)
        t_err = threading.Thread(target=self._read_stderr, daemon=True)
        self._threads = [t_out, t_err]
        for t in self._threads:
            t.start()
        return self

    def __enter__(self):
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.kill()

    def _hard_timeout(self):
        if self._proc and self._proc.poll() is None:
            self.timed_out = True
            self.kill()

    def kill(self):
        """Ends QEMU (if it still runs) and waits for the output to drain."""
        p = self._proc
        if p is None:
            return
        if p.poll() is None:
            self.killed = True
            try:
                p.kill()
            except ProcessLookupError:
                pass
        self._finish()

    def _finish(self):
        with self._fin_lock:
            self._finish_locked()

    def _finish_locked(self):
        p = self._proc
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=10)
        if self._watchdog:
            self._watchdog.cancel()
        if self.returncode is None:
            self.returncode = p.returncode
            self.end_time = time.monotonic()
            try:
                p.stdin.close()
            except (OSError, BrokenPipeError):
                pass
            if self._logf:
                if self.partial:
                    self._logf.write(self.partial + "\n")
                self._logf.write(f"# exit={self.returncode} elapsed={self.elapsed:.1f}s"
                                 f"{' HARD TIMEOUT' if self.timed_out else ''}"
                                 f"{' killed' if self.killed and not self.timed_out else ''}\n")
                if self.stderr:
                    self._logf.write("# stderr:\n" + self.stderr)
                self._logf.close()
                self._logf = None
        _live.discard(self)

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    @property
    def elapsed(self):
        end = self.end_time if self.end_time is not None else time.monotonic()
        return end - self.start_time if self.start_time else 0.0

    def remaining(self):
        """Seconds left before the hard timeout."""
        return max(0.0, self.hard_timeout - self.elapsed)

    # -- output --
    def _read_stdout(self):
        fd = self._proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            text = chunk.decode("utf-8", errors="replace")
            with self._cond:
                parts = (self.partial + text).split("\n")
                self.partial = parts.pop()
                new = [p.rstrip("\r") for p in parts]
                self.lines.extend(new)
                if self._logf and new:
                    self._logf.write("\n".join(new) + "\n")
                    self._logf.flush()
                self._cond.notify_all()
        with self._cond:
            if self.partial:
                self.lines.append(self.partial.rstrip("\r"))
                self.partial = ""
            self._eof = True
            self._cond.notify_all()

    def _read_stderr(self):
        data = self._proc.stderr.read()
        self.stderr = data.decode("utf-8", errors="replace") if data else ""

    def send(self, text):
        """Writes text to the UART receive side (the kernel console)."""
        if isinstance(text, str):
            text = text.encode()
        self._proc.stdin.write(text)
        self._proc.stdin.flush()

    def send_slowly(self, text, delay=0.02):
        """One byte at a time, for receivers without a deep FIFO."""
        for ch in text:
            self.send(ch)
            time.sleep(delay)

    def wait_for(self, pattern, timeout=30.0, start=None, advance=True):
        """Waits for a line that matches `pattern` (re.search), looking at
        lines from `start` (default: the cursor, which each hit moves past).
        Raises QemuTimeout after `timeout` seconds, QemuError if QEMU ended
        without printing it."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        i = self.cursor if start is None else start
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        if advance:
                            self.cursor = i + 1
                        return Hit(i, self.lines[i], m, parse_line(self.lines[i], i))
                    i += 1
                if self._eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        if self._eof:
            # Output is complete: QEMU is exiting; let it finish by itself.
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.kill()
            raise QemuError(f"QEMU ended ({self.status()}) without a line matching "
                            f"{rx.pattern!r}\n{self.tail()}")
        raise QemuTimeout(f"no line matching {rx.pattern!r} within {timeout:.0f}s "
                          f"({self.status()})\n{self.tail()}")

    def wait_exit(self, timeout=None):
        """Waits until QEMU exits by itself; returns its exit status. Kills it
        and raises QemuTimeout if it is still running after `timeout`
        (default: until the hard timeout)."""
        if timeout is None:
            timeout = self.remaining() + 5
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise QemuTimeout(f"QEMU still running after {timeout:.0f}s; killed\n{self.tail()}")
        self._finish()
        if self.timed_out:
            raise QemuTimeout(f"QEMU hit the hard timeout of {self.hard_timeout:.0f}s and was "
                              f"killed\n{self.tail()}")
        if self.outside_signal():
            raise QemuError(f"QEMU was ended from outside the test: {self.outside_signal()}\n"
                            f"{self.tail()}")
        return self.returncode

    def outside_signal(self):
        """QEMU's own note when a signal we did not send ended it, else None."""
        if self.killed:
            return None
        m = re.search(r"terminating on signal \d+.*", self.stderr)
        return m.group(0) if m else None

    def run(self, timeout=None):
        """start() if needed, then wait_exit(). Returns self."""
        if self._proc is None:
            self.start()
        self.wait_exit(timeout)
        return self

    def status(self):
        if self._proc is None:
            return "not started"
        if self.returncode is None and self._proc.poll() is None:
            return f"running for {self.elapsed:.1f}s"
        rc = self.returncode if self.returncode is not None else self._proc.returncode
        how = " after the hard timeout" if self.timed_out else (" killed" if self.killed else "")
        if self.returncode is not None and self.outside_signal():
            how += f" ({self.outside_signal()})"
        return f"exit status {rc}{how} after {self.elapsed:.1f}s"

    def tail(self, n=30):
        with self._cond:
            lines = self.lines[-n:] + ([self.partial] if self.partial else [])
        where = f" (full log: {self.log_path})" if self.log_path else ""
        out = f"--- last {len(lines)} UART lines{where}:\n" + "\n".join(lines)
        if self.stderr.strip():
            out += "\n--- QEMU stderr:\n" + self.stderr.strip()
        return out

    # -- parsed view --
    def kernel_start(self):
        """Index of the first kernel line (`boot: kernel ...`); what comes
        before is firmware output. -1 if there is none."""
        with self._cond:
            for i, l in enumerate(self.lines):
                if re.search(r"\] h\d+ boot: kernel ", l):
                    return i
        return -1

    def kernel_lines(self):
        """(index, text) of every line from the first kernel line on."""
        start = self.kernel_start()
        with self._cond:
            return [] if start < 0 else list(enumerate(self.lines))[start:]

    def log(self, subsystem=None, event=None, since=0):
        """Parsed log lines, optionally only one subsystem / event (the words
        before the first key=value, compared exactly or as a regex)."""
        with self._cond:
            lines = list(enumerate(self.lines))[since:]
        out = []
        for i, l in lines:
            e = parse_line(l, i)
            if e is None:
                continue
            if subsystem is not None and e.subsystem != subsystem:
                continue
            if event is not None and e.event != event and not re.fullmatch(event, e.event):
                continue
            out.append(e)
        return out

    def find(self, pattern, since=0):
        """Every Hit for `pattern` in the lines printed so far."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        with self._cond:
            lines = list(enumerate(self.lines))[since:]
        return [Hit(i, l, m, parse_line(l, i)) for i, l in lines for m in [rx.search(l)] if m]


def _quote(a):
    return a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'"


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Boot the kernel in QEMU and print the parsed log.")
    ap.add_argument("--board", default="qemu-virt", choices=sorted(BOARDS))
    ap.add_argument("--smp", type=int)
    ap.add_argument("--timeout", type=float, default=DEFAULT_HARD_TIMEOUT)
    ap.add_argument("args", nargs="*", default=["shutdown=4"])
    o = ap.parse_args(argv)
    q = Qemu(o.board, o.smp, args=" ".join(o.args), hard_timeout=o.timeout, name="manual")
    with q:
        try:
            q.wait_exit()
        except QemuError as e:
            print(e)
    for i, l in q.kernel_lines():
        e = parse_line(l, i)
        print(f"{'LOG' if e else '   '} {l}" + (f"\n      -> t={e.time} h{e.hart} {e.subsystem} "
                                               f"event={e.event!r} kv={e.kv}" if e else ""))
    print(f"# {q.status()}, log in {q.log_path}")
    return 0 if q.returncode == 0 and not q.timed_out else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
