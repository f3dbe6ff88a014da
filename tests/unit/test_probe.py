"""Pure parts of the ARP and ND probes: frame bytes, parsing, conflict filtering, interfaces."""

from __future__ import annotations

import ipaddress
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ifmaster import probe as p

OUR_MAC = bytes.fromhex("020000000001")
OTHER_MAC = bytes.fromhex("020000000002")
VIP = bytes([10, 0, 0, 100])
PACKET_HOST, PACKET_BROADCAST = 0, 1


def arp(op: int, sha: bytes, spa: bytes, tpa: bytes, tha: bytes = bytes(6)) -> bytes:
    """An ARP frame as a peer would send it, written out field by field."""
    return (
        (b"\xff" * 6 if op == 1 else OUR_MAC) + sha + b"\x08\x06"
        + b"\x00\x01" + b"\x08\x00" + b"\x06\x04" + op.to_bytes(2, "big")
        + sha + spa + tha + tpa
    )  # fmt: skip


class TestBuild:
    def test_exact_bytes(self) -> None:
        expected = bytes.fromhex(
            "ffffffffffff 020000000001 0806"  # broadcast, from us, ARP
            " 0001 0800 06 04 0001"  # Ethernet, IPv4, address lengths, request
            " 020000000001 00000000"  # sender: our MAC, 0.0.0.0
            " 000000000000 0a000064"  # target: unknown MAC, the VIP
        ) + bytes(18)  # padding to the 60-byte minimum frame
        assert p.build_arp_probe(OUR_MAC, VIP) == expected
        assert len(expected) == 60

    @pytest.mark.parametrize(("mac", "ip"), [(b"\x01" * 5, VIP), (OUR_MAC, bytes(16))])
    def test_bad_lengths(self, mac: bytes, ip: bytes) -> None:
        with pytest.raises(ValueError):
            p.build_arp_probe(mac, ip)


class TestParse:
    def test_own_probe_round_trips(self) -> None:
        pkt = p.parse_arp(p.build_arp_probe(OUR_MAC, VIP))
        assert pkt == (1, OUR_MAC, bytes(4), VIP)

    def test_reply_from_bytes(self) -> None:
        frame = arp(2, OTHER_MAC, VIP, bytes(4), tha=OUR_MAC)
        assert p.parse_arp(frame) == (2, OTHER_MAC, VIP, bytes(4))

    def test_truncated(self) -> None:
        frame = arp(2, OTHER_MAC, VIP, bytes(4))
        assert len(frame) == 42
        assert p.parse_arp(frame[:41]) is None
        assert p.parse_arp(b"") is None

    def test_not_arp(self) -> None:
        ipv4 = bytearray(p.build_arp_probe(OUR_MAC, VIP))
        ipv4[12:14] = b"\x08\x00"
        assert p.parse_arp(bytes(ipv4)) is None

    def test_arp_for_other_protocol_or_hardware(self) -> None:
        frame = bytearray(arp(2, OTHER_MAC, VIP, bytes(4)))
        frame[16:18] = b"\x86\xdd"  # protocol type IPv6: not ours to judge
        assert p.parse_arp(bytes(frame)) is None
        frame = bytearray(arp(2, OTHER_MAC, VIP, bytes(4)))
        frame[18] = 8  # hardware length 8
        assert p.parse_arp(bytes(frame)) is None


class TestConflict:
    own = {OUR_MAC}

    def test_reply_from_other_mac(self) -> None:
        frame = arp(2, OTHER_MAC, VIP, bytes(4), tha=OUR_MAC)
        assert p.conflicting_mac(frame, PACKET_HOST, VIP, self.own) == OTHER_MAC

    def test_gratuitous_arp_from_other_mac(self) -> None:
        frame = arp(1, OTHER_MAC, VIP, VIP)
        assert p.conflicting_mac(frame, PACKET_BROADCAST, VIP, self.own) == OTHER_MAC

    def test_own_mac_ignored(self) -> None:
        frame = arp(2, OUR_MAC, VIP, bytes(4))
        assert p.conflicting_mac(frame, PACKET_HOST, VIP, self.own) is None

    def test_outgoing_ignored(self) -> None:
        # e.g. the gratuitous ARP of keepalived on this host, from a MAC not in own_macs
        frame = arp(1, OTHER_MAC, VIP, VIP)
        assert p.conflicting_mac(frame, p.PACKET_OUTGOING, VIP, self.own) is None

    def test_other_ip_ignored(self) -> None:
        frame = arp(2, OTHER_MAC, bytes([10, 0, 0, 7]), bytes(4))
        assert p.conflicting_mac(frame, PACKET_HOST, VIP, self.own) is None

    def test_peer_probe_claims_nothing(self) -> None:
        # The peer running --arp-probe at the same moment: sender 0.0.0.0, target the VIP.
        frame = p.build_arp_probe(OTHER_MAC, VIP)
        assert p.conflicting_mac(frame, PACKET_BROADCAST, VIP, self.own) is None

    def test_request_asking_for_vip_ignored(self) -> None:
        frame = arp(1, OTHER_MAC, bytes([10, 0, 0, 7]), VIP)
        assert p.conflicting_mac(frame, PACKET_BROADCAST, VIP, self.own) is None

    def test_other_opcode_ignored(self) -> None:
        frame = arp(4, OTHER_MAC, VIP, bytes(4))  # RARP reply: claims nothing
        assert p.conflicting_mac(frame, PACKET_HOST, VIP, self.own) is None

    def test_non_arp_ignored(self) -> None:
        assert p.conflicting_mac(b"\x00" * 60, PACKET_HOST, VIP, self.own) is None


def fake_sys_net(root: Path, links: dict[str, str], lowers: dict[str, list[str]]) -> str:
    """A /sys/class/net look-alike: one directory per interface, `address`, `lower_*` links."""
    for name, mac in links.items():
        (root / name).mkdir()
        (root / name / "address").write_text(mac + "\n")
    for name, parents in lowers.items():
        for parent in parents:
            os.symlink(f"../{parent}", root / name / f"lower_{parent}")
    return str(root)


class TestInterfaces:
    def test_vrrp_mac(self) -> None:
        assert p.is_vrrp_mac(bytes.fromhex("00005e000133"))
        assert p.is_vrrp_mac(bytes.fromhex("00005e000201"))
        assert not p.is_vrrp_mac(bytes.fromhex("00005e000301"))
        assert not p.is_vrrp_mac(OUR_MAC)

    def test_own_macs_skip_loopback_and_vmac(self, tmp_path: Path) -> None:
        sys_net = fake_sys_net(
            tmp_path,
            {
                "lo": "00:00:00:00:00:00",
                "eth0": "02:00:00:00:00:01",
                "eth1": "02:00:00:00:00:0a",
                "vrrp.51": "00:00:5e:00:01:33",
                "wg0": "",  # no hardware address
            },
            {},
        )
        assert p.own_macs(sys_net) == {OUR_MAC, bytes.fromhex("02000000000a")}

    def test_probe_interface(self, tmp_path: Path) -> None:
        sys_net = fake_sys_net(
            tmp_path,
            {
                "eth0": "02:00:00:00:00:01",
                "vrrp.51": "00:00:5e:00:01:33",
                "eth0.5": "02:00:00:00:00:01",
                "mv0": "02:00:00:00:00:0b",
                "vrrp.9": "00:00:5e:00:01:09",
            },
            {"vrrp.51": ["eth0"], "eth0.5": ["eth0"], "mv0": ["eth0"]},
        )
        assert p.probe_interface("eth0", sys_net) == "eth0"
        assert p.probe_interface("vrrp.51", sys_net) == "eth0"
        assert p.probe_interface("eth0.5", sys_net) == "eth0.5"  # a VLAN: another segment
        assert p.probe_interface("mv0", sys_net) == "mv0"  # own MAC: fine to probe from
        with pytest.raises(p.ProbeError, match="no single parent"):
            p.probe_interface("vrrp.9", sys_net)
        with pytest.raises(p.ProbeError, match="cannot read the MAC address of nope"):
            p.probe_interface("nope", sys_net)


class TestProbeArguments:
    def test_bad_vip_length(self) -> None:
        with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
            p.probe_all([("eth0", VIP), ("eth0", bytes(5))], set())

    @pytest.mark.parametrize(("probes", "wait"), [(0, 0.3), (2, 0.0)])
    def test_bad_timing(self, probes: int, wait: float) -> None:
        with pytest.raises(ValueError):
            p.probe_all([("eth0", VIP)], set(), probes=probes, wait=wait)
        with pytest.raises(ValueError):
            p.probe_all([("eth0", VIP6)], set(), probes=probes, wait=wait)


# -- IPv6: Neighbor Discovery ---------------------------------------------------------------

VIP6 = ipaddress.IPv6Address("fd00::100").packed
PEER_MAC = bytes.fromhex("b28bc4cfbd1a")  # node B of the capture below
A_MAC = bytes.fromhex("26befd0936a3")  # node A
VMAC6 = bytes.fromhex("00005e000233")  # VRRP's IPv6 virtual MAC, VRID 51
NONCE = bytes.fromhex("e9e62bb01ea5")

# Frames captured from Linux 6.18 (AF_PACKET, two namespaces A and B on a bridge); the captured
# bytes, not re-typed field by field. The kernel built each, except PEER_PROBE_NS and the last.
#: B running build_dad_ns for fd00::100 (A held it): the exact bytes A received.
PEER_PROBE_NS = bytes.fromhex(
    "3333ff000100b28bc4cfbd1a86dd6000000000203aff00000000000000000000000000000000ff02000000"
    "00000000000001ff0001008700396200000000fd0000000000000000000000000001000e01e9e62bb01ea5"
)
#: B's kernel answering A's DAD probe for fd00::100: to ff02::1, Override, target LL option.
KERNEL_NA = bytes.fromhex(
    "333300000001b28bc4cfbd1a86dd6000000000203afffd000000000000000000000000000100ff02000000"
    "00000000000000000000018800262820000000fd0000000000000000000000000001000201b28bc4cfbd1a"
)
#: B's kernel doing its own DAD for fd00::200 (`ip addr add` without nodad): nonce option.
KERNEL_DAD_NS = bytes.fromhex(
    "3333ff000200b28bc4cfbd1a86dd6000000000203aff00000000000000000000000000000000ff02000000"
    "00000000000001ff00020087007b3200000000fd0000000000000000000000000002000e01dcd8e6232d6f"
)
#: A resolving fd00::200 (a UDP send): from its unicast address, source LL option.
RESOLUTION_NS = bytes.fromhex(
    "3333ff00020026befd0936a386dd6000000000203afffd000000000000000000000000000001ff02000000"
    "00000000000001ff0002008700213100000000fd000000000000000000000000000200010126befd0936a3"
)
#: B's answer to that: unicast to A, Solicited and Override.
SOLICITED_NA = bytes.fromhex(
    "26befd0936a3b28bc4cfbd1a86dd6000000000203afffd000000000000000000000000000200fd00000000"
    "00000000000000000000018800e62960000000fd0000000000000000000000000002000201b28bc4cfbd1a"
)
#: keepalived 2.2.7 becoming master with use_vmac (VRID 112): its unsolicited advertisement
#: for fd00:b2:1::100, from the shared VRRP MAC, as the other node's veth received it.
KEEPALIVED_VMAC_NA = bytes.fromhex(
    "33330000000100005e00027086dd6000000000203afffd0000b2000100000000000000000100ff02000000"
    "00000000000000000000018800f8c720000000fd0000b2000100000000000000000100020100005e000270"
)
KEEPALIVED_VIP = ipaddress.IPv6Address("fd00:b2:1::100").packed
KEEPALIVED_VMAC = bytes.fromhex("00005e000270")
CAPTURED = [
    PEER_PROBE_NS,
    KERNEL_NA,
    KERNEL_DAD_NS,
    RESOLUTION_NS,
    SOLICITED_NA,
    KEEPALIVED_VMAC_NA,
]
FD00_1 = ipaddress.IPv6Address("fd00::1").packed
FD00_200 = ipaddress.IPv6Address("fd00::200").packed
PACKET_MULTICAST = 2


def resum(frame: bytes | bytearray) -> bytes:
    """`frame` with its ICMPv6 checksum recomputed, so a test can change one field alone."""
    f = bytearray(frame)
    plen = int.from_bytes(f[18:20], "big")
    message = bytes(f[54:56]) + b"\0\0" + bytes(f[58 : 54 + plen])
    f[56:58] = p.icmp6_checksum(bytes(f[22:38]), bytes(f[38:54]), message).to_bytes(2, "big")
    return bytes(f)


def mutate(frame: bytes, offset: int, value: bytes, checksum: bool = True) -> bytes:
    f = bytearray(frame)
    f[offset : offset + len(value)] = value
    return resum(f) if checksum else bytes(f)


class TestBuildNs:
    def test_exact_bytes_as_the_kernel_received_them(self) -> None:
        assert p.build_dad_ns(PEER_MAC, VIP6, NONCE) == PEER_PROBE_NS

    def test_fields(self) -> None:
        frame = p.build_dad_ns(OUR_MAC, VIP6, NONCE)
        assert frame[:6] == bytes.fromhex("3333ff000100")  # the solicited-node MAC
        assert frame[6:12] == OUR_MAC
        assert frame[21] == 255  # hop limit
        assert frame[22:38] == bytes(16)  # from ::
        assert ipaddress.IPv6Address(frame[38:54]) == ipaddress.IPv6Address("ff02::1:ff00:100")
        assert p.parse_nd(frame) == (135, OUR_MAC, bytes(16), VIP6, 0, NONCE)

    @pytest.mark.parametrize(
        ("mac", "ip", "nonce"),
        [(b"\x01" * 5, VIP6, NONCE), (OUR_MAC, VIP, NONCE), (OUR_MAC, VIP6, b"")],
    )
    def test_bad_lengths(self, mac: bytes, ip: bytes, nonce: bytes) -> None:
        with pytest.raises(ValueError):
            p.build_dad_ns(mac, ip, nonce)

    def test_solicited_node_and_its_mac(self) -> None:
        vip = ipaddress.IPv6Address("2001:db8::abcd:ef12:3456").packed
        group = p.solicited_node(vip)
        assert ipaddress.IPv6Address(group) == ipaddress.IPv6Address("ff02::1:ff12:3456")
        assert p.multicast_mac(group) == bytes.fromhex("3333ff123456")


class TestParseNd:
    def test_captured_frames(self) -> None:
        assert p.parse_nd(PEER_PROBE_NS) == (135, PEER_MAC, bytes(16), VIP6, 0, NONCE)
        assert p.parse_nd(KERNEL_NA) == (136, PEER_MAC, VIP6, VIP6, 0x20000000, b"")
        dad = (135, PEER_MAC, bytes(16), FD00_200, 0, bytes.fromhex("dcd8e6232d6f"))
        assert p.parse_nd(KERNEL_DAD_NS) == dad
        assert p.parse_nd(RESOLUTION_NS) == (135, A_MAC, FD00_1, FD00_200, 0, b"")
        assert p.parse_nd(SOLICITED_NA) == (136, PEER_MAC, FD00_200, FD00_200, 0x60000000, b"")
        vmac_na = (136, KEEPALIVED_VMAC, KEEPALIVED_VIP, KEEPALIVED_VIP, 0x20000000, b"")
        assert p.parse_nd(KEEPALIVED_VMAC_NA) == vmac_na

    @pytest.mark.parametrize("frame", CAPTURED)
    def test_every_truncation_is_rejected(self, frame: bytes) -> None:
        for n in range(len(frame)):
            assert p.parse_nd(frame[:n]) is None, n

    @pytest.mark.parametrize("frame", CAPTURED)
    def test_ethernet_padding_is_ignored(self, frame: bytes) -> None:
        assert p.parse_nd(frame + bytes(12)) == p.parse_nd(frame) is not None

    @pytest.mark.parametrize("hop_limit", [0, 1, 64, 254])
    def test_hop_limit_not_255(self, hop_limit: int) -> None:
        for frame in CAPTURED:
            assert p.parse_nd(mutate(frame, 21, bytes([hop_limit]))) is None

    def test_bad_checksum(self) -> None:
        for frame in CAPTURED:
            bad = bytearray(frame)
            bad[56] ^= 0x01
            assert p.parse_nd(bytes(bad)) is None
            assert p.parse_nd(mutate(frame, 70, b"\x55", checksum=False)) is None  # payload

    @pytest.mark.parametrize("kind", [128, 129, 133, 134, 137, 143])
    def test_other_icmpv6_types(self, kind: int) -> None:
        """Echo, RS, RA, redirect, MLDv2 report, with a valid checksum each: not NS or NA."""
        assert p.parse_nd(mutate(KERNEL_NA, 54, bytes([kind]))) is None

    def test_nonzero_code(self) -> None:
        assert p.parse_nd(mutate(KERNEL_NA, 55, b"\x01")) is None

    def test_not_icmpv6_or_not_ipv6(self) -> None:
        assert p.parse_nd(mutate(KERNEL_NA, 20, b"\x11")) is None  # UDP next header
        assert p.parse_nd(mutate(KERNEL_NA, 20, b"\x00")) is None  # hop-by-hop first
        assert p.parse_nd(mutate(KERNEL_NA, 12, b"\x08\x00")) is None  # IPv4 ethertype
        assert p.parse_nd(mutate(KERNEL_NA, 14, b"\x40")) is None  # version 4 in the header

    def test_multicast_target(self) -> None:
        ff02_1 = ipaddress.IPv6Address("ff02::1").packed
        assert p.parse_nd(mutate(KERNEL_NA, 62, ff02_1)) is None

    def test_short_icmp_message(self) -> None:
        # Payload length 20: a whole message by the IPv6 header, shorter than NS/NA's 24.
        assert p.parse_nd(mutate(KERNEL_NA, 18, b"\x00\x14")) is None

    def test_payload_length_beyond_the_frame(self) -> None:
        assert p.parse_nd(mutate(KERNEL_NA, 18, b"\x00\x28")) is None

    def test_option_of_length_zero_or_overrunning(self) -> None:
        assert p.parse_nd(mutate(KERNEL_NA, 79, b"\x00")) is None
        assert p.parse_nd(mutate(KERNEL_NA, 79, b"\x02")) is None
        # a lone option byte: its length field is missing
        short = bytearray(KERNEL_NA[:79])
        short[18:20] = (79 - 54).to_bytes(2, "big")
        assert p.parse_nd(resum(short)) is None

    def test_dad_ns_with_source_link_layer_option(self) -> None:
        assert p.parse_nd(mutate(PEER_PROBE_NS, 78, b"\x01")) is None

    def test_dad_ns_to_another_group(self) -> None:
        other_group = p.solicited_node(FD00_200)
        assert p.parse_nd(mutate(PEER_PROBE_NS, 38, other_group)) is None

    def test_multicast_na_flagged_solicited(self) -> None:
        assert p.parse_nd(mutate(KERNEL_NA, 58, b"\x60")) is None

    @settings(max_examples=300, deadline=None)
    @given(
        frame=st.sampled_from(CAPTURED),
        edits=st.lists(st.tuples(st.integers(0, 85), st.integers(0, 255)), max_size=6),
        cut=st.integers(0, 100),
        fix=st.booleans(),
    )
    def test_mangled_frames_never_crash(
        self, frame: bytes, edits: list[tuple[int, int]], cut: int, fix: bool
    ) -> None:
        f = bytearray(frame)
        for i, v in edits:
            f[i] = v
        data = bytes(f[:cut] if cut < len(f) else f)
        if fix and len(data) >= 58:
            data = resum(data)
        pkt = p.parse_nd(data)
        if pkt is not None:  # anything accepted is a well-formed NS or NA
            assert pkt[0] in (135, 136) and data[21] == 255 and len(pkt[3]) == 16

    def test_random_bytes_never_crash(self) -> None:
        rng = random.Random(4862)
        for _ in range(2000):
            assert p.parse_nd(rng.randbytes(rng.randrange(120))) is None


class TestNdConflict:
    own = {OUR_MAC}

    def conflict(
        self, frame: bytes, vip: bytes = VIP6, pkttype: int = PACKET_MULTICAST
    ) -> bytes | None:
        return p.conflicting_nd_mac(frame, pkttype, vip, self.own, NONCE)

    def test_holder_answering_our_probe(self) -> None:
        assert self.conflict(KERNEL_NA) == PEER_MAC

    def test_solicited_unicast_na(self) -> None:
        assert self.conflict(SOLICITED_NA, FD00_200, PACKET_HOST) == PEER_MAC

    def test_na_from_the_shared_vrrp_mac_counts(self) -> None:
        """The peer's use_vmac answer: the VRRP MAC is never one of ours (see own_macs)."""
        frame = mutate(KERNEL_NA, 6, VMAC6)
        assert self.conflict(frame) == VMAC6
        assert self.conflict(KEEPALIVED_VMAC_NA, KEEPALIVED_VIP) == KEEPALIVED_VMAC
        # Our own keepalived's, leaving through the parent we listen on: outgoing.
        ours = self.conflict(KEEPALIVED_VMAC_NA, KEEPALIVED_VIP, p.PACKET_OUTGOING)
        assert ours is None

    def test_another_node_doing_dad_for_the_vip(self) -> None:
        assert self.conflict(KERNEL_DAD_NS, FD00_200) == PEER_MAC
        # ...and another if-master probing, which runs only on a node that holds the VIP.
        other = p.build_dad_ns(PEER_MAC, VIP6, bytes.fromhex("010203040506"))
        assert self.conflict(other) == PEER_MAC

    def test_our_own_probe_looped_back(self) -> None:
        assert self.conflict(p.build_dad_ns(OUR_MAC, VIP6, NONCE)) is None
        # Even from another MAC (a reflecting switch rewriting nothing but what it must):
        # our nonce says it is ours.
        assert self.conflict(PEER_PROBE_NS) is None

    def test_our_own_mac(self) -> None:
        assert self.conflict(mutate(KERNEL_NA, 6, OUR_MAC)) is None

    def test_outgoing(self) -> None:
        assert self.conflict(KERNEL_NA, pkttype=p.PACKET_OUTGOING) is None

    def test_other_target(self) -> None:
        assert self.conflict(KERNEL_NA, FD00_200) is None
        assert self.conflict(KERNEL_DAD_NS, VIP6) is None

    def test_address_resolution_claims_nothing(self) -> None:
        assert self.conflict(RESOLUTION_NS, FD00_200) is None

    def test_malformed_answer_does_not_count(self) -> None:
        assert self.conflict(mutate(KERNEL_NA, 21, b"\xfe")) is None
        bad = bytearray(KERNEL_NA)
        bad[57] ^= 0xFF
        assert self.conflict(bytes(bad)) is None

    def test_ipv4_frames_are_not_nd(self) -> None:
        assert self.conflict(arp(2, OTHER_MAC, VIP, bytes(4))) is None


def run_cbpf(frame: bytes, pkttype: int, vlan: bool = False) -> int:
    """Classic BPF as the kernel runs _ND_FILTER (only the instructions it uses)."""
    ancillary = {p._SKF_AD + 48: int(vlan), p._SKF_AD + 4: pkttype}
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = p._ND_FILTER[pc]
        pc += 1
        if code == 0x20:  # ld ancillary word
            acc = ancillary[k]
        elif code in (0x28, 0x30):  # ldh / ldb [k]; out of the frame: the filter drops
            size = 2 if code == 0x28 else 1
            if k + size > len(frame):
                return 0
            acc = int.from_bytes(frame[k : k + size], "big")
        elif code == 0x15:  # jeq #k
            pc += jt if acc == k else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


class TestNdFilter:
    @pytest.mark.parametrize("frame", CAPTURED)
    def test_keeps_incoming_nd(self, frame: bytes) -> None:
        for pkttype in (PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, 3):
            assert run_cbpf(frame, pkttype) > len(frame)

    def test_drops_the_rest(self) -> None:
        assert run_cbpf(KERNEL_NA, p.PACKET_OUTGOING) == 0  # what we (or our vmac) sent
        assert run_cbpf(KERNEL_NA, PACKET_MULTICAST, vlan=True) == 0  # another VLAN's
        assert run_cbpf(mutate(KERNEL_NA, 12, b"\x81\x00"), PACKET_MULTICAST) == 0  # tagged
        assert run_cbpf(arp(2, OTHER_MAC, VIP, bytes(4)), PACKET_HOST) == 0
        assert run_cbpf(mutate(KERNEL_NA, 20, b"\x11"), PACKET_MULTICAST) == 0  # UDP
        assert run_cbpf(mutate(KERNEL_NA, 54, b"\x80"), PACKET_MULTICAST) == 0  # echo request
        assert run_cbpf(KERNEL_NA[:40], PACKET_MULTICAST) == 0

    def test_every_jump_lands_inside(self) -> None:
        for i, (code, jt, jf, _k) in enumerate(p._ND_FILTER):
            if code == 0x15:
                assert i + 1 + max(jt, jf) < len(p._ND_FILTER)
