"""keepalived's use_vmac: the VIP sits on a macvlan ``vrrp.<VRID>``, not on the veth."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lab import MakeLab, assert_ticks

pytestmark = pytest.mark.cluster


def test_vip_on_vmac_interface(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab(2, use_vmac=True)
    master = lab.wait_single_holder()
    vmac = f"vrrp.{lab.vrid}"
    assert lab.holders() == {master.name: vmac}, lab.describe()

    assert_ticks(lab, tmp_path, 3, [master.name], "--vip", lab.vip, label="any")
    assert_ticks(lab, tmp_path, 3, [master.name], "--vip", lab.vip, "--interface", vmac)

    # Check mode, per node and per --interface: only the master's vrrp.VRID holds the VIP.
    def check(*extra: str) -> dict[str, int]:
        results = lab.on_all(lambda n: lab.guard(n, "--vip", lab.vip, *extra))
        return {name: r.returncode for name, r in results.items()}

    only_master = {n.name: 0 if n is master else 1 for n in lab.nodes}
    assert check("--interface", vmac) == only_master
    # The veth under the macvlan does not carry the VIP itself.
    assert lab.guard(master, "--vip", lab.vip, "--interface", master.ifname).returncode == 1
