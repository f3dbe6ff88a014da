"""Opt-in checks that need more than the interface table, run once decide() says master.

``--require-keepalived``: a VIP counts only while a live keepalived runs in this network
namespace (a killed keepalived leaves its VIP behind). ``--arp-probe``: nobody else on the
segment may answer for a held VIP (split brain). Each returns a new Verdict carrying its
finding, so every rendering shows it.
"""

from __future__ import annotations

from . import status
from .errors import IfMasterError
from .model import Request, Verdict

STALE = "no live keepalived in this network namespace: the VIP is a stale leftover"


def confirm(request: Request, verdict: Verdict) -> Verdict:
    """The verdict after the opt-in checks; raises IfMasterError when a check cannot run."""
    if request.require_keepalived:
        verdict = _keepalived(verdict)
    if request.arp_probe and verdict.master:
        verdict = _arp_probe(verdict)
    return verdict


def _keepalived(verdict: Verdict) -> Verdict:
    from .keepalived import KeepalivedCheckError, keepalived_pids

    try:
        pids = keepalived_pids()
    except KeepalivedCheckError as e:
        raise IfMasterError(status.FAILURE, str(e)) from None
    if not pids:
        return verdict.replace(
            findings=[
                f.refused(STALE, "keepalived_down") if f.counted else f for f in verdict.findings
            ]
        )
    note = f"keepalived is running here (PID {', '.join(map(str, pids))})"
    return verdict.replace(notes=[*verdict.notes, note])


def _arp_probe(verdict: Verdict) -> Verdict:
    from .probe import ProbeError, own_macs, probe, probe_interface

    try:
        mine = own_macs()
        for f in verdict.held:
            others = probe(probe_interface(f.interface), f.vip.packed, mine)
            if others:
                macs = ", ".join(m.hex(":") for m in others)
                return verdict.replace(conflict=f"{f.vip} on {f.where} is also answered by {macs}")
    except (ProbeError, OSError) as e:
        raise IfMasterError(status.FAILURE, str(e)) from None
    held = ", ".join(sorted({str(f.vip) for f in verdict.held}))
    return verdict.replace(
        notes=[*verdict.notes, f"ARP probe: no other machine answers for {held}"]
    )
