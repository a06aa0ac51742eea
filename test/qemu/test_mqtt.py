"""Pulled updates with real boards (issue 10): qemu-virt and sifive_u boards
running the kernel's MQTT and HTTP clients against a real mosquitto (started
here on a random 127.0.0.1 port with a generated configuration) and
`ota.py serve`, reached through `guestfwd` only (restrict=on; see
mqtt_checks.py), together with simulated boards (ota-server/simboard.py).

  state       every board keeps lukos/<id>/state retained: GET /status + "job"
  sifive_u    a pull applies on the Cadence GEM board (its own pack)
  mixed       `ota.py rollout --broker` over two qemu-virt boards and eight
              simulated ones, waves 1,50%,100%: completes, each real board
              fetched once and committed
  stops       a pack that fails (gap) in wave 1 stops the rollout; the real
              board of the later wave gets no job and changes nothing
  resume      the pack server cuts the first GET after 5000 bytes: the board
              resumes with Range (206) and applies
  restart     mosquitto killed and restarted mid-rollout: boards reconnect,
              ignore the retained job they already handle, the rollout completes
  bad jobs    ten kinds of bad job refused with the documented reasons,
              nothing changed; a good job after them applies
  reboot      a board whose journal kept the update notes the retained job
              after a reboot, without fetching or refusing it; then its
              broker stops answering (SIGSTOP): keep-alive and CONNACK
              timeouts, and it is back once the broker is
  boot args   a bad id falls back to the MAC's, a bad mqtt= turns pulling off
  will        a board that goes away is {"state": "offline"} at once
"""
import json
import os
import re
import shutil
import time

import pytest

import ota_checks
from ota_checks import check_no_trouble, ensure_built, pack_path
from mqtt_checks import (Broker, PackServer, Sims, StateRecorder, boot_board, outcomes, publish,
                         retained, rollout, wait_for)

LIFETIME = 420
URL = "http://10.0.2.100:8000/"
URL_DROP = "http://10.0.2.100:8001/"
SIMS = [f"sim-{i}" for i in range(8)]
# (board id, board, -smp)
BOARDS = [("virt-0", "qemu-virt", 2), ("virt-1", "qemu-virt", 2), ("sifive-0", "hifive-unleashed", 3)]
PACKS = {"qemu-virt": ["uart-v2", "counter-v2", "counter-v3", "gap", "tampered"],
         "hifive-unleashed": ["counter-v2"]}   # the uart packs are for qemu-virt's ns16550
PREFIX = {"qemu-virt": "virt-", "hifive-unleashed": "sifive-"}


class World:
    pass


@pytest.fixture(scope="module")
def world(qemu_module, tmp_path_factory):
    if not os.path.exists("/usr/sbin/mosquitto"):
        pytest.fail("mosquitto is not installed (make deps installs it)")
    w = World()
    w.tmp = tmp_path_factory.mktemp("mqtt")
    w.packdir = w.tmp / "packs"
    w.packdir.mkdir()
    w.packs = {}
    for board, names in PACKS.items():
        ensure_built(board)
        for n in names:
            dst = w.packdir / (PREFIX[board] + n + ".itb")
            shutil.copyfile(pack_path(board, n), dst)
            w.packs[(board, n)] = str(dst)
    w.broker = Broker(w.tmp / "mosquitto").start()
    w.server = PackServer(w.packdir, w.tmp)
    w.drop = PackServer(w.packdir, w.tmp, drop_after=5000)
    w.sims, w.boards = None, {}
    try:
        for bid, board, smp in BOARDS:
            w.boards[bid] = boot_board(qemu_module, board, smp, bid, w.broker,
                                       (w.server.port, w.drop.port), LIFETIME, f"mqtt-{bid}")
        w.sims = Sims(w.broker, SIMS, f"127.0.0.1:{w.server.port}", "--apply-delay", "0.3",
                      logdir=w.tmp)
        yield w
    finally:
        for b in w.boards.values():
            b.halt()
        if w.sims:
            w.sims.close()
        w.server.close()
        w.drop.close()
        w.broker.stop()


def board_state(world, bid):
    return retained(world.broker)[0].get(bid)


def settled(world, bid, job):
    """The board's retained state once it is idle with job == `job`."""
    return wait_for(lambda: (lambda s: s if s and s.get("state") == "idle" and s.get("job") == job
                             else None)(board_state(world, bid)), 60, f"{bid} idle with job {job}")


def test_boards_publish_their_state(world):
    states, jobs = retained(world.broker)
    for bid, b in world.boards.items():
        st, http = states.get(bid), b.status()
        assert st is not None, f"{bid} published no state"
        assert st["job"] == 0 and st["state"] == "idle" and st["seq"] == 0, st
        # The state is GET /status plus "job" (events and journal figures alike),
        # but for the HTTP server's counters, which the GET itself moves.
        assert "http" in st and "http" in http
        assert ({k: v for k, v in st.items() if k not in ("job", "http")} ==
                {k: v for k, v in http.items() if k != "http"}), (st, http)
        assert set(st["http"]) == set(http["http"])
        assert st["board"] == b.board
        assert bid not in jobs
    assert all(states[s]["state"] == "idle" for s in SIMS)


def test_pull_applies_on_sifive_u(world):
    b = world.boards["sifive-0"]
    pack = world.packs[("hifive-unleashed", "counter-v2")]     # seq 2, counter 1->2
    mark = b.mark()
    rc, rep = rollout(world.broker, pack, ["sifive-0"], URL, "--waves", "100%", "--timeout", "90")
    assert rc == 0 and outcomes(rep) == {"sifive-0": "done"}, rep
    size = os.path.getsize(pack)
    b.wait_line(rf"\] h\d+ ota: fetching url={URL}sifive-counter-v2.itb bytes={size} job=2$", mark)
    b.wait_line(rf"\] h\d+ ota: fetched bytes={size} requests=1 ", mark)
    b.wait_line(r"\] h\d+ update: committed class=counter version=2 ", mark)
    b.wait_line(r"\] h\d+ ota: result=ok source=mqtt$", mark)
    st = b.status()
    assert (st["classes"]["counter"], st["seq"], st["result"]) == (2, 2, "success"), st
    got = world.server.lines(ua="lukos/sifive-0")
    assert len(got) == 1 and f'"GET /sifive-counter-v2.itb HTTP/1.1" 200 {size} ' in got[0], got
    check_no_trouble(b)


def test_rollout_over_real_and_simulated_boards(world):
    pack = world.packs[("qemu-virt", "uart-v2")]
    fleet = ["virt-0"] + SIMS[:4] + ["virt-1"] + SIMS[4:]
    marks = {bid: world.boards[bid].mark() for bid in ("virt-0", "virt-1")}
    rec = StateRecorder(world.broker, ["virt-0", "virt-1"])
    try:
        rc, rep = rollout(world.broker, pack, fleet, URL, "--waves", "1,50%,100%", "--timeout", "120")
        time.sleep(1.5)         # a repeated final state would come within the 1 s check period
    finally:
        rec.close()
    assert rc == 0 and rep["ok"], rep
    assert [w["boards"] for w in rep["waves"]] == [1, 4, 5]
    assert set(outcomes(rep).values()) == {"done"}, outcomes(rep)
    assert rep["boards"]["virt-0"]["wave"] == 1 and rep["boards"]["virt-1"]["wave"] == 3
    states, jobs = retained(world.broker)
    for bid in fleet:
        st = states[bid]
        assert (st["state"], st["result"], st["seq"], st["job"]) == ("idle", "success", 1, 1), st
        assert st["classes"]["uart"] == 2 and json.loads(jobs[bid]) == rep["job"]
        assert len(world.server.lines(ua=f"lukos/{bid}" if bid.startswith("virt")
                                      else f"lukos-simboard/{bid}")) == 1
    for bid, mark in marks.items():
        b = world.boards[bid]
        assert b.status()["classes"]["uart"] == 2
        b.wait_line(r"\] h\d+ update: committed class=uart version=2 ", mark)
        # One state message per step, nothing else.
        assert rec.states(bid) == ["downloading", "downloaded", "updating", "idle"], rec.msgs[bid]
        check_no_trouble(b)


def test_failing_wave_stops_the_rollout(world):
    pack = world.packs[("qemu-virt", "gap")]          # uart 5->6, seq 7: the engine refuses
    before = {bid: world.boards[bid].status() for bid in ("virt-0", "virt-1")}
    mark1 = world.boards["virt-1"].mark()
    fleet = ["virt-0", "virt-1"] + SIMS
    rc, rep = rollout(world.broker, pack, fleet, URL, "--waves", "1,100%", "--max-failed", "0",
                      "--timeout", "60")
    assert rc == 1 and not rep["ok"] and rep["stopped_at_wave"] == 1, rep
    r = rep["boards"]["virt-0"]
    assert (r["outcome"], r["result"], r["reason"], r["seq"], r["job"]) == (
        "failed", "unsupported-package", "gap", 1, 7), r
    assert all(outcomes(rep)[b] == "untouched" for b in fleet[1:])
    states, jobs = retained(world.broker)
    assert json.loads(jobs["virt-1"])["seq"] == 1         # still the last rollout's job
    assert states["virt-1"]["job"] == 1
    for bid in ("virt-0", "virt-1"):
        st = world.boards[bid].status()
        assert (st["classes"], st["seq"]) == (before[bid]["classes"], before[bid]["seq"])
    assert not world.boards["virt-1"].lines(r"\] h\d+ (mqtt: job|ota: fetching) ", mark1)


def test_dropped_download_resumes(world):
    b = world.boards["virt-1"]
    pack = world.packs[("qemu-virt", "counter-v2")]   # seq 2, counter 1->2
    size = os.path.getsize(pack)
    assert size > 5000
    mark = b.mark()
    rc, rep = rollout(world.broker, pack, ["virt-1"], URL_DROP, "--waves", "100%", "--timeout", "90")
    assert rc == 0 and outcomes(rep) == {"virt-1": "done"}, rep
    got = world.drop.lines(ua="lukos/virt-1")
    assert len(got) == 2, got
    assert re.search(r'"GET /virt-counter-v2.itb HTTP/1.1" 200 5000 range=- ', got[0]), got
    assert re.search(rf'" 206 {size - 5000} range=bytes=5000- ', got[1]), got
    b.wait_line(rf"\] h\d+ ota: fetch interrupted reason=closed have=5000 of {size} try=1 ", mark)
    b.wait_line(r"\] h\d+ ota: fetch resuming from=5000 try=2$", mark)
    b.wait_line(rf"\] h\d+ ota: fetched bytes={size} requests=2 ", mark)
    b.wait_line(r"\] h\d+ ota: result=ok source=mqtt$", mark)
    assert b.status()["classes"]["counter"] == 2


def test_broker_restart_mid_rollout(world):
    b = world.boards["virt-0"]
    pack = world.packs[("qemu-virt", "counter-v2")]   # seq 2; virt-0 is at seq 1
    fleet = ["virt-0"] + SIMS
    mark = b.mark()
    gets = len(world.server.lines(ua="lukos/virt-0"))
    import subprocess
    from ota_checks import PYTHON
    p = subprocess.Popen([PYTHON, ota_checks.OTA_PY, "rollout", "--broker", world.broker.addr, pack,
                          "--boards", ",".join(fleet), "--url-base", URL, "--waves", "1,100%",
                          "--timeout", "90", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The real board took its job: the broker dies (nothing saved) while it downloads or applies.
        b.wait_line(r"\] h\d+ mqtt: job seq=2 ", mark, timeout=60)
        world.broker.restart(down=1.0, hard=True)
        out, err = p.communicate(timeout=150)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, out + err
    rep = json.loads(out)
    assert rep["broker_connects"] >= 2 and set(outcomes(rep).values()) == {"done"}, rep
    lost = b.wait_line(r"\] h\d+ mqtt: lost reason=\S+ ", mark)
    again = b.wait_line(r"\] h\d+ mqtt: connected broker=10.0.2.100:1883 id=virt-0 ", lost.index)
    b.wait_line(r"\] h\d+ mqtt: subscribed ", again.index)
    # The retained job came back after the restart (the rollout wrote it again): ignored.
    b.wait_line(r"\] h\d+ mqtt: job unchanged: ignored retained=[01]$", again.index)
    assert len(world.server.lines(ua="lukos/virt-0")) == gets + 1
    assert len(b.lines(r"\] h\d+ ota: result=ok source=mqtt$", mark)) == 1
    st = settled(world, "virt-0", 2)
    assert (st["seq"], st["result"], st["classes"]["counter"]) == (2, "success", 2), st
    check_no_trouble(b)


def test_bad_jobs_are_refused_and_change_nothing(world):
    b = world.boards["virt-1"]                        # seq 2: uart 2, counter 2
    good = world.packs[("qemu-virt", "counter-v3")]   # seq 4, counter 2->3
    tampered = world.packs[("qemu-virt", "tampered")]  # seq 17, signature broken
    info = {p: {"size": os.path.getsize(p), "sha256": __import__("hashlib").sha256(
        open(p, "rb").read()).hexdigest()} for p in (good, tampered)}
    job = {"seq": 4, "url": URL + "virt-counter-v3.itb", **info[good]}
    cases = [
        ("garbage", b"{not json", "unsupported-package", "bad-job", 2),
        ("types", json.dumps(dict(job, seq="4")), "unsupported-package", "bad-job", 2),
        ("replay", json.dumps(dict(job, seq=2)), "unsupported-package", "replay", 2),
        ("scheme", json.dumps(dict(job, url="ftp://10.0.2.100/x.itb")), "invalid-uri", "bad-url", 4),
        ("name", json.dumps(dict(job, url="http://packs.example:8000/x.itb")), "invalid-uri",
         "bad-url", 4),
        ("big", json.dumps(dict(job, size=5 << 20)), "not-enough-flash", "too-large", 4),
        ("size", json.dumps(dict(job, size=job["size"] - 1)), "integrity-failure",
         "size-mismatch", 4),
        ("hash", json.dumps(dict(job, sha256="0" * 64)), "integrity-failure", "sha256-mismatch", 4),
        ("404", json.dumps(dict(job, url=URL + "nosuch.itb")), "invalid-uri", "http-404", 4),
        ("signature", json.dumps(dict(job, seq=17, url=URL + "virt-tampered.itb", **info[tampered])),
         "integrity-failure", "integrity", 17),
    ]
    before = b.status()
    mark = b.mark()
    rejected = r"\] h\d+ ota: rejected reason="
    for i, (name, payload, result, reason, jobseq) in enumerate(cases):
        publish(world.broker, "lukos/virt-1/job", payload)
        # One refusal line per case: then its state message is the one to look at.
        wait_for(lambda: len(b.lines(rejected, mark)) == i + 1, 30, f"the refusal of {name}")
        st = wait_for(lambda: (lambda s: s if s and s["state"] == "idle" and s["reason"] == reason
                               and s["job"] == jobseq else None)(board_state(world, "virt-1")),
                      30, f"the board's answer to {name}")
        assert b.lines(rejected + re.escape(reason) + " ", mark)[-1].index >= 0
        assert st["result"] == result, (name, st)
        assert st["result_code"] == ota_checks.LWM2M_CODE.get(result, 7), (name, st)
        assert (st["seq"], st["classes"]) == (before["seq"], before["classes"]), (name, st)
    assert len(b.lines(rejected, mark)) == len(cases)
    http = b.status()
    assert (http["seq"], http["classes"]) == (before["seq"], before["classes"])
    assert not b.lines(r"\] h\d+ update: (applied|committed) ", mark)
    assert b.lines(r"\] h\d+ ota: rejected reason=integrity ", mark)   # the engine's refusal
    # A good job after all that applies.
    publish(world.broker, "lukos/virt-1/job", json.dumps(job))
    st = settled(world, "virt-1", 4)
    assert (st["result"], st["seq"], st["classes"]["counter"]) == ("success", 4, 3), st
    check_no_trouble(b)


def test_retained_job_after_a_reboot(world, qemu):
    """A board whose journal kept the update finds the same job retained when it
    comes back: it notes it (job = its seq) without fetching or refusing it."""
    from kernel_qemu import make_state_image
    img = make_state_image("qemu-virt", str(world.tmp / "virt-2.img"))
    b = boot_board(qemu, "qemu-virt", 2, "virt-2", world.broker, (world.server.port, world.drop.port),
                   120, "mqtt-virt-2", state=img, args="mqtt_keepalive=4")
    try:
        pack = world.packs[("qemu-virt", "counter-v2")]
        rc, rep = rollout(world.broker, pack, ["virt-2"], URL, "--waves", "100%", "--timeout", "90")
        assert rc == 0 and outcomes(rep) == {"virt-2": "done"}, rep
        b.wait_line(r"\] h\d+ journal: committed seq=2$")
        mark = b.mark()
        b.qemu.send("reboot\n")
        b.wait_line(r"\] h\d+ journal: ready packs=1 seq=2 ", mark, timeout=60)
        b.wait_line(r"\] h\d+ mqtt: subscribed ", mark, timeout=60)
        b.wait_line(r"\] h\d+ mqtt: job seq=2 already in \(seq=2\): nothing to do$", mark)
        st = settled(world, "virt-2", 2)
        assert (st["seq"], st["result"], st["reason"], st["classes"]["counter"]) == (
            2, "success", "ok", 2), st
        assert len(world.server.lines(ua="lukos/virt-2")) == 1
        assert not b.lines(r"\] h\d+ ota: (fetching|rejected) ", mark)
        silent_broker(world, b)
        check_no_trouble(b)
    finally:
        b.halt()


def silent_broker(world, b):
    """A broker that stops answering without closing anything (SIGSTOP): the
    board's keep-alive (4 s here) notices, its next CONNECT gets no CONNACK
    (the host's TCP still accepts), and once the broker answers again the
    board is back with its state."""
    import signal
    mark = b.mark()
    b.wait_line(r"\] h\d+ mqtt: subscribed ", 0)
    world.broker.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        lost = b.wait_line(r"\] h\d+ mqtt: lost reason=keepalive ", mark, timeout=30)
        assert time.monotonic() - t0 < 15
        b.wait_line(r"\] h\d+ mqtt: lost reason=connack-timeout ", lost.index, timeout=40)
    finally:
        world.broker.proc.send_signal(signal.SIGCONT)
    back = b.wait_line(r"\] h\d+ mqtt: connected broker=10.0.2.100:1883 id=virt-2 ", mark, timeout=40)
    b.wait_line(r"\] h\d+ mqtt: subscribed ", back.index)
    st = settled(world, "virt-2", 2)
    assert (st["seq"], st["classes"]["counter"]) == (2, 2), st


def test_boot_arguments(world, qemu):
    """A bad id falls back to the MAC's; a bad mqtt= turns pulling off, nothing else."""
    from mqtt_checks import mqtt_net
    from ota_checks import free_port
    net = mqtt_net("qemu-virt", free_port(), world.broker.port, (world.server.port, world.drop.port))
    q = qemu("qemu-virt", 1, args="shutdown=30 workload=off mqtt=10.0.2.100:1883 id=a/b",
             extra_args=net, hard_timeout=60, name="mqtt-badid")
    q.wait_for(r"\] h\d+ mqtt: bad id=a/b \(1 to 63 of letters, digits, _ \. : -\): using the MAC$",
               timeout=60, start=0, advance=False)
    q.wait_for(r"\] h\d+ mqtt: subscribed topic=lukos/lukos-525400123456/job qos=1$", timeout=60,
               start=0, advance=False)
    assert board_state(world, "lukos-525400123456")["state"] == "idle"
    q.send("halt\n")
    q.wait_exit(timeout=20)
    q = qemu("qemu-virt", 1, args="shutdown=30 workload=off mqtt=nohost:1883 id=b",
             extra_args=net, hard_timeout=60, name="mqtt-badbroker")
    q.wait_for(r"\] h\d+ mqtt: bad mqtt=nohost:1883 \(want <a.b.c.d>:<port>\): pull updates off$",
               timeout=60, start=0, advance=False)
    q.wait_for(r"\] h\d+ boot: ready ", timeout=60, start=0, advance=False)
    q.send("halt\n")
    q.wait_exit(timeout=20)
    assert not q.find(r"\] h\d+ mqtt: (starting|connected|lost) ")


def test_will_when_a_board_goes_away(world):
    b = world.boards["sifive-0"]
    b.halt()
    assert not b.qemu.running
    st = wait_for(lambda: board_state(world, "sifive-0") == {"state": "offline"} or None, 20,
                  "the last will")
    assert st
