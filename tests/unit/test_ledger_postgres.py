"""The PostgreSQL store without a server: its URL, its options, its import boundary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("psycopg")

from ifmaster.ledger import LedgerError, LedgerOptions, open_ledger  # noqa: E402
from ifmaster.ledger.postgres import (  # noqa: E402
    DEFAULT_TABLE,
    PostgresLedger,
    ddl,
    parse_pg_url,
)


def test_a_url_is_libpqs_with_our_parameters_taken_out() -> None:
    u = parse_pg_url(
        "postgresql://ifm@db1:5432,db2:5433/jobs?sslmode=verify-full&table=ops.ledger"
        "&async_standbys=refuse&connect_timeout=5"
    )
    assert u.table == "ops.ledger" and u.async_standbys == "refuse" and not u.multi_master
    assert "table" not in u.conninfo and "async_standbys" not in u.conninfo
    assert u.params["host"] == "db1,db2" and u.params["port"] == "5432,5433"
    assert u.params["sslmode"] == "verify-full" and u.params["dbname"] == "jobs"
    assert u.hosts == 2
    plain = parse_pg_url("postgres://ifm@db/jobs")
    assert plain.table == DEFAULT_TABLE and plain.async_standbys == "warn"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ifm:s3cret-pw@db/jobs",
        "postgresql://ifm:s3cret-pw@db1,db2/jobs",
        "postgresql://ifm:s3cret-pw/x@db/jobs",  # libpq would read "ifm:s3cret-pw" as a host
        "postgresql://ifm:x/s3cret-pw@db/jobs",
        "postgresql://ifm@db/jobs?password=s3cret-pw",
        "postgresql://ifm@db/jobs?sslmode=require&password=s3cret-pw",
    ],
)
def test_a_password_in_the_url_is_refused_and_not_repeated(url: str) -> None:
    with pytest.raises(ValueError, match="has a password") as e:
        parse_pg_url(url)
    assert "s3cret-pw" not in str(e.value)
    assert "~/.pgpass" in str(e.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://db/jobs?table=ledger", "is not SCHEMA.NAME"),
        ("postgresql://db/jobs?table=a.b.c", "is not SCHEMA.NAME"),
        ("postgresql://db/jobs?table=Ops.ledger", "'Ops' is not a lower-case SQL name"),
        ("postgresql://db/jobs?table=ops.le;dger", "is not a lower-case SQL name"),
        ("postgresql://db/jobs?table=ops." + "x" * 64, "at most 63"),
        ("postgresql://db/jobs?table=a.b&table=c.d", "table= is given twice"),
        ("postgresql://db/jobs?async_standbys=ignore", "is not one of warn, refuse, accept"),
        ("postgresql://db/jobs?multi_master=yes", "the only value is allow-double-runs"),
        ("postgresql://db/jobs?sslmode=bogus", "sslmode='bogus' is not one of disable,"),
        ("postgresql://a,b/jobs?target_session_attrs=rw", "target_session_attrs='rw' is not"),
        ("postgresql://db/jobs?nosuchparam=1", "libpq cannot read it"),
        ("postgresql://db/jobs#frag", "fragment"),
        ("postgresql://db/jo bs", "spaces"),
    ],
)
def test_bad_urls_name_their_bad_part(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="ledger URL") as e:
        parse_pg_url(url)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("option", "value", "instead"),
    [
        ("ca", "/ca.pem", "sslrootcert=FILE"),
        ("cert", "/c.pem", "sslcert=FILE"),
        ("key", "/c.key", "sslkey=FILE"),
        ("user", "ifm", "postgresql://USER@HOST/DB"),
    ],
)
def test_etcd_options_are_refused(option: str, value: str, instead: str) -> None:
    options = LedgerOptions(url="postgresql://db/jobs", deadline=2.0, **{option: value})
    with pytest.raises(LedgerError, match=f"^ledger: --ledger-{option} is for an etcd ledger") as e:
        open_ledger(options, environ={})
    assert instead in str(e.value) and e.value.kind == "config"
    with pytest.raises(LedgerError, match="IF_MASTER_LEDGER_USER is for an etcd ledger"):
        open_ledger(
            LedgerOptions(url="postgresql://db/jobs", deadline=2.0),
            environ={"IF_MASTER_LEDGER_USER": "x"},
        )


def test_the_scheme_picks_the_store_and_the_password_source(tmp_path: Path) -> None:
    env = {"IF_MASTER_LEDGER_PASSWORD": "pw1"}
    led = open_ledger(LedgerOptions(url="postgres://ifm@db/jobs", deadline=2.0), environ=env)
    assert isinstance(led, PostgresLedger) and led.keep is None
    assert led._password == "pw1"
    assert led.key("backup", "2026-11-28T01:45:00Z") == (
        "public.if_master_ledger/backup/2026-11-28T01:45:00Z"
    )
    pw = tmp_path / "pw"
    pw.write_text("pw2\n")
    pw.chmod(0o600)
    options = LedgerOptions(url="postgresql://ifm@db/jobs", deadline=2.0, password_file=str(pw))
    led = open_ledger(options, environ={})
    assert isinstance(led, PostgresLedger) and led._password == "pw2"
    kept = PostgresLedger.from_options("postgresql://db/jobs", deadline=2.0, environ={}, keep=60)
    assert kept.keep == 60
    with pytest.raises(ValueError, match="keep"):
        PostgresLedger.from_options("postgresql://db/jobs", deadline=2.0, environ={}, keep=0)
    with pytest.raises(LedgerError, match="--ledger-timeout"):
        open_ledger(LedgerOptions(url="postgresql://db/jobs", deadline=0.0), environ={})


def test_the_ddl_carries_the_schema_version() -> None:
    text = ddl("ops.ledger")
    assert text.startswith("CREATE TABLE ops.ledger (task text NOT NULL")
    assert "PRIMARY KEY (task, slot)" in text and "GENERATED ALWAYS AS IDENTITY" in text
    assert text.endswith("COMMENT ON TABLE ops.ledger IS 'if-master ledger, schema 1';")


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(r.stdout.split())


def test_only_a_postgresql_url_imports_the_driver() -> None:
    etcd = _modules_after(
        "from ifmaster.ledger import LedgerOptions, open_ledger\n"
        "open_ledger(LedgerOptions(url='etcd://10.0.0.1:2379/p', deadline=1.0), environ={})"
    )
    assert not {m for m in etcd if m.startswith(("psycopg", "ifmaster.ledger.postgres"))}
    pg = _modules_after(
        "from ifmaster.ledger import LedgerOptions, open_ledger\n"
        "open_ledger(LedgerOptions(url='postgresql://ifm@10.0.0.1/db', deadline=1.0), environ={})"
    )
    assert "psycopg" in pg and "ifmaster.ledger.postgres" in pg


def test_without_the_driver_one_line_says_how_to_get_it() -> None:
    code = (
        "import sys\nsys.modules['psycopg'] = None\n"
        "from ifmaster.ledger import LedgerError, LedgerOptions, open_ledger\n"
        "o = LedgerOptions(url='postgresql://ifm@db/jobs', deadline=1.0)\n"
        "try:\n    open_ledger(o, environ={})\n"
        "except LedgerError as e:\n    print(e.kind, e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.startswith("config ledger: postgresql:// needs psycopg 3"), r.stdout
    assert "pip install 'if-master[postgresql]'" in r.stdout and r.stdout.count("\n") == 1


def test_errors_are_ledger_errors_with_one_line() -> None:
    assert issubclass(LedgerError, Exception)
    led = PostgresLedger(parse_pg_url("postgresql://u@db/x"), deadline=1.0, password="hunter2")
    err = led._error("claim k", RuntimeError("FATAL:  oops\n  password=hunter2 host=db"))
    assert str(err) == "ledger: claim k: FATAL: oops password=*** host=db"
    assert err.kind == "protocol"


def test_a_driver_message_is_said_once_per_attempt_and_scrubbed() -> None:
    led = PostgresLedger(parse_pg_url("postgresql://u@db/x"), deadline=1.0, password="Zk4q9")
    why = 'connection to server at "db", port 5432 failed: FATAL:  password authentication failed'
    err = led._error("claim k", RuntimeError(f"connection failed: {why}\n{why}"))
    assert str(err) == f"ledger: claim k: connection failed: {' '.join(why.split())}"
    assert err.kind == "auth"


def test_a_server_echoing_the_password_never_shows_it() -> None:
    """A server that asked for a cleartext password knows it: whatever it says back (its
    error, a setting, its tail cut by the bound) never shows it, however short."""
    for pw in ("r", "s3cret-Zk4q9"):
        led = PostgresLedger(parse_pg_url("postgresql://u@db/x"), deadline=1.0, password=pw)
        for said in (f"FATAL: bad {pw}", f'FATAL: {{"p": "{pw}"}}', f"ERROR: x {pw[:5]}"):
            text = str(led._error("claim k", RuntimeError(said)))
            assert text.startswith("ledger: claim k: ")
            assert pw[:5] not in text.removeprefix("ledger: claim k: ")
        assert pw not in led._said("x" * 195 + pw, 200)


def test_keep_reaches_the_postgresql_store() -> None:
    """--keep is the store's retention on PostgreSQL too (it was dropped at open_ledger)."""
    url = "postgresql://ifm@db/jobs"
    led = open_ledger(LedgerOptions(url=url, deadline=2.0, keep=86400), environ={})
    assert led.keep == 86400
    assert open_ledger(LedgerOptions(url=url, deadline=2.0, keep=None), environ={}).keep is None
