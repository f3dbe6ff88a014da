"""A smoke of the hostile-input property test against the installed console script.

The in-process version (tests/cli/test_hostile.py) runs hundreds of cases on a faked table;
this one runs a few dozen through the real script, the real kernel table and the real exec.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.netnslib import IF_MASTER, Node

pytestmark = pytest.mark.netns

VALUES = [
    "nan", "inf", "1e400", "-1", "0", "3", "256", "", " ", "x" * 300, "10.50.0.10",
    "10.50.0.1", "fd00:50::10", "eth0", "lo", "a/b", "..", "--",
]  # fmt: skip
OPTIONS = [
    "--vip", "-i", "--include-loopback", "--not-master-exit", "--min-hold", "--grace",
    "--watch", "-v", "--explain", "--json", "--task", "--timeout",
]  # fmt: skip
MASTER_VIPS = {"10.50.0.10", "fd00:50::10"}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    argv=st.lists(st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES)), max_size=6),
    env_vip=st.one_of(st.none(), st.sampled_from(VALUES)),
)
def test_the_installed_script_fails_closed_on_any_input(
    node: Node, tmp_path: Path, argv: list[str], env_vip: str | None
) -> None:
    marker = tmp_path / "ran"
    marker.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IF_MASTER")}
    if env_vip is not None:
        env["IF_MASTER_VIP"] = env_vip
    r = node.ns.run([IF_MASTER, *argv, "--", "touch", str(marker)], env=env, timeout=30)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert 0 <= r.returncode <= 255, r
    if marker.exists():
        # It ran: the options must have named a VIP this node holds (or inherited one).
        named = {argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--vip"}
        assert named & MASTER_VIPS or (not named and env_vip in MASTER_VIPS), (argv, env_vip)
        assert r.returncode == 0
