"""The PostgreSQL ledger against real PostgreSQL 15 servers in network namespaces.

Races of two and three nodes, the end record and release, the table created or its DDL
printed, and every way it fails closed with its own line: server down, unreachable, slow,
wrong password, TLS verify-full, a role without INSERT, a standby, a multi-master marker.
Clients run in their own namespaces (tests/support/postgres.py).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import postgres as pglib

pytestmark = [pytest.mark.netns, pytest.mark.postgres]

DEADLINE = 1.0
# What a fail-closed call may take beyond its deadline: process scheduling on a busy box.
SLACK = 1.5
_slots = iter(range(10**6))
ENV = {"IF_MASTER_LEDGER_PASSWORD": pglib.PASSWORD}


def fresh_slot() -> str:
    """A slot no other test used: 1 minute apart from 2030 on."""
    t = time.gmtime(1893456000 + 60 * next(_slots))
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pglib.Lab]:
    with pglib.lab(tmp_path_factory.mktemp("pg")) as made:
        made.server()
        yield made


@pytest.fixture(scope="module")
def agent(lab: pglib.Lab) -> pglib.Agent:
    return lab.agent()


def claim(agent: pglib.Agent, url: str, slot: str, node: str = "a", **kw: Any) -> dict[str, Any]:
    opts = {"deadline": DEADLINE, "env": ENV, **kw.pop("opts", {})}
    req = {"op": "claim", "url": url, "task": "backup", "slot": slot, "node": node,
           "pid": 4242, "start": time.time(), "opts": opts, **kw}  # fmt: skip
    return agent.call(req)


def one_line_without_secrets(reply: dict[str, Any]) -> str:
    assert reply["ok"] is False, reply
    text = str(reply["error"])
    assert "\n" not in text and text.startswith("ledger: "), text
    for secret in (pglib.PASSWORD, pglib.SUPER_PASSWORD):
        assert secret not in text
    return text


@pytest.mark.parametrize("n", [2, 3])
def test_nodes_race_for_one_slot_exactly_one_wins(lab: pglib.Lab, n: int) -> None:
    """30 rounds, n nodes in n namespaces at once: one winner, tokens rising round by round."""
    agents = [lab.agent() for _ in range(n)]
    url = lab.servers[0].url(table=f"public.race{n}")
    tokens = []
    for _ in range(30):
        slot, at = fresh_slot(), time.time() + 0.1
        for i, a in enumerate(agents):
            a.send({"op": "claim", "url": url, "task": "race", "slot": slot, "node": f"n{i}",
                    "pid": 1, "start": at, "at": at, "opts": {"env": ENV}})  # fmt: skip
        replies = [a.receive() for a in agents]
        assert all(r["ok"] for r in replies), replies
        winners = [r for r in replies if r["won"]]
        assert len(winners) == 1, replies
        w = winners[0]
        for r in replies:
            assert r["revision"] == w["revision"] and r["holder"] == w["holder"]
        tokens.append(w["revision"])
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
    rows = lab.servers[0].sql(f"SELECT count(*), count(DISTINCT slot) FROM public.race{n}")
    assert rows == [(30, 30)]


def test_through_pgbouncer_in_transaction_pooling_exactly_one_wins(lab: pglib.Lab) -> None:
    """Two nodes, 20 rounds, through one pgbouncer with two server connections."""
    pglib.require(shutil.which(pglib.BOUNCER) is not None, "pgbouncer is not installed")
    url = lab.servers[0].bouncer() + "?table=public.pooled"
    agents = [lab.agent(), lab.agent()]
    for _ in range(20):
        slot, at = fresh_slot(), time.time() + 0.1
        for i, a in enumerate(agents):
            a.send({"op": "claim", "url": url, "task": "race", "slot": slot, "node": f"n{i}",
                    "pid": 1, "start": at, "at": at, "opts": {"env": ENV}})  # fmt: skip
        replies = [a.receive() for a in agents]
        assert all(r["ok"] for r in replies), replies
        assert sum(r["won"] for r in replies) == 1, replies
    assert lab.servers[0].sql("SELECT count(*) FROM public.pooled") == [(20,)]


def test_the_clock_is_the_servers_bracketed_by_the_round_trip(
    lab: pglib.Lab, agent: pglib.Agent
) -> None:
    """clock() (the slot's judge, see slot.judge_by_ledger) reads clock_timestamp(): on one
    machine the server's time brackets ours to within the round trip."""
    url = lab.servers[0].url()
    got = agent.call({"op": "clock", "url": url, "opts": {"deadline": DEADLINE, "env": ENV}})
    assert got["ok"], got
    assert got["low"] <= got["high"] < got["low"] + DEADLINE
    assert got["low"] - 0.5 < got["wall"] < got["high"] + 0.5
    assert got["source"].endswith("'s clock_timestamp()") and got["resolution"] == 0.001


def test_end_record_read_tasks_and_release(lab: pglib.Lab, agent: pglib.Agent) -> None:
    url = lab.servers[0].url()
    slot = fresh_slot()
    first = claim(agent, url, slot, "a")
    assert first["won"] and first["key"] == f"public.if_master_ledger/backup/{slot}", first
    assert abs(first["offset"]) < 1.0  # one machine, one clock
    again = claim(agent, url, slot, "b")
    assert not again["won"] and again["text"].endswith(
        f"is held by a (pid 4242, started {first['holder']['start']})"
    )
    done = agent.call(
        {"op": "finish", "key": first["key"], "node": "a", "end": time.time(), "status": 3}
    )
    assert done == {"ok": True, "done": True, "elapsed": done["elapsed"]}
    opts = {"deadline": DEADLINE, "env": ENV}
    read = agent.call({"op": "read", "url": url, "opts": opts, "task": "backup",
                       "since": slot})  # fmt: skip
    assert read["rows"][0]["slot"] == slot and read["rows"][0]["record"]["status"] == 3
    assert "backup" in agent.call({"op": "tasks", "url": url, "opts": opts})["tasks"]
    rel = {"op": "release", "url": url, "opts": opts, "task": "backup", "slot": slot}
    assert agent.call({**rel, "revision": first["revision"] + 1})["done"] is False
    assert agent.call({**rel, "revision": first["revision"]})["done"] is True
    # Released: the slot can be claimed anew, with a larger token; the old run's end is
    # no longer written over it.
    anew = claim(agent, url, slot, "b")
    assert anew["won"] and anew["revision"] > first["revision"]
    stale = agent.call(
        {"op": "finish", "key": first["key"], "node": "a", "end": time.time(), "status": 0}
    )
    assert stale["done"] is False


def test_keep_prunes_the_tasks_older_rows_in_the_claim(lab: pglib.Lab, agent: pglib.Agent) -> None:
    url = lab.servers[0].url(table="public.kept")
    slots = [fresh_slot() for _ in range(4)]
    for s in slots:
        assert claim(agent, url, s, opts={"keep": 150})["won"]
    left = lab.servers[0].sql("SELECT count(*) FROM public.kept")
    assert left == [(3,)]  # the newest slot and the two within 150 s before it


def test_a_role_that_may_not_create_the_table_gets_its_ddl(
    lab: pglib.Lab, agent: pglib.Agent
) -> None:
    s = lab.servers[0]
    s.sql("CREATE SCHEMA IF NOT EXISTS locked")
    r = claim(agent, s.url(table="locked.ledger"), fresh_slot())
    text = one_line_without_secrets(r)
    assert "does not exist" in text and "may not create it" in text
    assert "CREATE TABLE locked.ledger (task text NOT NULL" in text
    assert "COMMENT ON TABLE locked.ledger IS 'if-master ledger, schema 1'" in text
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON locked.ledger TO ifm;" in text
    # The printed DDL, run by the owner, makes the ledger work.
    ddl = text.split("as its owner run: ", 1)[1]
    with s.connect() as conn:
        for statement in ddl.split(";"):
            if statement.strip():
                conn.execute(statement)
    assert claim(agent, s.url(table="locked.ledger"), fresh_slot())["won"]


def test_a_table_that_is_not_a_ledger_is_refused(lab: pglib.Lab, agent: pglib.Agent) -> None:
    s = lab.servers[0]
    s.sql("CREATE TABLE public.orders (task text, slot timestamptz)")
    s.sql("GRANT ALL ON public.orders TO ifm")
    text = one_line_without_secrets(claim(agent, s.url(table="public.orders"), fresh_slot()))
    assert "is not an if-master ledger of schema 1" in text


def test_a_role_without_insert_fails_closed(lab: pglib.Lab, agent: pglib.Agent) -> None:
    s = lab.servers[0]
    s.sql("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'")
    assert claim(agent, s.url(table="public.ro"), fresh_slot())["won"]  # ifm creates it
    s.sql("GRANT SELECT ON public.ro TO reader")
    r = claim(agent, s.url(table="public.ro", user="reader"), fresh_slot(),
              opts={"env": {"IF_MASTER_LEDGER_PASSWORD": "reader-pw"}})  # fmt: skip
    text = one_line_without_secrets(r)
    assert r["kind"] == "auth" and "permission denied for table ro" in text, text
    assert "reader-pw" not in text


def test_wrong_password_fails_closed_without_saying_it(lab: pglib.Lab, agent: pglib.Agent) -> None:
    r = claim(agent, lab.servers[0].url(), fresh_slot(),
              opts={"env": {"IF_MASTER_LEDGER_PASSWORD": "wrong-pw-42"}})  # fmt: skip
    text = one_line_without_secrets(r)
    assert r["kind"] == "auth" and 'password authentication failed for user "ifm"' in text
    assert text.count("password authentication failed") == 1, text  # libpq tried twice
    assert "wrong-pw-42" not in text


def test_the_password_from_pgpass(lab: pglib.Lab, tmp_path: Path) -> None:
    """libpq's own rules: PGPASSFILE, mode 0600 (a group-readable file is ignored)."""
    a = lab.agent()
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{pglib.SUBNET}.1:5432:*:ifm:{pglib.PASSWORD}\n")
    pgpass.chmod(0o600)
    r = claim(a, lab.servers[0].url(), fresh_slot(),
              opts={"env": {}, "osenv": {"PGPASSFILE": str(pgpass)}})  # fmt: skip
    assert r["ok"] and r["won"], r


def test_a_password_in_the_url_is_refused_unrepeated(agent: pglib.Agent) -> None:
    for url in ("postgresql://ifm:hunter2-pw@10.78.0.1/postgres",
                "postgresql://ifm@10.78.0.1/postgres?password=hunter2-pw"):  # fmt: skip
        r = claim(agent, url, fresh_slot())
        assert r["kind"] == "config" and "has a password" in r["error"], r
        assert "hunter2-pw" not in r["error"]


def test_server_down_fails_closed(lab: pglib.Lab, agent: pglib.Agent) -> None:
    r = claim(agent, "postgresql://ifm@10.78.0.1:5433/postgres", fresh_slot())  # no server
    text = one_line_without_secrets(r)
    assert r["kind"] == "unreachable" and "Connection refused" in text, text
    assert r["elapsed"] < DEADLINE + SLACK


def test_unreachable_fails_closed_within_the_deadline(lab: pglib.Lab, agent: pglib.Agent) -> None:
    r = claim(agent, "postgresql://ifm@10.78.0.99/postgres", fresh_slot())  # nobody there
    text = one_line_without_secrets(r)
    assert r["kind"] == "unreachable" and "within the deadline (1 s)" in text, text
    assert DEADLINE - 0.1 < r["elapsed"] < DEADLINE + SLACK


def test_a_slow_server_fails_closed_within_the_deadline(lab: pglib.Lab, agent: pglib.Agent) -> None:
    """A lock held by another session: the INSERT waits, the deadline ends it."""
    s = lab.servers[0]
    url = s.url(table="public.slow")
    assert claim(agent, url, fresh_slot())["won"]
    with s.connect() as conn, conn.transaction():
        conn.execute("LOCK TABLE public.slow IN ACCESS EXCLUSIVE MODE")
        r = claim(agent, url, fresh_slot())
    text = one_line_without_secrets(r)
    assert r["kind"] == "unreachable", text
    assert "canceling statement due to statement timeout" in text  # the server's own words
    assert r["elapsed"] < DEADLINE + SLACK


def test_tls_verify_full(lab: pglib.Lab, agent: pglib.Agent) -> None:
    s = lab.servers[0]
    assert lab.tls is not None
    good = s.url(sslmode="verify-full", sslrootcert=str(lab.tls.ca))
    assert claim(agent, good, fresh_slot())["won"]
    bad = s.url(sslmode="verify-full", sslrootcert=str(lab.tls.other_ca))
    r = claim(agent, bad, fresh_slot())
    text = one_line_without_secrets(r)
    assert r["kind"] == "tls" and "certificate verify failed" in text, text


def test_multi_master_marker_is_refused_unless_overridden(
    lab: pglib.Lab, agent: pglib.Agent
) -> None:
    """Faked: a database with a schema named bdr (BDR's own), no real BDR."""
    s = lab.servers[0]
    s.sql("CREATE DATABASE mm OWNER ifm")
    s.sql("CREATE SCHEMA bdr", dbname="mm")
    r = claim(agent, s.url(dbname="mm"), fresh_slot())
    text = one_line_without_secrets(r)
    assert r["kind"] == "config" and "is a multi-master node (schema bdr)" in text, text
    assert "the same claim" in text
    ok = claim(agent, s.url(dbname="mm", multi_master="allow-double-runs"), fresh_slot())
    assert ok["won"], ok
