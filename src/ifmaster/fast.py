"""The hot path's pre-parse: the common argv forms, understood without loading click.

It accepts only ``--vip ADDR`` / ``--vip=ADDR`` (repeated), ``IF_MASTER_VIP`` when no
``--vip`` is given, and the command after ``--`` or after the first non-option word, and
only while ``IF_MASTER_SYSLOG`` and click's ``_IF_MASTER_COMPLETE`` are unset. For
anything else, including any input that is wrong, it returns None and click, the one
definition of the interface, parses the argv and reports the error.
"""

from __future__ import annotations

from .decide import Request
from .vip import Vip, VipError, parse_vip, vips_from_env

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def preparse(argv: list[str], environ: Mapping[str, str]) -> tuple[Request, list[str]] | None:
    """(request, command) for a plain guarded run or check, or None to hand over to click."""
    if "IF_MASTER_SYSLOG" in environ or "_IF_MASTER_COMPLETE" in environ:
        return None  # audit logging and shell completion are click's to handle
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
        return Request(vips or vips_from_env(environ)), argv[i:]
    except VipError:
        return None
