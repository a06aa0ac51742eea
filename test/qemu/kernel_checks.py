"""Checks on a finished (or running) kernel run, shared by the tests.

Each function takes a kernel_qemu.Qemu and raises AssertionError with a
message that names the offending line.
"""
import re

from kernel_qemu import LOG_RE, PREFIX_ANYWHERE_RE, parse_line

# Text the kernel prints without the log prefix, by design: the fault
# report's register and backtrace lines, shell answers, the bench table.
FAULT_CONTINUATION = (re.compile(r"^  ra=0x[0-9a-f]+ sp=0x[0-9a-f]+ fp=0x[0-9a-f]+ "
                                 r"a0=(0x[0-9a-f]+|0) a1=(0x[0-9a-f]+|0)$"),
                      re.compile(r"^  backtrace:( 0x[0-9a-f]+)+$"))


def check_log_format(q, allowed=()):
    """Every line from the first kernel line on is a well-formed log line
    (or matches one of `allowed`), with exactly one log prefix, so no two
    lines got mixed. Returns the parsed log lines."""
    lines = q.kernel_lines()
    assert lines, f"no kernel output (no `boot: kernel` line)\n{q.tail()}"
    assert not q.partial, f"unterminated last line {q.partial!r}"
    parsed = []
    for i, text in lines:
        prefixes = len(PREFIX_ANYWHERE_RE.findall(text))
        e = parse_line(text, i)
        if e is not None and prefixes == 1:
            parsed.append(e)
            continue
        if prefixes == 0 and any(rx.search(text) for rx in allowed):
            continue
        raise AssertionError(f"line {i} is not a well-formed log line "
                             f"({prefixes} log prefixes): {text!r}\n{q.tail()}")
    return parsed


def check_timestamps_in_order(q):
    """Stamps never go backwards in the output, across all harts: the
    kernel stamps a line under the log lock, when it is written (harts read
    one shared timer)."""
    prev = None
    for e in q.log():
        assert prev is None or e.time >= prev.time, (
            f"time went backwards:\n  {prev.raw}\n  {e.raw}")
        prev = e


def online_harts(q):
    """{index: hartid} from the `smp: hart online` lines; each line must be
    printed by the hart it announces, each index only once."""
    out = {}
    for e in q.log("smp", "hart online"):
        idx, hid = e.int("index"), e.int("hartid")
        assert idx not in out, f"hart index {idx} came online twice: {e.raw}"
        assert e.hart == hid, f"`hart online` for hart {hid} printed by hart {e.hart}: {e.raw}"
        out[idx] = hid
    return out


def ready_line(q):
    r = q.log("boot", "ready")
    assert len(r) == 1, f"expected one `boot: ready` line, got {len(r)}\n{q.tail()}"
    return r[0]


def heartbeats(q, since=0):
    return q.log("workload", "heartbeat", since=since)


def check_heartbeat(e, nharts):
    """One heartbeat on its own: the totals agree, one figure per hart."""
    made, counted = e.int("made"), e.int("counted")
    calls, ticks = e.ints("calls_by_hart"), e.ints("ticks_by_hart")
    assert e.kv.get("match") == "yes", f"heartbeat reports a mismatch: {e.raw}"
    assert made == counted, f"made != counted: {e.raw}"
    assert len(calls) == nharts and len(ticks) == nharts, (
        f"expected {nharts} per-hart figures: {e.raw}")
    assert sum(calls) == made, f"calls_by_hart do not add up to made={made}: {e.raw}"
    assert int(e.kv["free_pages"]) > 0, e.raw


def check_heartbeat_series(hbs, nharts):
    """Consecutive seq numbers, made strictly increasing, and every hart's
    calls and timer ticks grow from the first heartbeat to the last."""
    for e in hbs:
        check_heartbeat(e, nharts)
    for a, b in zip(hbs, hbs[1:]):
        assert b.int("seq") == a.int("seq") + 1, f"heartbeat seq skipped:\n  {a.raw}\n  {b.raw}"
        assert b.int("made") > a.int("made"), f"no calls made between heartbeats:\n  {a.raw}\n  {b.raw}"
    first, last = hbs[0], hbs[-1]
    for i in range(nharts):
        assert last.ints("ticks_by_hart")[i] > 0, f"hart index {i} took no timer interrupt: {last.raw}"
        assert last.ints("calls_by_hart")[i] > 0, f"no worker ran on hart index {i}: {last.raw}"
        if len(hbs) > 1:
            assert last.ints("calls_by_hart")[i] > first.ints("calls_by_hart")[i], (
                f"hart index {i} made no calls between\n  {first.raw}\n  {last.raw}")
            assert last.ints("ticks_by_hart")[i] > first.ints("ticks_by_hart")[i], (
                f"hart index {i} took no timer interrupts between\n  {first.raw}\n  {last.raw}")


def check_no_trouble(q, allow_faults=False):
    """No panic, no failed hart start, no failed workload call."""
    bad = [e for e in q.log() if e.subsystem == "panic"
           or (e.subsystem == "smp" and re.match(r"(hart start failed|only \d+ of)", e.message))
           or (e.subsystem == "workload" and e.event.startswith(("call failed", "not started")))
           or (not allow_faults and e.subsystem == "trap")]
    assert not bad, "unexpected lines:\n" + "\n".join(e.raw for e in bad)


def check_ends_by_itself(q, seconds):
    """QEMU ran to its own end (status 0), right after `boot: shutdown
    after=<seconds>s`, which came about <seconds> after the ready line."""
    rc = q.wait_exit()
    assert rc == 0 and not q.killed, f"QEMU {q.status()}\n{q.tail()}"
    sd = q.log("boot", "shutdown")
    assert len(sd) == 1, f"expected one `boot: shutdown` line, got {len(sd)}\n{q.tail()}"
    sd = sd[0]
    assert sd.kv.get("after") == f"{seconds}s", sd.raw
    last = q.log()[-1]
    assert last.index == sd.index, f"output after the shutdown line: {last.raw}"
    assert sd.index == len(q.lines) - 1, f"output after the shutdown line: {q.lines[-1]!r}"
    ready = ready_line(q)
    waited = sd.time - ready.time
    assert seconds - 0.2 <= waited <= seconds + 3, (
        f"shutdown came {waited:.2f}s after ready, asked for {seconds}s:\n  {ready.raw}\n  {sd.raw}")
    return sd
