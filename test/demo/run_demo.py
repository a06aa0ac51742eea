#!/usr/bin/python3
"""make demo: boot qemu-virt (4 harts) with the demo packs, apply them in
turn while the workload runs, print the UART log, and check every step.

Exits 0 only if each pack of the demo group ended as update/demos/packs.txt
says, the final class versions are the ones those outcomes imply, and every
workload heartbeat had made == counted, before, during and after.
"""
import argparse
import re
import subprocess
import sys
import time

sys.path.insert(0, "ota-server")
import packtool  # noqa: E402

OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
LINE = re.compile(r"^\[\s*(\d+)\.(\d{6})\] h(\d+) (\w[\w-]*): (.*)$")
KV = re.compile(r"(\w+)=(\"[^\"]*\"|\S+)")


def kv(msg):
    return {k: v.strip('"') for k, v in KV.findall(msg)}


def expected_versions(entries):
    versions = {"uart": 1, "counter": 1, "sched": 1}
    for e in entries:
        if e["expect"] != "applied":
            continue
        for spec in e["steps"]:
            cls, _, to = spec.split(";")[0].split(":")[:3]
            versions[cls] = int(to)
    return versions


def run(kernel, timeout):
    cmd = ["qemu-system-riscv64", "-M", "virt", "-smp", "4", "-m", "256M", "-nic", "none",
           "-nographic",
           "-bios", OPENSBI, "-kernel", kernel, "-append", "demo halt shutdown=%d" % timeout]
    lines = []
    start = time.monotonic()
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as p:
        try:
            for raw in p.stdout:
                line = raw.rstrip("\r\n")
                print(line, flush=True)
                lines.append(line)
                if time.monotonic() - start > timeout + 30:
                    p.kill()
                    lines.append("demo: host timeout")
                    break
        finally:
            if p.poll() is None:
                p.kill()
            rc = p.wait()
    return lines, rc


def check(lines, rc, entries):
    problems = []
    events = []
    for line in lines:
        m = LINE.match(line)
        if m:
            events.append((m.group(4), m.group(5)))
    results = {kv(msg).get("pack"): kv(msg).get("result")
               for sub, msg in events if sub == "demo" and msg.startswith("result ")}
    for e in entries:
        want = "ok" if e["expect"] == "applied" else e["expect"]
        got = results.get(e["name"])
        if got != want:
            problems.append("pack %s: wanted %s, got %s" % (e["name"], want, got))
    applied = sum(1 for s, m in events if s == "update" and m.startswith("applied "))
    rolled = sum(1 for s, m in events if s == "update" and m.startswith("rolled-back "))
    want_applied = sum(1 + 0 for e in entries if e["expect"] in ("applied", "rolled-back"))
    if applied < want_applied:
        problems.append("%d 'update: applied' lines, wanted at least %d" % (applied, want_applied))
    if rolled != sum(1 for e in entries if e["expect"] == "rolled-back"):
        problems.append("%d 'update: rolled-back' lines" % rolled)
    beats = [kv(m) for s, m in events if s == "workload" and m.startswith("heartbeat ")]
    bad = [b for b in beats if b.get("match") != "yes" or b.get("made") != b.get("counted")]
    if len(beats) < 5:
        problems.append("only %d heartbeats" % len(beats))
    if bad:
        problems.append("%d heartbeats without matching totals, first: %s" % (len(bad), bad[0]))
    made = [int(b["made"]) for b in beats]
    if any(b <= a for a, b in zip(made, made[1:])):
        problems.append("calls made did not grow between every two heartbeats")
    states = [kv(m) for s, m in events if s == "demo" and m.startswith("versions ")]
    if not states:
        problems.append("no 'demo: versions' line")
    else:
        final = states[-1]
        for cls, v in expected_versions(entries).items():
            if final.get(cls) != str(v):
                problems.append("final %s version %s, wanted %d" % (cls, final.get(cls), v))
    if not any(s == "demo" and m.startswith("done ") for s, m in events):
        problems.append("the demo did not finish")
    if rc != 0:
        problems.append("QEMU exited with %d" % rc)
    return problems, len(beats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="build/qemu-virt/kernel-demo.elf")
    ap.add_argument("--packs", default="update/demos/packs.txt")
    ap.add_argument("--timeout", type=int, default=120, help="seconds before the kernel halts")
    a = ap.parse_args()
    entries = [e for e in packtool.read_list(a.packs) if e["group"] == "demo"]
    lines, rc = run(a.kernel, a.timeout)
    problems, nbeats = check(lines, rc, entries)
    print()
    for e in entries:
        print("demo: %-18s expected %s" % (e["name"], e["expect"]))
    if problems:
        for p in problems:
            print("demo: FAIL %s" % p)
        print("demo: 0 passed, 1 failed")
        return 1
    print("demo: every step happened as intended; %d heartbeats, all totals matched" % nbeats)
    print("demo: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
