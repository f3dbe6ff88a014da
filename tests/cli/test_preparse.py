"""The hot path's pre-parse agrees with click on every argv it accepts."""

from __future__ import annotations

import os
from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ifmaster import cli
from ifmaster.decide import decide
from ifmaster.model import Action, Request
from ifmaster.preparse import CLICK_ENV_PREFIXES, preparse
from tests.support.fakes import addr, iface

WORDS = [
    "--vip", "--vip=10.0.0.1", "--vip=", "--vip=fd00::1/64", "10.0.0.1", "10.0.0.10",
    "10.0.0.1/24", "fd00::1", "fe80::1%eth0", "10.0.0.300", "", " ", "--", "-", "-v",
    "--verbose", "-i", "--interface", "eth0", "--include-loopback", "--not-master-exit", "3",
    "--vipx", "--vi", "-h", "--version", "true", "sh", "-c", "echo $HOME > 'a b'", "*", "--x=1",
]  # fmt: skip
ENVS = [None, "", "  ", "10.0.0.1", "10.0.0.1 fd00::1", "10.0.0.1,10.0.0.2", "bad"]
SYSLOG_ENVS = [None, "1", "0", ""]
TABLE = [
    iface("lo", "127.0.0.1", "10.0.0.1", loopback=True),
    iface("eth0", "10.0.0.10", "10.0.0.1", addr("fd00::1", 0x40)),
    iface("eth1", "fd00::1"),
]


def via_click(argv: list[str]) -> tuple[object, ...] | None:
    """What click hands to act() for this argv, or None if click refuses it."""
    seen = []

    def record(*args: object) -> int:
        seen.append(args)
        return 0

    with mock.patch.object(cli, "act", record):
        cli.run_click(argv)
    return seen[0] if seen else None  # type: ignore[return-value]


@settings(max_examples=400)
@given(
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), max_size=7),
    st.sampled_from(ENVS),
    st.sampled_from(SYSLOG_ENVS),
)
@example(["--vip", "10.0.0.1", "--", "--", "-v"], None, None)
@example(["--vip", "--", "true"], None, None)
@example(["true", "--vip", "10.0.0.1"], "10.0.0.1", None)
@example(["--vip=10.0.0.1", "-"], None, None)
@example(["--vip=10.0.0.1", "--", "true"], None, "1")
def test_preparse_agrees_with_click(argv: list[str], env: str | None, syslog: str | None) -> None:
    environ = {} if env is None else {"IF_MASTER_VIP": env}
    if syslog is not None:
        environ["IF_MASTER_SYSLOG"] = syslog
    fast = preparse(argv, environ)
    if fast is None:
        return  # handed over to click: nothing to compare
    with mock.patch.dict(os.environ, environ, clear=True):
        slow = via_click(argv)
    assert slow is not None, f"click refused {argv!r} that the pre-parse accepted"
    request, action = slow
    assert isinstance(request, Request) and isinstance(action, Action)
    fast_action = fast[1]
    for name in Action.__slots__:  # every field, so a new one cannot be forgotten here
        assert getattr(action, name) == getattr(fast_action, name), name
    assert request.vips == fast[0].vips
    assert (request.interfaces, request.include_loopback) == (frozenset(), False)
    assert (request.require_keepalived, request.arp_probe, request.min_hold) == (False, False, None)
    # Same request, same table: the same decision, hence the same exec.
    assert [(f.vip, f.interface) for f in decide(request, TABLE).held] == [
        (f.vip, f.interface) for f in decide(fast[0], TABLE).held
    ]


def test_preparse_takes_the_common_forms() -> None:
    """It must accept these, or the hot path is never taken."""
    env = {"IF_MASTER_VIP": "10.0.0.1"}
    for argv in (
        ["--vip", "10.0.0.1", "--", "backup.sh", "--full"],
        ["--vip=10.0.0.1", "backup.sh"],
        ["--", "backup.sh"],
        ["--vip", "10.0.0.1"],
    ):
        assert preparse(argv, env) is not None, argv


def test_preparse_hands_over_what_it_does_not_know() -> None:
    for argv in (["-v", "--vip", "10.0.0.1"], ["--vip", "x", "--", "true"], ["--help"], ["--vip"]):
        assert preparse(argv, {}) is None, argv


def test_every_environment_variable_click_reads_makes_the_pre_parse_hand_over() -> None:
    """A future option with an envvar cannot be silently ignored on the hot path."""
    envvars = {p.envvar for p in cli.command.params if isinstance(p.envvar, str)}
    envvars.add("_IF_MASTER_COMPLETE")  # click's shell completion
    assert envvars - {"_IF_MASTER_COMPLETE"}, "no option reads the environment any more?"
    for name in envvars:
        assert name.startswith(CLICK_ENV_PREFIXES), name
        assert preparse(["--vip", "10.0.0.1"], {name: "1"}) is None, name


# -- the ledger's common line: --task, --every, --ledger and a command ----------------

LEDGER_WORDS = [
    "--task", "--task=backup", "backup", "--every", "--every=1h", "1h", "5m", "0", "90",
    "--ledger", "--ledger=etcd://10.0.0.5:2379/ifm", "etcd://10.0.0.5:2379/ifm",
    "etcd://10.0.0.5:2379", "etcds://[fd00::5]:2379/p", "postgresql://u@10.0.0.5/db",
    "--vip", "10.0.0.1", "--", "true", "--every=", "--task=a/b", "--keep", "1d", "-v",
]  # fmt: skip


def same(a: object, b: object) -> bool:
    """Records compared field by field (they define no __eq__); schedules by their spec."""
    from ifmaster import slot

    if isinstance(a, slot.Schedule) and isinstance(b, slot.Schedule):
        return slot.spec(a) == slot.spec(b) and type(a) is type(b)
    names = getattr(type(a), "__slots__", None)
    if names is None or type(a) is not type(b):
        return a == b
    return all(same(getattr(a, n), getattr(b, n)) for n in names)


def assert_ledger_line_agrees(argv: list[str]) -> bool:
    """True when the pre-parse took ``argv``: then click built the very same records."""
    fast = preparse(argv, {})
    if fast is None:
        return False
    with mock.patch.dict(os.environ, {}, clear=True):
        slow = via_click(argv)
    assert slow is not None, f"click refused {argv!r} that the pre-parse accepted"
    request, action = slow
    assert isinstance(request, Request) and isinstance(action, Action)
    for name in Action.__slots__:
        assert same(getattr(action, name), getattr(fast[1], name)), name
    assert request.vips == fast[0].vips
    return True


@settings(max_examples=400)
@given(st.lists(st.one_of(st.sampled_from(LEDGER_WORDS), st.text(max_size=6)), max_size=9))
@example(["--vip", "10.0.0.1", "--task", "backup", "--every", "1h", "--ledger",
          "etcd://10.0.0.5:2379/ifm", "--", "true"])  # fmt: skip
@example(["--task", "--every", "--every", "1h", "--ledger", "etcd://10.0.0.5:2379/ifm", "true"])
def test_the_ledger_line_agrees_with_click(argv: list[str]) -> None:
    assert_ledger_line_agrees(argv)


def test_the_ledger_line_is_taken_without_click() -> None:
    url = "etcd://10.0.0.5:2379/ifm"
    taken = [
        ["--vip", "10.0.0.1", "--task", "backup", "--every", "1h", "--ledger", url, "--", "true"],
        ["--vip=10.0.0.1", "--task=backup", "--every=5m", f"--ledger={url}", "sh", "-c", "x"],
        ["--ledger", url, "--every", "90", "--task", "b.1", "--vip", "10.0.0.1", "true"],
        ["--vip", "10.0.0.1", "--task", "t", "--every", "1d", "--ledger",
         "postgresql://u@10.0.0.5/db", "--", "true"],
    ]  # fmt: skip
    for argv in taken:
        assert assert_ledger_line_agrees(argv), argv
        claim = preparse(argv, {})[1].claiming  # type: ignore[index]
        assert claim is not None and claim.options.url in (url, "postgresql://u@10.0.0.5/db")
    handed_over = [
        ["--vip", "10.0.0.1", "--task", "backup", "--every", "1h", "--ledger", url],  # a check
        ["--vip", "10.0.0.1", "--task", "backup", "--ledger", url, "true"],  # no schedule
        ["--vip", "10.0.0.1", "--task", "b", "--every", "1h", "--every", "2h", "--ledger", url,
         "true"],  # twice: click says which counts
        ["--vip", "10.0.0.1", "--task", "a/b", "--every", "1h", "--ledger", url, "true"],
        ["--vip", "10.0.0.1", "--task", "b", "--every", "0", "--ledger", url, "true"],
        ["--vip", "10.0.0.1", "--task", "b", "--every", "1h", "--ledger", "http://x", "true"],
        ["--vip", "10.0.0.1", "--task", "b", "--every", "1h", "--ledger", url, "--keep", "1d",
         "true"],
        ["--vip", "10.0.0.1", "--task", "b", "true"],  # --task alone: metrics, locks: click's
    ]  # fmt: skip
    for argv in handed_over:
        assert preparse(argv, {}) is None, argv
    env = {"IF_MASTER_LEDGER_PASSWORD": "x"}  # any IF_MASTER_* but the VIP: click's
    assert preparse(taken[0], env) is None
