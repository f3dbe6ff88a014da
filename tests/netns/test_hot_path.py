"""A plain guarded run must not import what would double its cost.

The console script runs under ``python -X importtime``, which lists every module imported
up to the exec (or the exit), on the master and elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.netns.conftest import Node
from tests.netnslib import IF_MASTER

pytestmark = pytest.mark.netns

# Each costs from 2 ms (functools, pulled in by enum and ipaddress) to 60 ms (click).
HEAVY = {
    "click", "psutil", "socket", "re", "enum", "ipaddress", "typing", "functools",
    "dataclasses", "json", "logging", "subprocess", "argparse", "inspect", "collections",
}  # fmt: skip


def imported(node: Node, args: list[str], env: dict[str, str] | None = None) -> set[str]:
    argv = [sys.executable, "-X", "importtime", IF_MASTER, *args]
    r = node.ns.run(argv, env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr
    names = {
        line.split("|")[-1].strip()
        for line in r.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "ifmaster.act" in names, "the run did not reach act()"
    return names


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--vip", "10.50.0.10", "--", "true"], None),  # master: up to the exec
        (["--vip", "10.50.0.1", "--", "true"], None),  # not master
        (["--", "true"], {"IF_MASTER_VIP": "10.50.0.10"}),
        (["--vip", "10.50.0.10"], None),  # check mode
    ],
)
def test_no_heavy_module_on_the_hot_path(
    node: Node, args: list[str], env: dict[str, str] | None
) -> None:
    names = imported(node, args, env)
    top_level = {n.split(".")[0] for n in names}
    wrapper = Path(IF_MASTER).read_text()
    hint = " (the console script itself imports re: pip < 25 wrote it; upgrade pip and reinstall)"
    assert not top_level & HEAVY, sorted(top_level & HEAVY) + [
        hint if "import re" in wrapper else ""
    ]


def test_the_guard_would_notice_a_heavy_import(node: Node) -> None:
    """The same measurement sees click on the full path: the guard above can fail."""
    assert "click" in {n.split(".")[0] for n in imported(node, ["-v", "--vip", "10.50.0.10"])}
