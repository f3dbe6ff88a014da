"""supervise() driven with fakes: no namespace, no netlink, no keepalived.

The command is a real child (``sh``), the OS seams are fakes: ``check`` returns the verdicts
a test sets, the event source is a pipe the test writes to, ``none_assigned`` and the
keepalived scan answer what the test says. Each supervision runs in a forked process, so a
command that dies by a signal (which supervise() re-raises on itself) ends that process,
not pytest; the parent reads what happened from a pipe and the wait status.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ifmaster.errors import IfMasterError
from ifmaster.model import Action, Finding, Request, Verdict
from ifmaster.netlink import RTM_DELADDR, RTM_NEWADDR, Event
from ifmaster.vip import parse_vip
from ifmaster.watch import Watched, supervise

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

VIP = parse_vip("10.0.0.100")
HELD = Verdict(findings=[Finding(vip=VIP, interface="eth0", index=2)], missing=[])
GONE = Verdict(findings=[], missing=[VIP])


class Events:
    """A pipe standing in for netlink: ``push()`` queues events and wakes the poll."""

    def __init__(self) -> None:
        self.rfd, self.wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.queue: list[Event] = []

    def fileno(self) -> int:
        return self.rfd

    def drain(self) -> list[Event]:
        try:
            os.read(self.rfd, 4096)
        except BlockingIOError:
            pass
        out, self.queue = self.queue, []
        return out

    def push(self, *events: Event) -> None:
        self.queue.extend(events)
        os.write(self.wfd, b"x")


class Seams:
    """The fakes of one supervision, and what they saw."""

    def __init__(self) -> None:
        self.events = Events()
        self.verdicts: list[Verdict | Exception] = []  # what check() answers, in turn
        self.assigned = True
        self.checks = 0
        self.said: list[str] = []
        self.ended: list[tuple[int, str, bool]] = []

    def check(self) -> Verdict:
        self.checks += 1
        answer = self.verdicts.pop(0) if self.verdicts else HELD
        if isinstance(answer, Exception):
            raise answer
        return answer

    def watched(self) -> Watched:
        return Watched(
            check=self.check,
            events=self.events,
            none_assigned=lambda vips: not self.assigned,
            keepalived_pids=lambda: [],
        )


def supervised(
    script: str,
    seams: Seams,
    *,
    watch: bool = True,
    grace: float = 0.5,
    timeout: float | None = None,
    during: Callable[[Seams], None] | None = None,
    after: float = 0.3,
) -> dict[str, Any]:
    """Supervise ``sh -c script`` in a forked process; ``during(seams)`` runs ``after``
    seconds into it (in a thread of that process). Returns what the child reported."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the supervising process: never returns
        os.close(rfd)
        result: dict[str, Any] = {}
        try:
            if during is not None:
                threading.Timer(after, during, (seams,)).start()
            action = Action(command=["sh", "-c", script], watch=watch, grace=grace, timeout=timeout)
            code = supervise(
                action,
                Request(vips=[VIP]),
                HELD,
                watched=seams.watched() if watch else None,
                say=seams.said.append,
                on_end=lambda *end: seams.ended.append(end),
                recheck=3600.0,
            )
            result["code"] = code
        except BaseException as e:  # noqa: BLE001 - reported to the test
            result["raised"] = type(e).__name__
        result.update(said=seams.said, ended=seams.ended, checks=seams.checks)
        os.write(wfd, json.dumps(result).encode())
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as pipe:
        data = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    report: dict[str, Any] = json.loads(data) if data else {}
    report["wait_status"] = wait_status
    return report


def test_the_commands_status_passes_through() -> None:
    r = supervised("exit 7", Seams())
    assert r["code"] == 7 and r["checks"] == 0
    assert r["ended"] == [[7 << 8, "exited with status 7", False]]


def test_unrelated_events_do_not_recheck() -> None:
    other = bytes([10, 0, 0, 9])

    def churn(s: Seams) -> None:
        s.events.push((RTM_NEWADDR, 5, other), (RTM_DELADDR, 5, other))

    r = supervised("sleep 0.8; exit 3", Seams(), during=churn, after=0.2)
    assert r["code"] == 3 and r["checks"] == 0


def test_vip_loss_stops_the_command_and_says_why() -> None:
    seams = Seams()
    seams.verdicts = [GONE]

    def lose(s: Seams) -> None:
        s.events.push((RTM_NEWADDR, 7, VIP.packed))  # the VIP added elsewhere: re-check

    r = supervised("trap 'exit 42' TERM; sleep 10 & wait", seams, during=lose)
    assert r["code"] == 42 and r["checks"] == 1
    assert any(line.startswith("lost VIP 10.0.0.100 after") for line in r["said"]), r
    assert r["ended"][0][2] is True  # lost
    assert "after the VIP was lost" in r["ended"][0][1]


def test_a_deletion_with_no_copy_left_stops_without_a_full_recheck() -> None:
    seams = Seams()

    def delete(s: Seams) -> None:
        s.assigned = False
        s.events.push((RTM_DELADDR, 2, VIP.packed))

    r = supervised("trap 'exit 42' TERM; sleep 10 & wait", seams, during=delete)
    assert r["code"] == 42 and r["checks"] == 0
    assert any("no interface has it any more" in line for line in r["said"]), r


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    seams = Seams()
    seams.verdicts = [GONE]

    def lose(s: Seams) -> None:
        s.events.push((RTM_NEWADDR, 7, VIP.packed))

    started = time.monotonic()
    r = supervised("trap '' TERM; sleep 10", seams, during=lose, after=0.2, grace=0.5)
    took = time.monotonic() - started
    # The supervising process died by the job's signal, re-raised on itself.
    assert os.WIFSIGNALED(r["wait_status"]), r
    assert os.WTERMSIG(r["wait_status"]) == signal.SIGKILL
    assert 0.6 < took < 5.0, took


def test_without_watch_nothing_is_rechecked_or_stopped() -> None:
    """A run that does not watch the VIP (no --watch, a catch-up run) runs to its end."""
    seams = Seams()
    seams.verdicts = [GONE]

    def lose(s: Seams) -> None:
        s.assigned = False
        s.events.push((RTM_DELADDR, 2, VIP.packed))

    r = supervised("sleep 0.6; exit 5", seams, watch=False, during=lose, after=0.1)
    assert r["code"] == 5 and r["checks"] == 0 and r["said"] == []


def test_signals_sent_to_the_supervisor_reach_the_command() -> None:
    script = "trap 'exit 9' USR1; kill -USR1 $PPID; sleep 10 & wait"
    r = supervised(script, Seams())
    assert r["code"] == 9, r


def test_timeout_stops_the_command_with_124() -> None:
    r = supervised("trap 'exit 1' TERM; sleep 10 & wait", Seams(), watch=False, timeout=0.3)
    assert r["code"] == 124
    assert r["ended"][0][1].endswith("after --timeout")
    assert any(line.startswith("--timeout: the command ran 0.3 s") for line in r["said"])


def test_a_failed_recheck_is_a_warning_and_retried() -> None:
    seams = Seams()
    seams.verdicts = [IfMasterError(125, "cannot read the table")]

    def poke(s: Seams) -> None:
        s.events.push((RTM_NEWADDR, 7, VIP.packed))

    r = supervised("sleep 0.8; exit 0", seams, during=poke, after=0.2)
    assert r["code"] == 0
    assert "warning: cannot re-check the VIP: cannot read the table" in r["said"]


def test_an_exception_in_the_loop_kills_the_tree_first_and_propagates() -> None:
    seams = Seams()
    seams.verdicts = [RuntimeError("a bug")]

    def poke(s: Seams) -> None:
        s.events.push((RTM_NEWADDR, 7, VIP.packed))

    started = time.monotonic()
    r = supervised("sleep 10", seams, during=poke, after=0.2)
    assert r["raised"] == "RuntimeError", r
    assert time.monotonic() - started < 5.0  # the job did not run its 10 s
    ((status, how, lost),) = r["ended"]
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert how == "killed by SIGKILL after if-master failed (RuntimeError)" and not lost


def test_watching_needs_a_master_verdict() -> None:
    with pytest.raises(ValueError, match="master verdict"):
        supervise(
            Action(command=["true"]),
            Request(vips=[VIP]),
            GONE,
            watched=Seams().watched(),
            say=print,
            on_end=None,
        )
