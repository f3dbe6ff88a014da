"""Byte-code for an install whose package directory we cannot write (bin/if-master).

uv installs without byte-code, and a non-root user of a root-installed tool cannot write
the package's ``__pycache__``, so Python would compile every module on every run (+50% on
the hot path). Then, and only then, byte-code goes to ``$XDG_CACHE_HOME/if-master/pycache``
(default ``~/.cache``), and only when that is safe to trust: never for root (root can write
the package directory, and must not load byte-code from a directory another user could
swap) nor under setuid, and only if the cache directory is a real directory owned by this
user (its parent: by this user or root) that no one else can write.
"""

# No `from __future__ import annotations`: bin/if-master runs this file from its source
# before anything is cached, and importing __future__ would cost a fifth of that.
import os
import stat


def user_cache_dir() -> "str | None":
    """The user's byte-code directory, made 0700 if missing; None when it is not safe."""
    euid = os.geteuid()
    if euid == 0 or os.getuid() != euid:
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: ignore a relative value
        home = os.environ.get("HOME", "")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    ours = os.path.join(base, "if-master")
    path = os.path.join(ours, "pycache")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        for d, owners in ((base, (euid, 0)), (ours, (euid,)), (path, (euid,))):
            st = os.lstat(d)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid not in owners or st.st_mode & 0o022:
                return None
    except OSError:
        return None
    return path
