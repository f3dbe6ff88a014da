"""The ledger: one etcd v3 record per slot that exactly one node can create (``--ledger``).

A floating IP is a lease with no fencing: two nodes can both believe they hold it. The
ledger closes that with etcd's consensus. Before running, a node claims the slot's key
``PREFIX/TASK/SLOT`` with one transaction that creates it only if it does not exist
(``create_revision == 0``); etcd serialises transactions through raft, so exactly one
claim per key succeeds whatever the VIP, the clocks or the network did. The value is JSON
``{"node", "start", "pid"}``; when the job ends the same key gets ``"end"`` and
``"status"`` too, guarded by the claim's ``create_revision`` so that a key an operator
deleted and someone re-claimed is never overwritten by the old run.

At most once: a claimed slot whose runner died stays claimed (no end). To run it again,
an operator deletes the key: ``etcdctl del /PREFIX/TASK/2026-11-28T01:45:00Z``.

The client speaks etcd's JSON gateway (``/v3/kv/txn``, ``/v3/auth/authenticate``; keys
and values base64) over http.client, with ssl for TLS (CA, client certificate) and a
token from user + password: etcd3gw was measured and rejected (see the README: 180 to
390 ms to import requests and futurist, no user/password auth). Imported only when
``--ledger`` is given.

Fail closed: every failure at run time (no endpoint answered within the deadline, no
quorum, TLS, auth, a reply we cannot read) is one :class:`LedgerError` with one line, and
the caller runs nothing. Bad values (the URL, a node name) are ValueError naming them.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .errors import printable
from .slot import check_seconds, parse_iso
from .task import validate_task

#: Seconds one ledger operation may take, all endpoints together.
DEFAULT_DEADLINE = 2.0
MAX_DEADLINE = 60.0
MAX_ENDPOINTS = 16
MAX_URL_LEN = 1000
MAX_PREFIX_LEN = 200
MAX_NODE_LEN = 255
MAX_SECRET_LEN = 4096
ENV_URL = "IF_MASTER_LEDGER"
ENV_USER = "IF_MASTER_LEDGER_USER"
ENV_PASSWORD = "IF_MASTER_LEDGER_PASSWORD"

_PREFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
# gRPC codes etcd's gateway returns that mean "this member cannot serve now, try another".
_RETRY_CODES = frozenset({1, 4, 13, 14})  # cancelled, deadline, internal, unavailable


class LedgerError(Exception):
    """The ledger could not be used: nothing may run. ``str()`` is one line.

    ``kind`` says which failure, for metrics and logs: ``unreachable`` (no endpoint
    answered in time, no quorum), ``tls``, ``auth``, ``protocol`` (a reply we cannot
    read), ``config`` (an unreadable certificate or password file).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _shown(s: str) -> str:
    return repr(s if len(s) <= 60 else s[:57] + "...")


def _printable(text: str, limit: int = 200) -> str:
    """A server's words for our one stderr line: escaped as every diagnostic, and bounded."""
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LedgerUrl:
    """A parsed ``etcd://HOST:PORT[,HOST:PORT...]/PREFIX`` (``etcds://``: TLS)."""

    __slots__ = ("endpoints", "prefix", "tls")

    def __init__(self, *, endpoints: tuple[tuple[str, int], ...], prefix: str, tls: bool):
        self.endpoints = endpoints  # (host, port), tried in this order; IPv6 without []
        self.prefix = prefix  # "/if-master": the key's start, no trailing slash
        self.tls = tls

    def __str__(self) -> str:
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.endpoints)
        return f"{'etcds' if self.tls else 'etcd'}://{hosts}{self.prefix}"


def _parse_host(text: str, whole: str) -> str:
    if text.startswith("["):  # [IPv6]
        import ipaddress

        try:
            return str(ipaddress.IPv6Address(text[1:-1] if text.endswith("]") else "!"))
        except ValueError:
            why = f"ledger URL {_shown(whole)}: {text!r} is not an IPv6 address"
            raise ValueError(why) from None
    labels = text.split(".")
    if any(labels) and all(x.isdigit() for x in labels if x):  # digits: IPv4 or nothing
        import ipaddress

        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            why = f"ledger URL {_shown(whole)}: {text!r} is not an IPv4 address"
            raise ValueError(why) from None
    if (
        not text
        or len(text) > 253
        or not _HOST_CHARS.issuperset(text)
        or any(not 1 <= len(x) <= 63 or x[0] == "-" or x[-1] == "-" for x in labels if x)
        or "" in labels[:-1]
    ):
        raise ValueError(f"ledger URL {_shown(whole)}: host {text!r} is not a host name or IP")
    return text.rstrip(".")


def parse_url(text: str | bytes) -> LedgerUrl:
    """Parse ``--ledger``; ValueError naming the bad part when it is not such a URL."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"ledger URL {text!r} is not UTF-8") from None
    whole = text
    if not text:
        raise ValueError("ledger URL '' is empty (write etcd://HOST:PORT,.../PREFIX)")
    if len(text) > MAX_URL_LEN:
        raise ValueError(f"ledger URL {_shown(text)} is longer than {MAX_URL_LEN} characters")
    if any(not " " < c <= "~" for c in text):
        raise ValueError(f"ledger URL {_shown(text)} has spaces, control or non-ASCII characters")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("etcd", "etcds"):
        raise ValueError(
            f"ledger URL {_shown(text)} does not start with etcd:// (or etcds:// for TLS)"
        )
    if any(c in rest for c in "?#"):
        raise ValueError(f"ledger URL {_shown(text)} has a query or fragment: it takes none")
    hosts, slash, path = rest.partition("/")
    if "@" in hosts:
        raise ValueError(
            f"ledger URL {_shown(text)} has a user or password in it: use --ledger-user"
            f" and a password file or {ENV_PASSWORD}, never the command line"
        )
    endpoints: list[tuple[str, int]] = []
    for part in hosts.split(","):
        if part.startswith("["):
            host, close, port_text = part.partition("]")
            host += close
            if not close or not port_text.startswith(":"):
                raise ValueError(f"ledger URL {_shown(text)}: {part!r} is not [IPV6]:PORT")
            port_text = port_text[1:]
        else:
            host, _, port_text = part.rpartition(":")
        if not host or not port_text:
            raise ValueError(f"ledger URL {_shown(text)}: {part!r} is not HOST:PORT")
        if not (port_text.isdigit() and port_text.isascii() and len(port_text) <= 5):
            raise ValueError(f"ledger URL {_shown(text)}: port {port_text!r} is not a number")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ValueError(f"ledger URL {_shown(text)}: port {port} is outside 1..65535")
        endpoint = (_parse_host(host, whole), port)
        if endpoint in endpoints:
            raise ValueError(f"ledger URL {_shown(text)}: {part!r} is given twice")
        endpoints.append(endpoint)
    if len(endpoints) > MAX_ENDPOINTS:
        raise ValueError(f"ledger URL {_shown(text)} has more than {MAX_ENDPOINTS} endpoints")
    segments = path.split("/")
    if not slash or not path or path.endswith("/"):
        raise ValueError(f"ledger URL {_shown(text)} needs a key prefix: etcd://HOST:PORT/PREFIX")
    if len(path) > MAX_PREFIX_LEN:
        raise ValueError(f"ledger URL {_shown(text)}: prefix longer than {MAX_PREFIX_LEN}")
    for seg in segments:
        if not seg or seg in (".", "..") or not _PREFIX_CHARS.issuperset(seg):
            raise ValueError(
                f"ledger URL {_shown(text)}: prefix segment {seg!r} is not letters, digits,"
                " '_', '-', '.' (and never '.' or '..' or empty)"
            )
    return LedgerUrl(endpoints=tuple(endpoints), prefix="/" + path, tls=scheme == "etcds")


def validate_node(name: str) -> str:
    """A node name for the record: 1 to 255 printable characters."""
    if not isinstance(name, str) or not name or len(name) > MAX_NODE_LEN:
        raise ValueError(f"node name {name!r} is empty or longer than {MAX_NODE_LEN}")
    if not name.isprintable() or name != name.strip():
        raise ValueError(f"node name {_shown(name)} has control characters or outer spaces")
    return name


def _iso_ms(t: float) -> str:
    d = datetime.fromtimestamp(t, timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


class Record:
    """What a slot's key holds: who claimed it, when, their PID; end and status once done."""

    __slots__ = ("end", "node", "pid", "start", "status")

    def __init__(
        self,
        *,
        node: str,
        start: str,
        pid: int,
        end: str | None = None,
        status: int | None = None,
    ) -> None:
        self.node = node
        self.start = start  # ISO 8601 UTC with milliseconds, as written
        self.pid = pid
        self.end = end
        self.status = status

    def to_json(self) -> str:
        d: dict[str, Any] = {"node": self.node, "start": self.start, "pid": self.pid}
        if self.end is not None:
            d["end"] = self.end
            d["status"] = self.status
        return json.dumps(d, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_json(cls, data: bytes) -> Record:
        """Read a key's value; a value we did not write still names its holder raw."""
        try:
            d = json.loads(data)
            return cls(
                node=str(d["node"]),
                start=str(d["start"]),
                pid=int(d["pid"]),
                end=None if d.get("end") is None else str(d["end"]),
                status=None if d.get("status") is None else int(d["status"]),
            )
        except (ValueError, TypeError, KeyError):
            return cls(node=data[:80].decode("utf-8", "replace"), start="?", pid=0)

    def __str__(self) -> str:
        """One printable line, whatever another writer stored (no terminal escapes)."""
        done = "" if self.end is None else f", ended {self.end} with status {self.status}"
        text = f"{self.node} (pid {self.pid}, started {self.start}{done})"
        return "".join(c if c.isprintable() else "?" for c in text)


class Claim:
    """The outcome of claiming a slot: ``won``, or held by ``holder``; and the key's revision."""

    __slots__ = ("clock_offset", "holder", "key", "revision", "won")

    def __init__(
        self,
        *,
        won: bool,
        key: str,
        holder: Record,
        revision: int,
        clock_offset: float | None = None,
    ) -> None:
        self.won = won
        self.key = key
        self.holder = holder  # ours when won
        self.revision = revision  # the key's create_revision: guards the end record
        # Our clock minus the answering member's (its HTTP Date, whole seconds: +-1 s);
        # None when it sent none. Beyond the slot skew tolerance, slots may split.
        self.clock_offset = clock_offset

    def __str__(self) -> str:
        if self.won:
            return f"claimed {self.key}"
        return f"{self.key} is held by {self.holder}"


def _offset(date: str | None, now: float) -> float | None:
    """``now`` minus an HTTP Date (RFC 9110, whole seconds, so its mid-second), or None."""
    if not date:
        return None
    try:  # the fixed IMF-fixdate form Go's net/http writes; %a/%b are the C locale's
        t = datetime.strptime(date, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return now - (t.timestamp() + 0.5)


def _b64(s: str) -> str:
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def _read_secret(path: str) -> str:
    import stat

    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise LedgerError("config", f"ledger password file {path!r}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LedgerError("config", f"ledger password file {path!r} is not a regular file")
        # One trailing newline (and a CR before it) may follow the 4 KiB.
        data = os.read(fd, MAX_SECRET_LEN + 3)
    except OSError as e:
        raise LedgerError("config", f"ledger password file {path!r}: {e.strerror}") from None
    finally:
        os.close(fd)
    if data.endswith(b"\n"):  # one line, as `echo pw > file` wrote it
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    return _check_secret(data, f"ledger password file {path!r}")


def _check_secret(data: bytes, what: str) -> str:
    if len(data) > MAX_SECRET_LEN:
        raise LedgerError("config", f"{what} is over 4 KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LedgerError("config", f"{what} is not UTF-8") from None
    if not text:
        raise LedgerError("config", f"{what} is empty")
    if "\0" in text:
        raise LedgerError("config", f"{what} holds a NUL byte: not a password")
    return text


class _DeadlineSocket:
    """A connected socket whose every send and receive ends by one monotonic deadline.

    A socket timeout bounds each call, not the exchange: a server that trickles a byte
    every half second would hold us for ever. http.client reads through ``makefile()``,
    so that file reads through us too.
    """

    def __init__(self, sock: Any, end: float) -> None:
        self._sock = sock
        self._end = end
        self._files = 0  # as socket.socket: close() waits for the files made from it
        self._closed = False

    def _arm(self) -> None:
        import socket

        left = self._end - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self._sock.settimeout(left)

    def sendall(self, data: bytes, *args: Any) -> None:
        self._arm()
        try:
            self._sock.sendall(data, *args)
        except OSError:
            # A TLS server that refuses us (no client certificate) sends its alert and
            # hangs up once the handshake ends, maybe before we are done sending: the
            # write then fails as a bare EOF. Its reason is in what it sent; say that.
            reason = self._pending_alert()
            if reason is not None:
                raise reason from None
            raise

    def _pending_alert(self) -> OSError | None:
        import ssl

        try:
            self._arm()
            self._sock.recv(1)
        except ssl.SSLEOFError:
            return None
        except ssl.SSLError as e:
            return e
        except OSError:
            return None
        return None

    def recv_into(self, buffer: Any, *args: Any) -> int:
        self._arm()
        return int(self._sock.recv_into(buffer, *args))

    def recv(self, size: int, *args: Any) -> bytes:
        self._arm()
        return bytes(self._sock.recv(size, *args))

    def makefile(self, mode: str = "rb", *args: Any, **kw: Any) -> Any:
        import io
        import socket

        self._files += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:  # SocketIO.close() calls it
        self._files -= 1
        if self._closed and self._files <= 0:
            self._sock.close()

    def close(self) -> None:
        # http.client closes the connection while its response is still being read.
        self._closed = True
        if self._files <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _regular_file(path: str, what: str) -> None:
    """LedgerError unless ``path`` is a regular file: a FIFO or a device would block or
    never end when read, and nothing here may wait without a deadline."""
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise LedgerError("config", f"{what} {path!r}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise LedgerError("config", f"{what} {path!r} is not a regular file")


class _Encrypted(Exception):
    """OpenSSL asked for a passphrase: the key file is encrypted."""


def _no_passphrase() -> bytes:
    # Without this callback OpenSSL prompts on the terminal, or reads the job's stdin.
    raise _Encrypted


class Ledger:
    """A client of one etcd cluster under one prefix. Each call is one bounded operation."""

    def __init__(
        self,
        url: LedgerUrl,
        *,
        deadline: float = DEFAULT_DEADLINE,
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
        self.deadline = check_seconds("--ledger-timeout", deadline, lo=0.05, hi=MAX_DEADLINE)
        if (cert is None) != (key is None):
            raise ValueError("--ledger-cert and --ledger-key go together: give both or neither")
        if (user is None) != (password is None):
            raise ValueError("a ledger user needs a password (file or environment), and back")
        self.user = user
        self._password = password
        self._ssl: Any = None
        self.clock_offset: float | None = None  # from the last reply, see Claim
        if url.tls or ca is not None or cert is not None:
            import ssl

            for path, what in ((ca, "--ledger-ca"), (cert, "--ledger-cert"), (key, "--ledger-key")):
                if path is not None:
                    _regular_file(path, what)
            try:
                ctx = ssl.create_default_context(cafile=ca)
                if cert is not None:
                    ctx.load_cert_chain(cert, key, password=_no_passphrase)
            except _Encrypted:
                raise LedgerError(
                    "config",
                    f"--ledger-key {key!r} is encrypted (it asks for a passphrase): give an"
                    " unencrypted key, readable only by the job's user",
                ) from None
            except (OSError, ssl.SSLError) as e:
                what = f"{ca!r}, {cert!r}, {key!r}"
                why = _printable(str(e))
                raise LedgerError("config", f"ledger TLS files {what}: {why}") from None
            self._ssl = ctx

    @classmethod
    def from_options(
        cls,
        url: str | None,
        *,
        deadline: float = DEFAULT_DEADLINE,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        user: str | None = None,
        password_file: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Ledger | None:
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
            password = _read_secret(password_file)
        elif env.get(ENV_PASSWORD):
            password = _check_secret(os.fsencode(env[ENV_PASSWORD]), ENV_PASSWORD)
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
        mine = Record(node=validate_node(node), start=_iso_ms(start), pid=int(pid))
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
        done = Record(node=h.node, start=h.start, pid=h.pid, end=_iso_ms(end), status=status)
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

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to each endpoint in turn within the deadline; the first good reply wins.

        Each endpoint gets an equal share of the time left, so one that does not answer
        at all (partitioned) leaves time for the next. An auth failure stops at once.
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
                return self._post_one(host, port, path, body, left / (n - i))
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
        self, host: str, port: int, path: str, body: dict[str, Any], budget: float
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
            if self.user is not None:
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
            raise LedgerError("unreachable", f"{where}: bad HTTP ({_printable(repr(e))})") from None
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
        if not isinstance(conn.sock, _DeadlineSocket):
            conn.sock = _DeadlineSocket(conn.sock, end)
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        raw = resp.read(1 << 20)
        self.clock_offset = _offset(resp.getheader("Date"), time.time())
        try:
            reply = json.loads(raw)
            if not isinstance(reply, dict):
                raise ValueError("not an object")
        except ValueError:
            text = _printable(raw[:80].decode("utf-8", "replace").strip())
            why = f"{where}: HTTP {resp.status}, not JSON: {text!r}"
            raise LedgerError("protocol", why) from None
        code = reply.get("code")
        if resp.status == 200 and not code and "error" not in reply:
            return reply
        msg = _printable(str(reply.get("message") or reply.get("error") or f"HTTP {resp.status}"))
        # InvalidArgument (3) is a bad password at authenticate, "user name is empty" with
        # auth on; elsewhere it is a request we got wrong.
        authish = code == 3 and ("auth" in path or any(w in msg for w in ("user", "token")))
        if code in (7, 16) or authish or resp.status in (401, 403):
            who = f"user {self.user!r}" if self.user else "no user"
            raise LedgerError("auth", f"ledger: {where} refused {who}: {msg}")
        if code in _RETRY_CODES or resp.status >= 500:
            raise LedgerError("unreachable", f"{where}: {msg}")
        raise LedgerError("protocol", f"ledger: {where} answered {path}: {msg}")
