"""What a job run under ``--ledger`` learns of its claim: four environment variables.

The job's environment is otherwise the caller's, byte for byte (run.py); these four are
the only ones added, and only for a run whose claim was won (or caught up):

- ``IF_MASTER_TASK``: the task's name (``--task``);
- ``IF_MASTER_SLOT``: the slot the run is for, ISO 8601 UTC (``2026-11-28T01:45:00Z``);
- ``IF_MASTER_LEDGER_KEY``: the slot's key in the ledger (``/PREFIX/TASK/SLOT``);
- ``IF_MASTER_FENCING_TOKEN``: the claim's revision, a decimal integer. etcd's revision is
  cluster-wide and only ever grows: a later claim, of any slot, task or node under the
  same etcd cluster, always has a larger token. A job passes it to the storage it writes
  so that the storage can refuse a stale writer (a run that stalled past a later one).

A caller's own values of these names (a guarded job that runs another) are replaced.
"""

from __future__ import annotations

import os

from .records import Claim

TYPE_CHECKING = False  # annotations only: collections is ~2 ms of import
if TYPE_CHECKING:
    from collections.abc import MutableMapping


ENV_TASK = "IF_MASTER_TASK"
ENV_SLOT = "IF_MASTER_SLOT"
ENV_KEY = "IF_MASTER_LEDGER_KEY"
ENV_TOKEN = "IF_MASTER_FENCING_TOKEN"
#: Every variable a job gains, in the order above.
VARIABLES = (ENV_TASK, ENV_SLOT, ENV_KEY, ENV_TOKEN)


def job_variables(task: str, slot: str, claim: Claim) -> dict[str, str]:
    """The four variables for a run of ``task`` in ``slot`` under ``claim``."""
    return {ENV_TASK: task, ENV_SLOT: slot, ENV_KEY: claim.key, ENV_TOKEN: str(claim.revision)}


def export(
    task: str, slot: str, claim: Claim, environ: MutableMapping[str, str] | None = None
) -> None:
    """Add the four to the environment the job is started with (``os.environ``)."""
    (os.environ if environ is None else environ).update(job_variables(task, slot, claim))
