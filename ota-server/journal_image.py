"""The board's update journal, read (and written) from the host side.

The kernel keeps its journal on the state device (update/journal.c; the
format is described in include/kernel/journal.h). This module reads an
image of that region -- a qemu-virt state disk, or a dump of the SPI NOR
region -- so that `ota.py journal IMAGE` can show what a board would replay,
and writes one from scratch so that tests can put exactly the records they
want on a board (for example a pack signed with another board's key).

Layout, in erase blocks of `erase_size` bytes: 0 and 1 are the two
superblock copies, 2 the boot counter, 3.. the log ring. All integers are
little-endian; CRCs are CRC-32 (zlib.crc32).
"""
import struct
import zlib

SUPER_MAGIC = 0x534A4B4C     # "LKJS"
REC_MAGIC = 0x524A4B4C       # "LKJR"
FORMAT_VERSION = 1
SUPER_FMT = "<IHHQQIIQBB32s6x"       # up to the CRC (80 bytes); then I crc, 4 bytes pad
SUPER_SIZE = 88
REC_FMT = "<IBBHIIQI"               # up to hdr_crc (28 bytes); then I hdr_crc
REC_SIZE = 32
REC_ALIGN = 16
BLK_LOG = 3
REC_PACK, REC_COMMIT, REC_ROLLBACK = 1, 2, 3
REC_F_COMMITTED = 1
REASON_LEN = 32
STATUS = {0: "pending", 1: "committed", 2: "rolled-back"}


def rec_size(length):
    return (REC_SIZE + length + REC_ALIGN - 1) & ~(REC_ALIGN - 1)


def pack_super(count, region_size, erase_size, floor, tail, lwm2m_state=0, lwm2m_result=0,
               reason=b""):
    head = struct.pack(SUPER_FMT, SUPER_MAGIC, FORMAT_VERSION, SUPER_SIZE, count, region_size,
                       erase_size, floor, tail, lwm2m_state, lwm2m_result,
                       reason[:REASON_LEN - 1].ljust(REASON_LEN, b"\0"))
    return head + struct.pack("<I", zlib.crc32(head)) + b"\0" * 4


def unpack_super(raw, region_size, erase_size):
    """The superblock in `raw`, or None if it is not valid for this geometry."""
    head = raw[:80]
    (magic, version, size, count, rsize, esz, floor, tail, st, res,
     reason) = struct.unpack(SUPER_FMT, head)
    (crc,) = struct.unpack_from("<I", raw, 80)
    if (magic != SUPER_MAGIC or version != FORMAT_VERSION or size != SUPER_SIZE
            or crc != zlib.crc32(head)):
        return None
    return {"count": count, "region_size": rsize, "erase_size": esz, "floor": floor,
            "tail": tail, "lwm2m_state": st, "lwm2m_result": res,
            "reason": reason.split(b"\0")[0].decode("latin-1"),
            "geometry_ok": rsize == region_size and esz == erase_size}


def pack_record(pos, rtype, seq, payload, flags=0):
    head = struct.pack(REC_FMT, REC_MAGIC, rtype, flags, REC_SIZE, seq, len(payload), pos,
                       zlib.crc32(payload))
    rec = head + struct.pack("<I", zlib.crc32(head)) + payload
    return rec + b"\xff" * (rec_size(len(payload)) - len(rec))


class Journal:
    """A parsed journal image (read-only view of what the kernel would find)."""

    def __init__(self, image, erase_size=4096):
        self.image = image
        self.esz = erase_size
        self.size = len(image)
        blocks = self.size // erase_size
        if blocks < BLK_LOG + 8:
            raise ValueError("region too small for a journal (%d bytes)" % self.size)
        self.log_off = BLK_LOG * erase_size
        self.log_size = (blocks - BLK_LOG) * erase_size
        self.supers = [unpack_super(image[i * erase_size:i * erase_size + SUPER_SIZE],
                                    self.size, erase_size) for i in (0, 1)]
        good = [s for s in self.supers if s and s["geometry_ok"]]
        self.floor = max([s["floor"] for s in self.supers if s] or [0])
        self.valid = bool(good)
        self.entries = {}
        self.torn = 0
        self.state = None
        if not good:
            return
        best = max(good, key=lambda s: s["count"])
        self.state = best
        self.tail = best["tail"]
        self._scan()

    def _ring(self, pos, n):
        out = b""
        while n:
            at = pos % self.log_size
            k = min(n, self.log_size - at)
            out += self.image[self.log_off + at:self.log_off + at + k]
            pos += k
            n -= k
        return out

    def _limit(self):
        return (self.tail & ~(self.esz - 1)) + self.log_size

    def _record(self, pos):
        """(header dict, payload, payload ok) or None if no valid header at pos."""
        if pos + REC_SIZE > self._limit():
            return None
        raw = self._ring(pos, REC_SIZE)
        magic, rtype, flags, hsize, seq, length, rpos, pcrc = struct.unpack(REC_FMT, raw[:28])
        (hcrc,) = struct.unpack_from("<I", raw, 28)
        if (magic != REC_MAGIC or hsize != REC_SIZE or rpos != pos or hcrc != zlib.crc32(raw[:28])
                or length > self.log_size or pos + rec_size(length) > self._limit()
                or rtype not in (REC_PACK, REC_COMMIT, REC_ROLLBACK)):
            return None
        payload = self._ring(pos + REC_SIZE, length)
        return ({"type": rtype, "flags": flags, "seq": seq, "len": length, "pos": pos},
                payload, zlib.crc32(payload) == pcrc)

    def _scan(self):
        pos = self.tail
        while pos + REC_SIZE <= self._limit():
            r = self._record(pos)
            if r is None:
                nxt = (pos & ~(self.esz - 1)) + self.esz
                r = self._record(nxt)
                if r is None:
                    break
                self.torn += 1
                pos = nxt
            h, payload, ok = r
            if ok:
                self._apply(h, payload)
                pos += rec_size(h["len"])
                continue
            # Torn: if the log ended there at a boot, it went on at the next
            # block, inside the torn record (update/journal.c, after_torn).
            self.torn += 1
            nxt = (pos & ~(self.esz - 1)) + self.esz
            end = pos + rec_size(h["len"])
            pos = nxt if nxt < end and self._record(nxt) is not None else end

    def _apply(self, h, payload):
        self.floor = max(self.floor, h["seq"])
        e = self.entries.get(h["seq"])
        if h["type"] == REC_PACK:
            if e is None:
                e = self.entries[h["seq"]] = {"seq": h["seq"], "status": "pending", "reason": ""}
            e.update(size=h["len"], pos=h["pos"], pack=payload)
            if h["flags"] & REC_F_COMMITTED and e["status"] == "pending":
                e["status"] = "committed"
        elif e is None:
            return
        elif h["type"] == REC_COMMIT and e["status"] == "pending":
            e["status"] = "committed"
        elif h["type"] == REC_ROLLBACK:
            e["status"] = "rolled-back"
            e["reason"] = payload.split(b"\0")[0].decode("latin-1")

    def summary(self):
        return {"valid": self.valid, "floor": self.floor, "torn": self.torn,
                "entries": [{k: v for k, v in e.items() if k != "pack"}
                            for _, e in sorted(self.entries.items())],
                "lwm2m": None if not self.state else {
                    "state": self.state["lwm2m_state"], "result": self.state["lwm2m_result"],
                    "reason": self.state["reason"]}}


def build_image(size, packs, erase_size=4096, fill=0x00, floor=None):
    """A journal image of `size` bytes holding `packs`: a list of
    (seq, pack bytes, status) with status "committed", "pending" or
    "rolled-back" (a reason may follow as a fourth item)."""
    img = bytearray([fill]) * size
    blocks = size // erase_size
    log_off, log_size = BLK_LOG * erase_size, (blocks - BLK_LOG) * erase_size
    pos = 0
    top = 0
    for item in packs:
        seq, data, status = item[:3]
        recs = [pack_record(pos, REC_PACK, seq, bytes(data))]
        if status == "committed":
            recs.append(pack_record(pos + len(recs[0]), REC_COMMIT, seq, b""))
        elif status == "rolled-back":
            reason = (item[3] if len(item) > 3 else "rolled-back").encode()
            recs.append(pack_record(pos + len(recs[0]), REC_ROLLBACK, seq, reason))
        for r in recs:
            if pos + len(r) > log_size:
                raise ValueError("packs do not fit in the log")
            img[log_off + pos:log_off + pos + len(r)] = r
            pos += len(r)
        top = max(top, seq)
    # The rest of the head's block is erased, as the kernel leaves it.
    end = min(((pos + erase_size - 1) // erase_size) * erase_size, log_size)
    img[log_off + pos:log_off + end] = b"\xff" * (end - pos)
    img[2 * erase_size:3 * erase_size] = b"\xff" * erase_size
    img[0:erase_size] = b"\xff" * erase_size
    img[erase_size:2 * erase_size] = b"\xff" * erase_size
    sup = pack_super(1, size, erase_size, top if floor is None else floor, 0)
    img[0:len(sup)] = sup
    return bytes(img)
