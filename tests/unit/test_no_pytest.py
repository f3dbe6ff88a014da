"""bench/ and tests/support/ need no pytest: the chaos bench runs in a venv without the test extras.

Each check runs a child interpreter in which ``import pytest`` fails as it does where pytest
is not installed (``sys.modules[name] = None`` makes every import of that name raise
ModuleNotFoundError, also an import inside a function or a package's own ``_pytest``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted((ROOT / "bench").glob("*.py"))
SUPPORT = sorted(p.stem for p in (ROOT / "tests" / "support").glob("*.py") if p.stem != "__init__")
BLOCK = (
    "import sys\nfor name in ('pytest', '_pytest', 'hypothesis'):\n    sys.modules[name] = None\n"
)
#: Run sys.argv[1] as a script would run: its own folder first on sys.path, its argv after it.
AS_SCRIPT = (
    "import os, runpy\n"
    "sys.argv = sys.argv[1:]\n"
    "sys.path[0] = os.path.dirname(sys.argv[0])\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def without_pytest(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code, *args],
        cwd=cwd,  # not the checkout: what is importable is what the script arranges itself
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_block_works(tmp_path: Path) -> None:
    """The control: in that child, pytest (installed here) cannot be imported."""
    r = without_pytest("import pytest", cwd=tmp_path)
    assert r.returncode == 1 and "ModuleNotFoundError" in r.stderr, r.stderr


def test_every_bench_is_found() -> None:
    assert {"chaos.py", "hotpath.py"} <= {p.name for p in BENCHES}


@pytest.mark.parametrize("script", BENCHES, ids=[p.name for p in BENCHES])
def test_a_bench_runs_help_without_pytest(script: Path, tmp_path: Path) -> None:
    r = without_pytest(AS_SCRIPT, str(script), "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: {script.name}"), r.stdout


def test_the_support_modules_import_without_pytest(tmp_path: Path) -> None:
    assert {"lab", "netnslib", "etcdlib", "nlbytes", "fakes"} <= set(SUPPORT)
    code = (
        "import importlib\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module('tests.support.' + name)\n"
        "print('imported', len(sys.argv) - 1)\n"
    )
    r = without_pytest(code, *SUPPORT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"imported {len(SUPPORT)}\n"
