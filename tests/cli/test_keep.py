"""--keep through the installed console script: every bad value is one line and 125, and
nothing runs (no etcd needed: the options are checked before any claim)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ifmaster.ledger.retention import DEFAULT_KEEP
from tests.support.netnslib import IF_MASTER

LEDGER = ["--ledger", "etcd://127.0.0.1:9/p", "--task", "t", "--every", "1h"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keep", ""], "--keep: duration '' is empty"),
        (["--keep", "1w"], "--keep: duration '1w' is not like"),
        (["--keep", "-1d"], "is not like"),
        (["--keep", "30s"], "--keep 30 s is outside 60 s..366 days"),
        (["--keep", "400d"], "longer than 366 days"),
        (["--keep", "nan"], "is not like"),
        (["--keep", "1h", "--max-late", "3600"], "a late run could claim a slot already pruned"),
        (["--keep", "2d", "--max-late", "172799", "--skew", "2"], "plus --skew 2 s"),
    ],
)
def test_bad_keep_values_fail_closed(args: list[str], message: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    r = subprocess.run([IF_MASTER, "--vip", "10.0.0.1", *LEDGER, *args, "--", "touch",
                        str(marker)], capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr and not marker.exists()


def test_keep_goes_with_ledger() -> None:
    r = subprocess.run([IF_MASTER, "--vip", "10.0.0.1", "--keep", "forever", "--", "true"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 125 and r.stderr.startswith("if-master: --keep goes with --ledger")


def test_keep_is_in_the_help_with_its_default() -> None:
    r = subprocess.run([IF_MASTER, "--help"], capture_output=True, text=True)
    text = " ".join(r.stdout.split())
    assert "--keep DURATION" in text and "0 or forever keeps them all" in text
    assert f"Default {DEFAULT_KEEP // 86400}d;" in text  # the help says the constant's value
