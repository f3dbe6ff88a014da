"""``--explain``: every interface considered, what excluded what, and the verdict.

Rendered from the very table and Verdict the decision used, as text for a person or as one
JSON object for monitoring (see ``report()`` for the fields).
"""

from __future__ import annotations

from _socket import inet_ntop
from typing import Any

from .decide import Request, Verdict, interface_excluded, why_not_counted
from .interfaces import IFA_F_DADFAILED, IFA_F_TENTATIVE, Interface


def report(request: Request, table: list[Interface], verdict: Verdict) -> dict[str, Any]:
    """The explanation as plain data: the JSON object ``--explain --json`` prints.

    ``master`` (bool, the verdict), ``split_brain`` (text or null), ``vips`` (as given,
    canonical), ``held`` ([{vip, interface}]), ``reasons`` (why other copies did not count),
    ``interfaces``: [{name, state, up, loopback, excluded (text or null), addresses:
    [{address, family (4|6), flags ([tentative, dadfailed, unknown]), vip (bool),
    counted (bool: a VIP that counts here), why_not (text or null: why a VIP does not)}]}].
    """
    wanted = {v.packed: v for v in request.vips}
    held = {(v.packed, name) for v, name in verdict.held}
    interfaces = []
    for iface in table:
        excluded = interface_excluded(request, iface)
        addresses = []
        for a in iface.addresses:
            flags = [] if a.flags is not None else ["unknown"]
            flags += ["tentative"] if a.flags and a.flags & IFA_F_TENTATIVE else []
            flags += ["dadfailed"] if a.flags and a.flags & IFA_F_DADFAILED else []
            vip = wanted.get(a.packed)
            counted = (a.packed, iface.name) in held
            addresses.append(
                {
                    "address": inet_ntop(a.family, a.packed),
                    "family": 6 if len(a.packed) == 16 else 4,
                    "flags": flags,
                    "vip": vip is not None,
                    "counted": counted,
                    "why_not": None
                    if vip is None or counted
                    else why_not_counted(request, iface, vip),
                }
            )
        interfaces.append(
            {
                "name": iface.name,
                "state": iface.state,
                "up": iface.up,
                "loopback": iface.loopback,
                "excluded": excluded,
                "addresses": addresses,
            }
        )
    return {
        "master": verdict.master,
        "split_brain": verdict.conflict,
        "vips": [str(v) for v in request.vips],
        "held": [{"vip": str(v), "interface": name} for v, name in verdict.held],
        "reasons": verdict.reasons,
        "interfaces": interfaces,
    }


def render_json(request: Request, table: list[Interface], verdict: Verdict) -> str:
    import json

    return json.dumps(report(request, table, verdict))


def render_text(request: Request, table: list[Interface], verdict: Verdict) -> str:
    """For a person: one block an interface, then the findings and the verdict."""
    data = report(request, table, verdict)
    lines = [f"VIPs: {' '.join(data['vips'])}", "interfaces:"]
    for iface in data["interfaces"]:
        kind = ", loopback" if iface["loopback"] else ""
        note = f"  -- excluded: {iface['excluded']}" if iface["excluded"] else ""
        lines.append(f"  {iface['name']} ({iface['state']}{kind}){note}")
        for a in iface["addresses"]:
            mark = ""
            if a["counted"]:
                mark = "  <- VIP, counts"
            elif a["vip"]:
                mark = f"  <- VIP, does not count: {a['why_not']}"
            flags = f" [{', '.join(a['flags'])}]" if a["flags"] else ""
            lines.append(f"    {a['address']}{flags}{mark}")
    *findings, answer = verdict.lines()
    lines += [f"- {line}" for line in findings]
    lines.append(f"verdict: {answer}")
    return "\n".join(lines)
