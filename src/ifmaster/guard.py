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


def evaluate(request: Request) -> tuple[list[Interface], Verdict]:
    """Snapshot the interfaces and decide; raises IfMasterError when that is impossible."""
    try:
        table = interfaces.snapshot()
    except interfaces.InterfaceError as e:
        raise IfMasterError(status.FAILURE, str(e)) from e
    verdict = decide(request, table)
    if verdict.master and (request.require_keepalived or request.arp_probe):
        from .confirm import confirm

        verdict = confirm(request, verdict)
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
) -> int:
    """Exec ``command`` if this host is the master; else return the status to exit with.

    Without a command this is a check: OK on the master, NOT_MASTER elsewhere. Raises
    IfMasterError (and so runs nothing) when the interfaces cannot be read.
    """
    try:
        _table, verdict = evaluate(request)
    except IfMasterError as e:
        if audit:
            audit.failed(e.message)
        raise
    if audit:
        audit.decision(verdict, command)
    if verbose:
        for line in verdict.lines():
            sys.stderr.write(f"if-master: {line}\n")
    if verdict.conflict:
        # Loud whatever --verbose says: two holders means one job may already run twice.
        sys.stderr.write(f"if-master: split brain, not running: {verdict.conflict}\n")
    elif verdict.master and command:
        try:
            exec_command(command)
        except IfMasterError as e:
            if audit:
                audit.failed(e.message)
            raise
    elif not verdict.master and not_master_exit is not None:
        return not_master_exit
    elif command:
        return status.OK  # not the master: a guarded job is quietly skipped
    return check_status(verdict)
