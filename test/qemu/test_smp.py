"""A secondary hart that comes up late, after the boot hart's bounded
wait in smp_start_secondaries() gave up on it.

QEMU's -icount runs all harts on one host thread, and the boot hart's
busy-wait on rdtime does not let the other vCPUs run: with -smp 2 hart 1
only starts once the 1 s wait is over. The kernel says `only 1 of 2 harts
came online`, `ready harts=1`, starts the workload for one hart, and then
hart 1 comes online anyway (index 1, nharts_online 2): the heartbeat now
lists two harts, one of which never runs a worker. Whatever the fix (let
the late hart in before `ready`, or keep it parked), the harts the kernel
runs on must be the harts it announced.
"""
import pytest

from kernel_checks import heartbeats, online_harts, ready_line

SHUTDOWN = 3


# Was a kernel bug: a hart that came up after the bounded wait in
# smp_start_secondaries() still went online after `boot: ready` (-icount makes
# the secondary slow enough to be late).
def test_late_hart_is_consistent(qemu):
    q = qemu("qemu-virt", 2, args=f"shutdown={SHUTDOWN}",
             extra_args=["-icount", "shift=6"])
    rc = q.wait_exit()
    assert rc == 0 and not q.killed, q.status()
    ready = ready_line(q)
    n = ready.int("harts")
    on = online_harts(q)
    late = [e.raw for e in q.log("smp", "hart online") if e.index > ready.index]
    assert not late, "harts came online after the ready line:\n" + "\n".join(late)
    assert len(on) == n, f"ready says harts={n}, {len(on)} harts came online"
    hbs = heartbeats(q)
    assert hbs, q.tail()
    calls = hbs[-1].ints("calls_by_hart")
    assert len(calls) == n and all(c > 0 for c in calls), (
        f"ready says harts={n}; last heartbeat: {hbs[-1].raw}")
