"""Plain boots: every hart comes up, takes timer interrupts and runs the
workload; the log is well formed; the run ends by itself."""
import pytest

from kernel_checks import (check_ends_by_itself, check_heartbeat_series, check_log_format,
                           check_no_trouble, check_timestamps_in_order, heartbeats,
                           online_harts, ready_line)

SHUTDOWN = 5
BOOTS = [("qemu-virt", 1), ("qemu-virt", 4), ("hifive-unleashed", 5)]


@pytest.fixture(scope="module", params=BOOTS, ids=[f"{b}-smp{n}" for b, n in BOOTS])
def boot(request, qemu_module):
    board, smp = request.param
    q = qemu_module(board, smp, args=f"shutdown={SHUTDOWN}", name=f"boot-{board}-smp{smp}")
    q.run()     # to the end; the hard timeout kills it otherwise
    return q


def test_ready_line(boot):
    r = ready_line(boot)
    assert r.int("harts") == boot.board.expected_harts(boot.smp), r.raw
    assert r.kv["board"] == boot.board.name, r.raw
    k = boot.log("boot", "kernel")
    assert len(k) == 1 and k[0].kv["board"] == boot.board.name, k
    assert k[0].kv["args"] == f"shutdown={SHUTDOWN}", k[0].raw


def test_log_format(boot):
    parsed = check_log_format(boot)
    assert parsed[0].subsystem == "boot" and parsed[0].event == "kernel", parsed[0].raw
    check_no_trouble(boot)


def test_timestamps_in_order(boot):
    check_timestamps_in_order(boot)


def test_every_hart_online(boot):
    on = online_harts(boot)
    n = boot.board.expected_harts(boot.smp)
    assert sorted(on) == list(range(n)), f"online hart indices {sorted(on)}, expected 0..{n - 1}"
    assert sorted(on.values()) == boot.board.expected_hartids(boot.smp), on
    ready = ready_line(boot)
    assert all(e.index < ready.index for e in boot.log("smp", "hart online")), (
        "a hart came online after the ready line")
    skipped = {e.int("hartid") for e in boot.log("smp", "hart skipped")}
    assert skipped == set(boot.board.no_smode_hartids) & set(range(boot.smp)), skipped
    for hid in boot.board.no_smode_hartids:
        assert not [e for e in boot.log() if e.hart == hid], f"hart {hid} (no S-mode) printed"
    w = boot.log("workload", "started")
    assert len(w) == 1 and w[0].int("harts") == n and w[0].int("workers") == 2 * n, w


def test_heartbeats(boot):
    hbs = heartbeats(boot)
    assert len(hbs) >= 2, f"only {len(hbs)} heartbeats in {SHUTDOWN}s\n{boot.tail()}"
    assert hbs[0].int("seq") == 1, hbs[0].raw
    check_heartbeat_series(hbs, boot.board.expected_harts(boot.smp))
    # Steady state: nothing is allocated per heartbeat.
    assert int(hbs[-1].kv["free_pages"]) >= int(hbs[0].kv["free_pages"]), (
        f"free pages shrink:\n  {hbs[0].raw}\n  {hbs[-1].raw}")


def test_ends_by_itself(boot):
    check_ends_by_itself(boot, SHUTDOWN)
    assert boot.elapsed < boot.hard_timeout
