"""A run the ledger granted is not stopped by the VIP checks it never passed (issue 21).

A catch-up run (``--catch-up``, not the master) and any run without ``--watch`` run to their
end: only ``--watch`` stops a run, and only one that started as the VIP holder. Before the
fix, ``--require-keepalived`` made the supervisor re-check when no keepalived was found or
one exited; a catch-up run's verdict was never "master", so it was SIGTERMed at once and
its slot recorded status 143: a missed run and a job cut mid-way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import etcdlib
from tests.support.netnslib import IF_MASTER, Netns, require

pytestmark = [pytest.mark.netns, pytest.mark.etcd]

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
VIP = "10.77.0.240"  # the guarded VIP: on no node here
OTHER_VIP = "10.77.0.241"  # what the test's keepalived manages (never the guarded one)
JOB = "echo job started; sleep 1.5; echo job finished"
_tasks = iter(range(10**6))

CONFIG = """\
global_defs {{
    router_id {name}
}}
vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority 100
    advert_int 1
    virtual_ipaddress {{
        {vip}/32
    }}
}}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[etcdlib.Cluster]:
    with etcdlib.cluster(tmp_path_factory.mktemp("etcd")) as c:
        yield c


def _keepalived_pids(ns: Netns) -> list[int]:
    return [p for p in ns.pids() if _comm(p) == "keepalived"]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def start_keepalived(ns: Netns, tmp: Path) -> subprocess.Popen[str]:
    require(os.access(KEEPALIVED, os.X_OK), f"{KEEPALIVED} is not installed (./test.sh does)")
    conf = tmp / "keepalived.conf"
    conf.write_text(CONFIG.format(name=ns.name, vip=OTHER_VIP))
    tmp.chmod(0o755)
    argv = [KEEPALIVED, "-n", "-l", "-P", "-f", str(conf),
            "-p", str(tmp / "k.pid"), "-r", str(tmp / "v.pid")]  # fmt: skip
    proc = ns.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while len(_keepalived_pids(ns)) < 2:  # the parent and its VRRP child
        assert proc.poll() is None, "keepalived exited"
        assert time.monotonic() < deadline, "keepalived did not start"
        time.sleep(0.05)
    return proc


def guard(
    ns: Netns, cluster: etcdlib.Cluster, task: str, metrics: Path, *extra: str
) -> subprocess.Popen[str]:
    """The issue's reproduction: --require-keepalived --catch-up, the job takes 1.5 s."""
    argv = [IF_MASTER, "-v", "--vip", VIP, "--require-keepalived", "--min-hold", "3",
            "--task", task, "--every", "1d", "--max-late", "100000", "--catch-up", "0.2",
            "--ledger", cluster.url(), "--ledger-timeout", "3", "--node", ns.name,
            "--metrics-dir", str(metrics), *extra, "--", "sh", "-c", JOB]  # fmt: skip
    return ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def record_of(cluster: etcdlib.Cluster, ns: Netns, task: str) -> dict[str, object]:
    out = cluster.etcdctl(ns, "get", "--prefix", f"/if-master/{task}/", "--print-value-only")
    return json.loads(out)  # type: ignore[no-any-return]


def assert_finished(
    proc: subprocess.Popen[str], cluster: etcdlib.Cluster, ns: Netns, task: str, metrics: Path
) -> None:
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.split("\n")[:2] == ["job started", "job finished"], (out, err)
    assert "lost VIP" not in err and "stopping the command" not in err, err
    record = record_of(cluster, ns, task)
    assert record["status"] == 0 and "end" in record, record
    prom = (metrics / f"if_master_{task}.prom").read_text()
    assert f'if_master_last_run_exit_status{{task="{task}"}} 0' in prom, prom
    assert f'if_master_runs_total{{task="{task}",result="success"}} 1' in prom, prom


def test_catch_up_without_keepalived_finishes_its_job(
    cluster: etcdlib.Cluster, tmp_path: Path
) -> None:
    """No keepalived, no VIP: the reproduction of issue 21 runs its job to the end."""
    ns = cluster.client()
    task = f"cu{next(_tasks)}"
    proc = guard(ns, cluster, task, tmp_path)
    assert_finished(proc, cluster, ns, task, tmp_path)


def test_catch_up_whose_keepalived_exits_mid_run_finishes_its_job(
    cluster: etcdlib.Cluster, tmp_path: Path
) -> None:
    ns = cluster.client()
    keepalived = start_keepalived(ns, tmp_path)
    task = f"cuk{next(_tasks)}"
    proc = guard(ns, cluster, task, tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "job started\n"
        for pid in _keepalived_pids(ns):  # keepalived gone while the job runs
            os.kill(pid, signal.SIGKILL)
        keepalived.wait(timeout=5)
    finally:
        keepalived.kill()
        keepalived.wait()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == "job finished\n", (out, err)
    assert "lost VIP" not in err, err
    record = record_of(cluster, ns, task)
    assert record["status"] == 0 and "end" in record, record


def test_master_without_watch_is_not_stopped_when_keepalived_exits(
    cluster: etcdlib.Cluster, tmp_path: Path
) -> None:
    """No --watch, no VIP supervision: keepalived's exit mid-run does not stop the job."""
    ns = cluster.client()
    ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    keepalived = start_keepalived(ns, tmp_path)
    task = f"mk{next(_tasks)}"
    argv = [IF_MASTER, "--vip", VIP, "--require-keepalived", "--task", task, "--every", "1d",
            "--max-late", "100000", "--ledger", cluster.url(), "--ledger-timeout", "3",
            "--", "sh", "-c", JOB]  # fmt: skip
    proc = ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "job started\n"
        for pid in _keepalived_pids(ns):
            os.kill(pid, signal.SIGKILL)
    finally:
        keepalived.kill()
        keepalived.wait()
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (0, "job finished\n"), err
    assert record_of(cluster, ns, task)["status"] == 0


def test_watch_still_stops_a_master_whose_keepalived_exits(
    cluster: etcdlib.Cluster, tmp_path: Path
) -> None:
    """The --watch master case is unchanged: keepalived's exit stops the job."""
    ns = cluster.client()
    ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    keepalived = start_keepalived(ns, tmp_path)
    task = f"mw{next(_tasks)}"
    argv = [IF_MASTER, "--vip", VIP, "--require-keepalived", "--watch", "--grace", "1",
            "--task", task, "--every", "1d", "--max-late", "100000", "--ledger", cluster.url(),
            "--ledger-timeout", "3", "--", "sh", "-c", JOB]  # fmt: skip
    proc = ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "job started\n"
        for pid in _keepalived_pids(ns):
            os.kill(pid, signal.SIGKILL)
    finally:
        keepalived.kill()
        keepalived.wait()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM, (out, err)
    assert "lost VIP" in err and "job finished" not in out
    assert record_of(cluster, ns, task)["status"] == 128 + signal.SIGTERM
