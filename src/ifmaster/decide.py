"""The decision, as a pure function of the request and a table of interfaces.

Every rule lives here (exact match, loopback, down, tentative/dadfailed, ``--interface``,
IPv6 scope), and every exclusion of a matching address leaves a reason, so ``--verbose``
renders the very decision that was acted on.
"""

from __future__ import annotations

from .interfaces import IFA_F_DADFAILED, IFA_F_TENTATIVE, Interface
from .vip import Vip


class Request:
    """What the user asked: which VIPs, where to look, whether loopback counts."""

    __slots__ = (
        "arp_probe",
        "include_loopback",
        "interfaces",
        "min_hold",
        "require_keepalived",
        "vips",
    )

    def __init__(
        self,
        vips: list[Vip],
        interfaces: frozenset[str] = frozenset(),
        include_loopback: bool = False,
        require_keepalived: bool = False,
        arp_probe: bool = False,
        min_hold: float | None = None,
    ) -> None:
        self.vips = vips
        self.interfaces = interfaces  # empty: every interface
        self.include_loopback = include_loopback
        # Opt-in checks that need more than the interface table: see confirm.py.
        self.require_keepalived = require_keepalived
        self.arp_probe = arp_probe
        # Seconds a VIP must have been held (address age) before it counts.
        self.min_hold = min_hold


class Verdict:
    """The answer: master or not, the (VIP, interface) pairs held, and why others did not count.

    ``conflict`` is set when another machine also answers for a held VIP (split brain): then
    this host is not the master either, and if-master says so loudly.
    """

    __slots__ = ("conflict", "held", "master", "reasons")

    def __init__(
        self, held: list[tuple[Vip, str]], reasons: list[str], conflict: str | None = None
    ) -> None:
        self.held = held
        self.master = bool(held) and conflict is None
        self.reasons = reasons
        self.conflict = conflict

    def lines(self) -> list[str]:
        """The decision in words, one finding a line."""
        out = [f"{vip} held on {name}" for vip, name in self.held] + self.reasons
        vips = " ".join(sorted({str(v) for v, _ in self.held})) if self.held else ""
        if self.conflict:
            out.append(f"split brain: {self.conflict}")
        out.append(f"master: holds {vips}" if self.master else "not master")
        return out


def decide(request: Request, table: list[Interface]) -> Verdict:
    """Does this host hold one of the VIPs on an interface that counts?"""
    held: list[tuple[Vip, str]] = []
    reasons: list[str] = []
    seen = set()
    for iface in table:
        for vip in request.vips:
            if not any(a.packed == vip.packed for a in iface.addresses):
                continue
            seen.add(vip)
            why = why_not_counted(request, iface, vip)
            if why:
                reasons.append(f"{vip} on {iface.name} does not count: {why}")
            else:
                held.append((vip, iface.name))
                if request.min_hold is not None:
                    age = _age(iface, vip)
                    reasons.append(f"{vip} on {iface.name} held for {age:.1f} s")
    reasons += [f"{vip} is not on any interface" for vip in request.vips if vip not in seen]
    return Verdict(held, reasons)


def why_not_counted(request: Request, iface: Interface, vip: Vip) -> str | None:
    """Why this interface's copy of the VIP does not count, or None if it does."""
    if vip.scope and vip.scope not in (iface.name, iface.base):
        return f"the VIP is scoped to {vip.scope}"
    why = interface_excluded(request, iface) or address_excluded(iface, vip.packed)
    if why or request.min_hold is None:
        return why
    age = _age(iface, vip)
    if age is None:
        return "address age unknown (--min-hold)"
    if age < request.min_hold:
        return f"held for {age:.1f} s, less than --min-hold {request.min_hold:g} s"
    return None


def _age(iface: Interface, vip: Vip) -> float | None:
    """How long the VIP has been on this interface (the oldest copy), if known."""
    ages = [a.age for a in iface.addresses if a.packed == vip.packed and a.age is not None]
    return max(ages, default=None)


def interface_excluded(request: Request, iface: Interface) -> str | None:
    """Why no address on this interface counts, or None."""
    names = request.interfaces
    # Exact names only: vrrp.5 must not cover vrrp.51. A label (eth0:1) is covered by its base.
    if names and iface.name not in names and iface.base not in names:
        return "not in --interface " + ",".join(sorted(names))
    if iface.loopback and not request.include_loopback:
        return "loopback interface (LVS-DR real servers carry VIPs there; --include-loopback)"
    if not iface.up:
        return f"interface is not up ({iface.state})"
    return None


def address_excluded(iface: Interface, packed: bytes) -> str | None:
    """Why this address on an interface that counts is not really assigned, or None."""
    flags = [a.flags for a in iface.addresses if a.packed == packed]
    if any(f is not None and not f & (IFA_F_TENTATIVE | IFA_F_DADFAILED) for f in flags):
        return None
    if None in flags:
        return "address state unknown (not listed in /proc/net/if_inet6)"
    if any(f & IFA_F_DADFAILED for f in flags if f is not None):
        return "duplicate address detection failed (dadfailed)"
    return "tentative (duplicate address detection still running)"
