"""Opt-in boot stress: many short qemu-virt boots, a few at a time, so that
rare boot races show up. Skipped unless STRESS_BOOTS is set:

    STRESS_BOOTS=150 make qemu-test PYTEST_ARGS="-k stress"

STRESS_PARALLEL (default 3) boots run side by side; on a 2-core machine
that also loads the host, which widens timing windows. Each boot must reach
`boot: ready` with every hart, print no panic and end by itself.
"""
import os

import pytest

from kernel_checks import check_no_trouble

BOOTS = int(os.environ.get("STRESS_BOOTS", "0"))
PARALLEL = max(1, int(os.environ.get("STRESS_PARALLEL", "3")))


@pytest.mark.skipif(BOOTS <= 0, reason="set STRESS_BOOTS=<n> to run")
def test_boot_stress(qemu):
    failures = []
    started = 0
    running = []
    while started < BOOTS or running:
        while started < BOOTS and len(running) < PARALLEL:
            running.append(qemu("qemu-virt", 4, args="shutdown=1",
                                name=f"stress-{started:04d}", hard_timeout=90))
            started += 1
        q = running.pop(0)
        try:
            q.wait_exit()
            ready = q.log("boot", "ready")
            assert ready and ready[0].int("harts") == 4, "no `boot: ready harts=4`"
            check_no_trouble(q)
            assert q.log("boot", "shutdown"), "no `boot: shutdown`"
        except AssertionError as e:
            failures.append(f"{q.name}: {str(e).splitlines()[0]} (log: {q.log_path})")
        finally:
            q.kill()
            if not failures or failures[-1].split(":")[0] != q.name:
                q.report = False          # keep the failure report short
                try:
                    os.unlink(q.log_path)     # keep only the logs of failed boots
                except OSError:
                    pass
    assert not failures, f"{len(failures)} of {BOOTS} boots failed:\n" + "\n".join(failures)
