"""--require-keepalived against a real keepalived, run in the foreground in a namespace."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ifmaster
from tests.support.netnslib import IF_MASTER, Netns, NetnsFactory, require, unique_name, veth

pytestmark = pytest.mark.netns

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
SRC = str(Path(ifmaster.__file__).resolve().parents[1])
CHECK = "import json; from ifmaster.keepalived import keepalived_pids as k; print(json.dumps(k()))"
# Another user than keepalived's: may not read its /proc/PID/ns/net, so takes the fallback.
# System python, as the venv's may sit in a directory that user cannot enter.
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
SYSTEM_PYTHON = "/usr/bin/python3"

CONFIG = """\
global_defs {{
    router_id {name}
}}
vrrp_instance {name} {{
    state BACKUP
    interface {dev}
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {{
        10.0.0.100/24
    }}
}}
"""


def pids_in(ns: Netns, nobody: bool = False) -> list[int]:
    """keepalived_pids() as seen from inside `ns`."""
    if nobody:
        argv = [*AS_NOBODY, "env", f"PYTHONPATH={SRC}", SYSTEM_PYTHON, "-c", CHECK]
    else:
        argv = [sys.executable, "-c", CHECK]
    proc = ns.run(argv)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def keepalived_ns(netns_factory: NetnsFactory, tmp_path: Path) -> Iterator[Netns]:
    """A namespace running keepalived (VRRP only, foreground, its own pid files)."""
    require(os.access(KEEPALIVED, os.X_OK), f"{KEEPALIVED} is not installed (./test.sh does)")
    ns, peer = netns_factory("ifmka"), netns_factory("ifmkp")
    dev = unique_name("ifmk")
    veth(ns, dev, peer, unique_name("ifmk"))
    ns.ip("addr", "add", "10.0.0.1/24", "dev", dev)
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONFIG.format(name=ns.name, dev=dev))
    tmp_path.chmod(0o755)
    argv = [KEEPALIVED, "-n", "-l", "-P", "-f", str(conf),
            "-p", str(tmp_path / "k.pid"), "-r", str(tmp_path / "v.pid")]  # fmt: skip
    proc = ns.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not pids_in(ns):
            assert proc.poll() is None, "keepalived exited"
            assert time.monotonic() < deadline, "keepalived did not start"
            time.sleep(0.05)
        yield ns
    finally:
        proc.kill()
        proc.wait()


def test_true_here_false_elsewhere_false_once_killed(
    keepalived_ns: Netns, netns_factory: NetnsFactory
) -> None:
    ns = keepalived_ns
    here = pids_in(ns)
    assert here and set(here) <= set(ns.pids())  # the parent and its VRRP child
    other = netns_factory("ifmko")
    assert pids_in(other) == []
    # The failure it guards against: keepalived SIGKILLed, the VIP left behind.
    for pid in ns.pids():
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2
    while pids_in(ns):  # zombies until reaped count as dead already; this is the kernel's pace
        assert time.monotonic() < deadline, "still seen as running after SIGKILL"
        time.sleep(0.02)


def test_other_user_sees_it_through_the_fallback(
    keepalived_ns: Netns, netns_factory: NetnsFactory
) -> None:
    require(os.access(SYSTEM_PYTHON, os.X_OK), f"{SYSTEM_PYTHON} is needed to run as nobody")
    assert pids_in(keepalived_ns, nobody=True) == pids_in(keepalived_ns)
    assert pids_in(netns_factory("ifmko"), nobody=True) == []


def test_cli_counts_the_vip_only_while_keepalived_lives(keepalived_ns: Netns) -> None:
    """The stale-VIP case through the console script: 10.0.0.1 stays, keepalived dies."""
    args = [IF_MASTER, "--require-keepalived", "--vip", "10.0.0.1"]
    assert keepalived_ns.run(args).returncode == 0
    r = keepalived_ns.run([*args, "-v", "--", "echo", "ran"])
    assert r.stdout == "ran\n"
    assert "keepalived is running here (PID" in r.stderr
    assert keepalived_ns.run([IF_MASTER, "--vip", "10.0.0.1"]).returncode == 0
    for pid in keepalived_ns.pids():
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2
    while keepalived_ns.run(args).returncode != 1:
        assert time.monotonic() < deadline, "the stale VIP still counts after SIGKILL"
        time.sleep(0.02)
    r = keepalived_ns.run([*args, "-v", "--", "echo", "ran"])
    assert (r.returncode, r.stdout) == (0, "")
    assert "no live keepalived in this network namespace" in r.stderr
    # Without the option the leftover address still makes a master: the gap it closes.
    assert keepalived_ns.run([IF_MASTER, "--vip", "10.0.0.1"]).returncode == 0


def test_a_stopped_vrrp_child_makes_the_vip_stale(keepalived_ns: Netns, tmp_path: Path) -> None:
    """SIGSTOP on keepalived's VRRP child: no adverts, the peer takes the VIP, and the idle
    parent alone used to make this node count it too."""
    args = [IF_MASTER, "--require-keepalived", "--vip", "10.0.0.1"]
    assert keepalived_ns.run(args).returncode == 0
    vrrp = int((tmp_path / "v.pid").read_text())
    os.kill(vrrp, signal.SIGSTOP)
    try:
        r = keepalived_ns.run([*args, "-v"])
        assert r.returncode == 1, r.stderr
        assert "no live keepalived in this network namespace" in r.stderr
    finally:
        os.kill(vrrp, signal.SIGCONT)
    assert keepalived_ns.run(args).returncode == 0
