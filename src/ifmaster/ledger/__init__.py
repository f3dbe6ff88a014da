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

import os
from typing import TYPE_CHECKING, Any

from ..limits import DEFAULT_LEDGER_TIMEOUT as DEFAULT_DEADLINE
from .etcd import EtcdLedger
from .records import Claim, LedgerError, Record, validate_node
from .secret import ENV_URL
from .url import LedgerUrl, parse_url

if TYPE_CHECKING:
    from .postgres import PostgresLedger

#: The etcd store, under its first name.
Ledger = EtcdLedger


def open_ledger(url: str | None, **options: Any) -> EtcdLedger | PostgresLedger | None:
    """The store ``url`` (or IF_MASTER_LEDGER) names, with its options; None when neither
    is set. The one place that picks a backend by the URL's scheme: ``postgresql://`` and
    ``postgres://`` import the PostgreSQL store (and its driver) here, and only then."""
    env = options.get("environ")
    text = url if url is not None else (os.environ if env is None else env).get(ENV_URL)
    if text is not None and text.startswith(("postgresql://", "postgres://")):
        try:
            from .postgres import PostgresLedger
        except ImportError as e:  # the optional driver: say how to get it
            raise LedgerError(
                "config",
                f"--ledger {text.split('://')[0]}:// needs psycopg 3 ({e.name or e} is not"
                " installed): pip install 'if-master[postgresql]' or apt-get install"
                " python3-psycopg",
            ) from None
        return PostgresLedger.from_options(text, **options)
    return EtcdLedger.from_options(url, **options)


__all__ = [
    "DEFAULT_DEADLINE",
    "Claim",
    "EtcdLedger",
    "Ledger",
    "LedgerError",
    "LedgerUrl",
    "Record",
    "open_ledger",
    "parse_url",
    "validate_node",
]
