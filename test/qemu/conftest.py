"""Fixtures for the QEMU integration tests (harness: kernel_qemu.py).

  qemu         factory, one test:    q = qemu("qemu-virt", smp=4, args="shutdown=5")
  qemu_module  factory, one module:  for runs that several tests look at
  repo_root    the repository root (kernel ELFs in build/<board>/kernel.elf)

Every instance is started at once, named after the test (UART log in
build/test/qemu/<name>.log) and killed at teardown if it still runs. When a
test fails, the tail of the UART log of every run it used is attached to
the report (unless the test set `q.report = False` on a run).
"""
import os
import re
import shutil

import pytest

import kernel_qemu
from kernel_qemu import Qemu


def _name(node, extra):
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.nodeid.split("/")[-1].replace("::", "-"))
    return base + (f"-{extra}" if extra else "")


class _Factory:
    def __init__(self, node):
        self.node = node
        self.runs = []

    def __call__(self, board="qemu-virt", smp=None, args="shutdown=5", start=True, **kw):
        kw.setdefault("name", _name(self.node, len(self.runs) or ""))
        q = Qemu(board, smp, args=args, **kw)
        self.runs.append(q)
        if start:
            q.start()
        return q

    def cleanup(self):
        for q in self.runs:
            q.kill()


@pytest.fixture(scope="session")
def repo_root():
    return kernel_qemu.REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def _tools():
    if not shutil.which(kernel_qemu.QEMU_BIN):
        pytest.fail(f"{kernel_qemu.QEMU_BIN} not found (Debian package qemu-system-misc)")
    if not os.path.exists(kernel_qemu.OPENSBI_FW_DYNAMIC):
        pytest.fail(f"{kernel_qemu.OPENSBI_FW_DYNAMIC} not found (Debian package opensbi)")


@pytest.fixture
def qemu(request):
    f = _Factory(request.node)
    yield f
    f.cleanup()


@pytest.fixture(scope="module")
def qemu_module(request):
    f = _Factory(request.node)
    yield f
    f.cleanup()


def _runs_of(value, depth=0):
    if isinstance(value, Qemu):
        yield value
    elif isinstance(value, _Factory):
        yield from value.runs
    elif depth < 2 and isinstance(value, (list, tuple)):
        for v in value:
            yield from _runs_of(v, depth + 1)
    elif depth < 2 and isinstance(value, dict):
        for v in value.values():
            yield from _runs_of(v, depth + 1)
    elif depth < 2 and hasattr(value, "qemu") and isinstance(getattr(value, "qemu"), Qemu):
        yield value.qemu


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    seen = set()
    for v in getattr(item, "funcargs", {}).values():
        for q in _runs_of(v):
            if id(q) in seen or not getattr(q, "report", True):
                continue
            seen.add(id(q))
            rep.sections.append((f"QEMU {q.name}: {q.status()}",
                                 " ".join(q.argv) + "\n" + q.tail(40)))
