"""The systemd examples under a live systemd: PID 1 of its own namespaces, one per node.

Each node is a ``tests.support.systemdlib`` container in a network namespace of its own; the
master's namespace holds the VIP. The units are the examples as shipped, with only the paths
(the installed console script under test; stand-ins for ``/usr/local/bin/*.sh``, which log to
the node's directory) and the schedule (every 3 s instead of 02:00, ``AccuracySec=`` 10 ms
instead of systemd's default minute) adapted. The outcomes are read from systemd itself
(``systemctl show``), from the journal inside the container (journald runs there) and from
what the stand-in jobs wrote.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, Netns, NetnsFactory, veth
from tests.support.opslib import EXAMPLES, INSTALLED
from tests.support.systemdlib import DIST_UNITS, Container, live_systemd, require_live_systemd

pytestmark = [pytest.mark.netns, pytest.mark.slow]

VIP = "10.0.0.100"
BAD_VIP = "10.0.0.1OO"
#: Every 3 s: faster would hit systemd's default start limit (5 starts in 10 s).
SCHEDULE = "OnCalendar=*:*:0/3\nAccuracySec=10ms"
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
# second to "clean up" and then dies by SIGTERM, as a well-behaved job does (``on_term``).
DIE = "trap - TERM; kill -TERM $$"
LONG_JOB_SH = """\
#!/bin/sh
echo $$ > {dir}/job.pid
( setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {dir}/daemon.pid )
trap 'echo TERM >> {dir}/job.log; sleep 1; {on_term}' TERM
echo started >> {dir}/job.log
sleep 1000 &
wait $!
"""


def node_units(workdir: Path, vip: str = VIP) -> dict[str, str]:
    """The three example units, adapted, and their stand-in programs in workdir/bin."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("backup.sh", BACKUP_SH), ("long-job.sh", LONG_JOB_SH)):
        (bin_dir / name).write_text(text.format(dir=workdir, node=workdir.name, on_term=DIE))
        (bin_dir / name).chmod(0o755)
    return {
        BACKUP: adapt(example(BACKUP), bin_dir, vip=vip),
        TIMER: adapt(example(TIMER), bin_dir, SCHEDULE, vip=vip),
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
    master.ip("addr", "add", "10.0.0.1/24", "dev", "eth0")
    other.ip("addr", "add", "10.0.0.2/24", "dev", "eth0")
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
    *,
    extra: dict[str, str] | None = None,
    enable_extra: Sequence[str] = (),
    files: Mapping[str, str] | None = None,
    vip: str = VIP,
) -> Container:
    """A booted node with the example units (adapted), torn down with ``stack``."""
    units = {**node_units(workdir, vip=vip), KEEP: KEEP_UNIT, **(extra or {})}
    node = live_systemd(ns, workdir, units, name=name, enable=[KEEP, *enable_extra], files=files)
    return stack.enter_context(node)


def inactive(node: Container, unit: str) -> bool:
    return node.show(unit, "ActiveState")["ActiveState"] in ("inactive", "failed")


def outcome(node: Container, unit: str) -> dict[str, str]:
    return node.show(unit, "Result", "ActiveState", "ExecMainStatus")


def wait_finished(node: Container) -> None:
    """Until the backup service is not running (a firing may be under way)."""
    node.wait_for("backup finished", lambda: inactive(node, BACKUP))


def stop_timers(nodes: Iterable[Container]) -> None:
    for node in nodes:
        node.systemctl("stop", TIMER)
        wait_finished(node)


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
    a.wait_for("3 backup runs", lambda: len(runs(a.workdir)) >= 3, timeout=60)
    b.wait_for("3 skips", lambda: b.journal(BACKUP).count("if-master: not master") >= 3, timeout=60)
    stop_timers([a, b])
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
    (line,) = [x for x in example(BACKUP).splitlines() if x.startswith("ExecCondition=")]
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
    reasons = [x for x in journal if x.startswith("if-master: ")]
    assert len(reasons) == 1 and reasons[0].startswith("if-master: Invalid value for '--vip'")
    assert f"{BACKUP}: Skipped due to 'exec-condition'." in journal

    (alt,) = [x[4:] for x in example(BACKUP).splitlines() if x.startswith("#   ExecCondition=")]
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
    # if-master, its sentinel (which SIGKILLs the job's group should if-master be killed
    # outright), the job, its sleep and the daemon, all in the unit's cgroup
    a.wait_for("5 processes", lambda: len(a.cgroup_procs(LONG_JOB)) == 5)
    assert inner_alive(a, job) and inner_alive(a, daemon)
    master_ns.ip("addr", "del", f"{VIP}/32", "dev", "eth0")
    a.wait_for("job stopped", lambda: inactive(a, LONG_JOB))
    assert main_exit(a, LONG_JOB) == KILLED_BY_TERM
    assert not is_failed(a, LONG_JOB)
    journal = a.journal(LONG_JOB)
    assert any(x.startswith(f"if-master: lost VIP {VIP} after ") for x in journal), journal
    assert f"{LONG_JOB}: Deactivated successfully." in journal
    # The job ran its SIGTERM handler once (if-master signals the group, then only the
    # descendants that left it), and nothing is left: not the job, not the double-forked
    # daemon, nothing in the unit's cgroup.
    assert job_log.read_text().splitlines() == ["started", "TERM"]
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

    # A job that exits 143 on SIGTERM instead of dying by it fails the unit on a VIP loss,
    # unless 143 is declared a success.
    (a.workdir / "bin" / "long-job.sh").write_text(
        LONG_JOB_SH.format(dir=a.workdir, node="a", on_term="exit 143")
    )
    for dropin in ("", "[Service]\nSuccessExitStatus=143\n"):
        if dropin:
            conf = a.units / f"{LONG_JOB}.d" / "success.conf"
            conf.parent.mkdir()
            conf.write_text(dropin)
            a.daemon_reload()
        job_log.unlink()
        a.systemctl("start", LONG_JOB)
        a.wait_for("job started", lambda: job_log.exists())
        master_ns.ip("addr", "del", f"{VIP}/32", "dev", "eth0")
        a.wait_for("job stopped", lambda: inactive(a, LONG_JOB))
        master_ns.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
        exited = {"ExecMainCode": "1", "ExecMainStatus": "143"}
        if dropin:
            assert main_exit(a, LONG_JOB) == {
                "Result": "success",
                "ActiveState": "inactive",
                **exited,
            }
        else:
            assert main_exit(a, LONG_JOB) == {
                "Result": "exit-code",
                "ActiveState": "failed",
                **exited,
            }
        assert a.cgroup_procs(LONG_JOB) == []


def calendar(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def schedule_once(nodes: Sequence[Container], lead: float = 3.0) -> float:
    """Rewrite every node's timer to fire once, ``lead`` s from now (a whole second); when."""
    due = float(int(time.time() + lead) + 1)
    for node in nodes:
        timer = node.units / TIMER
        timer.write_text(
            adapt(example(TIMER), node.workdir / "bin", f"OnCalendar={calendar(due)}\n"
                  "AccuracySec=10ms\nPersistent=true")
        )  # fmt: skip
    return due


def move_vip(src: Netns, dst: Netns) -> None:
    src.ip("addr", "del", f"{VIP}/32", "dev", "eth0")
    dst.ip("addr", "add", f"{VIP}/32", "dev", "eth0")


def wait_until(when: float) -> None:
    time.sleep(max(0.0, when - time.time()))


def test_persistent_catch_up_runs_on_whoever_is_master_at_boot(
    two_nodes: tuple[Netns, Netns], stack: ExitStack, tmp_path: Path
) -> None:
    """Persistent=true (not shipped): a missed firing catches up at boot on every node.

    1. Both nodes down at the due time, VIP moved from a to b meanwhile: at boot both fire,
       the job runs once, on b (the master at boot, not a, the master at the due time).
    2. Only b down at the due time: a runs it then; the VIP moves to b, b boots and catches
       up: the job has run twice for one due time. Hence the shipped timer has no Persistent=.
    """
    ns_a, ns_b = two_nodes
    a = boot(stack, ns_a, tmp_path / "a", "a")
    b = boot(stack, ns_b, tmp_path / "b", "b")
    schedule_once([a, b], lead=3600)
    for node in (a, b):
        node.daemon_reload()
        node.systemctl("enable", "--now", TIMER)  # its stamp file: "last triggered now"
    for node in (a, b):
        assert node.show(TIMER, "ActiveState") == {"ActiveState": "active"}
        node.kill()  # power cut
    # The due time falls in the downtime, after the stamp, whatever the machine's speed: the
    # timer is rescheduled while the nodes are down (only the stamp persists anyway).
    due = schedule_once([a, b], lead=0.5)
    move_vip(ns_a, ns_b)  # failover during the downtime
    wait_until(due + 1)
    booted = time.time()
    for node in (a, b):
        node.start()  # the timer is enabled (timers.target.wants): it starts at boot
    b.wait_for("b's catch-up run", lambda: len(runs(b.workdir)) == 1)
    a.wait_for("a's catch-up skip", lambda: "if-master: not master" in a.journal(BACKUP))
    for node in (a, b):
        wait_finished(node)
        assert node.show(TIMER, "LastTriggerUSec")["LastTriggerUSec"] not in ("", "n/a")
    assert runs(a.workdir) == []
    ((stamp, _),) = runs(b.workdir)
    assert stamp > booted  # at boot, not at the due time
    assert outcome(a, BACKUP)["Result"] == "exec-condition"
    assert outcome(b, BACKUP)["Result"] == "success"

    # 2. Only b is down at the due time.
    move_vip(ns_b, ns_a)
    b.kill()
    due = schedule_once([a, b])
    a.daemon_reload()
    a.systemctl("restart", TIMER)  # an elapsed one-shot timer stays elapsed across a reload
    a.wait_for("a's run at the due time", lambda: len(runs(a.workdir)) == 1)
    ((ran_a, _),) = runs(a.workdir)
    assert ran_a >= due  # on time (or caught up at once on a machine slower than the lead)
    move_vip(ns_a, ns_b)
    b.start()
    b.wait_for("b's catch-up run", lambda: len(runs(b.workdir)) == 2)
    assert runs(b.workdir)[1][0] > ran_a  # the same due time, run a second time
    assert len(runs(a.workdir)) == 1


KEEPALIVED = "keepalived.service"


@pytest.mark.cluster
def test_keepalived_failover_moves_the_timer_runs(
    netns_factory: NetnsFactory, stack: ExitStack, tmp_path: Path
) -> None:
    """keepalived.service (Debian's unit) in each container; SIGTERM of the master's moves the VIP.

    The next firings run on the new master only, and no firing runs on both nodes.
    """
    from tests.support.lab import Lab, require_keepalived

    require_keepalived()
    lab = Lab(netns_factory, tmp_path, 2)
    nodes: dict[str, Container] = {}
    for member in lab.nodes:
        nodes[member.name] = boot(
            stack,
            member.ns,
            tmp_path / member.name,
            member.name,
            extra={KEEPALIVED: (DIST_UNITS / KEEPALIVED).read_text()},
            vip=lab.vip,
            enable_extra=[KEEPALIVED],
            files={
                "/etc/keepalived/keepalived.conf": lab.config(lab, member),
                # -P VRRP only; -l -D: log to the console, i.e. the journal
                "/etc/default/keepalived": 'DAEMON_ARGS="-P -l -D"\n',
            },
        )
    # The first node up may win the first election; the higher priority then preempts it.
    winner = max(lab.nodes, key=lambda n: n.priority).name
    lab.wait_holders(lambda h: set(h) == {winner}, "election", timeout=30)
    old = nodes[winner]
    new = next(n for n in nodes.values() if n is not old)
    for node in nodes.values():
        node.systemctl("enable", "--now", TIMER)
    old.wait_for("2 runs on the master", lambda: len(runs(old.workdir)) >= 2, timeout=60)
    # Stopped right after a run, so the failover (about 1 s) ends before the next firing: a
    # firing *during* a failover may run on both nodes, the race --min-hold is for.
    t_stop = time.time()
    old.systemctl("stop", KEEPALIVED)  # SIGTERM: it announces priority 0
    lab.wait_holders(lambda h: set(h) == {new.name}, "failover", timeout=20)
    t_moved = time.time()
    new.wait_for(
        "2 runs on the new master",
        lambda: len([t for t, _ in runs(new.workdir) if t > t_moved]) >= 2,
        timeout=60,
    )
    stop_timers(nodes.values())
    ran_old, ran_new = runs(old.workdir), runs(new.workdir)
    assert all(t < t_moved for t, _ in ran_old), (ran_old, t_moved)
    assert all(t > t_stop for t, _ in ran_new), (ran_new, t_stop)
    # Firings are 3 s apart and simultaneous on both nodes: none ran on both.
    assert all(abs(t1 - t2) > 1 for t1, _ in ran_old for t2, _ in ran_new), (ran_old, ran_new)
    skipped = old.journal(BACKUP, since=t_moved)
    assert skipped.count("if-master: not master") >= 2, skipped
    assert any(
        x.endswith("(VI_1) Entering MASTER STATE") for x in new.journal(KEEPALIVED, since=t_stop)
    )
    old.wait_for("keepalived stopped", lambda: inactive(old, KEEPALIVED))
    print(f"\nruns: old master {ran_old}, new master {ran_new}, failover {t_moved - t_stop:.2f} s")
