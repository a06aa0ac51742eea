"""An independent check of a FIT configuration signature, done the way
U-Boot does it (boot/image-fit-sig.c fit_config_check_sig and
lib/libfdt/fdt_region.c fdt_find_regions), in plain Python: the regions of
the structure block covering the nodes listed in the signature's
`hashed-nodes` (each with its parents' BEGIN_NODE/END_NODE tags, without
the `data` properties), then the END tag, then the strings block range in
`hashed-strings`; SHA-256 over them; RSA PKCS#1 v1.5 with the public key
from the dtb `mkimage -K` wrote (rsa,modulus / rsa,exponent).

Test helper only: it shares no code with ota-server/ (nor with mkimage).
"""
import hashlib
import struct

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9
EXCLUDED_PROPS = ("data", "data-size", "data-position", "data-offset")


class Fdt:
    def __init__(self, blob):
        self.blob = bytes(blob)
        (magic, self.totalsize, self.off_struct, self.off_strings, _rsv, self.version, _last,
         _cpu, self.size_strings, self.size_struct) = struct.unpack_from(">10I", self.blob, 0)
        if magic != FDT_MAGIC:
            raise ValueError("not an FDT")

    def string(self, nameoff):
        start = self.off_strings + nameoff
        return self.blob[start:self.blob.index(b"\0", start)].decode()

    def next_tag(self, offset):
        """(tag, next offset, payload) at a structure-block offset."""
        base = self.off_struct
        tag, = struct.unpack_from(">I", self.blob, base + offset)
        nxt = offset + 4
        payload = None
        if tag == FDT_BEGIN_NODE:
            end = self.blob.index(b"\0", base + nxt)
            payload = self.blob[base + nxt:end].decode()
            nxt = end + 1 - base
        elif tag == FDT_PROP:
            length, nameoff = struct.unpack_from(">II", self.blob, base + nxt)
            payload = (self.string(nameoff), self.blob[base + nxt + 8:base + nxt + 8 + length])
            nxt += 8 + length
        elif tag not in (FDT_END_NODE, FDT_NOP, FDT_END):
            raise ValueError("bad tag %d at %d" % (tag, offset))
        return tag, (nxt + 3) & ~3, payload

    def walk(self):
        """Yields (path, props dict) for every node."""
        off, path, stack = 0, [], []
        while True:
            tag, nxt, payload = self.next_tag(off)
            if tag == FDT_BEGIN_NODE:
                path.append(payload)
                stack.append({})
            elif tag == FDT_PROP:
                stack[-1][payload[0]] = payload[1]
            elif tag == FDT_END_NODE:
                yield "/" + "/".join(p for p in path if p), stack.pop()
                path.pop()
            elif tag == FDT_END:
                return
            off = nxt

    def nodes(self):
        return dict(self.walk())

    def find_regions(self, include, exclude_props):
        """U-Boot's fdt_find_regions(), add_string_tab = 0: [(offset, size)] in the blob."""
        base = self.off_struct
        regions = []
        stack = []
        path = ""
        depth = -1
        want = 0
        start = -1
        nextoffset = 0
        while True:
            offset = nextoffset
            tag, nextoffset, payload = self.next_tag(offset)
            stop_at = nextoffset
            include_it = 0
            if tag == FDT_PROP:
                include_it = want >= 2
                stop_at = offset
                if payload[0] in exclude_props:
                    include_it = 0
            elif tag == FDT_NOP:
                include_it = want >= 2
                stop_at = offset
            elif tag == FDT_BEGIN_NODE:
                depth += 1
                if path != "/":
                    path += "/"
                path += payload
                stack.append(want)
                if want == 1:
                    stop_at = offset
                if path in include:
                    want = 2
                elif want:
                    want -= 1
                else:
                    stop_at = offset
                include_it = want
            elif tag == FDT_END_NODE:
                include_it = want
                want = stack.pop()
                depth -= 1
                path = path[:path.rfind("/")] if "/" in path else ""
            elif tag == FDT_END:
                include_it = 1
            if include_it and start == -1:
                if regions and offset == regions[-1][0] + regions[-1][1] - base:
                    start = regions.pop()[0] - base
                else:
                    start = offset
            if not include_it and start != -1:
                regions.append((base + start, stop_at - start))
                start = -1
            if tag == FDT_END:
                break
        if nextoffset != self.size_struct:
            raise ValueError("structure block size mismatch")
        regions.append((base + start, nextoffset - start))
        return regions


def stringlist(raw):
    return [s.decode() for s in raw.split(b"\0")[:-1]]


def public_key(pubkey_dtb, key_name):
    """The RSA public key mkimage -K wrote, as a python3-cryptography object."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    props = Fdt(open(pubkey_dtb, "rb").read()).nodes()["/signature/key-" + key_name]
    n = int.from_bytes(props["rsa,modulus"], "big")
    e = int.from_bytes(props["rsa,exponent"], "big")
    return rsa.RSAPublicNumbers(e, n).public_key(), props


def signed_data(fit_blob, conf="conf-1", sig="signature-1"):
    """(the bytes the configuration signature covers, the signature, its node's props)."""
    fdt = Fdt(fit_blob)
    props = fdt.nodes()["/configurations/%s/%s" % (conf, sig)]
    nodes = stringlist(props["hashed-nodes"])
    regions = fdt.find_regions(set(nodes), EXCLUDED_PROPS)
    s_start, s_size = struct.unpack(">II", props["hashed-strings"])
    regions.append((fdt.off_strings + s_start, s_size))
    data = b"".join(fit_blob[o:o + n] for o, n in regions)
    return data, props["value"], props


def verify(fit_blob, pubkey_dtb, key_name="dev"):
    """Raises cryptography's InvalidSignature (or ValueError) when the signature does not hold."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    key, _ = public_key(pubkey_dtb, key_name)
    data, value, props = signed_data(fit_blob)
    if props["algo"].rstrip(b"\0") != b"sha256,rsa2048":
        raise ValueError("unexpected algo %r" % props["algo"])
    key.verify(value, data, padding.PKCS1v15(), hashes.SHA256())
    return hashlib.sha256(data).hexdigest()
