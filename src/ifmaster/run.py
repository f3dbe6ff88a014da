"""Replace if-master with the command: same PID, so status, signals and stdio pass through.

This module is the only one that calls ``os.exec*``. Arguments go to the command verbatim,
never through a shell.
"""

from __future__ import annotations

import os
import sys

from . import status
from .errors import CommandError

TYPE_CHECKING = False  # not imported from typing, which this hot path does not load
if TYPE_CHECKING:
    from signal import SIG_DFL, SIGPIPE, SIGXFSZ
    from signal import signal as set_handler
    from typing import NoReturn
else:
    # _signal, not signal: the latter builds enums at import, and this runs on every tick.
    from _signal import SIG_DFL, SIGPIPE, SIGXFSZ
    from _signal import signal as set_handler


def exec_command(argv: list[str]) -> NoReturn:
    """Replace this process with ``argv`` (PATH search as ``execvp``); raise CommandError."""
    prepare_exec_environment()
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        raise command_error(argv[0], e) from None


def prepare_exec_environment() -> None:
    """Undo what the Python interpreter changed, so the command starts as if run directly."""
    # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive exec, and `yes | head`
    # would then print "Broken pipe" errors instead of ending quietly.
    set_handler(SIGPIPE, SIG_DFL)
    set_handler(SIGXFSZ, SIG_DFL)
    undo_locale_coercion()
    # Buffered output of ours must not be lost, nor appear after the command's. (None: the
    # caller closed that descriptor, which the command inherits closed as well.)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def undo_locale_coercion() -> None:
    """Drop the LC_CTYPE that Python adds under the C locale (PEP 538), if it added it."""
    if "LC_CTYPE" not in os.environ or not sys.platform.startswith("linux"):
        return
    # /proc/self/environ is the environment as the caller passed it to exec.
    with open("/proc/self/environ", "rb") as f:
        original = f.read()
    if not original.startswith(b"LC_CTYPE=") and b"\0LC_CTYPE=" not in original:
        del os.environ["LC_CTYPE"]


def command_error(command: str, e: OSError) -> CommandError:
    """coreutils' convention: 127 when the command is not found, 126 for any other failure."""
    code = status.NOT_FOUND if e.errno == 2 else status.CANNOT_INVOKE  # 2: ENOENT
    return CommandError(code, f"{command}: {e.strerror or e}")
