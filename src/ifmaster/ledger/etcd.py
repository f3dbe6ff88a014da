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
and values base64) over http.client, with ssl for TLS (CA, client certificate) and a
token from user + password: etcd3gw was measured and rejected (see the docs: 180 to
390 ms to import requests and futurist, no user/password auth).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from ..limits import DEFAULT_LEDGER_TIMEOUT, MAX_LEDGER_TIMEOUT, MIN_LEDGER_TIMEOUT
from ..slot import check_seconds, parse_iso
from ..task import validate_task
from .records import Claim, LedgerError, Record, ServerTime, bounded, iso_ms, validate_node
from .secret import ENV_PASSWORD, ENV_URL, ENV_USER, check_secret, read_secret, regular_file
from .url import LedgerUrl, parse_url
from .wire import DeadlineSocket, Encrypted, no_passphrase, offset, server_time

# gRPC codes etcd's gateway returns that mean "this member cannot serve now, try another".
_RETRY_CODES = frozenset({1, 4, 13, 14})  # cancelled, deadline, internal, unavailable


def _b64(s: str) -> str:
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


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
    ) -> None:
        """``ca``/``cert``/``key`` are file paths (any of them turns TLS on); ``user`` needs
        ``password``. ValueError for a bad deadline or a half-given pair; LedgerError when a
        certificate file cannot be loaded."""
        self.url = url
        self.deadline = check_seconds(
            "--ledger-timeout", deadline, lo=MIN_LEDGER_TIMEOUT, hi=MAX_LEDGER_TIMEOUT
        )
        if (cert is None) != (key is None):
            raise ValueError("--ledger-cert and --ledger-key go together: give both or neither")
        if (user is None) != (password is None):
            raise ValueError("a ledger user needs a password (file or environment), and back")
        self.user = user
        self._password = password
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
        password = None
        if password_file is not None:
            password = read_secret(password_file)
        elif env.get(ENV_PASSWORD):
            password = check_secret(os.fsencode(env[ENV_PASSWORD]), ENV_PASSWORD)
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
        )

    def key(self, task: str, slot: str) -> str:
        """``PREFIX/TASK/SLOT``, each part validated (ValueError naming it)."""
        parse_iso(slot)
        return f"{self.url.prefix}/{validate_task(task)}/{slot}"

    # -- the two writes ----------------------------------------------------------------

    def claim(self, task: str, slot: str, *, node: str, pid: int, start: float) -> Claim:
        """Create ``PREFIX/TASK/SLOT`` if it does not exist; who holds it either way.

        One transaction: compare ``create_revision == 0``, then put our record, else read
        the holder's. A claim whose reply was lost and that is retried on another member
        finds its own record (same node, PID, start) and counts as won.
        """
        k = self.key(task, slot)
        mine = Record(node=validate_node(node), start=iso_ms(start), pid=int(pid))
        reply = self._txn(k, create_revision=0, put=mine.to_json())
        if reply["succeeded"]:
            rev = reply["revision"]
            return Claim(won=True, key=k, holder=mine, revision=rev, clock_offset=self.clock_offset)
        if reply["kv"] is None:  # the compare failed on a key that does not exist
            raise LedgerError("protocol", f"ledger: {k} neither created nor found")
        held, rev = reply["kv"]
        ours = (held.node, held.pid, held.start) == (mine.node, mine.pid, mine.start)
        return Claim(won=ours, key=k, holder=held, revision=rev, clock_offset=self.clock_offset)

    def finish(self, claim: Claim, *, end: float, status: int) -> bool:
        """Record the end time and exit status on a claim we won.

        False (nothing written) when the key is gone or was claimed anew since (an
        operator re-ran the slot): the old run must not overwrite the new one.
        """
        if not claim.won:
            raise ValueError(f"{claim.key} was not claimed by us: no end to record")
        h = claim.holder
        done = Record(node=h.node, start=h.start, pid=h.pid, end=iso_ms(end), status=status)
        reply = self._txn(claim.key, create_revision=claim.revision, put=done.to_json())
        if reply["succeeded"]:
            claim.holder = done
        return bool(reply["succeeded"])

    def holder(self, task: str, slot: str) -> Record | None:
        """Who holds a slot (a linearizable read), or None when it is unclaimed."""
        k = self.key(task, slot)
        body = self._post("/v3/kv/range", {"key": _b64(k)})
        kvs = body.get("kvs") or []
        try:
            return Record.from_json(base64.b64decode(kvs[0].get("value", ""))) if kvs else None
        except (AttributeError, IndexError, TypeError, ValueError) as e:
            raise LedgerError("protocol", f"ledger: unexpected range reply ({e!r})") from None

    def clock(self) -> ServerTime:
        """The answering member's clock: the Date of one cheap read (its status, served by
        the member itself, no raft round). LedgerError when no member answers in the
        deadline or the reply has no Date: a clock we cannot read judges nothing."""
        self.server_time = None
        # etcd serves its status without a token: no authenticate (bcrypt, ~70 ms) for it.
        self._post("/v3/maintenance/status", {}, signed=False)
        if self.server_time is None:
            raise LedgerError(
                "protocol", "ledger: the member's reply has no Date header: cannot read its clock"
            )
        return self.server_time

    # -- the wire --------------------------------------------------------------------

    def _txn(self, key: str, *, create_revision: int, put: str) -> dict[str, Any]:
        k = _b64(key)
        body = self._post(
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
                "success": [{"request_put": {"key": k, "value": _b64(put)}}],
                "failure": [{"request_range": {"key": k}}],
            },
        )
        try:  # proto3 JSON leaves out zero values: no "succeeded" means false
            succeeded = body.get("succeeded", False)
            if not isinstance(succeeded, bool):  # "false", 1: not etcd's; never a won claim
                raise ValueError(f"succeeded is {succeeded!r}")
            if succeeded:
                # etcd's own reply names the put it did; a won claim needs exactly that.
                first = body["responses"][0]
                if not isinstance(first, dict) or "response_put" not in first:
                    raise ValueError("succeeded without a put in its responses")
                return {"succeeded": True, "revision": int(body["header"]["revision"])}
            kvs = body["responses"][0]["response_range"].get("kvs") or []
            if not kvs:  # finish() on a key an operator deleted
                return {"succeeded": False, "kv": None}
            kv = kvs[0]
            held = Record.from_json(base64.b64decode(kv.get("value", "")))
            return {"succeeded": False, "kv": (held, int(kv["create_revision"]))}
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise LedgerError("protocol", f"ledger: unexpected txn reply ({e!r})") from None

    def _post(self, path: str, body: dict[str, Any], *, signed: bool = True) -> dict[str, Any]:
        """POST to each endpoint in turn within the deadline; the first good reply wins.

        Each endpoint gets an equal share of the time left, so one that does not answer
        at all (partitioned) leaves time for the next. An auth failure stops at once.
        ``signed`` False: no token even with a user (a call etcd serves without one).
        """
        started = time.monotonic()
        failures: list[str] = []
        kinds: set[str] = set()
        n = len(self.url.endpoints)
        for i, (host, port) in enumerate(self.url.endpoints):
            left = self.deadline - (time.monotonic() - started)
            if left <= 0.01:
                failures.append(f"{host}:{port}: not tried, deadline spent")
                break
            try:
                return self._post_one(host, port, path, body, left / (n - i), signed=signed)
            except LedgerError as e:
                if e.kind in ("auth", "config"):
                    raise
                kinds.add(e.kind)
                failures.append(str(e))
        kind = "tls" if kinds == {"tls"} else "unreachable"
        raise LedgerError(
            kind,
            f"ledger: no etcd endpoint could be used (deadline {self.deadline:g} s): "
            + "; ".join(failures),
        )

    def _post_one(
        self,
        host: str,
        port: int,
        path: str,
        body: dict[str, Any],
        budget: float,
        *,
        signed: bool = True,
    ) -> dict[str, Any]:
        import http.client
        import socket

        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        end = time.monotonic() + budget
        conn: http.client.HTTPConnection
        if self._ssl is not None:
            conn = http.client.HTTPSConnection(host, port, timeout=budget, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=budget)
        try:
            headers = {"Content-Type": "application/json"}
            if self.user is not None and signed:
                auth = {"name": self.user, "password": self._password}
                token = self._request(conn, where, "/v3/auth/authenticate", auth, headers, end)
                headers["Authorization"] = str(token.get("token", ""))
            return self._request(conn, where, path, body, headers, end)
        except (socket.timeout, TimeoutError):
            raise LedgerError("unreachable", f"{where}: timed out") from None
        except OSError as e:
            import ssl

            if isinstance(e, ssl.SSLError):
                vm = getattr(e, "verify_message", None)
                why = f"certificate verify failed: {vm}" if vm else e.reason or str(e)
                raise LedgerError("tls", f"{where}: TLS: {why}") from None
            raise LedgerError("unreachable", f"{where}: {e.strerror or e}") from None
        except http.client.HTTPException as e:
            raise LedgerError("unreachable", f"{where}: bad HTTP ({bounded(repr(e))})") from None
        finally:
            conn.close()

    def _request(
        self,
        conn: Any,
        where: str,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        end: float,
    ) -> dict[str, Any]:
        left = end - time.monotonic()
        if left <= 0:
            raise LedgerError("unreachable", f"{where}: timed out")
        if conn.sock is None:
            conn.connect()  # bounded by the connection's timeout, the endpoint's budget
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock, end)
        sent = time.monotonic()
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        raw = resp.read(1 << 20)
        date = resp.getheader("Date")
        self.clock_offset = offset(date, time.time())
        self.server_time = server_time(
            date, sent=sent, received=time.monotonic(), wall=time.time(), source=f"{where}'s Date"
        )
        try:
            reply = json.loads(raw)
            if not isinstance(reply, dict):
                raise ValueError("not an object")
        except ValueError:
            text = bounded(raw[:80].decode("utf-8", "replace").strip())
            why = f"{where}: HTTP {resp.status}, not JSON: {text!r}"
            raise LedgerError("protocol", why) from None
        code = reply.get("code")
        if resp.status == 200 and not code and "error" not in reply:
            return reply
        msg = bounded(str(reply.get("message") or reply.get("error") or f"HTTP {resp.status}"))
        # InvalidArgument (3) is a bad password at authenticate, "user name is empty" with
        # auth on; elsewhere it is a request we got wrong.
        authish = code == 3 and ("auth" in path or any(w in msg for w in ("user", "token")))
        if code in (7, 16) or authish or resp.status in (401, 403):
            who = f"user {self.user!r}" if self.user else "no user"
            raise LedgerError("auth", f"ledger: {where} refused {who}: {msg}")
        if code in _RETRY_CODES or resp.status >= 500:
            raise LedgerError("unreachable", f"{where}: {msg}")
        raise LedgerError("protocol", f"ledger: {where} answered {path}: {msg}")
