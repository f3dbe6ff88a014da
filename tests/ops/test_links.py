"""The docs' cross-references stay true: every relative link resolves, the layout table is whole.

- Every relative link in README.md, CONTRIBUTING.md and docs/*.md names a file that exists
  and, with ``#anchor``, a heading of that file under GitHub's anchor rules.
- CONTRIBUTING.md's layout table (between ``<!-- layout:start -->`` and
  ``<!-- layout:end -->``) has one row per module under src/ifmaster, walked recursively
  (``ledger/etcd.py`` for a package's module), and no row for a module that does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.opslib import ROOT

PACKAGE = ROOT / "src" / "ifmaster"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
LAYOUT_START, LAYOUT_END = "<!-- layout:start -->", "<!-- layout:end -->"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", CONTRIBUTING, *sorted((ROOT / "docs").glob("*.md"))]


def prose(text: str) -> str:
    """The markdown without fenced code blocks and inline code (links there are not links)."""
    text = re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lowercased, punctuation but - and _ dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = text.replace("`", "").strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor in a markdown text; repeats get -1, -2... as on GitHub."""
    text = re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.S | re.M)
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", text, flags=re.M):
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(doc: Path) -> list[str]:
    """Each relative link of ``doc`` that does not resolve, with why."""
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(doc.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        where = f"{doc.relative_to(ROOT)}: ({target})"
        if not path.exists():
            problems.append(f"{where}: no such file {path_part}")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text()):
            problems.append(f"{where}: {path.name} has no heading with the anchor #{anchor}")
        elif anchor and path.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not markdown")
    return problems


def test_github_anchor_rules() -> None:
    assert slug("Failovers in time: --min-hold and --watch") == (
        "failovers-in-time---min-hold-and---watch"
    )
    assert slug("The ledger's cost") == "the-ledgers-cost"
    assert slug("Diagnostics: `--explain`, --json, -v") == "diagnostics---explain---json--v"
    assert slug("Use [the ledger](docs/ledger.md) or not") == "use-the-ledger-or-not"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n### A\n") == {"a", "a-1", "a-2"}


def test_every_doc_file_is_checked() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in doc_files()}
    assert {"README.md", "CONTRIBUTING.md", "docs/reference.md", "docs/ledger.md"} <= names


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(doc: Path) -> None:
    assert broken_links(doc) == []


def test_a_broken_link_or_anchor_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# B\n\n## Real section\n")
    doc = tmp_path / "a.md"
    doc.write_text(
        "[ok](docs/b.md#real-section) [self](#a) [gone](docs/c.md) [bad](docs/b.md#fake)\n"
        "`[code](nowhere.md)` [web](https://example.org/x#y)\n\n# A\n"
    )
    assert broken_links(doc) == [
        "a.md: (docs/c.md): no such file docs/c.md",
        "a.md: (docs/b.md#fake): b.md has no heading with the anchor #fake",
    ]


def layout_rows() -> list[str]:
    """The module paths named in CONTRIBUTING.md's layout table, in order."""
    text = CONTRIBUTING.read_text()
    assert LAYOUT_START in text and LAYOUT_END in text, "CONTRIBUTING.md lost its layout markers"
    table = text.split(LAYOUT_START, 1)[1].split(LAYOUT_END, 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:  # after the header and the rule
        m = re.match(r"\| `([^`]+)` \| (.*\S) \|$", line)
        assert m, (
            f"CONTRIBUTING.md layout row not of the form | `path.py` | what it holds |: {line}"
        )
        rows.append(m.group(1))
    return rows


def modules(package: Path = PACKAGE) -> set[str]:
    """Every module of the package, as a path relative to it (recursively)."""
    return {
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if "__pycache__" not in p.relative_to(package).parts
    }


def test_the_layout_table_lists_every_module_once() -> None:
    rows = layout_rows()
    assert len(rows) == len(set(rows)), f"a module has two rows: {sorted(rows)}"
    missing = sorted(modules() - set(rows))
    assert not missing, (
        f"CONTRIBUTING.md's layout table misses {', '.join(missing)}: add a row"
        f" | `{missing[0]}` | what it holds | between {LAYOUT_START} and {LAYOUT_END}"
        " (paths relative to src/ifmaster, a package's modules as package/module.py)"
    )


def test_the_layout_table_names_no_module_that_does_not_exist() -> None:
    extra = sorted(set(layout_rows()) - modules())
    assert not extra, (
        f"CONTRIBUTING.md's layout table names {', '.join(extra)}, which src/ifmaster does not"
        " have: remove its row, or fix its path (relative to src/ifmaster)"
    )


def test_the_module_walk_finds_a_subpackage_s_modules(tmp_path: Path) -> None:
    for name in ("__init__.py", "cli.py", "ledger/__init__.py", "ledger/etcd.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "ledger" / "__pycache__").mkdir()
    (tmp_path / "ledger" / "__pycache__" / "etcd.py").write_text("")
    (tmp_path / "ledger" / "notes.txt").write_text("")
    assert modules(tmp_path) == {"__init__.py", "cli.py", "ledger/__init__.py", "ledger/etcd.py"}
    assert {"main.py", "cli.py", "__init__.py"} <= modules()


def chaos_all_row(ticks: int) -> dict[str, tuple[float, int, int]]:
    """docs/measurements.md's chaos table with ``ticks`` in its ``all`` row: profile ->
    (exactly-once %, doubles, misses) over all ticks."""
    text = (ROOT / "docs" / "measurements.md").read_text()
    header: list[str] = []
    for line in text.splitlines():
        cells = [c.strip().strip("*`") for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["fault", "ticks"]:
            header = cells
        elif header and cells[:2] == ["all", str(ticks)]:
            row = {}
            for name, cell in zip(header[2:], cells[2:]):
                pct, doubles, misses = (p.split()[0] for p in cell.split("/"))
                row[name] = (float(pct), int(doubles), int(misses))
            return row
    raise AssertionError(f"docs/measurements.md has no chaos table with an 'all | {ticks}' row")


def test_readme_guarantee_figures_are_the_measured_ones() -> None:
    readme = (ROOT / "README.md").read_text()
    vip = chaos_all_row(300)  # the table with --max-delay: the recommended profile's
    ledger = chaos_all_row(150)
    exactly = round(ledger["ledger+catch-up"][0] * 150 / 100)
    for figure in [
        f"| {vip['plain'][1]} ticks of 300 ran twice |",
        f"| {vip['min-hold'][1]} of 300 |",
        f"| {vip['require-keepalived'][1]} and {vip['arp-probe'][1]} of 300 alone; both with"
        f" `--min-hold 5 --max-delay 1`: {vip['rk+min-hold+arp+delay'][1]} of 300 |",
        f"| {ledger['ledger'][1]} of 150 slots twice; with `--catch-up`, {exactly} of 150"
        " exactly once |",
    ]:
        assert figure in readme, f"README's guarantee table no longer quotes {figure!r}"
    # ... and says which command measured them, the one docs/measurements.md gives.
    command = "bench/chaos.py --nodes 3 --ticks 300 --seed 7 --profile all --markdown"
    measurements = " ".join((ROOT / "docs" / "measurements.md").read_text().split())
    assert command in " ".join(readme.split()) and command in measurements
    assert command.replace("300", "150").replace("all", "all --ledger") in measurements
