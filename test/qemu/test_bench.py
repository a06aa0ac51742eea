"""`bench` boot argument: the kernel prints the OTT call-path table and
ends the run itself (shutdown=<n> only as a backstop). Time figures come
from a plain TCG boot here, so only robust relations are checked; the exact
instruction counts are `make bench`'s business."""
import re

from kernel_checks import check_log_format, check_no_trouble

BACKSTOP = 30
HEADER_RE = re.compile(r"^bench: OTT call paths, (\d+) calls x (\d+) rounds \(median\), "
                       r"hart (\d+), board (\S+)$")
COLUMNS_RE = re.compile(r"^  path\s+instr/call\s+ns/call\s+x instr\s+x time$")
ROW_RE = re.compile(r"^  (plain indirect call|ott cached call|ott miss \(global\))\s+"
                    r"(\d+\.\d\d)\s+(\d+\.\d\d)\s+(\d+\.\d{3})\s+(\d+\.\d{3})$")


def test_bench(qemu):
    q = qemu("qemu-virt", 4, args=f"bench shutdown={BACKSTOP}")
    rc = q.wait_exit()
    assert rc == 0 and not q.killed, q.status()
    assert not q.log("boot", "shutdown"), "the backstop ended the run, not the bench"
    assert not q.log("workload"), "the workload ran during the bench"

    header = q.find(HEADER_RE)
    assert len(header) == 1, f"no bench table header\n{q.tail()}"
    calls, rounds, _hart, board = header[0].match.groups()
    assert board == "qemu-virt" and int(calls) > 0 and int(rounds) > 0, header[0].line
    i = header[0].index
    assert COLUMNS_RE.match(q.lines[i + 1]), q.lines[i + 1]
    rows = {}
    for line in q.lines[i + 2:i + 5]:
        m = ROW_RE.match(line)
        assert m, f"not a bench table row: {line!r}"
        rows[m.group(1)] = [float(x) for x in m.groups()[1:]]
    assert set(rows) == {"plain indirect call", "ott cached call", "ott miss (global)"}, rows
    plain, cached, miss = (rows["plain indirect call"], rows["ott cached call"],
                           rows["ott miss (global)"])
    assert plain[2:] == [1.0, 1.0], f"the plain row is the baseline: {plain}"
    for name, (instr, ns, xi, xt) in rows.items():
        assert instr > 0 and ns > 0, (name, instr, ns)
        # The ratio columns are this row over the plain row (3 decimals, truncated).
        assert abs(xi - instr / plain[0]) < 0.01 + 0.001 * xi, (name, xi, instr, plain[0])
        assert abs(xt - ns / plain[1]) < 0.01 + 0.001 * xt, (name, xt, ns, plain[1])
    # A miss goes to the global table: several times the cached call.
    assert miss[1] > 2 * cached[1], f"miss {miss[1]} ns vs cached {cached[1]} ns"

    done = q.log("bench", "done")
    assert len(done) == 1 and done[0].index > i + 4, f"no `bench: done` after the table"
    for key in ("ott_cached_vs_plain", "ott_miss_vs_plain"):
        e = q.log("bench", key)
        assert len(e) == 1 and "ratio" in e[0].kv and "extra_instr" in e[0].kv, key
    # Apart from the table, the log format holds.
    table = (HEADER_RE, COLUMNS_RE, ROW_RE)
    check_log_format(q, allowed=table)
    check_no_trouble(q)


def test_bench_icount_exact(qemu):
    """`make bench` takes its instruction counts from a deterministic
    `-icount shift=0` boot (one instruction, one ns): that boot must finish,
    and a cached OTT call must cost exactly what a plain indirect call
    does (the translation load replaces the `mv a0, obj`)."""
    q = qemu("qemu-virt", 4, args=f"bench shutdown={BACKSTOP}",
             extra_args=["-icount", "shift=0"], name="bench-icount")
    rc = q.wait_exit()
    assert rc == 0 and not q.killed, q.status()
    header = q.find(HEADER_RE)
    assert len(header) == 1, f"no bench table\n{q.tail()}"
    rows = {}
    for line in q.lines[header[0].index + 2:header[0].index + 5]:
        m = ROW_RE.match(line)
        assert m, f"not a bench table row: {line!r}"
        rows[m.group(1)] = float(m.group(2))
    assert rows["ott cached call"] == rows["plain indirect call"], rows
    assert rows["ott miss (global)"] > 2 * rows["plain indirect call"], rows
