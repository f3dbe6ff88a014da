"""What the command gets, exec'd or under --watch: the same errors, signals and environment.

Through the installed console script, on a real address in a namespace.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, Node

pytestmark = pytest.mark.netns

VIP = "10.50.0.10"
MODES = {"exec": [], "watch": ["--watch"]}


def guard(node: Node, mode: str, *command: str, **kw: object) -> subprocess.CompletedProcess[str]:
    argv = [IF_MASTER, *MODES[mode], "--vip", VIP, "--", *command]
    return node.ns.run(argv, timeout=30, **kw)


@pytest.mark.parametrize("mode", MODES)
def test_missing_command_fails_the_same_way_in_both_modes(
    node: Node, mode: str, tmp_path: Path
) -> None:
    # --watch used to report "ended: ...: exited with status 127" at INFO; now both modes
    # report the failure to start at ERR, and print the same line.
    path = tmp_path / "log"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as log:
        log.bind(str(path))
        log.settimeout(5)
        env = {**os.environ, "IF_MASTER_SYSLOG_SOCKET": str(path)}
        r = node.ns.run(
            [IF_MASTER, *MODES[mode], "--syslog", "--vip", VIP, "--", "/nonexistent/job"],
            env=env,
            timeout=30,
        )
        assert (r.returncode, r.stderr) == (
            127,
            "if-master: /nonexistent/job: No such file or directory\n",
        )
        assert " ran: /nonexistent/job " in log.recv(4096).decode()
        failed = log.recv(4096).decode()
        assert failed.startswith("<75>if-master[")  # ERR
        assert failed.endswith("]: failed: /nonexistent/job: No such file or directory")


@pytest.mark.parametrize("mode", MODES)
def test_empty_command_name_is_127(node: Node, mode: str) -> None:
    r = guard(node, mode, "")
    assert (r.returncode, r.stderr) == (127, "if-master: '': No such file or directory\n")


def mask(status: str, field: str) -> set[int]:
    """The signals in one mask line (SigIgn, SigBlk) of /proc/PID/status."""
    [line] = [ln for ln in status.splitlines() if ln.startswith(field + ":")]
    bits = int(line.split()[1], 16)
    return {n for n in range(1, 65) if bits & (1 << (n - 1))}


def _caller_signals() -> None:
    """The caller: SIGHUP and SIGPIPE ignored (nohup, systemd), SIGUSR2 blocked."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})


@pytest.mark.parametrize("mode", MODES)
def test_signal_dispositions_the_command_gets(node: Node, mode: str) -> None:
    r = guard(node, mode, "cat", "/proc/self/status", preexec_fn=_caller_signals)
    assert r.returncode == 0, r.stderr
    # Exactly the caller's, except SIGPIPE: Python set it to "ignore" at start-up and kept
    # no trace of the caller's setting, so the command gets the default (documented).
    assert mask(r.stdout, "SigIgn") == {signal.SIGHUP}
    assert mask(r.stdout, "SigBlk") == {signal.SIGUSR2}
    r = guard(node, mode, "cat", "/proc/self/status")
    assert (mask(r.stdout, "SigIgn"), mask(r.stdout, "SigBlk")) == (set(), set())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value", [None, "C", "POSIX", "C.UTF-8", "C.utf8", "en_US.UTF-8"])
def test_lc_ctype_reaches_the_command_exactly(node: Node, mode: str, value: str | None) -> None:
    env = {"PATH": "/usr/bin:/bin"}  # cron-like: Python's locale coercion would apply
    if value is not None:
        env["LC_CTYPE"] = value
    r = guard(node, mode, "env", env=env)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("LC_")]
    assert lines == ([] if value is None else [f"LC_CTYPE={value}"])


def test_without_proc_a_possibly_coerced_lc_ctype_fails_closed(node: Node) -> None:
    def without_proc(*env: str) -> subprocess.CompletedProcess[str]:
        script = f'umount -l /proc && exec env -i PATH=/usr/bin:/bin {" ".join(env)} "$@"'
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
        argv += [IF_MASTER, "--vip", VIP, "--", "env"]
        return node.ns.run(argv, timeout=30)

    r = without_proc()  # LC_CTYPE unset: Python sets C.UTF-8, and only /proc knew better
    assert r.returncode == 125
    assert r.stderr == (
        "if-master: cannot pass LC_CTYPE on unchanged: Python may have rewritten it to"
        " C.UTF-8 (locale coercion), and the caller's value is only recorded in"
        " /proc/self/environ, which cannot be read (No such file or directory); mount /proc,"
        " or set LC_ALL or PYTHONCOERCECLOCALE=0 in the caller's environment\n"
    )
    # A start without coercion needs no /proc. (Nor would an LC_CTYPE naming an installed
    # locale other than C.UTF-8; one that is not installed resolves to C and is coerced.)
    for env in (["PYTHONCOERCECLOCALE=0"], ["LC_ALL=C.UTF-8"]):
        r = without_proc(*env)
        assert r.returncode == 0, (env, r.stderr)
        assert [ln for ln in r.stdout.splitlines() if ln.startswith("LC_")] == [
            e for e in env if e.startswith("LC_")
        ]
