#!/usr/bin/python3
"""make bench, journal part: what durable updates cost at boot (qemu-virt).

Two boards boot side by side, each on its own state disk: one whose journal
is empty, one holding six committed packs (the demo chain: uart 1->2,
counter 1->2, sched 1->2, counter 2->3, uart 2->3->4, and uart 4->5 with
counter 3->4), written host-side with ota-server/journal_image.py exactly as
the kernel lays them out. Each round resets both machines (QEMU monitor
`system_reset`, the way ota_bench measures a reboot) and times system_reset
-> `boot: ready`; the replaying board checks the signature, hashes and chain
of every pack again, links it, and switches the classes, so `boot: ready`
comes after the replay. The machine not measured is stopped (QEMU `stop`).
Reported: host and kernel times (median [min..max]), the kernel's own
`journal: ready ... replay_us=` figure, and the ratio of the medians.
"""
import argparse
import os
import re
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "ota-server"))
import journal_image  # noqa: E402
import packtool  # noqa: E402
from ota_bench import (QEMU, OPENSBI, MACHINE, Board, BenchError, kernel_time,  # noqa: E402
                       monitor)

CHAIN = ["uart-v2", "counter-v2", "sched-v2", "counter-v3", "uart-v3-v4", "multi-class"]
STATE_SIZE = 64 << 20


class StateBoard:
    """kernel.elf on a state disk, no network, its monitor on a Unix socket."""

    def __init__(self, kernel, img, timeout, tmp, name):
        self.mon = os.path.join(tmp, "mon-%s.sock" % name)
        argv = [QEMU] + MACHINE + [
            "-bios", OPENSBI, "-kernel", kernel, "-append", "workload=off boot_good_ms=200",
            "-nic", "none",
            "-drive", "if=none,id=state,format=raw,file=%s" % img,
            "-device", "virtio-blk-device,drive=state",
            "-nographic", "-serial", "stdio", "-display", "none",
            "-monitor", "unix:%s,server=on,wait=off" % self.mon]
        self.b = Board(argv, timeout, name)
        self.b.wait_line(r" journal: boot good", 60)

    def reset(self):
        """system_reset -> boot: ready: (host s, kernel s, replay s)."""
        start = self.b.mark()
        t0 = time.monotonic()
        monitor(self.mon, "system_reset")
        i, t, _ = self.b.wait_line(r" boot: ready", 60, start)
        j, _, m = self.b.wait_line(r" journal: ready packs=(\d+) .*replay_us=(\d+)", 60, start)
        # Settled before it is stopped: three boots that never turn good
        # would (rightly) send the board into safe mode.
        self.b.wait_line(r" journal: boot good", 60, start)
        return t - t0, kernel_time(self.b.lines[i][1]), int(m.group(2)) / 1e6, int(m.group(1))

    def pause(self):
        monitor(self.mon, "stop")

    def resume(self):
        monitor(self.mon, "cont")

    def kill(self):
        self.b.kill()


def med(xs):
    return statistics.median(xs)


def span(xs):
    return "%.3f [%.3f..%.3f]" % (med(xs), min(xs), max(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="build/qemu-virt/kernel.elf")
    ap.add_argument("--packs", default="build/qemu-virt/demos/packs")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--timeout", type=int, default=300)
    a = ap.parse_args()
    packs = [open(os.path.join(a.packs, n + ".itb"), "rb").read() for n in CHAIN]
    seqs = [packtool.read_pack(p)["seq"] for p in packs]
    res = {k: [] for k in ("host0", "kern0", "host6", "kern6", "replay6", "replay0")}
    boards = []
    with tempfile.TemporaryDirectory(prefix="journal-bench-") as tmp:
        empty = os.path.join(tmp, "empty.img")
        full = os.path.join(tmp, "six.img")
        with open(empty, "wb") as f:
            f.write(journal_image.build_image(STATE_SIZE, []))
        with open(full, "wb") as f:
            f.write(journal_image.build_image(
                STATE_SIZE, [(s, p, "committed") for s, p in zip(seqs, packs)]))
        try:
            b0 = StateBoard(a.kernel, empty, a.timeout, tmp, "empty")
            boards.append(b0)
            b0.pause()
            b6 = StateBoard(a.kernel, full, a.timeout, tmp, "six-packs")
            boards.append(b6)
            for _ in range(a.rounds):
                b0.pause()
                b6.resume()
                h, k, r, n = b6.reset()
                if n != len(CHAIN):
                    raise BenchError("the board replayed %d packs, not %d\n%s"
                                     % (n, len(CHAIN), b6.b.tail(40)))
                res["host6"].append(h)
                res["kern6"].append(k)
                res["replay6"].append(r)
                b6.pause()
                b0.resume()
                h, k, r, _ = b0.reset()
                res["host0"].append(h)
                res["kern0"].append(k)
                res["replay0"].append(r)
        except (BenchError, OSError) as e:
            sys.exit("bench: journal: %s" % e)
        finally:
            for b in boards:
                b.kill()
    row = lambda name, *c: print((("  %-44s" + " %-22s" * len(c)) % ((name,) + c)).rstrip())
    print("Journal replay at boot on qemu-virt (-smp 4 -m 256M, 64 MiB virtio-blk state disk,"
          " workload=off; %d rounds, median [min..max], s)" % a.rounds)
    row("system_reset -> boot: ready", "host", "kernel timestamp", "replay (journal: ready)")
    row("empty journal", span(res["host0"]), span(res["kern0"]), span(res["replay0"]))
    row("6 journaled packs (%d bytes)" % sum(map(len, packs)), span(res["host6"]),
        span(res["kern6"]), span(res["replay6"]))
    row("  ratio 6 packs / empty (medians)", "%.2f" % (med(res["host6"]) / med(res["host0"])),
        "%.2f" % (med(res["kern6"]) / med(res["kern0"])))
    print("bench: journal_boot_6_vs_0 boot0_s=%.3f boot6_s=%.3f ratio=%.3f"
          % (med(res["kern0"]), med(res["kern6"]), med(res["kern6"]) / med(res["kern0"])))
    print("bench: journal_replay_per_pack replay6_s=%.3f per_pack_s=%.3f"
          % (med(res["replay6"]), med(res["replay6"]) / len(CHAIN)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
