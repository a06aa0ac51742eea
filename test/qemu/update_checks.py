"""Live-update runs for the QEMU tests: boot build/qemu-virt/kernel-demo.elf
with a list of packs (`updates=a,b,c`, src/demo.c) and cut its log into
one `Step` per pack.

The demo runner logs, per pack:
    demo: applying pack=<name> bytes=<n>
    ... update: lines (module loaded, applied, rejected, rolled-back, ...)
    demo: result pack=<name> result=<ok|rolled-back|replay|gap|...>
    demo: versions uart=.. counter=.. sched=.. policy=.. counter_iface=.. seq=..
          modules=.. free_pages=..
    demo: counter[0] stats value=.. calls=.. version=..   (counter iface >= 2)
then, after the last pack and a defer_flush(), one more `versions` line and
`demo: done packs=<n>`; with `halt`, `demo: halt` about 1.5 s later and the
kernel ends the run (QEMU exits 0).
"""
import os
import re

from kernel_qemu import REPO_ROOT

# KERNEL_DEMO_ELF: another demo image (e.g. one built with extra packs).
DEMO_ELF = os.environ.get("KERNEL_DEMO_ELF") or os.path.join(REPO_ROOT, "build", "qemu-virt",
                                                              "kernel-demo.elf")
PACKS_TXT = os.path.join(REPO_ROOT, "update", "demos", "packs.txt")
BOOTARGS_MAX = 1023         # src/main.c keeps the first 1023 characters of bootargs
STATE_KEYS = ("uart", "counter", "sched", "policy", "counter_iface", "seq", "modules")


def read_pack_list(path=PACKS_TXT):
    """{name: entry} of a pack list (the format ota-server/packtool.py reads):
    name seq group expect flags step..."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            w = line.split()
            assert len(w) >= 6, f"{path}:{n}: want name seq group expect flags step..."
            out[w[0]] = {"name": w[0], "seq": int(w[1]), "group": w[2], "expect": w[3],
                         "flags": [] if w[4] == "-" else w[4].split(","), "steps": w[5:]}
    return out


def expected_result(entry):
    """What `demo: result` says for a pack of the list."""
    return "ok" if entry["expect"] == "applied" else entry["expect"]


def packs_missing_from_image(names, elf=DEMO_ELF):
    """The names (of a pack list) missing from the demo image: packtool's
    packs.S keeps each name as a NUL-terminated string next to the packs."""
    with open(elf, "rb") as f:
        blob = f.read()
    return [n for n in names if b"\0" + n.encode() + b"\0" not in blob]


def require_demo_elf():
    assert os.path.exists(DEMO_ELF), (
        f"{DEMO_ELF} is missing: build it with `make build/qemu-virt/kernel-demo.elf`")


def update_args(packs, probation_ms=300, halt=True, extra=""):
    """The kernel arguments of a demo-image run applying `packs` in order."""
    args = f"updates={','.join(packs)}"
    if probation_ms is not None:
        args += f" probation_ms={probation_ms}"
    if halt:
        args += " halt"
    if extra:
        args += " " + extra
    return args


def boot_updates(factory, packs, *, probation_ms=300, halt=True, extra="", hard_timeout=90,
                 name=None):
    """Starts a demo-image run applying `packs` in order; returns the Qemu."""
    require_demo_elf()
    args = update_args(packs, probation_ms, halt, extra)
    assert len(args) <= BOOTARGS_MAX, (
        f"kernel arguments of {len(args)} characters: the kernel keeps only {BOOTARGS_MAX}")
    kw = {"name": name} if name else {}
    return factory("qemu-virt", 4, args=args, kernel=DEMO_ELF, hard_timeout=hard_timeout, **kw)


MEM_RE = re.compile(r"^  pages total=(\d+) free=(\d+); kmalloc live=(\d+) bytes=(\d+) "
                    r"allocs=(\d+) frees=(\d+)$")


def ask_mem(q, timeout=10):
    """Sends the shell's `mem`; returns its answer as a dict."""
    q.send("mem\n")
    m = q.wait_for(MEM_RE, timeout=timeout).match
    keys = ("total", "free", "live", "bytes", "allocs", "frees")
    return dict(zip(keys, (int(x) for x in m.groups())))


def state(e):
    """The comparable part of a `demo: versions` line."""
    return {k: e.kv.get(k) for k in STATE_KEYS}


class Step:
    """One pack of the plan: its lines from `applying` to the next pack's."""

    def __init__(self, name, applying, lines):
        self.name = name
        self.applying = applying
        self.lines = lines                       # every parsed line of the step
        self.result = self.one("demo", "result")
        vs = self.all("demo", "versions")
        self.versions = vs[0] if vs else None    # right after the result
        st = self.all("demo", r"counter\[0\] stats")
        self.stats = st[0] if st else None

    @property
    def outcome(self):
        return self.result.kv.get("result") if self.result else None

    def all(self, subsystem, event):
        return [e for e in self.lines if e.subsystem == subsystem
                and (e.event == event or re.fullmatch(event, e.event))]

    def one(self, subsystem, event):
        found = self.all(subsystem, event)
        return found[0] if found else None

    def update(self, event):
        return self.all("update", event)

    def before_result(self, entries):
        return [e for e in entries if self.result is None or e.index < self.result.index]


class UpdateRun:
    """The parsed log of a finished demo-image run."""

    def __init__(self, q):
        self.qemu = q
        log = q.log()
        self.log = log
        demo = [e for e in log if e.subsystem == "demo"]
        applying = [e for e in demo if e.event == "applying"]
        done = [e for e in demo if e.event == "done"]
        self.done = done[0] if done else None
        versions = [e for e in demo if e.event == "versions"]
        first_apply = applying[0].index if applying else len(q.lines)
        self.initial = next((v for v in versions if v.index < first_apply), None)
        self.final = None
        if self.done:
            before_done = [v for v in versions if v.index < self.done.index]
            self.final = before_done[-1] if before_done else None
        self.steps = []
        for i, a in enumerate(applying):
            end = applying[i + 1].index if i + 1 < len(applying) else (
                self.done.index if self.done else len(q.lines))
            lines = [e for e in log if a.index <= e.index < end]
            self.steps.append(Step(a.kv.get("pack"), a, lines))
        self.by_name = {s.name: s for s in self.steps}
        self.heartbeats = [e for e in log if e.subsystem == "workload" and e.event == "heartbeat"]
        ready = [e for e in log if e.subsystem == "boot" and e.event == "ready"]
        self.nharts = int(ready[0].kv["harts"]) if ready else None
        started = [e for e in log if e.subsystem == "workload" and e.event == "started"]
        self.counters = int(started[0].kv["counters"]) if started else None

    def step(self, name):
        assert name in self.by_name, (
            f"pack {name} was never applied; applied: {[s.name for s in self.steps]}\n"
            f"{self.qemu.tail()}")
        return self.by_name[name]

    def lines(self, subsystem, event=None, since=0, until=None):
        return [e for e in self.log if e.subsystem == subsystem and e.index >= since
                and (until is None or e.index < until)
                and (event is None or e.event == event or re.fullmatch(event, e.event))]

    def modules_loaded_minus_freed(self, until):
        return (len(self.lines("update", "module loaded", until=until))
                - len(self.lines("update", "module freed", until=until)))


# --- checks ------------------------------------------------------------------

# Lines that mean a run went wrong whatever it tested (a trap in a module under
# probation is expected where a faulty pack is applied; it must be followed by
# a rollback, never by a stopped thread).
TROUBLE = re.compile(r"\] h\d+ (panic: |trap: thread stopped|update: rollback of \S+ incomplete"
                     r"|update: eager conversion of \S+ incomplete|workload: (call failed|not started)"
                     r"|demo: no pack named)")


def trouble(q):
    return [h.line for h in q.find(TROUBLE)]


class RollbackCrash(AssertionError):
    """A kernel bug: after (or during) the rollback of the faulty counter
    update (eager, 1024 instances), a counter instance is used after its
    state or its version's dispatch table was freed: every worker dies on
    the same instance (load fault on a NULL method table, jump to NULL or
    into heap data), the update monitor traps in stale() (convert.c) and the
    kernel panics `sched_switch: depth=2`, or the run hangs."""


def check_no_crash(run):
    """Raises RollbackCrash if the run shows that bug: a thread stopped, a
    panic, or a lazy sweep finding instances left over right after a
    rollback."""
    q = run.qemu
    bad = [h.line for h in q.find(r"\] h\d+ (trap: thread stopped|panic: )")]
    swept = [e.raw for e in q.log("update", "swept") if int(e.kv.get("pending", "0"))]
    if bad or swept:
        done = len([s for s in run.steps if s.outcome == "rolled-back"])
        raise RollbackCrash(
            f"kernel bug (use after free after a rollback), {done} rollback(s) done:\n"
            + "\n".join((swept + bad)[:10]) + f"\n{q.tail(40)}")


def check_finished(run):
    """The plan ran to `demo: done` and `demo: halt`, and QEMU exited 0 by
    itself, with nothing of TROUBLE on the way."""
    q = run.qemu
    rc = q.wait_exit()
    bad = trouble(q)
    assert not bad, "the run went wrong:\n" + "\n".join(bad) + "\n" + q.tail()
    assert run.done is not None, f"no `demo: done` line\n{q.tail()}"
    assert q.log("demo", "halt"), f"no `demo: halt` line\n{q.tail()}"
    assert rc == 0 and not q.killed, f"QEMU {q.status()}\n{q.tail()}"


def check_heartbeats(run, since=0, until=None, min_count=1):
    """Heartbeats in [since, until): seq numbers consecutive, `made` growing,
    one figure per hart, and the totals matching: match=yes with made ==
    counted. A heartbeat whose workers did not all park within 2 s (a vCPU
    stalled on a loaded host) says match=unknown and parked=<n>/<all>: it
    proves nothing, but hides nothing either, since the totals are
    cumulative: the last heartbeat must match, and most of them."""
    hbs = [e for e in run.heartbeats if e.index >= since and (until is None or e.index < until)]
    assert len(hbs) >= min_count, (
        f"{len(hbs)} heartbeats between lines {since} and {until}, wanted {min_count}\n"
        f"{run.qemu.tail()}")
    unknown = []
    for e in hbs:
        calls, ticks = e.ints("calls_by_hart"), e.ints("ticks_by_hart")
        assert len(calls) == run.nharts and len(ticks) == run.nharts, e.raw
        assert sum(calls) == e.int("made"), f"calls_by_hart do not add up to made: {e.raw}"
        if e.kv.get("match") == "unknown":
            parked, workers = (int(x) for x in e.kv["parked"].split("/"))
            assert parked < workers, f"match=unknown with every worker parked: {e.raw}"
            unknown.append(e)
            continue
        assert e.kv.get("match") == "yes", f"heartbeat reports a mismatch: {e.raw}"
        assert e.int("made") == e.int("counted"), f"made != counted: {e.raw}"
    for a, b in zip(hbs, hbs[1:]):
        assert b.int("seq") == a.int("seq") + 1, f"heartbeat seq skipped:\n  {a.raw}\n  {b.raw}"
        assert b.int("made") > a.int("made"), f"no calls made between:\n  {a.raw}\n  {b.raw}"
    if hbs:
        assert hbs[-1].kv.get("match") == "yes", f"the last heartbeat did not match: {hbs[-1].raw}"
        assert 2 * len(unknown) < len(hbs), (
            f"{len(unknown)} of {len(hbs)} heartbeats could not compare totals:\n"
            + "\n".join(e.raw for e in unknown))
    return hbs
