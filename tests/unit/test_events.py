"""Which netlink events make --watch re-check, decided on constructed kernel messages."""

from __future__ import annotations

import struct
from socket import AF_INET, AF_INET6, inet_pton

import pytest

from ifmaster.model import Finding, Verdict
from ifmaster.netlink import (
    IFA_ADDRESS,
    IFA_LABEL,
    IFA_LOCAL,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    NetlinkError,
    parse_events,
)
from ifmaster.vip import parse_vip
from ifmaster.watch import concerns, counted_links

VIP4 = inet_pton(AF_INET, "10.0.0.100")
VIP6 = inet_pton(AF_INET6, "fd00::100")
OTHER4 = inet_pton(AF_INET, "10.0.0.1")
VIPS = frozenset([VIP4, VIP6])
RTM_NEWROUTE = 24


def nlmsg(mtype: int, payload: bytes) -> bytes:
    data = struct.pack("=IHHII", 16 + len(payload), mtype, 0, 0, 0) + payload
    return data + b"\0" * (-len(data) % 4)


def attr(kind: int, value: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


def addr_msg(mtype: int, index: int, family: int, **attrs: bytes) -> bytes:
    kinds = {"local": IFA_LOCAL, "address": IFA_ADDRESS, "label": IFA_LABEL}
    body = b"".join(attr(kinds[k], v) for k, v in attrs.items())
    return nlmsg(mtype, struct.pack("=BBBBI", family, 32, 0, 0, index) + body)


def link_msg(mtype: int, index: int) -> bytes:
    return nlmsg(mtype, struct.pack("=BBHiII", 0, 0, 1, index, 0, 0) + attr(3, b"eth0\0"))


def triggers(data: bytes, links: frozenset[int] = frozenset([7])) -> bool:
    return concerns(parse_events(data), VIPS, links)


@pytest.mark.parametrize("mtype", [RTM_NEWADDR, RTM_DELADDR])
def test_an_address_event_on_a_vip_triggers(mtype: int) -> None:
    # IPv4: IFA_LOCAL is ours (and IFA_ADDRESS the same, or a peer's).
    assert triggers(addr_msg(mtype, 3, AF_INET, address=VIP4, local=VIP4, label=b"x\0"))
    assert triggers(addr_msg(mtype, 3, AF_INET, address=OTHER4, local=VIP4))
    # IPv6 without a peer: IFA_ADDRESS only. On any link: a copy elsewhere counts too.
    assert triggers(addr_msg(mtype, 99, AF_INET6, address=VIP6))


@pytest.mark.parametrize("mtype", [RTM_NEWADDR, RTM_DELADDR])
def test_other_addresses_do_not_trigger_even_on_the_vips_link(mtype: int) -> None:
    assert not triggers(addr_msg(mtype, 7, AF_INET, address=OTHER4, local=OTHER4))
    # A point-to-point address whose *peer* is the VIP: not ours.
    assert not triggers(addr_msg(mtype, 7, AF_INET, address=VIP4, local=OTHER4))
    # The same bytes as an IPv4 VIP, prefixed: never a text or prefix match.
    assert not triggers(addr_msg(mtype, 7, AF_INET6, address=VIP4 + bytes(12)))


@pytest.mark.parametrize("mtype", [RTM_NEWLINK, RTM_DELLINK])
def test_link_events_trigger_only_for_links_holding_a_counted_copy(mtype: int) -> None:
    assert triggers(link_msg(mtype, 7))
    assert not triggers(link_msg(mtype, 8))
    # Index 0 among the links: a reader without ifindexes, so every link event counts.
    assert triggers(link_msg(mtype, 8), frozenset([0]))
    assert not triggers(link_msg(mtype, 8), frozenset())


def test_other_messages_are_skipped_and_batches_are_read_whole() -> None:
    route = nlmsg(RTM_NEWROUTE, bytes(12) + attr(1, VIP4))
    assert parse_events(route) == []
    batch = route + link_msg(RTM_NEWLINK, 8) + addr_msg(RTM_DELADDR, 9, AF_INET, local=VIP4)
    assert parse_events(batch) == [(RTM_NEWLINK, 8, None), (RTM_DELADDR, 9, VIP4)]
    assert triggers(batch)
    assert not triggers(route + link_msg(RTM_NEWLINK, 8))


@pytest.mark.parametrize(
    "data",
    [
        nlmsg(RTM_NEWADDR, b"\0" * 4),  # ifaddrmsg cut short
        nlmsg(RTM_NEWLINK, b"\0" * 4),  # ifinfomsg cut short
        # an attribute longer than its message
        nlmsg(RTM_NEWADDR, struct.pack("=BBBBIHH", AF_INET, 32, 0, 0, 1, 40, IFA_LOCAL) + VIP4),
        b"\0" * 7,  # not even a header
    ],
)
def test_malformed_messages_raise(data: bytes) -> None:
    with pytest.raises(NetlinkError):
        parse_events(data)


def test_counted_links_are_the_ifindexes_of_counted_findings() -> None:
    vip = parse_vip("10.0.0.100")
    verdict = Verdict(
        findings=[
            Finding(vip=vip, interface="eth0", index=2),
            Finding(vip=vip, interface="eth1", index=3, why_not="interface is not up"),
            Finding(vip=vip, interface="vrrp", index=5),
        ],
        missing=[],
    )
    assert counted_links(verdict) == frozenset([2, 5])
