"""The harness's own parsing and checks, on made-up output (no QEMU), so a
check that could never fail does not go unnoticed."""
import pytest

from kernel_checks import (check_heartbeat_series, check_log_format, check_timestamps_in_order)
from kernel_qemu import Qemu, parse_line

BANNER = ["", "OpenSBI v1.1", "Boot HART ID              : 0"]
GOOD = [
    '[    0.068489] h0 boot: kernel board=qemu-virt hart=0 fdt=0x8fe00000 args="shutdown=4"',
    "[    0.406008] h0 smp: hart online hartid=0 index=0",
    "[    0.419740] h1 smp: hart online hartid=1 index=1",
    "[    0.444624] h0 boot: ready harts=2 board=qemu-virt",
    "[    1.611730] h0 workload: heartbeat seq=1 made=30 counted=30 match=yes "
    "calls_by_hart=10,20 ticks_by_hart=89,94 free_pages=61204",
    "[    2.611730] h1 workload: heartbeat seq=2 made=70 counted=70 match=yes "
    "calls_by_hart=30,40 ticks_by_hart=189,194 free_pages=61204",
]


def fake(lines):
    q = Qemu("qemu-virt", 2, log_dir=None)
    q.lines = list(lines)
    return q


def test_parse_line():
    e = parse_line("[   12.000501] h3 trap: thread stopped tid=12 name=faulter; hart 3 goes on")
    assert (e.time, e.hart, e.subsystem, e.event) == (12.000501, 3, "trap", "thread stopped")
    assert e.kv == {"tid": "12", "name": "faulter"}
    e = parse_line('[    0.068489] h0 boot: kernel board=qemu-virt args="a b=c"')
    assert e.kv["args"] == "a b=c" and e.kv["board"] == "qemu-virt"
    e = parse_line(GOOD[4])
    assert e.ints("calls_by_hart") == [10, 20] and e.int("made") == 30
    assert parse_line("  backtrace: 0x80200000") is None
    assert parse_line("[0.1] h0 boot: x") is None          # usec must have 6 digits
    assert parse_line("[    0.100000] h0 boot:") is None   # no message


def test_good_log_passes():
    q = fake(BANNER + GOOD)
    assert len(check_log_format(q)) == len(GOOD)
    check_timestamps_in_order(q)
    check_heartbeat_series(q.log("workload", "heartbeat"), 2)


@pytest.mark.parametrize("bad", [
    GOOD[1][:20] + GOOD[2],                    # two lines mixed into one
    "[    0.500000] h0 smp hart online",         # no "subsystem:"
    "garbage",
])
def test_log_format_catches(bad):
    with pytest.raises(AssertionError):
        check_log_format(fake(BANNER + GOOD[:3] + [bad] + GOOD[3:]))


@pytest.mark.parametrize("late", ["[    0.500000] h1 boot: late",    # same hart as the last
                                  "[    2.600000] h0 boot: late"])   # another hart
def test_timestamps_catch_going_back(late):
    with pytest.raises(AssertionError, match="backwards"):
        check_timestamps_in_order(fake(GOOD + [late]))


@pytest.mark.parametrize("old,new,msg", [
    ("counted=70 match=yes", "counted=69 match=NO", "mismatch"),
    ("made=70 counted=70 match=yes calls_by_hart=30,40",
     "made=30 counted=30 match=yes calls_by_hart=10,20", "no calls made"),
    ("made=70 counted=70 match=yes calls_by_hart=30,40",
     "made=90 counted=90 match=yes calls_by_hart=70,20", "hart index 1 made no calls"),
    ("calls_by_hart=30,40", "calls_by_hart=30,45", "do not add up"),
    ("ticks_by_hart=189,194", "ticks_by_hart=189,94", "hart index 1 took no timer"),
    ("ticks_by_hart=189,194", "ticks_by_hart=189", "per-hart figures"),
    ("seq=2", "seq=3", "seq skipped"),
])
def test_heartbeat_checks_catch(old, new, msg):
    assert old in GOOD[-1]
    lines = GOOD[:-1] + [GOOD[-1].replace(old, new)]
    with pytest.raises(AssertionError, match=msg):
        check_heartbeat_series(fake(lines).log("workload", "heartbeat"), 2)
