"""The supervised command as a child: started, reaped, signalled, stopped, mirrored.

The command runs in a process group of its own, so that it can be stopped as a whole; the
supervisor is a child subreaper, so descendants that leave the group (double-forked
daemons) are reparented to it and can still be found and ended. Forwarded signals go to
the command's process group, as a terminal's Ctrl-C would and as coreutils ``timeout``
does. When the supervisor owns the terminal's foreground, the command's group gets it and
gives it back; Ctrl-Z stops the command and then the supervisor, and ``fg`` resumes both.
"""

from __future__ import annotations

import os
import sys
import time

from .proc import descendants, parent_of
from .run import start_child

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
else:  # _signal, not signal: the latter builds enums at import (~2 ms of a supervised run)
    import _signal as signal


# Default action "terminate with core dump" (signal(7)): re-raising one would dump if-master.
_CORE_SIGNALS = frozenset(
    getattr(signal, name)
    for name in (
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGSEGV",
        "SIGSYS",
        "SIGXCPU",
        "SIGXFSZ",
    )
    if hasattr(signal, name)
)
#: After SIGKILL, look again for stragglers (forked before they died) this often.
KILL_SWEEP = 0.1
#: How long an aborting supervisor waits for the killed tree to be reaped.
ABORT_WAIT = 5.0


class Child:
    """One command started as a child; its wait status once reaped; its kill schedule."""

    def __init__(self, command: list[str], *, terminal: int | None) -> None:
        self.terminal = terminal  # stdin, when the command gets the terminal's foreground
        self.pid = start_child(command, terminal=terminal)  # CommandError: none ran
        self.started = time.monotonic()
        self.status: int | None = None  # its wait status, once reaped
        self.kill_at: float | None = None  # set once stopping: SIGKILL the tree then

    @property
    def stopping(self) -> bool:
        return self.kill_at is not None

    def reap(self) -> bool:
        """Reap every exited child (ours and adopted orphans); False once none are left."""
        # Job control only while running: never stop ourselves while stopping the command.
        interactive = self.terminal is not None and self.kill_at is None
        flags = os.WNOHANG | (os.WUNTRACED if interactive else 0)
        while True:
            try:
                pid, wait_status = os.waitpid(-1, flags)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid != self.pid:
                continue
            if os.WIFSTOPPED(wait_status):
                self.suspend()
            else:
                self.status = wait_status

    def suspend(self) -> None:
        """Ctrl-Z stopped the command: take the terminal back and stop too, as a shell's job.

        When the shell continues us (``fg``), hand the terminal back and continue the command.
        """
        assert self.terminal is not None
        set_foreground(self.terminal, os.getpgrp())
        os.kill(os.getpid(), signal.SIGSTOP)  # the shell sees its job (us) stop
        set_foreground(self.terminal, self.pid)
        self.forward(signal.SIGCONT)

    def forward(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass  # the whole group already exited; its status is on its way

    def stop(self, grace: float) -> None:
        """SIGTERM the command's tree now, SIGKILL whatever is left after ``grace``."""
        signal_tree(self.pid, signal.SIGTERM)
        signal_tree(self.pid, signal.SIGCONT)  # a stopped process acts on SIGTERM only then
        self.kill_at = time.monotonic() + grace

    def kill_stragglers(self, now: float) -> None:
        """Past the grace: SIGKILL the tree, and again every KILL_SWEEP until it is gone."""
        signal_tree(self.pid, signal.SIGKILL)
        self.kill_at = now + KILL_SWEEP

    def abort(self) -> None:
        """The supervisor is failing: kill the command's whole tree and reap it first."""
        deadline = time.monotonic() + ABORT_WAIT
        self.kill_at = deadline
        while True:
            signal_tree(self.pid, signal.SIGKILL)
            if not self.reap() or time.monotonic() > deadline:
                return
            time.sleep(0.01)


def signal_tree(pgid: int, sig: int) -> None:
    """Signal the command's process group, then every descendant of ours that left it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass  # the whole group already exited
    for pid, parent in descendants(os.getpid()):
        # Through a pidfd, after checking the parent again: the pid cannot be a reused one.
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue  # gone (or no pidfd: kernel < 5.3; then the group signal must do)
        try:
            # Not twice to those in the group: a job may take a second SIGTERM for "now".
            if os.getpgid(pid) != pgid and parent_of(pid) == parent:
                signal.pidfd_send_signal(fd, sig)
        except OSError:
            pass
        finally:
            os.close(fd)


def foreground_terminal() -> int | None:
    """0 when stdin is a terminal whose foreground group is ours, else None."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def set_foreground(fd: int, pgid: int) -> None:
    """tcsetpgrp, with SIGTTOU blocked: it is sent when the caller is not in the foreground."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass  # the terminal is gone (hung up): nothing to hand over
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def reraise(sig: int) -> int:
    """Die by ``sig`` as the command did, like coreutils ``timeout``.

    Returns 128 + sig only if the process somehow survives its own signal.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    if sig in _CORE_SIGNALS:
        # The command may have dumped core; a core of this Python process would only be noise.
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    if sig not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be handled or blocked
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    return 128 + sig


def describe_end(wait_status: int, lost: bool) -> str:
    """How the command ended, from its wait status: for the audit log."""
    if os.WIFSIGNALED(wait_status):
        from signal import Signals  # the names' enum, only for a command a signal killed

        how = f"killed by {Signals(os.WTERMSIG(wait_status)).name}"
    else:
        how = f"exited with status {os.WEXITSTATUS(wait_status)}"
    return how + (" after the VIP was lost" if lost else "")
