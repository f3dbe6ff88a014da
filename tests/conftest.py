"""Fixtures shared by every test tier."""

from __future__ import annotations

import gc
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from ifmaster import interfaces, run
from ifmaster.model import Interface
from tests.support import netnslib, passwords
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


@pytest.fixture(autouse=True, scope="session")
def _no_secret_in_any_output() -> Iterator[None]:
    """Watch what tests read themselves (capfd, capsys, subprocess pipes) for the suite's
    passwords and tokens; pytest_runtest_makereport fails the test that saw one."""
    readouterr = pytest.CaptureFixture.readouterr
    communicate = subprocess.Popen.communicate

    def checked_readouterr(self: Any) -> Any:
        result = readouterr(self)
        passwords.check(result.out, "captured stdout")
        passwords.check(result.err, "captured stderr")
        return result

    def checked_communicate(self: Any, *args: Any, **kw: Any) -> Any:
        out, err = communicate(self, *args, **kw)
        passwords.check(out, f"stdout of {self.args!r}")
        passwords.check(err, f"stderr of {self.args!r}")
        return out, err

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pytest.CaptureFixture, "readouterr", checked_readouterr)
        mp.setattr(subprocess.Popen, "communicate", checked_communicate)
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Fail a test whose output (captured, or read by it) holds a test secret."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    for name, content in report.sections:
        if name.endswith(f" {report.when}"):  # each phase's own output, once
            passwords.check(content, name)
    if passwords.seen:
        found, passwords.seen[:] = list(passwords.seen), []
        if report.outcome != "failed":
            report.outcome = "failed"
            report.longrepr = "a test secret reached the output: " + "; ".join(found)
