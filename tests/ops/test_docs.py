"""The docs generated from the click command must match what the CLI says now.

docs/reference.md's help, exit-status and environment blocks, README.md's exit-status
block and man/if-master.1 are written by tools/gen_docs.py, the one way to refresh them
(re-run it after any change to the options or help in cli.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.netnslib import IF_MASTER
from tests.support.opslib import ROOT

GEN_DOCS = ROOT / "tools" / "gen_docs.py"
REGENERATE = ".venv/bin/python tools/gen_docs.py"


def load_gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", GEN_DOCS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = ROOT / "docs" / "reference.md"


def block(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


def test_help_reference_is_the_installed_cli_help() -> None:
    reference = block(REFERENCE.read_text(), "help")
    env = {**os.environ, "COLUMNS": "80"}
    live = subprocess.run([IF_MASTER, "--help"], capture_output=True, text=True, env=env)
    assert live.returncode == 0
    assert reference == f"```text\n{live.stdout}```\n", (
        f"docs/reference.md's help reference is stale: run {REGENERATE}"
    )


def test_readme_exit_status_table_is_the_help_s() -> None:
    table = block((ROOT / "README.md").read_text(), "exit-status")
    live = subprocess.run([IF_MASTER, "--help"], capture_output=True, text=True).stdout
    statuses = re.findall(r"^    (\d+) ", live.split("Exit status:", 1)[1], flags=re.M)
    assert statuses[:2] == ["0", "1"] and "125" in statuses
    assert re.findall(r"^\| (\d+) \|", table, flags=re.M) == statuses
    assert table == block(REFERENCE.read_text(), "exit-status")


def test_environment_table_names_every_variable_the_source_reads() -> None:
    table = block(REFERENCE.read_text(), "environment")
    named = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.M))
    read = set()
    for path in (ROOT / "src" / "ifmaster").rglob("*.py"):
        read |= set(re.findall(r"(?<![\w])_?IF_MASTER_[A-Z]+(?:_[A-Z]+)*\b", path.read_text()))
    assert {"IF_MASTER_VIP", "IF_MASTER_TASK", "_IF_MASTER_COMPLETE"} <= read
    missing = sorted(read - named)
    assert not missing, (
        f"docs/reference.md's environment table does not name {', '.join(missing)}: give the"
        f" option an envvar, or add it to EXTRA_ENV in tools/gen_docs.py, then run {REGENERATE}"
    )
    assert not named - read, f"the table names variables no source reads: {named - read}"
    man = (ROOT / "man" / "if-master.1").read_text().split(".SH ENVIRONMENT", 1)[1]
    assert [v for v in sorted(named) if f"\\fB{v}\\fR" not in man] == [], "man: ENVIRONMENT"


def test_docs_are_what_the_generator_writes() -> None:
    r = subprocess.run(
        [sys.executable, str(GEN_DOCS), "--check"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr  # names each stale file and the command to run


def test_the_check_names_a_stale_file_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = load_gen_docs()
    for rel in ("README.md", "docs/reference.md", "man/if-master.1"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text())
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 0
    stale = tmp_path / "man" / "if-master.1"
    stale.write_text(gen.man_page().replace("Explain the decision", "Explain nothing"))
    reference = tmp_path / "docs" / "reference.md"
    reference.write_text(reference.read_text().replace("| 127 |", "| 128 |"))
    assert gen.main(["--check"]) == 1
    assert capsys.readouterr().err == (
        f"man/if-master.1 is stale: run {REGENERATE}\n"
        f"docs/reference.md is stale: run {REGENERATE}\n"
    )
    assert gen.main([]) == 0
    assert "| 127 |" in reference.read_text() and gen.main(["--check"]) == 0


def test_the_generator_refuses_a_file_without_its_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = load_gen_docs()
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# if-master\n")  # the exit-status markers are gone
    (tmp_path / "docs" / "reference.md").write_text((ROOT / "docs" / "reference.md").read_text())
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="README.md: the <!-- exit-status:start -->"):
        gen.main(["--check"])


def test_man_page_lists_every_option_of_the_help() -> None:
    page = (ROOT / "man" / "if-master.1").read_text()
    live = subprocess.run([IF_MASTER, "--help"], capture_output=True, text=True).stdout
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", live))
    assert "--vip" in options
    for opt in sorted(options):
        assert opt.replace("-", "\\-") in page, opt
