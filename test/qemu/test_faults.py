"""The fault matrix: faulty new code of every kind, applied while the
workload runs, must cost nothing. Each pack (update/demos/packs.txt, group
`faults`, modules update/demos/counter_v2_*.c, uart_v2_*.c,
timer_v2_armfault.c) is either rolled back or refused, and afterwards every
instance is on the old version with its state, the workload's totals still
match, no thread stopped but the ones a kind says, and the next pack applies.

Boots (build/<board>/kernel-demo.elf, `updates=...`):
  counter  qemu-virt and hifive-unleashed: a fault in add() (thread context,
           interrupts on), a faulting transfer() eager and lazy, add() and
           transfer_back() faulting during the rollback, add() looping with
           interrupts on, add() sleeping, a self-test that traps and one that
           never returns, timer arm() faulting in every hart's timer
           interrupt, sched pick() faulting holding a run-queue lock in every
           hart's scheduler loop (no thread), sched enqueue() faulting
           holding a run-queue lock under the thread's lock (no thread may
           be lost), then a counter update that
           commits, with a latent bug the shell's `probe add <n>` reaches
           after probation (a fault, a fault holding a lock, then that lock
           taken again).
  uart     qemu-virt only (ns16550): write() faulting holding its transmit
           lock under the log lock, irq() faulting in the console's receive
           interrupt (input typed during its probation), then a good one,
           then a timer update whose arm() faults once after probation (an
           interrupt handler abandoned, the hart going on).
  life     qemu-virt and hifive-unleashed: counter init() faulting holding
           a lock, reached by the shell's `probe new <n>` during probation
           (the counter is made on version 1 instead, the probe goes on);
           fini() faulting holding a lock in the reaper (the counter freed,
           the reaper goes on: `probe new` waits for it); then a good pack.
  lost     qemu-virt: a self-test spinning with interrupts off: its hart is
           declared lost, and the next pack still applies (quiescence skips
           the lost hart).
  devices  qemu-virt and hifive-unleashed, with a NIC (user networking, the
           agent answering) and a state device (virtio-blk; the SPI NOR
           flash): device drivers in which every method of version 2
           faults, each made to run during its probation the way it runs in
           service: plic (any external interrupt: a command typed on the
           console, in the trap handler), netdev (virtio-net; Cadence GEM:
           GET /status during probation, frames received in the device's
           interrupt; a second NIC pack whose irq() works and recv() faults:
           on the network thread), storage (virtio-blk; spi-nor:
           `storage read` typed, on the shell's thread; the journal records
           the outcome after the rollback, on version 1) and spi (sifive-spi,
           under spi-nor's lock with interrupts off, by the same read);
           then the storage pack again with no stimulus: the journal's
           commit record, written under probation by the update monitor,
           is its first call. Each rolls back, its stimulus is answered (the call retried on
           version 1), the device works afterwards, GET /status shows every
           class on version 1, and a counter pack commits after them.
  agent    qemu-virt over the network, as a user would: packs made by
           `ota.py build`, pushed with curl: the issue's eager counter update
           whose transfer faults and uart update whose write faults; GET
           /status says rolled-back each time and the next push applies.
"""
import os
import re

import pytest

from kernel_checks import FAULT_CONTINUATION, check_timestamps_in_order
from kernel_qemu import PREFIX_ANYWHERE_RE, REPO_ROOT, QemuError, parse_line, unglue_echo
from update_checks import UpdateRun, check_heartbeats, read_pack_list
from ota_checks import (boot_agent, build_pack, check_all_heartbeats, curl_put, ensure_built,
                        free_port, http_get_status, user_net, wait_agent_up)
from kernel_qemu import make_state_image

PACKS = read_pack_list()
COUNTER_PLAN = ["f-add", "f-xfer-eager", "f-xfer-lazy", "f-back", "f-loop", "f-block",
                "f-selftrap", "f-selfhang", "f-timer", "f-sched", "f-sched-enq", "f-late"]
UART_PLAN = ["f-uart-write", "f-uart-irq", "f-uart-good", "f-timer-late"]
LOST_PLAN = ["f-selfspin", "f-good"]
LIFE_PLAN = ["f-init", "f-fini", "f-life-good"]
PROBE_NEW_RE = (r"\] h\d+ shell: probe new={n} made=(\S+) version=(-?\d+) result=(-?\d+) "
                r"destroyed=(\S+) reaped=(\S+)$")
SMP = {"qemu-virt": 4, "hifive-unleashed": 5}
# Device drivers, per board (the packs name the board's driver as impl).
DEV_PLAN = {"qemu-virt": ["f-plic", "f-net-vnet", "f-stor-blk", "f-net-vnet-rx", "f-stor-blk-cw",
                          "f-dev-good"],
            "hifive-unleashed": ["f-plic", "f-net-gem", "f-stor-nor", "f-spi", "f-net-gem-rx",
                                 "f-stor-nor-cw", "f-dev-good"]}
DEV_CLASS = {"f-plic": "plic", "f-net-vnet": "netdev", "f-net-gem": "netdev",
             "f-stor-blk": "storage", "f-stor-nor": "storage", "f-spi": "spi",
             "f-net-vnet-rx": "netdev", "f-net-gem-rx": "netdev",
             "f-stor-blk-cw": "storage", "f-stor-nor-cw": "storage"}
# NICs whose recv()/send() fault but irq() works: the fault is on the network thread.
RX_THREAD = {"f-net-vnet-rx", "f-net-gem-rx"}
# Given no stimulus: the journal's commit record is the first call of their code.
COMMIT_WRITE = {"f-stor-blk-cw", "f-stor-nor-cw"}
STORAGE_READ_RE = r"^  storage read off=0 len=16 err=(\S+) data=([0-9a-f]*)$"
# Threads a kind stops on purpose: the self-test that never returns (at its
# next preemption point), and the probe threads that hit the latent bug after
# probation (an ordinary fault then).
STOPPED_OK = re.compile(r"name=(selftest: asked to stop|probe;)")
MEM_RE = r"^  pages total=\d+ free=\d+; kmalloc live=\d+ "


def demo_elf(board):
    return os.path.join(REPO_ROOT, "build", board, "kernel-demo.elf")


def test_pack_list():
    for name in (COUNTER_PLAN + UART_PLAN + LIFE_PLAN + DEV_PLAN["qemu-virt"]
                 + DEV_PLAN["hifive-unleashed"]):
        assert name in PACKS and PACKS[name]["group"] == "faults", name
    seqs = [PACKS[n]["seq"] for n in COUNTER_PLAN]
    for plan in DEV_PLAN.values():
        assert [PACKS[n]["seq"] for n in plan] == sorted(PACKS[n]["seq"] for n in plan), plan
    for plan in (UART_PLAN, LIFE_PLAN):
        assert [PACKS[n]["seq"] for n in plan] == sorted(PACKS[n]["seq"] for n in plan), plan
    assert seqs == sorted(seqs)


class Run:
    def __init__(self, board, q, probes=None):
        self.board, self.qemu, self.probes = board, q, probes or {}
        self.run = UpdateRun(q)

    def step(self, name):
        return self.run.step(name)


def boot_counter(factory, board):
    q = factory(board, SMP[board], args=f"updates={','.join(COUNTER_PLAN)} probation_ms=300",
                kernel=demo_elf(board), hard_timeout=150, name=f"faults-counter-{board}")
    probes = {}
    try:
        q.wait_for(r"demo: done ", timeout=120)
        for n in (777, 778, 779):
            start = len(q.lines)
            q.send(f"probe add {n}\n")
            hit = q.wait_for(rf"\] h\d+ (shell: probe add={n} |trap: thread stopped tid=\d+ "
                             rf"name=probe;)", timeout=20, start=start)
            probes[n] = (start, hit)
        # a heartbeat after the probes, then the end
        q.wait_for(r"\] h\d+ workload: heartbeat .*match=yes", timeout=20, start=len(q.lines))
        q.send("halt\n")
        q.wait_exit(timeout=20)
    except QemuError:
        q.kill()
    unglue_echo(q)
    return Run(board, q, probes)


def boot_uart(factory):
    q = factory("qemu-virt", 4, args=f"updates={','.join(UART_PLAN)} probation_ms=1500",
                kernel=demo_elf("qemu-virt"), hard_timeout=100, name="faults-uart-qemu-virt")
    typed = None
    try:
        a = q.wait_for(r"demo: applying pack=f-uart-irq ", timeout=60)
        q.wait_for(r"update: applied class=uart ", timeout=20, start=a.index)
        typed = len(q.lines)
        q.send("mem\n")
        q.wait_for(r"demo: done ", timeout=60)
        # f-timer-late's one fault, 6 s after its switch; two heartbeats after it
        s = q.wait_for(r"trap: interrupt handler stopped ", timeout=20).index
        for _ in range(2):
            s = q.wait_for(r"\] h\d+ workload: heartbeat ", timeout=10, start=s + 1).index
        q.send("halt\n")
        q.wait_exit(timeout=20)
    except QemuError:
        q.kill()
    unglue_echo(q)
    r = Run("qemu-virt", q)
    r.typed = typed
    return r


def storage_read(q):
    """`storage read 0 16` on the console: (err, hex data), and where it was typed."""
    start = len(q.lines)
    q.send("storage read 0 16\n")
    m = q.wait_for(STORAGE_READ_RE, timeout=20, start=start).match
    return start, m.group(1), m.group(2)


def dev_stimulus(r, q, name):
    """What makes the pack's code run during its probation, the way it runs
    in service; what it got back is kept in r.answers[name]."""
    cls = DEV_CLASS[name]
    if cls == "plic":                   # an external interrupt: console input
        start = len(q.lines)
        q.send("mem\n")
        r.answers[name] = q.wait_for(MEM_RE, timeout=20, start=start)
        r.typed = start if r.typed is None else r.typed
    elif cls == "netdev":               # frames in and out
        r.answers[name] = http_get_status(r.port, timeout=30)
    else:                               # storage, spi: a read of the state device
        start, err, data = storage_read(q)
        r.answers[name] = (err, data)
        r.typed = start if r.typed is None else r.typed


def boot_devices(factory, board, img):
    """The demo image with a NIC (the agent answering) and a state device;
    each device pack gets its stimulus as soon as it is applied, then the
    device is used once more after the run."""
    plan = DEV_PLAN[board]
    args = f"updates={','.join(plan)} probation_ms=3000"
    for attempt in range(3):
        port = free_port()
        q = factory(board, SMP[board], args=args, kernel=demo_elf(board),
                    extra_args=user_net(board, port), state=img, hard_timeout=150,
                    name=f"faults-devices-{board}" + (f"-{attempt}" if attempt else ""))
        try:
            wait_agent_up(q, port, timeout=60)
            break
        except (QemuError, OSError, AssertionError):
            q.kill()
            if "host forwarding" in q.stderr and attempt < 2:
                continue
            raise
    r = Run(board, q)
    r.port, r.typed, r.answers, r.after = port, None, {}, {}
    try:
        for name in [n for n in plan if n in DEV_CLASS and n not in COMMIT_WRITE]:
            a = q.wait_for(rf"demo: applying pack={name} ", timeout=60, start=0, advance=False)
            q.wait_for(rf"update: applied class={DEV_CLASS[name]} ", timeout=20, start=a.index,
                       advance=False)
            dev_stimulus(r, q, name)
        q.wait_for(r"demo: done ", timeout=60, start=0, advance=False)
        # every device once more, on version 1
        r.after["status"] = http_get_status(port, timeout=30)
        r.after["storage"] = storage_read(q)[1:]
        start = len(q.lines)
        q.send("mem\n")
        r.after["console"] = q.wait_for(MEM_RE, timeout=20, start=start)
        s = q.wait_for(r"\] h\d+ workload: heartbeat ", timeout=10, start=len(q.lines)).index
        q.wait_for(r"\] h\d+ workload: heartbeat ", timeout=10, start=s + 1)
        q.send("halt\n")
        q.wait_exit(timeout=20)
    except QemuError:
        q.kill()
    unglue_echo(q)
    r.run = UpdateRun(q)
    return r


def boot_lost(factory):
    q = factory("qemu-virt", 4, args=f"updates={','.join(LOST_PLAN)} probation_ms=300 halt",
                kernel=demo_elf("qemu-virt"), hard_timeout=60, name="faults-lost-qemu-virt")
    try:
        q.wait_exit(timeout=55)
    except QemuError:
        q.kill()
    return Run("qemu-virt", q)


@pytest.fixture(scope="module", params=["qemu-virt", "hifive-unleashed"])
def counter(request, qemu_module):
    return boot_counter(qemu_module, request.param)


@pytest.fixture(scope="module")
def uart(qemu_module):
    return boot_uart(qemu_module)


# --- checks shared by every boot ------------------------------------------------------


def module_range(step):
    loaded = step.update("module loaded")
    assert len(loaded) == 1, f"{step.name}: {[e.raw for e in loaded]}"
    base, size = (int(x, 0) for x in loaded[0].kv["text"].split("+"))
    return base, base + size


def traps(step):
    return [e for e in step.lines if e.subsystem == "trap" and e.event == "fault"]


def check_run(r, handler_stopped=False):
    """No panic, the only stopped threads are the documented ones, QEMU ended
    by itself, well-formed log, timestamps in order, heartbeats matching."""
    q = r.qemu
    assert q.returncode == 0 and not q.killed, f"QEMU {q.status()}\n{q.tail(40)}"
    bad = [h.line for h in q.find(r"\] h\d+ (panic: |update: rollback of \S+ incomplete|"
                                  r"workload: (call failed|not started)|trap: (no thread to stop|"
                                  r"fault reports lost))")]
    stopped_handlers = q.find(r"\] h\d+ trap: interrupt handler stopped ")
    assert len(stopped_handlers) == (1 if handler_stopped else 0), [h.line for h in stopped_handlers]
    assert not bad, "\n".join(bad)
    assert not q.find(r"fault in the fault path"), q.tail(40)
    stopped = [e.raw for e in q.log("trap", "thread stopped") if not STOPPED_OK.search(e.raw)]
    assert not stopped, f"threads stopped: {stopped}"
    # Until the shell is used (its echo may land inside a log line, by design).
    end = r.run.done.index if r.run.done else len(q.lines)
    if getattr(r, "typed", None) is not None:
        end = min(end, r.typed)
    for i, text in q.kernel_lines():
        if i >= end:
            break
        e = parse_line(text, i)
        ok = (e is not None and len(PREFIX_ANYWHERE_RE.findall(text)) == 1) or any(
            rx.search(text) for rx in FAULT_CONTINUATION)
        assert ok, f"line {i} is not a well-formed log line: {text!r}\n{q.tail()}"
    check_timestamps_in_order(q)
    check_heartbeats(r.run, min_count=8)


def check_rolled_back(step, cls, how):
    """One rolled-back line back to version 1, with its reason and how the
    faulting call ended; nothing committed; versions and modules as before."""
    assert step.outcome == "rolled-back", step.result.raw if step.result else step.lines[-3:]
    rb = step.update("rolled-back")
    assert len(rb) == 1, [e.raw for e in rb]
    e = rb[0]
    assert (e.kv.get("class"), e.int("from"), e.int("to"), e.int("version")) == (cls, 1, 2, 1), e.raw
    assert e.kv.get("how") == how, e.raw
    assert e.kv.get("reason"), e.raw
    assert not step.update("committed"), step.update("committed")[0].raw
    assert step.versions.kv.get(cls, "1") == "1" and step.versions.kv["modules"] == "0", (
        step.versions.raw)
    return e


def check_reports(step, ctx, thread, lo_hi=None):
    """Trap reports of the pack's faults: in its module (when given), in the
    context the kind says, each followed by its register and backtrace lines."""
    ts = traps(step)
    assert ts, f"{step.name}: no trap report"
    for t in ts:
        assert ctx in (None, t.kv.get("ctx")) and thread in (None, t.kv.get("thread")), t.raw
        if lo_hi:
            assert lo_hi[0] <= t.int("sepc") < lo_hi[1], f"fault outside the module: {t.raw}"
    return ts


# --- counter boots (both boards) --------------------------------------------------------


def test_counter_run(counter):
    check_run(counter)


def test_fault_in_method(counter):
    s = counter.step("f-add")
    e = check_rolled_back(s, "counter", "call retried")
    check_reports(s, "thread", "worker", module_range(s))
    assert re.fullmatch(r"fault cause=13 in step-1 at \+0x[0-9a-f]+", e.kv["reason"]), e.raw
    f = s.update("fault in new code")
    assert len(f) == 1 and f[0].raw.endswith("rolling back, the call is retried"), f


@pytest.mark.parametrize("name", ["f-xfer-eager", "f-xfer-lazy"])
def test_transfer_fault(counter, name):
    s = counter.step(name)
    e = check_rolled_back(s, "counter", "conversion undone")
    ts = check_reports(s, "thread", None, module_range(s))    # any caller that converted
    assert e.kv["reason"].endswith("(transfer)"), e.raw
    f = s.update("fault in new code")
    assert len(f) == 1 and "the conversion is undone" in f[0].raw, f
    if name == "f-xfer-eager":
        # the engine's conversion (or a worker's call that got to an instance
        # first) faulted, then no conversion was tried any more
        assert 1 <= len(ts) <= 8, [t.raw for t in ts]
        a = s.update("applied")
        assert len(a) == 1 and a[0].kv["mode"] == "eager", a


def test_transfer_back_fault(counter):
    """add() faults (rollback), then the transfer_back of every instance
    converted so far faults too: each comes back to its state at
    conversion (the totals still match), and trap reports stop after the
    first 8 of the pack, the rest counted."""
    s = counter.step("f-back")
    check_rolled_back(s, "counter", "call retried")
    ts = traps(s)
    assert len(ts) <= 8, f"{len(ts)} trap reports for one pack"
    d = s.update("rollback details")
    assert len(d) == 1 and d[0].int("transfer_back_failed") >= 1, d
    total = 1 + d[0].int("transfer_back_failed")     # the add() that started it, at least
    n = s.update("faults in new code")
    if total > 8:
        assert len(n) == 1 and n[0].int("reported") == 8 and n[0].int("count") >= total, (
            [e.raw for e in n])
    else:
        assert len(ts) >= total, [t.raw for t in ts]


def test_loop_detected(counter):
    s = counter.step("f-loop")
    e = check_rolled_back(s, "counter", "call retried")
    loop = s.update("loop in new code")
    assert len(loop) == 1 and loop[0].int("ticks") == 20, loop
    assert e.kv["reason"].startswith("loop in step-1: 20 timer ticks in one call"), e.raw
    counter.loop_ms = loop[0].int("ms")
    assert not traps(s), "a loop is no fault"


def test_block_detected(counter):
    s = counter.step("f-block")
    e = check_rolled_back(s, "counter", "call retried")
    assert len(s.update("blocking call in new code")) == 1
    assert e.kv["reason"] == "step-1 blocked inside a call", e.raw


def test_selftest_trap_fails_at_once(counter):
    s = counter.step("f-selftrap")
    assert s.outcome == "selftest", s.result.raw
    rej = s.update("rejected")
    assert len(rej) == 1 and rej[0].kv["detail"] == "step-1: self-test trapped", rej
    ts = check_reports(s, "thread", "selftest")
    assert len(ts) == 1
    # at once: not after the self-test's 1 s
    assert rej[0].time - ts[0].time < 0.8, (ts[0].raw, rej[0].raw)
    assert s.versions.kv["modules"] == "0" and s.versions.kv["counter"] == "1"


def test_selftest_hang_stopped(counter):
    s = counter.step("f-selfhang")
    assert s.outcome == "selftest", s.result.raw
    rej = s.update("rejected")
    assert len(rej) == 1 and rej[0].kv["detail"] == "step-1: self-test did not finish", rej
    stopped = [e for e in s.lines if e.subsystem == "trap" and e.event == "thread stopped"]
    assert len(stopped) == 1 and stopped[0].kv["name"].startswith("selftest"), stopped
    # 1 s on the clock and of its hart's running time, at most 5 s (+ the stop)
    stop = s.update(r"self-test of step-1 stopped after \d+ ms")
    assert len(stop) == 1, [e.raw for e in s.lines]
    assert 1000 <= int(stop[0].event.split()[-2]) <= 6000, stop[0].raw
    assert len(s.update("module freed")) == 1, "the hung self-test's module was not freed"
    assert s.versions.kv["modules"] == "0"
    # later quiescence waits still work: the next packs apply and roll back or commit
    assert counter.step("f-timer").update("applied")
    assert counter.step("f-late").outcome == "ok"


def test_interrupt_context_fault(counter):
    """timer arm() faults in the timer interrupt: unwound inside the
    handler, retried on version 1; every hart keeps ticking."""
    s = counter.step("f-timer")
    check_rolled_back(s, "timer", "call retried")
    check_reports(s, "irq", None, module_range(s))
    after = [e for e in counter.run.heartbeats if e.index > s.result.index]
    before = [e for e in counter.run.heartbeats if e.index < s.applying.index]
    assert before and len(after) >= 2
    for h in range(counter.run.nharts):
        assert after[-1].ints("ticks_by_hart")[h] > before[-1].ints("ticks_by_hart")[h]


def test_fault_in_scheduler_loop(counter):
    """sched pick() faults holding its run-queue lock, in the scheduler
    loop of every hart (no thread): unwound, the lock released, retried;
    the run queues go back to version 1 (policy rr) and every hart keeps
    running its threads."""
    s = counter.step("f-sched")
    check_rolled_back(s, "sched", "call retried")
    check_reports(s, "sched-loop", "-", module_range(s))
    assert s.versions.kv["sched"] == "1" and s.versions.kv["policy"] == "rr", s.versions.raw
    after = [e for e in counter.run.heartbeats if e.index > s.result.index]
    before = [e for e in counter.run.heartbeats if e.index < s.applying.index]
    assert before and after
    for h in range(counter.run.nharts):
        assert after[-1].ints("calls_by_hart")[h] > before[-1].ints("calls_by_hart")[h]


def test_fault_in_enqueue(counter):
    """sched enqueue() faults holding a run-queue lock, called under a
    thread's lock from wakeups, yields and preemptions on every hart: rolled
    back, and no thread is lost (every worker still parks for the
    heartbeat) and no call failed."""
    s = counter.step("f-sched-enq")
    check_rolled_back(s, "sched", "call retried")
    check_reports(s, None, None, module_range(s))    # thread, interrupt or scheduler loop
    assert not [e for e in s.update("rollback details") if e.int("calls_failed")], (
        s.update("rollback details")[0].raw)
    after = [e for e in counter.run.heartbeats if e.index > s.result.index]
    assert after and all(e.kv["parked"].split("/")[0] == e.kv["parked"].split("/")[1]
                         for e in after[:2]), [e.raw for e in after[:2]]


def test_next_pack_applies(counter):
    s = counter.step("f-late")
    assert s.outcome == "ok", s.result.raw
    c = s.update("committed")
    assert len(c) == 1 and c[0].int("version") == 2, c
    assert counter.run.final.kv["counter"] == "2" and counter.run.final.kv["modules"] == "1"


def test_fault_after_probation(counter):
    """The latent bug, reached after the commit: an ordinary fault. The
    probe thread stops (its report printed, nothing else stopped), a lock
    it held is released, and the same lock is taken again afterwards."""
    q = counter.qemu
    p = counter.probes
    assert set(p) == {777, 778, 779}, f"probes done: {sorted(p)}\n{q.tail(30)}"
    for n in (777, 778):
        start, hit = p[n]
        assert "thread stopped" in hit.line, hit.line
        t = [e for e in q.log("trap", "fault", since=start) if e.index < hit.index]
        assert len(t) == 1 and t[0].kv["thread"] == "probe" and t[0].kv["ctx"] == "thread", t
        assert not [e for e in q.log("update", since=start) if e.index < hit.index], (
            "a fault after probation started an update action")
    start, hit = p[778]
    rel = [e for e in q.log("trap", "released", since=start) if e.index < hit.index]
    assert len(rel) == 1 and rel[0].kv["locks"] == "counter-late" and rel[0].int("count") == 1, rel
    start, hit = p[779]
    assert "shell: probe add=779 result=" in hit.line, hit.line
    # the workload went on: a matching heartbeat after the probes
    hbs = [e for e in counter.run.heartbeats if e.index > p[778][1].index]
    assert any(e.kv.get("match") == "yes" for e in hbs), [e.raw for e in hbs]


# --- uart (qemu-virt) --------------------------------------------------------------------


def test_uart_run(uart):
    check_run(uart, handler_stopped=True)


def test_fault_with_locks_held(uart):
    """write() faults holding its transmit lock, called by the log with the
    log lock held: the report neither waits for the log lock nor goes through
    the faulting driver; the transmit lock is released, the log lock kept,
    and the line being written comes out whole, once, before the report."""
    s = uart.step("f-uart-write")
    check_rolled_back(s, "uart", "call retried")
    ts = check_reports(s, "thread", "demo", module_range(s))
    t = ts[0]
    q = uart.qemu
    prev = q.lines[t.index - 1]
    assert re.search(r"\] h\d+ update: applied class=uart from=1 to=2 mode=eager instances=1 ", prev), (
        f"the line written when write() faulted should come out just before the report: {prev!r}")
    assert len(s.update("applied")) == 1
    assert len(s.update("fault in new code")) == 1


def test_fault_in_interrupt_handler(uart):
    """irq() faults in the console's receive interrupt: retried on
    version 1, which reads the byte: the command typed still runs."""
    s = uart.step("f-uart-irq")
    check_rolled_back(s, "uart", "call retried")
    check_reports(s, "irq", None, module_range(s))
    assert uart.typed is not None
    assert uart.qemu.find(MEM_RE, since=uart.typed), "the input typed was lost"


def test_uart_next_pack_applies(uart):
    s = uart.step("f-uart-good")
    assert s.outcome == "ok", s.result.raw
    assert s.versions.kv["uart"] == "2"


def test_fault_in_interrupt_after_probation(uart):
    """timer arm() faults once, in one hart's timer interrupt, after its
    probation: that handler is abandoned, nothing else; the hart keeps
    ticking (its next tick programmed without the timer object) and the
    thread it interrupted goes on."""
    s = uart.step("f-timer-late")
    assert s.outcome == "ok", s.result.raw
    lo, hi = module_range(s)
    q = uart.qemu
    ts = [e for e in q.log("trap", "fault") if lo <= e.int("sepc") < hi]
    assert len(ts) == 1 and ts[0].kv["ctx"] == "irq", [e.raw for e in ts]
    t = ts[0]
    committed = s.update("committed")
    assert committed and committed[0].index < t.index, "the fault came during probation"
    st = q.log("trap", "interrupt handler stopped")
    assert len(st) == 1 and st[0].kv["irq"] == "timer" and st[0].hart == t.hart, st
    assert not [e for e in q.log("trap", "thread stopped") if e.index > t.index]
    after = [e for e in uart.run.heartbeats if e.index > st[0].index]
    before = [e for e in uart.run.heartbeats if e.index < t.index]
    assert before and len(after) >= 2, "no heartbeats after the fault"
    for h in range(uart.run.nharts):
        assert after[-1].ints("ticks_by_hart")[h] > before[-1].ints("ticks_by_hart")[h]
        assert after[-1].ints("calls_by_hart")[h] > after[0].ints("calls_by_hart")[h]


# --- a hart lost to a self-test (qemu-virt) ---------------------------------------------


@pytest.fixture(scope="module")
def lost(qemu_module):
    return boot_lost(qemu_module)


def test_selftest_spinning_irqs_off(lost):
    """A self-test that spins with interrupts off cannot be stopped: its
    hart is declared lost (the only thing the board loses), the pack is
    refused, and the next pack applies: quiescence skips the lost hart."""
    q = lost.qemu
    assert q.returncode == 0 and not q.killed, f"QEMU {q.status()}\n{q.tail(40)}"
    assert not q.find(r"\] h\d+ (panic: |trap: )"), q.tail(40)
    s = lost.step("f-selfspin")
    assert s.outcome == "selftest", s.result.raw
    assert s.update("rejected")[0].kv["detail"] == "step-1: self-test did not finish"
    gone = s.update(r"hart \d+ lost: .*")
    assert len(gone) == 1, [e.raw for e in s.update(r".*")]
    assert len(s.update(r"self-test of step-1 does not stop: .*")) == 1
    g = lost.step("f-good")
    assert g.outcome == "ok", g.result.raw
    assert g.update("committed")
    # heartbeats still come (workers pinned to the lost hart no longer park:
    # match=unknown, and each waits 2 s for them, so one every 3 s; the run
    # may halt before the next one after f-good)
    assert [e for e in lost.run.heartbeats if e.index > gone[0].index]


# --- a loaded version's init() and fini() (both boards) --------------------------------


def probe_new(q, n):
    """`probe new <n>` typed; its line (or a stopped thread), and where it was typed."""
    start = len(q.lines)
    q.send(f"probe new {n}\n")
    hit = q.wait_for(PROBE_NEW_RE.format(n=n) + r"|\] h\d+ trap: thread stopped ", timeout=20,
                     start=start)
    return start, hit


def boot_life(factory, board):
    """f-init and f-fini each get a `probe new` as soon as they are applied
    (in probation), then one more probe after the good pack."""
    q = factory(board, SMP[board], args=f"updates={','.join(LIFE_PLAN)} probation_ms=3000",
                kernel=demo_elf(board), hard_timeout=120, name=f"faults-life-{board}")
    r = Run(board, q)
    r.typed, r.probes = None, {}
    try:
        for name, n in (("f-init", 5), ("f-fini", 6)):
            a = q.wait_for(rf"demo: applying pack={name} ", timeout=60, start=0, advance=False)
            q.wait_for(r"update: applied class=counter ", timeout=20, start=a.index, advance=False)
            r.probes[name] = probe_new(q, n)
            r.typed = r.probes[name][0] if r.typed is None else r.typed
        q.wait_for(r"demo: done ", timeout=60, start=0, advance=False)
        r.probes["after"] = probe_new(q, 7)
        q.wait_for(r"\] h\d+ workload: heartbeat .*match=yes", timeout=20, start=len(q.lines))
        q.send("halt\n")
        q.wait_exit(timeout=20)
    except QemuError:
        q.kill()
    unglue_echo(q)
    r.run = UpdateRun(q)
    return r


@pytest.fixture(scope="module", params=["qemu-virt", "hifive-unleashed"])
def life(request, qemu_module):
    return boot_life(qemu_module, request.param)


def test_life_run(life):
    check_run(life)
    assert set(life.probes) == {"f-init", "f-fini", "after"}, life.qemu.tail(30)


def probe_fields(life, name):
    """What a `probe new` line says: (made, version, result, destroyed, reaped)."""
    hit = life.probes[name][1]
    assert hit.match.group(1) is not None, f"{name}: {hit.line}"     # not a stopped thread
    made, version, result, destroyed, reaped = hit.match.group(1, 2, 3, 4, 5)
    return made, int(version), int(result), destroyed, reaped


def check_life_rollback(life, name, kind, how, thread, said):
    """One rollback of the pack for a fault in its `kind` (init or fini),
    reported in `thread`, with the note saying what became of the call and
    that the one lock the faulting code held was released."""
    s = life.step(name)
    e = check_rolled_back(s, "counter", how)
    assert e.kv["reason"].endswith(f"({kind})"), e.raw
    check_reports(s, "thread", thread, module_range(s))
    f = s.update("fault in new code")
    assert len(f) == 1 and f"({kind}): rolling back, {said} (locks released=1)" in f[0].raw, f


def test_init_fault_makes_on_old_version(life):
    """A counter made during probation runs the new init, which faults
    holding a lock: the init is abandoned (the lock released), the pack
    rolls back, and the counter is made on version 1 all the same: the
    probe thread gets it and goes on."""
    check_life_rollback(life, "f-init", "init", "creation retried", "probe",
                        "the instance is made on the old version instead")
    assert probe_fields(life, "f-init") == ("ok", 1, 5, "ok", "yes")


def test_fini_fault_in_reaper(life):
    """A counter made and destroyed during probation: its fini (new code)
    runs in the reaper and faults holding a lock. The fini is abandoned,
    the counter freed, the pack rolls back, and the reaper goes on: the
    probe's wait for it returns, now and after the rollback."""
    check_life_rollback(life, "f-fini", "fini", "instance freed", "reaper",
                        "the instance is freed without its fini")
    assert probe_fields(life, "f-fini") == ("ok", 2, 6, "ok", "yes")
    # f-life-good committed: version 2, and the reaper still reaps
    assert probe_fields(life, "after") == ("ok", 2, 7, "ok", "yes")
    g = life.step("f-life-good")
    assert g.outcome == "ok" and g.update("committed"), g.result.raw


# --- device drivers (both boards) -------------------------------------------------------


@pytest.fixture(scope="module", params=["qemu-virt", "hifive-unleashed"])
def devices(request, qemu_module, tmp_path_factory):
    img = make_state_image(request.param, str(tmp_path_factory.mktemp("devstate") / "state.img"))
    return boot_devices(qemu_module, request.param, img)


def dev_steps(devices):
    return [n for n in DEV_PLAN[devices.board] if n in DEV_CLASS]


def test_devices_run(devices):
    check_run(devices)
    assert set(devices.answers) == set(dev_steps(devices)) - COMMIT_WRITE, (
        f"stimuli given: {sorted(devices.answers)}\n{devices.qemu.tail(30)}")


def test_device_faults_roll_back(devices):
    """Every device pack: rolled back from the fault of the call its
    stimulus made (or an earlier one of the same class), the call retried
    on version 1 (no call failed), reports from the module only, in the
    context the class runs in; the journal records each outcome after the
    rollback (the storage packs' on version 1 of the driver they broke)."""
    contexts = {"plic": {"irq"}, "netdev": {"irq"}, "storage": {"thread"}, "spi": {"thread"}}
    figures = []
    for name in dev_steps(devices):
        s = devices.step(name)
        cls = DEV_CLASS[name]
        e = check_rolled_back(s, cls, "call retried")
        assert re.fullmatch(r"fault cause=13 in step-1 at \+0x[0-9a-f]+", e.kv["reason"]), e.raw
        ts = check_reports(s, None, None, module_range(s))
        want = {"thread"} if name in RX_THREAD else contexts[cls]
        if cls == "netdev" and name not in RX_THREAD:
            # irq() is what the interrupt calls first; the network thread may
            # get to the NIC (recv, send) before it on a loaded host
            want = {"irq", "thread"}
        assert {t.kv["ctx"] for t in ts} <= want, (name, [t.raw for t in ts])
        if cls == "netdev":
            assert {t.kv["thread"] for t in ts if t.kv["ctx"] == "thread"} <= {"net"}, (
                name, [t.raw for t in ts])
        if name in RX_THREAD:
            assert {t.kv["thread"] for t in ts} == {"net"}, (name, [t.raw for t in ts])
        assert not [d for d in s.update("rollback details") if d.int("calls_failed")], (
            [d.raw for d in s.update("rollback details")])
        j = [x for x in s.lines if x.subsystem == "journal"]
        assert any(re.fullmatch(r"rolled-back seq=\d+", x.message) for x in j), (
            name, [x.raw for x in j])
        figures.append(f"{name}: fault ctx={ts[0].kv['ctx']} thread={ts[0].kv['thread']} "
                       f"-> rolled-back {1000 * (e.time - ts[0].time):.0f} ms")
    print(f"\n{devices.board}: " + "; ".join(figures))


def test_device_stimuli_answered(devices):
    """What reached the faulty code during probation was served, on
    version 1: the command typed ran, the GET was answered, the read read."""
    a = devices.answers
    assert a["f-plic"].line.startswith("  pages total="), a["f-plic"].line
    for net in [n for n in dev_steps(devices) if DEV_CLASS[n] == "netdev"]:
        assert "netdev" in a[net]["classes"], (net, a[net])
    for n in a:
        if DEV_CLASS[n] in ("storage", "spi"):
            err, data = a[n]
            assert err == "ok" and len(data) == 32, (n, a[n])
            # offset 0 holds the journal's superblock: its magic, read by both
            # (the rest moves with every record written in between)
            magic = devices.after["storage"][1][:8]
            assert data[:8] == magic and magic not in ("00000000", "ffffffff"), (
                n, a[n], devices.after["storage"])


def test_fault_in_commit_record(devices):
    """A storage update nothing called during its probation: the journal's
    commit record, written by the update monitor as probation's last act,
    is its first call. It faults there, is retried on version 1 (the record
    is written), the pack rolls back and a rollback record follows, which
    wins at the next boot. Before, the record was written after the commit:
    the fault stopped the update monitor, and no update could follow."""
    name = [n for n in dev_steps(devices) if n in COMMIT_WRITE][0]
    s = devices.step(name)
    check_rolled_back(s, "storage", "call retried")
    ts = check_reports(s, "thread", "update", module_range(s))
    assert len(ts) == 1, [t.raw for t in ts]
    j = [(x.index, x.message) for x in s.lines if x.subsystem == "journal"]
    seq = PACKS[name]["seq"]
    done = [i for i, m in j if m == f"committed seq={seq}"]
    undone = [i for i, m in j if m == f"rolled-back seq={seq}"]
    assert len(done) == 1 and len(undone) == 1 and ts[0].index < done[0] < undone[0], j
    assert not s.update("committed")


def test_devices_work_after(devices):
    """After the rollbacks: every class back on version 1 (GET /status,
    over the NIC that faulted), the counter pack after them committed, the
    state device reads, the console answers."""
    st = devices.after["status"]
    for n in dev_steps(devices):
        assert st["classes"][DEV_CLASS[n]] == 1, st["classes"]
    assert st["classes"]["counter"] == 2 and st["state"] == "idle", st
    good = devices.step("f-dev-good")
    assert good.outcome == "ok" and good.update("committed"), good.result.raw
    assert devices.after["storage"][0] == "ok", devices.after["storage"]
    assert devices.after["console"].line.startswith("  pages total=")


# --- over the network ------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent(qemu_module, tmp_path_factory):
    ensure_built("qemu-virt")
    d = tmp_path_factory.mktemp("faultpacks")
    packs = {
        "xfer": build_pack("qemu-virt", str(d / "xfer.itb"), 501,
                           "counter:1:2:eager:counter_v2_xferfault"),
        "write": build_pack("qemu-virt", str(d / "write.itb"), 502,
                            "uart:1:2:eager:uart_v2_writefault"),
        "good": build_pack("qemu-virt", str(d / "good.itb"), 503, "counter:1:2:lazy:counter_v2"),
    }
    a = boot_agent(qemu_module, "qemu-virt", 4, "shutdown=120", hard_timeout=150,
                   name="faults-agent")
    a.answers = {}
    try:
        for name in ("xfer", "write", "good"):
            mark = a.mark()
            a.answers[name] = (curl_put(a.port, packs[name], timeout=60), a.status(), mark)
        a.next_heartbeat(a.mark(), timeout=15)
    finally:
        a.halt()
    return a


@pytest.mark.parametrize("name,cls", [("xfer", "counter"), ("write", "uart")])
def test_agent_reports_rollback(agent, name, cls):
    (code, body), st, mark = agent.answers[name]
    assert body and body.get("reason") == "rolled-back", (code, body)
    assert st["state"] == "idle" and st["result"] == "update-failed", st
    assert st["classes"][cls] == 1, st
    rb = agent.lines(rf"\] h\d+ update: rolled-back class={cls} ", mark)
    assert len(rb) == 1, [h.line for h in rb]


def test_agent_next_pack_and_workload(agent):
    (code, body), st, mark = agent.answers["good"]
    assert code == 200 and body.get("reason") == "ok", (code, body)
    assert st["classes"]["counter"] == 2 and st["state"] == "idle", st
    q = agent.qemu
    bad = [h.line for h in q.find(r"\] h\d+ (panic: |trap: thread stopped|trap: no thread)")]
    assert not bad, bad
    check_all_heartbeats(agent)
