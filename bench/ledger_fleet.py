#!/usr/bin/env python3
"""The etcd ledger at a fleet's load, and what authentication costs per claim.

Run as root from a checkout, after ./test.sh:

    .venv/bin/python bench/ledger_fleet.py fleet --tasks 100,500,1000 --nodes 2,3,5 [--rounds 3]
    .venv/bin/python bench/ledger_fleet.py auth [--claims 200]

Both build the test lab of tests/support/etcdlib.py: a real 3-member etcd in network namespaces on
10.77.0.0/24 (nothing leaves the machine; everything is removed afterwards), members run
as docs/ledger-retention.md asks (periodic auto-compaction, a quota).

``fleet``: N client namespaces (nodes), each running one worker: the ledger library in a
loop, ``--threads`` claims in flight at once (M guards started by one cron minute). Each
round, every node claims the same M (task, slot) pairs at one instant; winners record the
end (finish). Reported per (M, N): claims per second over the round, claim latency p50,
p99 and max, end-record latency p50 and p99, client CPU per claim, and whether every slot
had exactly one winner (any other count is printed and fails the run).

``auth``: one client, sequential claims of fresh slots with no authentication, with user
and password (etcd authenticates every call: bcrypt), with a TLS client certificate, and
with both; p50/p99 per claim and client CPU per claim.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- inside a client namespace ----------------------------------------------------------------


def _claims(led: Any, node: str, todo: Any, lock: threading.Lock, out: list[Any]) -> None:
    """One thread of a worker: claim (and finish, when won) pairs until none is left."""
    from ifmaster.ledger import LedgerError

    while True:
        with lock:
            pair = next(todo, None)
        if pair is None:
            return
        task, slot = pair
        t0 = time.monotonic()
        try:
            c = led.claim(task, slot, node=node, pid=os.getpid(), start=time.time())
            t1 = time.monotonic()
            end = None
            if c.won:
                led.finish(c, end=time.time(), status=0)
                end = time.monotonic() - t1
            rec = {"task": task, "slot": slot, "won": c.won, "claim": t1 - t0, "end": end}
        except LedgerError as e:
            rec = {"task": task, "slot": slot, "error": str(e)[:200]}
        with lock:
            out.append(rec)


def worker() -> int:
    """One node: reads a job (JSON line) from stdin, answers one JSON line per job."""
    sys.path.insert(0, str(ROOT / "src"))
    from ifmaster.ledger import Ledger

    for line in sys.stdin:
        job = json.loads(line)
        opts = job.get("opts", {})
        env = opts.pop("env", {})
        led = Ledger.from_options(job["url"], environ=env, **opts)
        assert led is not None
        lock = threading.Lock()
        out: list[dict[str, Any]] = []
        todo = iter([tuple(p) for p in job["pairs"]])
        time.sleep(max(0.0, job["at"] - time.time()))
        c0, w0 = cpu(), time.monotonic()
        threads = [
            threading.Thread(target=_claims, args=(led, job["node"], todo, lock, out))
            for _ in range(job["threads"])
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        reply = {"results": out, "cpu": cpu() - c0, "wall": time.monotonic() - w0}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


# -- the driver, in the host's namespace --------------------------------------------------------


class Node:
    def __init__(self, ns: Any, name: str) -> None:
        self.name = name
        self.proc = ns.popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)  # fmt: skip

    def send(self, job: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({**job, "node": self.name}) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"worker {self.name} died"
        return json.loads(line)  # type: ignore[no-any-return]


def fleet(args: argparse.Namespace, lab: Any) -> int:
    max_nodes = max(int(n) for n in args.nodes.split(","))
    nodes = [Node(lab.client(), f"node{i}") for i in range(max_nodes)]
    orders = ([1, 2, 3], [2, 3, 1], [3, 1, 2])
    serial = iter(range(10**9))
    bad = 0
    print("| tasks M | nodes N | claims | claims/s | claim p50 ms | p99 ms | max ms |"
          " end p50 ms | end p99 ms | client CPU ms/claim | one winner per slot |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
    for m in (int(x) for x in args.tasks.split(",")):
        for n in (int(x) for x in args.nodes.split(",")):
            lat: list[float] = []
            ends: list[float] = []
            claims = errors = doubles = unclaimed = 0
            wall = cpu_s = 0.0
            for _ in range(args.rounds):
                slot = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                     time.gmtime(1924992000 + 60 * next(serial)))  # fmt: skip
                pairs = [(f"t{i:05d}", slot) for i in range(m)]
                at = time.time() + 0.5
                for i, node in enumerate(nodes[:n]):
                    node.send({"url": lab.url(prefix="fleet", order=orders[i % 3]),
                               "pairs": pairs, "at": at, "threads": args.threads,
                               "opts": {"deadline": args.deadline}})  # fmt: skip
                replies = [node.receive() for node in nodes[:n]]
                winners: dict[tuple[str, str], int] = {p: 0 for p in pairs}
                for r in replies:
                    cpu_s += r["cpu"]
                    for rec in r["results"]:
                        if "error" in rec:
                            errors += 1
                            continue
                        claims += 1
                        lat.append(rec["claim"])
                        if rec["won"]:
                            winners[(rec["task"], rec["slot"])] += 1
                            ends.append(rec["end"])
                wall += max(r["wall"] for r in replies)
                # Exactly one winner per slot; none only where a claim failed (fail closed).
                doubles += sum(v > 1 for v in winners.values())
                unclaimed += sum(v == 0 for v in winners.values())
            ok = doubles == 0 and (unclaimed == 0 or errors > 0)
            bad += 0 if ok else 1
            ms = 1000.0
            print(f"| {m} | {n} | {claims} | {claims / wall:.0f} | {pct(lat, 0.5) * ms:.1f} |"
                  f" {pct(lat, 0.99) * ms:.1f} | {max(lat, default=0) * ms:.1f} |"
                  f" {pct(ends, 0.5) * ms:.1f} | {pct(ends, 0.99) * ms:.1f} |"
                  f" {cpu_s / max(claims, 1) * ms:.2f} |"
                  f" {'yes' if ok else f'NO: {doubles} twice, {unclaimed} never'}"
                  f"{f', {errors} failed claims' if errors else ''} |",
                  flush=True)  # fmt: skip
    return 1 if bad else 0


def auth(args: argparse.Namespace, lab: Any, tls_lab: Any) -> int:
    """Claims per authentication mode; the auth lab has a user limited to the prefix."""
    results = []
    pw = Path(tempfile.mkdtemp(prefix="ledger-auth-")) / "pw"
    pw.write_text("ifmpw\n")
    os.chmod(pw, 0o600)
    t = tls_lab.tls
    certs = {"ca": str(t.ca), "cert": str(t.client), "key": str(t.client_key)}
    # With auth on, etcd 3.4's gateway refuses (HTTP 400) a client certificate that has a
    # CommonName ("... will be ignored and not used as expected"): one without, for that.
    key, csr, crt, ext = (t.dir / f"nocn.{x}" for x in ("key", "csr", "pem", "ext"))
    ext.write_text("extendedKeyUsage=clientAuth\n")
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/O=if-master"],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(t.ca), "-CAkey",
                    str(t.ca_key), "-CAcreateserial", "-out", str(crt), "-days", "2",
                    "-extfile", str(ext)], check=True, capture_output=True)  # fmt: skip
    nocn = {"ca": str(t.ca), "cert": str(crt), "key": str(key)}
    # Certificates alone with auth off; user + password need auth on (which then refuses
    # a certificate alone: the JSON gateway does not map a certificate's CN to a user).
    modes = [
        ("none", lab, {}, False),
        ("user + password", lab, {"user": "ifm", "password_file": str(pw)}, True),
        ("TLS client certificate", tls_lab, certs, False),
        ("TLS client certificate (no CN) + user + password", tls_lab,
         {**nocn, "user": "ifm", "password_file": str(pw)}, True),
    ]  # fmt: skip
    serial = iter(range(10**9))
    for name, which, opts, auth_on in modes:
        if auth_on and not getattr(which, "auth_on", False):
            setup_auth(which)
            which.auth_on = True
        node = Node(which.client(), "a")
        lat: list[float] = []
        cpu_s = 0.0
        for _ in range(max(1, args.claims // 10)):
            pairs = [("auth", time.strftime("%Y-%m-%dT%H:%M:%SZ",
                      time.gmtime(1924992000 + 60 * next(serial)))) for _ in range(10)]  # fmt: skip
            node.send({"url": which.url(), "pairs": pairs, "at": 0, "threads": 1,
                       "opts": {"deadline": 5.0, **opts}})  # fmt: skip
            r = node.receive()
            errs = [x["error"] for x in r["results"] if "error" in x]
            assert not errs, errs[:1]
            lat += [x["claim"] + (x["end"] or 0) for x in r["results"]]
            cpu_s += r["cpu"]
        results.append((name, pct(lat, 0.5), pct(lat, 0.99), cpu_s / len(lat)))
    node = Node(tls_lab.client(), "a")
    node.send({"url": tls_lab.url(), "pairs": [("auth", "2040-01-01T00:00:00Z")], "at": 0,
               "threads": 1, "opts": {"deadline": 5.0, **certs}})  # fmt: skip
    refused = node.receive()["results"][0].get("error", "accepted")
    node.send({"url": tls_lab.url(), "pairs": [("auth", "2040-01-01T00:01:00Z")], "at": 0,
               "threads": 1, "opts": {"deadline": 5.0, **certs, "user": "ifm",
                                      "password_file": str(pw)}})  # fmt: skip
    with_cn = node.receive()["results"][0].get("error", "accepted")
    print("| authentication | claim + end p50 ms | p99 ms | client CPU ms |")
    print("|---|---:|---:|---:|")
    for name, p50, p99, c in results:
        print(f"| {name} | {p50 * 1000:.1f} | {p99 * 1000:.1f} | {c * 1000:.2f} |")
    print(f"\nWith auth on, a certificate alone: {refused}")
    print(f"\nWith auth on, a certificate with a CN, and user + password: {with_cn}")
    return 0


def setup_auth(lab: Any) -> None:
    ns = lab.clients[0]
    for a in (["user", "add", "root:rootpw"], ["user", "add", "ifm:ifmpw"], ["role", "add", "ifm"],
              ["role", "grant-permission", "ifm", "--prefix=true", "readwrite", "/if-master/"],
              ["user", "grant-role", "ifm", "ifm"], ["auth", "enable"]):  # fmt: skip
        lab.etcdctl(ns, *a)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", nargs="?", choices=("fleet", "auth"))
    p.add_argument("--tasks", default="100,500,1000", help="fleet: M, comma-separated")
    p.add_argument("--nodes", default="2,3,5", help="fleet: N, comma-separated")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=16, help="fleet: claims in flight per node")
    p.add_argument("--deadline", type=float, default=5.0, help="--ledger-timeout")
    p.add_argument("--claims", type=int, default=200, help="auth: claims per mode")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker()
    if args.mode is None:
        p.error("give fleet or auth")
    sys.path.insert(0, str(ROOT))
    from tests.support import etcdlib

    with tempfile.TemporaryDirectory(prefix="ledger-fleet-") as tmp:
        with etcdlib.cluster(Path(tmp) / "lab") as lab:
            if args.mode == "fleet":
                return fleet(args, lab)
            with etcdlib.cluster(Path(tmp) / "tls", tls=True) as tls_lab:
                return auth(args, lab, tls_lab)


if __name__ == "__main__":
    raise SystemExit(main())
