"""click's shell completion through the installed console script, as the README documents.

Completion is asked for by the environment (``_IF_MASTER_COMPLETE=...``), with an empty
argv. The pre-parse in fast.py does not look at that variable: it hands the empty argv to
click only because, without ``--vip`` or ``IF_MASTER_VIP``, it has no VIP. Bash is run for
real (the README's ``eval`` line, then the completion function); zsh and fish are not on
the test machine, so only their scripts are checked.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER


def complete_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "IF_MASTER_VIP"}
    env["PATH"] = f"{Path(IF_MASTER).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    return {**env, **extra}


@pytest.mark.parametrize(
    ("shell", "first_line"),
    [
        ("bash", "_if_master_completion() {"),
        ("zsh", "#compdef if-master"),
        ("fish", "function _if_master_completion;"),
    ],
)
def test_source_script_for_each_shell(shell: str, first_line: str) -> None:
    env = complete_env(_IF_MASTER_COMPLETE=f"{shell}_source")
    r = subprocess.run([IF_MASTER], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.lstrip().splitlines()[0] == first_line


BASH = """\
eval "$(_IF_MASTER_COMPLETE=bash_source if-master)"
complete -p if-master
COMP_WORDS=(if-master --in); COMP_CWORD=1
_if_master_completion if-master
printf '%s\\n' "${COMPREPLY[@]}"
"""


def test_bash_completes_options_after_the_readme_eval_line() -> None:
    r = subprocess.run(["bash", "-c", BASH], capture_output=True, text=True, env=complete_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "complete -o nosort -F _if_master_completion if-master",
        "--interface",
        "--include-loopback",
    ]


def test_completion_with_if_master_vip_exported() -> None:
    env = complete_env(
        IF_MASTER_VIP="10.0.0.100",
        _IF_MASTER_COMPLETE="bash_complete",
        COMP_WORDS="if-master --in",
        COMP_CWORD="1",
    )
    r = subprocess.run([IF_MASTER], capture_output=True, text=True, env=env, timeout=30)
    assert r.stdout.splitlines() == ["plain,--interface", "plain,--include-loopback"]


@pytest.mark.parametrize(
    ("value", "args", "why"),
    [
        # bash_source answered a check on a host without the VIP with a script and exit 0.
        ("bash_source", ["--vip", "10.255.255.254"], "passes no arguments"),
        ("zsh_source", ["--vip", "10.255.255.254", "--", "true"], "passes no arguments"),
        ("garbage", [], "is not one of"),  # was a silent exit 1 ("not master")
        ("bash_complete", [], "needs COMP_WORDS"),  # was "internal error: KeyError"
    ],
)
def test_a_stray_completion_variable_fails_closed(value: str, args: list[str], why: str) -> None:
    env = complete_env(_IF_MASTER_COMPLETE=value)
    env.pop("COMP_WORDS", None)
    env.pop("COMP_CWORD", None)
    r = subprocess.run([IF_MASTER, *args], capture_output=True, text=True, env=env, timeout=30)
    assert (r.returncode, r.stdout) == (125, ""), r
    assert r.stderr.startswith("if-master: _IF_MASTER_COMPLETE") and why in r.stderr
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_to_a_full_disk_is_one_line_not_an_internal_error(option: str) -> None:
    with open("/dev/full", "w") as full:
        r = subprocess.run([IF_MASTER, option], stdout=full, stderr=subprocess.PIPE, text=True,
                           env=complete_env(), timeout=30)  # fmt: skip
    assert (r.returncode, r.stderr) == (125, "if-master: output lost: No space left on device\n")
