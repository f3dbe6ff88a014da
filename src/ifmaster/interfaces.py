"""The one seam for OS data: the local interfaces, their state and their addresses.

On Linux one rtnetlink socket reads it all in one consistent pass: the addresses from one
RTM_GETADDR dump (with their flags, IPv4 labels, ages and the kernel's interface index),
then the links that hold them by that index (RTM_GETLINK). An address belongs to the device
whose index the kernel gives, never to the one its label's spelling suggests: keepalived
passes ``label vip21`` to the kernel unchecked, and the kernel accepts any label.

The cost is linear in the host's size: a plain run decodes only the addresses equal to a
VIP (the dump is searched for their bytes) and asks for only the links holding one, so a
host with 2,000 links or 50,000 addresses costs the kernel's dump and byte searches in it:
only the datagrams holding a VIP's bytes, an interrupted dump's flag or its end are walked.
``--explain`` reads everything.

Elsewhere (no netlink) netifaces gives the addresses and psutil the state: no IPv6 flags,
labels or ages there.
"""

from __future__ import annotations

import sys
from _socket import AF_INET, AF_INET6, inet_pton

from .model import Address, Interface

TYPE_CHECKING = False  # typing itself is not imported: it would cost more than this module
if TYPE_CHECKING:
    from .netlink import AddrInfo, LinkInfo

#: Fresh attempts when the table changed while it was read (a dump raced with a change,
#: or a link vanished between the address dump and the link request).
_TRIES = 5
#: The kernel's address stamps (jiffies since boot) lag CLOCK_MONOTONIC by a per-boot
#: constant (0.25 s measured here, HZ=250). Ages are understated by this much so that an
#: age is never overstated: --min-hold errs towards "not held long enough".
STAMP_LAG = 1.0


class InterfaceError(OSError):
    """The local interfaces could not be read: if-master cannot decide, so it fails closed."""


def snapshot(
    *,
    vips: frozenset[bytes] | None = None,
    names: frozenset[str] = frozenset(),
    ages: bool = False,
) -> list[Interface]:
    """The local interfaces with their state and addresses. Raises InterfaceError.

    ``vips`` (packed addresses): only the addresses equal to one, and only the interfaces
    holding one or named in ``names``: what decide() needs. None: every interface and
    address. ``ages``: each address also gets its age, for --min-hold.
    """
    if not sys.platform.startswith("linux"):
        if ages:
            raise InterfaceError("--min-hold needs Linux: address ages come from netlink")
        return _snapshot_portable()
    from . import netlink

    try:
        for _ in range(_TRIES):
            try:
                table = _read(vips, names, ages)
            except netlink.DumpInterrupted:
                continue
            if table is not None:
                return table
    except OSError as e:  # NetlinkError is one
        raise InterfaceError(f"cannot read the local interfaces (rtnetlink): {e}") from e
    raise InterfaceError(
        f"cannot read the local interfaces: they changed during each of {_TRIES} reads"
    )


def _read(
    vips: frozenset[bytes] | None, names: frozenset[str], ages: bool
) -> list[Interface] | None:
    """One read of the table, or None when it contradicts itself (read again)."""
    from . import netlink as nl

    with nl.Session() as session:
        addrs = session.addresses(_family(vips), vips)
        now = nl.now_centiseconds() if ages else 0
        if vips is None:
            links = {link.index: link for link in session.links()}
        else:
            links = {}
            for index in {a.ifindex for a in addrs}:
                links.update((link.index, link) for link in session.links(index=index))
            for name in names:
                links.update((link.index, link) for link in session.links(name=name))
    if any(a.ifindex not in links for a in addrs):
        return None  # an address on a link that is gone: the link went after the dump
    by_index: dict[int, list[Address]] = {index: [] for index in links}
    for a in addrs:
        by_index[a.ifindex].append(_address(a, links[a.ifindex].name, ages, now))
    return [_interface(link, by_index[index]) for index, link in links.items()]


def _family(vips: frozenset[bytes] | None) -> int:
    """The one address family worth dumping, or 0 (AF_UNSPEC) for both."""
    if vips:
        sizes = {len(v) for v in vips}
        if sizes == {4}:
            return AF_INET
        if sizes == {16}:
            return AF_INET6
    return 0


def _address(a: AddrInfo, device: str, ages: bool, now: int) -> Address:
    age = None
    if ages and a.cstamp is not None:
        from .netlink import age_seconds

        raw = age_seconds(a.cstamp, now)
        age = None if raw is None else max(0.0, raw - STAMP_LAG)
    # The kernel reports every IPv4 address with a label, the device's name when none was
    # given; only a label of its own is worth showing.
    label = a.label if a.label and a.label != device else None
    return Address(family=a.family, packed=a.address, flags=a.flags, age=age, label=label)


def _interface(link: LinkInfo, addresses: list[Address]) -> Interface:
    from .netlink import IFF_LOOPBACK, IFF_LOWER_UP, IFF_UP, OPERSTATES

    loopback = bool(link.flags & IFF_LOOPBACK)
    if not link.flags & IFF_UP:
        up, state = False, "admin down"
    elif not link.flags & IFF_LOWER_UP:
        # The carrier is set at once by the driver; operstate follows through linkwatch up
        # to a second later, so a link whose peer just went away can still read "up".
        up, state = False, "no carrier"
    else:
        op = link.operstate
        state = OPERSTATES[op] if op < len(OPERSTATES) else f"operstate {op}"
        up = state in ("up", "unknown")  # "unknown": loopback and many virtual links
    return Interface(
        name=link.name,
        index=link.index,
        addresses=addresses,
        up=up,
        loopback=loopback,
        state=state,
    )


def _snapshot_portable() -> list[Interface]:
    """netifaces for addresses, psutil for state: hosts without rtnetlink."""
    try:
        import netifaces
        import psutil

        stats = psutil.net_if_stats()
        table = []
        for name in netifaces.interfaces():
            try:
                raw = netifaces.ifaddresses(name)
            except ValueError:  # vanished since interfaces(): it holds nothing now
                continue
            addresses = [
                Address(family=AF_INET, packed=inet_pton(AF_INET, a["addr"]))
                for a in raw.get(netifaces.AF_INET, ())
            ]
            addresses += [
                # netifaces writes link-local addresses as fe80::1%eth0.
                Address(family=AF_INET6, packed=inet_pton(AF_INET6, a["addr"].partition("%")[0]))
                for a in raw.get(netifaces.AF_INET6, ())
            ]
            st = stats.get(name)
            up = bool(st and st.isup)
            loopback = bool(st) and "loopback" in getattr(st, "flags", "").split(",")
            state = "gone" if st is None else ("up" if up else "down")
            table.append(
                Interface(name=name, addresses=addresses, up=up, loopback=loopback, state=state)
            )
        return table
    except (OSError, ImportError, ValueError) as e:
        raise InterfaceError(f"cannot read the local interfaces: {e}") from e
