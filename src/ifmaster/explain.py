"""``--explain``: every interface considered, what excluded what, and the verdict.

A rendering of the very table and Verdict the decision used, as text for a person or as one
JSON object for monitoring (see ``report()`` for the fields): whether a VIP counts, and why
not, is read from the Verdict's findings, never worked out again here.
"""

from __future__ import annotations

from typing import Any

from .decide import interface_excluded
from .errors import printable
from .model import IFA_F_DADFAILED, IFA_F_TENTATIVE, Address, Finding, Interface, Request, Verdict


def report(request: Request, table: list[Interface], verdict: Verdict) -> dict[str, Any]:
    """The explanation as plain data: the JSON object ``--explain --json`` prints.

    ``master`` (bool, the verdict), ``split_brain`` (text or null), ``vips`` (as given,
    canonical), ``held`` ([{vip, interface, label}]), ``findings`` (every copy of a VIP:
    {vip, interface, label, counted, why_not, age}), ``missing`` (VIPs on no interface),
    ``notes`` (the opt-in checks' findings), ``warnings``, ``reasons`` (all of it in words),
    ``interfaces``: [{name, index, state, up, loopback, excluded (text or null), addresses:
    [{address, family (4|6), label, flags ([tentative, dadfailed, unknown]), vip (bool),
    counted (bool), why_not (text or null)}]}].
    """
    by_copy = {(f.index, f.interface, f.vip.packed): f for f in verdict.findings}
    wanted = {v.packed for v in request.vips}
    interfaces = []
    for iface in table:
        addresses = []
        for a in iface.addresses:
            f = by_copy.get((iface.index, iface.name, a.packed))
            addresses.append(_address(a, a.packed in wanted, f))
        interfaces.append(
            {
                "name": iface.name,
                "index": iface.index,
                "state": iface.state,
                "up": iface.up,
                "loopback": iface.loopback,
                "excluded": interface_excluded(request, iface),
                "addresses": addresses,
            }
        )
    return {
        "master": verdict.master,
        "split_brain": verdict.conflict,
        "vips": [str(v) for v in request.vips],
        "held": [
            {"vip": str(f.vip), "interface": f.interface, "label": f.label} for f in verdict.held
        ],
        "findings": [_finding(f) for f in verdict.findings],
        "missing": [str(v) for v in verdict.missing],
        "notes": verdict.notes,
        "warnings": verdict.warnings,
        "reasons": verdict.lines()[:-1],
        "interfaces": interfaces,
    }


def _address(a: Address, vip: bool, f: Finding | None) -> dict[str, Any]:
    flags = [] if a.flags is not None else ["unknown"]
    flags += ["tentative"] if a.flags and a.flags & IFA_F_TENTATIVE else []
    flags += ["dadfailed"] if a.flags and a.flags & IFA_F_DADFAILED else []
    return {
        "address": a.text,
        "family": 6 if len(a.packed) == 16 else 4,
        "label": a.label,
        "flags": flags,
        "vip": vip,
        "counted": bool(f and f.counted),
        "why_not": f.why_not if f else None,
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "vip": str(f.vip),
        "interface": f.interface,
        "label": f.label,
        "counted": f.counted,
        "why_not": f.why_not,
        "age": f.age,
    }


def render(kind: str, request: Request, table: list[Interface], verdict: Verdict) -> str:
    """``kind`` "json": one JSON object; "text": one block an interface, then the verdict."""
    data = report(request, table, verdict)
    if kind == "json":
        import json

        return json.dumps(data)
    lines = [f"VIPs: {' '.join(data['vips'])}", "interfaces:"]
    for iface in data["interfaces"]:
        kind_ = ", loopback" if iface["loopback"] else ""
        note = f"  -- excluded: {iface['excluded']}" if iface["excluded"] else ""
        lines.append(f"  {iface['name']} ({iface['state']}{kind_}){note}")
        for a in iface["addresses"]:
            mark = ""
            if a["counted"]:
                mark = "  <- VIP, counts"
            elif a["vip"]:
                mark = f"  <- VIP, does not count: {a['why_not']}"
            flags = f" [{', '.join(a['flags'])}]" if a["flags"] else ""
            label = f" (label {a['label']})" if a["label"] else ""
            lines.append(f"    {a['address']}{label}{flags}{mark}")
    *findings, answer = verdict.lines()
    lines += [f"- {line}" for line in findings]
    lines.append(f"verdict: {answer}")
    # A name or label may hold a newline or an escape: each line stays one line.
    return "\n".join(printable(line) for line in lines)
