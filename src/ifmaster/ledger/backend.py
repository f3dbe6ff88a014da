"""The seam between the ledger's users (act, history, the CLI) and a store.

A store is a class with these methods; etcd (``etcd.py``) is the first. A second store is
one new module plus its tests: nothing in act or the CLI names a store, they go through
:func:`ifmaster.ledger.open_ledger` and this protocol. Unit tests use a fake of it.

Imported by type checkers only (``typing`` stays off the run-time path).
"""

from __future__ import annotations

from typing import Protocol

from .records import Claim, ServerTime, Stored


class Backend(Protocol):
    """One ledger: a store, a prefix (or schema), a deadline per call. Every call is one
    bounded operation that raises LedgerError (one line, no secret in it) or answers."""

    def key(self, task: str, slot: str) -> str:
        """The name of a slot's record, for messages and the job's environment."""

    def claim(
        self,
        task: str,
        slot: str,
        *,
        node: str,
        pid: int,
        start: float,
        schedule: str | None = None,
    ) -> Claim:
        """Create the slot's record if none exists, atomically; who holds it either way.

        ``schedule`` (``slot.spec()``) goes into the record, for the history's due slots.

        A won claim carries a fencing token (``Claim.revision``) that strictly increases
        across every claim of this store.
        """

    def clock(self) -> ServerTime:
        """The store's own clock, read once and bounded, for judging a slot by the cluster's
        time before claiming it (etcd: a reply's Date; PostgreSQL: ``clock_timestamp()``)."""

    def finish(self, claim: Claim, *, end: float, status: int) -> bool:
        """Record a won claim's end (a store with Leases deletes the run's liveness record
        in the same write); False when its record is gone or was claimed anew."""

    def read(
        self, task: str, *, since: str | None = None, until: str | None = None, limit: int = ...
    ) -> list[Stored]:
        """The task's slots in ``[since, until)`` (ISO 8601 UTC; None: unbounded), oldest
        first: the newest ``limit`` of them (every store bounds a read; etcd: 10000)."""

    def tasks(self) -> list[str]:
        """Every task that has a slot under this ledger's prefix, sorted."""

    def release(self, task: str, slot: str, *, revision: int) -> bool:
        """Delete one slot's record if it is still the claim ``revision`` names."""


class Leases(Protocol):
    """What a store that keeps a running slot's liveness record offers (liveness.py);
    optional: a store without it leaves ``Stored.alive`` None, and histories say unknown."""

    def grant(self, ttl: int) -> int:
        """A new lease of ``ttl`` seconds; its ID."""

    def keep_alive(self, lease: int) -> int:
        """Refresh the lease; its TTL now (0: it had expired and its keys are gone)."""

    def revoke(self, lease: int) -> None:
        """End the lease now; its keys go with it."""

    def put_alive(self, claim: Claim, lease: int) -> None:
        """Write the won claim's liveness record, attached to ``lease``."""
