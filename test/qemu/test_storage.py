"""The state device on qemu-virt: the virtio-blk driver (drivers/block/
virtio_blk.c) as a storage object, on legacy (QEMU 7.2's default) and modern
(`-global virtio-mmio.force-legacy=false`) virtio-mmio. Each test makes its
own disk image in pytest's tmp_path (kernel_qemu.make_state_image) and
looks at the file on the host after QEMU is gone:

  selftest        `storage=selftest` passes, and the whole image is byte for
                  byte what it was before (a random pattern in the last
                  block, which the self-test erases and writes, and in the
                  first one, which it must not touch)
  durability      a write made with the console (`storage erase/program/
                  flush`) is in the image file after QEMU is killed with
                  SIGKILL; the driver's counters match what was asked, and
                  QEMU's trace shows the requests the device got, the FLUSH
                  last (the file alone cannot show the flush: QEMU's writes
                  sit in the host's page cache, which outlives QEMU)
  bounds          calls outside the region are refused, nothing written
  timeout         a disk that does not answer: -KE_TIMEDOUT, the boot goes on
  no disk         the board boots, nothing is bound, the self-test says
                  there is no state device
  read-only       a `readonly=on` disk is bound (ro=1) but never attached or
                  written; with a writable disk after it, the writable one
                  becomes the state device (U-Boot's boot disk case)
  network         virtio-net and virtio-blk side by side (the shared
                  transport): GET /status over hostfwd, legacy and modern
  make            `make run`'s state image: made on first use with the
                  board's size and fill, kept, remade by STATE=fresh, left
                  out by STATE=none (both boards: it is only make and files)

The sifive_u (SPI NOR) part lives with the NOR driver's tests.
"""
import hashlib
import os
import re
import subprocess

import pytest

from kernel_checks import check_log_format, check_no_trouble
from kernel_qemu import BOARDS, REPO_ROOT, make_state_image
from ota_checks import boot_agent

BOARD = "qemu-virt"
SIZE = BOARDS[BOARD].state_size
ERASE = 4096
LAST = SIZE - ERASE
MODES = {"legacy": [], "modern": ["-global", "virtio-mmio.force-legacy=false"]}
# Shell answers (printed without the log prefix).
ANSWERS = (re.compile(r"^(storage|halt)"), re.compile(r"^  "))


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_at(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def write_at(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def image(tmp_path, name="state.img"):
    return make_state_image(BOARD, str(tmp_path / name))


def bound_lines(q):
    return q.log("virtio-blk", "bound")


def ask(q, cmd, answer, timeout=20):
    """Sends a console command; returns the match of its answer line."""
    q.send(cmd + "\n")
    return q.wait_for(answer, timeout=timeout).match


def halt(q):
    q.send("halt\n")
    assert q.wait_exit(timeout=20) == 0, q.status()


@pytest.mark.parametrize("mode", list(MODES))
def test_selftest_restores_the_image(qemu, tmp_path, mode):
    img = image(tmp_path)
    write_at(img, 0, os.urandom(ERASE))
    write_at(img, LAST, os.urandom(ERASE))
    before = digest(img)
    q = qemu(BOARD, 2, args="storage=selftest workload=off journal=off shutdown=3", state=img,
             extra_args=MODES[mode], hard_timeout=60)
    b = q.wait_for(r"\] h\d+ virtio-blk: bound ", timeout=40).entry
    assert f" {mode} " in b.message, b.raw
    assert (b.int("capacity"), b.kv["flush"], b.kv["ro"], b.kv["cache"]) == \
        (SIZE, "1", "0", "write-back"), b.raw
    st = q.wait_for(r"\] h\d+ storage: state device ", timeout=10).entry
    assert (st.kv["model"], st.int("size"), st.int("erase")) == ("virtio-blk", SIZE, ERASE), st.raw
    r = q.wait_for(r"\] h\d+ storage: selftest ", timeout=30).entry
    assert r.event == "selftest ok", r.raw
    assert r.int("block") == LAST, r.raw
    assert q.wait_exit() == 0, q.status()
    check_log_format(q)
    check_no_trouble(q)
    assert len(bound_lines(q)) == 1
    assert digest(img) == before, "the image changed: the self-test did not restore the block"


# QEMU's trace of what the device was asked (the log backend, -D file):
# reads and writes are named, every request completes; a completion with no
# read or write before it is a flush (the driver has one request in flight).
TRACE_EVENTS = ("virtio_blk_handle_read", "virtio_blk_handle_write", "virtio_blk_req_complete")
TRACE_RE = re.compile(r"^(?:\d+@[\d.]+:)?(virtio_blk_\w+) .*?\breq (0x[0-9a-f]+)"
                      r"(?: sector (\d+) nsectors (\d+)| status (\d+))")


def device_requests(trace_path):
    """[(kind, sector, nsectors, status)] in completion order; kind is
    read, write or flush."""
    pending, done = {}, []
    with open(trace_path) as f:
        for line in f:
            m = TRACE_RE.search(line)
            if not m:
                continue
            ev, req = m.group(1), m.group(2)
            if ev == "virtio_blk_handle_read":
                pending[req] = ("read", int(m.group(3)), int(m.group(4)))
            elif ev == "virtio_blk_handle_write":
                pending[req] = ("write", int(m.group(3)), int(m.group(4)))
            elif ev == "virtio_blk_req_complete":
                done.append(pending.pop(req, ("flush", None, None)) + (int(m.group(5)),))
    return done


@pytest.mark.parametrize("mode", list(MODES))
def test_flushed_write_survives_sigkill(qemu, tmp_path, mode):
    img = image(tmp_path)
    write_at(img, LAST - 512, os.urandom(512))      # a neighbour that must stay
    write_at(img, LAST, os.urandom(ERASE))           # what the erase must clear
    neighbour = read_at(img, LAST - 512, 512)
    token = "durable-" + os.urandom(6).hex()
    at = LAST + 700                                  # inside one sector
    trace = str(tmp_path / "trace.log")
    tracing = [a for ev in TRACE_EVENTS for a in ("-trace", ev)] + ["-D", trace]
    q = qemu(BOARD, 2, args="workload=off journal=off", state=img, extra_args=MODES[mode] + tracing,
             hard_timeout=90)
    q.wait_for(r"\] h\d+ boot: ready ", timeout=40)
    ask(q, f"storage erase {LAST:#x}", rf"^  storage erase off={LAST:#x} err=ok$")
    ask(q, f"storage program {at:#x} {token}",
        rf"^  storage program off={at:#x} len={len(token)} err=ok$")
    ask(q, "storage flush", r"^  storage flush err=ok$")
    # What reached the device: the erase (8 sectors of 0xff), the sector
    # around the token read and written back, then one FLUSH, all status 0.
    assert device_requests(trace) == [("write", LAST // 512, 8, 0), ("read", at // 512, 1, 0),
                                      ("write", at // 512, 1, 0), ("flush", None, None, 0)]
    m = ask(q, f"storage read {at - 2:#x} {len(token) + 4}",
            rf"^  storage read off={at - 2:#x} len={len(token) + 4} err=ok data=([0-9a-f]*)$")
    assert bytes.fromhex(m.group(1)) == b"\xff\xff" + token.encode() + b"\xff\xff"
    m = ask(q, "storage", r"^  reads=(\d+) programs=(\d+) erases=(\d+) flushes=(\d+) bytes "
            r"read=(\d+) programmed=(\d+) erased=(\d+) errors=(\d+)$")
    assert [int(x) for x in m.groups()] == [1, 1, 1, 1, len(token) + 4, len(token), ERASE, 0], \
        m.group(0)
    q.kill()                                         # SIGKILL: no clean exit of QEMU
    assert q.killed and q.returncode == -9, q.status()
    block = read_at(img, LAST, ERASE)
    assert block[700:700 + len(token)] == token.encode(), "the flushed write is not in the file"
    rest = block[:700] + block[700 + len(token):]
    assert rest == b"\xff" * len(rest), "the erase did not reach the file"
    assert read_at(img, LAST - 512, 512) == neighbour, "a sector outside the block changed"


def test_bounds_are_refused(qemu, tmp_path):
    img = image(tmp_path)
    before = digest(img)
    q = qemu(BOARD, 2, args="workload=off journal=off", state=img, hard_timeout=60)
    q.wait_for(r"\] h\d+ boot: ready ", timeout=40)
    ask(q, f"storage erase {SIZE:#x}", rf"^  storage erase off={SIZE:#x} err=ERANGE$")
    ask(q, "storage erase 0x800", r"^  storage erase off=0x800 err=EINVAL$")
    ask(q, f"storage program {SIZE - 3:#x} four",
        rf"^  storage program off={SIZE - 3:#x} len=4 err=ERANGE$")
    ask(q, f"storage read {SIZE - 2:#x} 4", rf"^  storage read off={SIZE - 2:#x} len=4 err=ERANGE")
    m = ask(q, "storage", r"^  reads=(\d+) programs=(\d+) erases=(\d+) flushes=(\d+) bytes "
            r"read=(\d+) programmed=(\d+) erased=(\d+) errors=(\d+)$")
    assert [int(x) for x in m.groups()] == [1, 1, 2, 0, 0, 0, 0, 4], m.group(0)
    halt(q)
    assert digest(img) == before


def test_stalled_disk_times_out(qemu):
    """A disk that answers each request after 14 s (QEMU's null-co driver;
    the CHS values spare QEMU its own slow geometry probe): the driver gives
    up after its 10 s timeout, the self-test fails with ETIMEDOUT, the boot
    goes on and the board still answers. About 14 s."""
    slow = ["-drive", "if=none,id=slow,driver=null-co,size=64M,read-zeroes=on,"
            "latency-ns=14000000000",
            "-device", "virtio-blk-device,drive=slow,cyls=1024,heads=16,secs=63"]
    q = qemu(BOARD, 2, args="storage=selftest workload=off journal=off", extra_args=slow, hard_timeout=90)
    r = q.wait_for(r"\] h\d+ storage: selftest ", timeout=60).entry
    assert (r.event, r.kv["err"]) == ("selftest failed", "ETIMEDOUT"), r.raw
    q.wait_for(r"\] h\d+ boot: ready ", timeout=20)
    m = ask(q, "storage", r"^  reads=(\d+) programs=(\d+) erases=(\d+) flushes=(\d+) bytes "
            r"read=(\d+) programmed=(\d+) erased=(\d+) errors=(\d+)$")
    assert [int(x) for x in m.groups()] == [1, 0, 0, 0, 0, 0, 0, 1], m.group(0)
    halt(q)
    check_no_trouble(q)


def test_no_state_disk(qemu):
    q = qemu(BOARD, 2, args="storage=selftest workload=off journal=off", hard_timeout=60)
    q.wait_for(r"\] h\d+ boot: ready ", timeout=40)
    ask(q, "storage", r"^  storage: none \(volatile\)$")
    halt(q)
    check_log_format(q, allowed=ANSWERS)
    check_no_trouble(q)
    assert not bound_lines(q)
    assert not q.log("storage", "state device")
    assert q.log("storage", "selftest skipped: no state device"), q.tail()


def test_readonly_disk_is_never_written(qemu, tmp_path):
    img = image(tmp_path)
    write_at(img, 0, os.urandom(ERASE))
    write_at(img, LAST, os.urandom(ERASE))
    before = digest(img)
    trace = str(tmp_path / "trace.log")
    tracing = [a for ev in TRACE_EVENTS for a in ("-trace", ev)] + ["-D", trace]
    q = qemu(BOARD, 2, args="storage=selftest workload=off journal=off", state=img, state_readonly=True,
             extra_args=tracing, hard_timeout=60)
    q.wait_for(r"\] h\d+ boot: ready ", timeout=40)
    ask(q, f"storage erase {LAST:#x}", r"^  storage: none \(volatile\)$")
    halt(q)
    # QEMU would fail a write to a readonly=on drive; the driver must not even try.
    assert all(r[0] == "read" for r in device_requests(trace)), device_requests(trace)
    b = bound_lines(q)
    assert len(b) == 1 and b[0].kv["ro"] == "1" and b[0].int("capacity") == SIZE, b
    assert not q.log("storage", "state device"), "a read-only disk became the state device"
    assert q.log("storage", "selftest skipped: no state device"), q.tail()
    assert digest(img) == before


def test_first_writable_disk_is_the_state(qemu, tmp_path):
    """A read-only disk first (the highest slot, probed first), a writable one
    after it: the writable one holds the state, the other is not touched."""
    ro, rw = image(tmp_path, "ro.img"), image(tmp_path, "rw.img")
    write_at(ro, LAST, os.urandom(ERASE))
    before = digest(ro)
    boot = ["-drive", f"if=none,id=boot,format=raw,file={ro},readonly=on",
            "-device", "virtio-blk-device,drive=boot"]
    q = qemu(BOARD, 2, args="storage=selftest workload=off journal=off shutdown=3", state=rw,
             extra_args=boot, hard_timeout=60)
    q.wait_for(r"\] h\d+ storage: selftest ok ", timeout=60)
    assert q.wait_exit() == 0, q.status()
    b = bound_lines(q)
    assert [e.kv["ro"] for e in b] == ["1", "0"], "\n".join(e.raw for e in b)
    st = q.log("storage", "state device")
    assert len(st) == 1 and st[0].index > b[1].index, q.tail()
    assert not q.log("storage", "ignored"), q.tail()
    assert digest(ro) == before


@pytest.mark.parametrize("mode", list(MODES))
def test_network_with_state_disk(qemu, tmp_path, mode):
    img = image(tmp_path)

    def factory(*a, extra_args=(), **kw):
        return qemu(*a, extra_args=[*extra_args, *MODES[mode]], state=img, **kw)

    a = boot_agent(factory, BOARD, 2, args="shutdown=60", hard_timeout=80,
                   name=f"storage-net-{mode}")
    try:
        st = a.status()
        assert st["board"] == BOARD and st["classes"].get("storage") == 1, st
        nets = a.qemu.log("virtio-net", "bound")
        blks = bound_lines(a.qemu)
        assert len(nets) == 1 and len(blks) == 1, a.qemu.tail()
        for e in nets + blks:
            assert f" {mode} " in e.message, e.raw
        assert nets[0].kv["base"] != blks[0].kv["base"]
        assert a.qemu.log("storage", "state device"), a.qemu.tail()
    finally:
        a.halt()
    check_no_trouble(a.qemu)


# --- make run's state image (platform/run.mk, PLAT_STATE_* per board) -----------

def run_make(*args):
    p = subprocess.run(["make", "--no-print-directory", "-s", *args], cwd=REPO_ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert p.returncode == 0, f"make {' '.join(args)}:\n{p.stdout}"
    return p.stdout


@pytest.mark.parametrize("board", ["qemu-virt", "hifive-unleashed"])
def test_make_state_image(tmp_path, board):
    b = BOARDS[board]
    img = str(tmp_path / "state.img")
    run_make(f"BOARD={board}", "state-img", f"STATE_IMG={img}")
    assert os.path.getsize(img) == b.state_size
    with open(img, "rb") as f:
        assert set(f.read()) == {b.state_fill}
    if b.state_fill == 0:
        assert os.stat(img).st_blocks == 0, "the zero-filled image is not sparse"
    write_at(img, 4096, b"kept")
    run_make(f"BOARD={board}", "state-img", f"STATE_IMG={img}")        # STATE=keep
    assert read_at(img, 4096, 4) == b"kept"
    run_make(f"BOARD={board}", "state-img", f"STATE_IMG={img}", "STATE=fresh")
    assert read_at(img, 4096, 4) == bytes([b.state_fill]) * 4
    assert os.path.getsize(img) == b.state_size
    # What `make run` passes QEMU: the board's options, none with STATE=none.
    cmd = run_make(f"BOARD={board}", "-n", "run", f"STATE_IMG={img}").splitlines()[-1]
    assert " ".join(b.state_args(img)) in cmd, cmd
    cmd = run_make(f"BOARD={board}", "-n", "run", f"STATE_IMG={img}", "STATE=none")
    assert img not in cmd, cmd
