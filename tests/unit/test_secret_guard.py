"""The suite's own guard: a test whose output shows a test secret fails.

See tests/support/passwords.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LEAKY = """
import subprocess

from tests.support import passwords

# A secret of this run only: the outer test's own output must not hold a real one.
passwords.TEST_SECRETS = ("meta-leak-4Qv8",)


def test_prints() -> None:
    print("meta-leak-4Qv8")


def test_reads_it_itself(capfd) -> None:
    print("meta-leak-4Qv8")
    capfd.readouterr()


def test_a_subprocess_says_it() -> None:
    subprocess.run(["echo", "meta-leak-4Qv8"], capture_output=True)


def test_clean() -> None:
    print("nothing secret")
"""


def test_the_guard_fails_every_test_whose_output_holds_a_secret(tmp_path: Path) -> None:
    leaky = tmp_path / "test_leaky.py"
    leaky.write_text(LEAKY)
    (tmp_path / "none.ini").write_text("[pytest]\n")  # not the project's options
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", str(tmp_path / "none.ini"), str(leaky)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "3 failed, 1 passed" in r.stdout, r.stdout + r.stderr
    assert r.stdout.count("a test secret reached the output") >= 3, r.stdout
