"""Failover: after the VIP moves, the job runs on the new master only; times are reported."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
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
    format_timeline,
    master_down_interval,
)

pytestmark = pytest.mark.cluster

TICKS = 5
#: Slack for a loaded 2-core CI machine on top of VRRP's own timers.
SLACK = 1.0


def _fail_over(lab: Lab, action: Callable[[Node], None]) -> tuple[Node, Node, float]:
    """Apply `action` to the master; (old master, new master, failover time).

    The failover time is from the VIP leaving the old master to it appearing on the new one,
    sampled every 20 ms.
    """
    old = lab.wait_single_holder()
    successor = max((n for n in lab.nodes if n is not old), key=lambda n: n.priority)
    start = time.monotonic()
    action(old)
    timeline = lab.watch(
        lambda h: len(h) == 1 and old.name not in h,
        timeout=2 * master_down_interval(0),
        start=start,
    )
    assert timeline[-1][1] == {successor.name}, f"{format_timeline(timeline)}: {lab.describe()}"
    # A clean handover: never two holders at once (as far as 20 ms sampling can tell).
    assert all(len(h) <= 1 for _, h in timeline), format_timeline(timeline)
    gone = first_time(timeline, lambda h: old.name not in h)
    present = first_time(timeline, lambda h: successor.name in h)
    return old, successor, present - gone


@pytest.mark.parametrize("size", [2, 3])
def test_sigterm_failover(make_lab: MakeLab, tmp_path: Path, figure: Figure, size: int) -> None:
    """A clean stop: keepalived sends priority 0, so the backup takes over after Skew_Time."""
    lab = make_lab(size)
    old, new, took = _fail_over(lab, lambda n: lab.stop_keepalived(n, signal.SIGTERM))
    figure("failover (SIGTERM)", took)
    assert lab.wait_stopped(old) == 0
    # Priority 0 short-cuts the wait: far sooner than a backup's own Master_Down_Interval.
    assert took < 3 * ADVERT_INT, f"SIGTERM failover took {took:.2f} s"
    assert new.keepalived_state() == "MASTER"
    assert_ticks(lab, tmp_path, TICKS, [new.name], "--vip", lab.vip)


@pytest.mark.parametrize("size", [2, 3])
def test_link_cut_failover(make_lab: MakeLab, tmp_path: Path, figure: Figure, size: int) -> None:
    """Carrier lost: the old master goes to FAULT and drops the VIP, the backup times out."""
    lab = make_lab(size)
    old, new, took = _fail_over(lab, lab.cut_link)
    figure("failover (link cut)", took)
    assert old.keepalived_state() == "FAULT"
    # The backup only notices the silence: at most its Master_Down_Interval after the last
    # advert it heard, which came at most one advert interval before the cut.
    mdi = master_down_interval(new.priority)
    assert mdi - ADVERT_INT - SLACK / 2 < took < mdi + SLACK, f"link-cut failover took {took:.2f} s"
    assert new.keepalived_state() == "MASTER"
    assert_ticks(lab, tmp_path, TICKS, [new.name], "--vip", lab.vip)

    # Link back: the higher-priority old master preempts (after its own Master_Down_Interval
    # as a backup) and the job follows it.
    lab.restore_link(old)
    back = lab.wait_holders(
        lambda h: list(h) == [old.name], "preemption", master_down_interval(0) + SLACK
    )
    assert back == {old.name: old.ifname}
    assert_ticks(lab, tmp_path, 2, [old.name], "--vip", lab.vip, label="back")
