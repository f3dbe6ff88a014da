"""The /proc scan for --require-keepalived, on a fake /proc tree."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ifmaster import keepalived as k


def stat_line(pid: int, name: str, state: str) -> str:
    return f"{pid} ({name}) {state} 1 {pid} {pid} 0 -1 4194560 0 0 0 0\n"


class FakeProc:
    """A /proc look-alike. Namespaces are files; processes sharing one get hard links to it,
    so they share its inode exactly as /proc/PID/ns/net does."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "nsfs").mkdir()
        for ns in ("ours", "theirs"):
            (root / "nsfs" / ns).write_text("")
            (root / "nsfs" / f"{ns}-dev").write_text("")
        self.add(999, "python3", "R", "ours", name="self")
        self.mount_options("rw")

    def mount_options(self, options: str) -> None:
        """The super options of the proc mount, as /proc/self/mountinfo shows them."""
        line = f"22 1 0:5 / {self.root} rw,nosuid - proc proc {options}\n"
        root = "21 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        (self.root / "self" / "mountinfo").write_text(root + line)

    def add(self, pid: int, comm: str, state: str, ns: str, name: str | None = None) -> None:
        d = self.root / (name or str(pid))
        (d / "ns").mkdir(parents=True)
        (d / "net").mkdir()
        (d / "comm").write_text(comm + "\n")
        (d / "stat").write_text(stat_line(pid, comm, state))
        os.link(self.root / "nsfs" / ns, d / "ns" / "net")
        os.link(self.root / "nsfs" / f"{ns}-dev", d / "net" / "dev")

    @property
    def path(self) -> str:
        return str(self.root)


@pytest.fixture
def proc(tmp_path: Path) -> FakeProc:
    fake = FakeProc(tmp_path)
    (tmp_path / "sys").mkdir()  # a non-PID entry, as in the real /proc
    return fake


def test_process_state() -> None:
    assert k.process_state(stat_line(7, "keepalived", "S")) == "S"
    assert k.process_state("7 (a) b) c) Z 1 7 7\n") == "Z"  # a name holding ") "


@pytest.mark.parametrize(
    ("comm", "state", "live"),
    [
        (b"keepalived\n", "S", True),
        (b"keepalived\n", "R", True),
        (b"keepalived\n", "Z", False),
        (b"keepalived\n", "T", False),  # SIGSTOPped: sends no adverts either
        (b"keepalived_exp\n", "S", False),  # keepalived_exporter's truncated comm
        (b"bash\n", "S", False),
    ],
)
def test_is_live_keepalived(comm: bytes, state: str, live: bool) -> None:
    assert k.is_live_keepalived(comm, stat_line(1, comm.decode().strip(), state)) is live


def test_none(proc: FakeProc) -> None:
    proc.add(10, "bash", "S", "ours")
    assert k.keepalived_pids(proc.path) == []
    assert k.keepalived_pids(proc.path) == []


def test_ours_found_others_and_zombies_not(proc: FakeProc) -> None:
    proc.add(10, "keepalived", "S", "ours")
    proc.add(11, "keepalived", "S", "ours")  # its VRRP child
    proc.add(20, "keepalived", "S", "theirs")
    proc.add(30, "keepalived", "Z", "ours")
    assert k.keepalived_pids(proc.path) == [10, 11]
    assert k.keepalived_pids(proc.path)


def test_only_in_another_namespace(proc: FakeProc) -> None:
    proc.add(20, "keepalived", "S", "theirs")
    assert k.keepalived_pids(proc.path) == []


def test_vanished_mid_scan(proc: FakeProc) -> None:
    proc.add(10, "keepalived", "S", "ours")
    os.unlink(proc.root / "10" / "ns" / "net")  # exited between reading comm and ns
    proc.add(11, "keepalived", "S", "ours")
    (proc.root / "11" / "stat").unlink()
    assert k.keepalived_pids(proc.path) == []


def deny(monkeypatch: pytest.MonkeyPatch, pids: set[str], names: set[str]) -> None:
    """Make os.stat of these entries of these PIDs fail, as for another user's process."""
    real = os.stat

    def fake(path: Any, *, dir_fd: int | None = None, **kw: Any) -> os.stat_result:
        if dir_fd is not None and path in names:
            pid = os.path.basename(os.readlink(f"/proc/self/fd/{dir_fd}"))
            if pid in pids:
                raise PermissionError(13, "Permission denied", path)
        return real(path, dir_fd=dir_fd, **kw)

    monkeypatch.setattr(k.os, "stat", fake)


def test_unreadable_namespace_falls_back_to_net_dev(
    proc: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc.add(10, "keepalived", "S", "ours")
    proc.add(20, "keepalived", "S", "theirs")
    deny(monkeypatch, {"10", "20"}, {"ns/net"})
    assert k.keepalived_pids(proc.path) == [10]


def test_cannot_tell_is_an_error(proc: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    proc.add(10, "keepalived", "S", "ours")
    deny(monkeypatch, {"10"}, {"ns/net", "net/dev"})
    with pytest.raises(k.KeepalivedCheckError, match=r"PID 10\).*run as root"):
        k.keepalived_pids(proc.path)


def test_one_known_ours_is_enough(proc: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    proc.add(10, "keepalived", "S", "ours")
    proc.add(20, "keepalived", "S", "ours")
    deny(monkeypatch, {"20"}, {"ns/net", "net/dev"})
    assert k.keepalived_pids(proc.path) == [10]


def test_real_proc_smoke() -> None:
    # The real /proc parses, whatever runs on this machine.
    assert isinstance(k.keepalived_pids(), list)


def test_one_stopped_keepalived_process_means_none(proc: FakeProc) -> None:
    """The VRRP child stopped (SIGSTOP, a debugger) sends no adverts while its parent idles
    on: the parent alone was counted and the job ran on both nodes."""
    proc.add(10, "keepalived", "S", "ours")
    proc.add(11, "keepalived", "T", "ours")
    assert k.keepalived_pids(proc.path) == []
    proc.add(20, "keepalived", "t", "theirs")  # another namespace's does not matter
    (proc.root / "11" / "stat").write_text(stat_line(11, "keepalived", "S"))
    assert k.keepalived_pids(proc.path) == [10, 11]


def test_hidden_processes_are_an_error_not_an_absence(
    proc: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not root, /proc mounted hidepid=2: root's keepalived is not even listed. It was a
    silent "stale leftover"; now it is 125 (cannot tell)."""
    monkeypatch.setattr(k.os, "geteuid", lambda: 1000)
    proc.mount_options("rw,hidepid=2")
    with pytest.raises(k.KeepalivedCheckError, match="hidepid"):
        k.keepalived_pids(proc.path)
    proc.mount_options(f"rw,hidepid=invisible,gid={os.getegid()}")  # our group sees all
    assert k.keepalived_pids(proc.path) == []
    proc.mount_options("rw,hidepid=0")
    assert k.keepalived_pids(proc.path) == []
    proc.mount_options("rw,hidepid=2")
    proc.add(10, "keepalived", "S", "ours")  # visible after all (ours): no guess needed
    assert k.keepalived_pids(proc.path) == [10]
