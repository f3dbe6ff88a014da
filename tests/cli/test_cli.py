"""The command line in-process: the OS seam faked, exec replaced by a recorder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ifmaster import interfaces
from ifmaster.errors import CommandError
from ifmaster.exitcodes import ExitCode
from ifmaster.main import main
from ifmaster.model import Interface
from ifmaster.run import exec_command
from tests.support.fakes import Executed, iface

pytestmark = pytest.mark.usefixtures("no_exec")


@pytest.fixture
def master(fake_interfaces: list[Interface]) -> list[Interface]:
    fake_interfaces += [iface("lo", "127.0.0.1", loopback=True), iface("eth0", "10.0.0.100")]
    return fake_interfaces


@pytest.fixture
def backup(fake_interfaces: list[Interface]) -> list[Interface]:
    fake_interfaces += [iface("lo", "127.0.0.1", loopback=True), iface("eth0", "10.0.0.10")]
    return fake_interfaces


@pytest.fixture(autouse=True)
def _no_env_vip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IF_MASTER_VIP", raising=False)


ARGV = ["sh", "-c", 'echo "$1"', "x", "a b", "*", "$HOME", "it's", ""]


@pytest.mark.parametrize(
    "args",
    [
        ["--vip", "10.0.0.100", "--", *ARGV],
        ["--vip", "10.0.0.100", *ARGV],
        ["--vip=10.0.0.100", "--", *ARGV],
        ["-v", "--vip", "10.0.0.100", "--", *ARGV],
        ["--vip", "10.0.0.1", "--vip", "10.0.0.100/24", "--", *ARGV],
    ],
)
def test_master_execs_the_command_verbatim(master: object, args: list[str]) -> None:
    with pytest.raises(Executed) as e:
        main(args)
    assert e.value.argv == ARGV


def test_double_dash_after_the_separator_belongs_to_the_command(master: object) -> None:
    with pytest.raises(Executed) as e:
        main(["--vip", "10.0.0.100", "--", "--", "-v"])
    assert e.value.argv == ["--", "-v"]


def test_not_master_is_silent_and_zero(backup: object, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["--vip", "10.0.0.100", "--", "true"]) == 0
    assert capfd.readouterr() == ("", "")


def test_not_master_exit(backup: object, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["--not-master-exit", "3", "--vip", "10.0.0.100", "--", "true"]) == 3
    assert main(["--not-master-exit", "7", "--vip", "10.0.0.100"]) == 7
    assert capfd.readouterr() == ("", "")


def test_check_mode(fake_interfaces: list[Interface], capfd: pytest.CaptureFixture[str]) -> None:
    fake_interfaces.append(iface("eth0", "10.0.0.100"))
    assert main(["--vip", "10.0.0.100"]) == ExitCode.OK
    assert main(["--vip", "10.0.0.1"]) == ExitCode.NOT_MASTER
    assert main(["--vip", "10.0.0.100", "--"]) == ExitCode.OK
    assert capfd.readouterr() == ("", "")


def test_env_supplies_the_vips(master: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IF_MASTER_VIP", "10.0.0.1 10.0.0.100")
    with pytest.raises(Executed):
        main(["--", "true"])
    # --vip wins over the environment.
    assert main(["--vip", "10.0.0.1"]) == ExitCode.NOT_MASTER


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--vip", "10.0.0.300", "--", "true"], None, "'10.0.0.300' is not an IP address"),
        (["--vip", "db-vip", "--", "true"], None, "'db-vip' is not an IP address"),
        (["--vip", "", "--", "true"], None, "empty VIP"),
        (["--vip=", "--", "true"], None, "empty VIP"),
        (["--vip", "10.0.0.1/99", "--", "true"], None, "prefix length must be 0..32"),
        (["--vip", "10.0.0.100", "--vip", "x", "true"], None, "'x' is not an IP address"),
        (["--vip"], None, "requires an argument"),
        (["--", "true"], None, "no VIP given"),
        (["true"], None, "no VIP given"),
        (["--", "true"], "", "IF_MASTER_VIP is set but holds no address"),
        (["--", "true"], "10.0.0.100 nope", "IF_MASTER_VIP: 'nope' is not an IP address"),
        (["--vipp", "10.0.0.100", "--", "true"], None, "No such option"),
        (["--vip", "10.0.0.100", "--bogus", "--", "true"], None, "No such option '--bogus'"),
        (["--not-master-exit", "256", "--vip", "10.0.0.100"], None, "256 is not in the range"),
        (["--not-master-exit", "x", "--vip", "10.0.0.100"], None, "'x' is not a valid integer"),
    ],
)
def test_bad_input_is_125_one_line_and_runs_nothing(
    master: object,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    args: list[str],
    env: str | None,
    message: str,
) -> None:
    if env is not None:
        monkeypatch.setenv("IF_MASTER_VIP", env)
    assert main(args) == ExitCode.FAILURE  # and no Executed: the command did not run
    out, err = capfd.readouterr()
    assert out == ""
    assert err.startswith("if-master: ") and err.endswith("\n") and err.count("\n") == 1
    assert message in err


def test_unreadable_interfaces_fail_closed(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(**kw: object) -> list[Interface]:
        raise interfaces.InterfaceError("cannot read the local interfaces: boom")

    monkeypatch.setattr(interfaces, "snapshot", broken)
    for args in (["--vip", "10.0.0.100", "--", "true"], ["-v", "--vip", "10.0.0.100"]):
        assert main(args) == ExitCode.FAILURE
        assert capfd.readouterr().err == "if-master: cannot read the local interfaces: boom\n"


def test_verbose_explains(
    fake_interfaces: list[Interface], capfd: pytest.CaptureFixture[str]
) -> None:
    fake_interfaces += [
        iface("lo", "10.0.0.100", loopback=True),
        iface("eth1", "10.0.0.100", up=False, state="admin down"),
    ]
    assert main(["-v", "--vip", "10.0.0.100", "--vip", "fd00::1"]) == ExitCode.NOT_MASTER
    assert capfd.readouterr().err.splitlines() == [
        "if-master: 10.0.0.100 on lo does not count: loopback interface "
        "(LVS-DR real servers carry VIPs there; --include-loopback)",
        "if-master: 10.0.0.100 on eth1 does not count: interface is not up (admin down)",
        "if-master: fd00::1 is not on any interface",
        "if-master: not master",
    ]


def test_include_loopback_and_interface(
    fake_interfaces: list[Interface], capfd: pytest.CaptureFixture[str]
) -> None:
    fake_interfaces += [iface("lo", "10.0.0.100", loopback=True), iface("vrrp.51", "10.0.0.7")]
    assert main(["--include-loopback", "--vip", "10.0.0.100"]) == ExitCode.OK
    assert main(["-i", "vrrp.51", "--vip", "10.0.0.7"]) == ExitCode.OK
    assert main(["--interface", "vrrp.5", "--vip", "10.0.0.7"]) == ExitCode.NOT_MASTER


def test_help_lists_examples_and_every_exit_code(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["-h"]) == 0
    out = capfd.readouterr().out
    assert "Examples:" in out and "sh -c" in out and "IF_MASTER_VIP" in out
    for code in ExitCode:
        assert f"\n    {int(code):<5}" in out, code


def test_version(capfd: pytest.CaptureFixture[str]) -> None:
    from ifmaster import __version__

    assert main(["--version"]) == 0
    assert capfd.readouterr().out == f"if-master, version {__version__}\n"


# exec failures happen before the process is replaced, so they can be tested in-process.
def test_exec_not_found_is_127() -> None:
    with pytest.raises(CommandError) as e:
        exec_command(["/nonexistent/if-master-test-cmd"])
    assert e.value.code == ExitCode.NOT_FOUND
    assert e.value.message == "/nonexistent/if-master-test-cmd: No such file or directory"
    with pytest.raises(CommandError) as e:
        exec_command(["if-master-test-no-such-command-on-path"])
    assert e.value.code == ExitCode.NOT_FOUND


def test_exec_not_executable_is_126(tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    for target in (script, tmp_path):  # a file without x, and a directory
        with pytest.raises(CommandError) as e:
            exec_command([str(target)])
        assert e.value.code == ExitCode.CANNOT_INVOKE
        assert "Permission denied" in e.value.message
    assert os.access(script, os.R_OK)


def test_arp_probe_probes_ipv4_and_ipv6_vips_at_once(
    fake_interfaces: list[Interface],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Both families go to the probe in one call; each conflict is named with its MAC."""
    from ifmaster import probe

    fake_interfaces += [iface("eth0", "10.0.0.100", "fd00::1"), iface("eth1", "fd00::2")]
    calls: list[list[tuple[str, bytes]]] = []
    peer = bytes.fromhex("020000000002")

    def fake_probe_all(
        targets: list[tuple[str, bytes]], _own: set[bytes]
    ) -> dict[tuple[str, bytes], list[bytes]]:
        calls.append(list(targets))
        return {t: [peer] if len(t[1]) == 16 else [] for t in targets}

    monkeypatch.setattr(probe, "probe_all", fake_probe_all)
    monkeypatch.setattr(probe, "probe_interface", lambda name: name)
    argv = ["--arp-probe", "--vip", "10.0.0.100", "--vip", "fd00::1", "--vip", "fd00::2"]
    assert main([*argv, "--", "x"]) == 3
    assert len(calls) == 1
    assert sorted(calls[0]) == sorted(
        [("eth0", bytes([10, 0, 0, 100])), ("eth0", packed("fd00::1")),
         ("eth1", packed("fd00::2"))]
    )  # fmt: skip
    err = capfd.readouterr().err
    assert "fd00::1 on eth0 is also answered by 02:00:00:00:00:02" in err
    assert "fd00::2 on eth1 is also answered by 02:00:00:00:00:02" in err
    assert "10.0.0.100" not in err


def packed(text: str) -> bytes:
    import ipaddress

    return ipaddress.ip_address(text).packed


def test_opt_in_checks_run_only_on_the_master(
    backup: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the master: neither keepalived nor the network is asked."""
    from ifmaster import keepalived, probe

    def boom(*_: object) -> None:
        raise AssertionError("checked although not master")

    monkeypatch.setattr(keepalived, "keepalived_pids", boom)
    monkeypatch.setattr(probe, "probe_all", boom)
    assert main(["--require-keepalived", "--arp-probe", "--vip", "10.0.0.100"]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--grace", "3", "--vip", "10.0.0.100", "--", "true"],
            "--grace only applies with --watch or --timeout",
        ),
        (["--watch", "--vip", "10.0.0.100"], "--watch needs a command"),
        (["--min-hold", "-1", "--vip", "10.0.0.100"], "-1"),
        (["--min-hold", "soon", "--vip", "10.0.0.100"], "'soon' is not a number of seconds"),
    ],
)
def test_lease_option_errors(
    master: object, capfd: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 125
    assert message in capfd.readouterr().err
