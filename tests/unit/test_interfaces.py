"""The OS seam's parsers, and the real snapshot of this machine against psutil."""

from __future__ import annotations

import sys

import psutil
import pytest

from ifmaster import interfaces
from ifmaster.interfaces import IFA_F_DADFAILED, IFA_F_TENTATIVE, parse_if_inet6

# Captured from a Linux host: permanent, tentative and dadfailed addresses.
IF_INET6 = """\
00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000100 03 40 00 80     eth0
fd000000000000000000000000000101 03 40 00 c0     eth0
fd000000000000000000000000000102 03 40 00 c8     eth0
fe800000000000000000000000000001 2a 40 20 80  vrrp.51
"""


def test_parse_if_inet6() -> None:
    table = parse_if_inet6(IF_INET6)
    assert table[("lo", bytes(15) + b"\1")] == 0x80
    assert table[("eth0", bytes.fromhex("fd000000000000000000000000000101"))] & IFA_F_TENTATIVE
    assert table[("eth0", bytes.fromhex("fd000000000000000000000000000102"))] & IFA_F_DADFAILED
    assert not table[("eth0", bytes.fromhex("fd000000000000000000000000000100"))] & 0x48
    assert ("vrrp.51", bytes.fromhex("fe800000000000000000000000000001")) in table
    assert len(table) == 5


def test_parse_if_inet6_skips_malformed_lines() -> None:
    assert parse_if_inet6("garbage\n\n" + IF_INET6.splitlines()[0]) == {
        ("lo", bytes(15) + b"\1"): 0x80
    }


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /sys and /proc")
def test_snapshot_agrees_with_psutil() -> None:
    """The Linux reader and psutil see the same interfaces, up state and IPv4 addresses."""
    table = {i.name: i for i in interfaces.snapshot()}
    stats = psutil.net_if_stats()
    addrs = psutil.net_if_addrs()
    assert set(table) == set(addrs)
    for name, i in table.items():
        if name in stats and i.state not in ("lowerlayerdown", "dormant", "notpresent"):
            assert i.up == stats[name].isup, name
        v4 = {a.address for a in addrs[name] if a.family == 2}
        assert {interfaces.inet_ntop(2, a.packed) for a in i.addresses if a.family == 2} == v4
    lo = table["lo"]
    assert lo.loopback and lo.up


def test_unreadable_interfaces_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import netifaces

    def broken() -> list[str]:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(netifaces, "interfaces", broken)
    with pytest.raises(interfaces.InterfaceError, match="cannot read the local interfaces"):
        interfaces.snapshot()


def test_base_name_of_labels() -> None:
    real = {"lo", "eth0", "eth0.5", "vrrp.51"}
    assert interfaces.base_name("eth0", real) == "eth0"
    assert interfaces.base_name("eth0:1", real) == "eth0"
    assert interfaces.base_name("eth0vip", real) == "eth0"  # labels need only the prefix
    assert interfaces.base_name("eth0.5x", real) == "eth0.5"  # the longest prefix wins
    assert interfaces.base_name("vrrp.51:v", real) == "vrrp.51"
    assert interfaces.base_name("eth0:1", set()) == "eth0"  # psutil path: no /sys list


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /sys and /proc")
def test_host_without_ipv6_still_reads_ipv4(monkeypatch: pytest.MonkeyPatch) -> None:
    """Booted with ipv6.disable=1 there is no /proc/net/if_inet6: IPv4 must still work."""
    import builtins

    real_open = builtins.open

    def no_ipv6(path: object, *args: object, **kw: object) -> object:
        if path == "/proc/net/if_inet6":
            raise FileNotFoundError(2, "No such file or directory", path)
        return real_open(path, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", no_ipv6)
    lo = {i.name: i for i in interfaces.snapshot()}["lo"]
    assert any(a.family == 2 for a in lo.addresses)
