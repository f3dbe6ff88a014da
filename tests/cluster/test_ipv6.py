"""An IPv6 VIP over VRRPv3: the same steady-state property as IPv4."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tests.support.lab import MakeLab, assert_ticks

pytestmark = pytest.mark.cluster

TICKS = 10


@pytest.mark.parametrize("size", [2, 3])
def test_ipv6_vip_only_master_runs(make_lab: MakeLab, tmp_path: Path, size: int) -> None:
    lab = make_lab(size, ipv6=True)
    master = lab.wait_single_holder()
    assert ":" in lab.vip
    assert master.priority == max(n.priority for n in lab.nodes), lab.describe()
    assert lab.holders() == {master.name: master.ifname}
    assert master.keepalived_state() == "MASTER"
    # keepalived really speaks VRRPv3 over IPv6 (ff02::12), not v2 over IPv4.
    assert "ff02::12" in master.log.read_text()

    assert_ticks(lab, tmp_path, TICKS, [master.name], "--vip", lab.vip)
    # keepalived's own ADDR/PREFIX spelling works too, and an expanded spelling is the same
    # address (the comparison is by address, not by text).
    assert_ticks(lab, tmp_path, 2, [master.name], "--vip", f"{lab.vip}/64", label="prefixed")
    exploded = ipaddress.ip_address(lab.vip).exploded
    assert exploded != lab.vip
    assert_ticks(lab, tmp_path, 2, [master.name], "--vip", exploded, label="exploded")
