"""Task names and the --no-overlap lock, with real flocks, processes and signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ifmaster import task
from ifmaster.task import LockBusy, acquire, validate_task

HOSTILE: list[tuple[str | bytes, str]] = [
    ("", "is empty"),
    (".", "is not a file name"),
    ("..", "is not a file name"),
    ("a/b", "'/'"),
    ("job name", "' '"),
    ("x" * 201, "longer than 200"),
    ("x" * 300, "longer than 200"),
    ("backup\n", "'\\n'"),
    ('a"b', "'\"'"),
    ("a{b}", "'{}'"),
    ("café", "'é'"),
    ("\udcff", "'\\udcff'"),  # a non-UTF-8 byte from argv/environ (surrogateescape)
    (b"\xffbackup", "is not ASCII"),
]


@pytest.mark.parametrize(("name", "why"), HOSTILE)
def test_hostile_names_are_refused_by_value(name: str | bytes, why: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_task(name)
    message = str(info.value)
    assert message.startswith("task name "), message
    assert why in message
    shown = name if isinstance(name, str) else repr(name)
    assert repr(shown)[:20] in message or str(shown)[:20] in message


@pytest.mark.parametrize("name", ["backup", "a.b-c_D.9", "x" * 200, "...", "-x", b"nightly"])
def test_good_names_pass(name: str | bytes) -> None:
    assert validate_task(name) == (name.decode() if isinstance(name, bytes) else name)


def test_lock_path_validates() -> None:
    assert task.lock_path("backup") == "/run/lock/if-master/backup.lock"
    with pytest.raises(ValueError):
        task.lock_path("../../etc/passwd")


def test_lock_is_exclusive_and_names_its_holder(tmp_path: Path) -> None:
    lock_dir = tmp_path / "locks"
    with acquire("backup", str(lock_dir)) as held:
        assert (lock_dir.stat().st_mode & 0o777) == 0o755
        path = lock_dir / "backup.lock"
        assert held.path == str(path)
        assert path.read_text() == f"{os.getpid()}\n"
        # A second open file description, even in this process, is refused...
        with pytest.raises(LockBusy) as info:
            acquire("backup", str(lock_dir))
        assert info.value.holder == os.getpid()
        assert f"PID {os.getpid()}" in str(info.value) and str(path) in str(info.value)
        # ...and so is another process.
        code = (
            "import sys; from ifmaster.task import acquire, LockBusy\n"
            "try: acquire('backup', sys.argv[1])\n"
            "except LockBusy as e: print(e.holder)\n"
        )
        r = subprocess.run(
            [sys.executable, "-c", code, str(lock_dir)], capture_output=True, text=True
        )
        assert r.stdout == f"{os.getpid()}\n", r.stderr
        # Another task is another lock.
        acquire("other", str(lock_dir)).release()
    assert path.read_text() == ""  # released: no stale PID left behind
    acquire("backup", str(lock_dir)).release()


def test_the_job_does_not_inherit_the_lock(tmp_path: Path) -> None:
    with acquire("backup", str(tmp_path)) as held:
        assert held.fd is not None
        child = subprocess.Popen(["sleep", "30"], close_fds=False)  # inherits what it may
        try:
            fd_dir = f"/proc/{child.pid}/fd"
            targets = {os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir)}
            assert held.path not in targets
            assert len(targets) >= 3  # it did inherit stdio: the listing is real
        finally:
            child.kill()
            child.wait()


SUPERVISOR = """
import os, signal, sys, time
from ifmaster.run import start_child
from ifmaster.task import acquire
held = acquire("backup", sys.argv[1])
pid = start_child(["sleep", "60"])  # the supervisor's own start: PR_SET_PDEATHSIG(SIGKILL)
print(pid, flush=True)
time.sleep(60)
"""


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its new parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_sigkilled_supervisor_frees_the_lock_and_takes_its_child(tmp_path: Path) -> None:
    sup = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert sup.stdout is not None
    child = int(sup.stdout.readline())
    try:
        with pytest.raises(LockBusy) as info:
            acquire("backup", str(tmp_path))
        assert info.value.holder == sup.pid
        # Until it execs, the forked child shares the descriptor (CLOEXEC acts at exec).
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child}/cmdline").read_bytes() != b"sleep\x0060\x00":
            assert time.monotonic() < deadline, "the job never exec'd"
            time.sleep(0.01)
        sup.send_signal(signal.SIGKILL)
        sup.wait()
        acquire("backup", str(tmp_path)).release()  # the kernel closed the holder's fd
        deadline = time.monotonic() + 10
        while not gone(child):
            assert time.monotonic() < deadline, "PR_SET_PDEATHSIG did not kill the job"
            time.sleep(0.02)
    finally:
        sup.kill()
        sup.wait()
        if not gone(child):
            os.kill(child, signal.SIGKILL)
        sup.stdout.close()


ORPHAN = """
import os, signal, sys, time
from pathlib import Path
from ifmaster.proc import PR_SET_PDEATHSIG, prctl_function
from ifmaster.run import _child_setup
marks = Path(sys.argv[1])
me = os.getpid()
prctl = prctl_function()
if os.fork() == 0:
    while os.getppid() == me:  # wait until the parent is gone
        time.sleep(0.005)
    (marks / "before").write_text(str(os.getpid()))
    _child_setup(lambda: prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), me, None)
    (marks / "after").write_text("the job would have run with no one to kill it")
    os._exit(0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_a_child_whose_parent_already_died_does_not_run(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", ORPHAN, str(tmp_path)], check=True, timeout=30)
    before = tmp_path / "before"
    deadline = time.monotonic() + 20
    while not before.exists() or not before.read_text():
        assert time.monotonic() < deadline, "the orphan never got going"
        time.sleep(0.01)
    pid = int(before.read_text())
    while not gone(pid):
        assert time.monotonic() < deadline, "the orphan did not exit"
        time.sleep(0.01)
    assert not (tmp_path / "after").exists()


def test_a_lock_dir_others_control_is_refused(tmp_path: Path) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o1777)
    with pytest.raises(PermissionError, match="writable by others"):
        acquire("backup", str(open_dir))
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(NotADirectoryError):
        acquire("backup", str(link))
    if os.geteuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)
        with pytest.raises(PermissionError, match="belongs to uid 65534"):
            acquire("backup", str(theirs))


def test_a_symlinked_lock_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir()
    (lock_dir / "backup.lock").symlink_to(victim)
    with pytest.raises(OSError):
        acquire("backup", str(lock_dir))
    assert victim.read_text() == "precious\n"


def test_a_fifo_as_the_lock_file_is_refused_by_name(tmp_path: Path) -> None:
    """It was "[Errno 22] Invalid argument" (ftruncate on the FIFO), naming nothing."""
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir(mode=0o755)
    os.mkfifo(lock_dir / "t.lock")
    with pytest.raises(OSError, match=f"lock file {lock_dir / 't.lock'} is not a regular file"):
        acquire("t", str(lock_dir))
