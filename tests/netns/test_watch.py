"""supervise() and the netlink module against a real kernel, inside throw-away namespaces.

supervise() is driven by watch_driver.py (run in the namespace with ``ip netns exec``, which
execs, so the Popen pid is the supervisor itself) until the CLI wires it up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.netnslib import Netns, NetnsFactory, unique_name

pytestmark = pytest.mark.netns

DRIVER = str(Path(__file__).with_name("watch_driver.py"))
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


def sleeps(pid: int) -> list[psutil.Process]:
    return [p for p in descendants(pid) if p.name() == "sleep"]


def assert_all_gone(box: Box, procs: list[psutil.Process]) -> None:
    assert not [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
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
    [shell] = [p for p in psutil.Process(proc.pid).children() if p.name() == "sh"]
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
