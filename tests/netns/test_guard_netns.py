"""The installed console script on real addresses in a network namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, Node

pytestmark = pytest.mark.netns


def guard(node: Node, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return node.ns.run([IF_MASTER, *args], timeout=30, **kw)


def holds(node: Node, *args: str) -> bool:
    rc = guard(node, *args).returncode
    assert rc in (0, 1), rc
    return rc == 0


def test_exact_match_not_a_text_prefix(node: Node) -> None:
    assert not holds(node, "--vip", "10.50.0.1")  # the seed's grep says yes: 10.50.0.10
    node.add("10.50.0.1/32")
    assert holds(node, "--vip", "10.50.0.1")
    assert holds(node, "--vip", "10.50.0.1/24")
    assert not holds(node, "--vip", "10.50.0.100")


def test_ipv6(node: Node) -> None:
    assert holds(node, "--vip", "fd00:50::10")
    assert holds(node, "--vip", "FD00:50:0:0::0010/64")
    assert not holds(node, "--vip", "fd00:50::1")


def test_loopback_counts_only_when_asked(node: Node) -> None:
    node.add("10.50.0.99/32", "lo")
    assert not holds(node, "--vip", "10.50.0.99")
    assert holds(node, "--vip", "10.50.0.99", "--include-loopback")


def test_down_interfaces_do_not_count(node: Node) -> None:
    node.add("10.50.0.1/32")
    node.peer.ip("link", "set", "eth0", "down")  # carrier lost at once; operstate follows later
    assert not holds(node, "--vip", "10.50.0.1")
    assert "(no carrier)" in guard(node, "-v", "--vip", "10.50.0.1").stderr
    node.peer.ip("link", "set", "eth0", "up")
    deadline = time.monotonic() + 5  # operstate returns to up through linkwatch (<= 1 s)
    while not holds(node, "--vip", "10.50.0.1"):
        assert time.monotonic() < deadline, "never counted again after the link came back"
        time.sleep(0.1)
    node.ns.ip("link", "set", "eth0", "down")  # administratively down, addresses kept
    assert "10.50.0.1/32" in node.ns.ip("addr", "show", "dev", "eth0").stdout
    assert not holds(node, "--vip", "10.50.0.1")
    err = guard(node, "-v", "--vip", "10.50.0.1").stderr
    assert "does not count: interface is not up (admin down)" in err


def test_tentative_and_dadfailed_do_not_count(node: Node) -> None:
    for ns in (node.ns, node.peer):
        ns.run(["sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=1"], check=True)
    node.ns.run(["sysctl", "-qw", "net.ipv6.conf.eth0.dad_transmits=3"], check=True)
    node.ns.run(["sysctl", "-qw", "net.ipv6.neigh.eth0.retrans_time_ms=2000"], check=True)
    node.add("fd00:50::100/64")  # DAD now runs about 6 s
    assert "tentative" in node.ns.ip("-6", "addr", "show", "dev", "eth0").stdout
    assert not holds(node, "--vip", "fd00:50::100")
    assert "tentative" in guard(node, "-v", "--vip", "fd00:50::100").stderr
    # The peer already holds fd00:50::200: our copy fails DAD.
    node.peer.ip("addr", "add", "fd00:50::200/64", "dev", "eth0", "nodad")
    node.add("fd00:50::200/64")
    deadline = time.monotonic() + 15
    while "dadfailed" not in node.ns.ip("-6", "addr", "show", "dev", "eth0").stdout:
        assert time.monotonic() < deadline, "DAD never failed"
        time.sleep(0.1)
    assert not holds(node, "--vip", "fd00:50::200")
    assert "dadfailed" in guard(node, "-v", "--vip", "fd00:50::200").stderr


def test_labels_and_exact_interface_names(node: Node) -> None:
    node.add("10.50.0.1/24", "eth0", "label", "eth0:vip")
    assert holds(node, "--vip", "10.50.0.1", "--interface", "eth0")
    assert holds(node, "--vip", "10.50.0.1", "--interface", "eth0:vip")
    # keepalived's use_vmac: a macvlan named vrrp.VRID on top of the real interface.
    node.ns.ip("link", "add", "vrrp.51", "link", "eth0", "type", "macvlan", "mode", "private")
    node.ns.ip("link", "set", "vrrp.51", "up")
    node.add("10.50.5.1/24", "vrrp.51")
    assert holds(node, "--vip", "10.50.5.1", "-i", "vrrp.51")
    for other in ("eth0", "vrrp.5", "vrrp"):
        assert not holds(node, "--vip", "10.50.5.1", "-i", other), other
    assert not holds(node, "--vip", "10.50.0.1", "-i", "vrrp.51")


def test_env_var(node: Node) -> None:
    env = {**os.environ, "IF_MASTER_VIP": "10.50.0.77 fd00:50::10"}
    assert guard(node, env=env).returncode == 0
    env["IF_MASTER_VIP"] = "10.50.0.77"
    assert guard(node, env=env).returncode == 1


@pytest.mark.parametrize("status", [0, 1, 2, 42, 124, 125, 126, 127, 128, 200, 255])
def test_exit_status_passes_through(node: Node, status: int) -> None:
    r = guard(node, "--vip", "10.50.0.10", "--", "sh", "-c", f"exit {status}")
    assert r.returncode == status


@pytest.mark.parametrize("sig", ["TERM", "KILL", "INT", "SEGV"])
def test_death_by_signal_stays_death_by_signal(node: Node, sig: str) -> None:
    import signal

    r = guard(node, "--vip", "10.50.0.10", "--", "sh", "-c", f"kill -{sig} $$")
    assert r.returncode == -getattr(signal, f"SIG{sig}")


def test_argv_arrives_verbatim(node: Node) -> None:
    argv = ["a b", '"quoted"', "'single'", "*", "$HOME", "${PATH}", "`id`", "", "--", "-v", "é"]
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    r = guard(node, "--vip", "10.50.0.10", "--", sys.executable, "-c", code, *argv)
    assert json.loads(r.stdout) == argv


def test_stdin_and_stderr_pass_through(node: Node) -> None:
    r = guard(node, "--vip", "10.50.0.10", "--", "sh", "-c", "cat; echo oops >&2", input="hello\n")
    assert (r.stdout, r.stderr, r.returncode) == ("hello\n", "oops\n", 0)


def test_the_command_is_exec_d_in_place(node: Node, tmp_path: Path) -> None:
    """Same PID as if-master: no wrapper process is left to hold signals or status."""
    pidfile = tmp_path / "pid"
    proc = node.ns.popen(
        [IF_MASTER, "--vip", "10.50.0.10", "--", "sh", "-c", f"echo $$ > {pidfile}; sleep 30"]
    )
    try:
        deadline = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # `ip netns exec` execs too, so the Popen PID is if-master's and must be the shell's.
        assert int(pidfile.read_text()) == proc.pid
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "sh"
        proc.terminate()
        assert proc.wait(10) == -15
    finally:
        proc.kill()
        proc.wait()


def test_command_starts_as_if_run_directly(node: Node) -> None:
    """No ignored signals, no LC_CTYPE added by Python's locale coercion."""
    probe = ["sh", "-c", "grep SigIgn /proc/self/status; env | sort"]
    env = {"PATH": "/usr/bin:/bin"}  # cron-like: no LANG, no LC_*
    direct = node.ns.run(probe, env=env)
    r = guard(node, "--vip", "10.50.0.10", "--", *probe, env=env)
    assert r.stdout == direct.stdout
    assert "LC_CTYPE" not in r.stdout
    # An LC_CTYPE the caller did set is kept.
    env["LC_CTYPE"] = "C.UTF-8"
    assert "LC_CTYPE=C.UTF-8" in guard(node, "--vip", "10.50.0.10", "--", *probe, env=env).stdout
    r = guard(node, "--vip", "10.50.0.10", "--", "sh", "-c", "yes | head -n 1", env=env)
    assert (r.stdout, r.stderr) == ("y\n", "")


def test_not_master_prints_nothing(node: Node) -> None:
    r = guard(node, "--vip", "10.50.0.1", "--", "sh", "-c", "echo ran")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = guard(node, "--not-master-exit", "9", "--vip", "10.50.0.1", "--", "true")
    assert (r.returncode, r.stdout, r.stderr) == (9, "", "")


def test_failures_are_one_line_and_run_nothing(node: Node, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    job = ["sh", "-c", f"touch {marker}"]
    for args in (["--vip", "10.50.0.300"], ["--vip", ""], ["--vip", "a.host"], ["--nope"]):
        r = guard(node, *args, "--", *job)
        assert r.returncode == 125, args
        assert r.stderr.startswith("if-master: ") and r.stderr.count("\n") == 1, r.stderr
        assert r.stdout == ""
    assert not marker.exists()
    r = guard(node, "--vip", "10.50.0.10", "--", str(tmp_path / "missing"))
    assert (r.returncode, r.stderr.count("\n")) == (127, 1)
    script = tmp_path / "noexec.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    r = guard(node, "--vip", "10.50.0.10", "--", str(script))
    assert r.returncode == 126 and "Permission denied" in r.stderr


def test_python_dash_m_works(node: Node) -> None:
    r = node.ns.run([sys.executable, "-m", "ifmaster", "--vip", "10.50.0.10", "--", "echo", "ok"])
    assert (r.returncode, r.stdout) == (0, "ok\n")


def test_syslog_line_names_the_command_and_its_pid(node: Node, tmp_path: Path) -> None:
    import socket

    path = tmp_path / "log"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as log:
        log.bind(str(path))
        log.settimeout(5)
        env = {**os.environ, "IF_MASTER_SYSLOG_SOCKET": str(path), "IF_MASTER_SYSLOG": "1"}
        r = guard(node, "--vip", "10.50.0.10", "--", "sh", "-c", "echo $$", env=env)
        pid = int(r.stdout)
        assert log.recv(4096).decode() == (
            f"<78>if-master[{pid}]: ran: sh -c 'echo $$' (pid {pid}; holds 10.50.0.10 on eth0)"
        )


def test_label_without_colon_belongs_to_its_interface(node: Node) -> None:
    node.add("10.50.0.1/32", "eth0", "label", "eth0vip")
    assert holds(node, "--vip", "10.50.0.1")
    assert holds(node, "--vip", "10.50.0.1", "-i", "eth0")
    assert holds(node, "--vip", "10.50.0.10", "--min-hold", "0")  # no 125 for the label


def test_closed_stdout_or_stderr_still_runs_the_command(node: Node) -> None:
    for redirect in (">&-", "2>&-"):
        script = f"exec {IF_MASTER} --vip 10.50.0.10 -- sh -c 'echo ran >&3' 3>&1 {redirect}"
        r = node.ns.run(["sh", "-c", script])
        assert (r.returncode, r.stdout) == (0, "ran\n"), (redirect, r.stderr)


def test_min_hold_inside_a_time_namespace(node: Node) -> None:
    """CLOCK_MONOTONIC shifted by a day must not make a fresh VIP look a day old."""
    node.add("10.50.0.1/32")
    for shift in ("86400", "-5"):
        argv = ["unshare", "--time", "--monotonic", shift, IF_MASTER, "-v", "--min-hold", "30"]
        r = node.ns.run([*argv, "--vip", "10.50.0.1"])
        assert r.returncode == 1, (shift, r.stderr)
        assert "less than --min-hold 30 s" in r.stderr


def test_output_lost_to_a_closed_pipe_is_125(node: Node) -> None:
    """The exit skips Python's teardown, so flushing is ours: a failed flush must show."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: writing fails with EPIPE (Python ignores SIGPIPE)
    try:
        argv = node.ns.exec_argv([IF_MASTER, "--explain", "--vip", "10.50.0.10"])
        proc = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert proc.returncode == 125, proc.stderr
    r = node.ns.run([IF_MASTER, "--explain", "--vip", "10.50.0.10"])
    assert r.returncode == 0 and "verdict: master" in r.stdout
