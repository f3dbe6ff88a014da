"""Entry point: the pre-parse answers plain runs; anything else goes to click."""

from __future__ import annotations

import os
import sys

from .errors import IfMasterError


def main(argv: list[str] | None = None) -> int:
    """Run if-master on ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        from .fast import preparse

        parsed = preparse(args, os.environ)
        if parsed is None:
            from .cli import run_click  # click costs ~3x the interpreter's start-up: only here

            return run_click(args)
        from .guard import guard

        return guard(*parsed)
    except IfMasterError as e:
        return report(e)
    except Exception as e:  # fail closed: 125 and one line, never a traceback and status 1
        from . import status

        return report(IfMasterError(status.FAILURE, f"internal error: {type(e).__name__}: {e}"))


def report(e: IfMasterError) -> int:
    """Print the one-line error and return its exit status."""
    if sys.stderr is not None:  # the caller may have closed it: the status still tells
        sys.stderr.write(f"if-master: {e.message}\n")
    return e.code
