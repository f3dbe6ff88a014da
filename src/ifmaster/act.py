"""The one place that acts on a verdict, in every mode: exec, supervise, check, explain.

Both front ends (the hot-path pre-parse and click) end here with a Request and an Action.
``_act`` is the gates in order: late, decide, split brain, not master, --max-delay, check
or explain, exec, --no-overlap, the ledger's clock, the claim, supervise. Every outcome
goes to one :class:`~ifmaster.outcomes.Outcomes`, which alone writes syslog, metrics and
the slot's end.

The statuses, for every mode alike: split brain 3; not master ``--not-master-exit`` if
given, else 0 with a command and 1 without; master without a command 0; with a command,
the command's own (exec) or its supervised end (--watch, --timeout: 124, --no-overlap,
--metrics-dir, --ledger); a run skipped for overlap ``--overlap-exit``. An ``--explain``
is a check that also prints its rendering of the verdict.
"""

from __future__ import annotations

from . import interfaces, model, status
from .decide import decide
from .errors import IfMasterError, say
from .model import Action, Interface, Request, Verdict
from .outcomes import Outcomes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .ledger import Claim
    from .ledger.backend import Backend
    from .netlink import AddressEvents
    from .slot import Slot
    from .task import TaskLock
    from .watch import Watched


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
    outcomes = Outcomes(action)
    events = None
    try:
        # Opened first, on every node: a bad password or TLS file is loud on the backup
        # too, not only once it becomes the master.
        store = _open_ledger(action)
        if action.watch and action.command:
            from .netlink import AddressEvents

            # Subscribed before the snapshot: a change between the decision and the start
            # of the command is then waiting on the socket, and the supervisor sees it.
            events = AddressEvents()
        return _act(request, action, outcomes, events, store)
    except IfMasterError as e:  # unreadable interfaces, a ledger, a failed check or start
        outcomes.failed(e.message, e.outcome)
        raise
    finally:
        if events is not None:
            events.close()


def _act(
    request: Request,
    action: Action,
    outcomes: Outcomes,
    events: AddressEvents | None,
    store: Backend | None,
) -> int:
    """The gates, in order; each returns through ``outcomes`` or falls through."""
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
            return outcomes.skipped(model.LATE, str(e), status.OK)
    table, verdict = evaluate(request, full=action.explain is not None)
    for warning in verdict.warnings:
        say(f"warning: {warning}")
    # Not the master: with --catch-up, the ledger may still grant an unclaimed slot.
    catching_up = (
        not verdict.master
        and not verdict.conflict
        and slot is not None
        and action.claiming is not None
        and action.claiming.catch_up is not None
    )
    if action.verbose:
        for line in verdict.lines():
            say(line)
    if action.explain:
        from .explain import render

        _print(render(action.explain, request, table, verdict))
    if verdict.conflict:
        # Loud whatever --verbose says: two holders means one job may already run twice.
        say(f"split brain, not running: {verdict.conflict}")
        outcomes.checked(verdict)
        return status.SPLIT_BRAIN
    if not verdict.master and not catching_up:
        outcomes.checked(verdict)
        return _not_master(action)
    if action.max_delay is not None:
        # A check too (ExecCondition=): a stale "master" must not let the job start.
        delay = _since_start()
        if delay > action.max_delay:
            why = (
                f"decided {delay:.1f} s after starting, more than --max-delay "
                f"{action.max_delay:g} s (an overloaded or frozen host): not running"
            )
            return outcomes.skipped(model.STALE, why, _not_master(action))
    if not action.command:
        outcomes.checked(verdict)
        return status.OK
    if not action.supervised:
        from .run import exec_command

        outcomes.started(verdict)
        exec_command(action.command)
    lock = None
    if action.no_overlap and action.task:
        from .task import LockBusy

        # Before the ledger's claim: a slot claimed and then skipped for overlap would
        # be a slot run nowhere.
        try:
            lock = _lock(action)
        except LockBusy as e:
            return outcomes.skipped(model.OVERLAP, str(e), action.overlap_exit)
    try:
        claim = None
        if slot is not None and store is not None:
            from .slot import OffClock

            try:
                claim = _claim(action, store, slot, catching_up)
            except OffClock as e:  # this node's clock is off: the ledger's clock vetoes
                return outcomes.skipped(model.CLOCK, str(e), status.OK)
            if not claim.won:  # said with -v only: a held slot is the normal case
                why = str(claim)
                return outcomes.skipped(model.LEDGER_HELD, why, status.OK, quiet=not action.verbose)
            outcomes.claimed(store, claim)
            from .ledger.job import export

            export(action.task or "", slot.iso, claim)  # the job's four IF_MASTER_* variables
        outcomes.started(verdict, caught_up=catching_up)
        # Only a run started as the VIP holder is watched: a catch-up run never held it.
        watched = _watched(request, events) if events is not None and not catching_up else None
        from .watch import supervise

        return supervise(
            action,
            request,
            verdict,
            watched=watched,
            say=say,
            on_end=outcomes.ended,
            periodic=outcomes.beat if outcomes.alive is not None else None,
        )
    finally:
        if lock is not None:  # the supervisor has reaped the job's tree by now
            lock.release()


def _not_master(action: Action) -> int:
    """The status of a node that does not run the command."""
    if action.not_master_exit is not None:
        return action.not_master_exit
    return status.OK if action.command else status.NOT_MASTER


def _lock(action: Action) -> TaskLock:
    """--no-overlap's lock; LockBusy when the previous run holds it."""
    from .task import acquire

    assert action.task is not None
    try:
        return acquire(action.task, action.lock_dir)
    except OSError as e:
        why = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)
        raise IfMasterError(status.FAILURE, f"--no-overlap: {why}") from None


def _watched(request: Request, events: AddressEvents) -> Watched:
    """--watch's seams: re-check the decision, read events, test for any copy at all."""
    from .netlink import none_assigned
    from .watch import Watched

    again = request.while_running()
    return Watched(
        check=lambda: evaluate(again)[1],
        events=events,
        none_assigned=none_assigned,
        keepalived_pids=_keepalived_pids,
    )


def _keepalived_pids() -> list[int]:
    """The live keepalived processes here; none when they cannot be told (a re-check then
    decides, and says why)."""
    from .keepalived import KeepalivedCheckError, keepalived_pids

    try:
        return keepalived_pids()
    except KeepalivedCheckError:
        return []


def _since_start() -> float:
    """Seconds since this process started (CLOCK_BOOTTIME); 125 when /proc says nothing."""
    from .proc import PROC, age

    try:
        return age()
    except (OSError, ValueError, IndexError) as e:
        why = getattr(e, "strerror", None) or e
        raise IfMasterError(
            status.FAILURE, f"--max-delay: cannot read {PROC}/self/stat: {why}"
        ) from None


def _now() -> float:
    import time

    return time.time()


def _open_ledger(action: Action) -> Backend | None:
    """--ledger's store, its files read; None without --ledger or without a command."""
    if action.claiming is None or not action.command:
        return None
    from .ledger import LedgerError, open_ledger

    try:
        return open_ledger(action.claiming.options)
    except LedgerError as e:
        raise IfMasterError(status.FAILURE, _ledger_text(e)) from None


def _ledger_text(e: Exception) -> str:
    text = str(e)  # its own texts start with "ledger: " already: say it once
    return text if text.startswith("ledger") else f"ledger: {text}"


def _claim(action: Action, store: Backend, slot: Slot, catching_up: bool) -> Claim:
    """--ledger: claim the slot (after --catch-up's wait when not the master)."""
    import os
    import time

    from .ledger import LedgerError
    from .slot import spec

    claiming = action.claiming
    assert claiming is not None and action.task is not None  # the CLI requires the task
    if catching_up and claiming.catch_up is not None:
        from .slot import catch_up_due

        # Not the master: give it --catch-up seconds to claim first, then take an
        # unclaimed slot, so a master that was down at the tick no longer means a miss.
        time.sleep(max(0.0, catch_up_due(slot, claiming.catch_up) - _now()))
    try:
        # Judged by the cluster's clock, not only ours: a node whose clock jumped must not
        # claim a future slot (the master's, when it comes) or run one long past its time.
        from .slot import judge_by_ledger

        warning = judge_by_ledger(
            slot, store.clock(), time.monotonic(), skew=claiming.skew, max_late=claiming.max_late
        )
        if warning:
            say(warning)
        return store.claim(
            action.task,
            slot.iso,
            node=claiming.node,
            pid=os.getpid(),
            start=_now(),
            schedule=spec(claiming.schedule),
        )
    except LedgerError as e:
        outcome = model.LEDGER_ALARM if e.kind == "alarm" else model.ERROR
        raise IfMasterError(status.FAILURE, _ledger_text(e), outcome=outcome) from None


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
