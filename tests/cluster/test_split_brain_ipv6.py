"""Split brain over IPv6 in the real lab: ``--arp-probe`` asks Neighbor Discovery.

VRRPv3 clusters with an IPv6 VIP, and a dual-stack one (an IPv4 VIP and an IPv6 VIP in one
instance): one holder never raises a false alarm; two holders, whether from lost adverts or a
SIGKILLed keepalived, are refused on both nodes with exit 3; keepalived's use_vmac too.

How the adverts are lost here: not with the IPv4 tests' ``mcast_flood off``, which would drop
Neighbor Discovery as well (the probe's solicitations go to a solicited-node group, the
holders' answers to all-nodes: multicast both). Each bridge port instead gets an ingress
``tc`` filter (u32, built into the kernel like the mirred action, no package needed) that
matches IP protocol / IPv6 next header 112, VRRP, and redirects it to a veth kept down, where
it is dropped; everything else, ND included, is bridged as before. Removing the filters lets
the adverts flow again.
"""

from __future__ import annotations

import ipaddress
import signal
import statistics
import time
from pathlib import Path

import pytest

from tests.cluster.test_split_brain import (
    SLACK,
    SPLIT_BRAIN,
    assert_both_masters_link_up,
    assert_refused_everywhere,
    mac,
    other,
    wait_both_hold,
)
from tests.support.lab import (
    ADVERT_INT,
    Figure,
    Lab,
    MakeLab,
    Node,
    assert_ticks,
    master_down_interval,
    tick,
    ticklog_lines,
)
from tests.support.netnslib import unique_name

pytestmark = pytest.mark.cluster

PROBE_WAIT = 0.3  # probe.py's default listening time


def drop_vrrp(lab: Lab, *, drop: bool) -> None:
    """Drop VRRP (IPv4 protocol / IPv6 next header 112) at every bridge port, or stop doing so."""
    hole = getattr(lab, "_vrrp_hole", None)
    if hole is None:
        hole = unique_name("hole")
        lab.switch.ip("link", "add", hole, "type", "veth", "peer", "name", unique_name("hole"))
        lab._vrrp_hole = hole  # type: ignore[attr-defined]  # left down: what reaches it is lost
        for node in lab.nodes:
            lab.switch.run(["tc", "qdisc", "add", "dev", node.port, "ingress"], check=True)
    for node in lab.nodes:
        tc = ["tc", "filter"]
        if not drop:
            lab.switch.run([*tc, "del", "dev", node.port, "parent", "ffff:"], check=True)
            continue
        redirect = ["action", "mirred", "egress", "redirect", "dev", hole]
        for proto, match in (("ip", "9"), ("ipv6", "6")):  # the protocol byte's offset
            lab.switch.run(
                [*tc, "add", "dev", node.port, "parent", "ffff:", "protocol", proto,
                 "u32", "match", "u8", "112", "0xff", "at", match, *redirect],
                check=True,
            )  # fmt: skip


def vip6_of(lab: Lab) -> str:
    """The dual-stack lab's IPv6 VIP: host 100 of the nodes' IPv6 subnet."""
    net = ipaddress.ip_interface(f"{lab.nodes[0].addr6}/64").network
    return str(net[100])


def dual_stack_config(lab: Lab, node: Node) -> str:
    """One VRRPv3 instance over IPv4 whose VIPs are an IPv4 and an IPv6 address.

    keepalived wants an instance's VIPs in its own family; one of the other family goes in
    virtual_ipaddress_excluded, which the master adds and removes all the same.
    """
    vmac = "    use_vmac\n" if lab.use_vmac else ""
    return f"""\
global_defs {{
    router_id {node.name}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface {node.ifname}
    virtual_router_id {lab.vrid}
    priority {node.priority}
    advert_int {ADVERT_INT:g}
    version 3
{vmac}    virtual_ipaddress {{
        {lab.vip}/24
    }}
    virtual_ipaddress_excluded {{
        {vip6_of(lab)}/64 -nodad
    }}
}}
"""


def timed_guard(lab: Lab, node: Node, *vips: str, runs: int = 3) -> list[float]:
    """Wall times of the check ``if-master --arp-probe --vip ...`` on `node`, which must say
    master (0): it held every VIP, probed, and nobody else answered."""
    args = [a for v in vips for a in ("--vip", v)]
    took = []
    for _ in range(runs):
        start = time.monotonic()
        r = lab.guard(node, "--arp-probe", *args)
        took.append(time.monotonic() - start)
        assert (r.returncode, r.stderr) == (0, ""), (vips, r.stderr, lab.describe())
    return took


def test_ipv6_advert_loss_both_masters_probe_refuses(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2, ipv6=True)
    master = lab.wait_single_holder()
    backup = other(lab, master)
    assert ":" in lab.vip and "ff02::12" in master.log.read_text()

    # One holder: no false alarm on any tick (its own kernel answers our solicitations, but
    # never gets to see them), and the job runs on the master only.
    took = timed_guard(lab, master, lab.vip)
    figure("--arp-probe guard on the IPv6 master, wall, median of 3", statistics.median(took))
    assert min(took) >= PROBE_WAIT, took
    assert_ticks(lab, tmp_path, 3, [master.name], "--arp-probe", "--vip", lab.vip, label="one")

    start = time.monotonic()
    drop_vrrp(lab, drop=True)
    both = wait_both_hold(lab, start, master_down_interval(backup.priority) + SLACK)
    figure("both hold the IPv6 VIP after adverts stop", both)
    assert_both_masters_link_up(lab)
    assert_ticks(lab, tmp_path, 1, [master.name, backup.name], "--vip", lab.vip, label="plain")
    answered_by = {master.name: mac(backup), backup.name: mac(master)}
    for i in range(2):
        assert_refused_everywhere(lab, tmp_path / f"probe{i}.log", answered_by)

    # Adverts back: the lower priority steps down; exactly once again, with no false alarm.
    drop_vrrp(lab, drop=False)
    lab.wait_holders(lambda h: list(h) == [master.name], "healed split", 2 * ADVERT_INT + SLACK)
    assert_ticks(lab, tmp_path, 2, [master.name], "--arp-probe", "--vip", lab.vip, label="heal")


def test_ipv6_sigkill_stale_holder_detected(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2, ipv6=True)
    old = lab.wait_single_holder()
    successor = other(lab, old)
    start = time.monotonic()
    lab.stop_keepalived(old, signal.SIGKILL)
    both = wait_both_hold(lab, start, master_down_interval(successor.priority) + SLACK)
    figure("both hold the IPv6 VIP after SIGKILL", both)
    assert successor.keepalived_state() == "MASTER"
    # The dead node's leftover address still answers Neighbor Discovery: both refuse.
    assert_refused_everywhere(
        lab, tmp_path / "probe.log", {old.name: mac(successor), successor.name: mac(old)}
    )
    assert set(lab.holders()) == {old.name, successor.name}, "the split healed meanwhile"


def test_ipv6_vmac_no_false_alarm_then_split_brain(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2, ipv6=True, use_vmac=True)
    master = lab.wait_single_holder()
    backup = other(lab, master)
    vmac_if = f"vrrp.{lab.vrid}"
    assert lab.holders() == {master.name: vmac_if}, lab.describe()
    vmac = f"00:00:5e:00:02:{lab.vrid:02x}"  # VRRP's IPv6 virtual MAC for this VRID
    assert mac(master, vmac_if) == vmac

    # One holder, on a macvlan with the shared MAC: probed from the parent, no false alarm,
    # though our keepalived's own advertisements leave from that very MAC.
    took = timed_guard(lab, master, lab.vip)
    figure("--arp-probe guard on the IPv6 use_vmac master, wall, median", statistics.median(took))
    assert_ticks(lab, tmp_path, 3, [master.name], "--arp-probe", "--vip", lab.vip, label="one")

    # Both masters answer from the same virtual MAC, which each node's probe reports. The
    # peer's own probe, from its parent's MAC and at the same moment, is a claim as well.
    start = time.monotonic()
    drop_vrrp(lab, drop=True)
    both = wait_both_hold(lab, start, master_down_interval(backup.priority) + SLACK)
    figure("both hold the IPv6 VIP after adverts stop (use_vmac)", both)
    assert lab.holders() == {master.name: vmac_if, backup.name: vmac_if}, lab.describe()
    for i in range(2):
        ticklog = tmp_path / f"split{i}.log"
        results = tick(lab, ticklog, "--arp-probe", "--vip", lab.vip)
        for node in lab.nodes:
            r = results[node.name]
            head = (
                f"if-master: split brain, not running: {lab.vip} on {vmac_if} is also answered by "
            )
            assert (r.returncode, r.stdout) == (SPLIT_BRAIN, ""), (node.name, r.stderr)
            assert r.stderr.startswith(head) and r.stderr.endswith("\n"), r.stderr
            named = r.stderr[len(head) : -1].split(", ")
            assert vmac in named, r.stderr
            assert set(named) <= {vmac, mac(other(lab, node))}, r.stderr
        assert ticklog_lines(ticklog) == [], lab.describe()


def test_dual_stack_no_false_alarm_then_both_vips_refused(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2, config=dual_stack_config)
    master = lab.wait_single_holder()
    backup = other(lab, master)
    vip4, vip6 = lab.vip, vip6_of(lab)
    assert master.holds(vip6) == master.ifname and backup.holds(vip6) is None, lab.describe()

    # The probe times, on the master with one holder: each family alone, then both at once.
    times = {}
    for label, vips in (("IPv4", [vip4]), ("IPv6", [vip6]), ("IPv4+IPv6", [vip4, vip6])):
        times[label] = took = timed_guard(lab, master, *vips)
        figure(f"--arp-probe guard, {label} VIP(s), wall, median of 3", statistics.median(took))
    # One holder: never a false alarm (timed_guard asserts it ran), and every probe listened.
    assert min(min(t) for t in times.values()) >= PROBE_WAIT, times
    both_vips = ["--vip", vip4, "--vip", vip6]
    assert_ticks(lab, tmp_path, 3, [master.name], "--arp-probe", *both_vips, label="one")

    start = time.monotonic()
    drop_vrrp(lab, drop=True)
    lab.watch(
        lambda h: len(h) == 2 and backup.holds(vip6) is not None,
        timeout=master_down_interval(backup.priority) + SLACK,
        start=start,
    )
    ticklog = tmp_path / "split.log"
    results = tick(lab, ticklog, "--arp-probe", *both_vips)
    for node in lab.nodes:
        r = results[node.name]
        peer = mac(other(lab, node))
        assert (r.returncode, r.stdout) == (SPLIT_BRAIN, ""), (node.name, r.stderr)
        assert r.stderr == (
            f"if-master: split brain, not running: {vip4} on {node.ifname} is also answered"
            f" by {peer}; {vip6} on {node.ifname} is also answered by {peer}\n"
        )
    assert ticklog_lines(ticklog) == [], lab.describe()
