"""--min-hold and --watch through the console script, on real addresses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ifmaster.interfaces import STAMP_LAG
from tests.support.netnslib import IF_MASTER, Node

pytestmark = pytest.mark.netns


def test_min_hold_skips_a_fresh_vip_then_runs(node: Node, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    job = [IF_MASTER, "--min-hold", "3", "--vip", "10.50.0.1", "--", "touch", str(marker)]
    check = [IF_MASTER, "--min-hold", "3", "--vip", "10.50.0.1"]
    node.add("10.50.0.1/32")
    added = time.monotonic()
    r = node.ns.run([*job[:-3], "-v", *job[-3:]])
    assert (r.returncode, marker.exists()) == (0, False)
    assert "less than --min-hold 3 s" in r.stderr
    assert node.ns.run(check).returncode == 1
    # Ages are understated by STAMP_LAG (never overstated): the VIP counts that much later.
    time.sleep(max(0.0, added + 3.1 + STAMP_LAG - time.monotonic()))
    r = node.ns.run(check + ["-v"])
    assert r.returncode == 0, r.stderr
    assert "10.50.0.1 held on eth0 for " in r.stderr
    assert node.ns.run(job).returncode == 0
    assert marker.exists()
    # The age is the address's: re-adding it starts the clock again.
    node.ns.ip("addr", "del", "10.50.0.1/32", "dev", "eth0")
    node.add("10.50.0.1/32")
    assert node.ns.run(check).returncode == 1


def test_watch_stops_the_job_when_the_vip_goes(node: Node, tmp_path: Path) -> None:
    log_path = tmp_path / "log"
    log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    log.bind(str(log_path))
    log.settimeout(5)
    env = {**os.environ, "IF_MASTER_SYSLOG_SOCKET": str(log_path)}
    node.add("10.50.0.1/32")
    argv = [IF_MASTER, "--watch", "--syslog", "--vip", "10.50.0.1", "--"]
    proc = node.ns.popen(
        [*argv, "sh", "-c", "sleep 300 & sleep 300"], env=env, stderr=subprocess.PIPE
    )
    try:
        assert log.recv(4096).decode().startswith(f"<78>if-master[{proc.pid}]: ran: sh -c")
        deadline = time.monotonic() + 5
        while len(node.ns.pids()) < 4:  # if-master, sh, two sleeps
            assert time.monotonic() < deadline, node.ns.pids()
            time.sleep(0.02)
        lost = time.monotonic()
        node.ns.ip("addr", "del", "10.50.0.1/32", "dev", "eth0")
        _, err = proc.communicate(timeout=5)
        took = time.monotonic() - lost
    finally:
        proc.kill()
        proc.wait()
    assert took < 1.0, took
    assert proc.returncode == -signal.SIGTERM  # as the command died: by SIGTERM
    assert "if-master: lost VIP 10.50.0.1 after" in err
    assert node.ns.pids() == [], "a process of the job survived"
    assert log.recv(4096).decode() == (
        f"<76>if-master[{proc.pid}]: ended: sh -c 'sleep 300 & sleep 300': "
        "killed by SIGTERM after the VIP was lost"
    )
    log.close()


def test_watch_is_transparent_while_the_vip_stays(node: Node) -> None:
    r = node.ns.run(
        [IF_MASTER, "--watch", "--vip", "10.50.0.10", "--", "sh", "-c", "cat; exit 7"],
        input="through\n",
    )
    assert (r.returncode, r.stdout, r.stderr) == (7, "through\n", "")
    r = node.ns.run([IF_MASTER, "--watch", "--vip", "10.50.0.1", "--", "touch", "/nonexistent"])
    assert (r.returncode, r.stderr) == (0, "")  # not master: skipped as without --watch


def test_watch_keeps_the_callers_environment(node: Node) -> None:
    env = {"PATH": "/usr/bin:/bin"}  # cron-like: Python would add LC_CTYPE=C.UTF-8
    probe = ["sh", "-c", "env | sort; grep SigIgn /proc/self/status"]
    direct = node.ns.run(probe, env=env)
    r = node.ns.run([IF_MASTER, "--watch", "--vip", "10.50.0.10", "--", *probe], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == direct.stdout
