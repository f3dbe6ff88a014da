"""The harness's own promise: a namespace's removal leaves no process and no open pipe.

A test that fails while a command it started still runs must not leak that command's pipes:
the garbage collector would close them later with a ResourceWarning, which this suite turns
into an error in whichever test happens to be running then (seen in CI: a unit test failed
for a watch test's leftovers).
"""

from __future__ import annotations

import subprocess

import pytest

from tests.support.netnslib import NetnsFactory, require_root_netns

pytestmark = pytest.mark.netns


def test_delete_reaps_popen_children_and_closes_their_pipes() -> None:
    require_root_netns()
    factory = NetnsFactory()
    try:
        ns = factory("ifl")
        proc = ns.popen(["sleep", "300"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)  # fmt: skip
    finally:
        factory.close()
    assert proc.returncode is not None  # reaped: no zombie left to the next test
    assert proc.stdin is not None and proc.stdin.closed
    assert proc.stdout is not None and proc.stdout.closed
    assert proc.stderr is not None and proc.stderr.closed
