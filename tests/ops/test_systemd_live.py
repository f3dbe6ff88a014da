"""The systemd examples under a live systemd: PID 1 of its own namespaces, one per node.

Each node is a ``tests.ops.systemdlib`` container in a network namespace of its own; the
master's namespace holds the VIP. The units are the examples as shipped, with only the paths
(the installed console script under test; stand-ins for ``/usr/local/bin/*.sh``, which log to
the node's directory) and the schedule (every 2 s instead of 02:00, ``AccuracySec=`` 10 ms
instead of systemd's default minute) adapted. The outcomes are read from systemd itself
(``systemctl show``), from the journal inside the container (journald runs there) and from
what the stand-in jobs wrote.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.netnslib import IF_MASTER, Netns, NetnsFactory, veth
from tests.ops.opslib import EXAMPLES, INSTALLED
from tests.ops.systemdlib import Container, live_systemd, require_live_systemd

pytestmark = [pytest.mark.netns, pytest.mark.slow]

VIP = "10.0.0.100"
BAD_VIP = "10.0.0.1OO"
SCHEDULE = "OnCalendar=*:*:0/2\nAccuracySec=10ms"
ONCALENDAR = "OnCalendar=*-*-* 02:00:00"
BACKUP = "if-master-backup.service"
TIMER = "if-master-backup.timer"
LONG_JOB = "if-master-long-job.service"


def example(name: str) -> str:
    return (EXAMPLES / "systemd" / name).read_text()


def adapt(text: str, bin_dir: Path, schedule: str | None = None, vip: str = VIP) -> str:
    """The example with its paths (and schedule, VIP) pointed at what this test runs."""
    text = text.replace(INSTALLED, IF_MASTER).replace("/usr/local/bin/", f"{bin_dir}/")
    if schedule is not None:
        assert text.count(ONCALENDAR) == 1, text
        text = text.replace(ONCALENDAR, schedule)
    return text.replace(VIP, vip)


BACKUP_SH = """\
#!/bin/sh
# Stand-in for backup.sh: one line per run.
echo "$(date +%s.%N) {node}" >> {dir}/backup.runs
"""

# Stand-in for long-job.sh: a double-forked daemon child (its own session, reparented to the
# supervisor), a background child in the job's group, and a SIGTERM handler that takes a
# second to "clean up" and then dies by SIGTERM, as a well-behaved job does.
LONG_JOB_SH = """\
#!/bin/sh
echo $$ > {dir}/job.pid
( setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {dir}/daemon.pid )
trap 'echo TERM >> {dir}/job.log; sleep 1; trap - TERM; kill -TERM $$' TERM
echo started >> {dir}/job.log
sleep 1000 &
wait $!
"""


def node_units(
    workdir: Path, schedule: str | None = SCHEDULE, vip: str = VIP, persistent: bool = False
) -> dict[str, str]:
    """The three example units, adapted, and their stand-in programs in workdir/bin."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("backup.sh", BACKUP_SH), ("long-job.sh", LONG_JOB_SH)):
        (bin_dir / name).write_text(text.format(dir=workdir, node=workdir.name))
        (bin_dir / name).chmod(0o755)
    if persistent:
        assert schedule is not None
        schedule += "\nPersistent=true"
    return {
        BACKUP: adapt(example(BACKUP), bin_dir, vip=vip),
        TIMER: adapt(example(TIMER), bin_dir, schedule, vip=vip),
        LONG_JOB: adapt(example(LONG_JOB), bin_dir, vip=vip),
    }


def runs(workdir: Path) -> list[tuple[float, str]]:
    path = workdir / "backup.runs"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stamp, node = line.split()
        out.append((float(stamp), node))
    return out


@pytest.fixture
def two_nodes(netns_factory: NetnsFactory) -> tuple[Netns, Netns]:
    """Two namespaces joined by a veth; the first holds the VIP."""
    require_live_systemd()
    master, other = netns_factory("ifsdm"), netns_factory("ifsdo")
    veth(master, "eth0", other, "eth0")
    master.ip("addr", "add", f"10.0.0.1/24", "dev", "eth0")
    other.ip("addr", "add", f"10.0.0.2/24", "dev", "eth0")
    master.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    return master, other


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as s:
        yield s


#: Test-only: systemd unloads an inactive unit nothing refers to, and ``systemctl show`` then
#: reports a fresh unit (Result=success, ExecMainStatus=0, whatever happened). This target,
#: active from boot, refers to the units under test (After= only: it starts nothing), so their
#: last Result= and exit status stay readable.
KEEP = "keep-results.target"
KEEP_UNIT = f"""\
[Unit]
Description=Keep the units under test loaded, for their results
After={BACKUP} {LONG_JOB}
"""


def boot(
    stack: ExitStack,
    ns: Netns,
    workdir: Path,
    name: str,
    extra: dict[str, str] | None = None,
    **kw: object,
) -> Container:
    units = {**node_units(workdir, **kw), KEEP: KEEP_UNIT, **(extra or {})}  # type: ignore[arg-type]
    return stack.enter_context(live_systemd(ns, workdir, units, name=name, enable=[KEEP]))


def inactive(node: Container, unit: str) -> bool:
    return node.show(unit, "ActiveState")["ActiveState"] in ("inactive", "failed")


def outcome(node: Container, unit: str) -> dict[str, str]:
    return node.show(unit, "Result", "ActiveState", "ExecMainStatus")


def is_failed(node: Container, unit: str) -> bool:
    return node.systemctl("is-failed", "--quiet", unit, check=False).returncode == 0


def test_backup_timer_runs_on_the_master_only(
    two_nodes: tuple[Netns, Netns], stack: ExitStack, tmp_path: Path
) -> None:
    """Timer firings every 2 s on two nodes: ExecStart= on the master, skipped elsewhere."""
    a = boot(stack, two_nodes[0], tmp_path / "a", "a")
    b = boot(stack, two_nodes[1], tmp_path / "b", "b")
    for node in (a, b):
        node.systemctl("enable", "--now", TIMER)  # as the timer's comment says
    a.wait_for("3 backup runs", lambda: len(runs(a.workdir)) >= 3, timeout=30)
    b.wait_for("3 skips", lambda: b.journal(BACKUP).count("if-master: not master") >= 3, timeout=30)
    for node in (a, b):
        node.systemctl("stop", TIMER)
        node.wait_for("backup finished", lambda n=node: inactive(n, BACKUP))  # type: ignore[misc]
    ran, journal_a, journal_b = runs(a.workdir), a.journal(BACKUP), b.journal(BACKUP)
    assert {node for _, node in ran} == {"a"} and runs(b.workdir) == []
    assert outcome(a, BACKUP) == {
        "Result": "success",
        "ActiveState": "inactive",
        "ExecMainStatus": "0",
    }
    assert outcome(b, BACKUP) == {
        "Result": "exec-condition",
        "ActiveState": "inactive",
        "ExecMainStatus": "0",
    }
    assert not is_failed(a, BACKUP) and not is_failed(b, BACKUP)
    # The journal, as the unit's comment says: -v's reason on every firing.
    assert journal_a.count(f"if-master: master: holds {VIP}") == len(ran)
    assert "if-master: not master" not in journal_a
    skips = journal_b.count("if-master: not master")
    assert journal_b.count(f"{BACKUP}: Skipped due to 'exec-condition'.") == skips >= 3
    assert f"if-master: master: holds {VIP}" not in journal_b


def test_bad_vip_skips_the_unit_or_fails_it_with_the_commented_variant(
    two_nodes: tuple[Netns, Netns], stack: ExitStack, tmp_path: Path
) -> None:
    """A bad --vip (125): skipped like a backup node; the commented variant fails the unit."""
    a = boot(stack, two_nodes[0], tmp_path / "a", "a")
    dropin = a.workdir / "units" / f"{BACKUP}.d" / "bad-vip.conf"
    dropin.parent.mkdir()
    (line,) = [l for l in example(BACKUP).splitlines() if l.startswith("ExecCondition=")]
    dropin.write_text(f"[Service]\nExecCondition=\n{adapt(line, a.workdir, vip=BAD_VIP)}\n")
    a.daemon_reload()
    r = a.systemctl("start", BACKUP, check=False)
    assert r.returncode == 0, r.stderr
    assert outcome(a, BACKUP) == {
        "Result": "exec-condition",
        "ActiveState": "inactive",
        "ExecMainStatus": "0",
    }
    assert not is_failed(a, BACKUP)
    journal = a.journal(BACKUP)
    reasons = [l for l in journal if l.startswith("if-master: ")]
    assert len(reasons) == 1 and reasons[0].startswith("if-master: Invalid value for '--vip'")
    assert f"{BACKUP}: Skipped due to 'exec-condition'." in journal

    (alt,) = [l[4:] for l in example(BACKUP).splitlines() if l.startswith("#   ExecCondition=")]
    dropin.write_text(f"[Service]\nExecCondition=\n{adapt(alt, a.workdir, vip=BAD_VIP)}\n")
    a.daemon_reload()
    r = a.systemctl("start", BACKUP, check=False)
    assert r.returncode != 0  # "Job for if-master-backup.service failed"
    assert outcome(a, BACKUP) == {
        "Result": "exit-code",
        "ActiveState": "failed",
        "ExecMainStatus": "0",
    }
    assert is_failed(a, BACKUP)  # so OnFailure= and failed-unit alerts fire
    journal = a.journal(BACKUP)
    assert f"{BACKUP}: Condition check process exited, code=exited, status=255/EXCEPTION" in journal
    assert f"{BACKUP}: Failed with result 'exit-code'." in journal
    assert runs(a.workdir) == []


def inner_alive(node: Container, pid: str) -> bool:
    """Whether container PID ``pid`` still exists (and is not a zombie) inside ``node``."""
    r = node.run(["sh", "-c", f"grep -q '^State:.*[^Z] (' /proc/{pid}/status"], check=False)
    return r.returncode == 0


def main_exit(node: Container, unit: str) -> dict[str, str]:
    return node.show(unit, "Result", "ActiveState", "ExecMainCode", "ExecMainStatus")


#: What systemd shows after if-master died by the job's SIGTERM: CLD_KILLED (2), signal 15,
#: which systemd counts as a clean exit: inactive, Result=success, not failed.
KILLED_BY_TERM = {
    "Result": "success",
    "ActiveState": "inactive",
    "ExecMainCode": "2",
    "ExecMainStatus": "15",
}


def test_long_job_runs_on_the_master_and_stops_with_the_vip(
    two_nodes: tuple[Netns, Netns], stack: ExitStack, tmp_path: Path
) -> None:
    """--watch under systemd: the job's whole tree ends when the VIP leaves, or on stop."""
    master_ns, _ = two_nodes
    a = boot(stack, two_nodes[0], tmp_path / "a", "a")
    b = boot(stack, two_nodes[1], tmp_path / "b", "b")
    # Not the master: nothing runs, if-master exits 0 at once, the unit ends inactive.
    b.systemctl("start", LONG_JOB)
    b.wait_for("long job done", lambda: inactive(b, LONG_JOB))
    assert main_exit(b, LONG_JOB) == {
        "Result": "success",
        "ActiveState": "inactive",
        "ExecMainCode": "1",  # CLD_EXITED
        "ExecMainStatus": "0",
    }
    assert not (b.workdir / "job.log").exists()

    job_log, daemon_pid = a.workdir / "job.log", a.workdir / "daemon.pid"
    a.systemctl("start", LONG_JOB)
    a.wait_for("job started", lambda: job_log.exists() and daemon_pid.exists())
    daemon = daemon_pid.read_text().strip()
    job = (a.workdir / "job.pid").read_text().strip()
    assert a.show(LONG_JOB, "SubState") == {"SubState": "running"}
    assert len(a.cgroup_procs(LONG_JOB)) == 4  # if-master, the job, its sleep, the daemon
    assert inner_alive(a, job) and inner_alive(a, daemon)
    master_ns.ip("addr", "del", f"{VIP}/32", "dev", "eth0")
    a.wait_for("job stopped", lambda: inactive(a, LONG_JOB))
    assert main_exit(a, LONG_JOB) == KILLED_BY_TERM
    assert not is_failed(a, LONG_JOB)
    journal = a.journal(LONG_JOB)
    assert any(l.startswith(f"if-master: lost VIP {VIP} after ") for l in journal), journal
    assert f"{LONG_JOB}: Deactivated successfully." in journal
    # The job ran its SIGTERM handler (if-master sends SIGTERM to the group and then to every
    # descendant, so a shell in the group gets it twice), and nothing is left: not the job,
    # not the double-forked daemon, nothing in the unit's cgroup.
    assert job_log.read_text().splitlines()[:2] == ["started", "TERM"]
    assert not inner_alive(a, job) and not inner_alive(a, daemon)
    assert a.cgroup_procs(LONG_JOB) == []

    # systemctl stop: SIGTERM to if-master only (KillMode=mixed), which forwards it to the
    # job; the job takes its second to clean up, well within TimeoutStopSec=; then systemd
    # SIGKILLs what is left in the cgroup (the double-forked daemon).
    master_ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    job_log.unlink()
    daemon_pid.unlink()
    a.systemctl("start", LONG_JOB)
    a.wait_for("job started", lambda: job_log.exists() and daemon_pid.exists())
    daemon = daemon_pid.read_text().strip()
    seen = len(a.journal(LONG_JOB))
    t0 = time.monotonic()
    a.systemctl("stop", LONG_JOB)
    took = time.monotonic() - t0
    assert took < 60, took  # TimeoutStopSec=5min would end in Result=timeout and SIGKILL
    assert main_exit(a, LONG_JOB) == KILLED_BY_TERM
    assert job_log.read_text().splitlines() == ["started", "TERM"]
    journal = a.journal(LONG_JOB)[seen:]
    assert f"{LONG_JOB}: Killing process {daemon} (sleep) with signal SIGKILL." in journal
    assert not inner_alive(a, daemon)
    assert a.cgroup_procs(LONG_JOB) == []
    print(f"\nsystemctl stop took {took:.2f} s")
