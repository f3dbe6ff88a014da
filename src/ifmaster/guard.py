"""The pipeline both front ends share: snapshot, decide, then act on the verdict."""

from __future__ import annotations

import sys

from . import interfaces, status
from .decide import Request, decide
from .errors import IfMasterError
from .run import exec_command


def guard(
    request: Request,
    command: list[str],
    not_master_exit: int | None = None,
    verbose: bool = False,
) -> int:
    """Exec ``command`` if this host is the master; else return the status to exit with.

    Without a command this is a check: OK on the master, NOT_MASTER elsewhere. Raises
    IfMasterError (and so runs nothing) when the interfaces cannot be read.
    """
    try:
        table = interfaces.snapshot()
    except interfaces.InterfaceError as e:
        raise IfMasterError(status.FAILURE, str(e)) from e
    verdict = decide(request, table)
    if verdict.master and (request.require_keepalived or request.arp_probe):
        from .confirm import confirm

        verdict = confirm(request, verdict)
    if verbose:
        for line in verdict.lines():
            sys.stderr.write(f"if-master: {line}\n")
    if verdict.conflict:
        # Loud whatever --verbose says: two holders means one job may already run twice.
        sys.stderr.write(f"if-master: split brain, not running: {verdict.conflict}\n")
        return status.SPLIT_BRAIN
    if verdict.master:
        if command:
            exec_command(command)
        return status.OK
    if not_master_exit is not None:
        return not_master_exit
    # Not the master: a guarded job is quietly skipped, a check says no.
    return status.OK if command else status.NOT_MASTER
