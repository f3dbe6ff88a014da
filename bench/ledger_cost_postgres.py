"""Measure what the PostgreSQL ledger costs per run, and the two drivers (not a test; root).

``.venv/bin/python bench/ledger_cost_postgres.py``: a private PostgreSQL 15 in a network
namespace (tests/support/postgres.py), a client beside it; scram-sha-256 passwords. Prints
the median and 95th percentile of: one claim in a warm interpreter (each call is its own
connection, as in a guard run), a cold interpreter's import + options and its claim, the
whole cold process; the same with TLS verify-full; and the drivers compared cold: psycopg 3
against pg8000 (``pip install pg8000`` to include it), import and connect + the claim
statement. ``python -X importtime`` of each driver too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's tests.support (no pytest needed)

from tests.support import postgres as pglib  # noqa: E402

ENV = {"IF_MASTER_LEDGER_PASSWORD": pglib.PASSWORD}

COLD = """
import sys, time
t0 = time.perf_counter()
from ifmaster.ledger import LedgerOptions, open_ledger
led = open_ledger(LedgerOptions(url=sys.argv[1], deadline=5.0), environ=eval(sys.argv[3]))
t1 = time.perf_counter()
c = led.claim(sys.argv[4], sys.argv[2], node="n", pid=1, start=time.time())
t2 = time.perf_counter()
assert c.won
print(t1 - t0, t2 - t1)
"""

WARM = """
import sys, time
from ifmaster.ledger import LedgerOptions, open_ledger
led = open_ledger(LedgerOptions(url=sys.argv[1], deadline=5.0), environ=eval(sys.argv[2]))
for i in range(50):
    t = time.perf_counter()
    assert led.claim(sys.argv[3], f"2031-01-01T00:{i // 60:02d}:{i % 60:02d}Z", node="n", pid=1,
                     start=time.time()).won
    print(time.perf_counter() - t)
"""

# The same claim statement through each driver, nothing else: the drivers' own cost.
DRIVER = """
import sys, time
t0 = time.perf_counter()
if sys.argv[1] == "psycopg":
    import psycopg
    t1 = time.perf_counter()
    c = psycopg.connect(host=sys.argv[2], user="ifm", password=sys.argv[3], dbname="postgres")
    run = lambda q, *a: c.execute(q, a).fetchall()
else:
    import pg8000.native
    t1 = time.perf_counter()
    c = pg8000.native.Connection("ifm", host=sys.argv[2], password=sys.argv[3],
                                 database="postgres")
    run = lambda q, *a: c.run(q.replace("%s", ":a"), a=a[0])
rows = run("INSERT INTO public.drv (slot) VALUES (%s) ON CONFLICT DO NOTHING RETURNING token",
           sys.argv[4])
if sys.argv[1] == "psycopg":
    c.commit()
t2 = time.perf_counter()
assert rows
c.close()
print(t1 - t0, t2 - t1)
"""


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[int(0.95 * (len(xs) - 1))]
    return f"median {statistics.median(xs) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  n={len(xs)}"


def ledger(lab: pglib.Lab, label: str, url: str) -> None:
    ns = lab.clients[0]
    task = "m" + "".join(ch for ch in label if ch.isalnum())
    out = ns.run([sys.executable, "-c", WARM, url, repr(ENV), task], check=True).stdout
    print(f"{label:22s} warm claim   {stats([float(x) for x in out.split()])}")
    imports, claims, walls = [], [], []
    for i in range(20):
        slot = f"2031-02-01T00:00:{i:02d}Z"
        t = time.perf_counter()
        argv = [sys.executable, "-c", COLD, url, slot, repr(ENV), task]
        out = ns.run(argv, check=True).stdout
        walls.append(time.perf_counter() - t)
        a, b = out.split()
        imports.append(float(a))
        claims.append(float(b))
    print(f"{label:22s} cold import  {stats(imports)}")
    print(f"{label:22s} cold claim   {stats(claims)}")
    print(f"{label:22s} cold process {stats(walls)} (ip netns exec + python + claim)")


def drivers(lab: pglib.Lab) -> None:
    s, ns = lab.servers[0], lab.clients[0]
    s.sql("CREATE TABLE public.drv (slot text PRIMARY KEY,"
          " token bigint GENERATED ALWAYS AS IDENTITY)")  # fmt: skip
    s.sql("GRANT ALL ON public.drv TO ifm")
    for name in ("psycopg", "pg8000"):
        if ns.run([sys.executable, "-c", f"import {name}"]).returncode != 0:
            print(f"{name:22s} not installed: skipped")
            continue
        imports, claims = [], []
        for i in range(20):
            argv = [sys.executable, "-c", DRIVER, name, s.ip, pglib.PASSWORD, f"{name}{i}"]
            a, b = ns.run(argv, check=True).stdout.split()
            imports.append(float(a))
            claims.append(float(b))
        print(f"{name:22s} import       {stats(imports)}")
        print(f"{name:22s} connect+claim {stats(claims)}")
        cumulative = []
        for _ in range(10):
            r = ns.run([sys.executable, "-X", "importtime", "-c", f"import {name}"], check=True)
            last = [x for x in r.stderr.splitlines() if x.rstrip().endswith(f"| {name}")][-1]
            cumulative.append(int(last.split("|")[1]) / 1e6)
        print(f"{name:22s} -X importtime {stats(cumulative)} (cumulative)")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    with tempfile.TemporaryDirectory() as d, pglib.lab(Path(d)) as lab:
        s = lab.server()
        lab.client()
        ledger(lab, "scram", s.url())
        assert lab.tls is not None
        ledger(lab, "scram + TLS verify-full",
               s.url(sslmode="verify-full", sslrootcert=str(lab.tls.ca)))  # fmt: skip
        drivers(lab)


if __name__ == "__main__":
    main()
