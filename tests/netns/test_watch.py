"""supervise() and the netlink module against a real kernel, inside throw-away namespaces.

supervise() is driven by tests/support/watch_driver.py (run in the namespace with ``ip netns
exec``, which execs, so the Popen pid is the supervisor itself) until the CLI wires it up.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.netnslib import Netns, NetnsFactory, unique_name

pytestmark = pytest.mark.netns

DRIVER = str(Path(__file__).resolve().parents[1] / "support" / "watch_driver.py")
VIP = "10.0.0.100"


class Box:
    """A namespace holding one veth end that carries the VIP."""

    def __init__(self, ns: Netns, dev: str, tmp: Path) -> None:
        self.ns, self.dev, self.tmp = ns, dev, tmp

    def start(
        self, cmd: list[str], grace: float = 1.0, vip: str = VIP, **kw: object
    ) -> subprocess.Popen[str]:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        argv = [sys.executable, DRIVER, vip, str(grace), "5", *cmd]
        return self.ns.popen(argv, cwd=self.tmp, **kw)

    def drop_vip(self) -> float:
        """Delete the VIP; return the monotonic time just before."""
        t0 = time.monotonic()
        self.ns.ip("addr", "del", f"{VIP}/24", "dev", self.dev)
        return t0

    def python(self, code: str) -> str:
        """Run Python code in the namespace; return its stdout."""
        proc = self.ns.run([sys.executable, "-c", textwrap.dedent(code)], cwd=self.tmp)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


@pytest.fixture
def box(netns_factory: NetnsFactory, tmp_path: Path) -> Iterator[Box]:
    ns = netns_factory("ifw")
    dev, peer = unique_name("vw"), unique_name("vw")
    ns.ip("link", "add", dev, "type", "veth", "peer", "name", peer)
    ns.ip("link", "set", dev, "up")
    ns.ip("addr", "add", f"{VIP}/24", "dev", dev)
    yield Box(ns, dev, tmp_path)


def wait_for(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def named(proc: psutil.Process) -> str:
    """The process's name, or "" once it is gone (a short-lived helper may exit mid-scan)."""
    try:
        return proc.name()
    except psutil.NoSuchProcess:
        return ""


def sleeps(pid: int) -> list[psutil.Process]:
    return [p for p in descendants(pid) if named(p) == "sleep"]


def running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (False too when it exits while we look)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(box: Box, procs: list[psutil.Process]) -> None:
    assert not [p for p in procs if running(p)]
    assert box.ns.pids() == []


def test_vip_loss_stops_command_and_grandchildren(box: Box) -> None:
    proc = box.start(["sh", "-c", "sleep 300 & sleep 300"])
    wait_for(lambda: len(sleeps(proc.pid)) == 2)
    tree = descendants(proc.pid)
    t0 = box.drop_vip()
    _out, err = proc.communicate(timeout=5)
    elapsed = time.monotonic() - t0
    assert elapsed < 1.0
    assert proc.returncode == -signal.SIGTERM  # the shell died of SIGTERM: so does if-master
    assert err.startswith(f"if-master: lost VIP {VIP} after 0.")
    assert_all_gone(box, tree)


def test_vip_loss_sends_one_sigterm_to_each_process(box: Box) -> None:
    """The group gets SIGTERM once; only what left the group gets it on its own."""
    log = box.tmp / "terms"
    script = (
        f"trap 'echo sh >> {log}; exit 0' TERM; "
        f"setsid sh -c 'trap \"echo daemon >> {log}; exit 0\" TERM; sleep 300 & wait' & "
        "sleep 300 & wait"
    )
    proc = box.start(["sh", "-c", script])
    wait_for(lambda: len(sleeps(proc.pid)) == 2)
    box.drop_vip()
    proc.communicate(timeout=5)
    wait_for(lambda: sorted(log.read_text().split()) == ["daemon", "sh"] if log.exists() else False)
    time.sleep(0.3)  # a second SIGTERM, if any, would have been written by now
    assert sorted(log.read_text().split()) == ["daemon", "sh"]


def test_vip_loss_kills_after_grace_when_term_is_ignored(box: Box) -> None:
    # trap "" TERM: the shell and the sleeps it starts all ignore SIGTERM.
    proc = box.start(["sh", "-c", "trap '' TERM; sleep 300 & sleep 300"], grace=1.0)
    wait_for(lambda: len(sleeps(proc.pid)) == 2)
    tree = descendants(proc.pid)
    t0 = box.drop_vip()
    _out, err = proc.communicate(timeout=5)
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed < 2.0
    assert proc.returncode == -signal.SIGKILL
    assert_all_gone(box, tree)


def test_vip_loss_ends_a_double_forked_daemon(box: Box) -> None:
    proc = box.start(["sh", "-c", "(setsid sleep 300 &) ; sleep 300"])
    wait_for(lambda: len(sleeps(proc.pid)) == 2)
    tree = descendants(proc.pid)
    # The daemon left the command's session and group, and was adopted by the supervisor.
    daemon = [p for p in sleeps(proc.pid) if p.ppid() == proc.pid]
    assert len(daemon) == 1
    [shell] = [p for p in psutil.Process(proc.pid).children() if named(p) == "sh"]
    assert os.getpgid(daemon[0].pid) != os.getpgid(shell.pid)
    box.drop_vip()
    proc.communicate(timeout=5)
    assert proc.returncode == -signal.SIGTERM
    assert_all_gone(box, tree)


def test_delay_from_vip_deletion_to_sigterm(box: Box) -> None:
    child = (
        "import os, signal, time\n"
        "def on_term(*_):\n"
        "    open('term', 'w').write(repr(time.monotonic())); os._exit(0)\n"
        "signal.signal(signal.SIGTERM, on_term)\n"
        "open('ready', 'w').close()\n"
        "while True: signal.pause()\n"
    )
    proc = box.start([sys.executable, "-c", child])
    wait_for(lambda: (box.tmp / "ready").exists())
    t0 = box.drop_vip()
    proc.communicate(timeout=5)
    delay = float((box.tmp / "term").read_text()) - t0
    assert proc.returncode == 0
    assert 0 < delay < 0.5, delay
    print(f"VIP deleted -> SIGTERM received: {delay * 1000:.1f} ms (incl. `ip addr del`)")


@pytest.mark.parametrize("code", [0, 3, 255])
def test_exit_status_is_the_commands(box: Box, code: int) -> None:
    proc = box.start(["sh", "-c", f"exit {code}"])
    _out, err = proc.communicate(timeout=5)
    assert proc.returncode == code
    assert err == ""
    assert box.ns.pids() == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGQUIT])
def test_death_by_signal_is_reraised(box: Box, sig: signal.Signals) -> None:
    proc = box.start(["sh", "-c", f"kill -{sig.name[3:]} $$"])
    _out, err = proc.communicate(timeout=5)
    assert proc.returncode == -sig, err
    assert err == ""
    assert not list(box.tmp.glob("core*"))  # no core of the supervisor for SIGQUIT


def test_usr1_is_forwarded(box: Box) -> None:
    script = "trap 'echo got-usr1; exit 7' USR1; touch ready; sleep 300 & wait"
    proc = box.start(["sh", "-c", script])
    wait_for(lambda: (box.tmp / "ready").exists() and len(sleeps(proc.pid)) == 1)
    proc.send_signal(signal.SIGUSR1)
    out, _err = proc.communicate(timeout=5)
    assert out == "got-usr1\n"
    assert proc.returncode == 7
    assert box.ns.pids() == []  # the group got it: the background sleep died too


def test_term_is_forwarded(box: Box) -> None:
    proc = box.start(["sh", "-c", "touch ready; sleep 300 & wait"])
    wait_for(lambda: (box.tmp / "ready").exists() and len(sleeps(proc.pid)) == 1)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=5)
    assert proc.returncode == -signal.SIGTERM
    assert err == ""
    assert box.ns.pids() == []


def test_missing_command_is_127(box: Box) -> None:
    proc = box.start(["if-master-no-such-command"])
    _out, err = proc.communicate(timeout=5)
    assert proc.returncode == 127
    assert err == "if-master: if-master-no-such-command: No such file or directory\n"
    assert box.ns.pids() == []


def test_non_executable_command_is_126(box: Box) -> None:
    script = box.tmp / "script"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o644)
    proc = box.start([str(script)])
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 126
    assert out == ""
    assert err == f"if-master: {script}: Permission denied\n"


def test_no_vip_at_start_runs_nothing(box: Box) -> None:
    proc = box.start(["touch", "ran"], vip="10.0.0.200")
    _out, err = proc.communicate(timeout=5)
    assert (proc.returncode, err) == (0, "")
    assert not (box.tmp / "ran").exists()


def test_stdio_is_inherited(box: Box) -> None:
    proc = box.start(["sh", "-c", 'read x; echo "out $x"; echo err >&2'], stdin=subprocess.PIPE)
    out, err = proc.communicate("hello\n", timeout=5)
    assert (proc.returncode, out, err) == (0, "out hello\n", "err\n")


def test_dump_age_for_min_hold(box: Box) -> None:
    box.ns.ip("addr", "add", "10.0.0.101/24", "dev", box.dev)
    code = """
        from ifmaster.netlink import age_seconds, dump_addresses, now_centiseconds
        [a] = [a for a in dump_addresses() if a.text == "10.0.0.101"]
        print(age_seconds(a.cstamp, now_centiseconds()))
    """
    assert float(box.python(code)) < 1.0
    time.sleep(1.1)
    assert float(box.python(code)) >= 1.0


def test_events_report_changes_and_overflow(box: Box) -> None:
    out = box.python(f"""
        import select, socket, subprocess
        from ifmaster.netlink import AddressEvents, Overflow

        def ip(*args):
            subprocess.run(["ip", *args], check=True)

        with AddressEvents() as ev:
            print("idle", ev.drain())
            ip("addr", "add", "fd00::5/64", "dev", "{box.dev}", "nodad")
            index = socket.if_nametoindex("{box.dev}")
            ready = bool(select.select([ev], [], [], 2)[0])
            events = ev.drain()
            print("ready", ready, (20, index, socket.inet_pton(10, "fd00::5")) in events)
            print("after", ev.drain())
            # A tiny receive buffer and a burst of changes: the kernel must drop some.
            ev._sock.setsockopt(1, 8, 1)  # SOL_SOCKET, SO_RCVBUF: clamped to the minimum
            batch = "".join(f"addr add 10.0.1.{{i}}/32 dev {box.dev}\\n" for i in range(1, 200))
            subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True)
            try:
                ev.drain()
                print("overflow", False)
            except Overflow:
                print("overflow", True)
            print("after", ev.drain())
    """)
    assert out.split("\n") == [
        "idle []",
        "ready True True",
        "after []",
        "overflow True",
        "after []",
        "",
    ]


def test_recheck_timer_catches_what_no_event_reports(box: Box) -> None:
    held = box.tmp / "held"
    held.touch()
    argv = [sys.executable, DRIVER, f"@{held}", "1", "0.2", "sleep", "300"]
    proc = box.ns.popen(argv, cwd=box.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: len(sleeps(proc.pid)) == 1)
    t0 = time.monotonic()
    held.unlink()
    _out, err = proc.communicate(timeout=5)
    assert time.monotonic() - t0 < 0.2 + 0.5
    assert proc.returncode == -signal.SIGTERM
    assert err.startswith("if-master: lost VIP 10.255.255.1 after")


def sig_ignored(status: str) -> set[int]:
    """Signals in the SigIgn mask of a /proc/PID/status text."""
    [line] = [ln for ln in status.splitlines() if ln.startswith("SigIgn:")]
    mask = int(line.split()[1], 16)
    return {n for n in range(1, 65) if mask & (1 << (n - 1))}


def test_signal_dispositions_are_as_through_exec(box: Box) -> None:
    # Started under nohup-like SIGHUP ignoring: the command must inherit that. SIGPIPE and
    # SIGXFSZ, which Python ignores for itself, must be back to their defaults.
    proc = box.start(
        ["cat", "/proc/self/status"],
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    out, err = proc.communicate(timeout=5)
    assert (proc.returncode, err) == (0, "")
    ignored = sig_ignored(out)
    assert signal.SIGHUP in ignored
    assert signal.SIGPIPE not in ignored and signal.SIGXFSZ not in ignored


def start(
    box: Box, *opts: str, cmd: list[str], recheck: str = "300", **kw: object
) -> subprocess.Popen[str]:
    argv = [sys.executable, DRIVER, *opts, VIP, "1", recheck, *cmd]
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return box.ns.popen(argv, cwd=box.tmp, **kw)


def test_vip_lost_between_decision_and_start_stops_the_job(box: Box) -> None:
    # The race of the old supervisor: it made its own first check, found no VIP and exited 0
    # although the caller had already decided (and logged) "ran". Now the command starts on
    # the caller's verdict and the change, queued on the socket opened before it, stops it.
    proc = start(box, "--drop-before-start", box.dev, "--log-end", cmd=["sleep", "300"])
    _out, err = proc.communicate(timeout=5)
    assert proc.returncode == -signal.SIGTERM, err
    assert f"if-master: lost VIP {VIP} after 0.0 s" in err
    assert "ended: killed by SIGTERM after the VIP was lost (lost=True)" in err
    assert box.ns.pids() == []


def churn_script(dev: str, seconds: float) -> str:
    """Shell: unrelated addresses added/removed on `dev` and another link (veth) flapped."""
    return (
        "ip link add chd type veth peer name chd2; ip link set chd up;"
        f" end=$(( $(date +%s) + {seconds} ));"
        f" while [ $(date +%s) -lt $end ]; do"
        f" printf 'addr add 10.9.0.%s/32 dev {dev}\\n' $(seq 1 50) | ip -batch -;"
        f" printf 'addr del 10.9.0.%s/32 dev {dev}\\n' $(seq 1 50) | ip -batch -;"
        f" ip link set chd down; ip link set chd up; done; ip link del chd"
    )


def test_unrelated_churn_costs_no_recheck_and_the_loss_still_stops_the_job(box: Box) -> None:
    proc = start(box, "--count-checks", cmd=["sleep", "300"])
    wait_for(lambda: len(sleeps(proc.pid)) == 1)
    churn = box.ns.popen(["sh", "-c", churn_script(box.dev, 2)])
    try:
        assert churn.wait(timeout=30) == 0
        time.sleep(0.2)  # let the supervisor drain the last events
        assert proc.poll() is None
        # A change on the VIP's own link (another address) is a link-less address event:
        # no re-check either. Taking the VIP's link down is one.
        box.ns.ip("addr", "add", "10.9.1.1/32", "dev", box.dev)
        t0 = time.monotonic()
        box.ns.ip("link", "set", box.dev, "down")
        _out, err = proc.communicate(timeout=5)
    finally:
        churn.kill()
        churn.wait()
    assert time.monotonic() - t0 < 1.0
    assert proc.returncode == -signal.SIGTERM, err
    assert "if-master: checks 1\n" in err, err  # only the link-down event was re-checked
    assert box.ns.pids() == []


def test_vip_deleted_amid_churn(box: Box) -> None:
    proc = start(box, "--count-checks", cmd=["sleep", "300"])
    wait_for(lambda: len(sleeps(proc.pid)) == 1)
    churn = box.ns.popen(["sh", "-c", churn_script(box.dev, 3)])
    try:
        time.sleep(1)
        t0 = box.drop_vip()
        _out, err = proc.communicate(timeout=5)
        took = time.monotonic() - t0
    finally:
        churn.kill()
        churn.wait()
    assert took < 1.0
    assert proc.returncode == -signal.SIGTERM, err
    # The deletion, proven by a dump with no VIP in it: no full re-check was needed.
    assert "(no interface has it any more)" in err and "if-master: checks 0\n" in err, err


def test_overrun_forces_a_reread(box: Box) -> None:
    # A tiny receive buffer, the supervisor stopped while 250 events and the VIP's deletion
    # queue up: the kernel drops most, likely the deletion too; ENOBUFS must still lead
    # to a re-read (the timer is 300 s: it cannot be what notices). Checked by hand: with
    # the overrun ignored, the job runs on.
    proc = start(box, "--tiny-rcvbuf", "--count-checks", cmd=["sleep", "300"])
    wait_for(lambda: len(sleeps(proc.pid)) == 1)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        batch = "".join(f"addr add 10.9.2.{i}/32 dev {box.dev}\n" for i in range(1, 255))
        box.ns.run(["ip", "-batch", "-"], input=batch, check=True)
        box.drop_vip()
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    _out, err = proc.communicate(timeout=5)
    assert proc.returncode == -signal.SIGTERM, err
    assert "(no interface has it any more)" in err, err
    assert box.ns.pids() == []


def test_a_second_copy_elsewhere_keeps_the_job_running(box: Box) -> None:
    # The quick proof of a loss (no VIP in an address dump) must not fire while a copy
    # remains: then the full re-check decides, and says master.
    box.ns.ip("addr", "add", f"{VIP}/32", "dev", "lo")
    box.ns.ip("link", "set", "lo", "up")
    proc = start(box, "--count-checks", cmd=["sleep", "300"])
    wait_for(lambda: len(sleeps(proc.pid)) == 1)
    box.drop_vip()
    time.sleep(0.5)
    assert proc.poll() is None
    box.ns.ip("addr", "del", f"{VIP}/32", "dev", "lo")
    _out, err = proc.communicate(timeout=5)
    assert proc.returncode == -signal.SIGTERM, err
    assert "(no interface has it any more)" in err
    assert "if-master: checks 1\n" in err, err  # the first deletion's full re-check


def test_keepalived_exit_triggers_a_recheck(box: Box) -> None:
    # A process whose comm is "keepalived" (a copy of sleep) stands in for the daemon.
    fake = box.tmp / "keepalived"
    fake.write_bytes(Path("/bin/sleep").read_bytes())
    fake.chmod(0o755)
    daemon = box.ns.popen([str(fake), "300"])
    try:
        wait_for(lambda: daemon.pid in box.ns.pids() or len(box.ns.pids()) > 0)
        proc = start(box, "--keepalived", "--count-checks", cmd=["sleep", "300"])
        wait_for(lambda: len(sleeps(proc.pid)) == 1)
        assert proc.poll() is None
        t0 = time.monotonic()
        daemon.kill()
        _out, err = proc.communicate(timeout=5)
    finally:
        daemon.kill()
        daemon.wait()
    assert time.monotonic() - t0 < 1.0
    assert proc.returncode == -signal.SIGTERM, err
    assert "no live keepalived" in err


def test_a_failing_supervisor_kills_the_whole_tree_first(box: Box) -> None:
    script = "(setsid sleep 300 &); sleep 300 & sleep 300"
    proc = start(box, "--fail-on-check", "1", "--log-end", cmd=["sh", "-c", script])
    wait_for(lambda: len(sleeps(proc.pid)) == 3)
    tree = descendants(proc.pid)
    box.ns.ip("addr", "add", "10.0.0.100/32", "dev", "lo")  # a VIP event: a re-check, which fails
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 1  # the driver's traceback: act.py turns that into 125
    assert "RuntimeError: injected failure" in err
    assert "ended: killed by SIGKILL after if-master failed (RuntimeError)" in err
    assert_all_gone(box, tree)


def test_a_sigkilled_supervisor_takes_its_command_and_group_along(box: Box) -> None:
    # PR_SET_PDEATHSIG kills the command itself, the sentinel the rest of its process group.
    # What left the group (setsid) is beyond both: it survives, reparented (README).
    script = "(setsid sleep 302 &); sleep 300 & exec sleep 301"
    proc = start(
        box, cmd=["sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for(lambda: len(sleeps(proc.pid)) == 3)
    by_arg = {p.cmdline()[1]: p for p in sleeps(proc.pid)}
    proc.kill()
    proc.wait()

    wait_for(lambda: not running(by_arg["301"]) and not running(by_arg["300"]))
    assert running(by_arg["302"])
    by_arg["302"].kill()


def read_pty(fd: int, until: bytes, timeout: float = 10.0) -> bytes:
    """Read a pty master until `until` appears or the other side closes."""
    out = b""
    deadline = time.monotonic() + timeout
    while until not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {out!r}"
        if not select.select([fd], [], [], left)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    return out


def test_interactive_command_gets_the_terminal(box: Box) -> None:
    # pty.fork: a new session whose controlling terminal is the pty, the driver in its
    # foreground group. The command must be able to read it (not be stopped by SIGTTIN),
    # and the terminal must come back to the driver afterwards.
    argv = box.ns.exec_argv(
        [sys.executable, DRIVER, "--foreground", VIP, "1", "300"]
        + ["sh", "-c", 'read x; echo "got $x"; exit 4']
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once
        try:
            os.chdir(box.tmp)
            os.execvp(argv[0], argv)
        finally:
            os._exit(99)
    try:
        time.sleep(0.5)  # let the command reach `read` (typed input is buffered anyway)
        os.write(fd, b"hello\n")
        out = read_pty(fd, b"foreground back")
        out += read_pty(fd, b"\n", timeout=2)
        _pid, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    assert b"got hello" in out, out
    assert b"if-master: foreground back: True" in out, out
    assert os.WEXITSTATUS(status) == 4


def test_ctrl_z_stops_the_job_then_if_master_and_continuing_resumes_both(box: Box) -> None:
    argv = box.ns.exec_argv(
        [sys.executable, DRIVER, "--foreground", VIP, "1", "300"]
        + ["sh", "-c", 'touch ready; read x; echo "got $x"']
    )
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir(box.tmp)
            os.execvp(argv[0], argv)
        finally:
            os._exit(99)
    try:
        wait_for(lambda: (box.tmp / "ready").exists())
        os.write(fd, b"\x1a")  # Ctrl-Z: SIGTSTP to the foreground group, the job's
        # Like a shell's job, if-master then stops too (its parent shell would see that).
        wait_for(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED)
        os.kill(pid, signal.SIGCONT)  # what the shell's `fg` sends
        os.write(fd, b"hello\n")
        out = read_pty(fd, b"foreground back")
        out += read_pty(fd, b"\n", timeout=2)
        _pid, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    assert b"got hello" in out, out
    assert b"if-master: foreground back: True" in out, out
    assert os.WEXITSTATUS(status) == 0
