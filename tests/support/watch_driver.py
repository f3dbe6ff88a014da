"""Runs supervise() as act.py will, for the namespace tests (until the CLI is re-wired).

Usage: python watch_driver.py [OPTIONS] VIP GRACE RECHECK COMMAND [ARGS...]

As act.py: the event socket is opened first, then the first verdict is taken, and the
command starts on it. check() is a minimal decide(): the VIP counts on every *up* interface
that has it (Finding.index = its ifindex); with --keepalived, only while a process named
keepalived runs in the namespace. VIP "@PATH" instead means "held while PATH exists": no
netlink event says when that changes, so only the recheck timer can notice.

Options:
  --keepalived        also watch keepalived (as --require-keepalived)
  --drop-before-start DEV  delete VIP/24 from DEV after the decision, before supervise()
  --fail-on-check N   the Nth re-check raises RuntimeError (a bug in the supervisor)
  --tiny-rcvbuf       shrink the event socket's receive buffer (forces overruns)
  --count-checks      print "checks N" (re-checks made) on stderr at the end
  --log-end           print on_end's report on stderr
  --foreground        after the command, say whether our group has the terminal back
"""

from __future__ import annotations

import os
import subprocess
import sys

from ifmaster.errors import CommandError
from ifmaster.keepalived import KeepalivedCheckError, keepalived_pids
from ifmaster.model import Action, Finding, Request, Verdict
from ifmaster.netlink import AddressEvents, dump_addresses, none_assigned
from ifmaster.vip import parse_vip
from ifmaster.watch import Watched, supervise

_IFF_UP = 0x1


def _up(index: int) -> bool:
    import socket

    try:
        name = socket.if_indextoname(index)
        with open(f"/sys/class/net/{name}/flags") as f:
            return bool(int(f.read(), 16) & _IFF_UP)
    except OSError:
        return False


def live_keepalived() -> list[int]:
    try:
        return keepalived_pids()
    except KeepalivedCheckError:
        return []


def main() -> int:
    args = sys.argv[1:]
    opts: dict[str, str] = {}
    while args[0].startswith("--"):
        name = args.pop(0)
        opts[name] = args.pop(0) if name in ("--drop-before-start", "--fail-on-check") else ""
    vip_text, grace, recheck, *argv = args
    by_file = vip_text.startswith("@")
    vip = parse_vip("10.255.255.1" if by_file else vip_text)
    keepalived = "--keepalived" in opts
    fail_on = int(opts.get("--fail-on-check", "0"))
    calls = [0]

    def verdict() -> Verdict:
        if by_file:
            held = [Finding(vip=vip, interface="file", index=-1)] * os.path.exists(vip_text[1:])
            return Verdict(findings=held, missing=[] if held else [vip])
        found = [
            Finding(
                vip=vip,
                interface=f"if{a.ifindex}",
                index=a.ifindex,
                why_not=None if _up(a.ifindex) else "interface is not up",
            )
            for a in dump_addresses()
            if a.address == vip.packed
        ]
        if keepalived and not keepalived_pids():
            found = [f.refused("no live keepalived", "keepalived_down") for f in found]
        return Verdict(findings=found, missing=[] if found else [vip])

    def check() -> Verdict:
        calls[0] += 1
        if calls[0] == fail_on:
            raise RuntimeError("injected failure")
        return verdict()

    def say(text: str) -> None:
        sys.stderr.write(f"if-master: {text}\n")
        sys.stderr.flush()

    def on_end(wait_status: int, how: str, lost: bool) -> None:
        if "--log-end" in opts:
            say(f"ended: {how} (lost={lost})")
        if "--count-checks" in opts:
            say(f"checks {calls[0]}")

    with AddressEvents() as events:
        if "--tiny-rcvbuf" in opts:
            events._sock.setsockopt(1, 8, 1)  # SOL_SOCKET, SO_RCVBUF: clamped to the minimum
        first = verdict()
        if "--drop-before-start" in opts:
            dev = opts["--drop-before-start"]
            subprocess.run(["ip", "addr", "del", f"{vip_text}/24", "dev", dev], check=True)
        if not first.master:
            return 0
        try:
            code = supervise(
                Action(command=argv, grace=float(grace)),
                Request(vips=[vip], require_keepalived=keepalived),
                first,
                watched=Watched(
                    check=check,
                    events=events,
                    none_assigned=none_assigned,
                    keepalived_pids=live_keepalived,
                ),
                say=say,
                on_end=on_end,
                recheck=float(recheck),
            )
        except CommandError as e:
            say(e.message)
            return e.code
        if "--foreground" in opts:
            say(f"foreground back: {os.tcgetpgrp(0) == os.getpgrp()}")
        return code


if __name__ == "__main__":
    sys.exit(main())
