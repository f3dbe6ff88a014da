"""The records every stage shares: what was asked, what the host has, what was decided.

Plain classes with ``__slots__``, constructed with keywords only, and no OS imports: the
pipeline is argv -> Request + Action -> table of Interface -> Verdict -> act, and each
stage reads the records of the one before. (Not dataclasses: importing dataclasses costs
more than this whole module on the hot path.)
"""

from __future__ import annotations

from _socket import inet_ntop

TYPE_CHECKING = False  # typing is not imported on the hot path
if TYPE_CHECKING:
    from .ledger import LedgerOptions
    from .slot import Schedule
    from .vip import Vip

# -- The outcome words: one name each, the same in Finding.kind, Verdict.outcome, the
# metrics labels and syslog. Plain strings (no enum on the hot path); a typo is a
# NameError at import, not an internal error at 3 a.m.

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
LEDGER_ALARM = "ledger_alarm"  # --ledger: etcd refuses writes under an alarm (NOSPACE: full)
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
    LEDGER_ALARM,
    ERROR,
)
#: Outcomes of a node acting as master (the is_master gauge).
AS_MASTER = (MASTER, OVERLAP)

# -- Every option's default and bound, written once: click's types, the records and the
# modules that check values read them from here (a test holds the docs to them).
# Here, not in modules of their own: each module the hot path imports costs ~1% of it.

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
#: --keep: the default retention of a task's slots (a month of --history, and a little
#: more), and the shortest and longest it takes (0 / forever: keep every slot).
DEFAULT_KEEP = 35 * 86400
MIN_KEEP = 60
MAX_KEEP = MAX_PERIOD
#: --history, --status: how far back they look (--since), in seconds.
DEFAULT_SINCE = DAY
#: --history -n: rows printed by default, and at most.
DEFAULT_ROWS = 50
MAX_ROWS = 10000

#: Kernel address flags (linux/if_addr.h) that mean "not really assigned yet / any more".
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40


class Request:
    """What the user asked to be decided: which VIPs, where to look, which extra checks."""

    __slots__ = (
        "arp_probe",
        "include_loopback",
        "interfaces",
        "min_hold",
        "require_keepalived",
        "vips",
    )

    def __init__(
        self,
        *,
        vips: list[Vip],
        interfaces: frozenset[str] = frozenset(),
        include_loopback: bool = False,
        require_keepalived: bool = False,
        arp_probe: bool = False,
        min_hold: float | None = None,
    ) -> None:
        self.vips = vips
        self.interfaces = interfaces  # empty: every interface; else names or IPv4 labels
        self.include_loopback = include_loopback
        # Opt-in checks that need more than the interface table: see confirm.py.
        self.require_keepalived = require_keepalived
        self.arp_probe = arp_probe
        # Seconds a VIP must have been held (address age) before it counts.
        self.min_hold = min_hold

    def while_running(self) -> Request:
        """The request --watch re-checks: without the start-only checks.

        A held VIP's age only grows, and probing the network on every address event would
        be noise; keepalived's liveness still matters.
        """
        return Request(
            vips=self.vips,
            interfaces=self.interfaces,
            include_loopback=self.include_loopback,
            require_keepalived=self.require_keepalived,
        )


class Action:
    """What to do with the verdict: run a command (exec or supervised), check, or explain."""

    __slots__ = (
        "claiming",
        "command",
        "explain",
        "grace",
        "lock_dir",
        "max_delay",
        "metrics_dir",
        "no_overlap",
        "not_master_exit",
        "overlap_exit",
        "syslog",
        "task",
        "timeout",
        "verbose",
        "watch",
    )

    def __init__(
        self,
        *,
        command: list[str],
        not_master_exit: int | None = None,
        verbose: bool = False,
        syslog: bool = False,
        watch: bool = False,
        grace: float = DEFAULT_GRACE,
        explain: str | None = None,
        timeout: float | None = None,
        task: str | None = None,
        no_overlap: bool = False,
        overlap_exit: int = 0,
        lock_dir: str = DEFAULT_LOCK_DIR,
        metrics_dir: str | None = None,
        claiming: Claiming | None = None,
        max_delay: float | None = None,
    ) -> None:
        self.command = command  # empty: check mode
        self.not_master_exit = not_master_exit
        self.verbose = verbose
        self.syslog = syslog
        self.watch = watch  # run supervised, stop on VIP loss (see watch.py)
        self.grace = grace  # seconds between SIGTERM and SIGKILL when stopping
        self.explain = explain  # None, "text" or "json": an explain is a check that prints
        self.timeout = timeout  # seconds before the command's tree is stopped (exit 124)
        self.task = task  # the job's name: metrics, syslog, lock; None: none of them
        self.no_overlap = no_overlap
        self.overlap_exit = overlap_exit
        self.lock_dir = lock_dir
        self.metrics_dir = metrics_dir  # set only with a task
        self.claiming = claiming  # --ledger (needs a task); None: the VIP alone decides
        # Run nothing if the decision came this long after if-master started: a verdict
        # reached on an overloaded or frozen host may be about a VIP that has moved since.
        self.max_delay = max_delay

    @property
    def supervised(self) -> bool:
        """Whether the command runs as a child instead of replacing if-master (exec)."""
        return (
            self.watch
            or self.timeout is not None
            or self.no_overlap
            or bool(self.metrics_dir)
            or self.claiming is not None  # the end goes into the slot's record
        )


class Claiming:
    """--ledger: claim the run's schedule slot in etcd before running (ledger/, slot.py)."""

    __slots__ = ("catch_up", "max_late", "node", "options", "schedule", "skew")

    def __init__(
        self,
        *,
        options: LedgerOptions,
        schedule: Schedule,
        node: str,
        skew: float,
        max_late: float,
        catch_up: float | None = None,
    ) -> None:
        self.options = options  # the store's, opened by act()
        self.schedule = schedule
        self.node = node  # our name in the claim's record
        self.skew = skew  # a run this early belongs to the coming slot
        self.max_late = max_late  # a run this late after its slot is not its run
        self.catch_up = catch_up  # not master: claim a still unclaimed slot this late


class Address:
    """One address on an interface. ``flags`` are IFA_F_* bits; None: its state is unknown."""

    __slots__ = ("age", "family", "flags", "label", "packed")

    def __init__(
        self,
        *,
        family: int,
        packed: bytes,
        flags: int | None = 0,
        age: float | None = None,
        label: str | None = None,
    ) -> None:
        self.family = family
        self.packed = packed
        self.flags = flags
        self.age = age  # seconds since the kernel added it; only read for --min-hold
        # IPv4 label (keepalived's `label`, `ip addr add ... label X`): any text the kernel
        # accepted, not always "<device>:<suffix>"; None when it equals the device's name.
        self.label = label

    @property
    def text(self) -> str:
        return inet_ntop(self.family, self.packed)

    def __repr__(self) -> str:
        return f"Address({self.text!r}, flags={self.flags!r}, label={self.label!r})"


class Interface:
    """One network device, by the kernel's index and name, with its state and addresses."""

    __slots__ = ("addresses", "index", "loopback", "name", "state", "up")

    def __init__(
        self,
        *,
        name: str,
        addresses: list[Address],
        index: int = 0,
        up: bool = True,
        loopback: bool = False,
        state: str = "up",
    ) -> None:
        self.name = name
        self.index = index  # the kernel's ifindex; 0 where the reader has none
        self.addresses = addresses
        self.up = up
        self.loopback = loopback
        self.state = state  # why it is (not) up, in words: "up", "admin down", "no carrier"

    def __repr__(self) -> str:
        return f"Interface({self.name!r}, up={self.up}, loopback={self.loopback}, {self.addresses})"


class Finding:
    """One copy of a wanted VIP on an interface: whether it counts, and if not, why."""

    __slots__ = ("age", "counted", "index", "interface", "kind", "label", "vip", "why_not")

    def __init__(
        self,
        *,
        vip: Vip,
        interface: str,
        index: int = 0,
        label: str | None = None,
        why_not: str | None = None,
        kind: str | None = None,
        age: float | None = None,
    ) -> None:
        self.vip = vip
        self.interface = interface
        self.index = index
        self.label = label
        self.why_not = why_not  # None: this copy counts
        self.counted = why_not is None
        # Why not, as a word for metrics: TOO_YOUNG (--min-hold), KEEPALIVED_DOWN, or
        # None for the rest (the VIP is not held here in a way that counts).
        self.kind = kind
        self.age = age  # known only with --min-hold

    @property
    def where(self) -> str:
        """``eth0``, or ``eth0 (label vip21)`` for a labelled IPv4 address."""
        return f"{self.interface} (label {self.label})" if self.label else self.interface

    def line(self) -> str:
        if self.counted:
            held = "" if self.age is None else f" for {self.age:.1f} s"
            return f"{self.vip} held on {self.where}{held}"
        if self.why_not and self.why_not.startswith("not in --interface"):
            return f"{self.vip} is on {self.where}, {self.why_not}"
        return f"{self.vip} on {self.where} does not count: {self.why_not}"

    def refused(self, why: str, kind: str) -> Finding:
        """The same copy, no longer counted (a check after decide() said no)."""
        return Finding(
            vip=self.vip,
            interface=self.interface,
            index=self.index,
            label=self.label,
            why_not=why,
            kind=kind,
            age=self.age,
        )


class Verdict:
    """The answer and every finding behind it; every mode renders this one object.

    ``findings``: each copy of a wanted VIP and whether it counts. ``missing``: VIPs on no
    interface. ``notes``: what the opt-in checks found (keepalived, ARP probe).
    ``warnings``: what the operator must see whatever the flags (an --interface that names
    nothing). ``conflict``: another machine answers for a held VIP (split brain); then this
    host is not the master either.
    """

    __slots__ = ("conflict", "findings", "missing", "notes", "warnings")

    def __init__(
        self,
        *,
        findings: list[Finding],
        missing: list[Vip],
        notes: list[str] | None = None,
        warnings: list[str] | None = None,
        conflict: str | None = None,
    ) -> None:
        self.findings = findings
        self.missing = missing
        self.notes = notes or []
        self.warnings = warnings or []
        self.conflict = conflict

    @property
    def held(self) -> list[Finding]:
        """The copies that count."""
        return [f for f in self.findings if f.counted]

    @property
    def master(self) -> bool:
        return self.conflict is None and any(f.counted for f in self.findings)

    @property
    def outcome(self) -> str:
        """The verdict as one word, for metrics: master, split_brain, keepalived_down,
        too_young or not_held."""
        if self.conflict:
            return SPLIT_BRAIN
        if self.master:
            return MASTER
        found = {f.kind for f in self.findings}
        for kind in (KEEPALIVED_DOWN, TOO_YOUNG):
            if kind in found:
                return kind
        return NOT_HELD

    def replace(
        self,
        *,
        findings: list[Finding] | None = None,
        notes: list[str] | None = None,
        conflict: str | None = None,
    ) -> Verdict:
        """A new Verdict with these parts changed (verdicts are not changed in place)."""
        return Verdict(
            findings=self.findings if findings is None else findings,
            missing=self.missing,
            notes=self.notes if notes is None else notes,
            warnings=self.warnings,
            conflict=self.conflict if conflict is None else conflict,
        )

    def lines(self) -> list[str]:
        """The decision in words, one finding a line, the answer last."""
        out = [f.line() for f in self.findings if f.counted]
        out += [f.line() for f in self.findings if not f.counted]
        out += [f"{vip} is not on any interface" for vip in self.missing]
        out += self.notes
        if self.conflict:
            out.append(f"split brain: {self.conflict}")
        held = " ".join(sorted({str(f.vip) for f in self.held}))
        out.append(f"master: holds {held}" if self.master else "not master")
        return out
