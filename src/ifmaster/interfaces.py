"""The one seam for OS data: local interfaces, their state and their addresses.

Addresses come from netifaces (the ``netifaces-plus`` distribution). Neither it nor psutil
says whether an interface is up or an IPv6 address is still tentative, so on Linux the state
comes from ``/sys/class/net`` and ``/proc/net/if_inet6``; elsewhere from psutil (loaded only
there, since it costs more than the interpreter's own start-up).
"""

from __future__ import annotations

import os
import sys
from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton

TYPE_CHECKING = False  # typing itself is not imported: it would cost more than this module
if TYPE_CHECKING:
    from collections.abc import Callable

    StateReader = Callable[[str], tuple[bool, bool, str]]

#: Kernel address flags (linux/if_addr.h) that mean "not really assigned yet / any more".
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
#: Interface flags (linux/if.h), as /sys/class/net/IF/flags shows them.
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
#: operstates that carry traffic; "unknown" is what loopback and many virtual links report.
_OPERSTATE_UP = ("up", "unknown")


class InterfaceError(OSError):
    """The local interfaces could not be read: if-master cannot decide, so it fails closed."""


class Address:
    """One address on an interface. ``flags`` are IFA_F_* bits; None: the kernel did not list it."""

    __slots__ = ("age", "family", "flags", "packed")

    def __init__(
        self, family: int, packed: bytes, flags: int | None = 0, age: float | None = None
    ) -> None:
        self.family = family
        self.packed = packed
        self.flags = flags
        self.age = age  # seconds since the kernel added it; only read for --min-hold

    def __repr__(self) -> str:
        return f"Address({inet_ntop(self.family, self.packed)!r}, flags={self.flags!r})"


class Interface:
    """One interface as netifaces names it (``eth0``, or a labelled ``eth0:1``)."""

    __slots__ = ("addresses", "base", "loopback", "name", "state", "up")

    def __init__(
        self,
        name: str,
        addresses: list[Address],
        up: bool = True,
        loopback: bool = False,
        state: str = "up",
        base: str | None = None,
    ) -> None:
        self.name = name
        # A label such as eth0:1 is an alias of eth0: it has no state of its own.
        self.base = base or name.partition(":")[0]
        self.addresses = addresses
        self.up = up
        self.loopback = loopback
        self.state = state  # why it is (not) up, in words: "up", "admin down", "lowerlayerdown"

    def __repr__(self) -> str:
        return f"Interface({self.name!r}, up={self.up}, loopback={self.loopback}, {self.addresses})"


def snapshot(ages: bool = False) -> list[Interface]:
    """Every local interface with its state and addresses. Raises InterfaceError.

    With ``ages``, each address also gets its age from the kernel (Linux netlink), for
    ``--min-hold``; if that cannot be read, InterfaceError: no age, no decision.
    """
    table = _snapshot()
    if ages:
        _attach_ages(table)
    return table


def _attach_ages(table: list[Interface]) -> None:
    if not sys.platform.startswith("linux"):
        raise InterfaceError("--min-hold needs Linux: address ages come from netlink")
    from .netlink import age_seconds, dump_addresses, now_centiseconds

    try:
        now = now_centiseconds()
        stamps = {(a.ifindex, a.address): a.cstamp for a in dump_addresses()}
        for iface in table:
            try:
                with open(f"/sys/class/net/{iface.base}/ifindex", "rb") as f:
                    index = int(f.read())
            except FileNotFoundError:  # gone since the snapshot: its ages stay unknown
                continue
            for a in iface.addresses:
                stamp = stamps.get((index, a.packed))
                a.age = None if stamp is None else age_seconds(stamp, now)
    except (OSError, ValueError) as e:  # NetlinkError is an OSError
        raise InterfaceError(f"--min-hold: cannot read address ages: {e}") from e


def _snapshot() -> list[Interface]:
    try:
        import netifaces

        if sys.platform.startswith("linux"):
            try:
                with open("/proc/net/if_inet6", "rb") as f:
                    v6flags = parse_if_inet6(f.read().decode())
            except FileNotFoundError:  # booted with ipv6.disable=1: no IPv6 addresses at all
                v6flags = {}
            real = set(os.listdir("/sys/class/net"))
            state_of: StateReader = _state_sysfs
        else:
            v6flags = None
            real = set()
            state_of = _state_psutil()
        table = []
        for name in netifaces.interfaces():
            try:
                raw = netifaces.ifaddresses(name)
            except ValueError:  # vanished since interfaces(): it holds nothing now
                continue
            base = base_name(name, real)
            up, loopback, state = state_of(base)
            addresses = _addresses(raw, netifaces.AF_INET, netifaces.AF_INET6, name, v6flags)
            table.append(Interface(name, addresses, up, loopback, state, base))
        return table
    except (OSError, ImportError) as e:
        raise InterfaceError(f"cannot read the local interfaces: {e}") from e


def base_name(name: str, real: set[str]) -> str:
    """The interface a (possibly labelled) name belongs to.

    An IPv4 label only has to begin with its interface's name: eth0:1 usually, but eth0vip
    is accepted too, so the longest real interface name it begins with wins.
    """
    if name in real or not real:
        return name.partition(":")[0]
    return max((r for r in real if name.startswith(r)), key=len, default=name.partition(":")[0])


def _addresses(
    raw: dict[int, list[dict[str, str]]],
    nf_inet: int,
    nf_inet6: int,
    name: str,
    v6flags: dict[tuple[str, bytes], int] | None,
) -> list[Address]:
    out = [Address(AF_INET, inet_pton(AF_INET, a["addr"])) for a in raw.get(nf_inet, ())]
    for a in raw.get(nf_inet6, ()):
        # netifaces writes link-local addresses as fe80::1%eth0; the scope is the interface.
        packed = inet_pton(AF_INET6, a["addr"].partition("%")[0])
        # Only Linux tells tentative/dadfailed apart; an address missing from its table
        # (added or removed between the two reads) gets None and does not count.
        flags = 0 if v6flags is None else v6flags.get((name, packed))
        out.append(Address(AF_INET6, packed, flags))
    return out


def parse_if_inet6(text: str) -> dict[tuple[str, bytes], int]:
    """``/proc/net/if_inet6`` -> {(interface, packed address): IFA_F_* flags}."""
    table = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 6:
            table[(fields[5], bytes.fromhex(fields[0]))] = int(fields[4], 16)
    return table


def _state_sysfs(base: str) -> tuple[bool, bool, str]:
    """(up, loopback, state) from /sys/class/net: admin up, carrier, operstate up/unknown."""
    path = f"/sys/class/net/{base}/"
    try:
        with open(path + "flags", "rb") as f:
            flags = int(f.read(), 16)
        loopback = bool(flags & IFF_LOOPBACK)
        if not flags & IFF_UP:
            return False, loopback, "admin down"  # reading carrier would fail with EINVAL
        # The kernel sets carrier at once but updates operstate through linkwatch, up to
        # a second later: a link whose peer just went away still reads "up" there.
        with open(path + "carrier", "rb") as f:
            if f.read().strip() != b"1":
                return False, loopback, "no carrier"
        with open(path + "operstate", "rb") as f:
            operstate = f.read().decode().strip()
    except FileNotFoundError:
        return False, False, "gone"
    return operstate in _OPERSTATE_UP, loopback, operstate


def _state_psutil() -> StateReader:
    import psutil

    stats = psutil.net_if_stats()

    def state_of(base: str) -> tuple[bool, bool, str]:
        st = stats.get(base)
        if st is None:
            return False, False, "gone"
        loopback = "loopback" in getattr(st, "flags", "").split(",")
        return st.isup, loopback, "up" if st.isup else "down"

    return state_of
