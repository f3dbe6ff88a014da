"""The systemd examples: ``systemd-analyze verify`` on each unit, and the ExecCondition run.

``systemd-analyze verify`` also checks that every Exec*= program exists and is executable,
and /opt/if-master or /usr/local/bin/backup.sh are not on the test machine. The units are
therefore copied with exactly two substitutions: the install path becomes the installed
console script under test, and /usr/local/bin/ becomes a directory of stand-in scripts.
Every other byte is the example's. verify exits 0 even for an unknown key or a bad value
(it only warns), so the tests assert that it prints nothing, and a canary shows that it
does print for a typo. ``--man=no``: whether the ``man`` program and page database exist
is the machine's business.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, NetnsFactory, veth
from tests.support.opslib import EXAMPLES, INSTALLED, ROOT, require_tool

UNITS = sorted((EXAMPLES / "systemd").iterdir())
STAND_INS = ("backup.sh", "long-job.sh")


def copy_units(dest: Path) -> list[Path]:
    """The example units in ``dest``, their programs pointed at what exists here."""
    bin_dir = dest / "bin"
    bin_dir.mkdir()
    for name in STAND_INS:
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    copies = []
    for unit in UNITS:
        text = unit.read_text()
        assert INSTALLED in text or unit.suffix == ".timer", unit
        copy = dest / unit.name
        copy.write_text(
            text.replace(INSTALLED, IF_MASTER).replace("/usr/local/bin/", f"{bin_dir}/")
        )
        copies.append(copy)
    return copies


def verify(*units: Path) -> subprocess.CompletedProcess[str]:
    analyze = require_tool("systemd-analyze", "systemd")
    argv = [analyze, "verify", "--man=no", *map(str, units)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def directives(unit: Path, key: str) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in unit.read_text().splitlines()
        if line.startswith(key + "=")
    ]


def test_the_examples_are_the_documented_units() -> None:
    assert [u.name for u in UNITS] == [
        "if-master-backup.service",
        "if-master-backup.timer",
        "if-master-long-job.service",
    ]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_is_silent(unit: Path, tmp_path: Path) -> None:
    copies = {c.name: c for c in copy_units(tmp_path)}
    # A timer is verified with the service it starts (verify loads the service too).
    together = [copies[unit.name]]
    if unit.suffix == ".timer":
        together.append(copies[unit.with_suffix(".service").name])
    r = verify(*together)
    assert (r.returncode, r.stdout + r.stderr) == (0, "")


def test_verify_would_notice_a_typo(tmp_path: Path) -> None:
    """The canary for the silence asserted above: verify warns (and still exits 0)."""
    unit = next(c for c in copy_units(tmp_path) if c.name == "if-master-backup.service")
    unit.write_text(unit.read_text().replace("ExecCondition=", "ExecCondtion="))
    r = verify(unit)
    assert "Unknown key 'ExecCondtion'" in r.stdout + r.stderr


def test_units_say_what_the_readme_says() -> None:
    backup = EXAMPLES / "systemd" / "if-master-backup.service"
    assert directives(backup, "Type") == ["oneshot"]
    assert directives(backup, "ExecCondition") == [f"{INSTALLED} -v --vip 10.0.0.100"]
    assert directives(backup, "ExecStart") == ["/usr/local/bin/backup.sh"]
    long_job = EXAMPLES / "systemd" / "if-master-long-job.service"
    assert directives(long_job, "ExecStart") == [
        f"{INSTALLED} --watch --vip 10.0.0.100 -- /usr/local/bin/long-job.sh"
    ]
    assert directives(long_job, "KillMode") == ["mixed"]
    for unit in (backup, long_job):
        assert directives(unit, "Documentation") == ["man:if-master(1)"]
    assert (ROOT / "man" / "if-master.1").is_file()


@pytest.mark.netns
def test_exec_condition_statuses_and_journal_lines(netns_factory: NetnsFactory) -> None:
    """The ExecCondition= line itself, run as systemd would, on a master and a backup.

    0 on the master (ExecStart= runs), 1 elsewhere (skipped, not failed), 125 with one
    ``if-master: ...`` line for a broken VIP (also skipped: 1-254 all skip). Its stderr is
    what ``journalctl -u`` shows.
    """
    (line,) = directives(EXAMPLES / "systemd" / "if-master-backup.service", "ExecCondition")
    argv = shlex.split(line.replace(INSTALLED, IF_MASTER))
    master, backup = netns_factory("ifmsm"), netns_factory("ifmsb")
    veth(master, "eth0", backup, "eth0")
    master.ip("addr", "add", "10.0.0.100/32", "dev", "eth0")
    r = master.run(argv, timeout=30)
    assert (r.returncode, r.stderr.splitlines()[-1]) == (0, "if-master: master: holds 10.0.0.100")
    r = backup.run(argv, timeout=30)
    assert (r.returncode, r.stderr.splitlines()[-1]) == (1, "if-master: not master")
    r = master.run([*argv[:-1], "10.0.0.1OO"], timeout=30)
    assert r.returncode == 125
    assert r.stderr.startswith("if-master: Invalid value for '--vip'")
    assert len(r.stderr.splitlines()) == 1
    # The commented alternative maps 125 to 255, which fails the unit.
    (alt,) = [
        line.split("=", 1)[1]
        for line in (EXAMPLES / "systemd" / "if-master-backup.service").read_text().splitlines()
        if line.startswith("#   ExecCondition=")
    ]
    alt_argv = shlex.split(alt.replace(INSTALLED, IF_MASTER))
    assert master.run(alt_argv, timeout=30).returncode == 0
    assert backup.run(alt_argv, timeout=30).returncode == 1
    bad = [a.replace("10.0.0.100", "10.0.0.1OO") for a in alt_argv]
    assert master.run(bad, timeout=30).returncode == 255
