"""fleet.py: pull-based fleet updates through an MQTT broker (`ota.py rollout --broker`, `ota.py fleet`).

The contract (DESIGN.md "Fleet over MQTT", docs/fleet.md):
  lukos/<id>/job    retained, written here: {"seq", "url", "size", "sha256"}
  lukos/<id>/state  retained, written by the board: GET /status JSON + "job";
                    its last will is {"state": "offline"}

A board's outcome for pack seq N, from its last state:
  done      state idle, job == N, result success, seq >= N
  failed    state idle, job == N, any other result (reported after our job
            was published, or for the very job already retained on the broker)
  offline   no state, or {"state": "offline"}, when its job was published
  lost      online when its job was published (or later), offline at the end
  timeout   still busy when the wave's --timeout ran out
  already   done before the rollout (job == N and success), or seq > N
            already (say by a push): no job written
  untouched in a wave after the one that stopped the rollout: no job written

A wave fails when failed + lost + timeout > its budget (--max-failed: N
boards per wave, or P% of the wave's boards); the rollout stops there.
Offline boards do not count: their job stays retained and they take it
when they come back (`ota.py fleet` shows them later).

The MQTT side is paho (Debian python3-paho-mqtt, 1.6 API) in its own
network thread (loop_start), which reconnects with backoff; after every
(re)connect we subscribe again and publish every job of this rollout
again (identical retained payloads: boards ignore a job they already
handled), so a broker restarted without persistence loses nothing that
matters. Retained states are collected completely by a barrier: after
subscribing, we publish a token to a topic of our own and wait until it
comes back (the broker delivers a client's messages in order, retained
ones of a new subscription first).

Locking: FleetLink's maps are written by paho's thread and read by the
main thread under FleetLink.cond.
"""
import json
import math
import os
import re
import sys
import threading
import time
import uuid

STATE_TOPIC = "lukos/+/state"
JOB_TOPIC = "lukos/+/job"
BOARD_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
SERVE_PORT = 8000               # `ota.py serve`'s default port


def _paho():
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        return None
    return mqtt


class FleetLink:
    """One paho connection mirroring the fleet's retained states (and jobs)."""

    def __init__(self, broker, want_jobs=False, name="ota"):
        mqtt = _paho()
        self.mqtt = mqtt
        self.broker = broker
        self.want_jobs = want_jobs
        self.cond = threading.Condition()
        self.states, self.arrival, self.jobs_seen, self.changed = {}, {}, {}, {}
        self.messages = 0           # state messages received
        self.connects = 0
        self.connected = False
        self.jobs = {}              # board id -> payload published by us (re-sent on reconnect)
        self.infos = {}             # board id -> paho MQTTMessageInfo of its last publish
        self.sync_topic = "lukos-sync/%s-%s" % (name, uuid.uuid4().hex[:12])
        self.token = None
        self.synced = threading.Event()
        self.client = mqtt.Client(client_id=os.path.basename(self.sync_topic), clean_session=True)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.25, 4)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self, timeout=10.0):
        host, port = self.broker
        try:
            self.client.connect(host, port, keepalive=30)
        except OSError as e:
            raise ConnectionError("cannot reach the broker %s:%d: %s" % (host, port, e))
        self.client.loop_start()
        if not self.sync(timeout):
            self.stop()
            raise ConnectionError("the broker %s:%d did not answer within %gs" % (host, port, timeout))
        return self

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()

    def sync(self, timeout=10.0):
        """Wait until every retained message of our subscriptions has arrived."""
        self.synced.clear()
        self.token = uuid.uuid4().hex
        self.client.publish(self.sync_topic, self.token, qos=1)
        return self.synced.wait(timeout)

    def forget_jobs(self):
        """Stop receiving lukos/+/job (wanted only for the retained ones, at the start)."""
        self.want_jobs = False
        self.client.unsubscribe(JOB_TOPIC)

    def publish_job(self, board, payload):
        with self.cond:
            self.jobs[board] = payload
        info = self.client.publish("lukos/%s/job" % board, payload, qos=1, retain=True)
        with self.cond:
            self.infos[board] = info

    def flush(self, timeout=10.0):
        """Wait until the broker has acknowledged every job we wrote (QoS 1); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self.cond:
                pending = [b for b, i in self.infos.items() if not i.is_published()]
            if not pending or time.monotonic() >= deadline:
                return not pending
            time.sleep(0.05)

    def snapshot(self):
        with self.cond:
            return dict(self.states), dict(self.arrival), self.messages

    def changes(self):
        """{board: (state, arrival)} of the states that came since the last call."""
        with self.cond:
            out, self.changed = self.changed, {}
            return out

    def wait(self, timeout):
        with self.cond:
            self.cond.wait(timeout)

    # --- paho's thread -----------------------------------------------------------

    def _on_connect(self, client, userdata, flags, rc):
        if rc != 0:
            return
        subs = [(STATE_TOPIC, 1), (self.sync_topic, 1)] + ([(JOB_TOPIC, 1)] if self.want_jobs else [])
        client.subscribe(subs)
        with self.cond:
            self.connected = True
            self.connects += 1
            jobs = list(self.jobs.items())
            self.cond.notify_all()
        for board, payload in jobs:
            info = client.publish("lukos/%s/job" % board, payload, qos=1, retain=True)
            with self.cond:
                self.infos[board] = info
        if self.token:
            client.publish(self.sync_topic, self.token, qos=1)

    def _on_disconnect(self, client, userdata, rc):
        with self.cond:
            self.connected = False
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        parts = msg.topic.split("/")
        if msg.topic == self.sync_topic:
            if msg.payload.decode(errors="replace") == self.token:
                self.synced.set()
            return
        if len(parts) != 3 or parts[0] != "lukos":
            return
        board, kind = parts[1], parts[2]
        with self.cond:
            if kind == "job":
                self.jobs_seen[board] = bytes(msg.payload)
                return
            try:
                st = json.loads(msg.payload)
                if not isinstance(st, dict):
                    raise ValueError
            except ValueError:
                st = {"state": "garbage", "raw": msg.payload[:80].decode(errors="replace")} if msg.payload else None
            if st is None:
                self.states.pop(board, None)    # retained state cleared
            else:
                self.states[board] = st
            self.messages += 1
            self.arrival[board] = self.messages
            self.changed[board] = (self.states.get(board), self.messages)
            self.cond.notify_all()


# --- plans ----------------------------------------------------------------------------

def parse_waves(spec, n):
    """"1,10%,50%,100%" -> cumulative board counts per wave, e.g. [1, 2, 10, 20] for n=20.

    A number is a count of boards, a percentage is of the whole fleet
    (rounded up); each wave takes the boards up to its mark. Empty waves are
    dropped; a last wave to 100% is added when the list stops short."""
    marks = []
    for item in spec.split(","):
        item = item.strip()
        m = re.fullmatch(r"(\d+(?:\.\d+)?)%", item)
        try:
            mark = math.ceil(n * float(m.group(1)) / 100.0 - 1e-9) if m else int(item)
        except ValueError:
            raise ValueError("bad wave %r: a board count or a percentage" % item)
        if mark < 0 or (m and float(m.group(1)) > 100):
            raise ValueError("bad wave %r" % item)
        marks.append(min(mark, n))
    if marks != sorted(marks):
        raise ValueError("waves must grow: %s" % spec)
    if not marks or marks[-1] < n:
        marks.append(n)
    out = []
    for mark in marks:
        if mark > (out[-1] if out else 0):
            out.append(mark)
    return out


def parse_budget(spec, wave_size):
    """--max-failed: "N" boards per wave or "P%" of the wave (rounded down)."""
    spec = str(spec).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", spec)
    if m:
        return int(math.floor(wave_size * float(m.group(1)) / 100.0 + 1e-9))
    if not spec.isdigit():
        raise ValueError("bad --max-failed %r: N or P%%" % spec)
    return int(spec)


def read_board_ids(boards, boards_file):
    ids = []
    if boards:
        ids += [b.strip() for b in boards.split(",") if b.strip()]
    if boards_file:
        for line in open(boards_file):
            line = line.split("#", 1)[0].strip()
            ids += [b for b in re.split(r"[\s,]+", line) if b]
    seen, out = set(), []
    for b in ids:
        if not BOARD_ID.match(b):
            raise ValueError("bad board id %r: letters, digits and _ . : - only" % b)
        if b not in seen:
            seen.add(b)
            out.append(b)
    if not out:
        raise ValueError("no boards: give --boards or --boards-file")
    return out


def job_payload(info, url):
    return json.dumps({"seq": info["seq"], "url": url, "size": info["size"], "sha256": info["sha256"]})


def is_offline(st):
    return st is None or st.get("state") == "offline"


def is_done(st, seq):
    return (st is not None and st.get("job") == seq and st.get("state") == "idle"
            and st.get("result") == "success" and isinstance(st.get("seq"), int) and st["seq"] >= seq)


# --- one wave -----------------------------------------------------------------------

class Wave:
    """One wave's boards and their outcomes, updated from the states that changed."""
    KEYS = ("done", "failed", "running", "offline", "lost", "timeout", "already")

    def __init__(self, number, boards, budget):
        self.number, self.boards, self.budget = number, boards, budget
        self.members = set(boards)
        self.outcome = {}           # board -> outcome (module comment); "lost?" until the end
        self.published_at = {}      # board -> arrival counter when its job went out
        self.was_online = set()
        self.start = self.end = None
        self.passed = None

    def begin(self, link, seq, payload, stale_ok):
        """Write the jobs of this wave (not for boards already done)."""
        self.start = time.monotonic()
        states, arrival, counter = link.snapshot()
        link.changes()              # the snapshot covers them
        for b in self.boards:
            st = states.get(b)
            if is_done(st, seq) or (not is_offline(st) and isinstance(st.get("seq"), int) and st["seq"] > seq):
                self.outcome[b] = "already"
                continue
            self.published_at[b] = -1 if stale_ok.get(b) == payload.encode() else counter
            if not is_offline(st):
                self.was_online.add(b)
            link.publish_job(b, payload)
            self.outcome[b] = self.judge(b, st, arrival.get(b, 0), seq)

    def update(self, changed, seq):
        """changed: {board: (state, arrival)} since the last call (FleetLink.changes)."""
        for b, (st, arr) in changed.items():
            if b in self.members and self.outcome.get(b) not in (None, "already"):
                self.outcome[b] = self.judge(b, st, arr, seq)

    def judge(self, b, st, arr, seq):
        if is_offline(st):
            return "lost?" if b in self.was_online else "offline"   # lost? may come back
        self.was_online.add(b)
        if st.get("job") != seq or st.get("state") != "idle":
            return "running"
        if is_done(st, seq):
            return "done"
        # a failure: ours only if it came after our job (or for the very same job)
        return "failed" if arr > self.published_at[b] else "running"

    def counts(self, final=False):
        c = dict.fromkeys(self.KEYS, 0)
        for out in self.outcome.values():
            if out == "lost?":
                out = "lost" if final else "running"
            elif final and out == "running":
                out = "timeout"
            c[out] += 1
        return c

    def finish(self):
        self.end = time.monotonic()
        for b, out in self.outcome.items():
            if out in ("lost?", "running"):
                self.outcome[b] = "lost" if out == "lost?" else "timeout"
        c = self.counts()
        self.passed = self.failures(c) <= self.budget
        return c

    def failures(self, counts):
        return counts["failed"] + counts["lost"] + counts["timeout"]


# --- progress display -------------------------------------------------------------------

class Progress:
    """A table redrawn in place on a terminal; a line per change (at most 1/s) otherwise."""

    def __init__(self, out, quiet, o, color):
        self.out, self.quiet, self.o, self.color = out, quiet, o, color
        self.tty = out.isatty() and not quiet
        self.lines = 0
        self.last = (None, 0.0)

    def rows(self, waves, current, counts_of):
        rows = []
        for w in waves:
            c = counts_of.get(w.number)
            if c is None:
                rows.append([w.number, len(w.boards), "", "", "", "", w.budget, "waiting"])
                continue
            took = (w.end or time.monotonic()) - w.start
            status = ("passed" if w.passed else "STOPPED") if w.passed is not None else "running"
            rows.append([w.number, len(w.boards), c["done"] + c["already"], w.failures(c),
                         c["running"], c["offline"], w.budget, "%s %.1fs" % (status, took)])
        return rows

    def show(self, waves, current, counts_of, final=False):
        if self.quiet:
            return
        if self.tty:
            text = self.o.table(["wave", "boards", "done", "failed", "in progress", "offline", "budget",
                                 "status"], self.rows(waves, current, counts_of), color=self.color)
            if self.lines:
                self.out.write("\x1b[%dF\x1b[J" % self.lines)
            self.out.write(text + "\n")
            self.out.flush()
            self.lines = text.count("\n") + 1
            return
        c = counts_of.get(current.number)
        line = "wave %d/%d: %d boards, %d done, %d failed, %d in progress, %d offline" % (
            current.number, len(waves), len(current.boards), c["done"] + c["already"],
            current.failures(c), c["running"], c["offline"])
        now = time.monotonic()
        if final or (line != self.last[0] and now - self.last[1] >= 1.0):
            print(line + (" (%.1fs)" % (now - current.start)), file=self.out, flush=True)
            self.last = (line, now)


# --- commands -----------------------------------------------------------------------------

def _link(o, a, want_jobs, name):
    if _paho() is None:
        raise o.Failure("python3-paho-mqtt is not installed (Debian: apt-get install python3-paho-mqtt)")
    try:
        return FleetLink(a.broker, want_jobs=want_jobs, name=name).start(timeout=a.connect_timeout)
    except ConnectionError as e:
        raise o.Failure(str(e))


def cmd_rollout(a, o):
    """`ota.py rollout --broker`: o is the ota module (tables, errors, pack_info)."""
    try:
        ids = read_board_ids(a.boards, a.boards_file)
        marks = parse_waves(a.waves, len(ids))
        parse_budget(a.max_failed, 1)
    except (ValueError, OSError) as e:
        raise o.UsageError(str(e))
    info = o.pack_info(a.pack)
    if info["seq"] is None:
        raise o.Failure("cannot read the pack's seq (python3-libfdt missing)")
    base = a.url_base if a.url_base.endswith("/") else a.url_base + "/"
    payload = job_payload(info, base + os.path.basename(a.pack))
    waves, prev = [], 0
    for n, mark in enumerate(marks, 1):
        size = mark - prev
        waves.append(Wave(n, ids[prev:mark], parse_budget(a.max_failed, size)))
        prev = mark
    color = o.use_color(sys.stdout, a.color) and not a.json
    if not a.json:
        print("rollout of %s over %s: %d boards in %d waves (%s), job %s" % (
            o.pack_summary(info), "%s:%d" % a.broker, len(ids), len(waves),
            " + ".join(str(len(w.boards)) for w in waves), payload), flush=True)
    t0 = time.monotonic()
    link = _link(o, a, True, "rollout")
    try:
        stale_ok = dict(link.jobs_seen)
        link.forget_jobs()          # our own jobs need not come back to us
        progress = Progress(sys.stdout, a.json or a.quiet, o, color)
        counts_of, stopped = {}, None
        for w in waves:
            w.begin(link, info["seq"], payload, stale_ok)
            deadline = w.start + a.timeout
            while True:
                scanned = time.monotonic()
                w.update(link.changes(), info["seq"])
                c = counts_of[w.number] = w.counts()
                progress.show(waves, w, counts_of)
                if not c["running"] or time.monotonic() >= deadline:
                    break
                link.wait(min(0.25, max(0.0, deadline - time.monotonic())))
                # at most ~10 updates a second, however fast states come
                time.sleep(max(0.0, min(0.1 - (time.monotonic() - scanned), deadline - time.monotonic())))
            w.update(link.changes(), info["seq"])
            counts_of[w.number] = w.finish()
            progress.show(waves, w, counts_of, final=True)
            if not w.passed:
                stopped = w
                break
        states, _, messages = link.snapshot()
        connects = link.connects
        if not link.flush(a.connect_timeout):
            print("ota.py rollout: warning: the broker did not acknowledge every job", file=sys.stderr)
    finally:
        link.stop()
    return report(a, o, info, payload, waves, stopped, states, counts_of, messages, connects,
                  time.monotonic() - t0, color)


def report(a, o, info, payload, waves, stopped, states, counts_of, messages, connects, took, color):
    boards = {}
    for w in waves:
        for b in w.boards:
            st = states.get(b) or {}
            boards[b] = {"wave": w.number, "outcome": w.outcome.get(b, "untouched"),
                         "state": st.get("state"), "seq": st.get("seq"), "job": st.get("job"),
                         "result": st.get("result"), "reason": st.get("reason")}
    totals = {}
    for b in boards.values():
        totals[b["outcome"]] = totals.get(b["outcome"], 0) + 1
    summary = {"ok": stopped is None, "pack": {k: info[k] for k in ("path", "seq", "size", "sha256")},
               "job": json.loads(payload), "broker": "%s:%d" % a.broker,
               "stopped_at_wave": stopped.number if stopped else None, "seconds": round(took, 3),
               "totals": totals, "state_messages": messages, "broker_connects": connects,
               "waves": [{"wave": w.number, "boards": len(w.boards), "budget": w.budget,
                          "passed": w.passed, "counts": counts_of.get(w.number),
                          "seconds": round(w.end - w.start, 3) if w.end else None} for w in waves],
               "boards": boards}
    if a.json:
        print(json.dumps(summary, indent=1))
    else:
        print_outcome(o, summary, color)
    return 0 if stopped is None else 1


def print_outcome(o, s, color):
    bad = [(b, r) for b, r in s["boards"].items() if r["outcome"] in ("failed", "lost", "timeout")]
    for b, r in bad[:20]:
        print("  %s %s: %s (%s) %s" % (o.paint(r["outcome"], "red", color), b, r["result"],
                                       r["reason"], "" if r["outcome"] == "failed" else "state=%s" % r["state"]))
    if len(bad) > 20:
        print("  ... and %d more" % (len(bad) - 20))
    t = s["totals"]
    offline = [b for b, r in s["boards"].items() if r["outcome"] == "offline"]
    if offline:
        print("  offline (job left on the broker): %s%s" % (", ".join(offline[:20]),
                                                          " ..." if len(offline) > 20 else ""))
    parts = ", ".join("%d %s" % (t[k], k) for k in ("done", "already", "failed", "lost", "timeout",
                                                    "offline", "untouched") if t.get(k))
    if s["ok"]:
        print(o.paint("rollout complete in %.1fs: %s" % (s["seconds"], parts), "green", color))
        return
    w = s["waves"][s["stopped_at_wave"] - 1]
    c = w["counts"]
    print(o.paint("rollout stopped at wave %d of %d (%d failed, budget %d) after %.1fs: %s" % (
        w["wave"], len(s["waves"]), c["failed"] + c["lost"] + c["timeout"], w["budget"],
        s["seconds"], parts), "red", color))


def cmd_fleet(a, o):
    """`ota.py fleet`: every board's last state (retained on the broker)."""
    link = _link(o, a, False, "fleet")
    try:
        if a.wait:
            time.sleep(a.wait)
        states, _, _ = link.snapshot()
    finally:
        link.stop()
    if a.json:
        print(json.dumps({"broker": "%s:%d" % a.broker, "count": len(states), "boards": states},
                         indent=1, sort_keys=True))
        return 0
    color = o.use_color(sys.stdout, a.color)
    rows, colours = [], []
    for b in sorted(states, key=natural):
        st = states[b]
        off = is_offline(st)
        rows.append([b, st.get("state"), None if off else st.get("seq"), st.get("job"),
                     st.get("result"), st.get("reason"), o.versions_str(st.get("classes"))])
        colours.append("dim" if off else "red" if st.get("result") not in ("success", "initial")
                       else None)
    if not rows:
        print("no boards on %s:%d (nothing retained under lukos/+/state)" % a.broker)
        return 0
    print(o.table(["board", "state", "seq", "job", "result", "reason", "versions"], rows, colours, color))
    n_off = sum(1 for b in states if is_offline(states[b]))
    print("%d boards, %d online, %d offline" % (len(rows), len(rows) - n_off, n_off))
    return 0


def natural(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def cmd_serve(a, o):
    """`ota.py serve`: packserver.py in the foreground."""
    import packserver
    if not os.path.isdir(a.dir):
        raise o.UsageError("no such folder: %s" % a.dir)
    log = open(a.log, "a") if a.log else sys.stderr
    try:
        return packserver.serve(a.dir, a.bind, a.port, log=log, drop_after=a.drop_after,
                                max_conns=a.max_conns)
    except OSError as e:
        raise o.Failure("cannot serve on %s:%d: %s" % (a.bind, a.port, e))


def add_commands(sub, o):
    """The `fleet` and `serve` subcommands of ota.py (o: the ota module)."""
    p = sub.add_parser("fleet", help="every board's last state on an MQTT broker",
                       description="Subscribes to lukos/+/state on the broker, collects every retained "
                       "state (board-written: GET /status plus \"job\"; {\"state\": \"offline\"} when "
                       "its connection dropped) and prints them.")
    p.add_argument("--broker", type=o.host_port, required=True, metavar="HOST:PORT")
    p.add_argument("--wait", type=float, default=0.0, help="also collect live states this many seconds")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to reach the broker")
    o.add_out_args(p, progress=False)
    p.set_defaults(func=lambda a: cmd_fleet(a, o))

    p = sub.add_parser("serve", help="serve a folder of packs over HTTP (Range) for boards to fetch",
                       description="HTTP/1.1 GET and HEAD of the files in DIR, single byte ranges "
                       "(206/416), keep-alive; one log line per request on stderr (or --log). "
                       "Boards reach it as --url-base of `rollout --broker`.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--port", type=int, default=SERVE_PORT, help="port (default %d; 0: any)" % SERVE_PORT)
    p.add_argument("--bind", default="127.0.0.1", help="address (default 127.0.0.1)")
    p.add_argument("--log", metavar="FILE", help="append the request log to FILE")
    p.add_argument("--max-conns", type=int, default=256, help="connections served at once (default 256)")
    p.add_argument("--drop-after", type=int, metavar="BYTES",
                   help="for tests: cut each file's first GET after BYTES bytes")
    p.set_defaults(func=lambda a: cmd_serve(a, o))
