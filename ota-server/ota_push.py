"""ota_push.py: the HTTP client side of `ota.py push` and push rollouts.

PUT /update to a board's agent (with a progress bar and retries on refused
or dropped connections), GET /status, waiting until the board is idle again
and checking it runs the pack's versions. Results are plain dicts (push_one
never raises); ota_views.py turns them into tables.
"""
import concurrent.futures
import http.client
import json
import socket
import sys
import time

from ota_common import Failure, addr_str, detail_of, expected_versions

try:
    from tqdm import tqdm
except ImportError:  # Debian: python3-tqdm; without it, no progress bars
    tqdm = None


# ---------------------------------------------------------------------------
# HTTP to the agent

RETRYABLE = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
             http.client.RemoteDisconnected, http.client.BadStatusLine, http.client.IncompleteRead)


class Dropped(Exception):
    """The connection failed in a way a retry may fix."""


def _decode_body(raw):
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"detail": text.strip()[:300]}, text
    return (body if isinstance(body, dict) else {"value": body}), text


def http_get(board, path, timeout):
    conn = http.client.HTTPConnection(board[0], board[1], timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close", "Accept": "application/json",
                                           "User-Agent": "ota.py/1"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    body, _ = _decode_body(raw)
    return resp.status, body


def get_status(board, timeout=10, retries=2, backoff=0.5):
    """GET /status -> (http status, json) with retries on refused/dropped connections."""
    for attempt in range(retries + 1):
        try:
            return http_get(board, "/status", timeout)
        except RETRYABLE + (socket.timeout, TimeoutError, OSError) as e:
            if isinstance(e, socket.gaierror) or attempt == retries:
                raise
            time.sleep(backoff * (2 ** attempt))


def _put_once(board, data, timeout, bar):
    conn = http.client.HTTPConnection(board[0], board[1], timeout=timeout)
    sent_all = False
    try:
        try:
            conn.putrequest("PUT", "/update", skip_accept_encoding=True)
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(len(data)))
            conn.putheader("Accept", "application/json")
            conn.putheader("Connection", "close")
            conn.putheader("User-Agent", "ota.py/1")
            conn.endheaders()
            chunk = 4096
            view = memoryview(data)
            for off in range(0, len(data), chunk):
                conn.send(view[off:off + chunk])
                if bar is not None:
                    bar.update(min(chunk, len(data) - off))
            sent_all = True
        except (BrokenPipeError, ConnectionResetError) as e:
            # the board may have answered early (409 busy, 413 too large) and
            # closed: read what it said before calling it a dropped connection
            try:
                resp = conn.getresponse()
                raw = resp.read()
                return resp.status, raw
            except Exception:
                raise Dropped("connection dropped while sending (%s)" % e.__class__.__name__)
        try:
            resp = conn.getresponse()
            raw = resp.read()
        except RETRYABLE as e:
            raise Dropped("connection dropped before an answer (%s)" % e.__class__.__name__)
        except (socket.timeout, TimeoutError):
            if sent_all:
                raise Failure("no answer within %ss after the pack was sent (the board may still "
                              "apply it: see `ota.py status`)" % timeout)
            raise
        return resp.status, raw
    except ConnectionRefusedError:
        raise Dropped("connection refused")
    except (socket.timeout, TimeoutError):
        raise Dropped("timed out")
    except socket.gaierror as e:
        raise Failure("cannot resolve %s: %s" % (board[0], e.strerror))
    except OSError as e:
        if isinstance(e, Failure):
            raise
        raise Dropped(e.strerror or str(e))
    finally:
        conn.close()


class PushOptions:
    def __init__(self, retries=3, timeout=60.0, backoff=0.5, wait=False, wait_timeout=120.0,
                 poll=0.5, progress=False, bar_file=None):
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll = poll
        self.progress = progress
        self.bar_file = bar_file


def push_one(board, data, opts, position=0, info=None):
    """Pushes a pack to one board; returns a result dict (never raises)."""
    res = {"board": addr_str(board), "http_status": None, "result": None, "detail": None,
           "seq": None, "classes": None, "attempts": 0, "ok": False, "body": None, "state": None}
    bar = None
    if opts.progress and tqdm is not None:
        bar = tqdm(total=len(data), unit="B", unit_scale=True, unit_divisor=1024,
                   desc=res["board"], position=position, leave=True, file=opts.bar_file or sys.stderr,
                   dynamic_ncols=True)
    try:
        for attempt in range(opts.retries + 1):
            res["attempts"] = attempt + 1
            if bar is not None:
                bar.reset(total=len(data))
            try:
                status, raw = _put_once(board, data, opts.timeout, bar)
                break
            except Dropped as e:
                res["detail"] = str(e)
                if attempt == opts.retries:
                    res["result"] = "unreachable" if "refused" in str(e) else "connection-lost"
                    res["detail"] = "%s (after %d attempts)" % (e, attempt + 1)
                    return res
                delay = opts.backoff * (2 ** attempt)
                if bar is not None:
                    bar.set_postfix_str("%s; retry in %.1fs" % (e, delay))
                time.sleep(delay)
            except Failure as e:
                res["result"] = "error"
                res["detail"] = str(e)
                return res
        body, _ = _decode_body(raw)
        res["http_status"] = status
        res["body"] = body
        res["result"] = body.get("result") or ("success" if 200 <= status < 300 else "http-%d" % status)
        res["detail"] = detail_of(body) or (None if 200 <= status < 300 else http.client.responses.get(status))
        res["seq"] = body.get("seq")
        res["classes"] = body.get("classes") if isinstance(body.get("classes"), dict) else None
        res["ok"] = 200 <= status < 300 and res["result"] == "success"
        if not res["ok"] and res["attempts"] > 1 and body.get("reason") in ("replay", "duplicate"):
            applied_earlier(board, res, opts, info)
        if bar is not None:
            bar.set_postfix_str("%d %s" % (status, res["result"]))
    finally:
        if bar is not None:
            bar.close()
    if opts.wait and res["http_status"] is not None and res["http_status"] != 409:
        wait_idle(board, res, opts, info)
    elif res["classes"] is None and res["http_status"] is not None:
        try:  # best effort: the versions the board runs now
            st, body = get_status(board, timeout=min(opts.timeout, 5), retries=0)
            if st == 200 and isinstance(body.get("classes"), dict):
                res["classes"] = body["classes"]
                res["state"] = body.get("state")
        except Exception:
            pass
    return res


def applied_earlier(board, res, opts, info):
    """A retry was refused as a replay: if the board already runs this pack's
    sequence number, an earlier attempt applied it and only its answer was
    lost (a dropped connection after the upload). That is a success."""
    seq = (info or {}).get("seq")
    if seq is None:
        return
    try:
        st, body = get_status(board, timeout=min(opts.timeout, 10), retries=1)
    except Exception:
        return
    if st == 200 and isinstance(body.get("seq"), int) and body["seq"] >= seq:
        res.update(ok=True, result="success", seq=body["seq"],
                   detail="applied by an earlier attempt whose answer was lost")
        if isinstance(body.get("classes"), dict):
            res["classes"] = body["classes"]


def wait_idle(board, res, opts, info=None):
    """Polls GET /status until the board is idle; its result becomes the board's result."""
    deadline = time.monotonic() + opts.wait_timeout
    last = None
    while True:
        try:
            st, body = get_status(board, timeout=min(opts.timeout, 10), retries=1, backoff=opts.poll)
            if st == 200:
                last = body
                if body.get("state", "idle") == "idle":
                    break
        except Exception as e:
            res["detail"] = "status: %s" % (e.strerror if isinstance(e, OSError) and e.strerror else e)
        if time.monotonic() > deadline:
            res["ok"] = False
            res["result"] = "wait-timeout"
            res["detail"] = "board not idle after %ss (state %s)" % (
                opts.wait_timeout, last.get("state") if last else "unknown")
            res["state"] = last.get("state") if last else None
            return res
        time.sleep(opts.poll)
    res["state"] = last.get("state")
    res["status"] = last
    if isinstance(last.get("classes"), dict):
        res["classes"] = last["classes"]
    if last.get("seq") is not None:
        res["seq"] = last.get("seq")
    final = last.get("result")
    if res["ok"]:
        if final and final != "success":
            res["ok"] = False
            res["result"] = final
            res["detail"] = "board reported %s after the push" % final
            if detail_of(last):
                res["detail"] += " (%s)" % detail_of(last)
            elif last.get("events"):
                res["detail"] += ": " + str(last["events"][-1])
        elif info:
            check_applied(res, info)
    return res


def check_applied(res, info):
    """The status shows the pack's versions and sequence number (when it reports them)."""
    want = expected_versions(info)
    have = res.get("classes") or {}
    bad = ["%s=%s (want %s)" % (c, have[c], v) for c, v in want.items()
           if c in have and isinstance(have[c], int) and have[c] != v]
    if bad:
        res["ok"] = False
        res["result"] = "version-mismatch"
        res["detail"] = "status shows " + ", ".join(bad)
    elif info.get("seq") is not None and isinstance(res.get("seq"), int) and res["seq"] < info["seq"]:
        res["ok"] = False
        res["result"] = "seq-mismatch"
        res["detail"] = "status seq %d below the pack's %d" % (res["seq"], info["seq"])


def push_many(boards, data, opts, info=None, jobs=8):
    results = [None] * len(boards)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(jobs, len(boards)))) as ex:
        futs = {ex.submit(push_one, b, data, opts, i, info): i for i, b in enumerate(boards)}
        for f in concurrent.futures.as_completed(futs):
            results[futs[f]] = f.result()
    return results
