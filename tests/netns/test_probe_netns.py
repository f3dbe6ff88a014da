"""The ARP probe on real interfaces: nodes in namespaces on a bridge held by a third one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.netnslib import IF_MASTER, Netns, NetnsFactory, unique_name, veth

pytestmark = pytest.mark.netns

VIP = "10.0.0.100"
VMAC = "00:00:5e:00:01:33"  # what keepalived gives vrrp.51: the VRRP MAC of VRID 51

# Runs inside a namespace: the probe exactly as the core will call it; JSON out, 125 on error.
DRIVER = """
import json, sys, time
from ifmaster.probe import ProbeError, own_macs, probe, probe_interface
ifname, vip = sys.argv[1], bytes(int(b) for b in sys.argv[2].split("."))
try:
    dev = probe_interface(ifname)
    t = time.monotonic()
    macs = probe(dev, vip, own_macs())
    took = time.monotonic() - t
except ProbeError as e:
    print(e, file=sys.stderr)
    sys.exit(125)
print(json.dumps({"dev": dev, "macs": [m.hex(":") for m in macs], "took": took}))
"""

# Sends gratuitous ARPs for the VIP from an interface, as keepalived's master does.
GARP = """
import sys, time, _socket
from ifmaster.probe import build_arp_probe
s = _socket.socket(_socket.AF_PACKET, _socket.SOCK_RAW, 0)
s.bind((sys.argv[1], 0x0806))
mac = s.getsockname()[4]
f = bytearray(build_arp_probe(mac, bytes(4)))
f[28:32] = f[38:42] = bytes(int(b) for b in sys.argv[2].split("."))
while True:
    s.send(bytes(f))
    time.sleep(0.02)
"""


@dataclass
class Node:
    ns: Netns
    dev: str  # its port on the shared segment

    def mac(self, dev: str | None = None) -> str:
        out = self.ns.run(["cat", f"/sys/class/net/{dev or self.dev}/address"], check=True)
        return out.stdout.strip()

    def probe(self, ifname: str, prefix: list[str] | None = None) -> dict[str, object]:
        proc = self.ns.run([*(prefix or []), sys.executable, "-c", DRIVER, ifname, VIP])
        if proc.returncode != 0:
            raise ProbeFailed(proc.returncode, proc.stderr)
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    def add_vmac(self, mode: str) -> str:
        """keepalived's use_vmac, by hand: a macvlan with the VRRP MAC, and its sysctls."""
        # Named as keepalived names it: the namespace is ours alone, so it cannot clash.
        self.ns.ip("link", "add", "vrrp.51", "link", self.dev, "address", VMAC,
                   "type", "macvlan", "mode", mode)  # fmt: skip
        for dev, key in [("vrrp.51", "arp_ignore"), (self.dev, "arp_ignore"),
                         (self.dev, "arp_filter")]:  # fmt: skip
            self.ns.run(["sh", "-c", f"echo 1 > /proc/sys/net/ipv4/conf/{dev}/{key}"], check=True)
        self.ns.ip("link", "set", "vrrp.51", "up")
        return "vrrp.51"


class ProbeFailed(Exception):
    def __init__(self, status: int, stderr: str) -> None:
        super().__init__(status, stderr)
        self.status, self.stderr = status, stderr


@pytest.fixture
def lan(netns_factory: NetnsFactory) -> Iterator[tuple[Node, Node]]:
    """Two nodes, each with one port on a bridge that lives in a third namespace."""
    sw = netns_factory("ifmsw")
    bridge = unique_name("ifmbr")
    sw.ip("link", "add", bridge, "type", "bridge")
    sw.ip("link", "set", bridge, "up")
    nodes = []
    for i in (1, 2):
        ns = netns_factory(f"ifmn{i}")
        port, dev = unique_name("ifmp"), unique_name("ifme")
        veth(sw, port, ns, dev)
        sw.ip("link", "set", port, "master", bridge)
        ns.ip("addr", "add", f"10.0.0.{i}/24", "dev", dev)
        nodes.append(Node(ns, dev))
    yield nodes[0], nodes[1]


def test_both_hold_the_vip_each_sees_the_other(lan: tuple[Node, Node]) -> None:
    a, b = lan
    for node in (a, b):
        node.ns.ip("addr", "add", f"{VIP}/24", "dev", node.dev)
    assert a.probe(a.dev)["macs"] == [b.mac()]
    assert b.probe(b.dev)["macs"] == [a.mac()]


def test_single_holder_finds_nothing_in_about_wait(lan: tuple[Node, Node]) -> None:
    a, b = lan
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", a.dev)
    out = a.probe(a.dev)
    assert out["macs"] == []
    assert 0.29 <= out["took"] < 0.4  # type: ignore[operator]


@pytest.mark.parametrize("mode", ["private", "bridge"])
def test_vmac_single_holder_no_false_alarm(lan: tuple[Node, Node], mode: str) -> None:
    a, b = lan
    vmac = a.add_vmac(mode)
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", vmac)
    assert a.mac(vmac) == VMAC and a.mac() != VMAC  # the macvlan does not share its parent's
    # Meanwhile "our keepalived" announces the VIP from vrrp.51, as a master does: the parent
    # must not take that for a peer (it has the VRRP MAC, which own_macs() leaves out).
    garp = a.ns.popen([sys.executable, "-c", GARP, vmac, VIP])
    try:
        time.sleep(0.1)
        out = a.probe(vmac)
        assert garp.poll() is None, "the announcer died: nothing was tested"
    finally:
        garp.kill()
        garp.wait()
    assert out["dev"] == a.dev  # probed from the parent, with a MAC of our own
    assert out["macs"] == []


def test_vmac_both_hold_the_vip_conflict_found(lan: tuple[Node, Node]) -> None:
    """use_vmac split brain: the peer answers from the very VMAC we have too."""
    a, b = lan
    for node in (a, b):
        node.ns.ip("addr", "add", f"{VIP}/24", "dev", node.add_vmac("private"))
    out = a.probe("vrrp.51")
    assert out["dev"] == a.dev
    assert out["macs"] == [VMAC]


def test_gratuitous_arp_from_peer_found(lan: tuple[Node, Node]) -> None:
    """A peer announcing the VIP (keepalived becoming master) is a conflict even if it does
    not answer our probe (here it does not hold the address, so its kernel stays silent)."""
    a, b = lan
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", a.dev)
    garp = b.ns.popen([sys.executable, "-c", GARP, b.dev, VIP])
    try:
        time.sleep(0.1)
        assert a.probe(a.dev)["macs"] == [b.mac()]
    finally:
        garp.kill()
        garp.wait()


def test_without_cap_net_raw_clear_error(lan: tuple[Node, Node]) -> None:
    a, _ = lan
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", a.dev)
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw"]
    with pytest.raises(ProbeFailed) as err:
        a.probe(a.dev, prefix=drop)
    assert err.value.status == 125
    assert "--arp-probe needs CAP_NET_RAW (run as root)" in err.value.stderr


def test_missing_interface_is_a_probe_error(lan: tuple[Node, Node]) -> None:
    a, _ = lan
    with pytest.raises(ProbeFailed) as err:
        a.probe("nosuchdev0")
    assert err.value.status == 125
    assert "nosuchdev0" in err.value.stderr


def guarded(node: Node, marker: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    """The console script with --arp-probe guarding a job that leaves a marker."""
    argv = [IF_MASTER, "--arp-probe", "--vip", VIP, "--", "touch", str(marker)]
    return node.ns.run([*prefix, *argv])


def test_cli_split_brain_refuses_on_both_nodes(lan: tuple[Node, Node], tmp_path: Path) -> None:
    a, b = lan
    for node in (a, b):
        node.ns.ip("addr", "add", f"{VIP}/24", "dev", node.dev)
    for node, other in ((a, b), (b, a)):
        marker = tmp_path / node.ns.name
        r = guarded(node, marker)
        assert r.returncode == 3, r.stderr
        assert r.stderr == (
            f"if-master: split brain, not running: {VIP} on {node.dev} "
            f"is also answered by {other.mac()}\n"
        )
        assert not marker.exists()
        check = node.ns.run([IF_MASTER, "--arp-probe", "--vip", VIP])
        assert check.returncode == 3
    # The plain guard runs on both: the double run --arp-probe prevents.
    assert a.ns.run([IF_MASTER, "--vip", VIP]).returncode == 0
    assert b.ns.run([IF_MASTER, "--vip", VIP]).returncode == 0


def test_cli_single_holder_runs(lan: tuple[Node, Node], tmp_path: Path) -> None:
    a, b = lan
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", a.dev)
    r = guarded(a, tmp_path / "a")
    assert (r.returncode, r.stderr) == (0, "")
    assert (tmp_path / "a").exists()
    r = guarded(b, tmp_path / "b")
    assert (r.returncode, r.stderr) == (0, "")
    assert not (tmp_path / "b").exists()


def test_cli_without_cap_net_raw_is_125(lan: tuple[Node, Node], tmp_path: Path) -> None:
    a, _ = lan
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", a.dev)
    r = guarded(a, tmp_path / "a", "setpriv", "--inh-caps=-all", "--bounding-set=-net_raw")
    assert r.returncode == 125
    assert r.stderr.startswith("if-master: --arp-probe needs CAP_NET_RAW (run as root)")
    assert r.stderr.count("\n") == 1
    assert not (tmp_path / "a").exists()


def test_cli_probes_from_the_interface_of_a_label(lan: tuple[Node, Node], tmp_path: Path) -> None:
    """keepalived's `label eth0:vip`: the probe goes out of eth0, not a missing eth0:vip."""
    a, b = lan
    for node in (a, b):
        node.ns.ip("addr", "add", f"{VIP}/24", "dev", node.dev, "label", f"{node.dev}:v")
    r = guarded(a, tmp_path / "a")
    assert r.returncode == 3, r.stderr
    assert f"is also answered by {b.mac()}" in r.stderr
    b.ns.ip("addr", "del", f"{VIP}/24", "dev", b.dev)
    r = guarded(a, tmp_path / "a")
    assert (r.returncode, r.stderr) == (0, "")
    assert (tmp_path / "a").exists()
