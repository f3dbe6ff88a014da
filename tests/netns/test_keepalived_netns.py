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
from tests.netnslib import Netns, NetnsFactory, unique_name, veth

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
    if not os.access(KEEPALIVED, os.X_OK):
        pytest.skip(f"{KEEPALIVED} is not installed")
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
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is needed to run the check as nobody")
    assert pids_in(keepalived_ns, nobody=True) == pids_in(keepalived_ns)
    assert pids_in(netns_factory("ifmko"), nobody=True) == []
