"""``--metrics-dir``: one Prometheus textfile per task and node, for node_exporter.

Every invocation with ``--task`` on every node, master or not, reads
``DIR/if_master_TASK.prom``, updates it with one ``TaskEvent`` and writes it back
atomically (a temporary file in the same directory, then ``rename``), all under an
``flock`` on the sibling ``DIR/.if_master_TASK.prom.lock``, so concurrent invocations lose
no counter increments. node_exporter's textfile collector reads only ``*.prom`` files, so
neither the lock nor the temporary file is ever scraped.

The exposition format is written by hand, not with ``prometheus_client``: importing
``prometheus_client`` costs about 55 ms (it pulls in http.server, wsgiref, ssl...) on a
path that otherwise starts in about 20 ms; this module needs only ``os`` and ``fcntl``.
``promtool check metrics`` and a real node_exporter accept what it writes (tests/ops).

Metrics never decide anything: a file that cannot be read or parsed starts afresh
(``if_master_metrics_file_resets_total`` counts it), a write that fails prints one warning
on stderr and ``record()`` returns False. It never raises for the OS's sake.
"""

from __future__ import annotations

import os

from . import kinds

#: What the last check found (kinds.py names each). ``master``: this node acts as master
#: (the job runs); ``overlap``: master, but the previous run still holds the --no-overlap
#: lock. The others say why this node is not the master, or did not run the task.
OUTCOMES = kinds.ALL
#: Why a run was skipped: every outcome but ``master``.
SKIP_REASONS = tuple(o for o in OUTCOMES if o != kinds.MASTER)
#: How a run ended: exit status 0, any other status, or killed by a signal.
RESULTS = ("success", "failure", "signal")
_MASTER_OUTCOMES = kinds.AS_MASTER

#: name -> (type, help). The order is the file's order.
METRICS: dict[str, tuple[str, str]] = {
    "if_master_last_check_timestamp_seconds": (
        "gauge",
        "When if-master last checked, on this node, whether it is the master.",
    ),
    "if_master_is_master": ("gauge", "1 if the last check found this node the master, else 0."),
    "if_master_last_check_outcome": (
        "gauge",
        "1 for what the last check found (label outcome), 0 for the other outcomes.",
    ),
    "if_master_skips_total": ("counter", "Invocations that did not run the task, by reason."),
    "if_master_runs_total": ("counter", "Runs of the task on this node that ended, by result."),
    "if_master_last_run_start_timestamp_seconds": (
        "gauge",
        "When the last run of the task on this node started.",
    ),
    "if_master_last_run_end_timestamp_seconds": (
        "gauge",
        "When the last run of the task on this node ended.",
    ),
    "if_master_last_run_duration_seconds": (
        "gauge",
        "How long the last finished run of the task on this node took.",
    ),
    "if_master_last_run_exit_status": (
        "gauge",
        "Exit status of the last finished run (128+N when killed by signal N).",
    ),
    "if_master_last_run_signal": (
        "gauge",
        "The signal that killed the last finished run, 0 when it exited.",
    ),
    "if_master_last_run_success": ("gauge", "1 if the last finished run exited 0, else 0."),
    "if_master_last_success_timestamp_seconds": (
        "gauge",
        "When the last successful run of the task on this node ended.",
    ),
    "if_master_metrics_file_resets_total": (
        "counter",
        "Times if-master found this file unreadable or corrupt and started it afresh.",
    ),
}
#: The metrics with a second label, and its name.
_LABELLED = {
    "if_master_last_check_outcome": ("outcome", OUTCOMES),
    "if_master_skips_total": ("reason", SKIP_REASONS),
    "if_master_runs_total": ("result", RESULTS),
}
_HEADER = "# if-master metrics for one task on this node; rewritten by every invocation.\n"

#: A sample's key: (metric name, second label value or "").
Key = tuple[str, str]


class TaskEvent:
    """What happened in one invocation; every field keyword-only and optional.

    ``outcome`` (one of OUTCOMES) with ``checked_at``: a check. ``started_at`` alone: a run
    began. ``started_at`` with ``ended_at`` and exactly one of ``status``/``signal``: a run
    ended (``duration`` defaults to ``ended_at - started_at``; pass a monotonic one when you
    have it). One event may carry a check and a start together (one write, not two).
    Times are wall-clock seconds (``time.time()``).
    """

    __slots__ = ("outcome", "checked_at", "started_at", "ended_at", "status", "signal", "duration")

    def __init__(
        self,
        *,
        outcome: str | None = None,
        checked_at: float | None = None,
        started_at: float | None = None,
        ended_at: float | None = None,
        status: int | None = None,
        signal: int | None = None,
        duration: float | None = None,
    ) -> None:
        if (outcome is None) != (checked_at is None):
            raise ValueError("a check needs both outcome and checked_at")
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
        if ended_at is not None:
            if started_at is None:
                raise ValueError("an ended run needs started_at")
            if (status is None) == (signal is None):
                raise ValueError("an ended run needs exactly one of status and signal")
        elif status is not None or signal is not None or duration is not None:
            raise ValueError("status, signal and duration need ended_at")
        if ended_at is None and started_at is None and outcome is None:
            raise ValueError("an empty event")
        self.outcome = outcome
        self.checked_at = checked_at
        self.started_at = started_at
        self.ended_at = ended_at
        self.status = status
        self.signal = signal
        self.duration = duration


def prom_path(metrics_dir: str, task: str) -> str:
    """``DIR/if_master_TASK.prom``; ValueError unless ``task`` is valid (validate_task)."""
    from .task import validate_task

    return os.path.join(metrics_dir, f"if_master_{validate_task(task)}.prom")


def record(metrics_dir: str, task: str, event: TaskEvent) -> bool:
    """Fold ``event`` into the task's file under its lock; False (one warning) on failure."""
    path = prom_path(metrics_dir, task)
    try:
        lock_fd = _lock(metrics_dir, task)
        try:
            samples, ok = parse(_read(path), task)
            apply(samples, event, reset=not ok)
            _write_atomically(path, metrics_dir, task, render(samples, task))
        finally:
            os.close(lock_fd)  # closing drops the flock
    except OSError as e:
        _warn(path, e)
        return False
    return True


def record_check(metrics_dir: str, task: str, outcome: str, *, at: float) -> bool:
    """A check that does not run the task (not master, overlap, error): one write."""
    return record(metrics_dir, task, TaskEvent(outcome=outcome, checked_at=at))


def record_start(metrics_dir: str, task: str, *, at: float) -> bool:
    """The check that found this node the master and the start of the run: one write."""
    return record(metrics_dir, task, TaskEvent(outcome=kinds.MASTER, checked_at=at, started_at=at))


def record_end(
    metrics_dir: str,
    task: str,
    *,
    status: int | None,
    signal: int | None,
    started: float,
    ended: float,
    duration: float | None = None,
) -> bool:
    """The run started at ``started`` ended (exit ``status``, or killed by ``signal``)."""
    event = TaskEvent(
        started_at=started, ended_at=ended, status=status, signal=signal, duration=duration
    )
    return record(metrics_dir, task, event)


def apply(samples: dict[Key, float], event: TaskEvent, *, reset: bool = False) -> None:
    """Update ``samples`` in place with ``event`` (and a reset of a corrupt file)."""
    if reset:
        _bump(samples, ("if_master_metrics_file_resets_total", ""))
    if event.outcome is not None and event.checked_at is not None:
        samples[("if_master_last_check_timestamp_seconds", "")] = event.checked_at
        samples[("if_master_is_master", "")] = float(event.outcome in _MASTER_OUTCOMES)
        for outcome in OUTCOMES:
            samples[("if_master_last_check_outcome", outcome)] = float(outcome == event.outcome)
        if event.outcome != "master":
            _bump(samples, ("if_master_skips_total", event.outcome))
    if event.ended_at is None:
        if event.started_at is not None:
            samples[("if_master_last_run_start_timestamp_seconds", "")] = event.started_at
        return
    assert event.started_at is not None
    if event.signal is not None:
        result, status, sig = "signal", 128 + event.signal, event.signal
    else:
        assert event.status is not None
        result, status, sig = ("success" if event.status == 0 else "failure"), event.status, 0
    duration = event.duration if event.duration is not None else event.ended_at - event.started_at
    # A run that ends may not have been recorded starting (a failed write, a reset file).
    samples[("if_master_last_run_start_timestamp_seconds", "")] = event.started_at
    samples[("if_master_last_run_end_timestamp_seconds", "")] = event.ended_at
    samples[("if_master_last_run_duration_seconds", "")] = max(duration, 0.0)
    samples[("if_master_last_run_exit_status", "")] = float(status)
    samples[("if_master_last_run_signal", "")] = float(sig)
    samples[("if_master_last_run_success", "")] = float(result == "success")
    if result == "success":
        samples[("if_master_last_success_timestamp_seconds", "")] = event.ended_at
    _bump(samples, ("if_master_runs_total", result))


def _bump(samples: dict[Key, float], key: Key) -> None:
    samples[key] = samples.get(key, 0.0) + 1


def render(samples: dict[Key, float], task: str) -> str:
    """The exposition text: every metric with a value, every counter label set from 0."""
    task_label = f'task="{_escape(task)}"'
    out = [_HEADER]
    for name, (kind, help_text) in METRICS.items():
        if name in _LABELLED:
            label, values = _LABELLED[name]
            rows = [
                (f'{name}{{{task_label},{label}="{v}"}}', samples.get((name, v), 0.0))
                for v in values
            ]
        elif (name, "") in samples:
            rows = [(f"{name}{{{task_label}}}", samples[(name, "")])]
        elif kind == "counter":
            rows = [(f"{name}{{{task_label}}}", 0.0)]
        else:
            continue  # a time or status that has no value yet is absent, not 0
        if name == "if_master_last_check_outcome" and (name, OUTCOMES[0]) not in samples:
            continue  # no check yet: no outcome at all rather than all zeros
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        out.extend(f"{series} {_number(value)}\n" for series, value in rows)
    return "".join(out)


def parse(text: str | None, task: str) -> tuple[dict[Key, float], bool]:
    """The samples of a file we wrote, and whether it was sound (False: start afresh).

    ``None`` (no file yet) is sound and empty. Samples of metrics this version does not
    know are dropped (a newer version wrote them); anything malformed, another task's
    label, or a missing header makes the whole file unsound.
    """
    if text is None:
        return {}, True
    if not text.startswith(_HEADER) or not text.endswith("\n"):
        return {}, False
    samples: dict[Key, float] = {}
    prefix = f'{{task="{_escape(task)}"'
    for line in text[len(_HEADER) :].splitlines():
        if line.startswith("#"):
            continue
        name, brace, rest = line.partition("{")
        labels, close, value = rest.rpartition("} ")
        if not brace or not close or not ("{" + labels).startswith(prefix):
            return {}, False
        extra = labels[len(prefix) - 1 :]
        second = ""
        if extra:
            label_name, eq, quoted = extra[1:].partition("=")
            if not extra.startswith(",") or not eq or len(quoted) < 2:
                return {}, False
            if quoted[0] != '"' or quoted[-1] != '"':
                return {}, False
            second = quoted[1:-1]
            if name in _LABELLED and _LABELLED[name][0] != label_name:
                return {}, False
        try:
            number = float(value)
        except ValueError:
            return {}, False
        if number != number:  # NaN: never written by us
            return {}, False
        if name in METRICS:
            samples[(name, second)] = number
    return samples, True


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _read(path: str) -> str | None:
    try:
        # O_NONBLOCK: a FIFO put in its place must not hang the job.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    try:
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
            if len(data) > 1 << 20:  # not ours: ours is a few kB
                return ""
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _lock(metrics_dir: str, task: str, timeout: float = 5.0) -> int:
    """An exclusive flock on the sibling lock file, waiting at most ``timeout`` seconds."""
    import fcntl
    import time

    lock_path = os.path.join(metrics_dir, f".if_master_{task}.prom.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise TimeoutError(0, f"{lock_path} stayed locked for {timeout:g} s") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        except BaseException:
            os.close(fd)
            raise


def _write_atomically(path: str, metrics_dir: str, task: str, text: str) -> None:
    """Write a hidden temporary file next to ``path``, make it 0644, rename it over ``path``."""
    tmp = os.path.join(metrics_dir, f".if_master_{task}.prom.tmp")
    try:
        os.unlink(tmp)  # left by a writer that died; we hold the lock, so it is no one's
    except FileNotFoundError:
        pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(tmp, flags, 0o644)
    try:
        os.fchmod(fd, 0o644)  # readable by node_exporter whatever our umask
        data = text.encode()
        while data:
            data = data[os.write(fd, data) :]
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, path)


def _warn(path: str, error: OSError) -> None:
    from .errors import say

    say(f"warning: cannot update metrics {path}: {error.strerror or error}")
