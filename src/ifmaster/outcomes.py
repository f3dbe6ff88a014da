"""The one place that reports what happened: syslog, the metrics file, the slot's end record.

act() builds one :class:`Outcomes` from the Action and tells it what each gate decided;
nothing else calls audit, metrics or the ledger's end record. Each sink is imported only
when its option is given, so a plain run pays for none of them. A failure to write a
diagnostic never changes a decision: every sink warns and carries on.
"""

from __future__ import annotations

from . import model
from .errors import say
from .model import Action, Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .audit import Audit
    from .ledger import Claim
    from .ledger.backend import Backend, Leases
    from .ledger.liveness import Liveness


class Outcomes:
    """Every gate's outcome for one run, fanned out to the sinks the Action asks for."""

    def __init__(self, action: Action) -> None:
        self.action = action
        self.audit: Audit | None = None
        if action.syslog:
            from .audit import Audit

            self.audit = Audit(task=action.task)
        self.metrics_dir = action.metrics_dir if action.task else None
        self.ledger: Backend | None = None  # with claim: the slot the run's end goes into
        self.claim: Claim | None = None
        self.alive: Liveness | None = None  # the claimed slot's liveness record, while it runs
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

    def claimed(self, ledger: Backend, claim: Claim) -> None:
        """The ledger granted the slot: the run's end goes into ``claim``'s record."""
        self.ledger = ledger
        self.claim = claim
        if not hasattr(ledger, "put_alive"):  # a store without Leases: histories say unknown
            return
        from .ledger.liveness import Liveness

        # Kept alive while the job runs (beat()), so a history tells running from died.
        leases: Leases = ledger  # type: ignore[assignment]  # has put_alive: a Leases
        self.alive = Liveness(leases)
        self.alive.start(claim)

    def beat(self) -> float | None:
        """The supervisor's periodic call: refresh the liveness record; seconds to the next."""
        if self.alive is None:
            return None
        self.alive.beat()
        return self.alive.due()

    def started(self, verdict: Verdict, caught_up: bool = False) -> None:
        """The command starts now (exec, or a supervised child); ``caught_up``: its slot
        was won by --catch-up, not as the master."""
        import time

        claim = self.claim
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
        recorded = False
        if self.claim is not None and self.ledger is not None:
            from .proc import exit_code

            recorded = _finish(self.ledger, self.claim, exit_code(wait_status))
        if self.alive is not None and recorded:  # the end took the liveness record with it
            self.alive.ended()
        elif self.alive is not None:
            self.alive.stop()
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

    def failed(self, message: str, outcome: str = model.ERROR) -> None:
        """if-master itself failed (exit 125): unreadable interfaces, a ledger, a start.
        ``outcome``: what --metrics-dir counts it as (``ledger_alarm``: etcd is full)."""
        if self.alive is not None:  # a claimed run that never started: not running
            self.alive.stop()
        if self.audit:
            self.audit.failed(message)
        self._metrics_check(outcome)


def _finish(ledger: Backend, claim: Claim, status: int) -> bool:
    """Record the run's end in its slot (True when recorded); a failure there only warns."""
    import time

    from .ledger import LedgerError

    try:
        if ledger.finish(claim, end=time.time(), status=status):
            return True
        say(f"warning: {claim.key} was deleted or claimed anew: its end is not recorded")
    except LedgerError as e:
        say(f"warning: ledger: cannot record the end in {claim.key}: {e}")
    return False
