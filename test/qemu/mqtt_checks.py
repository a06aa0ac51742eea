"""Helpers for the pull-update tests (test_mqtt.py): a private mosquitto,
`ota.py serve` pack servers, simulated boards, and QEMU boards that reach
exactly those through `guestfwd` (user networking, restrict=on).

QEMU wiring. A board uses mqtt=10.0.2.100:1883 and job URLs
http://10.0.2.100:8000/<pack> (8001: a second pack server). Each of those
guest addresses is a `guestfwd=tcp:10.0.2.100:<port>-cmd:...` rule that
runs ota-server/guestfwd.py for every guest connection, relaying it to
127.0.0.1:<host port> (see that script for why not QEMU's
`-tcp:127.0.0.1:<port>` chardev form: one host connection for the whole
run, never closed towards the guest). The agent's port 8080 is forwarded
from 127.0.0.1:<free port> as in ota_checks.py, for GET /status.
"""
import json
import os
import subprocess
import sys
import time

from kernel_qemu import REPO_ROOT, QemuError
from ota_checks import AGENT_PORT, NIC, PYTHON, free_port, http_get_status

OTA_DIR = os.path.join(REPO_ROOT, "ota-server")
sys.path.insert(0, OTA_DIR)
sys.path.insert(0, os.path.join(REPO_ROOT, "test", "fleet"))
import fleet  # noqa: E402
from broker import Broker  # noqa: E402,F401  (re-exported for the tests)

OTA_PY = os.path.join(OTA_DIR, "ota.py")
SIMBOARD = os.path.join(OTA_DIR, "simboard.py")
GUESTFWD = os.path.join(OTA_DIR, "guestfwd.py")
GUEST_SERVER = "10.0.2.100"
BROKER_GUEST_PORT, HTTP_GUEST_PORT, HTTP2_GUEST_PORT = 1883, 8000, 8001


def guestfwd(guest_port, host_port):
    # One -netdev value: no commas in the command (QEMU's option syntax).
    assert "," not in GUESTFWD and " " not in GUESTFWD, GUESTFWD
    return (f"guestfwd=tcp:{GUEST_SERVER}:{guest_port}-cmd:{PYTHON} -I -S {GUESTFWD} "
            f"127.0.0.1 {host_port}")


def mqtt_net(board, agent_port, broker_port, http_ports):
    rules = [guestfwd(BROKER_GUEST_PORT, broker_port)]
    rules += [guestfwd(g, h) for g, h in zip((HTTP_GUEST_PORT, HTTP2_GUEST_PORT), http_ports)]
    return ["-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{agent_port}-:{AGENT_PORT},"
            + ",".join(rules), *NIC[board]]


def wait_line(proc, prefix, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"process exited ({proc.poll()}) before printing {prefix!r}")
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no {prefix!r} within {timeout}s")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PackServer:
    """`ota.py serve DIR` on a free 127.0.0.1 port, with a log of every request."""

    def __init__(self, root, logdir, drop_after=None):
        self.port = free_port()
        self.log = os.path.join(str(logdir), f"http-{self.port}.log")
        cmd = [PYTHON, OTA_PY, "serve", str(root), "--port", str(self.port), "--log", self.log]
        if drop_after is not None:
            cmd += ["--drop-after", str(drop_after)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_line(self.proc, "serving ", 15)

    def lines(self, ua=None):
        if not os.path.exists(self.log):
            return []
        got = open(self.log).read().splitlines()
        return [l for l in got if ua is None or f'ua="{ua}"' in l]

    def close(self):
        stop(self.proc)


class Sims:
    """One ota-server/simboard.py process holding simulated boards."""

    def __init__(self, broker, ids, connect_to, *args, logdir):
        self.ids = list(ids)
        self.err = open(os.path.join(str(logdir), f"simboard-{ids[0]}.err"), "w+")
        self.proc = subprocess.Popen(
            [PYTHON, SIMBOARD, "--broker", broker.addr, "--ids", ",".join(ids),
             "--connect-to", connect_to, *[str(a) for a in args]],
            stdout=subprocess.PIPE, stderr=self.err, text=True)
        wait_line(self.proc, "simboard: ready", 60)

    def close(self):
        stop(self.proc)
        self.err.close()


class Board:
    """A QEMU board pulling from the test's broker; GET /status on host port `port`."""

    def __init__(self, q, board, board_id, port):
        self.qemu, self.board, self.id, self.port = q, board, board_id, port

    def mark(self):
        return len(self.qemu.lines)

    def lines(self, pattern, since=0):
        return self.qemu.find(pattern, since=since)

    def wait_line(self, pattern, since=0, timeout=30.0):
        return self.qemu.wait_for(pattern, timeout=timeout, start=since, advance=False)

    def status(self):
        return http_get_status(self.port)

    def halt(self):
        q = self.qemu
        if not q.running:
            q.kill()
            return
        try:
            q.send("halt\n")
            q.wait_exit(timeout=15)
        except (QemuError, OSError):
            q.kill()


def boot_board(factory, board, smp, board_id, broker, http_ports, lifetime, name, state=None,
               args=""):
    """Boots `board` with mqtt=10.0.2.100:1883 id=<board_id> (more kernel
    arguments in `args`, the state image `state` if given); returns once it
    subscribed."""
    for attempt in range(3):
        port = free_port()
        q = factory(board, smp, args=f"shutdown={lifetime} workload=off "
                    f"mqtt={GUEST_SERVER}:{BROKER_GUEST_PORT} id={board_id} {args}".strip(),
                    extra_args=mqtt_net(board, port, broker.port, http_ports), state=state,
                    hard_timeout=lifetime + 20, name=name + (f"-{attempt}" if attempt else ""))
        try:
            q.wait_for(rf"\] h\d+ mqtt: subscribed topic=lukos/{board_id}/job qos=1$",
                       timeout=90, start=0, advance=False)
            return Board(q, board, board_id, port)
        except QemuError:
            q.kill()
            if "host forwarding" in q.stderr and attempt < 2:
                continue            # another process took the port first
            raise


# --- the broker's view ---------------------------------------------------------------

def retained(broker, timeout=10.0):
    """Everything retained under lukos/+/state and lukos/+/job: (states, jobs)."""
    host, port = broker.addr.split(":")
    link = fleet.FleetLink((host, int(port)), want_jobs=True, name="qemu-test").start(timeout)
    try:
        states, _, _ = link.snapshot()
        with link.cond:
            jobs = dict(link.jobs_seen)
        return states, jobs
    finally:
        link.stop()


def publish(broker, topic, payload, retain=True):
    import paho.mqtt.client as mqtt
    host, port = broker.addr.split(":")
    c = mqtt.Client(clean_session=True)
    c.connect(host, int(port))
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=5)
    finally:
        c.disconnect()
        c.loop_stop()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def rollout(broker, pack, boards, url_base, *args, timeout=180):
    """ota.py rollout --broker ... --json: (exit code, report)."""
    p = subprocess.run([PYTHON, OTA_PY, "rollout", "--broker", broker.addr, pack, "--boards",
                        ",".join(boards), "--url-base", url_base, "--json", *[str(a) for a in args]],
                       cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        raise AssertionError(f"rollout printed no JSON (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")


def outcomes(report):
    return {b: r["outcome"] for b, r in report["boards"].items()}


class StateRecorder:
    """Records, in order, every state message the given boards publish while it runs."""

    def __init__(self, broker, ids):
        import threading
        import paho.mqtt.client as mqtt
        self.msgs = {i: [] for i in ids}
        self.lock = threading.Lock()
        self.ready = threading.Event()
        host, port = broker.addr.split(":")
        self.c = mqtt.Client(clean_session=True)
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.connect(host, int(port))
        self.c.loop_start()
        self.c.subscribe([(f"lukos/{i}/state", 1) for i in ids])
        assert self.ready.wait(10), "no SUBACK"

    def _on_message(self, client, userdata, msg):
        bid = msg.topic.split("/")[1]
        with self.lock:
            self.msgs[bid].append((bool(msg.retain), json.loads(msg.payload)))

    def states(self, bid, live_only=True):
        """The "state" field of each message (without the retained one sent on subscribing)."""
        with self.lock:
            return [m["state"] for r, m in self.msgs[bid] if not (live_only and r)]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()
