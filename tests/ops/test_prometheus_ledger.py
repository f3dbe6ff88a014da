"""The --status textfile and examples/prometheus/if-master-ledger.rules.yml, by promtool.

The rules' test series must be what history.render_metrics writes: each series' name and
labels (beside instance and job) are checked against a file rendered from a fake ledger.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ifmaster.ledger import history
from tests.support.fakes import FakeLedger
from tests.support.opslib import EXAMPLES, require_tool

PROM = EXAMPLES / "prometheus"
RULES = PROM / "if-master-ledger.rules.yml"
RULE_TESTS = PROM / "if-master-ledger.rules.test.yml"
T0 = 1_800_000_000.0


def rendered() -> list[str]:
    """The textfile of a cluster with one of each result, and of an unreadable ledger."""
    from tests.unit.test_history import ran

    store = FakeLedger()
    for i, status in enumerate((0, 0, 1, 137)):
        ran(store, T0 + 10 * i, status=status)
    ran(store, T0 + 60, took=None)  # died (no liveness record)
    for task in ("backup", "report"):
        store.kv.update({k.replace("/job/", f"/{task}/"): v for k, v in store.kv.items()})
    summaries = history.overview(store, now=T0 + 200, since=T0 - 1, max_late=30)
    return [
        history.render_metrics(summaries, now=T0 + 200, window=86400),
        history.render_metrics(None, now=T0 + 200, window=86400),
    ]


def test_promtool_accepts_the_textfile() -> None:
    promtool = require_tool("promtool", "prometheus")
    for text in rendered():
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)  # fmt: skip
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), text


def test_the_rule_tests_use_the_series_the_textfile_has() -> None:
    written = set()
    for text in rendered():
        for line in text.splitlines():
            if line and not line.startswith("#"):
                written.add(line.rsplit(" ", 1)[0])
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    series = [s["series"] for t in tests for s in t["input_series"]]
    assert series
    for s in series:
        plain = re.sub(r'(instance|job)="[^"]*",?', "", s).replace(",}", "}").replace("{}", "")
        assert plain in written, f"{s} is not a series --status writes"


def test_promtool_check_and_test_the_rules() -> None:
    promtool = require_tool("promtool", "prometheus")
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert r.returncode == 0 and "SUCCESS: 5 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([promtool, "test", "rules", RULE_TESTS.name], cwd=PROM,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


MUTANTS = [
    ('result="missed"}) > 0', 'result="missed"}) > 1'),
    ("== 0\n        for: 15m", "== 0\n        for: 45m"),
]


@pytest.mark.parametrize("wrong", MUTANTS)
def test_the_rule_tests_can_fail(tmp_path: Path, wrong: tuple[str, str]) -> None:
    """The canary: a rule changed under its tests makes promtool fail them."""
    promtool = require_tool("promtool", "prometheus")
    text = RULES.read_text()
    assert wrong[0] in text
    (tmp_path / RULES.name).write_text(text.replace(wrong[0], wrong[1]))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    r = subprocess.run([promtool, "test", "rules", RULE_TESTS.name], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode != 0, r.stdout
