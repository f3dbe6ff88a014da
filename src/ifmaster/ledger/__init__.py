"""The ledger (``--ledger``): one record per schedule slot that exactly one node can create.

Imported only when ``--ledger`` is given. The pieces:

- ``records``: what a slot holds (:class:`Record`), a claim's outcome (:class:`Claim`),
  :class:`LedgerError`; no I/O.
- ``backend``: the protocol every store implements (claim, finish, read, tasks, release).
- ``history``: ``--history``, ``--status``, ``--release`` from a store's reads;
  ``liveness``: a running slot's record on a short lease (running versus died).
- ``etcd``: the first store, etcd v3 through its JSON gateway; ``url``, ``secret`` and
  ``wire`` are its URL grammar, its password files and its bounded socket.

At most once: a claimed slot whose runner died stays claimed (no end). To run it again,
an operator releases it: ``if-master --ledger URL --release TASK 2026-11-28T01:45:00Z``
(``history.py``: it deletes that one key only if it is still the claim it showed).

Fail closed: every failure at run time (no endpoint answered within the deadline, no
quorum, TLS, auth, a reply we cannot read) is one :class:`LedgerError` with one line, and
the caller runs nothing. Bad values (the URL, a node name) are ValueError naming them.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..limits import DEFAULT_LEDGER_TIMEOUT as DEFAULT_DEADLINE
from .etcd import EtcdLedger
from .records import Claim, LedgerError, LedgerOptions, Record, validate_node
from .url import LedgerUrl, parse_url

#: The etcd store, under its first name.
Ledger = EtcdLedger


def open_ledger(options: LedgerOptions, environ: Mapping[str, str] | None = None) -> EtcdLedger:
    """The store ``options.url`` names, its password and TLS files read: the one place that
    picks a backend by the URL's scheme. LedgerError (``config``) when a file is bad."""
    try:
        led = EtcdLedger.from_options(
            options.url,
            deadline=options.deadline,
            ca=options.ca,
            cert=options.cert,
            key=options.key,
            user=options.user,
            password_file=options.password_file,
            environ=environ,
            keep=options.keep,
        )
    except ValueError as e:  # a half-given pair, a bad URL or deadline: the CLI checks first
        raise LedgerError("config", f"ledger: {e}") from None
    assert led is not None  # the URL is given
    return led


__all__ = [
    "DEFAULT_DEADLINE",
    "Claim",
    "EtcdLedger",
    "Ledger",
    "LedgerError",
    "LedgerOptions",
    "LedgerUrl",
    "Record",
    "open_ledger",
    "parse_url",
    "validate_node",
]
