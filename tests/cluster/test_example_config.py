"""examples/keepalived.conf really works: both nodes run it, edited only as its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.lab import Lab, MakeLab, Node, assert_ticks

pytestmark = pytest.mark.cluster

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "keepalived.conf"


def _example_for(lab: Lab, node: Node) -> str:
    """The example, with the lab's interface, VRID and VIP; node B edits per the comments."""
    text = EXAMPLE.read_text()
    for old, new in [
        ("interface eth0 ", f"interface {node.ifname} "),
        ("virtual_router_id 51 ", f"virtual_router_id {lab.vrid} "),
        ("10.0.0.100/24\n", f"{lab.vip}/24\n"),
    ]:
        assert text.count(old) == 1, f"example no longer has {old!r}"
        text = text.replace(old, new)
    if node.priority != 150:  # the lab's lower-priority node plays node B
        # Only uncommented lines: the commented IPv6 instance repeats "priority 150".
        text = re.sub(r"(?m)^(\s*)router_id node-a\b", r"\1router_id node-b", text)
        text = re.sub(r"(?m)^(\s*)priority 150\b", r"\1priority 100", text)
    return text


def _active(conf: str, key: str) -> list[str]:
    """Values of `key` on the uncommented lines of a keepalived config."""
    return re.findall(rf"(?m)^\s*{key}\s+(\S+)", conf)


def test_example_config_elects_node_a(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab(2, config=_example_for)
    master = lab.wait_single_holder()
    confs = {n.name: (lab.workdir / f"{n.name}.conf").read_text() for n in lab.nodes}
    # Node B really got node B's lines (else both would be 150 and the test proves little).
    assert {n: (_active(c, "priority"), _active(c, "router_id")) for n, c in confs.items()} == {
        n.name: (["150"], ["node-a"]) if n is master else (["100"], ["node-b"]) for n in lab.nodes
    }
    assert lab.holders() == {master.name: master.ifname}
    assert_ticks(lab, tmp_path, 3, [master.name], "--vip", lab.vip)
