"""The one place that reports what happened: syslog, the metrics file, the slot's end record.

act() builds one :class:`Outcomes` from the Action and tells it what each gate decided;
nothing else calls audit, metrics or the ledger's end record. Each sink is imported only
when its option is given, so a plain run pays for none of them. A failure to write a
diagnostic never changes a decision: every sink warns and carries on.
"""

from __future__ import annotations

from . import kinds
from .errors import say
from .model import Action, Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .audit import Audit
    from .ledger import Claim, Ledger


class Outcomes:
    """Every gate's outcome for one run, fanned out to the sinks the Action asks for."""

    def __init__(self, action: Action) -> None:
        self.action = action
        self.audit: Audit | None = None
        if action.syslog:
            from .audit import Audit

            self.audit = Audit(task=action.task)
        self.metrics_dir = action.metrics_dir if action.task else None
        self.claim: Claim | None = None  # set by started(): its end goes into the slot
        self.started_at = 0.0  # wall clock, for the metrics file
        self.started_mono = 0.0

    def _metrics_check(self, kind: str) -> None:
        if self.metrics_dir and self.action.task:
            import time

            from .metrics import record_check

            record_check(self.metrics_dir, self.action.task, kind, at=time.time())

    def checked(self, verdict: Verdict, kind: str | None = None) -> None:
        """A decision that runs nothing: not master, split brain, or a check's answer."""
        if self.audit:
            self.audit.decision(verdict, self.action.command)
        self._metrics_check(kind or verdict.outcome)

    def skipped(self, kind: str, why: str, status: int, *, quiet: bool = False) -> int:
        """A run that a gate stopped (late, stale verdict, overlap, slot held elsewhere)."""
        if not quiet:
            say(why)
        if self.audit:
            self.audit.skipped(self.action.command, why)
        self._metrics_check(kind)
        return status

    def started(
        self, verdict: Verdict, claim: Claim | None = None, caught_up: bool = False
    ) -> None:
        """The command starts now (exec, or a supervised child).

        ``claim``: the ledger's won claim, whose end ended() records; ``caught_up``: it
        was won by --catch-up, not as the master.
        """
        import time

        self.claim = claim
        if self.audit:
            if caught_up and claim is not None:
                self.audit.caught_up(self.action.command, claim.key)
            else:
                self.audit.decision(verdict, self.action.command)
        self.started_at = time.time()
        self.started_mono = time.monotonic()
        if self.metrics_dir and self.action.task:
            from .metrics import record_start

            record_start(self.metrics_dir, self.action.task, at=self.started_at)

    def ended(self, wait_status: int, how: str, lost: bool) -> None:
        """The supervised command ended (told before supervise() returns or re-raises)."""
        import os
        import time

        if self.audit is not None:
            self.audit.ended(self.action.command, how, lost)
        claiming = self.action.claiming
        if self.claim is not None and claiming is not None:
            from .proc import exit_code

            _finish(claiming.ledger, self.claim, exit_code(wait_status))
        if self.metrics_dir and self.action.task:
            from .metrics import record_end

            signaled = os.WIFSIGNALED(wait_status)
            record_end(
                self.metrics_dir,
                self.action.task,
                status=None if signaled else os.WEXITSTATUS(wait_status),
                signal=os.WTERMSIG(wait_status) if signaled else None,
                started=self.started_at,
                ended=time.time(),
                duration=time.monotonic() - self.started_mono,
            )

    def failed(self, message: str) -> None:
        """if-master itself failed (exit 125): unreadable interfaces, a ledger, a start."""
        if self.audit:
            self.audit.failed(message)
        self._metrics_check(kinds.ERROR)


def _finish(ledger: Ledger, claim: Claim, status: int) -> None:
    """Record the run's end in its slot; a failure there only warns."""
    import time

    from .ledger import LedgerError

    try:
        if not ledger.finish(claim, end=time.time(), status=status):
            say(f"warning: {claim.key} was deleted or claimed anew: its end is not recorded")
    except LedgerError as e:
        say(f"warning: ledger: cannot record the end in {claim.key}: {e}")
