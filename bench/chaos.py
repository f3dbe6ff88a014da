#!/usr/bin/env python3
"""Exactly once under randomized faults: a Jepsen-style chaos run of the keepalived lab.

Run as root from a checkout, after ./test.sh:

    .venv/bin/python bench/chaos.py --nodes 3 --ticks 300 --seed 7 --profile all

It builds the cluster lab of ``tests/support/lab.py`` (real keepalived in network namespaces),
starts one tick driver per node inside that node's namespace and freezer cgroup, and fires
every profile's guarded job on every node at every tick, like cron: tick N at N x period plus
the node's own clock skew (drawn once) plus a per-tick wake-up jitter. Meanwhile a seeded
schedule of faults runs against the live cluster (stop, crash, pause, link cut, advert loss,
L2 partition, priority change). Every profile sees the same cluster and the same faults at
the same instants, so one run measures them all.

What ran is recorded by the jobs themselves in an append-only ledger (O_APPEND, one write a
line); the faults as they really happened in ``faults.jsonl``; each node's ``--explain
--json`` verdict at each tick in ``explain/``. The checker reads only those files, so a run
directory can be checked again later: ``bench/chaos.py --check RUN_DIR``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BOOT = time.CLOCK_BOOTTIME  # the clock of /proc/uptime, which the jobs read without a fork

#: Fault kinds, in table order. "partition" is the one no check on one node can see.
#: "pause" is a VM pause: every process of the node frozen and its network gone quiet (its
#: port off the bridge, link up), as the kernel of a paused VM neither hears nor answers;
#: "freeze" freezes the processes only, so the node's kernel still answers ARP meanwhile.
KINDS = ("stop", "crash", "pause", "freeze", "link", "adverts", "prio", "partition")
#: The kinds of the recommended deployment (``--etcd colocated``): SIGKILL the etcd raft
#: leader (restarted later), SIGSTOP one etcd member, step one node's wall clock as its
#: guards see it (libfaketime). Part of "all" there only, so today's seeded runs keep theirs.
ETCD_KINDS = ("leader", "etcdpause", "clock")
ALL_KINDS = KINDS + ETCD_KINDS
#: Seconds a fault of each kind lasts: (min, max).
DURATIONS = {
    "stop": (2.0, 10.0),
    "crash": (2.0, 10.0),
    "pause": (1.0, 15.0),
    "freeze": (1.0, 15.0),
    "link": (2.0, 10.0),
    "adverts": (2.0, 10.0),
    "prio": (4.0, 20.0),
    "partition": (2.0, 10.0),
    "leader": (2.0, 10.0),
    "etcdpause": (1.0, 10.0),
    "clock": (5.0, 30.0),
}
#: A clock step's size, seconds either way: (min, max).
CLOCK_STEP = (1, 90)
#: An HTTP Date's resolution: the slack of "on time by the cluster's clock" (ledger/wire.py).
DATE_RESOLUTION = 1.0

FREEZE_TIMEOUT = 30.0
THAW_BURST = 10.0  # seconds after a thaw during which late decisions are not called stalls

SEED_SCRIPT = """#!/bin/bash
FLOATING_IP_ADDRESS={vip}
if (ip addr show | grep "$FLOATING_IP_ADDRESS")
then
\teval $1
fi
"""

#: A short job: one ledger line, no fork (dash's read and echo are builtins).
SHORT_JOB = 'read s r </proc/uptime; echo "job $TICK $NODE $PROF $s" >>"$LEDGER"'
#: A long job (for --watch): a start line, then an end line when it ends or is stopped.
LONG_JOB = (
    'read s r </proc/uptime; echo "start $TICK $NODE $PROF $s" >>"$LEDGER"; '
    'end() { read e r </proc/uptime; echo "end $TICK $NODE $PROF $e" >>"$LEDGER"; exit 0; }; '
    "trap end TERM INT HUP; sleep $DUR & wait $!; end"
)
#: The job of a --ledger profile records the slot it ran for, not the tick that fired it:
#: `--every PERIOD` names the slot from the clock when the guard runs (the latest multiple of
#: the period at or before now + skew), so a tick fired late (a thawed node catching up)
#: claims the current slot. Exactly once is per slot; t0 is a multiple of the period in Unix
#: time, so slot N is tick N. The slot is counted from the guard's (the job's parent's) start
#: time, field 22 of /proc/PID/stat in centiseconds of CLOCK_BOOTTIME, not from the job's own
#: start, which --catch-up's wait and the claim put later. Still no fork. That count is only
#: a fallback: the job also records its parent's PID ($PPID: with --ledger if-master runs the
#: job as its child, to record its end, and wrote its own PID into the slot's etcd key), and
#: the checker counts each job for the slot whose key names its node and that PID (see
#: claimed_runs).
SLOT_JOB = (
    "read s r </proc/uptime; read l </proc/$PPID/stat; set -- ${{l##*)}}; "
    'echo "job $(( (${{20}} + {skew} - {t0}) / {period} )) $NODE $PROF $s $TICK $PPID" >>"$LEDGER"'
)
#: The --task of each ledger profile: the middle part of its slots' keys.
LEDGER_TASKS = {
    "chaos-ledger": "ledger",
    "chaos-ledger-catch-up": "ledger+catch-up",
    "chaos-plain-ledger": "plain+ledger+catch-up",
}
#: etcd members of --ledger: addresses on the lab's /24, after the nodes (.10...) and the VIP.
ETCD_HOSTS = (201, 202, 203)


def profiles(min_hold: float) -> dict[str, list[str]]:
    """Profile name -> guard options ("seed" is the bash script, not if-master)."""
    h = f"{min_hold:g}"
    return {
        "seed": [],
        "plain": [],
        "min-hold": ["--min-hold", h],
        "require-keepalived": ["--require-keepalived"],
        "arp-probe": ["--arp-probe"],
        "rk+min-hold": ["--require-keepalived", "--min-hold", h],
        "rk+min-hold+arp": ["--require-keepalived", "--min-hold", h, "--arp-probe"],
        # ... and run nothing on a verdict reached more than a second after the guard
        # started (an overloaded host's guard, stalled on the kernel's rtnl lock).
        "rk+min-hold+arp+delay": [
            "--require-keepalived",
            "--min-hold",
            h,
            "--arp-probe",
            "--max-delay",
            "1",
        ],  # fmt: skip
        "watch": ["--watch", "--grace", "1"],
    }


def ledger_profiles(
    min_hold: float, period: float, url: str, simplest: bool = False
) -> dict[str, list[str]]:
    """The --ledger profiles: a slot per tick (`--every` the tick period) in etcd; with
    --catch-up, a node that is not the master claims a slot nobody claimed 0.4 periods on.
    ``simplest``: also the plain VIP check with the ledger and --catch-up, nothing else."""
    every, late = f"{period:g}s", f"{3 * period:g}"
    slots = ["--every", every, "--skew", f"{period / 4:g}"]  # the skew as SLOT_JOB counts
    slots += ["--max-late", late, "--ledger", url]
    base = ["--require-keepalived", "--min-hold", f"{min_hold:g}", *slots]
    catch_up = ("--catch-up", f"{0.4 * period:g}")
    out = {
        "ledger": [*base, "--task", "chaos-ledger"],
        "ledger+catch-up": [*base, "--task", "chaos-ledger-catch-up", *catch_up],
    }
    if simplest:
        out["plain+ledger+catch-up"] = [*slots, "--task", "chaos-plain-ledger", *catch_up]
    return out


#: The profile the README recommends to careful users.
RECOMMENDED = "rk+min-hold+arp+delay"
LONG_PROFILES = ("watch",)
LEDGER_PROFILES = ("ledger", "ledger+catch-up", "plain+ledger+catch-up")


# -- the schedule ---------------------------------------------------------------------------


@dataclass
class Fault:
    """One scheduled fault: times in seconds from the run's t0."""

    id: int
    kind: str
    start: float
    duration: float
    pick: float  # a uniform [0, 1) draw that picks the target among the candidates

    @property
    def end(self) -> float:
        return self.start + self.duration


def make_schedule(
    seed: int, ticks: int, period: float, kinds: Sequence[str], rate: float
) -> list[Fault]:
    """The seeded fault schedule: a pure function of its arguments.

    A fault starts in a tick with probability `rate`, at a random point of that tick's period;
    the first len(kinds) faults take every kind once (shuffled), so even a short run sees them
    all. No fault starts in the first 3 ticks or ends in the last 8 (the cluster settles).
    """
    rng = random.Random(f"schedule:{seed}")
    order = list(kinds)
    rng.shuffle(order)
    faults: list[Fault] = []
    for n in range(3, ticks):
        if rng.random() >= rate:
            continue
        kind = order.pop(0) if order else rng.choice(list(kinds))
        lo, hi = DURATIONS[kind]
        start = (n + rng.random()) * period
        duration = round(rng.uniform(lo, hi), 2)
        pick = rng.random()
        if start + duration > (ticks - 8) * period:
            if len(faults) < len(kinds):
                order.insert(0, kind)  # every kind once: try this one again at the next tick
            continue
        faults.append(Fault(len(faults), kind, round(start, 3), duration, pick))
    return faults


def node_offsets(seed: int, names: Sequence[str], skew: float) -> dict[str, float]:
    """Each node's clock skew, drawn once per node."""
    rng = random.Random(f"skew:{seed}")
    return {name: round(rng.uniform(-skew, skew), 3) for name in names}


# -- the per-node tick driver (runs inside the node's namespace and cgroup) ------------------


def driver(config_path: str) -> int:
    """Fire every profile's guard for ticks 0..N-1 at t0 + N x period + offset + jitter.

    Late ticks (after a freeze) fire at once, one after the other, as cron catches up after a
    clock jump. Exits when every tick has fired and every child has ended.
    """
    cfg = json.loads(Path(config_path).read_text())
    node, ledger = cfg["node"], cfg["ledger"]
    rng = random.Random(f"jitter:{cfg['seed']}:{node}")
    explain_dir = Path(cfg["explain_dir"])
    errlog = open(cfg["errlog"], "a")  # noqa: SIM115 - open for the driver's lifetime
    ledger_fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    running: list[tuple[int, str, subprocess.Popen[bytes]]] = []

    def record(line: str) -> None:
        os.write(ledger_fd, (line + "\n").encode())

    def reap() -> None:
        for item in running[:]:
            tick, prof, proc = item
            if proc.poll() is not None:
                now = time.clock_gettime(BOOT)
                record(f"rc {tick} {node} {prof} {proc.returncode} {now:.3f}")
                running.remove(item)

    for n in range(cfg["ticks"]):
        due = cfg["t0"] + n * cfg["period"] + cfg["offset"] + rng.uniform(0, cfg["jitter"])
        while (now := time.clock_gettime(BOOT)) < due:
            reap()
            time.sleep(min(0.05, due - now))
        record(f"fire {n} {node} {now:.3f} {due:.3f}")
        base_env = {**os.environ, "TICK": str(n), "NODE": node, "LEDGER": ledger}
        base_env["IF_MASTER_NODE"] = node  # the node named in --ledger's records
        step = clock_step(cfg.get("clock_file"))
        if step:  # a "clock" fault: this tick's guards see the wall clock stepped
            base_env.update(faketime_env(cfg["faketime_lib"], step))
            record(f"clock {n} {node} {step}")
        with open(explain_dir / f"{node}-{n}.json", "wb") as out:
            proc = subprocess.Popen(cfg["explain"], stdout=out, stderr=errlog)
        running.append((n, "explain", proc))
        for prof, argv in cfg["profiles"].items():
            env = {**base_env, "PROF": prof, "DUR": str(cfg["long_duration"])}
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errlog)
            running.append((n, prof, proc))
    while running:
        reap()
        time.sleep(0.05)
    return 0


def clock_step(path: str | None) -> int:
    """The node's wall-clock step now (seconds; 0: none), as the "clock" fault wrote it."""
    if not path:
        return 0
    try:
        return int(Path(path).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def faketime_env(lib: str, step: int) -> dict[str, str]:
    """libfaketime for a guard: its wall clock ``step`` s off, CLOCK_MONOTONIC and
    CLOCK_BOOTTIME true (--max-delay, deadlines), and the shim that mends time.sleep then."""
    return {
        "LD_PRELOAD": lib,
        "FAKETIME": f"{step:+d}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": str(ROOT / "tests" / "support" / "clockshim"),
    }


def find_faketime() -> str | None:
    """Debian's libfaketime (package faketime), or None."""
    import glob

    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    return found[0] if found else None


# -- freezing a node ------------------------------------------------------------------------


class Freezer:
    """A node's freezer: cgroup v1 ``freezer``, else v2 ``cgroup.freeze``, else SIGSTOP."""

    def __init__(self, name: str, ns_pids: Any) -> None:
        self.ns_pids = ns_pids  # callable: every pid in the node's namespace (SIGSTOP fallback)
        self.path: Path | None = None
        self.version = 0
        v1 = Path("/sys/fs/cgroup/freezer")
        v2 = _cgroup2_mount()
        force = os.environ.get("IFM_CHAOS_FREEZER", "")  # v1, v2 or sigstop: to test each
        if force in ("", "v1") and (v1 / "tasks").exists():
            self.path, self.version = v1 / name, 1
        elif force in ("", "v2") and v2 is not None:
            self.path, self.version = v2 / name, 2
        if self.path is not None:
            try:
                self.path.mkdir()
            except OSError:
                self.path, self.version = None, 0

    @property
    def how(self) -> str:
        return {1: "cgroup v1 freezer", 2: "cgroup v2 cgroup.freeze"}.get(self.version, "SIGSTOP")

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """`argv` started inside the node's cgroup (a shell joins it, then execs argv)."""
        if self.path is None:
            return list(argv)
        procs = shlex.quote(str(self.path / "cgroup.procs"))
        return ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *argv]

    def freeze(self, frozen: bool) -> None:
        if self.version == 1:
            assert self.path is not None
            want = "FROZEN" if frozen else "THAWED"
            (self.path / "freezer.state").write_text(want)
            deadline = time.monotonic() + FREEZE_TIMEOUT
            while (self.path / "freezer.state").read_text().strip() != want:
                if time.monotonic() > deadline:
                    # A task stuck in the kernel (D state) keeps the group FREEZING: back out,
                    # or the node would stay half frozen for the rest of the run.
                    (self.path / "freezer.state").write_text("THAWED")
                    raise RuntimeError(f"{self.path}: not {want} after {FREEZE_TIMEOUT} s")
                time.sleep(0.01)
        elif self.version == 2:
            assert self.path is not None
            (self.path / "cgroup.freeze").write_text("1" if frozen else "0")
            deadline = time.monotonic() + FREEZE_TIMEOUT
            while f"frozen {int(frozen)}" not in (self.path / "cgroup.events").read_text():
                if time.monotonic() > deadline:
                    (self.path / "cgroup.freeze").write_text("0")
                    raise RuntimeError(f"{self.path}: frozen not {int(frozen)}")
                time.sleep(0.01)
        else:
            sig = signal.SIGSTOP if frozen else signal.SIGCONT
            for pid in self.ns_pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

    def remove(self) -> None:
        if self.path is None:
            return
        try:
            self.freeze(False)
        except (OSError, RuntimeError):
            pass
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def _cgroup2_mount() -> Path | None:
    for line in Path("/proc/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            path = Path(parts[1])
            if (path / "cgroup.procs").exists():
                return path
    return None


# -- the ledger (--ledger) ------------------------------------------------------------------


class Etcd:
    """Three etcd members on the lab's bridge and /24, every node reaching each of them.

    ``separate``: each member in a namespace of its own, never hit by a node's fault.
    ``colocated`` (the deployment the docs recommend): member i runs inside node i's
    namespace and freezer cgroup, on the node's own address, so a pause, freeze, link cut
    or partition of the node hits its member too (keepalived's SIGKILL does not). The
    factory's close removes the namespaces; close() kills the members."""

    def __init__(
        self,
        lab: Any,
        factory: Any,
        workdir: Path,
        prefix: str,
        *,
        colocated: bool = False,
        freezers: dict[str, Freezer] | None = None,
    ) -> None:
        from tests.support.netnslib import unique_name, veth

        net4 = lab.nodes[0].addr4.rsplit(".", 1)[0]
        self.colocated = colocated
        if colocated:
            assert freezers is not None and len(lab.nodes) >= 3
            members = lab.nodes[:3]
            self.ips = [n.addr4 for n in members]
            self.namespaces: list[Any] = [n.ns for n in members]
            self.wraps = [freezers[n.name].wrap for n in members]
            self.hosts = [n.name for n in members]
        else:
            self.ips = [f"{net4}.{h}" for h in ETCD_HOSTS]
            self.namespaces = []
            self.wraps = [list for _ in ETCD_HOSTS]
            self.hosts = [f"e{i}" for i in range(1, len(ETCD_HOSTS) + 1)]
        self.procs: list[subprocess.Popen[str]] = []
        self.argvs: list[list[str]] = []
        self.workdir = workdir
        self.prefix = prefix
        self.url = "etcd://" + ",".join(f"{ip}:2379" for ip in self.ips) + "/" + prefix
        cluster = ",".join(f"e{i}=http://{ip}:2380" for i, ip in enumerate(self.ips, 1))
        workdir.mkdir(parents=True, exist_ok=True)
        for i, ip in enumerate(self.ips, 1):
            if not colocated:
                ns = factory("ket")
                self.namespaces.append(ns)
                port = unique_name("q")
                veth(lab.switch, port, ns, "eth0")
                lab.switch.ip("link", "set", port, "master", lab.bridge)
                ns.ip("link", "set", "lo", "up")
                ns.ip("addr", "add", f"{ip}/24", "dev", "eth0")
            argv = [
                "etcd", "--name", f"e{i}", "--data-dir", str(workdir / f"e{i}.data"),
                "--listen-client-urls", f"http://{ip}:2379",
                "--advertise-client-urls", f"http://{ip}:2379",
                "--listen-peer-urls", f"http://{ip}:2380",
                "--initial-advertise-peer-urls", f"http://{ip}:2380",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", prefix, "--log-level", "warn",
            ]  # fmt: skip
            self.argvs.append(argv)
            self.procs.append(self.spawn(i - 1))

    def spawn(self, i: int) -> subprocess.Popen[str]:
        """Start member i (again: its data directory makes it rejoin as itself)."""
        argv = self.wraps[i](self.namespaces[i].exec_argv(self.argvs[i]))
        with open(self.workdir / f"e{i + 1}.log", "a") as log:
            return subprocess.Popen(argv, text=True, stdout=log, stderr=subprocess.STDOUT)

    def leader(self) -> int | None:
        """The index of the member that is the raft leader now, asked of each member in its
        own namespace (a frozen or cut-off one does not answer); None if none says so."""
        for i, (ns, ip) in enumerate(zip(self.namespaces, self.ips)):
            argv = ["etcdctl", f"--endpoints={ip}:2379", "--dial-timeout=1s"]
            argv += ["--command-timeout=1s", "endpoint", "status", "-w", "json"]
            done = ns.run(argv, check=False, env={**os.environ, "ETCDCTL_API": "3"}, timeout=5)
            try:
                status = json.loads(done.stdout)[0]["Status"]
            except (ValueError, LookupError, TypeError):
                continue
            if status["header"]["member_id"] == status["leader"]:
                return i
        return None

    def wait_ready(self, ns: Any, timeout: float = 30.0) -> None:
        """Until a write succeeds from a node's namespace (a leader, a quorum, the path)."""
        argv = ["etcdctl", "--endpoints=" + ",".join(f"{ip}:2379" for ip in self.ips)]
        argv += ["--dial-timeout=2s", "--command-timeout=3s", "put", "/ifm-chaos-ready", "1"]
        deadline = time.monotonic() + timeout
        while True:
            done = ns.run(argv, check=False, env={**os.environ, "ETCDCTL_API": "3"})
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd not ready in {timeout} s: {done.stderr}")
            time.sleep(0.3)

    def claims(self) -> list[dict[str, Any]]:
        """Every slot key of this run: task, slot, and the JSON its claimer wrote (node, pid,
        start; end and status once the job ended). Read from a member's own namespace."""
        argv = ["etcdctl", f"--endpoints={self.ips[0]}:2379", "--command-timeout=10s"]
        argv += ["get", "--prefix", f"/{self.prefix}/", "-w", "json"]
        done = self.namespaces[0].run(argv, check=True, env={**os.environ, "ETCDCTL_API": "3"})
        out = []
        for kv in json.loads(done.stdout).get("kvs") or []:
            key = base64.b64decode(kv["key"]).decode()
            task, slot = key[len(self.prefix) + 2 :].split("/")
            out.append({"task": task, "slot": slot, **json.loads(base64.b64decode(kv["value"]))})
        return out

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGCONT)  # an "etcdpause" cut short
                except ProcessLookupError:
                    pass
                proc.kill()
            proc.wait(timeout=10)


# -- the run --------------------------------------------------------------------------------


@dataclass
class Happened:
    """A fault as it really ran: who, when (seconds from t0), or why it was skipped."""

    id: int
    kind: str
    target: str | None
    start: float
    end: float
    note: str = ""
    skipped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def run(args: argparse.Namespace, rundir: Path) -> Path:
    """Run the cluster, the drivers and the faults; the run directory, ready for the checker."""
    sys.path.insert(0, str(ROOT))
    from tests.support import lab as labmod
    from tests.support.netnslib import IF_MASTER, NetnsFactory

    if os.geteuid() != 0:
        sys.exit("chaos.py needs root (network namespaces, keepalived, cgroups)")
    # The whole lab (keepalived, drivers, guards, faults) ahead of other work on the machine:
    # a starved driver fires late, which would look like a pause that nobody injected.
    os.nice(-args.nice)
    if_master = str(ROOT / ".venv" / "bin" / "if-master")
    if not os.access(if_master, os.X_OK):
        if_master = IF_MASTER
    python = sys.executable
    profs = profiles(args.min_hold)
    if args.profile != "all":
        profs = {k: v for k, v in profs.items() if k in args.profile.split(",")}
    if args.etcd == "colocated":
        args.ledger = True  # the deployment is the ledger's
    every = ALL_KINDS if args.etcd == "colocated" else KINDS
    kinds = [k for k in ALL_KINDS if k in args.kinds.split(",")] if args.kinds != "all" else every
    if any(k in ETCD_KINDS[:2] for k in kinds) and not args.ledger:
        sys.exit("chaos.py: the etcd fault kinds need --ledger")
    faketime_lib = find_faketime()
    if "clock" in kinds and faketime_lib is None:
        sys.exit("chaos.py: the clock fault needs libfaketime (apt-get install faketime)")
    schedule = make_schedule(args.seed, args.ticks, args.period, kinds, args.rate)
    (rundir / "explain").mkdir(parents=True)
    ledger = rundir / "ledger"
    ledger.touch()
    faults_log = rundir / "faults.jsonl"
    factory = NetnsFactory()
    freezers: dict[str, Freezer] = {}
    drivers: list[subprocess.Popen[bytes]] = []
    lab = None
    etcd = None
    try:
        lab = labmod.Lab(factory, rundir, args.nodes)
        if args.priorities != "lab":
            prios = [int(p) for p in args.priorities.split(",")]
            for node, prio in zip(lab.nodes, prios * args.nodes):
                node.priority = prio
        for node in lab.nodes:
            freezers[node.name] = Freezer(f"ifm-chaos-{os.getpid()}-{node.name}", node.ns.pids)

        def start_keepalived(node: Any) -> None:
            """The lab's start_keepalived, with the process put into the node's cgroup."""
            conf = lab.workdir / f"{node.name}.conf"
            conf.write_text(lab.config(lab, node))
            argv = [
                labmod.KEEPALIVED,
                *("-n", "-l", "-D", "-G", "-P"),
                *("-f", str(conf)),
                *("-p", str(lab.workdir / f"{node.name}.pid")),
                *("-r", str(lab.workdir / f"{node.name}.vrrp.pid")),
            ]
            log = node.log.open("a")
            node.log_file = log
            node.proc = subprocess.Popen(
                freezers[node.name].wrap(node.ns.exec_argv(argv)),
                text=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        for node in lab.nodes:
            start_keepalived(node)
        if args.ledger:
            # A key prefix of its own per run: keys never expire, slots of a run are new.
            prefix = f"ifm-chaos-s{args.seed}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
            colocated = args.etcd == "colocated"
            etcd = Etcd(
                lab, factory, rundir / "etcd", prefix, colocated=colocated, freezers=freezers
            )
            etcd.wait_ready(lab.nodes[0].ns)
            extra = ledger_profiles(args.min_hold, args.period, etcd.url, simplest=colocated)
            if args.profile != "all":
                extra = {k: v for k, v in extra.items() if k in args.profile.split(",")}
            profs.update(extra)
        lab.wait_single_holder(timeout=15)
        seed_script = rundir / "if_master.sh"
        seed_script.write_text(SEED_SCRIPT.format(vip=lab.vip))
        seed_script.chmod(0o755)
        vip = ["--vip", lab.vip]
        job = {False: ["sh", "-c", SHORT_JOB], True: ["sh", "-c", LONG_JOB]}
        argvs: dict[str, list[str]] = {}
        for name, opts in profs.items():
            long = name in LONG_PROFILES
            if name == "seed":
                argvs[name] = [str(seed_script), shlex.join(job[long])]
            else:
                argvs[name] = [if_master, *opts, *vip, "--", *job[long]]
        explain = [if_master, "--explain", "--json", "--require-keepalived"]
        explain += ["--min-hold", f"{args.min_hold:g}", "--arp-probe", *vip]
        offsets = node_offsets(args.seed, [n.name for n in lab.nodes], args.skew)
        # Tick 0 comes once the elected master has held the VIP longer than --min-hold, at a
        # multiple of the period in Unix time (--every's slots; CLOCK_BOOTTIME runs with it).
        boot, real = time.clock_gettime(BOOT), time.time()
        t0_real = -(-(real + args.min_hold + 2.0) // args.period) * args.period
        t0 = boot + (t0_real - real)
        if etcd is not None:
            # The guard's slot: floor((now + skew) / period), skew a quarter of a period.
            cs = {"skew": round(25 * args.period), "t0": round(100 * t0)}
            slot_job = SLOT_JOB.format(period=round(100 * args.period), **cs)
            for name in LEDGER_PROFILES:
                if name in argvs:
                    argvs[name] = [
                        *argvs[name][: argvs[name].index("--") + 1],
                        "sh",
                        "-c",
                        slot_job,
                    ]
        meta = {
            "seed": args.seed,
            "nodes": args.nodes,
            "ticks": args.ticks,
            "period": args.period,
            "skew": args.skew,
            "jitter": args.jitter,
            "min_hold": args.min_hold,
            "rate": args.rate,
            "long_duration": args.long_periods * args.period,
            "kinds": list(kinds),
            "profiles": {k: (["if_master.sh"] if k == "seed" else v) for k, v in profs.items()},
            "recommended": RECOMMENDED,
            "offsets": offsets,
            "priorities": {n.name: n.priority for n in lab.nodes},
            "t0": t0,
            "t0_real": t0_real,
            "vip": lab.vip,
            "freezer": freezers[lab.nodes[0].name].how,
            "schedule": [asdict(f) for f in schedule],
            "command": " ".join(shlex.quote(a) for a in sys.argv),
            "advert_int": labmod.ADVERT_INT,
            "ledger": etcd.url if etcd is not None else None,
            "etcd": args.etcd if etcd is not None else None,
        }
        (rundir / "meta.json").write_text(json.dumps(meta, indent=1))
        for node in lab.nodes:
            cfg = {
                "node": node.name,
                "ledger": str(ledger),
                "seed": args.seed,
                "ticks": args.ticks,
                "period": args.period,
                "offset": offsets[node.name],
                "jitter": args.jitter,
                "t0": t0,
                "long_duration": meta["long_duration"],
                "profiles": argvs,
                "explain": explain,
                "explain_dir": str(rundir / "explain"),
                "errlog": str(rundir / f"{node.name}.guard-stderr"),
                "clock_file": str(rundir / f"{node.name}.clock") if "clock" in kinds else None,
                "faketime_lib": faketime_lib,
            }
            path = rundir / f"{node.name}.driver.json"
            path.write_text(json.dumps(cfg))
            argv = [python, str(Path(__file__).resolve()), "--driver", str(path)]
            drivers.append(subprocess.Popen(freezers[node.name].wrap(node.ns.exec_argv(argv))))
        chaos = Chaos(lab, labmod, freezers, start_keepalived, t0, faults_log)
        chaos.etcd, chaos.seed = etcd, args.seed
        if "clock" in kinds:
            for node in lab.nodes:
                chaos.clock_files[node.name] = rundir / f"{node.name}.clock"
                chaos.clock_files[node.name].write_text("0\n")
        threads = [
            threading.Thread(target=chaos.run_fault, args=(f,), daemon=True) for f in schedule
        ]
        sampler = threading.Thread(
            target=chaos.sample, args=(rundir / "holders.jsonl",), daemon=True
        )
        sampler.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = t0 + args.ticks * args.period + meta["long_duration"] + 120
        for proc in drivers:
            proc.wait(timeout=max(1.0, deadline - time.clock_gettime(BOOT)))
        chaos.done.set()
        sampler.join()
        if etcd is not None:
            (rundir / "claims.json").write_text(json.dumps(etcd.claims(), indent=0))
        (rundir / "keepalived.logs").write_text(lab.logs())
    finally:
        for fr in freezers.values():
            try:
                fr.freeze(False)
            except (OSError, RuntimeError):
                pass
        for proc in drivers:
            if proc.poll() is None:
                proc.kill()
        if etcd is not None:
            etcd.close()
        if lab is not None:
            try:
                lab.close()
            except (AssertionError, OSError, subprocess.SubprocessError) as exc:
                print(f"chaos: lab close: {exc}", file=sys.stderr)
        factory.close()
        for fr in freezers.values():
            fr.remove()
    return rundir


class Chaos:
    """Runs the faults of the schedule against the live lab, one thread per fault."""

    def __init__(
        self,
        lab: Any,
        labmod: Any,
        freezers: dict[str, Freezer],
        start_keepalived: Any,
        t0: float,
        log: Path,
    ) -> None:
        self.lab, self.labmod, self.freezers = lab, labmod, freezers
        self.start_keepalived = start_keepalived
        self.t0 = t0
        self.log = log
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.done = threading.Event()
        self.busy: set[str] = set()  # nodes under a node fault
        self.adverts_off = 0  # how many advert-loss faults are active
        self.detached: set[str] = set()  # partitioned nodes (port off the bridge)
        self.prio_busy = False
        self.carrier: dict[int, bool] = {}  # pause fault id -> the node's link kept carrier
        self.etcd: Etcd | None = None  # --ledger's members (the etcd kinds need them)
        self.members_busy: set[int] = set()  # members under an etcd fault
        self.clock_files: dict[str, Path] = {}  # node -> its guards' wall-clock step file
        self.seed = 0
        self.steps: dict[int, int] = {}  # clock fault id -> its step

    def now(self) -> float:
        return time.clock_gettime(BOOT) - self.t0

    def sample(self, path: Path, every: float = 0.2) -> None:
        """Record who holds the VIP whenever that changes (a sample every `every` s)."""
        last = None
        with path.open("a") as out:
            while not self.done.is_set():
                t = self.now()
                holders = sorted(self.lab.holders())
                if holders != last:
                    out.write(json.dumps({"t": round(t, 3), "holders": holders}) + "\n")
                    out.flush()
                    last = holders
                self.done.wait(every)

    def sleep_until(self, t: float) -> None:
        while (left := t - self.now()) > 0:
            time.sleep(min(left, 0.5))

    def write(self, h: Happened) -> None:
        with self.log_lock, self.log.open("a") as out:
            out.write(json.dumps(asdict(h)) + "\n")

    def pick_target(self, fault: Fault) -> Any:
        """The current VIP holder not under another node fault (else any free node)."""
        holders = set(self.lab.holders())
        free = [n for n in self.lab.nodes if n.name not in self.busy]
        masters = [n for n in free if n.name in holders]
        pool = masters or free
        if not pool:
            return None
        return pool[int(fault.pick * len(pool))]

    def run_fault(self, fault: Fault) -> None:
        self.sleep_until(fault.start)
        try:
            getattr(self, f"do_{fault.kind}")(fault)
        except Exception as exc:  # a fault that could not run is recorded, never fatal
            self.write(
                Happened(fault.id, fault.kind, None, self.now(), self.now(), repr(exc), True)
            )

    # one method per kind: start the fault, wait its duration, heal it, record it

    def _node_fault(self, fault: Fault, start: Any, heal: Any) -> None:
        with self.lock:
            node = self.pick_target(fault)
            if node is not None:
                self.busy.add(node.name)
        if node is None:
            t = self.now()
            self.write(Happened(fault.id, fault.kind, None, t, t, "no free node", True))
            return
        was_master = node.name in self.lab.holders()
        t_start = self.now()
        try:
            try:
                start(node)
            except Exception as exc:
                try:
                    heal(node)  # undo whatever half of the fault took hold
                finally:
                    t = self.now()
                    self.write(
                        Happened(fault.id, fault.kind, node.name, t_start, t, repr(exc), True)
                    )
                return
            self.sleep_until(fault.end)
            heal(node)
        finally:
            t_end = self.now()
            with self.lock:
                self.busy.discard(node.name)
        extra = {"was_master": was_master}
        if fault.id in self.carrier:
            extra["carrier"] = self.carrier[fault.id]
        if fault.id in self.steps:
            extra["step"] = self.steps[fault.id]
        self.write(Happened(fault.id, fault.kind, node.name, t_start, t_end, extra=extra))

    def do_stop(self, fault: Fault) -> None:
        def start(node: Any) -> None:
            self.lab.stop_keepalived(node, signal.SIGTERM)
            self.lab.wait_stopped(node, timeout=10)

        self._node_fault(fault, start, self.start_keepalived)

    def do_crash(self, fault: Fault) -> None:
        def start(node: Any) -> None:
            self.lab.stop_keepalived(node, signal.SIGKILL)

        self._node_fault(fault, start, self.start_keepalived)

    def do_freeze(self, fault: Fault) -> None:
        self._node_fault(
            fault,
            lambda n: self.freezers[n.name].freeze(True),
            lambda n: self.freezers[n.name].freeze(False),
        )

    def do_pause(self, fault: Fault) -> None:
        """A VM pause: processes frozen, and the node's kernel cut off the segment meanwhile."""

        def start(node: Any) -> None:
            self.freezers[node.name].freeze(True)
            self._detach(node)
            # A paused VM's NIC keeps its carrier: so does the node's veth (its peer is up,
            # only off the bridge). Checked, and recorded in faults.jsonl.
            flags = node.ns.ip("-o", "link", "show", node.ifname).stdout
            self.carrier[fault.id] = "NO-CARRIER" not in flags and "LOWER_UP" in flags

        def heal(node: Any) -> None:
            self._attach(node)
            self.freezers[node.name].freeze(False)

        self._node_fault(fault, start, heal)

    def _detach(self, node: Any) -> None:
        """The node's port off the bridge: its link stays up, nothing reaches anyone."""
        self.lab.switch.ip("link", "set", node.port, "nomaster")
        with self.lock:
            self.detached.add(node.name)

    def _attach(self, node: Any) -> None:
        self.lab.switch.ip("link", "set", node.port, "master", self.lab.bridge)
        with self.lock:
            self.detached.discard(node.name)
            if self.adverts_off:
                self._set_flood(node, False)

    def do_link(self, fault: Fault) -> None:
        self._node_fault(fault, self.lab.cut_link, self.lab.restore_link)

    def do_partition(self, fault: Fault) -> None:
        """An L2 partition: the node's port leaves the bridge; its link stays up."""

        self._node_fault(fault, self._detach, self._attach)

    def _set_flood(self, node: Any, flow: bool) -> None:
        if node.name in self.detached:
            return
        argv = ["bridge", "link", "set", "dev", node.port, "mcast_flood", "on" if flow else "off"]
        self.lab.switch.run(argv, check=True)

    def do_adverts(self, fault: Fault) -> None:
        """VRRP adverts lost, links up: the bridge stops flooding multicast (as the lab does)."""
        t_start = self.now()
        with self.lock:
            self.adverts_off += 1
            for node in self.lab.nodes:
                self._set_flood(node, False)
        self.sleep_until(fault.end)
        with self.lock:
            self.adverts_off -= 1
            if not self.adverts_off:
                for node in self.lab.nodes:
                    self._set_flood(node, True)
        self.write(Happened(fault.id, fault.kind, None, t_start, self.now()))

    def do_prio(self, fault: Fault) -> None:
        """Raise a backup above the master and reload it (SIGHUP); lower it back later."""
        with self.lock:
            busy, self.prio_busy = self.prio_busy, True
        if busy:
            t = self.now()
            self.write(Happened(fault.id, "prio", None, t, t, "another prio fault", True))
            return
        try:
            holders = set(self.lab.holders())
            others = [n for n in self.lab.nodes if n.name not in holders]
            node = others[int(fault.pick * len(others))] if others else self.lab.nodes[0]
            old = node.priority
            top = max(n.priority for n in self.lab.nodes)
            t_start = self.now()
            self._reload(node, min(top + 20, 254))
            self.sleep_until(fault.end)
            self._reload(node, old)
            extra = {"priority": top + 20, "restored": old}
            self.write(Happened(fault.id, "prio", node.name, t_start, self.now(), extra=extra))
        finally:
            with self.lock:
                self.prio_busy = False

    def _member_fault(self, fault: Fault, choose: Any, start: Any, heal: Any) -> None:
        """An etcd fault on one member: ``choose`` picks its index (or None), ``start`` and
        ``heal`` act on it; recorded with the member's host (its node when co-located)."""
        etcd = self.etcd
        t = self.now()
        if etcd is None:
            self.write(Happened(fault.id, fault.kind, None, t, t, "no etcd (--ledger)", True))
            return
        with self.lock:
            i = choose(etcd)
            if i is not None and i in self.members_busy:
                i = None
            if i is not None:
                self.members_busy.add(i)
        if i is None:
            self.write(Happened(fault.id, fault.kind, None, t, t, "no member to fault", True))
            return
        t_start = self.now()
        try:
            start(etcd, i)
            self.sleep_until(fault.end)
            heal(etcd, i)
        finally:
            with self.lock:
                self.members_busy.discard(i)
        extra = {"member": f"e{i + 1}", "colocated": etcd.colocated}
        self.write(Happened(fault.id, fault.kind, etcd.hosts[i], t_start, self.now(), extra=extra))

    def do_leader(self, fault: Fault) -> None:
        """SIGKILL the raft leader; start it again (same data directory) at the fault's end."""

        def kill(etcd: Etcd, i: int) -> None:
            etcd.procs[i].kill()
            etcd.procs[i].wait(timeout=10)

        def restart(etcd: Etcd, i: int) -> None:
            etcd.procs[i] = etcd.spawn(i)

        self._member_fault(fault, lambda etcd: etcd.leader(), kill, restart)

    def do_etcdpause(self, fault: Fault) -> None:
        """SIGSTOP one member (any: the leader or not), SIGCONT at the fault's end."""

        def pick(etcd: Etcd) -> int:
            return int(fault.pick * len(etcd.procs))

        def stop(etcd: Etcd, i: int) -> None:
            os.kill(etcd.procs[i].pid, signal.SIGSTOP)

        def cont(etcd: Etcd, i: int) -> None:
            os.kill(etcd.procs[i].pid, signal.SIGCONT)

        self._member_fault(fault, pick, stop, cont)

    def do_clock(self, fault: Fault) -> None:
        """Step one node's wall clock, as the guards its driver starts see it, by +-(1..90) s
        (drawn from the seed and the fault's id); back to true at the fault's end."""
        rng = random.Random(f"clock:{self.seed}:{fault.id}")
        step = rng.randint(*CLOCK_STEP) * rng.choice((-1, 1))

        def start(node: Any) -> None:
            path = self.clock_files.get(node.name)
            if path is None:
                raise RuntimeError("no faketime (apt-get install faketime)")
            path.write_text(f"{step}\n")

        def heal(node: Any) -> None:
            path = self.clock_files.get(node.name)
            if path is not None:
                path.write_text("0\n")

        self.steps[fault.id] = step
        self._node_fault(fault, start, heal)

    def _reload(self, node: Any, priority: int) -> None:
        node.priority = priority
        (self.lab.workdir / f"{node.name}.conf").write_text(self.lab.config(self.lab, node))
        if node.proc is not None and node.proc.poll() is None:
            os.kill(node.proc.pid, signal.SIGHUP)


# -- the checker ----------------------------------------------------------------------------


@dataclass
class Ledger:
    fires: dict[tuple[int, str], float]  # (tick, node) -> when it fired (from t0)
    due: dict[tuple[int, str], float]  # (tick, node) -> when it was due (from t0)
    runs: dict[str, dict[int, dict[str, float]]]  # profile -> tick -> node -> job start
    intervals: dict[str, list[tuple[str, int, float, float | None]]]  # long jobs
    rcs: dict[str, dict[int, dict[str, int]]]  # profile -> tick -> node -> exit status
    ended: dict[str, dict[int, dict[str, float]]]  # profile -> tick -> node -> when reaped
    #: Jobs that recorded their PID (the ledger profiles): profile -> [(node, pid, tick, start)].
    jobs: dict[str, list[tuple[str, int, int, float]]] = field(default_factory=dict)


def read_ledger(path: Path, t0: float) -> Ledger:
    fires: dict[tuple[int, str], float] = {}
    due: dict[tuple[int, str], float] = {}
    runs: dict[str, dict[int, dict[str, float]]] = {}
    starts: dict[tuple[str, int, str], float] = {}
    ends: dict[tuple[str, int, str], float] = {}
    rcs: dict[str, dict[int, dict[str, int]]] = {}
    ended: dict[str, dict[int, dict[str, float]]] = {}
    jobs: dict[str, list[tuple[str, int, int, float]]] = {}
    for line in path.read_text().splitlines():
        p = line.split()
        if not p:
            continue
        if p[0] == "fire":
            fires[int(p[1]), p[2]] = float(p[3]) - t0
            due[int(p[1]), p[2]] = float(p[4]) - t0
        elif p[0] in ("job", "start"):
            t = float(p[4]) - t0
            runs.setdefault(p[3], {}).setdefault(int(p[1]), {}).setdefault(p[2], t)
            if p[0] == "job" and len(p) > 6:
                jobs.setdefault(p[3], []).append((p[2], int(p[6]), int(p[1]), t))
            if p[0] == "start":
                starts[p[3], int(p[1]), p[2]] = t
        elif p[0] == "end":
            ends[p[3], int(p[1]), p[2]] = float(p[4]) - t0
        elif p[0] == "rc":
            rcs.setdefault(p[3], {}).setdefault(int(p[1]), {})[p[2]] = int(p[4])
            if len(p) > 5:
                ended.setdefault(p[3], {}).setdefault(int(p[1]), {})[p[2]] = float(p[5]) - t0
    intervals: dict[str, list[tuple[str, int, float, float | None]]] = {}
    for (prof, tick, node), s in starts.items():
        intervals.setdefault(prof, []).append((node, tick, s, ends.get((prof, tick, node))))
    return Ledger(fires, due, runs, intervals, rcs, ended, jobs)


def claimed_runs(
    ledger: Ledger, claims: Sequence[dict[str, Any]], t0_real: float, period: float
) -> dict[str, list[dict[str, Any]]]:
    """Count each ledger profile's jobs for the slot etcd says their guard claimed.

    A job is matched to the key whose record names its node and its guard's PID (the job's
    parent). A job no key names ran without a claim, which the ledger forbids: it is counted
    for the slot its guard's start time falls in, so it shows as a double or a run of its
    own, and is listed. A key no job matches is a claim whose job never wrote its line.
    Replaces ``ledger.runs`` for those profiles; returns the unmatched of both kinds.
    """
    won: dict[tuple[str, str, int], int] = {}
    for c in claims:
        prof = LEDGER_TASKS.get(c["task"])
        if prof is None:
            continue
        slot = datetime.strptime(c["slot"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        won[prof, c["node"], int(c["pid"])] = round((slot.timestamp() - t0_real) / period)
    odd: dict[str, list[dict[str, Any]]] = {
        "unclaimed_jobs": [],
        "claims_without_job": [],
        "stopped_by_guard": [],
    }
    for c in claims:
        # The ledger profiles use neither --watch nor --timeout, and no fault signals a job:
        # a SIGTERM status is the job's own guard stopping it (a catch-up run, issue 21).
        if c["task"] in LEDGER_TASKS and c.get("status") == 128 + signal.SIGTERM:
            odd["stopped_by_guard"].append(
                {"profile": LEDGER_TASKS[c["task"]], "node": c["node"], "slot": c["slot"]}
            )
    matched: set[tuple[str, str, int]] = set()
    for prof in LEDGER_PROFILES:
        runs: dict[int, dict[str, float]] = {}
        for node, pid, guess, t in ledger.jobs.get(prof, []):
            tick = won.get((prof, node, pid))
            if tick is None:
                odd["unclaimed_jobs"].append({"profile": prof, "node": node, "pid": pid})
                tick = guess
            matched.add((prof, node, pid))
            nodes = runs.setdefault(tick, {})
            name = node
            while name in nodes:  # the same node twice for one slot is a double too
                name += "+"
            nodes[name] = t
        if prof in ledger.runs:
            ledger.runs[prof] = runs
    for (prof, node, pid), tick in won.items():
        if (prof, node, pid) not in matched:
            odd["claims_without_job"].append({"profile": prof, "node": node, "tick": tick})
    return odd


def overlap_seconds(
    intervals: Sequence[tuple[str, int, float, float | None]],
    frozen: dict[str, list[tuple[float, float]]],
    default_len: float,
) -> tuple[float, list[tuple[float, float]]]:
    """Seconds during which jobs of two or more nodes ran at once (frozen time excluded)."""
    events: list[tuple[float, str, int]] = []
    for node, _tick, s, e in intervals:
        end = e if e is not None else s + default_len
        for a, b in _subtract((s, end), frozen.get(node, [])):
            events += [(a, node, 1), (b, node, -1)]
    events.sort(key=lambda ev: (ev[0], ev[2]))
    count: dict[str, int] = {}
    total, last, spans = 0.0, 0.0, []
    for t, node, d in events:
        if sum(1 for c in count.values() if c > 0) >= 2 and t > last:
            total += t - last
            if spans and abs(spans[-1][1] - last) < 1e-9:
                spans[-1] = (spans[-1][0], t)
            else:
                spans.append((last, t))
        count[node] = count.get(node, 0) + d
        last = t
    return total, spans


def _subtract(
    span: tuple[float, float], holes: Sequence[tuple[float, float]]
) -> Iterator[tuple[float, float]]:
    a, b = span
    for h0, h1 in sorted(holes):
        if h1 <= a or h0 >= b:
            continue
        if h0 > a:
            yield (a, h0)
        a = max(a, h1)
    if a < b:
        yield (a, b)


def check(rundir: Path, settle: float | None = None) -> dict[str, Any]:
    """Count exactly-once, doubles and misses per profile and fault kind; list every anomaly."""
    meta = json.loads((rundir / "meta.json").read_text())
    period, ticks, t0 = meta["period"], meta["ticks"], meta["t0"]
    min_hold = meta["min_hold"]
    faults = []
    log = rundir / "faults.jsonl"
    if log.exists():
        faults = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    ran = [f for f in faults if not f["skipped"]]
    # A fault is "around" a tick from one period before it starts until the cluster has
    # settled after it ends: a failover (Master_Down_Interval, ~3.6 s), --min-hold, a period.
    adv = meta.get("advert_int", 1.0)
    if settle is None:
        settle = 4 * adv + min_hold + 2 * period
    ledger = read_ledger(rundir / "ledger", t0)
    claims_file = rundir / "claims.json"
    ledger_odd: dict[str, list[dict[str, Any]]] = {}
    if claims_file.exists() and "t0_real" in meta:
        claims = json.loads(claims_file.read_text())
        ledger_odd = claimed_runs(ledger, claims, meta["t0_real"], period)
    frozen: dict[str, list[tuple[float, float]]] = {}
    for f in ran:
        if f["kind"] in ("pause", "freeze"):
            frozen.setdefault(f["target"], []).append((f["start"], f["end"]))

    last_fire: dict[int, float] = {}
    lags: list[float] = []
    due = {(int(k[0]), k[1]): v for k, v in ledger.due.items()}
    for (tick, node), t in ledger.fires.items():
        last_fire[tick] = max(last_fire.get(tick, t), t)
        if not any(a <= due[tick, node] <= b for a, b in frozen.get(node, [])):
            lags.append(t - due[tick, node])
    lags.sort()

    # Stalls: a node that fired more than a period late, or a guard that decided more than a
    # period after its fire, without a pause or freeze of that node in between. A loaded
    # machine does that (here: other work holding the kernel's rtnl lock, which every netlink
    # query waits for); the guard then decides about a tick long gone.
    stalled: set[int] = set()
    last_seen: dict[int, float] = {}

    def was_frozen(node: str, a: float, b: float) -> bool:
        """Frozen at some point in [a, b], or thawing: a thawed node fires its missed ticks
        all at once, and that burst of processes takes a few seconds (THAW_BURST)."""
        return any(x <= b and a <= y + THAW_BURST for x, y in frozen.get(node, []))

    for (tick, node), t in ledger.fires.items():
        if t - due[tick, node] > period and not was_frozen(node, due[tick, node], t):
            stalled.add(tick)
    decided: list[tuple[int, str, float]] = []
    for per_tick in ledger.runs.values():
        decided += [
            (tick, node, t) for tick, nodes in per_tick.items() for node, t in nodes.items()
        ]
    for prof, per_tick in ledger.ended.items():
        if prof in LONG_PROFILES or prof == "explain":
            continue
        decided += [
            (tick, node, t) for tick, nodes in per_tick.items() for node, t in nodes.items()
        ]
    for tick, node, t in decided:
        fired = ledger.fires.get((tick, node))
        if fired is None:
            continue
        last_seen[tick] = max(last_seen.get(tick, t), t)
        if t - fired > period and not was_frozen(node, fired, t):
            stalled.add(tick)

    def span(n: int) -> tuple[float, float]:
        """When tick n's guards ran: from its nominal time to its last node's fire or
        decision (a node frozen, or starved, decides late: the faults around then count)."""
        return n * period, max(n * period, last_fire.get(n, 0.0), last_seen.get(n, 0.0))

    def meets(a: tuple[float, float], lo: float, hi: float) -> bool:
        return a[0] <= hi and lo <= a[1]

    def around(n: int) -> list[dict[str, Any]]:
        return [f for f in ran if meets(span(n), f["start"] - period, f["end"] + settle)]

    def in_window(n: int) -> bool:
        """Inside a failover window: a fault's start or end (each can move the VIP) + settle."""
        return any(
            meets(span(n), f[edge] - period, f[edge] + settle)
            for f in ran
            for edge in ("start", "end")
        )

    kinds_of = {}
    for n in range(ticks):
        found = {f["kind"] for f in around(n)} | ({"stall"} if n in stalled else set())
        kinds_of[n] = sorted(found) or ["none"]
    rows: dict[str, dict[str, dict[str, float]]] = {}
    anomalies: list[dict[str, Any]] = []
    for prof in meta["profiles"]:
        per_tick = ledger.runs.get(prof, {})
        table: dict[str, dict[str, float]] = {}
        skew, max_late = run_window(meta["profiles"][prof], period)
        for n in range(ticks):
            nodes = per_tick.get(n, {})
            verdict = "once" if len(nodes) == 1 else ("double" if nodes else "miss")
            # By the cluster's clock (the true one: the members' and the drivers'), each run
            # of slot n starts within [n - skew, n + max-late], give or take a Date's second.
            off = {
                node: round(t - n * period, 3)
                for node, t in nodes.items()
                if not -skew - DATE_RESOLUTION <= t - n * period <= max_late + DATE_RESOLUTION
            }
            for kind in [*kinds_of[n], "all"]:
                row = table.setdefault(
                    kind,
                    {"ticks": 0, "once": 0, "double": 0, "miss": 0, "miss_outside": 0,
                     "early": 0, "late": 0},
                )  # fmt: skip
                row["ticks"] += 1
                row[verdict] += 1
                if verdict == "miss" and not in_window(n):
                    row["miss_outside"] += 1
                row["early"] += sum(1 for x in off.values() if x < 0)
                row["late"] += sum(1 for x in off.values() if x > 0)
            if off:
                anomalies.append(
                    {
                        "profile": prof,
                        "tick": n,
                        "time": round(n * period, 3),
                        "what": "off-time",
                        "ran_on": {k: round(v, 3) for k, v in sorted(nodes.items())},
                        "lateness": off,
                        "fired": {},
                        "rc": {},
                        "in_failover_window": in_window(n),
                        "kinds": kinds_of[n],
                        "faults": [
                            {k: f[k] for k in ("id", "kind", "target", "start", "end")}
                            for f in around(n)
                        ],
                        "verdicts": {},
                    }
                )
            if verdict != "once":
                anomalies.append(
                    {
                        "profile": prof,
                        "tick": n,
                        "time": round(n * period, 3),
                        "what": verdict,
                        "ran_on": {k: round(v, 3) for k, v in sorted(nodes.items())},
                        "fired": {
                            node: round(ledger.fires[n, node], 3)
                            for node in meta["offsets"]
                            if (n, node) in ledger.fires
                        },
                        "rc": ledger.rcs.get(prof, {}).get(n, {}),
                        "in_failover_window": in_window(n),
                        "kinds": kinds_of[n],
                        "faults": [
                            {k: f[k] for k in ("id", "kind", "target", "start", "end")}
                            for f in around(n)
                        ],
                        "verdicts": explain_verdicts(rundir, n, meta["offsets"]),
                    }
                )
        if prof in LONG_PROFILES and prof in ledger.intervals:
            secs, spans = overlap_seconds(ledger.intervals[prof], frozen, meta["long_duration"])
            table["all"]["overlap_s"] = round(secs, 2)
            table["all"]["overlap_spans"] = [(round(a, 2), round(b, 2)) for a, b in spans]  # type: ignore[assignment]
        rows[prof] = table
    for prof_rows in rows.values():
        for row in prof_rows.values():
            row["exactly_once_pct"] = (
                round(100 * row["once"] / row["ticks"], 1) if row["ticks"] else 0
            )
    return {
        "seed": meta["seed"],
        "command": meta.get("command"),
        "meta": {k: v for k, v in meta.items() if k != "schedule"},
        "schedule": meta["schedule"],
        "faults": faults,
        "settle": settle,
        "stalled_ticks": sorted(stalled),
        # How late the drivers fired, frozen nodes aside: CPU starvation looks like a pause.
        "fire_lag_s": {
            "p50": round(lags[len(lags) // 2], 3) if lags else None,
            "p99": round(lags[int(len(lags) * 0.99)], 3) if lags else None,
            "max": round(lags[-1], 3) if lags else None,
        },
        "results": rows,
        "anomalies": anomalies,
        # --ledger: jobs no slot key names, and keys no job matches (both should be empty).
        "ledger_unmatched": ledger_odd,
        # Every run, for the timeline: profile -> tick (slot) -> node -> start (s from t0).
        "runs": {
            prof: {str(n): {k: round(v, 3) for k, v in nodes.items()} for n, nodes in ts.items()}
            for prof, ts in ledger.runs.items()
            if prof in meta["profiles"]
        },
    }


def run_window(argv: Sequence[str], period: float) -> tuple[float, float]:
    """A profile's (--skew, --max-late); the ledger profiles' defaults for the others, so
    every profile is judged by the same window."""
    skew, max_late = period / 4, 3 * period
    for i, a in enumerate(argv[:-1]):
        if a == "--skew":
            skew = float(argv[i + 1])
        elif a == "--max-late":
            max_late = float(argv[i + 1])
    return skew, max_late


def explain_verdicts(rundir: Path, tick: int, nodes: Any) -> dict[str, Any]:
    """Each node's ``--explain --json`` verdict at `tick`: master, split brain, reasons."""
    out: dict[str, Any] = {}
    for node in nodes:
        path = rundir / "explain" / f"{node}-{tick}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            out[node] = None
            continue
        out[node] = {k: data.get(k) for k in ("master", "split_brain", "held", "reasons")}
    return out


def table(report: dict[str, Any], recommended: str = RECOMMENDED) -> str:
    """The results as a text table: per profile and fault kind."""
    lines = [
        f"seed {report['seed']}: {report['meta']['ticks']} ticks x {report['meta']['period']} s, "
        f"{report['meta']['nodes']} nodes, min-hold {report['meta']['min_hold']} s, "
        f"{sum(1 for f in report['faults'] if not f['skipped'])} faults "
        f"({sum(1 for f in report['faults'] if f['skipped'])} skipped); driver lag "
        f"p50 {report['fire_lag_s']['p50']} s, p99 {report['fire_lag_s']['p99']} s, "
        f"max {report['fire_lag_s']['max']} s",
        f"{'profile':<18} {'fault':<10} {'ticks':>5} {'once %':>7} {'doubles':>7} "
        f"{'misses':>6} {'outside':>7} {'early':>5} {'late':>5}",
    ]
    for prof, rows in report["results"].items():
        mark = " *" if prof == recommended else ""
        for kind in [*ALL_KINDS, "stall", "none", "all"]:
            if kind not in rows:
                continue
            r = rows[kind]
            extra = f"  overlap {r['overlap_s']} s" if "overlap_s" in r else ""
            lines.append(
                f"{prof + mark:<18} {kind:<10} {r['ticks']:>5} {r['exactly_once_pct']:>7.1f} "
                f"{r['double']:>7} {r['miss']:>6} {r['miss_outside']:>7} {r.get('early', 0):>5} "
                f"{r.get('late', 0):>5}{extra}"
            )
    lines.append(
        "(* recommended; 'outside': misses outside any failover window; 'early'/'late': runs"
        " outside [slot - skew - 1 s, slot + max-late + 1 s] by the cluster's clock)"
    )
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    """The results as a Markdown table: a row per fault kind, a column per profile; each cell
    is exactly-once % / doubles / misses (misses outside any failover window in brackets),
    then the runs early or late by the cluster's clock, if any."""
    profs = list(report["results"])
    head = "| fault | ticks | " + " | ".join(f"`{p}`" for p in profs) + " |"
    lines = [head, "|---|---:|" + "---|" * len(profs)]
    for kind in [*ALL_KINDS, "stall", "none", "all"]:
        cells = []
        ticks = 0
        for prof in profs:
            r = report["results"][prof].get(kind)
            if r is None:
                cells.append("")
                continue
            ticks = r["ticks"]
            out = f" ({r['miss_outside']})" if r["miss_outside"] else ""
            cell = f"{r['exactly_once_pct']:g} / {r['double']} / {r['miss']}{out}"
            if r.get("early") or r.get("late"):
                cell += f"; early {r.get('early', 0)}, late {r.get('late', 0)}"
            cells.append(f"**{cell}**" if prof == report["meta"]["recommended"] else cell)
        if ticks:
            lines.append(f"| {kind} | {ticks} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def anomaly_lines(report: dict[str, Any], profiles_: Sequence[str]) -> str:
    out = []
    for a in report["anomalies"]:
        if a["profile"] not in profiles_:
            continue
        faults = ", ".join(
            f"#{f['id']} {f['kind']} {f['target'] or ''} {f['start']:.1f}-{f['end']:.1f}s"
            for f in a["faults"]
        )
        verdicts = "; ".join(
            f"{n}: "
            + (
                "?"
                if v is None
                else f"{'M' if v['master'] else '-'} {' | '.join(v['reasons'] or [])}"
            )
            for n, v in a["verdicts"].items()
        )
        out.append(
            f"{a['profile']} tick {a['tick']} ({a['time']} s) {a['what']} ran_on={a['ran_on']} "
            f"rc={a['rc']} window={a['in_failover_window']} faults=[{faults}] verdicts: {verdicts}"
            + (f" lateness={a['lateness']}" if "lateness" in a else "")
        )
    return "\n".join(out)


# -- the picture ----------------------------------------------------------------------------

#: Fault colours (fill) by kind, for the timeline.
COLOURS = {
    "stop": "#9ecae1", "crash": "#3182bd", "pause": "#fdae6b", "freeze": "#fdd0a2",
    "link": "#a1d99b", "adverts": "#dadaeb", "prio": "#bcbddc", "partition": "#fc9272",
    "leader": "#c994c7", "etcdpause": "#e7e1ef", "clock": "#fee391",
}  # fmt: skip


def timeline_svg(report: dict[str, Any], profiles_: Sequence[str]) -> str:
    """A timeline per profile, one above the other on one time axis: a row per node, a mark
    per run (at its start, by the cluster's clock), faults shaded on their node's row (or
    every row: advert loss), doubles (red, above), misses (grey, below), runs early or
    late by the cluster's clock (ringed orange). Plain SVG: no plotting library needed."""
    meta = report["meta"]
    period, ticks = meta["period"], meta["ticks"]
    nodes = sorted(meta["offsets"])
    total = ticks * period + 2 * period
    scale = max(2.0, 960 / total)  # px per second
    left, row_h, gap, top = 70, 22, 54, 40
    panel_h = row_h * len(nodes) + 34
    width = left + total * scale + 20
    height = top + len(profiles_) * (panel_h + gap) + 80
    x = lambda t: left + (t + period) * scale  # noqa: E731 - a local scale
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}"'
        ' font-family="sans-serif" font-size="11">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="13">chaos run, seed {report["seed"]}: {ticks} slots'
        f" x {period:g} s, {meta['nodes']} nodes, etcd {meta.get('etcd') or 'none'}</text>",
    ]
    faults = [f for f in report["faults"] if not f["skipped"]]
    for p_i, prof in enumerate(profiles_):
        y0 = top + p_i * (panel_h + gap)
        res = report["results"].get(prof, {}).get("all", {})
        head = (
            f"{prof}: {res.get('once', 0)} once, {res.get('double', 0)} doubles,"
            f" {res.get('miss', 0)} misses, {res.get('early', 0) + res.get('late', 0)} off-time"
        )
        out.append(f'<text x="{left}" y="{y0 + 8}" font-weight="bold">{_esc(head)}</text>')
        rows = {n: y0 + 16 + i * row_h for i, n in enumerate(nodes)}
        for n, y in rows.items():
            out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{n}</text>')
            out.append(
                f'<rect x="{left}" y="{y}" width="{total * scale:.1f}" height="{row_h - 2}"'
                ' fill="#f7f7f7"/>'
            )
        for f in faults:
            target = f["target"]
            ys = [rows[target]] if target in rows else list(rows.values())
            w = max(1.0, (f["end"] - f["start"]) * scale)
            for y in ys:
                label = (
                    f"#{f['id']} {f['kind']} {target or 'all'} {f['start']:.1f}-{f['end']:.1f} s"
                )
                if "step" in f.get("extra", {}):
                    label += f" (clock {f['extra']['step']:+d} s)"
                out.append(
                    f'<rect x="{x(f["start"]):.1f}" y="{y}" width="{w:.1f}" height="{row_h - 2}"'
                    f' fill="{COLOURS.get(f["kind"], "#ccc")}" opacity="0.85">'
                    f"<title>{_esc(label)}</title></rect>"
                )
                if "step" in f.get("extra", {}) and w > 30:
                    out.append(
                        f'<text x="{x(f["start"]) + 3:.1f}" y="{y + row_h - 7}" fill="#7a5c00">'
                        f"clock {f['extra']['step']:+d} s</text>"
                    )
        runs = report.get("runs", {}).get(prof, {})
        lo, hi = run_window(meta["profiles"].get(prof, []), period)
        for n in range(ticks):
            ran = runs.get(str(n), {})
            slot_x = x(n * period)
            if not ran:
                out.append(
                    f'<path d="M{slot_x - 4:.1f},{y0 + panel_h - 4} l4,-7 l4,7 z" fill="#888">'
                    f"<title>slot {n}: missed</title></path>"
                )
            if len(ran) > 1:
                out.append(
                    f'<path d="M{slot_x - 5:.1f},{y0 + 10} l5,7 l5,-7 z" fill="#d7301f">'
                    f"<title>slot {n}: ran {len(ran)} times</title></path>"
                )
            for node, t in ran.items():
                y = rows.get(node.rstrip("+"))
                if y is None:
                    continue
                late = t - n * period
                off = not -lo - DATE_RESOLUTION <= late <= hi + DATE_RESOLUTION
                colour = "#d7301f" if len(ran) > 1 else "#222"
                out.append(
                    f'<line x1="{x(t):.1f}" y1="{y + 3}" x2="{x(t):.1f}" y2="{y + row_h - 5}"'
                    f' stroke="{colour}" stroke-width="2">'
                    f"<title>slot {n} on {node} at {t:.2f} s ({late:+.2f} s)</title></line>"
                )
                if off:
                    out.append(
                        f'<circle cx="{x(t):.1f}" cy="{y + row_h / 2 - 1}" r="6" fill="none"'
                        f' stroke="#f16913" stroke-width="2"><title>slot {n} ran {late:+.1f} s'
                        " off its time</title></circle>"
                    )
        axis_y = y0 + panel_h
        for t in range(0, int(ticks * period) + 1, max(10, int(10 * period))):
            out.append(
                f'<text x="{x(t):.1f}" y="{axis_y + 12}" text-anchor="middle"'
                f' fill="#555">{t}s</text>'
            )
    ly = height - 56
    lx = left
    for kind, colour in COLOURS.items():
        if not any(f["kind"] == kind for f in faults):
            continue
        out.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="{ly + 10}">{kind}</text>')
        lx += 30 + 7 * len(kind)
    out.append(
        f'<text x="{left}" y="{ly + 26}" fill="#555">| a run, at its start; red, with a red mark'
        " above: a slot run twice; grey mark below: a slot run nowhere</text>"
    )
    out.append(
        f'<text x="{left}" y="{ly + 40}" fill="#555">orange ring: a run outside'
        " [slot - skew - 1 s, slot + max-late + 1 s] by the cluster's clock</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", default="all", help="all, or a comma-separated list")
    parser.add_argument("--kinds", default="all", help="fault kinds: all, or a list")
    parser.add_argument("--period", type=float, default=2.0, help="seconds between ticks")
    parser.add_argument("--skew", type=float, default=0.3, help="max clock skew per node")
    parser.add_argument("--jitter", type=float, default=0.1, help="max wake-up jitter")
    parser.add_argument("--min-hold", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.15, help="faults per tick")
    parser.add_argument("--long-periods", type=float, default=3.0, help="long job, in periods")
    parser.add_argument(
        "--priorities", default="lab", help="keepalived priorities: lab (100,150,50,...) or a list"
    )
    parser.add_argument(
        "--ledger",
        action="store_true",
        help="start a 3-member etcd cluster on the lab's switch and add the ledger profiles",
    )
    parser.add_argument(
        "--etcd",
        choices=("separate", "colocated"),
        default="separate",
        help="--ledger's members: in namespaces of their own, or one on each node (inside its"
        " namespace and freezer cgroup, as the docs recommend; adds the etcd and clock faults)",
    )
    parser.add_argument("--nice", type=int, default=10, help="run the lab at nice -N")
    parser.add_argument("--out", type=Path, help="run directory (default: a new temp dir)")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--check", type=Path, help="only check an existing run directory")
    parser.add_argument("--anomalies", default=RECOMMENDED, help="profiles whose anomalies to list")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table too")
    parser.add_argument("--svg", type=Path, help="draw the timeline (SVG) here")
    parser.add_argument(
        "--svg-profiles",
        default="",
        help="the profiles the timeline shows, top to bottom (default: the recommended VIP-only"
        " profile and the ledger one with --catch-up, when run)",
    )
    parser.add_argument("--driver", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.driver:
        return driver(args.driver)
    if args.check:
        rundir = args.check
    else:
        rundir = args.out or Path(tempfile.mkdtemp(prefix="ifm-chaos-"))
        rundir.mkdir(parents=True, exist_ok=True)
        print(f"chaos: run directory {rundir}", file=sys.stderr)
        run(args, rundir)
    report = check(rundir)
    out = args.json or rundir / "report.json"
    out.write_text(json.dumps(report, indent=1))
    print(table(report))
    if args.markdown:
        print("\n" + markdown(report))
    listed = report["meta"]["profiles"] if args.anomalies == "all" else args.anomalies.split(",")
    text = anomaly_lines(report, listed)
    if text:
        print(f"\nanomalies ({', '.join(listed)}):\n{text}")
    if args.svg:
        shown = [p for p in args.svg_profiles.split(",") if p]
        if not shown:
            ran = report["meta"]["profiles"]
            vip = RECOMMENDED if RECOMMENDED in ran else "plain"
            shown = [p for p in (vip, "ledger+catch-up" if "ledger+catch-up" in ran else "ledger")
                     if p in ran]  # fmt: skip
        args.svg.write_text(timeline_svg(report, shown))
        print(f"timeline: {args.svg}", file=sys.stderr)
    print(f"\nreport: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
