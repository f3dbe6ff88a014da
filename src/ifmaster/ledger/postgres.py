"""The PostgreSQL backend: one row per slot in one table, created by exactly one claim.

A claim is one ``INSERT ... ON CONFLICT (task, slot) DO NOTHING RETURNING`` on the
primary: the primary key makes exactly one claim per slot succeed, whatever the VIP did.
The fencing token is the row's identity column (a sequence: strictly increasing in claim
order). The end record is an ``UPDATE`` guarded by that token, so a row an operator
deleted and someone re-claimed is never overwritten by the old run.

Exactly once only where the server's replication allows it: a standby, a read-only
server and a multi-master node (BDR, pgactive, spock, pglogical or native logical
replication applying into the ledger table) are refused by name; asynchronous standbys
get one warning per run (``async_standbys=refuse`` makes it a refusal, ``=accept``
silences it). See docs/ledger-postgresql.md.

The driver is psycopg 3 (libpq: its URI, multi-host lists, ``target_session_attrs``,
``sslmode``, ``~/.pgpass``), imported only here, only for ``postgresql://`` URLs.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg  # the optional driver: open_ledger() says how to install it when missing
from psycopg import conninfo as _conninfo

from ..errors import shown
from ..model import MAX_LEDGER_TIMEOUT, MIN_LEDGER_TIMEOUT
from ..slot import check_seconds, parse_iso
from ..task import validate_task
from . import secret
from .records import (
    Claim,
    LedgerError,
    Record,
    ServerTime,
    Stored,
    bounded,
    iso_ms,
    validate_node,
)
from .secret import ENV_PASSWORD, ENV_USER, HIDDEN, scrub

if TYPE_CHECKING:
    from .backend import Backend

#: The URL schemes this store answers (libpq's two).
SCHEMES = ("postgresql://", "postgres://")
#: The table when the URL names none (``?table=SCHEMA.NAME``).
DEFAULT_TABLE = "public.if_master_ledger"
#: The table layout this release writes; kept in the table's comment, checked at connect.
SCHEMA_VERSION = 1
SCHEMA_COMMENT = f"if-master ledger, schema {SCHEMA_VERSION}"
#: libpq's own floor for connect_timeout (whole seconds; below 2 it uses 2).
LIBPQ_MIN_CONNECT = 2
#: The part of --ledger-timeout one statement (the claim's COMMIT, say) may take.
STATEMENT_SHARE = 0.5
MAX_URL_LEN = 2000
#: The most slots one read returns (the newest), and the most tasks tasks() lists: as etcd.
MAX_READ = 10000
MAX_TASKS = 1000
#: The longest message a call raises (the missing table's DDL and GRANTs are the longest).
MAX_MESSAGE = 1000
#: clock_timestamp() is to the microsecond; a millisecond of allowance is plenty.
CLOCK_RESOLUTION = 0.001
MAX_IDENT = 63  # PostgreSQL's NAMEDATALEN - 1
#: Our own URL query parameters: removed before libpq sees the rest.
OWN_PARAMS = ("table", "async_standbys", "multi_master")
#: What asynchronous standbys get: one warning per run (the default), a refusal, or
#: silence from an operator who read why (docs/ledger-postgresql.md).
ASYNC_CHOICES = ("warn", "refuse", "accept")
#: The one value that accepts a multi-master node: it says what it costs.
MULTI_MASTER_OVERRIDE = "allow-double-runs"
# Extensions whose nodes each accept writes that replicate both ways.
_MULTI_MASTER_EXTENSIONS = ("bdr", "pgactive", "spock")
# libpq's parameters with a fixed set of values (libpq's docs, PostgreSQL 15).
_CHOICES = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "target_session_attrs": (
        "any", "read-write", "read-only", "primary", "standby", "prefer-standby",
    ),
}  # fmt: skip
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyz_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")

T = TypeVar("T")
_warned_async = False  # once per run (per process), whatever the number of calls


def is_postgres_url(url: str) -> bool:
    return url.startswith(SCHEMES)


def ddl_statements(table: str) -> tuple[str, str]:
    """The two statements that create the ledger table (schema version in its comment)."""
    return (
        f"CREATE TABLE {table} (task text NOT NULL, slot timestamptz NOT NULL,"
        " token bigint GENERATED ALWAYS AS IDENTITY, node text NOT NULL,"
        " pid integer NOT NULL, started timestamptz NOT NULL, ended timestamptz,"
        " status integer, schedule text, PRIMARY KEY (task, slot))",
        f"COMMENT ON TABLE {table} IS '{SCHEMA_COMMENT}'",
    )


def ddl(table: str) -> str:
    """The DDL on one line, as an error prints it for the table's owner to run."""
    return "; ".join(ddl_statements(table)) + ";"


def _ident(part: str, whole: str) -> str:
    if not (
        0 < len(part) <= MAX_IDENT and part[0] in _IDENT_START and _IDENT_CHARS.issuperset(part)
    ):
        raise ValueError(
            f"ledger URL: table={shown(whole)}: {part!r} is not a lower-case SQL name"
            f" (a-z, 0-9, _, at most {MAX_IDENT})"
        )
    return part


class PgUrl:
    """A ``postgresql://`` URL split into libpq's conninfo and our own parameters."""

    __slots__ = ("async_standbys", "conninfo", "hosts", "multi_master", "params", "table")

    def __init__(
        self,
        *,
        conninfo: str,
        params: dict[str, str],
        table: str,
        async_standbys: str,
        multi_master: bool,
    ) -> None:
        self.conninfo = conninfo  # the URL minus our parameters, for libpq
        self.params = params  # libpq's parse of it (no password in it, checked)
        self.table = table  # SCHEMA.NAME, validated lower-case identifiers
        self.async_standbys = async_standbys  # one of ASYNC_CHOICES
        self.multi_master = multi_master  # the explicit override
        self.hosts = max(1, len(params.get("host", "").split(",")))

    def __str__(self) -> str:
        return self.conninfo


def parse_pg_url(text: str) -> PgUrl:
    """Parse ``--ledger postgresql://...``: libpq's URI plus ``table``, ``async_standbys``
    and ``multi_master``. ValueError naming the bad part; never repeats a password."""
    from urllib.parse import parse_qsl, urlencode

    if len(text) > MAX_URL_LEN:
        raise ValueError(f"ledger URL is longer than {MAX_URL_LEN} characters")
    if any(not " " < c <= "~" for c in text):
        raise ValueError("ledger URL has spaces, control or non-ASCII characters")
    scheme, _, rest = text.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    no_password = (
        f"use ~/.pgpass (PGPASSFILE), --ledger-password-file or {ENV_PASSWORD},"
        " never the command line"
    )
    # libpq's user info ends at the first "@" before a "/"; a password may hold "/" (and
    # libpq would then read its pieces as a host or a port, and echo them): everything
    # before the last "@" ahead of the query is taken as user info, as url.redacted() does.
    userinfo = rest.partition("?")[0].rpartition("@")[0]
    if ":" in authority.rpartition("@")[0] or ":" in userinfo:
        raise ValueError(f"ledger URL has a password in it (user:PASSWORD@): {no_password}")
    base, _, query = rest.partition("?")
    if "#" in rest:
        raise ValueError("ledger URL has a fragment (#...): it takes none")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValueError("ledger URL: its query is not NAME=VALUE&...") from None
    for name, value in pairs:
        if name == "password":
            raise ValueError(f"ledger URL has a password=... parameter: {no_password}")
        if name in OWN_PARAMS:
            if name in ours:
                raise ValueError(f"ledger URL: {name}= is given twice")
            ours[name] = value
        else:
            theirs.append((name, value))
    conninfo = f"{scheme}://{base}" + (f"?{urlencode(theirs)}" if theirs else "")
    try:
        params = _conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error as e:
        why = " ".join(str(e).split())
        raise ValueError(f"ledger URL: libpq cannot read it: {bounded(why)}") from None
    if params.get("password"):
        raise ValueError(f"ledger URL has a password in it: {no_password}")
    for name, allowed in _CHOICES.items():  # libpq checks these only when it connects
        if name in params and params[name] not in allowed:
            raise ValueError(
                f"ledger URL: {name}={shown(str(params[name]))} is not one of {', '.join(allowed)}"
            )
    table = ours.get("table", DEFAULT_TABLE)
    schema, dot, name = table.rpartition(".")
    if not dot or "." in schema:
        raise ValueError(f"ledger URL: table={shown(table)} is not SCHEMA.NAME")
    table = f"{_ident(schema, table)}.{_ident(name, table)}"
    async_standbys = ours.get("async_standbys", "warn")
    if async_standbys not in ASYNC_CHOICES:
        raise ValueError(
            f"ledger URL: async_standbys={shown(async_standbys)} is not one of"
            f" {', '.join(ASYNC_CHOICES)}"
        )
    mm = ours.get("multi_master")
    if mm is not None and mm != MULTI_MASTER_OVERRIDE:
        raise ValueError(
            f"ledger URL: multi_master={shown(mm)}: the only value is {MULTI_MASTER_OVERRIDE}"
            " (a multi-master node can accept the same claim twice)"
        )
    return PgUrl(
        conninfo=conninfo,
        params={k: str(v) for k, v in params.items()},
        table=table,
        async_standbys=async_standbys,
        multi_master=mm is not None,
    )


class PostgresLedger:
    """A client of one PostgreSQL primary, one table. Each call is one bounded operation on
    a fresh connection (a guard is one short process)."""

    def __init__(
        self,
        url: PgUrl,
        *,
        deadline: float,
        password: str | None = None,
        keep: float | None = None,
    ) -> None:
        """``keep``: seconds of history a won claim leaves of its task (older rows are
        deleted in the claim's transaction); None keeps everything."""
        self.url = url
        self.deadline = check_seconds(
            "--ledger-timeout", deadline, lo=MIN_LEDGER_TIMEOUT, hi=MAX_LEDGER_TIMEOUT
        )
        if keep is not None and not (isinstance(keep, (int, float)) and keep > 0):
            raise ValueError(f"ledger keep {keep!r} is not a positive number of seconds")
        self.keep = keep
        self._password = password
        self.clock_offset: float | None = None  # our clock minus the server's, last call
        self._notices: list[tuple[str, str]] = []  # the current connection's server notices

    @classmethod
    def from_options(
        cls,
        url: str,
        *,
        deadline: float,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        user: str | None = None,
        password_file: str | None = None,
        environ: Mapping[str, str] | None = None,
        keep: float | None = None,
    ) -> PostgresLedger:
        """The store for a ``postgresql://`` URL. The etcd TLS and user options are refused
        by name: libpq has its own URL parameters for them."""
        env = os.environ if environ is None else environ
        for value, option, instead in (
            (ca, "--ledger-ca", "sslrootcert=FILE&sslmode=verify-full"),
            (cert, "--ledger-cert", "sslcert=FILE"),
            (key, "--ledger-key", "sslkey=FILE"),
            (user, "--ledger-user", "postgresql://USER@HOST/DB"),
            (env.get(ENV_USER) or None, ENV_USER, "postgresql://USER@HOST/DB"),
        ):
            if value is not None:
                raise ValueError(
                    f"{option} is for an etcd ledger: with postgresql:// write {instead}"
                    " in the URL (libpq's own parameters)"
                )
        password = secret.password(password_file, env)
        return cls(parse_pg_url(url), deadline=deadline, password=password, keep=keep)

    def key(self, task: str, slot: str) -> str:
        """``SCHEMA.TABLE/TASK/SLOT``, each part validated (ValueError naming it)."""
        parse_iso(slot)
        return f"{self.url.table}/{validate_task(task)}/{slot}"

    # -- the calls ---------------------------------------------------------------------

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
        """Insert the slot's row unless one exists; who holds it either way. ``schedule``
        (``slot.spec()``) goes into the row, for the history's due slots."""
        k = self.key(task, slot)
        mine = Record(
            node=validate_node(node), start=iso_ms(start), pid=int(pid), schedule=schedule
        )
        prune = None
        if self.keep is not None:
            from datetime import timedelta

            prune = (parse_iso(slot) - timedelta(seconds=self.keep)).strftime("%Y-%m-%dT%H:%M:%SZ")

        def run(conn: Any) -> Claim:
            t = self.url.table
            row = conn.execute(
                f"INSERT INTO {t} (task, slot, node, pid, started, schedule)"
                " VALUES (%s, %s::timestamptz, %s, %s, %s::timestamptz, %s)"
                " ON CONFLICT (task, slot) DO NOTHING RETURNING token",
                (task, slot, mine.node, mine.pid, mine.start, mine.schedule),
            ).fetchone()
            if row is not None:
                if prune is not None:  # retention, in the claim's own transaction
                    conn.execute(
                        f"DELETE FROM {t} WHERE task = %s AND slot < %s::timestamptz",
                        (task, prune),
                    )
                self._commit(conn, k)
                return Claim(
                    won=True, key=k, holder=mine, revision=int(row[0]),
                    clock_offset=self.clock_offset,
                )  # fmt: skip
            # Lost: read the holder with a new snapshot (the INSERT's could predate it).
            conn.commit()
            found = self._select(conn, "task = %s AND slot = %s::timestamptz", (task, slot))
            conn.commit()
            if not found:  # deleted between the two statements
                raise LedgerError("protocol", f"ledger: {k} neither created nor found")
            held = found[0]
            r = held.record
            if r is None:  # _select builds a record for every row: not reached
                raise LedgerError("protocol", f"ledger: {k} has no record")
            ours = (r.node, r.pid, r.start) == (mine.node, mine.pid, mine.start)
            return Claim(
                won=ours, key=k, holder=r, revision=held.revision,
                clock_offset=self.clock_offset,
            )  # fmt: skip

        return self._call(f"claim {k}", run)

    def finish(self, claim: Claim, *, end: float, status: int) -> bool:
        """Record the end on a claim we won; False when its row is gone or claimed anew."""
        if not claim.won:
            raise ValueError(f"{claim.key} was not claimed by us: no end to record")
        h = claim.holder
        done = Record(
            node=h.node, start=h.start, pid=h.pid, end=iso_ms(end), status=status,
            schedule=h.schedule,
        )  # fmt: skip
        task, slot = claim.key.split("/")[-2:]

        def run(conn: Any) -> bool:
            cur = conn.execute(
                f"UPDATE {self.url.table} SET ended = %s::timestamptz, status = %s"
                " WHERE task = %s AND slot = %s::timestamptz AND token = %s",
                (done.end, status, task, slot, claim.revision),
            )
            n = cur.rowcount
            self._commit(conn, claim.key)
            return bool(n == 1)

        if self._call(f"finish {claim.key}", run):
            claim.holder = done
            return True
        return False

    def holder(self, task: str, slot: str) -> Record | None:
        """Who holds a slot, or None when it is unclaimed."""
        k = self.key(task, slot)

        def run(conn: Any) -> list[Stored]:
            return self._select(conn, "task = %s AND slot = %s::timestamptz", (task, slot))

        found = self._call(f"read {k}", run, writes=False)
        return found[0].record if found else None

    def read(
        self,
        task: str,
        *,
        since: str | None = None,
        until: str | None = None,
        limit: int = MAX_READ,
    ) -> list[Stored]:
        """The task's slots in ``[since, until)``, oldest first: the newest ``limit`` of
        them (at most MAX_READ). The store keeps no liveness record: ``alive`` is None."""
        validate_task(task)
        if not 1 <= limit <= MAX_READ:
            raise ValueError(f"read limit {limit!r} is not 1 to {MAX_READ}")
        for bound in (since, until):
            if bound is not None:
                parse_iso(bound)
        where, args = "task = %s", [task]
        if since is not None:
            where, args = where + " AND slot >= %s::timestamptz", [*args, since]
        if until is not None:
            where, args = where + " AND slot < %s::timestamptz", [*args, until]

        def run(conn: Any) -> list[Stored]:
            return self._select(conn, where, tuple(args), newest=limit)

        return self._call(f"read {task}", run, writes=False)

    def clock(self) -> ServerTime:
        """The server's ``clock_timestamp()``, bracketed by our monotonic clock around the
        query: at the reply the server's clock lay within the round trip of what it said.
        (One connection of its own: the claim's transaction stays the one that writes.)"""
        import time

        def run(conn: Any) -> ServerTime:
            sent = time.monotonic()
            row = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
            received = time.monotonic()
            if not row or not isinstance(row[0], float) or not math.isfinite(row[0]):
                raise LedgerError("protocol", "ledger: clock_timestamp() gave no time")
            t = row[0]
            return ServerTime(
                low=t,
                high=t + (received - sent),
                at=received,
                wall=time.time(),
                resolution=CLOCK_RESOLUTION,
                source=f"{self._where(conn)}'s clock_timestamp()",
            )

        return self._call("read the clock", run, writes=False)

    def tasks(self) -> list[str]:
        """Every task that has a row in the table, sorted."""

        def run(conn: Any) -> list[str]:
            rows = conn.execute(
                f"SELECT DISTINCT task FROM {self.url.table} ORDER BY 1 LIMIT %s",
                (MAX_TASKS + 1,),
            ).fetchall()
            names = []
            for (name,) in rows:
                try:
                    names.append(validate_task(str(name)))
                except ValueError:
                    pass  # not a task of ours: another writer's row
            if len(rows) > MAX_TASKS:
                raise LedgerError(
                    "limit", f"ledger: more than {MAX_TASKS} tasks in {self.url.table}: name one"
                )
            return names

        return self._call("list tasks", run, writes=False)

    def release(self, task: str, slot: str, *, revision: int) -> bool:
        """Delete one slot's row if it is still the claim ``revision`` names."""
        k = self.key(task, slot)

        def run(conn: Any) -> bool:
            cur = conn.execute(
                f"DELETE FROM {self.url.table}"
                " WHERE task = %s AND slot = %s::timestamptz AND token = %s",
                (task, slot, revision),
            )
            n = cur.rowcount
            self._commit(conn, k)
            return bool(n == 1)

        return self._call(f"release {k}", run)

    # -- the connection ----------------------------------------------------------------

    def _select(
        self, conn: Any, where: str, args: tuple[Any, ...], *, newest: int = 1
    ) -> list[Stored]:
        """The rows ``where`` picks, oldest first: the newest ``newest`` of them."""
        rows = conn.execute(
            "SELECT task, to_char(slot AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
            " token, node, pid,"
            " to_char(started AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
            " to_char(ended AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), status,"
            f" schedule FROM {self.url.table} WHERE {where} ORDER BY slot DESC LIMIT %s",
            (*args, newest),
        ).fetchall()
        out = []
        for task, slot, token, node, pid, started, ended, status, schedule in reversed(rows):
            rec = Record(
                node=node, start=started, pid=pid, end=ended, status=status, schedule=schedule
            )
            out.append(
                Stored(task=task, slot=slot, record=rec, raw=rec.to_json(), revision=int(token))
            )
        return out

    def _commit(self, conn: Any, key: str) -> None:
        """Commit; a commit whose wait for the synchronous standby was cancelled (an
        operator's pg_cancel_backend, a pooler): the server answers success with a warning,
        "committed locally, but might not have been replicated". Not a durable claim: fail
        closed."""
        conn.commit()
        for sqlstate, text in self._notices:
            if sqlstate == "57014" or "synchronous replication" in text:
                raise LedgerError(
                    "unreachable",
                    f"ledger: {key} committed on the primary but its synchronous standby did"
                    f" not confirm within the deadline ({bounded(text)}): nothing runs",
                )

    def _call(self, what: str, fn: Callable[[Any], T], *, writes: bool = True) -> T:
        """Connect, check the server, run ``fn`` in a transaction: all within the deadline.

        libpq's connect_timeout has a floor of 2 s and getaddrinfo none at all, so the
        whole call runs in a helper thread we stop waiting for at the deadline; the
        server-side statement_timeout and connect_timeout end that thread soon after.
        """
        import threading

        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["value"] = self._connected(what, fn, writes)
            except BaseException as e:  # handed to the caller's thread
                box["error"] = e

        worker = threading.Thread(target=work, name="if-master-ledger", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive():
            hosts = self.url.params.get("host", "the default host")
            raise LedgerError(
                "unreachable",
                f"ledger: {what}: no answer from {bounded(hosts)} within the deadline"
                f" ({self.deadline:g} s)",
            )
        if "error" in box:
            e = box["error"]
            if isinstance(e, LedgerError):  # a server's words in it: our password hidden
                raise LedgerError(e.kind, self._said(str(e), MAX_MESSAGE)) from None
            raise e
        value: T = box["value"]
        return value

    def _connected(self, what: str, fn: Callable[[Any], T], writes: bool) -> T:
        p = self.url.params
        kw: dict[str, Any] = {
            "connect_timeout": max(LIBPQ_MIN_CONNECT, math.ceil(self.deadline / self.url.hosts)),
            "application_name": p.get("application_name") or "if-master",
        }
        if self.url.hosts > 1 and "target_session_attrs" not in p:
            kw["target_session_attrs"] = "read-write"  # a list: the primary, not any member
        if self._password is not None:
            kw["password"] = self._password
        try:
            # No server-side prepared statements: a pooler in transaction mode (pgbouncer)
            # may give each transaction another server connection.
            conn = psycopg.connect(self.url.conninfo, prepare_threshold=None, **kw)
        except psycopg.Error as e:
            raise self._error(what, e) from None
        try:
            notices: list[tuple[str, str]] = []
            self._notices = notices
            conn.add_notice_handler(
                lambda d: notices.append(
                    (d.sqlstate or "", f"{d.message_primary or ''} {d.message_detail or ''}")
                )
            )
            self._check(conn, writes)
            return fn(conn)
        except psycopg.Error as e:
            raise self._error(what, e) from None
        finally:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def _statement_ms(self) -> str:
        return str(max(1, int(self.deadline * 1000 * STATEMENT_SHARE)))

    def _where(self, conn: Any) -> str:
        try:
            host, port = conn.info.host, conn.info.port
            return f"{host}:{port}"
        except Exception:  # the connection is gone: say what we can
            return "the server"

    def _check(self, conn: Any, writes: bool = True) -> None:
        """Refuse a server that cannot be a ledger, by name; create the table if missing.
        ``writes`` False (a read: --history, --status): asynchronous standbys, which can
        only lose claims, are neither warned about nor refused."""
        import time

        t = self.url.table
        # The server's own timeouts end each later statement of this transaction (the
        # INSERT, the UPDATE) at half the deadline, so that the server says why (a lock)
        # before we stop waiting for the whole call. Set here, transaction-local, not as a
        # startup "options": pgbouncer refuses that parameter, and a session SET would
        # outlive us on a pooled server connection. A COMMIT waiting for its synchronous
        # standby is under no statement_timeout (the server disarms it before committing):
        # the whole-call bound ends that wait.
        ms = self._statement_ms()
        row = conn.execute(
            "SELECT set_config('statement_timeout', %s, true),"
            " set_config('lock_timeout', %s, true),"
            " set_config('idle_in_transaction_session_timeout', %s, true),"
            " pg_is_in_recovery(), current_setting('transaction_read_only'),"
            " current_setting('synchronous_standby_names'),"
            " current_setting('synchronous_commit'),"
            " (SELECT count(*) FROM pg_stat_replication),"
            " ARRAY(SELECT extname::text FROM pg_extension"
            "  WHERE extname = ANY(%s) OR extname = 'pglogical' ORDER BY 1),"
            " EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'bdr'),"
            " t.oid IS NOT NULL, obj_description(t.oid, 'pg_class'),"
            " EXISTS (SELECT 1 FROM pg_subscription_rel WHERE srrelid = t.oid),"
            " extract(epoch FROM clock_timestamp())::float8, current_user"
            # By name, not to_regclass(): that fails on a schema we may not use, and the
            # answer then is the DDL to run, not a permission error.
            " FROM (SELECT NULL) AS one LEFT JOIN (SELECT c.oid FROM pg_class c"
            "  JOIN pg_namespace n ON n.oid = c.relnamespace"
            "  WHERE n.nspname = %s AND c.relname = %s) AS t ON true",
            (ms, ms, str(max(1000, int(ms))), list(_MULTI_MASTER_EXTENSIONS), *t.split(".")),
        ).fetchone()[3:]
        (recovery, read_only, sync_names, sync_commit, standbys, exts, bdr_schema, exists,
         comment, subscribed, server_time, user) = row  # fmt: skip
        self.clock_offset = time.time() - float(server_time)
        where = self._where(conn)
        if recovery:
            raise LedgerError(
                "config",
                f"ledger: {where} is a standby (pg_is_in_recovery): a claim needs the primary;"
                " give the primary, or every server with target_session_attrs=read-write",
            )
        if read_only == "on":
            raise LedgerError(
                "config",
                f"ledger: {where} is read-only (transaction_read_only = on): a claim needs a"
                " writable primary",
            )
        marker = self._multi_master(conn, exts, bdr_schema, subscribed)
        if marker and not self.url.multi_master:
            raise LedgerError(
                "config",
                f"ledger: {where} is a multi-master node ({marker}): two nodes can each"
                " accept the same claim and both jobs run before the conflict is resolved;"
                f" use a single primary (or multi_master={MULTI_MASTER_OVERRIDE}, which gives"
                " that up)",
            )
        asynchronous = standbys > 0 and (not sync_names.strip() or sync_commit in ("off", "local"))
        if asynchronous and writes:
            why = (
                f"ledger: {where} replicates to {standbys} standby(s) asynchronously"
                f" (synchronous_standby_names {shown(str(sync_names))},"
                f" synchronous_commit {shown(str(sync_commit))}):"
                " a failover to one can lose claims and run a slot twice"
            )
            if self.url.async_standbys == "refuse":
                raise LedgerError("config", why + " (async_standbys=refuse)")
            if self.url.async_standbys == "warn":
                _warn_once(
                    self._said(f"if-master: warning: {why} (async_standbys=refuse or accept)", 400)
                )
        if not exists:
            self._create(conn, str(user), where)
        elif comment != SCHEMA_COMMENT:
            raise LedgerError(
                "config",
                f"ledger: table {t} on {where} is not an if-master ledger of schema"
                f" {SCHEMA_VERSION} (its comment is {shown(str(comment))}): name another with"
                " table=SCHEMA.NAME",
            )

    def _multi_master(self, conn: Any, exts: list[str], bdr_schema: bool, subscribed: bool) -> str:
        """What marks this server as one of several writable masters; '' when nothing."""
        found = [e for e in exts if e in _MULTI_MASTER_EXTENSIONS]
        if found:
            return f"extension {', '.join(found)}"
        if bdr_schema:
            return "schema bdr"
        if subscribed:
            return f"table {self.url.table} is in a logical replication subscription"
        if "pglogical" in exts:
            n = conn.execute("SELECT count(*) FROM pglogical.subscription").fetchone()[0]
            if n:
                return f"extension pglogical with {n} subscription(s) into this node"
        return ""

    def _create(self, conn: Any, user: str, where: str) -> None:
        """Create the table, serialised by an advisory lock (two first claims at once)."""
        t = self.url.table
        schema = t.split(".")[0]
        if not (user and user[0] in _IDENT_START and _IDENT_CHARS.issuperset(user)):
            user = '"' + user.replace('"', '""') + '"'  # a role name as SQL spells it
        conn.commit()
        try:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (t,))
            for statement in ddl_statements(t):
                conn.execute(statement)
            conn.commit()
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            conn.rollback()  # another node's first claim created it just now: use it
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
            conn.rollback()
            raise LedgerError(
                "config",
                f"ledger: table {t} does not exist on {where} and role {user} may not create"
                f" it; as its owner run: {ddl(t)} GRANT USAGE ON SCHEMA {schema} TO {user};"
                f" GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {user};",
            ) from None
        ms = self._statement_ms()  # the claim's transaction is a new one: bound it again
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true),"
            " set_config('lock_timeout', %s, true)",
            (ms, ms),
        )

    def _error(self, what: str, e: Exception) -> LedgerError:
        """The driver's failure as one line, the password scrubbed (libpq's messages can
        hold the connection string)."""
        import re

        text = " ".join(str(e).split())
        # libpq says each attempt (sslmode=prefer: with TLS, then without): say each once.
        parts = re.split(r"(?=connection to server )", text)
        text = " ".join(dict.fromkeys(p.strip() for p in parts if p.strip()))
        text = re.sub(
            r"(password\s*=\s*)\S+", r"\1" + HIDDEN, scrub(text, self._secrets()), flags=re.I
        )
        state = getattr(e, "sqlstate", None) or ""
        low = text.lower()
        if state.startswith("28") or "password authentication failed" in low:
            kind = "auth"
        elif state == "42501":
            kind = "auth"
            text = f"{text} (grant SELECT, INSERT, UPDATE, DELETE ON {self.url.table})"
        elif state == "25006":  # read-only transaction: a standby behind our check
            kind = "config"
        elif "ssl" in low or "certificate" in low:
            kind = "tls"
        elif isinstance(e, psycopg.OperationalError) or state in ("57014", "55P03"):
            kind = "unreachable"
        else:
            kind = "protocol"
        return LedgerError(kind, f"ledger: {what}: {self._said(text, 400)}")

    def _secrets(self) -> tuple[str, ...]:
        return (self._password,) if self._password else ()

    def _said(self, text: str, limit: int = 200) -> str:
        """A server's (or libpq's) text for a message: our password hidden, escaped,
        bounded. A server that asks for a cleartext password knows it and can echo it."""
        return bounded(scrub(text, self._secrets()), limit)


if TYPE_CHECKING:  # the store implements the seam act and the CLI go through

    def _is_a_backend(store: PostgresLedger) -> Backend:
        return store


def _warn_once(line: str) -> None:
    """One stderr line per process; a failure to write it changes nothing."""
    global _warned_async
    if _warned_async:
        return
    _warned_async = True
    try:
        sys.stderr.write(bounded(line, 400) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


__all__ = ["PgUrl", "PostgresLedger", "ddl", "ddl_statements", "is_postgres_url", "parse_pg_url"]
