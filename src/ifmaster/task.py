"""Task identity (``--task``) and the ``--no-overlap`` lock.

A task name is both a Prometheus label value and a file name (``if_master_TASK.prom``,
``TASK.lock``), so it is held to the intersection: ASCII letters, digits, ``_``, ``-``,
``.``, at most 200 characters, and never ``.`` or ``..``.

The no-overlap lock, and the design the supervisor follows
-----------------------------------------------------------
``acquire(task, lock_dir)`` opens ``LOCK_DIR/TASK.lock`` with ``O_CLOEXEC`` and takes a
non-blocking exclusive ``flock`` on it, then writes our PID into the file so that a
contender can name the holder. Only the master takes it (a node that is not the master
skips anyway). The lock belongs to the open file description, so the kernel releases it
when the last descriptor on it closes: when the holder calls ``release()``, or when the
holder dies, however it dies, SIGKILL included. Nothing is left to clean up; a stale
file is harmless (its PID is only read while someone holds the lock).

With ``--no-overlap`` the job is never exec'd: if-master stays as its supervisor and keeps
the only descriptor, which the job's tree does not inherit (``O_CLOEXEC``). On every exit
path (the job ends, a signal is forwarded, the VIP is lost, an error) the supervisor must
first kill the job's process group and descendants and reap them, and only then release the
lock (or simply exit), so the lock outlives the job. If the supervisor itself is SIGKILLed,
the kernel closes its descriptor and the lock is free at once (between fork and exec the
child shares the descriptor, ``O_CLOEXEC`` acts at exec: a supervisor killed in that window
frees the lock when the child execs or dies); the job's direct child was started with
``set_pdeathsig(SIGKILL, supervisor_pid)`` (in the child, between fork and exec), so the
kernel kills it too.

What remains: descendants of the job (grandchildren) that survive when the supervisor is
SIGKILLed. PDEATHSIG reaches the direct child only, and the supervisor's tree kill never
runs, so such a grandchild can still be at work when the next run takes the lock. We do
*not* close that hole with a second, inherited descriptor held by the job: flock locks
follow the open file description, so every descendant that keeps the inherited descriptor
(any background process the job leaves behind: ``nohup helper &``, ``setsid``, a daemon
started by hand that does not close inherited descriptors) would hold the lock for its whole
life, and every later run would be skipped as an overlap, naming a long-gone PID. That
failure is both likelier and worse than the one it prevents, which needs the supervisor
SIGKILLed (OOM killer, ``kill -9``) *and* a grandchild that outlives its killed parent. Jobs
that must be airtight against that can run under ``systemd-run --scope`` or their own
``flock(1)``.
"""

from __future__ import annotations

import os

#: Where ``--no-overlap`` keeps its lock files unless told otherwise.
from .limits import DEFAULT_LOCK_DIR

#: The status of a run skipped because the previous one still holds the lock. Like any
#: other skip under cron it is 0 by default (cron mails on output, not status).
DEFAULT_OVERLAP_STATUS = 0

MAX_TASK_LEN = 200
_TASK_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def validate_task(name: str | bytes) -> str:
    """``name`` if it is a valid task name; ValueError naming the bad value otherwise."""
    if isinstance(name, bytes):
        try:
            name = name.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"task name {name!r} is not ASCII") from None
    why = None
    if not name:
        why = "is empty"
    elif name in (".", ".."):
        why = "is not a file name"
    elif len(name) > MAX_TASK_LEN:
        why = f"is longer than {MAX_TASK_LEN} characters"
    elif not _TASK_CHARS.issuperset(name):
        bad = "".join(sorted({c for c in name if c not in _TASK_CHARS}))
        why = f"has characters other than letters, digits, '_', '-', '.': {bad!r}"
    if why is not None:
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise ValueError(f"task name {shown!r} {why}")
    return name


class LockBusy(Exception):
    """The previous run still holds the task's lock; ``holder`` is its PID when known."""

    def __init__(self, path: str, holder: int | None) -> None:
        who = f"PID {holder}" if holder is not None else "a process whose PID is unknown"
        super().__init__(f"the previous run still holds {path} ({who}), not running")
        self.path = path
        self.holder = holder


class TaskLock:
    """A held no-overlap lock: one close-on-exec descriptor; ``release()`` is idempotent."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd: int | None = fd
        self.path = path

    def release(self) -> None:
        """Forget our PID, then drop the lock by closing the descriptor."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no stale PID for the next contender to report
        except OSError:
            pass
        os.close(fd)

    def __enter__(self) -> TaskLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_path(task: str, lock_dir: str = DEFAULT_LOCK_DIR) -> str:
    return os.path.join(lock_dir, validate_task(task) + ".lock")


def acquire(task: str, lock_dir: str = DEFAULT_LOCK_DIR) -> TaskLock:
    """Take ``LOCK_DIR/TASK.lock`` without waiting; LockBusy if the previous run holds it.

    Creates ``lock_dir`` (mode 0755) when missing. Refuses (OSError) a lock directory that
    someone other than us or root owns, or that others may write to: /run/lock is
    world-writable, and we truncate the file we open there.
    """
    import fcntl

    path = lock_path(task, lock_dir)
    try:
        os.mkdir(lock_dir, 0o755)
    except FileExistsError:
        pass
    _check_private_dir(lock_dir)
    # O_NONBLOCK: a FIFO planted there must not make open() wait; fstat then refuses it.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"lock file {path} is not a regular file")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise LockBusy(path, holder) from None
    except BaseException:
        os.close(fd)
        raise
    try:
        data = f"{os.getpid()}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except BaseException:
        os.close(fd)
        raise
    return TaskLock(fd, path)


def _check_private_dir(path: str) -> None:
    import stat

    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"lock directory {path} is not a directory")
    if st.st_uid not in (0, os.geteuid()):
        raise PermissionError(f"lock directory {path} belongs to uid {st.st_uid}, not to us")
    if st.st_mode & 0o022:
        raise PermissionError(f"lock directory {path} is writable by others (mode {st.st_mode:o})")


def _read_holder(fd: int) -> int | None:
    """The PID the holder wrote; it writes right after locking, so wait a moment for it."""
    import time

    for _ in range(20):
        text = os.pread(fd, 32, 0)
        if text.endswith(b"\n") and text[:-1].isdigit():
            return int(text)
        time.sleep(0.005)
    return None
