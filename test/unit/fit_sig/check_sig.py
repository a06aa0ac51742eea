#!/usr/bin/python3
"""
Independent host-side check of FIT configuration signatures, a second
implementation beside update/fit_sig.c so that the C region logic is
checked against something other than itself.

It parses the FDT with its own code (no libfdt), selects the signed bytes
with a two-pass formulation of U-Boot's fdt_find_regions() (first decide
each tag from its node's inclusion level, then apply the end-tag rule),
and verifies with python3-cryptography, which hashes the bytes itself.

Usage: check_sig.py --keys KEYS.dtb [--config NAME] [--expect pass|fail] FIT
Prints one line per signature-* node of the configuration:
"<node> <sha256 of the signed bytes> <pass|fail: reason>", and exits 0 when
the verdict matches --expect (pass: every signature verifies with the key
its key-name-hint names; fail: at least one does not).
"""
import argparse
import hashlib
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

BEGIN_NODE, END_NODE, PROP, NOP, END = 1, 2, 3, 4, 9
EXCLUDED = {"data", "data-size", "data-position", "data-offset"}


def align4(n):
    return (n + 3) & ~3


class Node:
    def __init__(self, name, path, parent):
        self.name, self.path, self.parent = name, path, parent
        self.props, self.children = {}, []

    def child(self, name):
        return next((c for c in self.children if c.name == name), None)

    def string(self, name):
        v = self.props.get(name)
        return None if v is None else v.rstrip(b"\0").decode()

    def strings(self, name):
        v = self.props.get(name, b"")
        return [s.decode() for s in v.split(b"\0")[:-1]] if v else []


class Fdt:
    """The blob, its tag list [(kind, start, end, node, propname)] and tree."""

    def __init__(self, blob):
        hdr = struct.unpack(">10I", blob[:40])
        if hdr[0] != 0xD00DFEED:
            raise ValueError("bad magic")
        self.blob = blob
        self.off_struct, self.off_strings = hdr[2], hdr[3]
        self.size_strings, self.size_struct = hdr[8], hdr[9]
        self.tags = []
        self.root = None
        self._parse()

    def _u32(self, off):
        return struct.unpack(">I", self.blob[self.off_struct + off:self.off_struct + off + 4])[0]

    def _name(self, off):
        s = self.blob[self.off_strings + off:]
        return s[:s.index(b"\0")].decode()

    def _parse(self):
        off, node = 0, None
        base = self.off_struct
        while True:
            kind = self._u32(off)
            if kind == BEGIN_NODE:
                raw = self.blob[base + off + 4:]
                name = raw[:raw.index(b"\0")].decode()
                end = align4(off + 4 + len(name) + 1)
                if node is None:
                    node = self.root = Node(name, "/", None)
                else:
                    path = node.path.rstrip("/") + "/" + name
                    child = Node(name, path, node)
                    node.children.append(child)
                    node = child
                self.tags.append((kind, off, end, node, None))
            elif kind == END_NODE:
                end = off + 4
                self.tags.append((kind, off, end, node, None))
                node = node.parent
            elif kind == PROP:
                length, nameoff = self._u32(off + 4), self._u32(off + 8)
                end = align4(off + 12 + length)
                pname = self._name(nameoff)
                node.props[pname] = self.blob[base + off + 12:base + off + 12 + length]
                self.tags.append((kind, off, end, node, (pname, nameoff)))
            elif kind == NOP:
                end = off + 4
                self.tags.append((kind, off, end, node, None))
            elif kind == END:
                self.tags.append((kind, off, off + 4, None, None))
                if off + 4 != self.size_struct:
                    raise ValueError("data after FDT_END")
                return
            else:
                raise ValueError("bad tag %#x at %d" % (kind, off))
            off = end

    def find(self, path):
        node = self.root
        for part in [p for p in path.split("/") if p]:
            node = node.child(part) if node else None
        return node


def levels(fdt, hashed):
    """Inclusion level of every node: 2 listed, else parent's minus one."""
    lv = {}

    def walk(node, parent_level):
        lv[id(node)] = 2 if node.path in hashed else max(parent_level - 1, 0)
        for c in node.children:
            walk(c, lv[id(node)])
    walk(fdt.root, 0)
    return lv


def signed_bytes(fdt, hashed, strsize):
    lv = levels(fdt, hashed)
    first = []
    for kind, start, end, node, prop in fdt.tags:
        if kind in (BEGIN_NODE, END_NODE):
            first.append(lv[id(node)] >= 1)
        elif kind == PROP:
            first.append(lv[id(node)] == 2 and prop[0] not in EXCLUDED)
        elif kind == NOP:
            first.append(lv[id(node)] == 2)
        else:
            first.append(True)
    # U-Boot ends a region after (not before) an end tag that is not
    # itself wanted, so such a tag right after a hashed one is hashed too.
    final = list(first)
    for i, (kind, *_rest) in enumerate(fdt.tags):
        if kind == END_NODE and not first[i] and i and first[i - 1]:
            final[i] = True
    base = fdt.off_struct
    out = b"".join(fdt.blob[base + s:base + e]
                   for (k, s, e, n, p), inc in zip(fdt.tags, final) if inc)
    return out + fdt.blob[fdt.off_strings:fdt.off_strings + strsize]


def public_key(keys, hint):
    key = keys.find("/signature/key-" + hint) if hint else None
    if key is None:
        return None, None
    n = int.from_bytes(key.props["rsa,modulus"], "big")
    e = struct.unpack(">Q", key.props["rsa,exponent"])[0] if "rsa,exponent" in key.props else 65537
    return rsa.RSAPublicNumbers(e, n).public_key(), key.string("algo")


def coverage_problem(fit, cfg, hashed):
    """What U-Boot's (and the kernel's) hashed-nodes check would refuse."""
    if cfg.path not in hashed:
        return "hashed-nodes lacks " + cfg.path
    images = fit.find("/images")
    for name in cfg.strings("loadables"):
        img = images.child(name) if images else None
        if img is None:
            return "no image " + name
        for n in [img] + [c for c in img.children if c.name.startswith("hash")]:
            if n.path not in hashed:
                return "hashed-nodes lacks " + n.path
    return None


def check(fit, keys, cfg, sig):
    hashed = set(sig.strings("hashed-nodes"))
    strsize = struct.unpack(">II", sig.props["hashed-strings"])[1]
    data = signed_bytes(fit, hashed, strsize)
    digest = hashlib.sha256(data).hexdigest()
    problem = coverage_problem(fit, cfg, hashed)
    if problem:
        return digest, problem
    algo = sig.string("algo")
    key, key_algo = public_key(keys, sig.string("key-name-hint"))
    if key is None:
        return digest, "no key for hint %s" % sig.string("key-name-hint")
    if key_algo != algo or algo not in ("sha256,rsa2048", "sha256,rsa3072", "sha256,rsa4096"):
        return digest, "algo %s, key %s" % (algo, key_algo)
    try:
        key.verify(sig.props["value"], data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return digest, "RSA verification failed"
    return digest, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", required=True)
    ap.add_argument("--config")
    ap.add_argument("--expect", choices=("pass", "fail"), default="pass")
    ap.add_argument("fit")
    args = ap.parse_args()
    fit = Fdt(open(args.fit, "rb").read())
    keys = Fdt(open(args.keys, "rb").read())
    confs = fit.find("/configurations")
    cfg = confs.child(args.config or confs.string("default"))
    sigs = [c for c in cfg.children if c.name.startswith("signature")]
    ok = bool(sigs)
    for sig in sigs:
        digest, problem = check(fit, keys, cfg, sig)
        print(sig.name, digest, "pass" if problem is None else "fail: " + problem)
        ok = ok and problem is None
    if ok != (args.expect == "pass"):
        print("%s: expected %s" % (args.fit, args.expect), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
