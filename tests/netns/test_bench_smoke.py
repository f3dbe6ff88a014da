"""The benches still run and print their rows (no timing is asserted): ``bench/scale.py
--quick``, and ``bench/hotpath.py`` with its peers, etcd's included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.netnslib import require, require_root_netns

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SCALE = Path(__file__).resolve().parents[2] / "bench" / "scale.py"
HOTPATH = SCALE.with_name("hotpath.py")


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
        assert len(cells) == 15 and cells[12] == "yes", f"{host}: {cells}"
        assert float(cells[8]) > 0, f"{host}: the kernel's dump alone, {cells}"
    # The watcher's row: a delay from VIP loss to SIGTERM was measured.
    (cells,) = rows(watch).values()
    assert cells[0] == "1 interface" and cells[3][0].isdigit(), watch


def test_hotpath_prints_our_rows_beside_the_peers() -> None:
    """One round, no warm-up: every row is there with its times, the peers' and the etcd
    member's (which the bench starts and stops in its namespace) included."""
    require_root_netns()
    for cmd in ("etcd", "etcdctl", "flock"):
        require(shutil.which(cmd) is not None, f"{cmd} is not installed")
    with subprocess.Popen(
        [sys.executable, str(HOTPATH), "--rounds", "1", "--warmup", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.terminate()  # SIGTERM: the bench removes its namespace and member
            proc.communicate(timeout=30)
            raise
    r = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert r.returncode == 0, r.stderr
    assert "one etcd member at 10.99.0.10:2379" in r.stdout, r.stdout
    table, _, notes = r.stdout.partition("\n\n")  # the rows, then lines of prose
    rows = {}
    for line in table.splitlines()[2:]:
        name, numbers = line[:38].strip(), line[38:].split()
        rows[name] = [float(n) for n in numbers[:5]]
    for name in (
        "python -c pass (floor)",
        "if-master master (--vip)",
        "if-master check, master",
        "bash seed script, master",
        "seed one-liner (sh -c), master",
        "flock -n FILE true",
        "etcdctl lock NAME true",
        "etcdctl put K V",
        "if-master --ledger, master",
        "python, then exec true",
        "the ledger run's imports alone",
    ):
        ms, ratio = rows[name][:2]
        assert ms > 0 and ratio > 0, (name, r.stdout)
    assert rows["python -c pass (floor)"][1] == 1.0
    assert "a ledger run's calls, warm in one process: " in notes, r.stdout
    assert "the floor plus those calls: " in notes, r.stdout
    # The bench cleans up after itself: its namespace is gone, and its etcd member with it.
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"ifm-bench-{proc.pid}" not in {ln.split()[0] for ln in left.splitlines() if ln}, left
