"""--ledger postgresql:// through the installed console script, in network namespaces.

Two nodes both hold the VIP (the split brain no check on one node can rule out): the
PostgreSQL ledger lets exactly one run per slot, and records its end. A standby, a
multi-master marker and asynchronous standbys under async_standbys=refuse are exit 125 with
one line; asynchronous standbys otherwise run the job with one warning.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import postgres as pglib
from tests.support.netnslib import IF_MASTER, Netns

pytestmark = [pytest.mark.netns, pytest.mark.postgres]

VIP = "10.78.0.250"
ENV = {**os.environ, "IF_MASTER_LEDGER_PASSWORD": pglib.PASSWORD, "HOME": "/nonexistent"}
_tasks = iter(range(10**6))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pglib.Lab]:
    with pglib.lab(tmp_path_factory.mktemp("pgcli")) as made:
        made.server()
        yield made


@pytest.fixture(scope="module")
def nodes(lab: pglib.Lab) -> tuple[Netns, Netns]:
    a, b = lab.client(), lab.client()
    for ns in (a, b):
        ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    return a, b


def guard(ns: Netns, url: str, task: str, marker: Path, *extra: str) -> subprocess.Popen[str]:
    argv = [IF_MASTER, "-v", "--vip", VIP, "--task", task, "--every", "1d", "--max-late",
            "100000", "--ledger", url, "--ledger-timeout", "3", *extra, "--",
            "sh", "-c", f"echo {ns.name} >> {marker}"]  # fmt: skip
    return ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)


def test_both_hold_the_vip_exactly_one_runs_each_slot(
    lab: pglib.Lab, nodes: tuple[Netns, Netns], tmp_path: Path
) -> None:
    url = lab.servers[0].url(table="public.cli")
    for round_ in range(5):
        task = f"race{next(_tasks)}"
        marker = tmp_path / f"ran{round_}"
        procs = [guard(ns, url, task, marker) for ns in nodes]
        outs = [p.communicate(timeout=30) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        ran = marker.read_text().split()
        assert len(ran) == 1, (ran, outs)
        loser_err = next(err for (_out, err), ns in zip(outs, nodes) if ns.name not in ran)
        assert " is held by " in loser_err
        rows = lab.servers[0].sql(
            "SELECT status, ended IS NOT NULL FROM public.cli WHERE task = %s", task
        )
        assert rows == [(0, True)]  # the winner's end, under the same row


def run_once(ns: Netns, url: str, marker: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [IF_MASTER, "--vip", VIP, "--task", f"t{next(_tasks)}", "--every", "1d",
            "--max-late", "100000", "--ledger", url, *extra,
            "--", "touch", str(marker)]  # fmt: skip
    return ns.run(argv, env=ENV, timeout=30)


def test_a_standby_and_a_multi_master_node_exit_125_and_run_nothing(
    lab: pglib.Lab, nodes: tuple[Netns, Netns], tmp_path: Path
) -> None:
    p = lab.servers[0]
    s = lab.server(standby_of=p)
    p.wait_streaming(s)
    marker = tmp_path / "ran"
    r = run_once(nodes[0], s.url(), marker)
    assert r.returncode == 125 and not marker.exists(), r.stderr
    assert r.stderr.count("\n") == 1 and "is a standby (pg_is_in_recovery)" in r.stderr
    p.sql("CREATE DATABASE climm OWNER ifm")
    p.sql("CREATE SCHEMA bdr", dbname="climm")  # the marker, faked: no real BDR here
    r = run_once(nodes[0], p.url(dbname="climm"), marker)
    assert r.returncode == 125 and not marker.exists(), r.stderr
    assert r.stderr.count("\n") == 1 and "is a multi-master node (schema bdr)" in r.stderr
    # Asynchronous standbys: one warning per run, the job runs; refused on request.
    r = run_once(nodes[0], p.url(), marker)
    assert r.returncode == 0 and marker.exists(), r.stderr
    assert r.stderr.count("asynchronously") == 1, r.stderr
    assert "a failover to one can lose claims and run a slot twice" in r.stderr
    marker.unlink()
    r = run_once(nodes[0], p.url(async_standbys="accept"), marker)
    assert (r.returncode, r.stderr) == (0, "") and marker.exists()
    marker.unlink()
    r = run_once(nodes[0], p.url(async_standbys="refuse"), marker)
    assert r.returncode == 125 and not marker.exists(), r.stderr
    assert r.stderr.count("\n") == 1 and "(async_standbys=refuse)" in r.stderr
    for line in (r.stderr,):
        assert pglib.PASSWORD not in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ledger-ca", "/ca.pem"], "--ledger-ca is for an etcd ledger: with postgresql://"),
        (["--ledger-user", "ifm"], "--ledger-user is for an etcd ledger"),
    ],
)
def test_etcds_options_are_refused_by_name(args: list[str], message: str) -> None:
    argv = [IF_MASTER, "--vip", "10.0.0.1", "--task", "t", "--every", "1m",
            "--ledger", "postgresql://ifm@10.0.0.1/db", *args, "--", "true"]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True)
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr


def test_a_password_in_the_url_is_refused_without_repeating_it() -> None:
    argv = [IF_MASTER, "--vip", "10.0.0.1", "--task", "t", "--every", "1m",
            "--ledger", "postgresql://ifm:pw-on-argv@10.0.0.1/db", "--", "true"]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True)
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert "has a password in it" in r.stderr and "pw-on-argv" not in r.stderr


def test_history_status_and_release_read_the_table(
    lab: pglib.Lab, nodes: tuple[Netns, Netns], tmp_path: Path
) -> None:
    """The read modes on the PostgreSQL store: a run's row has its end and fence, a
    row without an end is ``unknown`` (no liveness record here), --release deletes one."""
    import json

    url = lab.servers[0].url(table="public.views")
    task = f"views{next(_tasks)}"
    marker = tmp_path / "ran"
    p = guard(nodes[0], url, task, marker, "--node", "alpha")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and marker.exists(), (out, err)
    # A claim whose runner died: a row without an end, as a SIGKILLed guard leaves it.
    lab.servers[0].sql(
        "INSERT INTO public.views (task, slot, node, pid, started, schedule) VALUES"
        " (%s, date_trunc('second', now()) - interval '2 days', 'gone', 7,"
        " now() - interval '2 days', 'every 1d')",
        task,
    )

    def view(*args: str) -> subprocess.CompletedProcess[str]:
        return nodes[1].run([IF_MASTER, "--ledger", url, *args], env=ENV, timeout=30)

    r = view("--history", task, "--since", "3d", "--json")
    # Silent even with the earlier test's asynchronous standby: it can lose claims, not reads.
    assert r.stderr == "", r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    results = sorted(d["result"] for d in got if d["node"] is not None)
    assert results == ["late", "unknown"], got  # --every 1d: hours after its slot's start
    ok = next(d for d in got if d["result"] == "late")
    assert ok["node"] == "alpha" and ok["status"] == 0 and ok["fence"] > 0
    r = view("--status", "--since", "3d")
    assert task in r.stdout and r.stderr == "", (r.stdout, r.stderr)
    unknown = next(d for d in got if d["result"] == "unknown")
    r = view("--release", task, unknown["slot"])
    assert r.returncode == 0 and f"deleted public.views/{task}/" in r.stdout, r.stdout + r.stderr
    left = lab.servers[0].sql("SELECT node FROM public.views WHERE task = %s", task)
    assert left == [("alpha",)]
    r = view("--release", task, unknown["slot"])
    assert r.returncode == 1 and "nobody holds it" in r.stdout, r.stdout
    assert pglib.PASSWORD not in r.stdout + r.stderr
