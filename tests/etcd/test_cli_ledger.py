"""--ledger through the installed console script, two nodes and a real 3-member etcd.

Both nodes hold the VIP (the split brain no check on one node can rule out): the ledger
still lets exactly one run per slot. Catch-up, the late run, fail-closed and the end record.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import etcdlib
from tests.support.netnslib import IF_MASTER, Netns

pytestmark = [pytest.mark.netns, pytest.mark.etcd]

VIP = "10.77.0.250"
_tasks = iter(range(10**6))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[etcdlib.Cluster]:
    with etcdlib.cluster(tmp_path_factory.mktemp("etcd")) as c:
        yield c


@pytest.fixture(scope="module")
def nodes(cluster: etcdlib.Cluster) -> tuple[Netns, Netns]:
    """Two client nodes, both holding the VIP (split brain), ledger reachable from both."""
    a, b = cluster.client(), cluster.client()
    for ns in (a, b):
        ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    return a, b


def guard(ns: Netns, cluster: etcdlib.Cluster, task: str, marker: Path, *extra: str,
          **kw: object) -> subprocess.Popen[str]:  # fmt: skip
    argv = [IF_MASTER, "-v", "--vip", VIP, "--task", task, "--every", "1d", "--max-late", "100000",
            "--ledger", cluster.url(), "--ledger-timeout", "3", *extra, "--",
            "sh", "-c", f"echo {ns.name} >> {marker}"]  # fmt: skip
    return ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_both_hold_the_vip_exactly_one_runs_each_slot(
    cluster: etcdlib.Cluster, nodes: tuple[Netns, Netns], tmp_path: Path
) -> None:
    for round_ in range(5):
        task = f"race{next(_tasks)}"
        marker = tmp_path / f"ran{round_}"
        procs = [guard(ns, cluster, task, marker) for ns in nodes]
        outs = [p.communicate(timeout=30) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        ran = marker.read_text().split()
        assert len(ran) == 1, (ran, outs)
        loser_err = next(err for (_out, err), ns in zip(outs, nodes) if ns.name not in ran)
        assert " is held by " in loser_err
        # The winner's end is recorded under the same key.
        key = f"/if-master/{task}/"
        record = json.loads(cluster.etcdctl(nodes[0], "get", "--prefix", key, "--print-value-only"))
        assert record["status"] == 0 and "end" in record


def test_catch_up_runs_a_slot_the_master_missed(
    cluster: etcdlib.Cluster, nodes: tuple[Netns, Netns], tmp_path: Path
) -> None:
    a, _b = nodes
    task = f"catch{next(_tasks)}"
    marker = tmp_path / "ran"
    argv = [IF_MASTER, "--vip", "10.77.0.251", "--task", task, "--every", "1d", "--max-late",
            "100000", "--catch-up", "0.1", "--ledger", cluster.url(), "--",
            "sh", "-c", f"echo caught-up >> {marker}"]  # fmt: skip
    r = a.run(argv, timeout=30)  # not the master (no 10.77.0.251 anywhere): catches up
    assert r.returncode == 0, r.stderr
    assert marker.read_text().split() == ["caught-up"]
    r = a.run(argv, timeout=30)  # the slot is claimed now: nothing more runs
    assert r.returncode == 0 and marker.read_text().split() == ["caught-up"]


def test_a_late_run_is_not_its_slots_run(
    cluster: etcdlib.Cluster, nodes: tuple[Netns, Netns], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    argv = [IF_MASTER, "--vip", VIP, "--task", f"late{next(_tasks)}", "--every", "1d",
            "--max-late", "0", "--ledger", cluster.url(), "--", "touch", str(marker)]  # fmt: skip
    r = nodes[0].run(argv, timeout=30)
    now = time.gmtime()
    if (now.tm_hour, now.tm_min) in ((0, 0), (23, 59)):
        pytest.skip("ran within a minute of the UTC day's slot: the run is not late")
    assert r.returncode == 0 and not marker.exists()
    assert "more than --max-late 0 s" in r.stderr


def test_an_unreachable_ledger_fails_closed(
    cluster: etcdlib.Cluster, nodes: tuple[Netns, Netns], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    argv = [IF_MASTER, "--vip", VIP, "--task", "t", "--every", "1d", "--max-late", "100000",
            "--ledger", "etcd://10.77.0.99:2379/if-master", "--ledger-timeout", "0.5", "--",
            "touch", str(marker)]  # fmt: skip
    r = nodes[0].run(argv, timeout=30)
    assert r.returncode == 125 and not marker.exists()
    assert r.stderr.startswith("if-master: ledger: ") and r.stderr.count("\n") == 1, r.stderr
    assert "ledger: ledger:" not in r.stderr  # said once, as the README shows it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ledger", "etcd://x:2379/p"], "--ledger needs --task"),
        (["--ledger", "etcd://x:2379/p", "--task", "t"], "exactly one of --schedule or --every"),
        (["--ledger", "http://x/p", "--task", "t", "--every", "1m"], "etcd://"),
        (["--ledger", "etcd://x:2379/p", "--task", "t", "--every", "nan"], "nan"),
        (["--ledger", "etcd://x:2379/p", "--task", "t", "--schedule", "61 * * * *"], "61"),
        (["--ledger", "etcd://x:2379/p", "--task", "t", "--every", "1m", "--skew", "inf"], "inf"),
        (["--every", "1m"], "--every goes with --ledger"),
        # Empty or ledger-only values without --ledger were accepted and ignored.
        (["--schedule", ""], "--schedule goes with --ledger"),
        (["--node", "", "--ledger-ca", "/x"], "goes with --ledger"),
        (["--max-late", "5"], "--max-late goes with --ledger"),
        # An empty --ledger ("$URL" unset) ran the command with no ledger at all.
        (["--ledger", "", "--task", "t", "--every", "1m"], "ledger URL '' is empty"),
    ],
)
def test_ledger_options_fail_closed(args: list[str], message: str) -> None:
    r = subprocess.run([IF_MASTER, "--vip", "10.0.0.1", *args, "--", "true"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr


@pytest.mark.parametrize("mode", [[], ["--explain"], ["--explain", "--json"]])
def test_a_check_with_ledger_claims_nothing_so_it_is_refused(mode: list[str]) -> None:
    """`ExecCondition=if-master --ledger ...` exited 0 and claimed nothing: no exactly once."""
    argv = [IF_MASTER, "--vip", "127.0.0.1", "--include-loopback", *mode,
            "--ledger", "etcd://127.0.0.1:9/p", "--task", "t", "--every", "1m"]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True)
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert "--ledger claims a slot for a command" in r.stderr
    # From a crontab header the ledger (and the node) are for the lines that use them.
    env = {**os.environ, "IF_MASTER_LEDGER": "etcd://127.0.0.1:9/p", "IF_MASTER_NODE": "x"}
    argv = [IF_MASTER, "--vip", "127.0.0.1", "--include-loopback", *mode]
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert (r.returncode, r.stderr) == (0, ""), r.stderr


# What a ledger-guarded run once imported for a call or two: click (~28 ms), http.client with
# email and ssl (~20 ms), json, re and enum (~4.5 ms), socket, typing, ipaddress, base64,
# the Python datetime and strptime's module (with locale and calendar).
LEDGER_HEAVY = {
    "click", "http", "email", "ssl", "socket", "json", "re", "enum", "typing", "ipaddress",
    "base64", "datetime", "_strptime", "locale", "calendar", "urllib", "signal", "psutil",
}  # fmt: skip


def test_a_ledger_guarded_run_imports_nothing_heavy(
    cluster: etcdlib.Cluster, nodes: tuple[Netns, Netns], tmp_path: Path
) -> None:
    """The crontab's ledger line, claim, job and end record, under ``python -X importtime``
    (which lists every import up to the exit): none of the modules that once made it 4x
    ``etcdctl lock``; ctypes (prctl for the supervisor) shows the list covers the run."""
    import sys

    a, _b = nodes
    task = f"light{next(_tasks)}"
    marker = tmp_path / "ran"
    argv = [sys.executable, "-X", "importtime", IF_MASTER, "--vip", VIP, "--task", task,
            "--every", "1m", "--ledger", cluster.url(), "--",
            "sh", "-c", f"echo ran >> {marker}"]  # fmt: skip
    r = a.run(argv, timeout=30)
    assert r.returncode == 0 and marker.read_text() == "ran\n", r.stderr[-2000:]
    names = {ln.split("|")[-1].strip() for ln in r.stderr.splitlines() if ln.startswith("import")}
    top_level = {n.split(".")[0] for n in names}
    assert "ctypes" in top_level and "ifmaster.ledger.etcd" in names, sorted(top_level)
    assert not top_level & LEDGER_HEAVY, sorted(top_level & LEDGER_HEAVY)
    assert "encodings.idna" not in names  # an ASCII host is resolved as bytes
    record = json.loads(cluster.etcdctl(a, "get", "--prefix", f"/if-master/{task}/",
                                        "--print-value-only"))  # fmt: skip
    assert record["status"] == 0 and "end" in record
