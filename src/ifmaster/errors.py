"""The one exception that carries an exit status to the top, and the one way to say it."""

from __future__ import annotations

import os
import sys


class IfMasterError(Exception):
    """if-master cannot go on: print ``if-master: MESSAGE`` and exit with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CommandError(IfMasterError):
    """The command could not be started (126 or 127)."""


def say(line: str) -> None:
    """Write one diagnostic line to stderr; a failure to write it is ignored.

    Diagnostics are optional, the decision is not: stderr closed, full (/dev/full) or a
    pipe nobody reads must never change what runs or the exit status. Written straight to
    fd 2, unbuffered, so no failed flush can surface later either.
    """
    if sys.stderr is None:  # closed when we started: fd 2 may since be a socket of ours
        return
    data = f"if-master: {printable(line)}\n".encode("utf-8", "surrogateescape")
    try:
        while data:
            data = data[os.write(2, data) :]
    except OSError:  # EBADF (closed), ENOSPC (/dev/full), EPIPE (SIGPIPE is ignored)
        pass


def printable(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\n``, ``\\x1b``, ``\\udcff``).

    Interface names and IPv4 labels are any bytes the kernel took: one of them must not
    split a diagnostic into a second, forged line, nor send escapes to a terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def shown(text: str, limit: int = 60) -> str:
    """``text`` as a message quotes a bad value: repr() of at most ``limit`` characters."""
    return repr(cut(text, limit))


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, the last three ``...`` when it was longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _escape(c: str) -> str:
    return c.encode("unicode_escape").decode("ascii")


def report(e: IfMasterError) -> int:
    """Say the one-line error and return its exit status."""
    say(e.message)
    return e.code
