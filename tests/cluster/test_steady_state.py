"""Steady state: the elected master, and only it, runs the job on every tick."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.conftest import MakeLab
from tests.cluster.lab import tick, ticklog_lines

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

    for i in range(TICKS):
        ticklog = tmp_path / f"tick{i}.log"
        results = tick(lab, ticklog, "--vip", lab.vip)
        assert {name: r.returncode for name, r in results.items()} == dict.fromkeys(results, 0), {
            name: r.stderr for name, r in results.items()
        }
        assert ticklog_lines(ticklog) == [master.name], f"tick {i}: {lab.describe()}"
    # Still the same single holder after the ticks: nothing flapped under us.
    assert lab.holders() == {master.name: master.ifname}
