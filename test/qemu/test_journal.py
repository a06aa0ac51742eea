"""Durable updates (update/journal.c, update/persist.c) on real QEMU boards
with a state device: a virtio-blk disk on qemu-virt, the SPI NOR flash on
sifive_u (test/qemu/kernel_qemu.py, `state=`).

  reboot      two packs, then `reboot` (or SIGKILL and boot again): the same
              versions and seq come back, an old pack is refused, the next
              one applies, heartbeats match
  kill        QEMU is killed (SIGKILL, the process itself) at each moment of
              a push: receiving, verified, stored, applied, committed...;
              the next boot shows the old or the new versions, never a mix,
              and the floor never goes down
  replay      a pack whose replay faults is rolled back and marked, and never
              replayed again; one that panics or hangs the boot sends the
              board into safe mode after three failed boots, where a fix
              can still be pushed
  storage     random bytes, a truncated image, a record of a pack signed with
              another key: refused with a clear line, the board boots
  limits      a pack the journal cannot hold: 507, not-enough-flash, nothing
              changes; `journal erase` forgets updates, never the floor
Every run ends itself (hard timeout) or is killed by the test.
"""
import os
import re
import threading
import time

import pytest

from kernel_qemu import make_state_image
from ota_checks import (Agent, check_all_heartbeats, check_no_trouble, curl_put, ensure_built,
                        free_port, http_get_status, pack_path, user_net, wait_agent_up,
                        wait_status)

import sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "ota-server"))
import journal_image  # noqa: E402

VIRT = "qemu-virt"
SIFIVE = "hifive-unleashed"
BOOT_GOOD = r"\] h\d+ journal: boot good "

# QEMU's SPI NOR model (m25p80) writes its image file with asynchronous I/O
# after the guest already saw the program or erase complete, so a SIGKILL
# a few milliseconds after a write may drop it: the emulated flash, unlike
# a real chip, is not durable at once. On sifive_u a kill right behind the
# commit record may therefore lose it (the board must then roll the update
# back cleanly); a kill 0.3 s later must find it. virtio-blk completes a
# FLUSH only after QEMU's fdatasync, so there it is checked at once.
ASYNC_FLASH = {SIFIVE}


# Shorter probation and boot-good delay than the defaults (1.5 s, 2 s): the
# tests boot dozens of times.
FAST = "probation_ms=500 boot_good_ms=300"


def boot(qemu, board, img, args=FAST, hard_timeout=150, good=True):
    """Boots `board` on state image `img` with its agent on a free port."""
    ensure_built(board)
    port = free_port()
    q = qemu(board, args=args, extra_args=user_net(board, port), state=str(img),
             hard_timeout=hard_timeout)
    wait_agent_up(q, port, timeout=60)
    a = Agent(q, board, port)
    if good:
        a.wait_line(BOOT_GOOD, 0, timeout=30)
    return a


def push(a, name, want=200):
    code, js = curl_put(a.port, pack_path(a.board, name))
    assert code == want, f"PUT {name}: HTTP {code} {js}"
    return js


def journal_lines(a, since=0):
    return [h.line for h in a.lines(r"\] h\d+ journal: ", since)]


def fresh(board, tmp_path, name="state.img"):
    return make_state_image(board, str(tmp_path / name))


# --- reboot ---------------------------------------------------------------


def test_reboot_keeps_updates_and_refuses_replays(qemu, tmp_path):
    a = boot(qemu, VIRT, fresh(VIRT, tmp_path))
    assert a.lines(r"journal: formatted .*why=\"blank\"")
    push(a, "uart-v2")
    push(a, "counter-v2")
    st = a.status()
    assert (st["classes"]["uart"], st["classes"]["counter"], st["seq"]) == (2, 2, 2)
    assert st["persistent"] and st["journal"]["committed"] == 2
    mark = a.mark()
    a.qemu.send("reboot\n")
    a.wait_line(r"\] h\d+ boot: kernel ", mark, timeout=30)
    a.wait_line(r"\] h\d+ journal: ready packs=2 seq=2 ", mark, timeout=60)
    assert len(a.lines(r"journal: replayed seq=[12] ", mark)) == 2
    a.wait_line(BOOT_GOOD, mark, timeout=30)
    st = wait_status(a.port, lambda s: s["seq"] == 2, timeout=30)
    assert (st["classes"]["uart"], st["classes"]["counter"]) == (2, 2)
    # The old packs are replays now; the next one in the chain applies.
    js = push(a, "counter-v2", want=422)
    assert js["reason"] == "replay", js
    push(a, "counter-v3")
    st = a.status()
    assert (st["classes"]["counter"], st["seq"]) == (3, 4)
    a.next_heartbeat(a.mark())
    check_all_heartbeats(a, since=mark)
    check_no_trouble(a)


@pytest.mark.parametrize("board", [VIRT, SIFIVE])
def test_killed_board_boots_with_the_same_state(qemu, tmp_path, board):
    img = fresh(board, tmp_path)
    a = boot(qemu, board, img)
    push(a, "counter-v2")
    push(a, "counter-v3")
    if board in ASYNC_FLASH:
        time.sleep(0.5)     # the emulated flash writes its file a little later
    a.qemu.kill()
    b = boot(qemu, board, img)
    b.wait_line(r"journal: ready packs=2 seq=4 ", 0)
    st = b.status()
    assert (st["classes"]["counter"], st["seq"]) == (3, 4)
    assert push(b, "counter-v3", want=422)["reason"] == "replay"
    assert push(b, "counter-v2", want=422)["reason"] == "replay"
    b.next_heartbeat(b.mark())
    check_all_heartbeats(b)
    check_no_trouble(b)


# --- kill at every moment of an update -------------------------------------------

MOMENTS = [
    ("receiving", r"ota: receiving bytes="),
    ("verified", r"ota: verified seq=4 "),
    ("stored", r"journal: stored seq=4 "),
    ("applied", r"update: applied class=counter from=2 to=3 "),
    ("probation", r"update: applied class=counter from=2 to=3 ", 0.25),
    ("committing", r"update: committed class=counter version=3 "),
    ("committed", r"journal: committed seq=4$"),
    ("after", r"journal: committed seq=4$", 0.3),
]



def kill_at(a, pattern, delay=0.0):
    """Pushes counter-v3 (seq 4) and SIGKILLs QEMU when `pattern` shows up."""
    since = a.mark()
    t = threading.Thread(target=lambda: _quiet_push(a), daemon=True)
    t.start()
    a.wait_line(pattern, since, timeout=60)
    if delay:
        time.sleep(delay)
    a.qemu.kill()
    t.join(timeout=30)
    seen = lambda p: bool(a.lines(p, since))  # noqa: E731
    return seen(r"journal: stored seq=4 "), seen(r"journal: committed seq=4$")


def _quiet_push(a):
    try:
        curl_put(a.port, pack_path(a.board, "counter-v3"), timeout=30)
    except AssertionError:
        pass            # the board died under it: that is the point


# sifive_u boots slower: a subset of the moments there, one of each kind.
SIFIVE_MOMENTS = ("verified", "stored", "probation", "committed", "after")


@pytest.mark.parametrize("board", [VIRT, SIFIVE])
def test_kill_at_every_moment(qemu, tmp_path, board):
    for name, pattern, *delay in MOMENTS:
        if board == SIFIVE and name not in SIFIVE_MOMENTS:
            continue
        img = fresh(board, tmp_path, name + ".img")
        a = boot(qemu, board, img)
        push(a, "counter-v2")
        stored, committed = kill_at(a, pattern, *delay)
        b = boot(qemu, board, img)
        ready = b.wait_line(r"journal: ready packs=\d+ seq=\d+ ", 0).entry
        st = b.status()
        counter, seq = st["classes"]["counter"], st["seq"]
        where = f"{board}, killed at {name}: counter v{counter} seq {seq}"
        assert counter in (2, 3), where
        assert seq >= 2, where + " (the floor went down)"
        if committed and (board not in ASYNC_FLASH or delay):
            assert counter == 3, where + " (lost a committed update)"
        if not stored:
            assert counter == 2, where + " (applied a pack never stored)"
        # The versions and the journal agree: new means seq 4 replayed.
        assert ready.int("packs") == counter - 1, where + f": {ready.raw}"
        if counter == 2 and seq == 4:
            assert b.lines(r"journal: interrupted seq=4: rolled back"), where
        # Whatever happened, the journal's floor holds and the board takes the next pack.
        if seq == 4:
            assert push(b, "counter-v3", want=422)["reason"] == "replay", where
        else:
            push(b, "counter-v3")
        b.next_heartbeat(b.mark())
        check_all_heartbeats(b)
        check_no_trouble(b)
        b.qemu.kill()


# --- replay that goes wrong -------------------------------------------------------


def test_replay_fault_is_rolled_back_and_marked(qemu, tmp_path):
    img = fresh(VIRT, tmp_path)
    a = boot(qemu, VIRT, img)
    push(a, "j-replayfault")
    assert a.status()["classes"]["counter"] == 2
    a.qemu.kill()
    b = boot(qemu, VIRT, img)
    b.wait_line(r"journal: replay refused seq=200 reason=selftest .*rolled back", 0)
    assert b.status()["classes"]["counter"] == 1
    mark = b.mark()
    b.qemu.send("journal\n")
    b.wait_line(r"seq=200 bytes=\d+ rolled-back reason=selftest", mark)
    b.next_heartbeat(b.mark())
    check_all_heartbeats(b)
    b.qemu.kill()
    # Marked: never tried again; the floor holds; a fix applies.
    c = boot(qemu, VIRT, img)
    assert not c.lines(r"journal: (replayed|replay refused) seq=200")
    assert c.lines(r"journal: ready packs=0 seq=200 ")
    push(c, "j-fix")
    assert c.status()["classes"]["counter"] == 2
    check_no_trouble(c)


def failed_boots_until_safe_mode(qemu, img, one_boot):
    """Boots until safe mode; one_boot(q) waits for that boot to fail."""
    for attempt in range(1, 5):
        port = free_port()
        q = qemu(VIRT, args=FAST, extra_args=user_net(VIRT, port), state=str(img),
                 hard_timeout=90)
        hit = q.wait_for(r"journal: (safe-mode boots=\d+|ready packs)|panic: ", timeout=60,
                         start=0, advance=False)
        if "safe-mode" in hit.line:
            assert attempt == 4, f"safe mode on boot {attempt}: {hit.line}"
            wait_agent_up(q, port, timeout=60)
            return Agent(q, VIRT, port), hit.entry
        one_boot(q)
        q.kill()
    raise AssertionError("no safe mode after 4 boots")


def test_boot_hang_ends_in_safe_mode(qemu, tmp_path):
    img = fresh(VIRT, tmp_path)
    a = boot(qemu, VIRT, img)
    # The module hangs the harts only in the first 10 s after power-on.
    a.wait_line(r"\] h\d+ workload: heartbeat seq=11 ", 0, timeout=60)
    push(a, "j-boothang")
    a.next_heartbeat(a.mark())
    a.qemu.kill()

    def hangs(q):
        q.wait_for(r"\] h\d+ journal: ready packs=1 ", timeout=60, start=0, advance=False)
        time.sleep(4)
        assert not q.find(r"workload: heartbeat|journal: boot good"), \
            "the board did not hang: " + q.tail(5)
    s, line = failed_boots_until_safe_mode(qemu, img, hangs)
    assert line.int("boots") == 3 and line.int("last") == 201 and line.int("set_aside") == 1
    st = s.status()
    assert st["safe_mode"] and st["classes"]["counter"] == 1 and st["seq"] == 201
    s.next_heartbeat(0)
    push(s, "j-fix")
    check_all_heartbeats(s)
    s.qemu.kill()
    # Out of safe mode: the fix is replayed, the hang is not.
    b = boot(qemu, VIRT, img)
    b.wait_line(r"journal: ready packs=1 seq=203 ", 0)
    assert not b.status()["safe_mode"]
    assert b.status()["classes"]["counter"] == 2
    check_no_trouble(b)


def test_replay_panic_ends_in_safe_mode(qemu, tmp_path):
    img = fresh(VIRT, tmp_path)
    a = boot(qemu, VIRT, img)
    push(a, "j-replaypanic")
    assert a.status()["classes"]["uart"] == 2
    a.qemu.kill()

    def panics(q):
        q.wait_for(r"panic: uart_v2_replaypanic", timeout=60, start=0, advance=False)
        q.wait_exit(timeout=20)
        assert q.returncode == 1, q.status()
    s, line = failed_boots_until_safe_mode(qemu, img, panics)
    assert line.int("last") == 202
    st = s.status()
    assert st["safe_mode"] and st["classes"]["uart"] == 1
    push(s, "uart-v2", want=422)            # seq 1: below the floor
    check_no_trouble(s)


# --- bad storage ---------------------------------------------------------------------


def test_random_storage_is_refused_and_formatted(qemu, tmp_path):
    img = tmp_path / "random.img"
    img.write_bytes(os.urandom(4 << 20))
    a = boot(qemu, VIRT, img)
    assert a.lines(r"journal: formatted model=virtio-blk .*why=\"no valid superblock\" floor=0")
    push(a, "counter-v2")
    a.qemu.kill()
    b = boot(qemu, VIRT, img)
    b.wait_line(r"journal: ready packs=1 seq=2 ", 0)


def test_truncated_storage_keeps_the_floor(qemu, tmp_path):
    img = fresh(VIRT, tmp_path)
    a = boot(qemu, VIRT, img)
    push(a, "counter-v2")
    a.qemu.kill()
    with open(img, "r+b") as f:
        f.truncate(2 << 20)
    b = boot(qemu, VIRT, img)
    assert b.lines(r"journal: formatted .*why=\"geometry changed\" floor=2")
    st = b.status()
    assert st["classes"]["counter"] == 1 and st["seq"] == 2
    assert push(b, "counter-v2", want=422)["reason"] == "replay"


def test_pack_from_another_key_is_refused_at_replay(qemu, tmp_path):
    ensure_built(VIRT)
    good = open(pack_path(VIRT, "counter-v2"), "rb").read()
    other = open(pack_path(VIRT, "other-key"), "rb").read()     # seq 22, another key
    img = tmp_path / "crafted.img"
    img.write_bytes(journal_image.build_image(8 << 20, [(2, good, "committed"),
                                                       (22, other, "committed")]))
    a = boot(qemu, VIRT, img)
    a.wait_line(r"journal: replay refused seq=22 reason=integrity .*rolled back", 0)
    assert a.lines(r"journal: replayed seq=2 ")
    st = a.status()
    assert st["classes"]["counter"] == 2 and st["seq"] == 22
    check_no_trouble(a)


# --- limits and the console --------------------------------------------------------------


def test_pack_too_big_for_the_journal(qemu, tmp_path):
    img = make_state_image(VIRT, str(tmp_path / "small.img"), size=512 * 1024)
    a = boot(qemu, VIRT, img)
    before = a.status()
    js = push(a, "bench-1m", want=507)
    assert js["result"] == "not-enough-flash", js
    st = a.status()
    assert st["classes"] == before["classes"] and st["seq"] == before["seq"]
    assert st["result"] == "not-enough-flash" and st["result_code"] == 2
    push(a, "counter-v2")
    # The result survives a restart (LwM2M), and so does the update.
    assert push(a, "tampered", want=422)["result"] == "integrity-failure"
    a.qemu.kill()
    b = boot(qemu, VIRT, img)
    st = b.status()
    assert st["result"] == "integrity-failure" and st["classes"]["counter"] == 2


def test_journal_console_and_erase(qemu, tmp_path):
    img = fresh(VIRT, tmp_path)
    a = boot(qemu, VIRT, img)
    push(a, "counter-v2")
    mark = a.mark()
    a.qemu.send("journal\n")
    a.wait_line(r"seq=2 bytes=\d+ committed steps=\"counter:1>2\"", mark)
    a.qemu.send("journal erase\n")
    a.wait_line(r"journal: erase done floor=2", mark)
    a.qemu.kill()
    b = boot(qemu, VIRT, img)
    b.wait_line(r"journal: ready packs=0 seq=2 ", 0)
    st = b.status()
    assert st["classes"]["counter"] == 1 and st["journal"]["entries"] == 0
    assert push(b, "counter-v2", want=422)["reason"] == "replay"


def test_no_storage_runs_volatile(qemu):
    ensure_built(VIRT)
    port = free_port()
    q = qemu(VIRT, args="", extra_args=user_net(VIRT, port), hard_timeout=60)
    st = wait_agent_up(q, port)
    assert q.find(r"journal: none \(volatile\)")
    assert st["persistent"] is False
