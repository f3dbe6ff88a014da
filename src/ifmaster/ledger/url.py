"""The etcd ledger's URL grammar: ``etcd://HOST:PORT[,HOST:PORT...]/PREFIX``."""

from __future__ import annotations

import _socket

from ..errors import shown
from .secret import ENV_PASSWORD, HIDDEN

MAX_ENDPOINTS = 16
MAX_URL_LEN = 1000
MAX_PREFIX_LEN = 200

_PREFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


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


def redacted(text: str) -> str:
    """``text`` with any ``user:password@`` in it hidden, for a message.

    Everything up to the last ``@`` goes (after ``scheme://``, when there is one): a
    password may hold ``/``, ``:``, ``,``, even ``@``, so no finer cut is safe.
    """
    if "@" not in text:
        return text
    scheme, sep, _ = text.partition("://")
    keep = scheme + sep if sep and "@" not in scheme else ""
    return f"{keep}{HIDDEN}@{text.rpartition('@')[2]}"


def _shown(text: str) -> str:
    return shown(redacted(text))


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
        # inet_pton, as ipaddress.IPv4Address (4 decimal octets, no leading zeros), without
        # ipaddress's ~1 ms of import on every ledger run.
        try:
            return _socket.inet_ntop(_socket.AF_INET, _socket.inet_pton(_socket.AF_INET, text))
        except (OSError, ValueError):
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
        data = text
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raw = data.decode("utf-8", "surrogateescape")
            raise ValueError(f"ledger URL {_shown(raw)} is not UTF-8") from None
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
    if "@" in rest:  # never a prefix's character: "u:p/w@h" is a password with a slash
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
