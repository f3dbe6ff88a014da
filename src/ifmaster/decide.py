"""The decision, as a pure function of the request and a table of interfaces.

Every rule lives here (exact match, IPv6 scope, ``--interface``, loopback, down,
tentative/dadfailed, ``--min-hold``), and each copy of a VIP leaves a Finding saying whether
it counts and why not, so every mode renders the very decision that was acted on.
"""

from __future__ import annotations

from . import kinds
from .model import IFA_F_DADFAILED, IFA_F_TENTATIVE, Address, Finding, Interface, Request, Verdict

UNKNOWN_AGE = "address age unknown (--min-hold)"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .vip import Vip


def decide(request: Request, table: list[Interface]) -> Verdict:
    """Does this host hold one of the VIPs on an interface that counts?"""
    findings: list[Finding] = []
    seen: set[Vip] = set()
    for iface in table:
        for vip in request.vips:
            copies = [a for a in iface.addresses if a.packed == vip.packed]
            if not copies:
                continue
            seen.add(vip)
            # Several copies (other prefix lengths, labels): the one that counts, if any.
            options = [_finding(request, iface, vip, a) for a in copies]
            findings.append(next((f for f in options if f.counted), options[0]))
    return Verdict(
        findings=findings,
        missing=[vip for vip in request.vips if vip not in seen],
        warnings=_unknown_names(request, table),
    )


def _finding(request: Request, iface: Interface, vip: Vip, address: Address) -> Finding:
    age = None
    if request.min_hold is not None:
        # The oldest copy on this interface: an age only grows while the VIP stays.
        ages = [a.age for a in iface.addresses if a.packed == vip.packed and a.age is not None]
        age = max(ages, default=None)
    why, kind = why_not_counted(request, iface, vip, address, age)
    return Finding(
        vip=vip,
        interface=iface.name,
        index=iface.index,
        label=address.label,
        why_not=why,
        kind=kind,
        age=age,
    )


def why_not_counted(
    request: Request, iface: Interface, vip: Vip, address: Address, age: float | None
) -> tuple[str | None, str | None]:
    """Why this copy of the VIP does not count (None if it does), and the reason's kind
    for metrics: kinds.TOO_YOUNG when --min-hold is what said no, else None."""
    if vip.scope and vip.scope != iface.name:
        return f"the VIP is scoped to {vip.scope}", None
    why = interface_excluded(request, iface, address.label) or address_excluded(address)
    if why or request.min_hold is None:
        return why, None
    if age is None:
        return UNKNOWN_AGE, kinds.TOO_YOUNG
    if age < request.min_hold:
        return f"held for {age:.1f} s, less than --min-hold {request.min_hold:g} s", kinds.TOO_YOUNG
    return None, None


def interface_excluded(request: Request, iface: Interface, label: str | None = None) -> str | None:
    """Why no address (with this label) on this interface counts, or None."""
    names = request.interfaces
    # Exact names only: vrrp.5 must not cover vrrp.51. An IPv4 label is named as itself, and
    # its device's name covers it (the kernel's index says which device, not the spelling).
    if names and iface.name not in names and label not in names:
        return "not in --interface " + ",".join(sorted(names))
    if iface.loopback and not request.include_loopback:
        return "loopback interface (LVS-DR real servers carry VIPs there; --include-loopback)"
    if not iface.up:
        return f"interface is not up ({iface.state})"
    return None


def address_excluded(address: Address) -> str | None:
    """Why this address is not really assigned yet (or any more), or None."""
    flags = address.flags
    if flags is None:
        return "address state unknown"
    if flags & IFA_F_DADFAILED:
        return "duplicate address detection failed (dadfailed)"
    if flags & IFA_F_TENTATIVE:
        return "tentative (duplicate address detection still running)"
    return None


def _unknown_names(request: Request, table: list[Interface]) -> list[str]:
    """A warning for each --interface that names no interface or label in the table.

    The job then runs nowhere, and the operator must be told why, whatever the flags.
    """
    known = {i.name for i in table} | {a.label for i in table for a in i.addresses if a.label}
    return [
        f"--interface {name}: no interface of that name here, and no VIP carries it as a label"
        for name in sorted(request.interfaces)
        if name not in known
    ]
