"""Slot arithmetic: durations, cron, the skew rule and max-late, at the boundaries."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifmaster import slot
from ifmaster.ledger import ServerTime, wire
from ifmaster.slot import Cron, Every, Late, slot_for

UTC = timezone.utc
T = datetime(2026, 11, 28, 1, 45, tzinfo=UTC).timestamp()  # a 5-minute boundary


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400), ("1h30m", 5400), ("90", 90),
     (b"2m", 120), (" 10s ", 10), ("366d", 366 * 86400),
     # Leading zeros do not count against the digits: once cut to 12 digits, these were
     # 63 s, "zero" and "longer than 366 days".
     ("1m0000000000030s", 90), ("0000000000001s", 1), ("0000000000060", 60)],
)  # fmt: skip
def test_durations(text: str | bytes, seconds: int) -> None:
    assert slot.parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "empty"), ("  ", "empty"), ("0", "zero"), ("0s", "zero"), ("1x", "not like"),
     ("s", "not like"), ("1h30", "no unit"), ("1.5s", "not like"), ("-5m", "not like"),
     ("nan", "not like"), ("inf", "not like"), ("1h1h", "not like"), ("367d", "longer"),
     ("99999999999999999999d", "longer"), ("1" + "0" * 5000 + "s", "longer"),
     (b"\xff5m", "not UTF-8"), ("５m", "not like"),
     ("5m\x00", "not like")],
)  # fmt: skip
def test_bad_durations_named(text: str | bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why) as e:
        slot.parse_duration(text)
    assert "duration" in str(e.value)


def test_every_is_anchored_at_the_epoch_in_utc() -> None:
    assert slot_for(Every("1d"), T, max_late=None).iso == "2026-11-28T00:00:00Z"
    assert slot_for(Every("5m"), T + 10).iso == "2026-11-28T01:45:00Z"
    assert slot_for(Every("1h"), T, max_late=None).iso == "2026-11-28T01:00:00Z"


@pytest.mark.parametrize("schedule", [Every("5m"), Cron("*/5 * * * *", UTC)])
def test_boundaries_of_the_skew_rule(schedule: slot.Schedule) -> None:
    """A run up to skew before T belongs to T; a hair more and it is the previous slot's."""
    on = slot_for(schedule, T - 2.0, skew=2.0)
    assert (on.iso, on.lateness) == ("2026-11-28T01:45:00Z", -2.0)
    assert slot_for(schedule, T + 2.0, skew=2.0).iso == "2026-11-28T01:45:00Z"
    assert slot_for(schedule, T, skew=0).iso == "2026-11-28T01:45:00Z"
    before = slot_for(schedule, T - 2.001, skew=2.0, max_late=None)
    assert before.iso == "2026-11-28T01:40:00Z"
    assert before.lateness == pytest.approx(297.999)
    with pytest.raises(Late, match="2026-11-28T01:40:00Z"):
        slot_for(schedule, T - 2.001, skew=2.0, max_late=60)
    with pytest.raises(Late):
        slot_for(schedule, T - 0.001, skew=0, max_late=60)


@pytest.mark.parametrize("schedule", [Every("5m"), Cron("*/5 * * * *", UTC)])
def test_max_late_is_inclusive(schedule: slot.Schedule) -> None:
    assert slot_for(schedule, T + 60, max_late=60).lateness == 60
    with pytest.raises(Late, match=r"started 60 s after its slot 2026-11-28T01:45:00Z") as e:
        slot_for(schedule, T + 60.25, max_late=60)
    assert e.value.slot.iso == "2026-11-28T01:45:00Z"
    assert slot_for(schedule, T + 297.9, max_late=None).iso == "2026-11-28T01:45:00Z"


def test_skew_of_two_seconds_either_side_gives_one_slot() -> None:
    """Nodes 4 s apart (each 2 s off true time) at a boundary agree on the slot."""
    for schedule in (Every("1m"), Every("5m"), Cron("* * * * *", UTC)):
        slots = {slot_for(schedule, T + d, skew=2.0).iso for d in (-2, -1.5, -0.001, 0, 1, 2)}
        assert slots == {"2026-11-28T01:45:00Z"}


def test_cron_uses_the_zone_cron_fires_in() -> None:
    paris = ZoneInfo("Europe/Paris")
    winter = datetime(2026, 1, 10, 2, 0, 30, tzinfo=paris).timestamp()
    summer = datetime(2026, 7, 10, 2, 0, 30, tzinfo=paris).timestamp()
    assert slot_for(Cron("0 2 * * *", paris), winter).iso == "2026-01-10T01:00:00Z"
    assert slot_for(Cron("0 2 * * *", paris), summer).iso == "2026-07-10T00:00:00Z"
    assert slot_for(Cron("@hourly", UTC), T + 1, max_late=None).iso == "2026-11-28T01:00:00Z"
    assert slot_for(Cron("@daily", paris), winter, max_late=None).iso == "2026-01-09T23:00:00Z"


@pytest.mark.parametrize(
    ("text", "why"),
    [("61 * * * *", "invalid"), ("* * * *", "4 fields"), ("* * * * * *", "6 fields"),
     ("@reboot", "not a schedule"), ("@daily x", "not a schedule"), ("0 0 30 2 *", "invalid"),
     ("", "0 fields"), (b"\xff * * * *", "not UTF-8"), ("\x00 * * * *", "characters"),
     ("* * * * *" + " " * 300, "longer"), ("nan * * * *", "invalid"),
     ("*/0 * * * *", "step '0'"), ("-1 * * * *", "invalid"), ("* * * * * ; rm", "fields"),
     ("é * * * *", "characters"), ("*/100 * * * *", "minute step '100' beyond 1..59"),
     ("0 */9999999999999999999999 * * *", "hour step"), ("0 0 * * 1/8", "day-of-week step"),
     ("*/0000000000001 * * * *", "minute step")],
)  # fmt: skip
def test_bad_cron_named(text: str | bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why) as e:
        Cron(text, UTC)
    assert "cron expression" in str(e.value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0, "x", None, 30.0])
def test_bad_skew_named(bad: object) -> None:
    with pytest.raises(ValueError, match="--skew"):
        slot.check_skew(Every("5m"), bad)  # type: ignore[arg-type]


def test_skew_must_be_under_half_the_period() -> None:
    assert slot.check_skew(Every("5s"), 2.0) == 2.0
    with pytest.raises(ValueError, match=r"--skew 2 s is too large for every 4 s"):
        slot.check_skew(Every("4s"), 2.0)
    assert slot.default_skew(Every("2s")) == 0.5
    assert slot.default_skew(Cron("* * * * *", UTC)) == slot.DEFAULT_SKEW


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, 1e12])
def test_bad_max_late_and_now_named(bad: float) -> None:
    with pytest.raises(ValueError, match="--max-late"):
        slot_for(Every("5m"), T, max_late=bad)
    with pytest.raises(ValueError, match="time"):
        slot_for(Every("5m"), bad)


def test_catch_up_within_max_late() -> None:
    assert slot.check_catch_up(30, 60) == 30
    for bad, why in ((0, "more than zero"), (61, "beyond --max-late"), (math.nan, "finite")):
        with pytest.raises(ValueError, match=why):
            slot.check_catch_up(bad, 60)
    s = slot_for(Every("5m"), T + 1)
    assert slot.catch_up_due(s, 30) == T + 30


def test_parse_iso_round_trip() -> None:
    s = slot_for(Every("5m"), T)
    assert slot.parse_iso(s.iso) == s.time
    for bad in ("2026-11-28T01:45:00", "2026-11-28 01:45:00Z", "x", "2026-13-01T00:00:00Z"):
        with pytest.raises(ValueError, match="slot"):
            slot.parse_iso(bad)


def test_local_zone_from_tz() -> None:
    assert str(slot.local_zone({"TZ": "Europe/Paris"})) == "Europe/Paris"
    assert str(slot.local_zone({"TZ": ":UTC"})) == "UTC"
    with pytest.raises(ValueError, match="Nowhere/Land"):
        slot.local_zone({"TZ": "Nowhere/Land"})
    with pytest.raises(ValueError, match="TZ"):
        slot.local_zone({"TZ": "../../etc/passwd"})


@given(
    period=st.sampled_from([5, 30, 60, 300, 3600, 86400]),
    k=st.integers(min_value=1, max_value=10**6),
    offset=st.floats(min_value=-0.999, max_value=0.999),  # exact ends: float rounding
    skew_frac=st.floats(min_value=0.0, max_value=0.24),
)
def test_every_window_property(period: int, k: int, offset: float, skew_frac: float) -> None:
    """Any start in [T - skew, T + max_late] maps to T when max_late < period - skew."""
    skew = min(period * skew_frac, slot.MAX_SKEW)
    max_late = (period - skew) * 0.9
    tick = k * period
    now = tick + (offset * skew if offset < 0 else offset * max_late)
    s = slot_for(Every(f"{period}s"), now, skew=skew, max_late=max_late)
    assert s.timestamp == tick
    assert -skew <= s.lateness <= max_late


@given(
    now=st.floats(min_value=1e9, max_value=4e9),
    skew=st.floats(min_value=0.0, max_value=29.0),
    expr=st.sampled_from(["* * * * *", "*/7 * * * *", "0 */3 * * *", "15,45 9-17 * * 1-5"]),
)
def test_cron_slot_is_the_latest_time_at_or_before_now_plus_skew(
    now: float, skew: float, expr: str
) -> None:
    cron = Cron(expr, UTC)
    s = slot_for(cron, now, skew=skew, max_late=None)
    assert s.timestamp <= now + skew
    assert s.time.second == 0
    # Nothing scheduled between the slot and now + skew: the next time is later.
    from cronsim import CronSim

    after = next(CronSim(expr, s.time))
    assert after.timestamp() > now + skew


# -- the ledger's clock vetoes a slot (judge_by_ledger) -----------------------------------


def _server(true_now: float, *, ours: float, rtt: float = 0.004, mono: float = 100.0) -> ServerTime:
    """What clock() reads when the ledger's time is ``true_now`` and ours is ``ours``: the
    Date rounds the server's time (written mid-round-trip) down to the second."""
    written = true_now - rtt / 2
    return wire.server_time(
        time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(math.floor(written))),
        sent=mono - rtt, received=mono, wall=ours, source="m1:2379's Date",
    ) or pytest.fail("no server time")  # fmt: skip


@given(
    late=st.floats(-0.5, 6.0),  # by our clock: the rule's window for skew 0.5, max-late 6
    rtt=st.floats(0.0, 0.05),
)
def test_a_node_whose_clock_is_right_is_never_refused(late: float, rtt: float) -> None:
    """Any rounding of the Date (late's fraction), any round trip: no veto, no warning, up
    to the round trip before the window's far edge."""
    now = T + late
    s = slot_for(Every("20s"), now, skew=0.5, max_late=6)
    assert s.timestamp == T
    server = _server(now, ours=now, rtt=rtt)
    if late + rtt <= 6.0:
        assert slot.judge_by_ledger(s, server, 100.0, skew=0.5, max_late=6) is None


@given(
    step=st.floats(-90.0, 90.0),  # our clock minus the ledger's
    true_late=st.floats(-3.0, 12.0),  # when the run starts by the ledger's clock
    frac=st.floats(0.0, 0.999),
)
def test_what_runs_runs_inside_the_window_by_the_ledgers_clock(
    step: float, true_late: float, frac: float
) -> None:
    """The promise: whatever our clock says, a run that is not vetoed starts within
    [slot - skew - 1 s, slot + max-late + 1 s] by the ledger's clock."""
    sched = Every("2s")
    true_now = T + 10 + true_late + frac
    ours = true_now + step
    try:
        s = slot_for(sched, ours, skew=0.5, max_late=6)
    except Late:
        return
    try:
        slot.judge_by_ledger(s, _server(true_now, ours=ours), 100.0, skew=0.5, max_late=6)
    except slot.OffClock as e:
        assert "nothing run" in str(e) and "\n" not in str(e)
        return
    assert -1.5 <= true_now - s.timestamp <= 7.0, (step, true_now - s.timestamp)


@pytest.mark.parametrize(
    ("step", "words"),
    [(47.0, r"is 4[67]\.\d s ahead of the ledger's \(m1:2379's Date, \+-0\.5 s\): slot"
      r" 2026-11-28T01:45:46Z would start up to 46\.\d s before its time by the ledger's"
      r" clock, more than --skew 0\.5 s \+ 1 s: nothing run$"),
     (-33.0, r"is 3[23]\.\d s behind the ledger's .*: slot 2026-11-28T01:44:26Z would start up"
      r" to 3[45]\.\d s after its time by the ledger's clock, more than --max-late 6 s \+ 1 s"),
     (-69.0, r"is (68|69)\.\d s behind .* up to 7[01]\.\d s after")],
)  # fmt: skip
def test_a_stepped_clock_is_named_and_refused(step: float, words: str) -> None:
    """The issue's clocks: +47 s claimed future slots, -33 s and -69 s ran long past them."""
    sched = Every("2s")
    true_now = T + 0.2
    s = slot_for(sched, true_now + step, skew=0.5, max_late=6)
    with pytest.raises(slot.OffClock, match="this node's clock is ") as e:
        slot.judge_by_ledger(s, _server(true_now, ours=true_now + step), 100.0, skew=0.5,
                             max_late=6)  # fmt: skip
    assert re.search(words, str(e.value)), str(e.value)


def test_a_clock_off_within_the_window_warns_and_runs() -> None:
    """10 s slow, --max-late 60: a run 40 s after the slot by ours, 50 s by the ledger's."""
    sched = Every("5m")
    true_now = T + 50.5
    s = slot_for(sched, true_now - 10, skew=2, max_late=60)
    server = _server(true_now, ours=true_now - 10)
    warning = slot.judge_by_ledger(s, server, 100.0, skew=2, max_late=60)
    assert warning and warning.startswith("warning: this node's clock is 10.0 s behind"), warning
    # The monotonic clock carries the reading forward: 15 s later it is too late.
    with pytest.raises(slot.OffClock, match="more than --max-late 60 s"):
        slot.judge_by_ledger(s, server, 115.0, skew=2, max_late=60)
