"""Fake interface tables for unit and CLI tests: the one OS seam, faked."""

from __future__ import annotations

import itertools
from _socket import AF_INET, AF_INET6, inet_pton
from typing import Any

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


class FakeLedger:
    """An in-memory store implementing ifmaster.ledger.backend.Backend, for unit tests."""

    def __init__(self, prefix: str = "/if-master") -> None:
        from ifmaster.ledger.records import Record

        self.prefix = prefix
        self.revision = 100
        # key -> (value bytes, create_revision); alive: slot keys whose runner lives
        self.kv: dict[str, tuple[bytes, int]] = {}
        self.alive: set[str] = set()
        self.reads = 0
        self._record = Record

    def key(self, task: str, slot: str) -> str:
        return f"{self.prefix}/{task}/{slot}"

    def put(self, task: str, slot: str, value: bytes, *, alive: bool = False) -> int:
        """Store raw bytes under a slot (a foreign writer, or a record by hand)."""
        self.revision += 1
        self.kv[self.key(task, slot)] = (value, self.revision)
        if alive:
            self.alive.add(self.key(task, slot))
        return self.revision

    def claim(self, task: str, slot: str, *, node: str, pid: int, start: float,
              schedule: str | None = None) -> Any:  # fmt: skip
        from ifmaster.ledger.records import Claim, iso_ms

        k = self.key(task, slot)
        if k in self.kv:
            value, rev = self.kv[k]
            return Claim(won=False, key=k, holder=self._record.from_json(value), revision=rev)
        mine = self._record(node=node, start=iso_ms(start), pid=pid, schedule=schedule)
        rev = self.put(task, slot, mine.to_json().encode())
        return Claim(won=True, key=k, holder=mine, revision=rev)

    def finish(self, claim: Any, *, end: float, status: int) -> bool:
        from ifmaster.ledger.records import iso_ms

        held = self.kv.get(claim.key)
        if held is None or held[1] != claim.revision:
            return False
        h = claim.holder
        done = self._record(node=h.node, start=h.start, pid=h.pid, end=iso_ms(end),
                            status=status, schedule=h.schedule)  # fmt: skip
        self.kv[claim.key] = (done.to_json().encode(), claim.revision)
        return True

    def read(self, task: str, *, since: str | None = None, until: str | None = None,
             limit: int = 10000) -> list[Any]:  # fmt: skip
        from ifmaster.ledger.etcd import _ours
        from ifmaster.ledger.records import Stored

        self.reads += 1
        base = f"{self.prefix}/{task}/"
        out = []
        for k in sorted(self.kv, reverse=True):
            slot = k[len(base) :]
            if not k.startswith(base) or (since and slot < since) or (until and slot >= until):
                continue
            value, rev = self.kv[k]
            out.append(Stored(task=task, slot=slot, record=_ours(value),
                              raw=value.decode("utf-8", "replace"), revision=rev,
                              alive=k in self.alive))  # fmt: skip
            if len(out) >= limit:
                break
        out.reverse()
        return out

    def tasks(self) -> list[str]:
        return sorted({k[len(self.prefix) + 1 :].split("/")[0] for k in self.kv})

    def release(self, task: str, slot: str, *, revision: int) -> bool:
        k = self.key(task, slot)
        if k in self.kv and self.kv[k][1] == revision:
            del self.kv[k]
            return True
        return False
