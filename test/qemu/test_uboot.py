"""The U-Boot boot path on qemu-virt (`make run BOOT=uboot`).

OpenSBI fw_dynamic starts Debian's S-mode U-Boot; its default bootcmd
(distro boot) finds boot.scr on partition 1 of the virtio disk
build/qemu-virt/uboot-disk.img, which loads kernel.itb (a FIT with a sha256
hash) and starts it with bootm. Nothing is typed: the test only reads.

The QEMU command line comes from the Makefile (`make print-qemu-uboot`), so
the test boots exactly what `make run BOOT=uboot` boots, minus the console
options, which the harness (kernel_qemu.py) supplies.

Run:  /usr/bin/python3 -m pytest -v test/qemu/test_uboot.py
"""

import os
import re
import shlex
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_qemu import REPO_ROOT, Qemu, make_state_image  # noqa: E402

BOARD = "qemu-virt"
OUT = os.path.join(REPO_ROOT, "build", BOARD)
DISK = os.path.join(OUT, "uboot-disk.img")
ITB = os.path.join(OUT, "kernel.itb")
BOOTARGS_ENV = os.path.join(OUT, "uboot", "bootargs.env")
SHUTDOWN_ARGS = "shutdown=6"
HARD_TIMEOUT = 90.0


def make(*targets, args=None, check=True):
    cmd = ["make", "--no-print-directory", "-s", f"BOARD={BOARD}", *targets]
    if args is not None:
        cmd.append(f"ARGS={args}")
    p = subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=900)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(shlex.quote(c) for c in cmd)} failed "
                    f"(status {p.returncode}):\n{p.stdout}")
    return p


def build_disk(args):
    make(f"build/{BOARD}/uboot-disk.img", args=args)
    assert os.path.exists(DISK)
    return DISK


def qemu_uboot_argv(*overrides):
    out = make("print-qemu-uboot", "SMP=4", "MEM=256M", "NET=none",
               *overrides).stdout.strip().splitlines()
    argv = shlex.split(out[-1])
    assert argv and argv[0].endswith("qemu-system-riscv64"), out
    return argv


def test_kernel_itb_is_fit_with_sha256():
    make(f"build/{BOARD}/kernel.itb")
    p = subprocess.run(["mkimage", "-l", ITB], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode == 0, p.stdout
    assert "FIT description:" in p.stdout, p.stdout
    assert re.search(r"Hash algo:\s+sha256", p.stdout), p.stdout
    assert re.search(r"Load Address:\s+0x80200000", p.stdout), p.stdout
    assert re.search(r"OS:\s+Linux", p.stdout), p.stdout


def test_disk_follows_args():
    """bootargs.env (and so the disk) changes with ARGS and only then."""
    build_disk("shutdown=4 x='a b'")
    with open(BOOTARGS_ENV) as f:
        assert f.read() == "bootargs=shutdown=4 x='a b'\n"
    # Up to date with the same ARGS: nothing to rebuild.
    before = os.stat(DISK).st_mtime_ns
    build_disk("shutdown=4 x='a b'")
    assert os.stat(DISK).st_mtime_ns == before
    build_disk(SHUTDOWN_ARGS)
    with open(BOOTARGS_ENV) as f:
        assert f.read() == f"bootargs={SHUTDOWN_ARGS}\n"
    assert os.stat(DISK).st_mtime_ns != before


def test_disk_partition_table():
    build_disk(SHUTDOWN_ARGS)
    with open(DISK, "rb") as f:
        mbr = f.read(512)
        f.seek(2048 * 512 + 1024 + 56)        # ext2 superblock s_magic
        magic = f.read(2)
    assert mbr[510:512] == b"\x55\xaa"
    entry = mbr[446:462]
    assert entry[0] == 0x80, "partition 1 is not marked bootable"
    assert entry[4] == 0x83, "partition 1 is not a Linux partition"
    assert int.from_bytes(entry[8:12], "little") == 2048
    assert magic == b"\x53\xef", "no ext2 filesystem at the partition start"


def test_uboot_boots_fit_kernel(tmp_path):
    """With a state disk as `make run BOOT=uboot` attaches it (after the boot
    disk, which U-Boot must see as virtio 0): the kernel binds the boot disk
    read-only and never writes it, and the state disk becomes its state device."""
    build_disk(SHUTDOWN_ARGS)
    state = make_state_image(BOARD, str(tmp_path / "state.img"))
    with open(DISK, "rb") as f:
        disk_before = f.read()
    argv = qemu_uboot_argv(f"STATE_IMG={state}")
    assert f"file={state}" in " ".join(argv), argv
    with Qemu(BOARD, cmd=argv, hard_timeout=HARD_TIMEOUT, name="uboot-qemu-virt") as q:
        q.wait_for(r"^OpenSBI v\d", timeout=30)
        q.wait_for(r"^U-Boot 20\d\d\.\d\d", timeout=30)
        q.wait_for(r"Found U-Boot script /boot\.scr", timeout=40)
        q.wait_for(re.escape(f"boot.scr: bootargs={SHUTDOWN_ARGS}"), timeout=20)
        q.wait_for(r"Loading kernel from FIT Image at", timeout=20)
        q.wait_for(r"Hash algo:\s+sha256", timeout=10)
        q.wait_for(r"Verifying Hash Integrity \.\.\. sha256\+ OK", timeout=10)
        q.wait_for(r"^Starting kernel \.\.\.", timeout=20)
        hit = q.wait_for(r"\] h\d+ boot: kernel board=qemu-virt ", timeout=20)
        assert hit.entry is not None, hit.line
        assert hit.entry.kv.get("args") == SHUTDOWN_ARGS, hit.line
        # bootm passes a1 = U-Boot's devicetree, not a null pointer
        assert int(hit.entry.kv["fdt"], 16) != 0, hit.line
        q.wait_for(r"\] h\d+ boot: ready harts=4 board=qemu-virt\b", timeout=30)
        blks = q.log("virtio-blk", "bound")
        assert [(e.kv["ro"], e.int("capacity")) for e in blks] == \
            [("1", os.path.getsize(DISK)), ("0", os.path.getsize(state))], q.tail()
        st = q.log("storage", "state device")
        assert len(st) == 1 and st[0].int("size") == os.path.getsize(state), q.tail()
        q.wait_for(r"\] h\d+ workload: heartbeat .*\bmatch=yes\b", timeout=30)
        q.wait_for(r"\] h\d+ boot: shutdown\b", timeout=40)
        rc = q.wait_exit(timeout=30)
        assert rc == 0, q.tail()
        assert not q.killed, q.status()
        assert not q.find(r"match=(?!yes)"), q.tail()
        assert not q.find(r"\b(panic|PANIC)\b"), q.tail()
    with open(DISK, "rb") as f:
        assert f.read() == disk_before, "the read-only boot disk changed"


def test_uboot_refuses_corrupted_fit():
    """One flipped bit in the kernel data: bootm's sha256 check must fail and
    the kernel must not start. Built on its own disk (build/test/uboot-bad/)
    through the same make rule, with UBOOT_ITB/UBOOT_DIR/UBOOT_DISK."""
    make(f"build/{BOARD}/kernel.itb")
    bad_dir = os.path.join("build", "test", "uboot-bad")
    os.makedirs(os.path.join(REPO_ROOT, bad_dir), exist_ok=True)
    with open(ITB, "rb") as f:
        itb = bytearray(f.read())
    with open(os.path.join(OUT, "kernel.bin"), "rb") as f:
        kbin = f.read()
    data = itb.find(kbin[:256])
    assert data > 0 and itb[data:data + len(kbin)] == kbin, "kernel data not found in the FIT"
    itb[data + len(kbin) // 2] ^= 0x01
    bad_itb = os.path.join(bad_dir, "kernel.itb")
    with open(os.path.join(REPO_ROOT, bad_itb), "wb") as f:
        f.write(itb)
    overrides = [f"UBOOT_ITB={bad_itb}", f"UBOOT_DIR={bad_dir}/uboot",
                 f"UBOOT_DISK={bad_dir}/disk.img"]
    make(f"{bad_dir}/disk.img", *overrides, args=SHUTDOWN_ARGS)
    argv = shlex.split(make("print-qemu-uboot", "SMP=4", "MEM=256M", "NET=none", "STATE=none",
                            *overrides)
                       .stdout.strip().splitlines()[-1])
    assert f"file={bad_dir}/disk.img," in " ".join(argv)
    with Qemu(BOARD, cmd=argv, hard_timeout=60, name="uboot-qemu-virt-bad-fit") as q:
        q.wait_for(r"Loading kernel from FIT Image at", timeout=40)
        q.wait_for(r"Verifying Hash Integrity \.\.\. sha256 error!", timeout=10)
        q.wait_for(r"Bad hash value for 'hash-1' hash node in 'kernel' image node", timeout=10)
        q.wait_for(r"boot\.scr: bootm failed", timeout=10)
        # distro boot goes on with the other targets and ends at the prompt
        q.wait_for(r"No ethernet found", timeout=20)
        assert not q.find(r"Starting kernel"), q.tail()
        assert not q.find(r"\] h\d+ boot: "), q.tail()
