"""history.py on a fake store: every RESULT, the filters, the views, release, the textfile."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ifmaster import slot
from ifmaster.ledger import history
from ifmaster.ledger.records import Record, iso_ms
from tests.support.fakes import FakeLedger

T0 = 1_800_000_000.0  # a whole multiple of 10 s: slots of --every 10s fall on it
EVERY = "every 10s"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def slot_iso(t: float) -> str:
    return history.since_iso(t)


def ran(store: FakeLedger, t: float, *, node: str = "n1", late: float = 0.2,
        took: float | None = 1.5, status: int | None = 0, alive: bool = False,
        schedule: str | None = EVERY) -> int:  # fmt: skip
    """A claim of slot ``t`` (and its end unless ``took`` is None)."""
    rec = Record(node=node, start=iso_ms(t + late), pid=42, schedule=schedule)
    if took is not None:
        rec.end, rec.status = iso_ms(t + late + took), status
    return store.put("job", slot_iso(t), rec.to_json().encode(), alive=alive)


def rows_of(store: FakeLedger, now: float, **kw: Any) -> list[history.Row]:
    return history.task_history(store, "job", now=now, since=T0 - 1, max_late=30, **kw)


@pytest.fixture
def store() -> FakeLedger:
    """Slots T0..T0+190 every 10 s, now T0+200: one of each result."""
    s = FakeLedger()
    for i in range(20):
        t = T0 + 10 * i
        if i == 3:
            continue  # nobody claimed it: missed
        if i == 5:
            ran(s, t, status=1)
        elif i == 7:
            ran(s, t, status=128 + 9, node="n2")
        elif i == 9:
            ran(s, t, late=7.0)  # late: over half the 10 s period
        elif i == 11:
            ran(s, t, took=None, schedule=EVERY)  # no end, no liveness: died
        elif i == 12:
            ran(s, t, took=None, schedule=None)  # an old claim without a schedule: unknown
        elif i == 13:
            s.put("job", slot_iso(t), b"\x1b[2Jnot ours")
        elif i == 19:
            ran(s, t, took=None, alive=True, node="n2")  # running
        else:
            ran(s, t)
    return s


def test_every_result_from_the_records_and_the_schedule(store: FakeLedger) -> None:
    now = T0 + 200
    by_slot = {r.slot: r for r in rows_of(store, now)}
    result = {i: by_slot[slot_iso(T0 + 10 * i)].result for i in range(20)}
    assert result[3] == "missed"
    assert result[5] == "failed" and result[7] == "failed"
    assert by_slot[slot_iso(T0 + 70)].signal == 9
    assert result[9] == "late"
    assert result[11] == "died"
    assert result[12] == "unknown"
    assert result[13] == "foreign"
    assert result[19] == "running"
    assert {result[i] for i in (0, 1, 2, 4, 6, 8, 10, 14, 15, 16, 17, 18)} == {"ok"}
    assert history.check_status(rows_of(store, now)) == 1


def test_missed_only_once_max_late_has_passed() -> None:
    s = FakeLedger()
    ran(s, T0)
    # T0+10 is due but unclaimed; with max_late 30 it is not missed before T0+40.
    r = history.task_history(s, "job", now=T0 + 39, since=T0 - 1, max_late=30)
    assert [x.result for x in r] == ["ok"]
    r = history.task_history(s, "job", now=T0 + 41, since=T0 - 1, max_late=30)
    assert [x.result for x in r] == ["missed", "ok"]


def test_slots_before_the_oldest_held_are_not_missed() -> None:
    s = FakeLedger()
    ran(s, T0 + 100)
    got = history.task_history(s, "job", now=T0 + 200, since=T0 - 100, max_late=30)
    assert [r.slot for r in got if r.result == "missed"] == [
        slot_iso(T0 + 10 * i) for i in (16, 15, 14, 13, 12, 11)
    ]


def test_a_task_that_stopped_before_the_window_misses_every_slot_of_it() -> None:
    s = FakeLedger()
    ran(s, T0)  # its last run, long before the window
    got = history.task_history(s, "job", now=T0 + 1000, since=T0 + 900, max_late=30)
    assert [r.result for r in got] == ["missed"] * 7  # T0+900 .. T0+960
    assert s.reads == 2
    # ... and with a run before the window, the window's first slots count too.
    ran(s, T0 + 950)
    got = history.task_history(s, "job", now=T0 + 1000, since=T0 + 900, max_late=30)
    assert [r.slot for r in got if r.result == "missed"][-1] == slot_iso(T0 + 900)


def test_a_young_claim_without_liveness_is_unknown_not_died() -> None:
    s = FakeLedger()
    ran(s, T0, took=None)
    assert [r.result for r in rows_of(s, T0 + history.START_GRACE - 1)] == ["unknown"]
    assert [r.result for r in rows_of(s, T0 + history.START_GRACE + 1)] == ["died"]


def test_no_schedule_anywhere_means_no_missed_slots_but_the_option_gives_one() -> None:
    s = FakeLedger()
    ran(s, T0, schedule=None)
    assert [r.result for r in rows_of(s, T0 + 100)] == ["ok"]
    given = rows_of(s, T0 + 100, schedule=slot.Every("10s"))
    assert [r.result for r in given][:3] == ["missed", "missed", "missed"]
    assert given[-1].result == "ok"


def test_all_ok_is_status_0(store: FakeLedger) -> None:
    s = FakeLedger()
    for i in range(5):
        ran(s, T0 + 10 * i)
    assert history.check_status(rows_of(s, T0 + 50)) == 0


def test_filters_failed_node_and_rows(store: FakeLedger) -> None:
    got = rows_of(store, T0 + 200)
    assert {r.result for r in history.select(got, failed=True)} == {"missed", "failed", "died"}
    assert {r.node for r in history.select(got, node="n2")} == {"n2"}
    newest = history.select(got, limit=2)
    assert [r.slot for r in newest] == [slot_iso(T0 + 190), slot_iso(T0 + 180)]


def test_json_one_object_per_slot_with_stable_fields(store: FakeLedger) -> None:
    got = rows_of(store, T0 + 200)
    lines = history.history_json(got).splitlines()
    assert len(lines) == len(got)
    fields = {"task", "slot", "result", "node", "pid", "start", "late_seconds", "end",
              "duration_seconds", "status", "signal", "fence", "raw"}  # fmt: skip
    for line, r in zip(lines, got):
        d = json.loads(line)
        assert set(d) == fields
        assert (d["slot"], d["result"], d["fence"], d["node"]) == (
            r.slot,
            r.result,
            r.fence,
            r.node,
        )


def test_the_table_fits_80_columns_and_escapes_other_writers(store: FakeLedger) -> None:
    ran(store, T0 + 180, node="a-very-long-node-name-that-goes-on-and-on")
    text = history.render_history(rows_of(store, T0 + 200))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "\x1b" not in text and "\\x1b[2Jnot" in text
    assert text.splitlines()[0].split() == [
        "SLOT", "(UTC)", "NODE", "START", "DURATION", "EXIT", "RESULT", "FENCE"
    ]  # fmt: skip
    assert "137/KILL" in text and "a-very-long-n~" in text


def test_the_timeline_marks_each_result_and_fits_80_columns(store: FakeLedger) -> None:
    got = rows_of(store, T0 + 200)
    text = history.render_timeline(got)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    n1 = next(line for line in lines if line.startswith("n1 "))
    n2 = next(line for line in lines if line.startswith("n2 "))
    nobody = next(line for line in lines if line.startswith("(nobody)"))
    marks1, marks2, marks0 = n1.split()[1], n2.split()[1], nobody.split()[1]
    # 20 slots, oldest left: slot 3 missed, 5 failed, 7 failed on n2, 11 died, 19 running
    assert len(marks1) == len(marks2) == 20
    assert marks0[3] == "M" and marks1[5] == "F" and marks2[7] == "F"
    assert marks1[9] == "L" and marks1[11] == "D" and marks2[19] == "R"
    assert "\x1b[" not in text
    coloured = history.render_timeline(got, colour=True)
    assert "\x1b[31;1mD\x1b[0m" in coloured and ANSI.sub("", coloured) == text


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert history.use_colour(True, {}) is True
    assert history.use_colour(False, {}) is False
    assert history.use_colour(True, {"NO_COLOR": "1"}) is False
    assert history.use_colour(True, {"TERM": "dumb"}) is False


def test_overview_counts_and_last_ok(store: FakeLedger) -> None:
    store.kv.update({k.replace("/job/", "/other/"): v for k, v in list(store.kv.items())[:2]})
    got = history.overview(store, now=T0 + 200, since=T0 - 1, max_late=30)
    assert [s.task for s in got] == ["job", "other"]
    job = got[0]
    assert job.last is not None and job.last.result == "running"
    assert job.last_ok is not None and job.last_ok.slot == slot_iso(T0 + 180)
    assert (job.counts["ok"], job.counts["failed"], job.counts["missed"]) == (12, 2, 1)
    assert job.counts["died"] == 1 and job.counts["late"] == 1
    text = history.render_overview(got, now=T0 + 200)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "13/3/1" in text  # ok+late / failed+died / missed
    assert history.overview_status(got) == 1
    d = json.loads(history.overview_json(got).splitlines()[0])
    assert d["task"] == "job" and d["result"] == "running" and d["counts"]["missed"] == 1


def test_release_deletes_one_slot_only_if_still_the_claim_shown() -> None:
    s = FakeLedger()
    ran(s, T0)
    ran(s, T0 + 10, took=None)
    out: list[str] = []
    assert history.release(s, "job", slot_iso(T0 + 10), now=T0 + 100, write=out.append) == 0
    assert set(s.kv) == {s.key("job", slot_iso(T0))}
    assert out[0].startswith("releasing /if-master/job/") and "fence 102" in out[0]
    assert out[1].startswith("deleted ")
    # nothing there any more
    assert history.release(s, "job", slot_iso(T0 + 10), now=T0 + 100, write=out.append) == 1
    assert "nobody holds it" in out[-1]


def test_release_refuses_when_the_claim_changed_underneath() -> None:
    class Racing(FakeLedger):
        def release(self, task: str, slot: str, *, revision: int) -> bool:
            self.kv.pop(self.key(task, slot))  # an operator's del and a new claim
            ran(self, T0, node="n9")
            return super().release(task, slot, revision=revision)

    s = Racing()
    ran(s, T0)
    out: list[str] = []
    assert history.release(s, "job", slot_iso(T0), now=T0 + 100, write=out.append) == 1
    assert "changed since it was shown" in out[-1] and "n9" in out[-1]
    assert s.key("job", slot_iso(T0)) in s.kv


def test_release_refuses_a_running_slot() -> None:
    s = FakeLedger()
    ran(s, T0, took=None, alive=True)
    out: list[str] = []
    assert history.release(s, "job", slot_iso(T0), now=T0 + 5, write=out.append) == 1
    assert "is running" in out[-1] and len(s.kv) == 1


def test_the_textfile_says_the_cluster_truth(store: FakeLedger, tmp_path: Any) -> None:
    view = history.View(mode="status", since=300, max_late=30, metrics_dir=str(tmp_path))
    out: list[str] = []
    assert history.run(view, store, now=T0 + 200, write=out.append) == 1
    text = (tmp_path / history.METRICS_FILE).read_text()
    assert "if_master_ledger_up 1" in text
    assert 'if_master_ledger_slots{result="missed",task="job"} 1' in text
    assert 'if_master_ledger_slots{result="ok",task="job"} 12' in text
    assert 'if_master_ledger_last_slot_result{result="running",task="job"} 1' in text
    end = T0 + 180 + 0.2 + 1.5
    assert f'if_master_ledger_last_success_timestamp_seconds{{task="job"}} {end:.3f}' in text
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_textfile_says_the_ledger_is_down(tmp_path: Any) -> None:
    from ifmaster.ledger import LedgerError

    class Down(FakeLedger):
        def tasks(self) -> list[str]:
            raise LedgerError("unreachable", "ledger: no etcd endpoint could be used")

    view = history.View(mode="status", metrics_dir=str(tmp_path))
    with pytest.raises(LedgerError):
        history.run(view, Down(), now=T0, write=print)
    text = (tmp_path / history.METRICS_FILE).read_text()
    assert "if_master_ledger_up 0" in text and "task=" not in text


def test_history_reads_once_and_bounded() -> None:
    s = FakeLedger()
    for i in range(50):
        ran(s, T0 + 10 * i)
    got = history.task_history(s, "job", now=T0 + 500, since=T0 - 1, max_late=30, limit=10)
    assert s.reads == 2  # the window, and the newest slot before it
    # The read stopped at its limit: the older slots are not reported missed.
    assert [r.result for r in got] == ["ok"] * 10


def test_due_slots_are_bounded_however_long_the_window() -> None:
    times = slot.due(slot.Every("1s"), 0.0, 10.0**9, 100)
    assert len(times) == 100 and times[-1].timestamp() == 10.0**9 - 1


def test_schedule_spec_round_trips() -> None:
    for text in (
        "every 10s",
        "every 86400s",
        "cron 30 2 * * * Europe/Berlin",
        "cron 0 * * * * UTC",
    ):
        assert slot.spec(slot.from_spec(text)) == text
    assert slot.spec(slot.Cron("@daily", slot.local_zone({"TZ": "Asia/Tokyo"}))) == (
        "cron 0 0 * * * Asia/Tokyo"
    )
    for bad in ("", "every", "every 0s", "cron 1 2 3", "cron 0 0 * * * Not/AZone", "x" * 999):
        with pytest.raises(ValueError):
            slot.from_spec(bad)


def test_records_carry_the_schedule_and_old_ones_still_read() -> None:
    r = Record(node="n", start="s", pid=1, schedule="every 2s")
    assert Record.from_json(r.to_json().encode()).schedule == "every 2s"
    old = Record.from_json(b'{"node":"n","start":"s","pid":1}')
    assert old.schedule is None and old.node == "n"
