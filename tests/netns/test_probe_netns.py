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

from tests.support.netnslib import IF_MASTER, Netns, NetnsFactory, unique_name, veth

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
    switch: Netns | None = None  # where the bridge is
    port: str = ""  # the bridge's end of `dev`

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
        nodes.append(Node(ns, dev, sw, port))
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


# -- IPv6: Neighbor Discovery -----------------------------------------------------------------

VIP6 = "fd00::100"
VIP6B = "fd00::101"
VMAC6 = "00:00:5e:00:02:33"  # keepalived's use_vmac MAC for an IPv6 instance, VRID 51

# Runs inside a namespace: probe_all over IFNAME=VIP arguments, as confirm.py calls it.
DRIVER_ALL = """
import ipaddress, json, sys, time
from ifmaster.probe import ProbeError, own_macs, probe_all, probe_interface
targets = [a.split("=", 1) for a in sys.argv[1:]]
try:
    asked = [(probe_interface(i), ipaddress.ip_address(v).packed) for i, v in targets]
    t = time.monotonic()
    found = probe_all(asked, own_macs())
    took = time.monotonic() - t
except ProbeError as e:
    print(e, file=sys.stderr)
    sys.exit(125)
macs = {v: [m.hex(":") for m in found[a]] for (_i, v), a in zip(targets, asked)}
print(json.dumps({"devs": [a[0] for a in asked], "macs": macs, "took": took}))
"""

# Sends ND messages about a VIP from an interface, every 20 ms, until killed:
#   na HOPLIMIT   unsolicited Neighbor Advertisements (keepalived's master announcing it)
#   dad           DAD solicitations with a nonce of their own (a node taking the address)
#   badsum        advertisements with a broken checksum
#   vlan5         advertisements tagged for VLAN 5
ANNOUNCER = """
import ipaddress, os, struct, sys, time, _socket
from ifmaster import probe as p
dev, vip, kind = sys.argv[1], ipaddress.ip_address(sys.argv[2]).packed, sys.argv[3]
s = _socket.socket(_socket.AF_PACKET, _socket.SOCK_RAW, 0)
s.bind((dev, p.ETH_P_IPV6))
mac = s.getsockname()[4]
def na(hop_limit, good_sum=True):
    allnodes = ipaddress.ip_address("ff02::1").packed
    body = struct.pack("!BBHI16s", 136, 0, 0, 0x20000000, vip) + bytes([2, 1]) + mac
    csum = p.icmp6_checksum(vip, allnodes, body) ^ (0 if good_sum else 1)
    body = body[:2] + csum.to_bytes(2, "big") + body[4:]
    return struct.pack("!6s6sHIHBB16s16s", p.multicast_mac(allnodes), mac, p.ETH_P_IPV6,
                       6 << 28, len(body), 58, hop_limit, vip, allnodes) + body
while True:
    if kind == "na":
        frame = na(int(sys.argv[4]))
    elif kind == "badsum":
        frame = na(255, good_sum=False)
    elif kind == "vlan5":
        frame = na(255)
        frame = frame[:12] + bytes.fromhex("81000005") + frame[12:]
    else:
        frame = p.build_dad_ns(mac, vip, os.urandom(6))
    s.send(frame)
    time.sleep(0.02)
"""


# Lists what comes *in* on an interface from the interface's own MAC (kind per line) for a time.
OWN_ECHOES = """
import sys, time, _socket
s = _socket.socket(_socket.AF_PACKET, _socket.SOCK_RAW, _socket.htons(3))
s.bind((sys.argv[1], 3))
mac = s.getsockname()[4]
s.settimeout(0.1)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        d, a = s.recvfrom(2048)
    except TimeoutError:
        continue
    if a[2] == 4 or d[6:12] != mac:
        continue
    if d[12:14] == b"\\x08\\x06":
        print(f"arp{d[21]}", flush=True)
    elif d[12:14] == b"\\x86\\xdd" and len(d) > 54 and d[20] == 58:
        print(f"nd{d[54]}", flush=True)
"""


def probe_all_on(node: Node, *targets: str, prefix: list[str] | None = None) -> dict[str, object]:
    """Run DRIVER_ALL in the node's namespace with IFNAME=VIP targets; its JSON."""
    proc = node.ns.run([*(prefix or []), sys.executable, "-c", DRIVER_ALL, *targets])
    if proc.returncode != 0:
        raise ProbeFailed(proc.returncode, proc.stderr)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def add6(node: Node, vip: str, dev: str | None = None, *flags: str) -> None:
    node.ns.ip("-6", "addr", "add", f"{vip}/64", "dev", dev or node.dev, *flags)


class Announcing:
    """An ANNOUNCER running in a namespace for the length of a with-block."""

    def __init__(self, node: Node, dev: str, vip: str, *kind: str) -> None:
        self.proc = node.ns.popen([sys.executable, "-c", ANNOUNCER, dev, vip, *kind])

    def __enter__(self) -> Announcing:
        time.sleep(0.15)
        assert self.proc.poll() is None, "the announcer died: nothing would be tested"
        return self

    def __exit__(self, *exc: object) -> None:
        alive = self.proc.poll() is None
        self.proc.kill()
        self.proc.wait()
        assert alive, "the announcer died during the test"


def test_ipv6_both_hold_the_vip_each_sees_the_other(lan: tuple[Node, Node]) -> None:
    a, b = lan
    for node in (a, b):
        add6(node, VIP6, None, "nodad")
    assert probe_all_on(a, f"{a.dev}={VIP6}")["macs"] == {VIP6: [b.mac()]}
    assert probe_all_on(b, f"{b.dev}={VIP6}")["macs"] == {VIP6: [a.mac()]}


def test_ipv6_single_holder_nodad_finds_nothing(lan: tuple[Node, Node]) -> None:
    """keepalived's nodad VIP: our kernel would answer a DAD probe, but never sees ours."""
    a, b = lan
    add6(a, VIP6, None, "nodad")
    add6(b, VIP6B, None, "nodad")  # a neighbour with addresses of its own, not the VIP
    out = probe_all_on(a, f"{a.dev}={VIP6}")
    assert out["macs"] == {VIP6: []}
    assert 0.29 <= out["took"] < 2  # type: ignore[operator]


def test_ipv6_tentative_vip_probe_neither_alarms_nor_breaks_our_dad(
    lan: tuple[Node, Node],
) -> None:
    """Our VIP still tentative (DAD running, our kernel soliciting for it): no false alarm,
    and our probe's solicitations do not make our own DAD fail."""
    a, _b = lan
    a.ns.sysctl(f"net.ipv6.conf.{a.dev}.accept_dad", "1")
    a.ns.sysctl(f"net.ipv6.conf.{a.dev}.dad_transmits", "3")
    a.ns.sysctl(f"net.ipv6.neigh.{a.dev}.retrans_time_ms", "400")
    add6(a, VIP6)
    assert "tentative" in a.ns.ip("-6", "addr", "show", "dev", a.dev).stdout
    # The guard does not count a tentative VIP: not master, so nothing to probe, no alarm.
    check = a.ns.run([IF_MASTER, "--arp-probe", "--vip", VIP6])
    assert (check.returncode, check.stderr) == (1, "")
    out = probe_all_on(a, f"{a.dev}={VIP6}")
    assert out["macs"] == {VIP6: []}
    deadline = time.monotonic() + 5
    while "tentative" in (shown := a.ns.ip("-6", "addr", "show", "dev", a.dev).stdout):
        assert time.monotonic() < deadline, shown
        time.sleep(0.05)
    assert VIP6 in shown and "dadfailed" not in shown, shown
    assert probe_all_on(a, f"{a.dev}={VIP6}")["macs"] == {VIP6: []}
    check = a.ns.run([IF_MASTER, "--arp-probe", "--vip", VIP6])
    assert (check.returncode, check.stderr) == (0, "")


def test_ipv6_peer_doing_dad_for_the_vip_is_found(lan: tuple[Node, Node]) -> None:
    """Another node soliciting for the VIP from :: (its DAD, or its own probe) is a holder."""
    a, b = lan
    add6(a, VIP6, None, "nodad")
    with Announcing(b, b.dev, VIP6, "dad"):
        assert probe_all_on(a, f"{a.dev}={VIP6}")["macs"] == {VIP6: [b.mac()]}


def test_ipv6_unsolicited_advert_from_peer_found(lan: tuple[Node, Node]) -> None:
    a, b = lan
    add6(a, VIP6, None, "nodad")
    with Announcing(b, b.dev, VIP6, "na", "255"):
        assert probe_all_on(a, f"{a.dev}={VIP6}")["macs"] == {VIP6: [b.mac()]}


@pytest.mark.parametrize("kind", [("na", "254"), ("na", "1"), ("badsum",)])
def test_ipv6_malformed_adverts_on_the_wire_do_not_count(
    lan: tuple[Node, Node], kind: tuple[str, ...]
) -> None:
    """Routed (hop limit below 255) or corrupt advertisements, sent all through the probe."""
    a, b = lan
    add6(a, VIP6, None, "nodad")
    with Announcing(b, b.dev, VIP6, *kind):
        assert probe_all_on(a, f"{a.dev}={VIP6}")["macs"] == {VIP6: []}


@pytest.mark.parametrize("mode", ["private", "bridge"])
def test_ipv6_vmac_single_holder_no_false_alarm(lan: tuple[Node, Node], mode: str) -> None:
    a, _b = lan
    vmac = a.add_vmac(mode)
    a.ns.ip("link", "set", vmac, "address", VMAC6)
    add6(a, VIP6, vmac, "nodad")
    assert a.mac(vmac) == VMAC6
    # Our keepalived announcing the VIP from vrrp.51 with the shared MAC, as a master does:
    # the parent never takes that for a peer.
    with Announcing(a, vmac, VIP6, "na", "255"):
        out = probe_all_on(a, f"{vmac}={VIP6}")
    assert out["devs"] == [a.dev]  # from the parent, with a MAC of our own
    assert out["macs"] == {VIP6: []}


def test_ipv6_vmac_both_hold_the_vip_conflict_found(lan: tuple[Node, Node]) -> None:
    a, b = lan
    for node in (a, b):
        vmac = node.add_vmac("private")
        node.ns.ip("link", "set", vmac, "address", VMAC6)
        add6(node, VIP6, vmac, "nodad")
    out = probe_all_on(a, f"vrrp.51={VIP6}")
    assert out["devs"] == [a.dev]
    assert out["macs"] == {VIP6: [VMAC6]}


def test_mixed_families_several_vips_probed_in_parallel(lan: tuple[Node, Node]) -> None:
    """Two IPv4 and two IPv6 VIPs, one of each held twice: each answer lands on its VIP, and
    the run takes one wait, not four."""
    a, b = lan
    vip4b = "10.0.0.101"
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", a.dev, "label", f"{a.dev}:v")
    a.ns.ip("addr", "add", f"{vip4b}/24", "dev", a.dev)
    add6(a, VIP6, None, "nodad")
    add6(a, VIP6B, None, "nodad")
    b.ns.ip("addr", "add", f"{vip4b}/24", "dev", b.dev)
    add6(b, VIP6, None, "nodad")
    targets = [f"{a.dev}={v}" for v in (VIP, vip4b, VIP6, VIP6B)]
    out = probe_all_on(a, *targets)
    assert out["macs"] == {VIP: [], vip4b: [b.mac()], VIP6: [b.mac()], VIP6B: []}
    # Four probes one after the other would take 4 x 0.3 s at the least.
    assert out["took"] < 4 * 0.3, out["took"]  # type: ignore[operator]


def test_ipv6_without_cap_net_raw_clear_error(lan: tuple[Node, Node]) -> None:
    a, _ = lan
    add6(a, VIP6, None, "nodad")
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw"]
    with pytest.raises(ProbeFailed) as err:
        probe_all_on(a, f"{a.dev}={VIP6}", prefix=drop)
    assert err.value.status == 125
    assert "--arp-probe needs CAP_NET_RAW (run as root)" in err.value.stderr


def guarded6(node: Node, marker: Path, *vips: str) -> subprocess.CompletedProcess[str]:
    argv = [IF_MASTER, "--arp-probe"]
    for vip in vips:
        argv += ["--vip", vip]
    return node.ns.run([*argv, "--", "touch", str(marker)])


def test_cli_ipv6_split_brain_refuses_on_both_nodes(lan: tuple[Node, Node], tmp_path: Path) -> None:
    a, b = lan
    for node in (a, b):
        add6(node, VIP6, None, "nodad")
    for node, other in ((a, b), (b, a)):
        marker = tmp_path / node.ns.name
        r = guarded6(node, marker, VIP6)
        assert r.returncode == 3, r.stderr
        assert r.stderr == (
            f"if-master: split brain, not running: {VIP6} on {node.dev} "
            f"is also answered by {other.mac()}\n"
        )
        assert not marker.exists()


def test_cli_dual_stack_single_holder_runs_then_split_is_named(
    lan: tuple[Node, Node], tmp_path: Path
) -> None:
    a, b = lan
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", a.dev, "label", f"{a.dev}:v")
    add6(a, VIP6, None, "nodad")
    r = guarded6(a, tmp_path / "a", VIP, VIP6)
    assert (r.returncode, r.stderr) == (0, "")
    assert (tmp_path / "a").exists()
    add6(b, VIP6, None, "nodad")  # the IPv6 VIP only is held twice
    r = guarded6(a, tmp_path / "a2", VIP, VIP6)
    assert r.returncode == 3
    assert r.stderr == (
        f"if-master: split brain, not running: {VIP6} on {a.dev} is also answered by {b.mac()}\n"
    )
    assert not (tmp_path / "a2").exists()


def test_reflected_frames_are_ours_not_a_peer(lan: tuple[Node, Node]) -> None:
    """A switch port in hairpin mode sends our own multicast and broadcast back to us: our
    probes, and our kernel's answers to them, come back from our MAC, not from a peer."""
    a, b = lan
    assert a.switch is not None
    a.switch.run(["bridge", "link", "set", "dev", a.port, "hairpin", "on"], check=True)
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", a.dev)
    add6(a, VIP6, None, "nodad")
    capture = a.ns.popen([sys.executable, "-c", OWN_ECHOES, a.dev, "1.2"], stdout=subprocess.PIPE)
    time.sleep(0.2)
    out = probe_all_on(a, f"{a.dev}={VIP}", f"{a.dev}={VIP6}")
    echoes, _ = capture.communicate(timeout=10)
    assert out["macs"] == {VIP: [], VIP6: []}
    # The reflection is real: our ARP probes and solicitations, and our kernel's answers to
    # them, came back in from our own MAC.
    assert set(echoes.split()) >= {"arp1", "arp2", "nd135", "nd136"}, echoes
    # And it does not hide a peer: with the VIP there as well, it is found.
    add6(b, VIP6, None, "nodad")
    out = probe_all_on(a, f"{a.dev}={VIP}", f"{a.dev}={VIP6}")
    assert out["macs"] == {VIP: [], VIP6: [b.mac()]}


def test_vmac_behind_a_reflecting_port_fails_safe(lan: tuple[Node, Node]) -> None:
    """The known gap, for both families: a port that reflects our probe back delivers it to
    our own vrrp.51, whose answer carries the VRRP MAC the peer would use. Nothing tells the
    two apart, so the probe reports it: a refusal (fail safe), never a missed second holder."""
    a, _b = lan
    assert a.switch is not None
    a.switch.run(["bridge", "link", "set", "dev", a.port, "hairpin", "on"], check=True)
    vmac = a.add_vmac("private")
    a.ns.ip("link", "set", vmac, "address", VMAC6)
    add6(a, VIP6, vmac, "nodad")
    a.ns.ip("addr", "add", f"{VIP}/24", "dev", vmac)
    out = probe_all_on(a, f"{vmac}={VIP}", f"{vmac}={VIP6}")
    assert out["macs"] == {VIP: [VMAC6], VIP6: [VMAC6]}
    # Without the reflection, the same host is clean.
    a.switch.run(["bridge", "link", "set", "dev", a.port, "hairpin", "off"], check=True)
    out = probe_all_on(a, f"{vmac}={VIP}", f"{vmac}={VIP6}")
    assert out["macs"] == {VIP: [], VIP6: []}


def test_cli_ipv6_without_cap_net_raw_is_125(lan: tuple[Node, Node], tmp_path: Path) -> None:
    a, _ = lan
    add6(a, VIP6, None, "nodad")
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw"]
    r = a.ns.run(
        [*drop, IF_MASTER, "--arp-probe", "--vip", VIP6, "--", "touch", str(tmp_path / "a")]
    )
    assert r.returncode == 125
    assert r.stderr.startswith("if-master: --arp-probe needs CAP_NET_RAW (run as root)")
    assert r.stderr.count("\n") == 1
    assert not (tmp_path / "a").exists()


def test_ipv6_advert_tagged_for_another_vlan_does_not_count(lan: tuple[Node, Node]) -> None:
    """An advertisement carrying an 802.1Q tag belongs to another segment: the kernel moves
    the tag out of the frame before our tap sees it, and the filter drops what had one."""
    a, b = lan
    add6(a, VIP6, None, "nodad")
    with Announcing(b, b.dev, VIP6, "vlan5"):
        assert probe_all_on(a, f"{a.dev}={VIP6}")["macs"] == {VIP6: []}
