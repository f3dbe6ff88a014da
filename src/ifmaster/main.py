"""Entry point: the pre-parse answers plain runs; anything else goes to click."""

from __future__ import annotations

import os
import sys

from . import status
from .errors import IfMasterError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


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
        return report(IfMasterError(status.FAILURE, f"internal error: {type(e).__name__}: {e}"))


def entry() -> NoReturn:
    """The console script: ``main()``, then exit without the interpreter's teardown.

    Once the decision is made and our output flushed nothing is left to clean up, and the
    teardown costs ~2 ms, a seventh of the interpreter's own start-up, on every tick of
    every node that is not the master.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except OSError:  # e.g. stdout a closed pipe: the output was lost, say so
                code = code or status.FAILURE
    os._exit(code)


def report(e: IfMasterError) -> int:
    """Print the one-line error and return its exit status."""
    if sys.stderr is not None:  # the caller may have closed it: the status still tells
        sys.stderr.write(f"if-master: {e.message}\n")
    return e.code
