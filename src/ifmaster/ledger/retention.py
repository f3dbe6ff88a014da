"""How long a task's slot records stay (``--keep``), and the one key range a claim prunes.

Each won claim also deletes the task's slot keys older than the retention, in the same
transaction: no extra round trip, nothing to schedule, and a ledger that stays at its
retention window however long it runs. Slot keys end in ISO 8601 UTC of fixed width
(``2026-11-28T01:45:00Z``), so lexical order is time order and the old ones are exactly
``[PREFIX/TASK/, PREFIX/TASK/OLDEST)``. Every key in that range starts with
``PREFIX/TASK/``: a key that does not would differ from it at some position before its
end, and then sort either below the start or above the end. So neither another task
(``backup2`` beside ``backup``), nor another prefix (``/p2`` beside ``/p``), nor the
current slots' sub-keys (``PREFIX/TASK/SLOT/...``, at or after OLDEST) can be reached;
an old slot's sub-keys go with it.

No I/O: the etcd store puts the range into its claim.
"""

from __future__ import annotations

from ..model import DEFAULT_KEEP, MAX_KEEP, MIN_KEEP
from ..slot import parse_duration, parse_iso, timedelta

__all__ = [
    "DEFAULT_KEEP",
    "MAX_KEEP",
    "MIN_KEEP",
    "check_against_lateness",
    "check_keep",
    "oldest_kept",
    "parse_keep",
    "prune_range",
]
#: The words that turn pruning off.
FOREVER = ("0", "forever")


def parse_keep(text: str) -> int | None:
    """``--keep`` in whole seconds (``35d``, ``12h``, ``90m``); None for ``0``/``forever``.

    ValueError naming the value when it is malformed, shorter than a minute or longer than
    a year.
    """
    s = text.strip()
    if s.lower() in FOREVER:
        return None
    try:
        seconds = parse_duration(s)
    except ValueError as e:
        raise ValueError(f"--keep: {e} (or 0 / forever to keep every slot)") from None
    return check_keep(seconds)


def check_keep(seconds: int) -> int:
    """``seconds`` if within ``MIN_KEEP..MAX_KEEP``; ValueError otherwise."""
    if not MIN_KEEP <= seconds <= MAX_KEEP:
        raise ValueError(
            f"--keep {seconds} s is outside {MIN_KEEP} s..{MAX_KEEP // 86400} days"
            " (or 0 / forever to keep every slot)"
        )
    return seconds


def check_against_lateness(keep: int | None, max_late: float, skew: float) -> None:
    """A retention must outlast every claim that can still come for a pruned slot.

    A slot's last claim comes at most ``max_late`` after it; the claim that prunes it comes
    at ``keep`` after it less ``skew`` (an early run of a later slot). A key pruned before
    that last claim would be created again, and the slot run twice.
    """
    if keep is not None and keep <= max_late + skew:
        raise ValueError(
            f"--keep {keep:g} s must be longer than --max-late {max_late:g} s plus --skew"
            f" {skew:g} s: a late run could claim a slot already pruned, and run it again"
        )


def oldest_kept(slot: str, keep: int) -> str:
    """The oldest slot a claim of ``slot`` keeps: ``keep`` seconds before it, as a key writes
    it (``...T01:45:00Z``)."""
    t = parse_iso(slot) - timedelta(seconds=keep)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def prune_range(task_prefix: str, slot: str, keep: int) -> tuple[str, str]:
    """``(start, end)`` of the keys a claim of ``slot`` deletes: ``[TP, TP + OLDEST)``.

    ``task_prefix`` is ``PREFIX/TASK/``, with its slash: without it the range would reach
    ``PREFIX/TASK2/...``.
    """
    if not task_prefix.endswith("/"):
        raise ValueError(f"task prefix {task_prefix!r} must end in '/'")
    return task_prefix, task_prefix + oldest_kept(slot, keep)
