"""Regenerate the docs that come from the click command: the man page and the marked blocks.

    .venv/bin/python tools/gen_docs.py           # rewrite them from the checkout's src/
    .venv/bin/python tools/gen_docs.py --check   # exit 1, naming the stale files, if they drift

This is the one way to refresh them: re-run it after any change to the options, help or
epilog in src/ifmaster/cli.py (tests/ops/test_docs.py fails until you do).

What it writes, each between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers:

- docs/reference.md ``help``: the exact output of ``if-master --help`` at 80 columns (click
  wraps to the terminal, at most 78 characters), in a text code block;
- README.md and docs/reference.md ``exit-status``: the help's "Exit status" block as a table;
- docs/reference.md ``environment``: every variable if-master reads: the options' ``envvar``
  from the click command, and ``EXTRA_ENV`` below for the rest (a test fails when the
  source names an ``IF_MASTER_*`` variable the table does not);
- man/if-master.1, from the same click objects: the command's help, each option's help
  record as click formats it, and the epilog's titled blocks as sections. It carries no
  date, so regenerating an unchanged command changes nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MAN_PAGE = Path("man") / "if-master.1"
REGENERATE = ".venv/bin/python tools/gen_docs.py"

#: Variables that are no option's ``envvar``: name -> what it does (markdown).
EXTRA_ENV = {
    "IF_MASTER_VIP": "whitespace-separated VIPs, used when no `--vip` is given (one line atop "
    "a crontab); the plain guard reads it without click",
    "IF_MASTER_LEDGER_PASSWORD": "the password of `--ledger-user` (or "
    "`--ledger-password-file`; never the command line)",
    "IF_MASTER_SYSLOG_SOCKET": "the socket `--syslog` writes to, instead of `/dev/log`",
    "_IF_MASTER_COMPLETE": "shell completion, as click does it: `_IF_MASTER_COMPLETE=bash_source "
    "if-master` prints the bash script (also `zsh_source`, `fish_source`)",
}


def help_text(argv: list[str] | None = None) -> str:
    """``if-master --help`` at 80 columns; by default run from the checkout's src/."""
    env = {**os.environ, "COLUMNS": "80"}
    if argv is None:
        argv = [sys.executable, "-m", "ifmaster"]
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(":")
    r = subprocess.run([*argv, "--help"], capture_output=True, text=True, env=env, check=True)
    return r.stdout


def _src_on_path() -> None:
    """Import ifmaster from the checkout's src/, not from whatever is installed."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))


def _code(text: str) -> str:
    """Options and variables in a help line as markdown code: ``--not-master-exit N``."""
    text = text.replace("|", "\\|")
    return re.sub(r"(?<![\w`])(--[a-z][a-z-]*(?: N\b)?)", r"`\1`", text)


def exit_status_table(help_out: str) -> str:
    """The help's "Exit status:" block as a markdown table, continuation lines joined."""
    lines = help_out.split("\n  Exit status:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    rows: list[list[str]] = []
    for line in lines:
        m = re.match(r"    (\d+)\s+(.*)", line)
        if m:
            rows.append([m.group(1), m.group(2).strip()])
        elif rows and line.strip():
            rows[-1][1] += " " + line.strip()
    if not rows:
        raise SystemExit("the help has no 'Exit status:' block to render")
    out = ["| status | meaning |", "|---|---|"]
    out += [f"| {code} | {_code(meaning)} |" for code, meaning in rows]
    return "\n".join(out) + "\n"


def environment() -> dict[str, str]:
    """Every variable if-master reads -> what it does (markdown), from the click options'
    ``envvar`` and EXTRA_ENV, sorted by name."""
    _src_on_path()
    import click

    from ifmaster.cli import command

    ctx = click.Context(command, info_name="if-master")
    rows = dict(EXTRA_ENV)
    for param in command.get_params(ctx):
        envvar = param.envvar
        if not isinstance(param, click.Option) or not envvar:
            continue
        for name in [envvar] if isinstance(envvar, str) else envvar:
            record = param.get_help_record(ctx)
            names = record[0] if record else "/".join(param.opts)
            value = "`1`: " if param.is_flag else ""
            rows[name] = f"{value}`{names}`, when it is not on the command line"
    return {name: rows[name] for name in sorted(rows, key=lambda n: n.lstrip("_"))}


def environment_table() -> str:
    """The environment as a markdown table."""
    out = ["| variable | meaning |", "|---|---|"]
    out += [
        f"| `{name}` | {what.replace('|', chr(92) + '|')} |" for name, what in environment().items()
    ]
    return "\n".join(out) + "\n"


def plain(markdown: str) -> str:
    """A table cell's markdown as plain text: links by their text, no backticks."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown).replace("`", "")


def blocks(help_out: str) -> dict[Path, dict[str, Callable[[], str]]]:
    """File (relative to ROOT) -> marker name -> its generated content."""
    return {
        Path("README.md"): {"exit-status": lambda: exit_status_table(help_out)},
        Path("docs") / "reference.md": {
            "help": lambda: f"```text\n{help_out}```\n",
            "exit-status": lambda: exit_status_table(help_out),
            "environment": environment_table,
        },
    }


def with_block(path: Path, text: str, name: str, content: str) -> str:
    """``text`` with ``content`` between the ``name`` markers (each on a line of its own)."""
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    before, sep, rest = text.partition(start)
    _, sep2, after = rest.partition(end)
    if not (sep and sep2):
        raise SystemExit(f"{path}: the {start.strip()} / {end} markers are missing")
    return f"{before}{start}{content}{end}{after}"


def roff(text: str) -> str:
    """Text escaped for roff: backslashes, leading dots and quotes, hyphens as minus."""
    out = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").splitlines():
        out.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(out)


def man_page() -> str:
    """The man page, rendered from the click command in the checkout's src/."""
    _src_on_path()
    import click

    from ifmaster import __version__
    from ifmaster.cli import command

    ctx = click.Context(command, info_name="if-master", **command.context_settings)
    help_text_ = command.help or ""
    summary, _, description = help_text_.partition("\n\n")
    lines = [
        f'.TH IF\\-MASTER 1 "" "if-master {__version__}" "User Commands"',
        ".SH NAME",
        f"if\\-master \\- {roff(summary.strip().rstrip('.'))}",
        ".SH SYNOPSIS",
        ".B if\\-master",
        "[\\fIOPTIONS\\fR] [\\fB\\-\\-\\fR \\fICOMMAND\\fR [\\fIARGS\\fR...]]",
        ".SH DESCRIPTION",
    ]
    for para in description.strip().split("\n\n"):
        lines += [".PP", roff(" ".join(para.split()))]
    lines.append(".SH OPTIONS")
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is None:
            continue
        names, help_ = record
        lines += [".TP", f"\\fB{roff(names)}\\fR", roff(" ".join(help_.split()))]
    # The epilog: blocks "\b\nTitle:\n  preformatted lines", and plain paragraphs (NOTES).
    in_notes = False
    for block in (command.epilog or "").strip().split("\n\n"):
        body = block.removeprefix("\b\n").splitlines()
        if body and body[0].endswith(":") and not body[0].startswith(" "):
            lines += [f".SH {roff(body[0][:-1].upper())}", ".nf"]
            lines += [roff(line[2:] if line.startswith("  ") else line) for line in body[1:]]
            lines.append(".fi")
            in_notes = False
        else:
            if not in_notes:
                lines.append(".SH NOTES")
                in_notes = True
            lines += [".PP", roff(" ".join(" ".join(body).split()))]
    lines += [
        ".SH ENVIRONMENT",
    ]
    for name, what in environment().items():
        lines += [
            ".TP",
            f"\\fB{roff(name)}\\fR",
            roff(plain(what)[:1].upper() + plain(what)[1:] + "."),
        ]
    lines += [
        ".SH SEE ALSO",
        "\\fBkeepalived\\fR(8), \\fBcrontab\\fR(5), \\fBsystemd.service\\fR(5)",
        "",
    ]
    return "\n".join(lines)


def wanted() -> dict[Path, str]:
    """Every generated file's wanted text, by path relative to ROOT."""
    help_out = help_text()
    out = {MAN_PAGE: man_page()}
    for rel, names in blocks(help_out).items():
        path = ROOT / rel
        text = path.read_text() if path.exists() else ""
        for name, content in names.items():
            text = with_block(rel, text, name, content())
        out[rel] = text
    return out


def main(args: list[str]) -> int:
    check = args == ["--check"]
    if args and not check:
        print(__doc__, file=sys.stderr)
        return 2
    texts = wanted()
    stale = [
        p for p, text in texts.items() if not (ROOT / p).exists() or (ROOT / p).read_text() != text
    ]
    if check:
        for p in stale:
            print(f"{p} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        (ROOT / p).parent.mkdir(exist_ok=True)
        (ROOT / p).write_text(texts[p])
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
