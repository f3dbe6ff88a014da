"""``--watch``: run the command as a supervised child and stop it when the VIP goes away.

Linux only. Without a VIP loss, supervision is meant to be invisible: the same stdio, the
same exit status, death by the same signal, and signals sent to if-master reach the command.

The command starts on the verdict the caller acted on; the caller opened the netlink event
socket before taking that verdict's snapshot, so a change in between is queued there and
re-checked at once. From then on the decision is re-evaluated only when an event concerns
it: an address equal to a VIP, a link holding a counted copy of one, the exit of a
keepalived process (``--require-keepalived``), a lost-events overrun, and a slow timer as
a safety net. Unrelated churn costs one small parse per event, never a re-read of the host.

The command runs in a process group of its own, so that it can be stopped as a whole; if-master
becomes a child subreaper, so that descendants that leave the group (double-forked daemons)
are reparented to it and can still be found and ended. Whatever ends the supervisor (an
exception, a bug, a signal it handles) the command's whole tree is killed first. If the
supervisor is SIGKILLed, the command itself dies too (PR_SET_PDEATHSIG) and a sentinel
process kills the rest of its process group; only descendants that left that group
(``setsid``, double-forked daemons) survive, reparented to init (see the README).

Forwarded signals go to the command's process group, not only its first process: a terminal
would have sent Ctrl-C/Ctrl-\\ to the whole foreground job, and ``timeout`` does the same.
The cost: a ``kill PID`` aimed at if-master alone also reaches the command's other processes.
When if-master runs in the foreground of a terminal (its stdin), the command's group is made
the terminal's foreground group, and if-master takes it back when the command ends; Ctrl-Z
stops the command and then if-master, and ``fg`` resumes both.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from collections.abc import Callable, Iterable
from types import FrameType

from ifmaster.model import Verdict
from ifmaster.netlink import (
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_NEWADDR,
    AddressEvents,
    Event,
    Overflow,
    none_assigned,
)
from ifmaster.run import start_child
from ifmaster.status import TIMEOUT

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
#: Seconds between re-checks without any event: a safety net for what no event reports
#: (a keepalived stopped rather than killed, a check that failed). One check per this long
#: costs little even on a host with thousands of addresses.
RECHECK = 30.0
#: A deadline that never comes (no timer re-check, no --timeout).
_FOREVER = float("inf")
#: poll() takes an int of milliseconds (at most ~24.8 days): a longer wait (--timeout
#: goes to 31 days) wakes once a day and waits again, instead of overflowing.
_POLL_MAX = 86400.0
_TIMER_SHARE = 100
#: After a failed re-check (IfMasterError), try again this soon.
RETRY = 1.0
#: How long an aborting supervisor waits for the killed tree to be reaped.
_ABORT_WAIT = 5.0


def set_child_subreaper(on: bool = True) -> None:
    """Make orphaned descendants reparent to this process instead of init (Linux >= 3.4)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    if prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(code)}")


def start_sentinel() -> tuple[int, int | None]:
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
                _sentinel(rfd)
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


def stop_sentinel(wfd: int, pidfd: int | None) -> None:
    """Tell the sentinel the command's tree is gone; wait (briefly) for it to exit."""
    _feed_sentinel(wfd, b"done")
    os.close(wfd)
    if pidfd is not None:
        try:
            select.select([pidfd], [], [], 1.0)  # its exit, so nothing of ours lingers
        finally:
            os.close(pidfd)


def _feed_sentinel(wfd: int, data: bytes) -> None:
    try:
        os.write(wfd, data)
    except OSError:
        pass  # someone killed the sentinel: only the backstop is gone, not the supervision


def _sentinel(rfd: int) -> None:
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


def concerns(events: Iterable[Event], vips: frozenset[bytes], links: frozenset[int]) -> bool:
    """Whether any of these events can change a master verdict.

    An address event matters when its address is a VIP (added elsewhere or removed); a
    link event when the link holds a counted copy (``links``: their ifindexes; 0 in it means
    "unknown index", so every link event matters).
    """
    any_link = 0 in links
    for kind, index, address in events:
        if kind == RTM_NEWADDR or kind == RTM_DELADDR:
            if address in vips:
                return True
        elif any_link or index in links:
            return True
    return False


def counted_links(verdict: Verdict) -> frozenset[int]:
    """The ifindexes of the links holding a counted copy of a VIP."""
    return frozenset(f.index for f in verdict.findings if f.counted)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Python-level handler; the work happens when the wakeup fd is read."""


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


def descendants(root: int, proc: str = "/proc") -> list[tuple[int, int]]:
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
        try:
            with open(f"{proc}/{entry}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        children.setdefault(ppid, []).append(int(entry))
    out: list[tuple[int, int]] = []
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid in children.get(parent, ()):
            out.append((pid, parent))
            todo.append(pid)
    return out


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None


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
            if os.getpgid(pid) != pgid and _parent_of(pid) == parent:
                signal.pidfd_send_signal(fd, sig)
        except OSError:
            pass
        finally:
            os.close(fd)


class _Supervisor:
    """State of one supervision; see supervise()."""

    def __init__(
        self,
        first: Verdict,
        check: Callable[[], Verdict],
        events: AddressEvents | None,
        vips: frozenset[bytes],
        keepalived: bool,
        grace: float,
        say: Callable[[str], None],
        recheck: float,
        timeout: float | None,
        periodic: Callable[[], float | None] | None = None,
    ) -> None:
        self.verdict = first
        self.check = check
        self.events = events
        self.vips = vips
        self.keepalived = keepalived
        self.grace = grace
        self.say = say
        self.recheck = recheck
        self.links = counted_links(first)
        self.pid = 0  # the command, also its process group id
        self.status: int | None = None  # its wait status, once reaped
        self.started = 0.0
        self.kill_at: float | None = None  # set once the VIP is lost: stopping
        self.timeout = timeout  # --timeout: stop the command this long after its start
        self.timed_out = False
        self.next_check = 0.0
        self.terminal: int | None = None  # stdin, when the command got its foreground
        self.pidfds: list[int] = []  # keepalived processes, readable once they exit
        self.keepalived_gone = False
        self.checks = 0  # re-evaluations made (for tests and measurements)
        # Called on time while the command runs (the ledger's liveness record); it returns
        # the seconds until it wants its next call, None for never.
        self.periodic = periodic
        self.next_periodic = _FOREVER if periodic is None else 0.0
        # Handlers replaced for the duration, to put back (getsignal()'s types).
        self.old_handlers: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

    # -- the command -------------------------------------------------------------------

    def reap(self) -> bool:
        """Reap every exited child (ours and adopted orphans); False once none are left."""
        # Job control only while running: never stop ourselves while stopping the command.
        interactive = self.terminal is not None and self.kill_at is None
        flags = os.WNOHANG | (os.WUNTRACED if interactive else 0)
        while True:
            try:
                pid, status = os.waitpid(-1, flags)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid != self.pid:
                continue
            if os.WIFSTOPPED(status):
                self.suspend()
            else:
                self.status = status

    def suspend(self) -> None:
        """Ctrl-Z stopped the command: take the terminal back and stop too, as a shell's job.

        When the shell continues us (``fg``), hand the terminal back and continue the command.
        """
        assert self.terminal is not None
        _set_foreground(self.terminal, os.getpgrp())
        os.kill(os.getpid(), signal.SIGSTOP)  # the shell sees its job (us) stop
        _set_foreground(self.terminal, self.pid)
        self.forward(signal.SIGCONT)

    def forward(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass  # the whole group already exited; its status is on its way

    # -- the decision ------------------------------------------------------------------

    def recheck_now(self) -> None:
        """Re-evaluate the decision; on a loss, start stopping the command."""
        from ifmaster.errors import IfMasterError

        self.checks += 1
        now = time.monotonic()
        try:
            verdict = self.check()
        except IfMasterError as exc:  # cannot tell (unreadable interfaces...): retry soon
            self.say(f"warning: cannot re-check the VIP: {exc.message}")
            self.next_check = now + min(RETRY, self.recheck)
            return
        # The timer's share of a CPU stays under 1/_TIMER_SHARE however slow a check is on
        # this host (thousands of addresses).
        self.next_check = now + max(self.recheck, (time.monotonic() - now) * _TIMER_SHARE)
        if verdict.master:
            self.verdict = verdict
            self.links = counted_links(verdict)
            self.watch_keepalived()
            return
        self.lose("; ".join(verdict.lines()[:-1]) or "not master")

    def lose(self, why: str) -> None:
        """The VIP is lost: say so, SIGTERM the command's tree, SIGKILL it after the grace."""
        held = " ".join(sorted({str(f.vip) for f in self.verdict.findings if f.counted}))
        held_for = time.monotonic() - self.started
        self.say(f"lost VIP {held} after {held_for:.1f} s ({why}); stopping the command")
        self.close_pidfds()
        signal_tree(self.pid, signal.SIGTERM)
        signal_tree(self.pid, signal.SIGCONT)  # a stopped process acts on SIGTERM only then
        self.kill_at = time.monotonic() + self.grace

    def watch_keepalived(self) -> None:
        """Re-open pidfds on the live keepalived processes; a re-check is due if one is gone.

        Only under --watch (``events``): a run that does not watch the VIP (no --watch, or a
        ledger's catch-up, which never held it) is not stopped by keepalived's exit either.
        """
        if not self.keepalived or self.events is None:
            return
        from ifmaster.keepalived import KeepalivedCheckError, keepalived_pids

        self.close_pidfds()
        try:
            pids = keepalived_pids()
        except KeepalivedCheckError:
            pids = []
        gone = not pids  # the check saw one live, so it exited since: check again
        for pid in pids:
            try:
                self.pidfds.append(os.pidfd_open(pid))
            except ProcessLookupError:
                gone = True
        if gone:
            # At once, but only once in a row: a scan that keeps disagreeing with the check
            # must not spin.
            self.next_check = time.monotonic() + (RETRY if self.keepalived_gone else 0.0)
        self.keepalived_gone = gone

    def close_pidfds(self) -> None:
        for fd in self.pidfds:
            os.close(fd)
        self.pidfds = []

    # -- the loop ----------------------------------------------------------------------

    def run(self, command: list[str]) -> int:
        """Start the command, supervise it until it ends; return its wait status."""
        sentinel, sentinel_fd = (
            start_sentinel()
        )  # first: before we become a subreaper, and hold signals
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
            set_child_subreaper()
            # The child takes the terminal's foreground before exec; even when that exec
            # fails, the finally below must take it back.
            self.terminal = _foreground_terminal()
            self.pid = start_child(command, terminal=self.terminal)  # CommandError: none ran
            self.started = time.monotonic()
            # Without events (--timeout, --no-overlap, metrics without --watch) the VIP is
            # not watched at all: no timer re-check either.
            self.next_check = self.started + (self.recheck if self.events else _FOREVER)
            try:
                _feed_sentinel(sentinel, b"%d\n" % self.pid)
                if self.terminal is not None:
                    # In the background now: a diagnostic line written to the terminal with
                    # `stty tostop` set would stop us (SIGTTOU) while the command runs on.
                    old_ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
                    self.old_handlers[signal.SIGTTOU] = old_ttou
                self.watch_keepalived()
                return self._loop(rfd)
            except BaseException:
                self.abort()
                raise
        finally:
            # The tree is reaped (or abort() did what it could): stand the sentinel down.
            stop_sentinel(sentinel, sentinel_fd)
            set_child_subreaper(False)
            self.close_pidfds()
            if self.terminal is not None:
                _set_foreground(self.terminal, os.getpgrp())
            if old_wakeup is not None:
                signal.set_wakeup_fd(old_wakeup)
            for signum, handler in self.old_handlers.items():
                signal.signal(signum, handler)
            os.close(rfd)
            os.close(wfd)

    def abort(self) -> None:
        """The supervisor is failing: kill the command's whole tree and reap it first."""
        deadline = time.monotonic() + _ABORT_WAIT
        self.kill_at = deadline
        while True:
            signal_tree(self.pid, signal.SIGKILL)
            if not self.reap() or time.monotonic() > deadline:
                return
            time.sleep(0.01)

    def time_out(self) -> None:
        """--timeout: SIGTERM the command's tree, SIGKILL it after the grace (exit 124)."""
        self.say(f"--timeout: the command ran {self.timeout:g} s; stopping it")
        self.close_pidfds()
        self.timed_out = True
        signal_tree(self.pid, signal.SIGTERM)
        signal_tree(self.pid, signal.SIGCONT)
        self.kill_at = time.monotonic() + self.grace

    def _loop(self, rfd: int) -> int:
        events = self.events.fileno() if self.events is not None else -1
        ends_at = _FOREVER if self.timeout is None else self.started + self.timeout
        while True:
            poller = select.poll()  # rebuilt each round: the pidfds change after a re-check
            poller.register(rfd, select.POLLIN)
            if self.kill_at is None:  # stopping: events no longer matter
                if events >= 0:
                    poller.register(events, select.POLLIN)
                for fd in self.pidfds:
                    poller.register(fd, select.POLLIN)
            now = time.monotonic()
            if self.periodic is not None and now >= self.next_periodic:
                after = self.periodic()
                self.next_periodic = _FOREVER if after is None else now + after
            if self.kill_at is None and now >= ends_at:
                self.time_out()
            deadline = self.kill_at if self.kill_at is not None else min(self.next_check, ends_at)
            deadline = min(deadline, self.next_periodic)
            # No deadline at all (no timer, no --timeout): wait for a signal or an event.
            wait = deadline - now
            timeout_ms = -1 if wait == _FOREVER else max(0, int(min(wait, _POLL_MAX) * 1000) + 1)
            due = removed = False
            for fd, _mask in poller.poll(timeout_ms):
                if fd == rfd:
                    for sig in os.read(rfd, 4096):
                        if sig in self.old_handlers and sig != signal.SIGCHLD:
                            self.forward(sig)
                elif fd == events and self.events is not None:
                    try:
                        batch = self.events.drain()
                    except Overflow:
                        due = removed = True  # events were lost: re-read the state
                    else:
                        if concerns(batch, self.vips, self.links):
                            due = True
                            removed |= any(e[0] in (RTM_DELADDR, RTM_DELLINK) for e in batch)
                else:
                    due = True  # a keepalived process exited
            # Reap on every wake-up, not only on SIGCHLD bytes: the pipe may have overflowed.
            children_left = self.reap()
            if self.status is not None and (self.kill_at is None or not children_left):
                return self.status
            now = time.monotonic()
            if self.kill_at is None and now >= ends_at:
                self.time_out()
            elif self.kill_at is None:
                if removed and none_assigned(self.vips):
                    # No interface has any VIP: a loss by every rule, proven without the
                    # cost of a full re-check (which grows with the host).
                    self.lose("no interface has it any more")
                elif due or now >= self.next_check:
                    self.recheck_now()
            elif now >= self.kill_at:
                signal_tree(self.pid, signal.SIGKILL)
                self.kill_at = now + _KILL_SWEEP


def _foreground_terminal() -> int | None:
    """0 when stdin is a terminal whose foreground group is ours, else None."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def _set_foreground(fd: int, pgid: int) -> None:
    """tcsetpgrp, with SIGTTOU blocked: it is sent when the caller is not in the foreground."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass  # the terminal is gone (hung up): nothing to hand over
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def supervise(
    command: list[str],
    *,
    first: Verdict,
    check: Callable[[], Verdict],
    events: AddressEvents | None,
    vips: frozenset[bytes],
    keepalived: bool,
    grace: float,
    say: Callable[[str], None],
    on_end: Callable[[int, str, bool], None] | None,
    timeout: float | None = None,
    recheck: float = RECHECK,
    periodic: Callable[[], float | None] | None = None,
) -> int:
    """Run ``command`` as a child until it ends; stop it once the decision says not master.

    ``first``: the (master) verdict the caller acted on. ``events``: opened by the caller
    before that verdict's snapshot (the caller closes it). ``check()`` re-evaluates the whole
    decision; an IfMasterError from it is a warning (retried after RETRY s), anything else
    a failure. ``vips``: the packed VIPs. ``keepalived``: with ``events``, also re-check when a
    keepalived process exits. ``say(text)`` writes one diagnostic line (without the ``if-master: ``
    prefix). ``on_end(wait_status, how, lost)``: the command's wait status, how it ended in
    words, and whether the VIP loss ended it (for the audit log and metrics), before this
    returns or re-raises. ``events`` None: the VIP is not watched (a job supervised only
    for --timeout, --no-overlap or metrics). ``timeout``: seconds after which the command's
    tree is stopped as on a loss; the status is then 124, like coreutils timeout.
    ``periodic()``: called while the command runs, first at once, then again after the
    seconds it returns (None: never again); the ledger's liveness record beats on it.

    On a loss: one line through ``say``, SIGTERM to the command's group and every descendant,
    SIGKILL to whatever is left after ``grace`` seconds, and every process reaped.

    Returns the command's exit status. When the command died by a signal this does not
    return: the same signal is re-raised on this process (``reraise``). Raises CommandError
    when the command cannot be started. Any other exception ends the command's whole tree
    (SIGKILL) before it propagates. Must run in the main thread (signal handling).
    """
    if not command:
        raise ValueError("supervise() needs a command")
    if events is not None and not first.master:
        raise ValueError("supervise() watches the VIP only from a master verdict")
    supervisor = _Supervisor(
        first, check, events, vips, keepalived, grace, say, recheck, timeout, periodic
    )
    try:
        status = supervisor.run(command)
    except BaseException as exc:
        if on_end is not None and supervisor.status is not None:  # it ran, and was killed
            how = describe_end(supervisor.status, False)
            on_end(supervisor.status, f"{how} after if-master failed ({type(exc).__name__})", False)
        raise
    lost = supervisor.kill_at is not None and not supervisor.timed_out
    if on_end is not None:
        how = describe_end(status, lost)
        on_end(status, how + (" after --timeout" if supervisor.timed_out else ""), lost)
    if supervisor.timed_out:
        return TIMEOUT  # whatever the signal: coreutils timeout's convention
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
