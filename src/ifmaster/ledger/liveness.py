"""A running slot's liveness record: ``PREFIX/TASK/SLOT/alive`` on a short lease.

While the job runs, the guard that claimed its slot keeps this key alive: one lease of
TTL seconds granted at the start, refreshed every EVERY seconds, deleted with the end record. If the
guard dies (SIGKILL, a crash, the node's power), nobody refreshes the lease and etcd
deletes the key within TTL seconds; the slot's record then has no end and no liveness
record, and the history calls it ``died`` rather than ``running``.

The record's value is the claim's revision: a record left by an earlier claim of the same
slot (released and claimed again) never vouches for the new one.

Diagnostic only: a failure here warns once and never stops the job (the claim decided
whether it runs; this only tells the history how it is doing).

Cost in etcd traffic, per running job: at the start one lease grant and one put (two raft
proposals), then one keepalive every EVERY seconds (the leader's lessor answers it: no
raft proposal), and at the end nothing of its own: the end record's transaction deletes
the key, and the lease, holding nothing, lapses within TTL. A revoke (a proposal) is sent
only when the end could not be recorded. Each is one HTTP request on a new connection (two
with --ledger-user: the token first).
"""

from __future__ import annotations

import time

from .records import Claim, LedgerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .backend import Leases

#: The lease's TTL: how long after its guard died a slot still shows as running.
TTL = 10
#: Seconds between refreshes: three chances within one TTL.
EVERY = 3.0


class Liveness:
    """``start(claim)``, then ``beat()`` whenever ``due()`` says 0, and ``stop()``."""

    def __init__(
        self,
        store: Leases,
        *,
        ttl: int = TTL,
        every: float = EVERY,
        clock: Callable[[], float] = time.monotonic,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.every = every
        self.clock = clock
        self._warn = warn
        self.claim: Claim | None = None
        self.lease: int | None = None
        self._next: float | None = None
        self._warned = False

    def start(self, claim: Claim) -> None:
        """Grant the lease and write the record; a failure warns and stops liveness."""
        self.claim = claim
        try:
            self._grant()
        except LedgerError as e:
            self._fail(e)
            return
        self._next = self.clock() + self.every

    def due(self) -> float | None:
        """Seconds until the next beat (0: now); None when nothing is kept alive."""
        if self._next is None:
            return None
        return max(0.0, self._next - self.clock())

    def beat(self) -> None:
        """Refresh the lease if due; a lease that expired (a partition longer than TTL)
        is granted and written anew."""
        if self._next is None or self.clock() < self._next or self.lease is None:
            return
        try:
            if self.store.keep_alive(self.lease) <= 0:
                self._grant()
        except LedgerError as e:
            self._warn_once(f"warning: ledger: cannot refresh the liveness record: {e}")
        self._next = self.clock() + self.every

    def ended(self) -> None:
        """The run's end is recorded, and its liveness record went with it (the store's
        ``finish``): nothing to revoke, the lease lapses within TTL holding no key."""
        self.lease, self._next = None, None

    def stop(self) -> None:
        """Revoke the lease (its record goes with it); a failure only lets it expire."""
        lease, self.lease, self._next = self.lease, None, None
        if lease is None:
            return
        try:
            self.store.revoke(lease)
        except LedgerError as e:
            self._warn_once(f"warning: ledger: cannot revoke the liveness lease: {e}")

    def _grant(self) -> None:
        assert self.claim is not None
        lease = self.store.grant(self.ttl)
        self.lease = lease
        self.store.put_alive(self.claim, lease)

    def _fail(self, e: LedgerError) -> None:
        self._warn_once(f"warning: ledger: no liveness record for this run: {e}")
        self.lease, self._next = None, None

    def _warn_once(self, text: str) -> None:
        if self._warned:
            return
        self._warned = True
        if self._warn is not None:
            self._warn(text)
        else:
            from ..errors import say

            say(text)
