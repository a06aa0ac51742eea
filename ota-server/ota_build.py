"""ota_build.py: `ota.py keygen` and `ota.py build`.

keygen makes an RSA-2048 signing key in mkimage's key-directory layout and
adds its public key to the dtb the kernel embeds. build compiles update
modules with the flags the kernel build uses (asked from make, else a
documented default) and makes the (signed) pack with packtool.
"""
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import packtool
from ota_common import Failure, UsageError, note, pack_info, pack_summary

SIGN_ALGO = packtool.SIGN_ALGO


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

