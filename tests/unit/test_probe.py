"""Pure parts of the ARP probe: frame bytes, parsing, conflict filtering, interface choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
    def test_ipv6_vip_refused(self) -> None:
        with pytest.raises(p.ProbeError, match="IPv4 VIPs only"):
            p.probe("eth0", bytes(16), set())

    @pytest.mark.parametrize(("probes", "wait"), [(0, 0.3), (2, 0.0)])
    def test_bad_timing(self, probes: int, wait: float) -> None:
        with pytest.raises(ValueError):
            p.probe("eth0", VIP, set(), probes=probes, wait=wait)
