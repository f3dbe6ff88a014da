"""Is keepalived alive in this network namespace? For ``--require-keepalived``.

A VIP left behind by a killed keepalived stays on the interface while the peer takes it
over: holding the VIP proves nothing unless a keepalived here is still running.

Scans /proc directly rather than through psutil: one scan of ~80 processes takes ~1.4 ms,
where importing psutil alone costs 21-34 ms (warm, cold).
"""

from __future__ import annotations

import os

from .proc import stat_fields

PROC = "/proc"
NAME = b"keepalived"
# Zombie, dead, stopped, traced-stopped: none of them sends VRRP adverts, so the peer takes
# the VIP over as surely as if the process were gone.
_GONE = frozenset("ZXx")  # its namespace can no longer be read, nor does it matter
_STOPPED = frozenset("Tt")
_NOT_LIVE = _GONE | _STOPPED


class KeepalivedCheckError(Exception):
    """Whether keepalived runs here could not be told (permissions): if-master exits 125."""


def process_state(stat: str) -> str:
    """The state letter in the text of /proc/PID/stat (after the parenthesised name)."""
    return stat_fields(stat)[0]


def is_live_keepalived(comm: bytes, stat: str) -> bool:
    """Whether /proc/PID/comm and /proc/PID/stat describe a running keepalived."""
    return _is_keepalived(comm) and process_state(stat) not in _NOT_LIVE


def _is_keepalived(comm: bytes) -> bool:
    # Exactly "keepalived": a prefix match would also take keepalived_exporter for it.
    return comm.rstrip(b"\n") == NAME


def _read(name: str, dir_fd: int) -> bytes:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _netns_id(dir_fd: int) -> tuple[str, int, int]:
    """An identity of the network namespace of the process whose /proc directory is open.

    The namespace file itself when we may read it (our own processes, or root); else the
    inode of its /proc/PID/net/dev entry, which every namespace has its own copy of and which
    any user may stat.
    """
    try:
        st = os.stat("ns/net", dir_fd=dir_fd)
        return ("ns", st.st_dev, st.st_ino)
    except PermissionError:
        st = os.stat("net/dev", dir_fd=dir_fd)
        return ("net/dev", st.st_dev, st.st_ino)


def _own_ids(proc: str) -> dict[str, tuple[str, int, int]]:
    fd = os.open(f"{proc}/self", os.O_RDONLY | os.O_DIRECTORY)
    try:
        ns = os.stat("ns/net", dir_fd=fd)
        dev = os.stat("net/dev", dir_fd=fd)
    finally:
        os.close(fd)
    return {"ns": ("ns", ns.st_dev, ns.st_ino), "net/dev": ("net/dev", dev.st_dev, dev.st_ino)}


def keepalived_pids(proc: str = PROC) -> list[int]:
    """The PIDs of live keepalived processes in our network namespace, ascending.

    Processes that vanish during the scan are skipped. Raises KeepalivedCheckError if none
    is found here but some keepalived's namespace could not be read at all.
    """
    try:
        own = _own_ids(proc)
    except OSError as e:
        raise KeepalivedCheckError(f"--require-keepalived: cannot read {proc}/self: {e}") from e
    found: list[int] = []
    stopped: list[int] = []
    unknown: list[int] = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            # Every read goes through this directory fd: if the process exits, they fail
            # (ENOENT/ESRCH) instead of reading whatever process reuses the PID.
            dir_fd = os.open(f"{proc}/{entry}", os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            if not _is_keepalived(_read("comm", dir_fd)):
                continue
            state = process_state(_read("stat", dir_fd).decode())
            if state in _GONE:
                continue
            ns = _netns_id(dir_fd)
        except PermissionError:
            unknown.append(int(entry))
            continue
        except (OSError, ValueError, IndexError):  # gone mid-scan: not running
            continue
        finally:
            os.close(dir_fd)
        if ns == own[ns[0]]:
            (stopped if state in _STOPPED else found).append(int(entry))
    if stopped:
        # One stopped process is enough: the VRRP child frozen by SIGSTOP or a debugger
        # sends no adverts while its idle parent looks alive, and the peer takes the VIP.
        return []
    if not found and unknown:
        raise KeepalivedCheckError(
            "--require-keepalived: cannot tell whether keepalived (PID"
            f" {', '.join(map(str, sorted(unknown)))}) runs in this network namespace:"
            " permission denied (run as root)"
        )
    if not found and _hides_processes(proc):
        raise KeepalivedCheckError(
            f"--require-keepalived: {proc} is mounted with hidepid, so other users'"
            " processes are invisible: cannot tell whether keepalived runs here (run as root)"
        )
    return sorted(found)


def _hides_processes(proc: str) -> bool:
    """Whether ``proc`` hides other users' processes from us (mount option hidepid).

    Then a keepalived owned by root is not even listed: "none here" would be a guess.
    """
    if os.geteuid() == 0:
        return False
    try:
        with open(f"{proc}/self/mountinfo", "rb") as f:
            mounts = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return True  # cannot tell: say so rather than guess "not running"
    options: list[str] = []
    for line in mounts:  # the last mount on that point is the one we see
        fields, _, tail = line.partition(" - ")
        parts, extra = fields.split(), tail.split()
        if len(parts) > 4 and parts[4] == proc and len(extra) > 2 and extra[0] == "proc":
            options = extra[2].split(",")
    hide = gid = None
    for opt in options:
        key, _, value = opt.partition("=")
        if key == "hidepid":
            hide = value
        elif key == "gid" and value.isdigit():
            gid = int(value)
    if hide in (None, "0", "off"):
        return False
    return gid is None or gid not in (os.getegid(), *os.getgroups())


def keepalived_running_here(proc: str = PROC) -> bool:
    """Whether a live keepalived runs in our network namespace (see `keepalived_pids`)."""
    return bool(keepalived_pids(proc))
