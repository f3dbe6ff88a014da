"""Measure what a running job's liveness record costs in etcd traffic (not a test; as root).

``.venv/bin/python bench/ledger_liveness.py``: runs one guarded
``sleep 30`` with --ledger through the installed script on a real 3-member cluster and
prints, from every member's /metrics, the raft proposals committed and the gRPC calls
handled during the run, beside a guarded ``true`` (claim and end only); and the reads
--history and --status make of a 1000-slot task.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's tests.support (no pytest needed)

from tests.support import etcdlib  # noqa: E402
from tests.support.netnslib import IF_MASTER, Netns  # noqa: E402

VIP = "10.77.0.250"
SCRAPE = (
    "import sys, urllib.request\n"
    "print(urllib.request.urlopen(f'http://{sys.argv[1]}/metrics', timeout=5).read().decode())"
)
WATCHED = ("etcd_server_proposals_committed_total", "grpc_server_handled_total")


def counters(c: etcdlib.Cluster, ns: Netns) -> dict[str, float]:
    """Summed over the members: proposals committed (the leader's), gRPC calls by method."""
    out: dict[str, float] = {}
    for m in c.members:
        text = ns.run([sys.executable, "-c", SCRAPE, m.endpoint], check=True).stdout
        for line in text.splitlines():
            if not line.startswith(WATCHED):
                continue
            name, value = line.rsplit(" ", 1)
            method = re.search(r'grpc_method="(\w+)"', name)
            key = method.group(1) if method else name.split("{")[0]
            if key == "etcd_server_proposals_committed_total" and m is not c.members[0]:
                continue  # every member counts the same commits: count one
            out[key] = out.get(key, 0.0) + float(value)
    return out


def guarded(c: etcdlib.Cluster, ns: Netns, task: str, *cmd: str) -> dict[str, float]:
    before = counters(c, ns)
    t = time.monotonic()
    ns.run([IF_MASTER, "--vip", VIP, "--task", task, "--every", "1d", "--max-late", "100000",
            "--ledger", c.url(), "--", *cmd], check=True, timeout=120)  # fmt: skip
    took = time.monotonic() - t
    after = counters(c, ns)
    diff = {k: after[k] - before.get(k, 0.0) for k in after if after[k] != before.get(k, 0.0)}
    diff["seconds"] = took
    return diff


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    with tempfile.TemporaryDirectory() as d, etcdlib.cluster(Path(d)) as c:
        ns = c.client()
        ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
        for n, (label, cmd) in enumerate((("true", ["true"]), ("sleep 30", ["sleep", "30"]))):
            diff = guarded(c, ns, f"measure{n}", *cmd)  # a task each: its own daily slot
            shown = ", ".join(f"{k} {v:g}" for k, v in sorted(diff.items()) if k != "seconds")
            print(f"guarded {label:9s} ({diff['seconds']:.1f} s): {shown}")
        code = (
            "import sys, time\nfrom ifmaster.ledger import Ledger\n"
            "led = Ledger.from_options(sys.argv[1])\n"
            "now = int(time.time())\n"
            "for t in range(now - 1000, now):\n"
            "    s = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))\n"
            "    c = led.claim('big', s, node='n', pid=1, start=t + 0.1, schedule='every 1s')\n"
            "    led.finish(c, end=t + 0.5, status=0)\n"
        )
        ns.run([sys.executable, "-c", code, c.url()], check=True, timeout=300)
        for args in (["--history", "big", "--since", "1h"], ["--status", "--since", "1h"]):
            before = counters(c, ns)
            t = time.monotonic()
            r = ns.run([IF_MASTER, "--ledger", c.url(), *args], timeout=60)
            took = time.monotonic() - t
            assert r.returncode in (0, 1), r.stderr
            after = counters(c, ns)
            calls = after.get("Range", 0) - before.get("Range", 0)
            print(f"{' '.join(args):32s} {took * 1000:6.0f} ms, {calls:g} range calls")


if __name__ == "__main__":
    main()
