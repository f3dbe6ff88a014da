"""The metrics files and example alert rules, checked by the real Prometheus tools.

``promtool check metrics`` lints every file metrics.py writes on the way through the rule
tests' scenarios (and a few odd ones); ``promtool check rules`` and ``promtool test rules``
run the example rules and their unit tests, whose input series tools/gen_prometheus_tests.py
generated from those very files (a drift check keeps them tied); a real node_exporter,
inside a namespace of ours, serves the files through its textfile collector.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ifmaster import metrics
from tests.support.netnslib import NetnsFactory, netns_factory_fixture
from tests.support.opslib import EXAMPLES, ROOT, require_tool

PROM = EXAMPLES / "prometheus"
RULES = PROM / "if-master.rules.yml"
RULE_TESTS = PROM / "if-master.rules.test.yml"
GENERATOR = ROOT / "tools" / "gen_prometheus_tests.py"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_prometheus_tests", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated() -> tuple[str, list[str]]:
    """The rule tests as the generator writes them today, and every file written on the way."""
    text, files = load_generator().generate()
    return text, files


def odd_files(tmp_path: Path) -> list[str]:
    """Files the scenarios do not write: every outcome, a signal, a reset, an odd task name."""
    out = []
    for number, outcome in enumerate(metrics.OUTCOMES):
        metrics_dir = tmp_path / str(number)
        metrics_dir.mkdir()
        assert metrics.record_check(str(metrics_dir), "a.b-c_D.9", outcome, at=1.5e9)
        out.append((metrics_dir / "if_master_a.b-c_D.9.prom").read_text())
    metrics_dir = tmp_path / "signal"
    metrics_dir.mkdir()
    (metrics_dir / "if_master_t.prom").write_text("garbage\n")
    assert metrics.record_end(
        str(metrics_dir), "t", status=None, signal=9, started=1.7e9, ended=1.7e9 + 0.123456789
    )
    out.append((metrics_dir / "if_master_t.prom").read_text())
    assert 'if_master_metrics_file_resets_total{task="t"} 1' in out[-1]
    return out


def test_promtool_accepts_every_file_metrics_writes(
    generated: tuple[str, list[str]], tmp_path: Path
) -> None:
    promtool = require_tool("promtool", "prometheus")
    files = sorted(set(generated[1] + odd_files(tmp_path)))
    assert len(files) > 20
    for text in files:
        r = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), text


def test_promtool_check_metrics_can_fail() -> None:
    """The canary: a lint finding (a counter without _total) makes promtool say so."""
    promtool = require_tool("promtool", "prometheus")
    bad = "# HELP if_master_runs Runs.\n# TYPE if_master_runs counter\nif_master_runs 1\n"
    r = subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True, text=True)
    assert r.returncode != 0 and "_total" in r.stdout + r.stderr


def test_rule_tests_are_generated_from_what_metrics_writes(
    generated: tuple[str, list[str]],
) -> None:
    assert RULE_TESTS.read_text() == generated[0], (
        f"{RULE_TESTS} drifted from metrics.py's output: run "
        ".venv/bin/python tools/gen_prometheus_tests.py"
    )


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool", "prometheus")
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 9 rules found" in r.stdout


@pytest.mark.slow
def test_promtool_test_rules() -> None:
    promtool = require_tool("promtool", "prometheus")
    r = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=PROM,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


@pytest.fixture
def netns_factory() -> Iterator[NetnsFactory]:
    yield from netns_factory_fixture()


SCRAPE = """
import sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:9100/metrics", timeout=5) as r:
        sys.stdout.write(r.read().decode())
except OSError as e:
    sys.exit(f"scrape: {e}")
"""


@pytest.mark.netns
def test_node_exporter_serves_the_files(netns_factory: NetnsFactory, tmp_path: Path) -> None:
    exporter = require_tool("prometheus-node-exporter", "prometheus-node-exporter")
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    textfiles.chmod(0o755)
    # A master that ran the job, and a second task this node is not the master of.
    assert metrics.record_start(str(textfiles), "backup", at=1.7e9)
    assert metrics.record_end(
        str(textfiles), "backup", status=0, signal=None, started=1.7e9, ended=1.7e9 + 60
    )
    assert metrics.record_check(str(textfiles), "report.daily", "not_held", at=1.7e9)
    ns = netns_factory("ifmne")
    proc = ns.popen(
        [
            exporter,
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={textfiles}",
            "--web.listen-address=127.0.0.1:9100",
            "--web.disable-exporter-metrics",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def scrape() -> str:
            deadline = time.monotonic() + 20
            while True:
                r = ns.run([sys.executable, "-c", SCRAPE], timeout=30)
                if r.returncode == 0:
                    return r.stdout
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, r.stderr
                time.sleep(0.1)

        body = scrape()
        lines = set(body.splitlines())
        assert "node_textfile_scrape_error 0" in lines, body
        assert 'if_master_runs_total{result="success",task="backup"} 1' in lines, body
        assert 'if_master_last_run_duration_seconds{task="backup"} 60' in lines, body
        assert 'if_master_is_master{task="report.daily"} 0' in lines, body
        assert 'if_master_skips_total{reason="not_held",task="report.daily"} 1' in lines, body
        # The flock files are not collected (outcome="clock" is a word with "lock" in it).
        assert not any("if_master" in line and ".lock" in line for line in lines), body

        # The canary: a file the collector cannot parse is reported as a scrape error.
        (textfiles / "broken.prom").write_text("this is { not a metric\n")
        assert "node_textfile_scrape_error 1" in scrape().splitlines()
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
