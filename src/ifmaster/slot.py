"""Slots: which scheduled time a run belongs to (``--schedule``, ``--every``, ``--max-late``).

A run is for a *slot*: the scheduled time it belongs to, written as ISO 8601 UTC
(``2026-11-28T01:45:00Z``), the last part of the ledger key ``PREFIX/TASK/SLOT``.

The rule, and the clock skew it tolerates
-----------------------------------------
``slot = the latest scheduled time T with T <= now + skew``; ``lateness = now - T``
(between ``-skew`` and the gap to the next time). So a run that starts up to ``skew``
seconds *before* a scheduled time belongs to that time: its clock is taken to be slow.
Two runs meant for the same time T, on nodes whose clocks read anywhere in
``[T - skew, T + max_late]`` when they start, get the same slot. Nodes whose clocks are
each within ``skew`` of true time therefore agree on the slot of a run started (by any
trigger) between the true tick and ``max_late - skew`` after it; cron on each node fires
when its *own* clock reads T, which needs no tolerance at all. Enforced: ``2 * skew`` is
shorter than the schedule's period (every cron gap is at least 60 s, so skew <= 29 s), so
two neighbouring times cannot both be "nearest".

A run whose lateness exceeds ``max_late`` is not that slot's run (cron catching up hours
after a suspend, a run started by hand long after): :func:`slot_for` raises :class:`Late`.

Cron expressions are evaluated in the zone cron uses (the local one: ``TZ``, else
``/etc/localtime``), so ``0 2 * * *`` is 02:00 where cron fires it; the slot is written in
UTC. Every node must use the same zone. ``--every`` periods count from the Unix epoch, in
UTC: ``--every 1d`` is 00:00 UTC, ``--every 5m`` is :00, :05, ...

Pure functions of their arguments (``now`` is a parameter); cronsim is imported only for
``--schedule``.
"""

from __future__ import annotations

import math

# DEFAULT_SKEW: seconds a run may start before its scheduled time and still belong to it;
# MAX_SKEW: cron's minimum gap is 60 s, and 2 * skew must be shorter; DEFAULT_MAX_LATE:
# seconds after its slot a run may start and still be that slot's run; MAX_PERIOD: the
# longest --every, --max-late and --catch-up (anything longer is a typo).
from .errors import shown
from .model import DEFAULT_MAX_LATE, DEFAULT_SKEW, MAX_PERIOD, MAX_SKEW

TYPE_CHECKING = False
if TYPE_CHECKING:  # re-exported: the ledger's modules take the C classes from here
    from datetime import datetime as datetime
    from datetime import timedelta as timedelta
    from datetime import timezone as timezone
    from datetime import tzinfo as tzinfo

    from .ledger.records import ServerTime
else:
    try:  # the C module itself: `datetime` first defines every class in Python (~1.3 ms)
        from _datetime import datetime, timedelta, timezone, tzinfo  # noqa: F401 (retention's)
    except ImportError:  # an interpreter without it
        from datetime import datetime, timedelta, timezone, tzinfo  # noqa: F401

MAX_CRON_LEN = 200

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FIELD_MAX = (59, 23, 31, 12, 7)
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
# crontab(5)'s nicknames (not @reboot: that is not a time).
_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class Late(Exception):
    """This run started more than ``max_late`` after its slot: it is not that slot's run."""

    def __init__(self, slot: Slot, max_late: float) -> None:
        self.slot = slot
        self.max_late = max_late
        super().__init__(
            f"started {slot.lateness:.0f} s after its slot {slot.iso}, more than"
            f" --max-late {max_late:g} s: not that slot's run, nothing run"
        )


class OffClock(Exception):
    """By the ledger's clock this run would start too early or too late for its slot."""


class Slot:
    """The scheduled time a run belongs to, and how late (negative: early) the run is."""

    __slots__ = ("lateness", "time")

    def __init__(self, *, time: datetime, lateness: float) -> None:
        self.time = time  # aware, UTC, whole seconds
        self.lateness = lateness

    @property
    def iso(self) -> str:
        """The slot as the ledger key writes it: ``2026-11-28T01:45:00Z``."""
        return self.time.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def timestamp(self) -> float:
        return self.time.timestamp()

    def __repr__(self) -> str:
        return f"Slot({self.iso}, lateness={self.lateness:g})"


def _text(what: str, value: str | bytes) -> str:
    """``value`` as text; bytes must be UTF-8. ValueError naming ``what`` otherwise."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what} {value!r} is not UTF-8") from None
    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} is not text")
    return value


def check_seconds(what: str, value: float, *, lo: float = 0.0, hi: float = MAX_PERIOD) -> float:
    """``value`` as a float if finite and within ``[lo, hi]``; ValueError naming it."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a number of seconds") from None
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"{what} {value!r} is not a finite number of seconds")
    if not lo <= f <= hi:
        raise ValueError(f"{what} {value!r} is outside {lo:g}..{hi:g} seconds")
    return f


def parse_duration(text: str | bytes) -> int:
    """Whole seconds from ``30s``, ``5m``, ``1h``, ``1d``, ``1h30m`` or a bare ``90``.

    ValueError naming the text when it is empty, malformed, zero or longer than a year.
    """
    s = _text("duration", text).strip()
    quoted = shown(s, 40)
    if not s:
        raise ValueError("duration '' is empty (write e.g. 30s, 5m, 1h, 1d)")
    if s.isascii() and s.isdigit():
        total = _bounded_int(s)
    else:
        total, number, seen = 0, "", ""
        for c in s:
            if c.isascii() and c.isdigit():
                number += c
            elif c in _UNITS and number and c not in seen:
                seen += c
                total += _bounded_int(number) * _UNITS[c]
                number = ""
            else:
                raise ValueError(f"duration {quoted} is not like 30s, 5m, 1h, 1d or 1h30m")
        if number:  # digits with no unit after a unit: 1h30
            raise ValueError(f"duration {quoted} has a number with no unit (s, m, h, d)")
    if total <= 0:
        raise ValueError(f"duration {quoted} is zero")
    if total > MAX_PERIOD:
        raise ValueError(f"duration {quoted} is longer than {MAX_PERIOD // 86400} days")
    return total


def _bounded_int(digits: str) -> int:
    """ASCII digits as an int, any number of leading zeros; more than 12 significant digits
    (beyond any period we accept) become MAX_PERIOD + 1, never a cut-off or a huge int."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= 12 else MAX_PERIOD + 1


class Schedule:
    """When runs are due: ``latest(at)`` is the latest scheduled time <= ``at`` (UTC)."""

    text: str
    #: The shortest gap between two scheduled times (seconds), for the skew rule.
    min_gap: float

    def latest(self, at: float) -> datetime:
        raise NotImplementedError


class Every(Schedule):
    """``--every DURATION``: multiples of the period since the Unix epoch, in UTC."""

    def __init__(self, text: str | bytes) -> None:
        self.period = parse_duration(text)
        self.text = f"every {self.period} s"
        self.min_gap = float(self.period)

    def latest(self, at: float) -> datetime:
        t = math.floor(at / self.period) * self.period
        return datetime.fromtimestamp(t, timezone.utc)


class Cron(Schedule):
    """``--schedule 'M H DOM MON DOW'``: cron's five fields, in the zone ``tz``."""

    def __init__(self, text: str | bytes, tz: tzinfo) -> None:
        s = _text("cron expression", text)
        quoted = shown(s)
        if len(s) > MAX_CRON_LEN:
            raise ValueError(f"cron expression {quoted} is longer than {MAX_CRON_LEN} characters")
        if any(not (c == "\t" or " " <= c <= "~") for c in s):
            raise ValueError(f"cron expression {quoted} has characters cron does not use")
        fields = s.split()
        if s.strip().startswith("@"):  # cron's nicknames; cronsim takes only five fields
            if len(fields) != 1 or fields[0] not in _NICKNAMES:
                raise ValueError(f"cron expression {quoted} is not a schedule of times")
            fields = _NICKNAMES[fields[0]].split()
        elif len(fields) != 5:
            raise ValueError(
                f"cron expression {quoted} has {len(fields)} fields, not the five of a"
                " crontab line (minute hour day-of-month month day-of-week)"
            )
        for field, top, name in zip(fields, _FIELD_MAX, _FIELD_NAMES):
            for step in field.split("/")[1:]:  # cron and cronsim let */100 mean "only :00"
                if step.isdigit() and not 1 <= (int(step) if len(step) <= 6 else top + 1) <= top:
                    raise ValueError(
                        f"cron expression {quoted} has a {name} step {step!r} beyond 1..{top}"
                    )
        from cronsim import CronSim, CronSimError

        self._cronsim = CronSim
        self.tz = tz
        self.expr = " ".join(fields)
        try:  # parse once now (the constructor validates every field), and find one time
            next(CronSim(self.expr, datetime(2000, 1, 1, tzinfo=tz)))
        except CronSimError as e:
            raise ValueError(f"cron expression {quoted} is invalid: {e}") from None
        except StopIteration:
            raise ValueError(f"cron expression {quoted} never fires") from None
        self.text = f"schedule {self.expr!r}"
        self.min_gap = 60.0  # cron's resolution: no two times are closer than a minute

    def latest(self, at: float) -> datetime:
        # CronSim's reverse iteration yields times strictly before its start, at whole
        # seconds: start one second after floor(at) to include a time equal to ``at``.
        start = datetime.fromtimestamp(math.floor(at) + 1, self.tz)
        try:
            t = next(self._cronsim(self.expr, start, reverse=True))
        except StopIteration:  # cronsim searches a bounded range of years
            raise ValueError(f"{self.text} has no time before {start.isoformat()}") from None
        return t.astimezone(timezone.utc)


def local_zone(environ: dict[str, str] | None = None) -> tzinfo:
    """The zone cron evaluates crontab lines in: ``TZ`` if set, else /etc/localtime, else UTC.

    A DST-aware zone (zoneinfo), not the current fixed offset, so slots stay right across
    a DST change. ValueError naming ``TZ`` when it names no zone.
    """
    import os
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    env = os.environ if environ is None else environ
    name = env.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"TZ {name!r} is not a known time zone") from None
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return timezone.utc


#: The longest schedule text a ledger record may carry (``spec()``).
MAX_SPEC_LEN = MAX_CRON_LEN + 100


def zone_name(tz: tzinfo) -> str | None:
    """The IANA name of a zone (``Europe/Berlin``, ``UTC``), or None when it has none: a
    zone read from /etc/localtime is named by the link's target when it is one."""
    key = getattr(tz, "key", None)
    if tz is timezone.utc:
        return "UTC"
    if isinstance(key, str) and key and key != "localtime":
        return key
    if key == "localtime":
        import os

        target = os.path.realpath("/etc/localtime")
        _, sep, name = target.partition("/zoneinfo/")
        if sep and name:
            return name
    return None


def spec(schedule: Schedule) -> str | None:
    """The schedule as a ledger record names it: ``every 2s``, ``cron 30 2 * * * UTC``;
    None for a cron schedule whose zone has no name another host could look up."""
    if isinstance(schedule, Every):
        return f"every {schedule.period}s"
    if isinstance(schedule, Cron):
        zone = zone_name(schedule.tz)
        return None if zone is None else f"cron {schedule.expr} {zone}"
    return None


def from_spec(text: str) -> Schedule:
    """``spec()``'s text back into a Schedule; ValueError naming it when it is not one."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    parts = _text("schedule", text).split() if len(text) <= MAX_SPEC_LEN else []
    if len(parts) == 2 and parts[0] == "every":
        return Every(parts[1])
    if len(parts) == 7 and parts[0] == "cron":
        try:
            tz: tzinfo = timezone.utc if parts[6] == "UTC" else ZoneInfo(parts[6])
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"schedule {text[:80]!r}: no time zone {parts[6][:40]!r}") from None
        return Cron(" ".join(parts[1:6]), tz)
    raise ValueError(
        f"schedule {text[:80]!r} is not 'every DURATION' or 'cron M H DOM MON DOW ZONE'"
    )


def due(schedule: Schedule, since: float, until: float, limit: int) -> list[datetime]:
    """The scheduled times in ``[since, until)``, oldest first; the newest ``limit`` of them
    when there are more (bounded however long the window and short the period)."""
    out: list[datetime] = []
    t = schedule.latest(until)
    if t.timestamp() >= until:
        t = schedule.latest(t.timestamp() - 1)
    while t.timestamp() >= since and len(out) < limit:
        out.append(t)
        t = schedule.latest(t.timestamp() - 1)
    out.reverse()
    return out


def default_skew(schedule: Schedule) -> float:
    """DEFAULT_SKEW, or a quarter of the period for periods shorter than 8 s."""
    return min(DEFAULT_SKEW, schedule.min_gap / 4)


def check_skew(schedule: Schedule, skew: float) -> float:
    """``skew`` if ``0 <= skew <= 29`` and ``2 * skew`` is shorter than the period."""
    skew = check_seconds("--skew", skew, hi=MAX_SKEW)
    if 2 * skew >= schedule.min_gap:
        raise ValueError(
            f"--skew {skew:g} s is too large for {schedule.text}: twice it must be shorter"
            f" than the {schedule.min_gap:g} s between runs"
        )
    return skew


def check_catch_up(catch_up: float, max_late: float) -> float:
    """``catch_up`` if positive and not beyond ``max_late`` (a later claim would be late)."""
    catch_up = check_seconds("--catch-up", catch_up)
    if catch_up <= 0:
        raise ValueError(f"--catch-up {catch_up:g} s must be more than zero")
    if catch_up > max_late:
        raise ValueError(
            f"--catch-up {catch_up:g} s is beyond --max-late {max_late:g} s:"
            " the catch-up claim would always be too late"
        )
    return catch_up


def slot_for(
    schedule: Schedule,
    now: float,
    *,
    skew: float = DEFAULT_SKEW,
    max_late: float | None = DEFAULT_MAX_LATE,
) -> Slot:
    """The slot a run starting at ``now`` (Unix time) belongs to; Late if too late for it.

    ``max_late`` None: no limit. ValueError for a bad ``now``, ``skew`` or ``max_late``.
    """
    now = check_seconds("time", now, lo=0.0, hi=253402300799.0)  # up to 9999-12-31
    skew = check_skew(schedule, skew)
    if max_late is not None:
        max_late = check_seconds("--max-late", max_late)
    t = schedule.latest(now + skew)
    slot = Slot(time=t, lateness=now - t.timestamp())
    if max_late is not None and slot.lateness > max_late:
        raise Late(slot, max_late)
    return slot


def judge_by_ledger(
    slot: Slot,
    server: ServerTime,
    mono: float,
    *,
    skew: float,
    max_late: float | None,
) -> str | None:
    """Judge a run of ``slot`` starting at our monotonic instant ``mono`` by the ledger's
    clock ``server``; OffClock when it might start more than ``skew`` before its slot or
    more than ``max_late`` after it, each plus the clock's resolution. A warning to say
    when our clock is off by more than that although this slot still fits, else None.

    The slot itself stays our clock's (ms-precise when NTP works; a Date is whole seconds):
    the ledger's clock only vetoes, so a node whose clock is right is never refused.
    """
    low, high = server.bounds(mono)
    t = slot.timestamp
    allowance = server.resolution
    o = server.offset
    off = (
        f"this node's clock is {abs(o):.1f} s {'ahead of' if o >= 0 else 'behind'} the"
        f" ledger's ({server.source}, +-{server.spread:.1f} s)"
    )
    if t - low > skew + allowance:
        raise OffClock(
            f"{off}: slot {slot.iso} would start up to {t - low:.1f} s before its time by the"
            f" ledger's clock, more than --skew {skew:g} s + {allowance:g} s: nothing run"
        )
    if max_late is not None and high - t > max_late + allowance:
        raise OffClock(
            f"{off}: slot {slot.iso} would start up to {high - t:.1f} s after its time by the"
            f" ledger's clock, more than --max-late {max_late:g} s + {allowance:g} s:"
            " nothing run"
        )
    if abs(o) - server.spread > skew + allowance:
        return f"warning: {off}: fix its time sync (this slot still fits)"
    return None


def catch_up_due(slot: Slot, catch_up: float) -> float:
    """The Unix time at which a node that is not the master tries to claim ``slot``."""
    return slot.timestamp + catch_up


def parse_iso(text: str) -> datetime:
    """A slot key's last part back into an aware UTC datetime (``...T01:45:00Z``), exactly
    as slots are written: by hand, as strptime's module (and the re and locale it imports)
    is ~5 ms of a ledger run for one fixed format."""
    digits = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    form = text[4] + text[7] + text[10] + text[13] + text[16] + text[19:] if len(text) == 20 else ""
    try:
        if form != "--T::Z" or not (digits.isascii() and digits.isdigit()):
            raise ValueError
        f = [int(digits[i:j]) for i, j in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))]
        return datetime(f[0], f[1], f[2], f[3], f[4], f[5], tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"slot {text!r} is not like 2026-11-28T01:45:00Z") from None


__all__ = [
    "DEFAULT_MAX_LATE",
    "DEFAULT_SKEW",
    "MAX_SKEW",
    "Cron",
    "Every",
    "Late",
    "OffClock",
    "Schedule",
    "Slot",
    "catch_up_due",
    "check_catch_up",
    "check_seconds",
    "check_skew",
    "default_skew",
    "due",
    "from_spec",
    "judge_by_ledger",
    "local_zone",
    "parse_duration",
    "parse_iso",
    "slot_for",
    "spec",
]
