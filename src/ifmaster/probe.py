"""Duplicate-address probe for ``--arp-probe``: does another machine answer for the VIP?

IPv4: RFC 5227 ARP probes (sender IP 0.0.0.0, as ``arping -D`` does). IPv6: what duplicate
address detection sends (RFC 4862 5.4): Neighbor Solicitations for the VIP from ``::`` to its
solicited-node group. Both as raw Ethernet frames over AF_PACKET, all VIPs at once in one poll
loop; answers that claim a VIP from a MAC that is not ours are the other holders. Linux only.

AF_PACKET rather than a raw ICMPv6 socket for IPv6 too: another node's DAD solicitation
carries no link-layer option, so only the Ethernet header can name its MAC; we choose the
source MAC ourselves (the vmac parent's, not the shared virtual MAC); and the kernel never
consumes or rewrites what we send or see.
"""

from __future__ import annotations

# `_socket`, not `socket`: the wrapper module's enum set-up costs ~10 ms of import time for
# nothing we use (measured: socket 9.9 ms cumulative, _socket 0.5 ms).
import _socket
import array
import os
import select
import struct
import time
from collections.abc import Iterable

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
IPPROTO_ICMPV6 = 58
ND_NEIGHBOR_SOLICIT = 135
ND_NEIGHBOR_ADVERT = 136
ND_OPT_SOURCE_LL = 1
ND_OPT_NONCE = 14  # RFC 7527: tells our own solicitation, looped back, from another node's
ND_NA_SOLICITED = 0x40000000
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


# Ethernet + IPv6 header: dst, src, type, version/class/flow, payload length, next header,
# hop limit, source, destination. Then ICMPv6 NS/NA: type, code, checksum, flags, target.
_ETH_IP6 = struct.Struct("!6s6sHIHBB16s16s")
_ND = struct.Struct("!BBHI16s")
_SOLICITED_NODE = bytes.fromhex("ff0200000000000000000001ff")  # + the VIP's last 3 bytes

#: (ICMPv6 type, Ethernet source MAC, IPv6 source, target, NA flags, nonce) of a well-formed
#: Neighbor Solicitation or Advertisement; the nonce is b"" when the message carries none.
NdPacket = tuple[int, bytes, bytes, bytes, int, bytes]


def solicited_node(vip: bytes) -> bytes:
    """The solicited-node multicast group of an IPv6 address (RFC 4291 2.7.1)."""
    return _SOLICITED_NODE + vip[13:]


def multicast_mac(group: bytes) -> bytes:
    """The Ethernet destination of an IPv6 multicast group: 33:33 and its last 4 bytes."""
    return b"\x33\x33" + group[12:]


def icmp6_checksum(src: bytes, dst: bytes, message: bytes) -> int:
    """The ICMPv6 checksum of `message` (its checksum field zero) over the pseudo-header;
    0 for a message whose checksum field is already right."""
    data = src + dst + struct.pack("!I3xB", len(message), IPPROTO_ICMPV6) + message
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_dad_ns(mac: bytes, vip: bytes, nonce: bytes) -> bytes:
    """A DAD Neighbor Solicitation for `vip` from `mac`: source ::, to the solicited-node group.

    It carries a nonce option (RFC 7527) as Linux's own DAD does, so a copy looped back to us
    is known as ours; and no source link-layer option, which RFC 4861 forbids from ``::``.
    """
    if len(mac) != 6 or len(vip) != 16 or len(nonce) != 6:
        raise ValueError("need a 6-byte MAC, a 16-byte IPv6 address and a 6-byte nonce")
    group = solicited_node(vip)
    body = _ND.pack(ND_NEIGHBOR_SOLICIT, 0, 0, 0, vip) + bytes([ND_OPT_NONCE, 1]) + nonce
    csum = icmp6_checksum(bytes(16), group, body)
    body = body[:2] + csum.to_bytes(2, "big") + body[4:]
    header = _ETH_IP6.pack(
        multicast_mac(group), mac, ETH_P_IPV6,
        6 << 28, len(body), IPPROTO_ICMPV6, 255, bytes(16), group,
    )  # fmt: skip
    return header + body


def parse_nd(frame: bytes) -> NdPacket | None:
    """The NS or NA in an Ethernet frame if it passes RFC 4861's validity checks, else None.

    Checked as a receiving node does (7.1.1, 7.1.2): IPv6 with ICMPv6 as the next header, hop
    limit 255 (so it was not routed here), the whole message present, code 0, a valid checksum,
    at least 24 bytes, a target that is not multicast, options of non-zero length that fit;
    a solicitation from ``::`` sent to the target's solicited-node group without a source
    link-layer option; an advertisement to a multicast group not flagged solicited.
    """
    if len(frame) < _ETH_IP6.size + _ND.size:
        return None
    _dst_mac, src_mac, etype, vtf, plen, nxt, hlim, src, dst = _ETH_IP6.unpack_from(frame)
    if etype != ETH_P_IPV6 or vtf >> 28 != 6 or nxt != IPPROTO_ICMPV6 or hlim != 255:
        return None
    message = frame[_ETH_IP6.size : _ETH_IP6.size + plen]
    if len(message) != plen or plen < _ND.size:  # cut short (anything beyond is padding)
        return None
    kind, code, _csum, flags, target = _ND.unpack_from(message)
    if kind not in (ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT) or code != 0 or target[0] == 0xFF:
        return None
    # Summed with its checksum in place, a valid message sums to zero (either zero's form).
    if icmp6_checksum(src, dst, message) != 0:
        return None
    nonce, has_sllao, i = b"", False, _ND.size
    while i < plen:
        if i + 2 > plen or message[i + 1] == 0 or i + 8 * message[i + 1] > plen:
            return None
        opt, size = message[i], 8 * message[i + 1]
        if opt == ND_OPT_NONCE:
            nonce = message[i + 2 : i + size]
        has_sllao |= opt == ND_OPT_SOURCE_LL
        i += size
    if kind == ND_NEIGHBOR_SOLICIT:
        if src == bytes(16) and (dst != solicited_node(target) or has_sllao):
            return None
        flags = 0
    elif dst[0] == 0xFF and flags & ND_NA_SOLICITED:
        return None
    return (kind, src_mac, src, target, flags, nonce)


def conflicting_nd_mac(
    frame: bytes, pkttype: int, vip: bytes, own_macs: set[bytes], nonce: bytes
) -> bytes | None:
    """The MAC of another machine claiming IPv6 `vip` in this received frame, else None.

    A claim is a Neighbor Advertisement for the VIP (the holder's kernel answering our probe,
    or keepalived's unsolicited ones) or another node's DAD solicitation for it (someone taking
    the address; an if-master probe runs only on a holder). A solicitation from a unicast
    source is address resolution and claims nothing, nor does one carrying our own nonce.
    """
    if pkttype == PACKET_OUTGOING:
        return None
    pkt = parse_nd(frame)
    if pkt is None:
        return None
    kind, mac, src, target, _flags, their_nonce = pkt
    if target != vip or mac in own_macs:
        return None
    if kind == ND_NEIGHBOR_SOLICIT and (src != bytes(16) or their_nonce == nonce):
        return None
    return mac


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


#: What the probe is asked about: (interface to send from, packed VIP, 4 or 16 bytes).
Target = tuple[str, bytes]

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_MULTICAST = 0
SO_ATTACH_FILTER = 26
ETH_P_ALL = 0x0003
_SKF_AD = 0xFFFFF000  # classic BPF's ancillary data: SKF_AD_OFF, as an unsigned k
# Classic BPF for the IPv6 socket, (code, jt, jf, k) each: keep untagged, incoming IPv6 frames
# that carry ICMPv6 (next header 58 at offset 20) of type NS or NA (offset 54). The kernel
# drops the rest, so a busy link's other traffic cannot crowd the answer out of the queue.
_ND_FILTER = (
    (0x20, 0, 0, _SKF_AD + 48),  # 0: ld vlan_avail (a tag the NIC stripped: another VLAN)
    (0x15, 0, 10, 0),  # 1: jeq #0, else drop
    (0x20, 0, 0, _SKF_AD + 4),  # 2: ld pkttype
    (0x15, 8, 0, PACKET_OUTGOING),  # 3: what this host sent: drop
    (0x28, 0, 0, 12),  # 4: ldh [12], the ethertype
    (0x15, 0, 6, ETH_P_IPV6),  # 5: jeq #0x86dd, else drop
    (0x30, 0, 0, 20),  # 6: ldb [20], the next header
    (0x15, 0, 4, IPPROTO_ICMPV6),  # 7: jeq #58, else drop
    (0x30, 0, 0, 54),  # 8: ldb [54], the ICMPv6 type
    (0x15, 1, 0, ND_NEIGHBOR_SOLICIT),  # 9: jeq #135: keep
    (0x15, 0, 1, ND_NEIGHBOR_ADVERT),  # 10: jeq #136: keep, else drop
    (0x06, 0, 0, 0x40000),  # 11: keep the whole frame
    (0x06, 0, 0, 0),  # 12: drop
)


class _Link:
    """One packet socket: one interface and one family, with the VIPs probed through it."""

    def __init__(self, ifname: str, ipv6: bool, vips: list[bytes]) -> None:
        self.ifname, self.ipv6, self.vips = ifname, ipv6, vips
        self.frames: list[bytes] = []
        # Protocol 0 receives nothing until bind() names the interface and the protocol: a
        # socket opened with it would queue frames from every interface in between.
        try:
            self.sock = _socket.socket(_socket.AF_PACKET, _socket.SOCK_RAW, 0)
        except PermissionError as e:
            raise ProbeError(f"--arp-probe needs CAP_NET_RAW (run as root): {e}") from e
        except OSError as e:
            raise ProbeError(f"--arp-probe: cannot open a packet socket: {e}") from e

    def open(self, nonce: bytes) -> None:
        """Filter, bind, check that the link is Ethernet, build the frames to send."""
        if self.ipv6:
            prog = array.array("B", b"".join(struct.pack("=HBBI", *i) for i in _ND_FILTER))
            fprog = struct.pack("@HP", len(_ND_FILTER), prog.buffer_info()[0])
            self.sock.setsockopt(_socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        # IPv6 listens to all protocols (the filter keeps ND): a tap for ETH_P_ALL sees a frame
        # before a macvlan's handler does, and a private-mode macvlan (keepalived's use_vmac)
        # swallows a multicast frame whose source is its own MAC, which is exactly what the
        # peer's advertisement from the shared VRRP MAC is.
        try:
            self.sock.bind((self.ifname, ETH_P_ALL if self.ipv6 else ETH_P_ARP))
        except UnicodeEncodeError:
            # Python's AF_PACKET addresses take the name as UTF-8 only; the kernel took bytes.
            raise ProbeError(
                f"--arp-probe: cannot listen on {self.ifname!r}: its name is not UTF-8"
            ) from None
        # getsockname() of a bound packet socket carries the interface's hardware type and
        # address.
        _name, _proto, _pkttype, hatype, mac = self.sock.getsockname()
        if hatype != ARPHRD_ETHER or len(mac) != 6:
            raise ProbeError(f"--arp-probe: {self.ifname} is not an Ethernet interface")
        for vip in self.vips:
            if not self.ipv6:
                self.frames.append(build_arp_probe(mac, vip))
                continue
            self.frames.append(build_dad_ns(mac, vip, nonce))
            # Another node's DAD goes to the VIP's solicited-node group: make sure the NIC
            # passes that group up here too (on a vmac parent the VIP itself is not).
            mreq = struct.pack(
                "=iHH8s",
                _socket.if_nametoindex(self.ifname),
                PACKET_MR_MULTICAST,
                6,
                multicast_mac(solicited_node(vip)),
            )
            self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        self.sock.setblocking(False)


def probe_all(
    targets: Iterable[Target], own_macs: set[bytes], probes: int = 2, wait: float = 0.3
) -> dict[Target, list[bytes]]:
    """Probe every (interface, VIP) at once; for each, the MACs of other machines claiming it.

    IPv4 VIPs get ARP probes, IPv6 VIPs DAD Neighbor Solicitations; `probes` of each are
    spread over `wait` seconds and every socket is read in one poll loop until `wait` has
    passed, so an empty answer takes `wait` whatever the number of VIPs and families.
    Raises ProbeError when the probe cannot run.
    """
    targets = list(dict.fromkeys(targets))
    for _ifname, vip in targets:
        if len(vip) not in (4, 16):
            raise ValueError(f"not an IPv4 or IPv6 address: {vip!r}")
    if probes < 1 or wait <= 0:
        raise ValueError("need probes >= 1 and wait > 0")
    grouped: dict[tuple[str, bool], list[bytes]] = {}
    for ifname, vip in targets:
        grouped.setdefault((ifname, len(vip) == 16), []).append(vip)
    found: dict[Target, list[bytes]] = {t: [] for t in targets}
    links: list[_Link] = []
    try:
        for (ifname, ipv6), vips in grouped.items():
            links.append(_Link(ifname, ipv6, vips))
        _run(links, found, own_macs, os.urandom(6), probes, wait)
    finally:
        for link in links:
            link.sock.close()
    return found


def _run(
    links: list[_Link],
    found: dict[Target, list[bytes]],
    own: set[bytes],
    nonce: bytes,
    probes: int,
    wait: float,
) -> None:
    poller = select.poll()
    by_fd: dict[int, _Link] = {}
    for link in links:
        try:
            link.open(nonce)
        except OSError as e:
            raise ProbeError(f"--arp-probe on {link.ifname}: {e}") from e
        by_fd[link.sock.fileno()] = link
        poller.register(link.sock, select.POLLIN)
    start = time.monotonic()
    deadline = start + wait
    sent = 0
    while True:
        now = time.monotonic()
        if sent < probes and now >= start + sent * wait / probes:
            for link in links:
                for frame in link.frames:
                    _send(link, frame)
            sent += 1
            continue
        if now >= deadline:
            return
        wake = deadline if sent >= probes else min(deadline, start + sent * wait / probes)
        for fd, _event in poller.poll(max(1, round((wake - now) * 1000))):
            _drain(by_fd[fd], found, own, nonce)


def _send(link: _Link, frame: bytes) -> None:
    try:
        link.sock.send(frame)
    except OSError as e:
        raise ProbeError(f"--arp-probe on {link.ifname}: {e}") from e


def _drain(link: _Link, found: dict[Target, list[bytes]], own: set[bytes], nonce: bytes) -> None:
    """Read every frame queued on one socket, noting the VIPs that another MAC claims."""
    while True:
        try:
            data, addr = link.sock.recvfrom(2048)
        except BlockingIOError:
            return
        except OSError as e:
            raise ProbeError(f"--arp-probe on {link.ifname}: {e}") from e
        for vip in link.vips:
            if link.ipv6:
                other = conflicting_nd_mac(data, addr[2], vip, own, nonce)
            else:
                other = conflicting_mac(data, addr[2], vip, own)
            macs = found[(link.ifname, vip)]
            if other is not None and other not in macs:
                macs.append(other)
