"""--task, --no-overlap, --timeout and --metrics-dir through the installed console script.

Real addresses, real processes, real flock, and promtool reading every file written.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, Node, require

pytestmark = pytest.mark.netns

MASTER = ["--vip", "10.50.0.10"]
BACKUP = ["--vip", "10.50.0.99"]


def samples(path: Path) -> dict[str, float]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def promtool_accepts(path: Path) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool is missing (apt-get install prometheus)")
    assert promtool is not None
    r = subprocess.run([promtool, "check", "metrics"], input=path.read_text(), text=True,
                       capture_output=True)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_metrics_on_the_master_and_elsewhere(node: Node, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    prom = metrics / "if_master_backup.prom"
    task = ["--task", "backup", "--metrics-dir", str(metrics)]
    r = node.ns.run([IF_MASTER, *task, *MASTER, "--", "sh", "-c", "exit 3"])
    assert r.returncode == 3, r.stderr  # the job's own status, supervised
    got = samples(prom)
    assert got['if_master_is_master{task="backup"}'] == 1
    assert got['if_master_runs_total{task="backup",result="failure"}'] == 1
    assert got['if_master_last_run_exit_status{task="backup"}'] == 3
    promtool_accepts(prom)
    assert node.ns.run([IF_MASTER, *task, *BACKUP, "--", "true"]).returncode == 0
    got = samples(prom)
    assert got['if_master_is_master{task="backup"}'] == 0
    assert got['if_master_skips_total{task="backup",reason="not_held"}'] == 1
    assert got['if_master_last_check_outcome{task="backup",outcome="not_held"}'] == 1
    r = node.ns.run([IF_MASTER, *task, *MASTER, "--", "/nonexistent/job"])
    assert r.returncode == 127
    assert samples(prom)['if_master_skips_total{task="backup",reason="error"}'] == 1
    # One line atop the crontab: the environment turns metrics on for every job with a task.
    env = {**os.environ, "IF_MASTER_METRICS_DIR": str(metrics), "IF_MASTER_TASK": "env-task"}
    assert node.ns.run([IF_MASTER, *MASTER, "--", "true"], env=env).returncode == 0
    assert (
        samples(metrics / "if_master_env-task.prom")[
            'if_master_runs_total{task="env-task",result="success"}'
        ]
        == 1
    )
    promtool_accepts(metrics / "if_master_env-task.prom")


def comms(node: Node) -> list[str]:
    """The names of the processes in the node's namespace."""
    out = []
    for pid in node.ns.pids():
        try:
            out.append(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            pass  # gone meanwhile
    return out


def test_no_overlap_skips_names_the_holder_and_frees_the_lock_on_sigkill(
    node: Node, tmp_path: Path
) -> None:
    locks = tmp_path / "locks"
    started = tmp_path / "started"
    args = ["--task", "sync", "--no-overlap", "--lock-dir", str(locks), *MASTER, "--"]
    first = node.ns.popen([IF_MASTER, *args, "sh", "-c", f"touch {started}; exec sleep 300"])
    try:
        wait_for(started.exists)
        r = node.ns.run([IF_MASTER, *args, "true"])
        assert r.returncode == 0, r.stderr  # a skip, like any other under cron
        assert "the previous run still holds" in r.stderr and "(PID " in r.stderr
        r = node.ns.run([IF_MASTER, *args[:-1], "--overlap-exit", "75", "--", "true"])
        assert r.returncode == 75
        # SIGKILL if-master itself (not the `ip netns exec` wrapper, which exec'd into it).
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        # The kernel dropped the lock with the supervisor's descriptor, and the job went with
        # its parent (PR_SET_PDEATHSIG).
        assert node.ns.run([IF_MASTER, *args, "true"]).returncode == 0
        wait_for(lambda: "sleep" not in comms(node))
    finally:
        first.kill()
        first.wait()


def test_timeout_stops_the_tree_and_exits_124(node: Node, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    t0 = time.monotonic()
    r = node.ns.run([IF_MASTER, "--timeout", "0.5", "--grace", "1", *MASTER, "--",
                     "sh", "-c", script], timeout=30)  # fmt: skip
    assert r.returncode == 124, r.stderr
    assert "--timeout: the command ran 0.5 s; stopping it" in r.stderr
    assert time.monotonic() - t0 < 10
    for pid in pids.read_text().split():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    # Not the master: nothing runs, nothing to time.
    assert node.ns.run([IF_MASTER, "--timeout", "0.5", *BACKUP, "--", "sleep", "5"]).returncode == 0
    # A command that ends in time keeps its own status, up to the longest --timeout (31 days;
    # beyond ~24.8 days poll()'s millisecond int overflowed: 125 after the job had started).
    for limit in ("30", "2147483.648", "2678400"):
        r = node.ns.run([IF_MASTER, "--timeout", limit, *MASTER, "--", "sh", "-c", "exit 7"])
        assert (r.returncode, r.stderr) == (7, ""), (limit, r.stderr)


def test_max_delay_refuses_a_decision_that_came_too_late(node: Node, tmp_path: Path) -> None:
    """A guard that took longer than --max-delay runs nothing (an overloaded host's stale
    verdict); --arp-probe's ~0.3 s of listening stands in for the overload."""
    marker = tmp_path / "ran"
    slow = [IF_MASTER, "--arp-probe", *MASTER]
    r = node.ns.run([*slow[:1], "--max-delay", "0.05", *slow[1:], "--", "touch", str(marker)])
    assert (r.returncode, marker.exists()) == (0, False), r.stderr
    assert "more than --max-delay 0.05 s" in r.stderr and "not running" in r.stderr
    r = node.ns.run([*slow[:1], "--max-delay", "0.05", "--not-master-exit", "9", *slow[1:],
                     "--", "touch", str(marker)])  # fmt: skip
    assert r.returncode == 9 and not marker.exists()
    r = node.ns.run([*slow[:1], "--max-delay", "30", *slow[1:], "--", "touch", str(marker)])
    assert (r.returncode, marker.exists()) == (0, True), r.stderr
    # A check (ExecCondition=) says "not master" on a stale verdict; it ignored the option.
    r = node.ns.run([*slow[:1], "--max-delay", "0.05", *slow[1:]])
    assert r.returncode == 1 and "more than --max-delay 0.05 s" in r.stderr, r.stderr
    assert node.ns.run([*slow[:1], "--max-delay", "30", *slow[1:]]).returncode == 0
