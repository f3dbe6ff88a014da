"""metrics.py: the file's contents, its updates under concurrency, and its failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ifmaster import metrics
from ifmaster.metrics import TaskEvent, parse, record, record_check, record_end, record_start


def values(path: Path) -> dict[str, str]:
    """Series -> value text, straight from the file's lines."""
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = value
    return out


def prom(tmp_path: Path, task: str = "backup") -> Path:
    return tmp_path / f"if_master_{task}.prom"


def test_a_night_on_the_master(tmp_path: Path) -> None:
    d = str(tmp_path)
    assert record_start(d, "backup", at=1000.5)
    got = values(prom(tmp_path))
    assert got['if_master_is_master{task="backup"}'] == "1"
    assert got['if_master_last_check_outcome{task="backup",outcome="master"}'] == "1"
    assert got['if_master_last_check_outcome{task="backup",outcome="not_held"}'] == "0"
    assert got['if_master_last_run_start_timestamp_seconds{task="backup"}'] == "1000.5"
    assert got['if_master_runs_total{task="backup",result="success"}'] == "0"
    assert 'if_master_last_run_end_timestamp_seconds{task="backup"}' not in got  # not yet
    assert 'if_master_last_success_timestamp_seconds{task="backup"}' not in got

    assert record_end(d, "backup", status=0, signal=None, started=1000.5, ended=1060.0)
    got = values(prom(tmp_path))
    assert got['if_master_last_run_end_timestamp_seconds{task="backup"}'] == "1060"
    assert got['if_master_last_run_duration_seconds{task="backup"}'] == "59.5"
    assert got['if_master_last_run_exit_status{task="backup"}'] == "0"
    assert got['if_master_last_run_success{task="backup"}'] == "1"
    assert got['if_master_last_success_timestamp_seconds{task="backup"}'] == "1060"
    assert got['if_master_runs_total{task="backup",result="success"}'] == "1"

    # The next night fails, by signal: the last success stays where it was.
    assert record_start(d, "backup", at=2000.0)
    assert record_end(
        d, "backup", status=None, signal=15, started=2000.0, ended=2001.0, duration=0.75
    )
    got = values(prom(tmp_path))
    assert got['if_master_last_run_exit_status{task="backup"}'] == "143"
    assert got['if_master_last_run_signal{task="backup"}'] == "15"
    assert got['if_master_last_run_success{task="backup"}'] == "0"
    assert got['if_master_last_run_duration_seconds{task="backup"}'] == "0.75"
    assert got['if_master_last_success_timestamp_seconds{task="backup"}'] == "1060"
    assert got['if_master_runs_total{task="backup",result="signal"}'] == "1"
    assert got['if_master_skips_total{task="backup",reason="not_held"}'] == "0"


@pytest.mark.parametrize("outcome", metrics.SKIP_REASONS)
def test_a_skip_counts_its_reason(tmp_path: Path, outcome: str) -> None:
    for _ in range(3):
        assert record_check(str(tmp_path), "backup", outcome, at=5.0)
    got = values(prom(tmp_path))
    assert got[f'if_master_skips_total{{task="backup",reason="{outcome}"}}'] == "3"
    assert sum(float(v) for k, v in got.items() if k.startswith("if_master_skips_total")) == 3
    assert got['if_master_is_master{task="backup"}'] == ("1" if outcome == "overlap" else "0")
    assert got[f'if_master_last_check_outcome{{task="backup",outcome="{outcome}"}}'] == "1"
    assert not any(k.startswith("if_master_last_run") for k in got)  # it never ran here


def test_render_and_parse_agree(tmp_path: Path) -> None:
    samples: dict[tuple[str, str], float] = {}
    metrics.apply(samples, TaskEvent(outcome="master", checked_at=1.7e9 + 0.1234, started_at=3.0))
    metrics.apply(samples, TaskEvent(started_at=3.0, ended_at=4.5, status=2))
    metrics.apply(samples, TaskEvent(outcome="split_brain", checked_at=9.0))
    text = metrics.render(samples, "a.b-c")
    back, sound = parse(text, "a.b-c")
    assert sound
    # Rendering adds zeros for the other label values of counters and outcomes, nothing else.
    assert {k: back[k] for k in samples} == samples
    assert all(v == 0 for k, v in back.items() if k not in samples)
    assert ("if_master_skips_total", "overlap") in back
    assert metrics.render(back, "a.b-c") == text


CORRUPT = [
    b"",  # a crash between create and write
    b"garbage\n",
    b"# if-master metrics for one task on this node; rewritten by every invocation.\nx 1",
    b"\xff\xfe not utf-8\n",
    b'# HELP if_master_runs_total x\nif_master_runs_total{task="backup"} 1\n',  # no header
]


@pytest.mark.parametrize("content", CORRUPT)
def test_a_corrupt_file_starts_afresh_and_is_counted(tmp_path: Path, content: bytes) -> None:
    prom(tmp_path).write_bytes(content)
    assert record_check(str(tmp_path), "backup", "not_held", at=1.0)
    got = values(prom(tmp_path))
    assert got['if_master_metrics_file_resets_total{task="backup"}'] == "1"
    assert got['if_master_skips_total{task="backup",reason="not_held"}'] == "1"
    assert record_check(str(tmp_path), "backup", "not_held", at=2.0)
    got = values(prom(tmp_path))
    assert got['if_master_metrics_file_resets_total{task="backup"}'] == "1"
    assert got['if_master_skips_total{task="backup",reason="not_held"}'] == "2"


def sound_file(tmp_path: Path) -> str:
    assert record_check(str(tmp_path), "backup", "not_held", at=1.0)
    return prom(tmp_path).read_text()


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace('task="backup"', 'task="other"', 1),  # another task's series
        lambda t: t.replace("} 1\n", "} NaN\n", 1),
        lambda t: t.replace("} 1\n", "} one\n", 1),
        lambda t: t.replace('reason="not_held"', "reason=not_held", 1),
        lambda t: t.replace('reason="not_held"', 'outcome="not_held"', 1),
        lambda t: t[:-1],  # truncated
        lambda t: t + "x" * (2 << 20) + "\n",  # not ours: far too big
    ],
)
def test_damage_to_a_sound_file_is_caught(tmp_path: Path, edit: object) -> None:
    text = sound_file(tmp_path)
    assert callable(edit)
    damaged = edit(text)
    assert damaged != text
    assert parse(text, "backup")[1] and not parse(damaged, "backup")[1]


def test_metrics_of_a_newer_version_are_dropped_not_a_reset(tmp_path: Path) -> None:
    text = sound_file(tmp_path) + 'if_master_future_thing{task="backup"} 7\n'
    prom(tmp_path).write_text(text)
    assert record_check(str(tmp_path), "backup", "not_held", at=2.0)
    got = values(prom(tmp_path))
    assert got['if_master_metrics_file_resets_total{task="backup"}'] == "0"
    assert got['if_master_skips_total{task="backup",reason="not_held"}'] == "2"
    assert 'if_master_future_thing{task="backup"}' not in got


def test_the_file_is_readable_by_node_exporter_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        (tmp_path / ".if_master_backup.prom.tmp").write_text("left by a writer that died")
        assert record_check(str(tmp_path), "backup", "not_held", at=1.0)
    finally:
        os.umask(old)
    assert prom(tmp_path).stat().st_mode & 0o777 == 0o644
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".if_master_backup.prom.lock", "if_master_backup.prom"]


WRITER = """
import sys
from ifmaster.metrics import record_check, record_start, record_end
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    assert record_check(d, "backup", "not_held", at=float(i))
    assert record_start(d, "backup", at=float(i))
    assert record_end(d, "backup", status=i % 2, signal=None, started=float(i), ended=i + 1.0)
"""


@pytest.mark.slow
def test_twenty_concurrent_writers_lose_no_increment(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), "10"], stderr=subprocess.PIPE
        )
        for _ in range(20)
    ]
    errors = [(p.wait(timeout=120), p.stderr.read() if p.stderr else b"") for p in procs]
    for p in procs:
        if p.stderr:
            p.stderr.close()
    assert all(code == 0 for code, _ in errors), errors
    got = values(prom(tmp_path))
    assert got['if_master_skips_total{task="backup",reason="not_held"}'] == "200"
    assert got['if_master_runs_total{task="backup",result="success"}'] == "100"
    assert got['if_master_runs_total{task="backup",result="failure"}'] == "100"
    assert got['if_master_metrics_file_resets_total{task="backup"}'] == "0"


def test_an_unwritable_dir_warns_once_and_returns_false(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing"
    assert not record_check(str(missing), "backup", "not_held", at=1.0)
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert not record_start(str(a_file), "backup", at=1.0)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    prom(occupied).mkdir()  # the rename cannot replace a directory
    assert not record_end(str(occupied), "backup", status=0, signal=None, started=1, ended=2)
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 3, err
    assert err[0].startswith(f"if-master: warning: cannot update metrics {missing}/if_master_")
    assert "No such file or directory" in err[0]
    assert "Not a directory" in err[1]
    assert "Is a directory" in err[2]
    assert sorted(p.name for p in occupied.iterdir()) == [
        ".if_master_backup.prom.lock",
        "if_master_backup.prom",
    ]  # no temporary file left behind


@pytest.mark.skipif(os.geteuid() != 0, reason="drops to uid 65534, needs root")
def test_permission_denied_as_another_user(tmp_path: Path) -> None:
    setpriv = "/usr/bin/setpriv"
    if not os.path.exists(setpriv):
        pytest.skip("setpriv (util-linux) is not installed")
    tmp_path.chmod(0o755)
    code = (
        "import sys; from ifmaster.metrics import record_check\n"
        "print(record_check(sys.argv[1], 'backup', 'not_held', at=1.0))\n"
    )
    argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    argv += [sys.executable, "-c", code, str(tmp_path)]
    r = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "HOME": "/"})
    if "Permission denied" in r.stderr and "python" in r.stderr.lower() and r.returncode != 0:
        pytest.skip(f"uid 65534 cannot run this interpreter: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "False\n"
    assert r.stderr.startswith("if-master: warning: cannot update metrics ")
    assert "Permission denied" in r.stderr


def test_stderr_closed_still_no_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", None)
    assert not record_check(str(tmp_path / "missing"), "backup", "not_held", at=1.0)


def test_bad_events_and_names_are_programming_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        TaskEvent(outcome="maybe", checked_at=1.0)
    with pytest.raises(ValueError, match="exactly one of status and signal"):
        TaskEvent(started_at=1.0, ended_at=2.0)
    with pytest.raises(ValueError, match="needs started_at"):
        TaskEvent(ended_at=2.0, status=0)
    with pytest.raises(ValueError, match="empty"):
        TaskEvent()
    with pytest.raises(ValueError, match="task name '../x'"):
        record(str(tmp_path), "../x", TaskEvent(outcome="master", checked_at=1.0))


def test_the_module_stays_light() -> None:
    code = "import sys, ifmaster.metrics; print(sorted(m for m in sys.modules if m in {m!r}))"
    heavy = {"prometheus_client", "tempfile", "json", "socket", "click", "psutil", "dataclasses"}
    r = subprocess.run(
        [sys.executable, "-c", code.replace("{m!r}", repr(heavy))], text=True, capture_output=True
    )
    assert r.stdout == "[]\n", r.stderr


def test_a_fifo_in_place_of_the_file_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(prom(tmp_path))
    assert record_check(str(tmp_path), "backup", "not_held", at=1.0)
    got = values(prom(tmp_path))
    assert got['if_master_metrics_file_resets_total{task="backup"}'] == "1"
