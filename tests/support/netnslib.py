"""Network namespaces for tests: made by fixtures, always removed, never touching the host.

Every interface is created inside a namespace the test made (``ip -n NS link add ...``), and
only addresses in 10.0.0.0/8 and fd00::/8 are used, so nothing reaches the host's network.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

IN_CI = os.environ.get("CI", "").lower() == "true"
_counter = itertools.count()

#: The installed console script: the thing users run, not ``python -m``.
IF_MASTER = str(Path(sys.executable).with_name("if-master"))


def skip_or_fail(why: str, in_ci: str = "this test must run in CI, not skip") -> NoReturn:
    """Skip the calling test with ``why`` outside CI; in CI, fail it (a skip there hides a gap).

    The one place this module imports pytest, so that the benches, which import these helpers
    (and the lab, and the etcd launcher), run in a venv without the test extras.
    """
    import pytest

    if IN_CI:
        pytest.fail(f"{why}: {in_ci}")
    pytest.skip(why)


def require_root_netns() -> None:
    """Skip (loudly) outside CI when namespaces cannot be made; fail in CI instead."""
    why = None
    if not sys.platform.startswith("linux"):
        why = "network namespaces need Linux"
    elif os.geteuid() != 0:
        why = "network namespaces need root (run the suite as root; CI does)"
    elif shutil.which("ip") is None:
        why = "iproute2's `ip` is not installed (apt-get install iproute2)"
    if why is None:
        return
    skip_or_fail(why, "these tests must run in CI, not skip")


def require(condition: bool, why: str) -> None:
    """Skip with ``why`` outside CI when ``condition`` is false; in CI, fail instead."""
    if condition:
        return
    skip_or_fail(why)


def unique_name(prefix: str) -> str:
    """A short name unique to this test process (namespace or interface, <= 15 chars)."""
    name = f"{prefix}{os.getpid() % 100000}{next(_counter)}"
    assert len(name) <= 15, name
    return name


def run(cmd: Sequence[str], check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run a command, text mode, output captured; raise with its stderr when it fails."""
    kw.setdefault("capture_output", True)
    proc = subprocess.run(list(cmd), text=True, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} -> {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return proc  # type: ignore[no-any-return]


class Netns:
    """One network namespace: `ip` in it, commands in it, removal with its processes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.procs: list[subprocess.Popen[str]] = []
        run(["ip", "netns", "add", name])
        self.ip("link", "set", "lo", "up")

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["ip", "-n", self.name, *args], check=check)

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self, argv: Sequence[str], check: bool = False, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        return run(self.exec_argv(argv), check=check, **kw)

    def sysctl(self, key: str, value: str) -> None:
        """Set a (network-namespaced) sysctl inside this namespace, never on the host."""
        run(self.exec_argv(["sysctl", "-qw", f"{key}={value}"]))

    def popen(self, argv: Sequence[str], **kw: object) -> subprocess.Popen[str]:
        """Start a command in the namespace; delete() reaps it and closes its pipes."""
        proc: subprocess.Popen[str] = subprocess.Popen(self.exec_argv(argv), text=True, **kw)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def pids(self) -> list[int]:
        out = run(["ip", "netns", "pids", self.name], check=False).stdout
        return [int(p) for p in out.split()]

    def delete(self) -> None:
        """Kill whatever still runs in the namespace, then remove it."""
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        # Reap what popen() started and close its pipes, even when the test failed before
        # it could: a pipe left to the garbage collector is a ResourceWarning, which the
        # suite turns into an error in whatever test happens to run then.
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (proc.stdin, proc.stdout, proc.stderr):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass
        run(["ip", "netns", "del", self.name], check=False)


def veth(a: Netns, a_if: str, b: Netns, b_if: str) -> None:
    """A veth pair made inside namespace `a`, its peer moved straight into `b`; both up."""
    a.ip("link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b.name)
    a.ip("link", "set", a_if, "up")
    b.ip("link", "set", b_if, "up")


class NetnsFactory:
    """Makes namespaces on demand; `close()` removes every one, whatever happened."""

    def __init__(self) -> None:
        self.made: list[Netns] = []

    def __call__(self, prefix: str = "ifm") -> Netns:
        ns = Netns(unique_name(prefix))
        self.made.append(ns)
        return ns

    def close(self) -> None:
        while self.made:
            self.made.pop().delete()


class Node:
    """The namespace under test: ``eth0`` (10.50.0.10/24, fd00:50::10/64) wired to a peer.

    What the netns tier's ``node`` fixture (tests/netns/conftest.py) returns.
    """

    def __init__(self, ns: Netns, peer: Netns) -> None:
        self.ns = ns
        self.peer = peer

    def add(self, address: str, dev: str = "eth0", *extra: str) -> None:
        self.ns.ip("addr", "add", address, "dev", dev, *extra)


def netns_factory_fixture() -> Iterator[NetnsFactory]:
    require_root_netns()
    factory = NetnsFactory()
    try:
        yield factory
    finally:
        factory.close()
