"""Every option's default and bound, written once: click's types, the records and the
modules that check values read them from here (a test holds the docs to them).

Plain numbers, no imports: the hot path may read this module.
"""

DAY = 86400.0
#: --min-hold: at most a day.
MAX_MIN_HOLD = DAY
#: --grace: seconds between SIGTERM and SIGKILL when stopping the command.
DEFAULT_GRACE = 5.0
MAX_GRACE = 3600.0
#: --timeout: at most 31 days.
MAX_TIMEOUT = 31 * DAY
#: --max-delay: at most an hour.
MAX_MAX_DELAY = 3600.0
#: --lock-dir (--no-overlap).
DEFAULT_LOCK_DIR = "/run/lock/if-master"
#: The longest --every period, and the bound of --max-late and --catch-up: 366 days.
MAX_PERIOD = 366 * 86400
#: --skew: at a slot boundary; twice it must be shorter than the period.
DEFAULT_SKEW = 2.0
MAX_SKEW = 29.0
#: --max-late: a run this late after its slot is not its run.
DEFAULT_MAX_LATE = 60.0
#: --ledger-timeout: one ledger operation, all endpoints together.
DEFAULT_LEDGER_TIMEOUT = 2.0
MIN_LEDGER_TIMEOUT = 0.05
MAX_LEDGER_TIMEOUT = 60.0
