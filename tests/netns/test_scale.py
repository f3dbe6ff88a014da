"""The decision on a big host is the decision on a small one.

Hosts of 3 interfaces, 500 interfaces (one address each) and 10,000 addresses (1,000 to a
link): the VIP on eth0, a real veth whose peer is in another namespace, so it is up. Each
must be master with the VIP, not master without it, and ``--explain --json`` must name
eth0 as the VIP's interface. Whatever reads the interfaces (netifaces today, one netlink
dump tomorrow) must scale without changing the answer.
"""

from __future__ import annotations

import json

import pytest

from tests.support.netnslib import IF_MASTER, Netns, NetnsFactory, run, veth

pytestmark = [pytest.mark.netns, pytest.mark.slow]

VIP = "10.60.0.100"
OTHER = "10.60.0.1"  # a textual prefix of the node's own 10.60.0.10
PER_LINK = 1000  # the kernel's cost of adding an IPv4 address grows with the link's list


def link_kind(ns: Netns) -> str:
    """dummy where the kernel has it, else ifb (both are local-only, cheap links)."""
    if ns.ip("link", "add", "kindprobe", "type", "dummy", check=False).returncode == 0:
        ns.ip("link", "del", "kindprobe")
        return "dummy"
    return "ifb"


def ip4(base: int, i: int) -> str:
    return f"10.{base + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


def host(factory: NetnsFactory, links: int, addresses: int) -> Netns:
    """eth0 with 10.60.0.10/24 and the VIP, plus extra links or extra addresses."""
    ns, peer = factory("ifms"), factory("ifmsp")
    veth(ns, "eth0", peer, "eth0")
    kind = link_kind(ns)
    lines = ["addr add 10.60.0.10/24 dev eth0", f"addr add {VIP}/24 dev eth0"]
    for i in range(links):
        lines += [
            f"link add x{i} type {kind}",
            f"link set x{i} up",
            f"addr add {ip4(64, i)}/32 dev x{i}",
        ]
    for k in range(0, addresses, PER_LINK):
        name = f"a{k // PER_LINK}"
        lines += [f"link add {name} type {kind}", f"link set {name} up"]
        lines += [
            f"addr add {ip4(128, i)}/32 dev {name}" for i in range(k, min(k + PER_LINK, addresses))
        ]
    run(["ip", "-n", ns.name, "-batch", "-"], input="\n".join(lines) + "\n")
    count = len(ns.ip("-o", "-4", "addr", "show").stdout.splitlines())
    assert count == 3 + links + addresses  # lo, 10.60.0.10, the VIP and the extras
    return ns


def decision(ns: Netns) -> tuple[int, int, int, list[dict[str, str]], str]:
    """Check status with the VIP, with another address, explain's status and held, and
    what a guarded ``echo ran`` printed."""
    master = ns.run([IF_MASTER, "--vip", VIP]).returncode
    other = ns.run([IF_MASTER, "--vip", OTHER]).returncode
    explained = ns.run([IF_MASTER, "--explain", "--json", "--vip", VIP])
    assert explained.returncode in (0, 1), explained.stderr
    guarded = ns.run([IF_MASTER, "--vip", VIP, "--", "echo", "ran"])
    held = json.loads(explained.stdout)["held"]
    return master, other, explained.returncode, held, guarded.stdout


@pytest.mark.parametrize(
    ("links", "addresses"),
    [(2, 0), (499, 0), (0, 10_000)],
    ids=["3-links", "500-links", "10k-addrs"],
)
def test_the_decision_does_not_depend_on_the_hosts_size(
    netns_factory: NetnsFactory, links: int, addresses: int
) -> None:
    ns = host(netns_factory, links, addresses)
    assert decision(ns) == (0, 1, 0, [{"vip": VIP, "interface": "eth0", "label": None}], "ran\n")
    ns.ip("addr", "del", f"{VIP}/24", "dev", "eth0")
    assert decision(ns) == (1, 1, 1, [], "")
