"""Parsing rtnetlink bytes and address-age arithmetic, without touching any socket."""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifmaster import netlink as nl
from ifmaster.netlink import AddrInfo, age_seconds, parse_messages
from tests.support.nlbytes import done, error, newaddr, nlmsg, rtattr

# A real RTM_GETADDR dump (Linux 6.18), captured in a namespace set up with:
#   ip link set lo up; ip link add v0 type veth peer name v1; ip link set v0 up
#   ip addr add 10.1.2.3/24 dev v0 label v0:vip; ip addr add fd00::1/64 dev v0 nodad
#   ip addr add 10.5.5.1 peer 10.5.5.2 dev v0
# First datagram: five RTM_NEWADDR (NLM_F_MULTI); second: NLMSG_DONE.
CAPTURED_ADDRS = bytes.fromhex(
    "4c00000014000200010000000b480000020880fe01000000080001007f000001080002007f000001"
    "070003006c6f0000080008008000000014000600ffffffffffffffff78e6000078e6000050000000"
    "14000200010000000b4800000218800003000000080001000a010203080002000a0102030b000300"
    "76303a7669700000080008008000000014000600ffffffffffffffff78e6000078e600004c000000"
    "14000200010000000b4800000220800003000000080001000a050502080002000a05050107000300"
    "76300000080008008000000014000600ffffffffffffffff78e6000078e600005000000014000200"
    "010000000b4800000a8080fe0100000014000100000000000000000000000000000000011400060"
    "0ffffffffffffffff78e6000078e60000080008008000000005000b000100000048000000140002"
    "00010000000b4800000a4082000300000014000100fd000000000000000000000000000001140006"
    "00ffffffffffffffff78e6000078e600000800080082000000"
)
CAPTURED_DONE = bytes.fromhex("1400000003000200010000000b48000000000000")

V6_LOOPBACK = bytes(15) + b"\x01"
FD00_1 = b"\xfd" + bytes(14) + b"\x01"


def test_captured_dump_decodes_every_field() -> None:
    addrs, finished = parse_messages(CAPTURED_ADDRS)
    assert not finished
    assert [a.text for a in addrs] == ["127.0.0.1", "10.1.2.3", "10.5.5.1", "::1", "fd00::1"]
    lo4, vip, ptp, lo6, v6 = addrs
    assert lo4 == AddrInfo(1, 2, 8, 0x80, 254, b"\x7f\0\0\x01", "lo", 0xE678, 0xE678)
    assert vip == AddrInfo(
        3, 2, 24, nl.IFA_F_PERMANENT, 0, b"\x0a\x01\x02\x03", "v0:vip", 59000, 59000
    )
    # Point-to-point: IFA_ADDRESS is the peer 10.5.5.2; ours is IFA_LOCAL.
    assert ptp.address == b"\x0a\x05\x05\x01" and ptp.prefixlen == 32 and ptp.label == "v0"
    # IPv6 has no labels; its lo entry also carries IFA_PROTO (11), which must be skipped.
    assert lo6 == AddrInfo(1, 10, 128, 0x80, 254, V6_LOOPBACK, None, 59000, 59000)
    assert v6 == AddrInfo(
        3, 10, 64, nl.IFA_F_PERMANENT | nl.IFA_F_NODAD, 0, FD00_1, None, 59000, 59000
    )


def test_captured_done_ends_the_dump() -> None:
    assert parse_messages(CAPTURED_DONE) == ([], True)


def test_multipart_in_one_buffer_stops_at_done() -> None:
    addrs, finished = parse_messages(
        CAPTURED_ADDRS + CAPTURED_DONE + newaddr(attrs=rtattr(1, b"\x0a\0\0\x09"))
    )
    assert finished
    assert len(addrs) == 5  # what follows DONE belongs to no dump of ours


def test_nlmsg_error_raises_with_errno() -> None:
    with pytest.raises(nl.NetlinkError) as info:
        parse_messages(error(-errno.EPERM))
    assert info.value.errno == errno.EPERM
    assert "Operation not permitted" in str(info.value)
    assert isinstance(info.value, OSError)


def test_nlmsg_error_zero_is_an_ack() -> None:
    assert parse_messages(error(0)) == ([], False)


def test_done_carrying_an_error_raises() -> None:
    with pytest.raises(nl.NetlinkError) as info:
        parse_messages(done(-errno.EINVAL))
    assert info.value.errno == errno.EINVAL


def test_done_without_payload_from_old_kernels() -> None:
    assert parse_messages(nlmsg(nl.NLMSG_DONE, b"")) == ([], True)


def test_dump_interrupted_flag_asks_for_a_new_dump() -> None:
    msg = nlmsg(
        nl.RTM_NEWADDR,
        struct.pack("=BBBBI", 2, 24, 0, 0, 3) + rtattr(2, bytes(4)),
        flags=nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR,
    )
    with pytest.raises(nl.DumpInterrupted):
        parse_messages(msg)


def test_ifa_flags_attribute_adds_the_high_bits() -> None:
    attrs = rtattr(nl.IFA_ADDRESS, FD00_1) + rtattr(nl.IFA_FLAGS, struct.pack("=I", 0x380))
    [addr], _ = parse_messages(newaddr(family=10, flags=0x80, attrs=attrs))
    assert addr.flags == 0x380  # MANAGETEMPADDR|NOPREFIXROUTE|PERMANENT


def test_flags_without_ifa_flags_attribute() -> None:
    [addr], _ = parse_messages(newaddr(flags=nl.IFA_F_SECONDARY, attrs=rtattr(2, bytes(4))))
    assert addr.flags == nl.IFA_F_SECONDARY
    assert addr.label is None and addr.cstamp is None and addr.tstamp is None


def test_label_stops_at_nul_and_keeps_odd_bytes() -> None:
    attrs = rtattr(nl.IFA_LOCAL, b"\x0a\0\0\x01") + rtattr(nl.IFA_LABEL, b"eth0:\xff\0junk")
    [addr], _ = parse_messages(newaddr(attrs=attrs))
    assert addr.label == "eth0:\udcff"


def test_ipv4_without_local_uses_address() -> None:
    [addr], _ = parse_messages(newaddr(attrs=rtattr(nl.IFA_ADDRESS, b"\x0a\0\0\x64")))
    assert addr.text == "10.0.0.100"


def test_ipv6_peer_address_uses_local() -> None:
    peer = b"\xfd" + bytes(14) + b"\x06"
    attrs = rtattr(nl.IFA_LOCAL, FD00_1) + rtattr(nl.IFA_ADDRESS, peer)
    [addr], _ = parse_messages(newaddr(family=10, prefixlen=128, attrs=attrs))
    assert addr.text == "fd00::1"


def test_address_message_without_address_is_rejected() -> None:
    with pytest.raises(nl.NetlinkError, match="without IFA_ADDRESS"):
        parse_messages(newaddr(attrs=rtattr(nl.IFA_LABEL, b"x\0")))


def test_other_message_types_are_skipped() -> None:
    data = nlmsg(nl.NLMSG_NOOP, b"") + nlmsg(nl.RTM_NEWLINK, bytes(16)) + CAPTURED_DONE
    assert parse_messages(data) == ([], True)


@pytest.mark.parametrize("cut", [1, 15, 16, 20, 40, 75])
def test_truncated_input_raises(cut: int) -> None:
    with pytest.raises(nl.NetlinkError) as info:
        parse_messages(CAPTURED_ADDRS[:cut])
    assert info.value.errno == errno.EBADMSG


def test_bad_attribute_length_raises() -> None:
    bad = struct.pack("=HH", 2, nl.IFA_ADDRESS)  # shorter than its own header
    with pytest.raises(nl.NetlinkError, match="attribute length"):
        parse_messages(newaddr(attrs=bad))


def test_message_length_shorter_than_header_raises() -> None:
    with pytest.raises(nl.NetlinkError, match="length"):
        parse_messages(struct.pack("=IHHII", 8, nl.RTM_NEWADDR, 0, 1, 0))


@given(st.binary(max_size=200))
def test_garbage_never_escapes_as_another_exception(data: bytes) -> None:
    try:
        parse_messages(data)
    except nl.NetlinkError:
        pass


@given(st.lists(st.tuples(st.integers(0, 255), st.binary(min_size=4, max_size=20)), max_size=6))
def test_attribute_padding_round_trips(attrs: list[tuple[int, bytes]]) -> None:
    blob = b"".join(rtattr(t, v) for t, v in attrs if t not in (1, 2, 6, 8))
    blob += rtattr(nl.IFA_LOCAL, b"\x0a\0\0\x01")
    [addr], finished = parse_messages(newaddr(attrs=blob) + done())
    assert finished and addr.text == "10.0.0.1"


def test_addrinfo_repr_and_equality() -> None:
    a = AddrInfo(1, 2, 8, 0, 0, b"\x7f\0\0\x01")
    assert "address=b'\\x7f\\x00\\x00\\x01'" in repr(a)
    assert a == AddrInfo(1, 2, 8, 0, 0, b"\x7f\0\0\x01")
    assert a != AddrInfo(1, 2, 8, 0, 0, b"\x7f\0\0\x02")
    assert a != "127.0.0.1"


# Age arithmetic: cstamp is u32 centiseconds since boot.


def test_age_simple() -> None:
    assert age_seconds(1000, 1250) == 2.5
    assert age_seconds(1000, 1000) == 0.0


def test_age_across_the_u32_wrap() -> None:
    # CLOCK_MONOTONIC itself does not wrap: now is above 2**32 centiseconds once cstamp wraps.
    assert age_seconds(2**32 - 50, 2**32 + 70) == 1.2
    assert age_seconds(2**32 - 50, 2**32 * 3 + 70) == 1.2


def test_stamp_slightly_ahead_of_now_is_age_zero() -> None:
    assert age_seconds(1010, 1000) == 0.0
    assert age_seconds(0, 2**32 - 100) == 0.0  # 1 s "ahead" across the wrap


def test_very_old_address_still_old() -> None:
    # 400 days: below the wrap, well above the "ahead of now" slack.
    cs = 400 * 86400 * 100
    assert age_seconds(5, 5 + cs) == cs / 100


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 6001), st.integers(0, 4))
def test_age_property(cstamp: int, elapsed: int, laps: int) -> None:
    now = cstamp + elapsed + laps * 2**32
    assert age_seconds(cstamp, now) == elapsed / 100


def test_now_centiseconds_follows_the_monotonic_clock() -> None:
    import time

    before = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 100)
    now = nl.now_centiseconds()
    after = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 100)
    assert before <= now <= after


def test_stamp_far_ahead_before_any_wrap_is_unknown_not_ancient() -> None:
    """Before 497 days of uptime a stamp in the future is a clock mismatch, not a wrap."""
    assert age_seconds(100_000, 50_000) is None
    assert age_seconds(2**32 - 10, 2**32 + 5) == 0.15  # after the wrap: modulo still applies


def test_timens_offset_from_a_proc_root(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "self").mkdir()
    assert nl._timens_offset(str(root)) == 0.0  # kernels before 5.6: no file, no namespace
    (root / "self" / "timens_offsets").write_text("monotonic  86400 500000000\nboottime 0 0\n")
    assert nl._timens_offset(str(root)) == 86400.5
