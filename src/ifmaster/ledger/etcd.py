"""The etcd backend: one etcd v3 key per slot that exactly one node can create.

A floating IP is a lease with no fencing: two nodes can both believe they hold it. The
ledger closes that with etcd's consensus. Before running, a node claims the slot's key
``PREFIX/TASK/SLOT`` with one transaction that creates it only if it does not exist
(``create_revision == 0``); etcd serialises transactions through raft, so exactly one
claim per key succeeds whatever the VIP, the clocks or the network did. The value is JSON
``{"node", "start", "pid"}``; when the job ends the same key gets ``"end"`` and
``"status"`` too, guarded by the claim's ``create_revision`` so that a key an operator
deleted and someone re-claimed is never overwritten by the old run.

The client speaks etcd's JSON gateway (``/v3/kv/txn``, ``/v3/auth/authenticate``; keys
and values base64) over the small HTTP/1.1 client in ``wire`` (http.client and the email
package it imports were half a ledger run's import time), with ssl for TLS (CA, client
certificate) and a token from user + password: etcd3gw was measured and rejected (see the
docs: 180 to 390 ms to import requests and futurist, no user/password auth).
"""

from __future__ import annotations

import _socket
import binascii
import os
import time

from ..model import DEFAULT_LEDGER_TIMEOUT, MAX_LEDGER_TIMEOUT, MIN_LEDGER_TIMEOUT
from ..slot import check_seconds, parse_iso
from ..task import validate_task
from . import reply, secret
from .jsontext import NotJson, dumps
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
from .retention import DEFAULT_KEEP, check_keep, prune_range
from .secret import (
    ENV_PASSWORD,
    ENV_URL,
    ENV_USER,
    regular_file,
    scrub,
)
from .url import LedgerUrl, parse_url
from .wire import (
    BadHttp,
    DeadlineSocket,
    Encrypted,
    Framing,
    Http,
    Unresolved,
    dial,
    no_passphrase,
    offset,
    resolve,
    server_time,
)

TYPE_CHECKING = False  # typing and collections.abc only for the checker: import time saved
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar

    T = TypeVar("T")

# gRPC codes etcd's gateway returns that mean "this member cannot serve now, try another".
_RETRY_CODES = frozenset({1, 4, 13, 14})  # cancelled, deadline, internal, unavailable

#: Slots one read returns at most (the newest), and the page size it reads them in.
MAX_READ = 10000
READ_PAGE = 500
#: Tasks one listing names at most; beyond, LedgerError (name the task instead).
MAX_TASKS = 1000
# Pages of keys that are not slots (liveness records, other writers' keys) a read tolerates.
MAX_EXTRA_PAGES = 4
#: Bytes of a value that is not ours kept for display.
MAX_RAW = 200
#: The last part of a slot's liveness record's key.
ALIVE_KEY = "alive"


def _b64(s: str) -> str:
    # binascii, not base64: base64 imports re and struct (~5 ms) for this one call
    return binascii.b2a_base64(s.encode("utf-8"), newline=False).decode("ascii")


#: What etcd says while an alarm stands (server/etcdserver/api/v3rpc/rpctypes), the alarm,
#: and what an operator does about it.
_ALARMS = (
    (
        "database space exceeded",
        "NOSPACE",
        "the database reached its --quota-backend-bytes and etcd takes no writes until"
        " space is freed: etcdctl compact REVISION, etcdctl defrag --cluster, etcdctl alarm"
        " disarm (then let each claim prune: --keep, and run etcd with"
        " --auto-compaction-mode periodic)",
    ),
    (
        "corrupt cluster",
        "CORRUPT",
        "a member's data differs from the others': replace that member from a snapshot,"
        " then etcdctl alarm disarm",
    ),
)


def alarmed(e: LedgerError) -> LedgerError | None:
    """The ``alarm`` error an etcd alarm makes of ``e`` (its name and its fix), else None.

    etcd answers writes under an alarm with one fixed message, on every member alike.
    """
    text = str(e)
    for said, name, fix in _ALARMS:
        if said in text:
            return LedgerError("alarm", f"ledger: etcd's {name} alarm is raised ({said}): {fix}")
    return None


class EtcdLedger:
    """A client of one etcd cluster under one prefix. Each call is one bounded operation."""

    def __init__(
        self,
        url: LedgerUrl,
        *,
        deadline: float = DEFAULT_LEDGER_TIMEOUT,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        user: str | None = None,
        password: str | None = None,
        keep: int | None = DEFAULT_KEEP,
    ) -> None:
        """``ca``/``cert``/``key`` are file paths (any of them turns TLS on); ``user`` needs
        ``password``; ``keep``: seconds of slots a claim keeps (None: all, see retention).
        ValueError for a bad deadline, retention or a half-given pair; LedgerError when a
        certificate file cannot be loaded."""
        self.url = url
        self.keep = None if keep is None else check_keep(keep)
        self.deadline = check_seconds(
            "--ledger-timeout", deadline, lo=MIN_LEDGER_TIMEOUT, hi=MAX_LEDGER_TIMEOUT
        )
        if (cert is None) != (key is None):
            raise ValueError("--ledger-cert and --ledger-key go together: give both or neither")
        if (user is None) != (password is None):
            raise ValueError("a ledger user needs a password (file or environment), and back")
        self.user = user
        self._password = password
        self._token: str | None = None  # the last authenticate reply's, hidden like the password
        self._ssl: Any = None
        self.clock_offset: float | None = None  # from the last reply, see Claim
        self.server_time: ServerTime | None = None  # the last reply's Date, see clock()
        if url.tls or ca is not None or cert is not None:
            import ssl

            for path, what in ((ca, "--ledger-ca"), (cert, "--ledger-cert"), (key, "--ledger-key")):
                if path is not None:
                    regular_file(path, what)
            try:
                ctx = ssl.create_default_context(cafile=ca)
                if cert is not None:
                    ctx.load_cert_chain(cert, key, password=no_passphrase)
            except Encrypted:
                raise LedgerError(
                    "config",
                    f"--ledger-key {key!r} is encrypted (it asks for a passphrase): give an"
                    " unencrypted key, readable only by the job's user",
                ) from None
            except (OSError, ssl.SSLError) as e:
                what = f"{ca!r}, {cert!r}, {key!r}"
                why = bounded(str(e))
                raise LedgerError("config", f"ledger TLS files {what}: {why}") from None
            self._ssl = ctx

    @classmethod
    def from_options(
        cls,
        url: str | None,
        *,
        deadline: float = DEFAULT_LEDGER_TIMEOUT,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        user: str | None = None,
        password_file: str | None = None,
        environ: Mapping[str, str] | None = None,
        keep: int | None = DEFAULT_KEEP,
    ) -> EtcdLedger | None:
        """The ledger the options and environment ask for, or None when none is set.

        ``url`` falls back to IF_MASTER_LEDGER, ``user`` to IF_MASTER_LEDGER_USER, the
        password is read from ``password_file`` or else IF_MASTER_LEDGER_PASSWORD.
        """
        env = os.environ if environ is None else environ
        if url is None:  # an empty --ledger is a bad URL, not "no ledger"
            url = env.get(ENV_URL) or None
        if url is None:
            return None
        user = user or env.get(ENV_USER) or None
        password = secret.password(password_file, env)
        if user is not None and password is None:
            raise LedgerError(
                "config", f"ledger user {user!r} has no password: give a file or {ENV_PASSWORD}"
            )
        if password is not None and user is None:
            raise LedgerError("config", f"a ledger password is set but no user ({ENV_USER})")
        return cls(
            parse_url(url),
            deadline=deadline,
            ca=ca,
            cert=cert,
            key=key,
            user=user,
            password=password,
            keep=keep,
        )

    def key(self, task: str, slot: str) -> str:
        """``PREFIX/TASK/SLOT``, each part validated (ValueError naming it)."""
        parse_iso(slot)
        return f"{self.url.prefix}/{validate_task(task)}/{slot}"

    # -- the two writes ----------------------------------------------------------------

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
        """Create ``PREFIX/TASK/SLOT`` if it does not exist; who holds it either way.

        One transaction: compare ``create_revision == 0``, then put our record, else read
        the holder's. A claim whose reply was lost and that is retried on another member
        finds its own record (same node, PID, start) and counts as won. A won claim also
        deletes the task's slots older than the retention (:mod:`.retention`).
        """
        k = self.key(task, slot)
        mine = Record(
            node=validate_node(node), start=iso_ms(start), pid=int(pid), schedule=schedule
        )
        prune = self._prune(task, slot)
        try:
            reply = self._txn(k, create_revision=0, put=mine.to_json(), also=prune)
        except LedgerError as e:
            raise alarmed(e) or e from None
        if reply["succeeded"]:
            rev = reply["revision"]
            return Claim(won=True, key=k, holder=mine, revision=rev, clock_offset=self.clock_offset)
        if reply["kv"] is None:  # the compare failed on a key that does not exist
            raise LedgerError("protocol", f"ledger: {k} neither created nor found")
        held, rev = reply["kv"]
        ours = (held.node, held.pid, held.start) == (mine.node, mine.pid, mine.start)
        return Claim(won=ours, key=k, holder=held, revision=rev, clock_offset=self.clock_offset)

    def _prune(self, task: str, slot: str) -> list[dict[str, Any]]:
        """The claim's extra success op: one range delete of the task's old slots."""
        if self.keep is None:
            return []
        start, end = prune_range(f"{self.url.prefix}/{validate_task(task)}/", slot, self.keep)
        return [{"request_delete_range": {"key": _b64(start), "range_end": _b64(end)}}]

    def finish(self, claim: Claim, *, end: float, status: int) -> bool:
        """Record the end time and exit status on a claim we won, and delete the run's
        liveness record in the same transaction: no reader ever sees the slot without its
        end and without its liveness record (``died``) for a run that ended well. Its lease
        then holds no key and lapses within its TTL; no revoke is needed.

        False (nothing written) when the key is gone or was claimed anew since (an
        operator re-ran the slot): the old run must not overwrite the new one, nor delete
        the new run's liveness record.
        """
        if not claim.won:
            raise ValueError(f"{claim.key} was not claimed by us: no end to record")
        h = claim.holder
        done = Record(
            node=h.node,
            start=h.start,
            pid=h.pid,
            end=iso_ms(end),
            status=status,
            schedule=h.schedule,
        )
        alive = [{"request_delete_range": {"key": _b64(self.alive_key(claim))}}]
        reply = self._txn(claim.key, create_revision=claim.revision, put=done.to_json(), also=alive)
        if reply["succeeded"]:
            claim.holder = done
        return bool(reply["succeeded"])

    def holder(self, task: str, slot: str) -> Record | None:
        """Who holds a slot (a linearizable read), or None when it is unclaimed."""
        k = self.key(task, slot)

        def parse(body: dict[str, Any]) -> Record | None:
            reply.header(body)
            found = reply.range_kvs(body, k.encode("utf-8"))
            return None if found is None else Record.from_json(found[0])

        return self._ask("/v3/kv/range", {"key": _b64(k)}, parse, "range")

    def clock(self) -> ServerTime:
        """The answering member's clock: the Date of one cheap read (its status, served by
        the member itself, no raft round). A reply that is not etcd's status, or has no
        Date, sends us to the next member like any unreadable reply; LedgerError when no
        member gives one in the deadline: a clock we cannot read judges nothing."""

        def parse(body: dict[str, Any]) -> ServerTime:
            reply.status(body)
            got = self.server_time  # _request's reading of the very reply in ``body``
            if got is None:
                raise ValueError("no Date header: cannot read its clock")
            return got

        self.server_time = None
        # etcd serves its status without a token: no authenticate (bcrypt, ~70 ms) for it.
        return self._ask("/v3/maintenance/status", {}, parse, "status", signed=False)

    # -- the wire --------------------------------------------------------------------

    def _txn(
        self,
        key: str,
        *,
        create_revision: int,
        put: str,
        also: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``also``: more success ops, after the put (whose response stays the first)."""
        k = _b64(key)

        def parse(body: dict[str, Any]) -> dict[str, Any]:
            succeeded, revision, found = reply.txn(body, key.encode("utf-8"))
            if succeeded:
                return {"succeeded": True, "revision": revision}
            if found is None:  # finish() on a key an operator deleted
                return {"succeeded": False, "kv": None}
            value, created = found
            return {"succeeded": False, "kv": (Record.from_json(value), created)}

        return self._ask(
            "/v3/kv/txn",
            {
                "compare": [
                    {
                        "key": k,
                        "target": "CREATE",
                        "result": "EQUAL",
                        "create_revision": str(create_revision),
                    }
                ],
                "success": [{"request_put": {"key": k, "value": _b64(put)}}, *(also or [])],
                "failure": [{"request_range": {"key": k}}],
            },
            parse,
            "txn",
        )

    def _post(self, path: str, body: dict[str, Any], *, signed: bool = True) -> dict[str, Any]:
        """The first reply (strict JSON, an object) any endpoint gives ``path``; _ask()
        with etcd's schema for it is what a caller that reads fields wants."""
        return self._ask(path, body, _as_is, path, signed=signed)

    def _ask(
        self,
        path: str,
        body: dict[str, Any],
        parse: Callable[[dict[str, Any]], T],
        what: str,
        *,
        signed: bool = True,
    ) -> T:
        """POST to each endpoint in turn within the deadline; the first reply that
        ``parse`` (etcd's schema for ``what``) accepts wins.

        Each endpoint gets an equal share of the time left, name resolution included, so
        one that does not answer at all (partitioned, or its name's resolver) leaves time
        for the next. A reply that is not etcd's says nothing about the slot: the next
        endpoint is asked, as for a refused connection. An auth failure stops at once.
        ``signed`` False: no token even with a user (a call etcd serves without one).
        """
        started = time.monotonic()
        failures: list[str] = []
        kinds: set[str] = set()
        n = len(self.url.endpoints)
        for i, (host, port) in enumerate(self.url.endpoints):
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            left = self.deadline - (time.monotonic() - started)
            if left <= 0.01:
                failures.append(f"{where}: not tried, deadline spent")
                break
            try:
                answer = self._post_one(
                    host, port, path, body, time.monotonic() + left / (n - i), signed=signed
                )
            except LedgerError as e:
                if e.kind in ("auth", "config"):
                    raise LedgerError(e.kind, self._said(str(e), 1000)) from None
                kinds.add(e.kind)
                failures.append(self._said(str(e), 1000))
                continue
            try:
                return parse(answer)
            except ValueError as e:  # UnicodeDecodeError and reply's checks among them
                kinds.add("schema")
                failures.append(f"{where}: unexpected {what} reply ({self._said(str(e))})")
        # Every member's reply unreadable is a protocol error; any other mix: unreachable.
        kind = {frozenset({"tls"}): "tls", frozenset({"schema"}): "protocol"}.get(
            frozenset(kinds), "unreachable"
        )
        raise LedgerError(
            kind,
            f"ledger: no etcd endpoint could be used (deadline {self.deadline:g} s): "
            + "; ".join(failures),
        )

    def _said(self, text: str, limit: int = 200) -> str:
        """A server's (or a library's) text for a message: our secrets hidden, escaped,
        bounded. etcd's error text can echo the request, password and all."""
        secrets = tuple(s for s in (self._password, self._token) if s)
        return bounded(scrub(text, secrets), limit)

    def _post_one(
        self,
        host: str,
        port: int,
        path: str,
        body: dict[str, Any],
        end: float,
        *,
        signed: bool = True,
    ) -> dict[str, Any]:
        """One endpoint, everything (resolving, connecting, TLS, both requests) by ``end``."""
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

        def connect() -> DeadlineSocket:
            # Ours: getaddrinfo has no deadline, and each address gets a share of the time.
            sock = dial(resolve(host, port, end), end)
            if self._ssl is not None:
                import socket  # ssl wraps socket.socket, not _socket's

                sock = socket.socket(fileno=sock.detach())
                try:
                    sock.settimeout(max(0.001, end - time.monotonic()))  # the whole handshake
                    sock = self._ssl.wrap_socket(sock, server_hostname=host)
                except BaseException:
                    sock.close()
                    raise
            return DeadlineSocket(sock, end)

        conn = Http(connect, limit=reply.MAX_REPLY)
        try:
            headers = {"Content-Type": "application/json"}
            if self.user is not None and signed:
                auth = {"name": self.user, "password": self._password}
                answer = self._request(conn, where, "/v3/auth/authenticate", auth, headers, end)
                try:
                    self._token = reply.token(answer)
                except ValueError as e:
                    why = f"{where}: unexpected authenticate reply ({self._said(str(e))})"
                    raise LedgerError("protocol", why) from None
                headers["Authorization"] = self._token
            return self._request(conn, where, path, body, headers, end)
        except Unresolved as e:
            raise LedgerError("unreachable", f"{where}: {e}") from None
        except (_socket.timeout, TimeoutError):  # one class from Python 3.10 on
            raise LedgerError("unreachable", f"{where}: timed out") from None
        except OSError as e:
            if self._ssl is not None:
                import ssl

                if isinstance(e, ssl.SSLError):
                    vm = getattr(e, "verify_message", None)
                    why = f"certificate verify failed: {vm}" if vm else e.reason or str(e)
                    raise LedgerError("tls", f"{where}: TLS: {self._said(why)}") from None
            raise LedgerError(
                "unreachable", f"{where}: {self._said(e.strerror or str(e))}"
            ) from None
        except Framing as e:  # cut short, unframed, too big: never a shorter reply
            raise LedgerError("protocol", f"{where}: {self._said(str(e))}") from None
        except BadHttp as e:
            raise LedgerError("unreachable", f"{where}: bad HTTP ({self._said(str(e))})") from None
        finally:
            conn.close()

    def _request(
        self,
        conn: Http,
        where: str,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        end: float,
    ) -> dict[str, Any]:
        left = end - time.monotonic()
        if left <= 0:
            raise LedgerError("unreachable", f"{where}: timed out")
        sent = time.monotonic()
        resp = conn.post(where, path, dumps(body).encode("ascii"), headers)
        raw = resp.body
        date = resp.header("date")
        self.clock_offset = offset(date, time.time())
        self.server_time = server_time(
            date, sent=sent, received=time.monotonic(), wall=time.time(), source=f"{where}'s Date"
        )
        try:
            answer = reply.loads(raw)
            if not isinstance(answer, dict):
                raise NotJson("not an object")
        except ValueError as e:
            text = self._said(raw[:80].decode("utf-8", "replace").strip())
            why = "" if isinstance(e, NotJson) else f" ({self._said(str(e))})"
            why = f"{where}: HTTP {resp.status}, not JSON: '{text}'{why}"
            raise LedgerError("protocol", why) from None
        code = answer.get("code")
        if resp.status == 200 and not code and "error" not in answer:
            return answer
        said = answer.get("message") or answer.get("error") or f"HTTP {resp.status}"
        msg = self._said(said if isinstance(said, str) else dumps(said))
        # InvalidArgument (3) is a bad password at authenticate, "user name is empty" with
        # auth on; elsewhere it is a request we got wrong.
        authish = code == 3 and ("auth" in path or any(w in msg for w in ("user", "token")))
        if code in (7, 16) or authish or resp.status in (401, 403):
            who = f"user {self.user!r}" if self.user else "no user"
            raise LedgerError("auth", f"ledger: {where} refused {who}: {msg}")
        if code in _RETRY_CODES or resp.status >= 500:
            raise LedgerError("unreachable", f"{where}: {msg}")
        raise LedgerError("protocol", f"ledger: {where} answered {path}: {msg}")

    # -- reads, release and liveness (history, status, --release, the running guard) ---
    #
    # Appended as one block: a slot's key is ``PREFIX/TASK/SLOT``; its runner's liveness
    # record, ``PREFIX/TASK/SLOT/alive``, sorts right after it and is never taken for a slot.

    def read(
        self,
        task: str,
        *,
        since: str | None = None,
        until: str | None = None,
        limit: int = MAX_READ,
    ) -> list[Stored]:
        """The task's slots in ``[since, until)``, oldest first: the newest ``limit`` of them.

        Bounded: pages of READ_PAGE keys, newest first, until ``limit`` slots are read or
        the range ends. Each slot says whether its liveness record is there (``alive``).
        """
        base = f"{self.url.prefix}/{validate_task(task)}/"
        for bound in (since, until):
            if bound is not None:
                parse_iso(bound)
        start = base + (since or "")
        end = base + until if until is not None else _prefix_end(base)
        slots: list[Stored] = []
        alive: dict[str, str] = {}
        for _page in range(limit // READ_PAGE + MAX_EXTRA_PAGES):
            body = self._post(
                "/v3/kv/range",
                {
                    "key": _b64(start),
                    "range_end": _b64(end),
                    "limit": READ_PAGE,
                    "sort_order": "DESCEND",
                    "sort_target": "KEY",
                },
            )
            try:
                kvs = reply.lst(body.get("kvs", []), "kvs")
                for kv in kvs:
                    kv = reply.obj(kv, "kv")
                    key = reply.b64(kv.get("key"), "kv.key").decode("utf-8", "replace")
                    end = key  # the next page ends (exclusive) where this one did
                    name, sep, tail = key[len(base) :].partition("/")
                    value = reply.b64(kv.get("value", ""), "kv.value")
                    if sep:
                        if tail == ALIVE_KEY:
                            alive[name] = value.decode("ascii", "replace")
                        continue  # any other key under a slot is not a slot
                    if len(slots) < limit:
                        slots.append(
                            Stored(
                                task=task,
                                slot=name,
                                record=_ours(value),
                                raw=value[:MAX_RAW].decode("utf-8", "replace"),
                                revision=reply.integer(
                                    kv.get("create_revision"), "kv.create_revision"
                                ),
                            )
                        )
                more = bool(body.get("more")) and bool(kvs)
            except (AttributeError, KeyError, TypeError, ValueError) as e:
                raise LedgerError("protocol", f"ledger: unexpected range reply ({e!r})") from None
            if not more or len(slots) >= limit:
                break
        for s in slots:
            s.alive = alive.get(s.slot) == str(s.revision)
        slots.reverse()
        return slots

    def tasks(self) -> list[str]:
        """Every task with a key under the prefix, sorted: one keys-only read of one key
        per task (each skips past the task's keys), at most MAX_TASKS."""
        base = f"{self.url.prefix}/"
        start, end = base, _prefix_end(base)
        names: list[str] = []
        for _ in range(MAX_TASKS + MAX_EXTRA_PAGES):
            body = self._post(
                "/v3/kv/range",
                {"key": _b64(start), "range_end": _b64(end), "limit": 1, "keys_only": True},
            )
            try:
                kvs = reply.lst(body.get("kvs", []), "kvs")
                if not kvs:
                    return names
                first = reply.obj(kvs[0], "kv")
                key = reply.b64(first.get("key"), "kv.key").decode("utf-8", "replace")
            except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
                raise LedgerError("protocol", f"ledger: unexpected range reply ({e!r})") from None
            name, sep, _ = key[len(base) :].partition("/")
            if not sep:  # PREFIX/NAME itself: not a task's slot
                start = key + "\0"
                continue
            try:
                names.append(validate_task(name))
            except ValueError:
                pass  # not a task of ours: another writer's key
            if len(names) > MAX_TASKS:
                break
            start = _prefix_end(f"{base}{name}/")
        raise LedgerError(
            "limit", f"ledger: more than {MAX_TASKS} tasks under {self.url.prefix}: name one"
        )

    def release(self, task: str, slot: str, *, revision: int) -> bool:
        """Delete the slot's key, and only it, if it is still the claim ``revision`` names
        (its create_revision); False, nothing deleted, when it changed or is gone."""
        k = _b64(self.key(task, slot))
        body = self._post(
            "/v3/kv/txn",
            {
                "compare": [
                    {
                        "key": k,
                        "target": "CREATE",
                        "result": "EQUAL",
                        "create_revision": str(int(revision)),
                    }
                ],
                "success": [{"request_delete_range": {"key": k}}],
            },
        )
        try:
            if not reply.succeeded(body):
                return False
            first = reply.obj(reply.lst(body.get("responses"), "responses")[0], "responses[0]")
            deleted = reply.obj(first.get("response_delete_range"), "response_delete_range")
            return reply.integer(deleted.get("deleted", "0"), "deleted", lo=0) == 1
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise LedgerError("protocol", f"ledger: unexpected txn reply ({e!r})") from None

    def alive_key(self, claim: Claim) -> str:
        """Where a won claim's runner keeps its liveness record."""
        return f"{claim.key}/{ALIVE_KEY}"

    def grant(self, ttl: int) -> int:
        """A new lease of ``ttl`` seconds; its ID."""
        body = self._post("/v3/lease/grant", {"TTL": str(int(ttl))})
        try:
            return reply.integer(body.get("ID"), "ID")
        except (KeyError, TypeError, ValueError) as e:
            raise LedgerError("protocol", f"ledger: unexpected lease reply ({e!r})") from None

    def keep_alive(self, lease: int) -> int:
        """Refresh a lease; its TTL now (0: it had expired, and its keys are gone)."""
        body = self._post("/v3/lease/keepalive", {"ID": str(lease)})
        try:
            result = reply.obj(body.get("result", body), "result")
            return reply.integer(result.get("TTL", "0"), "TTL", lo=0)
        except (AttributeError, TypeError, ValueError) as e:
            raise LedgerError("protocol", f"ledger: unexpected lease reply ({e!r})") from None

    def revoke(self, lease: int) -> None:
        """End a lease now: its keys go with it."""
        self._post("/v3/lease/revoke", {"ID": str(lease)})

    def put_alive(self, claim: Claim, lease: int) -> None:
        """Write the claim's liveness record (its revision) attached to ``lease``."""
        self._post(
            "/v3/kv/put",
            {
                "key": _b64(self.alive_key(claim)),
                "value": _b64(str(claim.revision)),
                "lease": str(lease),
            },
        )


def _as_is(body: dict[str, Any]) -> dict[str, Any]:
    return body


def _prefix_end(prefix: str) -> str:
    """The range end covering every key that starts with ``prefix`` (ours end in '/')."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _ours(value: bytes) -> Record | None:
    """The record a value holds when it is ours (a JSON object with node, start, pid)."""
    record = Record.from_json(value)  # strict, bounded, never raises
    return None if record.start == "?" and record.pid == 0 else record
