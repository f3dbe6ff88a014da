"""The crontab example under the real cron daemon, on two nodes, one of them holding the VIP.

Debian's cron (``cron -f``) runs in two network namespaces joined by a veth pair: ``a`` holds
the VIP on its up ``eth0``, ``b`` does not. Both get the same crontab, byte for byte, built
from ``examples/crontab.example`` with the lab's VIP and the installed console script.

Why a mount namespace per node: cron's paths are compiled in (``/var/spool/cron/crontabs``,
``/etc/cron.d``, ``/etc/crontab``, and its lock ``/run/crond.pid``, which a second daemon
cannot take). Each daemon therefore runs under ``unshare --mount`` (private propagation: no
mount is seen by the host) with per-node directories of ``tmp_path`` bind-mounted over the
spool, over ``/run``, and, emptied, over ``/etc/cron.d`` and ``/etc/crontab`` (so the host's
system jobs never run twice). The crontab is never written to the host's spool or
``/etc/cron.d``: it only exists in ``tmp_path``, visible only to the daemons, and the
bind mounts vanish with their processes, even when the test fails. A per-node directory is
also bind-mounted on one shared ``out`` path, so the identical job line writes its
evidence to the node's own directory.

In the same minute each daemon also runs ``/etc/cron.d/if-master`` as the Ansible example
writes it (``--tags cron``, applied for real into tmp_path), with its quoted
``IF_MASTER_VIP="..."`` line and its user field, so that file is proven under cron too.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, Netns, NetnsFactory, veth
from tests.support.opslib import EXAMPLES, INSTALLED, ansible_playbook, require_tool

pytestmark = [pytest.mark.netns, pytest.mark.slow]

VIP = "10.61.0.100"
CRON_PATH = "/usr/bin:/bin"  # what the example says cron gives its jobs

# Inside each node: private mounts, then the daemon in the foreground (it replaces sh).
NODE_SCRIPT = """\
set -e
dir=$1 out=$2
mount --bind "$dir/crontabs" /var/spool/cron/crontabs
mount --bind "$dir/run" /run
mount --bind "$dir/out" "$out"
if [ -d /etc/cron.d ]; then mount --bind "$dir/cron.d" /etc/cron.d; fi
if [ -e /etc/crontab ]; then mount --bind "$dir/crontab" /etc/crontab; fi
exec cron -f -L 15
"""


def crontab_from_example(vip: str, job: str) -> str:
    """The example with the lab's VIP and console script, its jobs replaced by ``job``."""
    lines = []
    vip_lines = 0
    jobs = 0
    for line in (EXAMPLES / "crontab.example").read_text().splitlines():
        if line.startswith("IF_MASTER_VIP="):
            line = f"IF_MASTER_VIP={vip}"
            vip_lines += 1
        elif line.strip() and not line.startswith("#"):
            assert line.split(maxsplit=5)[5].startswith(INSTALLED), (
                f"an example job does not call {INSTALLED} by its absolute path: {line}"
            )
            jobs += 1
            continue
        assert not line.startswith("PATH="), "the test relies on cron's default PATH"
        lines.append(line.replace(INSTALLED, IF_MASTER))
    assert vip_lines == 1 and jobs > 0, "the example lost its IF_MASTER_VIP= line or its jobs"
    return "\n".join([*lines, job, ""])


class CronNode:
    """A namespace running ``cron -f`` on its own spool, /run and evidence directory."""

    def __init__(self, ns: Netns, base: Path, out: Path, crontab: str, cron_d: str) -> None:
        self.ns = ns
        self.dir = base
        for sub in ("crontabs", "run", "out", "cron.d"):
            (base / sub).mkdir(parents=True)
        (base / "crontab").write_text("")
        (base / "cron.d" / "if-master").write_text(cron_d)  # 0644, root's: as cron wants
        tab = base / "crontabs" / "root"
        tab.write_text(crontab)
        tab.chmod(0o600)  # cron ignores a crontab with any other mode
        self.stderr = (base / "cron.stderr").open("w")
        self.proc = ns.popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", NODE_SCRIPT, "sh"]
            + [str(base), str(out)],
            # The daemon's own environment: the job must not inherit any of it.
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "IF_MASTER_VIP": "10.61.0.1"},
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
        )

    def file(self, name: str) -> str:
        path = self.dir / "out" / name
        return path.read_text() if path.exists() else ""

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            self.stderr.flush()
            err = (self.dir / "cron.stderr").read_text()
            pytest.fail(f"cron in {self.ns.name} exited {self.proc.returncode}: {err}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.stderr.close()


def ansible_cron_file(tmp_path: Path, command: str) -> str:
    """The cron file the Ansible example writes for one every-minute job running ``command``."""
    tmp_path.mkdir()
    extra = {
        "if_master_vip": VIP,
        "if_master_venv": str(Path(IF_MASTER).parent.parent),
        "if_master_cron_file": str(tmp_path / "if-master"),
        "if_master_jobs": [{"name": "evidence", "command": command}],
        "ansible_become": False,
    }
    r = ansible_playbook(tmp_path, "--tags", "cron", extra_vars=extra)
    assert r.returncode == 0, r.stdout + r.stderr
    text = (tmp_path / "if-master").read_text()
    assert text.startswith(f'IF_MASTER_VIP="{VIP}"\n'), text
    return text


def host_cron_state() -> dict[str, list[str]]:
    return {
        d: sorted(os.listdir(d)) if os.path.isdir(d) else []
        for d in ("/var/spool/cron/crontabs", "/etc/cron.d")
    }


@pytest.fixture
def cron_nodes(netns_factory: NetnsFactory, tmp_path: Path) -> Iterator[dict[str, CronNode]]:
    require_tool("cron", "cron")
    require_tool("unshare", "util-linux")
    a, b = netns_factory("ifmca"), netns_factory("ifmcb")
    veth(a, "eth0", b, "eth0")
    a.ip("addr", "add", "10.61.0.1/24", "dev", "eth0")
    a.ip("addr", "add", f"{VIP}/32", "dev", "eth0")
    b.ip("addr", "add", "10.61.0.2/24", "dev", "eth0")
    out = tmp_path / "out"  # the job's one path; each node mounts its own directory here
    out.mkdir()

    def evidence(prefix: str) -> str:
        """What if-master runs on the master, then what runs after it on every node: proof
        that the daemon ran the line, with if-master's status (0 on both nodes)."""
        return (
            f"sh -c 'echo \"ran PATH=$PATH VIP=$IF_MASTER_VIP\" >> {out}/{prefix}job.log'; "
            f'echo "if-master exit $?" >> {out}/{prefix}done.log'
        )

    crontab = crontab_from_example(VIP, f"* * * * * {IF_MASTER} -- {evidence('')}")
    cron_d = ansible_cron_file(tmp_path / "ansible", evidence("ansible-"))
    before = host_cron_state()
    nodes: dict[str, CronNode] = {}
    try:
        for name, ns in (("a", a), ("b", b)):
            nodes[name] = CronNode(ns, tmp_path / name, out, crontab, cron_d)
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()
    assert host_cron_state() == before, "the test left something in the host's cron dirs"
    assert not os.listdir(out), "a node's bind mount leaked to the host"


def test_cron_runs_the_job_on_the_vip_holder_only(cron_nodes: dict[str, CronNode]) -> None:
    a, b = cron_nodes["a"], cron_nodes["b"]
    deadline = time.monotonic() + 75  # the next minute starts within 60 s
    logs = ("done.log", "ansible-done.log")
    while not all(node.file(log) for node in (a, b) for log in logs):
        for node in (a, b):
            node.check_alive()
        assert time.monotonic() < deadline, (
            f"cron did not run both files on both nodes within 75 s: "
            f"{[(n.ns.name, log, n.file(log)) for n in (a, b) for log in logs]}"
        )
        time.sleep(0.2)
    assert a.file("done.log").splitlines()[0] == "if-master exit 0"
    assert b.file("done.log").splitlines()[0] == "if-master exit 0"
    assert not b.file("job.log"), "the job ran on the node without the VIP"
    # On the master: run by cron, with cron's PATH (if-master is not on it: the absolute
    # path in the example is needed) and the VIP from the crontab's line, not the daemon's.
    assert a.file("job.log").splitlines()[0] == f"ran PATH={CRON_PATH} VIP={VIP}"
    assert str(Path(IF_MASTER).parent) not in CRON_PATH.split(":")
    # The same, from the file the Ansible example writes.
    for node in (a, b):
        assert node.file("ansible-done.log").splitlines()[:1] == ["if-master exit 0"]
    assert not b.file("ansible-job.log"), "the Ansible-deployed job ran without the VIP"
    assert a.file("ansible-job.log").splitlines()[0] == f"ran PATH={CRON_PATH} VIP={VIP}"
