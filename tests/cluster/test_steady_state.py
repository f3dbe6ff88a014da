"""Steady state: the elected master, and only it, runs the job on every tick."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lab import MakeLab, assert_ticks

pytestmark = pytest.mark.cluster

TICKS = 10


@pytest.mark.parametrize("size", [2, 3])
def test_only_the_master_runs_the_job(make_lab: MakeLab, tmp_path: Path, size: int) -> None:
    lab = make_lab(size)
    master = lab.wait_single_holder()
    # The election followed the priorities, and keepalived agrees with `ip addr`.
    assert master.priority == max(n.priority for n in lab.nodes), lab.describe()
    assert lab.holders() == {master.name: master.ifname}
    assert {n.name: n.keepalived_state() for n in lab.nodes} == {
        n.name: "MASTER" if n is master else "BACKUP" for n in lab.nodes
    }

    assert_ticks(lab, tmp_path, TICKS, [master.name], "--vip", lab.vip)
    # Still the same single holder after the ticks: nothing flapped under us.
    assert lab.holders() == {master.name: master.ifname}
