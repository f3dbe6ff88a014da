"""VIP parsing: what is accepted, what is refused, and that refusals name the value."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifmaster.vip import VipError, parse_vip, vips_from_env


@pytest.mark.parametrize(
    ("text", "canonical", "scope"),
    [
        ("10.0.0.1", "10.0.0.1", None),
        ("10.0.0.100/24", "10.0.0.100", None),
        ("10.0.0.100/32", "10.0.0.100", None),
        ("fd00::1", "fd00::1", None),
        ("FD00:0:0::0001/64", "fd00::1", None),
        ("fe80::1%eth0", "fe80::1", "eth0"),
        ("fe80::1%vrrp.51/64", "fe80::1", "vrrp.51"),
        ("127.0.0.1", "127.0.0.1", None),
    ],
)
def test_accepts(text: str, canonical: str, scope: str | None) -> None:
    vip = parse_vip(text)
    assert str(vip).partition("%")[0] == canonical
    assert vip.scope == scope
    assert vip.packed == ipaddress.ip_address(canonical).packed


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("10.0.0.300", "not an IP address"),
        ("db-vip.example.com", "not an IP address"),
        ("10.0.0", "not an IP address"),
        ("010.0.0.1", "not an IP address"),
        (" 10.0.0.1", "not an IP address"),
        ("10.0.0.1/99", "prefix length must be 0..32"),
        ("10.0.0.1/", "prefix length"),
        ("10.0.0.1/+8", "prefix length"),
        ("fd00::1/129", "prefix length must be 0..128"),
        ("10.0.0.1%eth0", "only valid after an IPv6"),
        ("fe80::1%", "only valid after an IPv6"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.18", "multicast"),
        ("ff02::12", "multicast"),
        ("10.0.0.1\0", "not an IP address"),
        # Accepted before, and could never match: the kernel holds IPv4 as AF_INET.
        ("::ffff:127.0.0.1", "write it as 127.0.0.1"),
        ("::ffff:10.0.0.1/128", "write it as 10.0.0.1"),
        # Scopes no interface could have: accepted before, a silent "not master".
        ("::1%lo%x", "must name an interface"),
        ("fe80::1%" + "a" * 16, "must name an interface"),
        ("fe80::1%eth0:1", "must name an interface"),
        ("fe80::1%..", "must name an interface"),
        ("fe80::1%a b", "must name an interface"),
    ],
)
def test_refuses_with_the_value_named(text: str, why: str) -> None:
    with pytest.raises(VipError, match=why) as e:
        parse_vip(text)
    if text:
        assert repr(text) in str(e.value)


@given(st.text(max_size=45))
def test_accepts_exactly_what_ipaddress_accepts(text: str) -> None:
    """The hot path's inet_pton parser and the stdlib agree on every address text."""
    try:
        expected = ipaddress.ip_address(text)
    except ValueError:
        expected = None
    if expected is not None and (expected.is_unspecified or expected.is_multicast):
        expected = None
    if expected is not None and getattr(expected, "ipv4_mapped", None) is not None:
        expected = None  # refused: to be written as IPv4
    if expected is not None and getattr(expected, "scope_id", None) is not None:
        return  # scopes are ours to interpret: tested above
    try:
        got = parse_vip(text).packed
    except VipError:
        got = None
    assert got == (expected.packed if expected is not None else None)


@given(st.ip_addresses(), st.sampled_from(["0", "1", "00", ".1", ":0"]))
def test_longer_text_matches_only_if_same_address(
    address: ipaddress._BaseAddress, tail: str
) -> None:
    """10.0.0.1 vs 10.0.0.10: equal packed bytes exactly when the stdlib says equal."""
    if address.is_unspecified or address.is_multicast:
        return
    if getattr(address, "ipv4_mapped", None) is not None:
        return  # refused whatever follows: to be written as IPv4
    text = str(address)
    try:
        longer = parse_vip(text + tail)
    except VipError:
        return
    same = ipaddress.ip_address(text + tail) == address
    assert (longer.packed == parse_vip(text).packed) == same


def test_ipv4_textual_prefix_is_another_address() -> None:
    assert parse_vip("10.0.0.1").packed != parse_vip("10.0.0.10").packed


def test_env_list() -> None:
    vips = vips_from_env({"IF_MASTER_VIP": " 10.0.0.1\tfd00::1/64\n"})
    assert [str(v) for v in vips] == ["10.0.0.1", "fd00::1"]


@pytest.mark.parametrize(
    ("env", "why"),
    [
        ({}, "no VIP given: use --vip ADDR or set IF_MASTER_VIP"),
        ({"IF_MASTER_VIP": ""}, "IF_MASTER_VIP is set but holds no address"),
        ({"IF_MASTER_VIP": "  "}, "IF_MASTER_VIP is set but holds no address"),
        ({"IF_MASTER_VIP": "10.0.0.1 10.0.0.300"}, "IF_MASTER_VIP: '10.0.0.300' is not"),
        ({"IF_MASTER_VIP": "10.0.0.1,10.0.0.2"}, "IF_MASTER_VIP: '10.0.0.1,10.0.0.2' is not"),
    ],
)
def test_env_refusals(env: dict[str, str], why: str) -> None:
    with pytest.raises(VipError, match=why):
        vips_from_env(env)
