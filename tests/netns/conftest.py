"""A node with real addresses: namespace ``node`` joined to ``peer`` by a veth pair."""

from __future__ import annotations

import pytest

from tests.support.netnslib import NetnsFactory, Node, veth

pytestmark = pytest.mark.netns


@pytest.fixture
def node(netns_factory: NetnsFactory) -> Node:
    ns, peer = netns_factory("ifmn"), netns_factory("ifmp")
    for n in (ns, peer):
        # Settle IPv6 addresses at once unless a test asks for DAD itself.
        n.run(["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"], check=True)
        n.run(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"], check=True)
    veth(ns, "eth0", peer, "eth0")
    ns.ip("addr", "add", "10.50.0.10/24", "dev", "eth0")
    ns.ip("addr", "add", "fd00:50::10/64", "dev", "eth0")
    peer.ip("addr", "add", "10.50.0.20/24", "dev", "eth0")
    return Node(ns, peer)
