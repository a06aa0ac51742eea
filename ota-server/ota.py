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
import http.client
import json
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fleet  # noqa: E402  (pull over MQTT: rollout --broker, fleet, serve)
import uartlog  # noqa: E402
from ota_build import cmd_build, cmd_keygen  # noqa: E402  (keygen, build)
from ota_common import (Failure, UsageError, addr_str, existing_file, host_port,  # noqa: E402
                        host_port_list, pack_info, pack_summary, positive_int)
import ota_push  # noqa: E402  (HTTP to the agents; ota_push.tqdm is None without python3-tqdm)
from ota_push import PushOptions, get_status, push_many, wait_idle  # noqa: E402
from ota_views import format_status, paint, result_rows, table, use_color  # noqa: E402
from ota_views import versions_str  # noqa: E402,F401  (fleet.py's, see below)

# This file is the command line: the argument parser and the thin commands.
# The work is in ota_build.py (keygen, build), ota_push.py (HTTP to the
# agents), ota_views.py (colours, tables, status), ota_common.py (errors,
# argument types, reading packs) and fleet.py (pull over MQTT, serve).
# fleet.py is handed this module (sys.modules[__name__]) and reaches through
# it: Failure, UsageError, pack_info, pack_summary, host_port, use_color,
# paint, table, versions_str and add_out_args.

REPO = os.path.dirname(HERE)
DEFAULT_PORT = 8080


# ---------------------------------------------------------------------------
# push

def _progress_on(a):
    return not a.quiet and sys.stderr.isatty() and ota_push.tqdm is not None


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
