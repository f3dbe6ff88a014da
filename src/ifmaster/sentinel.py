"""The backstop for a supervisor killed outright (SIGKILL): a detached process that kills
the command's process group when the supervisor's pipe closes without ``done``.

PR_SET_PDEATHSIG covers the command itself; the sentinel covers its children that stayed
in its process group. Only descendants that left the group (``setsid``, double-forked
daemons) survive a SIGKILLed supervisor, reparented to init (see the docs).
"""

from __future__ import annotations

import os
import select

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
else:  # _signal, not signal: the latter builds enums at import (~2 ms of a supervised run)
    import _signal as signal


def start() -> tuple[int, int | None]:
    """Start the backstop for a supervisor killed outright; return its pipe and its pidfd.

    The sentinel is a detached process (its own session, reparented to init: neither our
    child nor in our process group) blocked reading this pipe. Write the command's process
    group id and a newline once it is known, and ``done`` when the command's tree has been
    reaped. If the pipe reaches end-of-file without ``done`` (the supervisor died, even by
    SIGKILL), the sentinel SIGKILLs that process group: the command's children that stayed
    in its group die with it. (PR_SET_PDEATHSIG covers the command itself.)
    """
    rfd, wfd = os.pipe2(os.O_CLOEXEC)  # close-on-exec: the command must not hold it open
    ack_r, ack_w = os.pipe2(os.O_CLOEXEC)
    first = os.fork()
    if first == 0:
        try:
            os.close(ack_r)
            os.setsid()
            pid = os.fork()
            if pid == 0:
                os.close(ack_w)
                _life(rfd)
            os.write(ack_w, b"%d" % pid)
        finally:
            os._exit(0)
    os.close(rfd)
    os.close(ack_w)
    os.waitpid(first, 0)
    with os.fdopen(ack_r, "rb") as ack:
        pid = int(ack.read() or 0)
    try:
        # It waits on the pipe, so it is alive and this pid is still its own.
        return wfd, os.pidfd_open(pid) if pid else None
    except OSError:
        return wfd, None


def stop(wfd: int, pidfd: int | None) -> None:
    """Tell the sentinel the command's tree is gone; wait (briefly) for it to exit."""
    feed(wfd, b"done")
    os.close(wfd)
    if pidfd is not None:
        try:
            select.select([pidfd], [], [], 1.0)  # its exit, so nothing of ours lingers
        finally:
            os.close(pidfd)


def feed(wfd: int, data: bytes) -> None:
    try:
        os.write(wfd, data)
    except OSError:
        pass  # someone killed the sentinel: only the backstop is gone, not the supervision


def _life(rfd: int) -> None:
    """The sentinel's life; never returns."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        # Hold nothing of the supervisor's open: its stdout pipe must reach EOF when it ends.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, rfd)
        os.closerange(rfd + 1, os.sysconf("SC_OPEN_MAX"))
        data = b""
        while True:
            chunk = os.read(rfd, 64)
            if not chunk:
                break
            data += chunk
        pgid = data.split(b"\n", 1)[0]
        if not data.endswith(b"done") and pgid.isdigit() and int(pgid) > 1:
            os.killpg(int(pgid), signal.SIGKILL)
    finally:
        os._exit(0)
