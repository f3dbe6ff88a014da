"""Regenerate examples/prometheus/if-master.rules.test.yml from files if-master really writes.

    .venv/bin/python tools/gen_prometheus_tests.py           # rewrite it from src/
    .venv/bin/python tools/gen_prometheus_tests.py --check   # exit 1 if it drifted

Each scenario is three nights of a daily task on two nodes (node-a, node-b). The nodes'
invocations go through ``ifmaster.metrics.record`` into real files, one directory per node;
every five minutes of the simulated clock each node's file is "scraped" (read back as it
is on disk), and the samples become promtool's ``input_series``. The clock starts at 0,
as promtool's does, so the timestamps in the files and ``time()`` in the rules agree.
Every alert of the rules file is checked at every evaluation time of every scenario: the
expected ones must fire, all others must not. Expected annotations are the rules' own,
with ``$labels`` and ``$value`` filled in, so editing the rules' text only needs a re-run.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ifmaster.metrics import TaskEvent, record  # noqa: E402

RULES = ROOT / "examples" / "prometheus" / "if-master.rules.yml"
TESTS = ROOT / "examples" / "prometheus" / "if-master.rules.test.yml"
REGENERATE = ".venv/bin/python tools/gen_prometheus_tests.py"

TASK = "backup"
NODES = ("node-a", "node-b")
INTERVAL = 300  # seconds between scrapes
SPAN = 3 * 86400  # three nights
NIGHT = 2 * 3600  # cron: 02:00 every day
RUN_SECONDS = 600  # each run takes ten minutes
B_DELAY = 20  # node-b's cron fires a little later than node-a's

#: What one node did on one night: a check outcome that skips, or "ok"/"fail" (it ran).
Night = dict[str, str]
#: An expected alert: (alertname, extra labels, $value); a label given as "" is one the
#: alert does not have.
Alert = tuple[str, dict[str, str], str]
Expected = list[Alert]

H = 3600


def at(day: int, hours: float) -> int:
    return int(day * 86400 + hours * H)


class Scenario:
    """Three nights on two nodes, and the alerts expected at chosen times."""

    def __init__(self, name: str, nights: list[Night], expect: dict[int, Expected]) -> None:
        self.name = name
        self.nights = nights
        self.expect = expect

    def events(self, node: str) -> list[tuple[float, TaskEvent]]:
        out: list[tuple[float, TaskEvent]] = []
        for day, night in enumerate(self.nights):
            what = night.get(node)
            if what is None:
                continue  # this node's cron did not fire
            start = day * 86400 + NIGHT + (B_DELAY if node == "node-b" else 0)
            if what in ("ok", "fail"):
                out.append((start, TaskEvent(outcome="master", checked_at=start, started_at=start)))
                end = start + RUN_SECONDS
                status = 0 if what == "ok" else 1
                out.append((end, TaskEvent(started_at=start, ended_at=end, status=status)))
            else:
                out.append((start, TaskEvent(outcome=what, checked_at=start)))
        return out


A_RUNS: Night = {"node-a": "ok", "node-b": "not_held"}
B_RUNS: Night = {"node-a": "not_held", "node-b": "ok"}
TWICE: Alert = ("IfMasterTaskRanTwice", {}, "2")
SEVERAL: Alert = ("IfMasterSeveralMasters", {}, "2")
NO_MASTER: Alert = ("IfMasterNoMaster", {}, "0")
NOT_RUN: Alert = ("IfMasterTaskNotRun", {}, "")
FAILED: Alert = ("IfMasterTaskFailed", {}, "")
NEVER: Alert = ("IfMasterTaskNeverRan", {}, "")
ALARM: Alert = ("IfMasterLedgerAlarm", {"instance": "node-a:9100"}, "1")

SCENARIOS = [
    Scenario(
        "normal: node-a runs it every night, node-b skips (not the master)",
        [A_RUNS, A_RUNS, A_RUNS],
        {t: [] for t in (at(0, 1), at(0, 2.1), at(0, 3), at(1, 2.1), at(1, 5), at(2, 23.9))},
    ),
    Scenario(
        "normal with a failover: node-a on night 1, node-b on nights 2 and 3",
        [A_RUNS, B_RUNS, B_RUNS],
        {t: [] for t in (at(0, 3), at(1, 2.1), at(1, 3), at(2, 3), at(2, 23.9))},
    ),
    Scenario(
        "double run: both nodes run it on night 2",
        [A_RUNS, {"node-a": "ok", "node-b": "ok"}, A_RUNS],
        {
            at(1, 1.9): [],
            at(1, 2.1): [TWICE, SEVERAL],
            at(1, 12): [TWICE, SEVERAL],
            at(2, 2.1): [],
        },
    ),
    Scenario(
        "nobody ran it on nights 2 and 3 (keepalived down on node-a, node-b not master)",
        [A_RUNS] + [{"node-a": "keepalived_down", "node-b": "not_held"}] * 2,
        {
            at(1, 1.9): [],
            at(1, 2.1): [NO_MASTER],
            at(1, 3.9): [NO_MASTER],
            at(1, 4.1): [NO_MASTER, NOT_RUN],
            at(2, 23.9): [NO_MASTER, NOT_RUN],
        },
    ),
    Scenario(
        "failure: node-a fails on night 2; node-b takes over and succeeds on night 3",
        [A_RUNS, {"node-a": "fail", "node-b": "not_held"}, B_RUNS],
        {
            at(1, 2.1): [],
            at(1, 2.3): [FAILED],
            at(2, 2.1): [FAILED],
            at(2, 2.3): [],
        },
    ),
    Scenario(
        "cron broken on node-b after night 1",
        [A_RUNS, {"node-a": "ok"}, {"node-a": "ok"}],
        {
            at(1, 3): [],
            at(1, 4.1): [("IfMasterGuardNotInvoked", {"instance": "node-b:9100"}, "")],
            at(2, 23.9): [("IfMasterGuardNotInvoked", {"instance": "node-b:9100"}, "")],
        },
    ),
    Scenario(
        "fresh install: both nodes check, neither is the master yet",
        [{"node-a": "too_young", "node-b": "not_held"}] * 3,
        {
            at(0, 2.1): [NO_MASTER],
            at(1, 3.9): [NO_MASTER],
            at(1, 4.1): [NO_MASTER, NEVER],
        },
    ),
    Scenario(
        "etcd full: the ledger refuses node-a's claims on nights 2 and 3 (its NOSPACE alarm)",
        [A_RUNS] + [{"node-a": "ledger_alarm", "node-b": "not_held"}] * 2,
        {
            at(1, 1.9): [],
            at(1, 2.1): [ALARM, NO_MASTER],
            at(1, 4.1): [ALARM, NO_MASTER, NOT_RUN],
            at(2, 23.9): [ALARM, NO_MASTER, NOT_RUN],
        },
    ),
    Scenario(
        "fresh install: no node reports anything",
        [{}, {}, {}],
        {at(1, 1.9): [], at(1, 2.1): [("IfMasterMetricsAbsent", {"task": ""}, "")]},
    ),
]


def scrape(scenario: Scenario, workdir: Path) -> tuple[dict[str, list[str]], list[str]]:
    """Run the scenario through metrics.record; series -> value per scrape, and every file."""
    steps = SPAN // INTERVAL + 1
    series: dict[str, list[str]] = {}
    files: list[str] = []
    for node in NODES:
        metrics_dir = workdir / node
        metrics_dir.mkdir()
        pending = scenario.events(node)
        path = metrics_dir / f"if_master_{TASK}.prom"
        for step in range(steps):
            now = step * INTERVAL
            while pending and pending[0][0] <= now:
                _, event = pending.pop(0)
                if not record(str(metrics_dir), TASK, event):
                    raise SystemExit(f"metrics.record failed in {metrics_dir}")
                files.append(path.read_text())
            if not path.exists():
                continue
            for name, value in samples(path.read_text(), node):
                series.setdefault(name, ["_"] * steps)[step] = value
    return series, files


def samples(text: str, node: str) -> Iterator[tuple[str, str]]:
    """Each sample line of an exposition file, with the labels node_exporter's scrape adds."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        extra = f'instance="{node}:9100",job="node"'
        name = name.replace("{", "{" + extra + ",", 1) if "{" in name else f"{name}{{{extra}}}"
        yield name, value


def compress(values: list[str]) -> str:
    """promtool's expanding notation: runs of one value become ``VxN`` (N+1 values)."""
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        run = j - i + 1
        if values[i] == "_":
            out.append(f"_x{run}" if run > 1 else "_")
        else:
            out.append(f"{values[i]}x{run - 1}" if run > 1 else values[i])
        i = j + 1
    return " ".join(out)


def rule_annotations() -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """alertname -> (labels, annotations) as the rules file has them."""
    import yaml

    doc = yaml.safe_load(RULES.read_text())
    return {
        rule["alert"]: (rule.get("labels", {}), rule.get("annotations", {}))
        for group in doc["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def fill(template: str, labels: dict[str, str], value: str) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key == "$value":
            if not value:
                raise SystemExit(f"{template!r} uses $value: give it in the expectation")
            return value
        return labels[key.removeprefix("$labels.")]

    return re.sub(r"\{\{ (\$value|\$labels\.\w+) \}\}", sub, template)


def minutes(seconds: int) -> str:
    return f"{seconds // 60}m"


def render(workdir: Path) -> tuple[str, list[str]]:
    """The promtool unit-test file, and every metrics file written on the way."""
    rules = rule_annotations()
    q = json.dumps
    out = [
        "# Generated by tools/gen_prometheus_tests.py from files if-master's metrics.py wrote:",
        f"# do not edit; re-run {REGENERATE}.",
        "# Run: promtool test rules if-master.rules.test.yml",
        "rule_files:",
        "  - if-master.rules.yml",
        "evaluation_interval: 5m",
        "tests:",
    ]
    every_file: list[str] = []
    for number, scenario in enumerate(SCENARIOS):
        scenario_dir = workdir / str(number)
        scenario_dir.mkdir()
        series, files = scrape(scenario, scenario_dir)
        every_file += files
        out += [f"  - name: {q(scenario.name)}", f"    interval: {INTERVAL // 60}m"]
        out.append("    input_series:" + ("" if series else " []"))
        for name in sorted(series):
            out += [f"      - series: {q(name)}", f"        values: {q(compress(series[name]))}"]
        out.append("    alert_rule_test:")
        for when, expected in sorted(scenario.expect.items()):
            by_name = {name: (labels, value) for name, labels, value in expected}
            for alertname, (rule_labels, notes) in rules.items():
                out += [f"      - eval_time: {minutes(when)}", f"        alertname: {alertname}"]
                if alertname not in by_name:
                    out.append("        exp_alerts: []")
                    continue
                extra, value = by_name[alertname]
                labels = {"task": TASK, **extra, **rule_labels}
                labels = {k: v for k, v in labels.items() if v}  # "": no such label
                if "instance" in extra:
                    labels["job"] = "node"
                out += ["        exp_alerts:", "          - exp_labels:"]
                out += [f"              {k}: {q(v)}" for k, v in sorted(labels.items())]
                out.append("            exp_annotations:")
                out += [
                    f"              {k}: {q(fill(v, labels, value))}"
                    for k, v in sorted(notes.items())
                ]
    return "\n".join(out) + "\n", every_file


def generate() -> tuple[str, list[str]]:
    with tempfile.TemporaryDirectory(prefix="if-master-prom-") as tmp:
        return render(Path(tmp))


def main(argv: list[str]) -> int:
    text, _ = generate()
    if "--check" in argv:
        if not TESTS.exists() or TESTS.read_text() != text:
            print(f"{TESTS} is stale: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    TESTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
