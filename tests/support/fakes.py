"""Fake interface tables for unit and CLI tests: the one OS seam, faked."""

from __future__ import annotations

import itertools
from _socket import AF_INET, AF_INET6, inet_pton

from ifmaster.model import Address, Interface

_index = itertools.count(2)


def addr(
    text: str, flags: int | None = 0, age: float | None = None, label: str | None = None
) -> Address:
    family = AF_INET6 if ":" in text else AF_INET
    return Address(family=family, packed=inet_pton(family, text), flags=flags, age=age, label=label)


def iface(
    name: str,
    *addresses: str | Address,
    up: bool = True,
    loopback: bool = False,
    state: str | None = None,
    index: int | None = None,
) -> Interface:
    addrs = [a if isinstance(a, Address) else addr(a) for a in addresses]
    return Interface(
        name=name,
        index=next(_index) if index is None else index,
        addresses=addrs,
        up=up,
        loopback=loopback,
        state=state or ("up" if up else "down"),
    )


class Executed(BaseException):
    """Raised instead of exec (like exec, nothing catches it): the test sees what would run."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self.argv = argv
