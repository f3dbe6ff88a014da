"""Regenerate the docs that come from the click command: man/if-master.1 and README's help.

    .venv/bin/python tools/gen_docs.py           # rewrite both from the checkout's src/
    .venv/bin/python tools/gen_docs.py --check   # exit 1, naming the stale files, if they drift

This is the one way to refresh them: re-run it after any change to the options, help or
epilog in src/ifmaster/cli.py (tests/ops/test_docs.py fails until you do).

The README's "Help reference" holds the exact output of ``if-master --help`` at 80 columns
(click wraps to the terminal, at most 78 characters), between the help:start/help:end
markers. The man page is written from the same click objects: the command's help, each
option's help record as click formats it, and the epilog's titled blocks as sections. It
carries no date, so regenerating an unchanged command changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
README = ROOT / "README.md"
MAN_PAGE = ROOT / "man" / "if-master.1"
START, END = "<!-- help:start -->", "<!-- help:end -->"
REGENERATE = ".venv/bin/python tools/gen_docs.py"


def help_text(argv: list[str] | None = None) -> str:
    """``if-master --help`` at 80 columns; by default run from the checkout's src/."""
    env = {**os.environ, "COLUMNS": "80"}
    if argv is None:
        argv = [sys.executable, "-m", "ifmaster"]
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(":")
    r = subprocess.run([*argv, "--help"], capture_output=True, text=True, env=env, check=True)
    return r.stdout


def readme_with_help(readme: str, help_out: str) -> str:
    """The README with ``help_out`` between the markers (in a text code block)."""
    before, sep, rest = readme.partition(START)
    _, sep2, after = rest.partition(END)
    if not (sep and sep2):
        raise SystemExit(f"{README}: the {START} / {END} markers are missing")
    return f"{before}{START}\n```text\n{help_out}```\n{END}{after}"


def roff(text: str) -> str:
    """Text escaped for roff: backslashes, leading dots and quotes, hyphens as minus."""
    out = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").splitlines():
        out.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(out)


def man_page() -> str:
    """The man page, rendered from the click command in the checkout's src/."""
    sys.path.insert(0, str(SRC))
    import click

    from ifmaster import __version__
    from ifmaster.cli import command
    from ifmaster.vip import ENV_VIP

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
        ".TP",
        f"\\fB{roff(ENV_VIP)}\\fR",
        "Whitespace\\-separated VIPs, used when no \\fB\\-\\-vip\\fR is given.",
        ".SH SEE ALSO",
        "\\fBkeepalived\\fR(8), \\fBcrontab\\fR(5), \\fBsystemd.service\\fR(5)",
        "",
    ]
    return "\n".join(lines)


def main(args: list[str]) -> int:
    check = args == ["--check"]
    if args and not check:
        print(__doc__, file=sys.stderr)
        return 2
    wanted = {
        MAN_PAGE: man_page(),
        README: readme_with_help(README.read_text(), help_text()),
    }
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if check:
        for p in stale:
            print(f"{p.relative_to(ROOT)} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        p.parent.mkdir(exist_ok=True)
        p.write_text(wanted[p])
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
