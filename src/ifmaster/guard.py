"""The pipeline both front ends share: snapshot, decide, then act on the verdict."""

from __future__ import annotations

import sys

from . import interfaces, status
from .decide import Request, Verdict, decide
from .errors import IfMasterError
from .run import exec_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .audit import Audit
    from .interfaces import Interface
    from .netlink import AddressEvents


def evaluate(request: Request) -> tuple[list[Interface], Verdict]:
    """Snapshot the interfaces and decide; raises IfMasterError when that is impossible."""
    try:
        table = interfaces.snapshot(ages=request.min_hold is not None)
    except interfaces.InterfaceError as e:
        raise IfMasterError(status.FAILURE, str(e)) from e
    verdict = decide(request, table)
    if verdict.master and (request.require_keepalived or request.arp_probe):
        from .confirm import confirm

        verdict = confirm(request, verdict, table)
    return table, verdict


def check_status(verdict: Verdict) -> int:
    """The status of check mode (and of --explain) for this verdict."""
    if verdict.conflict:
        return status.SPLIT_BRAIN
    return status.OK if verdict.master else status.NOT_MASTER


def guard(
    request: Request,
    command: list[str],
    not_master_exit: int | None = None,
    verbose: bool = False,
    audit: Audit | None = None,
    watch_grace: float | None = None,
) -> int:
    """Exec ``command`` if this host is the master; else return the status to exit with.

    Without a command this is a check: OK on the master, NOT_MASTER elsewhere. Raises
    IfMasterError (and so runs nothing) when the interfaces cannot be read. With
    ``watch_grace`` the command runs supervised instead of exec'd (see watch.py).
    """
    try:
        return _act(request, command, not_master_exit, verbose, audit, watch_grace)
    except IfMasterError as e:  # unreadable interfaces, a failed check, a failed exec
        if audit:
            audit.failed(e.message)
        raise


def _act(
    request: Request,
    command: list[str],
    not_master_exit: int | None,
    verbose: bool,
    audit: Audit | None,
    watch_grace: float | None,
) -> int:
    if command and watch_grace is not None:
        from .netlink import AddressEvents

        # Opened before the snapshot: a change between the decision and the start is queued.
        with AddressEvents() as events:
            return _decide_and_act(
                request, command, not_master_exit, verbose, audit, watch_grace, events
            )
    return _decide_and_act(request, command, not_master_exit, verbose, audit, None, None)


def _decide_and_act(
    request: Request,
    command: list[str],
    not_master_exit: int | None,
    verbose: bool,
    audit: Audit | None,
    watch_grace: float | None,
    events: AddressEvents | None,
) -> int:
    _table, verdict = evaluate(request)
    if audit:
        audit.decision(verdict, command)
    if verbose:
        for line in verdict.lines():
            sys.stderr.write(f"if-master: {line}\n")
    if verdict.conflict:
        # Loud whatever --verbose says: two holders means one job may already run twice.
        sys.stderr.write(f"if-master: split brain, not running: {verdict.conflict}\n")
    elif verdict.master and command and watch_grace is not None and events is not None:
        return _supervise(request, command, watch_grace, audit, verdict, events)
    elif verdict.master and command:
        exec_command(command)
    elif not verdict.master and not_master_exit is not None:
        return not_master_exit
    elif command:
        return status.OK  # not the master: a guarded job is quietly skipped
    return check_status(verdict)


def _supervise(
    request: Request,
    command: list[str],
    grace: float,
    audit: Audit | None,
    first: Verdict,
    events: AddressEvents,
) -> int:
    """--watch: run the command as a child while the VIP stays; stop it when it goes."""
    from functools import partial

    from . import model
    from .watch import supervise

    # While running, the VIP counts as held by the same rules, except the start-only ones:
    # its age only grows, and probing the network on every address event would be noise.
    again = Request(
        request.vips, request.interfaces, request.include_loopback, request.require_keepalived
    )

    def as_model(verdict: Verdict) -> model.Verdict:
        # Until act.py: the old verdict has no ifindex, so every link event is re-checked.
        held = [model.Finding(vip=vip, interface=name) for vip, name in verdict.held]
        return model.Verdict(findings=held, missing=[], notes=verdict.reasons)

    def check() -> model.Verdict:
        return as_model(evaluate(again)[1])

    def say(text: str) -> None:
        try:
            sys.stderr.write(f"if-master: {text}\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass  # stderr closed or broken: the job must not suffer for it

    on_end = None if audit is None else partial(audit.ended, command)
    return supervise(
        command,
        first=as_model(first),
        check=check,
        events=events,
        vips=frozenset(v.packed for v in request.vips),
        keepalived=request.require_keepalived,
        grace=grace,
        say=say,
        on_end=on_end,
    )
