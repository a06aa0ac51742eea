#!/usr/bin/python3
"""make bench-fleet: pull rollouts to 100, 1000 and 10,000 simulated boards.

For each fleet size, on this one machine: a fresh private mosquitto
(test/fleet/broker.py), `ota.py serve` with one pack, one simboard.py
process holding every board (one MQTT connection each), and then
`ota.py rollout --broker ... --waves 1,10%,50%,100%` timed from start to
exit. Reported per size:

  connect s       until every simulated board has connected and subscribed
  rollout s       the rollout command's wall time (process start to exit)
  ms/board        rollout s / boards
  growth          ms/board against the previous size (<= 1: linear or better)
  cpu ms/board    CPU time of every process involved (boards, pack server,
                  mosquitto, rollout) during the rollout, per board: the
                  cost that does not depend on what else runs on the machine
  in/board        MQTT packets (of any type) the broker received during the rollout, per board
  out/board       MQTT packets the broker sent during the rollout, per board
  states/board    state messages the rollout received (its initial collection included)
  http            HTTP requests the pack server answered
and, below the table, the CPU seconds of each process during the rollout.

Then real boards among simulated ones (--qemu N, default 2; 0 skips it):
N qemu-virt boards (the kernel's own MQTT and HTTP clients, user
networking with restrict=on, guestfwd to the broker and the pack server
only: test/qemu/mqtt_checks.py) and --qemu-sims simulated boards (1000) in
one rollout of the real signed pack counter-v2.itb, the real boards first
and last in the list (so in the first and the last wave). Reported: the
rollout's wall time and its waves, and for each real board, from its UART
(its own clock): job to result, the download's duration, and the state
messages it published (a subscriber counts them).

The broker counts come from its $SYS topics $SYS/broker/messages/received
and /sent (all packet types; published every 1-2 s with our config), read
before the rollout starts and after it ends; they include the rollout
client's own traffic (its collection of every retained state, its jobs)
and a few $SYS messages to this script. (Mosquitto 2.0's
$SYS/broker/publish/messages/* counters skip retained PUBLISH packets,
so they are useless here.)
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OTA_DIR = os.path.join(REPO, "ota-server")
sys.path.insert(0, os.path.join(REPO, "test", "fleet"))
sys.path.insert(0, OTA_DIR)
import packtool  # noqa: E402
from broker import Broker, free_port  # noqa: E402

PY = "/usr/bin/python3"
SYS_TOPICS = {"$SYS/broker/messages/received": "in", "$SYS/broker/messages/sent": "out",
              "$SYS/broker/uptime": "uptime"}


class SysCounters:
    """The broker's $SYS counters, as last published."""

    def __init__(self, port):
        import paho.mqtt.client as mqtt
        self.values, self.updates = {}, 0
        self.cond = threading.Condition()
        self.c = mqtt.Client(clean_session=True)
        self.c.on_connect = lambda c, u, f, rc: c.subscribe([(t, 0) for t in SYS_TOPICS])
        self.c.on_message = self.on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def on_message(self, c, u, msg):
        key = SYS_TOPICS.get(msg.topic)
        try:
            v = int(msg.payload.split()[0])
        except (ValueError, IndexError):
            return
        with self.cond:
            self.values[key] = v
            if key == "uptime":
                self.updates += 1
            self.cond.notify_all()

    def fresh(self, timeout=10.0):
        """Counters from a $SYS round begun after this call (a round starts with the uptime)."""
        with self.cond:
            start = self.updates
            self.cond.wait_for(lambda: self.updates >= start + 2, timeout)
        time.sleep(0.5)             # the rest of that round
        with self.cond:
            return dict(self.values)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def cpu_seconds(pid):
    """utime + stime of a process so far (/proc/<pid>/stat)."""
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("simboard.py exited before it was ready")
        if line.startswith("simboard: ready"):
            return float(line.split("seconds=")[1])
    raise RuntimeError("simboard.py not ready within %gs" % timeout)


def one_size(n, pack, work, a):
    d = os.path.join(work, "n%d" % n)
    broker = Broker(os.path.join(d, "broker")).start()
    procs = []
    try:
        port = free_port()
        log = os.path.join(d, "http.log")
        srv = subprocess.Popen([PY, os.path.join(OTA_DIR, "ota.py"), "serve", os.path.dirname(pack),
                                "--port", str(port), "--log", log],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(srv)
        sim_cmd = [PY, os.path.join(OTA_DIR, "simboard.py"), "--broker", broker.addr, "--count", str(n),
                   "--prefix", "b", "--apply-delay", str(a.apply_delay)]
        if a.share_body:
            sim_cmd.append("--share-body")
        sim = subprocess.Popen(sim_cmd, stdout=subprocess.PIPE, stderr=open(os.path.join(d, "sim.err"), "w"),
                               text=True)
        procs.append(sim)
        connect_s = wait_ready(sim, 600)
        sysc = SysCounters(broker.port)
        before = sysc.fresh()
        cpu0 = {k: cpu_seconds(p.pid) for k, p in (("boards", sim), ("http", srv), ("broker", broker.proc))}
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        boards_file = os.path.join(d, "boards")
        with open(boards_file, "w") as f:
            f.write("\n".join("b%d" % i for i in range(n)) + "\n")
        t0 = time.monotonic()
        r = subprocess.run([PY, os.path.join(OTA_DIR, "ota.py"), "rollout", "--broker", broker.addr, pack,
                            "--boards-file", boards_file, "--waves", a.waves, "--url-base",
                            "http://127.0.0.1:%d/" % port, "--timeout", "600", "--json"],
                           capture_output=True, text=True, timeout=1800)
        wall = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = {k: cpu_seconds(p.pid) - cpu0[k] for k, p in (("boards", sim), ("http", srv),
                                                             ("broker", broker.proc))}
        cpu["rollout"] = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
        after = sysc.fresh()
        sysc.close()
        if r.returncode != 0:
            raise RuntimeError("rollout of %d boards failed (exit %d):\n%s" % (n, r.returncode, r.stderr[-2000:]))
        rep = json.loads(r.stdout)
        if rep["totals"] != {"done": n}:
            raise RuntimeError("rollout of %d boards: %s" % (n, rep["totals"]))
        http = sum(1 for _ in open(log))
        delta = {k: (after.get(k, 0) - before.get(k, 0)) / n for k in ("in", "out")}
        delta["states"] = rep["state_messages"] / n
        return {"boards": n, "connect_s": connect_s, "rollout_s": wall, "rollout_internal_s": rep["seconds"],
                "ms_per_board": 1000.0 * wall / n, "per_board": delta, "http_requests": http, "cpu_s": cpu,
                "waves": [(w["boards"], w["seconds"]) for w in rep["waves"]]}
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        broker.stop()


def qemu_case(a, work):
    """A rollout over a.qemu real qemu-virt boards and a.qemu_sims simulated ones."""
    sys.path.insert(0, os.path.join(REPO, "test", "qemu"))
    from kernel_qemu import Qemu
    from mqtt_checks import StateRecorder, boot_board
    packs = os.path.join(REPO, "build", "qemu-virt", "demos", "packs")
    pack = os.path.join(packs, "counter-v2.itb")
    if not os.path.exists(pack):
        raise RuntimeError("%s is missing: make BOARD=qemu-virt build/qemu-virt/kernel-demo.elf" % pack)
    d = os.path.join(work, "qemu")
    broker = Broker(os.path.join(d, "broker")).start()
    procs, boards = [], []
    try:
        port = free_port()
        log = os.path.join(d, "http.log")
        procs.append(subprocess.Popen([PY, os.path.join(OTA_DIR, "ota.py"), "serve", packs, "--port",
                                       str(port), "--log", log],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        factory = lambda board, smp, **kw: Qemu(board, smp, log_dir=d, **kw).start()  # noqa: E731
        for i in range(a.qemu):
            boards.append(boot_board(factory, "qemu-virt", 2, "qemu-%d" % i, broker, (port, port),
                                     900, "qemu-%d" % i))
        sim = subprocess.Popen([PY, os.path.join(OTA_DIR, "simboard.py"), "--broker", broker.addr,
                                "--count", str(a.qemu_sims), "--prefix", "b", "--apply-delay",
                                str(a.apply_delay), "--connect-to", "127.0.0.1:%d" % port],
                               stdout=subprocess.PIPE, stderr=open(os.path.join(d, "sim.err"), "w"),
                               text=True)
        procs.append(sim)
        wait_ready(sim, 600)
        ids = ["b%d" % i for i in range(a.qemu_sims)]
        real = [b.id for b in boards]
        step = max(1, len(ids) // max(1, len(real) - 1))
        fleet = []
        for i, r in enumerate(real[:-1]):
            fleet += [r] + ids[i * step:(i + 1) * step]
        fleet += ids[(len(real) - 1) * step:] + real[-1:]
        boards_file = os.path.join(d, "boards")
        with open(boards_file, "w") as f:
            f.write("\n".join(fleet) + "\n")
        marks = [b.mark() for b in boards]
        rec = StateRecorder(broker, real)
        t0 = time.monotonic()
        r = subprocess.run([PY, os.path.join(OTA_DIR, "ota.py"), "rollout", "--broker", broker.addr, pack,
                            "--boards-file", boards_file, "--waves", a.waves, "--url-base",
                            "http://10.0.2.100:8000/", "--timeout", "600", "--json"],
                           capture_output=True, text=True, timeout=1800)
        wall = time.monotonic() - t0
        time.sleep(1.5)
        rec.close()
        if r.returncode != 0:
            raise RuntimeError("rollout over real and simulated boards failed (exit %d):\n%s" % (
                r.returncode, r.stderr[-2000:]))
        rep = json.loads(r.stdout)
        if rep["totals"] != {"done": len(fleet)}:
            raise RuntimeError("rollout over real and simulated boards: %s" % rep["totals"])
        per = []
        for b, m in zip(boards, marks):
            job = b.wait_line(r"\] h\d+ mqtt: job seq=2 ", m).entry
            res = b.wait_line(r"\] h\d+ ota: result=ok source=mqtt$", m).entry
            fetched = b.wait_line(r"\] h\d+ ota: fetched bytes=", m).entry
            per.append({"board": b.id, "wave": rep["boards"][b.id]["wave"],
                        "job_to_result_s": res.time - job.time, "fetch_ms": fetched.int("ms"),
                        "states": len(rec.states(b.id))})
        return {"real": len(real), "simulated": len(ids), "rollout_s": wall,
                "waves": [(w["boards"], w["seconds"]) for w in rep["waves"]], "boards": per,
                "pack_bytes": os.path.getsize(pack)}
    finally:
        for b in boards:
            b.halt()
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        broker.stop()


def report_qemu(q):
    print("real boards among simulated ones: %d qemu-virt + %d simulated, pack counter-v2.itb "
          "(%d bytes, signed), rollout %.1f s, waves %s" % (
              q["real"], q["simulated"], q["pack_bytes"], q["rollout_s"],
              ", ".join("%d boards %.1f s" % w for w in q["waves"])))
    for b in q["boards"]:
        print("  %s (wave %d): job to result %.2f s, download %d ms, %d state messages" % (
            b["board"], b["wave"], b["job_to_result_s"], b["fetch_ms"], b["states"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--waves", default="1,10%,50%,100%")
    ap.add_argument("--pack-kib", type=int, default=32, help="module size in the pack (default 32 KiB)")
    ap.add_argument("--apply-delay", type=float, default=0.2, help="simulated update time (default 0.2 s)")
    ap.add_argument("--share-body", action="store_true", help="simboard.py --share-body")
    ap.add_argument("--qemu", type=int, default=2, help="real qemu-virt boards in the last case (0: none)")
    ap.add_argument("--qemu-sims", type=int, default=1000, help="simulated boards with them (default 1000)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="fleet-bench-")
    try:
        packs = os.path.join(work, "packs")
        os.makedirs(packs)
        mod = os.path.join(work, "module.o")
        with open(mod, "wb") as f:
            f.write(b"\x7fELF\x02\x01\x01" + os.urandom(a.pack_kib * 1024))
        pack = os.path.join(packs, "bench.itb")
        packtool.build_pack(2, [packtool.parse_step("counter:1:2:lazy:" + mod)], pack)
        results = []
        for n in [int(s) for s in a.sizes.split(",") if s]:
            print("bench: fleet of %d boards ..." % n, file=sys.stderr, flush=True)
            results.append(one_size(n, pack, work, a))
        q = None
        if a.qemu:
            print("bench: %d qemu-virt boards among %d simulated ..." % (a.qemu, a.qemu_sims),
                  file=sys.stderr, flush=True)
            q = qemu_case(a, work)
        if results:
            report(results, os.path.getsize(pack), a)
        if q:
            report_qemu(q)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"simulated": results, "qemu": q}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results, pack_size, a):
    print("pull rollout, waves %s, pack %d bytes, apply %.2fs, %s, one host (%d cores)" % (
        a.waves, pack_size, a.apply_delay, "shared body" if a.share_body else "every board fetches the body",
        os.cpu_count()))
    head = ("boards", "connect s", "rollout s", "ms/board", "growth", "cpu ms/board", "in/board",
            "out/board", "states/board", "http")
    rows, prev = [], None
    for r in results:
        growth = "%.2f" % (r["ms_per_board"] / prev["ms_per_board"]) if prev else "-"
        pb = r["per_board"]
        rows.append((str(r["boards"]), "%.1f" % r["connect_s"], "%.1f" % r["rollout_s"],
                     "%.2f" % r["ms_per_board"], growth, "%.2f" % (1000.0 * sum(r["cpu_s"].values()) / r["boards"]),
                     "%.1f" % pb["in"], "%.1f" % pb["out"],
                     "%.1f" % pb["states"], str(r["http_requests"])))
        prev = r
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    for row in (head,) + tuple(rows):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    print("CPU seconds during the rollout (2 cores shared by all):")
    for r in results:
        c = r["cpu_s"]
        print("  %6d boards: simulated boards %.1f, pack server %.1f, mosquitto %.1f, rollout %.1f" % (
            r["boards"], c["boards"], c["http"], c["broker"], c["rollout"]))
    for prev, r in zip(results, results[1:]):
        ratio = r["ms_per_board"] / prev["ms_per_board"]
        marginal = 1000.0 * (r["rollout_s"] - prev["rollout_s"]) / (r["boards"] - prev["boards"])
        cpu_ratio = (sum(r["cpu_s"].values()) / r["boards"]) / (sum(prev["cpu_s"].values()) / prev["boards"])
        print("bench: fleet boards=%d->%d time_per_board_ratio=%.2f cpu_per_board_ratio=%.2f "
              "marginal_ms_per_board=%.2f %s" % (
                  prev["boards"], r["boards"], ratio, cpu_ratio, marginal,
                  "linear-or-better" if ratio <= 1.1 else "SUPERLINEAR"))


if __name__ == "__main__":
    main()
