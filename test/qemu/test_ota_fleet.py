"""A fleet: three qemu-virt boards (2 harts each, workload=off), each with its
agent forwarded to its own 127.0.0.1 port (user networking, restrict=on),
updated with `ota.py rollout`:

  stages      uart-v2 to the fleet: first stage one board, then the other
              two; the second stage starts only after the first board
              reported success; every board ends at uart 2, seq 1.
  stops       gap.itb (uart 5->6): the first stage fails, the rollout stops
              there, the other boards never see the pack.
  one by one  uart-v3-v4 in stages of one board: three stages, uart 4, seq 6.
"""
import threading
import time

import pytest

from ota_checks import boot_agent, check_no_trouble, ensure_built, ota_json, pack_path

N = 3
LIFETIME = 120


@pytest.fixture(scope="module")
def fleet(qemu_module):
    ensure_built("qemu-virt")
    boards = []
    try:
        for i in range(N):
            boards.append(boot_agent(qemu_module, "qemu-virt", 2,
                                     args=f"shutdown={LIFETIME} workload=off",
                                     hard_timeout=LIFETIME + 20, name=f"ota-fleet-{i}"))
        yield boards
    finally:
        for b in boards:
            b.halt()


class LineClock:
    """Notes (host clock) when each board first prints a line matching a
    pattern, while a rollout runs: the boards' own clocks are not comparable."""

    def __init__(self, boards, patterns):
        self.boards, self.patterns = boards, patterns
        self.start = [b.mark() for b in boards]
        self.seen = {}                      # (board index, pattern) -> host time
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.poll()
            time.sleep(0.02)

    def poll(self):
        now = time.monotonic()
        for i, b in enumerate(self.boards):
            for p in self.patterns:
                if (i, p) not in self.seen and b.lines(p, self.start[i]):
                    self.seen[(i, p)] = now

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(5)
        self.poll()


def addrs(fleet):
    return [b.addr for b in fleet]


def test_fleet_starts_alike(fleet):
    for b in fleet:
        st = b.status()
        assert (st["classes"]["uart"], st["seq"], st["state"], st["result"]) == (
            1, 0, "idle", "initial"), f"{b.addr}: {st}"


def test_rollout_in_stages(fleet):
    pack = pack_path("qemu-virt", "uart-v2")
    receiving, done = r"\] h\d+ ota: receiving ", r"\] h\d+ ota: result=ok http=200$"
    marks = [b.mark() for b in fleet]
    with LineClock(fleet, [receiving, done]) as clock:
        rc, out = ota_json("rollout", "-q", "--boards", ",".join(addrs(fleet)), "--first", "1",
                           pack, timeout=180)
    assert rc == 0 and out["ok"], f"rollout exit {rc}: {out}"
    assert (out["stages"], out["failed_stage"], out["failed"], out["not_pushed"]) == (
        2, None, [], []), out
    assert sorted(out["updated"]) == sorted(addrs(fleet)), out["updated"]
    stage = {r["board"]: r["stage"] for r in out["boards"]}
    assert stage == {fleet[0].addr: 1, fleet[1].addr: 2, fleet[2].addr: 2}, stage
    for r in out["boards"]:
        assert (r["http_status"], r["result"], r["ok"], r["seq"]) == (200, "success", True, 1), r
        assert r["classes"]["uart"] == 2, r
    for i, b in enumerate(fleet):
        st = b.status()
        assert (st["classes"]["uart"], st["seq"], st["state"], st["result"]) == (
            2, 1, "idle", "success"), f"{b.addr}: {st}"
        assert len(b.lines(receiving, marks[i])) == 1, f"{b.addr} got the pack more than once"
        b.wait_line(r"\] h\d+ update: committed class=uart version=2 ", marks[i])
        check_no_trouble(b)
    # The second stage began only once the first board was done: more than its
    # probation (1.5 s) after it received the pack, and not before its result
    # line (the two boards' UARTs race by a few ms, so 0.1 s of slack).
    first_rx, first_done = clock.seen.get((0, receiving)), clock.seen.get((0, done))
    assert first_rx is not None and first_done is not None, f"board 0's lines: {clock.seen}"
    for i in (1, 2):
        t = clock.seen.get((i, receiving))
        assert t is not None, f"board {i} never received the pack"
        assert t - first_rx > 1.2 and t > first_done - 0.1, (
            f"board {i} received the pack {t - first_rx:.2f}s after board 0, "
            f"{t - first_done:+.2f}s from board 0's result: the stages overlapped")


def test_rollout_stops_at_failing_stage(fleet):
    pack = pack_path("qemu-virt", "gap")          # uart 5->6: every board is at 2
    before = [b.status() for b in fleet]
    marks = [b.mark() for b in fleet]
    rc, out = ota_json("rollout", "-q", "--boards", ",".join(addrs(fleet)), "--first", "1", pack,
                       timeout=120)
    assert rc == 1 and not out["ok"], f"rollout exit {rc}: {out}"
    assert (out["failed_stage"], out["failed"], out["updated"]) == (1, [fleet[0].addr], []), out
    assert sorted(out["not_pushed"]) == sorted([fleet[1].addr, fleet[2].addr]), out
    r = out["boards"][0]
    assert (r["http_status"], r["result"], r["body"]["reason"]) == (
        422, "unsupported-package", "gap"), r
    for i, b in enumerate(fleet):
        st = b.status()
        assert (st["classes"], st["seq"]) == (before[i]["classes"], before[i]["seq"]), st
        got = b.lines(r"\] h\d+ ota: receiving ", marks[i])
        assert len(got) == (1 if i == 0 else 0), f"{b.addr}: {[h.line for h in got]}"


def test_rollout_one_board_per_stage(fleet):
    pack = pack_path("qemu-virt", "uart-v3-v4")
    rc, out = ota_json("rollout", "-q", "--boards", ",".join(addrs(fleet)), "--first", "1",
                       "--stage-size", "1", pack, timeout=180)
    assert rc == 0 and out["ok"] and out["stages"] == 3, f"rollout exit {rc}: {out}"
    assert [r["stage"] for r in out["boards"]] == [1, 2, 3], out["boards"]
    for b in fleet:
        st = b.status()
        assert (st["classes"]["uart"], st["seq"], st["result"]) == (4, 6, "success"), st
        check_no_trouble(b)
