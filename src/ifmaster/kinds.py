"""The outcome words: one name each, the same in Finding.kind, Verdict.outcome, the metrics
labels and syslog. Plain strings (no ``enum`` on the hot path); a typo is a NameError at
import, not an internal error at 3 a.m.
"""

MASTER = "master"  # this node acts as master: the job runs
NOT_HELD = "not_held"  # the VIP is not held here in a way that counts
TOO_YOUNG = "too_young"  # --min-hold: held, but not for long enough
KEEPALIVED_DOWN = "keepalived_down"  # --require-keepalived: no live keepalived here
SPLIT_BRAIN = "split_brain"  # another machine answers for a VIP we hold
OVERLAP = "overlap"  # --no-overlap: the previous run still holds the lock
STALE = "stale"  # --max-delay: the decision came too long after if-master started
LATE = "late"  # --ledger: started after --max-late, not its slot's run
CLOCK = "clock"  # --ledger: this node's clock is off: too early or late by the ledger's
LEDGER_HELD = "ledger_held"  # --ledger: another node claimed the slot
ERROR = "error"  # if-master failed (exit 125)

#: Every outcome, in the metrics file's order.
ALL = (
    MASTER,
    NOT_HELD,
    TOO_YOUNG,
    KEEPALIVED_DOWN,
    SPLIT_BRAIN,
    OVERLAP,
    STALE,
    LATE,
    CLOCK,
    LEDGER_HELD,
    ERROR,
)
#: Outcomes of a node acting as master (the is_master gauge).
AS_MASTER = (MASTER, OVERLAP)
