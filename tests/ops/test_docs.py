"""The docs generated from the click command must match what the CLI says now.

README's "Help reference" and man/if-master.1 are written by tools/gen_docs.py, the one
way to refresh them (re-run it after any change to the options or help in cli.py).
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


def test_readme_help_reference_is_the_installed_cli_help() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- help:start -->\n```text\n", 1)[1].split("```\n<!-- help:end -->")[0]
    env = {**os.environ, "COLUMNS": "80"}
    live = subprocess.run([IF_MASTER, "--help"], capture_output=True, text=True, env=env)
    assert live.returncode == 0
    assert block == live.stdout, f"README's help reference is stale: run {REGENERATE}"


def test_readme_and_man_page_are_what_the_generator_writes() -> None:
    r = subprocess.run(
        [sys.executable, str(GEN_DOCS), "--check"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr  # names each stale file and the command to run


def test_the_check_names_a_stale_file_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = load_gen_docs()
    stale = tmp_path / "man" / "if-master.1"
    stale.parent.mkdir()
    stale.write_text(gen.man_page().replace("Explain the decision", "Explain nothing"))
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    monkeypatch.setattr(gen, "MAN_PAGE", stale)
    monkeypatch.setattr(gen, "README", tmp_path / "README.md")
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text())
    assert gen.main(["--check"]) == 1
    assert capsys.readouterr().err == f"man/if-master.1 is stale: run {REGENERATE}\n"


def test_man_page_lists_every_option_of_the_help() -> None:
    page = (ROOT / "man" / "if-master.1").read_text()
    live = subprocess.run([IF_MASTER, "--help"], capture_output=True, text=True).stdout
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", live))
    assert "--vip" in options
    for opt in sorted(options):
        assert opt.replace("-", "\\-") in page, opt
