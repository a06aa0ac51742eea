"""SPI NOR storage on sifive_u (HiFive Unleashed): the sifive,spi0 and
jedec,spi-nor drivers against QEMU's is25wp256 (the m25p80 model, which
keeps NOR rules: erase sets 0xff, programming ANDs bits in).

Runs boot with `storage=selftest` (src/storage.c: calls past the region's
end must come back -KE_RANGE; then erase, program, read back and restore
the region's last 4 KiB block) and QEMU's m25p80 trace events
on stderr, so every erase and every programmed byte is also seen from the
device side, not only through the driver. The flash image (`-drive if=mtd`,
32 MiB) is checked byte for byte after QEMU exits.

  default region     [16 MiB, 32 MiB - 64 KiB), no partitions in the tree
  NOR semantics      through the console: a second program ANDs, an erase
                     sets 0xff again (the driver passes programs through)
  ota-state          a fixed-partitions table passed with -dtb is honoured
  default overlaps   a table without ota-state that covers the default: refused
  no answer          the flash node on a bus where nothing answers (the SD
                     card's): not bound, the board runs volatile
  no drive           QEMU 7.2 still has the chip (RAM-backed, erased): bound
"""
import os
import random
import re
import subprocess

import pytest

from kernel_qemu import QEMU_BIN

BOARD = "hifive-unleashed"
SMP, MEM = 5, "512M"
MIB = 1 << 20
FLASH = 32 * MIB
BLOCK = 4096
DEFAULT = (16 * MIB, 16 * MIB - 64 * 1024)      # drivers/mtd/spi_nor.c, docs/boot.md
TRACE = ["-trace", "m25p80_flash_erase", "-trace", "m25p80_page_program",
         "-trace", "m25p80_programming_zero_to_one"]
ERASE_RE = re.compile(r"m25p80_flash_erase .*offset = (0x[0-9a-f]+), len = (\d+)")
PROGRAM_RE = re.compile(r"m25p80_page_program .*cur_addr=(0x[0-9a-f]+) data=(0x[0-9a-f]+)")
STATS_RE = re.compile(r"  reads=(\d+) programs=(\d+) erases=(\d+) flushes=(\d+) bytes "
                      r"read=(\d+) programmed=(\d+) erased=(\d+) errors=(\d+)")
# The self-test's writes into its block (src/storage.c), for the byte count.
SELFTEST_PROGRAMMED = 250 + 300 + 1000 + 2300 + BLOCK


@pytest.fixture(scope="module")
def base_dts(tmp_path_factory):
    """QEMU's own sifive_u tree (same -smp/-m as the runs), as source."""
    d = tmp_path_factory.mktemp("dtb")
    dtb = d / "sifive_u.dtb"
    subprocess.run([QEMU_BIN, "-M", f"sifive_u,dumpdtb={dtb}", "-smp", str(SMP), "-m", MEM,
                    "-nographic"], check=True, capture_output=True, timeout=60)
    return subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(dtb)], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def make_dtb(tmp_path, base_dts, name, extra):
    src = tmp_path / f"{name}.dts"
    src.write_text(base_dts + "\n" + extra)
    out = tmp_path / f"{name}.dtb"
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(out), str(src)],
                   check=True, timeout=60)
    return str(out)


def make_image(path, rng, spans):
    """An erased 32 MiB flash with random bytes in each (offset, length)."""
    data = bytearray(b"\xff" * FLASH)
    for off, n in spans:
        data[off:off + n] = rng.randbytes(n)
    path.write_bytes(data)
    return bytes(data)


def boot(qemu, image=None, dtb=None, args="storage=selftest workload=off journal=off"):
    """The board with `image` as its flash (-drive if=mtd, the harness's
    state image), or none."""
    extra = list(TRACE) + (["-dtb", dtb] if dtb else [])
    q = qemu(BOARD, SMP, args=f"{args} shutdown=90", extra_args=extra, hard_timeout=120,
             state=str(image) if image else None)
    q.wait_for(r"\] h\d+ boot: ready ", timeout=60)
    return q


def ask_stats(q):
    q.send("storage\n")
    return [int(x) for x in q.wait_for(STATS_RE, timeout=20).match.groups()]


def halt(q):
    q.send("halt\n")
    assert q.wait_exit(timeout=30) == 0, q.tail()


def device_writes(q):
    """(erases [(offset, len)], programmed bytes [(addr, value)]) in order,
    from QEMU's trace, plus every event in one ordered list."""
    events = []
    for line in q.stderr.splitlines():
        m = ERASE_RE.search(line)
        if m:
            events.append(("erase", int(m.group(1), 16), int(m.group(2))))
            continue
        m = PROGRAM_RE.search(line)
        if m:
            events.append(("program", int(m.group(1), 16), int(m.group(2), 16)))
    return events


def check_nor_discipline(q, events, lo, hi):
    """Every erase and programmed byte inside [lo, hi); no byte programmed
    twice without an erase in between (the storage class's rule), and the
    device never saw a program that would have to set a bit."""
    assert "m25p80_programming_zero_to_one" not in q.stderr, \
        [l for l in q.stderr.splitlines() if "zero_to_one" in l][:5]
    dirty = set()
    for kind, addr, n in events:
        if kind == "erase":
            assert lo <= addr and addr + n <= hi, f"erase {addr:#x}+{n:#x} outside the region"
            assert addr % BLOCK == 0 and n == BLOCK, (addr, n)
            dirty.difference_update(range(addr, addr + n))
        else:
            assert lo <= addr < hi, f"byte programmed at {addr:#x}, outside the region"
            assert addr not in dirty, f"byte {addr:#x} programmed twice without an erase"
            dirty.add(addr)


def bind_line(q):
    hits = q.log("spi-nor", "bound")
    assert len(hits) == 1, [h.raw for h in q.log("spi-nor")]
    return hits[0]


def test_default_region(qemu, tmp_path):
    """No partitions in the tree: the default region. The self-test's block
    held random bytes; it must come back exactly, which on NOR (AND on
    program) needs an erase before the restore. Nothing outside changes."""
    lo, size = DEFAULT
    hi = lo + size
    img = tmp_path / "flash.img"
    before = make_image(img, random.Random(7), [
        (0, MIB),                       # where the Unmatched's SPL and U-Boot live
        (FLASH - 64 * 1024, 64 * 1024),  # its backup GPT
        (lo - BLOCK, 2 * BLOCK),        # both sides of the region's start
        (hi - BLOCK, BLOCK),            # the self-test's block
    ])
    q = boot(qemu, image=img)
    b = bind_line(q)
    assert (b.kv["id"], b.kv["model"], b.int("size")) == ("9d7019", "is25wp256", FLASH)
    assert b.kv["region"] == f"{lo:#x}+{size:#x}" and b.kv["source"] == "default", b.raw
    assert b.kv["bus"] == "0x10040000" and b.kv["ro"] == "0", b.raw
    st = q.log("storage", "state device")
    assert st and st[0].int("offset") == lo and st[0].int("size") == size, st
    ok = q.wait_for(r"\] h\d+ storage: selftest ok ", start=0).entry
    assert ok.int("block") == size - BLOCK, ok.raw
    reads, programs, erases, flushes, rbytes, pbytes, ebytes, errors = ask_stats(q)
    assert errors == 0 and erases >= 2 and programs >= 5 and flushes >= 2, q.tail(5)
    assert ebytes >= 2 * BLOCK and pbytes >= SELFTEST_PROGRAMMED and rbytes >= 3 * BLOCK
    halt(q)

    events = device_writes(q)
    check_nor_discipline(q, events, lo, hi)
    erased = [a for k, a, _ in events if k == "erase"]
    assert erased.count(hi - BLOCK) >= 2, f"self-test block erased {erased.count(hi - BLOCK)}x"
    after = img.read_bytes()
    assert len(after) == FLASH
    assert after[:lo] == before[:lo], "flash changed below the region"
    assert after[hi:] == before[hi:], "flash changed above the region (backup GPT area)"
    assert after[hi - BLOCK:hi] == before[hi - BLOCK:hi], "self-test block not restored"
    assert after == before


def test_ota_state_partition(qemu, tmp_path, base_dts):
    """An `ota-state` partition in the tree (passed with -dtb; OpenSBI hands
    it on) is the region, wherever it lies; the rest of a flash full of data
    is never touched."""
    lo, size = 8 * MIB, 1 * MIB
    dtb = make_dtb(tmp_path, base_dts, "ota-state", f"""
&{{/soc/spi@10040000/flash@0}} {{
	partitions {{
		compatible = "fixed-partitions";
		#address-cells = <1>;
		#size-cells = <1>;
		partition@0 {{
			label = "boot";
			reg = <0x0 {lo:#x}>;
			read-only;
		}};
		partition@{lo:x} {{
			label = "ota-state";
			reg = <{lo:#x} {size:#x}>;
		}};
	}};
}};
""")
    img = tmp_path / "flash.img"
    before = make_image(img, random.Random(8), [(0, FLASH)])
    q = boot(qemu, image=img, dtb=dtb)
    b = bind_line(q)
    assert b.kv["region"] == f"{lo:#x}+{size:#x}" and b.kv["source"] == "ota-state", b.raw
    ok = q.wait_for(r"\] h\d+ storage: selftest ok ", start=0).entry
    assert ok.int("block") == size - BLOCK, ok.raw
    halt(q)
    events = device_writes(q)
    check_nor_discipline(q, events, lo, lo + size)
    assert any(k == "erase" and a == lo + size - BLOCK for k, a, _ in events), events[:5]
    assert img.read_bytes() == before


def test_default_overlapping_partition_refused(qemu, tmp_path, base_dts):
    """A partition table without ota-state whose partitions cover the
    default region: the driver will not write over a declared partition."""
    dtb = make_dtb(tmp_path, base_dts, "overlap", """
&{/soc/spi@10040000/flash@0} {
	partitions {
		compatible = "fixed-partitions";
		#address-cells = <1>;
		#size-cells = <1>;
		partition@0 {
			label = "firmware";
			reg = <0x0 0x1000000>;
		};
		partition@1000000 {
			label = "rootfs";
			reg = <0x1000000 0x1000000>;
		};
	};
};
""")
    img = tmp_path / "flash.img"
    before = make_image(img, random.Random(9), [(0, FLASH)])
    q = boot(qemu, image=img, dtb=dtb)
    refused = q.wait_for(r"\] h\d+ spi-nor: default region .* overlaps partition rootfs: "
                         r"not bound", start=0)
    assert refused
    q.wait_for(r"\] h\d+ storage: selftest skipped: no state device", start=0)
    assert not q.log("spi-nor", "bound") and not q.log("storage", "state device")
    halt(q)
    assert device_writes(q) == []
    assert img.read_bytes() == before


def test_no_flash_answers(qemu, tmp_path, base_dts):
    """The flash node on a bus where no flash answers (moved onto the SD
    card's controller): a clear log line, nothing bound, and the board runs
    as before, volatile."""
    dtb = make_dtb(tmp_path, base_dts, "noflash", """
&{/soc/spi@10040000} {
	/delete-node/ flash@0;
};
&{/soc/spi@10050000} {
	/delete-node/ mmc@0;
	flash@0 {
		compatible = "jedec,spi-nor";
		reg = <0>;
	};
};
""")
    q = boot(qemu, dtb=dtb, args="storage=selftest journal=off")
    line = q.wait_for(r"\] h\d+ spi-nor: no flash answered id=(ffffff|000000) "
                      r"bus=0x10050000 cs=0: not bound", start=0)
    assert line
    assert not q.log("spi-nor", "bound") and not q.log("storage", "state device")
    q.wait_for(r"\] h\d+ storage: selftest skipped: no state device", start=0)
    q.send("storage\n")
    q.wait_for(r"^  storage: none \(volatile\)$", timeout=20)
    # the rest works: the workload beats
    q.wait_for(r"\] h\d+ workload: heartbeat seq=1 ", timeout=30)
    halt(q)


def test_no_drive(qemu):
    """Without -drive if=mtd, QEMU 7.2's sifive_u still has the chip, backed
    by RAM and erased: it answers and binds (its content is lost at exit;
    the guest cannot tell). The board must boot either way."""
    q = boot(qemu)
    b = bind_line(q)
    assert b.kv["id"] == "9d7019" and b.kv["source"] == "default", b.raw
    q.wait_for(r"\] h\d+ storage: selftest ok ", start=0)
    halt(q)
    events = device_writes(q)
    assert events, "the self-test reached no flash"
    check_nor_discipline(q, events, DEFAULT[0], sum(DEFAULT))


def test_program_ands_erase_sets(qemu, tmp_path):
    """What NOR does, through the console on the real driver and QEMU's
    chip model: programming 'B' (0x42) over 'A' (0x41) leaves 0x40 (bits
    only clear; the driver does not read-modify-write), an erase gives 0xff
    back, calls past the region's end are refused, and the last value
    reaches the image file at region + offset, nothing else."""
    lo, size = DEFAULT
    at = 0x3000
    img = tmp_path / "flash.img"
    before = make_image(img, random.Random(10), [(lo + at, BLOCK)])
    q = boot(qemu, image=img, args="workload=off journal=off")

    def cmd(line, answer):
        q.send(line + "\n")
        return q.wait_for(r"^  storage " + answer, timeout=20).line

    def read():
        return cmd(f"storage read {at:#x} 2", r"read off=.* err=ok data=([0-9a-f]{4})$")[-4:]

    assert read() == before[lo + at:lo + at + 2].hex()
    cmd(f"storage erase {at:#x}", r"erase off=.* err=ok$")
    assert read() == "ffff"
    cmd(f"storage program {at:#x} A", r"program off=.* len=1 err=ok$")
    assert read() == "41ff"
    cmd(f"storage program {at:#x} B", r"program off=.* len=1 err=ok$")
    assert read() == "40ff", "a second program must AND (NOR), not overwrite"
    cmd(f"storage erase {at:#x}", r"erase off=.* err=ok$")
    cmd(f"storage program {at:#x} BC", r"program off=.* len=2 err=ok$")
    assert read() == "4243"
    # past the region's end: refused before anything reaches the chip
    cmd(f"storage erase {size:#x}", r"erase off=.* err=ERANGE$")
    cmd(f"storage read {size - 1:#x} 2", r"read off=.* err=ERANGE data=$")
    cmd(f"storage program {size - 1:#x} AB", r"program off=.* len=2 err=ERANGE$")
    cmd("storage flush", r"flush err=ok$")
    halt(q)
    # QEMU noticed the one program that tried to set a bit: 'B' over 'A'.
    zero_to_one = [l for l in q.stderr.splitlines() if "programming_zero_to_one" in l]
    assert len(zero_to_one) == 1 and f"addr={lo + at:#x}" in zero_to_one[0], zero_to_one
    want = bytearray(before)
    want[lo + at:lo + at + BLOCK] = b"BC" + b"\xff" * (BLOCK - 2)
    assert img.read_bytes() == bytes(want)
