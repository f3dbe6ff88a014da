"""The wire under every ledger call: a socket bounded by one deadline, TLS, server time."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from .records import ServerTime

#: An HTTP Date's step: whole seconds (RFC 9110's IMF-fixdate).
DATE_RESOLUTION = 1.0


def _date(date: str | None) -> float | None:
    """An HTTP Date as Unix time, or None when absent or not IMF-fixdate."""
    if not date:
        return None
    try:  # the fixed IMF-fixdate form Go's net/http writes; %a/%b are the C locale's
        t = datetime.strptime(date, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    except ValueError:
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
    import socket

    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass
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
    import socket

    infos = infos[:MAX_ADDRESSES]
    last: OSError = socket.timeout("timed out")
    for i, (family, kind, proto, _, sockaddr) in enumerate(infos):
        left = end - time.monotonic()
        if left <= 0:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(left / (len(infos) - i))
        try:
            sock.connect(sockaddr)
        except OSError as e:
            sock.close()
            last = e
            continue
        return sock
    raise last
