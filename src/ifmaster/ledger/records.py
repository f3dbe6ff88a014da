"""What a ledger holds and answers, whatever the store: records, claims, errors.

Plain classes, keyword-constructed; no I/O. Every backend (``etcd.py``, later others)
returns these, and act, history and the CLI read only these.
"""

from __future__ import annotations

from ..errors import cut, printable, shown
from ..slot import datetime, timezone
from .jsontext import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_NODE_LEN = 255
_MAX_TIME_LEN = 64  # an ISO 8601 time, with room for another writer's form
_MAX_RAW = 80  # characters of a value we did not write, shown escaped
_MAX_SCHEDULE = 256  # a schedule spec as slot.spec() writes it, with its time zone


class LedgerError(Exception):
    """The ledger could not be used: nothing may run. ``str()`` is one line.

    ``kind`` says which failure, for metrics and logs: ``unreachable`` (no endpoint
    answered in time, no quorum), ``tls``, ``auth``, ``protocol`` (a reply we cannot
    read), ``config`` (an unreadable certificate or password file), ``alarm`` (etcd
    refuses writes under an alarm: NOSPACE, a full database; CORRUPT).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def bounded(text: str, limit: int = 200) -> str:
    """A server's words for our one stderr line: escaped as every diagnostic, and bounded."""
    return cut(printable(text), limit)


def validate_node(name: str) -> str:
    """A node name for the record: 1 to 255 printable characters."""
    if not isinstance(name, str) or not name or len(name) > MAX_NODE_LEN:
        raise ValueError(f"node name {name!r} is empty or longer than {MAX_NODE_LEN}")
    if not name.isprintable() or name != name.strip():
        raise ValueError(f"node name {shown(name)} has control characters or outer spaces")
    return name


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _number(value: Any) -> bool:
    """A PID or an exit status as we write them: an int (JSON's 1e400 is a float)."""
    return isinstance(value, int) and not isinstance(value, bool) and -(1 << 63) <= value < 1 << 63


def iso_ms(t: float) -> str:
    d = datetime.fromtimestamp(t, timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


class LedgerOptions:
    """--ledger's connection options as given, before any file or socket is touched.

    Built by the CLI (parsing does no I/O); ``open_ledger()`` reads the password and the
    TLS files and returns the store when act() needs it.
    """

    __slots__ = ("ca", "cert", "deadline", "keep", "key", "password_file", "url", "user")

    def __init__(
        self,
        *,
        url: str,
        deadline: float,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        user: str | None = None,
        password_file: str | None = None,
        keep: int | None = None,
    ) -> None:
        self.url = url
        self.deadline = deadline
        self.keep = keep  # seconds of slots a claim keeps (--keep); None: every slot
        self.ca = ca
        self.cert = cert
        self.key = key
        self.user = user
        self.password_file = password_file


class Record:
    """What a slot's key holds: who claimed it, when, their PID; end and status once done.

    ``schedule`` names the task's schedule as the claimer knew it (``slot.spec()``: "every
    2s", "cron 30 2 * * * Europe/Berlin"), so a history knows which slots were due; None
    in records written before it existed.
    """

    __slots__ = ("end", "node", "pid", "schedule", "start", "status")

    def __init__(
        self,
        *,
        node: str,
        start: str,
        pid: int,
        end: str | None = None,
        status: int | None = None,
        schedule: str | None = None,
    ) -> None:
        self.node = node
        self.start = start  # ISO 8601 UTC with milliseconds, as written
        self.pid = pid
        self.end = end
        self.status = status
        self.schedule = schedule

    def to_json(self) -> str:
        d: dict[str, Any] = {"node": self.node, "start": self.start, "pid": self.pid}
        if self.schedule is not None:
            d["schedule"] = self.schedule
        if self.end is not None:
            d["end"] = self.end
            d["status"] = self.status
        return dumps(d, compact=True)

    @classmethod
    def from_json(cls, data: bytes) -> Record:
        """Read a key's value; a value we did not write still names its holder raw.

        Never raises: whatever another writer stored (``"pid": 1e400``, 100,000 nested
        ``[``, a megabyte of text) the slot is held, and its value is shown escaped and
        bounded in ``node``, with ``pid`` 0 and ``start`` "?".
        """
        from .reply import loads

        try:
            d = loads(data)
            if isinstance(d, dict):
                node: Any = d.get("node")
                start: Any = d.get("start")
                pid: Any = d.get("pid")
                end: Any = d.get("end")
                status: Any = d.get("status")
                schedule: Any = d.get("schedule")
                if (
                    _text(node, MAX_NODE_LEN)
                    and _text(start, _MAX_TIME_LEN)
                    and _number(pid)
                    and (end is None or _text(end, _MAX_TIME_LEN))
                    and (status is None or _number(status))
                ):
                    return cls(
                        node=str(node),
                        start=str(start),
                        pid=int(pid),
                        end=None if end is None else str(end),
                        status=None if status is None else int(status),
                        # A schedule we cannot show whole is not one a history can use.
                        schedule=schedule if _text(schedule, _MAX_SCHEDULE) else None,
                    )
        except ValueError:  # not UTF-8, not JSON, too deep: another writer's bytes
            pass
        raw = data[: _MAX_RAW * 4].decode("utf-8", "backslashreplace")
        return cls(node=bounded(raw, _MAX_RAW), start="?", pid=0)

    def __str__(self) -> str:
        """One printable line, whatever another writer stored (no terminal escapes)."""
        done = "" if self.end is None else f", ended {self.end} with status {self.status}"
        text = f"{self.node} (pid {self.pid}, started {self.start}{done})"
        return "".join(c if c.isprintable() else "?" for c in text)


class Claim:
    """The outcome of claiming a slot: ``won``, or held by ``holder``; and the key's revision."""

    __slots__ = ("clock_offset", "holder", "key", "revision", "won")

    def __init__(
        self,
        *,
        won: bool,
        key: str,
        holder: Record,
        revision: int,
        clock_offset: float | None = None,
    ) -> None:
        self.won = won
        self.key = key
        self.holder = holder  # ours when won
        self.revision = revision  # the key's create_revision: guards the end record
        # Our clock minus the answering member's (its HTTP Date, whole seconds: +-1 s);
        # None when it sent none. Beyond the slot skew tolerance, slots may split.
        self.clock_offset = clock_offset

    def __str__(self) -> str:
        if self.won:
            return f"claimed {self.key}"
        return f"{self.key} is held by {self.holder}"


class ServerTime:
    """The ledger's clock, read once: at our monotonic instant ``at`` its Unix time lay in
    ``[low, high]`` (etcd: the Date header's whole second, widened by the round trip).

    ``wall`` is our own clock at ``at``, for naming the offset; ``resolution`` the store's
    clock step (etcd's Date: 1 s), the allowance a run's window gets on each side so that
    a node whose clock is right is never refused for the Date's rounding.
    """

    __slots__ = ("at", "high", "low", "resolution", "source", "wall")

    def __init__(
        self, *, low: float, high: float, at: float, wall: float, resolution: float, source: str
    ) -> None:
        self.low = low
        self.high = high
        self.at = at  # time.monotonic() when the reply arrived
        self.wall = wall  # time.time() then
        self.resolution = resolution
        self.source = source  # who answered, e.g. "10.0.0.1:2379's Date"

    def bounds(self, mono: float) -> tuple[float, float]:
        """The ledger's Unix time at our monotonic instant ``mono`` (not before ``at``)."""
        gone = max(0.0, mono - self.at)  # the monotonic clock runs on through wall steps
        return self.low + gone, self.high + gone

    @property
    def offset(self) -> float:
        """Our clock minus the ledger's (positive: ours is ahead), to within +-``spread``."""
        return self.wall - (self.low + self.high) / 2

    @property
    def spread(self) -> float:
        return (self.high - self.low) / 2


class Stored:
    """One slot as a read gives it back: its task and slot, what it holds, its revision.

    ``record`` is None when the value is not one of ours (another writer's bytes: ``raw``
    holds them, escaped and bounded by whoever prints them).
    """

    __slots__ = ("alive", "raw", "record", "revision", "slot", "task")

    def __init__(
        self,
        *,
        task: str,
        slot: str,
        record: Record | None,
        raw: str,
        revision: int,
        alive: bool | None = None,
    ) -> None:
        self.task = task
        self.slot = slot  # ISO 8601 UTC, as in the key
        self.record = record
        self.raw = raw
        self.revision = revision  # the claim's fencing token (etcd: its create_revision)
        # The runner's liveness record (see liveness.py): True while it is kept alive,
        # False when it is gone (or never was), None when the store keeps none.
        self.alive = alive
