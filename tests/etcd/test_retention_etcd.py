"""A ledger that runs for years, against real etcd: the claim's pruning touches nothing but
the task's own old slots; the key count stays at the window; a full etcd (a tiny quota) is
named with its fix and runs nothing; the job's four variables and its fencing token."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ifmaster.slot import Every, slot_for
from tests.support import etcdlib
from tests.support.netnslib import IF_MASTER, Netns

pytestmark = [pytest.mark.netns, pytest.mark.etcd]

DAY = 86400
VIP = "10.77.0.240"


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[etcdlib.Cluster]:
    with etcdlib.cluster(tmp_path_factory.mktemp("etcd")) as c:
        yield c


@pytest.fixture(scope="module")
def node(cluster: etcdlib.Cluster) -> Netns:
    """A client namespace that holds the VIP: the guard there is the master."""
    ns = cluster.client()
    ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    return ns


def claim(agent: etcdlib.Agent, url: str, task: str, slot: str, node: str = "a",
          **opts: Any) -> dict[str, Any]:  # fmt: skip
    req = {"op": "claim", "url": url, "task": task, "slot": slot, "node": node, "pid": 1,
           "start": time.time(), "opts": {"deadline": 3.0, **opts}}  # fmt: skip
    return agent.call(req)


def keys(cluster: etcdlib.Cluster, prefix: str = "/") -> set[str]:
    out = cluster.etcdctl(cluster.clients[0], "get", "--prefix", prefix, "--keys-only")
    return {k for k in out.splitlines() if k}


def test_a_claim_prunes_only_its_tasks_old_slots(cluster: etcdlib.Cluster) -> None:
    """Neighbours that share a string prefix (task backup2, backup-x, backup.old; prefix
    /p2; keys /p/backup and /p/backu), sub-keys under a kept slot, other tasks: untouched.
    The task's slots before the oldest kept go, sub-keys of old slots with them."""
    claimed, keep = "2030-01-03T00:00:00Z", DAY
    gone = {"/p/backup/2030-01-01T00:00:00Z", "/p/backup/2030-01-01T00:00:00Z/alive",
            "/p/backup/2030-01-01T23:59:59Z", "/p/backup/1999-12-31T23:59:59Z"}  # fmt: skip
    kept = {
        "/p/backup/2030-01-02T00:00:00Z",  # exactly the oldest kept
        "/p/backup/2030-01-02T00:00:00Z/alive",
        "/p/backup/2030-01-02T12:00:00Z",
        "/p/backup2/2030-01-01T00:00:00Z",
        "/p/backup-x/2030-01-01T00:00:00Z",
        "/p/backup.old/2030-01-01T00:00:00Z",
        "/p/backup",
        "/p/backu",
        "/p2/backup/2030-01-01T00:00:00Z",
        "/p/other/2030-01-01T00:00:00Z",
        "/pbackup/2030-01-01T00:00:00Z",
    }
    ns = cluster.clients[0]
    for k in gone | kept:
        cluster.etcdctl(ns, "put", k, "{}")
    a, b = cluster.agent(), cluster.agent()
    won = claim(a, cluster.url(prefix="p"), "backup", claimed, keep=keep)
    assert won["ok"] and won["won"], won
    assert keys(cluster, "/p") == kept | {f"/p/backup/{claimed}"}
    # A lost claim prunes nothing: only the winner's transaction deletes.
    cluster.etcdctl(ns, "put", "/p/backup/2030-01-01T00:00:00Z", "{}")
    lost = claim(b, cluster.url(prefix="p"), "backup", claimed, node="b", keep=keep)
    assert lost["ok"] and not lost["won"], lost
    assert "/p/backup/2030-01-01T00:00:00Z" in keys(cluster, "/p/backup/")
    # keep None (--keep forever) prunes nothing either.
    again = claim(a, cluster.url(prefix="p"), "backup", "2030-01-04T00:00:00Z", keep=None)
    assert again["ok"] and again["won"], again
    assert "/p/backup/2030-01-01T00:00:00Z" in keys(cluster, "/p/backup/")


def test_the_key_count_stays_at_the_retention_window(cluster: etcdlib.Cluster) -> None:
    """An hourly task over ten simulated days, keeping a day: 25 slots (the day and the
    slot that starts it) at every claim from the second day on, the newest ones."""
    a = cluster.agent()
    start = 1924992000  # 2031-01-01T00:00:00Z
    counts = []
    for hour in range(240):
        r = claim(a, cluster.url(prefix="win"), "hourly", iso(start + 3600 * hour), keep=DAY)
        assert r["ok"] and r["won"], r
        if hour % 20 == 19:
            counts.append(len(keys(cluster, "/win/hourly/")))
    assert counts == [20] + [25] * 11
    left = sorted(keys(cluster, "/win/hourly/"))
    assert left[0] == f"/win/hourly/{iso(start + 3600 * 215)}"  # 24 h before the last
    assert left[-1] == f"/win/hourly/{iso(start + 3600 * 239)}"


def test_fencing_tokens_strictly_increase_across_slots_tasks_and_nodes(
    cluster: etcdlib.Cluster,
) -> None:
    """Three nodes in three namespaces race for 30 slots of two tasks, asking different
    members first: each slot's token (the winner's, which every loser reads back as the
    key's create_revision) is larger than every token before it."""
    agents = [cluster.agent() for _ in range(3)]
    orders = ([1, 2, 3], [2, 3, 1], [3, 1, 2])
    tokens: list[int] = []
    for round_ in range(30):
        task, slot = ("fence-a", "fence-b")[round_ % 2], iso(1956528000 + 60 * round_)
        at = time.time() + 0.05
        for i, agent in enumerate(agents):
            url = cluster.url(order=orders[i])
            agent.send({"op": "claim", "url": url, "task": task, "slot": slot,
                        "node": f"n{i}", "pid": i, "start": at, "at": at})  # fmt: skip
        replies = [agent.receive() for agent in agents]
        assert all(r["ok"] for r in replies), replies
        assert sum(r["won"] for r in replies) == 1, replies
        assert len({r["revision"] for r in replies}) == 1, replies  # one token per slot
        tokens.append(replies[0]["revision"])
    assert all(x < y for x, y in zip(tokens, tokens[1:])), tokens


# -- the guard's side: --keep, the job's environment ----------------------------------------


def guard(ns: Netns, cluster: etcdlib.Cluster, task: str, *extra: str,
          job: list[str] | None = None, env: dict[str, str] | None = None,
          ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    argv = [IF_MASTER, "--vip", VIP, "--task", task, "--every", "1d", "--ledger",
            cluster.url(), "--ledger-timeout", "3", *extra, "--",
            *(job or ["true"])]  # fmt: skip
    return ns.run(argv, timeout=30, env=env)


def test_keep_from_the_command_line(cluster: etcdlib.Cluster, node: Netns) -> None:
    today = slot_for(Every("1d"), time.time(), max_late=None).timestamp
    old, recent = iso(today - 3 * DAY), iso(today - DAY)
    for task in ("keep3", "keep3x", "keepall"):
        for slot in (old, recent):
            cluster.etcdctl(node, "put", f"/if-master/{task}/{slot}", "{}")
    r = guard(node, cluster, "keep3", "--keep", "2d", "--max-late", "100000")
    assert r.returncode == 0, r.stderr
    assert keys(cluster, "/if-master/keep3/") == {
        f"/if-master/keep3/{recent}",
        f"/if-master/keep3/{iso(today)}",
    }
    assert len(keys(cluster, "/if-master/keep3x/")) == 2  # the neighbour is untouched
    r = guard(node, cluster, "keepall", "--keep", "forever", "--max-late", "100000")
    assert r.returncode == 0, r.stderr
    assert len(keys(cluster, "/if-master/keepall/")) == 3


def test_the_job_gains_exactly_four_variables(cluster: etcdlib.Cluster, node: Netns) -> None:
    """Against the job run directly, with a cron-like environment (Python would add
    LC_CTYPE=C.UTF-8): the same lines, and the four, nothing else."""
    env = {"PATH": "/usr/bin:/bin", "IF_MASTER_SLOT": "the caller's", "ODD": "a\tb c"}
    probe = ["sh", "-c", "env | sort; grep SigIgn /proc/self/status"]
    direct = node.run(probe, env=env)
    task = f"env{os.getpid()}"
    r = guard(node, cluster, task, "--max-late", "100000", job=probe, env=env)
    assert r.returncode == 0, r.stderr
    slot = slot_for(Every("1d"), time.time(), max_late=None).iso
    key = f"/if-master/{task}/{slot}"
    revision = int(cluster.etcdctl(node, "get", key, "-w", "fields").split(
        '"CreateRevision" : ')[1].split()[0])  # fmt: skip
    *lines, sigign = direct.stdout.splitlines()
    caller = [ln for ln in lines if not ln.startswith("IF_MASTER_SLOT=")]  # replaced
    ours = [f"IF_MASTER_TASK={task}", f"IF_MASTER_SLOT={slot}", f"IF_MASTER_LEDGER_KEY={key}",
            f"IF_MASTER_FENCING_TOKEN={revision}"]  # fmt: skip
    assert r.stdout.splitlines() == [*sorted(caller + ours), sigign]


def test_at_a_slot_boundary_with_skew_the_job_sees_its_own_slot(
    cluster: etcdlib.Cluster, node: Netns, tmp_path: Path
) -> None:
    """Two nodes, clocks 1.5 s fast and 1.5 s slow (faketime), both masters, started at a
    10 s boundary: one runs, and its job sees the boundary's slot, its key and its token."""
    faketime = "/usr/bin/faketime"
    if not os.path.exists(faketime):
        pytest.skip("faketime is not installed (apt-get install faketime)")
    other = cluster.client()
    other.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    for round_ in range(3):
        task = f"edge{os.getpid()}-{round_}"
        out = tmp_path / f"seen{round_}"
        boundary = (int(time.time()) // 10 + 1) * 10
        time.sleep(max(0.0, boundary - 0.2 - time.time()))
        procs = []
        for ns, shift in ((node, "+1.5"), (other, "-1.5")):
            argv = [faketime, "-f", shift, IF_MASTER, "--vip", VIP, "--task", task, "--every",
                    "10s", "--ledger", cluster.url(), "--ledger-timeout", "3", "--", "sh", "-c",
                    f'echo "$IF_MASTER_SLOT $IF_MASTER_LEDGER_KEY $IF_MASTER_FENCING_TOKEN"'
                    f" >> {out}"]  # fmt: skip
            procs.append(ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        results = [(p.wait(timeout=30), p.communicate()) for p in procs]
        assert [code for code, _ in results] == [0, 0], results
        (line,) = out.read_text().splitlines()
        slot, key, token = line.split()
        assert slot == iso(boundary), (line, results)
        assert key == f"/if-master/{task}/{slot}"
        fields = cluster.etcdctl(node, "get", key, "-w", "fields")
        assert f'"CreateRevision" : {token}\n' in fields


# -- a full etcd -------------------------------------------------------------------------------


def test_a_full_etcd_names_its_alarm_and_runs_nothing(tmp_path: Path) -> None:
    """A single member with a 1 MiB quota, filled: the claim is 125 with one line naming
    NOSPACE and its fix, nothing runs, --metrics-dir counts it under ledger_alarm; then the
    documented fix (delete, compact, defrag, disarm) lets the next claim run."""
    with etcdlib.solo(tmp_path / "solo", ["--quota-backend-bytes", str(1 << 20)]) as s:
        big = "x" * (100 << 10)  # an argument's limit is 128 KiB
        for i in range(30):
            try:
                s.etcdctl("put", f"/filler/{i}", big)
            except AssertionError as e:
                assert "database space exceeded" in str(e)
                break
        else:
            raise AssertionError(f"1 MiB quota not reached: {s.status()}")
        assert "alarm:NOSPACE" in s.etcdctl("alarm", "list")
        marker, metrics = tmp_path / "ran", tmp_path / "metrics"
        metrics.mkdir()
        s.ns.ip("addr", "add", "127.0.0.2/8", "dev", "lo")
        argv = [IF_MASTER, "--vip", "127.0.0.2", "--include-loopback", "--task", "full",
                "--every", "1d", "--max-late", "100000", "--ledger", s.url(),
                "--metrics-dir", str(metrics), "--", "touch", str(marker)]  # fmt: skip
        r = s.ns.run(argv, timeout=30)
        assert r.returncode == 125 and not marker.exists(), r
        assert r.stderr.count("\n") == 1, r.stderr
        for words in ("if-master: ledger: etcd's NOSPACE alarm is raised",
                      "etcdctl compact", "etcdctl defrag", "etcdctl alarm disarm"):  # fmt: skip
            assert words in r.stderr, r.stderr
        prom = (metrics / "if_master_full.prom").read_text()
        assert 'if_master_skips_total{task="full",reason="ledger_alarm"} 1' in prom, prom
        assert 'if_master_skips_total{task="full",reason="error"} 0' in prom, prom
        # The fix, as docs/ledger-retention.md gives it.
        s.etcdctl("del", "--prefix", "/filler/")
        s.etcdctl("compact", str(s.status()["header"]["revision"]))
        s.etcdctl("defrag")
        s.etcdctl("alarm", "disarm")
        r = s.ns.run(argv, timeout=30)
        assert r.returncode == 0 and marker.exists(), r.stderr


# -- the fencing recipe, against a real PostgreSQL ---------------------------------------------

RECIPE = Path(__file__).resolve().parents[2] / "examples" / "fencing" / "pg-fenced-update.sh"


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    """A PostgreSQL of our own on a Unix socket in a directory of ours (no TCP), as postgres;
    libpq's environment for it, the recipe's table created."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    bindir = bins[-1].parent
    # Not under tmp_path: pytest's directories are root's alone, and the server is not root.
    base = Path(tempfile.mkdtemp(prefix="ifm-pg-"))
    os.chmod(base, 0o755)
    subprocess.run(["chown", "postgres:", str(base)], check=True)
    as_pg = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    data = base / "data"
    opts = f"-c listen_addresses='' -c unix_socket_directories='{base}' -c fsync=off"
    try:
        subprocess.run([*as_pg, str(bindir / "initdb"), "-A", "trust", "-U", "postgres", "-D",
                        str(data)], check=True, capture_output=True, cwd=base)  # fmt: skip
        subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                        str(base / "log"), "-w", "start"], check=True, capture_output=True,
                       cwd=base)  # fmt: skip
    except subprocess.CalledProcessError as e:
        shutil.rmtree(base, ignore_errors=True)
        raise AssertionError(f"PostgreSQL did not start: {e.stderr!r}") from None
    env = {"PATH": "/usr/bin:/bin", "PGHOST": str(base), "PGUSER": "postgres",
           "PGDATABASE": "postgres"}  # fmt: skip
    try:
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        "CREATE TABLE nightly_report (name text PRIMARY KEY, fencing_token bigint"
                        " NOT NULL DEFAULT 0, slot text, body text);"
                        " INSERT INTO nightly_report (name) VALUES ('nightly');"],
                       check=True, env=env, capture_output=True)  # fmt: skip
        yield env
    finally:
        subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, cwd=base)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def _row(env: dict[str, str]) -> list[str]:
    out = subprocess.run(["psql", "-X", "-t", "-A", "-c",
                          "SELECT fencing_token, slot FROM nightly_report"],
                         check=True, env=env, capture_output=True, text=True).stdout  # fmt: skip
    return out.strip().split("|")


def test_the_fencing_recipe_refuses_a_stale_writer(
    cluster: etcdlib.Cluster, node: Netns, postgres: dict[str, str]
) -> None:
    """docs/ledger-retention.md's recipe as shipped: the guarded job writes its token; a run
    holding an older token (one that stalled past it) changes nothing and exits 75."""
    task = f"fenced{os.getpid()}"
    r = guard(node, cluster, task, "--max-late", "100000", job=[str(RECIPE)], env=postgres)
    assert r.returncode == 0, r.stderr
    slot = slot_for(Every("1d"), time.time(), max_late=None).iso
    token, written = _row(postgres)
    key = f"/if-master/{task}/{slot}"
    assert f'"CreateRevision" : {token}\n' in cluster.etcdctl(node, "get", key, "-w", "fields")
    assert written == slot
    stale = {**postgres, "IF_MASTER_FENCING_TOKEN": str(int(token) - 1),
             "IF_MASTER_SLOT": "2000-01-01T00:00:00Z"}  # fmt: skip
    r2 = subprocess.run([str(RECIPE)], env=stale, capture_output=True, text=True)
    assert r2.returncode == 75 and "stale run" in r2.stderr, r2
    assert _row(postgres) == [token, slot]
    # A later claim (any task, any node of this cluster) has a larger token: it writes.
    later = guard(node, cluster, f"{task}b", "--max-late", "100000", job=[str(RECIPE)],
                  env=postgres)  # fmt: skip
    assert later.returncode == 0, later.stderr
    assert int(_row(postgres)[0]) > int(token)
