"""Split brain in the real lab: what --arp-probe and --require-keepalived make of two holders.

Two ways a keepalived pair ends up with the VIP on both nodes, each driven for real:

- **The master's keepalived is SIGKILLed**: nothing removes its VIP, the backup times out and
  claims it too (see test_hard_crash.py). A plain guard runs the job twice; ``--arp-probe``
  refuses on both nodes (each kernel answers ARP for the VIP); ``--require-keepalived``
  discounts the dead node's stale address, so exactly the live master runs.
- **Adverts lost, link up**: a switch (or firewall) that stops forwarding VRRP's multicast
  adverts while unicast and broadcast traffic still flow. Both keepalived become MASTER with
  their link up, keepalived is alive on both, so only ``--arp-probe`` can tell.

How the adverts are lost: the lab's bridge ports get ``mcast_flood off`` (``bridge link set``,
iproute2, which the lab needs anyway). VRRP over IPv4 goes to the multicast group 224.0.0.18,
and with multicast snooping off (the lab's setting) the bridge floods every multicast frame
to the ports whose ``mcast_flood`` flag is set, so with it cleared nothing VRRP reaches the
other node. ARP is broadcast (requests, probes, gratuitous ARP: the ``bcast_flood`` flag) or
unicast (replies), so it still passes; the probe finding the peer proves it in every test.
The alternatives were worse: an nftables/ebtables rule needs a package and kernel modules that
are not always there, and ``tc`` filters need action modules that this very machine cannot
load; a second ``virtual_router_id`` on one node (a misconfiguration the issue names) would
give the same two masters but cannot start in ``make_lab`` (it waits for a single holder) and
cannot heal without restarting keepalived. Clearing one flag needs nothing and undoes cleanly.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.lab import (
    ADVERT_INT,
    Figure,
    Lab,
    MakeLab,
    Node,
    assert_ticks,
    first_time,
    master_down_interval,
    tick,
    ticklog_lines,
)

pytestmark = pytest.mark.cluster

SLACK = 1.0  # on top of VRRP's own timers, for a loaded CI machine
PROBE_WAIT = 0.3  # how long an ARP probe listens when nobody answers (probe.py's default)
SPLIT_BRAIN = 3


def mac(node: Node, ifname: str | None = None) -> str:
    """The MAC of the node's interface (its veth by default)."""
    out = node.ns.run(["cat", f"/sys/class/net/{ifname or node.ifname}/address"], check=True)
    return out.stdout.strip()


def other(lab: Lab, node: Node) -> Node:
    return next(n for n in lab.nodes if n is not node)


def set_adverts(lab: Lab, *, flow: bool) -> None:
    """Let VRRP adverts through the bridge, or not (``mcast_flood``; see the module docstring)."""
    for node in lab.nodes:
        lab.switch.run(
            ["bridge", "link", "set", "dev", node.port, "mcast_flood", "on" if flow else "off"],
            check=True,
        )


def wait_both_hold(lab: Lab, start: float, timeout: float) -> float:
    """Wait until every node holds the VIP; seconds from `start` until they all did."""
    timeline = lab.watch(lambda h: len(h) == len(lab.nodes), timeout=timeout, start=start)
    return first_time(timeline, lambda h: len(h) == len(lab.nodes))


def assert_refused_everywhere(
    lab: Lab, ticklog: Path, answered_by: dict[str, str]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """One ``--arp-probe`` tick: every node exits 3 naming the other's MAC, the job runs nowhere.

    `answered_by` maps each node's name to the MAC its probe must find.
    """
    holders = lab.holders()
    results = tick(lab, ticklog, "--arp-probe", "--vip", lab.vip)
    for name, r in results.items():
        want = (
            f"if-master: split brain, not running: {lab.vip} on {holders[name]} "
            f"is also answered by {answered_by[name]}\n"
        )
        assert (r.returncode, r.stderr, r.stdout) == (SPLIT_BRAIN, want, ""), (
            f"{name}: {r.returncode}, {r.stderr!r}. {lab.describe()}"
        )
    assert ticklog_lines(ticklog) == [], f"the job ran despite the split brain. {lab.describe()}"
    assert not ticklog.exists()
    return results


def assert_both_masters_link_up(lab: Lab) -> None:
    """Both keepalived alive, MASTER, carrier up: a split brain no liveness check can see."""
    for node in lab.nodes:
        assert node.keepalived_pids(), f"{node.name}: keepalived died. {lab.describe()}"
        assert node.keepalived_state() == "MASTER", lab.describe()
        link = node.ns.ip("-o", "link", "show", node.ifname).stdout
        assert "NO-CARRIER" not in link and "state UP" in link, link


def test_sigkill_arp_probe_refuses_require_keepalived_runs_once(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2)
    old = lab.wait_single_holder()
    successor = other(lab, old)

    # Single holder: the probe listens its full wait, finds nobody, and the job runs once.
    start = time.monotonic()
    r = lab.guard(old, "--arp-probe", "--vip", lab.vip, "--", "true")
    took = time.monotonic() - start
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    figure("--arp-probe guard on the master, wall (ip netns exec included)", took)
    assert PROBE_WAIT <= took < PROBE_WAIT + 2, f"took {took:.2f} s"
    assert_ticks(lab, tmp_path, 2, [old.name], "--arp-probe", "--vip", lab.vip, label="single")

    start = time.monotonic()
    lab.stop_keepalived(old, signal.SIGKILL)
    assert old.keepalived_pids() == []
    both = wait_both_hold(lab, start, master_down_interval(successor.priority) + SLACK)
    figure("both hold the VIP after SIGKILL", both)
    assert successor.keepalived_state() == "MASTER"

    # The gap: a plain guard runs the job on both nodes.
    assert_ticks(lab, tmp_path, 2, [old.name, successor.name], "--vip", lab.vip, label="plain")
    # --arp-probe: no run anywhere, a loud refusal on both (each kernel answers for the VIP).
    answered_by = {old.name: mac(successor), successor.name: mac(old)}
    assert_refused_everywhere(lab, tmp_path / "probe.log", answered_by)
    # --require-keepalived: the dead node's leftover VIP does not count; exactly once.
    assert_ticks(
        lab, tmp_path, 3, [successor.name], "--require-keepalived", "--vip", lab.vip, label="rk"
    )
    # Both options together fail safe here: the stale address still answers ARP, so the live
    # master refuses too, and the dead node skips quietly (its VIP does not count).
    ticklog = tmp_path / "both.log"
    results = tick(lab, ticklog, "--require-keepalived", "--arp-probe", "--vip", lab.vip)
    assert (results[old.name].returncode, results[old.name].stderr) == (0, "")
    assert results[successor.name].returncode == SPLIT_BRAIN, results[successor.name].stderr
    assert mac(old) in results[successor.name].stderr
    assert ticklog_lines(ticklog) == []
    assert set(lab.holders()) == {old.name, successor.name}, "the split healed meanwhile"


def test_advert_loss_both_masters_arp_probe_refuses(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2)
    master = lab.wait_single_holder()
    backup = other(lab, master)

    start = time.monotonic()
    set_adverts(lab, flow=False)
    both = wait_both_hold(lab, start, master_down_interval(backup.priority) + SLACK)
    figure("both hold the VIP after adverts stop", both)
    # The backup waited out its Master_Down_Interval from the last advert it heard.
    mdi = master_down_interval(backup.priority)
    assert mdi - ADVERT_INT - SLACK / 2 < both < mdi + SLACK, f"took {both:.2f} s"
    assert_both_masters_link_up(lab)

    # The plain guard, and --require-keepalived (alive on both), run the job twice.
    assert_ticks(lab, tmp_path, 2, [master.name, backup.name], "--vip", lab.vip, label="plain")
    assert_ticks(
        lab, tmp_path, 1, [master.name, backup.name], "--require-keepalived", "--vip", lab.vip,
        label="rk",
    )  # fmt: skip
    # --arp-probe: ARP still passes, each node finds the other; nothing runs, on a few ticks.
    answered_by = {master.name: mac(backup), backup.name: mac(master)}
    for i in range(2):
        assert_refused_everywhere(lab, tmp_path / f"probe{i}.log", answered_by)

    # Adverts back: the lower priority steps down, and the job runs exactly once again.
    start = time.monotonic()
    set_adverts(lab, flow=True)
    lab.wait_holders(lambda h: list(h) == [master.name], "healed split", 2 * ADVERT_INT + SLACK)
    figure("single holder after adverts flow again", time.monotonic() - start)
    assert backup.keepalived_state() == "BACKUP"
    assert_ticks(lab, tmp_path, 2, [master.name], "--arp-probe", "--vip", lab.vip, label="healed")


def test_vmac_arp_probe_no_false_alarm_then_split_brain(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2, use_vmac=True)
    master = lab.wait_single_holder()
    backup = other(lab, master)
    vmac_if = f"vrrp.{lab.vrid}"
    assert lab.holders() == {master.name: vmac_if}, lab.describe()
    vmac = f"00:00:5e:00:01:{lab.vrid:02x}"  # VRRP's virtual MAC for this VRID
    assert mac(master, vmac_if) == vmac

    # One holder, whose VIP sits on a macvlan with the shared VRRP MAC: the probe goes out
    # from the parent, so the master runs the job and the backup skips, both silently.
    start = time.monotonic()
    r = lab.guard(master, "--arp-probe", "--vip", lab.vip, "--", "true")
    took = time.monotonic() - start
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    figure("--arp-probe guard on the use_vmac master, wall", took)
    assert PROBE_WAIT <= took < PROBE_WAIT + 2, f"took {took:.2f} s"
    for i in range(3):
        ticklog = tmp_path / f"vmac{i}.log"
        results = tick(lab, ticklog, "--arp-probe", "--vip", lab.vip)
        outcome = {name: (r.returncode, r.stderr) for name, r in results.items()}
        assert outcome == {master.name: (0, ""), backup.name: (0, "")}, outcome
        assert ticklog_lines(ticklog) == [master.name], lab.describe()

    # The probe is not blind under use_vmac: lose the adverts, and both masters answer from
    # the same virtual MAC, which each node's probe (from its own veth MAC) reports.
    start = time.monotonic()
    set_adverts(lab, flow=False)
    both = wait_both_hold(lab, start, master_down_interval(backup.priority) + SLACK)
    figure("both hold the VIP after adverts stop (use_vmac)", both)
    assert lab.holders() == {master.name: vmac_if, backup.name: vmac_if}, lab.describe()
    assert_both_masters_link_up(lab)
    assert_refused_everywhere(lab, tmp_path / "split.log", {n.name: vmac for n in lab.nodes})
    assert_ticks(lab, tmp_path, 1, [master.name, backup.name], "--vip", lab.vip, label="plain")
