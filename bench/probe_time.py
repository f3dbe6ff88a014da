#!/usr/bin/env python3
"""Time ``--arp-probe`` on a single holder: IPv4 VIP, IPv6 VIP, both (probed in parallel).

Run as root from a checkout, after ./test.sh (or any install into .venv):

    .venv/bin/python bench/probe_time.py [--rounds 10]

It makes three network namespaces (a bridge and two nodes on it; nothing leaves the machine),
gives node A the VIPs 10.99.0.100 and fd00:99::100 (nodad, as keepalived adds them) and node
B addresses of its own, then times, inside A, the probe itself (``probe_all``, in-process)
and the installed guard (``if-master --arp-probe ... -- true``, whole process), and the plain
guard for comparison. It prints min, median and max per case.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

VIP4, VIP6 = "10.99.0.100", "fd00:99::100"
CASES = {"IPv4": [VIP4], "IPv6": [VIP6], "IPv4+IPv6": [VIP4, VIP6]}
IF_MASTER = str(Path(sys.executable).with_name("if-master"))


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def row(label: str, times: list[float]) -> str:
    return (
        f"{label:34} min {min(times):.3f}  median {statistics.median(times):.3f}"
        f"  max {max(times):.3f} s"
    )


def inside(rounds: int) -> None:
    """In node A: the probe in-process, then whole guard processes, each case in turn."""
    from ifmaster.probe import own_macs, probe_all

    for label, vips in CASES.items():
        targets = [("eth0", ipaddress.ip_address(v).packed) for v in vips]
        times = []
        for _ in range(rounds):
            start = time.monotonic()
            found = probe_all(targets, own_macs())
            times.append(time.monotonic() - start)
            assert not any(found.values()), found
        print(row(f"probe_all {label}", times))
    runs = {
        f"guard --arp-probe {label}": [
            IF_MASTER, "--arp-probe", *[a for v in vips for a in ("--vip", v)], "--", "true"
        ]
        for label, vips in CASES.items()
    }  # fmt: skip
    runs["guard without --arp-probe"] = [IF_MASTER, "--vip", VIP4, "--", "true"]
    for label, argv in runs.items():
        times = []
        for _ in range(rounds):
            start = time.monotonic()
            subprocess.run(argv, check=True)
            times.append(time.monotonic() - start)
        print(row(label, times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.rounds)
        return
    tag = os.getpid()
    sw, a, b = (f"ifmbench{n}{tag}"[:15] for n in "sab")
    try:
        for ns in (sw, a, b):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", sw, "link", "set", "br0", "up")
        for ns, host in ((a, 100), (b, 2)):
            sh("ip", "-n", sw, "link", "add", f"p{host}", "type", "veth", "peer", "name", "eth0",
               "netns", ns)  # fmt: skip
            sh("ip", "-n", sw, "link", "set", f"p{host}", "master", "br0", "up")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "addr", "add", f"10.99.0.{host}/24", "dev", "eth0")
            sh("ip", "-n", ns, "addr", "add", f"fd00:99::{host}/64", "dev", "eth0", "nodad")
        time.sleep(2)  # link-local addresses done with their own DAD
        me = [sys.executable, os.path.abspath(__file__), "--inside", "--rounds", str(args.rounds)]
        subprocess.run(["ip", "netns", "exec", a, *me], check=True)
    finally:
        for ns in (sw, a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


if __name__ == "__main__":
    main()
