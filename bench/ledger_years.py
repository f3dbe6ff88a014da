#!/usr/bin/env python3
"""A ledger that runs for years: the etcd ledger driven by a simulated clock.

Run as root from a checkout, after ./test.sh:

    .venv/bin/python bench/ledger_years.py year  [--every 600] [--days 365] [--tasks 1]
    .venv/bin/python bench/ledger_years.py full  [--every 60] [--quota-mib 8]
    .venv/bin/python bench/ledger_years.py backlog [--slots 100000]

Each run starts one single-member etcd on loopback in a network namespace of its own
(tests/support/etcdlib.solo: nothing leaves the machine; the namespace, the process and the data
are gone afterwards) and re-runs itself inside it. There it claims and finishes slot after
slot through the ledger library (EtcdLedger.claim/finish, exactly what a guard does),
taking each slot's time from a simulated clock, so a year passes in minutes.

``year``: ``--tasks`` tasks every ``--every`` seconds for ``--days`` simulated days with
``--keep`` (default 35d). At each simulated month's end it counts the keys, reads the
database size, compacts to the current revision and defragments (what
``--auto-compaction-mode periodic`` and a periodic ``etcdctl defrag`` do), and reads the size
again: one table row a month.

``backlog``: ``--slots`` claims with retention off (a ledger from before ``--keep``), then
the first claim with it (one deletion of the whole backlog) with ``--deadline`` (default
2 s, the guard's default): how long that claim takes, and the keys before and after.

``full``: the ``year`` run with retention off (``--keep forever``) against a ``--quota-mib`` quota,
until a claim fails; prints that claim's one line (the NOSPACE message) and how much
simulated time the quota lasted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MONTH = 30 * 86400
START = 1924992000  # 2031-01-01T00:00:00Z, the simulated clock's start
NODE = "node-a.example.org"  # a realistic record: host name, PID, start and end


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def etcdctl(*args: str) -> str:
    env = {**os.environ, "ETCDCTL_API": "3"}
    argv = ["etcdctl", "--endpoints=127.0.0.1:2379", "--command-timeout=60s", *args]
    return subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout


def status() -> dict[str, int]:
    s = json.loads(etcdctl("endpoint", "status", "-w", "json"))[0]["Status"]
    return {"revision": int(s["header"]["revision"]), "db": int(s["dbSize"]),
            "in_use": int(s.get("dbSizeInUse", s["dbSize"]))}  # fmt: skip


def count(prefix: str) -> int:
    # etcdctl 3.4 has no --count-only; a range reply counts every key, whatever its limit.
    out = json.loads(etcdctl("get", "--prefix", prefix, "--keys-only", "--limit=1", "-w", "json"))
    return int(out.get("count", 0))


def mib(n: int) -> str:
    return f"{n / (1 << 20):.2f}"


def inner(args: argparse.Namespace) -> int:
    """Inside the namespace: the simulation itself."""
    sys.path.insert(0, str(ROOT / "src"))
    from ifmaster.ledger import Ledger, LedgerError
    from ifmaster.ledger.retention import parse_keep

    if args.mode == "backlog":
        return backlog(args)
    keep = parse_keep(args.keep)
    led = Ledger.from_options("etcd://127.0.0.1:2379/if-master", keep=keep, environ={})
    assert led is not None
    tasks = [f"task{i:03d}" for i in range(args.tasks)]
    slots = int(args.days * 86400 // args.every)
    rows = []
    started, claims, t = time.monotonic(), 0, float(START)
    next_month = START + MONTH
    print(f"# {args.tasks} task(s) every {args.every} s, {args.days} simulated days,"
          f" --keep {args.keep}: {slots * args.tasks} claims", flush=True)  # fmt: skip
    print("| day | claims | keys | keys/task | MiB before | MiB after | s |")
    print("|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    for n in range(slots):
        t = START + n * args.every
        for task in tasks:
            try:
                c = led.claim(task, iso(t), node=NODE, pid=4242, start=t + 0.25)
                led.finish(c, end=t + 42.5, status=0)
            except LedgerError as e:
                days = (t - START) / 86400
                print(f"claim {claims + 1} ({task} {iso(t)}, {days:.1f} simulated days) failed:")
                print(f"  kind {e.kind}: {e}")
                st = status()
                print(f"  keys {count('/if-master/')}, db {mib(st['db'])} MiB", flush=True)
                return 0
            claims += 1
        if t + args.every >= next_month or n == slots - 1:
            before = status()
            keys = count("/if-master/")
            # --physical: wait until the old revisions are gone from the backend, or the
            # defragmentation that follows would find them still there.
            etcdctl("compact", "--physical", str(before["revision"]))
            etcdctl("defrag")
            after = status()
            rows.append({"day": round((t - START) / 86400), "claims": claims, "keys": keys,
                         "keys_per_task": keys / args.tasks, "db_before": before["db"],
                         "db_after": after["db"], "revision": before["revision"],
                         "elapsed": time.monotonic() - started})  # fmt: skip
            r = rows[-1]
            print(f"| {r['day']:>4} | {claims:>8} | {keys:>6} | {r['keys_per_task']:>8.0f} |"
                  f" {mib(before['db']):>9} | {mib(after['db']):>8} | {r['elapsed']:>6.0f} |",
                  flush=True)  # fmt: skip
            next_month += MONTH
    rate = claims / (time.monotonic() - started)
    print(f"# {claims} claims + finishes in {time.monotonic() - started:.0f} s"
          f" ({rate:.0f} slots/s)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def backlog(args: argparse.Namespace) -> int:
    """The first claim after an upgrade: ``--slots`` old slots, then one claim that prunes."""
    from ifmaster.ledger import Ledger, LedgerError
    from ifmaster.ledger.retention import parse_keep

    url = "etcd://127.0.0.1:2379/if-master"
    old = Ledger.from_options(url, keep=None, environ={})
    assert old is not None
    t = float(START)
    for n in range(args.slots):
        t = START + n * args.every
        old.claim("backlog", iso(t), node=NODE, pid=4242, start=t)
    before = count("/if-master/backlog/")
    new = Ledger.from_options(url, keep=parse_keep(args.keep), deadline=args.deadline,
                              environ={})  # fmt: skip
    assert new is not None
    t += 86400 * 40
    t0 = time.monotonic()
    try:
        new.claim("backlog", iso(t), node=NODE, pid=4242, start=t)
        what = "won"
    except LedgerError as e:
        what = f"failed: {e}"
    took = time.monotonic() - t0
    time.sleep(5)  # a claim that timed out may still commit
    print("| keys before | deadline | the claim took | outcome | keys after |")
    print("|---:|---:|---:|---|---:|")
    print(f"| {before} | {args.deadline:g} s | {took * 1000:.0f} ms | {what} |"
          f" {count('/if-master/backlog/')} |", flush=True)  # fmt: skip
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", choices=("year", "full", "backlog"))
    p.add_argument("--slots", type=int, default=100000, help="backlog: old slots first")
    p.add_argument("--deadline", type=float, default=2.0, help="backlog: --ledger-timeout")
    p.add_argument("--every", type=int, default=None, help="simulated seconds between slots")
    p.add_argument("--days", type=float, default=365.0)
    p.add_argument("--tasks", type=int, default=1)
    p.add_argument("--keep", default=None, help="--keep (year: 35d; full: forever)")
    p.add_argument("--quota-mib", type=int, default=8, help="full: the quota")
    p.add_argument("--json", help="write the monthly rows here")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.every is None:
        args.every = 600 if args.mode == "year" else 60
    if args.keep is None:
        args.keep = "forever" if args.mode == "full" else "35d"
    if args.inner:
        return inner(args)
    sys.path.insert(0, str(ROOT))
    from tests.support import etcdlib

    flags = ["--quota-backend-bytes", str((args.quota_mib if args.mode == "full" else 2048) << 20)]
    with (
        tempfile.TemporaryDirectory(prefix="ledger-years-") as tmp,
        etcdlib.solo(Path(tmp), flags) as s,
    ):
        argv = [sys.executable, __file__, "--inner", *sys.argv[1:]]
        return s.ns.run(argv, capture_output=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
