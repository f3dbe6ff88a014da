"""bench/chaos.py's checker for the ledger profiles: jobs counted by the slot etcd gave them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"
T0_REAL = 1795839252.0  # 2026-11-28T04:14:12Z, a multiple of the 2 s period


@pytest.fixture(scope="module")
def chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_bench", CHAOS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def claim(slot: str, node: str, pid: int) -> dict[str, object]:
    return {"task": "chaos-ledger-catch-up", "slot": slot, "node": node, "pid": pid}


def test_a_job_counts_for_the_slot_its_guard_claimed(chaos: ModuleType, tmp_path: Path) -> None:
    # n2's guard for tick 8 fired late, started in slot 9 by its start time, and claimed
    # slot 10 (it computed its slot 0.4 s before 20 s, within --skew): slot 9 was n1's.
    ledger = tmp_path / "ledger"
    ledger.write_text(
        "job 9 n1 ledger+catch-up 18.00 9 100\njob 9 n2 ledger+catch-up 18.81 8 200\n"
    )
    parsed = chaos.read_ledger(ledger, 0.0)
    assert sorted(parsed.runs["ledger+catch-up"][9]) == ["n1", "n2"]  # by start time: a double
    claims = [claim("2026-11-28T04:14:30Z", "n1", 100), claim("2026-11-28T04:14:32Z", "n2", 200)]
    odd = chaos.claimed_runs(parsed, claims, T0_REAL, 2.0)
    assert odd == {"unclaimed_jobs": [], "claims_without_job": [], "stopped_by_guard": []}
    assert parsed.runs["ledger+catch-up"] == {9: {"n1": 18.0}, 10: {"n2": 18.81}}


def test_a_job_no_key_names_is_listed_and_can_make_a_double(
    chaos: ModuleType, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    ledger.write_text(
        "job 3 n1 ledger+catch-up 6.10 3 100\n"
        "job 3 n2 ledger+catch-up 6.20 3 200\n"  # ran without a claim: the ledger's bug
        "job 3 n1 ledger+catch-up 6.30 3 300\n"  # the same node twice, unclaimed too
    )
    parsed = chaos.read_ledger(ledger, 0.0)
    claims = [claim("2026-11-28T04:14:18Z", "n1", 100), claim("2026-11-28T04:14:20Z", "n3", 9)]
    odd = chaos.claimed_runs(parsed, claims, T0_REAL, 2.0)
    assert [j["pid"] for j in odd["unclaimed_jobs"]] == [200, 300]
    assert odd["claims_without_job"] == [{"profile": "ledger+catch-up", "node": "n3", "tick": 4}]
    assert parsed.runs["ledger+catch-up"] == {3: {"n1": 6.1, "n2": 6.2, "n1+": 6.3}}


def test_a_job_its_own_guard_stopped_is_listed(chaos: ModuleType, tmp_path: Path) -> None:
    """A SIGTERM status in a ledger slot is the guard stopping its own job (issue 21)."""
    ledger = tmp_path / "ledger"
    ledger.write_text("job 3 n1 ledger+catch-up 6.10 3 100\n")
    parsed = chaos.read_ledger(ledger, 0.0)
    stopped = {**claim("2026-11-28T04:14:18Z", "n1", 100), "status": 143, "end": "e"}
    done = {**claim("2026-11-28T04:14:20Z", "n2", 7), "status": 0, "end": "e"}
    odd = chaos.claimed_runs(parsed, [stopped, done], T0_REAL, 2.0)
    assert odd["stopped_by_guard"] == [
        {"profile": "ledger+catch-up", "node": "n1", "slot": "2026-11-28T04:14:18Z"}
    ]
