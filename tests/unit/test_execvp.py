"""run.execvp against os.execvp in forked children: the same program run, the same errno."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ifmaster import run


def outcome(execvp: object, name: str, path: str | None, cwd: Path) -> str:
    """What a child that calls ``execvp(name, [name])`` under PATH ``path`` ends as:
    ``ran N`` (the program's exit status) or ``errno N``."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            os.chdir(cwd)
            if path is None:
                os.environ.pop("PATH", None)
            else:
                os.environ["PATH"] = path
            execvp(name, [name])  # type: ignore[operator]
        except OSError as e:
            os.write(wfd, b"errno %d" % (e.errno or 0))
        finally:
            os._exit(99)
    os.close(wfd)
    said = os.read(rfd, 100).decode()
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    return said or f"ran {os.waitstatus_to_exitcode(status)}"


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    """``good/prog`` exits 42, ``noexec/prog`` is not executable, ``file`` is no directory."""
    out = {}
    for d in ("good", "noexec", "empty"):
        out[d] = tmp_path / d
        out[d].mkdir()
    (out["good"] / "prog").write_text("#!/bin/sh\nexit 42\n")
    (out["good"] / "prog").chmod(0o755)
    (out["noexec"] / "prog").write_text("#!/bin/sh\nexit 1\n")
    (out["noexec"] / "prog").chmod(0o644)
    out["file"] = tmp_path / "file"
    out["file"].write_text("")
    out["tmp"] = tmp_path
    return out


CASES = [
    ("prog", "{good}"),
    ("prog", "{empty}:{good}"),
    ("prog", "{noexec}:{good}"),  # EACCES first, then a program that runs
    ("prog", "{noexec}"),  # EACCES, not ENOENT (root too: a file without any x bit)
    ("prog", "{empty}:{noexec}:{empty}"),
    ("prog", "{file}:{good}"),  # ENOTDIR is skipped like ENOENT
    ("prog", "{empty}"),
    ("prog", ""),  # the current directory
    ("prog", None),  # the default path
    ("good/prog", "{empty}"),  # a slash: no search
    ("noexec/prog", "{good}"),
    ("nope/prog", "{good}"),
]


@pytest.mark.parametrize(("name", "path"), CASES)
def test_execvp_runs_and_fails_as_os_execvp(
    dirs: dict[str, Path], name: str, path: str | None
) -> None:
    p = None if path is None else path.format(**dirs)
    for cwd in (dirs["tmp"], dirs["good"]):
        want = outcome(os.execvp, name, p, cwd)
        assert outcome(run.execvp, name, p, cwd) == want, (name, p, cwd, want)


def test_execvp_imports_no_warnings() -> None:
    """The point: os.execvp imports warnings (os.get_exec_path) in every child."""
    code = (
        "import os, sys\n"
        "from ifmaster import run\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    try:\n"
        "        run.execvp('no-such-program-here', ['x'])\n"
        "    except OSError:\n"
        "        os._exit(0 if 'warnings' not in sys.modules else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PATH": "/nonexistent"})
    assert r.returncode == 0
