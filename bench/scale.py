#!/usr/bin/env python3
"""Benchmark if-master against the size of the host: interfaces, addresses, and --watch.

Run as root from a checkout, after ./test.sh (or any install into .venv):

    .venv/bin/python bench/scale.py [--rounds 20] [--quick] [--part plain|watch|both]

For each host size it makes a network namespace (nothing leaves the machine): the VIP
10.99.0.100 on ``eth0``, a veth whose peer is in a second namespace, so it is really up;
then extra links (dummy, or ifb where the kernel has no dummy module), each up with one
address, or extra addresses at most 1,000 to a link (the kernel's cost of adding an IPv4
address grows with the link's list, so 50,000 on one link would take minutes to set up).

Plain runs: it re-runs itself inside each namespace and times, alternately, ``python -c
pass`` (the floor), a plain guarded run on the master and elsewhere, ``--explain --json``,
the shell one-liner ``ip addr show | grep -q VIP`` and the kernel's own cost: ``python -c``
of a bare RTM_GETADDR dump of IPv4 (what a plain run asks for), each datagram received and
dropped; medians of wall and CPU time as ratios to the floor, and peak RSS beside the
floor's. ``--sizes`` picks hosts by their labels' start (``--sizes 10,000 50,000``).

--watch: ``if-master --watch --vip VIP -- JOB``, where JOB records the monotonic time it
gets SIGTERM. It reads the supervising if-master's CPU time from /proc/PID/stat while
idle, and under churn of unrelated addresses and links (adds and removes of addresses on
one link, down/up flaps of another); then deletes the VIP and reports the delay from just
before ``ip addr del`` to the job's SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hotpath import peak_rss  # bench/ is sys.path[0]: both are run as scripts

VIP = "10.99.0.100"
OTHER = "10.99.0.1"  # a textual prefix of the node's own 10.99.0.10: not held
PER_LINK = 1000  # addresses per extra link in the address series (set-up time, see above)
WARMUP = 2
# The kernel's cost of the dump a plain run reads: one RTM_GETADDR dump of AF_INET (nlmsghdr
# length 24, type 22, NLM_F_REQUEST|NLM_F_DUMP, seq 1; ifaddrmsg family 2), every datagram
# received and dropped until one ends with NLMSG_DONE (20 bytes, type 3).
DUMP = """
import _socket
s = _socket.socket(16, 3, 0)
s.bind((0, 0))
s.sendto(bytes.fromhex("180000001600010301000000000000000200000000000000"), (0, 0))
buf = bytearray(65536)
while True:
    n = s.recv_into(buf)
    if n >= 20 and buf[n - 20] == 20 and buf[n - 16] == 3:
        break
"""
JOB = """
import os, signal, sys, time
def term(*_):
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(repr(time.monotonic()))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    os._exit(0)
signal.signal(signal.SIGTERM, term)
open(sys.argv[2], "w").close()
while True:
    signal.pause()
"""


def sh(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(argv, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} -> {r.returncode}: {r.stderr.strip()}")
    return r  # type: ignore[no-any-return]


def ip4(base: int, i: int) -> str:
    """The i-th address of 10.<base>.0.0 onwards (i < 2**16 * (256 - base))."""
    return f"10.{base + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


class Host:
    """A namespace holding the VIP on a real up link, plus ``links`` extra links (one
    address each) or ``addresses`` extra addresses; ``close()`` removes it all."""

    kind = ""  # the link type for extra links, found once: dummy, else ifb

    def __init__(self, tag: str, links: int = 0, addresses: int = 0, churn: bool = False) -> None:
        self.ns = f"ifm-scale-{os.getpid()}-{tag}"
        self.peer = self.ns + "-p"
        self.made: list[str] = []
        start = time.monotonic()
        try:
            for ns in (self.ns, self.peer):
                sh(["ip", "netns", "add", ns])
                self.made.append(ns)
                sh(["ip", "-n", ns, "link", "set", "lo", "up"])
                # IPv6 addresses settle at once: no DAD events once the bench measures.
                sh(self.exec_argv(["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                                   "net.ipv6.conf.default.accept_dad=0"]))  # fmt: skip
            sh(["ip", "-n", self.ns, "link", "add", "eth0", "type", "veth",
                "peer", "name", "eth0", "netns", self.peer])  # fmt: skip
            lines = [
                "link set eth0 up",
                "addr add 10.99.0.10/24 dev eth0",
                f"addr add {VIP}/24 dev eth0",
            ]
            for name in ("churn0", "flap0") if churn else ():  # the --watch churn's links
                lines += [f"link add {name} type {self.link_kind()}", f"link set {name} up"]
            for i in range(links):
                lines += [f"link add x{i} type {self.link_kind()}", f"link set x{i} up"]
                lines.append(f"addr add {ip4(64, i)}/32 dev x{i}")
            for k in range(0, addresses, PER_LINK):
                name = f"a{k // PER_LINK}"
                lines += [f"link add {name} type {self.link_kind()}", f"link set {name} up"]
                for i in range(k, min(k + PER_LINK, addresses)):
                    lines.append(f"addr add {ip4(128, i)}/32 dev {name}")
            self.batch(lines)
            sh(["ip", "-n", self.peer, "link", "set", "eth0", "up"])
            # The veth's carrier comes up asynchronously.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if "LOWER_UP" in sh(["ip", "-n", self.ns, "-o", "link", "show", "eth0"]).stdout:
                    break
                time.sleep(0.05)
        except BaseException:
            self.close()
            raise
        self.setup_s = time.monotonic() - start

    def link_kind(self) -> str:
        if not Host.kind:
            r = subprocess.run(
                ["ip", "-n", self.ns, "link", "add", "kindprobe", "type", "dummy"],
                capture_output=True,
            )
            Host.kind = "dummy" if r.returncode == 0 else "ifb"
            if r.returncode == 0:
                sh(["ip", "-n", self.ns, "link", "del", "kindprobe"])
        return Host.kind

    def batch(self, lines: list[str]) -> None:
        sh(["ip", "-n", self.ns, "-batch", "-"], input="\n".join(lines) + "\n")

    def exec_argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    def close(self) -> None:
        for ns in self.made:
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []


# --- plain runs ---------------------------------------------------------------------------


def timed(argv: list[str], limit: float = 3600) -> tuple[float, float, int]:
    """Wall s, CPU s and exit status of one whole process, killed (-9) after ``limit`` s."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timer = threading.Timer(limit, proc.kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    timer.cancel()
    return elapsed, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def plain_inside(rounds: int, budget: float, limit: float) -> None:
    """Inside one namespace: race the contenders, print one JSON object."""
    tool = str(Path(sys.executable).with_name("if-master"))
    contenders = {
        "floor": [sys.executable, "-c", "pass"],
        "master": [tool, "--vip", VIP, "--", "true"],
        "not": [tool, "--vip", OTHER, "--", "true"],
        "explain": [tool, "--explain", "--json", "--vip", VIP],
        "seed": ["sh", "-c", f"ip addr show | grep -q {VIP}"],
        "dump": [sys.executable, "-c", DUMP],
    }
    # The decision itself, once: check mode is 0 on the master, 1 elsewhere.
    codes = (timed([tool, "--vip", VIP], limit)[2], timed([tool, "--vip", OTHER], limit)[2])
    decided = "yes" if codes == (0, 1) else "NO" if -signal.SIGKILL not in codes else "> limit"
    wall: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    slow: set[str] = set()  # contenders that once took longer than the limit: not run again
    start = time.monotonic()
    warm = done = 0
    while done < rounds:
        for name, argv in contenders.items():
            if name in slow:
                continue
            t, c, code = timed(argv, limit)
            if code == -signal.SIGKILL:
                slow.add(name)
                continue
            if code not in (0, 1):
                raise SystemExit(f"{argv} exited {code}")
            if warm >= WARMUP:
                wall[name].append(t)
                cpu[name].append(c)
        elapsed = time.monotonic() - start
        if warm < WARMUP and elapsed < budget / 4:
            warm += 1
            continue
        warm = WARMUP  # a slow size skips the rest of the warm-up
        done = len(wall["floor"])
        if done and elapsed > budget:
            break  # a slow size keeps the bench bounded; the rounds column says so
    rss = {k: peak_rss(argv, limit=limit) for k, argv in contenders.items() if k not in slow}
    print(
        json.dumps(
            {
                "wall": {k: statistics.median(v) * 1000 for k, v in wall.items() if v},
                "cpu": {k: statistics.median(v) * 1000 for k, v in cpu.items() if v},
                "limit": limit,
                "rss": rss,
                "rounds": done,
                "decided": decided,
            }
        )
    )


def plain_row(label: str, r: dict[str, Any], setup_s: float) -> str:
    """One markdown row from plain_inside's JSON; a contender over the limit shows so."""
    w, c, m = r["wall"], r["cpu"], r["rss"]
    f, cf = w["floor"], c["floor"]
    over = f"> {r['limit']:g} s"

    def x(d: dict[str, float], k: str, floor: float) -> str:
        return f"{d[k] / floor:.2f}" if k in d else over

    def mib(*keys: str) -> str:
        if not all(k in w for k in keys):
            return over
        if m["floor"] is None or any(m[k] is None for k in keys):
            return "n/a"  # no /usr/bin/time, or over the limit this time
        return f"{(max(m[k] for k in keys) - m['floor']) / 1024:+.1f}"

    return (
        f"| {label} | {f:.1f} | {x(w, 'master', f)} | {x(w, 'not', f)} "
        f"| {x(c, 'master', cf)} | {x(c, 'not', cf)} | {x(w, 'explain', f)} "
        f"| {x(w, 'seed', f)} | {x(w, 'dump', f)} | {(m['floor'] or 0) / 1024:.1f} "
        f"| {mib('master', 'not')} "
        f"| {mib('explain')} | {r['decided']} | {r['rounds']} "
        f"| {setup_s:.1f} |"
    )


def plain(sizes: list[tuple[str, int, int]], rounds: int, budget: float, limit: float) -> list[str]:
    rows = []
    for label, links, addresses in sizes:
        host = Host(f"{links}-{addresses}", links=links, addresses=addresses)
        try:
            me = [sys.executable, os.path.abspath(__file__), "--plain-inside", "--rounds",
                  str(rounds), "--budget", str(budget), "--limit", str(limit)]  # fmt: skip
            r = json.loads(sh(host.exec_argv(me)).stdout)
        finally:
            host.close()
        rows.append(plain_row(label, r, host.setup_s))
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


# --- --watch ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


class Watcher:
    """``if-master --watch`` in the host's namespace, supervising JOB."""

    def __init__(self, host: Host, tmp: Path, n: int) -> None:
        tool = str(Path(sys.executable).with_name("if-master"))
        self.term = tmp / f"term{n}"
        ready = tmp / f"ready{n}"
        argv = [tool, "--watch", "--vip", VIP, "--", sys.executable, "-c", JOB,
                str(self.term), str(ready)]  # fmt: skip
        # `ip netns exec` execs the command: the pid is if-master's own.
        self.proc = subprocess.Popen(
            host.exec_argv(argv), stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for(ready, 30):
            self.stop()
            raise SystemExit(f"the job under --watch did not start in {host.ns}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def churn(host: Host, seconds: float, addresses: int, flaps: int) -> None:
    """``addresses`` adds and as many removes on churn0 and ``flaps`` down/up of flap0,
    spread evenly over ``seconds`` through one `ip -batch` reading a pipe."""
    feed = subprocess.Popen(
        ["ip", "-n", host.ns, "-force", "-batch", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert feed.stdin is not None
    slices = max(1, int(seconds * 10))
    start = time.monotonic()
    added = flapped = 0
    for s in range(slices):
        lines = []
        want = addresses * (s + 1) // slices
        batch = range(added, want)
        lines += [f"addr add {ip4(160, i)}/32 dev churn0" for i in batch]
        lines += [f"addr del {ip4(160, i)}/32 dev churn0" for i in batch]
        added = want
        while flapped < flaps * (s + 1) // slices:
            lines += ["link set flap0 down", "link set flap0 up"]
            flapped += 1
        feed.stdin.write("\n".join(lines) + "\n")
        feed.stdin.flush()
        pause = start + (s + 1) * seconds / slices - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    feed.stdin.close()
    feed.wait()


def watch(
    sizes: list[tuple[str, int, int]],
    idle_s: float,
    churn_s: float,
    churn_addresses: int,
    flaps: int,
    samples: int,
) -> list[str]:
    rows = []
    for label, links, addresses in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="ifm-scale-"))
        host = Host(f"w{links}-{addresses}", links=links, addresses=addresses, churn=True)
        try:
            w = Watcher(host, tmp, 0)
            try:
                time.sleep(1)  # start-up done; what follows is steady state
                c0, t0 = cpu_seconds(w.proc.pid), time.monotonic()
                time.sleep(idle_s)
                idle = (cpu_seconds(w.proc.pid) - c0) / (time.monotonic() - t0)
                c0, t0 = cpu_seconds(w.proc.pid), time.monotonic()
                churn(host, churn_s, churn_addresses, flaps)
                time.sleep(0.5)  # let the watcher drain what the churn queued
                busy = (cpu_seconds(w.proc.pid) - c0) / (time.monotonic() - t0)
                alive = w.proc.poll() is None
            finally:
                w.stop()
            delays = []
            for n in range(samples):
                if n:  # each sample: VIP back, a fresh watcher
                    host.batch([f"addr add {VIP}/24 dev eth0"])
                w = Watcher(host, tmp, n + 1)
                try:
                    time.sleep(0.5)
                    t_del = time.monotonic()
                    host.batch([f"addr del {VIP}/24 dev eth0"])
                    if wait_for(w.term, 30):
                        delays.append((float(w.term.read_text()) - t_del) * 1000)
                finally:
                    w.stop()
        finally:
            host.close()
            shutil.rmtree(tmp, ignore_errors=True)
        delay = (
            f"{statistics.median(delays):.0f} / {max(delays):.0f}"
            if len(delays) == samples
            else f"no SIGTERM in 30 s ({len(delays)}/{samples})"
        )
        rows.append(
            f"| {label} | {idle * 100:.2f} | {busy * 100:.1f}{'' if alive else ' (watcher died)'} "
            f"| {delay} | {host.setup_s:.1f} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="plain runs: rounds per size")
    parser.add_argument("--budget", type=float, default=60.0, help="plain runs: s per size")
    parser.add_argument(
        "--limit", type=float, default=30.0, help="plain runs: s before one run is killed"
    )
    parser.add_argument("--part", choices=("plain", "watch", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="small sizes, short windows")
    parser.add_argument(
        "--sizes", nargs="+", metavar="LABEL", help="only the hosts whose labels start so"
    )
    parser.add_argument("--plain-inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # SIGTERM (a test's timeout, a kill) unwinds like Ctrl-C, so the namespaces are removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.plain_inside:
        plain_inside(args.rounds, args.budget, args.limit)
        return
    if args.quick:
        plain_sizes = [
            ("1 interface", 0, 0),
            ("50 interfaces", 49, 0),
            ("1,000 addresses", 0, 1000),
        ]
        watch_sizes = [("1 interface", 0, 0)]
        rounds, budget = min(args.rounds, 3), 10.0
        idle_s, churn_s, churn_addresses, flaps, samples = 1.0, 1.0, 50, 5, 1
    else:
        plain_sizes = [
            ("1 interface", 0, 0),
            ("50 interfaces", 49, 0),
            ("500 interfaces", 499, 0),
            ("2,000 interfaces", 1999, 0),
            ("1 address", 0, 1),
            ("1,000 addresses", 0, 1000),
            ("10,000 addresses", 0, 10000),
            ("50,000 addresses", 0, 50000),
        ]
        watch_sizes = [("1 interface", 0, 0), ("500 interfaces", 499, 0),
                       ("10,000 addresses", 0, 10000)]  # fmt: skip
        rounds, budget = args.rounds, args.budget
        idle_s, churn_s, churn_addresses, flaps, samples = 10.0, 20.0, 1000, 100, 3
    if args.sizes:
        plain_sizes = [h for h in plain_sizes if h[0].startswith(tuple(args.sizes))]
        watch_sizes = [h for h in watch_sizes if h[0].startswith(tuple(args.sizes))]
    cmd = "bench/scale.py " + " ".join(sys.argv[1:])
    py = sys.version.split()[0]
    if args.part in ("plain", "both"):
        rows = plain(plain_sizes, rounds, budget, args.limit)
        print(
            f"### Plain runs: `{cmd.strip()}` (python {py}, extra links: {Host.kind}, "
            f"medians after {WARMUP} warm-up rounds, ratios to `python -c pass`)\n"
        )
        print(
            "| host | floor ms | master x | not master x | master CPU x | not master CPU x "
            "| `--explain --json` x | `ip addr show \\| grep -q` x | kernel's dump x "
            "| floor RSS MiB "
            "| plain run RSS - floor MiB | explain RSS - floor MiB | decision right "
            "| rounds | set-up s |"
        )
        print("|---" * 15 + "|")
        print("\n".join(rows) + "\n", flush=True)
    if args.part in ("watch", "both"):
        rows = watch(watch_sizes, idle_s, churn_s, churn_addresses, flaps, samples)
        print(
            f"### --watch: `{cmd.strip()}` (python {py}; CPU of the supervising if-master "
            f"from /proc/PID/stat; idle {idle_s:g} s; churn {churn_addresses} address adds "
            f"and as many removes on one link plus {flaps} down/up flaps of another in "
            f"{churn_s:g} s; VIP loss to the job's SIGTERM over {samples} fresh watchers)\n"
        )
        print(
            "| host | idle CPU % | churn CPU % | VIP loss to SIGTERM ms (median / max) | set-up s |"
        )
        print("|---|---|---|---|---|")
        print("\n".join(rows) + "\n", flush=True)


if __name__ == "__main__":
    main()
