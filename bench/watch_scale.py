"""Measure --watch at scale (root; not a test): idle CPU, CPU under churn, loss-to-SIGTERM.

Usage: .venv/bin/python bench/watch_scale.py [--quick]
Each figure comes from a throw-away namespace. CPU is the supervisor's utime+stime from
/proc/PID/stat; latency is from just before `ip addr del` of the VIP to the job's SIGTERM
handler (the job writes time.monotonic(); same clock, same host).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's tests.support (no pytest needed)

from tests.support.netnslib import IF_MASTER, Netns, unique_name  # noqa: E402

DRIVER = str(ROOT / "tests" / "support" / "watch_driver.py")
VIP = "10.0.0.100"
CHILD = (
    "import os, signal, sys, time\n"
    "def on_term(*_):\n"
    "    open(sys.argv[1], 'w').write(repr(time.monotonic())); os._exit(0)\n"
    "signal.signal(signal.SIGTERM, on_term)\n"
    "open(sys.argv[1] + '.ready', 'w').close()\n"
    "while True: signal.pause()\n"
)
TICK = 100  # USER_HZ


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def setup(interfaces: int, addresses: int) -> tuple[Netns, str]:
    ns = Netns(unique_name("ifms"))
    dev = "vipdev"
    ns.ip("link", "add", dev, "type", "veth", "peer", "name", "vippeer")
    ns.ip("link", "set", dev, "up")
    ns.ip("link", "set", "vippeer", "up")  # else the VIP link has no carrier
    ns.ip("addr", "add", f"{VIP}/24", "dev", dev)
    batch = "".join(f"link add m{i} type veth peer name n{i}\n" for i in range(interfaces // 2))
    batch += "".join(
        f"addr add 10.{20 + i // 65000}.{i // 250 % 250}.{i % 250 + 1}/32 dev vippeer\n"
        for i in range(addresses)
    )
    if batch:
        ns.run(["ip", "-batch", "-"], input=batch, check=True)
    return ns, dev


def start(ns: Netns, tmp: Path, cli: bool) -> subprocess.Popen[str]:
    job = [sys.executable, "-c", CHILD, str(tmp / "term")]
    if cli:
        argv = [IF_MASTER, "--watch", "--vip", VIP, "--", *job]
    else:
        argv = [sys.executable, DRIVER, "--count-checks", VIP, "1", "300", *job]
    proc = ns.popen(argv, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (tmp / "term.ready").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    return proc


def loss_latency(ns: Netns, dev: str, tmp: Path, proc: subprocess.Popen[str]) -> float:
    t0 = time.monotonic()
    ns.ip("addr", "del", f"{VIP}/24", "dev", dev)
    proc.communicate(timeout=30)
    return float((tmp / "term").read_text()) - t0


def churn(ns: Netns, seconds: float, adds: int, flaps: int) -> None:
    """`adds` adds + as many removes of unrelated addresses and `flaps` flaps of another link,
    spread over `seconds`."""
    ns.ip("link", "add", "chd", "type", "veth", "peer", "name", "chd2")
    rounds = flaps
    per = adds // rounds
    t0 = time.monotonic()
    for r in range(rounds):
        add = "".join(f"addr add 10.99.{r}.{i + 1}/32 dev chd\n" for i in range(per))
        ns.run(["ip", "-batch", "-"], input=add, check=True)
        ns.run(["ip", "-batch", "-"], input=add.replace("addr add", "addr del"), check=True)
        ns.ip("link", "set", "chd", "up")
        ns.ip("link", "set", "chd", "down")
        time.sleep(max(0.0, t0 + (r + 1) * seconds / rounds - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 s idle and 5 s churn, not 10 and 20"
    )
    quick = parser.parse_args().quick
    rows = []
    for label, interfaces, addresses in [
        ("small host", 0, 0),
        ("500 interfaces", 500, 0),
        ("10,000 addresses", 0, 10000),
    ]:
        for cli in (False, True):
            ns, dev = setup(interfaces, addresses)
            try:
                with tempfile.TemporaryDirectory() as d:
                    tmp = Path(d)
                    proc = start(ns, tmp, cli)
                    c0 = cpu_seconds(proc.pid)
                    time.sleep(2 if quick else 10)
                    idle = cpu_seconds(proc.pid) - c0
                    c0, t0 = cpu_seconds(proc.pid), time.monotonic()
                    churn(ns, 5 if quick else 20, 1000, 100)
                    busy = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
                    latencies = [loss_latency(ns, dev, tmp, proc)]
                    for _ in range(4):  # more samples, without churn
                        (tmp / "term.ready").unlink()
                        ns.ip("addr", "add", f"{VIP}/24", "dev", dev)
                        proc = start(ns, tmp, cli)
                        time.sleep(0.3)
                        latencies.append(loss_latency(ns, dev, tmp, proc))
                    latency = sorted(latencies)[len(latencies) // 2]
                    rows.append((label, "CLI (guard.py)" if cli else "driver", idle, busy, latency))
            finally:
                ns.delete()
    print(
        "| host | supervisor | idle CPU s (10 s) | CPU under churn"
        " | VIP loss -> SIGTERM (median of 5) |"
    )
    print("|---|---|---|---|---|")
    for label, who, idle, busy, latency in rows:
        print(f"| {label} | {who} | {idle:.2f} | {busy * 100:.1f} % | {latency * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
