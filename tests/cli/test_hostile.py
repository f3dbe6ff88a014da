"""Hostile input in-process: every bad value is 125 with one line naming it, and runs nothing.

Ends with a property test over argv and the environment: whatever the input, the status is
one the README documents, no traceback escapes, the command starts only on a master
verdict, and --explain --json agrees with the decision.
"""

from __future__ import annotations

import json
import os
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ifmaster import act, interfaces, proc, run
from ifmaster.decide import decide
from ifmaster.main import main
from ifmaster.model import Interface, Request
from ifmaster.vip import parse_vip
from tests.support.fakes import Executed, addr, iface

pytestmark = pytest.mark.usefixtures("no_exec")

TABLE = [
    iface("lo", "127.0.0.1", "10.0.0.101", loopback=True, state="unknown"),
    iface("eth0", "10.0.0.11", "10.0.0.100", addr("10.0.0.102", label="vip21")),
    iface("eth1", "10.0.0.103", up=False, state="admin down"),
]


@pytest.fixture
def table(fake_interfaces: list[Interface], monkeypatch: pytest.MonkeyPatch) -> list[Interface]:
    monkeypatch.delenv("IF_MASTER_VIP", raising=False)
    fake_interfaces += TABLE
    return fake_interfaces


def one_line_125(args: list[str], capfd: pytest.CaptureFixture[str], *names: str) -> str:
    assert main(args) == 125  # and no Executed: nothing ran
    out, err = capfd.readouterr()
    assert out == "" and err.startswith("if-master: ") and err.count("\n") == 1, err
    for name in names:
        assert name in err, (name, err)
    return err


@pytest.mark.parametrize("value", ["nan", "NaN", "-nan", "inf", "-inf", "1e400", "-1", "86401"])
def test_min_hold_must_be_finite_and_in_range(
    table: object, capfd: pytest.CaptureFixture[str], value: str
) -> None:
    """nan behaved as 0 (fail-open) and inf as never: both are now refused by name."""
    one_line_125(["--min-hold", value, "--vip", "10.0.0.100", "--", "true"], capfd, repr(value))


@pytest.mark.parametrize("value", ["nan", "inf", "1e300", "-0.5", "3601", ""])
def test_grace_must_be_finite_and_in_range(
    table: object, capfd: pytest.CaptureFixture[str], value: str
) -> None:
    args = ["--watch", "--grace", value, "--vip", "10.0.0.100", "--", "true"]
    one_line_125(args, capfd, "--grace")


def test_the_range_ends_are_accepted(table: object) -> None:
    assert main(["--min-hold", "0", "--vip", "10.0.0.100"]) == 1  # no age known in a fake
    assert main(["--min-hold", "86400", "--vip", "10.0.0.100"]) == 1


@pytest.mark.parametrize(
    "name", ["", "a/b", "..", ".", "x" * 16, "x" * 300, "eth0 ", " eth0", "eth\t0", "\u00e9" * 8]
)
def test_interface_names_the_kernel_could_never_have(
    table: object, capfd: pytest.CaptureFixture[str], name: str
) -> None:
    one_line_125(
        ["-i", name, "--vip", "10.0.0.100", "--", "true"], capfd, "cannot name an interface"
    )


@pytest.mark.parametrize("name", ["*", "eth9", "vrrp.51", "eth0:9"])
def test_an_interface_nobody_has_is_said_in_every_mode(
    table: object, capfd: pytest.CaptureFixture[str], name: str
) -> None:
    warning = f"if-master: warning: --interface {name}: no interface of that name here"
    assert main(["-i", name, "--vip", "10.0.0.100", "--", "true"]) == 0  # not master, skipped
    assert capfd.readouterr().err.startswith(warning)
    assert main(["-i", name, "--vip", "10.0.0.100"]) == 1
    assert capfd.readouterr().err.startswith(warning)


@pytest.mark.parametrize("name", ["eth0", "vip21"])
def test_names_of_devices_and_labels_are_not_warned_about(
    table: object, capfd: pytest.CaptureFixture[str], name: str
) -> None:
    with pytest.raises(Executed):
        main(["-i", name, "--vip", "10.0.0.102", "--", "true"])
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("value", ['"10.0.0.100"', "'10.0.0.100'", '"10.0.0.1 10.0.0.100"'])
def test_one_pair_of_quotes_around_the_vip_variable_is_stripped(
    table: object, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Debian's cron strips them, other crons keep them: the same line means the same."""
    monkeypatch.setenv("IF_MASTER_VIP", value)
    with pytest.raises(Executed):
        main(["--", "true"])


@pytest.mark.parametrize(
    "value", ['"10.0.0.100', "10.0.0.100'", '"10.0.0.1" "10.0.0.100"', "'10.0.0.100\""]
)
def test_other_quotes_in_the_vip_variable_are_refused(
    table: object,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    monkeypatch.setenv("IF_MASTER_VIP", value)
    one_line_125(["--", "true"], capfd, "quotes inside the value")


# The property test's vocabulary: every option, and the values that broke things before.
VALUES = [
    "nan", "inf", "-inf", "1e400", "-1", "0", "3", "255", "256", "", " ", "x" * 300,
    "10.0.0.100", "10.0.0.1", "10.0.0.102", "fd00::1", "eth0", "vip21", "lo", "a/b", "..",
    "\udcff", "true", "--", "-",
]  # fmt: skip
OPTIONS = [
    "--vip", "-i", "--interface", "--include-loopback", "--not-master-exit", "--min-hold",
    "--watch", "--grace", "-v", "--explain", "--json", "--syslog",
]  # fmt: skip
# 0, 1, 3, 125-127, and any N of --not-master-exit (0..255): the whole byte, so the test
# checks the type and range of what comes back, and the absence of tracebacks above.
DOCUMENTED = set(range(256))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    argv=st.lists(st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES)), max_size=8),
    env_vip=st.one_of(st.none(), st.sampled_from(VALUES)),
)
def test_no_input_escapes_the_documented_statuses(
    fake_interfaces: list[Interface],
    capfd: pytest.CaptureFixture[str],
    argv: list[str],
    env_vip: str | None,
) -> None:
    fake_interfaces[:] = TABLE
    environ = {} if env_vip is None else {"IF_MASTER_VIP": env_vip}
    evaluated: list[tuple[Request, bool]] = []
    real_evaluate = act.evaluate

    def evaluate(request: Request, full: bool = False) -> object:
        evaluated.append((request, full))
        return real_evaluate(request, full)

    ran = False
    with (
        mock.patch.dict(os.environ, environ, clear=True),
        mock.patch.object(act, "evaluate", evaluate),
    ):
        try:
            status = main(argv)
        except Executed:
            ran = True
        except SystemExit as e:  # --help/--version print and exit 0 inside click
            status = int(e.code or 0)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    if ran:
        # It started a command: only because the verdict it acted on said master.
        ((request, explaining),) = evaluated
        assert decide(request, TABLE).master
        assert not explaining
    else:
        assert status in DOCUMENTED


def test_explain_json_agrees_with_the_decision(
    table: object, capfd: pytest.CaptureFixture[str]
) -> None:
    for vips in (["10.0.0.100"], ["10.0.0.101"], ["10.0.0.102"], ["10.0.0.103"], ["10.9.9.9"]):
        args = [a for v in vips for a in ("--vip", v)]
        status = main(["--json", *args])
        data = json.loads(capfd.readouterr().out)
        expected = decide(Request(vips=[parse_vip(v) for v in vips]), TABLE).master
        assert data["master"] is expected and status == (0 if expected else 1)
        with (
            mock.patch.object(interfaces, "snapshot", lambda **kw: TABLE),
            mock.patch.object(
                run, "exec_command", lambda argv: (_ for _ in ()).throw(Executed(argv))
            ),
        ):
            if expected:
                with pytest.raises(Executed):
                    main([*args, "--", "true"])
            else:
                assert main([*args, "--", "true"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "nan"], "'nan' is not a number of seconds"),
        (["--timeout", "0"], "from more than 0"),
        (["--timeout", "-1"], "'-1'"),
        (["--timeout", "inf"], "'inf'"),
        (["--task", ""], "task name '' is empty"),
        (["--task", "a/b"], "has characters other than"),
        (["--task", ".."], "is not a file name"),
        (["--task", "x" * 201], "longer than 200"),
        (["--task", "job name"], "has characters other than"),
        (["--no-overlap"], "--no-overlap needs --task"),
        (["--overlap-exit", "256", "--task", "t", "--no-overlap"], "256"),
    ],
)
def test_task_options_fail_closed(
    table: object, capfd: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    one_line_125([*args, "--vip", "10.0.0.100", "--", "true"], capfd, message)


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "3601", "x"])
def test_max_delay_fails_closed(
    table: object, capfd: pytest.CaptureFixture[str], value: str
) -> None:
    one_line_125(["--max-delay", value, "--vip", "10.0.0.100", "--", "true"], capfd, repr(value))


def test_since_start_reads_the_start_from_proc(tmp_path: object) -> None:
    import time
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "self").mkdir()
    boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    ticks = int((boot - 3.0) * os.sysconf("SC_CLK_TCK"))
    fields = ["S"] + ["0"] * 18 + [str(ticks)] + ["0"] * 30
    (root / "self" / "stat").write_text(f"42 (a name) with) {' '.join(fields)}\n")
    assert 2.9 < proc.age(str(root)) < 4.0


@pytest.mark.parametrize("mode", [[], ["--explain"]])
def test_no_overlap_on_a_check_is_refused(
    table: object, capfd: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    """It was accepted and ignored: a check runs nothing that a lock could keep apart."""
    one_line_125(
        [*mode, "--task", "t", "--no-overlap", "--vip", "10.0.0.100"], capfd, "needs a command"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Relative directories depend on cron's working directory; '' used to mean "off"
        # for metrics and a directory named ' ' in the working directory for locks.
        (["--task", "t", "--no-overlap", "--lock-dir", "locks"], "'locks' is not an absolute"),
        (["--task", "t", "--no-overlap", "--lock-dir", ""], "'' is not an absolute"),
        (["--task", "t", "--metrics-dir", ""], "'' is not an absolute"),
        (["--task", "t", "--metrics-dir", "m"], "'m' is not an absolute"),
        # Typed and ignored before.
        (["--lock-dir", "/tmp/x"], "--lock-dir goes with --no-overlap"),
        (["--task", "t", "--overlap-exit", "3"], "--overlap-exit goes with --no-overlap"),
        (["--metrics-dir", "/tmp/m"], "--metrics-dir goes with --task"),
    ],
)
def test_directory_options_fail_closed(
    table: object, capfd: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    one_line_125([*args, "--vip", "10.0.0.100", "--", "true"], capfd, message)


def test_directories_from_the_environment(
    table: object, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IF_MASTER_LOCK_DIR", " ")
    one_line_125(["--task", "t", "--no-overlap", "--vip", "10.0.0.100", "--", "true"], capfd,
                 "' ' is not an absolute")  # fmt: skip
    # Atop a crontab they serve the lines that use them: the others are left alone.
    monkeypatch.setenv("IF_MASTER_LOCK_DIR", "/run/lock/if-master")
    monkeypatch.setenv("IF_MASTER_METRICS_DIR", "/var/lib/node_exporter")
    assert main(["--vip", "10.0.0.1", "--", "true"]) == 0
