"""The command line, defined once with click: options, help, errors and their exit codes.

Only click lives here; the work is done by guard.guard(). Plain guarded runs never load
this module (see fast.py); everything else, every error included, comes through here.
"""

from __future__ import annotations

import os
from typing import Any

import click

from . import __version__
from .decide import Request
from .errors import IfMasterError
from .exitcodes import ExitCode
from .guard import check_status, evaluate, guard
from .main import report
from .vip import ENV_VIP, Vip, VipError, parse_vip, vips_from_env

EPILOG = f"""\b
Examples:
  if-master --vip 10.0.0.100 -- /usr/local/bin/backup.sh --full
  if-master --vip 10.0.0.100/24 --vip fd00::100 -- sh -c 'dump | gzip > /srv/db.gz'
  {ENV_VIP}=10.0.0.100 if-master -- /usr/local/bin/report.sh
  if if-master --vip 10.0.0.100; then echo master; fi

\b
Exit status:
  {ExitCode.OK:<5}master: with a command, the command's own status (it replaces if-master);
       not master with a command: 0 (or --not-master-exit N)
  {ExitCode.NOT_MASTER:<5}check mode (no command): this host is not the master
  {ExitCode.SPLIT_BRAIN:<5}--arp-probe: another machine answers for the VIP; nothing ran
  {ExitCode.FAILURE:<5}if-master failed (bad option or VIP, unreadable interfaces); nothing ran
  {ExitCode.CANNOT_INVOKE:<5}the command was found but could not be executed
  {ExitCode.NOT_FOUND:<5}the command was not found

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


@click.command(
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
    metavar="NAME",
    help="Only look on this interface (exact name; eth0 also covers its labels eth0:N). "
    "Repeatable. keepalived's use_vmac puts the VIP on vrrp.VRID.",
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
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Count a VIP only once this host has held it for SECONDS (the address's age, "
    "from the kernel): around a failover a skipped run is preferred to a double run. "
    "Linux only; if the age cannot be read, exit 125.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Run the command as a supervised child instead of exec: when the VIP goes away, "
    "SIGTERM its process group (and any descendant), then SIGKILL after --grace. Signals "
    "are forwarded and the exit status is the command's. Linux only.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="With --watch: seconds between SIGTERM and SIGKILL after the VIP is lost [default: 5].",
)
@click.option("-v", "--verbose", is_flag=True, help="Explain the decision on stderr.")
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
    "nothing. Exit status as in check mode.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With --explain (implied): the same as one JSON object on stdout, for monitoring.",
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
    if grace is not None and not watch:
        raise click.UsageError("--grace only applies with --watch")
    if watch and not command:
        raise click.UsageError("--watch needs a command to supervise")
    request = Request(
        list(vips),
        frozenset(interfaces),
        include_loopback,
        require_keepalived,
        arp_probe,
        min_hold,
    )
    if explain or as_json:
        if command:
            raise click.UsageError("--explain only explains: it runs no command")
        from .explain import render_json, render_text

        table, verdict = evaluate(request)
        click.echo((render_json if as_json else render_text)(request, table, verdict))
        return check_status(verdict)
    audit = None
    if syslog:
        from .audit import Audit

        audit = Audit()
    watch_grace = (5.0 if grace is None else grace) if watch else None
    return guard(request, list(command), not_master_exit, verbose, audit, watch_grace)


def run_click(args: list[str]) -> int:
    """Parse ``args`` with click and run; click's failures become one line and 125.

    IfMasterError passes through to main(), which reports it for both front ends.
    """
    try:
        rv = command.main(args, prog_name="if-master", standalone_mode=False)
    except click.ClickException as e:
        # One line, for cron mail and journals; click's own form spans several.
        message = " ".join(e.format_message().split())
        return report(IfMasterError(ExitCode.FAILURE, f"{message} (see if-master --help)"))
    except click.Abort:
        return report(IfMasterError(ExitCode.FAILURE, "aborted"))
    return int(rv)
