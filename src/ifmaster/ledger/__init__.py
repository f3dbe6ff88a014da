"""The ledger (``--ledger``): one record per schedule slot that exactly one node can create.

Imported only when ``--ledger`` is given. The pieces:

- ``records``: what a slot holds (:class:`Record`), a claim's outcome (:class:`Claim`),
  :class:`LedgerError`; no I/O.
- ``backend``: the protocol every store implements (claim, finish, read, tasks, release).
- ``history``: ``--history``, ``--status``, ``--release`` from a store's reads;
  ``liveness``: a running slot's record on a short lease (running versus died).
- ``etcd``: the first store, etcd v3 through its JSON gateway; ``url``, ``secret``,
  ``wire`` and ``reply`` are its URL grammar, its password files, its bounded socket and
  its strict reading of replies.
- ``postgres``: the PostgreSQL store (``postgresql://``), imported with its driver only
  for that scheme.

At most once: a claimed slot whose runner died stays claimed (no end). To run it again,
an operator releases it: ``if-master --ledger URL --release TASK 2026-11-28T01:45:00Z``
(``history.py``: it deletes that one key only if it is still the claim it showed).

Fail closed: every failure at run time (no endpoint answered within the deadline, no
quorum, TLS, auth, a reply we cannot read) is one :class:`LedgerError` with one line, and
the caller runs nothing. Bad values (the URL, a node name) are ValueError naming them.
"""

from __future__ import annotations

from ..model import DEFAULT_LEDGER_TIMEOUT as DEFAULT_DEADLINE
from ..model import Claiming
from .etcd import EtcdLedger
from .records import Claim, LedgerError, LedgerOptions, Record, ServerTime, validate_node
from .url import LedgerUrl, parse_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .postgres import PostgresLedger

#: The etcd store, under its first name.
Ledger = EtcdLedger


#: The URL schemes of the PostgreSQL store (libpq's two).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_ledger(
    options: LedgerOptions, environ: Mapping[str, str] | None = None
) -> EtcdLedger | PostgresLedger:
    """The store ``options.url`` names, its password and TLS files read: the one place that
    picks a backend by the URL's scheme. ``postgresql://`` and ``postgres://`` import the
    PostgreSQL store (and its driver) here, and only then. LedgerError (``config``) when a
    file is bad or the driver is missing."""
    o = options
    try:
        if o.url.startswith(POSTGRES_SCHEMES):
            return _postgres().from_options(
                o.url, deadline=o.deadline, ca=o.ca, cert=o.cert, key=o.key, user=o.user,
                password_file=o.password_file, environ=environ, keep=o.keep,
            )  # fmt: skip
        led = EtcdLedger.from_options(
            o.url, deadline=o.deadline, ca=o.ca, cert=o.cert, key=o.key, user=o.user,
            password_file=o.password_file, environ=environ, keep=o.keep,
        )  # fmt: skip
    except ValueError as e:  # a half-given pair, a bad URL or deadline: the CLI checks first
        raise LedgerError("config", f"ledger: {e}") from None
    assert led is not None  # the URL is given
    return led


def check_url(url: str) -> None:
    """ValueError naming what is wrong in ``--ledger URL`` (no I/O; a ``postgresql://``
    URL imports its store's driver, LedgerError when it is missing)."""
    if url.startswith(POSTGRES_SCHEMES):
        _postgres()  # the driver missing: how to install it
        from .postgres import parse_pg_url

        parse_pg_url(url)
    else:
        parse_url(url)


def claiming(
    *,
    url: str,
    task: str | None,
    schedule: str | None,
    every: str | None,
    max_late: float,
    skew: float | None,
    catch_up: float | None,
    deadline: float,
    ca: str | None,
    cert: str | None,
    key: str | None,
    user: str | None,
    password_file: str | None,
    node: str | None,
    keep: str | None,
) -> Claiming:
    """--ledger's options, checked together, as the record act() uses: the one builder for
    click and the pre-parse. No file is read here: act() opens the store when it needs it.
    ValueError (or LedgerError: a missing driver) naming what is wrong."""
    from .. import slot
    from .retention import DEFAULT_KEEP, check_against_lateness, parse_keep

    if not task:
        raise ValueError("--ledger needs --task NAME (the slot key's middle part)")
    if (schedule is None) == (every is None):
        raise ValueError("--ledger needs exactly one of --schedule or --every")
    plan: slot.Schedule = (
        slot.Cron(schedule, slot.local_zone()) if schedule is not None
        else slot.Every(every or "")
    )  # fmt: skip
    skew = slot.check_skew(plan, slot.default_skew(plan) if skew is None else skew)
    if catch_up is not None:
        slot.check_catch_up(catch_up, max_late)
    if node is None:
        import os

        node = os.uname().nodename  # socket.gethostname()'s answer, without socket's import
    node = validate_node(node)
    kept = DEFAULT_KEEP if keep is None else parse_keep(keep)
    check_against_lateness(kept, max_late, skew)
    check_url(url)
    if (cert is None) != (key is None):
        raise ValueError("--ledger-cert and --ledger-key go together: give both or neither")
    options = LedgerOptions(
        url=url,
        deadline=deadline,
        ca=ca,
        cert=cert,
        key=key,
        user=user,
        password_file=password_file,
        keep=kept,
    )
    return Claiming(
        options=options, schedule=plan, node=node, skew=skew, max_late=max_late, catch_up=catch_up
    )


def _postgres() -> type[PostgresLedger]:
    """The PostgreSQL store's class; LedgerError saying how to install its driver."""
    try:
        from .postgres import PostgresLedger
    except ImportError as e:  # the optional driver
        raise LedgerError(
            "config",
            f"ledger: postgresql:// needs psycopg 3 ({e.name or 'psycopg'} is not installed):"
            " pip install 'if-master[postgresql]' or apt-get install python3-psycopg",
        ) from None
    return PostgresLedger


__all__ = [
    "DEFAULT_DEADLINE",
    "Claim",
    "EtcdLedger",
    "Ledger",
    "LedgerError",
    "LedgerOptions",
    "LedgerUrl",
    "Record",
    "ServerTime",
    "check_url",
    "claiming",
    "open_ledger",
    "parse_url",
    "validate_node",
]
