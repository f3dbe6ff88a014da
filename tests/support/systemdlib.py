"""A live systemd for tests: the distribution's systemd as PID 1 of its own namespaces.

One container is one "node": ``ip netns exec NS unshare --pid --fork --mount --cgroup --uts``
runs ``init.sh``, which mounts ``/proc``, a ``cgroup2`` on ``/sys/fs/cgroup``, tmpfs on
``/run``, an empty unit directory over ``/usr/lib/systemd/system`` (and over the generators,
or the SysV generator would start every ``/etc/init.d`` service of the host), and binds the
container's own ``units/`` over ``/etc/systemd/system``: only the distribution's ``*.target``
and ``*.slice`` units (without them every start fails: ``Unit sysinit.target not found``),
journald and its socket, and the units under test. ``/var/lib/systemd`` (timer stamps) is a
per-node directory that survives a restart of the node; ``/var/log/journal`` is a tmpfs;
``/dev/console`` is the node's ``console.log`` (else systemd opens the host's console).
Nothing else of the host is written: ``/dev`` is shared, so journald's ``/dev/log`` socket
unit is left out.

The launching shell moves itself into a cgroup v2 directory of its own (``unique_name``)
*before* ``ip netns exec`` remounts ``/sys`` (writing ``cgroup.procs`` fails after that), and
execs only if the move worked, so systemd's cgroups (``init.scope``, ``system.slice``...)
are made below that directory, never at the root of the host's hierarchy. ``close()`` kills
PID 1 (the kernel then kills the whole PID namespace), waits for the cgroups to empty and
removes them, deepest first.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support.netnslib import Netns, require, require_root_netns, run, unique_name

SYSTEMD = "/lib/systemd/systemd"
DIST_UNITS = Path("/lib/systemd/system")
#: journald and its socket: the units under test log to a real journal, read by journalctl.
#: Not systemd-journald-dev-log.socket: it would symlink the host's /dev/log.
JOURNALD = ("systemd-journald.service", "systemd-journald.socket")
POLL = 0.05

INIT_SH = """\
set -eu
mount -t proc proc /proc
mount -t tmpfs tmpfs /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /run
for d in /usr/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system-generators \
        /lib/systemd/system-generators /usr/local/lib/systemd/system-generators \
        /etc/systemd/system-generators; do
    [ ! -d "$d" ] || mount -t tmpfs tmpfs "$d"
done
mount --bind "$1/units" /etc/systemd/system
mount --bind "$1/varlib" /var/lib/systemd
[ ! -d /var/log/journal ] || mount -t tmpfs tmpfs /var/log/journal
[ ! -f "$1/mounts.sh" ] || . "$1/mounts.sh"
# systemd writes its status lines to /dev/console: this one's, not the host's.
mount --bind "$1/console.log" /dev/console
exec env -i container=if-master-test {systemd} --system --unit=multi-user.target
"""


def cgroup2_root() -> Path | None:
    """Where this host mounts its cgroup v2 hierarchy (pure v2, or v1 + ``unified``)."""
    found = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            found[fields[1]] = Path(fields[1])
    for where in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if where in found:
            return found[where]
    return None


def require_live_systemd() -> Path:
    """Root, systemd, nsenter/unshare, cgroup v2, or skip (fail in CI); the cgroup v2 root."""
    require_root_netns()
    require(os.access(SYSTEMD, os.X_OK), f"{SYSTEMD} not found (apt-get install systemd)")
    for tool in ("nsenter", "unshare"):
        require(shutil.which(tool) is not None, f"`{tool}` not found (apt-get install util-linux)")
    root = cgroup2_root()
    require(root is not None, "no cgroup v2 hierarchy mounted: systemd cannot run as PID 1 here")
    assert root is not None
    return root


def dist_units() -> dict[str, str]:
    """The distribution's targets and slices, and journald, as {name: text}."""
    units = {}
    for path in sorted(DIST_UNITS.iterdir()):
        if path.suffix in (".target", ".slice") or path.name in JOURNALD:
            if path.is_file():
                units[path.name] = path.read_text()
    return units


class Container:
    """One systemd "node" in network namespace ``ns``; files under ``workdir``.

    ``units`` ({name: text}) go to ``/etc/systemd/system``; ``files`` ({container path:
    text}) replace a file that exists (bind mount) or appear in a tmpfs over its directory.
    ``enable`` units are started at boot (linked into ``multi-user.target.wants``).
    """

    def __init__(
        self,
        ns: Netns,
        workdir: Path,
        units: Mapping[str, str],
        *,
        name: str,
        enable: Sequence[str] = (),
        files: Mapping[str, str] | None = None,
        cgroup_root: Path,
    ) -> None:
        self.ns = ns
        self.name = name
        self.workdir = workdir
        self.units = workdir / "units"
        self.cgroup_root = cgroup_root
        self.cgroup: Path | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.pid = 0  # systemd, as the host sees it
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "varlib").mkdir(exist_ok=True)  # kept across restarts: timer stamps
        self.units.mkdir(exist_ok=True)
        for unit_name, text in {**dist_units(), **units}.items():
            (self.units / unit_name).write_text(text)
        for wants, unit_name in (
            ("sockets.target.wants", "systemd-journald.socket"),
            ("sysinit.target.wants", "systemd-journald.service"),
            *(("multi-user.target.wants", u) for u in enable),
        ):
            link = self.units / wants / unit_name
            link.parent.mkdir(exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(f"../{unit_name}")
        self._write_mounts(files or {})

    def _write_mounts(self, files: Mapping[str, str]) -> None:
        lines = []
        tmpfs: set[str] = set()
        store = self.workdir / "files"
        for i, (target, text) in enumerate(files.items()):
            store.mkdir(exist_ok=True)
            source = store / str(i)
            source.write_text(text)
            if os.path.isfile(target):
                lines.append(f"mount --bind {source} {target}")
                continue
            parent = os.path.dirname(target)
            if parent not in tmpfs:
                lines.append(f"mount -t tmpfs tmpfs {parent}")
                tmpfs.add(parent)
            lines.append(f"cp {source} {target}")
        (self.workdir / "mounts.sh").write_text("".join(line + "\n" for line in lines))

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Boot systemd and wait until it runs (``is-system-running``: running or degraded)."""
        assert self.proc is None, "already running"
        self.cgroup = self.cgroup_root / unique_name("ifmsd")
        self.cgroup.mkdir()
        init = self.workdir / "init.sh"
        init.write_text(INIT_SH.replace("{systemd}", SYSTEMD))
        # The shell joins the cgroup, then execs: `ip netns exec` (which remounts /sys),
        # `unshare`, whose forked child is PID 1. `&&`: no move, no systemd.
        script = 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"'
        argv = [
            "sh", "-c", script, "sh", str(self.cgroup),
            *self.ns.exec_argv(
                ["unshare", "--pid", "--fork", "--mount", "--cgroup", "--uts",
                 "sh", str(init), str(self.workdir)]
            ),
        ]  # fmt: skip
        log = (self.workdir / "console.log").open("a")
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True
            )
        finally:
            log.close()
        self.pid = self._wait_child(timeout)
        deadline = time.monotonic() + timeout
        while True:
            r = self.systemctl("is-system-running", check=False)
            if r.stdout.strip() in ("running", "degraded"):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: systemd did not come up ({r.stdout.strip()!r}); console:\n"
                    + self.console()
                )
            time.sleep(POLL)
        # Proof that systemd's cgroups are below ours, not at the host's root.
        own = Path(f"/proc/{self.pid}/cgroup").read_text()
        assert f"0::/{self.cgroup.relative_to(self.cgroup_root)}/" in own, own

    def _wait_child(self, timeout: float) -> int:
        """The host PID of unshare's child, which execs systemd."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        while True:
            try:
                pids = children.read_text().split()
                if pids and Path(f"/proc/{pids[0]}/exe").resolve() == Path(SYSTEMD).resolve():
                    return int(pids[0])
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: systemd did not start:\n{self.console()}")
            time.sleep(POLL / 5)

    def console(self) -> str:
        path = self.workdir / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        """Power cut: SIGKILL PID 1 (the kernel kills its whole PID namespace); cgroups removed."""
        if self.proc is not None:
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
            self.pid = 0
        if self.cgroup is not None:
            remove_cgroup(self.cgroup)
            self.cgroup = None

    close = kill

    # -- inside --------------------------------------------------------------------------------

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        assert self.pid, f"{self.name} is not running"
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "-n", "-u", "-C", *argv]

    def run(
        self, argv: Sequence[str], check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run(self.exec_argv(argv), check=check, timeout=timeout)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["systemctl", "--no-pager", *args], check=check)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        """``systemctl show -p ...`` as a dict."""
        out = self.systemctl("show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str, since: float | None = None) -> list[str]:
        """The unit's journal lines, messages only (``-o cat``), since a ``time.time()``."""
        argv = ["journalctl", "--no-pager", "-o", "cat", "-u", unit]
        if since is not None:
            argv.append(f"--since=@{since:.6f}")
        r = self.run(argv)
        return r.stdout.splitlines()

    def daemon_reload(self) -> None:
        self.systemctl("daemon-reload")

    def cgroup_procs(self, unit: str) -> list[int]:
        """PIDs (host's view) in the unit's cgroup and below; [] when it is gone."""
        assert self.cgroup is not None
        cg = self.show(unit, "ControlGroup")["ControlGroup"].lstrip("/")
        if not cg:
            return []
        pids = []
        for procs in (self.cgroup / cg).rglob("cgroup.procs"):
            try:
                pids += [int(p) for p in procs.read_text().split()]
            except OSError:
                pass
        return pids

    def wait_for(self, what: str, ok: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: not {what} within {timeout} s")
            time.sleep(POLL)


def remove_cgroup(cgroup: Path, timeout: float = 10) -> None:
    """Remove a cgroup tree once its processes are gone, deepest first (SIGKILL stragglers)."""
    deadline = time.monotonic() + timeout
    while cgroup.exists():
        dirs = sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for d in [*dirs, cgroup]:
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                d.rmdir()
            except OSError:
                pass
        if cgroup.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"cannot remove cgroup {cgroup}")
            time.sleep(POLL)


@contextmanager
def live_systemd(
    ns: Netns,
    workdir: Path,
    units: Mapping[str, str],
    *,
    name: str,
    enable: Sequence[str] = (),
    files: Mapping[str, str] | None = None,
) -> Iterator[Container]:
    """A booted systemd container; always torn down (PID 1 killed, cgroups removed)."""
    root = require_live_systemd()
    container = Container(
        ns, workdir, units, name=name, enable=enable, files=files, cgroup_root=root
    )
    try:
        container.start()
        yield container
    finally:
        container.kill()
