"""The run history of a task, and the overview of every task, from what a ledger holds.

Pure: rows are computed from :class:`Stored` records (one backend read), the schedule and
``now``; rendering returns text. The CLI (``--history``, ``--status``, ``--release``)
reads the ledger through the Backend protocol and prints what this module makes.

A slot's RESULT, worst first:

- ``missed``: the schedule says it was due, nobody claimed it, and ``max_late`` (the
  guard's ``--max-late``, after which no run may claim it) has passed; counted from the
  window's start when the task has a slot before it, else from its oldest slot (a task
  installed an hour ago has no earlier misses);
- ``died``: claimed, no end recorded, and its runner's liveness record is gone (the guard
  that claims it keeps one alive while the job runs, see ``liveness.py``);
- ``failed``: ended with a non-zero status (a signal is 128 + its number, as the shell);
- ``unknown``: claimed, no end, and the runner's state cannot be known (a claim written
  before records named their schedule, and so before guards kept a liveness record);
- ``running``: claimed, no end, its liveness record alive;
- ``late``: ended with status 0 but started more than LATE_AFTER seconds (or half the
  period, when shorter) after its slot;
- ``ok``: ended with status 0, on time;
- ``foreign``: the key holds a value that is not ours (shown raw, escaped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..errors import printable
from ..model import DEFAULT_MAX_LATE, DEFAULT_ROWS, DEFAULT_SINCE
from ..slot import Schedule, due, from_spec, parse_iso
from .records import LedgerError, Stored

#: Seconds after its slot a run may start and still count as on time.
LATE_AFTER = 10.0
#: Seconds a claim without a liveness record counts as just starting, not died.
START_GRACE = 15.0
#: Due slots one history computes at most (the newest): bounds a long window of a short period.
MAX_DUE = 10000
#: Which results make a monitoring check fail (exit 1).
BAD = frozenset({"missed", "failed", "died"})
RESULTS = ("ok", "late", "running", "unknown", "failed", "died", "missed", "foreign")
#: The timeline's character per result.
MARKS = {
    "ok": "o",
    "late": "L",
    "running": "R",
    "unknown": "?",
    "failed": "F",
    "died": "D",
    "missed": "M",
    "foreign": "!",
}
_COLOURS = {"ok": "32", "late": "33", "running": "36", "unknown": "33", "failed": "31"}
_COLOURS.update({"died": "31;1", "missed": "31;1", "foreign": "35"})
#: Signal names for EXIT (status 128 + N), the common ones; others print as SIGN.
_SIGNALS = {1: "HUP", 2: "INT", 3: "QUIT", 6: "ABRT", 9: "KILL", 13: "PIPE", 14: "ALRM", 15: "TERM"}


class Row:
    """One slot of a task's history: what ran it, how, and its RESULT."""

    __slots__ = (
        "duration",
        "end",
        "fence",
        "late",
        "node",
        "pid",
        "raw",
        "result",
        "slot",
        "start",
        "status",
        "task",
    )

    def __init__(
        self,
        *,
        task: str,
        slot: str,
        result: str,
        node: str | None = None,
        pid: int | None = None,
        start: str | None = None,
        late: float | None = None,
        end: str | None = None,
        duration: float | None = None,
        status: int | None = None,
        fence: int | None = None,
        raw: str | None = None,
    ) -> None:
        self.task = task
        self.slot = slot  # ISO 8601 UTC, as in the key
        self.result = result  # one of RESULTS
        self.node = node
        self.pid = pid
        self.start = start  # as recorded (ISO 8601 UTC, milliseconds)
        self.late = late  # seconds from the slot to the start
        self.end = end
        self.duration = duration  # seconds; for a running slot, so far
        self.status = status  # as recorded: a signal is 128 + N
        self.fence = fence  # the claim's revision (fencing token)
        self.raw = raw  # a value that is not ours, escaped

    @property
    def signal(self) -> int | None:
        """The signal that ended the run, when its status says one did (128 + N)."""
        if self.status is not None and 128 < self.status < 128 + 65:
            return self.status - 128
        return None

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (see docs/history.md): every field, null when unknown."""
        return {
            "task": self.task,
            "slot": self.slot,
            "result": self.result,
            "node": self.node,
            "pid": self.pid,
            "start": self.start,
            "late_seconds": _round(self.late),
            "end": self.end,
            "duration_seconds": _round(self.duration),
            "status": self.status,
            "signal": self.signal,
            "fence": self.fence,
            "raw": self.raw,
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _ts(text: str | None) -> float | None:
    """A record's ISO 8601 UTC time (with or without milliseconds) as Unix time."""
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def schedule_of(stored: list[Stored]) -> Schedule | None:
    """The schedule the newest record that names one names (None: none does, or it is
    not one we can read)."""
    for s in reversed(stored):
        if s.record is not None and s.record.schedule:
            try:
                return from_spec(s.record.schedule)
            except ValueError:
                return None
    return None


def late_after(schedule: Schedule | None) -> float:
    """LATE_AFTER, or half the period when that is shorter."""
    return LATE_AFTER if schedule is None else min(LATE_AFTER, schedule.min_gap / 2)


def row(s: Stored, *, now: float, schedule: Schedule | None) -> Row:
    """One stored slot as a row."""
    slot_ts = _ts(s.slot)
    if s.record is None:
        return Row(
            task=s.task, slot=s.slot, result="foreign", fence=s.revision, raw=printable(s.raw)
        )
    r = s.record
    start = _ts(r.start)
    end = _ts(r.end)
    late = None if start is None or slot_ts is None else start - slot_ts
    duration = None
    if start is not None:
        duration = (end if end is not None else now) - start
    if r.end is not None:
        if r.status != 0:
            result = "failed"
        elif late is not None and late > late_after(schedule):
            result = "late"
        else:
            result = "ok"
    elif s.alive:
        result = "running"
    elif s.alive is False and r.schedule is not None:
        # A guard that names its schedule keeps a liveness record: none means it died,
        # unless the claim is so young that the record may not be written yet.
        young = start is not None and now - start < START_GRACE
        result = "unknown" if young else "died"
        if result == "died":
            duration = None  # how long it ran before it died is not known
    else:
        result = "unknown"
    return Row(
        task=s.task,
        slot=s.slot,
        result=result,
        node=r.node,
        pid=r.pid,
        start=r.start,
        late=late,
        end=r.end,
        duration=duration,
        status=r.status,
        fence=s.revision,
    )


def rows(
    stored: list[Stored],
    *,
    task: str,
    now: float,
    since: float,
    max_late: float,
    schedule: Schedule | None = None,
    before: Stored | None = None,
    truncated: bool = False,
) -> list[Row]:
    """Every slot in ``[since, now]``, newest first: the stored ones and, when a schedule
    is known (given, else the records', else that of ``before``, the newest slot before
    the window), each due slot nobody claimed within ``max_late``.

    Due slots count from ``since`` when the task has a slot before the window; else from
    the oldest one held (a task installed an hour ago has no earlier misses); and from
    the oldest one held when the read stopped at its limit (``truncated``: it knows
    nothing older).
    """
    plan = schedule or schedule_of(stored) or schedule_of([] if before is None else [before])
    out = [row(s, now=now, schedule=plan) for s in stored]
    if plan is not None:
        seen = {s.slot for s in stored}
        oldest = next((t for t in map(_ts, (s.slot for s in stored)) if t is not None), None)
        frm = since
        if oldest is not None and (truncated or before is None):
            frm = max(since, oldest)
        elif oldest is None and before is None:
            frm = now  # nothing held at all: nothing known to be due
        for t in due(plan, frm, now - max_late, MAX_DUE):
            iso = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            if iso not in seen:
                out.append(Row(task=task, slot=iso, result="missed"))
    out.sort(key=lambda r: r.slot, reverse=True)
    return out


def select(
    history: list[Row], *, failed: bool = False, node: str | None = None, limit: int | None = None
) -> list[Row]:
    """The rows --failed (only BAD results) and --node keep, the newest ``limit``."""
    kept = [
        r for r in history if (not failed or r.result in BAD) and (node is None or r.node == node)
    ]
    return kept if limit is None else kept[:limit]


def check_status(history: list[Row]) -> int:
    """0 when no row is missed, failed or died; 1 otherwise (for Nagios, Icinga, systemd)."""
    return 1 if any(r.result in BAD for r in history) else 0


class Summary:
    """One task's line of the overview: its newest slot, its last success, counts."""

    __slots__ = ("counts", "last", "last_ok", "task")

    def __init__(self, *, task: str, last: Row | None, last_ok: Row | None, counts: dict[str, int]):
        self.task = task
        self.last = last  # the newest slot (claimed or missed)
        self.last_ok = last_ok  # the newest slot that ended ok (or late), in the window
        self.counts = counts  # per result, over the window

    def to_dict(self) -> dict[str, Any]:
        last = self.last
        return {
            "task": self.task,
            "last_slot": None if last is None else last.slot,
            "node": None if last is None else last.node,
            "result": None if last is None else last.result,
            "duration_seconds": None if last is None else _round(last.duration),
            "last_ok_slot": None if self.last_ok is None else self.last_ok.slot,
            "last_ok_end": None if self.last_ok is None else self.last_ok.end,
            "counts": {k: self.counts.get(k, 0) for k in RESULTS},
        }


def summary(task: str, history: list[Row]) -> Summary:
    """The overview line of a task whose rows are ``history`` (newest first)."""
    counts: dict[str, int] = {}
    for r in history:
        counts[r.result] = counts.get(r.result, 0) + 1
    last_ok = next((r for r in history if r.result in ("ok", "late")), None)
    return Summary(task=task, last=history[0] if history else None, last_ok=last_ok, counts=counts)


def overview_status(summaries: list[Summary]) -> int:
    """0 when no task has a missed, failed or died slot in the window; 1 otherwise."""
    return 1 if any(s.counts.get(k, 0) for s in summaries for k in BAD) else 0


# -- rendering ----------------------------------------------------------------------


def ago(seconds: float | None) -> str:
    """A relative age as systemctl list-timers writes it, short: 5s, 3min, 2h, 4d."""
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if s < 60:
        return f"{s:.0f}s ago"
    if s < 3600:
        return f"{s // 60:.0f}min ago"
    if s < 86400 * 2:
        return f"{s // 3600:.0f}h ago"
    return f"{s // 86400:.0f}d ago"


def span(seconds: float | None) -> str:
    """A duration: 0.42s, 12s, 3m05s, 2h10m, 3d4h."""
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if s < 10:
        return f"{s:.2f}s"
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    if s < 86400:
        return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
    return f"{int(s // 86400)}d{int(s % 86400 // 3600)}h"


def _fit(text: str | None, width: int) -> str:
    """Escaped (another writer's bytes never reach the terminal raw) and cut to ``width``."""
    t = printable(text or "-")
    return t if len(t) <= width else t[: width - 1] + "~"


def _exit(r: Row) -> str:
    if r.status is None:
        return "-"
    sig = r.signal
    if sig is not None:
        return f"{r.status}/{_SIGNALS.get(sig, str(sig))}"
    return str(r.status)


def _short_slot(slot: str) -> str:
    """``2026-12-03T08:30:02Z`` as ``12-03 08:30:02`` (UTC; the header says so)."""
    if len(slot) == 20 and slot.endswith("Z"):
        return f"{slot[5:10]} {slot[11:19]}"
    return _fit(slot, 14)


def _late(r: Row) -> str:
    return "-" if r.late is None else f"{r.late:+.1f}s"


def render_history(history: list[Row], *, colour: bool = False) -> str:
    """The table, newest first, in at most 80 columns."""
    head = (
        f"{'SLOT (UTC)':<14} {'NODE':<14} {'START':>7} {'DURATION':>8} {'EXIT':>8} "
        f"{'RESULT':<8} {'FENCE':>10}"
    )
    lines = [head]
    for r in history:
        node = _fit(r.raw if r.result == "foreign" else r.node, 14)
        lines.append(
            f"{_short_slot(r.slot):<14} {node:<14} {_late(r):>7} {span(r.duration):>8} "
            f"{_exit(r):>8} {_paint(r.result, f'{r.result:<8}', colour)} "
            f"{r.fence if r.fence is not None else '-':>10}".rstrip()
        )
    if not history:
        lines.append("(no slots in the window)")
    return "\n".join(lines)


def render_overview(summaries: list[Summary], *, now: float, colour: bool = False) -> str:
    """The overview, one line per task, in at most 80 columns."""
    head = (
        f"{'TASK':<14} {'LAST SLOT':>10} {'NODE':<12} {'RESULT':<8} {'DURATION':>8} "
        f"{'LAST OK':>10} {'OK/FAIL/MISS':>12}"
    )
    lines = [head]
    for s in summaries:
        last = s.last
        slot_ts = None if last is None else _ts(last.slot)
        ok_ts = None if s.last_ok is None else _ts(s.last_ok.slot)
        result = "-" if last is None else last.result
        fails = s.counts.get("failed", 0) + s.counts.get("died", 0)
        oks = s.counts.get("ok", 0) + s.counts.get("late", 0)
        counts = f"{oks}/{fails}/{s.counts.get('missed', 0)}"
        lines.append(
            f"{_fit(s.task, 14):<14} {ago(None if slot_ts is None else now - slot_ts):>10} "
            f"{_fit(None if last is None else last.node, 12):<12} "
            f"{_paint(result, f'{result:<8}', colour)} "
            f"{span(None if last is None else last.duration):>8} "
            f"{ago(None if ok_ts is None else now - ok_ts):>10} {counts:>12}"
        )
    if not summaries:
        lines.append("(no tasks under this prefix)")
    return "\n".join(lines)


#: Slots the timeline draws at most: its row fits 80 columns beside a 14-character name.
TIMELINE_WIDTH = 64


def render_timeline(history: list[Row], *, colour: bool = False) -> str:
    """One row per node, one character per slot (oldest left), the newest TIMELINE_WIDTH
    slots; missed slots on the row of nobody. o ok, L late, F failed, D died, R running,
    ? unknown, M missed, ! not ours."""
    cols = list(reversed(history[:TIMELINE_WIDTH]))
    nodes = sorted({r.node for r in cols if r.node is not None})
    lines = []
    if cols:
        lines.append(f"{'':<14} {_short_slot(cols[0].slot)} .. {_short_slot(cols[-1].slot)}")
    for name in [*nodes, None]:
        marks = []
        for r in cols:
            mine = r.node == name if name is not None else r.node is None
            mark = MARKS[r.result] if mine else "."
            marks.append(_paint(r.result, mark, colour) if mine else mark)
        label = "(nobody)" if name is None else name
        if name is None and not any(r.node is None for r in cols):
            continue
        lines.append(f"{_fit(label, 14):<14} {''.join(marks)}")
    legend = "o ok  L late  F failed  D died  R running  ? unknown  M missed  ! not ours"
    lines.append(legend)
    return "\n".join(lines)


def _paint(result: str, text: str, colour: bool) -> str:
    code = _COLOURS.get(result)
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def use_colour(isatty: bool, environ: Mapping[str, str]) -> bool:
    """Colours only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return isatty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def history_json(history: list[Row]) -> str:
    """One JSON object per slot, one per line, newest first."""
    return "\n".join(json.dumps(r.to_dict(), sort_keys=True) for r in history)


def overview_json(summaries: list[Summary]) -> str:
    return "\n".join(json.dumps(s.to_dict(), sort_keys=True) for s in summaries)


def since_iso(t: float) -> str:
    """A read's lower bound: the slot key of the whole second at or before ``t``."""
    return datetime.fromtimestamp(int(t), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- reading through the seam -------------------------------------------------------

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .backend import Backend
    from .records import LedgerOptions


def task_history(
    store: Backend,
    task: str,
    *,
    now: float,
    since: float,
    max_late: float,
    schedule: Schedule | None = None,
    limit: int = MAX_DUE,
) -> list[Row]:
    """Two bounded reads, as rows, newest first: ``task``'s slots since ``since``, and the
    newest one before (a task that stopped running before the window still has its
    schedule, and every slot of the window is then missed)."""
    start = since_iso(since)
    stored = store.read(task, since=start, limit=limit)
    before = store.read(task, until=start, limit=1)
    return rows(
        stored,
        task=task,
        now=now,
        since=since,
        max_late=max_late,
        schedule=schedule,
        before=before[-1] if before else None,
        truncated=len(stored) >= limit,
    )


def overview(store: Backend, *, now: float, since: float, max_late: float) -> list[Summary]:
    """Every task under the store's prefix, one bounded read each."""
    return [
        summary(t, task_history(store, t, now=now, since=since, max_late=max_late))
        for t in store.tasks()
    ]


def find(store: Backend, task: str, slot: str) -> Stored | None:
    """The one slot's record, or None when nobody holds it."""
    end = datetime.fromtimestamp(parse_iso(slot).timestamp() + 1, timezone.utc)
    found = store.read(task, since=slot, until=end.strftime("%Y-%m-%dT%H:%M:%SZ"), limit=1)
    return found[0] if found and found[0].slot == slot else None


def describe(store: Backend, s: Stored, *, now: float) -> str:
    """What --release shows before it deletes: the key, its holder, its state, its fence."""
    r = row(s, now=now, schedule=None)
    if r.result == "foreign":
        held = f"a value that is not ours: {_fit(r.raw, 60)}"
    else:
        ended = "no end" if r.end is None else f"ended {r.end}, exit {_exit(r)}"
        held = f"{_fit(r.node, 60)} (pid {r.pid}, started {r.start}, {ended})"
    return f"{store.key(s.task, s.slot)}: {held}, fence {s.revision}"


# -- the cluster's truth as a node_exporter textfile ---------------------------------

#: The file --status --metrics-dir writes (never a task's own if_master_TASK.prom).
METRICS_FILE = "if-master-ledger.prom"
_M = "if_master_ledger_"


def render_metrics(
    summaries: list[Summary] | None, *, now: float, window: float, error: str | None = None
) -> str:
    """The textfile: per task, the last success, the last slot's result, the counts over
    the window; and whether the ledger could be read at all (``summaries`` None: not)."""
    out = [
        "# if-master --status: the cluster's runs per task, from the ledger.",
        "# HELP if_master_ledger_up Whether the last --status could read the ledger.",
        "# TYPE if_master_ledger_up gauge",
        f"if_master_ledger_up {0 if summaries is None else 1}",
        "# HELP if_master_ledger_read_timestamp_seconds When the last --status ran.",
        "# TYPE if_master_ledger_read_timestamp_seconds gauge",
        f"if_master_ledger_read_timestamp_seconds {_num(now)}",
        "# HELP if_master_ledger_window_seconds How far back the counts look.",
        "# TYPE if_master_ledger_window_seconds gauge",
        f"if_master_ledger_window_seconds {_num(window)}",
    ]
    if summaries is None:
        return "\n".join(out) + "\n"
    ok_lines, last_lines, slot_lines, result_lines = [], [], [], []
    for s in summaries:
        t = _label(s.task)
        end = None if s.last_ok is None else _ts(s.last_ok.end)
        if end is not None:
            ok_lines.append(
                f'if_master_ledger_last_success_timestamp_seconds{{task="{t}"}} {_num(end)}'
            )
        last = None if s.last is None else _ts(s.last.slot)
        if last is not None:
            last_lines.append(
                f'if_master_ledger_last_slot_timestamp_seconds{{task="{t}"}} {_num(last)}'
            )
        for k in RESULTS:
            hit = 1 if s.last is not None and s.last.result == k else 0
            result_lines.append(
                f'if_master_ledger_last_slot_result{{result="{k}",task="{t}"}} {hit}'
            )
            slot_lines.append(
                f'if_master_ledger_slots{{result="{k}",task="{t}"}} {s.counts.get(k, 0)}'
            )
    out += [
        "# HELP if_master_ledger_last_success_timestamp_seconds End of the newest slot that"
        " ended with status 0, in the window.",
        "# TYPE if_master_ledger_last_success_timestamp_seconds gauge",
        *ok_lines,
        "# HELP if_master_ledger_last_slot_timestamp_seconds The newest due or claimed slot.",
        "# TYPE if_master_ledger_last_slot_timestamp_seconds gauge",
        *last_lines,
        "# HELP if_master_ledger_last_slot_result The newest slot's result (1 for its result).",
        "# TYPE if_master_ledger_last_slot_result gauge",
        *result_lines,
        "# HELP if_master_ledger_slots Slots in the window, per result.",
        "# TYPE if_master_ledger_slots gauge",
        *slot_lines,
    ]
    return "\n".join(out) + "\n"


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:.3f}"


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# -- the modes: --history, --status, --release ---------------------------------------

#: --release's statuses beyond 0: nothing held the slot, or it changed since shown.
RELEASE_REFUSED = 1


class View:
    """What one of the modes asks for; built by the CLI, run by :func:`run`."""

    __slots__ = (
        "as_json",
        "failed",
        "max_late",
        "metrics_dir",
        "mode",
        "node",
        "rows",
        "schedule",
        "since",
        "slot",
        "task",
        "timeline",
    )

    def __init__(
        self,
        *,
        mode: str,
        task: str | None = None,
        slot: str | None = None,
        since: float = DEFAULT_SINCE,
        rows: int = DEFAULT_ROWS,
        failed: bool = False,
        node: str | None = None,
        as_json: bool = False,
        timeline: bool = False,
        max_late: float = DEFAULT_MAX_LATE,
        schedule: Schedule | None = None,
        metrics_dir: str | None = None,
    ) -> None:
        self.mode = mode  # "history", "status" or "release"
        self.task = task
        self.slot = slot
        self.since = since  # seconds back from now
        self.rows = rows
        self.failed = failed
        self.node = node
        self.as_json = as_json
        self.timeline = timeline
        self.max_late = max_late  # a due slot unclaimed this long after its time is missed
        self.schedule = schedule  # overrides the records' (--every / --schedule)
        self.metrics_dir = metrics_dir


def run(
    view: View,
    store: Backend,
    *,
    now: float,
    write: Callable[[str], None],
    colour: bool = False,
) -> int:
    """Run a mode: print through ``write(text)``, return the exit status (0 all ok, 1 a
    missed, failed or died slot, or a refused release). LedgerError passes through."""
    if view.mode == "history":
        assert view.task is not None
        got = task_history(
            store,
            view.task,
            now=now,
            since=now - view.since,
            max_late=view.max_late,
            schedule=view.schedule,
        )
        shown = select(got, failed=view.failed, node=view.node, limit=view.rows)
        if view.as_json:
            text = history_json(shown)
        elif view.timeline:
            text = render_timeline(shown, colour=colour)
        else:
            text = render_history(shown, colour=colour)
        if text:
            write(text)
        return check_status(select(got, node=view.node))
    if view.mode == "status":
        try:
            summaries = overview(store, now=now, since=now - view.since, max_late=view.max_late)
        except LedgerError as e:
            if view.metrics_dir is not None:  # say it to Prometheus too, then fail
                _textfile(view.metrics_dir, render_metrics(None, now=now, window=view.since))
            raise e from None
        if view.metrics_dir is not None:
            _textfile(view.metrics_dir, render_metrics(summaries, now=now, window=view.since))
        text = (
            overview_json(summaries)
            if view.as_json
            else render_overview(summaries, now=now, colour=colour)
        )
        if text:
            write(text)
        return overview_status(summaries)
    assert view.mode == "release" and view.task is not None and view.slot is not None
    return release(store, view.task, view.slot, now=now, write=write)


def main(view: View, options: LedgerOptions) -> int:
    """A mode from the command line: open the store, run, print to stdout; a ledger that
    cannot be opened or read is IfMasterError (125, one line naming why)."""
    import os
    import sys
    import time

    from .. import status
    from ..errors import IfMasterError
    from . import open_ledger

    colour = use_colour(sys.stdout is not None and sys.stdout.isatty(), os.environ)
    try:
        store = open_ledger(options)
        return run(view, store, now=time.time(), write=writer(), colour=colour)
    except LedgerError as e:
        text = str(e)  # its own texts start with "ledger: " already: say it once
        raise IfMasterError(
            status.FAILURE, text if text.startswith("ledger") else f"ledger: {text}"
        ) from None


#: Seconds shell completion may wait for the ledger: a prompt must not hang.
COMPLETE_DEADLINE = 0.5


def complete_tasks(url: str, incomplete: str) -> list[str]:
    """Task names under the ledger's prefix that start with ``incomplete``, for shell
    completion; none when the ledger cannot be read within COMPLETE_DEADLINE (quietly:
    a completion has no stderr to speak on). Credentials come from the environment."""
    from . import open_ledger
    from .records import LedgerOptions

    try:
        store = open_ledger(LedgerOptions(url=url, deadline=COMPLETE_DEADLINE))
        return [t for t in store.tasks() if t.startswith(incomplete)]
    except (LedgerError, ValueError):
        return []


def release(
    store: Backend, task: str, slot: str, *, now: float, write: Callable[[str], None]
) -> int:
    """Show the slot's claim, then delete its key only if it is still that claim."""
    held = find(store, task, slot)
    key = store.key(task, slot)
    if held is None:
        write(f"{key}: nobody holds it, nothing to release")
        return RELEASE_REFUSED
    write(f"releasing {describe(store, held, now=now)}")
    if held.alive:
        write(f"refused: {key} is running (its liveness record is alive): stop it first")
        return RELEASE_REFUSED
    if store.release(task, slot, revision=held.revision):
        write(f"deleted {key} (fence {held.revision}): the slot can be claimed again")
        return 0
    now_held = find(store, task, slot)
    if now_held is None:
        write(f"refused: {key} was deleted by someone else meanwhile")
    else:
        write(
            f"refused: {key} changed since it was shown: now {describe(store, now_held, now=now)}"
        )
    return RELEASE_REFUSED


def _textfile(metrics_dir: str, text: str) -> None:
    # A textfile that cannot be written warns (metrics.py says so) and decides nothing.
    from ..metrics import write_textfile

    write_textfile(metrics_dir, METRICS_FILE, text)


def writer(fd: int = 1) -> Callable[[str], None]:
    """A ``write(text)`` that puts lines on ``fd``; output that cannot be written is
    IfMasterError (125): a check whose answer was lost has no answer."""
    import os

    from .. import status
    from ..errors import IfMasterError

    def write(text: str) -> None:
        data = (text + "\n").encode("utf-8", "surrogateescape")
        try:
            while data:
                data = data[os.write(fd, data) :]
        except OSError as e:
            raise IfMasterError(status.FAILURE, f"output lost: {e.strerror or e}") from None

    return write


__all__ = [
    "BAD",
    "View",
    "complete_tasks",
    "main",
    "release",
    "run",
    "writer",
    "METRICS_FILE",
    "describe",
    "find",
    "overview",
    "render_metrics",
    "task_history",
    "LATE_AFTER",
    "RESULTS",
    "Row",
    "Summary",
    "check_status",
    "history_json",
    "overview_json",
    "overview_status",
    "parse_iso",
    "render_history",
    "render_overview",
    "render_timeline",
    "row",
    "rows",
    "select",
    "since_iso",
    "summary",
    "use_colour",
]
