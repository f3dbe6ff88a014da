"""The plain status numbers and the ExitCode names are one set."""

from ifmaster import status
from ifmaster.exitcodes import ExitCode


def test_exitcode_names_every_status_number() -> None:
    numbers = {k: v for k, v in vars(status).items() if k.isupper()}
    assert {c.name: int(c) for c in ExitCode} == numbers


def test_coreutils_convention() -> None:
    assert (ExitCode.FAILURE, ExitCode.CANNOT_INVOKE, ExitCode.NOT_FOUND) == (125, 126, 127)
