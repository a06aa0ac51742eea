"""ota_common.py: what the parts of ota.py share.

The two errors main() turns into exit codes (UsageError 2, Failure 1),
note() on stderr, the argument types (HOST:PORT, files, counts), reading
a pack back with python3-libfdt (pack_info), and the agent's own
explanation of an answer (detail_of). No imports of the other ota_*
modules: they all import this one.
"""
import argparse
import hashlib
import os
import re
import sys

import packtool


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
# the agent's answers

def detail_of(body):
    """The agent's explanation: its engine reason (e.g. replay, rolled-back) and detail."""
    reason, detail = body.get("reason"), body.get("detail")
    reason = reason if reason and reason not in ("ok", body.get("result")) else None
    if reason and detail:
        return "%s: %s" % (reason, detail)
    return reason or detail or None
