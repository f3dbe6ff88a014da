"""liveness.py with a fake lease store: start, due, beat, re-grant after expiry, stop."""

from __future__ import annotations

from ifmaster.ledger.liveness import Liveness
from ifmaster.ledger.records import Claim, LedgerError, Record


class Leases:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.ttl_left = 10
        self.fail: set[str] = set()
        self.next_id = 7

    def _call(self, what: str, arg: object) -> None:
        self.calls.append((what, arg))
        if what in self.fail:
            raise LedgerError("unreachable", f"ledger: {what} failed")

    def grant(self, ttl: int) -> int:
        self._call("grant", ttl)
        self.next_id += 1
        return self.next_id

    def keep_alive(self, lease: int) -> int:
        self._call("keep_alive", lease)
        return self.ttl_left

    def revoke(self, lease: int) -> None:
        self._call("revoke", lease)

    def put_alive(self, claim: Claim, lease: int) -> None:
        self._call("put_alive", lease)


CLAIM = Claim(won=True, key="/p/t/2026-01-01T00:00:00Z", holder=Record(node="n", start="s", pid=1),
              revision=42)  # fmt: skip


def make(store: Leases) -> tuple[Liveness, list[float], list[str]]:
    now = [100.0]
    warnings: list[str] = []
    return (
        Liveness(store, ttl=10, every=3.0, clock=lambda: now[0], warn=warnings.append),
        now,
        warnings,
    )


def test_start_beats_when_due_and_stop_revokes() -> None:
    store = Leases()
    lv, now, warnings = make(store)
    assert lv.due() is None
    lv.start(CLAIM)
    assert store.calls == [("grant", 10), ("put_alive", 8)]
    assert lv.due() == 3.0
    now[0] += 1
    lv.beat()  # not due yet: no traffic
    assert len(store.calls) == 2 and lv.due() == 2.0
    now[0] += 2
    assert lv.due() == 0.0
    lv.beat()
    assert store.calls[-1] == ("keep_alive", 8) and lv.due() == 3.0
    lv.stop()
    assert store.calls[-1] == ("revoke", 8) and lv.due() is None
    lv.stop()  # twice: nothing more
    assert store.calls[-1] == ("revoke", 8) and len(store.calls) == 4
    assert warnings == []


def test_an_expired_lease_is_granted_and_written_anew() -> None:
    store = Leases()
    lv, now, _ = make(store)
    lv.start(CLAIM)
    store.ttl_left = 0  # a partition longer than the TTL: etcd deleted the record
    now[0] += 3
    lv.beat()
    assert store.calls[-3:] == [("keep_alive", 8), ("grant", 10), ("put_alive", 9)]
    assert lv.lease == 9


def test_failures_warn_once_and_never_raise() -> None:
    store = Leases()
    store.fail = {"keep_alive", "revoke"}
    lv, now, warnings = make(store)
    lv.start(CLAIM)
    for _ in range(3):
        now[0] += 3
        lv.beat()
    lv.stop()
    assert len(warnings) == 1 and "cannot refresh the liveness record" in warnings[0]
    store2 = Leases()
    store2.fail = {"grant"}
    lv2, _, warnings2 = make(store2)
    lv2.start(CLAIM)
    assert lv2.due() is None and "no liveness record" in warnings2[0]
    lv2.beat()
    lv2.stop()
    assert [c[0] for c in store2.calls] == ["grant"]


def test_ended_sends_nothing_the_end_record_deleted_the_key() -> None:
    """After finish() (which deletes the record with the end), no revoke: the lease,
    holding nothing, lapses; a later stop() sends nothing either."""
    store = Leases()
    lv, now, warnings = make(store)
    lv.start(CLAIM)
    lv.ended()
    assert lv.due() is None and lv.lease is None
    now[0] += 10
    lv.beat()
    lv.stop()
    assert store.calls == [("grant", 10), ("put_alive", 8)] and warnings == []
