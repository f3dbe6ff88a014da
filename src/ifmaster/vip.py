"""VIP text to address: ``ADDR``, keepalived's ``ADDR/PREFIX``, and IPv6 ``ADDR%SCOPE``.

Addresses are compared as packed bytes from ``inet_pton``, never as text, so ``10.0.0.1``
cannot match ``10.0.0.10``. ``_socket`` is used rather than ``ipaddress`` because this runs
on every guarded cron tick and ``ipaddress`` costs more than the whole rest of the check
(it imports functools and collections); both accept exactly the same address texts.
"""

from __future__ import annotations

from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton

TYPE_CHECKING = False  # typing is not loaded on the hot path
if TYPE_CHECKING:
    from collections.abc import Mapping

#: Holds the VIPs when no --vip is given, so one line atop a crontab serves every entry.
ENV_VIP = "IF_MASTER_VIP"
_DIGITS = frozenset("0123456789")


class VipError(ValueError):
    """A VIP text that is not a usable address; the message names the bad value."""


class Vip:
    """One floating address: family, packed bytes and an optional IPv6 scope (interface)."""

    __slots__ = ("family", "packed", "scope")

    def __init__(self, family: int, packed: bytes, scope: str | None) -> None:
        self.family = family
        self.packed = packed
        self.scope = scope

    def __str__(self) -> str:
        canonical = inet_ntop(self.family, self.packed)
        return f"{canonical}%{self.scope}" if self.scope else canonical

    def __repr__(self) -> str:
        return f"Vip({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vip) and (self.packed, self.scope) == (other.packed, other.scope)

    def __hash__(self) -> int:
        return hash((self.packed, self.scope))


#: Linux's IFNAMSIZ less the terminating NUL: no interface or label name is longer.
MAX_IFNAME = 15


_V4_MAPPED = b"\0" * 10 + b"\xff\xff"


def could_name_device(text: str, *, label: bool = False) -> bool:
    """Whether the kernel could call a device (``label``: an IPv4 label) ``text``.

    dev_valid_name: 1 to 15 bytes, not . or .., no / or white space, and no ':' (which
    IPv4 labels such as eth0:1 may have). '%' is a template to the kernel, never a name.
    """
    size = len(text.encode("utf-8", "surrogateescape"))
    bad = "/%" if label else "/%:"
    return (
        0 < size <= MAX_IFNAME
        and text not in (".", "..")
        and not any(c in bad or c.isspace() for c in text)
    )


def parse_vip(text: str) -> Vip:
    """Parse one VIP, or raise VipError saying what is wrong with it."""
    if not text:
        raise VipError("empty VIP: expected an IPv4 or IPv6 address")
    addr, slash, prefix = text.partition("/")
    addr, percent, scope = addr.partition("%")
    family = AF_INET6 if ":" in addr else AF_INET
    try:
        packed = inet_pton(family, addr)
    except (OSError, ValueError):  # ValueError: embedded NUL
        raise VipError(f"{text!r} is not an IP address") from None
    if percent and (family == AF_INET or not scope):
        raise VipError(f"{text!r}: a %scope is only valid after an IPv6 address")
    if percent and not could_name_device(scope):
        raise VipError(
            f"{text!r}: the %scope must name an interface (1 to {MAX_IFNAME} bytes, no / : %"
            " or white space)"
        )
    if family == AF_INET6 and packed[:12] == _V4_MAPPED:
        # The kernel holds IPv4 addresses as AF_INET: this spelling would never match.
        v4 = ".".join(str(b) for b in packed[12:])
        raise VipError(f"{text!r} is an IPv4-mapped IPv6 address: write it as {v4}")
    if slash:
        limit = 32 if family == AF_INET else 128
        # Digits only: int() would also accept "+8", " 8" and "٨".
        if not prefix or not _DIGITS.issuperset(prefix) or int(prefix) > limit:
            raise VipError(f"{text!r}: prefix length must be 0..{limit}")
    if not packed.strip(b"\0"):
        raise VipError(f"{text!r} is the unspecified address, which no host can hold")
    if packed[0] == 0xFF if family == AF_INET6 else 224 <= packed[0] <= 239:
        raise VipError(f"{text!r} is a multicast address, not a floating IP")
    return Vip(family, packed, scope or None)


def vips_from_env(environ: Mapping[str, str]) -> list[Vip]:
    """The VIPs of ``IF_MASTER_VIP``, used when no ``--vip`` is given."""
    text = environ.get(ENV_VIP)
    if text is None:
        raise VipError(f"no VIP given: use --vip ADDR or set {ENV_VIP}")
    # Debian's cron strips one pair of quotes from a crontab variable, others keep them
    # (Ansible's cron module always writes NAME="value"): strip one matching pair, so the
    # same line means the same on every node; any other quote is refused, not guessed at.
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        stripped = stripped[1:-1]
    words = stripped.split()
    if not words:
        raise VipError(f"{ENV_VIP} is set but holds no address")
    if any(q in stripped for q in "\"'"):
        raise VipError(f"{ENV_VIP}={text!r}: quotes inside the value; write the address(es) bare")
    try:
        return [parse_vip(word) for word in words]
    except VipError as e:
        raise VipError(f"{ENV_VIP}: {e}") from None
