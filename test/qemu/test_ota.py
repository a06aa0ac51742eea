"""Live update over the network: the OTA agent (update/agent.c) on
qemu-virt (2 harts) and hifive-unleashed (sifive_u: the E51 and 2 U54s),
with the workload running, driven the way a user drives it: curl and
ota-server/ota.py against 127.0.0.1:<free port> forwarded by QEMU's user
network (restrict=on).

One boot per board; the tests of a board run in order on it:

  status      GET /status and `ota.py status --json` before anything
  update[..]  the demo updates in order (update/demos/packs.txt), by curl or
              by `ota.py push`: HTTP status and JSON, GET /status after, the
              UART lines (ota: receiving/downloaded/verified, update: applied/
              committed, ota: result), a matching heartbeat afterwards; the
              faulty counter v4 is rolled back (422 update-failed/rolled-back);
              during sched-v2's probation a second PUT gets 409.
              The uart packs are for qemu-virt's ns16550: skipped on sifive_u.
  reject[..]  every rejection (signature, unsigned, tampered image, tampered
              configuration and image properties made here with libfdt,
              replay/gap/duplicate/downgrade, ABI, class, requirement, link,
              garbage ELF, interface, self-test, impl mismatch on sifive_u):
              422, result and reason, and nothing changes (versions, seq).
  http        what no client should send: oversize (413 before the body),
              garbage (400 and closed), no Content-Length (411), a body
              longer than Content-Length (400), a truncated body (connection
              lost; a second PUT while it hangs gets 409), and the agent
              keeps serving after each.
  good update one more pack applies after all that.

A test of a board needs the ones before it (the version chain): when one
fails and leaves the board elsewhere, or the board crashed, that test fails
and the following ones of that board are skipped, saying why
(test_run_is_clean, never skipped, fails as well on a crash).
"""
import os
import random
import re
import socket
import threading
import time

import pytest

from kernel_checks import FAULT_CONTINUATION, check_log_format
from kernel_qemu import QemuError
from ota_checks import (LWM2M_CODE, board_dead, MAX_CONNS, MAX_PACK, boot_agent, build_pack,
                        check_all_heartbeats, check_no_trouble, curl_put, curl_status, ensure_built, exchange,
                        fdt_edit, http_get_status, lwm2m_result, ota_json, pack_meta, pack_path,
                        request_bytes, versions, wait_status)

BOARDS = {"qemu-virt": 2, "hifive-unleashed": 3}     # -smp (sifive_u: E51 + 2 U54)
LIFETIME = 240                                       # shutdown=; teardown halts earlier
VIRT = ("qemu-virt",)
BOTH = tuple(BOARDS)


@pytest.fixture(scope="module", params=list(BOARDS))
def dut(request, qemu_module, tmp_path_factory):
    board = request.param
    ensure_built(board)
    a = boot_agent(qemu_module, board, BOARDS[board], args=f"shutdown={LIFETIME}",
                   hard_timeout=LIFETIME + 20, name=f"ota-{board}")
    a.expect = None                 # versions() the board should be at
    a.http_details = {}             # rejection -> the detail its HTTP answer gave
    a.rollback_answer = None        # the faulty update's HTTP answer
    a.tmp = tmp_path_factory.mktemp(f"packs-{board}")
    a.packs = {}
    yield a
    a.halt()


def need(dut, boards):
    if dut.board not in boards:
        pytest.skip(f"not on {dut.board} (qemu-virt's ns16550 uart packs, or its state)")


def precondition(dut):
    dead = board_dead(dut)
    if dead:
        pytest.skip(f"the board crashed in an earlier test (which failed): {dead}")
    st = dut.status()
    if dut.expect is None:
        pytest.skip("the first status test did not run or failed")
    if versions(st) != dut.expect:
        # the test that left it elsewhere failed (each one checks the versions after it)
        pytest.skip(f"the board is not where this test starts: it should be at {dut.expect}, "
                    f"it is at {versions(st)} (a test before failed)")
    assert st["state"] == "idle", f"precondition: the agent is not idle: {st}"
    return st


# --- the good pack that applies after all the rejections, and packs made here ---

def good_pack(dut):
    """virt: multi-class (uart 4->5, counter 3->4 requiring uart>=5, seq 20);
    sifive_u: counter 3->4 (counter_v4, lazy, seq 20), built here."""
    if "good" not in dut.packs:
        if dut.board == "qemu-virt":
            dut.packs["good"] = pack_path(dut.board, "multi-class")
        else:
            dut.packs["good"] = build_pack(dut.board, str(dut.tmp / "good.itb"), 20,
                                           "counter:3:4:lazy:counter_v4")
    return dut.packs["good"]


def make_pack(dut, name):
    """Packs the tests make themselves (signed with build/keys)."""
    if name in dut.packs:
        return dut.packs[name]
    out = str(dut.tmp / f"{name}.itb")
    b = dut.board
    if name == "conf-seq-tampered":
        # the configuration's update,seq changed after signing (20 -> 21)
        def edit(fdt, libfdt):
            conf = fdt.path_offset("/configurations")
            coff = fdt.subnode_offset(conf, fdt.getprop(conf, "default").as_str())
            assert fdt.getprop(coff, "update,seq").as_uint32() == 20
            fdt.setprop_u32(coff, "update,seq", 21)
        fdt_edit(good_pack(dut), out, edit)
    elif name == "image-from-tampered":
        # step-1's update,from changed after signing (the image data is intact)
        def edit(fdt, libfdt):
            off = fdt.path_offset("/images/step-1")
            fdt.setprop_u32(off, "update,from", fdt.getprop(off, "update,from").as_uint32() - 1)
        fdt_edit(good_pack(dut), out, edit)
    elif name == "replay-own":
        build_pack(b, out, 5, "counter:3:4:eager:counter_v4_faulty")
    elif name == "gap-own":
        build_pack(b, out, 30, "counter:4:5:eager:counter_v4")
    elif name == "duplicate-own":
        build_pack(b, out, 31, "counter:2:3:lazy:counter_v3")
    elif name == "uart-ns16550-own":
        build_pack(b, out, 40, "uart:1:2:eager:uart_v2")
    elif name == "downgrade-own":
        build_pack(b, out, 32, "counter:3:2:lazy:counter_v3", allow_any_step=True)
    else:
        raise KeyError(name)
    m = pack_meta(out)
    assert m["signed"], f"{out}: made without a signature"
    dut.packs[name] = out
    return out


# --- status before anything -----------------------------------------------------


def test_status_initial(dut):
    st = dut.status()
    assert st["abi"] == "lukos-abi-3", st
    assert st["board"] == dut.board, st
    for cls in ("uart", "sched", "counter", "netdev", "timer", "plic"):
        assert st["classes"].get(cls) == 1, f"class {cls} not at version 1: {st}"
    assert (st["seq"], st["state"], st["result"], st["result_code"], st["reason"],
            st["events"]) == (0, "idle", "initial", 0, "none", []), st
    rc, tool = ota_json("status", dut.addr, rc=0)
    tool = tool[0] if isinstance(tool, list) else tool
    assert versions(tool) == versions(st), f"ota.py status: {tool}\nGET /status: {st}"
    assert (tool["state"], tool["result"], tool["board"]) == ("idle", "initial", dut.board), tool
    dut.expect = versions(st)


def test_status_with_extension_headers(dut):
    """Header names are tokens (RFC 9110): digits and symbols such as '.' and '~'
    in them are fine, as proxies and tracing tools send them."""
    st = curl_status(dut.port, headers=("X-B3-TraceId: 80f198ee56343ba8", "X-Req.Id~2: 7"))
    assert versions(st) == dut.expect, st


# --- the demo updates -------------------------------------------------------------


class Update:
    def __init__(self, name, boards, client, applied, http=200, reason="ok"):
        self.name, self.boards, self.client = name, boards, client
        self.applied = applied          # `update: applied` lines: (class, from, to, mode)
        self.http, self.reason = http, reason

    @property
    def rolled_back(self):
        return self.reason == "rolled-back"

    def __repr__(self):
        return self.name


UPDATES = [
    Update("uart-v2", VIRT, "curl", [("uart", 1, 2, "eager")]),
    Update("counter-v2", BOTH, "tool", [("counter", 1, 2, "lazy")]),
    Update("sched-v2", BOTH, "curl+busy", [("sched", 1, 2, "eager")]),
    Update("counter-v3", BOTH, "tool", [("counter", 2, 3, "lazy")]),
    Update("counter-v4-faulty", BOTH, "curl", [("counter", 3, 4, "eager")], http=422,
           reason="rolled-back"),
    Update("uart-v3-v4", VIRT, "tool", [("uart", 2, 4, "eager")]),
]


def push_with_busy_check(dut, path, other):
    """curl pushes `path`; while the update is in probation (after its
    `update: applied`, before `update: committed`) GET /status says
    updating and a second PUT (`other`) gets 409."""
    mark = dut.mark()
    result = {}

    def run():
        try:
            result["answer"] = curl_put(dut.port, path)
        except BaseException as e:          # reported below
            result["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        dut.wait_line(r"\] h\d+ update: applied class=", mark, timeout=30)
        st = http_get_status(dut.port)
        data = open(other, "rb").read()
        busy_mark = dut.mark()
        r = exchange(dut.port, request_bytes("PUT", "/update", data), timeout=20)
    finally:
        t.join(90)
    assert not t.is_alive(), "the first push did not finish"
    if "error" in result:
        raise result["error"]
    assert st["state"] == "updating", f"GET /status during probation: {st}"
    assert r.status == 409, f"a second PUT during probation: {r!r}"
    assert r.json.get("result") == "busy", r.json
    assert r.closed, f"the agent did not close the connection after 409: {r!r}"
    rej = dut.wait_line(r"\] h\d+ ota: rejected reason=busy", busy_mark, timeout=5)
    committed = dut.wait_line(r"\] h\d+ update: committed class=", mark, timeout=10)
    assert rej.index < committed.index, (
        f"the 409 came after probation ended, not during it:\n{rej.line}\n{committed.line}")
    return result["answer"]


# update/stage_stats.c: the stages of a pack, in pipeline order; those inside
# `total` (from update_apply_pack() to the last `applied` line) are disjoint.
STAGES = ("handoff", "parse", "sig", "hash", "chain", "journal", "link", "map", "desc",
          "selftest", "quiesce", "switch", "convert", "conv1", "total")
INSIDE_TOTAL = ("parse", "sig", "hash", "chain", "journal", "link", "map", "desc", "selftest",
                "quiesce", "switch", "convert")


def check_stages(dut, mark, res, seq):
    """The engine's account of a pushed pack that applied: two lines per
    unit before the answer, every stage named once, every check measured,
    and the stages inside `total` adding up to no more than it."""
    lines = [h for h in dut.lines(rf"\] h\d+ update: stages seq={seq} unit=(instr|ns) ", mark)
             if h.index < res.index]
    assert len(lines) == 4, [h.line for h in lines]
    got = {"instr": {}, "ns": {}}
    for h in lines:
        m = re.search(r" unit=(instr|ns) (.*)$", h.line)
        for kv in m.group(2).split():
            k, v = kv.split("=")
            assert k not in got[m.group(1)], f"{k} twice: {h.line}"
            got[m.group(1)][k] = None if v == "-" else int(v)
    for unit in got:
        assert tuple(got[unit]) == STAGES, (unit, got[unit])
    ns = got["ns"]
    for k in STAGES:
        if k not in ("selftest", "conv1"):      # a module may bring no self-test; lazy: later
            assert ns[k] is not None, f"{k} not measured: {ns}"
    assert 0 < sum(ns[k] or 0 for k in INSIDE_TOTAL) <= ns["total"], ns


@pytest.mark.parametrize("u", UPDATES, ids=repr)
def test_update(dut, u):
    need(dut, u.boards)
    before = precondition(dut)
    path = pack_path(dut.board, u.name)
    meta, size = pack_meta(path), os.path.getsize(path)
    # where the board must end: new versions (none on a rollback), the pack's seq either way;
    # the next tests start from there (and are skipped if this one leaves the board elsewhere)
    want = dict(before["classes"])
    if not u.rolled_back:
        for cls, frm, to in meta["steps"]:
            want[cls] = to
    dut.expect = {"classes": want, "seq": meta["seq"]}
    mark = dut.mark()
    tool_board = None
    if u.client == "curl":
        code, body = curl_put(dut.port, path)
    elif u.client == "curl+busy":
        code, body = push_with_busy_check(dut, path, pack_path(dut.board, "counter-v3"))
    else:
        rc, out = ota_json("push", "-q", path, dut.addr)
        tool_board = out["boards"][0]
        assert rc == (0 if u.http == 200 else 1), f"ota.py push exit {rc}: {out}"
        assert out["ok"] is (u.http == 200) and tool_board["ok"] is (u.http == 200), out
        assert tool_board["attempts"] == 1, tool_board
        assert out["pack"]["seq"] == meta["seq"] and out["pack"]["signed"] == "dev", out["pack"]
        code, body = tool_board["http_status"], tool_board["body"]

    result = lwm2m_result(u.reason)
    if u.rolled_back:
        dut.rollback_answer = body
    assert code == u.http, f"{u.name}: HTTP {code} {body}"
    assert (body.get("result"), body.get("reason"), body.get("seq")) == (
        result, u.reason, meta["seq"]), f"{u.name}: answer {body}"

    st = dut.status()
    assert versions(st) == dut.expect, f"after {u.name}: {st}"
    assert (st["state"], st["result"], st["result_code"], st["reason"]) == (
        "idle", result, LWM2M_CODE[result], u.reason), st
    assert st["events"] and st["events"][-1] == f"seq={meta['seq']} {u.reason}", st["events"]
    if tool_board is not None:
        assert tool_board["classes"] == want, f"ota.py push shows {tool_board['classes']}"

    # the UART: receiving -> downloaded -> verified -> applied -> result, in order
    rx = dut.wait_line(rf"\] h\d+ ota: receiving bytes={size} from=10\.0\.2\.2:\d+$", mark)
    dl = dut.wait_line(rf"\] h\d+ ota: downloaded bytes={size}$", mark)
    ver = dut.wait_line(rf"\] h\d+ ota: verified seq={meta['seq']} steps={len(meta['steps'])}$",
                        mark)
    res = dut.wait_line(rf"\] h\d+ ota: result={re.escape(u.reason)} http={u.http}$", mark)
    applied = [h for h in dut.lines(r"\] h\d+ update: applied ", mark) if h.index < res.index]
    got = [(h.entry.kv.get("class"), h.entry.int("from"), h.entry.int("to"), h.entry.kv.get("mode"))
           for h in applied]
    assert got == u.applied, f"{u.name}: applied lines:\n" + "\n".join(h.line for h in applied)
    assert rx.index < dl.index < ver.index < applied[0].index < res.index, "lines out of order"
    check_stages(dut, mark, res, meta["seq"])
    committed = [h for h in dut.lines(r"\] h\d+ update: committed ", mark) if h.index < res.index]
    rolled = [h for h in dut.lines(r"\] h\d+ update: rolled-back ", mark) if h.index < res.index]
    if u.rolled_back:
        assert not committed, committed[0].line
        assert len(rolled) == 1, f"want one rolled-back line: {[h.line for h in rolled]}"
        e = rolled[0].entry
        assert (e.kv.get("class"), e.int("from"), e.int("to"), e.int("version")) == (
            "counter", 3, 4, 3), e.raw
        assert dut.lines(r"\] h\d+ trap: fault ", mark), "no trap report for the faulty update"
        dut.wait_line(r"\] h\d+ ota: rejected reason=rolled-back detail=", mark)
    else:
        assert not rolled, rolled[0].line
        assert [(h.entry.kv.get("class"), h.entry.int("version")) for h in committed] == [
            (u.applied[-1][0], u.applied[-1][2])], [h.line for h in committed]
    # the second PUT of sched-v2's busy check and the rollback's own line are
    # the only rejections here
    allowed = r"ota: rejected reason=(busy\b|rolled-back detail=)" if u.rolled_back or (
        u.client == "curl+busy") else r"$^"
    other = [h.line for h in dut.lines(r"\] h\d+ ota: rejected ", mark)
             if not re.search(allowed, h.line)]
    assert not other, other
    # the workload still counts right after the update
    try:
        dut.next_heartbeat(res.index)
    except QemuError:
        check_no_trouble(dut)       # the better message, when the kernel went wrong
        raise
    check_no_trouble(dut)


def test_rollback_detail_over_http(dut):
    """The 422 of a rolled-back update says why, as `update: rolled-back`
    does (reason="fault cause=13 in step-1 at +0x..")."""
    body = dut.rollback_answer
    if body is None:
        pytest.skip("the faulty update gave no answer (see test_update[...counter-v4-faulty])")
    assert re.search(r"fault cause=13 in step-1", body.get("detail") or ""), (
        f"the rollback's answer does not say why: {body} (update/agent.c verify_and_apply() "
        f"copies update_last_detail() only when update_apply_pack() fails, not when "
        f"probation rolls back)")


def test_tool_status_after_updates(dut):
    st = precondition(dut)
    rc, tool = ota_json("status", dut.addr, rc=0)
    tool = tool[0] if isinstance(tool, list) else tool
    assert versions(tool) == versions(st) and tool["result"] == st["result"], (tool, st)
    want = {"counter": 3, "sched": 2, "uart": 4 if dut.board == "qemu-virt" else 1}
    assert {k: st["classes"][k] for k in want} == want, st
    assert st["seq"] == (6 if dut.board == "qemu-virt" else 5), st


# --- rejections ---------------------------------------------------------------------


# reasons checked before anything is linked: the agent's answer carries the detail
VERIFY_REASONS = {"integrity", "abi", "replay", "gap", "duplicate", "downgrade", "unknown-class",
                  "requirement"}

class Reject:
    def __init__(self, name, boards, reason, detail, source="pack", http=422, verify=None):
        self.name, self.boards, self.reason = name, boards, reason
        self.detail = detail            # regex on the UART detail (ota:/update: rejected)
        self.source = source            # "pack": build/<board>/demos/packs; "made": make_pack()
        self.http = http
        # refused by update_verify_pack() (before `ota: verified`), else when applied
        self.verify = reason in VERIFY_REASONS if verify is None else verify

    def __repr__(self):
        return self.name


REJECTS = [
    # authenticity and integrity
    Reject("other-key", BOTH, "integrity", r"^signature-1: RSA verification failed \(key dev\)$"),
    Reject("unsigned", BOTH, "integrity", r"^config conf-1: no signature$"),
    Reject("tampered", BOTH, "integrity", r"^image step-1: sha256 mismatch$"),
    Reject("conf-seq-tampered", BOTH, "integrity", r"^signature-1: RSA verification failed \(key dev\)$", source="made"),
    Reject("image-from-tampered", BOTH, "integrity", r"^signature-1: RSA verification failed \(key dev\)$", source="made"),
    # sequence and version chain (virt: the shipped uart packs; sifive_u: counter packs made here)
    Reject("replay", VIRT, "replay", r"^sequence 6 not above 6$"),
    Reject("gap", VIRT, "gap", r"^step-1: step 5->6 does not follow version 4 of uart$"),
    Reject("duplicate", VIRT, "duplicate", r"^step-1: step 3->4 already applied \(class uart is at 4\)$"),
    Reject("downgrade", VIRT, "downgrade", r"^step-1: step 4->3 goes down$"),
    Reject("chain-gap-mid", VIRT, "gap", r"^step-2: step 6->7 does not follow version 5 of uart$"),
    Reject("replay-own", ("hifive-unleashed",), "replay", r"^sequence 5 not above 5$", "made"),
    Reject("gap-own", ("hifive-unleashed",), "gap",
           r"^step-1: step 4->5 does not follow version 3 of counter$", "made"),
    Reject("duplicate-own", ("hifive-unleashed",), "duplicate",
           r"^step-1: step 2->3 already applied \(class counter is at 3\)$", "made"),
    Reject("downgrade-own", ("hifive-unleashed",), "downgrade", r"^step-1: step 3->2 goes down$",
           "made"),
    # what the kernel cannot take
    Reject("abi", BOTH, "abi", r"^step-1: built for ABI lukos-abi-0, kernel is lukos-abi-3$"),
    Reject("unknown-class", BOTH, "unknown-class", r"^step-1: no class nosuch in this kernel$"),
    Reject("requirement", BOTH, "requirement", r"^step-1: requires sched>=9, it is at 2$"),
    Reject("garbage-elf", BOTH, "link", r"\bELF\b"),
    Reject("link", BOTH, "link", r"unresolved symbol 'page_alloc'"),
    Reject("interface", BOTH, "interface", r"^step-1: new version drops methods or lacks a transfer$"),
    Reject("selftest", BOTH, "selftest", r"^step-1: self-test failed$"),
    Reject("half-bad", VIRT, "malformed", r"^step-2: module is not counter 3->4$"),
    Reject("bad-flags", BOTH, "malformed", r"^step-1: module descriptor has unknown flags 0x80$"),
    # a pack for qemu-virt's ns16550 driver on sifive_u's UART
    # (uart-v2.itb itself has seq 1: a replay by now; the same step with seq 40)
    Reject("uart-ns16550-own", ("hifive-unleashed",), "unknown-class",
           r"^step-1: module is for ns16550, this board runs sifive-uart$", "made", verify=False),
]


@pytest.mark.parametrize("rj", REJECTS, ids=repr)
def test_reject(dut, rj):
    need(dut, rj.boards)
    before = precondition(dut)
    path = pack_path(dut.board, rj.name) if rj.source == "pack" else make_pack(dut, rj.name)
    size = os.path.getsize(path)
    mark = dut.mark()
    result = lwm2m_result(rj.reason)
    if REJECTS.index(rj) % 2:
        code, body = curl_put(dut.port, path)
    else:
        rc, out = ota_json("push", "-q", path, dut.addr)
        b = out["boards"][0]
        assert rc == 1 and not out["ok"] and not b["ok"], f"ota.py push: exit {rc} {out}"
        assert b["result"] == result and b["attempts"] == 1, b
        code, body = b["http_status"], b["body"]
    assert code == rj.http, f"{rj.name}: HTTP {code} {body}"
    assert (body.get("result"), body.get("reason"), body.get("seq")) == (
        result, rj.reason, before["seq"]), f"{rj.name}: answer {body}"
    dut.http_details[rj.name] = body.get("detail")

    st = dut.status()
    assert versions(st) == versions(before), f"{rj.name} changed the board: {before} -> {st}"
    assert (st["state"], st["result"], st["result_code"], st["reason"]) == (
        "idle", result, LWM2M_CODE[result], rj.reason), st
    assert st["events"][-1] == f"seq={before['seq']} {rj.reason}", st["events"]

    dut.wait_line(rf"\] h\d+ ota: receiving bytes={size} ", mark)
    dut.wait_line(rf"\] h\d+ ota: downloaded bytes={size}$", mark)
    rej = dut.wait_line(rf"\] h\d+ ota: rejected reason={re.escape(rj.reason)} detail=", mark)
    res = dut.wait_line(rf"\] h\d+ ota: result={re.escape(rj.reason)} http={rj.http}$", mark)
    assert rej.index < res.index
    details = [h.entry.kv.get("detail", "") for h in dut.lines(r"\] h\d+ (ota|update): rejected ",
                                                                  mark) if h.index <= res.index]
    assert any(re.search(rj.detail, d) for d in details), (
        f"{rj.name}: no rejection detail matching {rj.detail!r}: {details}")
    if rj.verify:
        assert re.search(rj.detail, body.get("detail") or ""), (
            f"{rj.name}: the answer's detail {body.get('detail')!r} does not match {rj.detail!r}")
        assert not dut.lines(r"\] h\d+ ota: verified ", mark), "verified, then rejected?"
    for what in ("applied", "committed", "rolled-back"):
        hits = dut.lines(rf"\] h\d+ update: {what} ", mark)
        assert not hits, f"{rj.name}: {hits[0].line}"
    check_no_trouble(dut)


def test_heartbeats_after_rejections(dut):
    precondition(dut)
    dut.next_heartbeat(dut.mark(), timeout=5)
    hbs = check_all_heartbeats(dut)
    good = [e for e in hbs if e.kv.get("match") == "yes"]
    assert len(good) >= 10 and len(good) >= len(hbs) // 2, (
        f"{len(good)} of {len(hbs)} heartbeats could compare the totals")


def test_rejection_details_over_http(dut):
    """Every 422 says what failed, as the UART does: also a pack refused at
    link time, by its self-test or for another board's driver."""
    if not dut.http_details and board_dead(dut):
        pytest.skip(f"the board crashed before the rejections: {board_dead(dut)}")
    assert dut.http_details, "no rejection ran"
    empty = sorted(n for n, d in dut.http_details.items() if not d)
    assert not empty, (f"422 answers with an empty detail: {empty} (the UART's `update: "
                       f"rejected` line has one)")


# --- HTTP the agent must refuse -------------------------------------------------------


def check_still_serving(dut, mark, status):
    st = dut.status()
    assert versions(st) == dut.expect, f"the board changed: {st}"
    assert st["state"] == "idle", st
    dut.wait_line(rf"\] h\d+ ota: bad request status={status}$", mark, timeout=5)
    return st


def test_oversize_pack_413(dut):
    precondition(dut)
    for cl in (MAX_PACK + 1, 10 ** 20):
        mark = dut.mark()
        r = exchange(dut.port, request_bytes("PUT", "/update", content_length=cl), timeout=15)
        assert r.status == 413, f"Content-Length {cl}: {r!r}"
        assert r.json.get("result") == "bad-request", r.json
        assert r.closed and r.error is None, f"the connection stayed open: {r!r}"
        check_still_serving(dut, mark, 413)
        assert not dut.lines(r"\] h\d+ ota: receiving ", mark), "an upload started"


def test_no_content_length_411(dut):
    precondition(dut)
    cases = [request_bytes("PUT", "/update", content_length=None),
             request_bytes("PUT", "/update", content_length=None,
                           headers=["Transfer-Encoding: chunked"]) + b"5\r\nhello\r\n0\r\n\r\n"]
    for data in cases:
        mark = dut.mark()
        r = exchange(dut.port, data, timeout=15)
        assert r.status == 411, f"{data[:80]!r}: {r!r}"
        assert r.closed, r
        dut.status()
        assert not dut.lines(r"\] h\d+ ota: receiving ", mark), "an upload started"


GARBAGE = {
    "random bytes": bytes(random.Random(8080).randrange(256) for _ in range(600)) + b"\r\n\r\n",
    "no version": b"GET /status\r\n\r\n",
    "put without version": b"PUT /update\r\nContent-Length: 5\r\n\r\nhello",
    "bare LF": b"GET /status HTTP/1.1\nHost: x\n\n\r\n\r\n",
    "bad Content-Length": b"PUT /update HTTP/1.1\r\nContent-Length: 12ab\r\n\r\n",
    "NUL in header": b"GET /status HTTP/1.1\r\nX-A: \x00\r\n\r\n",
}


@pytest.mark.parametrize("what", list(GARBAGE))
def test_garbage_request_400(dut, what):
    precondition(dut)
    mark = dut.mark()
    r = exchange(dut.port, GARBAGE[what], timeout=15)
    assert r.status == 400, f"{what}: {r!r}"
    assert r.json.get("result") == "bad-request", r.json
    assert r.closed, f"{what}: the agent did not close the connection: {r!r}"
    check_still_serving(dut, mark, 400)


def test_garbage_then_close_and_oversized_head(dut):
    """Random bytes without a head's end, then the client closes: the agent
    closes too. A head longer than its buffer: 431. Then it still serves."""
    precondition(dut)
    rnd = random.Random(5).randbytes(300).replace(b"\r\n", b"")
    r = exchange(dut.port, rnd, timeout=10, close_write=True)
    assert r.closed and r.status is None and r.raw == b"", r
    mark = dut.mark()
    r = exchange(dut.port, b"GET /" + b"a" * 3000, timeout=10)
    assert r.status in (414, 431), r         # the request line alone is longer than the buffer
    assert r.closed, r
    check_still_serving(dut, mark, r.status)


def test_body_longer_than_content_length_400(dut):
    """Content-Length smaller than the body: 400, nothing applied (the pack
    would apply as it is: it is the good pack of the end)."""
    before = precondition(dut)
    data = open(good_pack(dut), "rb").read()
    mark = dut.mark()
    r = exchange(dut.port, request_bytes("PUT", "/update", data, content_length=len(data) - 10),
                 timeout=30)
    assert r.status == 400, r
    assert r.json.get("result") == "bad-request", r.json
    assert r.closed, r
    st = wait_status(dut.port, lambda s: s["state"] == "idle")
    assert versions(st) == versions(before), st
    assert (st["result"], st["reason"]) == ("connection-lost", "length-mismatch"), st
    dut.wait_line(rf"\] h\d+ ota: rejected reason=length-mismatch bytes=\d+ of {len(data) - 10}$",
                  mark, timeout=5)
    assert not dut.lines(r"\] h\d+ (ota: verified|update: applied) ", mark)


# --- after all that, a good pack still applies -------------------------------------


def test_update_after_rejections(dut):
    before = precondition(dut)
    path = good_pack(dut)
    meta = pack_meta(path)
    want = dict(before["classes"])
    for cls, frm, to in meta["steps"]:
        want[cls] = to
    dut.expect = {"classes": want, "seq": meta["seq"]}
    mark = dut.mark()
    rc, out = ota_json("push", "-q", "--wait", path, dut.addr)
    b = out["boards"][0]
    assert rc == 0 and b["ok"] and b["http_status"] == 200 and b["result"] == "success", out
    st = dut.status()
    assert versions(st) == dut.expect, st
    assert (st["result"], st["reason"]) == ("success", "ok"), st
    res = dut.wait_line(r"\] h\d+ ota: result=ok http=200$", mark)
    dut.wait_line(rf"\] h\d+ ota: verified seq={meta['seq']} steps={len(meta['steps'])}$", mark)
    dut.next_heartbeat(res.index)


# --- connections that break off (the last tests of a board) ---------------------------


def test_truncated_body_and_409_while_downloading(dut):
    """Content-Length N and only part of the body: while it hangs the agent
    is `downloading` and a second PUT gets 409; when the client closes, the
    result is connection-lost and nothing is applied."""
    before = precondition(dut)
    data = open(pack_path(dut.board, "counter-v2"), "rb").read()   # any pack: never complete
    part = 4000
    mark = dut.mark()
    s = socket.create_connection(("127.0.0.1", dut.port), timeout=10)
    try:
        s.sendall(request_bytes("PUT", "/update", data[:part], content_length=len(data)))
        dut.wait_line(rf"\] h\d+ ota: receiving bytes={len(data)} ", mark, timeout=10)
        st = wait_status(dut.port, lambda x: x["state"] == "downloading", timeout=5)
        busy = exchange(dut.port, request_bytes("PUT", "/update", data), timeout=15)
    finally:
        s.close()
    assert busy.status == 409 and busy.json.get("result") == "busy", busy
    st = wait_status(dut.port, lambda x: x["state"] == "idle", timeout=15)
    assert versions(st) == versions(before), st
    assert (st["result"], st["result_code"], st["reason"]) == ("connection-lost", 4, "truncated"), st
    dut.wait_line(rf"\] h\d+ ota: rejected reason=truncated bytes={part} of {len(data)}$", mark)
    assert not dut.lines(r"\] h\d+ (ota: downloaded|ota: verified|update: applied) ", mark)


def test_content_length_larger_than_body(dut):
    """The whole pack but a Content-Length 100 bytes larger, then the client
    stops sending: connection-lost, nothing applied. The agent should answer
    or at least close its side."""
    before = precondition(dut)
    data = open(good_pack(dut), "rb").read()        # already applied: replay if it were taken
    mark = dut.mark()
    r = exchange(dut.port, request_bytes("PUT", "/update", data, content_length=len(data) + 100),
                 timeout=8, close_write=True)
    st = wait_status(dut.port, lambda x: x["state"] == "idle", timeout=15)
    assert versions(st) == versions(before), st
    assert (st["result"], st["reason"]) == ("connection-lost", "truncated"), st
    dut.wait_line(rf"\] h\d+ ota: rejected reason=truncated bytes={len(data)} of {len(data) + 100}$",
                  mark)
    assert r.closed, (f"the agent left the connection open after the client finished sending "
                      f"a short body ({r!r}): it neither answers nor closes (update/agent.c "
                      f"on_received(), len == 0 while uploading)")


def test_agent_serves_after_many_truncated_uploads(dut):
    """More truncated uploads than the agent has connection slots: it must
    still answer afterwards (each aborted upload has to give its slot back)."""
    need(dut, VIRT)
    precondition(dut)
    data = open(pack_path(dut.board, "counter-v2"), "rb").read()
    for i in range(MAX_CONNS + 1):
        s = socket.create_connection(("127.0.0.1", dut.port), timeout=10)
        s.sendall(request_bytes("PUT", "/update", data[:1000], content_length=len(data)))
        time.sleep(0.3)
        s.close()
        try:
            st = wait_status(dut.port, lambda x: x["state"] == "idle", timeout=10)
        except AssertionError as e:
            raise AssertionError(
                f"after {i + 1} truncated uploads (plus the ones of the tests before) the agent "
                f"no longer answers GET /status: a truncated upload leaks its connection slot "
                f"(MAX_CONNS={MAX_CONNS}); update/agent.c on_received() aborts the upload on "
                f"the peer's FIN but never closes the pcb, so on_closed() never frees the "
                f"slot.\n{e}")
        assert st["reason"] == "truncated", st


def test_ota_log_lines_are_key_value(dut):
    """`ota: rejected reason=<reason> ...`: the reason is a plain key=value
    token, as for every other rejection (DESIGN.md, The UART log)."""
    bad = [h.line for h in dut.lines(r"\] h\d+ ota: rejected ")
           if not re.fullmatch(r"[a-z-]+", h.entry.kv.get("reason", ""))]
    assert not bad, ("`ota: rejected` lines whose reason is not a key=value token (update/agent.c "
                     "upload_start(): `reason=busy: an update is in progress`):\n" + "\n".join(bad))


def test_run_is_clean(dut):
    """No trouble in the whole run; every heartbeat matched; every line well
    formed. (Never skipped: a crash the tests before missed shows here.)"""
    check_no_trouble(dut)
    check_all_heartbeats(dut)
    for attempt in range(20):        # the board still runs: wait for a line being written
        if not dut.qemu.partial:
            break
        time.sleep(0.1)
    check_log_format(dut.qemu, allowed=FAULT_CONTINUATION)
    # the faulty counter update's traps (each worker that called it before the
    # rollback), all in a loaded module's text, and no other
    traps = dut.qemu.log("trap", "fault")
    assert traps, "no trap: the faulty update did not run"
    texts = [tuple(int(x, 0) for x in e.kv["text"].split("+"))
             for e in dut.qemu.log("update", "module loaded")]
    for t in traps:
        assert any(b <= t.int("sepc") < b + n for b, n in texts), (
            f"a trap outside the updates' code: {t.raw}")
