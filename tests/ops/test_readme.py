"""The README's commands, run as written: install, quick start, transcripts.

The convention (CONTRIBUTING.md, "Docs"), for the fenced blocks of README.md and docs/*.md:

- a ``console`` block is a transcript: each ``node-a$ CMD`` (``node-b$``, ``node-c$``) line
  is run with ``sh -c`` on that node of a namespace lab and must print (stdout and stderr
  together) exactly the lines up to the next prompt. ``node-a`` holds the VIP 10.0.0.100 on
  its up ``eth0``, ``node-b`` does not hold it, ``node-c`` carries it on ``lo``;
- a ``crontab`` block's lines appear verbatim in examples/crontab.example, and each job is
  run on ``node-a`` and ``node-b`` as cron would run it: ``sh -c`` with cron's PATH and the
  block's variables, its ``/usr/local/bin`` commands stubbed (an overlay in a private mount);
- in README.md a ``sh`` block carries ``<!-- test: run -->`` (run in a temporary
  directory, it must exit 0), ``<!-- test: run node-a -->`` (the same, on that node), or
  ``<!-- test: skip REASON -->`` on the line before it.

``/opt/if-master`` (the README's install prefix) becomes a temporary directory for the
install block and the suite's installed console script for every other command, so
nothing is written outside tmp_path.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.netnslib import IF_MASTER, Netns, NetnsFactory, veth
from tests.support.opslib import EXAMPLES, INSTALLED, ROOT

README = ROOT / "README.md"
PREFIX = "/opt/if-master"
VIP = "10.0.0.100"
CRON_PATH = "/usr/bin:/bin"
SHELL_INFO = {"sh", "bash", "shell", "console", "crontab"}
PROMPT = re.compile(r"^(node-[a-c])\$ (.*)$")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    info: str
    marker: str | None  # the <!-- test: ... --> comment on the line before, if any
    body: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a markdown file, with the marker comment before each."""
    lines = path.read_text().splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = lines[i - 1].strip() if i else ""
        marker = before if before.startswith("<!-- test:") else None
        out.append(Block(path, i + 1, m.group(1), marker, "\n".join(lines[i + 1 : end]) + "\n"))
        i = end + 1
    return out


def doc_blocks(info: str) -> list[Block]:
    docs = [README, *sorted((ROOT / "docs").glob("*.md"))]
    return [b for d in docs for b in blocks(d) if b.info == info]


def run_marked(marker: str) -> list[Block]:
    return [b for b in blocks(README) if b.marker == marker]


def transcript(body: str) -> list[tuple[str, str, str]]:
    """A console block as (node, command, expected output) for each prompt line."""
    steps: list[tuple[str, str, str]] = []
    for line in body.splitlines():
        m = PROMPT.match(line)
        if m:
            steps.append((m.group(1), m.group(2), ""))
        else:
            assert steps, f"a console block must start with a node-X$ prompt: {line!r}"
            node, cmd, out = steps[-1]
            steps[-1] = (node, cmd, out + line + "\n")
    return steps


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell would give: no IF_MASTER_* of ours, PATH with if-master."""
    env = {k: v for k, v in os.environ.items() if "IF_MASTER" not in k and k != "COLUMNS"}
    env["PATH"] = f"{Path(IF_MASTER).parent}:{CRON_PATH}"
    return {**env, **extra}


def with_installed(cmd: str) -> str:
    return cmd.replace(INSTALLED, IF_MASTER)


class Lab:
    """Three nodes on one veth bridge-less wire: the README's node-a, node-b and node-c."""

    def __init__(self, factory: NetnsFactory) -> None:
        a, b, c = factory("ifra"), factory("ifrb"), factory("ifrc")
        veth(a, "eth0", b, "eth0")
        veth(a, "eth1", c, "eth0")
        a.ip("addr", "add", "10.0.0.11/24", "dev", "eth0")
        b.ip("addr", "add", "10.0.0.12/24", "dev", "eth0")
        c.ip("addr", "add", "10.0.1.13/24", "dev", "eth0")
        a.ip("addr", "add", f"{VIP}/24", "dev", "eth0")
        c.ip("addr", "add", f"{VIP}/32", "dev", "lo")
        self.nodes = {"node-a": a, "node-b": b, "node-c": c}

    def run(self, node: str, cmd: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
        ns: Netns = self.nodes[node]
        r = subprocess.run(
            ns.exec_argv(["sh", "-c", cmd]),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        return r.returncode, r.stdout


@pytest.fixture
def lab(netns_factory: NetnsFactory) -> Iterator[Lab]:
    yield Lab(netns_factory)


def mismatches(lab: Lab, block: Block, cwd: Path) -> list[str]:
    """Each command of a console block whose output is not the block's, with both."""
    problems = []
    for node, cmd, expected in transcript(block.body):
        _, out = lab.run(node, with_installed(cmd), cwd, clean_env())
        if out != expected:
            problems.append(f"{block.where}: {node}$ {cmd}\n--- expected\n{expected}--- got\n{out}")
    return problems


# --- what needs no root ----------------------------------------------------------------


def test_every_readme_shell_block_is_marked() -> None:
    unmarked = [
        b.where
        for b in blocks(README)
        if b.info in {"sh", "bash", "shell"}
        and not (
            b.marker and re.fullmatch(r"<!-- test: (run( node-[a-c])?|skip \S.*) -->", b.marker)
        )
    ]
    assert not unmarked, (
        "README shell blocks without <!-- test: run -->, <!-- test: run node-a --> or"
        f" <!-- test: skip REASON --> on the line before: {unmarked}"
    )
    assert all(b.info for b in blocks(README) if "$ " in b.body), "a transcript needs `console`"


def test_the_readme_has_the_tested_blocks_it_promises() -> None:
    readme = blocks(README)
    assert [b for b in readme if b.info == "crontab"], "the quick start's crontab block is gone"
    assert len([b for b in readme if b.info == "console"]) >= 2
    assert any("pip install" in b.body for b in run_marked("<!-- test: run -->"))


def test_transcripts_parse_into_commands_and_outputs() -> None:
    body = "node-a$ echo hi; echo $?\nhi\n0\nnode-b$ true\nnode-c$ x\nout\n"
    assert transcript(body) == [
        ("node-a", "echo hi; echo $?", "hi\n0\n"),
        ("node-b", "true", ""),
        ("node-c", "x", "out\n"),
    ]
    with pytest.raises(AssertionError, match="must start with a node-X"):
        transcript("output first\nnode-a$ true\n")


def test_crontab_lines_come_from_the_example() -> None:
    example = (EXAMPLES / "crontab.example").read_text().splitlines()
    for block in doc_blocks("crontab"):
        for line in block.body.splitlines():
            assert line in example, f"{block.where}: not in examples/crontab.example: {line}"


# --- run for real, in namespaces --------------------------------------------------------


@pytest.mark.netns
@pytest.mark.parametrize("block", doc_blocks("console"), ids=lambda b: b.where)
def test_console_transcript_is_what_the_nodes_print(block: Block, lab: Lab, tmp_path: Path) -> None:
    assert transcript(block.body), f"{block.where}: an empty transcript"
    assert mismatches(lab, block, tmp_path) == []


@pytest.mark.netns
def test_a_wrong_transcript_is_caught(lab: Lab, tmp_path: Path) -> None:
    wrong = Block(README, 1, "console", None, f"node-b$ {INSTALLED} --vip {VIP}; echo $?\n0\n")
    [problem] = mismatches(lab, wrong, tmp_path)
    assert problem.endswith("--- expected\n0\n--- got\n1\n")


def cron_jobs(block: Block) -> tuple[dict[str, str], list[str]]:
    """A crontab block's variables and the command part of each job line, as cron takes it."""
    env: dict[str, str] = {}
    jobs = []
    for line in block.body.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            name, _, value = line.partition("=")
            env[name] = value
            continue
        command = line.split(maxsplit=5)[5]
        assert not re.search(r"(?<!\\)%", command), f"{block.where}: a bare % ends a cron line"
        jobs.append(command.replace("\\%", "%"))
    return env, jobs


@pytest.mark.netns
@pytest.mark.parametrize("block", doc_blocks("crontab"), ids=lambda b: b.where)
def test_crontab_jobs_run_on_the_master_only(block: Block, lab: Lab, tmp_path: Path) -> None:
    """node-b (no VIP) is silent and exits 0 for every job; node-a runs each job, except one
    with --min-hold, whose VIP (added seconds ago) is too young: skipped, silently."""
    if not Path("/usr/local/bin").is_dir():
        pytest.skip("/usr/local/bin does not exist here to lay the stubs over")
    variables, jobs = cron_jobs(block)
    assert variables.get("IF_MASTER_VIP") == VIP and jobs, f"{block.where}: no VIP or no job"
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for job in jobs:
        for program in re.findall(r"/usr/local/bin/[\w.-]+", job):
            stub = stubs / Path(program).name
            stub.write_text('#!/bin/sh\necho "ran $0 $*"\n')
            stub.chmod(0o755)
    env = {"PATH": CRON_PATH, "SHELL": "/bin/sh", "HOME": str(tmp_path), **variables}
    for job in jobs:
        # cron's job, the stubs laid over /usr/local/bin in a mount of its own only (a
        # read-only overlay: what the directory holds, an interpreter perhaps, stays there).
        overlay = f"lowerdir={stubs}:/usr/local/bin"
        masked = (
            f"mount -t overlay overlay -o {shlex.quote(overlay)} /usr/local/bin"
            f" && exec env -i {' '.join(shlex.quote(f'{k}={v}') for k, v in env.items())}"
            f" /bin/sh -c {shlex.quote(with_installed(job))}"
        )
        cmd = f"exec unshare --mount --propagation private sh -c {shlex.quote(masked)}"
        program = re.findall(r"-- (/usr/local/bin/\S+.*)$", job)
        assert program, f"{block.where}: a job whose command is not in /usr/local/bin: {job}"
        status, out = lab.run("node-b", cmd, tmp_path, clean_env())
        assert (status, out) == (0, ""), f"node-b ran or spoke: {job}"
        status, out = lab.run("node-a", cmd, tmp_path, clean_env())
        if "--min-hold" in job:
            assert (status, out) == (0, ""), f"node-a ran a job whose VIP is too young: {job}"
        else:
            assert (status, out) == (0, f"ran {program[0]}\n"), f"node-a did not run: {job}"


@pytest.mark.netns
def test_readme_run_blocks_on_a_node(lab: Lab, tmp_path: Path) -> None:
    marked = run_marked("<!-- test: run node-a -->")
    assert marked
    for block in marked:
        status, out = lab.run("node-a", with_installed(block.body), tmp_path, clean_env())
        assert status == 0, f"{block.where} exited {status}:\n{out}"


@pytest.mark.slow
def test_readme_install_block_installs_a_working_if_master(tmp_path: Path) -> None:
    """The install block, as written, from a copy of the checkout; only the prefix moves."""
    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache", "runs"
    )
    shutil.copytree(ROOT, checkout, ignore=ignore)
    prefix = tmp_path / "opt" / "if-master"
    [block] = [b for b in run_marked("<!-- test: run -->") if "pip install" in b.body]
    assert PREFIX in block.body
    script = block.body.replace(PREFIX, str(prefix))
    env = clean_env()
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # the suite's python3
    r = subprocess.run(
        ["sh", "-ec", script], cwd=checkout, env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, f"{block.where}:\n{r.stdout}\n{r.stderr}"
    installed = prefix / "bin" / "if-master"
    version = subprocess.run([installed, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "if-master" in version.stdout
    check = subprocess.run([installed, "--vip", "10.0.0.1OO"], capture_output=True, text=True)
    assert check.returncode == 125
