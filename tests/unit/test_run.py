"""run.py: one way to start the command, one error path, the caller's environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ifmaster import run
from ifmaster.errors import CommandError, IfMasterError


@pytest.mark.parametrize("start", [run.exec_command, run.start_child])
@pytest.mark.parametrize("argv", [[""], ["", "arg"], []])
def test_an_empty_command_name_is_127_as_env_says(start: object, argv: list[str]) -> None:
    with pytest.raises(CommandError) as info:
        start(argv)  # type: ignore[operator]
    assert (info.value.code, info.value.message) == (127, "'': No such file or directory")


def test_start_child_reports_exec_failures_as_exec_does(tmp_path: Path) -> None:
    # Children other tests of this process may have left are not ours to count.
    before = {p.pid for p in psutil.Process().children()}
    with pytest.raises(CommandError) as info:
        run.start_child([str(tmp_path / "missing")])
    assert (info.value.code, info.value.message) == (
        127,
        f"{tmp_path / 'missing'}: No such file or directory",
    )
    script = tmp_path / "noexec"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(CommandError) as info:
        run.start_child([str(script)])
    assert (info.value.code, info.value.message) == (126, f"{script}: Permission denied")
    # The failed children were reaped: not even a zombie is left.
    assert {p.pid for p in psutil.Process().children()} == before


def test_start_child_runs_in_its_own_group_with_a_death_signal(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = (
        "import ctypes, os, sys\n"
        "sig = ctypes.c_int()\n"
        "ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG\n"
        "open(sys.argv[1], 'w').write(f'{os.getpgrp()} {sig.value}')\n"
    )
    pid = run.start_child([sys.executable, "-c", code, str(out)])
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out.read_text() == f"{pid} 9"  # its own group; SIGKILL when we die


def test_the_child_dies_with_a_sigkilled_parent(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    parent = (
        "import sys, time\n"
        "from ifmaster.run import start_child\n"
        "pid = start_child(['sleep', '300'])\n"
        "open(sys.argv[1], 'w').write(str(pid))\n"
        "time.sleep(300)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent, str(pidfile)])
    try:
        deadline = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        child = int(pidfile.read_text())
        fd = os.pidfd_open(child)
    finally:
        proc.kill()
        proc.wait()
    try:
        import select

        assert select.select([fd], [], [], 5)[0], "the child outlived its SIGKILLed parent"
    finally:
        os.close(fd)


def test_command_error_follows_coreutils() -> None:
    assert run.command_error("x", 2).code == 127
    assert run.command_error("x", 13).code == 126
    assert run.command_error("x", 8).message == "x: Exec format error"
    assert run.command_error("x", 0).message == "x: cannot start it"


@pytest.fixture
def environ_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "environ"
    monkeypatch.setattr(run, "PROC_ENVIRON", str(path))
    for name in ("LC_ALL", "LC_CTYPE", "PYTHONCOERCECLOCALE"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.mark.parametrize(
    ("original", "now", "expected"),
    [
        (b"PATH=/bin\0", "C.UTF-8", None),  # coercion added it: removed
        (b"LC_CTYPE=C\0PATH=/bin\0", "C.UTF-8", "C"),  # coercion changed it: put back
        (b"PATH=/bin\0LC_CTYPE=POSIX\0", "C.utf8", "POSIX"),
        (b"LC_CTYPE=C.UTF-8\0", "C.UTF-8", "C.UTF-8"),  # the caller's own
        (b"LC_CTYPE=\xff\0", "UTF-8", "\udcff"),  # not UTF-8: kept as bytes
        (b"LC_CTYPE=C\0LC_CTYPE=fr\0", "C.UTF-8", "C"),  # twice: the first, as getenv
    ],
)
def test_lc_ctype_is_the_callers(
    environ_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    original: bytes,
    now: str,
    expected: str | None,
) -> None:
    environ_file.write_bytes(original)
    monkeypatch.setenv("LC_CTYPE", now)
    run.restore_lc_ctype()
    assert os.environ.get("LC_CTYPE") == expected


@pytest.mark.parametrize(
    "env", [{"LC_CTYPE": "en_US.UTF-8"}, {"LC_CTYPE": "C.UTF-8", "LC_ALL": "C"}, {}]
)
def test_proc_is_read_only_when_coercion_may_have_happened(
    environ_file: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run.restore_lc_ctype()  # the file does not exist: it was not needed
    assert os.environ.get("LC_CTYPE") == env.get("LC_CTYPE")


def test_an_unreadable_original_fails_closed(
    environ_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_CTYPE", "C.UTF-8")
    with pytest.raises(IfMasterError) as info:
        run.restore_lc_ctype()
    assert info.value.code == 125
    assert "cannot pass LC_CTYPE on unchanged" in info.value.message
    assert f"{environ_file}, which cannot be read (No such file or directory)" in (
        info.value.message
    )
    assert os.environ["LC_CTYPE"] == "C.UTF-8"


def test_importing_run_stays_cheap() -> None:
    code = (
        "import sys\n"
        "import ifmaster.run\n"
        "print(' '.join(sorted(m for m in ('signal', 'typing', 'subprocess', 'ctypes',"
        " 'collections') if m in sys.modules)))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout == "\n"
