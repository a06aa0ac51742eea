#!/usr/bin/python3
"""Build update packs: FIT images (docs/pack-format.md) made with mkimage.

  packtool.py its   --seq N --step SPEC [--step SPEC ...] -o pack.its
  packtool.py pack  --seq N --step SPEC [...] -o pack.itb [--tamper]
  packtool.py batch LIST --modules DIR --out DIR --asm packs.S

A step SPEC is  class:from:to:mode:module.o[;abi=NAME][;requires=cls>=N,cls>=N]
(mode: lazy, eager or default). `batch` builds every pack named in a list
file (see update/demos/packs.txt) and writes an assembly file embedding
them, for the demo kernel image.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

def _kernel_abi(default="lukos-abi-3"):
    """KERNEL_ABI from the kernel tree this tool sits in (include/kernel/update.h)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        text = open(os.path.join(here, "include", "kernel", "update.h")).read()
    except OSError:
        return default
    m = re.search(r'#define\s+KERNEL_ABI\s+"([^"]+)"', text)
    return m.group(1) if m else default


KERNEL_ABI = _kernel_abi()


class PackError(Exception):
    pass


def parse_step(spec, module_dir=None):
    head, *opts = spec.split(";")
    parts = head.split(":")
    if len(parts) != 5:
        raise PackError("step %r: want class:from:to:mode:module" % spec)
    cls, frm, to, mode, module = parts
    step = {"class": cls, "from": int(frm), "to": int(to), "mode": mode,
            "abi": KERNEL_ABI, "requires": []}
    if mode not in ("lazy", "eager", "default"):
        raise PackError("step %r: mode must be lazy, eager or default" % spec)
    for opt in opts:
        key, _, val = opt.partition("=")
        if key == "abi":
            step["abi"] = val
        elif key == "requires":
            step["requires"] = [r for r in val.split(",") if r]
        else:
            raise PackError("step %r: unknown option %r" % (spec, key))
    if module_dir and not os.path.isabs(module):
        module = os.path.join(module_dir, module)
    step["module"] = os.path.abspath(module)
    if not os.path.isfile(step["module"]):
        raise PackError("step %r: no module file %s" % (spec, step["module"]))
    return step


def dts_string(s):
    if any(c in s for c in '"\\\n'):
        raise PackError("property value %r has characters a pack cannot carry" % s)
    return '"%s"' % s


SIGN_ALGO = "sha256,rsa2048"


def its_text(seq, steps, description=None, sign_key=None):
    """The .its source of a pack with these steps.

    sign_key: a key name (mkimage's key-name-hint: <keydir>/<name>.key and
    .crt); the configuration then carries a signature-1 node over the
    loadables, which `mkimage -k keydir -r` fills in.
    """
    lines = ["/dts-v1/;", "", "/ {",
             "\tdescription = %s;" % dts_string(description or "update pack %d" % seq),
             "\t#address-cells = <1>;", "", "\timages {"]
    names = []
    for i, s in enumerate(steps, 1):
        name = "step-%d" % i
        names.append(name)
        lines += ["\t\t%s {" % name,
                  "\t\t\tdescription = %s;" % dts_string("%s %d->%d" % (s["class"], s["from"], s["to"])),
                  "\t\t\tdata = /incbin/(%s);" % dts_string(s["module"]),
                  '\t\t\ttype = "firmware";', '\t\t\tarch = "riscv";', '\t\t\tos = "elf";',
                  '\t\t\tcompression = "none";',
                  "\t\t\tupdate,class = %s;" % dts_string(s["class"]),
                  "\t\t\tupdate,from = <%d>;" % s["from"],
                  "\t\t\tupdate,to = <%d>;" % s["to"],
                  "\t\t\tupdate,abi = %s;" % dts_string(s["abi"])]
        if s["mode"] != "default":
            lines.append("\t\t\tupdate,mode = %s;" % dts_string(s["mode"]))
        if s["requires"]:
            lines.append("\t\t\tupdate,requires = %s;" % ", ".join(dts_string(r) for r in s["requires"]))
        lines += ['\t\t\thash-1 { algo = "sha256"; };', "\t\t};"]
    lines += ["\t};", "", "\tconfigurations {", '\t\tdefault = "conf-1";', "\t\tconf-1 {",
              "\t\t\tdescription = %s;" % dts_string("pack %d" % seq),
              "\t\t\tupdate,seq = <%d>;" % seq,
              "\t\t\tloadables = %s;" % ", ".join(dts_string(n) for n in names)]
    if sign_key:
        lines += ["\t\t\tsignature-1 {",
                  "\t\t\t\talgo = %s;" % dts_string(SIGN_ALGO),
                  "\t\t\t\tkey-name-hint = %s;" % dts_string(sign_key),
                  '\t\t\t\tsign-images = "loadables";',
                  "\t\t\t};"]
    lines += ["\t\t};", "\t};", "};", ""]
    return "\n".join(lines)


def mkimage(its_path, itb_path, keydir=None, pubkey_dtb=None):
    """Runs mkimage on a .its. keydir: sign (-k keydir -r); pubkey_dtb:
    also write the public key into that dtb (-K), marked required."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="0")
    cmd = ["mkimage", "-q", "-f", its_path]
    if keydir:
        cmd += ["-k", keydir, "-r"]
        if pubkey_dtb:
            cmd += ["-K", pubkey_dtb]
    r = subprocess.run(cmd + [itb_path], env=env, capture_output=True, text=True)
    if r.returncode:
        raise PackError("mkimage failed for %s: %s" % (its_path, r.stderr.strip()))


def tamper(itb_path, module_path):
    """Flips one byte inside the first image's data, leaving its hash alone."""
    blob = bytearray(open(itb_path, "rb").read())
    mod = open(module_path, "rb").read()
    at = blob.find(mod[:64])
    if at < 0:
        raise PackError("cannot find the module data in %s" % itb_path)
    blob[at + len(mod) // 2] ^= 0x40
    open(itb_path, "wb").write(bytes(blob))


def build_pack(seq, steps, out, do_tamper=False, keydir=None, key_name=None, its_copy=None):
    """Builds a pack; with keydir and key_name it is signed by that key."""
    if bool(keydir) != bool(key_name):
        raise PackError("signing needs both a key directory and a key name")
    with tempfile.TemporaryDirectory() as tmp:
        its = os.path.join(tmp, "pack.its")
        text = its_text(seq, steps, sign_key=key_name)
        open(its, "w").write(text)
        if its_copy:
            open(its_copy, "w").write(text)
        mkimage(its, out, keydir=keydir)
    if do_tamper:
        tamper(out, steps[0]["module"])


def read_pack(data):
    """What a pack (FIT bytes) carries: {"seq", "steps": [{image, class, from, to}], "signed"}.

    signed is the key-name-hint of the configuration's signature, "?" for a
    signature without a hint, None when unsigned. Raises ValueError when the
    bytes are not a pack; ImportError without python3-libfdt."""
    import libfdt
    try:
        fdt = libfdt.Fdt(bytes(data))
        conf = fdt.path_offset("/configurations")
        default = fdt.getprop(conf, "default").as_str()
        coff = fdt.subnode_offset(conf, default)
        seq = fdt.getprop(coff, "update,seq").as_uint32()
        loadables = fdt.getprop(coff, "loadables")
        names = [n.decode() for n in bytes(loadables).split(b"\0") if n]
        steps = []
        for name in names:
            off = fdt.path_offset("/images/" + name)
            steps.append({"image": name, "class": fdt.getprop(off, "update,class").as_str(),
                          "from": fdt.getprop(off, "update,from").as_uint32(),
                          "to": fdt.getprop(off, "update,to").as_uint32()})
        signed = None
        sig = fdt.subnode_offset(coff, "signature-1", quiet=(libfdt.NOTFOUND,))
        if sig >= 0 and not isinstance(fdt.getprop(sig, "value", quiet=(libfdt.NOTFOUND,)), int):
            hint = fdt.getprop(sig, "key-name-hint", quiet=(libfdt.NOTFOUND,))
            signed = "?" if isinstance(hint, int) else hint.as_str()
    except (libfdt.FdtException, UnicodeDecodeError, ValueError, AssertionError) as e:
        raise ValueError(str(e))
    return {"seq": seq, "steps": steps, "signed": signed}


def read_list(path):
    """Entries of a pack list: name seq group expect flags step..."""
    entries = []
    for n, line in enumerate(open(path), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        if len(f) < 6:
            raise PackError("%s:%d: want name seq group expect flags step..." % (path, n))
        entries.append({"name": f[0], "seq": int(f[1]), "group": f[2], "expect": f[3],
                        "flags": f[4].split(",") if f[4] != "-" else [], "steps": f[5:]})
    return entries


def asm_text(entries, pack_dir):
    out = ["/* Generated by ota-server/packtool.py batch: packs for the demo image. */",
           "\t.section .rodata", "\t.balign 8"]
    for i, e in enumerate(entries):
        out += ["\t.balign 8", "pack_%d:" % i,
                '\t.incbin "%s"' % os.path.abspath(os.path.join(pack_dir, e["name"] + ".itb")),
                "pack_%d_end:" % i]
    for i, e in enumerate(entries):
        out += ["name_%d:\t.asciz \"%s\"" % (i, e["name"]),
                "group_%d:\t.asciz \"%s\"" % (i, e["group"])]
    out += ["\t.balign 8", "\t.globl demo_packs", "demo_packs:"]
    for i, _ in enumerate(entries):
        out += ["\t.dword name_%d, group_%d, pack_%d, pack_%d_end - pack_%d" % (i, i, i, i, i)]
    out += ["\t.globl demo_npacks", "demo_npacks:", "\t.dword %d" % len(entries), ""]
    return "\n".join(out)


def cmd_batch(a):
    entries = read_list(a.list)
    os.makedirs(a.out, exist_ok=True)
    for e in entries:
        steps = []
        for spec in e["steps"]:
            head = spec.split(";")[0].split(":")
            if len(head) == 5 and head[4].startswith("@"):
                spec = spec.replace(head[4], head[4][1:] + ".bin", 1)
            elif len(head) == 5:
                spec = spec.replace(":" + head[4], ":" + head[4] + ".o", 1)
            steps.append(parse_step(spec, a.modules))
        keydir, key = (a.keys, a.key_name) if a.keys else (None, None)
        if "unsigned" in e["flags"]:
            keydir, key = None, None
        elif "otherkey" in e["flags"]:
            if not a.other_keys:
                raise PackError("pack %s wants --other-keys" % e["name"])
            keydir = a.other_keys
        build_pack(e["seq"], steps, os.path.join(a.out, e["name"] + ".itb"),
                   "tamper" in e["flags"], keydir=keydir, key_name=key)
    open(a.asm, "w").write(asm_text(entries, a.out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("its", "pack"):
        p = sub.add_parser(name, help="write a .its" if name == "its" else "build a signed-later FIT pack")
        p.add_argument("--seq", type=int, required=True, help="device-wide sequence number")
        p.add_argument("--step", action="append", required=True, help="class:from:to:mode:module.o[;opts]")
        p.add_argument("-o", "--out", required=True)
        if name == "pack":
            p.add_argument("--tamper", action="store_true", help="damage the data (tests)")
    p = sub.add_parser("batch", help="build every pack of a list and the embedding .S")
    p.add_argument("list")
    p.add_argument("--modules", required=True, help="folder of the compiled modules")
    p.add_argument("--out", required=True, help="folder for the .itb files")
    p.add_argument("--asm", required=True, help="assembly file to write")
    p.add_argument("--keys", help="mkimage key directory to sign the packs with")
    p.add_argument("--key-name", default="dev", help="key name in --keys (default dev)")
    p.add_argument("--other-keys", help="a second key directory (same key name), for "
                   "packs flagged otherkey: signed by a key the board does not trust")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "its":
            open(a.out, "w").write(its_text(a.seq, [parse_step(s) for s in a.step]))
        elif a.cmd == "pack":
            build_pack(a.seq, [parse_step(s) for s in a.step], a.out, a.tamper)
        else:
            cmd_batch(a)
    except PackError as e:
        print("packtool: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
