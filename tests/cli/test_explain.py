"""--explain and --json render the decision that was made, rule by rule."""

from __future__ import annotations

import json

import pytest

from ifmaster.main import main
from ifmaster.model import IFA_F_TENTATIVE, Interface
from tests.support.fakes import addr, iface

pytestmark = pytest.mark.usefixtures("no_exec")


@pytest.fixture
def table(fake_interfaces: list[Interface]) -> list[Interface]:
    fake_interfaces += [
        iface("lo", "127.0.0.1", "10.0.0.101", loopback=True, state="unknown"),
        iface("eth0", "10.0.0.11", "10.0.0.100", addr("fd00::100", IFA_F_TENTATIVE)),
        iface("eth1", "10.0.0.102", up=False, state="admin down"),
        iface("eth2", "10.0.0.103"),
    ]
    return fake_interfaces


VIPS = ["--vip", "10.0.0.100", "--vip", "10.0.0.101", "--vip", "10.0.0.102"]


def test_explain_text(table: object, capfd: pytest.CaptureFixture[str]) -> None:
    args = [*VIPS, "--vip", "fd00::100", "--vip", "10.0.0.103", "-i", "eth0", "-i", "lo"]
    assert main(["--explain", *args, "-i", "eth1"]) == 0
    out = capfd.readouterr().out
    assert "VIPs: 10.0.0.100 10.0.0.101 10.0.0.102 fd00::100 10.0.0.103\n" in out
    assert "  lo (unknown, loopback)  -- excluded: loopback interface" in out
    assert "    10.0.0.101  <- VIP, does not count: loopback interface" in out
    assert "    10.0.0.100  <- VIP, counts\n" in out
    assert "    fd00::100 [tentative]  <- VIP, does not count: tentative" in out
    assert "  eth1 (admin down)  -- excluded: interface is not up (admin down)" in out
    assert "  eth2 (up)  -- excluded: not in --interface eth0,eth1,lo" in out
    assert out.endswith("verdict: master: holds 10.0.0.100\n")


def test_json_is_one_object_with_the_documented_fields(
    table: object, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["--explain", "--json", "--vip", "10.0.0.101", "--vip", "10.0.0.102"]) == 1
    out = capfd.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert data["master"] is False and data["split_brain"] is None
    assert data["vips"] == ["10.0.0.101", "10.0.0.102"]
    assert data["held"] == []
    assert len(data["reasons"]) == 2
    by_name = {i["name"]: i for i in data["interfaces"]}
    assert set(by_name) == {"lo", "eth0", "eth1", "eth2"}
    lo = by_name["lo"]
    assert (lo["loopback"], lo["up"], lo["state"]) == (True, True, "unknown")
    vip = next(a for a in lo["addresses"] if a["address"] == "10.0.0.101")
    assert vip == {
        "address": "10.0.0.101",
        "family": 4,
        "label": None,
        "flags": [],
        "vip": True,
        "counted": False,
        "why_not": lo["excluded"],  # the finding's reason: the same words
    }
    v6 = by_name["eth0"]["addresses"][2]
    assert (v6["family"], v6["flags"], v6["vip"]) == (6, ["tentative"], False)


def test_json_alone_implies_explain(table: object, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "--vip", "10.0.0.100"]) == 0
    data = json.loads(capfd.readouterr().out)
    assert data["master"] is True
    assert data["held"] == [{"vip": "10.0.0.100", "interface": "eth0", "label": None}]


def test_explain_runs_no_command(table: object, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["--explain", "--vip", "10.0.0.100", "--", "touch", "x"]) == 125
    assert "--explain only explains: it runs no command" in capfd.readouterr().err


def test_a_finding_after_decide_is_in_both_renderings(
    table: object, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--require-keepalived without keepalived: the reason, not `None`, text and JSON alike."""
    from ifmaster import keepalived

    monkeypatch.setattr(keepalived, "keepalived_pids", lambda proc="/proc": [])
    stale = "no live keepalived in this network namespace: the VIP is a stale leftover"
    assert main(["--explain", "--require-keepalived", "--vip", "10.0.0.100"]) == 1
    out = capfd.readouterr().out
    assert f"    10.0.0.100  <- VIP, does not count: {stale}\n" in out
    assert "None" not in out
    assert f"- 10.0.0.100 on eth0 does not count: {stale}\n" in out
    assert out.endswith("verdict: not master\n")
    assert main(["--json", "--require-keepalived", "--vip", "10.0.0.100"]) == 1
    data = json.loads(capfd.readouterr().out)
    eth0 = next(i for i in data["interfaces"] if i["name"] == "eth0")
    vip = next(a for a in eth0["addresses"] if a["address"] == "10.0.0.100")
    assert (vip["counted"], vip["why_not"]) == (False, stale)
    assert data["findings"][0]["why_not"] == stale and data["held"] == []


def test_explain_is_a_check_and_follows_its_rules(
    table: object, capfd: pytest.CaptureFixture[str]
) -> None:
    """--not-master-exit applies, -v explains on stderr too, stdout has the rendering."""
    args = ["--explain", "-v", "--not-master-exit", "7", "--vip", "10.0.0.200"]
    assert main(args) == 7
    out, err = capfd.readouterr()
    assert out.endswith("verdict: not master\n")
    assert err == "if-master: 10.0.0.200 is not on any interface\nif-master: not master\n"
    assert main(["--explain", "--not-master-exit", "7", "--vip", "10.0.0.100"]) == 0


def test_explain_that_cannot_be_written_is_a_failure(
    table: object, capfd: pytest.CaptureFixture[str]
) -> None:
    import os

    saved = os.dup(1)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, 1)
    try:
        status = main(["--explain", "--vip", "10.0.0.100"])
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(full)
    assert status == 125
    assert "cannot write the explanation: No space left on device" in capfd.readouterr().err
