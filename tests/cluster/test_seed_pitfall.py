"""Regression for the seed's check: ``ip addr show | grep VIP`` matches by text.

With VIP 10.x.y.1 and nodes 10.x.y.10 and 10.x.y.11, every node's own address contains the VIP
as a prefix, so the grep "finds" it everywhere and the job runs on every node.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lab import MakeLab, assert_ticks, ticklog_lines

pytestmark = pytest.mark.cluster

SEED_CHECK = 'if ip addr show | grep "$VIP"; then echo "$NODE" >> "$TICKLOG"; fi'


def test_grep_runs_everywhere_if_master_runs_once(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab(2, vip_host=1)
    master = lab.wait_single_holder()
    # The premise: the VIP is a textual prefix of every node's own address.
    assert all(n.addr4.startswith(lab.vip) and n.addr4 != lab.vip for n in lab.nodes)

    seedlog = tmp_path / "seed.log"
    env = {"VIP": lab.vip, "TICKLOG": str(seedlog)}
    lab.on_all(lambda n: lab.run_on(n, ["sh", "-c", SEED_CHECK], env=env))
    assert sorted(ticklog_lines(seedlog)) == sorted(n.name for n in lab.nodes)

    assert_ticks(lab, tmp_path, 3, [master.name], "--vip", lab.vip)
    # Check mode agrees: 0 on the master only.
    statuses = lab.on_all(lambda n: lab.guard(n, "--vip", lab.vip))
    assert {k: r.returncode for k, r in statuses.items()} == {
        n.name: 0 if n is master else 1 for n in lab.nodes
    }
