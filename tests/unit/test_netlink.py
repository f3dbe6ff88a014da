"""Parsing rtnetlink bytes and address-age arithmetic, without touching any socket."""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifmaster import netlink as nl
from ifmaster.netlink import AddrInfo, age_seconds, parse_messages
from tests.support.nlbytes import (
    FakeKernel,
    datagrams,
    done,
    error,
    ipv4,
    newaddr,
    newlink,
    nlmsg,
    restamp,
    rtattr,
)

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


# --- a plain run walks only the datagrams that can matter ----------------------------------
# Each dump below is served through the real Session by a socket stand-in (FakeKernel) that
# stamps every message with the request's seq and its port id, as the kernel does.

VIP = b"\x0a\x63\x00\x64"  # 10.99.0.100


def host_messages(count: int, vip_at: int | None) -> list[bytes]:
    """``count`` unrelated IPv4 addresses on links 10.., the VIP on link 3 at ``vip_at``."""
    msgs = [
        ipv4(10 + i % 50, bytes([10, 1, i // 256 % 256, i % 256]), f"a{i % 50}")
        for i in range(count)
    ]
    if vip_at is not None:
        msgs.insert(vip_at, ipv4(3, VIP, "eth0"))
    return msgs


def read(
    monkeypatch: pytest.MonkeyPatch,
    dumps: list[list[bytes]],
    port: int = 4242,
    first_only: bool = True,
) -> tuple[list[AddrInfo], FakeKernel]:
    """Session.addresses() on these dumps; ``first_only``: as on Linux 6.9 and later."""
    kernel = serve(monkeypatch, dumps, port=port, first_only=first_only)
    with nl.Session() as s:
        return s.addresses(nl.AF_INET, frozenset({VIP})), kernel


def serve(
    monkeypatch: pytest.MonkeyPatch,
    dumps: list[list[bytes]],
    links: list[bytes] | None = None,
    port: int = 4242,
    first_only: bool = True,
) -> FakeKernel:
    kernel = FakeKernel(dumps, links=links, port=port)
    monkeypatch.setattr(nl, "_open", lambda *a, **k: kernel)
    monkeypatch.setattr(nl, "flags_first_only", lambda release: first_only)
    return kernel


class CountingHeader:
    """nl._NLMSGHDR, counting the headers parse_messages() unpacks: the walk's cost."""

    def __init__(self) -> None:
        self.real = nl._NLMSGHDR
        self.size = self.real.size
        self.pack = self.real.pack
        self.unpacked = 0

    def unpack_from(self, data: bytes, pos: int = 0) -> tuple[int, ...]:
        self.unpacked += 1
        return self.real.unpack_from(data, pos)


MODES = pytest.mark.parametrize("first_only", [True, False], ids=["linux-6.9+", "older"])


@MODES
def test_vip_in_the_last_datagram_with_the_done(
    monkeypatch: pytest.MonkeyPatch, first_only: bool
) -> None:
    dump = datagrams([*host_messages(2000, vip_at=2000), done()])
    assert len(dump) > 4 and VIP in dump[-1] and all(VIP not in d for d in dump[:-1])
    counter = CountingHeader()
    monkeypatch.setattr(nl, "_NLMSGHDR", counter)
    (found,), _ = read(monkeypatch, [dump], first_only=first_only)
    assert (found.address, found.ifindex, found.label) == (VIP, 3, "eth0")
    # Only the last datagram was walked: the others hold plain addresses without the VIP.
    assert counter.unpacked == len(nl._messages(dump[-1]))


@MODES
def test_vip_in_a_middle_datagram_with_no_other_hit(
    monkeypatch: pytest.MonkeyPatch, first_only: bool
) -> None:
    # The DONE alone in a datagram of its own, as older kernels (and 6.10+) send it.
    dump = [*datagrams(host_messages(3000, vip_at=1500)), done()]
    middle = [i for i, d in enumerate(dump) if VIP in d]
    assert len(middle) == 1 and 0 < middle[0] < len(dump) - 2
    (found,), _ = read(monkeypatch, [dump], first_only=first_only)
    assert found.address == VIP and found.ifindex == 3


def intr_dump(count: int, vip_at: int, datagram: int, message: int) -> list[bytes]:
    """A dump of ``count`` addresses whose ``message``-th message in its ``datagram``-th
    datagram carries NLM_F_DUMP_INTR (the stamps are redone by FakeKernel but keep it)."""
    dump = datagrams([*host_messages(count, vip_at), done()])
    dump[datagram] = restamp(dump[datagram], 0, 0, intr_at=message)
    return dump


# Where a kernel can put NLM_F_DUMP_INTR: on the DONE, on the first message of a datagram
# (6.9+: one dump callback per datagram reads the generation once), or before 6.9 on any.
INTERRUPTED = pytest.mark.parametrize(
    ("flagged", "first_only"),
    [((-1, -1), True), ((-1, -1), False), ((1, 0), True), ((1, 0), False), ((1, 37), False)],
    ids=["on-the-done", "on-the-done-older", "first-of-a-datagram", "first-older", "middle-older"],
)


@INTERRUPTED
def test_an_interrupted_dump_is_reported_wherever_the_flag_is(
    monkeypatch: pytest.MonkeyPatch, flagged: tuple[int, int], first_only: bool
) -> None:
    """NLM_F_DUMP_INTR on the NLMSG_DONE only, or on one message in the middle of a datagram
    that holds no VIP (the kernel flags the first message after a change, not the later
    ones nor the DONE): either way the dump is not trusted."""
    first = datagrams([*host_messages(2000, vip_at=1999), done()])
    datagram = flagged[0] % len(first)
    message = flagged[1] % len(nl._messages(first[datagram]))
    dump = intr_dump(2000, 1999, datagram, message)
    assert VIP not in dump[datagram] or datagram == len(dump) - 1
    with pytest.raises(nl.DumpInterrupted):
        read(monkeypatch, [dump], first_only=first_only)


def test_restamping_keeps_the_interrupt_flag() -> None:
    (d,) = intr_dump(3, 0, 0, 2)
    flags = [f for _t, f, _s, _e in nl._messages(restamp(d, 9, 9))]
    # Three addresses, the VIP first, then the DONE: the third message flagged.
    assert (
        flags == [nl.NLM_F_MULTI] * 2 + [nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR] + [nl.NLM_F_MULTI] * 2
    )


@INTERRUPTED
def test_an_interrupted_dump_is_retried(
    monkeypatch: pytest.MonkeyPatch, flagged: tuple[int, int], first_only: bool
) -> None:
    from ifmaster import interfaces

    clean = datagrams([*host_messages(2000, vip_at=1999), done()])
    datagram = flagged[0] % len(clean)
    first = intr_dump(2000, 1999, datagram, flagged[1] % len(nl._messages(clean[datagram])))
    clean = datagrams([*host_messages(2000, vip_at=1999), done()])
    kernel = serve(monkeypatch, [first, clean], [newlink(3, "eth0")], first_only=first_only)
    table = interfaces.snapshot(vips=frozenset({VIP}))
    assert [(i.name, [a.packed for a in i.addresses]) for i in table] == [("eth0", [VIP])]
    dumps = [seq for mtype, seq in kernel.requests if mtype == nl.RTM_GETADDR]
    assert len(dumps) == 2  # the flagged dump, then a fresh one


@MODES
def test_vip_bytes_in_another_field_are_decoded_and_rejected(
    monkeypatch: pytest.MonkeyPatch, first_only: bool
) -> None:
    """The VIP's four bytes as another address's creation stamp and in a label: a hit in
    the byte search, decoded, and not an address of ours."""
    stamp = int.from_bytes(VIP, "little")
    decoys = [
        ipv4(7, b"\x0a\x02\x00\x01", "x7", cstamp=stamp),
        ipv4(8, b"\x0a\x02\x00\x02", "x8:" + VIP.decode("latin-1")),
    ]
    msgs = host_messages(1500, vip_at=None)
    dump = datagrams([*msgs[:700], *decoys, *msgs[700:], done()])
    assert sum(VIP in d for d in dump[:-1]) == 1
    found, _ = read(monkeypatch, [dump], first_only=first_only)
    assert found == []
    # The same decoys beside the real VIP: exactly one copy, the real one.
    dump = datagrams([*msgs[:700], *decoys, ipv4(3, VIP, "eth0"), *msgs[700:], done()])
    found, _ = read(monkeypatch, [dump], first_only=first_only)
    assert [(a.address, a.ifindex) for a in found] == [(VIP, 3)]


def test_kernels_that_flag_only_first_messages_are_told_by_their_release() -> None:
    assert nl.flags_first_only("6.9.0")
    assert nl.flags_first_only("6.18.44-fc-v1045")
    assert nl.flags_first_only("7.0.0-rc1")
    assert not nl.flags_first_only("6.8.12-amd64")
    assert not nl.flags_first_only("5.15.0-91-generic")
    assert not nl.flags_first_only("4.19.0+")
    assert not nl.flags_first_only("weird")


def test_on_newer_kernels_the_first_header_and_the_tail_decide() -> None:
    echo = struct.pack("=II", 5, 4242)
    plain = restamp(b"".join(host_messages(300, vip_at=None)), 5, 4242)
    assert nl._plain(plain, echo, first_only=True)
    assert not nl._plain(restamp(plain, 5, 4242, intr_at=0), echo, first_only=True)
    assert not nl._plain(plain + restamp(done(), 5, 4242), echo, first_only=True)
    assert not nl._plain(restamp(done(), 5, 4242), echo, first_only=True)
    assert not nl._plain(restamp(error(-errno.EPERM), 5, 4242), echo, first_only=True)
    assert not nl._plain(restamp(plain, 6, 4242), echo, first_only=True)


def test_a_datagram_of_plain_addresses_is_told_apart_by_byte_counts() -> None:
    echo = struct.pack("=II", 5, 4242)
    plain = restamp(b"".join(host_messages(300, vip_at=None)), 5, 4242)
    assert nl._plain(plain, echo)
    # Anything that is not a plain address message makes the datagram walked.
    assert not nl._plain(restamp(plain, 5, 4242, intr_at=150), echo)
    assert not nl._plain(plain + restamp(done(), 5, 4242), echo)
    assert not nl._plain(plain + restamp(error(-errno.EPERM), 5, 4242), echo)
    assert not nl._plain(restamp(plain, 6, 4242), echo)  # another request's reply
    # A chance copy of the echo inside a payload costs a walk, never a skipped header.
    decoy = newaddr(attrs=rtattr(nl.IFA_LOCAL, b"\x0a\x02\x00\x01") + rtattr(99, echo))
    assert not nl._plain(plain + restamp(decoy, 5, 4242), echo)


def test_the_dump_seq_is_one_whose_echo_cannot_overlap_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Port 0x01000000: seq 1 would make the echo 01 00 00 00 00 00 00 01, whose first byte
    # is also its last, so two copies could overlap and the counts could miss a header.
    assert not nl._no_border(struct.pack("=II", 1, 0x01000000))
    dump = datagrams([*host_messages(500, vip_at=250), done()])
    (found,), kernel = read(monkeypatch, [dump], port=0x01000000)
    assert found.address == VIP
    ((_, seq),) = kernel.requests
    assert seq == 2 and nl._no_border(struct.pack("=II", seq, 0x01000000))
