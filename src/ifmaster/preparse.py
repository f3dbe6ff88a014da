"""The hot path's pre-parse: the common argv forms, understood without loading click.

It accepts only ``--vip ADDR`` / ``--vip=ADDR`` (repeated), ``IF_MASTER_VIP`` when no
``--vip`` is given, the ledger's common line (``--task``, ``--every`` and ``--ledger``, each
once, all three, with a command: the store and the claim are built by the same
``ledger.claiming`` click uses), and the command after ``--`` or after the first non-option
word, and
only while no other ``IF_MASTER_*`` variable is set (every option click reads from the
environment is named so, and click's own ``_IF_MASTER_COMPLETE`` too: a test checks it). For
anything else, including any input that is wrong, it returns None and click, the one
definition of the interface, parses the argv and reports the error.
"""

from __future__ import annotations

from .model import Action, Request
from .vip import ENV_VIP, Vip, VipError, parse_vip, vips_from_env

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: Environment variables that are click's to read begin with one of these.
CLICK_ENV_PREFIXES = ("IF_MASTER_", "_IF_MASTER_")
#: The ledger's common line: these options, each once, all of them or none.
LEDGER_LINE = ("--task", "--every", "--ledger")


def preparse(argv: list[str], environ: Mapping[str, str]) -> tuple[Request, Action] | None:
    """(request, action) for a plain guarded run or check, or None to hand over to click."""
    for name in environ:
        if name.startswith(CLICK_ENV_PREFIXES) and name != ENV_VIP:
            return None  # --syslog, --task, completion...: click's to handle
    vips: list[Vip] = []
    line: dict[str, str] = {}
    i = 0
    try:
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                i += 1
                break
            name, eq, value = arg.partition("=")
            if name == "--vip" or name in LEDGER_LINE:
                if not eq:
                    if i + 1 >= len(argv):
                        return None
                    value = argv[i + 1]
                    i += 1
                i += 1
                if name == "--vip":
                    vips.append(parse_vip(value))
                elif name in line:
                    return None  # given twice: click's to say which counts
                else:
                    line[name] = value
            elif arg.startswith("-"):
                return None
            else:
                break  # the command starts here, as with click's interspersed args off
        request = Request(vips=vips or vips_from_env(environ))
    except VipError:
        return None
    command = argv[i:]
    if not line:
        return request, Action(command=command)
    if len(line) < len(LEDGER_LINE) or not command:
        return None
    return _ledger_line(request, command, line)


def _ledger_line(
    request: Request, command: list[str], line: dict[str, str]
) -> tuple[Request, Action] | None:
    """``--task T --every D --ledger URL CMD`` as click would build it, or None for click
    to parse and report (any doubt: the same builders, with click's defaults)."""
    from .ledger import LedgerError, claiming
    from .model import DEFAULT_LEDGER_TIMEOUT, DEFAULT_MAX_LATE
    from .task import validate_task

    try:
        task = validate_task(line["--task"])
        plan = claiming(
            url=line["--ledger"], task=task, schedule=None, every=line["--every"],
            max_late=DEFAULT_MAX_LATE, skew=None, catch_up=None,
            deadline=DEFAULT_LEDGER_TIMEOUT, ca=None, cert=None, key=None, user=None,
            password_file=None, node=None, keep=None,
        )  # fmt: skip
    except (ValueError, LedgerError):
        return None
    return request, Action(command=command, task=task, claiming=plan)
