"""A keepalived cluster in network namespaces: real VRRP elections, nothing on the host.

Layout of one lab::

    switch namespace:  bridge  <- port per node (veth)
    node namespaces:   veth peer (10.A.B.10+i/24, fd00:A:B::10+i/64) + one keepalived

Everything is made inside namespaces from ``NetnsFactory`` (so the factory's ``close()`` is the
backstop that removes it all), with names from ``unique_name`` because other test processes
build their own labs on the same machine at the same time.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from tests.support.netnslib import (
    IF_MASTER,
    Netns,
    NetnsFactory,
    require_root_netns,
    skip_or_fail,
    unique_name,
    veth,
)

KEEPALIVED = "/usr/sbin/keepalived"
ADVERT_INT = 1.0
#: Priorities by node index: the *second* node wins, so no test can pass by assuming "node 0".
PRIORITIES = (100, 150, 50, 120, 80)
POLL = 0.02  # seconds between samples when timing a failover

_lab_ids = itertools.count(1)
_STATE_RE = re.compile(r"\(VI_1\) Entering (\w+) STATE")


def require_keepalived() -> None:
    """Like ``require_root_netns``: skip without keepalived, fail in CI (test.sh installs it)."""
    require_root_netns()
    if os.access(KEEPALIVED, os.X_OK):
        return
    skip_or_fail(
        f"{KEEPALIVED} not found (apt-get install keepalived)",
        "the cluster tests must run in CI, not skip",
    )


def skew_time(priority: int) -> float:
    """VRRP's Skew_Time: how much sooner a higher-priority backup claims a silent master."""
    return (256 - priority) / 256 * ADVERT_INT


def master_down_interval(priority: int) -> float:
    """VRRP's Master_Down_Interval: silence a backup waits before taking over."""
    return 3 * ADVERT_INT + skew_time(priority)


@dataclass
class Node:
    """One cluster member: its namespace, its veth, its keepalived."""

    name: str
    ns: Netns
    ifname: str  # the node's veth (inside ns)
    port: str  # the bridge-side end of that veth (inside the switch namespace)
    addr4: str
    addr6: str
    priority: int
    workdir: Path
    proc: subprocess.Popen[str] | None = None
    log_file: IO[str] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def addresses(self) -> list[tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address]]:
        """(interface, address) for every address in the namespace, from ``ip -o addr``."""
        out = self.ns.ip("-o", "addr", "show").stdout
        found = []
        for line in out.splitlines():
            # "2: eth0    inet 10.1.2.10/24 brd ..." -- the interface may carry "@peer".
            parts = line.split()
            if len(parts) >= 4 and parts[2] in ("inet", "inet6"):
                ifname = parts[1].split("@")[0]
                found.append((ifname, ipaddress.ip_address(parts[3].split("/")[0])))
        return found

    def holds(self, vip: str) -> str | None:
        """The interface holding `vip` (exact address comparison), or None."""
        want = ipaddress.ip_address(vip)
        return next((ifname for ifname, addr in self.addresses() if addr == want), None)

    def keepalived_state(self) -> str | None:
        """keepalived's own view: the last ``Entering X STATE`` it logged (MASTER, BACKUP...)."""
        if not self.log.exists():
            return None
        states = _STATE_RE.findall(self.log.read_text(errors="replace"))
        return states[-1] if states else None

    def keepalived_pids(self) -> list[int]:
        """The keepalived parent and its children (the VRRP process), parent first."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            parent = psutil.Process(self.proc.pid)
            return [parent.pid, *(c.pid for c in parent.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []


class Lab:
    """N nodes on one bridge, each running keepalived for a single VRRP instance."""

    def __init__(
        self,
        factory: NetnsFactory,
        workdir: Path,
        size: int,
        *,
        ipv6: bool = False,
        use_vmac: bool = False,
        vip_host: int = 100,
        config: Callable[[Lab, Node], str] | None = None,
    ) -> None:
        if not 2 <= size <= len(PRIORITIES):
            raise ValueError(f"size must be 2..{len(PRIORITIES)}")
        lab_id = next(_lab_ids)
        self.name = f"lab{lab_id}"
        self.workdir = workdir / self.name
        self.workdir.mkdir(parents=True)
        self.ipv6 = ipv6
        self.use_vmac = use_vmac
        # Unique per lab and per process, although the L2 domains are separate anyway.
        self.vrid = (os.getpid() + lab_id) % 254 + 1
        a, b = os.getpid() % 200 + 20, lab_id % 250
        net4, net6 = f"10.{a}.{b}", f"fd00:{a:x}:{b:x}:"
        self.vip = f"{net6}:{vip_host}" if ipv6 else f"{net4}.{vip_host}"
        self.vip_prefix = 64 if ipv6 else 24
        self.factory = factory
        self.config = config or Lab.default_config
        self.nodes: list[Node] = []

        self.switch = factory("kas")
        self.bridge = unique_name("br")
        self.switch.ip("link", "add", self.bridge, "type", "bridge")
        # No multicast snooping: VRRPv3 over IPv6 uses ff02::12, which a snooping bridge
        # without an MLD querier may decide not to forward.
        self.switch.ip("link", "set", self.bridge, "type", "bridge", "mcast_snooping", "0")
        self.switch.ip("link", "set", self.bridge, "up")
        for i in range(size):
            ns = factory("kan")
            # DAD off before the veth exists, so its addresses are usable at once.
            ns.sysctl("net.ipv6.conf.all.accept_dad", "0")
            ns.sysctl("net.ipv6.conf.default.accept_dad", "0")
            node = Node(
                name=f"n{i + 1}",
                ns=ns,
                ifname=unique_name("e"),
                port=unique_name("p"),
                addr4=f"{net4}.{10 + i}",
                addr6=f"{net6}:{10 + i:x}",
                priority=PRIORITIES[i],
                workdir=self.workdir,
            )
            veth(self.switch, node.port, ns, node.ifname)
            self.switch.ip("link", "set", node.port, "master", self.bridge)
            ns.ip("addr", "add", f"{node.addr4}/24", "dev", node.ifname)
            ns.ip("addr", "add", f"{node.addr6}/64", "dev", node.ifname)
            self.nodes.append(node)

    # -- keepalived -------------------------------------------------------------------------

    def default_config(self, node: Node) -> str:
        """The keepalived.conf for `node`: one instance, only the priority differs per node."""
        extra = ""
        if self.use_vmac:
            extra += "    use_vmac\n"
        if self.ipv6:
            extra += "    version 3\n"
        # -nodad: a tentative VIP is not usable yet; without it a new master's address would
        # wait for duplicate address detection.
        vip_opts = " -nodad" if self.ipv6 else ""
        return f"""\
global_defs {{
    router_id {node.name}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface {node.ifname}
    virtual_router_id {self.vrid}
    priority {node.priority}
    advert_int {ADVERT_INT:g}
{extra}    virtual_ipaddress {{
        {self.vip}/{self.vip_prefix}{vip_opts}
    }}
}}
"""

    def start_keepalived(self, node: Node) -> None:
        """Run keepalived in the node's namespace, in the foreground, logging to its file."""
        conf = self.workdir / f"{node.name}.conf"
        conf.write_text(self.config(self, node))
        # -n: stay in the foreground, so Popen.pid is the parent (`ip netns exec` execs).
        # -P: VRRP only; -l -D -G: detailed log on the console, not the host's syslog.
        # -p/-r: our own pid files, or every keepalived on the host would share /run's.
        argv = [
            KEEPALIVED,
            *("-n", "-l", "-D", "-G", "-P"),
            *("-f", str(conf)),
            *("-p", str(self.workdir / f"{node.name}.pid")),
            *("-r", str(self.workdir / f"{node.name}.vrrp.pid")),
        ]
        log = node.log.open("a")
        node.log_file = log
        node.proc = node.ns.popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def start(self) -> None:
        for node in self.nodes:
            self.start_keepalived(node)

    def check_running(self) -> None:
        """Fail early, with the log, when a keepalived we started has exited on its own."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is not None:
                raise AssertionError(
                    f"keepalived on {node.name} exited with {node.proc.returncode}:\n"
                    + node.log.read_text(errors="replace")
                )

    def stop_keepalived(self, node: Node, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop one node's keepalived: SIGTERM to the parent, or SIGKILL of parent and children.

        For SIGKILL every process is stopped first: the VRRP child asks for SIGTERM when its
        parent dies (PR_SET_PDEATHSIG) and the parent respawns dead children, so killing them one
        by one would turn the crash into a clean shutdown.
        """
        assert node.proc is not None, f"keepalived not started on {node.name}"
        if sig == signal.SIGKILL:
            self._kill_all(node)
        else:
            _signal(node.proc.pid, sig)

    @staticmethod
    def _kill_all(node: Node, timeout: float = 5.0) -> None:
        """SIGSTOP then SIGKILL the node's whole keepalived tree; return once all are gone."""
        assert node.proc is not None
        procs = []
        for pid in node.keepalived_pids():
            try:
                procs.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                pass
        for proc in procs:
            _signal(proc.pid, signal.SIGSTOP)
        for proc in procs:
            _signal(proc.pid, signal.SIGKILL)
        node.proc.wait(timeout=timeout)  # the parent is ours: reap it
        # The orphaned children are reaped by init, which may take its time (a second, here):
        # a zombie has already released its sockets and namespaces, so it counts as dead.
        deadline = time.monotonic() + timeout
        while alive := [p for p in procs if _alive(p)]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{node.name}: keepalived survived SIGKILL: {alive}")
            time.sleep(POLL)

    def wait_stopped(self, node: Node, timeout: float = 5.0) -> int:
        """Wait for the node's keepalived parent to exit; its exit status."""
        assert node.proc is not None
        return node.proc.wait(timeout=timeout)

    def close(self) -> None:
        """Kill every keepalived of the lab, parent and children (the factory drops namespaces)."""
        for node in self.nodes:
            if node.proc is None:
                continue
            self._kill_all(node)
            if node.log_file is not None:
                node.log_file.close()

    # -- the network ------------------------------------------------------------------------

    def cut_link(self, node: Node) -> None:
        """Take the node's bridge port down: the node's own veth loses carrier."""
        self.switch.ip("link", "set", node.port, "down")
        self._wait_carrier(node, False)

    def restore_link(self, node: Node) -> None:
        self.switch.ip("link", "set", node.port, "up")
        self._wait_carrier(node, True)

    def _wait_carrier(self, node: Node, up: bool, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            flags = node.ns.ip("-o", "link", "show", node.ifname).stdout
            if ("NO-CARRIER" not in flags) == up:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{node.name}: carrier not {'up' if up else 'down'}: {flags}")
            time.sleep(POLL)

    # -- observing the VIP ------------------------------------------------------------------

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def holders(self, vip: str | None = None) -> dict[str, str]:
        """{node name: interface} for every node whose namespace holds the VIP right now."""
        found = {}
        for node in self.nodes:
            ifname = node.holds(vip or self.vip)
            if ifname is not None:
                found[node.name] = ifname
        return found

    def describe(self) -> str:
        """Who holds what, and what keepalived thinks: for failure messages."""
        return "; ".join(
            f"{n.name} (prio {n.priority}, keepalived {n.keepalived_state()}"
            + ("" if n.keepalived_pids() else ", not running")
            + "): "
            + ", ".join(f"{a}@{i}" for i, a in n.addresses() if not a.is_link_local)
            for n in self.nodes
        )

    def wait_holders(
        self, ok: Callable[[dict[str, str]], bool], what: str, timeout: float
    ) -> dict[str, str]:
        """Poll the holders until `ok(holders)`; on timeout fail naming who holds what."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            holders = self.holders()
            if ok(holders):
                return holders
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: no {what} within {timeout} s (VIP {self.vip}). {self.describe()}"
                )
            time.sleep(POLL)

    def wait_single_holder(self, vip: str | None = None, timeout: float = 10.0) -> Node:
        """Wait until exactly one node holds the VIP; that node."""
        vip = vip or self.vip
        holders = self.wait_holders(lambda h: len(h) == 1, f"single holder of {vip}", timeout)
        return self.node(next(iter(holders)))

    def watch(
        self,
        until: Callable[[dict[str, str]], bool],
        timeout: float,
        start: float | None = None,
    ) -> list[tuple[float, frozenset[str]]]:
        """Sample the holder set every POLL s until `until(holders)`.

        Returns the changes as (seconds since `start`, a ``time.monotonic()`` taken just before
        the event being timed, default now; holder names); the first entry is the first sample.
        Fails with the timeline when `until` is still false after `timeout` s.
        """
        t0 = time.monotonic() if start is None else start
        timeline: list[tuple[float, frozenset[str]]] = []
        while True:
            holders = self.holders()
            now = time.monotonic() - t0
            names = frozenset(holders)
            if not timeline or timeline[-1][1] != names:
                timeline.append((now, names))
            if until(holders):
                return timeline
            if now > timeout:
                raise AssertionError(
                    f"{self.name}: timed out after {timeout} s; "
                    f"timeline {format_timeline(timeline)}. {self.describe()}"
                )
            time.sleep(POLL)

    # -- running if-master on the nodes -----------------------------------------------------

    def guard(
        self, node: Node, *args: str, env: Mapping[str, str] | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run ``if-master ARGS`` inside the node's namespace, with NODE=<name> in its env."""
        return self.run_on(node, [IF_MASTER, *args], env=env, timeout=timeout)

    def run_on(
        self,
        node: Node,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[str]:
        """Run any command inside the node's namespace, with NODE=<name> in its env."""
        full_env = {**os.environ, "NODE": node.name, **(env or {})}
        return node.ns.run(argv, env=full_env, timeout=timeout)

    def on_all(
        self, run: Callable[[Node], subprocess.CompletedProcess[str]]
    ) -> dict[str, subprocess.CompletedProcess[str]]:
        """Call `run(node)` on every node at once, like cron firing on every host."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            results = list(pool.map(run, self.nodes))
        return {node.name: r for node, r in zip(self.nodes, results)}

    def logs(self) -> str:
        """Every node's keepalived log, for failure reports."""
        parts = []
        for node in self.nodes:
            text = node.log.read_text(errors="replace") if node.log.exists() else "(no log)\n"
            parts.append(f"===== {self.name} {node.name} ({node.ns.name}) =====\n{text}")
        return "".join(parts)


#: The types of the cluster tier's ``make_lab`` and ``figure`` fixtures (tests/cluster/conftest.py).
MakeLab = Callable[..., Lab]
Figure = Callable[[str, float], None]


def tick(lab: Lab, ticklog: Path, *guard_args: str) -> dict[str, subprocess.CompletedProcess[str]]:
    """One cron tick: every node runs ``if-master GUARD_ARGS -- sh -c 'echo $NODE >> ticklog'``.

    Returns each node's result; the job's effect is the set of lines in `ticklog`.
    """
    job = ["sh", "-c", 'echo "$NODE" >> "$TICKLOG"']
    return lab.on_all(
        lambda n: lab.guard(n, *guard_args, "--", *job, env={"TICKLOG": str(ticklog)})
    )


def ticklog_lines(ticklog: Path) -> list[str]:
    return ticklog.read_text().splitlines() if ticklog.exists() else []


def assert_ticks(
    lab: Lab, logdir: Path, count: int, expect: Sequence[str], *guard_args: str, label: str = "tick"
) -> None:
    """Run `count` ticks (one ticklog each); each must exit 0 everywhere and log `expect`."""
    for i in range(count):
        ticklog = logdir / f"{label}{i}.log"
        results = tick(lab, ticklog, *guard_args)
        failed = {name: (r.returncode, r.stderr) for name, r in results.items() if r.returncode}
        assert not failed, f"{label} {i}: if-master failed: {failed}"
        lines = ticklog_lines(ticklog)
        assert sorted(lines) == sorted(expect), f"{label} {i}: job ran on {lines}. {lab.describe()}"


def format_timeline(timeline: Sequence[tuple[float, frozenset[str]]]) -> str:
    return ", ".join(f"{t:.2f}s:{{{','.join(sorted(h))}}}" for t, h in timeline)


def first_time(
    timeline: Sequence[tuple[float, frozenset[str]]], pred: Callable[[frozenset[str]], bool]
) -> float:
    """When the holder set first satisfied `pred` (the timeline must contain such a moment)."""
    return next(t for t, holders in timeline if pred(holders))


def _alive(proc: psutil.Process) -> bool:
    """Running, or at least not yet a zombie."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
