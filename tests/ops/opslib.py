"""Shared by the operator-facing tests: the repository's paths and the real tools they drive."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.netnslib import IN_CI

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: Where the examples install if-master (README's install command).
INSTALLED = "/opt/if-master/bin/if-master"


def require_tool(name: str, package: str) -> str:
    """The tool's path; skip (loudly) without it outside CI, fail in CI (test.sh installs it)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    why = f"`{name}` is not installed (./test.sh installs the Debian package {package})"
    if IN_CI:
        pytest.fail(f"{why}: this test must run in CI, not skip")
    pytest.skip(why)
