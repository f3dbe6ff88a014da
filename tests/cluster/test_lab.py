"""The lab itself: it must leave nothing behind, whatever happened."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from tests.support.lab import Lab, require_keepalived
from tests.support.netnslib import NetnsFactory, run

pytestmark = pytest.mark.cluster


def test_close_removes_every_process_and_namespace(tmp_path: Path) -> None:
    """Teardown mid-flight (keepalived still starting) kills parent and child, drops namespaces."""
    require_keepalived()
    factory = NetnsFactory()
    lab: Lab | None = None
    try:
        lab = Lab(factory, tmp_path, 2)
        names = [ns.name for ns in factory.made]
        lab.start()
        # Wait for the VRRP children, so the test covers the process tree, not a lone parent.
        deadline = time.monotonic() + 5
        while not all(len(n.keepalived_pids()) >= 2 for n in lab.nodes):
            lab.check_running()
            assert time.monotonic() < deadline, "keepalived never forked its VRRP child"
            time.sleep(0.02)
        pids = [pid for n in lab.nodes for pid in n.keepalived_pids()]
    finally:
        if lab is not None:
            lab.close()
        factory.close()
    alive = [p for p in pids if _alive(p)]
    assert not alive, f"keepalived processes survived teardown: {alive}"
    left = set(run(["ip", "netns", "list"]).stdout.split()) & set(names)
    assert not left, f"namespaces survived teardown: {left}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
