"""The one place that acts on a verdict, in every mode: exec, supervise, check, explain, audit.

Both front ends (the hot-path pre-parse and click) end here with a Request and an Action.
The statuses, for every mode alike: split brain 3; not master ``--not-master-exit`` if
given, else 0 with a command and 1 without; master without a command 0; with a command,
the command's own (exec) or its supervised end (--watch). An ``--explain`` is a check that
also prints its rendering of the verdict.
"""

from __future__ import annotations

from . import interfaces, status
from .decide import decide
from .errors import IfMasterError, say
from .model import Action, Interface, Request, Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .audit import Audit
    from .netlink import AddressEvents


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

        audit = Audit()
    try:
        return _act(request, action, audit)
    except IfMasterError as e:  # unreadable interfaces, a failed check, a failed start
        if audit:
            audit.failed(e.message)
        raise


def _act(request: Request, action: Action, audit: Audit | None) -> int:
    events = None
    if action.watch:
        from .netlink import AddressEvents

        # Subscribed before the snapshot: a change between the decision and the start of
        # the command is then waiting on the socket, and the supervisor sees it.
        events = AddressEvents()
    try:
        table, verdict = evaluate(request, full=action.explain is not None)
        for warning in verdict.warnings:
            say(f"warning: {warning}")
        if audit:
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
            return status.SPLIT_BRAIN
        if not verdict.master:
            if action.not_master_exit is not None:
                return action.not_master_exit
            return status.OK if action.command else status.NOT_MASTER
        if not action.command:
            return status.OK
        if events is not None:
            return _supervise(request, action, verdict, events, audit)
        from .run import exec_command

        exec_command(action.command)
    finally:
        if events is not None:
            events.close()


def _supervise(
    request: Request, action: Action, verdict: Verdict, events: AddressEvents, audit: Audit | None
) -> int:
    """--watch: run the command as a child while the VIP stays; stop it when it goes."""
    from .watch import supervise

    again = request.while_running()
    on_end = None
    if audit is not None:
        logger = audit

        def on_end(how: str, lost: bool) -> None:
            logger.ended(action.command, how, lost)

    return supervise(
        action.command,
        first=verdict,
        check=lambda: evaluate(again)[1],
        events=events,
        vips=frozenset(v.packed for v in request.vips),
        keepalived=request.require_keepalived,
        grace=action.grace,
        say=say,
        on_end=on_end,
    )


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
