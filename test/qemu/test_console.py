"""The console shell over the UART receive interrupt (PLIC external
interrupt path): commands typed on QEMU's stdin get their answers.

One run per board; the tests of a board run in order on the same console,
the last one ends the run with `halt` (shutdown=<n> stays as a backstop)."""
import re

import pytest

from kernel_checks import check_no_trouble, heartbeats, online_harts, ready_line

BACKSTOP = 30
HART_RE = re.compile(r"  hart (\d+) \(index (\d+)\): gen=(\d+) timer=(\d+) ext=(\d+) ipi=(\d+) "
                     r"queued=(\d+) picks=(\d+) steals=(\d+)")
MEM_RE = re.compile(r"  pages total=(\d+) free=(\d+); kmalloc live=(\d+) bytes=(\d+) "
                    r"allocs=(\d+) frees=(\d+)")
BOARDS = [("qemu-virt", 4), ("hifive-unleashed", 5)]


@pytest.fixture(scope="module", params=BOARDS, ids=[b for b, _ in BOARDS])
def console(request, qemu_module):
    board, smp = request.param
    q = qemu_module(board, smp, args=f"shutdown={BACKSTOP}", name=f"console-{board}")
    q.wait_for(r"\] h\d+ boot: ready ", timeout=40)
    # Talk to it while the workload runs on every hart.
    q.wait_for(r"\] h\d+ workload: heartbeat seq=1 ", timeout=20)
    return q


def ask_harts(q):
    """Sends `harts`; returns {index: (hartid, timer, ext)} from the answer."""
    n = ready_line(q).int("harts")
    q.send("harts\n")
    out = {}
    for _ in range(n):
        m = q.wait_for(HART_RE, timeout=15).match
        idx = int(m.group(2))
        assert idx not in out, f"hart index {idx} listed twice"
        out[idx] = (int(m.group(1)), int(m.group(4)), int(m.group(5)))
    return out


def test_harts(console):
    q = console
    ans = ask_harts(q)
    on = online_harts(q)
    assert sorted(ans) == sorted(on), f"`harts` lists {sorted(ans)}, online {sorted(on)}"
    for idx, (hid, timer, ext) in ans.items():
        assert hid == on[idx], f"index {idx}: `harts` says hart {hid}, online line says {on[idx]}"
        assert timer > 0, f"hart {hid} took no timer interrupt"
    # The command itself arrived by a UART receive interrupt through the PLIC.
    assert sum(ext for _, _, ext in ans.values()) >= 1, f"no external interrupt counted: {ans}"


def test_mem(console):
    q = console
    q.send("mem\n")
    m = q.wait_for(MEM_RE, timeout=15).match
    total, free, live, _bytes, allocs, frees = (int(x) for x in m.groups())
    assert 0 < free < total, m.group(0)
    assert allocs >= frees and live == allocs - frees, m.group(0)
    hb = heartbeats(q)
    if hb:
        assert abs(free - int(hb[-1].kv["free_pages"])) < 64, (
            f"`mem` free={free} far from the heartbeat's: {hb[-1].raw}")


def test_unknown_command(console):
    q = console
    q.send("frobnicate\n")
    q.wait_for(r"  unknown command 'frobnicate' \(try help\)$", timeout=15)
    q.send("help\n")
    q.wait_for(r"  commands: help harts threads mem ott storage \[read\|erase\|program\|flush\] "
               r"journal \[erase\] fault ", timeout=15)


def test_echo_and_backspace(console):
    """The shell echoes and handles backspace: `memx<BS>` runs `mem`."""
    q = console
    start = len(q.lines)
    q.send("memx\x7f\n")
    q.wait_for(MEM_RE, timeout=15)
    assert not q.find(r"unknown command", since=start), "backspace was not applied"


def test_ext_interrupts_grow(console):
    """More input means more receive interrupts, counted on some hart."""
    q = console
    a = sum(v[2] for v in ask_harts(q).values())
    q.send("ott\n")
    q.wait_for(r"  ott slots=\d+ used=\d+ misses=\d+ stale_calls=\d+", timeout=15)
    b = sum(v[2] for v in ask_harts(q).values())
    assert b > a, f"external interrupt count did not grow ({a} -> {b})"


def test_halt(console):
    q = console
    q.send("halt\n")
    q.wait_for(r"\] h\d+ shell: halt requested$", timeout=15)
    rc = q.wait_exit(timeout=30)
    assert rc == 0 and not q.killed, q.status()
    assert not q.log("boot", "shutdown"), "the backstop shutdown ended the run, not `halt`"
    check_no_trouble(q)


@pytest.mark.parametrize("board,smp", BOARDS, ids=[b for b, _ in BOARDS])
def test_panic_ends_the_run(qemu, board, smp):
    """`panic` prints the panic line and stops the machine at once. On
    qemu-virt QEMU exits with status 1 (the test finisher's FAIL code), so
    a panicking run never looks like a clean one; sifive_u has no finisher
    in its devicetree, and its SRST cold reboot ends QEMU (-no-reboot) with 0."""
    q = qemu(board, smp, args=f"shutdown={BACKSTOP}", name=f"panic-{board}")
    q.wait_for(r"\] h\d+ boot: ready ", timeout=40)
    if board == "qemu-virt":
        q.wait_for(r"\] h\d+ platform: bound test finisher base=0x100000 fail_exit=1$", start=0,
                   timeout=5)
    q.send("panic\n")
    q.wait_for(r"\] h\d+ panic: requested from the shell$", timeout=15)
    rc = q.wait_exit(timeout=30)
    assert not q.killed and not q.log("boot", "shutdown"), q.status()
    assert rc == (1 if board == "qemu-virt" else 0), q.status()
