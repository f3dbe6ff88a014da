"""Broken environments through the installed console script, on real addresses.

Broken stdio must never change the decision or the status; hidden /sys must not read as
"not master"; a keepalived label of any spelling counts on its device.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, Node

pytestmark = pytest.mark.netns

MASTER = "10.50.0.10"  # the node's own address: held on an up interface
OTHER = "10.50.0.99"
ADD_LABEL = Path(__file__).resolve().parents[1] / "support" / "add_label.py"


def sh(node: Node, script: str) -> int:
    """Run a shell line in the node's namespace; its exit status."""
    return node.ns.run(["sh", "-c", script]).returncode


CASES = [
    # (if-master arguments, expected status, whether the job runs)
    (f"-v --vip {MASTER}", 0, False),
    (f"-v --vip {OTHER}", 1, False),
    (f"-v --vip {MASTER} -- touch {{marker}}", 0, True),
    (f"-v --vip {OTHER} -- touch {{marker}}", 0, False),
    ("-v --vip 10.0.0.300 -- touch {marker}", 125, False),
    (f"-v --vip {MASTER} -- /nonexistent/job", 127, False),
    (f"--vip {MASTER} -- /nonexistent/job", 127, False),
    (f"--vip {MASTER} -- ''", 127, False),
    ("--min-hold nan --vip 10.50.0.10 -- touch {marker}", 125, False),
]
BROKEN = {
    "full": "2>/dev/full",
    "closed": "2>&-",
    # A pipe whose reader is gone: writes fail with EPIPE (SIGPIPE is ignored by Python).
    "closed pipe": "2>&1 >&3 3>&- | true",
}


@pytest.mark.parametrize("stderr", list(BROKEN))
@pytest.mark.parametrize(("args", "expected", "runs"), CASES)
def test_broken_stderr_changes_neither_decision_nor_status(
    node: Node, tmp_path: Path, stderr: str, args: str, expected: int, runs: bool
) -> None:
    marker = tmp_path / "ran"
    line = f"{shlex.quote(IF_MASTER)} {args.format(marker=marker)}"
    if stderr == "closed pipe":
        # The status of if-master, not of `true`, through bash's PIPESTATUS.
        script = f"exec 3>&1; {line} {BROKEN[stderr]}; exit ${{PIPESTATUS[0]}}"
        status = node.ns.run(["bash", "-c", script]).returncode
    else:
        status = sh(node, f"{line} {BROKEN[stderr]}")
    assert (status, marker.exists()) == (expected, runs)


@pytest.mark.parametrize("stdout", [">/dev/full", ">&-"])
def test_explain_whose_output_is_lost_has_failed(node: Node, stdout: str) -> None:
    assert sh(node, f"{shlex.quote(IF_MASTER)} --explain --vip {MASTER} {stdout}") == 125
    assert sh(node, f"{shlex.quote(IF_MASTER)} --json --vip {MASTER} {stdout}") == 125


def test_hidden_sys_does_not_read_as_not_master(node: Node, tmp_path: Path) -> None:
    """An empty tmpfs over /sys/class/net (or a stale /sys after nsenter): same answers."""
    marker = tmp_path / "ran"
    tool = shlex.quote(IF_MASTER)
    script = (
        "mount -t tmpfs none /sys/class/net && "
        f"{tool} --vip {MASTER} && {tool} --vip {MASTER} -- touch {marker}; r=$?; "
        f"{tool} --vip {OTHER}; echo $r $?"
    )
    r = node.ns.run(["unshare", "--mount", "sh", "-c", script])
    assert r.stdout.split() == ["0", "1"], r.stderr
    assert marker.exists()


@pytest.mark.parametrize("label", ["vip21", "eth0:vip", "x"])
def test_a_keepalived_label_of_any_spelling_counts(node: Node, tmp_path: Path, label: str) -> None:
    """`192.168.200.21 dev eth0 label vip21`: counted on eth0, with and without -i."""
    added = node.ns.run([sys.executable, str(ADD_LABEL), "10.50.0.21", label])
    assert added.returncode == 0, added.stderr
    assert label in node.ns.ip("-o", "-4", "addr", "show", "dev", "eth0").stdout
    marker = tmp_path / "ran"
    for extra in ([], ["-i", "eth0"], ["-i", label]):
        r = node.ns.run([IF_MASTER, "-v", *extra, "--vip", "10.50.0.21"])
        assert r.returncode == 0, r.stderr
        assert f"10.50.0.21 held on eth0 (label {label})" in r.stderr
    r = node.ns.run([IF_MASTER, "--vip", "10.50.0.21", "--", "touch", str(marker)])
    assert (r.returncode, marker.exists()) == (0, True), r.stderr


def test_a_label_cannot_forge_a_line_or_reach_the_terminal(node: Node) -> None:
    """The kernel takes any label: one with a newline made `-v` print a second line of its
    choosing (which could read "if-master: ..."), and an ESC went to the terminal raw."""
    label = "e:\nif-m: x\x1b"  # 15 bytes at most, as any interface name
    added = node.ns.run([sys.executable, str(ADD_LABEL), "10.50.0.22", label])
    assert added.returncode == 0, added.stderr
    r = node.ns.run([IF_MASTER, "-v", "--vip", "10.50.0.22"])
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stderr
    assert r.stderr.count("if-master: ") == r.stderr.count("\n")  # every line is ours
    assert "(label e:\\nif-m: x\\x1b)" in r.stderr
    r = node.ns.run([IF_MASTER, "--explain", "--vip", "10.50.0.22"])
    assert r.returncode == 0 and "\x1b" not in r.stdout
    assert "10.50.0.22 (label e:\\nif-m: x\\x1b)  <- VIP, counts" in r.stdout


def test_arp_probe_on_a_name_that_is_not_utf8_fails_closed_in_one_line(
    node: Node, tmp_path: Path
) -> None:
    """The kernel takes any bytes as a name; Python's packet sockets only UTF-8 (it was an
    internal error)."""
    name = os.fsdecode(b"v\xff\xfe")
    node.ns.ip("link", "add", name, "type", "veth", "peer", "name", "vpeer")
    node.ns.ip("link", "set", name, "up")
    node.ns.ip("link", "set", "vpeer", "up")
    node.ns.ip("addr", "add", "10.50.9.1/32", "dev", name)
    marker = tmp_path / "ran"
    r = node.ns.run([IF_MASTER, "--arp-probe", "--vip", "10.50.9.1", "--", "touch", str(marker)])
    assert (r.returncode, marker.exists()) == (125, False), r.stderr
    assert r.stderr.count("\n") == 1 and "is not UTF-8" in r.stderr, r.stderr
    assert "internal error" not in r.stderr
