"""Metrics written by the installed script on keepalived lab nodes, judged by promtool.

A normal night (the master runs, the backup reports not_held) fires no alert; after a
SIGKILL of the master's keepalived both nodes hold the VIP, both run, and the files they
write make IfMasterTaskRanTwice and IfMasterSeveralMasters fire in `promtool test rules`.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.lab import MakeLab
from tests.support.netnslib import IF_MASTER, require

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "examples" / "prometheus" / "if-master.rules.yml"
TASK = "nightly"


def generator() -> ModuleType:
    path = ROOT / "tools" / "gen_prometheus_tests.py"
    spec = importlib.util.spec_from_file_location("gen_prometheus_tests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rule_test(
    files: dict[str, str], fire: list[str], tmp: Path
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` on series made of these files (node -> text), scraped alike.

    Timestamps in the files are the real clock's; promtool's starts at 0. Every sample that
    is a time is shifted by the same offset, so differences (what the rules compare) stay.
    """
    gen = generator()
    stamps = [
        float(v)
        for text in files.values()
        for name, v in gen.samples(text, "x")
        if "timestamp_seconds" in name
    ]
    offset = min(stamps) - 60
    series = []
    for node, text in files.items():
        for name, value in gen.samples(text, node):
            v = float(value)
            if "timestamp_seconds" in name and v > 0:
                v -= offset
            series.append({"series": name, "values": f"{v:g}x10"})
    annotations = gen.rule_annotations()
    count = str(len(files))
    expected = []
    for alert in ("IfMasterTaskRanTwice", "IfMasterSeveralMasters"):
        labels, notes = annotations[alert]
        exp = []
        if alert in fire:
            exp_labels = {**labels, "task": TASK}
            exp = [
                {
                    "exp_labels": exp_labels,
                    "exp_annotations": {
                        k: gen.fill(t, exp_labels, count) for k, t in notes.items()
                    },
                }
            ]
        expected.append({"eval_time": "2m", "alertname": alert, "exp_alerts": exp})
    doc = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": expected}],
    }
    test_file = tmp / "lab.rules.test.yml"
    test_file.write_text(json.dumps(doc))  # JSON is YAML
    promtool = shutil.which("promtool")
    assert promtool is not None
    return subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True
    )


def test_a_double_run_in_the_lab_fires_the_alerts(make_lab: MakeLab, tmp_path: Path) -> None:
    require(
        shutil.which("promtool") is not None, "promtool is missing (apt-get install prometheus)"
    )
    lab = make_lab(2)
    master = lab.wait_single_holder()
    dirs = {n.name: tmp_path / n.name for n in lab.nodes}
    for d in dirs.values():
        d.mkdir()

    def night(expected_runs: set[str]) -> dict[str, str]:
        ran = set()
        for n in lab.nodes:
            marker = tmp_path / f"ran-{n.name}"
            marker.unlink(missing_ok=True)
            r = n.ns.run(
                [
                    IF_MASTER,
                    "--task",
                    TASK,
                    "--metrics-dir",
                    str(dirs[n.name]),
                    "--vip",
                    lab.vip,
                    "--",
                    "touch",
                    str(marker),
                ]
            )
            assert r.returncode == 0, r.stderr
            if marker.exists():
                ran.add(n.name)
        assert ran == expected_runs, lab.describe()
        files = {n.name: (dirs[n.name] / f"if_master_{TASK}.prom").read_text() for n in lab.nodes}
        for path in dirs.values():
            check = subprocess.run(
                ["promtool", "check", "metrics"],
                capture_output=True,
                text=True,
                input=(path / f"if_master_{TASK}.prom").read_text(),
            )
            assert check.returncode == 0, check.stdout + check.stderr
        return files

    normal = night({master.name})
    r = rule_test(normal, [], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr

    lab.stop_keepalived(master, signal.SIGKILL)  # the VIP stays; the backup claims it too
    lab.watch(lambda h: len(h) > 1, timeout=10)
    both = night({n.name for n in lab.nodes})
    r = rule_test(both, ["IfMasterTaskRanTwice", "IfMasterSeveralMasters"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # The judge can fail: the same double run, expected quiet, is a failing rule test.
    assert rule_test(both, [], tmp_path).returncode != 0
