"""Fixtures of the fleet tests: a real mosquitto, `ota.py serve`, simulated boards.

Everything listens on 127.0.0.1 ports picked at random; every process is
ended at teardown (the broker at the end of the session). Board ids carry
a per-test prefix, so tests sharing the broker never see each other's boards.
"""
import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OTA_DIR = os.path.join(REPO, "ota-server")
OTA = os.path.join(OTA_DIR, "ota.py")
SIMBOARD = os.path.join(OTA_DIR, "simboard.py")
PY = "/usr/bin/python3"
sys.path.insert(0, HERE)
sys.path.insert(0, OTA_DIR)

import fleet  # noqa: E402
import packtool  # noqa: E402
from broker import Broker, free_port  # noqa: E402


def wait_line(proc, prefix, timeout):
    """The first stdout line of proc starting with prefix (the process must print it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("process exited (%s) before printing %r" % (proc.poll(), prefix))
        if line.startswith(prefix):
            return line
    raise AssertionError("no %r within %gs" % (prefix, timeout))


def stop(proc, sig_term=True):
    if proc.poll() is None:
        proc.terminate() if sig_term else proc.kill()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    if not os.path.exists("/usr/sbin/mosquitto"):
        pytest.fail("mosquitto is not installed (make deps installs it)")
    b = Broker(tmp_path_factory.mktemp("mosquitto")).start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def packdir(tmp_path_factory):
    return tmp_path_factory.mktemp("packs")


class Server:
    def __init__(self, packdir, logdir, drop_after=None):
        self.port = free_port()
        self.log = os.path.join(str(logdir), "http-%d.log" % self.port)
        cmd = [PY, OTA, "serve", str(packdir), "--port", str(self.port), "--log", self.log]
        if drop_after is not None:
            cmd += ["--drop-after", str(drop_after)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_line(self.proc, "serving ", 10)
        self.url = "http://127.0.0.1:%d/" % self.port

    def lines(self):
        return open(self.log).read().splitlines() if os.path.exists(self.log) else []

    def close(self):
        stop(self.proc)


@pytest.fixture(scope="session")
def server(packdir, tmp_path_factory):
    s = Server(packdir, tmp_path_factory.mktemp("httplog"))
    yield s
    s.close()


@pytest.fixture
def make_server(packdir, tmp_path):
    made = []

    def make(**kw):
        s = Server(packdir, tmp_path, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="session")
def make_pack(packdir, tmp_path_factory):
    """make_pack(name, seq, steps=(("counter", 1, 2),), body_kib=8): an unsigned pack in the served folder."""
    mods = tmp_path_factory.mktemp("modules")

    def make(name, seq, steps=(("counter", 1, 2),), body_kib=8):
        specs = []
        for cls, frm, to in steps:
            mod = mods / ("%s-%s-%d.o" % (name, cls, to))
            mod.write_bytes(b"\x7fELF\x02\x01\x01" + os.urandom(body_kib * 1024))
            specs.append(packtool.parse_step("%s:%d:%d:lazy:%s" % (cls, frm, to, mod)))
        out = packdir / name
        packtool.build_pack(seq, specs, str(out))
        return str(out)
    return make


class Sims:
    """One simboard.py process: sims.start(ids, *options)."""

    def __init__(self, broker, tmp):
        self.broker, self.tmp = broker, tmp
        self.procs = []

    def start(self, ids, *args):
        err = open(os.path.join(str(self.tmp), "simboard-%d.err" % len(self.procs)), "w+")
        p = subprocess.Popen([PY, SIMBOARD, "--broker", self.broker.addr, "--ids", ",".join(ids)] +
                             [str(a) for a in args], stdout=subprocess.PIPE, stderr=err, text=True)
        p.errfile = err
        self.procs.append(p)
        wait_line(p, "simboard: ready", 30)
        return p

    def close(self):
        for p in self.procs:
            stop(p)
            p.errfile.close()


def sim_stats(proc):
    """Stop a simboard.py process (of Sims.start); its counters (the `simboard: stats` line)."""
    stop(proc)
    proc.errfile.seek(0)
    err = proc.errfile.read()
    for line in err.splitlines():
        if line.startswith("simboard: stats "):
            return json.loads(line[len("simboard: stats "):])
    raise AssertionError("no stats line:\n" + err)


@pytest.fixture
def sims(broker, tmp_path):
    s = Sims(broker, tmp_path)
    yield s
    s.close()


@pytest.fixture
def ids(request):
    """ids(n) or ids(n, "tag"): board ids unique to this test."""
    base = request.node.name.replace("test_", "").replace("_", "")[:12]

    def make(n, tag=""):
        return ["%s%s-%d" % (base, tag, i) for i in range(n)]
    return make


def ota(*args, timeout=90, check=None):
    r = subprocess.run([PY, OTA] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert r.returncode == check, "exit %d, wanted %d\nstdout:\n%s\nstderr:\n%s" % (
            r.returncode, check, r.stdout[-4000:], r.stderr[-4000:])
    return r


def ota_json(*args, check=0, timeout=90):
    r = ota(*args, "--json", check=check, timeout=timeout)
    return json.loads(r.stdout)


def retained(broker, timeout=10.0):
    """Everything retained under lukos/+/state and lukos/+/job: (states, jobs)."""
    host, port = broker.addr.split(":")
    link = fleet.FleetLink((host, int(port)), want_jobs=True, name="test").start(timeout)
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
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)
