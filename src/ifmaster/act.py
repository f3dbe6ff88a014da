"""The one place that acts on a verdict, in every mode: exec, supervise, check, explain, audit.

Both front ends (the hot-path pre-parse and click) end here with a Request and an Action.
The statuses, for every mode alike: split brain 3; not master ``--not-master-exit`` if
given, else 0 with a command and 1 without; master without a command 0; with a command,
the command's own (exec) or its supervised end (--watch, --timeout: 124, --no-overlap,
--metrics-dir); a run skipped for overlap ``--overlap-exit``. An ``--explain`` is a check
that also prints its rendering of the verdict. With ``--task`` and ``--metrics-dir`` every
one of these outcomes is recorded, errors included.
"""

from __future__ import annotations

from . import interfaces, status
from .decide import decide
from .errors import IfMasterError, say
from .model import Action, Claiming, Interface, Request, Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .audit import Audit
    from .ledger import Claim
    from .netlink import AddressEvents
    from .slot import Slot


def evaluate(request: Request, full: bool = False) -> tuple[list[Interface], Verdict]:
    """Snapshot the interfaces, decide, confirm; raises IfMasterError when impossible.

    ``full``: read every interface and address (for --explain), not only the VIPs' own.
    """
    try:
        table = interfaces.snapshot(
            vips=None if full else frozenset(v.packed for v in request.vips),
            names=request.interfaces,
            ages=request.min_hold is not None,
        )
    except interfaces.InterfaceError as e:
        raise IfMasterError(status.FAILURE, str(e)) from e
    verdict = decide(request, table)
    if verdict.master and (request.require_keepalived or request.arp_probe):
        from .confirm import confirm

        verdict = confirm(request, verdict)
    return table, verdict


def act(request: Request, action: Action) -> int:
    """Decide, then run, supervise, check or explain; return the status to exit with.

    Execs the command on the master (and so does not return). Raises IfMasterError, and
    runs nothing, when the decision cannot be made or the command cannot be started.
    """
    audit = None
    if action.syslog:
        from .audit import Audit

        audit = Audit(task=action.task)
    try:
        return _act(request, action, audit)
    except IfMasterError as e:  # unreadable interfaces, a failed check, a failed start
        if audit:
            audit.failed(e.message)
        _record(action, "error")
        raise


def _record(action: Action, outcome: str) -> None:
    """--metrics-dir: a check that did not run the task (a failure only warns)."""
    if action.metrics_dir and action.task:
        import time

        from .metrics import record_check

        record_check(action.metrics_dir, action.task, outcome, at=time.time())


def _act(request: Request, action: Action, audit: Audit | None) -> int:
    events = None
    if action.watch and action.command:
        from .netlink import AddressEvents

        # Subscribed before the snapshot: a change between the decision and the start of
        # the command is then waiting on the socket, and the supervisor sees it.
        events = AddressEvents()
    try:
        slot = None
        if action.claiming is not None and action.command:
            from .slot import Late, slot_for

            try:
                slot = slot_for(
                    action.claiming.schedule,
                    _now(),
                    skew=action.claiming.skew,
                    max_late=action.claiming.max_late,
                )
            except Late as e:  # cron catching up long after the slot: not its run
                say(str(e))
                _record(action, "late")
                return status.OK
        table, verdict = evaluate(request, full=action.explain is not None)
        for warning in verdict.warnings:
            say(f"warning: {warning}")
        catching_up = (
            not verdict.master
            and not verdict.conflict
            and slot is not None
            and action.claiming is not None
            and action.claiming.catch_up is not None
        )
        runs = bool(action.command) and (verdict.master or catching_up)
        if audit and not runs:  # a run is logged when it starts, after the gates below
            audit.decision(verdict, action.command)
        if action.verbose:
            for line in verdict.lines():
                say(line)
        if action.explain:
            from .explain import render

            _print(render(action.explain, request, table, verdict))
        if verdict.conflict:
            # Loud whatever --verbose says: two holders means one job may already run twice.
            say(f"split brain, not running: {verdict.conflict}")
            _record(action, verdict.outcome)
            return status.SPLIT_BRAIN
        if not verdict.master and not catching_up:
            _record(action, verdict.outcome)
            if action.not_master_exit is not None:
                return action.not_master_exit
            return status.OK if action.command else status.NOT_MASTER
        if action.max_delay is not None:
            # A check too (ExecCondition=): a stale "master" must not let the job start.
            delay = _since_start()
            if delay > action.max_delay:
                why = (
                    f"decided {delay:.1f} s after starting, more than --max-delay "
                    f"{action.max_delay:g} s (an overloaded or frozen host): not running"
                )
                code = status.OK if action.command else status.NOT_MASTER
                if action.not_master_exit is not None:
                    code = action.not_master_exit
                return _skip(action, audit, "stale", why, code)
        if not action.command:
            _record(action, verdict.outcome)
            return status.OK
        if not action.supervised:
            from .run import exec_command

            if audit:
                audit.decision(verdict, action.command)
            exec_command(action.command)
        lock = None
        if action.no_overlap and action.task:
            from .task import LockBusy, acquire

            # Before the ledger's claim: a slot claimed and then skipped for overlap would
            # be a slot run nowhere.
            try:
                lock = acquire(action.task, action.lock_dir)
            except LockBusy as e:
                return _skip(action, audit, "overlap", str(e), action.overlap_exit)
            except OSError as e:
                why = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)
                raise IfMasterError(status.FAILURE, f"--no-overlap: {why}") from None
        claim = None
        try:
            if slot is not None and action.claiming is not None:
                from .slot import OffClock

                try:
                    claim = _claim(action, action.claiming, slot, catching_up)
                except OffClock as e:  # this node's clock is off: the ledger's vetoes
                    return _skip(action, audit, "clock", str(e), status.OK)
                if not claim.won:  # said with -v only: a held slot is the normal case
                    return _skip(
                        action, audit, "ledger_held", str(claim), 0, quiet=not action.verbose
                    )
            if audit:
                if catching_up and claim is not None:
                    audit.caught_up(action.command, claim.key)
                else:
                    audit.decision(verdict, action.command)
            if catching_up and events is not None:
                events.close()  # a catch-up run is not this node's VIP's to stop
                events = None
            return _supervise(request, action, verdict, events, audit, claim)
        finally:
            if lock is not None:  # the supervisor has reaped the job's tree by now
                lock.release()
    finally:
        if events is not None:
            events.close()


def _skip(
    action: Action, audit: Audit | None, outcome: str, why: str, code: int, quiet: bool = False
) -> int:
    """A master's run that a gate stopped (stale verdict, overlap, slot held elsewhere)."""
    if not quiet:
        say(why)
    if audit:
        audit.skipped(action.command, why)
    _record(action, outcome)
    return code


def _supervise(
    request: Request,
    action: Action,
    verdict: Verdict,
    events: AddressEvents | None,
    audit: Audit | None,
    claim: Claim | None,
) -> int:
    """Run the command as a child: until it ends, --timeout, or (--watch) the VIP goes."""
    import time

    from .watch import supervise

    again = request.while_running()
    started = time.time()
    started_mono = time.monotonic()
    if action.metrics_dir and action.task:
        from .metrics import record_start

        record_start(action.metrics_dir, action.task, at=started)

    def on_end(wait_status: int, how: str, lost: bool) -> None:
        """Told before supervise() returns or re-raises the command's death signal."""
        if audit is not None:
            audit.ended(action.command, how, lost)
        if claim is not None and action.claiming is not None:
            _finish(action.claiming, claim, wait_status)
        if action.metrics_dir and action.task:
            import os

            from .metrics import record_end

            signaled = os.WIFSIGNALED(wait_status)
            record_end(
                action.metrics_dir,
                action.task,
                status=None if signaled else os.WEXITSTATUS(wait_status),
                signal=os.WTERMSIG(wait_status) if signaled else None,
                started=started,
                ended=time.time(),
                duration=time.monotonic() - started_mono,
            )

    return supervise(
        action.command,
        first=verdict,
        check=lambda: evaluate(again)[1],
        events=events,
        vips=frozenset(v.packed for v in request.vips),
        keepalived=request.require_keepalived,
        grace=action.grace,
        timeout=action.timeout,
        say=say,
        on_end=on_end,
    )


def _since_start(proc: str = "/proc") -> float:
    """Seconds since this process started, on CLOCK_BOOTTIME (frozen time counts too)."""
    import os
    import time

    try:
        with open(f"{proc}/self/stat", "rb") as f:
            stat = f.read().decode()
    except OSError as e:
        raise IfMasterError(
            status.FAILURE, f"--max-delay: cannot read {proc}/self/stat: {e.strerror or e}"
        ) from None
    # Field 22, starttime, in clock ticks since boot; the name (field 2) may hold spaces.
    ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
    return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")


def _now() -> float:
    import time

    return time.time()


def _claim(action: Action, claiming: Claiming, slot: Slot, catching_up: bool) -> Claim:
    """--ledger: claim the slot (after --catch-up's wait when not the master)."""
    import os
    import time

    from .ledger import LedgerError

    assert action.task is not None  # the CLI requires it with --ledger
    if catching_up and claiming.catch_up is not None:
        from .slot import catch_up_due

        # Not the master: give it --catch-up seconds to claim first, then take an
        # unclaimed slot, so a master that was down at the tick no longer means a miss.
        time.sleep(max(0.0, catch_up_due(slot, claiming.catch_up) - _now()))
    try:
        # Judged by the cluster's clock, not only ours: a node whose clock jumped must not
        # claim a future slot (the master's, when it comes) or run one long past its time.
        from .slot import judge_by_ledger

        server = claiming.ledger.clock()
        warning = judge_by_ledger(
            slot, server, time.monotonic(), skew=claiming.skew, max_late=claiming.max_late
        )
        if warning:
            say(warning)
        return claiming.ledger.claim(
            action.task, slot.iso, node=claiming.node, pid=os.getpid(), start=_now()
        )
    except LedgerError as e:
        text = str(e)  # its own texts start with "ledger: " already: say it once
        raise IfMasterError(
            status.FAILURE, text if text.startswith("ledger") else f"ledger: {text}"
        ) from None


def _finish(claiming: Claiming, claim: Claim, wait_status: int) -> None:
    """Record the run's end in its slot's key; a failure there only warns."""
    import os

    from .ledger import LedgerError

    code = (
        128 + os.WTERMSIG(wait_status)
        if os.WIFSIGNALED(wait_status)
        else os.WEXITSTATUS(wait_status)
    )
    try:
        if not claiming.ledger.finish(claim, end=_now(), status=code):
            say(f"warning: {claim.key} was deleted or claimed anew: its end is not recorded")
    except LedgerError as e:
        say(f"warning: ledger: cannot record the end in {claim.key}: {e}")


def _print(text: str) -> None:
    """Write --explain's output to stdout; output that cannot be written is a failure."""
    import os
    import sys

    if sys.stdout is None:
        raise IfMasterError(status.FAILURE, "cannot write the explanation: stdout is closed")
    data = (text + "\n").encode("utf-8", "surrogateescape")
    try:
        while data:
            data = data[os.write(1, data) :]
    except OSError as e:
        raise IfMasterError(
            status.FAILURE, f"cannot write the explanation: {e.strerror or e}"
        ) from None
