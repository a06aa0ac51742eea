"""Live update on qemu-virt (4 harts), with build/qemu-virt/kernel-demo.elf
and the packs built into it (update/demos/packs.txt), while the workload
runs on every hart. Three boots:

  demo     `demo halt`: the six packs of the demo group in order: results,
           `update:` lines, versions after each step, the faulty update's
           trap and rollback, heartbeats, modules freed, exit status 0.
  reject   the demo group but its faulty pack (the state is the same: uart 4,
           counter 3, sched 2, last seq 6), then every pack of the reject
           group meant to be refused: each is refused for its reason with a
           detail naming what failed, and nothing changes (versions, seq,
           modules, free pages, kmalloc blocks). One boot while the plan
           fits in the 255 characters the kernel keeps of its arguments,
           more if the reject group grows.
  sched    only sched-v2, then a few seconds more: every hart keeps taking
           timer ticks and running workers on the new scheduler.

probation_ms=300 keeps each run short (the default is 1.5 s per pack).
"""
import re

import pytest

from kernel_checks import FAULT_CONTINUATION, check_log_format, check_timestamps_in_order
from kernel_qemu import QemuError, unglue_echo
from update_checks import (BOOTARGS_MAX, DEMO_ELF, UpdateRun, ask_mem, boot_updates,
                           check_finished, check_heartbeats, check_no_crash, expected_result,
                           read_pack_list, require_demo_elf, state, update_args)

PACKS = read_pack_list()
DEMO = [n for n, e in PACKS.items() if e["group"] == "demo"]
# Every pack of the reject group that is meant to be refused, in list order
# (the group also holds packs meant to apply after the rejections: not these).
REJECTS = [n for n, e in PACKS.items() if e["group"] == "reject" and e["expect"] != "applied"]

# The demo group as this file knows it (packs.txt lists them in this order).
DEMO_PLAN = ["uart-v2", "counter-v2", "sched-v2", "counter-v3", "counter-v4-faulty", "uart-v3-v4"]

# `update: applied` lines of each demo pack: (class, from, to, mode, instances);
# instances None: one per workload counter.
APPLIED = {
    "uart-v2": [("uart", 1, 2, "eager", 1)],
    "counter-v2": [("counter", 1, 2, "lazy", None)],
    "sched-v2": [("sched", 1, 2, "eager", 1)],
    "counter-v3": [("counter", 2, 3, "lazy", None)],
    "counter-v4-faulty": [("counter", 3, 4, "eager", None)],
    "uart-v3-v4": [("uart", 2, 4, "eager", 1)],        # one line per class of the pack
}

# The `demo: versions` line after each demo pack.
VERSIONS = {
    "uart-v2": dict(uart="2", counter="1", sched="1", policy="rr", counter_iface="1", seq="1"),
    "counter-v2": dict(uart="2", counter="2", sched="1", policy="rr", counter_iface="1", seq="2"),
    "sched-v2": dict(uart="2", counter="2", sched="2", policy="rr-balanced", counter_iface="1",
                     seq="3"),
    "counter-v3": dict(uart="2", counter="3", sched="2", policy="rr-balanced", counter_iface="2",
                       seq="4"),
    # rolled back: counter stays 3; the pack's sequence number stays used
    "counter-v4-faulty": dict(uart="2", counter="3", sched="2", policy="rr-balanced",
                              counter_iface="2", seq="5"),
    "uart-v3-v4": dict(uart="4", counter="3", sched="2", policy="rr-balanced", counter_iface="2",
                       seq="6"),
}
INITIAL = dict(uart="1", counter="1", sched="1", policy="rr", counter_iface="1", seq="0",
               modules="0")
# One module per class still in use at the end: uart v4, counter v3, sched v2.
FINAL_MODULES = 3

# What each rejection's `update: rejected` detail must say.
DETAIL = {
    "replay": r"^sequence 6 not above 6$",
    "gap": r"^step-1: step 5->6 does not follow version 4 of uart$",
    "duplicate": r"^step-1: step 3->4 already applied \(class uart is at 4\)$",
    "downgrade": r"^step-1: step 4->3 goes down$",
    "unknown-class": r"^step-1: no class nosuch in this kernel$",
    "requirement": r"^step-1: requires sched>=9, it is at 2$",
    "abi": r"^step-1: built for ABI lukos-abi-0, kernel is lukos-abi-3$",
    "link": r"unresolved symbol 'page_alloc'",
    "interface": r"^step-1: new version drops methods or lacks a transfer$",
    "selftest": r"^step-1: self-test failed$",
    "garbage-elf": r"\bELF\b",
    "tampered": r"^image step-1: sha256 mismatch$",
    "chain-gap-mid": r"^step-2: step 6->7 does not follow version 5 of uart$",
    # uart 4->5 is fine, counter 3->4 carries counter v2's module: all or nothing
    "half-bad": r"^step-2: module is not counter 3->4$",
    # signatures (a pack must be signed by the board's key)
    "unsigned": r"\bno signature\b",
    "other-key": r"^signature-1: .*\bfailed\b",
    "bad-flags": r"^step-1: module descriptor has unknown flags 0x80$",
}
# A rejection this file does not know yet still needs a detail naming what failed.
ANY_DETAIL = r"\S"


def test_pack_list_matches_this_file():
    """The tests below spell out what each pack does: they must describe
    the packs the image actually carries."""
    assert DEMO == DEMO_PLAN, f"demo group in packs.txt is {DEMO}"
    missing = sorted(set(DETAIL) - set(REJECTS))
    assert not missing, f"packs {missing} are no longer in the reject group: {REJECTS}"
    for name in DEMO:
        assert expected_result(PACKS[name]) == ("rolled-back" if name == "counter-v4-faulty"
                                                else "ok"), name


# --- the demo group ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(qemu_module):
    require_demo_elf()
    q = qemu_module("qemu-virt", 4, args="demo probation_ms=300 halt shutdown=80",
                    kernel=DEMO_ELF, hard_timeout=90, name="update-demo")
    try:
        q.wait_exit()
    except QemuError:
        pass        # a hang: test_demo_finishes says so, after the crash check
    return UpdateRun(q)


@pytest.fixture
def demo_ok(demo):
    """The demo run, once it is known not to have hit the rollback crash
    (RollbackCrash, update_checks.py): every test of it fails with the
    same message then, not with what the crash made disappear."""
    check_no_crash(demo)
    return demo


def test_demo_finishes(demo):
    check_no_crash(demo)
    check_finished(demo)
    check_log_format(demo.qemu, allowed=FAULT_CONTINUATION)
    check_timestamps_in_order(demo.qemu)
    assert [s.name for s in demo.steps] == DEMO_PLAN


def test_demo_results(demo_ok):
    demo = demo_ok
    for name in DEMO_PLAN:
        s = demo.step(name)
        assert s.outcome == expected_result(PACKS[name]), (
            f"pack {name}: result {s.outcome}, packs.txt expects {PACKS[name]['expect']}: "
            f"{s.result.raw if s.result else 'no result line'}")
        assert not s.update("rejected"), f"pack {name} was rejected: {s.update('rejected')[0].raw}"


def test_demo_applied_lines(demo_ok):
    demo = demo_ok
    for name in DEMO_PLAN:
        s = demo.step(name)
        applied = s.before_result(s.update("applied"))
        want = APPLIED[name]
        assert len(applied) == len(want), (
            f"pack {name}: {len(applied)} `update: applied` lines, wanted {len(want)}:\n"
            + "\n".join(e.raw for e in applied))
        for e, (cls, frm, to, mode, inst) in zip(applied, want):
            inst = demo.counters if inst is None else inst
            got = (e.kv.get("class"), e.int("from"), e.int("to"), e.kv.get("mode"),
                   e.int("instances"))
            assert got == (cls, frm, to, mode, inst), f"pack {name}: {e.raw}"
            assert e.int("apply_us") >= 0 and e.int("blackout_us") >= 0, e.raw
        committed = s.before_result(s.update("committed"))
        if name == "counter-v4-faulty":
            assert not committed, f"the faulty update was committed: {committed[0].raw}"
        else:
            cls, _, to, _, _ = want[-1]
            assert [(e.kv.get("class"), e.int("version")) for e in committed] == [(cls, to)], (
                f"pack {name}: committed lines " + "; ".join(e.raw for e in committed))
            assert committed[0].int("probation_us") == 300000, committed[0].raw
            assert not s.update("rolled-back"), f"pack {name} rolled back"


def test_demo_lazy_update_is_o1(demo_ok):
    demo = demo_ok
    """A lazy update switches 1024 instances without converting them: the
    blackout it reports is that of the switch, no instance is converted."""
    for name in ("counter-v2", "counter-v3"):
        e = demo.step(name).update("applied")[0]
        assert e.kv["mode"] == "lazy", e.raw
        assert e.int("blackout_us") < 1000, f"lazy apply converted instances: {e.raw}"


def test_demo_faulty_update_rolls_back(demo_ok):
    demo = demo_ok
    s = demo.step("counter-v4-faulty")
    q = demo.qemu
    loaded = s.update("module loaded")
    assert len(loaded) == 1, loaded
    base, size = (int(x, 0) for x in loaded[0].kv["text"].split("+"))
    traps = [e for e in s.lines if e.subsystem == "trap" and e.event == "fault"]
    assert len(traps) >= 1, f"no trap report in the faulty update\n{q.tail()}"
    # Workers on other harts may call add() on a v4 instance before the
    # rollback reaches them: each traps, each call is retried on v3.
    for t in traps:
        assert base <= t.int("sepc") < base + size, (
            f"a trap outside the new module's text {base:#x}+{size}: {t.raw}")
        assert t.int("cause") == 13 and t.int("stval") == 0, f"not v4_add's NULL load: {t.raw}"
        assert t.kv.get("thread") == "worker", t.raw
        # the report's register and backtrace lines follow it
        assert FAULT_CONTINUATION[0].search(q.lines[t.index + 1]), q.lines[t.index + 1]
        assert FAULT_CONTINUATION[1].search(q.lines[t.index + 2]), q.lines[t.index + 2]
    t = traps[0]
    fault = s.update("fault in new code")
    assert len(fault) == 1 and re.search(r"\bclass=counter\b", fault[0].message), fault
    assert fault[0].index > t.index
    assert fault[0].message.endswith("rolling back, the call is retried"), fault[0].raw
    rb = s.update("rolled-back")
    assert len(rb) == 1, f"want one rolled-back line: {rb}"
    r = rb[0]
    assert (r.kv.get("class"), r.int("from"), r.int("to"), r.int("version")) == (
        "counter", 3, 4, 3), r.raw
    assert re.search(r"fault cause=13 in step-1 at \+0x[0-9a-f]+", r.kv.get("reason", "")), r.raw
    assert fault[0].index < r.index < s.result.index
    # traps only in the faulty update, and no thread died of one
    assert len(q.log("trap", "fault")) == len(traps), (
        "\n".join(e.raw for e in q.log("trap", "fault")))
    assert not q.log("trap", "thread stopped")
    # the workload goes on: matching heartbeats after the rollback, calls still made
    check_heartbeats(demo, since=r.index, min_count=2)


def test_demo_versions_after_each_step(demo_ok):
    demo = demo_ok
    assert demo.initial is not None, "no `demo: versions` line before the first pack"
    assert state(demo.initial) == INITIAL, demo.initial.raw
    for name in DEMO_PLAN:
        v = demo.step(name).versions
        assert v is not None, f"no versions line after {name}"
        got = {k: v.kv.get(k) for k in VERSIONS[name]}
        assert got == VERSIONS[name], f"after {name}: {v.raw}"
    # counter v3 (interface 2) answers stats(), and says it is version 3
    for name in ("counter-v3", "counter-v4-faulty", "uart-v3-v4"):
        st = demo.step(name).stats
        assert st is not None, f"no `demo: counter[0] stats` line after {name}"
        assert st.int("version") == 3, f"after {name}: {st.raw}"
        assert st.int("calls") > 0 and st.int("value") > 0, st.raw
    for name in ("uart-v2", "counter-v2", "sched-v2"):
        assert demo.step(name).stats is None, f"stats() before counter v3 after {name}"
    # the final state (after defer_flush) is the last step's
    final = demo.final
    assert final is not None and final.index > demo.steps[-1].versions.index
    want = dict(VERSIONS["uart-v3-v4"], modules=str(FINAL_MODULES))
    assert {k: final.kv.get(k) for k in want} == want, final.raw


def test_demo_heartbeats(demo_ok):
    demo = demo_ok
    """Every heartbeat before, during and after the updates matches; calls
    made grow from one to the next."""
    first = demo.steps[0].applying.index
    hbs = check_heartbeats(demo, min_count=8)
    assert any(e.index < first for e in hbs), "no heartbeat before the first update"
    assert any(first < e.index < demo.done.index for e in hbs), "no heartbeat during the updates"
    assert any(e.index > demo.done.index for e in hbs), "no heartbeat after the last update"


def test_demo_modules_freed(demo_ok):
    demo = demo_ok
    """Every module of a version that was replaced or rolled back is freed:
    loaded - freed == what is still in use == `modules=` at the end."""
    done = demo.done.index
    loaded = demo.lines("update", "module loaded", until=done)
    freed = demo.lines("update", "module freed", until=done)
    # one per step of the demo packs (uart-v3-v4 has two)
    assert len(loaded) == sum(len(PACKS[n]["steps"]) for n in DEMO_PLAN), (
        "\n".join(e.raw for e in loaded))
    assert int(demo.final.kv["modules"]) == FINAL_MODULES, demo.final.raw
    assert len(loaded) - len(freed) == FINAL_MODULES, (
        f"{len(loaded)} loaded, {len(freed)} freed, {FINAL_MODULES} still in use:\n"
        + "\n".join(e.raw for e in loaded + freed))
    # counter v2's module after counter v3 took over, the faulty one after its rollback,
    # uart v2's and v3's after uart v4 took over
    assert freed[0].index > demo.step("counter-v3").applying.index, freed[0].raw
    rb = demo.step("counter-v4-faulty").update("rolled-back")[0]
    assert any(e.index > rb.index for e in freed), "the rolled-back module was not freed"
    assert len([e for e in freed if e.index > demo.step("uart-v3-v4").applying.index]) >= 2


# --- every rejection --------------------------------------------------------------


# The rejections' starting point (the faulty pack is left out: it changes
# nothing but the sequence number, which uart-v3-v4 moves past anyway).
SETUP = [n for n in DEMO_PLAN if n != "counter-v4-faulty"]
# The replay comes first in every boot: it is refused by the chain check
# before anything is allocated, 1.2 s after the setup's last step (whose
# old modules are freed by then), so the state after it is the reference.
FIRST = "replay"


def reject_plans():
    """SETUP + replay + as many other rejections as one boot's arguments
    can name (the kernel keeps 255 characters), as many boots as needed."""
    rest = [n for n in REJECTS if n != FIRST]
    plans, cur = [], []
    for n in rest:
        if cur and len(update_args(SETUP + [FIRST] + cur + [n], 300, True)) > BOOTARGS_MAX:
            plans.append(cur)
            cur = []
        cur.append(n)
    plans.append(cur)
    return [SETUP + [FIRST] + p for p in plans]


class Rejections:
    """The reject boots, and where each pack ran."""

    def __init__(self, runs):
        self.runs = runs

    def where(self, name):
        found = [r for r in self.runs if name in r.by_name]
        assert found, f"pack {name} was applied in no reject boot"
        return found


def run_rejections(factory, packs, name):
    q = boot_updates(factory, packs, probation_ms=300, hard_timeout=150, name=name)
    # The shell's `mem` (kmalloc live blocks and bytes) right after the
    # replay, and right after `demo: done` (after a defer_flush).
    mem = {}
    try:
        q.wait_for(rf"demo: result pack={FIRST} ", timeout=90)
        mem["before"] = ask_mem(q)
        q.wait_for(r"demo: done ", timeout=120)
        mem["after"] = ask_mem(q)
    finally:
        q.wait_exit()
    unglue_echo(q)      # `mem` typed while the demo logs: its echo may start a line
    run = UpdateRun(q)
    run.mem, run.plan = mem, packs
    return run


@pytest.fixture(scope="module")
def reject(qemu_module):
    plans = reject_plans()
    return Rejections([run_rejections(qemu_module, p, "update-reject" + (f"-{i}" if i else ""))
                       for i, p in enumerate(plans)])


def test_reject_runs_finish(reject):
    for run in reject.runs:
        check_finished(run)
        assert [s.name for s in run.steps] == run.plan
        for name in SETUP:
            assert run.step(name).outcome == expected_result(PACKS[name]), (
                run.step(name).result.raw)


@pytest.mark.parametrize("name", REJECTS)
def test_rejection(reject, name):
    for run in reject.where(name):
        s = run.step(name)
        want = expected_result(PACKS[name])
        assert s.outcome == want, f"pack {name}: {s.result.raw if s.result else 'no result'}"
        rej = s.update("rejected")
        assert len(rej) == 1, f"pack {name}: {len(rej)} `update: rejected` lines"
        r = rej[0]
        assert r.index < s.result.index
        assert r.kv.get("reason") == want, r.raw
        assert r.int("seq") == PACKS[name]["seq"], r.raw
        detail = r.kv.get("detail", "")
        want_detail = DETAIL.get(name, ANY_DETAIL)
        assert re.search(want_detail, detail), (
            f"pack {name}: detail {detail!r} !~ {want_detail!r}")
        # nothing was switched, and whatever was loaded to check it is gone again
        for event in ("applied", "committed", "rolled-back", "fault in new code", "swept"):
            assert not s.update(event), f"pack {name}: {s.update(event)[0].raw}"
        assert not [e for e in s.lines if e.subsystem == "trap"], f"pack {name} trapped"
        loaded = s.before_result(s.update("module loaded"))
        freed = s.before_result(s.update("module freed"))
        assert len(loaded) == len(freed), (
            f"pack {name}: {len(loaded)} modules loaded, {len(freed)} freed before the result")


def test_rejections_change_nothing(reject):
    """The versions line after each rejection equals the one before it
    (versions, seq, modules), and once the reaper has run (`demo: done`
    follows a defer_flush) free pages are what they were before."""
    for run in reject.runs:
        rejects = run.plan[len(SETUP):]
        first = run.step(FIRST)
        # before the rejections: the setup's state, once its old modules are freed
        before = dict(state(run.step(SETUP[-1]).versions))
        before["modules"] = str(run.modules_loaded_minus_freed(first.applying.index))
        assert before == dict(VERSIONS["uart-v3-v4"], modules=str(FINAL_MODULES)), before
        prev = before
        for name in rejects:
            v = run.step(name).versions
            assert v is not None, f"no versions line after {name}"
            assert state(v) == prev, f"pack {name} changed the state: {prev} -> {v.raw}"
            prev = state(v)
        final = run.final
        assert final is not None and state(final) == before, final.raw if final else None
        # Free pages: the versions line after the replay is the reference (the
        # one after uart-v3-v4 is printed before uart v2's and v3's modules are
        # freed); the final one follows a defer_flush.
        pages = [(n, int(run.step(n).versions.kv["free_pages"])) for n in rejects]
        ref = pages[0][1]
        assert int(final.kv["free_pages"]) == ref, (
            f"free pages {ref} before the rejections, {final.kv['free_pages']} after them and "
            f"defer_flush: {pages}\n{final.raw}")


def test_rejections_free_every_allocation(reject):
    """kmalloc: as many live blocks and bytes after the rejections (and the
    reaper) as before them."""
    for run in reject.runs:
        before, after = run.mem["before"], run.mem["after"]
        assert (after["live"], after["bytes"]) == (before["live"], before["bytes"]), (
            f"kmalloc before the rejections {before}, after them and defer_flush {after} "
            f"({run.qemu.name})")
        assert after["allocs"] > before["allocs"], "the rejections allocated nothing at all?"


def test_reject_heartbeats(reject):
    """The workload's totals match all along, rejections included."""
    for run in reject.runs:
        rejects = run.plan[len(SETUP):]
        first = run.step(FIRST).applying.index
        hbs = check_heartbeats(run, min_count=len(run.plan) // 2)
        during = [e for e in hbs if first < e.index < run.done.index]
        assert len(during) >= min(3, len(rejects)), (
            f"{len(during)} heartbeats during {len(rejects)} rejections")


# --- the scheduler swapped under load ----------------------------------------------


@pytest.fixture(scope="module")
def sched(qemu_module):
    # no halt: after the update the kernel runs until shutdown=12, for heartbeats
    q = boot_updates(qemu_module, ["sched-v2"], probation_ms=300, halt=False,
                     extra="shutdown=12", hard_timeout=60, name="update-sched")
    q.wait_exit()
    return UpdateRun(q)


def test_sched_swapped_under_load(sched):
    q = sched.qemu
    assert q.returncode == 0 and not q.killed, q.status()
    bad = [h.line for h in q.find(r"\] h\d+ (panic|trap):")]
    assert not bad, "\n".join(bad)
    s = sched.step("sched-v2")
    assert s.outcome == "ok", s.result.raw if s.result else q.tail()
    applied = s.update("applied")
    assert len(applied) == 1, applied
    a = applied[0]
    assert (a.kv["class"], a.int("from"), a.int("to"), a.kv["mode"], a.int("instances")) == (
        "sched", 1, 2, "eager", 1), a.raw
    committed = s.update("committed")
    assert len(committed) == 1 and committed[0].int("version") == 2, committed
    assert sched.initial.kv["policy"] == "rr" and sched.initial.kv["sched"] == "1"
    v = s.versions
    assert v.kv["sched"] == "2" and v.kv["policy"] == "rr-balanced", v.raw
    assert sched.final.kv["policy"] == "rr-balanced", sched.final.raw

    # every hart takes timer ticks and runs workers, before and after the switch
    hbs = check_heartbeats(sched, min_count=6)
    before = [e for e in hbs if e.index < s.applying.index]
    after = [e for e in hbs if e.index > committed[0].index]
    assert before, "no heartbeat before the update"
    assert len(after) >= 3, f"only {len(after)} heartbeats after the commit\n{q.tail()}"
    # through the switch, and on after it (intervals of a few seconds: a
    # vCPU of a loaded host can stall for a second)
    series = [before[-1], after[len(after) // 2], after[-1]]
    for a, b in zip(series, series[1:]):
        for h in range(sched.nharts):
            assert b.ints("ticks_by_hart")[h] > a.ints("ticks_by_hart")[h], (
                f"hart index {h} took no timer tick between\n  {a.raw}\n  {b.raw}")
            assert b.ints("calls_by_hart")[h] > a.ints("calls_by_hart")[h], (
                f"no worker ran on hart index {h} between\n  {a.raw}\n  {b.raw}")
