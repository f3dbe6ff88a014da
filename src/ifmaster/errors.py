"""The one exception that carries an exit status and a message to the top."""

from __future__ import annotations


class IfMasterError(Exception):
    """if-master cannot go on: print ``if-master: MESSAGE`` and exit with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CommandError(IfMasterError):
    """The command could not be started (126 or 127)."""
