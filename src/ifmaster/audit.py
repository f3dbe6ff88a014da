"""``--syslog``: one message per decision to the local syslog socket (facility cron).

Messages go straight to the datagram socket (``/dev/log``; ``IF_MASTER_SYSLOG_SOCKET``
overrides it, for tests and containers) as ``<PRI>if-master[PID]: TEXT``, which rsyslog and
journald both accept. A missing socket never stops the job: one warning on stderr, and the
decision stands.
"""

from __future__ import annotations

import os

from .errors import cut, printable, say
from .model import Verdict

ENV_SOCKET = "IF_MASTER_SYSLOG_SOCKET"
DEFAULT_SOCKET = "/dev/log"
FACILITY_CRON = 9
ERR, WARNING, INFO = 3, 4, 6
#: Text per record, at most: rsyslog's default message size is 8 KiB, and a datagram larger
#: than the socket takes is not logged at all.
MAX_TEXT = 8000


class Audit:
    """Sends the audit lines of one if-master run."""

    def __init__(self, path: str | None = None, task: str | None = None) -> None:
        self.path = path or os.environ.get(ENV_SOCKET) or DEFAULT_SOCKET
        self.task = task  # with --task, every line starts "task=NAME ": one grep per job
        self.warned = False

    def send(self, severity: int, text: str) -> None:
        from _socket import AF_UNIX, SOCK_DGRAM, socket

        if self.task:
            text = f"task={self.task} {text}"
        # One record, one line: a newline or escape in the job's arguments must not forge
        # a second record or reach a terminal; undecodable bytes are shown escaped.
        text = printable(text)
        text = cut(text, MAX_TEXT)
        data = f"<{FACILITY_CRON * 8 + severity}>if-master[{os.getpid()}]: {text}"
        sock = socket(AF_UNIX, SOCK_DGRAM)
        try:
            sock.connect(self.path)
            sock.send(data.encode("utf-8", "backslashreplace"))
        except OSError as e:
            if not self.warned:
                self.warned = True
                say(f"warning: cannot log to {self.path}: {e.strerror or e}")
        finally:
            sock.close()

    def decision(self, verdict: Verdict, command: list[str]) -> None:
        """The one line for a decision: ran, skipped, refused, or the check's answer."""
        cmd = _quote(command)
        if verdict.conflict:
            what = f"refused: {cmd}" if command else "check: split brain"
            self.send(WARNING, f"{what}: split brain: {verdict.conflict}")
        elif verdict.master:
            where = ", ".join(f"{f.vip} on {f.where}" for f in verdict.held)
            if command:
                self.send(INFO, f"ran: {cmd} (pid {os.getpid()}; holds {where})")
            else:
                self.send(INFO, f"check: master (holds {where})")
        else:
            why = "; ".join(verdict.lines()[:-1])
            what = f"skipped: {cmd}" if command else "check"
            self.send(INFO, f"{what}: not master ({why})")

    def ended(self, command: list[str], how: str, lost: bool) -> None:
        """--watch: the second line, when the supervised command has ended."""
        self.send(WARNING if lost else INFO, f"ended: {_quote(command)}: {how}")

    def skipped(self, command: list[str], why: str) -> None:
        """The master did not run it: a gate said no (overlap, stale verdict, slot held)."""
        what = f"skipped: {_quote(command)}" if command else "check"
        self.send(WARNING, f"{what}: {why}")

    def caught_up(self, command: list[str], key: str) -> None:
        """--ledger --catch-up: not the master, but it claimed the unclaimed slot."""
        self.send(INFO, f"ran: {_quote(command)} (pid {os.getpid()}; catch-up of {key})")

    def failed(self, message: str) -> None:
        self.send(ERR, f"failed: {message}")


def _quote(command: list[str]) -> str:
    import shlex

    return shlex.join(command)
