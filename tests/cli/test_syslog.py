"""--syslog against a real datagram socket: the exact lines a decision leaves."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ifmaster.main import main
from ifmaster.model import Interface
from ifmaster.run import exec_command as real_exec
from tests.support.fakes import Executed, iface

pytestmark = pytest.mark.usefixtures("no_exec")


class Syslog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0)

    def lines(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.sock.recv(65536).decode())
            except BlockingIOError:
                return out


@pytest.fixture
def syslog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Syslog]:
    log = Syslog(tmp_path / "log")
    monkeypatch.setenv("IF_MASTER_SYSLOG_SOCKET", str(log.path))
    monkeypatch.delenv("IF_MASTER_SYSLOG", raising=False)
    yield log
    log.sock.close()


@pytest.fixture
def table(fake_interfaces: list[Interface]) -> list[Interface]:
    fake_interfaces += [iface("lo", "127.0.0.1", loopback=True), iface("eth0", "10.0.0.100")]
    return fake_interfaces


PID = os.getpid()


def test_ran(syslog: Syslog, table: object) -> None:
    with pytest.raises(Executed):
        main(["--syslog", "--vip", "10.0.0.100", "--", "sh", "-c", "echo 'a b' | wc"])
    assert syslog.lines() == [
        f"<78>if-master[{PID}]: ran: sh -c 'echo '\"'\"'a b'\"'\"' | wc' "
        f"(pid {PID}; holds 10.0.0.100 on eth0)"
    ]


def test_skipped_and_checks(
    syslog: Syslog, table: object, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["--syslog", "--vip", "10.0.0.1", "--", "backup.sh", "--full"]) == 0
    assert main(["--syslog", "--vip", "10.0.0.1"]) == 1
    assert main(["--syslog", "--vip", "10.0.0.100"]) == 0
    assert syslog.lines() == [
        f"<78>if-master[{PID}]: skipped: backup.sh --full: not master "
        "(10.0.0.1 is not on any interface)",
        f"<78>if-master[{PID}]: check: not master (10.0.0.1 is not on any interface)",
        f"<78>if-master[{PID}]: check: master (holds 10.0.0.100 on eth0)",
    ]
    assert capfd.readouterr() == ("", "")


def test_env_var_turns_it_on(
    syslog: Syslog, table: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IF_MASTER_SYSLOG", "1")
    assert main(["--vip", "10.0.0.1", "--", "true"]) == 0  # the plain form: no pre-parse
    assert len(syslog.lines()) == 1
    monkeypatch.setenv("IF_MASTER_SYSLOG", "0")
    assert main(["--vip", "10.0.0.1", "--", "true"]) == 0
    assert syslog.lines() == []


def test_exec_failure_is_logged(
    syslog: Syslog, table: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ifmaster import run

    monkeypatch.setattr(run, "exec_command", real_exec)  # the real one: it fails
    assert main(["--syslog", "--vip", "10.0.0.100", "--", "/nonexistent/job"]) == 127
    lines = syslog.lines()
    assert lines[1] == f"<75>if-master[{PID}]: failed: /nonexistent/job: No such file or directory"


def test_missing_socket_warns_once_and_the_decision_stands(
    tmp_path: Path,
    table: object,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "no-such-log"
    monkeypatch.setenv("IF_MASTER_SYSLOG_SOCKET", str(missing))
    with pytest.raises(Executed):
        main(["--syslog", "--vip", "10.0.0.100", "--", "true"])
    assert capfd.readouterr().err == (
        f"if-master: warning: cannot log to {missing}: No such file or directory\n"
    )
    assert main(["--syslog", "--vip", "10.0.0.1", "--", "true"]) == 0


def test_explain_logs_as_a_check(
    syslog: Syslog, table: object, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["--explain", "--syslog", "-v", "--not-master-exit", "7", "--vip", "10.0.0.1"]) == 7
    assert syslog.lines() == [
        f"<78>if-master[{PID}]: check: not master (10.0.0.1 is not on any interface)"
    ]
    assert "if-master: not master\n" in capfd.readouterr().err
    assert main(["--json", "--syslog", "--vip", "10.0.0.100"]) == 0
    assert syslog.lines() == [f"<78>if-master[{PID}]: check: master (holds 10.0.0.100 on eth0)"]


def test_task_names_every_line(syslog: Syslog, table: object) -> None:
    with pytest.raises(Executed):
        main(["--syslog", "--task", "backup", "--vip", "10.0.0.100", "--", "true"])
    assert main(["--syslog", "--task", "backup", "--vip", "10.0.0.1", "--", "true"]) == 0
    lines = syslog.lines()
    assert len(lines) == 2
    assert all(line.startswith(f"<78>if-master[{PID}]: task=backup ") for line in lines), lines


def test_a_gated_run_is_logged_as_skipped_not_ran(
    syslog: Syslog, table: object, tmp_path: Path
) -> None:
    """The master's run stopped by a gate (here the previous run's lock) never logs "ran"."""
    from ifmaster.task import acquire

    locks = tmp_path / "locks"
    held = acquire("t", str(locks))
    try:
        args = ["--syslog", "--task", "t", "--no-overlap", "--lock-dir", str(locks)]
        assert main([*args, "--vip", "10.0.0.100", "--", "true"]) == 0
    finally:
        held.release()
    (line,) = syslog.lines()
    assert line.startswith(f"<76>if-master[{PID}]: task=t skipped: true: the previous run")


def test_one_record_one_printable_line_of_bounded_size(syslog: Syslog, table: object) -> None:
    """A newline in an argument made a second, forged record; a huge argv logged nothing."""
    forged = "x\n<78>if-master[1]: ran: rm -rf / \x1b[2J\udcff"
    with pytest.raises(Executed):
        main(["--syslog", "--vip", "10.0.0.100", "--", "echo", forged])
    with pytest.raises(Executed):
        main(["--syslog", "--vip", "10.0.0.100", "--", "echo", "y" * 200_000])
    first, second = syslog.lines()
    assert "\n" not in first and "\x1b" not in first
    assert "x\\n<78>if-master[1]: ran: rm -rf / \\x1b[2J\\udcff" in first
    assert len(second) < 8100 and second.endswith("...")
