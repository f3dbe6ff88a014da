"""decide() on faked interface tables: every rule, and the reasons it leaves."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifmaster.decide import decide
from ifmaster.model import IFA_F_DADFAILED, IFA_F_TENTATIVE, Request, Verdict
from ifmaster.vip import parse_vip
from tests.support.fakes import addr, iface


def req(*vips: str, interfaces: tuple[str, ...] = (), include_loopback: bool = False) -> Request:
    return Request(
        vips=[parse_vip(v) for v in vips],
        interfaces=frozenset(interfaces),
        include_loopback=include_loopback,
    )


def reasons(v: Verdict) -> list[str]:
    """The findings in words, but for the copies that count and the answer."""
    return [line for line in v.lines()[:-1] if " held on " not in line]


def test_holds_vip_on_an_up_interface() -> None:
    v = decide(req("10.0.0.100"), [iface("eth0", "10.0.0.11", "10.0.0.100")])
    assert v.master
    assert [(str(f.vip), f.interface) for f in v.held] == [("10.0.0.100", "eth0")]


def test_textual_prefix_does_not_match() -> None:
    v = decide(req("10.0.0.1"), [iface("eth0", "10.0.0.10", "10.0.0.11", "10.0.0.100")])
    assert not v.master
    assert reasons(v) == ["10.0.0.1 is not on any interface"]


def test_any_of_several_vips() -> None:
    table = [iface("eth0", "10.0.0.11"), iface("eth1", "fd00::100")]
    assert decide(req("10.0.0.100", "fd00::100"), table).master
    assert not decide(req("10.0.0.100", "fd00::101"), table).master


def test_prefix_notation_counts_the_address() -> None:
    assert decide(req("10.0.0.100/24"), [iface("eth0", "10.0.0.100")]).master


def test_loopback_does_not_count_unless_asked() -> None:
    table = [iface("lo", "127.0.0.1", "10.0.0.100", loopback=True)]
    v = decide(req("10.0.0.100"), table)
    assert not v.master
    assert "loopback" in reasons(v)[0]
    assert decide(req("10.0.0.100", include_loopback=True), table).master


@pytest.mark.parametrize("state", ["admin down", "down", "lowerlayerdown", "gone"])
def test_down_interface_does_not_count(state: str) -> None:
    v = decide(req("10.0.0.100"), [iface("eth0", "10.0.0.100", up=False, state=state)])
    assert not v.master
    assert reasons(v) == [f"10.0.0.100 on eth0 does not count: interface is not up ({state})"]


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (IFA_F_TENTATIVE, "tentative"),
        (IFA_F_DADFAILED, "dadfailed"),
        (IFA_F_DADFAILED | IFA_F_TENTATIVE, "dadfailed"),
        (None, "state unknown"),
    ],
)
def test_unsettled_ipv6_does_not_count(flags: int | None, why: str) -> None:
    v = decide(req("fd00::100"), [iface("eth0", addr("fd00::100", flags))])
    assert not v.master
    assert why in reasons(v)[0]


def test_other_flags_do_not_matter() -> None:
    # 0x80 permanent, 0x01 secondary/temporary: assigned addresses that count.
    assert decide(req("fd00::100"), [iface("eth0", addr("fd00::100", 0x81))]).master


def test_interface_filter_is_exact() -> None:
    table = [iface("eth0", "10.0.0.11"), iface("vrrp.51", "10.0.0.100")]
    assert decide(req("10.0.0.100", interfaces=("vrrp.51",)), table).master
    for other in ("vrrp.5", "vrrp", "eth0", "vrrp.511", "VRRP.51"):
        v = decide(req("10.0.0.100", interfaces=(other,)), table)
        assert not v.master, other
        assert reasons(v) == [f"10.0.0.100 is on vrrp.51, not in --interface {other}"]


@pytest.mark.parametrize("label", ["eth0:1", "vip21", "eth1"])
def test_a_label_is_covered_by_its_device_whatever_its_spelling(label: str) -> None:
    """keepalived passes `label` unchecked: the kernel's device holds it, not the text's."""
    table = [iface("eth0", "10.0.0.11", addr("10.0.0.100", label=label)), iface("eth1")]
    v = decide(req("10.0.0.100"), table)
    assert v.master and [f.line() for f in v.held] == [f"10.0.0.100 held on eth0 (label {label})"]
    assert decide(req("10.0.0.100", interfaces=("eth0",)), table).master
    assert decide(req("10.0.0.100", interfaces=(label,)), table).master
    v = decide(req("10.0.0.100", interfaces=("eth2",)), table)
    assert not v.master
    assert reasons(v) == [f"10.0.0.100 is on eth0 (label {label}), not in --interface eth2"]
    assert v.warnings == [
        "--interface eth2: no interface of that name here, and no VIP carries it as a label"
    ]


def test_ipv6_scope_restricts_the_interface() -> None:
    table = [iface("eth0", "fe80::1"), iface("eth1", "fe80::2")]
    assert decide(req("fe80::1%eth0"), table).master
    v = decide(req("fe80::1%eth1"), table)
    assert not v.master
    assert "scoped to eth1" in reasons(v)[0]


def test_one_counted_copy_is_enough() -> None:
    table = [iface("lo", "10.0.0.100", loopback=True), iface("eth0", "10.0.0.100")]
    v = decide(req("10.0.0.100"), table)
    assert v.master
    assert [f.interface for f in v.held] == ["eth0"]
    assert "loopback" in reasons(v)[0]


def test_lines_explain_the_verdict() -> None:
    v = decide(req("10.0.0.100", "10.0.0.200"), [iface("eth0", "10.0.0.100")])
    assert v.lines() == [
        "10.0.0.100 held on eth0",
        "10.0.0.200 is not on any interface",
        "master: holds 10.0.0.100",
    ]


_v4 = st.integers(0, 5).map(lambda n: f"10.0.0.{n}")
_v6 = st.integers(0, 5).map(lambda n: f"fd00::{n}")
_addr = st.one_of(_v4, _v6)
_iface = st.builds(
    lambda name, addrs, up, lo, flags: iface(
        name, *[addr(a, flags if ":" in a else 0) for a in addrs], up=up, loopback=lo
    ),
    st.sampled_from(["eth0", "eth1", "lo", "vrrp.51", "eth0:1"]),
    st.lists(_addr, max_size=4),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0, 0x80, IFA_F_TENTATIVE, IFA_F_DADFAILED, None]),
)


@given(
    st.lists(_addr.filter(lambda a: not a.endswith("::0") and a != "10.0.0.0"), min_size=1),
    st.lists(_iface, max_size=4),
    st.booleans(),
)
def test_master_iff_same_address_on_a_counted_interface(
    vips: list[str], table: list, include_loopback: bool
) -> None:
    """The oracle: ipaddress equality, up, loopback rule, settled flags. Nothing textual."""
    wanted = {ipaddress.ip_address(v) for v in vips}
    expected = any(
        ipaddress.ip_address(a.packed) in wanted
        and i.up
        and (include_loopback or not i.loopback)
        and a.flags is not None
        and not a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)
        for i in table
        for a in i.addresses
    )
    assert decide(req(*vips, include_loopback=include_loopback), table).master == expected


def test_min_hold_counts_only_an_old_enough_address() -> None:
    young = [iface("eth0", addr("10.0.0.100", age=1.5))]
    request = Request(vips=[parse_vip("10.0.0.100")], min_hold=3)
    v = decide(request, young)
    assert not v.master
    assert reasons(v) == [
        "10.0.0.100 on eth0 does not count: held for 1.5 s, less than --min-hold 3 s"
    ]
    old = [iface("eth0", addr("10.0.0.100", age=3.0))]
    v = decide(request, old)
    assert v.master
    assert v.lines() == ["10.0.0.100 held on eth0 for 3.0 s", "master: holds 10.0.0.100"]


def test_min_hold_with_unknown_age_fails_closed() -> None:
    v = decide(Request(vips=[parse_vip("10.0.0.100")], min_hold=0), [iface("eth0", "10.0.0.100")])
    assert not v.master
    assert "age unknown" in reasons(v)[0]


def test_min_hold_does_not_override_other_rules() -> None:
    table = [iface("lo", addr("10.0.0.100", age=99.0), loopback=True)]
    v = decide(Request(vips=[parse_vip("10.0.0.100")], min_hold=1), table)
    assert not v.master and "loopback" in reasons(v)[0]


def test_outcome_names_why_not_for_metrics() -> None:
    vip = [parse_vip("10.0.0.100")]
    assert decide(Request(vips=vip), [iface("eth0", "10.0.0.100")]).outcome == "master"
    assert decide(Request(vips=vip), [iface("eth0", "10.0.0.1")]).outcome == "not_held"
    young = [iface("eth0", addr("10.0.0.100", age=1.0))]
    assert decide(Request(vips=vip, min_hold=3), young).outcome == "too_young"
    assert decide(Request(vips=vip, min_hold=3), [iface("eth0", "10.0.0.100")]).outcome == (
        "too_young"  # age unknown: not counted, for the same rule
    )
    assert decide(Request(vips=vip, min_hold=0.5), young).outcome == "master"
    down = [iface("eth0", addr("10.0.0.100", age=9.0), up=False)]
    assert decide(Request(vips=vip, min_hold=3), down).outcome == "not_held"
    verdict = decide(Request(vips=vip), [iface("eth0", "10.0.0.100")])
    stale = verdict.replace(
        findings=[f.refused("stale", "keepalived_down") for f in verdict.findings]
    )
    assert stale.outcome == "keepalived_down" and not stale.master
    assert verdict.replace(conflict="other MAC").outcome == "split_brain"
