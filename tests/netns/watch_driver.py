"""Runs supervise() as the CLI will, for the namespace tests (the CLI is not wired yet).

Usage: python watch_driver.py VIP GRACE RECHECK COMMAND [ARGS...]
check() is a minimal reader: the VIP is held while some interface has that address.
VIP "@PATH" instead means "held while PATH exists": no netlink event says when that changes,
so only the recheck timer can notice.
"""

from __future__ import annotations

import os
import sys

from ifmaster.netlink import dump_addresses
from ifmaster.watch import supervise


def main() -> int:
    vip, grace, recheck, *argv = sys.argv[1:]

    def check() -> str | None:
        if vip.startswith("@"):
            return vip if os.path.exists(vip[1:]) else None
        return vip if any(a.text == vip for a in dump_addresses()) else None

    return supervise(argv, check, grace=float(grace), recheck=float(recheck))


if __name__ == "__main__":
    sys.exit(main())
