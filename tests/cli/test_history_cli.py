"""--history, --status and --release in-process, on a fake ledger (open_ledger replaced)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ifmaster import ledger
from ifmaster.ledger import LedgerError
from ifmaster.main import main
from ifmaster.model import Interface
from tests.support.fakes import Executed, FakeLedger, iface
from tests.unit.test_history import ran

pytestmark = pytest.mark.usefixtures("no_exec")
URL = ["--ledger", "etcd://10.0.0.1:2379/if-master"]


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeLedger:
    import time

    s = FakeLedger()
    now = time.time()
    base = now - now % 60 - 600
    for i in range(5):
        ran(s, base + 60 * i, status=0 if i != 2 else 4, schedule="every 60s")
    monkeypatch.setattr(ledger, "open_ledger", lambda options, environ=None: s)
    monkeypatch.delenv("IF_MASTER_LEDGER", raising=False)
    monkeypatch.setenv("IF_MASTER_VIP", "not-a-vip")  # ignored by the modes
    return s


def test_a_program_called_history_still_runs(fake_interfaces: list[Interface]) -> None:
    fake_interfaces.append(iface("eth0", "10.0.0.100"))
    with pytest.raises(Executed) as e:
        main(["--vip", "10.0.0.100", "history", "--status"])
    assert e.value.argv == ["history", "--status"]


def test_history_prints_the_table_and_exits_1_on_a_failed_slot(
    store: FakeLedger, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main([*URL, "--history", "job", "--max-late", "5"]) == 1
    out, err = capfd.readouterr()
    assert err == "" and out.splitlines()[0].startswith("SLOT (UTC)")
    assert " failed " in out and " missed " in out  # the four minutes since the last run
    assert main([*URL, "--history", "job", "--json", "-n", "2"]) == 1
    lines = capfd.readouterr().out.splitlines()
    assert len(lines) == 2 and all(json.loads(x)["task"] == "job" for x in lines)


def test_status_lists_every_task(store: FakeLedger, capfd: pytest.CaptureFixture[str]) -> None:
    assert main([*URL, "--status", "--json"]) == 1
    d = json.loads(capfd.readouterr().out)
    assert d["task"] == "job" and d["counts"]["failed"] == 1


def test_release_in_process(store: FakeLedger, capfd: pytest.CaptureFixture[str]) -> None:
    slot = sorted(k.rsplit("/", 1)[1] for k in store.kv)[0]
    assert main([*URL, "--release", "job", slot]) == 0
    assert "deleted /if-master/job/" in capfd.readouterr().out and len(store.kv) == 4


def test_an_unreadable_ledger_is_125_one_line(
    store: FakeLedger, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def down(*a: Any, **kw: Any) -> Any:
        raise LedgerError("unreachable", "ledger: no etcd endpoint could be used: 10.0.0.1:2379")

    monkeypatch.setattr(store, "read", down)
    assert main([*URL, "--history", "job"]) == 125
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1 and "10.0.0.1:2379" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--history", "job"], "--history reads the ledger: give --ledger URL"),
        ([*URL, "--history", "job", "--vip", "10.0.0.100"], "--vip does not go with --history"),
        ([*URL, "--history", "job", "--watch"], "--watch does not go with --history"),
        ([*URL, "--history", "job", "echo"], "--history runs no command"),
        ([*URL, "--history", "job", "--status"], "two modes"),
        ([*URL, "--history", "no/such"], "task name"),
        ([*URL, "--history", "job", "--since", "soon"], "duration 'soon'"),
        ([*URL, "--status", "--since", ""], "duration '' is empty"),  # not the default
        ([*URL, "--history", "job", "-n", "0"], "0"),
        ([*URL, "--status", "--failed"], "--failed does not go with --status"),
        ([*URL, "--status", "--node", "n1"], "--node does not go with --status"),
        ([*URL, "--release", "job", "yesterday"], "slot 'yesterday' is not like"),
        ([*URL, "--release", "job"], "--release"),
        ([*URL, "--release", "job", "2026-01-01T00:00:00Z", "--json"], "--json does not go"),
        (["--vip", "10.0.0.100", "--since", "1h", "--", "true"], "--since goes with --history"),
        ([*URL, "--history", "job", "--every", "1m", "--schedule", "* * * * *"], "one of"),
        ([*URL, "--history", "job", "--timeline", "--json"], "two outputs"),
        (["--ledger", "", "--history", "job"], "is empty"),
    ],
)
def test_bad_input_is_125_one_line(
    store: FakeLedger, capfd: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 125
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err
    assert store.reads == 0
