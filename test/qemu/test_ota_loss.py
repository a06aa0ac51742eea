"""Updates over a lossy link: one qemu-virt board (2 harts, workload=off) on a
tap device in a network namespace this test creates (and always removes),
10% random packet loss each way (nftables in the namespace), static
addresses (board 10.77.0.2/24 with `ip=10.77.0.2/24 dhcp=off`, the
namespace's side of the tap 10.77.0.1). QEMU, curl and ota.py all run in
the namespace (`ip netns exec`): nothing of this reaches the host's network.

  push   uart-v2 with `ota.py push` (retries allowed): 200, uart 2, seq 1
  curl   uart-v3-v4 (31 KB) with curl: 200, uart 4, seq 6
  status GET /status a few times: every one answered
  bulk   2 MiB that is no pack: all of it arrives (`ota: downloaded`), 422
and the nft counters show that packets were dropped both ways.

Needs root, /dev/net/tun, `ip` (iproute2) and `nft` (Debian: nftables);
skipped otherwise, saying which.
"""
import os
import re
import secrets
import shutil
import subprocess

import pytest

from kernel_qemu import BOARDS, OPENSBI_FW_DYNAMIC, QEMU_BIN
from ota_checks import (NIC, Agent, check_no_trouble, curl_put, curl_status, ensure_built,
                        ota_json, pack_path)

BOARD = "qemu-virt"
GUEST, HOST_SIDE = "10.77.0.2", "10.77.0.1"
LIFETIME = 150
JUNK = 2 << 20
LOSS_RULES = """
table inet otaloss {
  chain in  { type filter hook input  priority 0; policy accept; numgen random mod 10 0 counter drop; }
  chain out { type filter hook output priority 0; policy accept; numgen random mod 10 0 counter drop; }
}
"""


def _missing():
    if os.geteuid() != 0:
        return "needs root (network namespaces, a tap device, nftables)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no tap devices in this container)"
    for tool, pkg in (("ip", "iproute2"), ("nft", "nftables"), ("curl", "curl")):
        if not shutil.which(tool):
            return f"`{tool}` not found (Debian package {pkg})"
    return None


def sh(*cmd, input=None, check=True):
    p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    if check and p.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stdout.strip()}")
    return p


@pytest.fixture
def lossy(qemu):
    why = _missing()
    if why:
        pytest.skip(why)
    ensure_built(BOARD)
    tag = secrets.token_hex(3)
    ns, tap = f"ota-loss-{tag}", f"otat{tag}"
    q = None
    try:
        p = sh("ip", "netns", "add", ns, check=False)
        if p.returncode:
            pytest.skip(f"cannot create a network namespace: {p.stdout.strip()}")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
        sh("ip", "-n", ns, "addr", "add", f"{HOST_SIDE}/24", "dev", tap)
        # one wire packet per skb, so that the loss rules drop single segments
        # (else the host's GSO hands the tap up to 64 KiB at a time)
        sh("ip", "-n", ns, "link", "set", "dev", tap, "gso_max_size", "1500", "gso_max_segs", "1",
           check=False)
        sh("ip", "-n", ns, "link", "set", tap, "up")
        b = BOARDS[BOARD]
        args = f"shutdown={LIFETIME} workload=off ip={GUEST}/24 dhcp=off"
        cmd = ["ip", "netns", "exec", ns, QEMU_BIN, "-M", b.machine, "-smp", "2", "-m", b.mem,
               *b.extra, "-bios", OPENSBI_FW_DYNAMIC, "-kernel", b.kernel_elf, "-append", args,
               "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no", *NIC[BOARD]]
        q = qemu(BOARD, 2, args=args, cmd=cmd, hard_timeout=LIFETIME + 20, name="ota-loss")
        q.wait_for(r"\] h\d+ ota: agent listening port=8080 ", timeout=40, start=0, advance=False)
        q.wait_for(rf"\] h\d+ net: up ip={re.escape(GUEST)} mask=255\.255\.255\.0 .*source=static$",
                   timeout=20, start=0, advance=False)
        a = Agent(q, BOARD, 8080, host=GUEST, netns=ns)
        st = curl_status(8080, host=GUEST, netns=ns)         # before the loss
        assert (st["classes"]["uart"], st["seq"]) == (1, 0), st
        sh("ip", "netns", "exec", ns, "nft", "-f", "-", input=LOSS_RULES)
        yield a
        a.halt()
    finally:
        if q is not None:
            q.kill()
        sh("ip", "netns", "del", ns, check=False)
        left = sh("ip", "netns", "list", check=False).stdout
        assert ns not in left, f"network namespace {ns} is still there: {left}"


def dropped(ns):
    """Packets the loss rules dropped: (in, out)."""
    out = sh("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "otaloss").stdout
    counts = {}
    for chain in ("in", "out"):
        m = re.search(rf"chain {chain} \{{.*?counter packets (\d+)", out, re.S)
        assert m, f"no counter in chain {chain}:\n{out}"
        counts[chain] = int(m.group(1))
    return counts["in"], counts["out"]


def test_updates_over_a_lossy_link(lossy, tmp_path):
    a, ns = lossy, lossy.netns
    # 1. ota.py push (retries on dropped connections allowed)
    pack = pack_path(BOARD, "uart-v2")
    mark = a.mark()
    rc, out = ota_json("push", "-q", "--retries", "5", "--timeout", "90", pack,
                       f"{GUEST}:8080", netns=ns, timeout=600)
    b = out["boards"][0]
    st = curl_status(8080, host=GUEST, netns=ns, timeout=60)
    assert (st["classes"]["uart"], st["seq"]) == (2, 1), f"uart-v2 did not apply: {st}\n{out}"
    assert rc == 0 and b["ok"] and b["http_status"] == 200 and b["result"] == "success", (
        f"the board applied the pack but ota.py reports {b['http_status']} {b['result']} after "
        f"{b['attempts']} attempt(s): {b.get('detail')}")
    a.wait_line(r"\] h\d+ ota: result=ok http=200$", mark, timeout=10)

    # 2. curl, a bigger pack (two steps)
    pack = pack_path(BOARD, "uart-v3-v4")
    mark = a.mark()
    code, body = curl_put(8080, pack, host=GUEST, netns=ns, timeout=120)
    assert code == 200 and body["result"] == "success" and body["seq"] == 6, (code, body)
    a.wait_line(rf"\] h\d+ ota: receiving bytes={os.path.getsize(pack)} from={HOST_SIDE}:", mark)
    a.wait_line(r"\] h\d+ ota: result=ok http=200$", mark, timeout=10)

    # 3. status, several times
    for _ in range(5):
        st = curl_status(8080, host=GUEST, netns=ns, timeout=60)
        assert (st["classes"]["uart"], st["seq"], st["state"], st["result"]) == (
            4, 6, "idle", "success"), st
    # 4. a large body (2 MiB, not a pack): every byte arrives, then it is refused
    junk = os.path.join(str(tmp_path), "junk.bin")
    with open(junk, "wb") as f:
        f.write(bytes((i * 131 + 7) & 255 for i in range(JUNK)))
    mark = a.mark()
    code, body = curl_put(8080, junk, host=GUEST, netns=ns, timeout=240)
    assert (code, body["result"], body["detail"]) == (422, "integrity-failure", "fit: bad magic"), (
        code, body)
    a.wait_line(rf"\] h\d+ ota: downloaded bytes={JUNK}$", mark, timeout=10)
    st = curl_status(8080, host=GUEST, netns=ns, timeout=60)
    assert (st["classes"]["uart"], st["seq"], st["state"]) == (4, 6, "idle"), st

    lost_in, lost_out = dropped(ns)
    print(f"loss: dropped in={lost_in} out={lost_out}")
    assert lost_in > 0 and lost_out > 0, f"no packet loss happened: in={lost_in} out={lost_out}"
    assert len(a.lines(r"\] h\d+ ota: receiving ")) >= 2
    check_no_trouble(a)
