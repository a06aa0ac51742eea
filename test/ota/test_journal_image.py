"""The host's journal reader (ota-server/journal_image.py, `ota.py journal`)
against images written by the kernel's own journal code (update/journal.c,
compiled for the host by test/ota/journal_writer.c): two implementations
of one format must agree, and the tests that craft images with
journal_image.build_image() rely on it."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "ota-server"))
import journal_image  # noqa: E402

OTA = os.path.join(REPO, "ota-server", "ota.py")
PY = "/usr/bin/python3"
SIZE = 256 * 1024


@pytest.fixture(scope="module")
def writer(tmp_path_factory):
    exe = tmp_path_factory.mktemp("jw") / "journal_writer"
    subprocess.run(["gcc", "-std=gnu11", "-O1", "-Wall", "-Werror", "-I" + os.path.join(REPO, "include"),
                    "-o", str(exe), os.path.join(HERE, "journal_writer.c")] +
                   [os.path.join(REPO, "update", f) for f in
                    ("journal.c", "journal_open.c", "journal_gc.c")], check=True)

    def write(path, *ops, size=SIZE):
        subprocess.run([str(exe), str(path), str(size), *ops], check=True)
        return open(path, "rb").read()
    return write


def pack_bytes(seq, n):
    return bytes((seq + k) & 255 for k in range(n))


def test_reader_agrees_with_the_kernel(writer, tmp_path):
    img = writer(tmp_path / "j.img", "store:3:1000", "commit:3", "store:5:20000",
                 "rollback:5:fault", "store:7:333", "state:8:rolled-back")
    j = journal_image.Journal(img)
    assert j.valid and j.floor == 7
    es = {e["seq"]: e for e in j.summary()["entries"]}
    assert es[3]["status"] == "committed" and es[3]["size"] == 1000
    assert es[5]["status"] == "rolled-back" and es[5]["reason"] == "fault"
    assert es[7]["status"] == "pending"
    assert j.entries[3]["pack"] == pack_bytes(3, 1000)
    assert j.summary()["lwm2m"] == {"state": 0, "result": 8, "reason": "rolled-back"}


def test_reader_follows_compaction(writer, tmp_path):
    # Enough rolled-back packs that the ring wraps and compaction moves the live ones.
    ops = ["store:1:9000", "commit:1"]
    for s in range(2, 60):
        ops += ["store:%d:9000" % s, "rollback:%d:fault" % s]
    ops += ["reopen", "store:60:500", "commit:60"]
    img = writer(tmp_path / "c.img", *ops)
    j = journal_image.Journal(img)
    live = {e["seq"]: e["status"] for e in j.summary()["entries"] if e["status"] != "rolled-back"}
    assert live == {1: "committed", 60: "committed"}
    assert j.floor == 60
    assert j.entries[1]["pack"] == pack_bytes(1, 9000)


def test_built_image_reads_back(tmp_path):
    img = journal_image.build_image(SIZE, [(4, b"abc" * 100, "committed"),
                                           (6, b"x" * 50, "rolled-back", "selftest"),
                                           (9, b"y" * 10, "pending")])
    j = journal_image.Journal(img)
    st = {e["seq"]: (e["status"], e["reason"]) for e in j.summary()["entries"]}
    assert st == {4: ("committed", ""), 6: ("rolled-back", "selftest"), 9: ("pending", "")}
    assert j.floor == 9


def test_ota_journal_command(writer, tmp_path):
    path = tmp_path / "s.img"
    writer(path, "store:3:100", "commit:3", "store:4:100", "rollback:4:interrupted")
    r = subprocess.run([PY, OTA, "journal", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "floor 4, 2 entries" in r.stdout
    assert "interrupted" in r.stdout and "committed" in r.stdout
    r = subprocess.run([PY, OTA, "journal", str(path), "--json"], capture_output=True, text=True)
    doc = json.loads(r.stdout)
    assert [e["seq"] for e in doc["entries"]] == [3, 4]
    garbage = tmp_path / "g.img"
    garbage.write_bytes(os.urandom(SIZE))
    r = subprocess.run([PY, OTA, "journal", str(garbage)], capture_output=True, text=True)
    assert r.returncode == 1 and "no valid journal" in r.stdout
