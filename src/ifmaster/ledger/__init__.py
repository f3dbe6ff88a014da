"""The ledger (``--ledger``): one record per schedule slot that exactly one node can create.

Imported only when ``--ledger`` is given. The pieces:

- ``records``: what a slot holds (:class:`Record`), a claim's outcome (:class:`Claim`),
  :class:`LedgerError`; no I/O.
- ``backend``: the protocol every store implements (claim, finish, read, release).
- ``etcd``: the first store, etcd v3 through its JSON gateway; ``url``, ``secret`` and
  ``wire`` are its URL grammar, its password files and its bounded socket.

At most once: a claimed slot whose runner died stays claimed (no end). To run it again,
an operator deletes the key: ``etcdctl del /PREFIX/TASK/2026-11-28T01:45:00Z``.

Fail closed: every failure at run time (no endpoint answered within the deadline, no
quorum, TLS, auth, a reply we cannot read) is one :class:`LedgerError` with one line, and
the caller runs nothing. Bad values (the URL, a node name) are ValueError naming them.
"""

from __future__ import annotations

from typing import Any

from ..limits import DEFAULT_LEDGER_TIMEOUT as DEFAULT_DEADLINE
from .etcd import EtcdLedger
from .records import Claim, LedgerError, Record, ServerTime, validate_node
from .url import LedgerUrl, parse_url

#: The etcd store, under its first name.
Ledger = EtcdLedger


def open_ledger(url: str | None, **options: Any) -> EtcdLedger | None:
    """The store ``url`` (or IF_MASTER_LEDGER) names, with its options; None when neither
    is set. The one place that picks a backend by the URL's scheme."""
    return EtcdLedger.from_options(url, **options)


__all__ = [
    "DEFAULT_DEADLINE",
    "Claim",
    "EtcdLedger",
    "Ledger",
    "LedgerError",
    "LedgerUrl",
    "Record",
    "ServerTime",
    "open_ledger",
    "parse_url",
    "validate_node",
]
