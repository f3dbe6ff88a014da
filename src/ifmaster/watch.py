"""``--watch``: run the command as a supervised child and stop it when the VIP goes away.

Linux only. Without a VIP loss, supervision is meant to be invisible: the same stdio, the
same exit status, death by the same signal, and signals sent to if-master reach the command.

The command runs in a process group of its own, so that it can be stopped as a whole; if-master
becomes a child subreaper, so that descendants that leave the group (double-forked daemons)
are reparented to it and can still be found and ended.

Forwarded signals go to the command's process group, not only its first process: a terminal
would have sent Ctrl-C/Ctrl-\\ to the whole foreground job, and ``timeout`` does the same.
The cost: a ``kill PID`` aimed at if-master alone also reaches the command's other processes.
Because the command's group is not the terminal's foreground group, a command that reads
from a controlling terminal is stopped by SIGTTIN (like ``timeout`` without ``--foreground``);
--watch is for services and cron jobs, not interactive programs.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

from ifmaster.exitcodes import ExitCode
from ifmaster.netlink import AddressEvents, Overflow
from ifmaster.run import command_error, undo_locale_coercion

#: Signals passed on to the command (to its process group).
FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
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
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_KILL_SWEEP = 0.1  # after SIGKILL, look again for stragglers (forked before they died) this often


def set_child_subreaper() -> None:
    """Make orphaned descendants reparent to this process instead of init (Linux >= 3.4)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    if prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(code)}")


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Python-level handler; the work happens when the wakeup fd is read."""


def reraise(sig: int) -> int:
    """Die by ``sig`` as the command did, like coreutils ``timeout``.

    Returns 128 + sig only if the process somehow survives its own signal.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
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


class _Supervisor:
    """State of one supervision; see supervise()."""

    def __init__(self, check: Callable[[], str | None], grace: float, recheck: float) -> None:
        self.check = check
        self.grace = grace
        self.recheck = recheck
        self.vip: str | None = None
        self.pid = 0  # the command, also its process group id
        self.status: int | None = None  # its wait status, once reaped
        self.started = 0.0
        self.kill_at: float | None = None  # set once the VIP is lost: stopping
        # Handlers replaced for the duration, to put back (getsignal()'s types).
        self.old_handlers: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

    def spawn(self, argv: list[str]) -> int | None:
        """Start the command; on failure print why and return the exit code to use."""
        # Python ignores SIGPIPE and SIGXFSZ for itself; give the command the defaults, as exec
        # by a shell would. Forwarded signals we handle are reset by exec anyway; those the
        # caller made us ignore (nohup) stay ignored, as they would through exec.
        default = {signal.SIGPIPE, signal.SIGXFSZ}
        default.update(s for s in FORWARDED if s in self.old_handlers)
        undo_locale_coercion()  # the command's environment is the caller's, as through exec
        # fork + exec, not posix_spawn: glibc's posix_spawn leaves its internal signals 32
        # and 33 ignored in the child, which exec through a shell does not.
        rfd, wfd = os.pipe2(os.O_CLOEXEC)  # carries the exec errno back, closes on success
        pid = os.fork()
        if pid == 0:  # the child: only async-safe steps until exec, and never return
            try:
                os.close(rfd)
                signal.set_wakeup_fd(-1)
                os.setpgid(0, 0)
                for sig in default:
                    signal.signal(sig, signal.SIG_DFL)
                os.execvp(argv[0], argv)
            except OSError as exc:
                os.write(wfd, str(exc.errno or 0).encode())
            finally:
                os._exit(127)
        os.close(wfd)
        try:
            os.setpgid(pid, pid)  # also here: no race with an early killpg()
        except OSError:
            pass  # it already exec'd (setpgid then fails with EACCES) or exited
        with os.fdopen(rfd, "rb") as pipe:
            failed = pipe.read()
        if failed:
            os.waitpid(pid, 0)
            code = int(failed)
            error = command_error(argv[0], OSError(code, os.strerror(code)))
            print(f"if-master: {error.message}", file=sys.stderr, flush=True)
            return error.code
        self.pid = pid
        self.started = time.monotonic()
        return None

    def reap(self) -> bool:
        """Reap every exited child (ours and adopted orphans); False once none are left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.pid:
                self.status = status

    def forward(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass  # the whole group already exited; its status is on its way

    def recheck_vip(self) -> None:
        try:
            held = self.check()
        except Exception as exc:  # a transient read error must not leave the job unwatched
            print(
                f"if-master: warning: cannot re-check the VIP: {exc}", file=sys.stderr, flush=True
            )
            return
        if held is not None:
            self.vip = held
            return
        held_for = time.monotonic() - self.started
        print(
            f"if-master: lost VIP {self.vip} after {held_for:.1f} s; stopping the command",
            file=sys.stderr,
            flush=True,
        )
        self.signal_all(signal.SIGTERM)
        self.kill_at = time.monotonic() + self.grace

    def signal_all(self, sig: int) -> None:
        """Signal the command's group, then every descendant that left it."""
        self.forward(sig)
        import psutil  # only on this rare path: it costs ~10 ms to import

        for proc in psutil.Process().children(recursive=True):
            try:
                proc.send_signal(sig)  # psutil checks the pid was not reused meanwhile
            except psutil.NoSuchProcess:
                pass

    def run(self, argv: list[str]) -> int | None:
        """Supervise until the command ends; return its wait status (None: not started)."""
        events = AddressEvents()  # before the first check, so no change goes unseen
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wakeup: int | None = None
        try:
            old_wakeup = signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)
            for sig in (signal.SIGCHLD, *FORWARDED):
                old = signal.getsignal(sig)
                if old == signal.SIG_IGN and sig != signal.SIGCHLD:
                    continue  # nohup & co: the caller wants it ignored, by the command too
                self.old_handlers[sig] = old
                signal.signal(sig, _ignore)
            self.vip = self.check()
            if self.vip is None:
                return None
            set_child_subreaper()
            failed = self.spawn(argv)
            if failed is not None:
                return failed << 8  # as a wait status: exited with that code
            return self._loop(rfd, events)
        finally:
            if old_wakeup is not None:
                signal.set_wakeup_fd(old_wakeup)
            for signum, handler in self.old_handlers.items():
                signal.signal(signum, handler)
            events.close()
            os.close(rfd)
            os.close(wfd)

    def _loop(self, rfd: int, events: AddressEvents) -> int:
        poller = select.poll()
        poller.register(rfd, select.POLLIN)
        poller.register(events.fileno(), select.POLLIN)
        next_check = time.monotonic() + self.recheck
        watching = True
        while True:
            if watching and self.kill_at is not None:
                # Stopping: events no longer matter, and an unread one would make poll spin.
                poller.unregister(events.fileno())
                watching = False
            now = time.monotonic()
            if self.kill_at is not None:
                deadline = self.kill_at
            elif self.recheck > 0:
                deadline = next_check
            else:
                deadline = now + 3600
            timeout_ms = max(0, int((deadline - now) * 1000) + 1)
            for fd, _mask in poller.poll(timeout_ms):
                if fd == rfd:
                    for sig in os.read(rfd, 4096):
                        if sig in self.old_handlers and sig != signal.SIGCHLD:
                            self.forward(sig)
                elif fd == events.fileno():
                    try:
                        changed = events.drain()
                    except Overflow:
                        changed = True  # events were lost: only a full re-check is safe
                    if changed:
                        self.recheck_vip()
            # Reap on every wake-up, not only on SIGCHLD bytes: the pipe may have overflowed.
            children_left = self.reap()
            if self.status is not None and (self.kill_at is None or not children_left):
                return self.status
            now = time.monotonic()
            if self.kill_at is None:
                if self.recheck > 0 and now >= next_check:
                    self.recheck_vip()
                    next_check = now + self.recheck
            elif now >= self.kill_at:
                self.signal_all(signal.SIGKILL)
                self.kill_at = now + _KILL_SWEEP


def supervise(
    argv: list[str],
    check: Callable[[], str | None],
    grace: float = 5.0,
    recheck: float = 5.0,
    on_end: Callable[[str, bool], None] | None = None,
) -> int:
    """Run ``argv`` as a child until it ends; stop it if ``check()`` says the VIP is gone.

    ``on_end``, if given, is told how the command ended, in words, and whether the VIP
    loss ended it (for the audit log), before this returns or re-raises.

    ``check()`` re-evaluates the whole decision and returns the text of a VIP still held, or
    None. It is called once before starting (None: the command is not started, return 0, as
    on a backup node), on every link/address change, and every ``recheck`` seconds (<= 0:
    never on a timer). It runs in this process's main thread and must not start child
    processes (they would be reaped here). An exception from it is a warning, not a loss.

    On a loss: one line on stderr, SIGTERM to the command's group and every descendant,
    SIGKILL to whatever is left after ``grace`` seconds, and every process reaped.

    Returns the command's exit status, or 127/126 (with a message on stderr) when it cannot
    be started. When the command died by a signal this does not return: the same signal is
    re-raised on this process (``reraise``). Must run in the main thread (signal handling).
    """
    if not argv:
        raise ValueError("supervise() needs a command")
    supervisor = _Supervisor(check, grace, recheck)
    status = supervisor.run(argv)
    if status is None:
        return ExitCode.OK
    if on_end is not None:
        lost = supervisor.kill_at is not None
        on_end(describe_end(status, lost), lost)
    if os.WIFSIGNALED(status):
        return reraise(os.WTERMSIG(status))
    return os.WEXITSTATUS(status)


def describe_end(status: int, lost: bool) -> str:
    """How the command ended, from its wait status: for the audit log."""
    if os.WIFSIGNALED(status):
        how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        how = f"exited with status {os.WEXITSTATUS(status)}"
    return how + (" after the VIP was lost" if lost else "")
