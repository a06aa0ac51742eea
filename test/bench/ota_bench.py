#!/usr/bin/python3
"""make bench, OTA part: push throughput and live-update latency, side by side
with U-Boot's tftpboot and with a reboot, in the same QEMU machine (qemu-virt).

Throughput: the 1 MiB signed pack bench-1m.itb (update/demos/bench/bench_1m.c,
counter 1->2 plus 1 MiB of read-only data; it applies) is PUT to the agent
(TCP 8080, through a hostfwd on 127.0.0.1) of a fresh board running
kernel.elf. Board figure: UART timestamps `ota: receiving` -> `ota:
downloaded`; host figure: PUT start (before connect) -> the `ota: downloaded`
line read from the UART. The same file is then fetched by U-Boot (S-mode,
OpenSBI fw_dynamic, virtio-net) with `tftpboot` from slirp's built-in TFTP
server (-netdev user,tftp=<dir>). Board figure: the rate U-Boot prints;
host figure: the command's newline -> U-Boot's "Bytes transferred" line.
MB/s are 10^6 bytes per second (U-Boot prints KiB/s: converted).

Latency: live = PUT start of uart-v2.itb on a fresh board -> the `update:
applied` line on the UART (host clock; the board figure is `ota: receiving`
-> `update: applied` in UART timestamps). Reboot = QEMU monitor
`system_reset` of the same machine -> the next `boot: ready` line (OpenSBI +
kernel init, direct boot, no bootloader, new image assumed already in place:
the fastest a reboot-based update could be; the board figure is the
kernel's own timestamp of that line, its timer restarts with the machine).
Reboot + journal replay = the same on a second board whose state disk holds
the small pack, committed (ota-server/journal_image.py writes it): the
reboot-based way to get that update, replay included.
Live, no workload = the same push on a third board booted with
`workload=off` (no worker threads: its harts idle between updates): what
the update itself costs when its harts' vCPUs are not competing with 8
busy workers for the host's cores; shown beside, never instead of, the
figure under load (docs/live-update.md, "Where the time goes").
Virtual time = the instruction board's own figures: under `-icount
shift=0` the board's clock advances one nanosecond per instruction
executed, so its timestamps count the kernel's work (workload off), with
neither TCG's translation nor the host's scheduling in them: the live
update from `ota: receiving` to `update: applied`, the reboot from
system_reset to `boot: ready` (what a board's own clock would see, idle
waits included). Shown beside, never instead of, the wall-clock ratio.
Live, warm = a third small pack (uart-warm, uart 2->3) pushed later on the
same boot, after uart-v2 and bench-1m, on both the workload board and the
quiet one: the same checks, with the update path's code run once before.
Under QEMU's TCG the first run of any code after a reset is translated
first (a system_reset rewrites the kernel image, which drops its
translations), and that is most of the first push's time on an idle board;
on hardware the same first run costs cache misses only. Both are reported:
the first push after a boot is the issue's figure, the warm one is what a
board that has taken updates before sees.
The kernel has no reboot command; an SBI SRST cold reboot ends in the same
QEMU machine reset. Also shown: reboot until the network is up and the
agent listens, a cold start (QEMU process start), and where the time of a
push goes on the board (UART timestamps of receiving, downloaded,
verified, module loaded, applied).

Rounds: both machines start once. Our board: every round after the first
starts with a system_reset (a reboot sample), so each round's pushes meet a
fresh board; a last system_reset gives the last reboot sample. U-Boot runs
tftpboot once per round, in one session. The rounds alternate between the
two machines and the one not measured is stopped (QEMU `stop`), so both
sides see the same host load. Reported: median, with min..max.

Networking: user mode only, restrict=on, the hostfwd bound to 127.0.0.1,
the monitor on a Unix socket in a temporary directory. Every QEMU process
has a hard timeout and is killed at the end, whatever happens.
"""
import argparse
import atexit
import ctypes
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

QEMU = "qemu-system-riscv64"
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
MACHINE = ["-M", "virt", "-smp", "4", "-m", "256M"]
NIC = ["-device", "virtio-net-device,netdev=n0"]
LOG = re.compile(r"^\[\s*(\d+)\.(\d{6})\] h\d+ ([a-z][a-z0-9_-]*): (.*)$")
UBOOT_RATE = re.compile(r"^\s*([\d.]+) (|Ki|Mi|Gi)B/s\s*$", re.M)
UNIT = {"": 1, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3}


class BenchError(Exception):
    pass


_live = []


@atexit.register
def _kill_all():
    for b in list(_live):
        b.kill()


def _die_with_parent():
    """In the QEMU child: SIGKILL when this script dies, however it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)    # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Board:
    """One QEMU process with the UART on its stdout. A reader thread stamps
    every chunk and every complete line with the host's monotonic clock."""

    def __init__(self, argv, hard_timeout, name):
        self.name = name
        self.lines = []          # (host time, line)
        self.text = ""           # everything, for prompts without a newline
        self.stamps = []         # (offset in text where a chunk ends, host time)
        self.partial = ""
        self.eof = False
        self.cond = threading.Condition()
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        _live.append(self)
        self.watchdog = threading.Timer(hard_timeout, self.kill)
        self.watchdog.daemon = True
        self.watchdog.start()
        self.err = []
        self.threads = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=lambda: self.err.append(self.proc.stderr.read()),
                                         daemon=True)]
        for t in self.threads:
            t.start()

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            now = time.monotonic()
            with self.cond:
                if not chunk:
                    self.eof = True
                    self.cond.notify_all()
                    return
                s = chunk.decode("utf-8", errors="replace")
                self.text += s
                self.stamps.append((len(self.text), now))
                parts = (self.partial + s).split("\n")
                self.partial = parts.pop()
                self.lines.extend((now, p.rstrip("\r")) for p in parts)
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait_line(self, pattern, timeout, start=0):
        """First line from index `start` that matches: (index, host time, match)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i][1])
                    if m:
                        return i, self.lines[i][0], m
                    i += 1
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise BenchError("%s: no line matching %r within %.0f s (%s)\n%s" % (
                        self.name, pattern, timeout, "QEMU ended" if self.eof else "timeout",
                        self.tail()))
                self.cond.wait(min(left, 0.5))

    def wait_text(self, pattern, timeout, start=0):
        """First match in the raw output from offset `start`: (end offset, host time, match)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = rx.search(self.text, start)
                if m:
                    t = next(t for end, t in self.stamps if end >= m.end())
                    return m.end(), t, m
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise BenchError("%s: no output matching %r within %.0f s (%s)\n%s" % (
                        self.name, pattern, timeout, "QEMU ended" if self.eof else "timeout",
                        self.tail()))
                self.cond.wait(min(left, 0.5))

    def offset(self):
        with self.cond:
            return len(self.text)

    def send(self, data):
        self.proc.stdin.write(data.encode())
        self.proc.stdin.flush()

    def tail(self, n=25):
        with self.cond:
            lines = [l for _, l in self.lines[-n:]] + ([self.partial] if self.partial else [])
        err = b"".join(e for e in self.err if e).decode(errors="replace").strip()
        return "\n".join(lines) + ("\n[qemu stderr] " + err if err else "")

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.watchdog.cancel()
        for t in self.threads:
            if t is not threading.current_thread():
                t.join(timeout=5)
        try:
            self.proc.stdin.close()
        except (OSError, BrokenPipeError):
            pass
        if self in _live:
            _live.remove(self)


def kernel_time(line):
    m = LOG.match(line)
    return int(m.group(1)) + int(m.group(2)) / 1e6 if m else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Push(threading.Thread):
    """PUT /update in the background; t0 is taken right before connecting."""

    def __init__(self, port, data, timeout):
        super().__init__(daemon=True)
        self.port, self.data, self.timeout = port, data, timeout
        self.t0 = self.t_sent = self.t_done = None
        self.status, self.body, self.error = None, b"", None

    def run(self):
        try:
            self.t0 = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            c.request("PUT", "/update", body=self.data,
                      headers={"Content-Type": "application/octet-stream"})
            self.t_sent = time.monotonic()
            r = c.getresponse()
            self.status, self.body = r.status, r.read()
            self.t_done = time.monotonic()
            c.close()
        except (OSError, http.client.HTTPException) as e:
            self.error = e

    def finish(self):
        self.join(self.timeout + 5)
        if self.is_alive() or self.error or self.status != 200:
            raise BenchError("PUT /update: %s" % (
                "no answer" if self.is_alive() else self.error or
                "HTTP %s %s" % (self.status, self.body.decode(errors="replace").strip())))


def monitor(sock_path, command):
    """One HMP command on the monitor's Unix socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock_path)
        buf = b""
        while b"(qemu)" not in buf:
            d = s.recv(4096)
            if not d:
                raise BenchError("monitor closed")
            buf += d
        s.sendall(command.encode() + b"\n")
        buf = b""
        while b"(qemu)" not in buf:     # the command's own prompt: it was taken
            d = s.recv(4096)
            if not d:
                break
            buf += d


# --- our board ------------------------------------------------------------------


class OurBoard:
    """kernel.elf with the agent reachable on 127.0.0.1:<port>. The
    instruction board is the same machine under `-icount shift=0`, without
    the workload (rdinstret is QEMU's one clock for every hart there)."""

    def __init__(self, kernel, timeout, tmp, name="board", append="", extra=()):
        self.mon = os.path.join(tmp, "mon-%s.sock" % name)
        for attempt in range(3):
            self.port = free_port()
            argv = [QEMU] + MACHINE + list(extra) + [
                "-bios", OPENSBI, "-kernel", kernel, "-append", append,
                "-netdev", "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:8080" % self.port
            ] + NIC + ["-nographic", "-serial", "stdio", "-display", "none",
                       "-monitor", "unix:%s,server=on,wait=off" % self.mon]
            self.b = Board(argv, timeout, name)
            try:
                _, t_ready, _ = self.b.wait_line(r" boot: ready", 60)
                break
            except BenchError:
                self.b.kill()
                if "hostfwd" not in self.b.tail() or attempt == 2:   # port taken meanwhile
                    raise
        self.cold = t_ready - self.b.t_start
        self.boot, self.t_boot = 0, self.b.t_start     # this boot's first line, its start

    def reset(self):
        """system_reset -> boot: ready: (host s, the kernel's own timestamp)."""
        self.boot = self.b.mark()
        self.t_boot = time.monotonic()
        monitor(self.mon, "system_reset")
        i, t, _ = self.b.wait_line(r" boot: ready", 60, self.boot)
        return t - self.t_boot, kernel_time(self.b.lines[i][1])

    def wait_serving(self):
        """Seconds from this boot's start until it is ready, the network is up and
        the agent listens (in whatever order they come)."""
        return max(self.b.wait_line(rx, 30, self.boot)[1] for rx in (
            r" boot: ready", r" ota: agent listening", r" net: up ip=")) - self.t_boot

    STAGES = (("rx", r" ota: receiving bytes=%d "), ("dl", r" ota: downloaded bytes=%d\b"),
              ("verified", r" ota: verified seq="), ("loaded", r" update: module loaded "))

    def push(self, data, until, timeout):
        """PUT `data`, waiting for the answer and for the UART lines of each
        stage (receiving, downloaded, verified, module loaded) and `until`.
        Returns {stage: host s since the PUT start}, {stage: kernel timestamp},
        and the engine's own figures ({unit: {stage: value or None}}, from
        the `update: stages` lines logged before the answer)."""
        start = self.b.mark()
        p = Push(self.port, data, timeout)
        p.start()
        host, kern = {}, {}
        for name, rx in self.STAGES + (("done", until),):
            i, t, _ = self.b.wait_line(rx.replace("%d", str(len(data))), timeout, start)
            host[name], kern[name] = t, kernel_time(self.b.lines[i][1])
        p.finish()
        stages = {"instr": {}, "ns": {}}
        i = start
        for _ in range(4):      # two lines per unit (update/stage_stats.c)
            i, _, m = self.b.wait_line(r" update: stages seq=\d+ unit=(instr|ns) (.*)$", 10, i)
            stages[m.group(1)].update({k: None if v == "-" else int(v)
                                       for k, v in (kv.split("=") for kv in m.group(2).split())})
            i += 1
        return {k: t - p.t0 for k, t in host.items()}, kern, stages

    def pause(self):
        monitor(self.mon, "stop")

    def resume(self):
        monitor(self.mon, "cont")

    def kill(self):
        self.b.kill()


# --- U-Boot -----------------------------------------------------------------------


class UBoot:
    """U-Boot (S-mode) at its prompt, with slirp's TFTP server serving `pack`."""

    def __init__(self, pack, timeout, tmp):
        tftp = os.path.join(tmp, "tftp")
        os.makedirs(tftp)
        shutil.copyfile(pack, os.path.join(tftp, "pack.itb"))
        self.size = os.path.getsize(pack)
        self.mon = os.path.join(tmp, "mon-uboot.sock")
        argv = [QEMU] + MACHINE + ["-bios", OPENSBI, "-kernel", UBOOT,
                                   "-netdev", "user,id=n0,restrict=on,tftp=%s" % tftp] + NIC + [
            "-nographic", "-serial", "stdio", "-display", "none",
            "-monitor", "unix:%s,server=on,wait=off" % self.mon]
        self.b = Board(argv, timeout, "u-boot")
        off, _, _ = self.b.wait_text(r"Hit any key to stop autoboot", 60)
        self.b.send(" ")
        off, _, _ = self.b.wait_text(r"=> ", 20, off)
        for cmd in ("setenv ipaddr 10.0.2.15", "setenv serverip 10.0.2.2"):
            self.b.send(cmd + "\n")
            off, _, _ = self.b.wait_text(re.escape(cmd) + r"\r?\n=> ", 20, off)
        self.off = off

    def fetch(self):
        """One tftpboot of the file: (U-Boot's rate in B/s, host s)."""
        cmd = "tftpboot 0x84000000 pack.itb"
        self.b.send(cmd)
        off, _, _ = self.b.wait_text(re.escape(cmd), 20, self.off)   # the echo, before timing
        t0 = time.monotonic()
        self.b.send("\n")
        end, t1, m = self.b.wait_text(r"Bytes transferred = (\d+) \(", 120, off)
        out = self.b.text[off:end]
        if int(m.group(1)) != self.size:
            raise BenchError("u-boot: transferred %s bytes, the file has %d\n%s"
                             % (m.group(1), self.size, out))
        rates = UBOOT_RATE.findall(out)
        if not rates:
            raise BenchError("u-boot: no rate in its output:\n" + out)
        self.off, _, _ = self.b.wait_text(r"=> ", 20, end)
        return float(rates[-1][0]) * UNIT[rates[-1][1]], t1 - t0

    def pause(self):
        monitor(self.mon, "stop")

    def resume(self):
        monitor(self.mon, "cont")

    def kill(self):
        self.b.kill()


class ReplayBoard:
    """kernel.elf on a state disk whose journal holds the small pack,
    committed: a reboot of it is a reboot-based update that replays the
    journal (signature, chain, link, switch) before `boot: ready`."""

    def __init__(self, kernel, pack, timeout, tmp):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "ota-server"))
        import journal_image
        import packtool
        img = os.path.join(tmp, "replay-state.img")
        data = open(pack, "rb").read()
        seq = packtool.read_pack(data)["seq"]
        with open(img, "wb") as f:
            f.write(journal_image.build_image(64 << 20, [(seq, data, "committed")]))
        self.mon = os.path.join(tmp, "mon-replay.sock")
        argv = [QEMU] + MACHINE + [
            "-bios", OPENSBI, "-kernel", kernel, "-append", "boot_good_ms=200", "-nic", "none",
            "-drive", "if=none,id=state,format=raw,file=%s" % img,
            "-device", "virtio-blk-device,drive=state",
            "-nographic", "-serial", "stdio", "-display", "none",
            "-monitor", "unix:%s,server=on,wait=off" % self.mon]
        self.b = Board(argv, timeout, "replay")
        self.b.wait_line(r" journal: ready packs=1 ", 60)
        self.b.wait_line(r" journal: boot good", 60)

    def reset(self):
        """system_reset -> boot: ready with the journal replayed: (host s, kernel s)."""
        start = self.b.mark()
        t0 = time.monotonic()
        monitor(self.mon, "system_reset")
        i, t, _ = self.b.wait_line(r" boot: ready", 60, start)
        self.b.wait_line(r" journal: ready packs=1 ", 10, start)
        self.b.wait_line(r" journal: boot good", 60, start)   # settled (see journal_bench)
        return t - t0, kernel_time(self.b.lines[i][1])

    def pause(self):
        monitor(self.mon, "stop")

    def resume(self):
        monitor(self.mon, "cont")

    def kill(self):
        self.b.kill()


def phases(k):
    """Board-side stages of one push from its kernel timestamps."""
    return (k["dl"] - k["rx"], k["verified"] - k["dl"], k["loaded"] - k["verified"],
            k["done"] - k["loaded"])


def run(kernel, small, big, warm, rounds, timeout, tmp, instr_rounds=2):
    """Both machines live; only the one measured runs, the other is stopped
    (QEMU `stop`: no CPU time, its clock stands still), and the rounds
    alternate between them, so both sides see the same host load."""
    res = {k: [] for k in ("reboot", "reboot_k", "serving", "live", "live_k", "push",
                           "push_k", "big_applied", "tftp_rate", "tftp_host",
                           "phases_small", "phases_big", "replay", "replay_k",
                           "stages_small", "stages_big", "instr_small", "instr_big",
                           "live_quiet", "live_quiet_k", "stages_quiet", "reboot_quiet",
                           "warm", "warm_k", "stages_warm", "warm_quiet", "stages_warm_quiet",
                           "icount_live", "icount_reboot")}
    ub = board = rb = qb = None
    small_data, big_data = open(small, "rb").read(), open(big, "rb").read()
    warm_data = open(warm, "rb").read()
    try:
        # Instructions per stage: its own board, before the others start.
        ib = OurBoard(kernel, timeout, tmp, "icount", "workload=off", ["-icount", "shift=0"])
        try:
            for r in range(instr_rounds):
                if r:
                    res["icount_reboot"].append(ib.reset()[1])
                ib.wait_serving()
                _, k, st = ib.push(small_data, r" update: applied ", 120)
                res["instr_small"].append(st["instr"])
                res["icount_live"].append(k["done"] - k["rx"])
                res["instr_big"].append(ib.push(big_data, r" update: applied class=counter ",
                                                240)[2]["instr"])
            res["icount_reboot"].append(ib.reset()[1])
        finally:
            ib.kill()
        ub = UBoot(big, timeout, tmp)
        ub.pause()
        rb = ReplayBoard(kernel, small, timeout, tmp)
        rb.pause()
        # The same board without the workload: what the update costs when its
        # harts are not shared with 8 busy workers (see docs/live-update.md).
        qb = OurBoard(kernel, timeout, tmp, "quiet", "workload=off")
        qb.pause()
        board = OurBoard(kernel, timeout, tmp)
        res["cold"] = [board.cold]
        for r in range(rounds):
            if r:
                t, k = board.reset()
                res["reboot"].append(t)
                res["reboot_k"].append(k)
            res["serving"].append(board.wait_serving())
            # Latency: the small pack on a fresh board, PUT start -> applied.
            h, k, st = board.push(small_data, r" update: applied ", 60)
            res["stages_small"].append(st["ns"])
            res["live"].append(h["done"])
            res["live_k"].append(k["done"] - k["rx"])
            res["phases_small"].append(phases(k))
            # Throughput: the 1 MiB pack (it applies as well).
            h, k, st = board.push(big_data, r" update: applied class=counter ", 120)
            res["stages_big"].append(st["ns"])
            res["push"].append(h["dl"])
            res["push_k"].append(k["dl"] - k["rx"])
            res["big_applied"].append(h["done"])
            res["phases_big"].append(phases(k))
            # A later small pack on the same boot: the update path warm (the
            # answer to the last PUT came after its probation: the engine is idle).
            h, k, st = board.push(warm_data, r" update: applied ", 60)
            res["stages_warm"].append(st["ns"])
            res["warm"].append(h["done"])
            res["warm_k"].append(k["done"] - k["rx"])
            board.pause()
            ub.resume()
            rate, t = ub.fetch()
            res["tftp_rate"].append(rate)
            res["tftp_host"].append(t)
            ub.pause()
            rb.resume()
            t, k = rb.reset()
            res["replay"].append(t)
            res["replay_k"].append(k)
            rb.pause()
            qb.resume()
            if r:
                res["reboot_quiet"].append(qb.reset()[0])
            qb.wait_serving()
            h, k, st = qb.push(small_data, r" update: applied ", 60)
            res["stages_quiet"].append(st["ns"])
            res["live_quiet"].append(h["done"])
            res["live_quiet_k"].append(k["done"] - k["rx"])
            h, k, st = qb.push(warm_data, r" update: applied ", 60)
            res["stages_warm_quiet"].append(st["ns"])
            res["warm_quiet"].append(h["done"])
            qb.pause()
            board.resume()
        t, k = board.reset()
        res["reboot"].append(t)
        res["reboot_k"].append(k)
        res["serving"].append(board.wait_serving())
    finally:
        for m in (board, ub, rb, qb):
            if m:
                m.kill()
    return res


# --- report -------------------------------------------------------------------------

# The engine's stages (update/stage_stats.c), in pipeline order.
STAGE_ROWS = (
    ("handoff", "handoff: pack received -> ota thread"),
    ("parse", "parse: FIT structure, steps"),
    ("sig", "signature: hashed regions + RSA"),
    ("hash", "hashes: sha256 of every image"),
    ("chain", "ABI, sequence, version chain"),
    ("journal", "journal (none: volatile board)"),
    ("link", "link: ELF parse + relocate"),
    ("map", "map R+X + TLB/icache sync (local)"),
    ("desc", "descriptor check, new version"),
    ("selftest", "self-test (own thread)"),
    ("quiesce", "quiescence (IPI barrier)"),
    ("switch", "switch (irqs off)"),
    ("convert", "eager conversion"),
    ("conv1", "first conversion (irqs off)"),
    ("total", "total: apply -> `applied`"),
)


def stage_med(samples, key, fmt):
    xs = [s[key] for s in samples if s.get(key) is not None]
    return fmt(int(med(xs))) if xs else "-"


def print_stages(r, small, big, row):
    """Instructions from the -icount board (workload off), time from the
    timed rounds (workload on): medians."""
    print("  where a live update goes, per stage (board: update: stages lines; medians)")
    row("    stage", "instr " + small, "instr " + big, "us " + small, "us " + big,
        "us no workload", "us warm", "us warm, no workload")
    us = lambda ns: "%.1f" % (ns / 1000)
    for key, name in STAGE_ROWS:
        row("    " + name, stage_med(r["instr_small"], key, str), stage_med(r["instr_big"], key, str),
            stage_med(r["stages_small"], key, us), stage_med(r["stages_big"], key, us),
            stage_med(r["stages_quiet"], key, us), stage_med(r["stages_warm"], key, us),
            stage_med(r["stages_warm_quiet"], key, us))


def med(xs):
    return statistics.median(xs)


def span(xs, f):
    return "%s [%s..%s]" % (f(med(xs)), f(min(xs)), f(max(xs)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="qemu-virt")
    ap.add_argument("--kernel", help="kernel.elf (default build/<board>/kernel.elf)")
    ap.add_argument("--packs", help="folder of the demo packs (default build/<board>/demos/packs)")
    ap.add_argument("--small", default="uart-v2", help="pack for the latency (default uart-v2)")
    ap.add_argument("--big", default="bench-1m", help="pack for the throughput (default bench-1m)")
    ap.add_argument("--warm", default="uart-warm",
                    help="small pack pushed later on the same boot (default uart-warm)")
    ap.add_argument("--rounds", type=int, default=3, help="samples of each figure (default 3)")
    ap.add_argument("--timeout", type=int, default=300, help="hard limit per QEMU process (s)")
    a = ap.parse_args()
    if a.board != "qemu-virt":
        print("bench: ota skipped: only qemu-virt has a network device the kernel and U-Boot share")
        return 0
    kernel = a.kernel or "build/%s/kernel.elf" % a.board
    packs = a.packs or "build/%s/demos/packs" % a.board
    small = os.path.join(packs, a.small + ".itb")
    big = os.path.join(packs, a.big + ".itb")
    warm = os.path.join(packs, a.warm + ".itb")
    for f, why in ((kernel, "make"), (small, "make %s/../kernel-demo.elf" % packs),
                   (big, "the bench-1m line in update/demos/packs.txt, then make kernel-demo.elf"),
                   (warm, "the uart-warm line in update/demos/packs.txt, then make kernel-demo.elf"),
                   (OPENSBI, "apt install opensbi"), (UBOOT, "apt install u-boot-qemu")):
        if not os.path.exists(f):
            sys.exit("bench: ota: %s is missing (%s)" % (f, why))
    # make's Ctrl-C reaches us as SIGINT (KeyboardInterrupt); a SIGTERM or
    # SIGHUP unwinds the same way, so the finally blocks kill QEMU.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, f: sys.exit(128 + n))
    t_begin = time.monotonic()
    n_small, n_big = os.path.getsize(small), os.path.getsize(big)
    with tempfile.TemporaryDirectory(prefix="ota-bench-") as tmp:
        try:
            r = run(kernel, small, big, warm, a.rounds, a.timeout, tmp)
        except (BenchError, OSError) as e:
            sys.exit("bench: ota: %s" % e)
    push_k = [n_big / t / 1e6 for t in r["push_k"]]
    push_h = [n_big / t / 1e6 for t in r["push"]]
    tftp_k = [x / 1e6 for x in r["tftp_rate"]]
    tftp_h = [n_big / t / 1e6 for t in r["tftp_host"]]
    mbs = lambda x: "%.2f" % x
    sec = lambda x: "%.3f" % x
    row = lambda name, *cols: print((("  %-43s" + " %-21s" * len(cols)) % ((name,) + cols)).rstrip())
    print("OTA on %s (-smp 4 -m 256M, user networking restrict=on, 127.0.0.1 only; plain TCG,"
          " wall clock of a shared host)" % a.board)
    print("  %d rounds, alternating between our board and U-Boot (the other one stopped);"
          " median [min..max]; MB = 10^6 bytes" % a.rounds)
    row("download of %s (%d bytes)" % (os.path.basename(big), n_big),
        "MB/s board", "MB/s host", "s host")
    row("ours: PUT /update, TCP to the agent", span(push_k, mbs), span(push_h, mbs),
        span(r["push"], sec))
    row("U-Boot: tftpboot from slirp's TFTP", span(tftp_k, mbs), span(tftp_h, mbs),
        span(r["tftp_host"], sec))
    row("  ratio ours/tftp (medians)", "%.2f" % (med(push_k) / med(tftp_k)),
        "%.2f" % (med(push_h) / med(tftp_h)))
    row("update latency", "s host", "s board")
    row("live: PUT %s (%d B) -> applied" % (os.path.basename(small), n_small),
        span(r["live"], sec), span(r["live_k"], sec))
    row("live, no workload: PUT -> applied", span(r["live_quiet"], sec),
        span(r["live_quiet_k"], sec))
    row("live, later push (warm): PUT %s -> applied" % os.path.basename(warm),
        span(r["warm"], sec), span(r["warm_k"], sec))
    row("live, later push (warm), no workload", span(r["warm_quiet"], sec))
    row("reboot: system_reset -> boot: ready", span(r["reboot"], sec), span(r["reboot_k"], sec))
    row("reboot, no workload: system_reset -> ready", span(r["reboot_quiet"], sec))
    row("reboot + journal replay of it -> boot: ready", span(r["replay"], sec),
        span(r["replay_k"], sec))
    row("reboot: system_reset -> net up + agent", span(r["serving"][1:], sec))
    row("cold: QEMU start -> boot: ready", span(r["cold"], sec))
    row("cold: QEMU start -> net up + agent", span(r["serving"][:1], sec))
    row("  ratio live/reboot (medians)", "%.2f" % (med(r["live"]) / med(r["reboot"])),
        "%.2f" % (med(r["live_k"]) / med(r["reboot_k"])))
    row("  ratio live/(reboot + replay) (medians)", "%.2f" % (med(r["live"]) / med(r["replay"])),
        "%.2f" % (med(r["live_k"]) / med(r["replay_k"])))
    row("virtual time (-icount shift=0, no workload)", "s board")
    row("  live: receiving -> applied", span(r["icount_live"], lambda x: "%.4f" % x))
    row("  reboot: system_reset -> boot: ready", span(r["icount_reboot"], sec))
    row("  ratio live/reboot (medians)", "%.3f" % (med(r["icount_live"]) / med(r["icount_reboot"])))
    row("1 MiB pack: PUT -> applied", span(r["big_applied"], sec))
    row("stages on the board, s (medians)", "receive", "verify", "load+link",
        "check+switch")
    for name, key in (("live: " + os.path.basename(small), "phases_small"),
                      ("1 MiB: " + os.path.basename(big), "phases_big")):
        row("  " + name, *("%.3f" % med([p[j] for p in r[key]]) for j in range(4)))
    print_stages(r, os.path.basename(small), os.path.basename(big), row)
    print("bench: ota_push_vs_tftp push_mbs=%.2f tftp_mbs=%.2f ratio=%.3f"
          % (med(push_k), med(tftp_k), med(push_k) / med(tftp_k)))
    print("bench: ota_push_vs_tftp_host push_mbs=%.2f tftp_mbs=%.2f ratio=%.3f"
          % (med(push_h), med(tftp_h), med(push_h) / med(tftp_h)))
    print("bench: ota_live_vs_reboot live_s=%.3f reboot_s=%.3f ratio=%.3f"
          % (med(r["live"]), med(r["reboot"]), med(r["live"]) / med(r["reboot"])))
    print("bench: ota_live_no_workload_vs_reboot live_s=%.3f reboot_s=%.3f ratio=%.3f"
          % (med(r["live_quiet"]), med(r["reboot"]), med(r["live_quiet"]) / med(r["reboot"])))
    print("bench: ota_live_warm_vs_reboot live_s=%.3f reboot_s=%.3f ratio=%.3f"
          % (med(r["warm"]), med(r["reboot"]), med(r["warm"]) / med(r["reboot"])))
    print("bench: ota_live_warm_no_workload_vs_reboot live_s=%.3f reboot_s=%.3f ratio=%.3f"
          % (med(r["warm_quiet"]), med(r["reboot"]), med(r["warm_quiet"]) / med(r["reboot"])))
    print("bench: ota_1m_applied_vs_download applied_s=%.3f download_s=%.3f ratio=%.3f"
          % (med(r["big_applied"]), med(r["push"]), med(r["big_applied"]) / med(r["push"])))
    for name, key in (("small", "instr_small"), ("1m", "instr_big")):
        print("bench: ota_stages_instr pack=%s %s" % (name, " ".join(
            "%s=%s" % (st, stage_med(r[key], st, str)) for st, _ in STAGE_ROWS)))
    print("bench: ota_live_vs_reboot_icount live_s=%.4f reboot_s=%.3f ratio=%.3f"
          % (med(r["icount_live"]), med(r["icount_reboot"]),
             med(r["icount_live"]) / med(r["icount_reboot"])))
    print("bench: ota_live_vs_reboot_replay live_s=%.3f reboot_replay_s=%.3f ratio=%.3f"
          % (med(r["live"]), med(r["replay"]), med(r["live"]) / med(r["replay"])))
    print("bench: ota_live_vs_reboot_serving live_s=%.3f reboot_serving_s=%.3f ratio=%.3f"
          % (med(r["live"]), med(r["serving"][1:]), med(r["live"]) / med(r["serving"][1:])))
    print("bench: ota done rounds=%d runtime_s=%.1f" % (a.rounds, time.monotonic() - t_begin))
    return 0


if __name__ == "__main__":
    sys.exit(main())
