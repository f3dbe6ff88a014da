"""Cluster fixtures: keepalived labs that always go away, logs shown when a test fails.

``make_lab(size, ...)`` builds a lab (see ``tests/support/lab.py``), starts keepalived on every
node and waits for the election to settle on a single VIP holder. Teardown kills every
keepalived before the namespaces are deleted, also after a failure or Ctrl-C (pytest runs
finalizers then too).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.lab import Figure, Lab, MakeLab, require_keepalived
from tests.support.netnslib import NetnsFactory

_LABS = pytest.StashKey[list[Lab]]()
_FIGURES = pytest.StashKey[list[str]]()

#: Generous bound for the first election: Master_Down_Interval is about 3.6 s at advert_int 1.
ELECTION_TIMEOUT = 10.0


@pytest.fixture
def make_lab(
    request: pytest.FixtureRequest, netns_factory: NetnsFactory, tmp_path: Path
) -> Iterator[MakeLab]:
    """``make_lab(size, ipv6=False, use_vmac=False, vip_host=100)``: a running, elected lab."""
    require_keepalived()
    labs: list[Lab] = []
    request.node.stash[_LABS] = labs

    def make(size: int, **kw: object) -> Lab:
        lab = Lab(netns_factory, tmp_path, size, **kw)  # type: ignore[arg-type]
        labs.append(lab)  # registered before keepalived starts: close() must see it
        lab.start()
        lab.wait_single_holder(timeout=ELECTION_TIMEOUT)
        return lab

    try:
        yield make
    finally:
        # keepalived first, then (netns_factory's own teardown) the namespaces.
        for lab in labs:
            lab.close()


@pytest.fixture
def figure(
    request: pytest.FixtureRequest, record_property: Callable[[str, object], None]
) -> Figure:
    """``figure(label, seconds)``: a measured time, shown in the terminal summary and JUnit XML."""

    def record(label: str, seconds: float) -> None:
        record_property(label, f"{seconds:.3f}")
        figures = request.config.stash.setdefault(_FIGURES, [])
        figures.append(f"{request.node.name}: {label}: {seconds:.2f} s")

    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Attach every node's keepalived log to the report of a failed (or errored) test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for lab in item.stash.get(_LABS, []):
            report.sections.append((f"keepalived logs, {lab.name}", lab.logs()))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = terminalreporter.config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.write_sep("-", "cluster figures (keepalived 2.2.7, advert_int 1)")
        for line in figures:
            terminalreporter.write_line(line)
