"""Replication, shown for real: a primary and a streaming standby in network namespaces.

Asynchronous: a claim commits on the primary, the standby is promoted before it received
it, and a second node's claim on the promoted server wins the same slot. The test asserts
that double happens: it is the hazard the docs describe. Synchronous
(``synchronous_standby_names`` naming the standby): the same sequence gives one winner,
because a claim is either confirmed by the standby (and found on the promoted server) or
fails closed (the standby did not confirm: nothing runs).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import postgres as pglib

pytestmark = [pytest.mark.netns, pytest.mark.postgres, pytest.mark.slow]

DEADLINE = 1.5
ENV = {"IF_MASTER_LEDGER_PASSWORD": pglib.PASSWORD}
_slots = iter(range(10**6))


def fresh_slot() -> str:
    t = time.gmtime(1924992000 + 60 * next(_slots))
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pglib.Lab]:
    with pglib.lab(tmp_path_factory.mktemp("pgrep")) as made:
        yield made


def claim(agent: pglib.Agent, url: str, slot: str, node: str) -> dict[str, Any]:
    return agent.call({"op": "claim", "url": url, "task": "backup", "slot": slot, "node": node,
                       "pid": 7, "start": time.time(),
                       "opts": {"deadline": DEADLINE, "env": ENV}})  # fmt: skip


def pair(lab: pglib.Lab) -> tuple[pglib.Server, pglib.Server]:
    """A primary with a streaming standby, the ledger table created and replicated."""
    p = lab.server()
    s = lab.server(standby_of=p)
    p.wait_streaming(s)
    return p, s


def replicated(p: pglib.Server, s: pglib.Server, a: pglib.Agent) -> None:
    assert claim(a, p.url(), fresh_slot(), "warm-up")["won"]
    lsn = p.sql("SELECT pg_current_wal_lsn()::text")[0][0]
    for _ in range(100):
        if s.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn)[0][0]:
            return
        time.sleep(0.1)
    raise AssertionError("the standby did not replay the warm-up claim")


def cut(p: pglib.Server, s: pglib.Server, cut: bool = True) -> None:
    """No packet between the primary and the standby; clients still reach both."""
    for here, there in ((p, s), (s, p)):
        here.ns.ip("route", "add" if cut else "del", "blackhole", f"{there.ip}/32")


def promote(s: pglib.Server) -> None:
    assert s.sql("SELECT pg_promote(wait => true, wait_seconds => 30)") == [(True,)]


def test_a_standby_is_refused_by_name_and_a_host_list_finds_the_primary(lab: pglib.Lab) -> None:
    p, s = pair(lab)
    a = lab.agent()
    replicated(p, s, a)
    r = claim(a, s.url(), fresh_slot(), "a")
    assert r["ok"] is False and r["kind"] == "config", r
    assert f"{s.ip}:5432 is a standby (pg_is_in_recovery)" in r["error"]
    # Standby first in a list: read-write (the default for a list) skips it.
    both = f"postgresql://ifm@{s.ip}:5432,{p.ip}:5432/postgres"
    assert claim(a, both, fresh_slot(), "a")["won"]
    r = claim(a, both + "?target_session_attrs=any", fresh_slot(), "a")
    assert r["ok"] is False and "is a standby" in r["error"], r
    r = claim(a, p.url(async_standbys="refuse"), fresh_slot(), "a")
    assert r["ok"] is False and "replicates to 1 standby(s) asynchronously" in r["error"], r


def test_async_replication_a_failover_runs_a_slot_twice(lab: pglib.Lab) -> None:
    """The hazard, asserted: both nodes win the same slot."""
    p, s = pair(lab)
    a, b = lab.agent(), lab.agent()
    replicated(p, s, a)
    slot = fresh_slot()
    cut(p, s)  # the standby receives nothing more
    first = claim(a, p.url(), slot, "a")
    assert first["won"], first  # asynchronous: committed at once, on the primary only
    promote(s)  # the failover a watchdog would do: the primary looks gone
    second = claim(b, s.url(), slot, "b")
    assert second["won"], second  # the same slot, a second winner: the job runs twice


def test_sync_replication_the_same_failover_has_one_winner(lab: pglib.Lab) -> None:
    p, s = pair(lab)
    p.sql(f"ALTER SYSTEM SET synchronous_standby_names = '{s.name}'")
    p.sql("SELECT pg_reload_conf()")
    for _ in range(100):
        if p.sql("SELECT sync_state FROM pg_stat_replication") == [("sync",)]:
            break
        time.sleep(0.1)
    a, b = lab.agent(), lab.agent()
    replicated(p, s, a)
    confirmed, cut_off = fresh_slot(), fresh_slot()
    first = claim(a, p.url(), confirmed, "a")
    assert first["won"], first  # the standby confirmed it before the commit returned
    cut(p, s)
    lost = claim(a, p.url(), cut_off, "a")
    # Committed on the primary, never confirmed: fails closed at the deadline, nothing runs.
    assert lost["ok"] is False and lost["kind"] == "unreachable", lost
    assert "within the deadline" in lost["error"] and DEADLINE <= lost["elapsed"] < 3, lost
    # The wait cancelled on the server (pg_cancel_backend): it answers "committed" with a
    # warning; that claim is not durable either and fails closed.
    cancelled = fresh_slot()
    waiting = "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
    before = set(p.sql(waiting))  # the lost claim's COMMIT still waits: not that one
    a.send({"op": "claim", "url": p.url(), "task": "backup", "slot": cancelled, "node": "a",
            "opts": {"deadline": 20, "env": ENV}})  # fmt: skip
    for _ in range(200):
        new = set(p.sql(waiting)) - before
        if new:
            p.sql("SELECT pg_cancel_backend(%s)", new.pop()[0])
            break
        time.sleep(0.05)
    r = a.receive()
    assert r["ok"] is False and "synchronous standby did not confirm" in r["error"], r
    promote(s)
    again = claim(b, s.url(), confirmed, "b")
    assert again["ok"] and not again["won"], again  # the confirmed claim is on the new primary
    assert again["holder"]["node"] == "a"
    for slot in (cut_off, cancelled):
        second = claim(b, s.url(), slot, "b")
        assert second["won"], second  # the only winner of that slot: a ran nothing
