"""A plain guarded run must not import what would double its cost.

The console script runs under ``python -X importtime``, which lists every module imported
up to the exec (or the exit), on the master and elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, Node, require

pytestmark = pytest.mark.netns

# Each costs from 2 ms (functools, pulled in by enum and ipaddress) to 60 ms (click).
HEAVY = {
    "click", "psutil", "socket", "re", "enum", "ipaddress", "typing", "functools",
    "dataclasses", "json", "logging", "subprocess", "argparse", "inspect", "collections",
}  # fmt: skip


def imported(node: Node, args: list[str], env: dict[str, str] | None = None) -> set[str]:
    argv = [sys.executable, "-X", "importtime", IF_MASTER, *args]
    r = node.ns.run(argv, env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr
    names = {
        line.split("|")[-1].strip()
        for line in r.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "ifmaster.act" in names, "the run did not reach act()"
    return names


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--vip", "10.50.0.10", "--", "true"], None),  # master: up to the exec
        (["--vip", "10.50.0.1", "--", "true"], None),  # not master
        (["--", "true"], {"IF_MASTER_VIP": "10.50.0.10"}),
        (["--vip", "10.50.0.10"], None),  # check mode
    ],
)
def test_no_heavy_module_on_the_hot_path(
    node: Node, args: list[str], env: dict[str, str] | None
) -> None:
    names = imported(node, args, env)
    top_level = {n.split(".")[0] for n in names}
    wrapper = Path(IF_MASTER).read_text()
    hint = " (the command itself imports re: an installer wrote a wrapper instead of bin/if-master)"
    assert not top_level & HEAVY, sorted(top_level & HEAVY) + [
        hint if "import re" in wrapper else ""
    ]


def test_the_guard_would_notice_a_heavy_import(node: Node) -> None:
    """The same measurement sees click on the full path: the guard above can fail."""
    assert "click" in {n.split(".")[0] for n in imported(node, ["-v", "--vip", "10.50.0.10"])}


def test_the_ledger_line_loads_no_click(node: Node) -> None:
    """The crontab's ledger line (--task, --every, --ledger) is pre-parsed: click, ~28 ms of
    a ledger-guarded run, loads only for help, completion and errors."""
    line = ["--task", "t", "--every", "1h", "--ledger", "etcd://10.50.0.99:2379/p"]
    names = imported(node, ["--vip", "10.50.0.1", *line, "--", "true"])  # not master here
    top_level = {n.split(".")[0] for n in names}
    assert "ifmaster.ledger" in names and "click" not in top_level, sorted(top_level)
    # The same line with an option it does not take goes to click, as before.
    names = imported(node, ["--vip", "10.50.0.1", *line, "--keep", "2d", "--", "true"])
    assert "click" in {n.split(".")[0] for n in names}


# --- the command is our script, whatever the installer --------------------------------------

SCRIPT = Path(__file__).resolve().parents[2] / "bin" / "if-master"
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
NOBODY = 65534


def test_installed_command_is_our_script_not_a_generated_wrapper() -> None:
    """Installers rewrite only the first line (the interpreter): no wrapper of their own."""
    installed = Path(IF_MASTER).read_text().splitlines()
    assert installed[0].startswith("#!") and "python" in installed[0]
    assert installed[1:] == SCRIPT.read_text().splitlines()[1:]


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def no_bytecode_install() -> Iterator[Path]:
    """A root-owned copy of the package (and netifaces) without byte-code, as `uv tool
    install` leaves it, the script, and a home for nobody, in a 0755 directory under /tmp;
    run by an interpreter nobody can reach (the venv's may sit under /root)."""
    import _netifaces
    import netifaces

    import ifmaster

    top = Path(tempfile.mkdtemp(prefix="ifm-pyc-"))
    try:
        top.chmod(0o755)
        site = top / "site"
        no_pyc = shutil.ignore_patterns("__pycache__")
        shutil.copytree(Path(ifmaster.__file__).parent, site / "ifmaster", ignore=no_pyc)
        shutil.copytree(Path(netifaces.__file__).parent, site / "netifaces", ignore=no_pyc)
        shutil.copy(str(_netifaces.__file__), site)
        shutil.copy(SCRIPT, top / "if-master")
        home = top / "home"
        home.mkdir(mode=0o700)
        os.chown(home, NOBODY, NOBODY)
        for python in (SYSTEM_PYTHON, sys.executable):  # _netifaces needs the same version
            probe = subprocess.run(
                [*AS_NOBODY, python, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
            )
            if probe.stdout.strip() == str(sys.version_info[:2]):
                (top / "python").symlink_to(python)
                break
        require((top / "python").exists(), f"nobody can run no Python {sys.version_info[:2]}")
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def guarded_run(node: Node, top: Path, user: list[str], **env: str) -> int:
    argv = [*user, str(top / "python"), str(top / "if-master"), "--vip", "10.50.0.10", "--", "true"]
    r = node.ns.run(argv, env={"PATH": os.environ["PATH"], "PYTHONPATH": str(top / "site"), **env})
    assert r.stderr == ""
    return r.returncode


def cached(cache: Path, top: Path) -> list[Path]:
    return sorted(cache.glob(f"{str(top).lstrip('/')}/site/ifmaster/*.pyc"))


def test_missing_bytecode_is_kept_in_the_users_cache(node: Node, no_bytecode_install: Path) -> None:
    top = no_bytecode_install
    home = top / "home"
    assert guarded_run(node, top, AS_NOBODY, HOME=str(home)) == 0
    cache = home / ".cache" / "if-master" / "pycache"
    first = cached(cache, top)
    names = {p.name.split(".")[0] for p in first}
    assert {"main", "preparse", "act", "decide"} <= names, names
    assert not (top / "site" / "ifmaster" / "__pycache__").exists()
    st = cache.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (NOBODY, 0o700)
    # The next run reads that byte-code instead of compiling and rewriting it.
    stamps = [p.stat().st_mtime_ns for p in first]
    assert guarded_run(node, top, AS_NOBODY, HOME=str(home)) == 0
    assert [p.stat().st_mtime_ns for p in cached(cache, top)] == stamps


def test_a_cache_others_can_write_is_not_used(node: Node, no_bytecode_install: Path) -> None:
    top = no_bytecode_install
    ours = top / "home" / "xdg" / "if-master"
    ours.mkdir(parents=True)
    for d in (ours.parent, ours):
        os.chown(d, NOBODY, NOBODY)
    ours.chmod(0o777)  # anyone could swap byte-code in: not trusted
    assert guarded_run(node, top, AS_NOBODY, XDG_CACHE_HOME=str(ours.parent)) == 0
    assert cached(ours / "pycache", top) == []


def test_root_never_uses_a_users_cache(node: Node, no_bytecode_install: Path) -> None:
    top = no_bytecode_install
    home = top / "home"
    assert guarded_run(node, top, [], HOME=str(home)) == 0
    assert not (home / ".cache").exists()
    assert (top / "site" / "ifmaster" / "__pycache__").is_dir()  # root writes it in place
