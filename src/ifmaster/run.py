"""Start the command: the only module that calls ``os.exec*`` or forks it.

Two ways, one preparation and one error path: ``exec_command`` replaces if-master with the
command (same PID, so status, signals and stdio pass through); ``start_child`` forks it as
a supervised child for ``--watch``. Both raise CommandError (127 not found, 126 cannot
execute) before anything ran. Arguments go to the command verbatim, never through a shell.

What the command inherits, compared with being run directly by the caller:

- Environment: the caller's, byte for byte. Python's locale coercion (PEP 538) rewrites
  ``LC_CTYPE`` to ``C.UTF-8`` (or ``C.utf8``/``UTF-8``) when it resolves to the C locale;
  the caller's exact value (or its absence) is restored from ``/proc/self/environ``. Only
  when ``LC_CTYPE`` holds one of those three values is that file needed; if it cannot be
  read then, if-master fails (125) rather than pass a changed environment on.
- Signal dispositions: CPython sets SIGPIPE and SIGXFSZ to "ignore" at start-up and keeps
  no trace of what they were, so the command always gets them at their *default*, even
  when the caller ignored them (systemd's ``IgnoreSIGPIPE=yes``). Every other signal the
  caller ignored stays ignored (exec keeps SIG_IGN); handled ones are default, as through
  any exec. The blocked-signal mask is the caller's.
- ``--watch`` only: its own process group, and ``PR_SET_PDEATHSIG(SIGKILL)``, so that the
  command dies with a supervisor that is killed outright.
"""

from __future__ import annotations

import os
import sys

from . import status
from .errors import CommandError, IfMasterError

TYPE_CHECKING = False  # not imported from typing, which this hot path does not load
if TYPE_CHECKING:
    from collections.abc import Callable
    from signal import (
        SIG_BLOCK,
        SIG_DFL,
        SIG_IGN,
        SIG_SETMASK,
        SIGPIPE,
        SIGXFSZ,
        pthread_sigmask,
        set_wakeup_fd,
    )
    from signal import signal as set_handler
    from typing import NoReturn
else:
    # _signal, not signal: the latter builds enums at import, and this runs on every tick.
    from _signal import (
        SIG_BLOCK,
        SIG_DFL,
        SIG_IGN,
        SIG_SETMASK,
        SIGPIPE,
        SIGXFSZ,
        pthread_sigmask,
        set_wakeup_fd,
    )
    from _signal import signal as set_handler

#: Where the kernel keeps the environment this process was exec'd with (never rewritten).
PROC_ENVIRON = "/proc/self/environ"
#: The values PEP 538 coercion writes into LC_CTYPE (Python/pylifecycle.c, _TARGET_LOCALES).
COERCED = frozenset(("C.UTF-8", "C.utf8", "UTF-8"))
_SIGKILL = 9
_SIGTTOU = 22


def exec_command(argv: list[str]) -> NoReturn:
    """Replace this process with ``argv`` (PATH search as ``execvp``); raise CommandError."""
    _check_name(argv)
    _reset_signals()
    prepare_environment()
    try:
        execvp(argv[0], argv)
    except OSError as e:
        # Still us: ignore SIGPIPE again, so that saying why on a stderr nobody reads does
        # not turn 127/126 into death by SIGPIPE.
        set_handler(SIGPIPE, SIG_IGN)
        set_handler(SIGXFSZ, SIG_IGN)
        raise command_error(argv[0], e.errno or 0) from None


def start_child(argv: list[str], *, terminal: int | None = None) -> int:
    """Fork and exec ``argv`` in a process group of its own; return its pid (= its pgid).

    The child gets PR_SET_PDEATHSIG(SIGKILL): if this process dies, even by SIGKILL, so does
    the child. With ``terminal`` (a file descriptor of our controlling terminal) the child
    makes its group the terminal's foreground group before exec, so that an interactive
    command can read it. Raises CommandError, with nothing left running, when the exec
    fails; the errno comes back through a close-on-exec pipe.
    """
    _check_name(argv)
    prepare_environment()
    from .proc import PR_SET_PDEATHSIG, prctl_function

    prctl = prctl_function()  # before the fork: the child may import nothing
    parent = os.getpid()
    rfd, wfd = os.pipe2(os.O_CLOEXEC)
    # fork + exec, not posix_spawn: glibc's posix_spawn leaves its internal signals 32 and 33
    # ignored in the child, which an exec by a shell does not.
    pid = os.fork()
    if pid == 0:  # the child: no return from here, only exec or _exit
        code = 0
        try:
            os.close(rfd)
            _child_setup(lambda: prctl(PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0), parent, terminal)
            execvp(argv[0], argv)
        except OSError as exc:
            code = exc.errno or 0
        except BaseException:
            code = 0
        finally:
            try:
                os.write(wfd, str(code).encode())
            finally:
                os._exit(status.NOT_FOUND)
    os.close(wfd)
    try:
        os.setpgid(pid, pid)  # also here: no race with an early killpg()
    except OSError:
        pass  # it already exec'd (then EACCES) or exited
    with os.fdopen(rfd, "rb") as pipe:
        failed = pipe.read()
    if failed:
        os.waitpid(pid, 0)
        raise command_error(argv[0], int(failed))
    return pid


def _child_setup(die_with_parent: Callable[[], int], parent: int, terminal: int | None) -> None:
    """In the forked child, before exec. Raises OSError if a step fails."""
    set_wakeup_fd(-1)  # a signal here must not look like one sent to the supervisor
    os.setpgid(0, 0)
    _reset_signals()
    if die_with_parent() != 0:
        raise OSError(0, "prctl(PR_SET_PDEATHSIG) failed")
    # The supervisor may have died before the line above: then we were already reparented
    # and no death signal will ever come.
    if os.getppid() != parent:
        os._exit(status.FAILURE)
    if terminal is not None:
        # From a background group, tcsetpgrp() raises SIGTTOU unless it is blocked.
        old = pthread_sigmask(SIG_BLOCK, {_SIGTTOU})
        try:
            os.tcsetpgrp(terminal, os.getpid())
        finally:
            pthread_sigmask(SIG_SETMASK, old)


def execvp(file: str, argv: list[str]) -> NoReturn:
    """``os.execvp``: the same PATH search and the same error raised, without the import of
    warnings that os.get_exec_path makes on every call (~0.7 ms, before every exec).

    As os._execvpe: a name with a slash is exec'd as it is; else each PATH entry (the
    default path when PATH is unset) is tried in turn, and when none runs, the first error
    that was not "no such file" is raised, or else the last.
    """
    if "/" in file:
        os.execv(file, argv)
    path = os.environ.get("PATH")
    entries = (os.defpath if path is None else path).split(os.pathsep)
    name = os.fsencode(file)
    first: OSError | None = None
    last: OSError = FileNotFoundError(2, "No such file or directory")
    for entry in entries:
        try:
            os.execv(os.path.join(os.fsencode(entry), name), argv)
        except (FileNotFoundError, NotADirectoryError) as e:
            last = e
        except OSError as e:
            last = e
            first = first or e
    raise first or last


def _check_name(argv: list[str]) -> None:
    # execvp('') is a ValueError in Python; coreutils `env ''` says 127, not found.
    if not argv or not argv[0]:
        raise CommandError(status.NOT_FOUND, "'': No such file or directory")


def _reset_signals() -> None:
    """Undo Python's own SIGPIPE and SIGXFSZ ignores, in the process about to exec."""
    # Ignored signals survive exec, and `yes | head` would then print "Broken pipe" errors
    # instead of ending quietly. (What the caller had set is lost at Python's start-up: see
    # the module docstring.) Only in the process that execs: a supervisor with SIGPIPE at
    # its default would die, and take its job along, on writing to a closed stderr.
    set_handler(SIGPIPE, SIG_DFL)
    set_handler(SIGXFSZ, SIG_DFL)


def prepare_environment() -> None:
    """Undo what the Python interpreter changed in the environment, and flush our output."""
    restore_lc_ctype()
    # Buffered output of ours must not be lost, nor appear after the command's. (None: the
    # caller closed that descriptor, which the command inherits closed as well.)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def restore_lc_ctype() -> None:
    """Put back the caller's LC_CTYPE (or its absence) where PEP 538 coercion changed it.

    Raises IfMasterError (125) when it may have been changed and the original is unreadable.
    """
    current = os.environ.get("LC_CTYPE")
    if current not in COERCED:
        return  # coercion only ever writes one of those: nothing was changed
    if os.environ.get("LC_ALL") or (
        os.environ.get("PYTHONCOERCECLOCALE") == "0" and not sys.flags.ignore_environment
    ):
        return  # Python does not coerce under either (Python/pylifecycle.c)
    try:
        original = original_variable(b"LC_CTYPE")
    except OSError as e:
        raise IfMasterError(
            status.FAILURE,
            f"cannot pass LC_CTYPE on unchanged: Python may have rewritten it to {current}"
            f" (locale coercion), and the caller's value is only recorded in {PROC_ENVIRON},"
            f" which cannot be read ({e.strerror or e}); mount /proc, or set LC_ALL or"
            " PYTHONCOERCECLOCALE=0 in the caller's environment",
        ) from None
    if original is None:
        del os.environ["LC_CTYPE"]
    elif original != current.encode():
        os.environ["LC_CTYPE"] = os.fsdecode(original)


def original_variable(name: bytes) -> bytes | None:
    """The value of ``name`` in the environment this process was exec'd with (first wins,
    as getenv)."""
    with open(PROC_ENVIRON, "rb") as f:
        data = f.read()
    prefix = name + b"="
    for entry in data.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :]
    return None


def command_error(command: str, errno: int) -> CommandError:
    """coreutils' convention: 127 when the command is not found, 126 for any other failure."""
    code = status.NOT_FOUND if errno == 2 else status.CANNOT_INVOKE  # 2: ENOENT
    why = os.strerror(errno) if errno else "cannot start it"
    return CommandError(code, f"{command}: {why}")
