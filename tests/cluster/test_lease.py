"""--watch and --min-hold across a real keepalived failover.

--watch: a long job on the master is stopped when the VIP leaves, while the new master's
tick runs. --min-hold: a tick whose nodes fire a moment apart (cron jitter, clock skew)
straddles the failover; a plain guard then runs it on both, --min-hold on one only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ifmaster.interfaces import STAMP_LAG
from tests.support.lab import Figure, Lab, MakeLab, Node, assert_ticks, ticklog_lines
from tests.support.netnslib import IF_MASTER

pytestmark = pytest.mark.cluster


def start_job(lab: Lab, node: Node, joblog: Path) -> subprocess.Popen[str]:
    """A long job under --watch on `node`, as cron would start it on every node."""
    job = 'echo "$NODE" >> "$JOBLOG"; sleep 300 & sleep 300'
    env = {**os.environ, "NODE": node.name, "JOBLOG": str(joblog)}
    argv = [IF_MASTER, "--watch", "--vip", lab.vip, "--", "sh", "-c", job]
    return node.ns.popen(argv, env=env, stderr=subprocess.PIPE)


def test_watch_stops_the_old_masters_job_on_failover(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2)
    old = lab.wait_single_holder()
    (new,) = (n for n in lab.nodes if n is not old)
    joblog = tmp_path / "jobs.log"
    jobs = {n.name: start_job(lab, n, joblog) for n in lab.nodes}
    try:
        assert jobs[new.name].wait(10) == 0  # the backup skips at once, silently
        deadline = time.monotonic() + 5
        while ticklog_lines(joblog) != [old.name]:
            assert time.monotonic() < deadline, ticklog_lines(joblog)
            time.sleep(0.02)
        job = jobs[old.name]
        assert job.poll() is None

        lab.stop_keepalived(old, signal.SIGTERM)  # a clean failover: the VIP leaves at once
        vip_gone = job_gone = None
        deadline = time.monotonic() + 10
        while job_gone is None or vip_gone is None:
            now = time.monotonic()
            assert now < deadline, f"job still running after the VIP left: {lab.describe()}"
            if vip_gone is None and old.name not in lab.holders():
                vip_gone = now
            if job_gone is None and job.poll() is not None:
                job_gone = now
            time.sleep(0.005)
        _, err = job.communicate(timeout=5)
    finally:
        for p in jobs.values():
            p.kill()
            p.communicate()  # reaps it and closes its stderr pipe
    reaction = max(0.0, job_gone - vip_gone)
    figure("--watch: VIP gone to job gone (5 ms polling)", reaction)
    assert reaction < 1.0
    assert job.returncode == -signal.SIGTERM
    assert f"if-master: lost VIP {lab.vip} after" in err
    lab.wait_stopped(old)  # keepalived itself takes a moment to exit after SIGTERM
    assert old.ns.pids() == [], "a process of the old master's job survived"
    # Meanwhile the new master took over and runs the next tick, alone.
    lab.watch(lambda h: set(h) == {new.name}, timeout=5)
    assert_ticks(lab, tmp_path, 2, [new.name], "--vip", lab.vip, label="after")


def test_min_hold_prevents_the_straddling_double_run(
    make_lab: MakeLab, tmp_path: Path, figure: Figure
) -> None:
    lab = make_lab(2)
    old = lab.wait_single_holder()
    (new,) = (n for n in lab.nodes if n is not old)
    hold = 2.0
    job = ["sh", "-c", 'echo "$NODE" >> "$TICKLOG"']

    def fire(node: Node, ticklog: Path, *args: str) -> None:
        r = lab.guard(node, *args, "--vip", lab.vip, "--", *job, env={"TICKLOG": str(ticklog)})
        assert r.returncode == 0, r.stderr

    plain, held = tmp_path / "plain.log", tmp_path / "held.log"
    # The old master has held the VIP long enough by now (ages are understated by STAMP_LAG).
    time.sleep(hold + STAMP_LAG)
    # The tick fires on the old master first...
    fire(old, plain)
    fire(old, held, "--min-hold", str(hold))
    start = time.monotonic()
    lab.stop_keepalived(old, signal.SIGTERM)
    lab.watch(lambda h: set(h) == {new.name}, timeout=5)  # (wait_* would flag the stopped one)
    skew = time.monotonic() - start
    figure("tick skew straddling the failover", skew)
    # ...and on the new master a moment later, after the VIP moved.
    fire(new, plain)
    fire(new, held, "--min-hold", str(hold))
    assert sorted(ticklog_lines(plain)) == sorted([old.name, new.name]), "the gap is gone?"
    assert ticklog_lines(held) == [old.name]
    check = lab.guard(new, "-v", "--min-hold", str(hold), "--vip", lab.vip)
    assert check.returncode == 1 and f"less than --min-hold {hold:g} s" in check.stderr
    # Not skipped for ever: once the new master has held it long enough, it runs.
    time.sleep(max(0.0, start + skew + hold + STAMP_LAG + 0.2 - time.monotonic()))
    assert_ticks(lab, tmp_path, 1, [new.name], "--min-hold", str(hold), "--vip", lab.vip)
