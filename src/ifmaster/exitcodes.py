"""Exit statuses of if-master (coreutils' exec-wrapper convention), as an IntEnum."""

from enum import IntEnum, unique

from . import status


@unique
class ExitCode(IntEnum):
    """What if-master's own exit status means; any other status is the command's."""

    #: Check mode: this host is the master. Guard mode, not master: the default status.
    OK = status.OK
    #: Check mode: this host is not the master.
    NOT_MASTER = status.NOT_MASTER
    #: --arp-probe: another machine answers for a VIP we hold; the command did not run.
    SPLIT_BRAIN = status.SPLIT_BRAIN
    #: --timeout: the command ran longer and was stopped (as coreutils timeout).
    TIMEOUT = status.TIMEOUT
    #: if-master itself failed (bad input, unreadable interfaces); the command did not run.
    FAILURE = status.FAILURE
    #: The command was found but could not be executed (permissions, bad format...).
    CANNOT_INVOKE = status.CANNOT_INVOKE
    #: The command was not found.
    NOT_FOUND = status.NOT_FOUND
