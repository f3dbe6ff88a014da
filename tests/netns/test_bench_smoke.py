"""``bench/scale.py --quick`` still runs and prints its rows (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.netnslib import require_root_netns

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SCALE = Path(__file__).resolve().parents[2] / "bench" / "scale.py"


def test_scale_quick_prints_both_tables() -> None:
    require_root_netns()
    r = subprocess.run(
        [sys.executable, str(SCALE), "--quick"], capture_output=True, text=True, timeout=180
    )
    assert r.returncode == 0, r.stderr
    plain, watch = r.stdout.split("### --watch: `bench/scale.py --quick`")
    assert "### Plain runs: `bench/scale.py --quick`" in plain

    def rows(table: str) -> dict[str, list[str]]:
        lines = [ln for ln in table.splitlines() if ln.startswith("| ") and "---" not in ln]
        cells = [[c.strip() for c in ln.split("|")[1:-1]] for ln in lines]
        return {c[0]: c for c in cells[1:]}  # the first is the header

    got = rows(plain)
    assert set(got) == {"1 interface", "50 interfaces", "1,000 addresses"}, plain
    for host, cells in got.items():
        assert len(cells) == 14 and cells[11] == "yes", f"{host}: {cells}"
    # The watcher's row: a delay from VIP loss to SIGTERM was measured.
    (cells,) = rows(watch).values()
    assert cells[0] == "1 interface" and cells[3][0].isdigit(), watch
