"""Entry point: the pre-parse answers plain runs and the ledger's common line; anything else goes
to click."""

from __future__ import annotations

import os
import sys

from . import status
from .errors import IfMasterError, report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def main(argv: list[str] | None = None) -> int:
    """Run if-master on ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        from .preparse import preparse

        parsed = preparse(args, os.environ)
        if parsed is None:
            from .cli import run_click  # click costs ~3x the interpreter's start-up: only here

            return run_click(args)
        from .act import act

        return act(*parsed)
    except IfMasterError as e:
        return report(e)
    except Exception as e:  # fail closed: 125 and one line, never a traceback and status 1
        return report(IfMasterError(status.FAILURE, f"internal error: {type(e).__name__}: {e}"))


def entry() -> NoReturn:
    """The console script: ``main()``, then exit without the interpreter's teardown.

    Once the decision is made and our output flushed nothing is left to clean up, and the
    teardown costs ~2 ms, a seventh of the interpreter's own start-up, on every tick of
    every node that is not the master.
    """
    code = main()
    # Only click writes through sys.stdout (--help, --version): output it could not deliver
    # is a failure. Our diagnostics go straight to fd 2 and never fail the run (errors.say).
    if sys.stdout is not None:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            code = code or status.FAILURE
    os._exit(code)
