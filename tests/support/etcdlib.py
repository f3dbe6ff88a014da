"""A real 3-member etcd cluster in network namespaces, and clients beside it.

Layout: a switch namespace with bridge ``br0``; each member ``m1..m3`` in its own namespace
at 10.77.0.1..3 (client port 2379, peer port 2380), each client namespace at 10.77.0.101...,
all joined to the bridge by veth pairs (the switch side named ``pN``). Everything lives in
namespaces this test made, on 10.77.0.0/24; nothing touches the host's network.

Tests talk to the cluster from a client namespace through an :class:`Agent`: a Python
process started there with ``ip netns exec`` that runs ledger calls sent as JSON lines (the
test process itself stays in the host's namespace).

``cluster(tmp)`` is a context manager that always kills every process and removes every
namespace, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.netnslib import Netns, NetnsFactory, require, require_root_netns, run, veth

SUBNET = "10.77.0"
CLIENT_PORT = 2379
PEER_PORT = 2380
AGENT = str(Path(__file__).with_name("etcd_agent.py"))
SRC = str(Path(__file__).resolve().parents[2])


def require_etcd() -> None:
    require_root_netns()
    for cmd, pkg in (("etcd", "etcd-server"), ("etcdctl", "etcd-client"), ("openssl", "openssl")):
        require(shutil.which(cmd) is not None, f"{cmd} is not installed (apt-get install {pkg})")


class Tls:
    """A CA, a server certificate for the members' IPs and a client certificate, by openssl."""

    def __init__(self, directory: Path, ips: list[str]) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca, self.ca_key = directory / "ca.pem", directory / "ca.key"
        ossl = ["openssl"]
        run([*ossl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(self.ca_key), "-out", str(self.ca), "-days", "2",
             "-subj", "/CN=if-master test CA"])  # fmt: skip
        san = ",".join(f"IP:{ip}" for ip in ips)
        self.server, self.server_key = self._issue("server", "etcd member", f"subjectAltName={san}")
        self.client, self.client_key = self._issue(
            "client", "if-master", "extendedKeyUsage=clientAuth"
        )
        # A second CA nobody trusts, for the "wrong CA" test.
        self.other_ca = directory / "other-ca.pem"
        run([*ossl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(directory / "other.key"), "-out", str(self.other_ca),
             "-days", "2", "-subj", "/CN=untrusted CA"])  # fmt: skip

    def _issue(self, name: str, cn: str, ext: str) -> tuple[Path, Path]:
        key, csr, crt = (self.dir / f"{name}.{x}" for x in ("key", "csr", "pem"))
        run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}"])  # fmt: skip
        extfile = self.dir / f"{name}.ext"
        extfile.write_text(ext + "\n")
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey",
             str(self.ca_key), "-CAcreateserial", "-out", str(crt), "-days", "2",
             "-extfile", str(extfile)])  # fmt: skip
        return crt, key


class Member:
    """One etcd member: its namespace, address, data directory and process."""

    def __init__(self, cluster: Cluster, index: int, ns: Netns) -> None:
        self.cluster = cluster
        self.index = index
        self.name = f"m{index}"
        self.ns = ns
        self.ip = f"{SUBNET}.{index}"
        self.data = cluster.tmp / f"{self.name}.data"
        self.log = cluster.tmp / f"{self.name}.log"
        self.proc: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{CLIENT_PORT}"

    def start(self) -> None:
        c = self.cluster
        scheme = "https" if c.tls else "http"
        argv = [
            "etcd", "--name", self.name, "--data-dir", str(self.data),
            "--listen-client-urls", f"{scheme}://{self.ip}:{CLIENT_PORT}",
            "--advertise-client-urls", f"{scheme}://{self.ip}:{CLIENT_PORT}",
            "--listen-peer-urls", f"http://{self.ip}:{PEER_PORT}",
            "--initial-advertise-peer-urls", f"http://{self.ip}:{PEER_PORT}",
            "--initial-cluster", c.initial_cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", c.token,
            # Fast elections: the tests stop members and expect a new leader quickly.
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--log-level", "warn", "--logger", "zap",
        ]  # fmt: skip
        if c.tls:
            argv += [
                "--cert-file", str(c.tls.server), "--key-file", str(c.tls.server_key),
                "--trusted-ca-file", str(c.tls.ca), "--client-cert-auth",
            ]  # fmt: skip
        with open(self.log, "a") as log:
            self.proc = self.ns.popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        """SIGKILL the member (a crash, not a clean leave) and reap it."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def isolate(self, cut: bool = True) -> None:
        """Pull (or put back) this member's cable at the switch: no packet in or out."""
        self.cluster.switch.ip("link", "set", f"p{self.index}", "down" if cut else "up")


class Cluster:
    """Three etcd members and any number of client namespaces on one bridge."""

    def __init__(self, factory: NetnsFactory, tmp: Path, *, tls: bool = False) -> None:
        self.factory = factory
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.token = f"ifm-{os.getpid()}-{time.monotonic_ns()}"
        self.switch = factory("ifmsw")
        self.switch.ip("link", "add", "br0", "type", "bridge")
        self.switch.ip("link", "set", "br0", "up")
        self.members: list[Member] = []
        self.clients: list[Netns] = []
        self.agents: list[Agent] = []
        ips = [f"{SUBNET}.{i}" for i in (1, 2, 3)]
        self.tls = Tls(tmp / "tls", ips) if tls else None
        self.initial_cluster = ",".join(
            f"m{i}=http://{ip}:{PEER_PORT}" for i, ip in enumerate(ips, 1)
        )
        for i in (1, 2, 3):
            ns = factory("ifmet")
            self._wire(ns, i, f"{SUBNET}.{i}")
            self.members.append(Member(self, i, ns))
        for m in self.members:
            m.start()

    def _wire(self, ns: Netns, index: int, ip: str) -> None:
        veth(ns, "eth0", self.switch, f"p{index}")
        self.switch.ip("link", "set", f"p{index}", "master", "br0")
        ns.ip("addr", "add", f"{ip}/24", "dev", "eth0")

    def client(self) -> Netns:
        """A new namespace on the bridge (10.77.0.101, .102, ...) for a ledger client."""
        index = 101 + len(self.clients)
        ns = self.factory("ifmec")
        self._wire(ns, index, f"{SUBNET}.{index}")
        self.clients.append(ns)
        return ns

    def partition(self, ns: Netns, cut: bool = True) -> None:
        """Cut (or restore) a client namespace's cable at the switch."""
        index = 101 + self.clients.index(ns)
        self.switch.ip("link", "set", f"p{index}", "down" if cut else "up")

    def split(self, side_a: list[Netns], side_b: list[Netns], cut: bool = True) -> None:
        """Split the network in two: no packet between a namespace of ``side_a`` and one of
        ``side_b`` (blackhole routes both ways), each side still whole inside."""
        for here, there in ((side_a, side_b), (side_b, side_a)):
            for ns in here:
                for other in there:
                    ns.ip("route", "add" if cut else "del", "blackhole", f"{self.ip_of(other)}/32")

    def ip_of(self, ns: Netns) -> str:
        for m in self.members:
            if m.ns is ns:
                return m.ip
        return f"{SUBNET}.{101 + self.clients.index(ns)}"

    def endpoints(self, order: list[int] | None = None) -> str:
        return ",".join(self.members[i - 1].endpoint for i in (order or [1, 2, 3]))

    def url(self, prefix: str = "if-master", order: list[int] | None = None) -> str:
        return f"{'etcds' if self.tls else 'etcd'}://{self.endpoints(order)}/{prefix}"

    def agent(self, ns: Netns | None = None) -> Agent:
        a = Agent(ns or self.client())
        self.agents.append(a)
        return a

    def etcdctl(self, ns: Netns, *args: str, env: dict[str, str] | None = None) -> str:
        """Run etcdctl (API v3) in ``ns`` against every member; its stdout."""
        argv = ["etcdctl", f"--endpoints={self.endpoints()}", "--dial-timeout=2s",
                "--command-timeout=5s"]  # fmt: skip
        if self.tls:
            t = self.tls
            argv += [f"--cacert={t.ca}", f"--cert={t.client}", f"--key={t.client_key}"]
        full_env = {**os.environ, "ETCDCTL_API": "3", **(env or {})}
        return ns.run([*argv, *args], check=True, env=full_env).stdout

    def wait_ready(self, ns: Netns, timeout: float = 20.0) -> None:
        """Wait until a write through the cluster succeeds (a leader and a quorum)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                self.etcdctl(ns, "put", "/ready", "1")
                return
            except AssertionError as e:
                last = str(e)
            time.sleep(0.2)
        logs = "\n".join(f"{m.name}: {m.log.read_text()[-2000:]}" for m in self.members)
        raise AssertionError(f"etcd cluster not ready in {timeout} s: {last}\n{logs}")

    def close(self) -> None:
        for a in self.agents:
            a.close()
        for m in self.members:
            with contextlib.suppress(Exception):
                m.stop()


class Agent:
    """A Python process in a client namespace running ledger calls (tests/support/etcd_agent.py)."""

    def __init__(self, ns: Netns) -> None:
        self.ns = ns
        env = {**os.environ, "PYTHONPATH": SRC}
        self.proc = ns.popen(
            [sys.executable, AGENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.call({"op": "ping"}) == {"ok": True}

    def send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"agent in {self.ns.name} died: {self.proc.poll()}"
        return json.loads(line)  # type: ignore[no-any-return]

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        self.send(request)
        return self.receive()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()


@contextlib.contextmanager
def cluster(tmp: Path, *, tls: bool = False) -> Iterator[Cluster]:
    """A ready 3-member cluster; every process and namespace is gone afterwards."""
    require_etcd()
    factory = NetnsFactory()
    c = None
    try:
        c = Cluster(factory, tmp, tls=tls)
        c.wait_ready(c.client())
        yield c
    finally:
        if c is not None:
            c.close()
        factory.close()
