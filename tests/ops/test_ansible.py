"""The Ansible example: syntax-checked, then applied for real to this host (connection local).

The apply is real but aimed at tmp_path through the playbook's own variables: the venv
(``if_master_venv``) and the cron file (``if_master_cron_file``; ``ansible.builtin.cron``
takes an absolute path there). pip really creates the venv and installs this checkout into
it, and the cron module really writes the file. Not applied: the apt task for python3-venv
(``if_master_os_packages=false``: the test must not install system packages) and
``become`` (the test runs as root already; ``ansible_become=false``). That real cron runs
the file this playbook writes is shown in test_cron.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.opslib import (
    ANSIBLE_PLAYBOOK,
    EXAMPLES,
    PLAYBOOK,
    ROOT,
    ansible_playbook,
    run_ansible,
)

VIP = "10.62.0.100"


def test_syntax_check_with_the_example_inventory(tmp_path: Path) -> None:
    inventory = EXAMPLES / "ansible" / "inventory.example.ini"
    argv = [ANSIBLE_PLAYBOOK, "--syntax-check", "-i", str(inventory), str(PLAYBOOK)]
    r = run_ansible(tmp_path, argv)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[WARNING]" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_the_example_inventory_has_the_group_and_the_vip() -> None:
    text = (EXAMPLES / "ansible" / "inventory.example.ini").read_text()
    assert "[cluster]" in text and "\nif_master_vip=10.0.0.100\n" in text


def test_apply_installs_the_venv_and_writes_the_cron_file(tmp_path: Path) -> None:
    venv, cron_d = tmp_path / "venv", tmp_path / "cron.d"
    cron_d.mkdir()  # as /etc/cron.d exists on a node
    extra = {
        "if_master_vip": VIP,
        "if_master_package": str(ROOT),
        "if_master_venv": str(venv),
        "if_master_cron_file": str(cron_d / "if-master"),
        "if_master_os_packages": False,
        "ansible_become": False,
    }
    r = ansible_playbook(tmp_path, extra_vars=extra)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "failed=0" in r.stdout
    installed = venv / "bin" / "if-master"
    version = subprocess.run([str(installed), "--version"], capture_output=True, text=True)
    assert version.stdout == "if-master, version 0.1.0\n"
    # pip>=25 in the venv: the console script it writes does not import re (README).
    assert "import re" not in installed.read_text()
    assert (cron_d / "if-master").read_text() == (
        f'IF_MASTER_VIP="{VIP}"\n'
        "#Ansible: backup\n"
        f"0 2 * * * root {installed} -- /usr/local/bin/backup.sh --full\n"
    )
    # Redeploying the cron file changes nothing.
    r = ansible_playbook(tmp_path, "--tags", "cron", extra_vars=extra)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "changed=0" in r.stdout and "failed=0" in r.stdout, r.stdout
