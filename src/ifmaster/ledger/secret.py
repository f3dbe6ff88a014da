"""Secrets and the files they come from: read bounded, never from a FIFO or a device."""

from __future__ import annotations

import os

from .records import LedgerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_SECRET_LEN = 4096
ENV_URL = "IF_MASTER_LEDGER"
ENV_USER = "IF_MASTER_LEDGER_USER"
ENV_PASSWORD = "IF_MASTER_LEDGER_PASSWORD"
#: What stands for a secret in any message.
HIDDEN = "***"
#: A server's text ending in this much of a secret's start is cut there (it echoed a
#: request, then stopped); shorter tails are too common to mean anything.
_MIN_TAIL = 4


def read_secret(path: str) -> str:
    import stat

    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise LedgerError("config", f"ledger password file {path!r}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LedgerError("config", f"ledger password file {path!r} is not a regular file")
        if st.st_mode & 0o077:
            # As libpq ignores such a .pgpass and OpenSSH refuses such a key: a secret
            # others can read is no longer one, and using it would hide that.
            raise LedgerError(
                "config",
                f"ledger password file {path!r} can be read or written by others (mode"
                f" {stat.S_IMODE(st.st_mode):04o}): chmod 600 it",
            )
        # One trailing newline (and a CR before it) may follow the 4 KiB.
        data = os.read(fd, MAX_SECRET_LEN + 3)
    except OSError as e:
        raise LedgerError("config", f"ledger password file {path!r}: {e.strerror}") from None
    finally:
        os.close(fd)
    if data.endswith(b"\n"):  # one line, as `echo pw > file` wrote it
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    return check_secret(data, f"ledger password file {path!r}")


def check_secret(data: bytes, what: str) -> str:
    if len(data) > MAX_SECRET_LEN:
        raise LedgerError("config", f"{what} is over 4 KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LedgerError("config", f"{what} is not UTF-8") from None
    if not text:
        raise LedgerError("config", f"{what} is empty")
    if "\0" in text:
        raise LedgerError("config", f"{what} holds a NUL byte: not a password")
    return text


def password(password_file: str | None, environ: Mapping[str, str]) -> str | None:
    """The ledger's password, for either store: the file's when one is named, else
    IF_MASTER_LEDGER_PASSWORD's, else None; LedgerError when the one given is bad."""
    if password_file is not None:
        return read_secret(password_file)
    if environ.get(ENV_PASSWORD):
        return check_secret(os.fsencode(environ[ENV_PASSWORD]), ENV_PASSWORD)
    return None


def regular_file(path: str, what: str) -> None:
    """LedgerError unless ``path`` is a regular file: a FIFO or a device would block or
    never end when read, and nothing here may wait without a deadline."""
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise LedgerError("config", f"{what} {path!r}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise LedgerError("config", f"{what} {path!r} is not a regular file")


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret in it (as typed, JSON- or repr-escaped) replaced by
    HIDDEN, and a trailing start of one cut: a server's text may echo our request."""
    import json

    for secret in secrets:
        if not secret:
            continue
        forms = {
            secret,
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
            repr(secret)[1:-1],
            secret.encode("unicode_escape").decode("ascii"),
        }
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, HIDDEN)
        for form in forms:
            for n in range(min(len(form) - 1, len(text)), _MIN_TAIL - 1, -1):
                if text.endswith(form[:n]):
                    text = text[:-n] + HIDDEN
                    break
    return text
