#!/usr/bin/env python3
"""Benchmark the guarded hot path against the interpreter floor and the seed's bash script.

Run as root from a checkout, after ./test.sh (or any install into .venv):

    .venv/bin/python bench/hotpath.py [--rounds 40]

It makes a network namespace holding the VIP 10.99.0.100 on a veth (nothing leaves the
machine), re-runs itself inside it, and times whole processes alternately, so machine
noise hits every contender alike. It prints medians, ratios and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VIP = "10.99.0.100"
OTHER = "10.99.0.1"  # a textual prefix of the node's own 10.99.0.10: not held
SEED = f"""#!/bin/bash
FLOATING_IP_ADDRESS={VIP}
if (ip addr show | grep "$FLOATING_IP_ADDRESS")
then
\teval $1
fi
"""
# What pip < 25 generates for [project.scripts]: it imports re before anything else.
OLD_WRAPPER = """#!{python}
import re
import sys
from ifmaster.main import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return elapsed, usage.ru_maxrss


def inside(rounds: int) -> None:
    bindir = Path(sys.executable).parent
    tool = str(bindir / "if-master")
    tmp = Path(tempfile.mkdtemp())
    seed = tmp / "if_master.sh"
    seed.write_text(SEED)
    old = tmp / "if-master-old-pip"
    old.write_text(OLD_WRAPPER.format(python=sys.executable))
    old.chmod(0o755)
    env = dict(os.environ)
    env_vip = {**env, "IF_MASTER_VIP": VIP}
    contenders = {
        "python -c pass (floor)": ([sys.executable, "-c", "pass"], env),
        "if-master master (--vip)": ([tool, "--vip", VIP, "--", "true"], env),
        "if-master not master (--vip)": ([tool, "--vip", OTHER, "--", "true"], env),
        "if-master master (IF_MASTER_VIP)": ([tool, "--", "true"], env_vip),
        "if-master check, master": ([tool, "--vip", VIP], env),
        "old pip wrapper (import re), master": ([str(old), "--vip", VIP, "--", "true"], env),
        "python -m ifmaster, master": (
            [sys.executable, "-m", "ifmaster", "--vip", VIP, "--", "true"],
            env,
        ),
        "if-master -v (click path), master": ([tool, "-v", "--vip", VIP, "--", "true"], env),
        "bash seed script, master": (["bash", str(seed), "true"], env),
        "bash seed script, not master": (["bash", str(seed).replace(VIP, OTHER), "true"], env),
    }
    seed_other = tmp / "if_master_other.sh"
    seed_other.write_text(SEED.replace(VIP, OTHER))
    contenders["bash seed script, not master"] = (["bash", str(seed_other), "true"], env)
    times: dict[str, list[float]] = {k: [] for k in contenders}
    rss: dict[str, int] = dict.fromkeys(contenders, 0)
    for round_ in range(rounds + 5):
        for name, (argv, e) in contenders.items():
            t, kib = timed(argv, e)
            if round_ >= 5:  # the first rounds warm caches
                times[name].append(t)
                rss[name] = max(rss[name], kib)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    floor = med["python -c pass (floor)"]
    bash = med["bash seed script, master"]
    print(f"{rounds} rounds after 5 warm-up, medians; python {sys.version.split()[0]}")
    print(f"{'':38} {'ms':>6} {'x floor':>8} {'x bash':>7} {'peak RSS MiB':>13}")
    for name in contenders:
        print(
            f"{name:38} {med[name]:6.1f} {med[name] / floor:8.2f} {med[name] / bash:7.2f}"
            f" {rss[name] / 1024:13.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.rounds)
        return
    ns = f"ifm-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (
            ["link", "set", "lo", "up"],
            ["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
            ["link", "set", "eth0", "up"],
            ["link", "set", "eth1", "up"],
            ["addr", "add", "10.99.0.10/24", "dev", "eth0"],
            ["addr", "add", f"{VIP}/24", "dev", "eth0"],
        ):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        me = [sys.executable, os.path.abspath(__file__), "--inside", "--rounds", str(args.rounds)]
        subprocess.run(["ip", "netns", "exec", ns, *me], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
