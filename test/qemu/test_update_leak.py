"""Free pages (and kmalloc blocks) after many updates and their rollbacks
equal those after one: an update that faults and is rolled back leaves
nothing behind, however often it happens.

The packs: copies of the demo's faulty counter update (counter 3->4,
counter_v4_faulty.o: add() writes through NULL, the self-test passes), each
with a sequence number of its own, 1000 upwards, named f00, f01, ... (short
names: the kernel keeps 255 characters of its arguments, and the plan is
one `updates=` argument). They are in update/demos/packs.txt (group
`leak`), generated with

    /usr/bin/python3 test/qemu/test_update_leak.py --list [N]

Two boots of kernel-demo.elf, same image, same start (counter-v2 and
counter-v3 first, so counter is at 3), probation_ms=300:
  reference   one faulty pack          f00
  many        100                      f00 .. f99
each ending with defer_flush (`demo: done`) and the shell's `mem`. The two
must agree exactly on modules in use and kmalloc live blocks and bytes, and
on free pages up to SLAB_SLACK_PAGES (slab placement differs between boots).
Runtime: under a second per pack (gap_ms=150), so about 2 minutes for
both boots.
"""
import os
import sys
import time

import pytest

from kernel_qemu import QemuError, unglue_echo
from update_checks import (BOOTARGS_MAX, RollbackCrash, UpdateRun, ask_mem, boot_updates,
                           check_no_crash, packs_missing_from_image, require_demo_elf, trouble)

SETUP = ["counter-v2", "counter-v3"]
# Free pages of two boots doing the same thing differ by a page or two: a
# rollback reallocates 1024 counter states, and the same live objects do not
# always fill the same number of slab pages (kheap frees a slab page only
# when all its objects are free). One page leaked per rollback would be 50.
SLAB_SLACK_PAGES = 4
SEQ0 = 1000
LIST_MAX = 100                      # lines the proposed list carries
FAULTY_STEP = "counter:3:4:eager:counter_v4_faulty"


def leak_names(n):
    return ["f%02d" % i for i in range(n)]


def list_lines(n=LIST_MAX):
    """The pack-list lines (update/demos/packs.txt format) of the leak packs."""
    return ["%-18s %4d  leak   rolled-back    -      %s" % (name, SEQ0 + i, FAULTY_STEP)
            for i, name in enumerate(leak_names(n))]


def plan_args(packs):
    return f"updates={','.join(packs)} probation_ms=300 gap_ms=150 halt"


def fitting():
    """How many leak packs one boot's arguments can name."""
    n = 1
    while n < LIST_MAX and len(plan_args(SETUP + leak_names(n + 1))) <= BOOTARGS_MAX:
        n += 1
    return n


N = min(int(os.environ.get("LEAK_ROLLBACKS", "0")) or fitting(), fitting())


def run_plan(factory, packs, name):
    q = boot_updates(factory, packs, probation_ms=300, extra="gap_ms=150",
                     hard_timeout=40 + 2.2 * len(packs), name=name)
    mem, error = None, None
    try:
        hit = q.wait_for(r"demo: done |trap: thread stopped |panic: ", timeout=q.hard_timeout)
        if "demo: done" in hit.line:
            mem = ask_mem(q)
            q.wait_exit()
        else:                       # the crash: no use waiting for the hard timeout
            time.sleep(2)
            error = QemuError(f"crashed: {hit.line}")
            q.kill()
    except QemuError as e:          # QemuTimeout included
        error = e
        q.kill()
    unglue_echo(q)      # `mem` typed while the board logs: its echo may start a line
    run = UpdateRun(q)
    run.mem, run.error, run.packs = mem, error, packs
    return run


def check_rolled_back(run):
    """Every leak pack applied, faulted and rolled back to counter 3, and
    the run ended by itself. The crash of update_checks.RollbackCrash raises that."""
    q = run.qemu
    check_no_crash(run)
    bad = trouble(q)
    assert not bad, "\n".join(bad)
    assert run.error is None, str(run.error)
    assert q.returncode == 0, q.status()
    leak = [s for s in run.steps if s.name.startswith("f")]
    assert [s.name for s in leak] == [p for p in run.packs if p.startswith("f")], (
        [s.name for s in leak])
    for s in leak:
        assert s.outcome == "rolled-back", f"{s.name}: {s.result.raw if s.result else q.tail()}"
        rb = s.update("rolled-back")
        assert len(rb) == 1 and rb[0].int("version") == 3, f"{s.name}: {rb}"
        assert s.versions.kv["counter"] == "3", s.versions.raw
    assert run.final.kv["counter"] == "3" and run.final.kv["modules"] == "1", run.final.raw


@pytest.fixture(scope="module")
def runs(qemu_module):
    require_demo_elf()
    missing = packs_missing_from_image(leak_names(N))
    assert not missing, (f"kernel-demo.elf carries no leak packs ({', '.join(missing[:3])}, ... "
                         f"missing): update/demos/packs.txt should list them "
                         f"(`test/qemu/test_update_leak.py --list`)")
    ref = run_plan(qemu_module, SETUP + leak_names(1), "update-leak-1")
    try:
        check_no_crash(ref)
    except RollbackCrash:
        return ref, ref             # no need for the long run: the tests fail on this one
    many = run_plan(qemu_module, SETUP + leak_names(N), f"update-leak-{N}")
    return ref, many


def test_every_update_rolls_back(runs):
    for run in runs:
        check_rolled_back(run)


def test_free_pages_after_rollbacks_equal_before(runs):
    ref, many = runs
    for run in runs:
        check_rolled_back(run)
    a, b = ref.final, many.final
    assert b.kv["modules"] == a.kv["modules"] == "1", (a.raw, b.raw)
    # every kmalloc block of every rollback is freed: exactly as many live
    assert (many.mem["live"], many.mem["bytes"]) == (ref.mem["live"], ref.mem["bytes"]), (
        f"`mem` after 1 rollback {ref.mem}, after {N}: {many.mem}")
    # pages: the same, but for the slab pages the same live objects may spread over
    freed = int(a.kv["free_pages"]) - int(b.kv["free_pages"])
    assert abs(freed) <= SLAB_SLACK_PAGES, (
        f"free pages after 1 rollback {a.kv['free_pages']}, after {N}: {b.kv['free_pages']}\n"
        f"  {a.raw}\n  {b.raw}\n"
        + "\n".join(f"  after {s.name}: {s.versions.kv['free_pages']}"
                    for s in many.steps if s.versions))


def main(argv):
    if argv[:1] == ["--list"]:
        n = int(argv[1]) if len(argv) > 1 else LIST_MAX
        print("# Leak test packs (test/qemu/test_update_leak.py): the faulty counter "
              "update, %d times." % n)
        print("\n".join(list_lines(n)))
        return 0
    print(__doc__)
    print(f"one boot can name {fitting()} leak packs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
