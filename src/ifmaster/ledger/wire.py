"""The wire under every ledger call: a deadline-bound socket, HTTP/1.1, TLS, server time."""

from __future__ import annotations

import _socket  # not `socket`: its enums and selectors are import time a ledger run never uses
import time

from ..slot import datetime, timezone
from .records import ServerTime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: An HTTP Date's step: whole seconds (RFC 9110's IMF-fixdate).
DATE_RESOLUTION = 1.0


_DAYS = ("Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date(date: str | None) -> float | None:
    """An HTTP Date as Unix time, or None when absent or not IMF-fixdate.

    Only the fixed form Go's net/http writes (``Thu, 03 Dec 2026 16:21:00 GMT``), read by
    hand: strptime's module is ~1 ms of import for one fixed format.
    """
    parts = (date or "").split(" ")
    if len(parts) != 6 or parts[0] not in _DAYS or parts[2] not in _MONTHS or parts[5] != "GMT":
        return None
    day, year, hms = parts[1], parts[3], parts[4].split(":")
    fields = [day, year, *hms]
    if len(hms) != 3 or [len(f) for f in fields] != [2, 4, 2, 2, 2]:
        return None
    if not all(f.isascii() and f.isdigit() for f in fields):
        return None
    try:
        month = _MONTHS.index(parts[2]) + 1
        h, m, s = (int(x) for x in hms)
        t = datetime(int(year), month, int(day), h, m, s, tzinfo=timezone.utc)
    except ValueError:  # 31 Feb, 25:00:00
        return None
    return t.timestamp()


def offset(date: str | None, now: float) -> float | None:
    """``now`` minus an HTTP Date (RFC 9110, whole seconds, so its mid-second), or None."""
    t = _date(date)
    return None if t is None else now - (t + DATE_RESOLUTION / 2)


def server_time(
    date: str | None, *, sent: float, received: float, wall: float, source: str
) -> ServerTime | None:
    """The server's clock from a reply's Date, or None without one.

    The server wrote ``date`` (its time, rounded down to the second) between our monotonic
    ``sent`` and ``received``: at ``received`` its clock read at least ``date`` and less
    than ``date`` + 1 s + the round trip.
    """
    t = _date(date)
    if t is None:
        return None
    high = t + DATE_RESOLUTION + max(0.0, received - sent)
    return ServerTime(
        low=t, high=high, at=received, wall=wall, resolution=DATE_RESOLUTION, source=source
    )


class DeadlineSocket:
    """A connected socket whose every send and receive ends by one monotonic deadline.

    A socket timeout bounds each call, not the exchange: a server that trickles a byte
    every half second would hold us for ever.
    """

    def __init__(self, sock: Any, end: float) -> None:
        self._sock = sock
        self._end = end

    def _arm(self) -> None:
        left = self._end - time.monotonic()
        if left <= 0:
            raise _socket.timeout("timed out")
        self._sock.settimeout(left)

    def sendall(self, data: bytes) -> None:
        self._arm()
        try:
            self._sock.sendall(data)
        except OSError:
            # A TLS server that refuses us (no client certificate) sends its alert and
            # hangs up once the handshake ends, maybe before we are done sending: the
            # write then fails as a bare EOF. Its reason is in what it sent; say that.
            reason = self._pending_alert()
            if reason is not None:
                raise reason from None
            raise

    def _pending_alert(self) -> OSError | None:
        if not hasattr(self._sock, "cipher"):  # not TLS: no alert to read
            return None
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

    def recv(self, size: int) -> bytes:
        self._arm()
        return bytes(self._sock.recv(size))

    def close(self) -> None:
        self._sock.close()


class BadHttp(Exception):
    """What the server sent is not an HTTP/1.x reply (the connection is of no use).

    Its message quotes the server's line whole (the head is bounded): the caller scrubs our
    secrets from it, then escapes and cuts it. Cut or repr()'d first, a password the server
    echoed could survive the scrub in part.
    """


class Framing(Exception):
    """An HTTP reply whose body cannot be read whole: unframed, too big, or cut short."""


class CutShort(Framing):
    """The connection ended inside a body: a body shorter than announced is never a reply."""

    def __init__(self, got: int, more: int | None) -> None:
        tail = "" if more is None else f", {more} more expected"
        super().__init__(f"reply cut short ({got} bytes read{tail})")


#: The status line and headers together, and any one line of a chunked body's framing:
#: etcd's whole head is ~400 bytes.
MAX_HEAD = 65536
#: Header lines in one reply (http.client's bound too).
MAX_HEADERS = 100
#: ``100 Continue`` heads skipped before the reply itself.
MAX_INTERIM = 8
#: Bytes asked of the socket per read.
READ_SIZE = 65536
_HEX = b"0123456789abcdefABCDEF"


class Reply:
    """One HTTP reply: its status, headers (lower-case names, every value) and whole body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, *, status: int, headers: dict[str, list[str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        """Every value of header ``name`` (lower case), joined as http.client joins them."""
        values = self.headers.get(name)
        return None if values is None else ", ".join(values)


class Http:
    """HTTP/1.1 POSTs on one connection, opened by ``opener()`` (a DeadlineSocket) when
    needed and kept while the server keeps it. Only what etcd's gateway speaks: a body
    framed by Content-Length or chunks, read whole and at most ``limit`` bytes.

    http.client (with the email package it imports) was ~14 ms of a ledger run's import;
    this is the part of it we use, with every framing fault an exception that says so.
    """

    def __init__(self, opener: Callable[[], DeadlineSocket], *, limit: int) -> None:
        self._open = opener
        self._limit = limit
        self._sock: DeadlineSocket | None = None
        self._buf = bytearray()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buf = bytearray()

    def post(self, host: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        """POST ``body`` to ``path``; the whole reply, or BadHttp, Framing or OSError."""
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {host}",
            "Accept-Encoding: identity",
            f"Content-Length: {len(body)}",
        ]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\0" in value:  # never ours to send
                raise ValueError(f"header {name} would break the request")
            lines.append(f"{name}: {value}")
        if self._sock is None:
            self._sock = self._open()
        # One write: a head and a body in two segments wait on each other's ACK.
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            reply, keep = self._read()
        except BaseException:
            self.close()
            raise
        if not keep or self._buf:  # bytes past the reply: no telling where the next starts
            self.close()
        return reply

    def _more(self) -> bool:
        assert self._sock is not None
        data = self._sock.recv(READ_SIZE)
        self._buf += data
        return bool(data)

    def _line(self, got: int) -> bytes:
        """One CRLF-ended line of a chunked body's framing; ``got``: body bytes so far."""
        start = 0
        while (at := self._buf.find(b"\r\n", start)) < 0:
            if len(self._buf) > MAX_HEAD:
                raise Framing(f"a chunk line over {MAX_HEAD} bytes")
            start = max(0, len(self._buf) - 1)
            if not self._more():
                raise CutShort(got, None)
        line = bytes(self._buf[:at])
        del self._buf[: at + 2]
        return line

    def _head(self) -> tuple[str, int, dict[str, list[str]]]:
        start = 0
        while (at := self._buf.find(b"\r\n\r\n", start)) < 0:
            if len(self._buf) > MAX_HEAD:
                raise BadHttp(f"reply head over {MAX_HEAD} bytes")
            start = max(0, len(self._buf) - 3)
            if not self._more():
                raise BadHttp("reply head cut short" if self._buf else "closed without a reply")
        if at > MAX_HEAD:
            raise BadHttp(f"reply head over {MAX_HEAD} bytes")
        status_line, *lines = self._buf[:at].decode("latin-1").split("\r\n")
        del self._buf[: at + 4]
        version, _, rest = status_line.partition(" ")
        code = rest[:3]  # three digits, not starting with 0, then the end or a space
        if (
            not version.startswith("HTTP/1.")
            or not (code.isascii() and code.isdigit() and code[0] != "0")
            or rest[3:4] not in ("", " ")
        ):
            raise BadHttp(f"not an HTTP/1 status line: '{status_line}'")
        if len(lines) > MAX_HEADERS:
            raise BadHttp(f"more than {MAX_HEADERS} headers")
        headers: dict[str, list[str]] = {}
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip(" \t"):
                raise BadHttp(f"not a header line: '{line}'")
            headers.setdefault(name.lower(), []).append(value.strip(" \t"))
        return version, int(code), headers

    def _read(self) -> tuple[Reply, bool]:
        """The reply, and whether the connection can carry another request."""
        for _ in range(MAX_INTERIM + 1):
            version, status, headers = self._head()
            if status != 100:
                break
        else:
            raise BadHttp(f"more than {MAX_INTERIM} interim replies")
        keep = version != "HTTP/1.0" and "close" not in (
            v.strip().lower() for h in headers.get("connection", ()) for v in h.split(",")
        )
        if status < 200 or status in (204, 304):  # no body by definition (as http.client)
            return Reply(status=status, headers=headers, body=b""), keep and status >= 200
        encoding = headers.get("transfer-encoding")
        if encoding is not None:
            if [v.lower() for v in encoding] != ["chunked"]:
                raise Framing(f"HTTP {status} reply in Transfer-Encoding '{', '.join(encoding)}'")
            return Reply(status=status, headers=headers, body=self._chunked()), keep
        lengths = set(headers.get("content-length", ()))
        if not lengths:
            raise Framing(
                f"HTTP {status} reply with neither Content-Length nor chunks:"
                " a cut reply would look whole"
            )
        (text,) = lengths if len(lengths) == 1 else ("!",)
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise Framing(f"HTTP {status} reply with a bad Content-Length")
        length = int(text)
        if length > self._limit:
            raise Framing(f"reply over {self._limit} bytes")
        while len(self._buf) < length:
            if not self._more():
                got = len(self._buf)
                raise CutShort(got, length - got)
        body = bytes(self._buf[:length])
        del self._buf[:length]
        return Reply(status=status, headers=headers, body=body), keep

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_text = self._line(len(body)).partition(b";")[0].strip(b" \t")
            if not size_text or len(size_text) > 15 or size_text.strip(_HEX):
                raise Framing(f"a bad chunk size after {len(body)} bytes")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > self._limit:
                raise Framing(f"reply over {self._limit} bytes")
            while len(self._buf) < size + 2:
                if not self._more():
                    raise CutShort(len(body) + min(size, len(self._buf)), None)
            if self._buf[size : size + 2] != b"\r\n":
                raise Framing(f"a chunk not ended by CRLF after {len(body)} bytes")
            body += self._buf[:size]
            del self._buf[: size + 2]
        for _ in range(MAX_HEADERS + 1):  # trailers, up to the empty line
            if not self._line(len(body)):
                return bytes(body)
        raise Framing(f"more than {MAX_HEADERS} trailer lines")


class Encrypted(Exception):
    """OpenSSL asked for a passphrase: the key file is encrypted."""


def no_passphrase() -> bytes:
    # Without this callback OpenSSL prompts on the terminal, or reads the job's stdin.
    raise Encrypted


#: Addresses tried per endpoint: a name with a hundred would give each nothing.
MAX_ADDRESSES = 8
#: Lookups still stuck in a resolver that never answered: beyond this, no new one starts
#: (each is a thread waiting for libc; nothing may grow without bound).
MAX_STALLED = 8
# One entry per lookup running now: list.append and pop are atomic, no lock to import.
_stalled: list[str] = []


class Unresolved(OSError):
    """The resolver did not answer within the deadline."""


def resolve(host: str, port: int, end: float) -> list[Any]:
    """``getaddrinfo(host, port)`` for TCP, bounded by the monotonic ``end``.

    libc's resolver has no deadline of ours (resolv.conf's timeout and attempts, each
    nameserver in turn), so a name is looked up in a daemon thread that is abandoned,
    still waiting, when the time is up. An IP literal needs no resolver and no thread.
    """
    # Bytes, not str: a str host goes through the idna codec (~1 ms of import) first.
    name = host.encode("ascii") if host.isascii() else host
    try:
        return _socket.getaddrinfo(
            name, port, type=_socket.SOCK_STREAM, flags=_socket.AI_NUMERICHOST
        )
    except _socket.gaierror:
        pass
    import socket
    import threading

    left = end - time.monotonic()
    if left <= 0:
        raise Unresolved("name resolution timed out")
    if len(_stalled) >= MAX_STALLED:
        raise Unresolved(f"name resolution timed out ({MAX_STALLED} lookups still stuck)")
    done = threading.Event()
    result: list[Any] = []

    def lookup() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as e:
            result.append(e)
        finally:
            _stalled.pop()
            done.set()

    _stalled.append(host)
    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(left):
        raise Unresolved("name resolution timed out")
    if isinstance(result[0], OSError):
        raise result[0]
    return list(result[0])


def dial(infos: list[Any], end: float) -> Any:
    """A TCP socket connected to one of ``infos`` (getaddrinfo's), each address getting
    an equal share of the time left before ``end``: six addresses that swallow packets
    take the endpoint's time once, not six times."""
    infos = infos[:MAX_ADDRESSES]
    last: OSError = _socket.timeout("timed out")
    for i, (family, kind, proto, _, sockaddr) in enumerate(infos):
        left = end - time.monotonic()
        if left <= 0:
            break
        sock = _socket.socket(family, kind, proto)
        sock.settimeout(left / (len(infos) - i))
        try:
            sock.connect(sockaddr)
        except OSError as e:
            sock.close()
            last = e
            continue
        return sock
    raise last
