"""The hot path's pre-parse: the common argv forms, understood without loading click.

It accepts only ``--vip ADDR`` / ``--vip=ADDR`` (repeated), ``IF_MASTER_VIP`` when no
``--vip`` is given, and the command after ``--`` or after the first non-option word, and
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


def preparse(argv: list[str], environ: Mapping[str, str]) -> tuple[Request, Action] | None:
    """(request, action) for a plain guarded run or check, or None to hand over to click."""
    for name in environ:
        if name.startswith(CLICK_ENV_PREFIXES) and name != ENV_VIP:
            return None  # --syslog, --task, completion...: click's to handle
    vips: list[Vip] = []
    i = 0
    try:
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                i += 1
                break
            if arg == "--vip" and i + 1 < len(argv):
                vips.append(parse_vip(argv[i + 1]))
                i += 2
            elif arg.startswith("--vip="):
                vips.append(parse_vip(arg[6:]))
                i += 1
            elif arg.startswith("-"):
                return None
            else:
                break  # the command starts here, as with click's interspersed args off
        request = Request(vips=vips or vips_from_env(environ))
    except VipError:
        return None
    return request, Action(command=argv[i:])
