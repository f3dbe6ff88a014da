"""The command line, defined once with click: options, help, errors and their exit codes.

Only click lives here: it turns argv into a Request and an Action for act.act(). Plain
guarded runs never load this module (see preparse.py); everything else, every error
included, comes through here.
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Mapping
from typing import Any

import click

from . import __version__, model
from .act import act
from .errors import IfMasterError, report, shown
from .exitcodes import ExitCode
from .model import Action, Claiming, Request
from .vip import ENV_VIP, MAX_IFNAME, Vip, VipError, could_name_device, parse_vip, vips_from_env

EPILOG = f"""\b
Examples:
  if-master --vip 10.0.0.100 -- /usr/local/bin/backup.sh --full
  if-master --vip 10.0.0.100/24 --vip fd00::100 -- sh -c 'dump | gzip > /srv/db.gz'
  {ENV_VIP}=10.0.0.100 if-master -- /usr/local/bin/report.sh
  if if-master --vip 10.0.0.100; then echo master; fi
  if-master --ledger etcd://10.0.0.5:2379/ifm --history backup --since 7d --failed
  if-master --ledger etcd://10.0.0.5:2379/ifm --status --metrics-dir /var/lib/textfile

\b
Exit status:
  {ExitCode.OK:<5}master: with a command, the command's own status (it replaces if-master);
       not master with a command: 0 (or --not-master-exit N)
  {ExitCode.NOT_MASTER:<5}check mode (no command): this host is not the master
  {ExitCode.SPLIT_BRAIN:<5}--arp-probe: another machine answers for the VIP; nothing ran
  {ExitCode.TIMEOUT:<5}--timeout: the command ran too long and was stopped
  {ExitCode.FAILURE:<5}if-master failed (bad option or VIP, unreadable interfaces); nothing ran
  {ExitCode.CANNOT_INVOKE:<5}the command was found but could not be executed
  {ExitCode.NOT_FOUND:<5}the command was not found

\b
Modes that read the ledger (--history, --status, --release) look at no VIP (--vip is
refused, IF_MASTER_VIP ignored) and run nothing: 0 every slot in the window ok (a
release done), 1 a slot missed, failed or died (a release refused), 125 the ledger could
not be read.

\b
The command is executed directly, never through a shell: write `-- sh -c '...'` for
pipes and redirections. A VIP counts only on an interface that is up (admin up and
operstate up or unknown), not on loopback (unless --include-loopback), and an IPv6 VIP
not while tentative or dadfailed.
"""


class VipType(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.5
    """``--vip`` text to a Vip, failing with a message that names the bad value."""

    name = "vip"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Vip:
        if isinstance(value, Vip):
            return value
        try:
            return parse_vip(value)
        except VipError as e:
            self.fail(str(e), param, ctx)


class Seconds(click.ParamType):  # type: ignore[type-arg]
    """A finite number of seconds from 0 to ``maximum``; nan, inf and the rest fail by name."""

    name = "seconds"

    def __init__(self, maximum: float, positive: bool = False, minimum: float = 0.0) -> None:
        self.maximum = maximum
        self.minimum = minimum
        self.positive = positive  # 0 excluded

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if (
            not math.isfinite(number)
            or not self.minimum <= number <= self.maximum
            or (self.positive and number == 0)
        ):
            low = "more than 0" if self.positive else f"{self.minimum:g}"
            self.fail(
                f"{value!r} is not a number of seconds from {low} to {self.maximum:g}", param, ctx
            )
        return number


class InterfaceName(click.ParamType):  # type: ignore[type-arg]
    """A name the kernel could give an interface or an IPv4 label, else a failure by name."""

    name = "interface"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        # ':' stays allowed: IPv4 labels such as eth0:1 are named with it.
        if not could_name_device(text, label=True):
            self.fail(
                f"{text!r} cannot name an interface (1 to {MAX_IFNAME} bytes, not . or .., "
                "no / or white space)",
                param,
                ctx,
            )
        return text


class AbsoluteDir(click.ParamType):  # type: ignore[type-arg]
    """A directory named by an absolute path: cron's working directory is nobody's choice."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not text.startswith("/") or len(text) > 4095:
            self.fail(f"{shown(text)} is not an absolute path (up to 4095 characters)", param, ctx)
        return text


class TaskName(click.ParamType):  # type: ignore[type-arg]
    """A task name usable as a Prometheus label value and a file name."""

    name = "task"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from .task import validate_task

        try:
            return validate_task(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        """The tasks the ledger holds, when --ledger (or IF_MASTER_LEDGER) names one."""
        from click.shell_completion import CompletionItem

        from .ledger.history import complete_tasks

        url = ctx.params.get("ledger")
        names = complete_tasks(url, incomplete) if isinstance(url, str) else []
        return [CompletionItem(n) for n in names]


#: --help's sections, in order, by parameter name: 33 options in one list are hard to scan
#: at 3 a.m. (a test checks that every option is in exactly one). Written here rather than
#: with click-option-group, which adds ~3 ms to every click run for the same headings.
HELP_GROUPS = {
    "The guard": (
        "vips", "interfaces", "include_loopback", "not_master_exit", "require_keepalived",
        "arp_probe", "min_hold", "max_delay",
    ),
    "Supervision": ("watch", "grace", "timeout"),
    "Tasks and metrics": ("task", "no_overlap", "overlap_exit", "lock_dir", "metrics_dir"),
    "The ledger (exactly once)": (
        "ledger", "schedule", "every", "max_late", "skew", "catch_up", "ledger_timeout",
        "ledger_ca", "ledger_cert", "ledger_key", "ledger_user", "ledger_password_file",
        "keep", "node",
    ),
    "Reading the ledger (modes: run nothing, look at no VIP)": (
        "history_task", "status_mode", "release_slot", "since", "rows", "failed", "timeline",
    ),
    "Diagnostics": ("verbose", "syslog", "explain", "as_json", "version", "help"),
}  # fmt: skip


class GroupedCommand(click.Command):
    """A command whose --help lists its options under HELP_GROUPS' headings."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: dict[str, tuple[str, str]] = {}
        help_option = self.get_help_option(ctx)
        for param in self.get_params(ctx):
            row = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if row is not None and param.name is not None:
                rows["help" if param is help_option else param.name] = row
        for heading, names in HELP_GROUPS.items():
            with formatter.section(heading):
                formatter.write_dl([rows[name] for name in names if name in rows])


@click.command(
    cls=GroupedCommand,
    context_settings={"help_option_names": ["-h", "--help"], "allow_interspersed_args": False},
    epilog=EPILOG,
)
@click.option(
    "--vip",
    "vips",
    multiple=True,
    type=VipType(),
    metavar="ADDR[/PREFIX]",
    help=f"Floating IP to look for (IPv4 or IPv6, keepalived's ADDR/PREFIX accepted). "
    f"Repeat for several: holding any one makes this host the master. "
    f"Default: the whitespace-separated list in ${ENV_VIP}.",
)
@click.option(
    "-i",
    "--interface",
    "interfaces",
    multiple=True,
    type=InterfaceName(),
    metavar="NAME",
    help="Only look on this interface: where the VIP lands, which with keepalived's "
    "`dev` or use_vmac (vrrp.VRID) is not always its `interface`. Exact names; a device "
    "covers its IPv4 labels, and a label can be named itself. Repeatable. A name that no "
    "interface here has is warned about on stderr.",
)
@click.option(
    "--include-loopback",
    is_flag=True,
    help="Count a VIP found on a loopback interface (by default an LVS-DR real server "
    "carrying the VIP on lo is not the master).",
)
@click.option(
    "--not-master-exit",
    type=click.IntRange(0, 255),
    metavar="N",
    help="Exit status when this host is not the master (default: 0 with a command, 1 without).",
)
@click.option(
    "--require-keepalived",
    is_flag=True,
    help="Count a VIP only while a live keepalived runs in this network namespace "
    "(a VIP left behind by a killed keepalived is not mastership). Costs ~2 ms.",
)
@click.option(
    "--arp-probe",
    is_flag=True,
    help="Before running, probe each held VIP (ARP for IPv4, Neighbor Discovery for IPv6); "
    f"if another machine answers (split brain), run nothing and exit {ExitCode.SPLIT_BRAIN}. "
    "Needs CAP_NET_RAW; adds ~0.3 s.",
)
@click.option(
    "--min-hold",
    type=Seconds(model.MAX_MIN_HOLD),
    metavar="SECONDS",
    help="Count a VIP only once this host has held it for SECONDS (the address's age, "
    "from the kernel): around a failover a skipped run is preferred to a double run. "
    f"0 to {model.MAX_MIN_HOLD:g}. The age is understated by up to 1 s (the kernel's "
    "stamp lags), never overstated. Linux only; if the age cannot be read, exit 125.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Run the command as a supervised child instead of exec: when the VIP goes away, "
    "SIGTERM its process group (and any descendant), then SIGKILL after --grace. Signals "
    "are forwarded and the exit status is the command's. Only a run that started as the "
    "VIP holder is stopped (a --catch-up run runs to its end). Linux only.",
)
@click.option(
    "--grace",
    type=Seconds(model.MAX_GRACE),
    metavar="SECONDS",
    help="With --watch or --timeout: seconds between SIGTERM and SIGKILL when stopping the "
    f"command, 0 to {model.MAX_GRACE:g} [default: {model.DEFAULT_GRACE:g}].",
)
@click.option(
    "--timeout",
    type=Seconds(model.MAX_TIMEOUT, positive=True),
    metavar="SECONDS",
    help="Supervise the command and stop its whole tree after SECONDS (SIGTERM, SIGKILL "
    f"after --grace); exit {ExitCode.TIMEOUT} like coreutils timeout. Up to "
    f"{model.MAX_TIMEOUT / model.DAY:g} days.",
)
@click.option(
    "--max-delay",
    type=Seconds(model.MAX_MAX_DELAY, positive=True),
    metavar="SECONDS",
    help="Run nothing if the decision came more than SECONDS after if-master started (an "
    "overloaded or frozen host: the VIP may have moved since). Exit as when not master.",
)
@click.option(
    "--task",
    type=TaskName(),
    envvar="IF_MASTER_TASK",
    metavar="NAME",
    help="The job's name in metrics, syslog lines and lock files: letters, digits, _ - . "
    "(also IF_MASTER_TASK). Needed by --no-overlap and --metrics-dir.",
)
@click.option(
    "--no-overlap",
    is_flag=True,
    help="With --task: on the master, hold an exclusive lock for the job's lifetime; if the "
    "previous run still holds it, run nothing, say so with its PID, and exit with "
    "--overlap-exit.",
)
@click.option(
    "--overlap-exit",
    type=click.IntRange(0, 255),
    default=0,
    show_default=True,
    metavar="N",
    help="Exit status when --no-overlap skips a run.",
)
@click.option(
    "--lock-dir",
    envvar="IF_MASTER_LOCK_DIR",
    type=AbsoluteDir(),
    default=model.DEFAULT_LOCK_DIR,
    show_default=True,
    metavar="DIR",
    help="Where --no-overlap keeps TASK.lock (created 0755; also IF_MASTER_LOCK_DIR).",
)
@click.option(
    "--metrics-dir",
    envvar="IF_MASTER_METRICS_DIR",
    type=AbsoluteDir(),
    metavar="DIR",
    help="With --task: every run on every node rewrites DIR/if_master_TASK.prom for "
    "node_exporter's textfile collector (also IF_MASTER_METRICS_DIR). The master then "
    "supervises the job to learn its end.",
)
@click.option(
    "--ledger",
    envvar="IF_MASTER_LEDGER",
    metavar="URL",
    help="etcd://HOST:PORT[,HOST:PORT...]/PREFIX (etcds:// for TLS) or "
    "postgresql://USER@HOST[:PORT][,HOST...]/DB[?sslmode=...] (libpq's URI; the --ledger-ca, "
    "-cert, -key, -user options are etcd's) (also IF_MASTER_LEDGER): "
    "with --task and --schedule or --every, claim the run's slot before running; "
    "exactly one claim per slot wins, the others run nothing. Unreachable: exit 125.",
)
@click.option(
    "--schedule",
    metavar="'M H DOM MON DOW'",
    help="With --ledger: the job's cron schedule (with --history: instead of the one the "
    "claims record).",
)
@click.option("--every", metavar="DURATION", help="With --ledger: 30s, 5m, 1h, 1d, 1h30m...")
@click.option(
    "--max-late",
    type=Seconds(model.MAX_PERIOD),
    default=model.DEFAULT_MAX_LATE,
    show_default=True,
    metavar="SECONDS",
    help="With --ledger: a run starting this long after its slot is not its run (nothing runs). "
    "With --history, --status: a due slot unclaimed this long after its time is missed.",
)
@click.option(
    "--skew",
    type=Seconds(model.MAX_SKEW),
    metavar="SECONDS",
    help=f"With --ledger: clock skew tolerated at a slot boundary (default "
    f"{model.DEFAULT_SKEW:g} s, less for "
    "periods under 8 s).",
)
@click.option(
    "--catch-up",
    type=Seconds(model.MAX_PERIOD, positive=True),
    metavar="SECONDS",
    help="With --ledger: a node that is not the master claims a slot still unclaimed this "
    "long after its time (at most --max-late); that run is not stopped by --watch or "
    "--require-keepalived, only by --timeout.",
)
@click.option(
    "--ledger-timeout",
    type=Seconds(model.MAX_LEDGER_TIMEOUT, minimum=model.MIN_LEDGER_TIMEOUT),
    default=model.DEFAULT_LEDGER_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="With --ledger: the deadline for all endpoints together.",
)
@click.option("--ledger-ca", metavar="FILE", help="With --ledger: the CA's PEM (turns TLS on).")
@click.option("--ledger-cert", metavar="FILE", help="With --ledger: client certificate PEM.")
@click.option("--ledger-key", metavar="FILE", help="With --ledger: client key PEM.")
@click.option(
    "--ledger-user",
    envvar="IF_MASTER_LEDGER_USER",
    metavar="NAME",
    help="With --ledger: etcd user; the password comes from --ledger-password-file or "
    "IF_MASTER_LEDGER_PASSWORD, never the command line.",
)
@click.option("--ledger-password-file", metavar="FILE", help="With --ledger: the user's password.")
@click.option(
    "--keep",
    metavar="DURATION",
    help="With --ledger: how long the task's slot records stay (35d, 12h...); each claim "
    "deletes the older ones. Default 35d; 0 or forever keeps them all.",
)
@click.option(
    "--node",
    envvar="IF_MASTER_NODE",
    metavar="NAME",
    help="With --ledger: this node's name in the claim (default: the host name). With "
    "--history: only the slots NAME ran.",
)
@click.option(
    "--history",
    "history_task",
    type=TaskName(),
    metavar="TASK",
    help="Mode, with --ledger: print TASK's runs from the ledger, newest first (SLOT, NODE, "
    "START, DURATION, EXIT, RESULT, FENCE) and run nothing; results ok, late, running, "
    "unknown, failed, died, missed. Exit 0 when every slot in --since was ok, 1 when one "
    "was missed, failed or died, 125 when the ledger cannot be read.",
)
@click.option(
    "--status",
    "status_mode",
    is_flag=True,
    help="Mode, with --ledger: one line per task under the prefix (last slot, node, result, "
    "duration, last ok, ok/failed/missed counts over --since); exit as --history. With "
    "--metrics-dir DIR: also write DIR/if-master-ledger.prom for node_exporter.",
)
@click.option(
    "--release",
    "release_slot",
    nargs=2,
    metavar="TASK SLOT",
    help="Mode, with --ledger: show the claim of TASK's SLOT (2026-11-28T01:45:00Z), then "
    "delete that one key if it is still the claim shown, so the slot can run again. Exit 0 "
    "deleted, 1 refused (changed, gone or running), 125 the ledger cannot be read.",
)
@click.option(
    "--since",
    metavar="DURATION",
    help="With --history or --status: how far back to look (30m, 24h, 7d) [default: "
    f"{model.DEFAULT_SINCE / 3600:g}h].",
)
@click.option(
    "-n",
    "--rows",
    type=click.IntRange(1, model.MAX_ROWS),
    metavar="N",
    help=f"With --history: print the newest N slots [default: {model.DEFAULT_ROWS}].",
)
@click.option("--failed", is_flag=True, help="With --history: only missed, failed, died slots.")
@click.option(
    "--timeline",
    is_flag=True,
    help="With --history: a row per node, a character per slot (o ok, F failed, D died, "
    "M missed...); coloured on a terminal unless NO_COLOR is set.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Explain the decision on stderr (with --explain too)."
)
@click.option(
    "--syslog",
    is_flag=True,
    envvar="IF_MASTER_SYSLOG",
    help="Log each decision (ran, with the command and PID; skipped, and why) to syslog "
    "(/dev/log, facility cron, tag if-master). Also IF_MASTER_SYSLOG=1.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Print every interface considered, what excluded what, and the verdict; run "
    "nothing. It is a check: exit status as in check mode (--not-master-exit applies), "
    "logged as a check with --syslog; output that cannot be written is exit 125.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With --explain (implied): the same as one JSON object on stdout, for monitoring. "
    "With --history or --status: one JSON object per line (slot or task).",
)
@click.version_option(__version__, "--version", prog_name="if-master")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def command(**params: Any) -> int:
    """Run COMMAND only on the node that holds the floating IP.

    On the master the command replaces if-master (same PID, status, signals, stdio);
    elsewhere if-master exits 0 without output, so one crontab serves every node.
    Without a command it is a check: exit 0 on the master, 1 elsewhere.
    """
    try:
        modes = {name: params.pop(name) for name in VIEW_PARAMS}
        if modes["history_task"] is not None or modes["status_mode"] or modes["release_slot"]:
            return _view(modes, params)
        if _typed(VIEW_PARAMS):
            raise click.UsageError(f"{_typed(VIEW_PARAMS)[0]} goes with --history or --status")
        return _command(**params)
    except BrokenPipeError as e:
        # click would turn this into exit 1, which here means "not master".
        raise IfMasterError(ExitCode.FAILURE, f"output lost: {e.strerror}") from None


def _command(
    vips: tuple[Vip, ...],
    interfaces: tuple[str, ...],
    include_loopback: bool,
    not_master_exit: int | None,
    require_keepalived: bool,
    arp_probe: bool,
    min_hold: float | None,
    watch: bool,
    grace: float | None,
    timeout: float | None,
    max_delay: float | None,
    task: str | None,
    no_overlap: bool,
    overlap_exit: int,
    lock_dir: str,
    metrics_dir: str | None,
    ledger: str | None,
    schedule: str | None,
    every: str | None,
    max_late: float,
    skew: float | None,
    catch_up: float | None,
    ledger_timeout: float,
    ledger_ca: str | None,
    ledger_cert: str | None,
    ledger_key: str | None,
    ledger_user: str | None,
    ledger_password_file: str | None,
    keep: str | None,
    node: str | None,
    verbose: bool,
    syslog: bool,
    explain: bool,
    as_json: bool,
    command: tuple[str, ...],
) -> int:
    """The command's work, with click's parameters (see ``command``)."""
    if not vips:
        try:
            vips = tuple(vips_from_env(os.environ))
        except VipError as e:
            raise click.UsageError(str(e)) from None
    if grace is not None and not watch and timeout is None:
        raise click.UsageError("--grace only applies with --watch or --timeout")
    if watch and not command:
        raise click.UsageError("--watch needs a command to supervise")
    if timeout is not None and not command:
        raise click.UsageError("--timeout needs a command to supervise")
    if no_overlap and not task:
        raise click.UsageError("--no-overlap needs --task NAME (the lock's name)")
    if no_overlap and not command:
        raise click.UsageError("--no-overlap needs a command (a check runs nothing to overlap)")
    # Typed, and meaningless without the option they serve: say so rather than ignore them.
    # (From the environment, atop a crontab, they serve the lines that use them.)
    for option in _typed(("lock_dir", "overlap_exit")):
        if not no_overlap:
            raise click.UsageError(f"{option} goes with --no-overlap")
    if not task and _typed(("metrics_dir",)):
        raise click.UsageError("--metrics-dir goes with --task (the file's name)")
    if (explain or as_json) and command:
        raise click.UsageError("--explain only explains: it runs no command")
    claiming = None
    given = _typed(LEDGER_ONLY)
    if ledger is not None and command:
        claiming = _claiming(
            url=ledger, task=task, schedule=schedule, every=every, max_late=max_late,
            skew=skew, catch_up=catch_up, deadline=ledger_timeout, ca=ledger_ca,
            cert=ledger_cert, key=ledger_key, user=ledger_user,
            password_file=ledger_password_file, node=node, keep=keep,
        )  # fmt: skip
    elif given and ledger is None:
        raise click.UsageError(f"{given[0]} goes with --ledger")
    elif ledger is not None and (given or _typed(("ledger",))):
        # A check (ExecCondition=, `if if-master ...`) claims nothing: exactly once would
        # silently not hold. (IF_MASTER_LEDGER atop a crontab leaves its checks alone.)
        raise click.UsageError(
            "--ledger claims a slot for a command: without one (a check, --explain) nothing"
            " is claimed"
        )
    request = Request(
        vips=list(vips),
        interfaces=frozenset(interfaces),
        include_loopback=include_loopback,
        require_keepalived=require_keepalived,
        arp_probe=arp_probe,
        min_hold=min_hold,
    )
    action = Action(
        command=list(command),
        not_master_exit=not_master_exit,
        verbose=verbose,
        syslog=syslog,
        watch=watch,
        grace=model.DEFAULT_GRACE if grace is None else grace,
        explain=("json" if as_json else "text") if explain or as_json else None,
        timeout=timeout,
        max_delay=max_delay,
        task=task,
        no_overlap=no_overlap,
        overlap_exit=overlap_exit,
        lock_dir=lock_dir,
        # Without a task there is no file to write: IF_MASTER_METRICS_DIR atop a crontab
        # then leaves the jobs that have no --task as they are.
        metrics_dir=metrics_dir if task else None,
        claiming=claiming,
    )
    return act(request, action)


#: The modes that read the ledger, and the options that serve only them.
VIEW_PARAMS = ("history_task", "status_mode", "release_slot", "since", "rows", "failed", "timeline")
#: What each mode takes beside the ledger's own options (parameter names).
_LEDGER_ACCESS = (
    "ledger", "ledger_timeout", "ledger_ca", "ledger_cert", "ledger_key", "ledger_user",
    "ledger_password_file",
)  # fmt: skip
_VIEW_TAKES = {
    "history_task": ("since", "rows", "failed", "node", "timeline", "as_json", "max_late",
                     "every", "schedule"),
    "status_mode": ("since", "as_json", "max_late", "metrics_dir"),
    "release_slot": (),
}  # fmt: skip


def _view(modes: dict[str, Any], params: dict[str, Any]) -> int:
    """--history, --status, --release: read the ledger (no VIP is looked at: --vip is
    refused, IF_MASTER_VIP ignored) and print; the statuses are history.run()'s."""
    from . import slot
    from .ledger import LedgerError, LedgerOptions, check_url, history, validate_node

    given = [m for m in ("history_task", "status_mode", "release_slot") if modes[m]]
    names = {"history_task": "--history", "status_mode": "--status", "release_slot": "--release"}
    mode = names[given[0]]
    if len(given) > 1:
        raise click.UsageError(f"{mode} and {names[given[1]]} are two modes: give one")
    takes = set(_LEDGER_ACCESS) | set(_VIEW_TAKES[given[0]])
    others = [
        n for n in (*params, *VIEW_PARAMS) if n not in takes and n not in names and n != "command"
    ]
    stray = _typed(tuple(others))
    if stray:
        raise click.UsageError(f"{stray[0]} does not go with {mode} (it only reads the ledger)")
    if params["command"]:
        raise click.UsageError(f"{mode} runs no command (it only reads the ledger)")
    if modes["timeline"] and params["as_json"]:
        raise click.UsageError("--timeline and --json are two outputs: give one")
    try:
        since = float(slot.parse_duration(modes["since"])) if modes["since"] is not None else None
        plan: slot.Schedule | None = None
        if params["schedule"] is not None and params["every"] is not None:
            raise click.UsageError("give one of --schedule or --every")
        if params["schedule"] is not None:
            plan = slot.Cron(params["schedule"], slot.local_zone())
        elif params["every"] is not None:
            plan = slot.Every(params["every"])
        task, slot_iso = modes["history_task"], None
        if modes["release_slot"]:
            task = TaskName().convert(modes["release_slot"][0], None, None)
            slot_iso = modes["release_slot"][1]
            slot.parse_iso(slot_iso)
        if params["ledger"] is None:
            raise click.UsageError(
                f"{mode} reads the ledger: give --ledger URL (or IF_MASTER_LEDGER)"
            )
        check_url(params["ledger"])
        if (params["ledger_cert"] is None) != (params["ledger_key"] is None):
            raise ValueError("--ledger-cert and --ledger-key go together: give both or neither")
        node = params["node"] if _typed(("node",)) else None
        if node is not None:
            node = validate_node(node)
    except (ValueError, LedgerError) as e:
        raise click.UsageError(str(e)) from None
    options = LedgerOptions(
        url=params["ledger"],
        deadline=params["ledger_timeout"],
        ca=params["ledger_ca"],
        cert=params["ledger_cert"],
        key=params["ledger_key"],
        user=params["ledger_user"],
        password_file=params["ledger_password_file"],
    )
    view = history.View(
        mode=given[0].split("_")[0],
        task=task,
        slot=slot_iso,
        since=model.DEFAULT_SINCE if since is None else since,
        rows=modes["rows"] or model.DEFAULT_ROWS,
        failed=modes["failed"],
        node=node,
        as_json=params["as_json"],
        timeline=modes["timeline"],
        max_late=params["max_late"],
        schedule=plan,
        metrics_dir=params["metrics_dir"] if _typed(("metrics_dir",)) else None,
    )
    return history.main(view, options)


#: Options that mean something only with --ledger (their parameter names).
LEDGER_ONLY = (
    "schedule", "every", "max_late", "skew", "catch_up", "ledger_timeout", "ledger_ca",
    "ledger_cert", "ledger_key", "ledger_user", "ledger_password_file", "node", "keep",
)  # fmt: skip


def _typed(names: tuple[str, ...]) -> list[str]:
    """Which of these parameters the command line set (not a default, not the environment:
    a crontab header's IF_MASTER_NODE applies to the lines that use it), as options."""
    ctx = click.get_current_context()
    spelled = {p.name: max(p.opts, key=len) for p in ctx.command.params if p.opts}
    return [
        spelled.get(name) or "--" + name.replace("_", "-")
        for name in names
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    ]


def _claiming(**given: Any) -> Claiming:
    """--ledger's options, checked together, as the record act() uses (see
    ledger.claiming: the pre-parse builds it the same way)."""
    from .ledger import LedgerError, claiming

    try:
        return claiming(**given)
    except (ValueError, LedgerError) as e:
        raise click.UsageError(str(e)) from None


def run_click(args: list[str]) -> int:
    """Parse ``args`` with click and run; click's failures become one line and 125.

    IfMasterError passes through to main(), which reports it for both front ends.
    """
    _check_completion(args, os.environ)
    try:
        rv = command.main(args, prog_name="if-master", standalone_mode=False)
    except click.ClickException as e:
        # One line, for cron mail and journals; click's own form spans several.
        message = " ".join(e.format_message().split())
        return report(IfMasterError(ExitCode.FAILURE, f"{message} (see if-master --help)"))
    except click.Abort:
        return report(IfMasterError(ExitCode.FAILURE, "aborted"))
    except OSError as e:
        # --help or --version written to a full disk, a closed or broken stdout: the
        # guarded paths handle their own output, so this is click's, not a bug of ours.
        if e.errno in (errno.EPIPE, errno.ENOSPC, errno.EBADF, errno.EIO):
            return report(IfMasterError(ExitCode.FAILURE, f"output lost: {e.strerror}"))
        raise
    return int(rv)


#: click's shell-completion switch (see the README's "Shell completion").
COMPLETE_VAR = "_IF_MASTER_COMPLETE"
_COMPLETIONS = {f"{sh}_{what}" for sh in ("bash", "zsh", "fish") for what in ("source", "complete")}


def _check_completion(args: list[str], environ: Mapping[str, str]) -> None:
    """Completion only as the shells ask for it: click would otherwise answer a guarded run
    with a completion script and exit 0 (a "master" for a check), or exit 1 on a value it
    does not know, or fail on a missing COMP_WORDS. Empty is unset, as for click."""
    value = environ.get(COMPLETE_VAR)
    if not value:
        return
    if args:
        raise IfMasterError(
            ExitCode.FAILURE,
            f"{COMPLETE_VAR} is set (shell completion, which passes no arguments): unset it"
            " to run if-master",
        )
    if value not in _COMPLETIONS:
        raise IfMasterError(
            ExitCode.FAILURE, f"{COMPLETE_VAR}={value[:40]!r} is not one of {sorted(_COMPLETIONS)}"
        )
    if value.endswith("_complete") and not {"COMP_WORDS", "COMP_CWORD"} <= environ.keys():
        raise IfMasterError(
            ExitCode.FAILURE,
            f"{COMPLETE_VAR}={value} needs COMP_WORDS and COMP_CWORD (the completion"
            " script sets them)",
        )
