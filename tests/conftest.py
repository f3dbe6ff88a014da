"""Fixtures shared by every test tier."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ifmaster import interfaces, run
from ifmaster.model import Interface
from tests.support import netnslib
from tests.support.fakes import Executed


@pytest.fixture
def netns_factory() -> Iterator[netnslib.NetnsFactory]:
    """Make namespaces with ``netns_factory("prefix")``; all are removed after the test."""
    yield from netnslib.netns_factory_fixture()


@pytest.fixture
def fake_interfaces(monkeypatch: pytest.MonkeyPatch) -> list[Interface]:
    """The OS seam faked: tests fill the returned list with ``tests.support.fakes.iface(...)``."""
    table: list[Interface] = []

    def snapshot(**kw: object) -> list[Interface]:
        return table

    monkeypatch.setattr(interfaces, "snapshot", snapshot)
    return table


@pytest.fixture
def no_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace exec with raising Executed(argv), so an in-process test survives it."""

    def fake_exec(argv: list[str]) -> None:
        raise Executed(argv)

    monkeypatch.setattr(run, "exec_command", fake_exec)


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """After each test, collect its garbage, so that a file or pipe it leaked warns there.

    The suite turns warnings into errors; left to the collector's own timing, a leaked
    pipe's ResourceWarning fails whichever later test is running (CI once failed a unit
    test of netlink parsing for a watch test's leftovers).
    """
    yield
    gc.collect()
