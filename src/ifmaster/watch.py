"""Supervision: run the command as a child until it ends, ``--timeout``, or (``--watch``)
the VIP goes away. Linux only.

Without a VIP loss, supervision is meant to be invisible: the same stdio, the same exit
status, death by the same signal, and signals sent to if-master reach the command (see
child.py for the process group, the subreaper and the terminal).

Only a run that started as the VIP holder under ``--watch`` is watched: the caller passes
``Watched`` (its seams to the OS) for it and None otherwise. A ``--catch-up`` run, which
the ledger granted without the VIP, and a run without ``--watch`` are never stopped by a
re-check, only by ``--timeout``. The caller opened the netlink event socket before taking
the first verdict's snapshot, so a change in between is queued there and re-checked at
once. From then on the decision is re-evaluated only when an event concerns it: an
address equal to a VIP, a link holding a counted copy of one, the exit of a keepalived
process (``--require-keepalived``), a lost-events overrun, and a slow timer as a safety
net. Unrelated churn costs one small parse per event, never a re-read of the host.

Whatever ends the supervisor (an exception, a bug, a signal it handles) the command's
whole tree is killed first. If the supervisor is SIGKILLed, the command itself dies too
(PR_SET_PDEATHSIG) and a sentinel process (sentinel.py) kills the rest of its group.
"""

from __future__ import annotations

import os
import select
import time

from . import sentinel
from .child import Child, describe_end, foreground_terminal, reraise, set_foreground
from .model import Action, Request, Verdict
from .netlink import RTM_DELADDR, RTM_DELLINK, RTM_NEWADDR, Event, Overflow
from .proc import set_child_subreaper
from .status import TIMEOUT

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Iterable
    from types import FrameType
    from typing import Protocol

    class EventSource(Protocol):
        """Address and link events (netlink.AddressEvents; a pipe in unit tests)."""

        def fileno(self) -> int: ...
        def drain(self) -> list[Event]: ...
else:  # _signal, not signal: the latter builds enums at import (~2 ms of a supervised run)
    import _signal as signal

#: Signals passed on to the command (to its process group).
FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
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


class Watched:
    """--watch's seams to the OS, for a run started as the VIP holder; fakes in unit tests.

    ``check()`` re-evaluates the whole decision (an IfMasterError from it is a warning,
    retried after RETRY s; anything else a failure). ``events``: opened by the caller
    before the first verdict's snapshot (the caller closes it). ``none_assigned(vips)``:
    whether no interface has any of the packed VIPs (one cheap dump). ``keepalived_pids()``:
    the live keepalived processes here, used only with --require-keepalived.
    """

    __slots__ = ("check", "events", "keepalived_pids", "none_assigned")

    def __init__(
        self,
        *,
        check: Callable[[], Verdict],
        events: EventSource,
        none_assigned: Callable[[frozenset[bytes]], bool],
        keepalived_pids: Callable[[], list[int]],
    ) -> None:
        self.check = check
        self.events = events
        self.none_assigned = none_assigned
        self.keepalived_pids = keepalived_pids


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


class _Supervisor:
    """State of one supervision; see supervise()."""

    def __init__(
        self,
        action: Action,
        request: Request,
        first: Verdict,
        watched: Watched | None,
        say: Callable[[str], None],
        recheck: float,
        periodic: Callable[[], float | None] | None = None,
    ) -> None:
        self.command = action.command
        self.grace = action.grace
        self.timeout = action.timeout  # --timeout: stop the command this long after its start
        self.vips = frozenset(v.packed for v in request.vips)
        self.keepalived = request.require_keepalived and watched is not None
        self.verdict = first
        self.watched = watched
        self.say = say
        self.recheck = recheck
        self.links = counted_links(first)
        self.child: Child | None = None
        self.timed_out = False
        self.next_check = _FOREVER
        self.pidfds: list[int] = []  # keepalived processes, readable once they exit
        self.keepalived_gone = False
        self.checks = 0  # re-evaluations made (for tests and measurements)
        # Called on time while the command runs (the ledger's liveness record); it returns
        # the seconds until it wants its next call, None for never.
        self.periodic = periodic
        self.next_periodic = _FOREVER if periodic is None else 0.0
        # Handlers replaced for the duration, to put back (getsignal()'s types).
        self.old_handlers: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

    @property
    def status(self) -> int | None:
        return None if self.child is None else self.child.status

    @property
    def lost(self) -> bool:
        return self.child is not None and self.child.stopping and not self.timed_out

    # -- the decision ------------------------------------------------------------------

    def recheck_now(self, watched: Watched) -> None:
        """Re-evaluate the decision; on a loss, start stopping the command."""
        from .errors import IfMasterError

        self.checks += 1
        now = time.monotonic()
        try:
            verdict = watched.check()
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
            self.watch_keepalived(watched)
            return
        self.lose("; ".join(verdict.lines()[:-1]) or "not master")

    def lose(self, why: str) -> None:
        """The VIP is lost: say so, SIGTERM the command's tree, SIGKILL it after the grace."""
        assert self.child is not None
        held = " ".join(sorted({str(f.vip) for f in self.verdict.findings if f.counted}))
        held_for = time.monotonic() - self.child.started
        self.say(f"lost VIP {held} after {held_for:.1f} s ({why}); stopping the command")
        self.close_pidfds()
        self.child.stop(self.grace)

    def time_out(self) -> None:
        """--timeout: SIGTERM the command's tree, SIGKILL it after the grace (exit 124)."""
        assert self.child is not None
        self.say(f"--timeout: the command ran {self.timeout:g} s; stopping it")
        self.close_pidfds()
        self.timed_out = True
        self.child.stop(self.grace)

    def watch_keepalived(self, watched: Watched) -> None:
        """Re-open pidfds on the live keepalived processes; a re-check is due if one is gone."""
        if not self.keepalived:
            return
        self.close_pidfds()
        pids = watched.keepalived_pids()
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

    def run(self) -> int:
        """Start the command, supervise it until it ends; return its wait status."""
        # First: before we become a subreaper, and hold signals.
        sentinel_pipe, sentinel_fd = sentinel.start()
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wakeup: int | None = None
        terminal = None
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
            terminal = foreground_terminal()
            self.child = child = Child(self.command, terminal=terminal)
            # Unwatched (no --watch, a catch-up run): no timer re-check either.
            if self.watched is not None:
                self.next_check = child.started + self.recheck
            try:
                sentinel.feed(sentinel_pipe, b"%d\n" % child.pid)
                if terminal is not None:
                    # In the background now: a diagnostic line written to the terminal with
                    # `stty tostop` set would stop us (SIGTTOU) while the command runs on.
                    old_ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
                    self.old_handlers[signal.SIGTTOU] = old_ttou
                if self.watched is not None:
                    self.watch_keepalived(self.watched)
                return self._loop(rfd, child)
            except BaseException:
                child.abort()
                raise
        finally:
            # The tree is reaped (or abort() did what it could): stand the sentinel down.
            sentinel.stop(sentinel_pipe, sentinel_fd)
            set_child_subreaper(False)
            self.close_pidfds()
            if terminal is not None:
                set_foreground(terminal, os.getpgrp())
            if old_wakeup is not None:
                signal.set_wakeup_fd(old_wakeup)
            for signum, handler in self.old_handlers.items():
                signal.signal(signum, handler)
            os.close(rfd)
            os.close(wfd)

    def _loop(self, rfd: int, child: Child) -> int:
        watched = self.watched
        events = watched.events.fileno() if watched is not None else -1
        ends_at = _FOREVER if self.timeout is None else child.started + self.timeout
        while True:
            poller = select.poll()  # rebuilt each round: the pidfds change after a re-check
            poller.register(rfd, select.POLLIN)
            if not child.stopping:  # stopping: events no longer matter
                if events >= 0:
                    poller.register(events, select.POLLIN)
                for fd in self.pidfds:
                    poller.register(fd, select.POLLIN)
            now = time.monotonic()
            if self.periodic is not None and now >= self.next_periodic:
                after = self.periodic()
                self.next_periodic = _FOREVER if after is None else now + after
            if not child.stopping and now >= ends_at:
                self.time_out()
            deadline = child.kill_at if child.kill_at is not None else min(self.next_check, ends_at)
            deadline = min(deadline, self.next_periodic)
            # No deadline at all (no timer, no --timeout): wait for a signal or an event.
            wait = deadline - now
            timeout_ms = -1 if wait == _FOREVER else max(0, int(min(wait, _POLL_MAX) * 1000) + 1)
            due = removed = False
            for fd, _mask in poller.poll(timeout_ms):
                if fd == rfd:
                    for sig in os.read(rfd, 4096):
                        if sig in self.old_handlers and sig != signal.SIGCHLD:
                            child.forward(sig)
                elif fd == events and watched is not None:
                    try:
                        batch = watched.events.drain()
                    except Overflow:
                        due = removed = True  # events were lost: re-read the state
                    else:
                        if concerns(batch, self.vips, self.links):
                            due = True
                            removed |= any(e[0] in (RTM_DELADDR, RTM_DELLINK) for e in batch)
                else:
                    due = True  # a keepalived process exited
            # Reap on every wake-up, not only on SIGCHLD bytes: the pipe may have overflowed.
            children_left = child.reap()
            if child.status is not None and (not child.stopping or not children_left):
                return child.status
            now = time.monotonic()
            if not child.stopping and now >= ends_at:
                self.time_out()
            elif not child.stopping and watched is not None:
                if removed and watched.none_assigned(self.vips):
                    # No interface has any VIP: a loss by every rule, proven without the
                    # cost of a full re-check (which grows with the host).
                    self.lose("no interface has it any more")
                elif due or now >= self.next_check:
                    self.recheck_now(watched)
            elif child.kill_at is not None and now >= child.kill_at:
                child.kill_stragglers(now)


def supervise(
    action: Action,
    request: Request,
    first: Verdict,
    *,
    watched: Watched | None,
    say: Callable[[str], None],
    on_end: Callable[[int, str, bool], None] | None,
    recheck: float = RECHECK,
    periodic: Callable[[], float | None] | None = None,
) -> int:
    """Run ``action.command`` as a child until it ends; with ``watched``, stop it once the
    decision says not master.

    ``first``: the verdict the caller acted on (master, when ``watched`` is given).
    ``watched``: the seams of --watch for a run started as the VIP holder; None: the VIP is
    not watched (no --watch, a --catch-up run, a job supervised only for --timeout,
    --no-overlap, metrics or the ledger). ``say(text)`` writes one diagnostic line
    (without the ``if-master: `` prefix). ``on_end(wait_status, how, lost)``: the command's
    wait status, how it ended in words, and whether the VIP loss ended it, before this
    returns or re-raises. ``action.timeout``: seconds after which the command's tree is
    stopped as on a loss; the status is then 124, like coreutils timeout. ``periodic()``:
    called while the command runs, first at once, then after the seconds it returns (None:
    never again); the ledger's liveness record beats on it, each call bounded by the
    ledger's deadline.

    On a loss: one line through ``say``, SIGTERM to the command's group and every descendant,
    SIGKILL to whatever is left after ``action.grace`` seconds, and every process reaped.

    Returns the command's exit status. When the command died by a signal this does not
    return: the same signal is re-raised on this process (``reraise``). Raises CommandError
    when the command cannot be started. Any other exception ends the command's whole tree
    (SIGKILL) before it propagates. Must run in the main thread (signal handling).
    """
    if not action.command:
        raise ValueError("supervise() needs a command")
    if watched is not None and not first.master:
        raise ValueError("supervise() watches the VIP only from a master verdict")
    supervisor = _Supervisor(action, request, first, watched, say, recheck, periodic)
    try:
        wait_status = supervisor.run()
    except BaseException as exc:
        if on_end is not None and supervisor.status is not None:  # it ran, and was killed
            how = describe_end(supervisor.status, False)
            on_end(supervisor.status, f"{how} after if-master failed ({type(exc).__name__})", False)
        raise
    lost = supervisor.lost
    if on_end is not None:
        how = describe_end(wait_status, lost)
        on_end(wait_status, how + (" after --timeout" if supervisor.timed_out else ""), lost)
    if supervisor.timed_out:
        return TIMEOUT  # whatever the signal: coreutils timeout's convention
    if os.WIFSIGNALED(wait_status):
        return reraise(os.WTERMSIG(wait_status))
    return os.WEXITSTATUS(wait_status)
