"""The OS seam: the netlink table reader on constructed dumps of a big host, and for real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from collections.abc import Iterator

import pytest

from ifmaster import interfaces
from ifmaster import netlink as nl
from ifmaster.decide import decide
from ifmaster.model import IFA_F_DADFAILED, IFA_F_TENTATIVE, Request
from ifmaster.vip import parse_vip
from tests.support.nlbytes import datagrams, done, error, ipv4, ipv6, newlink

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="rtnetlink is Linux's")

VIP = inet_pton(AF_INET, "192.168.200.21")
VIP6 = inet_pton(AF_INET6, "fd00::21")


class FakeSession:
    """netlink.Session serving constructed kernel replies: the reader's only input."""

    def __init__(self, links: list[bytes], addrs: list[bytes]) -> None:
        self.link_msgs = links
        self.addr_msgs = addrs
        self.requests: list[tuple[str, object]] = []

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def addresses(self, family: int = 0, wanted: frozenset[bytes] | None = None) -> list[object]:
        self.requests.append(("addresses", family))
        out = []
        for part in datagrams([*self.addr_msgs, done()]):
            found, finished = nl.parse_messages(part, wanted)
            out += [a for a in found if family in (0, a.family)]
            if finished:
                return out
        raise AssertionError("no NLMSG_DONE")

    def links(self, index: int | None = None, name: str | None = None) -> list[object]:
        self.requests.append(("links", index if name is None else name))
        if index is None and name is None:
            return [
                link
                for part in datagrams([*self.link_msgs, done()])
                for link in nl.parse_links(part)[0]
            ]
        for msg in self.link_msgs:
            (link,), _ = nl.parse_links(msg)
            if link.index == index or link.name == name:
                return [link]
        return nl.parse_links(error(-19))[0]  # ENODEV


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSession]:
    """A big host: lo, eth0 holding the VIP under a label of any spelling, 500 more links,
    10,000 unrelated IPv4 and 2,000 IPv6 addresses, tentative and dadfailed ones."""
    links = [newlink(1, "lo", flags=0x10049, operstate=0), newlink(2, "eth0")]
    links += [newlink(10 + i, f"veth{i}") for i in range(500)]
    addrs = [ipv4(1, inet_pton(AF_INET, "127.0.0.1"), "lo")]
    addrs += [ipv4(2, inet_pton(AF_INET, "192.168.200.11"), "eth0")]
    for i in range(10_000):
        addrs.append(ipv4(10 + i % 500, bytes([10, 1 + i // 65536, i // 256 % 256, i % 256]), "x"))
    for i in range(2_000):
        flags = (0x80, IFA_F_TENTATIVE, IFA_F_DADFAILED)[i % 3]
        addrs.append(ipv6(10 + i % 500, inet_pton(AF_INET6, f"fd00:1::{i:x}"), flags))
    addrs.append(ipv4(2, VIP, "vip21"))  # keepalived: `192.168.200.21 dev eth0 label vip21`
    addrs.append(ipv6(2, VIP6, 0x80 | nl.IFA_F_NODAD))
    session = FakeSession(links, addrs)
    monkeypatch.setattr(nl, "Session", lambda: session)
    yield session


def test_plain_read_holds_only_what_the_decision_needs(host: FakeSession) -> None:
    table = interfaces.snapshot(vips=frozenset({VIP}))
    assert [(i.name, i.index) for i in table] == [("eth0", 2)]
    (a,) = table[0].addresses
    assert (a.packed, a.label, a.family) == (VIP, "vip21", AF_INET)
    # One address dump of the one family asked for, one link asked for by index: not 502.
    assert host.requests == [("addresses", AF_INET), ("links", 2)]


def test_a_label_of_any_spelling_counts_on_its_device(host: FakeSession) -> None:
    """keepalived's `label vip21` on eth0: the kernel's index says eth0, whatever the text."""
    table = interfaces.snapshot(vips=frozenset({VIP}))
    verdict = decide(Request(vips=[parse_vip("192.168.200.21")]), table)
    assert verdict.master
    assert [f.line() for f in verdict.held] == ["192.168.200.21 held on eth0 (label vip21)"]
    for names in ({"eth0"}, {"vip21"}):
        request = Request(vips=[parse_vip("192.168.200.21")], interfaces=frozenset(names))
        assert decide(
            request, interfaces.snapshot(vips=frozenset({VIP}), names=frozenset(names))
        ).master
    request = Request(vips=[parse_vip("192.168.200.21")], interfaces=frozenset({"veth3"}))
    table = interfaces.snapshot(vips=frozenset({VIP}), names=frozenset({"veth3"}))
    verdict = decide(request, table)
    assert not verdict.master
    assert "192.168.200.21 is on eth0 (label vip21), not in --interface veth3" in verdict.lines()


def test_the_full_read_has_everything_and_the_same_decision(host: FakeSession) -> None:
    full = interfaces.snapshot()
    assert len(full) == 502
    assert sum(len(i.addresses) for i in full) == 2 + 10_000 + 2_000 + 2
    by_name = {i.name: i for i in full}
    assert by_name["lo"].loopback and by_name["lo"].up and by_name["lo"].state == "unknown"
    v6 = [a for a in by_name["veth1"].addresses if a.family == AF_INET6]
    assert {a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) for a in v6 if a.flags is not None} == {
        0,
        IFA_F_TENTATIVE,
        IFA_F_DADFAILED,
    }
    for vip in ("192.168.200.21", "fd00::21", "fd00:1::1", "fd00:1::2", "10.1.0.7", "10.9.9.9"):
        request = Request(vips=[parse_vip(vip)])
        fast = decide(request, interfaces.snapshot(vips=frozenset({parse_vip(vip).packed})))
        slow = decide(request, full)
        assert fast.lines() == slow.lines(), vip


@pytest.mark.parametrize(
    ("flags", "operstate", "up", "state"),
    [
        (0x10043, 6, True, "up"),
        (0x10043, 0, True, "unknown"),
        (0x1002, 6, False, "admin down"),
        (0x1003, 6, False, "no carrier"),  # carrier gone, operstate not yet updated
        (0x10043, 5, False, "dormant"),
        (0x10043, 3, False, "lowerlayerdown"),
        (0x10043, 99, False, "operstate 99"),
    ],
)
def test_link_state(
    monkeypatch: pytest.MonkeyPatch, flags: int, operstate: int, up: bool, state: str
) -> None:
    session = FakeSession([newlink(4, "eth0", flags, operstate)], [ipv4(4, VIP, "eth0")])
    monkeypatch.setattr(nl, "Session", lambda: session)
    (iface,) = interfaces.snapshot(vips=frozenset({VIP}))
    assert (iface.up, iface.state, iface.addresses[0].label) == (up, state, None)


def test_an_address_on_a_link_that_does_not_exist_is_unreadable_not_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A table that contradicts itself every time is an error (125), never "not master"."""
    session = FakeSession([newlink(2, "eth0")], [ipv4(7, VIP, "eth7")])
    monkeypatch.setattr(nl, "Session", lambda: session)
    with pytest.raises(interfaces.InterfaceError, match="changed during each of 5 reads"):
        interfaces.snapshot(vips=frozenset({VIP}))
    with pytest.raises(interfaces.InterfaceError):
        interfaces.snapshot()


def test_a_link_gone_between_reads_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = iter(
        [
            FakeSession([newlink(2, "eth0")], [ipv4(7, VIP, "eth7")]),  # eth7 just went
            FakeSession([newlink(2, "eth0")], [ipv4(2, VIP, "eth0")]),  # the VIP moved
        ]
    )
    monkeypatch.setattr(nl, "Session", lambda: next(sessions))
    (iface,) = interfaces.snapshot(vips=frozenset({VIP}))
    assert iface.name == "eth0"


def test_an_interrupted_dump_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    class Interrupted(FakeSession):
        def addresses(
            self, family: int = 0, wanted: frozenset[bytes] | None = None
        ) -> list[object]:
            calls.append(1)
            if len(calls) == 1:
                raise nl.DumpInterrupted(11, "interrupted")
            return super().addresses(family, wanted)

    session = Interrupted([newlink(2, "eth0")], [ipv4(2, VIP, "eth0")])
    monkeypatch.setattr(nl, "Session", lambda: session)
    assert interfaces.snapshot(vips=frozenset({VIP}))[0].addresses[0].packed == VIP
    assert len(calls) == 2


def test_a_netlink_failure_is_an_interface_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(nl, "Session", refused)
    with pytest.raises(interfaces.InterfaceError, match="cannot read the local interfaces"):
        interfaces.snapshot()


def test_ages_are_understated_by_the_stamp_lag(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never overstated: the kernel's stamp lags CLOCK_MONOTONIC (0.25 s measured here)."""
    session = FakeSession([newlink(2, "eth0")], [ipv4(2, VIP, "eth0", cstamp=1000)])
    monkeypatch.setattr(nl, "Session", lambda: session)
    monkeypatch.setattr(nl, "now_centiseconds", lambda: 1000 + 350)
    (iface,) = interfaces.snapshot(vips=frozenset({VIP}), ages=True)
    assert iface.addresses[0].age == pytest.approx(3.5 - interfaces.STAMP_LAG)
    monkeypatch.setattr(nl, "now_centiseconds", lambda: 1000 + 50)
    (iface,) = interfaces.snapshot(vips=frozenset({VIP}), ages=True)
    assert iface.addresses[0].age == 0.0


@linux
def test_snapshot_agrees_with_iproute2() -> None:
    """The reader and `ip -j addr` see the same interfaces, addresses, labels and state."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is not installed")
    shown = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, check=True).stdout)
    table = {i.name: i for i in interfaces.snapshot()}
    assert set(table) == {link["ifname"] for link in shown}
    for link in shown:
        mine = table[link["ifname"]]
        assert mine.index == link["ifindex"]
        assert mine.loopback == ("LOOPBACK" in link["flags"])
        theirs = {
            (a["local"], a.get("label") if a.get("label") != link["ifname"] else None)
            for a in link.get("addr_info", [])
        }
        ours = {(inet_ntop(a.family, a.packed), a.label) for a in mine.addresses}
        assert ours == theirs


@linux
def test_the_portable_reader_agrees_with_netlink_where_both_work() -> None:
    """netifaces + psutil (hosts without rtnetlink) see the same devices and addresses here.

    Labels, IPv6 flags and ages are netlink's alone. The portable reader costs one
    getifaddrs() walk per interface in netifaces: quadratic, which is why Linux never
    takes it.
    """
    netlink_table = {i.name: i for i in interfaces.snapshot()}
    portable = {i.name: i for i in interfaces._snapshot_portable()}
    assert set(portable) == set(netlink_table)
    for name, mine in portable.items():
        theirs = netlink_table[name]
        assert {a.packed for a in mine.addresses} == {a.packed for a in theirs.addresses}
        assert mine.loopback == theirs.loopback
        assert mine.up == theirs.up or theirs.state in ("dormant", "lowerlayerdown", "no carrier")
