"""Measure what the ledger costs per run on a real 3-member cluster (not a test; run as root).

``.venv/bin/python bench/ledger_cost.py``: prints the median and 95th percentile of one
claim (one TCP connection and one txn; with auth also the authenticate call; with TLS also
the handshake), warm in one process and cold (a new interpreter that imports the ledger
and claims once, as if-master would per tick), and of the read of the ledger's clock that
each claim follows (warm).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's tests.support (no pytest needed)

from tests.support import etcdlib  # noqa: E402

COLD = """
import sys, time
t0 = time.perf_counter()
from ifmaster.ledger import Ledger
led = Ledger.from_options(sys.argv[1], environ={}, **eval(sys.argv[3]))
t1 = time.perf_counter()
c = led.claim(sys.argv[4], sys.argv[2], node="n", pid=1, start=time.time())
t2 = time.perf_counter()
assert c.won
print(t1 - t0, t2 - t1)
"""


#: The read of the ledger's clock that every claim now follows (Backend.clock()), warm.
CLOCK = """
import sys, time
from ifmaster.ledger import Ledger
led = Ledger.from_options(sys.argv[1], environ={}, **eval(sys.argv[2]))
for i in range(100):
    t = time.perf_counter()
    led.clock()
    print(time.perf_counter() - t)
"""


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[int(0.95 * (len(xs) - 1))]
    return f"median {statistics.median(xs) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  n={len(xs)}"


def run(c: etcdlib.Cluster, label: str, opts: dict[str, str]) -> None:
    ns = c.clients[0]
    warm = """
import sys, time
from ifmaster.ledger import Ledger
led = Ledger.from_options(sys.argv[1], environ={}, **eval(sys.argv[2]))
for i in range(100):
    t = time.perf_counter()
    assert led.claim(sys.argv[3], f"2031-01-01T00:{i // 60:02d}:{i % 60:02d}Z", node="n", pid=1,
                     start=time.time()).won
    print(time.perf_counter() - t)
"""
    task = "m" + "".join(ch for ch in label if ch.isalnum())
    out = ns.run([sys.executable, "-c", warm, c.url(), repr(opts), task], check=True).stdout
    print(f"{label:22s} warm claim   {stats([float(x) for x in out.split()])}")
    out = ns.run([sys.executable, "-c", CLOCK, c.url(), repr(opts)], check=True).stdout
    print(f"{label:22s} warm clock   {stats([float(x) for x in out.split()])}")
    imports, claims, walls = [], [], []
    for i in range(20):
        slot = f"2031-02-01T00:00:{i:02d}Z"
        t = time.perf_counter()
        argv = [sys.executable, "-c", COLD, c.url(), slot, repr(opts), task]
        out = ns.run(argv, check=True).stdout
        walls.append(time.perf_counter() - t)
        a, b = out.split()
        imports.append(float(a))
        claims.append(float(b))
    print(f"{label:22s} cold import  {stats(imports)}")
    print(f"{label:22s} cold claim   {stats(claims)}")
    print(f"{label:22s} cold process {stats(walls)} (ip netns exec + python + claim)")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    with tempfile.TemporaryDirectory() as d:
        with etcdlib.cluster(Path(d) / "plain") as c:
            run(c, "plain", {})
            ns = c.clients[0]
            for args in (["user", "add", "root:rootpw"], ["user", "add", "ifm:ifmpw"],
                         ["role", "add", "ifm"],
                         ["role", "grant-permission", "ifm", "--prefix=true", "readwrite", "/"],
                         ["user", "grant-role", "ifm", "ifm"], ["auth", "enable"]):  # fmt: skip
                c.etcdctl(ns, *args)
            pw = Path(d) / "pw"
            pw.write_text("ifmpw\n")
            pw.chmod(0o600)
            run(c, "plain + auth", {"user": "ifm", "password_file": str(pw)})
        with etcdlib.cluster(Path(d) / "tls", tls=True) as c:
            t = c.tls
            assert t is not None
            run(c, "TLS + client cert", {"ca": str(t.ca), "cert": str(t.client),
                                          "key": str(t.client_key)})  # fmt: skip
    baseline = []
    for _ in range(20):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - t)
    print(f"{'python -c pass':22s} process      {stats(baseline)}")


if __name__ == "__main__":
    main()
