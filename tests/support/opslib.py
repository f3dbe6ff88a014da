"""Shared by the operator-facing tests: the repository's paths and the real tools they drive."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.netnslib import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: Where the examples install if-master (README's install command).
INSTALLED = "/opt/if-master/bin/if-master"


def require_tool(name: str, package: str) -> str:
    """The tool's path; skip (loudly) without it outside CI, fail in CI (test.sh installs it)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    skip_or_fail(f"`{name}` is not installed (./test.sh installs the Debian package {package})")


#: The ansible-playbook of the test extras, next to the interpreter running the tests.
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
PLAYBOOK = EXAMPLES / "ansible" / "playbook.yml"


def ansible_playbook(
    tmp_path: Path, *args: str, extra_vars: dict[str, object] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the example playbook against this host only (connection local), files in tmp_path.

    The inventory is the example's shape (group ``cluster``, ``if_master_vip``) with one
    host, localhost. Ansible's own state (``~/.ansible``) goes to tmp_path too.
    """
    inventory = tmp_path / "inventory.ini"
    host = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
    inventory.write_text(f"[cluster]\n{host}\n")
    argv = [ANSIBLE_PLAYBOOK, "-i", str(inventory), str(PLAYBOOK), *args]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    return run_ansible(tmp_path, argv)


def run_ansible(tmp_path: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """An Ansible command run in tmp_path, its state and temp files (``~/.ansible``) too."""
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
