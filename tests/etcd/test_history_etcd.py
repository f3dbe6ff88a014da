"""--history, --status and --release against a real 3-member etcd, after real guarded runs.

One task runs over many two-second slots through the installed console script: successes,
a failure, a slot nobody claims (missed), a job SIGKILLed together with its guard (died),
a job still running. The views must show each exactly; --json round-trips; --release
deletes exactly one key and refuses a claim that changed; the exit statuses and the
textfile are the monitoring contract.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import etcdlib
from tests.support.netnslib import IF_MASTER, Netns

pytestmark = [pytest.mark.netns, pytest.mark.etcd]

VIP = "10.77.0.250"
PERIOD = 2.0
TRANSCRIPTS = os.environ.get("IF_MASTER_TRANSCRIPTS")  # a directory: keep the views' output


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[etcdlib.Cluster]:
    with etcdlib.cluster(tmp_path_factory.mktemp("etcd")) as c:
        yield c


@pytest.fixture(scope="module")
def node(cluster: etcdlib.Cluster) -> Netns:
    ns = cluster.client()
    ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    return ns


def next_slot() -> float:
    """Sleep until just after the next slot boundary; that slot's Unix time."""
    now = time.time()
    t = (math.floor(now / PERIOD) + 1) * PERIOD
    time.sleep(t + 0.15 - now)
    return t


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _unix(slot: str) -> float:
    import calendar

    return float(calendar.timegm(time.strptime(slot, "%Y-%m-%dT%H:%M:%SZ")))


def guard(ns: Netns, url: str, task: str, script: str, *schedule: str) -> subprocess.Popen[str]:
    argv = [IF_MASTER, "--vip", VIP, "--task", task, *(schedule or ("--every", "2s")),
            "--node", "alpha", "--ledger", url, "--", "sh", "-c", script]  # fmt: skip
    return ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def view(
    ns: Netns, url: str, *args: str, name: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("NO_COLOR", None)
    r = ns.run([IF_MASTER, "--ledger", url, *args], env=env, timeout=30)
    assert "Traceback" not in r.stderr, r.stderr
    if TRANSCRIPTS and name:
        shown = " ".join(["if-master", "--ledger", "etcd://10.77.0.1:2379,.../if-master", *args])
        out = Path(TRANSCRIPTS) / f"{name}.txt"
        out.write_text(f"$ {shown}\n{r.stdout}{r.stderr}[exit {r.returncode}]\n")
    return r


def wait_for(what: str, cond: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def keys(cluster: etcdlib.Cluster, ns: Netns, prefix: str) -> list[str]:
    return cluster.etcdctl(ns, "get", "--prefix", "--keys-only", prefix).split()


@pytest.fixture(scope="module")
def runs(
    cluster: etcdlib.Cluster, node: Netns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The task ``backup`` over ten slots; its running job left running (killed after)."""
    tmp = tmp_path_factory.mktemp("runs")
    url = cluster.url()
    plan = ["ok", "ok", "failed", "missed", "ok", "ok", "died", "ok", "ok", "running"]
    slots: dict[str, str] = {}
    running: subprocess.Popen[str] | None = None
    try:
        for i, want in enumerate(plan):
            t = next_slot()
            slots[iso(t)] = want
            if want == "missed":
                continue
            if want in ("ok", "failed"):
                p = guard(node, url, "backup", "exit 0" if want == "ok" else "exit 3")
                out, err = p.communicate(timeout=PERIOD)
                assert p.returncode == (0 if want == "ok" else 3), err
                continue
            pidfile = tmp / f"job{i}"
            p = guard(node, url, "backup", f"echo $$ > {pidfile}; exec sleep 120")
            wait_for("the job", lambda f=pidfile: f.exists() and f.read_text().strip() != "")
            alive = f"/if-master/backup/{iso(t)}/alive"
            wait_for("its liveness record", lambda k=alive: k in keys(cluster, node, k))
            if want == "died":  # the job and its guard, SIGKILLed together
                os.kill(p.pid, signal.SIGKILL)
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
                p.communicate(timeout=10)
            else:
                running = p
        # The foreign value: another writer's bytes under a slot of ours.
        # (An odd second: no slot of --every 2s, so nothing the schedule says was due.)
        foreign = iso(min(map(_unix, slots)) - 1)
        cluster.etcdctl(node, "put", f"/if-master/backup/{foreign}", "not \x1b[2J json")
        # A second task whose every slot was ok, under its own prefix (for status 0): a
        # daily one, run now, hours after its slot (so late, unless just after 00:00 UTC).
        clean = cluster.url(prefix="clean")
        p = guard(node, clean, "report", "exit 0", "--every", "1d", "--max-late", "100000")
        p.communicate(timeout=30)
        assert p.returncode == 0
        # Long enough for the dead guard's lease (TTL 10 s) to expire: the slot then died.
        from ifmaster.ledger import history, liveness

        died_at = next(t for t, w in slots.items() if w == "died")
        wait_for(
            "the dead guard's lease to expire",
            lambda: (
                f"/if-master/backup/{died_at}/alive"
                not in keys(cluster, node, "/if-master/backup/")
            ),
            timeout=liveness.TTL + 5,
        )
        time.sleep(max(0.0, history.START_GRACE - (time.time() - _unix(died_at)) + 0.5))
        yield {"url": url, "clean": clean, "slots": slots, "foreign": foreign, "tmp": tmp}
    finally:
        if running is not None and running.poll() is None:
            running.kill()
            running.communicate(timeout=10)


def rows(r: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_history_shows_each_result_exactly(
    cluster: etcdlib.Cluster, node: Netns, runs: dict[str, Any]
) -> None:
    r = view(node, runs["url"], "--history", "backup", "--since", "1h", "--max-late", "3",
             "--json", "-n", "1000")  # fmt: skip
    assert r.returncode == 1, r.stderr  # a failed, a missed and a died slot
    got = {d["slot"]: d for d in rows(r)}
    for slot, want in runs["slots"].items():
        assert got[slot]["result"] == want, (slot, got[slot])
    foreign = got[runs["foreign"]]
    assert foreign["result"] == "foreign" and foreign["raw"] == "not \\x1b[2J json"
    # Beside ours: only the slots the schedule says were due and nobody claimed, before
    # the first (the window reaches back past it) and after the running one.
    ours = set(runs["slots"])
    for slot, d in got.items():
        if slot not in ours and slot != runs["foreign"]:
            assert d["result"] == "missed" and (slot > max(ours) or slot < min(ours)), d
    # The only liveness record left is the running job's: the others went with their
    # end record, or expired with their dead guard.
    running = next(s for s, w in runs["slots"].items() if w == "running")
    alive = [k for k in keys(cluster, node, "/if-master/backup/") if k.endswith("/alive")]
    assert alive == [f"/if-master/backup/{running}/alive"]
    failed = next(d for d in got.values() if d["status"] == 3)
    assert failed["node"] == "alpha" and failed["end"] and failed["fence"] > 0
    # The fence is the key's create_revision, as etcd itself says.
    raw = json.loads(
        cluster.etcdctl(node, "get", f"/if-master/backup/{failed['slot']}", "-w", "json")
    )
    assert int(raw["kvs"][0]["create_revision"]) == failed["fence"]


def test_the_end_record_takes_the_liveness_record_with_it(
    cluster: etcdlib.Cluster, node: Netns
) -> None:
    """One transaction writes the end and deletes ``.../alive``: no revision shows a run
    that ended well as neither ended nor alive (``died``), as a revoke before the end did."""
    t = next_slot()
    p = guard(node, cluster.url(), "tidy", "sleep 0.5")
    _, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    key = f"/if-master/tidy/{iso(t)}"
    kv = json.loads(cluster.etcdctl(node, "get", key, "-w", "json"))["kvs"][0]
    ended = int(kv["mod_revision"])
    assert json.loads(base64.b64decode(kv["value"]))["status"] == 0
    before = json.loads(cluster.etcdctl(node, "get", f"{key}/alive", f"--rev={ended - 1}", "-w",
                                        "json"))  # fmt: skip
    after = json.loads(cluster.etcdctl(node, "get", f"{key}/alive", f"--rev={ended}", "-w",
                                       "json"))  # fmt: skip
    assert before.get("kvs") and not after.get("kvs"), (before, after)


def test_json_round_trips(node: Netns, runs: dict[str, Any]) -> None:
    r = view(node, runs["url"], "--history", "backup", "--since", "1h", "--json")
    for line in r.stdout.splitlines():
        assert json.dumps(json.loads(line), sort_keys=True) == line
    r = view(node, runs["url"], "--status", "--since", "1h", "--json", name="status-json")
    for line in r.stdout.splitlines():
        assert json.dumps(json.loads(line), sort_keys=True) == line
    view(node, runs["url"], "--history", "backup", "--since", "1h", "--json", "-n", "2",
         "--node", "alpha", name="history-json")  # fmt: skip


def test_the_table_the_filters_and_the_timeline(node: Netns, runs: dict[str, Any]) -> None:
    r = view(node, runs["url"], "--history", "backup", "--since", "1h", "--max-late", "3",
             "-n", "12", name="history")  # fmt: skip
    lines = r.stdout.splitlines()
    assert r.returncode == 1 and lines[0].startswith("SLOT (UTC)")
    assert all(len(line) <= 80 for line in lines) and "\x1b" not in r.stdout
    assert len(lines) == 13
    for want in ("ok", "failed", "died", "running", "missed"):
        assert any(f" {want} " in f"{line} " for line in lines), want
    bad = view(node, runs["url"], "--history", "backup", "--since", "1h", "--max-late", "3",
               "--failed", "--json", name="history-failed")  # fmt: skip
    assert {d["result"] for d in rows(bad)} == {"failed", "missed", "died"}
    mine = view(node, runs["url"], "--history", "backup", "--since", "1h", "--node", "alpha",
                "--json")  # fmt: skip
    assert {d["node"] for d in rows(mine)} == {"alpha"}
    tl = view(node, runs["url"], "--history", "backup", "--since", "1h", "--max-late", "3",
              "--timeline", name="timeline")  # fmt: skip
    alpha = next(line for line in tl.stdout.splitlines() if line.startswith("alpha "))
    assert all(len(line) <= 80 for line in tl.stdout.splitlines())
    marks = alpha.split()[1]
    assert "F" in marks and "D" in marks and "R" in marks and "o" in marks
    nobody = next(line for line in tl.stdout.splitlines() if line.startswith("(nobody)"))
    assert "M" in nobody


def test_status_overview_exit_statuses_and_textfile(
    node: Netns, runs: dict[str, Any], tmp_path: Path
) -> None:
    r = view(node, runs["url"], "--status", "--since", "1h", "--max-late", "3", name="status")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["TASK", "LAST", "SLOT"]
    backup = next(line for line in lines if line.startswith("backup "))
    assert " alpha " in backup or " - " in backup
    j = {d["task"]: d for d in rows(view(node, runs["url"], "--status", "--since", "1h",
                                         "--max-late", "3", "--json"))}  # fmt: skip
    counts = j["backup"]["counts"]
    assert counts["ok"] == 6 and counts["failed"] == 1 and counts["died"] == 1
    assert counts["running"] == 1 and counts["missed"] >= 1
    # Every slot of the clean task ok: status 0, the monitoring contract.
    clean = view(node, runs["clean"], "--status", "--since", "2d", "--metrics-dir",
                 str(tmp_path), name="status-clean")  # fmt: skip
    assert clean.returncode == 0, clean.stdout + clean.stderr
    text = (tmp_path / "if-master-ledger.prom").read_text()
    assert "if_master_ledger_up 1" in text
    late = 'if_master_ledger_slots{result="late",task="report"} 1' in text
    assert late or 'if_master_ledger_slots{result="ok",task="report"} 1' in text
    assert 'if_master_ledger_last_success_timestamp_seconds{task="report"}' in text
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
    # The failing cluster's file, for the rules' tests.
    view(node, runs["url"], "--status", "--since", "1h", "--max-late", "3", "--metrics-dir",
         str(tmp_path))  # fmt: skip
    text = (tmp_path / "if-master-ledger.prom").read_text()
    if TRANSCRIPTS:
        (Path(TRANSCRIPTS) / "if-master-ledger.prom").write_text(text)
    assert 'if_master_ledger_slots{result="died",task="backup"} 1' in text
    assert 'if_master_ledger_slots{result="failed",task="backup"} 1' in text


def test_an_unreadable_ledger_is_125_naming_why(node: Netns, tmp_path: Path) -> None:
    dead = "etcd://10.77.0.99:2379/if-master"
    for args in (["--history", "backup"], ["--status"], ["--release", "backup", iso(0)]):
        r = view(node, dead, *args, "--ledger-timeout", "0.5")
        assert r.returncode == 125, r.stderr
        assert r.stderr.count("\n") == 1 and "10.77.0.99:2379" in r.stderr
    r = view(node, dead, "--status", "--ledger-timeout", "0.5", "--metrics-dir", str(tmp_path))
    assert r.returncode == 125
    assert "if_master_ledger_up 0" in (tmp_path / "if-master-ledger.prom").read_text()


def test_release_deletes_exactly_one_slot_and_refuses_a_changed_claim(
    cluster: etcdlib.Cluster, node: Netns, runs: dict[str, Any]
) -> None:
    died = next(s for s, w in runs["slots"].items() if w == "died")
    running = next(s for s, w in runs["slots"].items() if w == "running")
    before = keys(cluster, node, "/if-master/")
    r = view(node, runs["url"], "--release", "backup", running, name="release-running")
    assert r.returncode == 1 and "is running" in r.stdout
    r = view(node, runs["url"], "--release", "backup", died, name="release")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"releasing /if-master/backup/{died}: alpha (pid ")
    assert f"deleted /if-master/backup/{died}" in r.stdout
    after = keys(cluster, node, "/if-master/")
    assert set(before) - set(after) == {f"/if-master/backup/{died}"} and set(after) <= set(before)
    r = view(node, runs["url"], "--release", "backup", died)
    assert r.returncode == 1 and "nobody holds it" in r.stdout
    # The claim changes between what was shown and the delete: etcd's compare refuses.
    agent = cluster.agent(node)
    ok = next(s for s, w in runs["slots"].items() if w == "ok")
    shown = json.loads(cluster.etcdctl(node, "get", f"/if-master/backup/{ok}", "-w", "json"))
    old = int(shown["kvs"][0]["create_revision"])
    cluster.etcdctl(node, "del", f"/if-master/backup/{ok}")
    cluster.etcdctl(node, "put", f"/if-master/backup/{ok}", '{"node":"beta","start":"x","pid":1}')
    reply = agent.call({"op": "release", "url": runs["url"], "task": "backup", "slot": ok,
                        "revision": old})  # fmt: skip
    assert reply == {"ok": True, "released": False}
    assert f"/if-master/backup/{ok}" in keys(cluster, node, f"/if-master/backup/{ok}")


def test_shell_completion_names_the_ledgers_tasks(node: Netns, runs: dict[str, Any]) -> None:
    def complete(words: str, url: str) -> list[str]:
        env = {**os.environ, "_IF_MASTER_COMPLETE": "bash_complete", "IF_MASTER_LEDGER": url,
               "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}  # fmt: skip
        env.pop("IF_MASTER_VIP", None)
        r = node.run([IF_MASTER], env=env, timeout=30)
        assert r.returncode == 0, r.stderr
        return [line for line in r.stdout.splitlines() if line]

    assert complete("if-master --history b", runs["url"]) == ["plain,backup"]
    assert complete("if-master --history x", runs["url"]) == []
    # A ledger that does not answer: no names, quickly, and no error on the prompt.
    t = time.monotonic()
    assert complete("if-master --history b", "etcd://10.77.0.99:2379/if-master") == []
    assert time.monotonic() - t < 5
