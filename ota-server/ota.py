#!/usr/bin/python3
"""ota.py: build, sign, push and watch live-update packs.

  keygen   an RSA-2048 signing key (mkimage's -k layout) and its public key dtb
  build    compile update modules like the kernel build does, make a (signed) pack
  push     PUT a pack to one or more boards' agents (HTTP, port 8080)
  status   a board's agent status (versions, sequence number, LwM2M state/result)
  watch    follow a board's UART log, highlighting update/ota events
  rollout  push a pack to a fleet in stages, stopping at the first failing stage;
           with --broker, publish jobs over MQTT in waves for boards to pull (fleet.py)
  fleet    every board's last state as retained on an MQTT broker
  serve    serve a folder of packs over HTTP (Range) for boards to fetch

Run `ota.py COMMAND --help` for each command. Exit codes: 0 success,
1 a board (or a build step) failed, 2 bad arguments or input files.

The agent's HTTP contract (the kernel's OTA agent; DESIGN.md "Network and agent"):
  PUT /update  body = pack  -> 200 {"result": "success", "seq": N, ...}
                              or 4xx/5xx {"result": "<code>", "detail": "..."}
                              (400 bad request, 409 busy, 413 too large,
                               422 rejected pack)
  GET /status  -> 200 {"abi", "board", "classes": {"uart": 2, ...}, "seq",
                       "state": idle|downloading|downloaded|updating,
                       "result": initial|success|integrity-failure|..., "events": [...]}
Extra fields are tolerated and shown.
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fleet  # noqa: E402  (pull over MQTT: rollout --broker, fleet, serve)
import packtool  # noqa: E402  (the pack builder this tool reuses)
import uartlog  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # Debian: python3-tqdm; without it, no progress bars
    tqdm = None

REPO = os.path.dirname(HERE)
DEFAULT_PORT = 8080
SIGN_ALGO = packtool.SIGN_ALGO

# LwM2M firmware update object (object 5): resource 3 State, resource 5 Update Result.
LWM2M_STATE = {"idle": 0, "downloading": 1, "downloaded": 2, "updating": 3}
LWM2M_RESULT = {"initial": 0, "success": 1, "not-enough-flash": 2, "not-enough-storage": 2,
                "out-of-memory": 3,
                "connection-lost": 4, "integrity-failure": 5, "unsupported-package": 6,
                "invalid-uri": 7, "update-failed": 8, "unsupported-protocol": 9}

# ---------------------------------------------------------------------------
# Documented default for the module compiler flags. Used only when the
# kernel's Makefile cannot tell us: `make print-modcflags` (the Makefile's own
# target), else the same query through a throwaway makefile added with a
# second -f (which reads the real Makefile's variables without changing it).
# This copies KCFLAGS from the top Makefile plus `-I. -mno-relax`
# (update/demos/demos.mk MODCFLAGS) as of lukos-abi-1; the PLAT_* values come
# from platform/<board>/platform.mk. Keep it in step with the Makefile:
# test/ota/test_ota_tool.py compares it with what make says.
DEFAULT_CROSS = "riscv64-unknown-elf-"
DEFAULT_KCFLAGS = (
    "-march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany --specs=picolibc.specs "
    "-ftls-model=local-exec -std=gnu11 -O2 -g -ffreestanding -fno-common "
    "-fno-omit-frame-pointer -fno-strict-aliasing -fno-builtin-printf -Wall -Wextra -Werror "
    "-Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes "
    "-Iinclude -I{platform_dir} -Ibuild/libfdt "
    "-DPLAT_NAME='\"{PLAT_NAME}\"' -DPLAT_MAX_HARTS={PLAT_MAX_HARTS} "
    "-DPLAT_LOAD_ADDR={PLAT_LOAD_ADDR}")
DEFAULT_MODCFLAGS_EXTRA = "-I. -mno-relax"

PRINT_MODCFLAGS_MK = """\
# ota.py: a throwaway makefile read after the kernel's own Makefile.
# $(info) prints the values as make hands them to the shell (shell syntax).
.PHONY: ota-print-modcflags
ota-print-modcflags:
\t$(info CC=$(CC))
\t$(info OBJCOPY=$(OBJCOPY))
\t$(info MODCFLAGS=$(MODCFLAGS))
\t@:
"""


class UsageError(Exception):
    """Bad arguments or input files: exit code 2."""


class Failure(Exception):
    """The operation failed: exit code 1."""


def note(msg):
    print("ota: %s" % msg, file=sys.stderr)


# ---------------------------------------------------------------------------
# argument types

def host_port(spec):
    """HOST:PORT (IPv6 as [addr]:port) -> (host, port); argparse type."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([A-Za-z0-9_.\-]+):(\d+)", spec.strip())
    if not m:
        raise argparse.ArgumentTypeError("bad board address %r: want HOST:PORT (e.g. 127.0.0.1:8080)" % spec)
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("bad board address %r: port %d out of range" % (spec, port))
    return (host, port)


def host_port_list(spec):
    boards = [host_port(s) for s in spec.split(",") if s.strip()]
    if not boards:
        raise argparse.ArgumentTypeError("no boards in %r" % spec)
    return boards


def existing_file(path):
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError("no such file: %s" % path)
    return path


def positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % s)
    if v < 0:
        raise argparse.ArgumentTypeError("must not be negative: %r" % s)
    return v


def addr_str(board):
    host, port = board
    return "[%s]:%d" % board if ":" in host else "%s:%d" % board


# ---------------------------------------------------------------------------
# tables and colours

def use_color(stream, mode="auto"):
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def paint(text, colour, on):
    return uartlog.ANSI[colour] + text + uartlog.ANSI["reset"] if on and colour else text


def table(headers, rows, colours=None, color=False):
    """Plain text table; colours: per row, a colour name for the whole row or None."""
    cells = [[str(c) for c in headers]] + [[("-" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, r in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
        if n == 0:
            line = paint(line, "bold", color)
        elif colours and colours[n - 1]:
            line = paint(line, colours[n - 1], color)
        out.append(line)
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def versions_str(classes):
    if not isinstance(classes, dict) or not classes:
        return None
    return " ".join("%s=%s" % (k, classes[k]) for k in sorted(classes))


# ---------------------------------------------------------------------------
# packs (reading them back with python3-libfdt)

def pack_info(path):
    """What a pack carries: seq, steps, signature; UsageError if it is not a FIT."""
    data = open(path, "rb").read()
    try:
        meta = packtool.read_pack(data)
    except ImportError:
        return {"path": path, "size": len(data), "seq": None, "steps": [], "signed": None,
                "sha256": hashlib.sha256(data).hexdigest()}
    except ValueError as e:
        raise UsageError("%s is not an update pack (FIT): %s" % (path, e))
    return dict(meta, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def pack_summary(info):
    steps = ", ".join("%s %d->%d" % (s["class"], s["from"], s["to"]) for s in info["steps"]) or "?"
    signed = "signed by %s" % info["signed"] if info.get("signed") else "unsigned"
    return "%s: seq %s, %s, %d bytes, %s" % (os.path.basename(info["path"]), info["seq"], steps,
                                            info["size"], signed)


def expected_versions(info):
    want = {}
    for s in info["steps"]:
        want[s["class"]] = s["to"]
    return want


# ---------------------------------------------------------------------------
# keygen

def cmd_keygen(a):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    if not re.fullmatch(r"[A-Za-z0-9_\-]+", a.name):
        raise UsageError("bad key name %r: letters, digits, '_' and '-' only" % a.name)
    for tool in ("mkimage", "dtc"):
        if not shutil.which(tool):
            raise Failure("%s not found (Debian: %s)" % (tool, "u-boot-tools" if tool == "mkimage"
                                                         else "device-tree-compiler"))
    key_path = os.path.join(a.dir, a.name + ".key")
    crt_path = os.path.join(a.dir, a.name + ".crt")
    pub_path = a.pubkey or os.path.join(a.dir, "pubkey.dtb")
    existing = [p for p in (key_path, crt_path) if os.path.exists(p)]
    if existing and not a.force:
        raise Failure("refusing to overwrite %s (use --force to replace the key)" % " and ".join(existing))
    os.makedirs(a.dir, mode=0o700, exist_ok=True)

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, a.name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lukos update signing")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=a.days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    crt_pem = cert.public_bytes(serialization.Encoding.PEM)

    with tempfile.TemporaryDirectory(prefix="ota-keygen-") as tmp:
        # mkimage reads <keydir>/<name>.key and .crt; stage them, sign a throwaway
        # FIT with -K so that mkimage writes /signature/key-<name> (required = "conf").
        kdir = os.path.join(tmp, "keys")
        os.mkdir(kdir, 0o700)
        fd = os.open(os.path.join(kdir, a.name + ".key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        open(os.path.join(kdir, a.name + ".crt"), "wb").write(crt_pem)
        dtb = os.path.join(tmp, "pubkey.dtb")
        if os.path.exists(pub_path):
            shutil.copyfile(pub_path, dtb)  # add this key to the ones already there
        else:
            r = subprocess.run(["dtc", "-I", "dts", "-O", "dtb", "-o", dtb, "-"],
                               input="/dts-v1/; / { };\n", capture_output=True, text=True)
            if r.returncode:
                raise Failure("dtc failed: %s" % r.stderr.strip())
        blob = os.path.join(tmp, "throwaway.bin")
        open(blob, "wb").write(b"ota.py keygen: throwaway image\n")
        step = {"class": "keygen", "from": 0, "to": 1, "mode": "default",
                "abi": packtool.KERNEL_ABI, "requires": [], "module": blob}
        its = os.path.join(tmp, "throwaway.its")
        open(its, "w").write(packtool.its_text(0, [step], "ota.py keygen throwaway", sign_key=a.name))
        try:
            packtool.mkimage(its, os.path.join(tmp, "throwaway.itb"), keydir=kdir, pubkey_dtb=dtb)
        except packtool.PackError as e:
            raise Failure(str(e))
        check_pubkey_dtb(dtb, a.name)
        # all went well: put the files in place
        tmp_key = key_path + ".new"
        fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        os.replace(tmp_key, key_path)
        open(crt_path + ".new", "wb").write(crt_pem)
        os.replace(crt_path + ".new", crt_path)
        shutil.copyfile(dtb, pub_path + ".new")
        os.replace(pub_path + ".new", pub_path)

    fp = hashlib.sha256(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    print("private key  %s (keep it secret)" % key_path)
    print("certificate  %s" % crt_path)
    print("public key   %s  node /signature/key-%s, required = \"conf\"" % (pub_path, a.name))
    print("fingerprint  sha256:%s" % fp)
    print("sign packs with: ota.py build ... --keys %s --key-name %s" % (a.dir, a.name))
    return 0


def check_pubkey_dtb(path, name):
    try:
        import libfdt
    except ImportError:
        return
    fdt = libfdt.Fdt(open(path, "rb").read())
    try:
        off = fdt.path_offset("/signature/key-" + name)
        req = fdt.getprop(off, "required").as_str()
        algo = fdt.getprop(off, "algo").as_str()
    except libfdt.FdtException as e:
        raise Failure("mkimage wrote no usable /signature/key-%s in %s: %s" % (name, path, e))
    if req != "conf" or algo != SIGN_ALGO:
        raise Failure("unexpected key node in %s: required=%r algo=%r" % (path, req, algo))


# ---------------------------------------------------------------------------
# build

def kernel_tree_of(kernel_build, tree=None):
    tree = os.path.abspath(tree or os.path.dirname(os.path.dirname(os.path.abspath(kernel_build))))
    if not os.path.isfile(os.path.join(tree, "Makefile")):
        raise UsageError("no kernel Makefile in %s (give --kernel-tree)" % tree)
    return tree


def _parse_make_vars(out):
    vals = {}
    for line in out.splitlines():
        m = re.match(r"^(CC|OBJCOPY|MODCFLAGS)\s*[:]?=\s*(.*)$", line.strip())
        if m:
            vals[m.group(1)] = m.group(2).strip()
    if "MODCFLAGS" not in vals:
        # tolerate a target that prints the bare values: flags on one line, CC on another
        for line in out.splitlines():
            line = line.strip()
            if "-march=" in line:
                vals["MODCFLAGS"] = line
            elif re.search(r"(^|/)[\w.\-]*gcc$", line):
                vals["CC"] = line
    return vals if "MODCFLAGS" in vals else None


def _platform_vars(tree, board):
    vals = {}
    mk = os.path.join(tree, "platform", board, "platform.mk")
    if not os.path.isfile(mk):
        raise UsageError("unknown board %r: no %s" % (board, os.path.relpath(mk, tree)))
    for line in open(mk):
        m = re.match(r"^\s*(PLAT_[A-Z_]+)\s*[:?]?=\s*(.*?)\s*$", line)
        if m:
            vals.setdefault(m.group(1), m.group(2))
    return vals


def _split(flags):
    try:
        return shlex.split(flags)
    except ValueError:
        return flags.split()


def _overlay_modcflags(base, env, want_result=False):
    """MODCFLAGS read from the Makefile through a throwaway second makefile."""
    with tempfile.NamedTemporaryFile("w", suffix=".mk", prefix="ota-modcflags-") as mk:
        mk.write(PRINT_MODCFLAGS_MK)
        mk.flush()
        r = subprocess.run(base + ["-f", "Makefile", "-f", mk.name, "ota-print-modcflags"],
                           capture_output=True, text=True, env=env)
    vals = _parse_make_vars(r.stdout) if r.returncode == 0 else None
    if vals:
        vals["source"] = "overlay"
    return (vals, r) if want_result else vals


def default_modcflags(tree, board):
    v = _platform_vars(tree, board)
    flags = DEFAULT_KCFLAGS.format(platform_dir="platform/" + board, **v)
    return {"CC": DEFAULT_CROSS + "gcc", "OBJCOPY": DEFAULT_CROSS + "objcopy",
            "MODCFLAGS": flags + " " + DEFAULT_MODCFLAGS_EXTRA, "source": "default"}


def make_modcflags(tree, board, source="auto"):
    """How the kernel build compiles update modules: {CC, OBJCOPY, MODCFLAGS, source}.

    source: auto (print-modcflags, then the overlay, then the default),
    target, overlay or default. MODCFLAGS is in shell syntax (as make hands
    it to the shell): split it with shlex.

    A print-modcflags that prints through the shell (`@echo "...$(MODCFLAGS)"`)
    loses the quoting of -DPLAT_NAME='"qemu-virt"'; so when the flags it
    prints carry quotes, auto mode checks them against the overlay's and
    uses the overlay's (the Makefile's own value) if they differ.
    """
    base = ["make", "-s", "--no-print-directory", "-C", tree, "BOARD=" + board]
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    tried = []
    if source in ("auto", "target"):
        r = subprocess.run(base + ["print-modcflags"], capture_output=True, text=True, env=env)
        vals = _parse_make_vars(r.stdout) if r.returncode == 0 else None
        if vals and source == "auto" and re.search(r"[\"'\\$]", vals["MODCFLAGS"]):
            exact = _overlay_modcflags(base, env)
            if exact and _split(exact["MODCFLAGS"]) != _split(vals["MODCFLAGS"]):
                note("`make print-modcflags` prints MODCFLAGS with its shell quoting lost (%s); "
                     "using the Makefile's value instead. Print it with $(info MODCFLAGS=$(MODCFLAGS))."
                     % " ".join(sorted(set(_split(vals["MODCFLAGS"])) - set(_split(exact["MODCFLAGS"])))))
                exact["source"] = "overlay"
                return exact
        if vals:
            vals["source"] = "print-modcflags"
            return vals
        tried.append("`make print-modcflags` (%s)" % ((r.stderr.strip().splitlines() or ["no flags printed"])[-1]))
        if source == "target":
            raise Failure("cannot get the module flags: " + tried[-1])
    if source in ("auto", "overlay"):
        vals, r = _overlay_modcflags(base, env, want_result=True)
        if vals:
            if source == "auto":
                note("the kernel Makefile has no print-modcflags target; read MODCFLAGS through "
                     "a throwaway makefile (make -f Makefile -f ...)")
            return vals
        tried.append("make -f Makefile -f <overlay> (%s)" % ((r.stderr.strip().splitlines() or ["no flags printed"])[-1]))
        if source == "overlay":
            raise Failure("cannot get the module flags: " + tried[-1])
    vals = default_modcflags(tree, board)
    if source == "auto":
        note("could not ask make for the module flags (%s); using ota.py's documented default "
             "(DEFAULT_KCFLAGS + %s)" % ("; ".join(tried), DEFAULT_MODCFLAGS_EXTRA))
    return vals


def kernel_abi(tree):
    try:
        text = open(os.path.join(tree, "include", "kernel", "update.h")).read()
    except OSError:
        return packtool.KERNEL_ABI
    m = re.search(r'#define\s+KERNEL_ABI\s+"([^"]+)"', text)
    return m.group(1) if m else packtool.KERNEL_ABI


def compile_module(src, out, flags, tree, verbose=False):
    """Compiles one module exactly like update/demos/demos.mk does."""
    cc = flags["CC"]
    objcopy = flags.get("OBJCOPY") or re.sub(r"gcc$", "objcopy", cc)
    full = out + ".full"
    src = os.path.abspath(src)
    if src.startswith(os.path.join(tree, "")):
        src = os.path.relpath(src, tree)  # as make names it: the same __FILE__ strings
    cmd = [cc] + _split(flags["MODCFLAGS"]) + ["-c", src, "-o", full]
    if verbose:
        note("(cd %s && %s)" % (tree, " ".join(shlex.quote(c) for c in cmd)))
    try:
        r = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    except FileNotFoundError:
        raise Failure("compiler %s not found (Debian: gcc-riscv64-unknown-elf; `make deps`)" % cc)
    if r.returncode:
        hint = ""
        if "libfdt" in r.stderr and "No such file" in r.stderr:
            hint = "\n(the kernel build's libfdt is missing: run `make` in %s first)" % tree
        raise Failure("compiling %s failed:\n%s%s" % (src, r.stderr.rstrip(), hint))
    r = subprocess.run([objcopy, "--strip-debug", full, out], capture_output=True, text=True)
    if r.returncode:
        raise Failure("%s --strip-debug %s failed: %s" % (objcopy, full, r.stderr.strip()))
    os.unlink(full)
    return out


def cmd_build(a):
    tree = kernel_tree_of(a.kernel_build, a.kernel_tree)
    board = a.board or os.path.basename(os.path.normpath(a.kernel_build))
    if not os.path.isdir(os.path.join(tree, "platform", board)):
        raise UsageError("cannot tell the board from --kernel-build %s (no platform/%s); give --board"
                         % (a.kernel_build, board))
    if bool(a.keys) != bool(a.key_name):
        raise UsageError("--keys and --key-name go together")
    if a.keys:
        for ext in (".key", ".crt"):
            p = os.path.join(a.keys, a.key_name + ext)
            if not os.path.isfile(p):
                raise UsageError("no signing key file %s (make one with `ota.py keygen --dir %s --name %s`)"
                                 % (p, a.keys, a.key_name))
    abi = kernel_abi(tree)
    steps = []
    for spec in a.step:
        try:
            step = packtool.parse_step(spec)
        except (packtool.PackError, ValueError) as e:
            raise UsageError("bad step %r: %s (want class:from:to:mode:source.c|module.o"
                             "[;abi=NAME][;requires=cls>=N,...])" % (spec, e))
        if not any(o.startswith("abi=") for o in spec.split(";")[1:]):
            step["abi"] = abi  # the ABI of the kernel tree the modules are compiled against
        if step["to"] != step["from"] + 1 and not a.allow_any_step:
            raise UsageError("bad step %r: to must be from + 1 (--allow-any-step to build it anyway)" % spec)
        steps.append(step)

    keep = os.path.abspath(a.keep) if a.keep else None
    if keep:
        os.makedirs(keep, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ota-build-") as tmp:
        work = keep or tmp
        flags = None
        for i, step in enumerate(steps, 1):
            if step["module"].endswith(".c"):
                if flags is None:
                    flags = make_modcflags(tree, board, a.cflags_from)
                    if a.verbose:
                        note("module flags from %s: CC=%s MODCFLAGS=%s" % (flags["source"], flags["CC"],
                                                                          flags["MODCFLAGS"]))
                stem = os.path.splitext(os.path.basename(step["module"]))[0]
                out = os.path.join(work, "%d-%s.o" % (i, stem))
                print("  MODCC   %s" % os.path.relpath(step["module"]), file=sys.stderr)
                step["source"] = step["module"]
                step["module"] = compile_module(step["module"], out, flags, tree, a.verbose)
            elif not open(step["module"], "rb").read(4) == b"\x7fELF":
                note("warning: step %d's module %s is not an ELF object" % (i, step["module"]))
        out_dir = os.path.dirname(os.path.abspath(a.output))
        os.makedirs(out_dir, exist_ok=True)
        try:
            packtool.build_pack(a.seq, steps, a.output, keydir=a.keys, key_name=a.key_name,
                                its_copy=os.path.join(keep, "pack.its") if keep else None)
        except packtool.PackError as e:
            raise Failure(str(e))
    info = pack_info(a.output)
    print("  PACK    %s" % pack_summary(info), file=sys.stderr)
    if a.json:
        print(json.dumps(info, indent=2))
    return 0


# ---------------------------------------------------------------------------
# HTTP to the agent

RETRYABLE = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
             http.client.RemoteDisconnected, http.client.BadStatusLine, http.client.IncompleteRead)


class Dropped(Exception):
    """The connection failed in a way a retry may fix."""


def _decode_body(raw):
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"detail": text.strip()[:300]}, text
    return (body if isinstance(body, dict) else {"value": body}), text


def http_get(board, path, timeout):
    conn = http.client.HTTPConnection(board[0], board[1], timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close", "Accept": "application/json",
                                           "User-Agent": "ota.py/1"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    body, _ = _decode_body(raw)
    return resp.status, body


def get_status(board, timeout=10, retries=2, backoff=0.5):
    """GET /status -> (http status, json) with retries on refused/dropped connections."""
    for attempt in range(retries + 1):
        try:
            return http_get(board, "/status", timeout)
        except RETRYABLE + (socket.timeout, TimeoutError, OSError) as e:
            if isinstance(e, socket.gaierror) or attempt == retries:
                raise
            time.sleep(backoff * (2 ** attempt))


def _put_once(board, data, timeout, bar):
    conn = http.client.HTTPConnection(board[0], board[1], timeout=timeout)
    sent_all = False
    try:
        try:
            conn.putrequest("PUT", "/update", skip_accept_encoding=True)
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(len(data)))
            conn.putheader("Accept", "application/json")
            conn.putheader("Connection", "close")
            conn.putheader("User-Agent", "ota.py/1")
            conn.endheaders()
            chunk = 4096
            view = memoryview(data)
            for off in range(0, len(data), chunk):
                conn.send(view[off:off + chunk])
                if bar is not None:
                    bar.update(min(chunk, len(data) - off))
            sent_all = True
        except (BrokenPipeError, ConnectionResetError) as e:
            # the board may have answered early (409 busy, 413 too large) and
            # closed: read what it said before calling it a dropped connection
            try:
                resp = conn.getresponse()
                raw = resp.read()
                return resp.status, raw
            except Exception:
                raise Dropped("connection dropped while sending (%s)" % e.__class__.__name__)
        try:
            resp = conn.getresponse()
            raw = resp.read()
        except RETRYABLE as e:
            raise Dropped("connection dropped before an answer (%s)" % e.__class__.__name__)
        except (socket.timeout, TimeoutError):
            if sent_all:
                raise Failure("no answer within %ss after the pack was sent (the board may still "
                              "apply it: see `ota.py status`)" % timeout)
            raise
        return resp.status, raw
    except ConnectionRefusedError:
        raise Dropped("connection refused")
    except (socket.timeout, TimeoutError):
        raise Dropped("timed out")
    except socket.gaierror as e:
        raise Failure("cannot resolve %s: %s" % (board[0], e.strerror))
    except OSError as e:
        if isinstance(e, Failure):
            raise
        raise Dropped(e.strerror or str(e))
    finally:
        conn.close()


class PushOptions:
    def __init__(self, retries=3, timeout=60.0, backoff=0.5, wait=False, wait_timeout=120.0,
                 poll=0.5, progress=False, bar_file=None):
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll = poll
        self.progress = progress
        self.bar_file = bar_file


def push_one(board, data, opts, position=0, info=None):
    """Pushes a pack to one board; returns a result dict (never raises)."""
    res = {"board": addr_str(board), "http_status": None, "result": None, "detail": None,
           "seq": None, "classes": None, "attempts": 0, "ok": False, "body": None, "state": None}
    bar = None
    if opts.progress and tqdm is not None:
        bar = tqdm(total=len(data), unit="B", unit_scale=True, unit_divisor=1024,
                   desc=res["board"], position=position, leave=True, file=opts.bar_file or sys.stderr,
                   dynamic_ncols=True)
    try:
        for attempt in range(opts.retries + 1):
            res["attempts"] = attempt + 1
            if bar is not None:
                bar.reset(total=len(data))
            try:
                status, raw = _put_once(board, data, opts.timeout, bar)
                break
            except Dropped as e:
                res["detail"] = str(e)
                if attempt == opts.retries:
                    res["result"] = "unreachable" if "refused" in str(e) else "connection-lost"
                    res["detail"] = "%s (after %d attempts)" % (e, attempt + 1)
                    return res
                delay = opts.backoff * (2 ** attempt)
                if bar is not None:
                    bar.set_postfix_str("%s; retry in %.1fs" % (e, delay))
                time.sleep(delay)
            except Failure as e:
                res["result"] = "error"
                res["detail"] = str(e)
                return res
        body, _ = _decode_body(raw)
        res["http_status"] = status
        res["body"] = body
        res["result"] = body.get("result") or ("success" if 200 <= status < 300 else "http-%d" % status)
        res["detail"] = detail_of(body) or (None if 200 <= status < 300 else http.client.responses.get(status))
        res["seq"] = body.get("seq")
        res["classes"] = body.get("classes") if isinstance(body.get("classes"), dict) else None
        res["ok"] = 200 <= status < 300 and res["result"] == "success"
        if not res["ok"] and res["attempts"] > 1 and body.get("reason") in ("replay", "duplicate"):
            applied_earlier(board, res, opts, info)
        if bar is not None:
            bar.set_postfix_str("%d %s" % (status, res["result"]))
    finally:
        if bar is not None:
            bar.close()
    if opts.wait and res["http_status"] is not None and res["http_status"] != 409:
        wait_idle(board, res, opts, info)
    elif res["classes"] is None and res["http_status"] is not None:
        try:  # best effort: the versions the board runs now
            st, body = get_status(board, timeout=min(opts.timeout, 5), retries=0)
            if st == 200 and isinstance(body.get("classes"), dict):
                res["classes"] = body["classes"]
                res["state"] = body.get("state")
        except Exception:
            pass
    return res


def applied_earlier(board, res, opts, info):
    """A retry was refused as a replay: if the board already runs this pack's
    sequence number, an earlier attempt applied it and only its answer was
    lost (a dropped connection after the upload). That is a success."""
    seq = (info or {}).get("seq")
    if seq is None:
        return
    try:
        st, body = get_status(board, timeout=min(opts.timeout, 10), retries=1)
    except Exception:
        return
    if st == 200 and isinstance(body.get("seq"), int) and body["seq"] >= seq:
        res.update(ok=True, result="success", seq=body["seq"],
                   detail="applied by an earlier attempt whose answer was lost")
        if isinstance(body.get("classes"), dict):
            res["classes"] = body["classes"]


def detail_of(body):
    """The agent's explanation: its engine reason (e.g. replay, rolled-back) and detail."""
    reason, detail = body.get("reason"), body.get("detail")
    reason = reason if reason and reason not in ("ok", body.get("result")) else None
    if reason and detail:
        return "%s: %s" % (reason, detail)
    return reason or detail or None


def wait_idle(board, res, opts, info=None):
    """Polls GET /status until the board is idle; its result becomes the board's result."""
    deadline = time.monotonic() + opts.wait_timeout
    last = None
    while True:
        try:
            st, body = get_status(board, timeout=min(opts.timeout, 10), retries=1, backoff=opts.poll)
            if st == 200:
                last = body
                if body.get("state", "idle") == "idle":
                    break
        except Exception as e:
            res["detail"] = "status: %s" % (e.strerror if isinstance(e, OSError) and e.strerror else e)
        if time.monotonic() > deadline:
            res["ok"] = False
            res["result"] = "wait-timeout"
            res["detail"] = "board not idle after %ss (state %s)" % (
                opts.wait_timeout, last.get("state") if last else "unknown")
            res["state"] = last.get("state") if last else None
            return res
        time.sleep(opts.poll)
    res["state"] = last.get("state")
    res["status"] = last
    if isinstance(last.get("classes"), dict):
        res["classes"] = last["classes"]
    if last.get("seq") is not None:
        res["seq"] = last.get("seq")
    final = last.get("result")
    if res["ok"]:
        if final and final != "success":
            res["ok"] = False
            res["result"] = final
            res["detail"] = "board reported %s after the push" % final
            if detail_of(last):
                res["detail"] += " (%s)" % detail_of(last)
            elif last.get("events"):
                res["detail"] += ": " + str(last["events"][-1])
        elif info:
            check_applied(res, info)
    return res


def check_applied(res, info):
    """The status shows the pack's versions and sequence number (when it reports them)."""
    want = expected_versions(info)
    have = res.get("classes") or {}
    bad = ["%s=%s (want %s)" % (c, have[c], v) for c, v in want.items()
           if c in have and isinstance(have[c], int) and have[c] != v]
    if bad:
        res["ok"] = False
        res["result"] = "version-mismatch"
        res["detail"] = "status shows " + ", ".join(bad)
    elif info.get("seq") is not None and isinstance(res.get("seq"), int) and res["seq"] < info["seq"]:
        res["ok"] = False
        res["result"] = "seq-mismatch"
        res["detail"] = "status seq %d below the pack's %d" % (res["seq"], info["seq"])


def push_many(boards, data, opts, info=None, jobs=8):
    results = [None] * len(boards)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(jobs, len(boards)))) as ex:
        futs = {ex.submit(push_one, b, data, opts, i, info): i for i, b in enumerate(boards)}
        for f in concurrent.futures.as_completed(futs):
            results[futs[f]] = f.result()
    return results


def result_rows(results):
    rows, colours = [], []
    for r in results:
        rows.append([r["board"], r["http_status"], r["result"],
                     r["seq"], versions_str(r["classes"]), r["attempts"], r["detail"]])
        colours.append("green" if r["ok"] else "red")
    return ["BOARD", "HTTP", "RESULT", "SEQ", "VERSIONS", "TRIES", "DETAIL"], rows, colours


def _progress_on(a):
    return not a.quiet and sys.stderr.isatty() and tqdm is not None


def _opts(a):
    return PushOptions(retries=a.retries, timeout=a.timeout, backoff=a.backoff,
                       wait=getattr(a, "wait", True), wait_timeout=a.wait_timeout, poll=a.poll,
                       progress=_progress_on(a))


def cmd_push(a):
    info = pack_info(a.pack)
    data = open(a.pack, "rb").read()
    if not a.json and not a.quiet:
        print("pushing %s to %d board%s" % (pack_summary(info), len(a.boards), "s" * (len(a.boards) != 1)),
              file=sys.stderr)
    results = push_many(a.boards, data, _opts(a), info, a.jobs)
    ok = all(r["ok"] for r in results)
    if a.json:
        print(json.dumps({"pack": info, "ok": ok, "boards": results}, indent=2))
    else:
        color = use_color(sys.stdout, a.color)
        h, rows, colours = result_rows(results)
        print(table(h, rows, colours, color))
        nbad = sum(not r["ok"] for r in results)
        print(paint("%d of %d boards updated" % (len(results) - nbad, len(results)) +
                    ("" if ok else "; %d failed" % nbad), "green" if ok else "red", color))
    return 0 if ok else 1


# ---------------------------------------------------------------------------
# status

def lwm2m(value, table_):
    if value in table_:
        return "%s (LwM2M %d)" % (value, table_[value])
    return str(value) if value is not None else "-"


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def format_journal(body, color=False):
    """One line on the board's journal: persistent or not, entries, used/free."""
    if "persistent" not in body:
        return "unknown (older kernel)"
    if not body.get("persistent"):
        return paint("no (volatile: updates last until reboot)", "yellow", color)
    j = body.get("journal") or {}
    text = "yes: %s entries (%s committed), used %s, free %s, largest pack %s" % (
        j.get("entries", "?"), j.get("committed", "?"), human_bytes(int(j.get("used", 0))),
        human_bytes(int(j.get("free", 0))), human_bytes(int(j.get("max_pack", 0))))
    if body.get("safe_mode"):
        text += paint("  SAFE MODE (journaled updates set aside)", "red", color)
    return text


def format_status(board, body, color=False):
    out = []
    known = ("abi", "board", "classes", "seq", "state", "result", "events", "reason", "detail",
             "persistent", "safe_mode", "journal")
    state, result = body.get("state"), body.get("result")
    rc = None if result is None else ("green" if result == "success" else
                                      None if result == "initial" else "red")
    out.append(paint("%s" % addr_str(board), "bold", color) +
               ("  (%s)" % body["board"] if body.get("board") else ""))
    out.append("  kernel ABI   %s" % body.get("abi", "-"))
    out.append("  sequence     %s" % body.get("seq", "-"))
    out.append("  state        %s" % lwm2m(state, LWM2M_STATE))
    why = detail_of(body)
    out.append("  result       %s" % paint(lwm2m(result, LWM2M_RESULT), rc, color) +
               ("  (%s)" % why if why else ""))
    for k in sorted(body):
        if k == "result_code" and LWM2M_RESULT.get(result) == body[k]:
            continue  # already shown with the result
        if k not in known:
            out.append("  %-12s %s" % (k, json.dumps(body[k]) if not isinstance(body[k], str) else body[k]))
    out.append("  persistent   %s" % format_journal(body, color))
    classes = body.get("classes")
    if isinstance(classes, dict) and classes:
        out.append("  classes")
        for name in sorted(classes):
            out.append("    %-14s v%s" % (name, classes[name]))
    events = body.get("events")
    if isinstance(events, list) and events:
        out.append("  recent events")
        for e in events[-20:]:
            text = e if isinstance(e, str) else json.dumps(e)
            ev = uartlog.parse_line(text)
            kind = uartlog.classify(ev) if ev.is_log else uartlog.classify_text(text)
            out.append("    " + paint(text, {"good": "green", "bad": "red", "info": "cyan"}.get(kind), color))
    return "\n".join(out)


def cmd_status(a):
    rc = 0
    docs = []
    for board in a.boards:
        try:
            st, body = get_status(board, timeout=a.timeout, retries=a.retries, backoff=a.backoff)
        except socket.gaierror as e:
            print("ota: %s: cannot resolve: %s" % (addr_str(board), e.strerror), file=sys.stderr)
            rc = 1
            continue
        except (OSError, http.client.HTTPException) as e:
            print("ota: %s: %s" % (addr_str(board), getattr(e, "strerror", None) or e.__class__.__name__),
                  file=sys.stderr)
            rc = 1
            continue
        if st != 200:
            print("ota: %s: GET /status answered HTTP %d %s" % (addr_str(board), st, body.get("detail", "")),
                  file=sys.stderr)
            rc = 1
        if a.json:
            docs.append(body if len(a.boards) == 1 else {"board_address": addr_str(board), "status": body})
        else:
            print(format_status(board, body, use_color(sys.stdout, a.color)))
    if a.json and docs:
        print(json.dumps(docs[0] if len(a.boards) == 1 else docs, indent=2))
    return rc


# ---------------------------------------------------------------------------
# watch

def cmd_watch(a):
    color = use_color(sys.stdout, a.color)
    until = re.compile(a.until) if a.until else None
    deadline = time.monotonic() + a.timeout if a.timeout else None
    try:
        lines = uartlog.read_lines(a.source, follow=a.follow, lines=a.lines, baud=a.baud)
        for line in lines:
            if deadline and time.monotonic() > deadline:
                if until:
                    print("ota: watch: %r not seen within %ss" % (a.until, a.timeout), file=sys.stderr)
                    return 1
                return 0
            if line is None:
                continue
            ev = uartlog.parse_line(line)
            if a.events and not ev.is_update:
                continue
            if a.json:
                if ev.is_log:
                    print(json.dumps(ev.as_dict()), flush=True)
            else:
                print(uartlog.render(ev, color), flush=True)
            if until and until.search(line):
                return 0
    except uartlog.SourceError as e:
        raise UsageError(str(e))
    except KeyboardInterrupt:
        return 130
    if until:
        print("ota: watch: %r not seen before the end of %s" % (a.until, a.source), file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------
# rollout

PULL_ONLY = ("waves", "max_failed", "url_base", "boards_file")
PUSH_ONLY = ("first", "stage_size", "soak", "wait_timeout", "poll", "jobs")


def cmd_rollout(a):
    if a.broker:
        for k in PUSH_ONLY:
            if getattr(a, k) is not None:
                raise UsageError("--%s is for push rollouts (without --broker)" % k.replace("_", "-"))
        a.waves = a.waves or "1,10%,50%,100%"
        a.max_failed = a.max_failed or "0"
        a.url_base = a.url_base or "http://10.0.2.100:%d/" % fleet.SERVE_PORT
        a.timeout = 300.0 if a.timeout is None else a.timeout
        return fleet.cmd_rollout(a, sys.modules[__name__])
    for k in PULL_ONLY:
        if getattr(a, k) is not None:
            raise UsageError("--%s needs --broker (a pull rollout)" % k.replace("_", "-"))
    for k, v in (("first", 1), ("stage_size", 0), ("soak", 0.0), ("wait_timeout", 120.0),
                 ("poll", 0.5), ("jobs", 8), ("timeout", 60.0)):
        if getattr(a, k) is None:
            setattr(a, k, v)
    if not a.boards:
        raise UsageError("--boards HOST:PORT,... is required")
    try:
        boards = host_port_list(a.boards)
    except argparse.ArgumentTypeError as e:
        raise UsageError(str(e))
    info = pack_info(a.pack)
    data = open(a.pack, "rb").read()
    if a.first < 1:
        raise UsageError("--first must be at least 1")
    stages = [boards[:a.first]]
    rest = boards[a.first:]
    size = a.stage_size or len(rest)
    while rest:
        stages.append(rest[:size])
        rest = rest[size:]
    opts = _opts(a)
    opts.wait = True
    color = use_color(sys.stdout, a.color)
    log = (lambda *x: None) if a.json else (lambda s: print(s, flush=True))
    log("rollout of %s: %d boards in %d stage%s (%s)" % (
        pack_summary(info), len(boards), len(stages), "s" * (len(stages) != 1),
        " + ".join(str(len(s)) for s in stages)))
    done, failed_stage, all_results = [], None, []
    for n, stage in enumerate(stages, 1):
        log(paint("stage %d/%d: %s" % (n, len(stages), ", ".join(addr_str(b) for b in stage)), "bold", color))
        results = push_many(stage, data, opts, info, a.jobs)
        if a.soak and all(r["ok"] for r in results):
            log("  soak: %ss, then the status again" % a.soak)
            time.sleep(a.soak)
            for r, b in zip(results, stage):
                wait_idle(b, r, opts, info)
        for r in results:
            r["stage"] = n
        all_results += results
        done += stage
        if not a.json:
            h, rows, colours = result_rows(results)
            print("\n".join("  " + l for l in table(h, rows, colours, color).splitlines()))
        if not all(r["ok"] for r in results):
            failed_stage = n
            break
    pushed = [r["board"] for r in all_results]
    untouched = [addr_str(b) for b in boards if addr_str(b) not in pushed]
    good = [r["board"] for r in all_results if r["ok"]]
    bad = [r for r in all_results if not r["ok"]]
    report = {"pack": info, "ok": failed_stage is None, "stages": len(stages),
              "failed_stage": failed_stage, "updated": good,
              "failed": [r["board"] for r in bad], "not_pushed": untouched, "boards": all_results}
    if a.json:
        print(json.dumps(report, indent=2))
    elif failed_stage is None:
        print(paint("rollout complete: %d of %d boards updated" % (len(good), len(boards)), "green", color))
    else:
        print(paint("rollout stopped at stage %d of %d" % (failed_stage, len(stages)), "red", color))
        print("  updated:    %s" % (", ".join(good) or "none"))
        print("  failed:     %s" % ", ".join("%s (%s)" % (r["board"], r["result"]) for r in bad))
        print("  not pushed: %s" % (", ".join(untouched) or "none"))
    return 0 if failed_stage is None else 1


# ---------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, "%s: error: %s\n" % (self.prog, message))


def add_net_args(p, timeout=60.0, retries=3, timeout_help=None):
    p.add_argument("--retries", type=positive_int, default=retries,
                   help="retries on a refused or dropped connection (default %d)" % retries)
    p.add_argument("--timeout", type=float, default=timeout,
                   help=timeout_help or "seconds to wait for a board's answer (default %g)" % timeout)
    p.add_argument("--backoff", type=float, default=0.5,
                   help="first retry delay in seconds, doubled on each retry (default 0.5)")


def add_out_args(p, progress=True):
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="ANSI colours (default: when stdout is a terminal)")
    if progress:
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def cmd_journal(a):
    import journal_image
    try:
        with open(a.image, "rb") as f:
            f.seek(a.offset)
            data = f.read(a.size) if a.size else f.read()
    except OSError as e:
        raise Failure("%s: %s" % (a.image, e.strerror))
    try:
        j = journal_image.Journal(data, a.erase_size)
    except ValueError as e:
        raise Failure(str(e))
    doc = j.summary()
    if a.json:
        print(json.dumps(doc, indent=2))
        return 0
    color = use_color(sys.stdout, a.color)
    if not j.valid:
        print(paint("no valid journal (the board would format it); floor %d" % j.floor, "red",
                    color))
        return 1
    print("journal: floor %d, %d entries, %d torn records ignored" %
          (j.floor, len(doc["entries"]), j.torn))
    rows = [(e["seq"], e.get("size", "-"), e["status"], e["reason"] or "-")
            for e in doc["entries"]]
    colours = [{"committed": "green", "rolled-back": "red"}.get(e["status"])
               for e in doc["entries"]]
    if rows:
        print(table(("seq", "bytes", "status", "reason"), rows, colours, color))
    return 0


def build_parser():
    ap = Parser(prog="ota.py", description=__doc__.splitlines()[0],
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="\n".join(__doc__.splitlines()[1:]))
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("keygen", help="make an RSA-2048 signing key and its public key dtb",
                       description="Makes an RSA-2048 key pair in mkimage's key-directory layout "
                       "(DIR/NAME.key, DIR/NAME.crt) and adds its public key to DIR/pubkey.dtb "
                       "(written by `mkimage -K`, node /signature/key-NAME, required = \"conf\"): "
                       "the dtb the kernel embeds to check pack signatures.")
    p.add_argument("--dir", default="keys", help="key directory (default keys)")
    p.add_argument("--name", default="dev", help="key name, the packs' key-name-hint (default dev)")
    p.add_argument("--pubkey", help="public key dtb to write or extend (default DIR/pubkey.dtb)")
    p.add_argument("--days", type=int, default=3650, help="certificate validity (default 3650)")
    p.add_argument("--force", action="store_true", help="replace an existing key of that name")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("build", help="compile modules and make a (signed) pack",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Compiles each step's source exactly like the kernel build "
                       "compiles update modules (flags from `make print-modcflags`), strips debug "
                       "info, and makes the pack with mkimage; with --keys the configuration is signed.",
                       epilog="STEP is class:from:to:mode:FILE[;abi=NAME][;requires=cls>=N,...]\n"
                       "  mode: lazy, eager or default; FILE: a .c source (compiled) or a\n"
                       "  compiled module (.o, used as it is). Several --step options make a\n"
                       "  pack with several steps (in that order), of one or more classes.\n"
                       "example:\n"
                       "  ota.py build --kernel-build build/qemu-virt --seq 7 \\\n"
                       "      --step counter:1:2:lazy:update/demos/counter_v2.c \\\n"
                       "      --keys keys --key-name dev -o pack.itb")
    p.add_argument("--kernel-build", default=os.path.join(REPO, "build", "qemu-virt"),
                   help="the kernel's build folder, build/<board> (default build/qemu-virt)")
    p.add_argument("--kernel-tree", help="the kernel source tree (default: two levels above --kernel-build)")
    p.add_argument("--board", help="board name (default: the --kernel-build folder's name)")
    p.add_argument("--seq", type=positive_int, required=True, help="the pack's device-wide sequence number")
    p.add_argument("--step", action="append", required=True, metavar="STEP", help="a step (see below)")
    p.add_argument("--keys", metavar="DIR", help="sign with DIR/NAME.key (mkimage -k DIR -r)")
    p.add_argument("--key-name", metavar="NAME", help="the signing key's name (key-name-hint)")
    p.add_argument("-o", "--output", required=True, help="the pack to write (.itb)")
    p.add_argument("--keep", metavar="DIR", help="keep the compiled modules and pack.its in DIR")
    p.add_argument("--allow-any-step", action="store_true", help="allow to != from + 1 (for tests)")
    p.add_argument("--cflags-from", choices=("auto", "target", "overlay", "default"), default="auto",
                   help="where the module flags come from (default auto: make print-modcflags, "
                   "else the Makefile read through a throwaway makefile, else ota.py's default)")
    p.add_argument("--json", action="store_true", help="print what the pack carries as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="show the compiler commands")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("push", help="send a pack to boards (HTTP PUT /update)",
                       description="Sends a pack to each board's agent (HTTP/1.1 PUT /update), with "
                       "a progress bar, retries on refused or dropped connections, and a summary "
                       "table. Exit code 1 when any board failed.")
    p.add_argument("pack", type=existing_file, help="the pack (.itb)")
    p.add_argument("boards", type=host_port, nargs="+", metavar="HOST:PORT", help="the boards' agents")
    add_net_args(p)
    p.add_argument("--wait", action="store_true",
                   help="poll GET /status until each board is idle again and report its last result")
    p.add_argument("--wait-timeout", type=float, default=120.0, help="seconds --wait waits (default 120)")
    p.add_argument("--poll", type=float, default=0.5, help="status poll interval (default 0.5 s)")
    p.add_argument("--jobs", type=int, default=8, help="boards pushed at once (default 8)")
    add_out_args(p)
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("status", help="a board's versions, sequence number, state and result",
                       description="GET /status from each board's agent: kernel ABI, board, class "
                       "versions, last sequence number, LwM2M state and update result, recent events.")
    p.add_argument("boards", type=host_port, nargs="+", metavar="HOST:PORT")
    add_net_args(p, timeout=10.0, retries=1)
    add_out_args(p, progress=False)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("watch", help="follow a board's UART log, highlighting update events",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Prints a board's UART log, colouring update/ota events: applied "
                       "(green), rejected / rolled-back / fault (red), ota receiving / verified (cyan).",
                       epilog="SOURCE is one of:\n"
                       "  FILE             e.g. build/qemu-virt/uart.log from `make run` (tail -f with --follow)\n"
                       "  SOCKET           a unix socket: QEMU -serial unix:PATH,server=on,wait=off\n"
                       "  tcp:HOST:PORT    QEMU -serial tcp:127.0.0.1:4444,server=on,wait=off\n"
                       "  /dev/ttyUSB0     a serial device, opened raw at --baud (115200)\n"
                       "  -                standard input")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep following: wait for more lines, reopen a truncated or replaced "
                   "file, reconnect a closed socket")
    p.add_argument("--events", action="store_true", help="only update/ota lines")
    p.add_argument("-n", "--lines", type=positive_int, help="start with the file's last N lines")
    p.add_argument("--until", metavar="REGEX", help="stop (exit 0) after a line matching REGEX; "
                   "exit 1 if the source ends or --timeout passes first")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")
    p.add_argument("--baud", type=int, default=115200, help="serial speed (default 115200)")
    p.add_argument("--json", action="store_true", help="print the parsed log lines as JSON lines")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="ANSI colours (default: when stdout is a terminal)")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("rollout", help="update a fleet in stages: push, or pull over MQTT (--broker)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Push (default): pushes to a first stage (--first boards), waits "
                       "until each reports success in GET /status (and shows the pack's versions), then "
                       "to the rest, in stages of --stage-size. Stops at the first stage with a failure "
                       "and reports which boards got the pack and which did not.\n\n"
                       "Pull (--broker): publishes the job lukos/<id>/job (retained) wave by wave for "
                       "boards to fetch the pack from --url-base (see `ota.py serve`), follows their "
                       "lukos/<id>/state, and stops after the first wave with more than --max-failed "
                       "failed, lost or timed-out boards; later waves get no job. Offline boards do "
                       "not count (their job waits on the broker). docs/fleet.md has the details.",
                       epilog="exit codes: 0 every stage/wave passed, 1 stopped (or a board or the "
                       "broker unreachable), 2 bad arguments")
    p.add_argument("pack", type=existing_file, help="the pack (.itb)")
    p.add_argument("--boards", metavar="BOARDS",
                   help="push: HOST:PORT,...; pull: board ids id1,id2,...")
    p.add_argument("--broker", type=host_port, metavar="HOST:PORT",
                   help="pull over this MQTT broker instead of pushing")
    g = p.add_argument_group("pull (with --broker)")
    g.add_argument("--boards-file", metavar="FILE", help="board ids, one or more per line (# comments)")
    g.add_argument("--waves", metavar="LIST", help="cumulative wave marks: board counts or %% of the "
                   "fleet (default 1,10%%,50%%,100%%)")
    g.add_argument("--max-failed", metavar="N|P%", help="failed + lost + timed-out boards a wave may "
                   "have, a count or %% of the wave (default 0)")
    g.add_argument("--url-base", metavar="URL", help="where the boards fetch the pack: URL + the pack's "
                   "file name (default http://10.0.2.100:%d/, QEMU's guestfwd)" % fleet.SERVE_PORT)
    g.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to reach the broker")
    g = p.add_argument_group("push (without --broker)")
    g.add_argument("--first", type=int, help="boards in the first stage (default 1)")
    g.add_argument("--stage-size", type=positive_int,
                   help="boards per later stage (default: all the rest at once)")
    g.add_argument("--soak", type=float,
                   help="seconds to wait after a stage before checking its status again "
                   "(catches a rollback during probation)")
    add_net_args(p, timeout=None, timeout_help="push: seconds to wait for a board's answer "
                 "(default 60); pull: seconds a wave may take (default 300)")
    g.add_argument("--wait-timeout", type=float,
                   help="seconds to wait for a board to be idle again (default 120)")
    g.add_argument("--poll", type=float, help="status poll interval (default 0.5 s)")
    g.add_argument("--jobs", type=int, help="boards of a stage pushed at once (default 8)")
    add_out_args(p)
    p.set_defaults(func=cmd_rollout)

    p = sub.add_parser("journal", help="show the update journal in a state image or flash dump",
                       description="Reads a board's state region offline (a qemu-virt state "
                       "disk, or a dump of the SPI NOR ota-state region) and lists what the "
                       "board would replay at boot: floor, packs and their status.")
    p.add_argument("image", help="state image file")
    p.add_argument("--offset", type=lambda v: int(v, 0), default=0,
                   help="where the region starts in the file (default 0)")
    p.add_argument("--size", type=lambda v: int(v, 0), default=None,
                   help="region size (default: to the end of the file)")
    p.add_argument("--erase-size", type=lambda v: int(v, 0), default=4096)
    add_out_args(p, progress=False)
    p.set_defaults(func=cmd_journal)
    fleet.add_commands(sub, sys.modules[__name__])   # fleet, serve
    return ap


def main(argv=None):
    ap = build_parser()
    a = ap.parse_args(argv)
    try:
        return a.func(a)
    except UsageError as e:
        print("ota.py %s: error: %s" % (a.cmd, e), file=sys.stderr)
        return 2
    except Failure as e:
        print("ota.py %s: %s" % (a.cmd, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
