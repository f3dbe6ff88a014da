"""Slots judged by the ledger's clock: guards whose wall clock is stepped (libfaketime), a
real 3-member etcd, at slot boundaries, with and without --catch-up.

Every case starts at a chosen moment of a 10 s slot period by the true clock (the etcd
members' own), its guard's clock stepped forward or back by ``faketime``: the guard's
slot is its own clock's; what it may run is judged by the members' Date. The window by the
ledger's clock is [slot - skew - 1 s, slot + max-late + 1 s]; each case sits at least a
second (plus the guard's start-up) clear of an edge, so the outcome is certain.
``FAKETIME_DONT_FAKE_MONOTONIC=1``: libfaketime fakes CLOCK_MONOTONIC and CLOCK_BOOTTIME
too by default, which would move --max-delay and every deadline with the step; with it,
Python 3.11's time.sleep fails under Debian 12's libfaketime: tests/support/clockshim mends
it.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import etcdlib
from tests.support.netnslib import IF_MASTER, Netns, require

pytestmark = [pytest.mark.netns, pytest.mark.etcd]

VIP = "10.77.0.240"  # held by the node: the master
NOBODY = "10.77.0.241"  # held by no one: a --catch-up run
SHIM = str(Path(__file__).parents[1] / "support" / "clockshim")  # mends time.sleep
PERIOD, SKEW, MAX_LATE, CATCH_UP = 10, 3, 6, 1


class Case:
    __slots__ = ("catch_up", "name", "phase", "runs", "step", "why")

    def __init__(
        self, name: str, *, phase: float, step: int, runs: bool, catch_up: bool = False,
        why: str = "",
    ) -> None:  # fmt: skip
        self.name = name
        self.phase = phase  # seconds after a slot's tick (true time) at which it starts
        self.step = step  # the guard's clock minus the true time
        self.runs = runs
        self.catch_up = catch_up
        self.why = why  # the refusal's words


CASES = [
    Case("right", phase=0.5, step=0, runs=True),
    # +8 s: its clock says the next slot is 1.5 s away; truly it is 9.5 s away.
    Case("ahead8", phase=0.5, step=8, runs=False, why="s before its time"),
    # -8 s: its clock puts it 3 s after the slot before; truly that slot is 11 s past.
    Case("behind8", phase=1.0, step=-8, runs=False, why="s after its time"),
    # +2 s, 2 s before a tick: early by 2 s by the ledger's clock, within --skew 3.
    Case("ahead2_early", phase=8.0, step=2, runs=True),
    # +7 s, 6 s before a tick: its clock says 1 s after; early by 6 s, beyond skew + 1.
    Case("ahead7_early", phase=4.0, step=7, runs=False, why="s before its time"),
    # -3 s, 3 s after a tick: on time by its clock, 3 s late by the ledger's: within 6.
    Case("behind3_late", phase=3.0, step=-3, runs=True),
    # -5 s, 8 s after a tick: 3 s late by its clock, 8 s by the ledger's: beyond 6 + 1.
    Case("behind5_late", phase=8.0, step=-5, runs=False, why="s after its time"),
    # --catch-up, not the master: the slow node that ran an unclaimed slot 70 s late.
    Case("catchup_behind8", phase=8.5, step=-8, runs=False, catch_up=True, why="after its"),
    # --catch-up with a fast clock: it would claim the next slot 7 s before its time.
    Case("catchup_ahead8", phase=1.5, step=8, runs=False, catch_up=True, why="before its"),
    Case("catchup_right", phase=0.3, step=0, runs=True, catch_up=True),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[etcdlib.Cluster]:
    require(shutil.which("faketime") is not None, "faketime is not installed (apt-get faketime)")
    with etcdlib.cluster(tmp_path_factory.mktemp("etcd")) as c:
        yield c


@pytest.fixture(scope="module")
def node(cluster: etcdlib.Cluster) -> Netns:
    ns = cluster.client()
    ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    return ns


def _argv(case: Case, cluster: etcdlib.Cluster, task: str, tmp: Path) -> list[str]:
    vip = NOBODY if case.catch_up else VIP
    extra = ["--catch-up", str(CATCH_UP)] if case.catch_up else []
    return ["faketime", "-f", f"{case.step:+d}s", IF_MASTER, "--vip", vip, "--task", task,
            "--every", f"{PERIOD}s", "--skew", str(SKEW), "--max-late", str(MAX_LATE), *extra,
            "--metrics-dir", str(tmp), "--ledger", cluster.url(), "--ledger-timeout", "3",
            "--", "sh", "-c", f"echo ran > {tmp / task}"]  # fmt: skip


def test_a_stepped_clock_runs_only_inside_the_window_by_the_ledgers_clock(
    cluster: etcdlib.Cluster, node: Netns, tmp_path: Path
) -> None:
    """All cases start within one period, each at its phase, so the test takes ~12 s."""
    env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": SHIM}
    tick = (math.floor(time.time() / PERIOD) + 1) * PERIOD  # the next tick, true time
    stamp = int(time.time())
    procs: list[tuple[Case, str, subprocess.Popen[str]]] = []
    for case in sorted(CASES, key=lambda c: c.phase):
        time.sleep(max(0.0, tick + case.phase - time.time()))
        task = f"clock{stamp}{case.name.replace('_', '')}"
        argv = _argv(case, cluster, task, tmp_path)
        proc = node.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        procs.append((case, task, proc))
    failures = []
    for case, task, proc in procs:
        _out, err = proc.communicate(timeout=30)
        ran = (tmp_path / task).exists()
        keys = cluster.etcdctl(node, "get", "--prefix", f"/if-master/{task}/", "--keys-only")
        prom = tmp_path / f"if_master_{task}.prom"
        metrics = prom.read_text() if prom.exists() else f"(no {prom.name})"
        skipped = re.search(r'^if_master_skips_total\{[^}]*reason="clock"[^}]*\} 1$', metrics, re.M)
        if case.runs:
            ok = proc.returncode == 0 and ran and bool(keys.strip()) and not skipped
        else:
            way = "ahead of" if case.step > 0 else "behind"
            said = re.match(rf"if-master: this node's clock is ([\d.]+) s {way} the ledger's", err)
            ok = (
                proc.returncode == 0
                and not ran
                and not keys.strip()  # nothing claimed: the slot stays free for its master
                and err.count("\n") == 1
                and said is not None
                and abs(float(said.group(1)) - abs(case.step)) < 0.7
                and case.why in err
                and skipped is not None
            )
        if not ok:
            failures.append((case.name, proc.returncode, ran, keys, err, metrics))
    assert not failures, failures
