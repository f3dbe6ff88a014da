"""Exit statuses of if-master, defined once (coreutils' exec-wrapper convention)."""

from enum import IntEnum, unique


@unique
class ExitCode(IntEnum):
    """What if-master's own exit status means; any other status is the command's."""

    #: Check mode: this host is the master. Guard mode, not master: the default status.
    OK = 0
    #: Check mode: this host is not the master.
    NOT_MASTER = 1
    #: if-master itself failed (bad input, unreadable interfaces); the command did not run.
    FAILURE = 125
    #: The command was found but could not be executed (permissions, bad format...).
    CANNOT_INVOKE = 126
    #: The command was not found.
    NOT_FOUND = 127
