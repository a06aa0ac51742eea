"""A secondary hart that comes up late, after the boot hart's bounded
wait in smp_start_secondaries() gave up on it.

QEMU's -icount runs all harts on one host thread, and the boot hart's
busy-wait on rdtime does not let the other vCPUs run: with -smp 2 hart 1
only starts once the 1 s wait is over. Whatever the kernel does with such a
hart (let it in before `ready`, or leave it out), the harts it runs on must
be the harts it announced: no `hart online` after `boot: ready`, and one
busy worker set per announced hart in the heartbeat. (Before the fix the
late hart went online after `ready harts=1`, with no workers.)
"""
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
