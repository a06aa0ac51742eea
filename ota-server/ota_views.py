"""ota_views.py: how ota.py shows things to people.

ANSI colours (only on a terminal, NO_COLOR respected), plain text tables,
push results as table rows, and a board's GET /status answer: LwM2M state
and result, journal room, recent events coloured like `ota.py watch`.
"""
import json
import os

import uartlog
from ota_common import addr_str, detail_of

# LwM2M firmware update object (object 5): resource 3 State, resource 5 Update Result.
LWM2M_STATE = {"idle": 0, "downloading": 1, "downloaded": 2, "updating": 3}
LWM2M_RESULT = {"initial": 0, "success": 1, "not-enough-flash": 2, "not-enough-storage": 2,
                "out-of-memory": 3,
                "connection-lost": 4, "integrity-failure": 5, "unsupported-package": 6,
                "invalid-uri": 7, "update-failed": 8, "unsupported-protocol": 9}


# ---------------------------------------------------------------------------
# tables and colours

def use_color(stream, mode="auto"):
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def paint(text, colour, on):
    return uartlog.ANSI[colour] + text + uartlog.ANSI["reset"] if on and colour else text


def table(headers, rows, colours=None, color=False):
    """Plain text table; colours: per row, a colour name for the whole row or None."""
    cells = [[str(c) for c in headers]] + [[("-" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, r in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
        if n == 0:
            line = paint(line, "bold", color)
        elif colours and colours[n - 1]:
            line = paint(line, colours[n - 1], color)
        out.append(line)
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def versions_str(classes):
    if not isinstance(classes, dict) or not classes:
        return None
    return " ".join("%s=%s" % (k, classes[k]) for k in sorted(classes))


def result_rows(results):
    rows, colours = [], []
    for r in results:
        rows.append([r["board"], r["http_status"], r["result"],
                     r["seq"], versions_str(r["classes"]), r["attempts"], r["detail"]])
        colours.append("green" if r["ok"] else "red")
    return ["BOARD", "HTTP", "RESULT", "SEQ", "VERSIONS", "TRIES", "DETAIL"], rows, colours


# ---------------------------------------------------------------------------
# status

def lwm2m(value, table_):
    if value in table_:
        return "%s (LwM2M %d)" % (value, table_[value])
    return str(value) if value is not None else "-"


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def format_journal(body, color=False):
    """One line on the board's journal: persistent or not, entries, used/free."""
    if "persistent" not in body:
        return "unknown (older kernel)"
    if not body.get("persistent"):
        return paint("no (volatile: updates last until reboot)", "yellow", color)
    j = body.get("journal") or {}
    text = "yes: %s entries (%s committed), used %s, free %s, largest pack %s" % (
        j.get("entries", "?"), j.get("committed", "?"), human_bytes(int(j.get("used", 0))),
        human_bytes(int(j.get("free", 0))), human_bytes(int(j.get("max_pack", 0))))
    if body.get("safe_mode"):
        text += paint("  SAFE MODE (journaled updates set aside)", "red", color)
    return text


def format_status(board, body, color=False):
    out = []
    known = ("abi", "board", "classes", "seq", "state", "result", "events", "reason", "detail",
             "persistent", "safe_mode", "journal")
    state, result = body.get("state"), body.get("result")
    rc = None if result is None else ("green" if result == "success" else
                                      None if result == "initial" else "red")
    out.append(paint("%s" % addr_str(board), "bold", color) +
               ("  (%s)" % body["board"] if body.get("board") else ""))
    out.append("  kernel ABI   %s" % body.get("abi", "-"))
    out.append("  sequence     %s" % body.get("seq", "-"))
    out.append("  state        %s" % lwm2m(state, LWM2M_STATE))
    why = detail_of(body)
    out.append("  result       %s" % paint(lwm2m(result, LWM2M_RESULT), rc, color) +
               ("  (%s)" % why if why else ""))
    for k in sorted(body):
        if k == "result_code" and LWM2M_RESULT.get(result) == body[k]:
            continue  # already shown with the result
        if k not in known:
            out.append("  %-12s %s" % (k, json.dumps(body[k]) if not isinstance(body[k], str) else body[k]))
    out.append("  persistent   %s" % format_journal(body, color))
    classes = body.get("classes")
    if isinstance(classes, dict) and classes:
        out.append("  classes")
        for name in sorted(classes):
            out.append("    %-14s v%s" % (name, classes[name]))
    events = body.get("events")
    if isinstance(events, list) and events:
        out.append("  recent events")
        for e in events[-20:]:
            text = e if isinstance(e, str) else json.dumps(e)
            ev = uartlog.parse_line(text)
            kind = uartlog.classify(ev) if ev.is_log else uartlog.classify_text(text)
            out.append("    " + paint(text, {"good": "green", "bad": "red", "info": "cyan"}.get(kind), color))
    return "\n".join(out)
