"""Duplicate-address probe for ``--arp-probe``: does another machine answer for the VIP?

Sends RFC 5227 ARP probes (sender IP 0.0.0.0, as ``arping -D`` does) from an AF_PACKET socket
and collects answers that claim the VIP from a MAC that is not ours. Linux only.
"""

from __future__ import annotations

# `_socket`, not `socket`: the wrapper module's enum set-up costs ~10 ms of import time for
# nothing we use (measured: socket 9.9 ms cumulative, _socket 0.5 ms).
import _socket
import os
import struct
import time

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ARPOP_REPLY = 2
#: The pkttype AF_PACKET reports for frames this host sent (linux/if_packet.h).
PACKET_OUTGOING = 4
BROADCAST = b"\xff" * 6
SYS_NET = "/sys/class/net"

# Ethernet header + ARP for Ethernet/IPv4: dst, src, type, htype, ptype, hlen, plen, op,
# sha, spa, tha, tpa.
_ETH_ARP = struct.Struct("!6s6sHHHBBH6s4s6s4s")
# Shortest Ethernet frame without FCS: we pad ourselves instead of trusting every driver to.
_MIN_FRAME = 60


class ProbeError(Exception):
    """The probe could not run (no CAP_NET_RAW, no such interface...): if-master exits 125."""


#: (op, sender MAC, sender IP, target IP) of an Ethernet/IPv4 ARP packet. A plain tuple:
#: typing.NamedTuple would make importing this module ~12 ms slower where click is not loaded.
ArpPacket = tuple[int, bytes, bytes, bytes]


def build_arp_probe(mac: bytes, vip: bytes) -> bytes:
    """An ARP probe for `vip` from `mac`: broadcast, sender IP 0.0.0.0, padded to 60 bytes."""
    if len(mac) != 6 or len(vip) != 4:
        raise ValueError("need a 6-byte MAC and a 4-byte IPv4 address")
    # Target MAC all zeros, as RFC 5227 says (arping puts ff:..:ff there; both get answered).
    frame = _ETH_ARP.pack(
        BROADCAST, mac, ETH_P_ARP,
        ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST,
        mac, bytes(4), bytes(6), vip,
    )  # fmt: skip
    return frame.ljust(_MIN_FRAME, b"\0")


def parse_arp(frame: bytes) -> ArpPacket | None:
    """The ARP packet in an Ethernet frame, or None if it is not Ethernet/IPv4 ARP or is cut."""
    if len(frame) < _ETH_ARP.size:
        return None
    _dst, _src, etype, htype, ptype, hlen, plen, op, sha, spa, _tha, tpa = _ETH_ARP.unpack_from(
        frame
    )
    if (etype, htype, ptype, hlen, plen) != (ETH_P_ARP, ARPHRD_ETHER, ETH_P_IP, 6, 4):
        return None
    return (op, sha, spa, tpa)


def conflicting_mac(frame: bytes, pkttype: int, vip: bytes, own_macs: set[bytes]) -> bytes | None:
    """The MAC of another machine claiming `vip` in this received frame, else None.

    A claim is any ARP reply or request (gratuitous ARP, keepalived's announcements) whose
    sender IP is the VIP. Probes (sender 0.0.0.0) claim nothing: a peer running the same check
    at the same moment must not look like a conflict.
    """
    # Our own probes and our keepalived's announcements. A socket bound to ETH_P_ARP is not
    # even shown what the host sends (only ETH_P_ALL taps are), so this is defence in depth.
    if pkttype == PACKET_OUTGOING:
        return None
    pkt = parse_arp(frame)
    if pkt is None:
        return None
    op, sender_mac, sender_ip, _target_ip = pkt
    if op not in (ARPOP_REQUEST, ARPOP_REPLY) or sender_ip != vip or sender_mac in own_macs:
        return None
    return sender_mac


def is_vrrp_mac(mac: bytes) -> bool:
    """Whether `mac` is a VRRP virtual MAC (00:00:5e:00:01:XX IPv4, 00:00:5e:00:02:XX IPv6)."""
    return len(mac) == 6 and mac[:5] in (b"\x00\x00\x5e\x00\x01", b"\x00\x00\x5e\x00\x02")


def _read_mac(ifname: str, sys_net: str) -> bytes:
    with open(f"{sys_net}/{ifname}/address", encoding="ascii") as f:
        text = f.read().strip()
    return bytes.fromhex(text.replace(":", "")) if text else b""


def own_macs(sys_net: str = SYS_NET) -> set[bytes]:
    """The MACs of all local interfaces, except VRRP virtual MACs, for `probe`'s `own_macs`.

    All of them, because a host with two ports on one segment answers ARP on both. VRRP virtual
    MACs are left out because keepalived's use_vmac gives the peer the very same MAC: a reply
    from it is exactly the conflict we look for. (Our own VMAC interface never sees our probe:
    we send from its parent, and a macvlan does not receive what its parent transmits.)
    """
    macs = set()
    for name in os.listdir(sys_net):
        try:
            mac = _read_mac(name, sys_net)
        except (OSError, ValueError):  # interface gone meanwhile, or not a hex address
            continue
        if len(mac) == 6 and any(mac) and not is_vrrp_mac(mac):
            macs.add(mac)
    return macs


def probe_interface(ifname: str, sys_net: str = SYS_NET) -> str:
    """The interface to probe from for a VIP held on `ifname`.

    `ifname` itself, except for keepalived's use_vmac macvlans (recognised by their VRRP
    virtual MAC, which the peer's macvlan shares): for those, their parent, so that the probe
    carries a MAC unique to this host. VLANs, bonds and bridges are never redirected.
    """
    try:
        mac = _read_mac(ifname, sys_net)
    except (OSError, ValueError) as e:
        raise ProbeError(f"--arp-probe: cannot read the MAC address of {ifname}: {e}") from e
    if not is_vrrp_mac(mac):
        return ifname
    # lower_* names the parent directly; iflink is an ifindex that, for a veth, belongs to
    # another namespace.
    try:
        entries = os.listdir(f"{sys_net}/{ifname}")
    except OSError as e:
        raise ProbeError(f"--arp-probe: cannot read {sys_net}/{ifname}: {e}") from e
    lowers = [n[len("lower_") :] for n in entries if n.startswith("lower_")]
    if len(lowers) != 1:
        raise ProbeError(
            f"--arp-probe: {ifname} has a VRRP virtual MAC but no single parent interface here"
            f" (found {lowers or 'none'}); cannot probe with a MAC of our own"
        )
    return lowers[0]


def probe(
    ifname: str, vip: bytes, own_macs: set[bytes], probes: int = 2, wait: float = 0.3
) -> list[bytes]:
    """Probe for `vip` on `ifname`; return the MACs of other machines that claimed it.

    Sends `probes` ARP probes spread over `wait` seconds and listens until `wait` has passed,
    so an empty answer takes `wait`. Raises ProbeError when the probe cannot run.
    """
    if len(vip) == 16:
        raise ProbeError("--arp-probe checks IPv4 VIPs only")
    if len(vip) != 4:
        raise ValueError(f"not an IPv4 address: {vip!r}")
    if probes < 1 or wait <= 0:
        raise ValueError("need probes >= 1 and wait > 0")
    try:
        # Protocol 0 receives nothing until bind() names the interface and ETH_P_ARP: a socket
        # opened with ETH_P_ARP would queue ARP from every interface in between.
        sock = _socket.socket(_socket.AF_PACKET, _socket.SOCK_RAW, 0)
    except PermissionError as e:
        raise ProbeError(f"--arp-probe needs CAP_NET_RAW (run as root): {e}") from e
    except OSError as e:
        raise ProbeError(f"--arp-probe: cannot open a packet socket: {e}") from e
    try:
        return _run(sock, ifname, vip, own_macs, probes, wait)
    except OSError as e:
        raise ProbeError(f"--arp-probe on {ifname}: {e}") from e
    finally:
        sock.close()


def _run(
    sock: _socket.socket, ifname: str, vip: bytes, own: set[bytes], probes: int, wait: float
) -> list[bytes]:
    sock.bind((ifname, ETH_P_ARP))
    # getsockname() of a bound packet socket carries the interface's hardware type and address.
    _name, _proto, _pkttype, hatype, mac = sock.getsockname()
    if hatype != ARPHRD_ETHER or len(mac) != 6:
        raise ProbeError(f"--arp-probe: {ifname} is not an Ethernet interface")
    frame = build_arp_probe(mac, vip)
    start = time.monotonic()
    deadline = start + wait
    sent = 0
    found: list[bytes] = []
    while True:
        now = time.monotonic()
        if sent < probes and now >= start + sent * wait / probes:
            sock.send(frame)
            sent += 1
            continue
        if now >= deadline:
            return found
        wake = deadline if sent >= probes else min(deadline, start + sent * wait / probes)
        sock.settimeout(max(wake - now, 0.001))
        try:
            data, addr = sock.recvfrom(2048)
        except _socket.timeout:
            continue
        other = conflicting_mac(data, addr[2], vip, own)
        if other is not None and other not in found:
            found.append(other)
