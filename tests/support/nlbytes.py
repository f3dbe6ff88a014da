"""rtnetlink messages as the kernel sends them, built byte by byte for the unit tests."""

from __future__ import annotations

import struct

from ifmaster import netlink as nl


def nlmsg(mtype: int, payload: bytes, flags: int = nl.NLM_F_MULTI) -> bytes:
    """One netlink message, padded to 4 bytes like the kernel does."""
    length = 16 + len(payload)
    msg = struct.pack("=IHHII", length, mtype, flags, 1, 0) + payload
    return msg + b"\0" * (-len(msg) % 4)


def rtattr(atype: int, value: bytes) -> bytes:
    attr = struct.pack("=HH", 4 + len(value), atype) + value
    return attr + b"\0" * (-len(attr) % 4)


def newaddr(
    family: int = 2,
    prefixlen: int = 24,
    flags: int = 0x80,
    scope: int = 0,
    ifindex: int = 3,
    attrs: bytes = b"",
) -> bytes:
    return nlmsg(
        nl.RTM_NEWADDR, struct.pack("=BBBBI", family, prefixlen, flags, scope, ifindex) + attrs
    )


def done(error: int = 0) -> bytes:
    return nlmsg(nl.NLMSG_DONE, struct.pack("=i", error))


def error(code: int) -> bytes:
    return nlmsg(
        nl.NLMSG_ERROR,
        struct.pack("=i", code) + struct.pack("=IHHII", 24, 22, 0x301, 1, 0),
        flags=0,
    )


def newlink(
    index: int, name: str, flags: int = 0x10043, operstate: int = 6, mtype: int = nl.RTM_NEWLINK
) -> bytes:
    """RTM_NEWLINK; default flags UP|BROADCAST|RUNNING|LOWER_UP, operstate up."""
    attrs = rtattr(nl.IFLA_IFNAME, name.encode() + b"\0") + rtattr(
        nl.IFLA_OPERSTATE, bytes([operstate])
    )
    # A real reply carries dozens more attributes (mtu, qdisc, stats...): one stands for them.
    attrs += rtattr(4, struct.pack("=I", 1500))
    return nlmsg(mtype, struct.pack("=BxHiII", 0, 1, index, flags, 0) + attrs)


def ipv4(ifindex: int, address: bytes, label: str, flags: int = 0x80, cstamp: int = 100) -> bytes:
    """RTM_NEWADDR for an IPv4 address as the kernel fills it (LOCAL, ADDRESS, LABEL...)."""
    attrs = (
        rtattr(nl.IFA_ADDRESS, address)
        + rtattr(nl.IFA_LOCAL, address)
        + rtattr(nl.IFA_LABEL, label.encode() + b"\0")
        + rtattr(nl.IFA_FLAGS, struct.pack("=I", flags))
        + rtattr(nl.IFA_CACHEINFO, struct.pack("=IIII", 0xFFFFFFFF, 0xFFFFFFFF, cstamp, cstamp))
    )
    return newaddr(family=2, flags=flags & 0xFF, ifindex=ifindex, attrs=attrs)


def ipv6(ifindex: int, address: bytes, flags: int = 0x80, cstamp: int = 100) -> bytes:
    attrs = (
        rtattr(nl.IFA_ADDRESS, address)
        + rtattr(nl.IFA_FLAGS, struct.pack("=I", flags))
        + rtattr(nl.IFA_CACHEINFO, struct.pack("=IIII", 0xFFFFFFFF, 0xFFFFFFFF, cstamp, cstamp))
    )
    return newaddr(family=10, prefixlen=64, flags=flags & 0xFF, ifindex=ifindex, attrs=attrs)


def datagrams(messages: list[bytes], size: int = 32768) -> list[bytes]:
    """Messages packed into datagrams of at most ``size`` bytes, as a dump arrives."""
    out: list[bytes] = []
    current = b""
    for m in messages:
        if current and len(current) + len(m) > size:
            out.append(current)
            current = b""
        current += m
    return [*out, current]
