"""Tests of the host tool ota-server/ota.py and its modules ota_*.py (and packtool's signing).

Run: /usr/bin/python3 -m pytest test/ota
Network traffic goes to 127.0.0.1 only: push/status/rollout talk to
test/ota/fake_agent.py, a stand-in for the board's agent that exercises
the tool's own logic; the end-to-end tests against QEMU live in test/qemu.
The build test compiles update/demos/counter_v2.c with the cross compiler
(it runs make for the kernel's prerequisites first when they are missing).
"""
import hashlib
import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OTA = os.path.join(REPO, "ota-server", "ota.py")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "ota-server"))

import fitsig  # noqa: E402
import libfdt  # noqa: E402
import ota  # noqa: E402
import ota_build  # noqa: E402
import ota_push  # noqa: E402
import packtool  # noqa: E402
import uartlog  # noqa: E402
from fake_agent import FakeAgent  # noqa: E402

CC = "riscv64-unknown-elf-gcc"
BOARD = "qemu-virt"
KBUILD = os.path.join(REPO, "build", BOARD)


def run(*args, check=None, timeout=120, cwd=None, input=None):
    r = subprocess.run([PY, OTA] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, cwd=cwd or REPO, input=input)
    if check is not None:
        assert r.returncode == check, "exit %d, wanted %d\nstdout:\n%s\nstderr:\n%s" % (
            r.returncode, check, r.stdout, r.stderr)
    return r


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys") / "keys"
    run("keygen", "--dir", d, "--name", "dev", check=0)
    return d


@pytest.fixture
def agents():
    made = []

    def make(**kw):
        a = FakeAgent(**kw)
        made.append(a)
        return a
    yield make
    for a in made:
        a.close()


def fake_module(path, tag=b"x"):
    """Not a real module: enough for the tool's network logic (the fake agent does not link)."""
    path.write_bytes(b"\x7fELF\x02\x01\x01" + tag * 200)
    return str(path)


@pytest.fixture
def small_pack(tmp_path):
    def make(seq=1, steps=(("counter", 1, 2),), name="pack.itb", signed_by=None):
        specs = ["%s:%d:%d:lazy:%s" % (c, f, t, fake_module(tmp_path / ("%s%d.o" % (c, t)), c.encode()[:1]))
                 for c, f, t in steps]
        out = tmp_path / name
        packtool.build_pack(seq, [packtool.parse_step(s) for s in specs], str(out))
        return str(out)
    return make


# ---------------------------------------------------------------------------
# command line

@pytest.mark.parametrize("cmd", [None, "keygen", "build", "push", "status", "watch", "rollout"])
def test_help(cmd):
    r = run(*([cmd] if cmd else []), "--help", check=0)
    assert "usage:" in r.stdout
    if cmd:
        assert cmd in r.stdout


@pytest.mark.parametrize("args,words", [
    (["build", "--seq", "1", "--step", "counter:1:2:lazy", "-o", "x.itb"], "want class:from:to:mode:module"),
    (["build", "--seq", "1", "--step", "counter:1:2:fast:update/demos/counter_v2.c", "-o", "x.itb"], "mode"),
    (["build", "--seq", "1", "--step", "counter:one:2:lazy:update/demos/counter_v2.c", "-o", "x.itb"], "bad step"),
    (["build", "--seq", "1", "--step", "counter:1:3:lazy:update/demos/counter_v2.c", "-o", "x.itb"], "from + 1"),
    (["build", "--seq", "1", "--step", "counter:1:2:lazy:update/demos/nosuch.c", "-o", "x.itb"], "no module file"),
    (["build", "--seq", "1", "--step", "counter:1:2:lazy:update/demos/counter_v2.c", "--keys", "/nonexistent",
      "--key-name", "dev", "-o", "x.itb"], "no signing key file"),
    (["build", "--seq", "1", "--step", "counter:1:2:lazy:update/demos/counter_v2.c", "--keys", "k", "-o", "x"],
     "--keys and --key-name go together"),
    (["build", "--seq", "-3", "--step", "counter:1:2:lazy:update/demos/counter_v2.c", "-o", "x"], "negative"),
    (["push", "/nonexistent.itb", "127.0.0.1:8080"], "no such file"),
    (["push", __file__, "127.0.0.1"], "want HOST:PORT"),
    (["push", __file__, "127.0.0.1:99999"], "out of range"),
    (["push", __file__, "127.0.0.1:80x"], "want HOST:PORT"),
    (["status", "localhost"], "want HOST:PORT"),
    (["rollout", __file__, "--boards", "127.0.0.1:8080,nope"], "want HOST:PORT"),
    (["watch", "/nonexistent/uart.log"], "no such file"),
    (["watch", "tcp:localhost"], "tcp:HOST:PORT"),
])
def test_argument_errors_exit_2(args, words):
    r = run(*args, check=2)
    assert words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_push_not_a_pack_exits_2(tmp_path):
    junk = tmp_path / "junk.itb"
    junk.write_bytes(b"not a fit at all")
    r = run("push", junk, "127.0.0.1:9", check=2)
    assert "not an update pack" in r.stderr


def test_host_port_parsing():
    assert ota.host_port("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert ota.host_port("[::1]:80") == ("::1", 80)
    assert ota.host_port("board-3.lan:8080") == ("board-3.lan", 8080)
    assert ota.host_port_list("a:1, b:2") == [("a", 1), ("b", 2)]


# ---------------------------------------------------------------------------
# keygen

def test_keygen_layout(keys):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_private_key((keys / "dev.key").read_bytes(), None)
    assert key.key_size == 2048 and key.public_key().public_numbers().e == 65537
    assert stat.S_IMODE(os.stat(keys / "dev.key").st_mode) == 0o600
    assert (keys / "dev.key").read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    cert = x509.load_pem_x509_certificate((keys / "dev.crt").read_bytes())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.subject == cert.issuer  # self-signed
    # the public key dtb, as mkimage -K wrote it
    fdt = libfdt.Fdt((keys / "pubkey.dtb").read_bytes())
    off = fdt.path_offset("/signature/key-dev")
    assert fdt.getprop(off, "required").as_str() == "conf"
    assert fdt.getprop(off, "algo").as_str() == "sha256,rsa2048"
    assert fdt.getprop(off, "key-name-hint").as_str() == "dev"
    assert fdt.getprop(off, "rsa,num-bits").as_uint32() == 2048
    n = int.from_bytes(bytes(fdt.getprop(off, "rsa,modulus")), "big")
    assert n == key.public_key().public_numbers().n
    pub, _ = fitsig.public_key(str(keys / "pubkey.dtb"), "dev")
    assert pub.public_numbers() == key.public_key().public_numbers()


def test_keygen_refuses_to_overwrite(tmp_path):
    d = tmp_path / "k"
    run("keygen", "--dir", d, check=0)
    before = {f: (d / f).read_bytes() for f in ("dev.key", "dev.crt", "pubkey.dtb")}
    r = run("keygen", "--dir", d, check=1)
    assert "refusing to overwrite" in r.stderr and "--force" in r.stderr
    assert {f: (d / f).read_bytes() for f in before} == before
    run("keygen", "--dir", d, "--force", check=0)
    assert (d / "dev.key").read_bytes() != before["dev.key"]
    assert (d / "pubkey.dtb").read_bytes() != before["pubkey.dtb"]
    # the dtb now holds the new key, once
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_private_key((d / "dev.key").read_bytes(), None)
    pub, _ = fitsig.public_key(str(d / "pubkey.dtb"), "dev")
    assert pub.public_numbers() == key.public_key().public_numbers()


def test_keygen_second_key_joins_the_dtb(tmp_path):
    d = tmp_path / "k"
    run("keygen", "--dir", d, "--name", "dev", check=0)
    run("keygen", "--dir", d, "--name", "release", check=0)
    fdt = libfdt.Fdt((d / "pubkey.dtb").read_bytes())
    for name in ("dev", "release"):
        off = fdt.path_offset("/signature/key-" + name)
        assert fdt.getprop(off, "required").as_str() == "conf"
    r = run("keygen", "--dir", d, "--name", "bad/name", check=2)
    assert "bad key name" in r.stderr


# ---------------------------------------------------------------------------
# packtool: the signing extension

def test_its_text_signature_node(tmp_path):
    step = packtool.parse_step("counter:1:2:lazy:%s" % fake_module(tmp_path / "m.o"))
    plain = packtool.its_text(3, [step])
    signed = packtool.its_text(3, [step], sign_key="dev")
    assert "signature-1" not in plain
    assert 'key-name-hint = "dev";' in signed and 'algo = "sha256,rsa2048";' in signed
    assert 'sign-images = "loadables";' in signed
    assert signed.replace(plain.split("\t\t\tloadables")[0], "").count("signature-1") == 1
    with pytest.raises(packtool.PackError):
        packtool.its_text(3, [step], sign_key='bad"name')


def test_packtool_signed_and_batch_cli(tmp_path, keys):
    """packtool's own pack command still works; build_pack signs when asked."""
    mod = fake_module(tmp_path / "m.o")
    r = subprocess.run([PY, os.path.join(REPO, "ota-server", "packtool.py"), "pack", "--seq", "4",
                        "--step", "counter:1:2:eager:" + mod, "-o", str(tmp_path / "p.itb")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert ota.pack_info(str(tmp_path / "p.itb"))["signed"] is None
    packtool.build_pack(5, [packtool.parse_step("counter:1:2:eager:" + mod)], str(tmp_path / "s.itb"),
                        keydir=str(keys), key_name="dev")
    fitsig.verify((tmp_path / "s.itb").read_bytes(), str(keys / "pubkey.dtb"))
    with pytest.raises(packtool.PackError):
        packtool.build_pack(5, [packtool.parse_step("counter:1:2:eager:" + mod)], str(tmp_path / "x.itb"),
                            keydir=str(keys))


# ---------------------------------------------------------------------------
# build (real modules, cross compiler)

needs_cc = pytest.mark.skipif(not shutil.which(CC), reason="no %s (make deps)" % CC)


@pytest.fixture(scope="session")
def kernel_build():
    """The kernel's prerequisites for modules (deps, libfdt) and make's own counter_v2.o."""
    ref = os.path.join(KBUILD, "demos", "mod", "counter_v2.o")
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", REPO, "BOARD=" + BOARD,
                        os.path.relpath(ref, REPO)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, "make failed:\n" + r.stdout + r.stderr
    return ref


def fit_nodes(blob):
    return fitsig.Fdt(blob).nodes()


@needs_cc
def test_build_signed_pack_from_source(tmp_path, keys, kernel_build):
    out = tmp_path / "counter.itb"
    keep = tmp_path / "keep"
    r = run("build", "--kernel-build", KBUILD, "--seq", 7,
            "--step", "counter:1:2:lazy:update/demos/counter_v2.c",
            "--keys", keys, "--key-name", "dev", "-o", out, "--keep", keep, check=0)
    assert "MODCC" in r.stderr and "signed by dev" in r.stderr
    blob = out.read_bytes()
    module = (keep / "1-counter_v2.o").read_bytes()
    # compiled exactly like the kernel build compiles it: same bytes as make's module
    assert module == open(kernel_build, "rb").read()
    assert module[:4] == b"\x7fELF"
    assert b".debug_info" not in module  # stripped

    fdt = libfdt.Fdt(blob)
    img = fdt.path_offset("/images/step-1")
    assert bytes(fdt.getprop(img, "data")) == module
    for prop, want in (("type", "firmware"), ("arch", "riscv"), ("os", "elf"), ("compression", "none"),
                       ("update,class", "counter"), ("update,abi", "lukos-abi-3"), ("update,mode", "lazy")):
        assert fdt.getprop(img, prop).as_str() == want, prop
    assert fdt.getprop(img, "update,from").as_uint32() == 1
    assert fdt.getprop(img, "update,to").as_uint32() == 2
    h = fdt.subnode_offset(img, "hash-1")
    assert fdt.getprop(h, "algo").as_str() == "sha256"
    assert bytes(fdt.getprop(h, "value")) == hashlib.sha256(module).digest()
    conf = fdt.path_offset("/configurations/conf-1")
    assert fdt.getprop(fdt.path_offset("/configurations"), "default").as_str() == "conf-1"
    assert fdt.getprop(conf, "update,seq").as_uint32() == 7
    assert fdt.getprop(conf, "loadables").as_str() == "step-1"
    sig = fdt.subnode_offset(conf, "signature-1")
    assert fdt.getprop(sig, "algo").as_str() == "sha256,rsa2048"
    assert fdt.getprop(sig, "key-name-hint").as_str() == "dev"
    assert fdt.getprop(sig, "sign-images").as_str() == "loadables"
    assert len(bytes(fdt.getprop(sig, "value"))) == 256

    # the signature, checked independently the way U-Boot checks it
    fitsig.verify(blob, str(keys / "pubkey.dtb"))
    _, _, props = fitsig.signed_data(blob)
    assert fitsig.stringlist(props["hashed-nodes"]) == [
        "/", "/configurations/conf-1", "/images/step-1", "/images/step-1/hash-1"]
    # and mkimage's own listing shows it
    listing = subprocess.run(["mkimage", "-l", str(out)], capture_output=True, text=True).stdout
    assert "Sign algo:    sha256,rsa2048:dev" in listing

    # a tampered property breaks the signature (the one after the module: it has its own copy)
    bad = bytearray(blob)
    at = bad.find(b"lukos-abi-3", blob.find(module) + len(module))
    bad[at + len("lukos-abi-")] = ord("9")
    with pytest.raises(Exception):
        fitsig.verify(bytes(bad), str(keys / "pubkey.dtb"))
    # a tampered module leaves the signature (data is not signed) but not the hash
    bad = bytearray(blob)
    at = bad.find(module)
    bad[at + len(module) // 2] ^= 0x40
    fitsig.verify(bytes(bad), str(keys / "pubkey.dtb"))
    f2 = libfdt.Fdt(bytes(bad))
    i2 = f2.path_offset("/images/step-1")
    assert hashlib.sha256(bytes(f2.getprop(i2, "data"))).digest() != \
        bytes(f2.getprop(f2.subnode_offset(i2, "hash-1"), "value"))
    # another key does not verify it
    other = tmp_path / "other"
    run("keygen", "--dir", other, check=0)
    with pytest.raises(Exception):
        fitsig.verify(blob, str(other / "pubkey.dtb"))


@needs_cc
def test_build_several_steps_and_classes(tmp_path, kernel_build):
    """Two classes, three steps, one of them an already compiled .o; unsigned."""
    out = tmp_path / "multi.itb"
    r = run("build", "--kernel-build", KBUILD, "--seq", 12,
            "--step", "uart:1:2:eager:update/demos/uart_v2.c",
            "--step", "counter:1:2:default:%s" % kernel_build,
            "--step", "counter:2:3:lazy:update/demos/counter_v3.c;requires=uart>=2",
            "-o", out, "--json", check=0)
    info = json.loads(r.stdout)
    assert info["seq"] == 12 and info["signed"] is None
    assert [(s["class"], s["from"], s["to"]) for s in info["steps"]] == [
        ("uart", 1, 2), ("counter", 1, 2), ("counter", 2, 3)]
    nodes = fit_nodes(out.read_bytes())
    assert nodes["/configurations/conf-1"]["loadables"] == b"step-1\0step-2\0step-3\0"
    assert "signature-1" not in str(nodes.keys())
    assert nodes["/images/step-2"]["data"] == open(kernel_build, "rb").read()  # used as it is
    assert "update,mode" not in nodes["/images/step-2"]
    assert nodes["/images/step-3"]["update,requires"] == b"uart>=2\0"
    for i in (1, 2, 3):
        assert nodes["/images/step-%d/hash-1" % i]["value"] == hashlib.sha256(
            nodes["/images/step-%d" % i]["data"]).digest()


@needs_cc
def test_build_compile_error_exits_1(tmp_path, kernel_build):
    src = tmp_path / "broken.c"
    src.write_text("int broken(void) { return undefined_thing; }\n")
    r = run("build", "--kernel-build", KBUILD, "--seq", 1, "--step", "counter:1:2:lazy:%s" % src,
            "-o", tmp_path / "x.itb", check=1)
    assert "compiling" in r.stderr and "undefined_thing" in r.stderr
    assert not (tmp_path / "x.itb").exists()


def test_module_flags_default_matches_the_makefile():
    """The documented default, print-modcflags and the Makefile itself agree."""
    exact = ota_build.make_modcflags(REPO, BOARD, "overlay")
    default = ota_build.make_modcflags(REPO, BOARD, "default")
    auto = ota_build.make_modcflags(REPO, BOARD, "auto")
    split = ota_build._split
    assert split(default["MODCFLAGS"]) == split(exact["MODCFLAGS"])
    assert default["CC"] == exact["CC"] and default["OBJCOPY"] == exact["OBJCOPY"]
    assert split(auto["MODCFLAGS"]) == split(exact["MODCFLAGS"])
    assert '-DPLAT_NAME="qemu-virt"' in split(exact["MODCFLAGS"])
    assert "-mno-relax" in split(exact["MODCFLAGS"])


def test_print_modcflags_target_keeps_quoting():
    """`make print-modcflags` must print MODCFLAGS in shell syntax ($(info), not echo)."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", REPO, "BOARD=" + BOARD, "print-modcflags"],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip("the Makefile has no print-modcflags target yet (ota.py falls back)")
    printed = ota_build._parse_make_vars(r.stdout)
    exact = ota_build.make_modcflags(REPO, BOARD, "overlay")
    if ota_build._split(printed["MODCFLAGS"]) != ota_build._split(exact["MODCFLAGS"]):
        pytest.xfail("print-modcflags loses the shell quoting (echo): ota.py uses the Makefile's value")
    assert printed["CC"] == exact["CC"]


def test_module_flags_parsing():
    assert ota_build._parse_make_vars("CC=gcc\nOBJCOPY=objcopy\nMODCFLAGS=-march=rv64 -I.\n") == {
        "CC": "gcc", "OBJCOPY": "objcopy", "MODCFLAGS": "-march=rv64 -I."}
    assert ota_build._parse_make_vars("-march=rv64 -O2\nriscv64-unknown-elf-gcc\n")["CC"] == "riscv64-unknown-elf-gcc"
    assert ota_build._parse_make_vars("nothing useful") is None


# ---------------------------------------------------------------------------
# push

def test_push_success(agents, small_pack):
    a = agents()
    pack = small_pack(seq=3)
    r = run("push", pack, a.addr, check=0)
    puts = a.puts()
    assert len(puts) == 1
    method, path, headers, body = puts[0]
    assert (method, path) == ("PUT", "/update")
    assert headers["Content-Type"] == "application/octet-stream"
    assert int(headers["Content-Length"]) == len(body) == os.path.getsize(pack)
    assert body == open(pack, "rb").read()
    assert a.classes["counter"] == 2 and a.seq == 3
    line = [l for l in r.stdout.splitlines() if l.startswith(a.addr)][0].split()
    assert line[1:3] == ["200", "success"] and line[3] == "3"
    assert "counter=2" in line
    assert "1 of 1 boards updated" in r.stdout
    assert "\033[" not in r.stdout  # not a terminal: no colours


def test_push_json(agents, small_pack):
    a = agents(extra={"uptime_s": 12})
    r = run("push", small_pack(seq=5), a.addr, "--json", check=0)
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["pack"]["seq"] == 5
    b = doc["boards"][0]
    assert b["board"] == a.addr and b["http_status"] == 200 and b["result"] == "success"
    assert b["body"]["seq"] == 5 and b["classes"]["counter"] == 2 and b["attempts"] == 1


def test_push_retries_a_dropped_connection(agents, small_pack):
    a = agents(drops=2)
    r = run("push", small_pack(), a.addr, "--backoff", "0.05", "--json", check=0)
    b = json.loads(r.stdout)["boards"][0]
    assert b["ok"] and b["attempts"] == 3 and a.dropped == 2
    assert len(a.puts()) == 1


def test_push_gives_up_after_retries(agents, small_pack):
    a = agents(drops=5)
    r = run("push", small_pack(), a.addr, "--retries", "1", "--backoff", "0.05", check=1)
    assert a.dropped == 2 and not a.puts()
    assert "connection-lost" in r.stdout and "after 2 attempts" in r.stdout
    assert "0 of 1 boards updated; 1 failed" in r.stdout


def test_push_retries_a_refused_connection(agents, small_pack):
    a = agents(listen=False)  # bound, not listening: connections are refused
    # The pack first: building it may take longer than the timer below.
    data = open(small_pack(), "rb").read()
    threading.Timer(0.4, a.listen).start()
    b = ota_push.push_one(("127.0.0.1", a.port), data, ota_push.PushOptions(retries=5, backoff=0.2))
    assert b["ok"] and b["attempts"] >= 2 and b["http_status"] == 200


def test_push_refused_for_good(small_pack):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # never listens
    try:
        port = s.getsockname()[1]
        r = run("push", small_pack(), "127.0.0.1:%d" % port, "--retries", "2", "--backoff", "0.01",
                "--json", check=1)
    finally:
        s.close()
    b = json.loads(r.stdout)["boards"][0]
    assert b["result"] == "unreachable" and b["attempts"] == 3 and b["http_status"] is None


def test_push_busy_409_reported_not_retried(agents, small_pack):
    a = agents(busy=True)
    r = run("push", small_pack(), a.addr, "--backoff", "0.01", check=1)
    assert len(a.puts()) == 1
    line = [l for l in r.stdout.splitlines() if l.startswith(a.addr)][0]
    assert " 409 " in line and "busy" in line and "an update is in progress" in line


def test_push_too_large_413(agents, small_pack):
    a = agents(max_size=64)
    r = run("push", small_pack(), a.addr, "--json", check=1)
    b = json.loads(r.stdout)["boards"][0]
    assert b["http_status"] == 413 and b["result"] == "too-large"


def test_push_early_answer_while_sending(agents):
    """A board that answers 413 before reading a big body (and closes) is reported, not retried."""
    a = agents(max_size=1 << 20)
    data = os.urandom(4 << 20)
    res = ota_push.push_one(("127.0.0.1", a.port), data, ota_push.PushOptions(retries=2, backoff=0.05))
    assert (res["http_status"], res["result"], res["attempts"]) == (413, "too-large", 1)


def test_push_several_boards_one_rejects(agents, small_pack):
    good = agents()
    bad = agents(classes={"counter": 2})  # already at 2: the step 1->2 is refused
    r = run("push", small_pack(), good.addr, bad.addr, "--json", check=1)
    doc = json.loads(r.stdout)
    res = {b["board"]: b for b in doc["boards"]}
    assert res[good.addr]["ok"] and res[good.addr]["http_status"] == 200
    assert res[bad.addr]["http_status"] == 422 and res[bad.addr]["result"] == "unsupported-package"
    assert res[bad.addr]["detail"] == "gap: chain: counter 1->2 at 2"
    assert doc["ok"] is False


def test_push_integrity_failure(agents, small_pack, tmp_path):
    a = agents()
    pack = small_pack()
    packtool.tamper(pack, str(tmp_path / "counter2.o"))
    r = run("push", pack, a.addr, check=1)
    assert "integrity-failure" in r.stdout and " 422 " in r.stdout


def test_push_wait_reports_the_final_state(agents, small_pack):
    ok = agents(settle=0.3)
    r = run("push", small_pack(), ok.addr, "--wait", "--poll", "0.05", "--json", check=0)
    b = json.loads(r.stdout)["boards"][0]
    assert b["state"] == "idle" and b["result"] == "success" and b["classes"]["counter"] == 2
    assert len([q for q in ok.requests if q[0] == "GET"]) >= 2  # polled while updating

    rolled = agents(settle=0.2, rollback_after="update-failed")
    r = run("push", small_pack(seq=2, name="p2.itb"), rolled.addr, "--wait", "--poll", "0.05", check=1)
    line = [l for l in r.stdout.splitlines() if l.startswith(rolled.addr)][0]
    assert " 200 " in line and "update-failed" in line and "counter=1" in line
    assert "(rolled-back)" in line


def test_push_wait_timeout(agents, small_pack):
    a = agents(settle=30)
    r = run("push", small_pack(), a.addr, "--wait", "--poll", "0.05", "--wait-timeout", "0.4", "--json",
            check=1)
    assert json.loads(r.stdout)["boards"][0]["result"] == "wait-timeout"


def test_push_progress_bar(agents, small_pack):
    if ota_push.tqdm is None:
        pytest.skip("python3-tqdm not installed")
    a = agents()
    buf = io.StringIO()
    data = open(small_pack(), "rb").read()
    res = ota_push.push_one(("127.0.0.1", a.port), data, ota_push.PushOptions(progress=True, bar_file=buf))
    assert res["ok"]
    assert a.addr in buf.getvalue() and "200 success" in buf.getvalue()


# ---------------------------------------------------------------------------
# status

def test_status_table(agents, small_pack):
    a = agents(extra={"uptime_s": 42})
    run("push", small_pack(seq=9), a.addr, check=0)
    r = run("status", a.addr, check=0)
    out = r.stdout
    assert a.addr in out and "(qemu-virt)" in out
    assert "lukos-abi-3" in out
    assert "idle (LwM2M 0)" in out and "success (LwM2M 1)" in out
    assert "sequence     9" in out
    assert "counter        v2" in out and "uart           v1" in out
    assert "uptime_s" in out and "42" in out  # extra fields are shown
    assert "update: applied class=counter from=1 to=2" in out


def test_status_shows_the_journal(agents):
    a = agents(extra={"persistent": True, "safe_mode": False,
                      "journal": {"entries": 3, "committed": 2, "used": 20480,
                                  "free": 3 * 1048576, "max_pack": 1048576}})
    out = run("status", a.addr, check=0).stdout
    assert "persistent   yes: 3 entries (2 committed), used 20.0 KiB, free 3.0 MiB, " \
           "largest pack 1.0 MiB" in out
    assert "SAFE MODE" not in out
    a.extra.update({"safe_mode": True})
    assert "SAFE MODE" in run("status", a.addr, check=0).stdout
    a.extra.update({"persistent": False})
    assert "persistent   no (volatile" in run("status", a.addr, check=0).stdout


def test_status_json_is_the_raw_document(agents):
    a = agents()
    r = run("status", a.addr, "--json", check=0)
    assert json.loads(r.stdout) == a.status()


def test_status_unreachable_exits_1():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    try:
        r = run("status", "127.0.0.1:%d" % s.getsockname()[1], "--retries", "0", check=1)
    finally:
        s.close()
    assert "refused" in r.stderr.lower()


def test_status_colours_on_request(agents):
    a = agents()
    a.result, a.reason = "integrity-failure", "integrity"
    a.events.append("seq=0 integrity")
    r = run("status", a.addr, "--color", "always", check=0)
    assert "\033[1;31mintegrity-failure (LwM2M 5)\033[0m  (integrity)" in r.stdout
    assert "\033[1;31mseq=0 integrity\033[0m" in r.stdout
    assert "result_code" not in r.stdout  # shown as the LwM2M code already


# ---------------------------------------------------------------------------
# rollout

def test_rollout_all_stages(agents, small_pack):
    fleet = [agents() for _ in range(4)]
    r = run("rollout", small_pack(seq=4), "--boards", ",".join(a.addr for a in fleet),
            "--first", "1", "--stage-size", "2", "--poll", "0.05", check=0)
    assert "3 stages (1 + 2 + 1)" in r.stdout
    assert "rollout complete: 4 of 4 boards updated" in r.stdout
    assert all(a.classes["counter"] == 2 and a.seq == 4 for a in fleet)


def test_rollout_stops_at_a_failing_stage(agents, small_pack):
    a, b, c, d = agents(), agents(), agents(settle=0.1, rollback_after="update-failed"), agents()
    r = run("rollout", small_pack(seq=4), "--boards", ",".join(x.addr for x in (a, b, c, d)),
            "--first", "1", "--stage-size", "2", "--poll", "0.05", "--json", check=1)
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["failed_stage"] == 2 and doc["stages"] == 3
    assert doc["updated"] == [a.addr, b.addr]
    assert doc["failed"] == [c.addr]
    assert doc["not_pushed"] == [d.addr]
    assert not d.requests  # the last stage was never touched
    failed = [x for x in doc["boards"] if x["board"] == c.addr][0]
    assert failed["http_status"] == 200 and failed["result"] == "update-failed"

    # the same as a table
    a2, b2, c2, d2 = agents(), agents(), agents(reject=(422, "integrity-failure", "signature")), agents()
    r = run("rollout", small_pack(seq=4, name="again.itb"), "--boards",
            ",".join(x.addr for x in (a2, b2, c2, d2)), "--stage-size", "2", "--poll", "0.05", check=1)
    assert "rollout stopped at stage 2 of 3" in r.stdout
    assert "updated:    %s, %s" % (a2.addr, b2.addr) in r.stdout
    assert "failed:     %s (integrity-failure)" % c2.addr in r.stdout
    assert "not pushed: %s" % d2.addr in r.stdout


def test_rollout_first_stage_failure_pushes_nothing_else(agents, small_pack):
    a, b = agents(busy=True), agents()
    r = run("rollout", small_pack(), "--boards", "%s,%s" % (a.addr, b.addr), "--poll", "0.05", check=1)
    assert "rollout stopped at stage 1 of 2" in r.stdout
    assert not b.requests


def test_rollout_checks_versions_in_status(agents, small_pack):
    """A board that says success but still shows the old version fails the stage."""
    class Liar(FakeAgent):
        def status(self):
            s = super().status()
            s["classes"]["counter"] = 1
            return s
    liar = Liar()
    try:
        r = run("rollout", small_pack(), "--boards", liar.addr, "--poll", "0.05", "--json", check=1)
    finally:
        liar.close()
    b = json.loads(r.stdout)["boards"][0]
    assert b["result"] == "version-mismatch" and "counter=1 (want 2)" in b["detail"]


# ---------------------------------------------------------------------------
# watch and the UART log

LOG = """\
OpenSBI v1.1
[    2.433764] h0 boot: kernel board=qemu-virt hart=0 fdt=0x8f7354f0 args="shutdown=3"
[    3.993664] h0 boot: ready harts=4 board=qemu-virt
[    4.100000] h1 ota: receiving bytes=21259 from=10.0.2.2
[    4.200000] h1 ota: verified seq=7 key=dev
[    4.204311] h2 update: applied class=uart from=1 to=2 mode=eager instances=1 apply_us=14
[    4.300000] h3 update: rejected seq=6 reason=replay detail="seq 6 not above 6"
[    4.400000] h0 update: rolled-back class=counter from=3 to=4 version=3 reason="fault in new code"
[    4.500000] h0 trap: fault cause=13 (load page fault) sepc=0x0 stval=0x0 hart=0 thread=w tid=3
[    5.049344] h1 workload: heartbeat seq=1 made=4660890 counted=4660890 match=yes
"""


def test_parse_line():
    ev = uartlog.parse_line('[    4.300000] h3 update: rejected seq=6 reason=replay detail="seq 6 not above 6"')
    assert (ev.time, ev.hart, ev.subsystem, ev.message) == (4.3, 3, "update", "rejected")
    assert ev.fields == {"seq": "6", "reason": "replay", "detail": "seq 6 not above 6"}
    ev = uartlog.parse_line("[    1.204311] h2 update: applied class=uart from=1 to=2 lazy=1 blackout_us=14")
    assert ev.message == "applied" and ev.fields["blackout_us"] == "14" and uartlog.classify(ev) == "good"
    ev = uartlog.parse_line("[    1.0] h0 update: fault in new code class=counter: rolling back, the call is retried")
    assert ev.message == "fault in new code" and ev.fields["class"] == "counter:"
    assert uartlog.classify(ev) == "bad"
    assert uartlog.classify(uartlog.parse_line("[1.0] h0 ota: receiving bytes=10")) == "info"
    assert uartlog.classify(uartlog.parse_line("[1.0] h0 update: applied class=x mode=default")) == "good"
    assert uartlog.classify(uartlog.parse_line("[1.0] h0 ota: done result=integrity-failure")) == "bad"
    assert not uartlog.parse_line("OpenSBI v1.1").is_log


def test_watch_file_colours_and_events(tmp_path):
    log = tmp_path / "uart.log"
    log.write_text(LOG)
    r = run("watch", log, check=0)
    assert r.stdout == LOG  # not a terminal: passed through as is
    r = run("watch", log, "--color", "always", check=0)
    G, R, C = "\033[32m", "\033[1;31m", "\033[36m"
    lines = r.stdout.splitlines()
    assert lines[5].startswith(G) and "applied" in lines[5]
    assert lines[6].startswith(R) and lines[7].startswith(R) and lines[8].startswith(R)
    assert lines[3].startswith(C) and lines[4].startswith(C)
    assert lines[2] == LOG.splitlines()[2]  # boot: plain
    r = run("watch", log, "--events", check=0)
    assert [l.split()[3] for l in r.stdout.splitlines()] == ["ota:", "ota:", "update:", "update:", "update:"]
    r = run("watch", log, "--events", "--json", check=0)
    evs = [json.loads(l) for l in r.stdout.splitlines()]
    assert [e["kind"] for e in evs] == ["info", "info", "good", "bad", "bad"]
    assert evs[3]["fields"]["detail"] == "seq 6 not above 6"
    r = run("watch", log, "-n", "2", check=0)
    assert r.stdout.splitlines() == LOG.splitlines()[-2:]


def test_watch_follow_file_until(tmp_path):
    log = tmp_path / "uart.log"
    log.write_text(LOG.splitlines()[0] + "\n")
    proc = subprocess.Popen([PY, OTA, "watch", str(log), "--follow", "--until", "update: applied",
                             "--timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        with open(log, "w") as f:  # truncated, as a new `make run` does
            f.write(LOG.splitlines()[1] + "\n")
        time.sleep(0.5)
        with open(log, "a") as f:
            f.write(LOG.splitlines()[2] + "\n")
            f.flush()
            time.sleep(0.3)
            f.write(LOG.splitlines()[5] + "\n")
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "OpenSBI v1.1"
    assert "boot: kernel" in lines[1] and "boot: ready" in lines[2] and "update: applied" in lines[3]


def test_watch_until_not_seen(tmp_path):
    log = tmp_path / "uart.log"
    log.write_text(LOG)
    r = run("watch", log, "--until", "never-there", check=1)
    assert "not seen" in r.stderr
    r = run("watch", log, "--follow", "--until", "never-there", "--timeout", "0.5", check=1)


def _serve_once(sock, payload):
    def serve():
        conn, _ = sock.accept()
        with conn:
            try:
                for line in payload.splitlines(keepends=True):
                    conn.sendall(line.encode())
                    time.sleep(0.01)
            except OSError:
                pass  # the watcher stopped reading (--until)
        sock.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_watch_unix_socket(tmp_path):
    path = str(tmp_path / "serial.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    _serve_once(s, LOG.replace("\n", "\r\n"))
    r = run("watch", path, "--events", check=0)
    assert len(r.stdout.splitlines()) == 5 and "\r" not in r.stdout


def test_watch_tcp(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    _serve_once(s, LOG)
    r = run("watch", "tcp:127.0.0.1:%d" % s.getsockname()[1], "--until", "rolled-back", check=0)
    assert r.stdout.splitlines()[-1].split()[4] == "rolled-back"


def test_watch_serial_device():
    """A pty stands in for /dev/ttyUSB0: opened raw at 115200."""
    import pty
    import termios
    master, slave = pty.openpty()
    name = os.ttyname(slave)
    try:
        proc = subprocess.Popen([PY, OTA, "watch", name, "--until", "update: applied", "--timeout", "20"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        attrs = termios.tcgetattr(slave)
        assert attrs[4] == termios.B115200 and not attrs[3] & termios.ICANON
        os.write(master, LOG.encode())
        out, err = proc.communicate(timeout=20)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1].endswith("apply_us=14")


def test_watch_stdin():
    r = run("watch", "-", "--events", "--json", input=LOG, check=0)
    assert len(r.stdout.splitlines()) == 5
