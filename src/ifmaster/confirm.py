"""Opt-in checks that need more than the interface table, run once decide() says master.

``--require-keepalived``: a VIP counts only while a live keepalived runs in this network
namespace (a killed keepalived leaves its VIP behind). ``--arp-probe``: nobody else on the
segment may answer for a held VIP, asked by ARP (IPv4) or Neighbor Discovery (IPv6): split
brain. Each adds its finding to the Verdict.
"""

from __future__ import annotations

from . import status
from .decide import Request, Verdict
from .errors import IfMasterError
from .interfaces import Interface


def confirm(request: Request, verdict: Verdict, table: list[Interface]) -> Verdict:
    """The verdict after the opt-in checks; raises IfMasterError when a check cannot run."""
    if request.require_keepalived:
        from .keepalived import KeepalivedCheckError, keepalived_pids

        try:
            pids = keepalived_pids()
        except KeepalivedCheckError as e:
            raise IfMasterError(status.FAILURE, str(e)) from None
        if not pids:
            why = "no live keepalived in this network namespace: the VIP is a stale leftover"
            return Verdict([], verdict.reasons + [why])
        verdict.reasons.append(f"keepalived is running here (PID {', '.join(map(str, pids))})")
    if request.arp_probe:
        from .probe import ProbeError, own_macs, probe_all, probe_interface

        try:
            # A label (eth0:vip) has no link of its own: probe from its interface.
            bases = {i.name: i.base for i in table}
            targets = [(probe_interface(bases[ifname]), vip.packed) for vip, ifname in verdict.held]
            found = probe_all(targets, own_macs())
        except (ProbeError, OSError) as e:
            raise IfMasterError(status.FAILURE, str(e)) from None
        conflicts = [
            f"{vip} on {ifname} is also answered by {', '.join(m.hex(':') for m in found[t])}"
            for (vip, ifname), t in zip(verdict.held, targets)
            if found[t]
        ]
        if conflicts:
            return Verdict(verdict.held, verdict.reasons, "; ".join(conflicts))
        verdict.reasons.append(
            "ARP/ND probe: no other machine answers for "
            + ", ".join(sorted({str(v) for v, _ in verdict.held}))
        )
    return verdict
