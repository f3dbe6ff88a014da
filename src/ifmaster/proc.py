"""What /proc and prctl(2) tell about processes: one reader of each, for every module.

``/proc/PID/stat`` puts the process name in field 2 between parentheses, and the name may
itself hold spaces and ``)``: every field after it is read after the *last* ``)``.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PROC = "/proc"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PR_SET_CHILD_SUBREAPER = 36


def stat_fields(stat: bytes | str) -> list[str]:
    """The fields of a /proc/PID/stat text after the name: [0] is field 3 (state),
    [1] field 4 (ppid), [19] field 22 (starttime in clock ticks since boot)."""
    text = stat.decode("ascii", "replace") if isinstance(stat, bytes) else stat
    return text[text.rindex(")") + 2 :].split()


def read_stat(pid: int | str, proc: str = PROC) -> list[str] | None:
    """``stat_fields`` of a process, or None when it is gone (or unreadable)."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            return stat_fields(f.read())
    except (OSError, ValueError):
        return None


def parent_of(pid: int, proc: str = PROC) -> int | None:
    """The parent pid of ``pid``, or None when it is gone."""
    fields = read_stat(pid, proc)
    try:
        return int(fields[1]) if fields else None
    except (IndexError, ValueError):
        return None


def descendants(root: int, proc: str = PROC) -> list[tuple[int, int]]:
    """(pid, parent pid) of every descendant of ``root``, parents before children.

    One pass over /proc; without /proc, an empty list (the caller still signals the group).
    """
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir(proc)
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        parent = parent_of(int(entry), proc)
        if parent is not None:  # else gone meanwhile
            children.setdefault(parent, []).append(int(entry))
    out: list[tuple[int, int]] = []
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid in children.get(parent, ()):
            out.append((pid, parent))
            todo.append(pid)
    return out


def age(proc: str = PROC) -> float:
    """Seconds since this process started, on CLOCK_BOOTTIME (frozen time counts too).

    Raises OSError when /proc/self/stat cannot be read.
    """
    import time

    with open(f"{proc}/self/stat", "rb") as f:
        ticks = int(stat_fields(f.read())[19])
    return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")


def prctl_function() -> Callable[..., int]:
    """libc's prctl(2) through ctypes (costs ~2 ms to import: only supervised runs do).

    Returned, not called: a forked child calls it before exec, where nothing may be imported.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    prctl: Callable[..., int] = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]  # type: ignore[attr-defined]
    prctl.restype = ctypes.c_int  # type: ignore[attr-defined]
    return prctl


def set_child_subreaper(on: bool = True) -> None:
    """Make orphaned descendants reparent to this process instead of init (Linux >= 3.4)."""
    import ctypes

    if prctl_function()(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(code)}")


def exit_code(wait_status: int) -> int:
    """A wait status as a shell shows it: the exit status, or 128 + the signal."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)
