"""Pull updates over MQTT, host side: `ota.py rollout --broker`, `ota.py fleet`,
`ota.py serve` and the simulated boards (ota-server/simboard.py), against a
real mosquitto (conftest.py starts one per session on a random port).

Run: make fleet-test, or /usr/bin/python3 -m pytest -q test/fleet
The boards here are simulated; the same contract against QEMU boards is
tested in test/qemu once the kernel has its MQTT client (issue 10).
"""
import json
import re
import subprocess
import time

import pytest

import ota as otatool
from broker import free_port
from conftest import OTA, PY, ota, ota_json, publish, retained, sim_stats, stop, wait_for


def rollout(broker, pack, boards, server, *args, check=0, timeout=90):
    return ota_json("rollout", "--broker", broker.addr, pack, "--boards", ",".join(boards),
                    "--url-base", server.url, *args, check=check, timeout=timeout)


def outcomes(report):
    return {b: r["outcome"] for b, r in report["boards"].items()}


def get_lines(server, board):
    return [l for l in server.lines() if 'ua="lukos-simboard/%s"' % board in l]


# --- rollouts -------------------------------------------------------------------------------

def test_rollout_completes(broker, server, make_pack, sims, ids):
    boards = ids(20)
    pack = make_pack("complete.itb", seq=3)
    sims.start(boards, "--apply-delay", "0.1")
    rep = rollout(broker, pack, boards, server)
    assert rep["ok"] and rep["stopped_at_wave"] is None
    assert [w["boards"] for w in rep["waves"]] == [1, 1, 8, 10]     # 1, 10%, 50%, 100% of 20
    assert all(w["passed"] for w in rep["waves"])
    assert set(outcomes(rep).values()) == {"done"}
    job = rep["job"]
    assert job["seq"] == 3 and job["url"] == server.url + "complete.itb"
    states, jobs = retained(broker)
    for b in boards:
        assert json.loads(jobs[b]) == job
        st = states[b]
        assert (st["state"], st["result"], st["seq"], st["job"]) == ("idle", "success", 3, 3)
        assert st["classes"]["counter"] == 2
        # each board made its own request and got the whole pack
        reqs = get_lines(server, b)
        assert len(reqs) == 1 and " 200 %d " % job["size"] in reqs[0], reqs


def test_rollout_again_changes_nothing(broker, server, make_pack, sims, ids):
    boards = ids(4)
    pack = make_pack("again.itb", seq=2)
    sims.start(boards, "--apply-delay", "0")
    rollout(broker, pack, boards, server, "--waves", "100%")
    before = len(server.lines())
    rep = rollout(broker, pack, boards, server, "--waves", "100%")
    assert rep["ok"] and set(outcomes(rep).values()) == {"already"}
    assert len(server.lines()) == before         # nobody fetched again


def test_failing_wave_stops_and_leaves_the_rest_untouched(broker, server, make_pack, sims, ids):
    boards = ids(12)
    pack = make_pack("failing.itb", seq=4)
    # waves: 1 | 4 (boards 1..4, two of them fail) | 7
    proc = sims.start(boards, "--apply-delay", "0.05", "--fail-ids", ",".join(boards[2:4]))
    rep = rollout(broker, pack, boards, server, "--waves", "1,5,100%", "--max-failed", "1", check=1)
    assert not rep["ok"] and rep["stopped_at_wave"] == 2
    w2 = rep["waves"][1]
    assert w2["counts"]["failed"] == 2 and w2["budget"] == 1 and w2["passed"] is False
    out = outcomes(rep)
    assert [out[b] for b in boards[:5]] == ["done", "done", "failed", "failed", "done"]
    assert all(out[b] == "untouched" for b in boards[5:])
    for b in boards[2:4]:
        r = rep["boards"][b]
        assert (r["result"], r["reason"], r["seq"]) == ("update-failed", "rolled-back", 0)
    states, jobs = retained(broker)
    for b in boards[5:]:
        assert b not in jobs, "a board of a later wave got a job"
        assert states[b]["job"] == 0 and states[b]["seq"] == 0
    stats = sim_stats(proc)
    assert stats["jobs"] == 5


def test_budget_as_percentage_lets_a_wave_pass(broker, server, make_pack, sims, ids):
    boards = ids(10)
    pack = make_pack("percent.itb", seq=4)
    sims.start(boards, "--apply-delay", "0", "--fail-ids", boards[5])
    rep = rollout(broker, pack, boards, server, "--waves", "100%", "--max-failed", "10%")
    assert rep["ok"] and rep["waves"][0]["budget"] == 1
    assert rep["totals"] == {"done": 9, "failed": 1}


def test_offline_boards_are_reported_not_counted(broker, server, make_pack, sims, ids):
    live, gone, never = ids(4), ids(2, "gone"), ids(2, "never")
    pack = make_pack("offline.itb", seq=6)
    sims.start(live, "--apply-delay", "0")
    doomed = sims.start(gone)
    stop(doomed)        # SIGTERM: the boards drop their connections, the broker publishes their wills
    wait_for(lambda: all(retained(broker)[0].get(b) == {"state": "offline"} for b in gone), 10, "wills")
    rep = rollout(broker, pack, live + gone + never, server, "--waves", "2,100%")
    assert rep["ok"]
    out = outcomes(rep)
    assert all(out[b] == "done" for b in live)
    assert all(out[b] == "offline" for b in gone + never)
    assert rep["totals"]["offline"] == 4
    # their jobs wait on the broker for when they come back
    states, jobs = retained(broker)
    assert all(json.loads(jobs[b])["seq"] == 6 for b in gone + never)
    sims.start(gone, "--apply-delay", "0")
    wait_for(lambda: all(retained(broker)[0][b].get("seq") == 6 for b in gone), 15, "late boards")


def test_board_lost_during_update_counts_as_failure(broker, server, make_pack, sims, ids):
    boards = ids(3)
    pack = make_pack("lost.itb", seq=2)
    sims.start(boards, "--apply-delay", "0", "--crash-ids", boards[1])
    rep = rollout(broker, pack, boards, server, "--waves", "100%", "--timeout", "5", check=1)
    assert outcomes(rep) == {boards[0]: "done", boards[1]: "lost", boards[2]: "done"}
    assert rep["waves"][0]["counts"]["lost"] == 1


def test_dropped_download_resumes_with_range(broker, make_server, make_pack, sims, ids):
    srv = make_server(drop_after=5000)
    board = ids(1)
    pack = make_pack("resume.itb", seq=2, body_kib=16)
    proc = sims.start(board, "--apply-delay", "0")
    rep = rollout(broker, pack, board, srv, "--waves", "100%")
    assert rep["ok"] and outcomes(rep) == {board[0]: "done"}
    size = rep["job"]["size"]
    reqs = get_lines(srv, board[0])
    assert len(reqs) == 2, reqs
    assert re.search(r'"GET /resume.itb HTTP/1.1" 200 5000 range=- ', reqs[0]), reqs
    assert re.search(r'" 206 %d range=bytes=5000- ' % (size - 5000), reqs[1]), reqs
    assert sim_stats(proc)["resumes"] == 1


def test_broker_restart_mid_rollout(broker, server, make_pack, sims, ids):
    boards = ids(8)
    pack = make_pack("restart.itb", seq=9)
    sims.start(boards, "--apply-delay", "2.0", "--jitter", "0")
    p = subprocess.Popen([PY, OTA, "rollout", "--broker", broker.addr, pack, "--boards", ",".join(boards),
                          "--url-base", server.url, "--waves", "2,100%", "--timeout", "40", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wave 1's boards are applying (2 s) when the broker dies, without saving anything
        wait_for(lambda: len(server.lines()) and any("/restart.itb" in l for l in server.lines()), 10,
                 "the first download")
        time.sleep(0.5)
        broker.restart(down=1.0, hard=True)
        out, err = p.communicate(timeout=60)
    finally:
        stop(p)
    assert p.returncode == 0, out + err
    rep = json.loads(out)
    assert rep["broker_connects"] >= 2          # it did lose the broker, and came back
    assert set(outcomes(rep).values()) == {"done"}
    states, jobs = retained(broker)
    assert all(states[b]["seq"] == 9 and json.loads(jobs[b])["seq"] == 9 for b in boards)


# --- bad jobs ------------------------------------------------------------------------------------

def test_bad_jobs_are_refused_and_change_nothing(broker, server, make_pack, sims, ids):
    pack = make_pack("good.itb", seq=7)
    gap = make_pack("gap.itb", seq=8, steps=(("counter", 2, 3),))
    info = otatool.pack_info(pack)
    good = {"seq": 7, "url": server.url + "good.itb", "size": info["size"], "sha256": info["sha256"]}
    gap_info = otatool.pack_info(gap)
    cases = {
        "garbage": (b"{not json", "unsupported-package", "bad-job"),
        "fields": (json.dumps({"seq": "7", "url": good["url"]}), "unsupported-package", "bad-job"),
        "replay": (json.dumps(dict(good, seq=5)), "unsupported-package", "replay"),
        "url": (json.dumps(dict(good, url="ftp://127.0.0.1/good.itb")), "invalid-uri", "bad-url"),
        "big": (json.dumps(dict(good, size=5 << 20)), "not-enough-flash", "too-large"),
        "hash": (json.dumps(dict(good, sha256="0" * 64)), "integrity-failure", "sha256-mismatch"),
        "size": (json.dumps(dict(good, size=good["size"] - 1)), "integrity-failure", "size-mismatch"),
        "404": (json.dumps(dict(good, url=server.url + "nosuch.itb")), "invalid-uri", "http-404"),
        "gap": (json.dumps(dict(good, seq=8, url=server.url + "gap.itb", size=gap_info["size"],
                                sha256=gap_info["sha256"])), "unsupported-package", "gap"),
    }
    boards = {k: b for k, b in zip(cases, ids(len(cases)))}
    sims.start(list(boards.values()), "--seq", "5", "--apply-delay", "0")
    before = retained(broker)[0]
    for k, (payload, _, _) in cases.items():
        publish(broker, "lukos/%s/job" % boards[k], payload)

    def settled():
        st = retained(broker)[0]
        return st if all(st[b].get("reason") != "none" for b in boards.values()) else None
    states = wait_for(settled, 20, "every board's answer")
    for k, (_, result, reason) in cases.items():
        st, old = states[boards[k]], before[boards[k]]
        assert (st["state"], st["result"], st["reason"]) == ("idle", result, reason), (k, st)
        assert st["seq"] == 5 and st["classes"] == old["classes"], (k, st)
        assert st["result_code"] == ["initial", "success", "not-enough-flash", "out-of-memory",
                                     "connection-lost", "integrity-failure", "unsupported-package",
                                     "invalid-uri", "update-failed"].index(result)
    assert states[boards["garbage"]]["job"] == 0        # no seq to report
    assert states[boards["hash"]]["job"] == 7
    # a board that refused a job takes the next good one
    publish(broker, "lukos/%s/job" % boards["hash"], json.dumps(good))
    st = wait_for(lambda: retained(broker)[0][boards["hash"]].get("result") == "success" and
                  retained(broker)[0][boards["hash"]], 10, "the good job")
    assert st["seq"] == 7 and st["classes"]["counter"] == 2


# --- fleet -----------------------------------------------------------------------------------------

def test_fleet_lists_boards(broker, sims, ids):
    up, down = ids(3), ids(1, "down")
    sims.start(up, "--seq", "2")
    stop(sims.start(down))
    wait_for(lambda: retained(broker)[0].get(down[0]) == {"state": "offline"}, 10, "the will")
    rep = ota_json("fleet", "--broker", broker.addr)
    mine = {b: s for b, s in rep["boards"].items() if b in up + down}
    assert set(mine) == set(up + down)
    assert all(mine[b]["seq"] == 2 and mine[b]["state"] == "idle" for b in up)
    assert mine[down[0]] == {"state": "offline"}
    r = ota("fleet", "--broker", broker.addr, check=0)
    for b in up:
        assert re.search(r"^%s\s+idle\s+2\s+0\s+initial" % b, r.stdout, re.M), r.stdout
    assert re.search(r"^%s\s+offline" % down[0], r.stdout, re.M)
    assert re.search(r"\d+ boards, \d+ online, \d+ offline", r.stdout)


def test_plain_output_shows_progress_lines(broker, server, make_pack, sims, ids):
    boards = ids(3)
    pack = make_pack("plain.itb", seq=1)
    sims.start(boards, "--apply-delay", "0")
    r = ota("rollout", "--broker", broker.addr, pack, "--boards", ",".join(boards),
            "--url-base", server.url, check=0)
    assert re.search(r"^wave 3/3: 1 boards, 1 done, 0 failed, 0 in progress, 0 offline", r.stdout, re.M)
    assert "rollout complete" in r.stdout and "3 done" in r.stdout


def test_unreachable_broker_exits_1(make_pack):
    pack = make_pack("nobroker.itb", seq=1)
    r = ota("rollout", "--broker", "127.0.0.1:%d" % free_port(), pack, "--boards", "a", check=1)
    assert "cannot reach the broker" in r.stderr and "Traceback" not in r.stderr
    r = ota("fleet", "--broker", "127.0.0.1:%d" % free_port(), check=1)
    assert "cannot reach the broker" in r.stderr


@pytest.mark.parametrize("args,words", [
    (["--broker", "127.0.0.1:1", "--boards", "a", "--first", "2"], "--first is for push rollouts"),
    (["--boards", "127.0.0.1:8080", "--waves", "1,100%"], "--waves needs --broker"),
    (["--boards", "127.0.0.1:8080", "--max-failed", "1"], "--max-failed needs --broker"),
    (["--broker", "127.0.0.1:1", "--boards", "a,b,c,d", "--waves", "50%,10%"], "waves must grow"),
    (["--broker", "127.0.0.1:1", "--boards", "a", "--waves", "x"], "bad wave"),
    (["--broker", "127.0.0.1:1", "--boards", "a", "--max-failed", "many"], "bad --max-failed"),
    (["--broker", "127.0.0.1:1", "--boards", "a/b"], "bad board id"),
    (["--broker", "127.0.0.1:1", "--boards", "a+"], "bad board id"),
    (["--broker", "127.0.0.1:1"], "no boards"),
    (["--boards", "127.0.0.1:8080,nope"], "want HOST:PORT"),
    (["--broker", "nohost", "--boards", "a"], "want HOST:PORT"),
])
def test_rollout_argument_errors_exit_2(make_pack, args, words):
    r = ota("rollout", make_pack("args.itb", seq=1), *args, check=2)
    assert words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("cmd", ["fleet", "serve", "rollout"])
def test_help(cmd):
    r = ota(cmd, "--help", check=0)
    assert r.stdout.startswith("usage: ota.py %s" % cmd)


def test_serve_errors(tmp_path, server):
    r = ota("serve", tmp_path / "nosuch", check=2)
    assert "no such folder" in r.stderr
    r = ota("serve", tmp_path, "--port", server.port, check=1)     # the port is taken
    assert "cannot serve on 127.0.0.1:%d" % server.port in r.stderr and "Traceback" not in r.stderr
