"""Opt-in checks that need more than the interface table, run once decide() says master.

``--require-keepalived``: a VIP counts only while a live keepalived runs in this network
namespace (a killed keepalived leaves its VIP behind). ``--arp-probe``: nobody else on the
segment may answer for a held VIP (split brain): ARP for IPv4, Neighbor Discovery for IPv6.
Each returns a new Verdict carrying its finding, so every rendering shows it.
"""

from __future__ import annotations

from . import kinds, status
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
                f.refused(STALE, kinds.KEEPALIVED_DOWN) if f.counted else f
                for f in verdict.findings
            ]
        )
    note = f"keepalived is running here (PID {', '.join(map(str, pids))})"
    return verdict.replace(notes=[*verdict.notes, note])


def _arp_probe(verdict: Verdict) -> Verdict:
    from .probe import ProbeError, own_macs, probe_all, probe_interface

    held = verdict.held
    try:
        # Every held VIP of both families at once: ARP for IPv4, Neighbor Discovery for
        # IPv6, in one poll loop, so the probes' times do not add up.
        targets = [(probe_interface(f.interface), f.vip.packed) for f in held]
        found = probe_all(targets, own_macs())
    except (ProbeError, OSError) as e:
        raise IfMasterError(status.FAILURE, str(e)) from None
    conflicts = [
        f"{f.vip} on {f.where} is also answered by {', '.join(m.hex(':') for m in found[t])}"
        for f, t in zip(held, targets)
        if found[t]
    ]
    if conflicts:
        return verdict.replace(conflict="; ".join(conflicts))
    vips = ", ".join(sorted({str(f.vip) for f in held}))
    return verdict.replace(
        notes=[*verdict.notes, f"ARP/ND probe: no other machine answers for {vips}"]
    )
