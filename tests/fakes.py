"""Fake interface tables for unit and CLI tests: the one OS seam, faked."""

from __future__ import annotations

from _socket import AF_INET, AF_INET6, inet_pton

from ifmaster.interfaces import Address, Interface


def addr(text: str, flags: int | None = 0, age: float | None = None) -> Address:
    family = AF_INET6 if ":" in text else AF_INET
    return Address(family, inet_pton(family, text), flags, age)


def iface(
    name: str,
    *addresses: str | Address,
    up: bool = True,
    loopback: bool = False,
    state: str | None = None,
) -> Interface:
    addrs = [a if isinstance(a, Address) else addr(a) for a in addresses]
    return Interface(name, addrs, up, loopback, state or ("up" if up else "down"))
