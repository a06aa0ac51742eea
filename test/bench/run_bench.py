#!/usr/bin/python3
"""make bench: boots the kernel with the `bench` argument and reports the
OTT call paths side by side (then, on qemu-virt, the live-update benchmark,
the OTA benchmark, test/bench/ota_bench.py, and the agent under load,
test/bench/ota_load_bench.py).

QEMU's rdinstret is exact only under -icount, and -icount makes time
virtual; so the same image boots twice, once with -icount shift=0 (for the
instruction counts) and once plainly (for the times), and this script joins
the two into one table plus `bench: <name> ... ratio=<x>` lines.
"""
import argparse
import os
import re
import subprocess
import sys

RESULT = re.compile(r"bench: result path=(\w+) instr_x100=(\d+) ns_x100=(\d+)")
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
MACHINES = {"qemu-virt": ("virt", "4", "256M", []),
            "hifive-unleashed": ("sifive_u", "5", "512M", ["-no-reboot"])}


def boot(kernel, board, icount, timeout):
    machine, smp, mem, extra = MACHINES[board]
    cmd = ["qemu-system-riscv64", "-M", machine, "-smp", smp, "-m", mem, "-nic", "none",
           "-nographic", "-bios", OPENSBI, "-kernel", kernel,
           "-append", "bench"] + extra
    if icount:
        cmd += ["-icount", "shift=0"]
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=timeout).stdout
    results = {m[1]: (int(m[2]), int(m[3])) for m in RESULT.finditer(out)}
    if set(results) != {"plain", "cached", "miss"}:
        sys.exit("bench: the kernel printed no complete result:\n" + out[-2000:])
    return results


def boot_update_bench(kernel, board, timeout):
    """The live-update benchmark (bench=update) prints its own table."""
    machine, smp, mem, extra = MACHINES[board]
    cmd = ["qemu-system-riscv64", "-M", machine, "-smp", smp, "-m", mem, "-nic", "none",
           "-nographic",
           "-bios", OPENSBI, "-kernel", kernel, "-append", "bench=update"] + extra
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=timeout).stdout
    if "bench: update done" not in out:
        sys.exit("bench: the update benchmark did not finish:\n" + out[-3000:])
    table, lines = [], []
    take = False
    for line in out.splitlines():
        if line.startswith("bench: live update"):
            take = True
        if take and line.startswith("  "):
            table.append(line)
        m = re.search(r"h\d+ (bench: \w+ .*ratio=.*)$", line)
        if m:
            lines.append(m.group(1))
    return table, lines


def fmt(x100):
    return "%d.%02d" % divmod(x100, 100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="qemu-virt", choices=sorted(MACHINES))
    ap.add_argument("--kernel", help="kernel.elf (default build/<board>/kernel.elf)")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--demo-kernel", help="kernel-demo.elf for the update benchmark "
                    "(default build/<board>/kernel-demo.elf; skipped for other boards)")
    ap.add_argument("--ota-rounds", type=int, default=5, help="rounds of the OTA benchmark "
                    "(test/bench/ota_bench.py; qemu-virt only; 0 skips it)")
    ap.add_argument("--journal-rounds", type=int, default=5, help="rounds of the journal "
                    "benchmark (test/bench/journal_bench.py; qemu-virt only; 0 skips it)")
    ap.add_argument("--load-nets", default="user,tap", help="networks of the agent's load "
                    "benchmark (test/bench/ota_load_bench.py; qemu-virt only; '' skips it)")
    a = ap.parse_args()
    kernel = a.kernel or "build/%s/kernel.elf" % a.board
    exact = boot(kernel, a.board, True, a.timeout)
    timed = boot(kernel, a.board, False, a.timeout)
    base_i, base_t = exact["plain"][0], timed["plain"][1]
    print("OTT call paths on %s (instructions: QEMU -icount run; time: plain TCG run)" % a.board)
    print("  %-20s %12s %10s %9s %9s" % ("path", "instr/call", "ns/call", "x instr", "x time"))
    names = {"plain": "plain indirect call", "cached": "ott cached call", "miss": "ott miss (global)"}
    for p in ("plain", "cached", "miss"):
        i, t = exact[p][0], timed[p][1]
        print("  %-20s %12s %10s %9.3f %9.3f" % (names[p], fmt(i), fmt(t), i / base_i, t / base_t))
    for p in ("cached", "miss"):
        extra = exact[p][0] - base_i
        print("bench: ott_%s_vs_plain extra_instr=%s instr_ratio=%.3f ratio=%.3f"
              % (p, fmt(extra), exact[p][0] / base_i, timed[p][1] / base_t))
    cached_extra = (exact["cached"][0] - base_i) / 100
    cached_ratio = timed["cached"][1] / base_t
    print("bench: goal cached<=1.05x plain in time and <=2 extra instructions: "
          "extra_instr=%.2f ratio=%.3f -> %s" % (cached_extra, cached_ratio,
          "met" if cached_extra <= 2 and cached_ratio <= 1.05 else "NOT met"))
    if a.board != "qemu-virt":
        return
    print()
    print("Live update on %s (plain TCG run; times are wall clock of a shared host: "
          "compare within the table)" % a.board)
    demo_kernel = a.demo_kernel or "build/%s/kernel-demo.elf" % a.board
    table, lines = boot_update_bench(demo_kernel, a.board, a.timeout)
    print("\n".join(table))
    print("\n".join(lines))
    if a.ota_rounds > 0:
        # OTA push throughput vs U-Boot's tftpboot, live update vs reboot.
        print(flush=True)
        rc = subprocess.call([sys.executable, os.path.join(os.path.dirname(__file__), "ota_bench.py"),
                              "--board", a.board, "--kernel", kernel, "--rounds", str(a.ota_rounds),
                              "--packs", os.path.join(os.path.dirname(demo_kernel), "demos", "packs"),
                              "--timeout", str(a.timeout)])
        if rc:
            sys.exit(rc)
    if a.journal_rounds > 0:
        # Durable updates: boot with an empty journal vs six journaled packs.
        print(flush=True)
        rc = subprocess.call([sys.executable, os.path.join(os.path.dirname(__file__),
                                                            "journal_bench.py"),
                              "--kernel", kernel, "--rounds", str(a.journal_rounds),
                              "--packs", os.path.join(os.path.dirname(demo_kernel), "demos", "packs"),
                              "--timeout", str(a.timeout)])
        if rc:
            sys.exit(rc)
    if a.load_nets:
        # The agent under load: ab, curl, floods (user networking and a tap).
        print(flush=True)
        rc = subprocess.call([sys.executable, os.path.join(os.path.dirname(__file__),
                                                           "ota_load_bench.py"),
                              "--board", a.board, "--kernel", kernel, "--nets", a.load_nets,
                              "--packs", os.path.join(os.path.dirname(demo_kernel), "demos",
                                                      "packs")])
        if rc:
            sys.exit(rc)


if __name__ == "__main__":
    main()
